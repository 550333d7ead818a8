//! Where grants live (tokens encrypted at rest), browser login state, and web sessions.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::domain::PersonId;
use crate::domain::grant::{Grant, TokenSet};

use super::StoreError;

/// The result of asking to refresh a person's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
// Built once per request and moved a few times: boxing would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
pub enum RefreshClaim {
    /// This caller holds the refresh lease and must call `finish_refresh`.
    Claimed(Grant),
    /// Another caller (maybe another process) is refreshing right now.
    Busy,
    /// There is no grant.
    Missing,
}

/// What can be read about a grant without opening its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSummary {
    pub person: PersonId,
    pub display_name: String,
    pub webhook_id: Option<String>,
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Every grant that is not marked disconnected, by person id, without decrypting
    /// anything (a grant sealed under an old key is listed too).
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn connected(&self) -> Result<Vec<GrantSummary>, StoreError>;

    /// Stores (or replaces) a person's grant, connected.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn save(&self, grant: Grant) -> Result<(), StoreError>;

    /// # Errors
    /// `Unexpected` also when a stored token cannot be decrypted (wrong key).
    async fn load(&self, person: PersonId) -> Result<Option<Grant>, StoreError>;

    /// Removes the grant; returns it if there was one.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn delete(&self, person: PersonId) -> Result<Option<Grant>, StoreError>;

    /// Takes the person's refresh lease (single-flight across processes): only one caller
    /// at a time holds it, until `finish_refresh` or until `lease` passes.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn try_begin_refresh(
        &self,
        person: PersonId,
        owner: String,
        lease: Duration,
        now: Timestamp,
    ) -> Result<RefreshClaim, StoreError>;

    /// Ends the lease: with `Some(tokens)` the new tokens are stored and the version bumped;
    /// with `None` (the refresh failed) the lease is just released. Returns the stored
    /// grant.
    ///
    /// # Errors
    /// `Unexpected` if `owner` no longer holds the lease.
    async fn finish_refresh(
        &self,
        person: PersonId,
        owner: String,
        tokens: Option<TokenSet>,
    ) -> Result<Option<Grant>, StoreError>;

    /// Marks the grant unusable (Webex refused the refresh token) and records the webhook
    /// id change, if any.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn mark_disconnected(&self, person: PersonId, reason: String) -> Result<(), StoreError>;

    /// Records the person's meetings webhook id.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn set_webhook(
        &self,
        person: PersonId,
        webhook_id: Option<String>,
    ) -> Result<(), StoreError>;
}

/// A signed-in browser after a successful connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub person: PersonId,
    /// Echoed by forms; a cross-site form cannot know it.
    pub csrf: String,
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait WebAuthStore: Send + Sync {
    /// Remembers an OAuth `state` for the browser identified by `browser`, forgets states
    /// that expired before `now`, and keeps at most `keep_at_most` pending states (the
    /// oldest go first), so anonymous logins cannot grow the table without bound.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn put_state(
        &self,
        state: String,
        browser: String,
        expires_at: Timestamp,
        now: Timestamp,
        keep_at_most: u32,
    ) -> Result<(), StoreError>;

    /// Deletes the states that expired before `now`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn purge_states(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// Removes the state and returns the browser it was issued to, if it existed and had not
    /// expired. A state can be taken once.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn take_state(&self, state: String, now: Timestamp)
    -> Result<Option<String>, StoreError>;

    /// Stores a session (and forgets sessions that expired before `now`).
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn create_session(
        &self,
        token: String,
        session: WebSession,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn session(
        &self,
        token: String,
        now: Timestamp,
    ) -> Result<Option<WebSession>, StoreError>;

    /// Replaces the session's CSRF token if it is still `expected` (a form can be used
    /// once). Returns whether it was.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn rotate_csrf(
        &self,
        token: String,
        expected: String,
        new: String,
    ) -> Result<bool, StoreError>;

    /// The person's calendar feed token: the one they have, or else `candidate`, stored now
    /// (kept as a hash to find it by, and sealed to show it again). Two callers racing both
    /// get the one stored.
    ///
    /// # Errors
    /// `Sealed` when the stored token cannot be opened (the token key changed);
    /// `Unavailable` / `Unexpected`.
    async fn calendar_token(
        &self,
        person: PersonId,
        candidate: String,
        now: Timestamp,
    ) -> Result<String, StoreError>;

    /// Replaces the person's calendar feed token with `token`: the old address stops working.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn reset_calendar_token(
        &self,
        person: PersonId,
        token: String,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Whose feed `token` opens (looked up by its hash), if anyone's.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected`.
    async fn calendar_owner(&self, token: String) -> Result<Option<PersonId>, StoreError>;
}
