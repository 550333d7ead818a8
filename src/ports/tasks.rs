//! Where tasks live.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::domain::{PersonId, Task, TaskNumber, TaskOp, TaskOutcome};

/// Names one application of a [`TaskOp`] so that applying it again (a redelivered webhook, a
/// retried inbox item) returns the first outcome instead of changing anything twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of line `i` of a message of several commands (line 0 keeps this key).
    pub fn sub(&self, i: usize) -> Self {
        if i == 0 {
            self.clone()
        } else {
            self.sub_named(&i.to_string())
        }
    }

    /// A key derived from this one for one part of a command. Derived keys contain a `.`,
    /// which is how the inbox purge recognises them.
    pub fn sub_named(&self, part: &str) -> Self {
        Self(format!("{}.{part}", self.0))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now; the caller may retry later.
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A stored secret (a person's sealed tokens) cannot be opened with the configured key:
    /// the key changed or was lost. The row itself is intact and can still be deleted.
    #[error("a stored token cannot be decrypted with the configured BOTPER_TOKEN_KEY")]
    Sealed,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TaskRepository: Send + Sync {
    /// Applies `op` to `owner`'s tasks, atomically. With a `key`, the outcome is recorded in
    /// the same transaction as the change, and a later call with the same key returns that
    /// recorded outcome and changes nothing.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached, `Unexpected` otherwise. "No such
    /// task" is an outcome ([`TaskOutcome::NotFound`]), not an error.
    async fn apply(
        &self,
        owner: PersonId,
        op: TaskOp,
        key: Option<IdempotencyKey>,
        at: Timestamp,
    ) -> Result<TaskOutcome, StoreError>;

    /// `owner`'s open tasks, by number.
    ///
    /// # Errors
    /// As for [`TaskRepository::apply`].
    async fn list_open(&self, owner: PersonId) -> Result<Vec<Task>, StoreError>;

    /// The owner's done tasks (not deleted), most recently done first, at most `limit`.
    ///
    /// # Errors
    /// As for [`TaskRepository::apply`].
    async fn list_done(&self, owner: PersonId, limit: u32) -> Result<Vec<Task>, StoreError>;

    /// The owner's task with this number, open or done (not deleted).
    ///
    /// # Errors
    /// As for [`TaskRepository::apply`].
    async fn task(&self, owner: PersonId, number: TaskNumber) -> Result<Option<Task>, StoreError>;

    /// The task `owner` has for a meeting, if any.
    ///
    /// # Errors
    /// As for [`TaskRepository::apply`].
    async fn find_by_meeting(
        &self,
        owner: PersonId,
        meeting_id: String,
    ) -> Result<Option<Task>, StoreError>;

    /// The person's own settings (defaults when they set none).
    ///
    /// # Errors
    /// As for [`TaskRepository::apply`].
    async fn settings(&self, person: PersonId) -> Result<PersonSettings, StoreError>;

    /// Sets (or with `None` forgets) the person's time zone (an IANA name).
    ///
    /// # Errors
    /// As for [`TaskRepository::apply`].
    async fn set_timezone(
        &self,
        person: PersonId,
        timezone: Option<String>,
    ) -> Result<(), StoreError>;

    /// Records that the person was told once how to set their zone; `true` the first time.
    ///
    /// # Errors
    /// As for [`TaskRepository::apply`].
    async fn mark_zone_hint(&self, person: PersonId) -> Result<bool, StoreError>;
}

/// What a person set for themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonSettings {
    pub timezone: Option<String>,
    pub zone_hint_shown: bool,
}
