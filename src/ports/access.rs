//! Roles, the audit log, refusals, and a person's data as a whole (erasure, retention).

use async_trait::async_trait;
use jiff::Timestamp;

use super::{InboxId, StoreError};
use crate::domain::PersonId;
use crate::domain::access::Role;

/// A role given to an address (the person may not have used Botper yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrant {
    pub email: String,
    pub role: Role,
    pub granted_by: String,
    pub granted_at: Timestamp,
}

/// One admin action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// The admin's address (or `BOTPER_ADMINS` for the configuration's seeding).
    pub actor: String,
    /// `grant organizer`, `revoke admin`, `disconnect`, `stats`, …
    pub action: String,
    /// The address acted on, if any.
    pub target: Option<String>,
    /// What came of it (`granted`, `already had it`, `no connection`, …).
    pub outcome: String,
}

/// Counts for `admin stats` (the inbox and the scheduler have their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeopleStats {
    /// Everyone who has filed a task.
    pub people: u64,
    pub open_tasks: u64,
    pub connected: u64,
}

/// What erasing a person deleted, for the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Forgotten {
    /// Tasks (open, done and deleted ones kept as tombstones) and their history.
    pub tasks: u64,
    pub jobs: u64,
    pub settings: bool,
    pub sessions: u64,
    pub calendar: bool,
    pub role: bool,
    pub inbox_rows: u64,
}

impl Forgotten {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// The role stored for `email` (lowercase), if any.
    ///
    /// # Errors
    /// Store failures.
    async fn role_of(&self, email: String) -> Result<Option<Role>, StoreError>;

    /// Gives `email` exactly `role` (`Member` removes the row). Returns the role before.
    ///
    /// # Errors
    /// Store failures.
    async fn set_role(
        &self,
        email: String,
        role: Role,
        by: String,
        now: Timestamp,
    ) -> Result<Option<Role>, StoreError>;

    /// Every stored role, admins first.
    ///
    /// # Errors
    /// Store failures.
    async fn roles(&self) -> Result<Vec<RoleGrant>, StoreError>;

    /// # Errors
    /// Store failures.
    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError>;

    /// The last `limit` admin actions, newest first.
    ///
    /// # Errors
    /// Store failures.
    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Records that the space was refused today; `true` the first time that day.
    ///
    /// # Errors
    /// Store failures.
    async fn first_refusal(&self, room: String, day: String) -> Result<bool, StoreError>;

    /// # Errors
    /// Store failures.
    async fn people_stats(&self) -> Result<PeopleStats, StoreError>;

    /// The person behind a connected address (`admin disconnect`).
    ///
    /// # Errors
    /// Store failures.
    async fn person_by_email(&self, email: String) -> Result<Option<PersonId>, StoreError>;

    /// `forget me`: remembers that the person asked, at `now`.
    ///
    /// # Errors
    /// Store failures.
    async fn ask_forget(&self, person: PersonId, now: Timestamp) -> Result<(), StoreError>;

    /// Takes the person's request to be forgotten if it was made after `since`.
    ///
    /// # Errors
    /// Store failures.
    async fn take_forget(&self, person: PersonId, since: Timestamp) -> Result<bool, StoreError>;

    /// Deletes everything kept about the person except their grant (deleted first, with
    /// its webhook, by the caller): tasks and their history and recorded outcomes,
    /// counters, jobs, settings, web sessions, the calendar feed, meetings poll snapshots,
    /// the role of `email`, and the person's name in the audit log; their inbox rows keep
    /// only their dedup key. The deleted bytes are overwritten where the store can.
    ///
    /// # Errors
    /// Store failures; nothing is half-deleted (one transaction).
    async fn forget(
        &self,
        person: PersonId,
        email: Option<String>,
    ) -> Result<Forgotten, StoreError>;

    /// Keeps only the dedup key of an inbox item (a refused stranger's message).
    ///
    /// # Errors
    /// Store failures.
    async fn redact_item(&self, id: InboxId) -> Result<(), StoreError>;

    /// `BOTPER_DONE_RETENTION_DAYS`: deletes tasks done before `before`.
    ///
    /// # Errors
    /// Store failures.
    async fn purge_done(&self, before: Timestamp) -> Result<u64, StoreError>;
}
