//! The durable inbox: verified webhook deliveries are stored here before Webex gets its 2xx,
//! then processed by workers, exactly once per dedup key.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::RoomType;
use crate::domain::{MessageId, PersonId, RoomId};

/// A Webex event Botper acts on, reduced to the ids it needs (webhooks carry metadata only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebexEvent {
    MessageCreated {
        message_id: MessageId,
        room_id: RoomId,
        person_id: PersonId,
    },
    /// Someone pressed a button on a card the bot sent.
    CardAction {
        action_id: String,
        person_id: PersonId,
        room_id: RoomId,
    },
    /// Someone joined a space the bot is in, or the bot was added to a space.
    MembershipCreated {
        membership_id: String,
        room_id: RoomId,
        person_id: PersonId,
        /// `data.roomType` when the delivery carried it.
        room_type: Option<RoomType>,
    },
    /// A scheduler job came due (Botper's own event, not Webex's): a reminder or an agenda.
    Scheduled {
        owner: PersonId,
        job: super::JobKind,
        /// The moment it was due (a firing much later than this says it is late).
        due_at: Timestamp,
    },
    /// A meeting was scheduled by a person whose meetings webhook Botper registered.
    MeetingCreated {
        meeting_id: String,
        /// Who registered the webhook (`createdBy`): the connected person.
        owner: PersonId,
    },
    /// A meeting was moved, renamed or otherwise changed (`meetings`/`updated`), or
    /// cancelled (`meetings`/`deleted`).
    MeetingChanged {
        meeting_id: String,
        owner: PersonId,
        cancelled: bool,
    },
}

impl WebexEvent {
    /// The person whose command this is (typed or a pressed card button); commands are
    /// paced per sender.
    pub fn command_sender(&self) -> Option<&PersonId> {
        match self {
            Self::MessageCreated { person_id, .. } | Self::CardAction { person_id, .. } => {
                Some(person_id)
            }
            Self::MembershipCreated { .. }
            | Self::MeetingCreated { .. }
            | Self::MeetingChanged { .. }
            | Self::Scheduled { .. } => None,
        }
    }

    /// Items with the same order key are processed one at a time, oldest first, so that a
    /// person's `task …` and `list` are answered in the order they were typed.
    pub fn order_key(&self) -> String {
        match self {
            Self::MessageCreated { person_id, .. } => format!("person:{person_id}"),
            // Meeting events wait out Webex's REST lag (minutes); they must not hold up the
            // person's typed commands, so they queue on their own.
            // A meeting's updates queue behind its `created` (which may be waiting out that
            // lag), so they are applied in the order Webex sent them.
            Self::MeetingCreated { owner, .. } | Self::MeetingChanged { owner, .. } => {
                format!("meetings:{owner}")
            }
            Self::CardAction { person_id, .. } => format!("person:{person_id}"),
            Self::MembershipCreated { room_id, .. } => format!("room:{room_id}"),
            // A person's reminders go one at a time, on their own queue: 500 of them for one
            // minute never hold up anyone else's (or that person's typed commands).
            Self::Scheduled { owner, .. } => format!("jobs:{owner}"),
        }
    }
}

/// Webex sends no per-delivery id; (`resource`, `event`, `data.id`) names an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupKey {
    pub resource: String,
    pub event: String,
    pub data_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub key: DedupKey,
    pub event: WebexEvent,
    pub received_at: Timestamp,
    /// When the item may first run: `received_at`, or later when the sender is over their
    /// pace.
    pub not_before: Timestamp,
    pub pacing: Pacing,
}

impl NewDelivery {
    /// A delivery that may run at once.
    pub fn now(key: DedupKey, event: WebexEvent, received_at: Timestamp) -> Self {
        Self {
            key,
            event,
            received_at,
            not_before: received_at,
            pacing: Pacing::Normal,
        }
    }

    /// The order key the item queues under: refused commands queue on their own, so that
    /// the refusal is answered at once rather than after the backlog that caused it.
    pub fn order_key(&self) -> String {
        match self.pacing {
            Pacing::Refused { .. } => format!("refused:{}", self.event.order_key()),
            _ => self.event.order_key(),
        }
    }
}

