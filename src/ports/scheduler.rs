//! The durable scheduler: jobs due at a moment (a task's reminder, a daily agenda), kept in
//! the same database as the tasks. A due job is *fired* by moving it into the inbox as an
//! item whose dedup key names the job and the moment, in one transaction: a firing is
//! stored once however many instances fire at the same time, and then runs with the
//! inbox's retries, dead letters and per-person ordering.
//!
//! Reminder jobs follow their task: the task store keeps the job in step with every change
//! to the task (due date, reminder, done, deleted, undo) in the change's own transaction.

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreError;
use crate::domain::agenda::AgendaSchedule;
use crate::domain::task::ReminderLead;
use crate::domain::{PersonId, TaskNumber};

/// What a job does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Remind the person of their task.
    Reminder(TaskNumber),
    /// Send the person their agenda (repeats by its schedule).
    Agenda,
}

/// Jobs waiting, for `doctor`, metrics and the admin's stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchedulerStats {
    /// Jobs not yet due.
    pub waiting: u64,
    /// Jobs due but not fired yet (normally 0 or a few: the backlog).
    pub due: u64,
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Scheduler: Send + Sync {
    /// Fires up to `limit` jobs due at `now`, oldest first: each becomes an inbox item
    /// ([`super::WebexEvent::Scheduled`]) keyed by the job and the moment it was due; a
    /// one-time job is removed, a repeating one moves to its next moment after `now` (a
    /// job missed several times fires once). Returns how many fired; call again while it
    /// returns `limit`. On Postgres, jobs another instance is firing are skipped, not waited
    /// for.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached, `Unexpected` otherwise.
    async fn fire_due(&self, now: Timestamp, limit: u32) -> Result<u32, StoreError>;

    /// Sets (or with `None` removes) the person's daily agenda; returns its next moment
    /// after `now`.
    ///
    /// # Errors
    /// As for [`Scheduler::fire_due`].
    async fn set_agenda(
        &self,
        person: PersonId,
        agenda: Option<AgendaSchedule>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError>;

    /// The person's daily agenda, if they set one.
    ///
    /// # Errors
    /// As for [`Scheduler::fire_due`].
    async fn agenda(&self, person: PersonId) -> Result<Option<AgendaSchedule>, StoreError>;

    /// The person's default reminder lead.
    ///
    /// # Errors
    /// As for [`Scheduler::fire_due`].
    async fn reminder_lead(&self, person: PersonId) -> Result<ReminderLead, StoreError>;

    /// Sets the person's default reminder lead and moves the reminders it decides (of
    /// open tasks, still ahead of `now`); returns how many reminders are now scheduled
    /// for them.
    ///
    /// # Errors
    /// As for [`Scheduler::fire_due`].
    async fn set_reminder_lead(
        &self,
        person: PersonId,
        lead: ReminderLead,
        now: Timestamp,
    ) -> Result<u32, StoreError>;

    /// Removes every job of the person (reminders and agenda), and the reminders and
    /// agenda they set, so nothing is scheduled for them any more; returns how many jobs
    /// were removed.
    ///
    /// # Errors
    /// As for [`Scheduler::fire_due`].
    async fn forget_jobs(&self, person: PersonId) -> Result<u32, StoreError>;

    /// The earliest moment a job is due, if any.
    ///
    /// # Errors
    /// As for [`Scheduler::fire_due`].
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Counts of waiting and due jobs at `now`.
    ///
    /// # Errors
    /// As for [`Scheduler::fire_due`].
    async fn stats(&self, now: Timestamp) -> Result<SchedulerStats, StoreError>;
}
