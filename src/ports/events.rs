//! What the websocket transport and the meetings poller keep in the store: who holds the
//! deployment's one socket (a lease), and what each person's last meetings poll saw.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreError;
use crate::domain::PersonId;
use crate::domain::polling::Seen;

/// The lease that names the instance holding the Webex websocket (and polling meetings).
pub const EVENTS_LEASE: &str = "webex-events";

/// A named lease: at most one holder at a time, until it expires or is released. Every
/// instance of a deployment shares the store, so the lease is how they agree.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Leases: Send + Sync {
    /// Takes `name` for `holder` until `now + ttl` when it is free, expired or already
    /// theirs (a renewal). `Ok(false)`: another holder has it.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached: the caller cannot know.
    async fn acquire(
        &self,
        name: String,
        holder: String,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives `name` up at once, if `holder` has it.
    ///
    /// # Errors
    /// As for [`Leases::acquire`].
    async fn release(&self, name: String, holder: String) -> Result<(), StoreError>;

    /// Who holds `name` and until when, if anyone.
    ///
    /// # Errors
    /// As for [`Leases::acquire`].
    async fn holder(&self, name: String) -> Result<Option<(String, Timestamp)>, StoreError>;
}

/// What each person's last meetings poll saw (see [`crate::domain::polling`]).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait MeetingPolls: Send + Sync {
    /// The snapshot of `owner`'s last poll; `None` before their first (a baseline: what
    /// is there before Botper starts watching is not news).
    ///
    /// # Errors
    /// Store failures.
    async fn seen(&self, owner: PersonId) -> Result<Option<Vec<Seen>>, StoreError>;

    /// Replaces `owner`'s snapshot (and so records that their baseline was taken).
    ///
    /// # Errors
    /// Store failures; the old snapshot stays.
    async fn save_seen(
        &self,
        owner: PersonId,
        snapshot: Vec<Seen>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Forgets `owner`'s snapshot (they disconnected: a new connection starts afresh).
    ///
    /// # Errors
    /// Store failures.
    async fn forget_seen(&self, owner: PersonId) -> Result<(), StoreError>;
}