/// How the sender's pace admitted an item; kept with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pacing {
    #[default]
    Normal,
    /// The first command the pace delayed: its reply says that Botper is catching up, and
    /// that `waiting` commands were queued before it.
    CatchingUp { waiting: u32 },
    /// Refused because `waiting` commands were already queued (the backlog cap): answered
    /// with a refusal that names it, never run.
    Refused { waiting: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboxId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored for processing.
    Accepted(InboxId),
    /// The same event was stored before; nothing new was written.
    Duplicate,
}

/// A claimed item. The claim is a lease: if the worker does not settle the item before the
/// lease ends, another worker may claim it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: InboxId,
    pub event: WebexEvent,
    /// How many times the item has been claimed, this claim included.
    pub attempts: u32,
    pub received_at: Timestamp,
    pub pacing: Pacing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InboxStats {
    pub pending: u64,
    pub processing: u64,
    pub done: u64,
    pub dead: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: InboxId,
    pub key: DedupKey,
    pub attempts: u32,
    pub last_error: String,
    pub received_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The database cannot be reached right now.
    #[error("the inbox database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The item's lease ended and another worker owns it now; this worker must drop it.
    #[error("the lease on inbox item {0:?} was lost")]
    LeaseLost(InboxId),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Stores a verified delivery. Durable when it returns `Ok`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down: the caller must not acknowledge the delivery.
    async fn enqueue(&self, delivery: NewDelivery) -> Result<Enqueued, InboxError>;

    /// Claims the oldest item that is due, whose order key has no older unsettled item, and
    /// that no live lease holds; `None` when there is nothing to do.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` from the database.
    async fn claim(
        &self,
        worker: String,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Option<InboxItem>, InboxError>;

    /// Marks a claimed item processed.
    ///
    /// # Errors
    /// `LeaseLost` if `worker` no longer holds the item.
    async fn complete(&self, id: InboxId, worker: String, now: Timestamp)
    -> Result<(), InboxError>;

    /// Marks a claimed item processed and claims the next one in the same round trip (the
    /// busy path of a worker).
    ///
    /// # Errors
    /// `LeaseLost` if `worker` no longer holds the finished item (nothing is claimed then).
    async fn complete_and_claim(
        &self,
        id: InboxId,
        worker: String,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Option<InboxItem>, InboxError>;

    /// Extends `worker`'s lease on a claimed item to `until`. Returns false when the worker
    /// no longer holds it.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` from the database.
    async fn renew_lease(
        &self,
        id: InboxId,
        worker: String,
        until: Timestamp,
    ) -> Result<bool, InboxError>;

    /// Gives a claimed item back to be tried again at `retry_at`, recording why it failed.
    ///
    /// # Errors
    /// `LeaseLost` if `worker` no longer holds the item.
    async fn retry_later(
        &self,
        id: InboxId,
        worker: String,
        retry_at: Timestamp,
        error: String,
    ) -> Result<(), InboxError>;

    /// Parks a claimed item in the dead-letter state with its last error.
    ///
    /// # Errors
    /// `LeaseLost` if `worker` no longer holds the item.
    async fn dead_letter(
        &self,
        id: InboxId,
        worker: String,
        error: String,
        now: Timestamp,
    ) -> Result<(), InboxError>;

    /// Gives a claimed item back untouched (used at shutdown), without counting the attempt.
    ///
    /// # Errors
    /// As for [`Inbox::complete`].
    async fn release(&self, id: InboxId, worker: String) -> Result<(), InboxError>;

    /// Counts by state.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` from the database.
    async fn stats(&self) -> Result<InboxStats, InboxError>;

    /// The most recent dead letters, newest first.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` from the database.
    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, InboxError>;

    /// Deletes settled items received before `before` (done ones, and dead letters that
    /// also died before it), with their recorded outcomes. Returns how many were deleted.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` from the database.
    async fn purge_settled(&self, before: Timestamp) -> Result<u64, InboxError>;

    /// Puts a dead letter back to be processed again (attempts reset). Returns whether
    /// there was such a dead letter.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` from the database.
    async fn requeue_dead(&self, id: InboxId, now: Timestamp) -> Result<bool, InboxError>;

    /// Whether the database answers.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), InboxError>;
}
