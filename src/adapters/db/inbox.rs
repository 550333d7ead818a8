//! `Inbox` on the shared store. Items are claimed with a lease; on Postgres the claim skips
//! rows another instance has locked (`FOR UPDATE SKIP LOCKED`), so several processes can
//! share one database. SQLite has a single writer, which makes the same statement atomic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::schema::{inbox, task_effects};
use super::sql::{Bind, CachedSql};
use super::{Db, DbConnection, DbError, from_millis, millis};
use crate::domain::{MessageId, PersonId, RoomId};
use crate::ports::inbox::DeadLetter;
use crate::ports::{
    DedupKey, Enqueued, Inbox, InboxError, InboxId, InboxItem, InboxStats, JobKind, NewDelivery,
    Pacing, RoomType, WebexEvent,
};

/// The claim on SQLite: the oldest item that is due — pending and available, or in flight
/// under a lease that expired — whose person has no older unsettled item. Each kind is
/// probed through an index of its own (migration 14): the oldest claimable pending item
/// by id, and the expired leases by lease end (usually none), so a claim no longer steps
/// over the items in flight. Binds: worker, lease end, now, now. Postgres runs its claim
/// inside `botper_settle` (migration 14), skipping rows another instance holds locked.
const CLAIM_SQLITE: &[&str] = &[
    "UPDATE inbox SET state = 'processing', attempts = attempts + 1, lease_owner = ",
    ", lease_until = ",
    " WHERE id = (SELECT MIN(c) FROM (\
       SELECT (SELECT MIN(e.id) FROM inbox e INDEXED BY inbox_leases \
        WHERE e.state = 'processing' AND e.lease_until < ",
    " AND NOT EXISTS (SELECT 1 FROM inbox o WHERE o.order_key = e.order_key \
            AND o.id < e.id AND o.state IN ('pending', 'processing'))) AS c \
       UNION ALL \
       SELECT (SELECT i.id FROM inbox i INDEXED BY inbox_pending \
        WHERE i.state = 'pending' AND i.available_at <= ",
    " AND NOT EXISTS (SELECT 1 FROM inbox o WHERE o.order_key = i.order_key \
            AND o.id < i.id AND o.state IN ('pending', 'processing')) \
        ORDER BY i.id LIMIT 1))) \
     RETURNING id, payload, attempts, received_at",
];

/// The row `$worker` holds under a live claim.
macro_rules! held {
    ($id:expr, $worker:expr) => {
        inbox::table
            .filter(inbox::id.eq($id))
            .filter(inbox::state.eq("processing"))
            .filter(inbox::lease_owner.eq($worker))
    };
}
#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = BigInt)]
    received_at: i64,
}

/// The stored form of a [`WebexEvent`] (adapter-private).
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EventDto {
    MessageCreated {
        message_id: String,
        room_id: String,
        person_id: String,
    },
    MeetingCreated {
        meeting_id: String,
        owner: String,
    },
    MeetingChanged {
        meeting_id: String,
        owner: String,
        cancelled: bool,
    },
    /// A scheduler job: `job` is `remind:<n>` or `agenda`; `due_at` in UTC ms.
    Scheduled {
        owner: String,
        job: String,
        due_at: i64,
    },
    CardAction {
        action_id: String,
        person_id: String,
        room_id: String,
    },
    MembershipCreated {
        membership_id: String,
        room_id: String,
        person_id: String,
        /// Absent in rows written before it was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room_type: Option<String>,
    },
}

/// The stored payload: the event, and how the sender's pace admitted it (absent for
/// `Normal`, so rows written before pacing existed read as they were).
#[derive(Serialize, Deserialize)]
struct StoredDto {
    #[serde(flatten)]
    event: EventDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pacing: Option<PacingDto>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PacingDto {
    CatchingUp { waiting: u32 },
    Refused { waiting: u32 },
}

fn encode_payload(e: &WebexEvent, pacing: Pacing) -> Result<String, DbError> {
    let stored = StoredDto {
        event: EventDto::from_event(e),
        pacing: match pacing {
            Pacing::Normal => None,
            Pacing::CatchingUp { waiting } => Some(PacingDto::CatchingUp { waiting }),
            Pacing::Refused { waiting } => Some(PacingDto::Refused { waiting }),
        },
    };
    serde_json::to_string(&stored).map_err(|e| DbError::Other(e.into()))
}

fn decode_payload(json: &str) -> Result<(WebexEvent, Pacing), DbError> {
    let stored: StoredDto = serde_json::from_str(json).map_err(|e| DbError::Other(e.into()))?;
    let pacing = match stored.pacing {
        None => Pacing::Normal,
        Some(PacingDto::CatchingUp { waiting }) => Pacing::CatchingUp { waiting },
        Some(PacingDto::Refused { waiting }) => Pacing::Refused { waiting },
    };
    Ok((stored.event.into_event()?, pacing))
}

impl EventDto {
    fn from_event(e: &WebexEvent) -> Self {
        match e {
            WebexEvent::MessageCreated {
                message_id,
                room_id,
                person_id,
            } => EventDto::MessageCreated {
                message_id: message_id.as_str().to_owned(),
                room_id: room_id.as_str().to_owned(),
                person_id: person_id.as_str().to_owned(),
            },
            WebexEvent::MeetingCreated { meeting_id, owner } => EventDto::MeetingCreated {
                meeting_id: meeting_id.clone(),
                owner: owner.as_str().to_owned(),
            },
            WebexEvent::MeetingChanged {
                meeting_id,
                owner,
                cancelled,
            } => EventDto::MeetingChanged {
                meeting_id: meeting_id.clone(),
                owner: owner.as_str().to_owned(),
                cancelled: *cancelled,
            },
            WebexEvent::Scheduled { owner, job, due_at } => EventDto::Scheduled {
                owner: owner.as_str().to_owned(),
                job: match job {
                    JobKind::Reminder(n) => format!("remind:{n}"),
                    JobKind::Agenda => "agenda".to_owned(),
                },
                due_at: millis(*due_at),
            },
            WebexEvent::CardAction {
                action_id,
                person_id,
                room_id,
            } => EventDto::CardAction {
                action_id: action_id.clone(),
                person_id: person_id.as_str().to_owned(),
                room_id: room_id.as_str().to_owned(),
            },
            WebexEvent::MembershipCreated {
                membership_id,
                room_id,
                person_id,
                room_type,
            } => EventDto::MembershipCreated {
                membership_id: membership_id.clone(),
                room_id: room_id.as_str().to_owned(),
                person_id: person_id.as_str().to_owned(),
                room_type: room_type.map(|t| t.as_str().to_owned()),
            },
        }
    }

    fn into_event(self) -> Result<WebexEvent, DbError> {
        Ok(match self {
            EventDto::Scheduled { owner, job, due_at } => WebexEvent::Scheduled {
                owner: PersonId::new(owner),
                job: match job.split_once(':') {
                    None if job == "agenda" => JobKind::Agenda,
                    Some(("remind", n)) => JobKind::Reminder(
                        n.parse::<u32>()
                            .ok()
                            .and_then(crate::domain::TaskNumber::new)
                            .ok_or_else(|| {
                                DbError::Other(anyhow::anyhow!("bad scheduled job {job}"))
                            })?,
                    ),
                    _ => return Err(DbError::Other(anyhow::anyhow!("bad scheduled job {job}"))),
                },
                due_at: from_millis(due_at)?,
            },
            EventDto::MessageCreated {
                message_id,
                room_id,
                person_id,
            } => WebexEvent::MessageCreated {
                message_id: MessageId::new(message_id),
                room_id: RoomId::new(room_id),
                person_id: PersonId::new(person_id),
            },
            EventDto::MeetingCreated { meeting_id, owner } => WebexEvent::MeetingCreated {
                meeting_id,
                owner: PersonId::new(owner),
            },
            EventDto::MeetingChanged {
                meeting_id,
                owner,
                cancelled,
            } => WebexEvent::MeetingChanged {
                meeting_id,
                owner: PersonId::new(owner),
                cancelled,
            },
            EventDto::CardAction {
                action_id,
                person_id,
                room_id,
            } => WebexEvent::CardAction {
                action_id,
                person_id: PersonId::new(person_id),
                room_id: RoomId::new(room_id),
            },
            EventDto::MembershipCreated {
                membership_id,
                room_id,
                person_id,
                room_type,
            } => WebexEvent::MembershipCreated {
                membership_id,
                room_id: RoomId::new(room_id),
                person_id: PersonId::new(person_id),
                room_type: room_type.as_deref().and_then(RoomType::parse),
            },
        })
    }
}

impl ClaimedRow {
    fn into_item(self) -> Result<InboxItem, DbError> {
        let (event, pacing) = decode_payload(&self.payload)?;
        Ok(InboxItem {
            id: InboxId(self.id),
            event,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            received_at: from_millis(self.received_at)?,
            pacing,
        })
    }
}

/// Runs the claim (SQLite).
fn claim_row(
    conn: &mut DbConnection,
    worker: String,
    until: i64,
    now_ms: i64,
) -> Result<Option<ClaimedRow>, DbError> {
    let binds = vec![
        Bind::Text(worker),
        Bind::BigInt(until),
        Bind::BigInt(now_ms),
        Bind::BigInt(now_ms),
    ];
    Ok(CachedSql::new(CLAIM_SQLITE, binds)
        .get_result::<ClaimedRow>(conn)
        .optional()?)
}

/// Claims the next item and decodes it (SQLite). A row that cannot be decoded (written by a
/// newer version, or damaged) is parked as a dead letter with the reason, in the same
/// transaction, and the claim moves on: it must not block its person's later items.
fn claim_item(
    conn: &mut DbConnection,
    worker: &str,
    until: i64,
    now_ms: i64,
) -> Result<Option<InboxItem>, DbError> {
    for _ in 0..16 {
        let Some(row) = claim_row(conn, worker.to_owned(), until, now_ms)? else {
            return Ok(None);
        };
        if let Some(item) = decode_or_park(conn, row, now_ms)? {
            return Ok(Some(item));
        }
    }
    Ok(None)
}

/// The claimed row's item, or `None` when it cannot be read: then it is parked as a dead
/// letter with the reason.
fn decode_or_park(
    conn: &mut DbConnection,
    row: ClaimedRow,
    now_ms: i64,
) -> Result<Option<InboxItem>, DbError> {
    let id = row.id;
    match row.into_item() {
        Ok(item) => Ok(Some(item)),
        Err(e) => {
            tracing::error!(item = id, error = %e, "inbox item cannot be read; parked as a dead letter");
            diesel::update(inbox::table.filter(inbox::id.eq(id)))
                .set((
                    inbox::state.eq("dead"),
                    inbox::last_error.eq(Some(format!("cannot be read: {e}"))),
                    inbox::settled_at.eq(Some(now_ms)),
                    inbox::lease_owner.eq(None::<String>),
                    inbox::lease_until.eq(None::<i64>),
                ))
                .execute(conn)?;
            Ok(None)
        }
    }
}

#[derive(QueryableByName)]
struct SettledRow {
    #[diesel(sql_type = Bool)]
    completed: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    payload: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    attempts: Option<i32>,
    #[diesel(sql_type = Nullable<BigInt>)]
    received_at: Option<i64>,
}

/// Postgres: completes `done` (when given, and only if `worker` still holds it) and claims
/// the next item for `worker`, in one round trip: `botper_settle` (migration 14), which
/// runs the claim with its planner settings. Each call is its own transaction, committed
/// without waiting for the WAL flush (migration 15, docs/reliability.md). A lost lease is
/// `LeaseLost`, and then nothing is claimed.
///
/// Once `done` is completed (committed), a later failure — parking an unreadable item, or
/// claiming past it — is not the caller's error: the item is settled, and the answer is
/// "nothing claimed" (the worker claims again). An item whose parking failed stays under
/// this worker's lease until it expires, and is then claimed and parked again.
fn settle_postgres(
    conn: &mut DbConnection,
    done: Option<InboxId>,
    worker: &str,
    now_ms: i64,
    until: i64,
) -> Result<Option<InboxItem>, DbError> {
    // Whether `done` is completed: then a later failure is no longer the caller's.
    let settled = done.is_some();
    let mut done = done;
    let mut past_first = false;
    for _ in 0..16 {
        let step = settle_postgres_once(conn, done.take(), worker, now_ms, until);
        match step {
            Ok(Step::Claimed(item)) => return Ok(Some(item)),
            Ok(Step::Nothing) => return Ok(None),
            Ok(Step::Parked) => past_first = true,
            Err(e) if settled && past_first => {
                tracing::warn!(error = %e, "the item is settled; claiming the next one failed");
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

enum Step {
    Claimed(InboxItem),
    Nothing,
    /// `done` (if any) is settled, and the claimed row could not be read: it is parked.
    Parked,
}

fn settle_postgres_once(
    conn: &mut DbConnection,
    done: Option<InboxId>,
    worker: &str,
    now_ms: i64,
    until: i64,
) -> Result<Step, DbError> {
    const SETTLE: &[&str] = &[
        "SELECT completed, id, payload, attempts, received_at FROM botper_settle(",
        ", ",
        ", ",
        ", ",
        ")",
    ];
    let binds = vec![
        Bind::NullableBigInt(done.map(|d| d.0)),
        Bind::Text(worker.to_owned()),
        Bind::BigInt(now_ms),
        Bind::BigInt(until),
    ];
    let row: SettledRow = CachedSql::new(SETTLE, binds).get_result(conn)?;
    if let Some(id) = done
        && !row.completed
    {
        return Err(DbError::Other(anyhow::Error::new(LeaseLostMarker(id))));
    }
    let (Some(id), Some(payload), Some(attempts), Some(received_at)) =
        (row.id, row.payload, row.attempts, row.received_at)
    else {
        return Ok(Step::Nothing);
    };
    let claimed = ClaimedRow {
        id,
        payload,
        attempts,
        received_at,
    };
    match decode_or_park(conn, claimed, now_ms) {
        Ok(Some(item)) => Ok(Step::Claimed(item)),
        Ok(None) => Ok(Step::Parked),
        Err(e) if done.is_some() => {
            // `done` is committed whatever happened to the parking.
            tracing::warn!(error = %e, "the item is settled; parking an unreadable one failed");
            Ok(Step::Nothing)
        }
        Err(e) => Err(e),
    }
}

/// Marks the item `worker` holds done; 0 rows when the lease was lost. Hand-written, so
/// that it is prepared once (diesel prepares each `UPDATE` of its own on every call).
fn complete_row(c: &mut DbConnection, id: i64, worker: &str, now_ms: i64) -> QueryResult<usize> {
    const COMPLETE: &[&str] = &[
        "UPDATE inbox SET state = 'done', settled_at = ",
        ", lease_owner = NULL, lease_until = NULL \
         WHERE id = ",
        " AND state = 'processing' AND lease_owner = ",
        "",
    ];
    let binds = vec![
        Bind::BigInt(now_ms),
        Bind::BigInt(id),
        Bind::Text(worker.to_owned()),
    ];
    CachedSql::new(COMPLETE, binds).execute(c)
}

/// A worker's "done with this one, give me the next", waiting in the settle batch: the
/// item, the worker, now and the next claim's lease end (UTC ms), and who waits.
pub(crate) type PendingSettle = (
    InboxId,
    String,
    i64,
    i64,
    tokio::sync::oneshot::Sender<Result<Option<InboxItem>, InboxError>>,
);

/// Completes each item and claims the next for its worker, all in the caller's transaction
/// (SQLite). A lost lease is that worker's answer alone (its complete changed nothing).
fn settle_all(
    conn: &mut DbConnection,
    batch: &[(InboxId, String, i64, i64)],
) -> Result<Vec<Result<Option<InboxItem>, DbError>>, DbError> {
    let mut out = Vec::with_capacity(batch.len());
    for (id, worker, now_ms, until) in batch {
        if complete_row(conn, id.0, worker, *now_ms)? != 1 {
            out.push(Err(DbError::Other(anyhow::Error::new(LeaseLostMarker(
                *id,
            )))));
            continue;
        }
        out.push(Ok(claim_item(conn, worker, *until, *now_ms)?));
    }
    Ok(out)
}

/// A delivery waiting in the enqueue batch.
pub(crate) struct PendingRow {
    key: DedupKey,
    order_key: String,
    payload: String,
    at: i64,
    available_at: i64,
}

pub(crate) type PendingEnqueue = (
    PendingRow,
    tokio::sync::oneshot::Sender<Result<Enqueued, InboxError>>,
);

/// Stores `d` inside the caller's transaction (the scheduler's firings), unless its dedup
/// key is already there.
pub(super) fn enqueue_in(conn: &mut DbConnection, d: &NewDelivery) -> Result<Enqueued, DbError> {
    let row = PendingRow {
        payload: encode_payload(&d.event, d.pacing)?,
        order_key: d.order_key(),
        at: millis(d.received_at),
        available_at: millis(d.not_before.max(d.received_at)),
        key: d.key.clone(),
    };
    insert_row(conn, &row)
}

/// Inserts one delivery unless its dedup key is already there.
fn insert_row(conn: &mut DbConnection, r: &PendingRow) -> Result<Enqueued, DbError> {
    const INSERT: &[&str] = &[
        "INSERT INTO inbox (resource, event, data_id, order_key, payload, state, attempts, \
         available_at, received_at) VALUES (",
        ", ",
        ", ",
        ", ",
        ", ",
        ", 'pending', 0, ",
        ", ",
        ") ON CONFLICT (resource, event, data_id) DO NOTHING RETURNING id",
    ];
    let binds = vec![
        Bind::Text(r.key.resource.clone()),
        Bind::Text(r.key.event.clone()),
        Bind::Text(r.key.data_id.clone()),
        Bind::Text(r.order_key.clone()),
        Bind::Text(r.payload.clone()),
        Bind::BigInt(r.available_at),
        Bind::BigInt(r.at),
    ];
    let id: Option<InsertedId> = CachedSql::new(INSERT, binds).get_result(conn).optional()?;
    Ok(match id {
        Some(row) => Enqueued::Accepted(InboxId(row.id)),
        None => Enqueued::Duplicate,
    })
}

#[derive(QueryableByName)]
struct InsertedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Runs an update that must touch the one row `worker` holds.
fn settle(
    conn: &mut DbConnection,
    id: InboxId,
    worker: &str,
    update: impl FnOnce(&mut DbConnection, i64, &str) -> QueryResult<usize>,
) -> Result<(), DbError> {
    match update(conn, id.0, worker)? {
        1 => Ok(()),
        _ => Err(DbError::Other(anyhow::Error::new(LeaseLostMarker(id)))),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("lease lost on {0:?}")]
struct LeaseLostMarker(InboxId);

fn is_lease_lost(e: &DbError) -> bool {
    matches!(e, DbError::Other(e) if e.downcast_ref::<LeaseLostMarker>().is_some())
}

/// Completes the item without claiming (the worker claims again later).
fn complete_alone(
    conn: &mut DbConnection,
    id: InboxId,
    worker: &str,
    now_ms: i64,
) -> Result<Option<InboxItem>, DbError> {
    settle(conn, id, worker, |c, id, w| complete_row(c, id, w, now_ms)).map(|()| None)
}

impl From<DbError> for InboxError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(e) => InboxError::Unavailable(e),
            DbError::Other(e) => match e.downcast_ref::<LeaseLostMarker>() {
                Some(LeaseLostMarker(id)) => InboxError::LeaseLost(*id),
                None => InboxError::Unexpected(e),
            },
        }
    }
}

/// What each waiter of a batch hears when the batch's job failed: an outage, or `what`.
fn batch_failure(e: &DbError, what: &str) -> InboxError {
    match e {
        DbError::Unavailable(_) => {
            InboxError::Unavailable(anyhow::anyhow!("the database is unavailable"))
        }
        DbError::Other(_) => InboxError::Unexpected(anyhow::anyhow!("{what}")),
    }
}

impl Db {
    /// Writes the waiting deliveries in one transaction and answers each waiter. (On SQLite
    /// flushes commit in the order they were queued; on Postgres two flushes may commit in
    /// either order — like two deliveries Webex sends at the same time.)
    async fn flush_enqueue_batch(&self) {
        let batch = self.enqueue_batch.clone();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_job = ran.clone();
        // The waiters are answered here, after the job's work is committed (on SQLite the
        // job may share a transaction with others, committed after the job returns).
        let senders = Arc::new(std::sync::Mutex::new(Vec::new()));
        let taken_senders = senders.clone();
        let flushed = self
            .run_urgent(move |conn| {
                ran_in_job.store(true, Ordering::Relaxed);
                let taken = std::mem::take(&mut *batch.lock().unwrap_or_else(|p| p.into_inner()));
                let (rows, txs): (Vec<PendingRow>, Vec<_>) = taken.into_iter().unzip();
                *taken_senders.lock().unwrap_or_else(|p| p.into_inner()) = txs;
                match rows.as_slice() {
                    // One statement is a transaction of its own (on Postgres that saves
                    // the round trips of BEGIN and COMMIT).
                    [one] => insert_row(conn, one).map(|r| vec![r]),
                    _ => conn.transaction::<_, DbError, _>(|conn| {
                        rows.iter()
                            .map(|r| insert_row(conn, r))
                            .collect::<Result<Vec<_>, _>>()
                    }),
                }
            })
            .await;
        let txs = std::mem::take(&mut *senders.lock().unwrap_or_else(|p| p.into_inner()));
        match flushed {
            Ok(results) => {
                for (tx, r) in txs.into_iter().zip(results) {
                    let _ = tx.send(Ok(r));
                }
            }
            Err(e) => {
                for tx in txs {
                    let _ = tx.send(Err(batch_failure(&e, "storing the delivery failed")));
                }
                if !ran.load(Ordering::Relaxed) {
                    // The batch never reached the database (it was down): fail what is
                    // waiting, so nobody waits forever.
                    let stranded = std::mem::take(
                        &mut *self.enqueue_batch.lock().unwrap_or_else(|p| p.into_inner()),
                    );
                    for (_, tx) in stranded {
                        let _ = tx.send(Err(InboxError::Unavailable(anyhow::anyhow!("{e}"))));
                    }
                }
            }
        }
    }
}

impl Db {
    /// Settles the waiting workers' items and claims their next ones, in one transaction on
    /// SQLite, with one `botper_settle` call each on Postgres.
    /// If that fails for another reason than a lost lease, each item is completed on its
    /// own (no claim: the worker claims again later), so one bad claim cannot hold
    /// finished work back.
    async fn flush_settle_batch(&self) {
        let batch = self.settle_batch.clone();
        let senders = Arc::new(std::sync::Mutex::new(Vec::new()));
        let answered = senders.clone();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_job = ran.clone();
        let flushed = self
            .run(move |conn| {
                ran_in_job.store(true, Ordering::Relaxed);
                let taken = std::mem::take(&mut *batch.lock().unwrap_or_else(|p| p.into_inner()));
                let mut work = Vec::with_capacity(taken.len());
                {
                    let mut txs = answered.lock().unwrap_or_else(|p| p.into_inner());
                    for (id, worker, now_ms, until, tx) in taken {
                        work.push((id, worker, now_ms, until));
                        txs.push(tx);
                    }
                }
                let together = match conn {
                    // Each call is its own transaction; a transaction around them would add
                    // two round trips.
                    DbConnection::Postgres(_) => {
                        return Ok(work
                            .iter()
                            .map(|(id, worker, now_ms, until)| {
                                match settle_postgres(conn, Some(*id), worker, *now_ms, *until) {
                                    Err(e) if !is_lease_lost(&e) => {
                                        tracing::warn!(error = %e, item = id.0, "settling and claiming failed; settling alone");
                                        complete_alone(conn, *id, worker, *now_ms)
                                    }
                                    other => other,
                                }
                            })
                            .collect());
                    }
                    DbConnection::Sqlite(_) => {
                        conn.transaction::<_, DbError, _>(|conn| settle_all(conn, &work))
                    }
                };
                match together {
                    Ok(results) => Ok(results),
                    Err(e) => {
                        tracing::warn!(error = %e, items = work.len(), "settling together failed; settling each alone");
                        Ok(work
                            .iter()
                            .map(|(id, worker, now_ms, _)| complete_alone(conn, *id, worker, *now_ms))
                            .collect())
                    }
                }
            })
            .await;
        let txs = std::mem::take(&mut *senders.lock().unwrap_or_else(|p| p.into_inner()));
        match flushed {
            Ok(results) => {
                for (tx, r) in txs.into_iter().zip(results) {
                    let _ = tx.send(r.map_err(Into::into));
                }
            }
            Err(e) => {
                for tx in txs {
                    let what = format!("settling the item failed: {e}");
                    let _ = tx.send(Err(batch_failure(&e, &what)));
                }
            }
        }
        if !ran.load(Ordering::Relaxed) {
            // The job never reached the database (it was down): fail what is waiting, so
            // no worker waits forever; each retries its settle.
            let stranded =
                std::mem::take(&mut *self.settle_batch.lock().unwrap_or_else(|p| p.into_inner()));
            for (.., tx) in stranded {
                let _ = tx.send(Err(InboxError::Unavailable(anyhow::anyhow!(
                    "the database is unavailable"
                ))));
            }
        }
    }
}

#[async_trait]
impl Inbox for Db {
    #[tracing::instrument(level = "debug", name = "db.inbox.enqueue", skip_all)]
    async fn enqueue(&self, d: NewDelivery) -> Result<Enqueued, InboxError> {
        let row = PendingRow {
            payload: encode_payload(&d.event, d.pacing)?,
            order_key: d.order_key(),
            at: millis(d.received_at),
            available_at: millis(d.not_before.max(d.received_at)),
            key: d.key,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Group commit: deliveries that arrive while a batch waits for the database join it
        // and are written in the same transaction. Each is acknowledged only after the commit.
        let first = {
            let mut batch = self.enqueue_batch.lock().unwrap_or_else(|p| p.into_inner());
            batch.push((row, tx));
            batch.len() == 1
        };
        if first {
            // Detached: a caller that goes away (its client disconnected) cannot strand the
            // batch and everyone queued behind it.
            let db = self.clone();
            tokio::spawn(async move { db.flush_enqueue_batch().await });
        }
        rx.await
            .map_err(|_| InboxError::Unexpected(anyhow::anyhow!("the enqueue batch was dropped")))?
    }

    async fn complete_and_claim(
        &self,
        id: InboxId,
        worker: String,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Option<InboxItem>, InboxError> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(lease.as_millis() as i64);
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Workers finishing at the same time settle together: one trip to the database
        // for all of them — on SQLite one transaction (one commit), on Postgres one call of
        // `botper_settle` each, one after another on one connection.
        let first = {
            let mut batch = self.settle_batch.lock().unwrap_or_else(|p| p.into_inner());
            batch.push((id, worker, now_ms, until, tx));
            batch.len() == 1
        };
        if first {
            let db = self.clone();
            tokio::spawn(async move { db.flush_settle_batch().await });
        }
        rx.await
            .map_err(|_| InboxError::Unexpected(anyhow::anyhow!("the settle batch was dropped")))?
    }

    #[tracing::instrument(level = "debug", name = "db.inbox.claim", skip_all)]
    async fn claim(
        &self,
        worker: String,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Option<InboxItem>, InboxError> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(lease.as_millis() as i64);
        self.run(move |conn| match conn {
            DbConnection::Postgres(_) => settle_postgres(conn, None, &worker, now_ms, until),
            DbConnection::Sqlite(_) => {
                conn.transaction::<_, DbError, _>(|conn| claim_item(conn, &worker, until, now_ms))
            }
        })
        .await
        .map_err(Into::into)
    }

    async fn complete(
        &self,
        id: InboxId,
        worker: String,
        now: Timestamp,
    ) -> Result<(), InboxError> {
        let now_ms = millis(now);
        self.run(move |conn| complete_alone(conn, id, &worker, now_ms).map(|_| ()))
            .await
            .map_err(Into::into)
    }

    async fn renew_lease(
        &self,
        id: InboxId,
        worker: String,
        until: Timestamp,
    ) -> Result<bool, InboxError> {
        let until = millis(until);
        self.run(move |conn| {
            let n = diesel::update(held!(id.0, &worker))
                .set(inbox::lease_until.eq(Some(until)))
                .execute(conn)?;
            Ok(n == 1)
        })
        .await
        .map_err(Into::into)
    }

    async fn retry_later(
        &self,
        id: InboxId,
        worker: String,
        retry_at: Timestamp,
        error: String,
    ) -> Result<(), InboxError> {
        self.run(move |conn| {
            settle(conn, id, &worker, |c, id, w| {
                diesel::update(held!(id, w))
                    .set((
                        inbox::state.eq("pending"),
                        inbox::available_at.eq(millis(retry_at)),
                        inbox::last_error.eq(Some(error)),
                        inbox::lease_owner.eq(None::<String>),
                        inbox::lease_until.eq(None::<i64>),
                    ))
                    .execute(c)
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn dead_letter(
        &self,
        id: InboxId,
        worker: String,
        error: String,
        now: Timestamp,
    ) -> Result<(), InboxError> {
        self.run(move |conn| {
            settle(conn, id, &worker, |c, id, w| {
                diesel::update(held!(id, w))
                    .set((
                        inbox::state.eq("dead"),
                        inbox::last_error.eq(Some(error)),
                        inbox::settled_at.eq(Some(millis(now))),
                        inbox::lease_owner.eq(None::<String>),
                        inbox::lease_until.eq(None::<i64>),
                    ))
                    .execute(c)
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn release(&self, id: InboxId, worker: String) -> Result<(), InboxError> {
        self.run(move |conn| {
            settle(conn, id, &worker, |c, id, w| {
                diesel::update(held!(id, w))
                    .set((
                        inbox::state.eq("pending"),
                        inbox::attempts.eq(inbox::attempts - 1),
                        inbox::lease_owner.eq(None::<String>),
                        inbox::lease_until.eq(None::<i64>),
                    ))
                    .execute(c)
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn stats(&self) -> Result<InboxStats, InboxError> {
        self.run(|conn| {
            let rows: Vec<(String, i64)> = inbox::table
                .group_by(inbox::state)
                .select((inbox::state, diesel::dsl::count_star()))
                .load(conn)?;
            let mut s = InboxStats::default();
            for (state, n) in rows {
                let n = u64::try_from(n).unwrap_or(0);
                match state.as_str() {
                    "pending" => s.pending = n,
                    "processing" => s.processing = n,
                    "done" => s.done = n,
                    "dead" => s.dead = n,
                    _ => {}
                }
            }
            Ok(s)
        })
        .await
        .map_err(Into::into)
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, InboxError> {
        self.run(move |conn| {
            let rows: Vec<(i64, String, String, String, i32, Option<String>, i64)> = inbox::table
                .filter(inbox::state.eq("dead"))
                .order(inbox::id.desc())
                .limit(i64::from(limit))
                .select((
                    inbox::id,
                    inbox::resource,
                    inbox::event,
                    inbox::data_id,
                    inbox::attempts,
                    inbox::last_error,
                    inbox::received_at,
                ))
                .load(conn)?;
            rows.into_iter()
                .map(|(id, resource, event, data_id, attempts, err, received)| {
                    Ok(DeadLetter {
                        id: InboxId(id),
                        key: DedupKey {
                            resource,
                            event,
                            data_id,
                        },
                        attempts: u32::try_from(attempts).unwrap_or(0),
                        last_error: err.unwrap_or_default(),
                        received_at: from_millis(received)?,
                    })
                })
                .collect()
        })
        .await
        .map_err(Into::into)
    }

    async fn purge_settled(&self, before: Timestamp) -> Result<u64, InboxError> {
        // Ids grow with arrival: everything below the first id received after the cutoff is
        // old, so the purge walks the primary key (no index on the hot write path for it).
        // Dead letters go too, once they have been dead for the whole retention (a
        // requeued one that died again counts from its last death).
        const PURGE_EFFECTS: &[&str] = &[
            "DELETE FROM task_effects WHERE effect_key IN \
             (SELECT 'inbox:' || id FROM inbox WHERE id < ",
            " AND (state = 'done' OR (state = 'dead' AND settled_at < ",
            ")))",
        ];
        let cutoff = millis(before);
        self.run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                let boundary: i64 = inbox::table
                    .filter(inbox::received_at.ge(cutoff))
                    .order(inbox::id.asc())
                    .select(inbox::id)
                    .first(conn)
                    .optional()?
                    .unwrap_or(i64::MAX);
                CachedSql::new(
                    PURGE_EFFECTS,
                    vec![Bind::BigInt(boundary), Bind::BigInt(cutoff)],
                )
                .execute(conn)?;
                // Keys derived for the lines and numbers of one message (`inbox:7.1`,
                // `inbox:7.n3`) have no inbox id of their own: they go by age.
                diesel::delete(
                    task_effects::table
                        .filter(task_effects::effect_key.like("inbox:%.%"))
                        .filter(task_effects::created_at.lt(cutoff)),
                )
                .execute(conn)?;
                let n = diesel::delete(
                    inbox::table.filter(inbox::id.lt(boundary)).filter(
                        inbox::state
                            .eq("done")
                            .or(inbox::state.eq("dead").and(inbox::settled_at.lt(cutoff))),
                    ),
                )
                .execute(conn)?;
                Ok(n as u64)
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn requeue_dead(&self, id: InboxId, now: Timestamp) -> Result<bool, InboxError> {
        self.run(move |conn| {
            let n = diesel::update(
                inbox::table
                    .filter(inbox::id.eq(id.0))
                    .filter(inbox::state.eq("dead")),
            )
            .set((
                inbox::state.eq("pending"),
                inbox::attempts.eq(0),
                inbox::available_at.eq(millis(now)),
                inbox::settled_at.eq(None::<i64>),
            ))
            .execute(conn)?;
            Ok(n == 1)
        })
        .await
        .map_err(Into::into)
    }

    async fn ping(&self) -> Result<(), InboxError> {
        self.ping_db().await.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// The SQLite claim probes the pending items and the leases through their own indexes:
    /// it does not step over the items in flight (64 workers' worth under load), nor walk
    /// the table, to find work.
    #[tokio::test]
    async fn the_sqlite_claim_probes_its_indexes_without_walking_the_inbox() {
        let (_dir, db) = crate::adapters::db::tests::sqlite_store();
        db.migrate().await.unwrap();
        // Every bind a literal 0: the plan does not depend on the values.
        let sql = format!("EXPLAIN QUERY PLAN {}", CLAIM_SQLITE.join("0"));
        let plan: Vec<String> = db
            .run(move |c| Ok(diesel::sql_query(sql).load::<PlanLine>(c)?))
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.detail)
            .collect();
        let has = |s: &str| plan.iter().any(|l| l.contains(s));
        assert!(has("USING INDEX inbox_leases"), "{plan:#?}");
        assert!(has("USING INDEX inbox_pending"), "{plan:#?}");
        assert!(has("USING INDEX inbox_unsettled_by_order"), "{plan:#?}");
        // Every visit of the table goes through an index or its key.
        let visits = plan.iter().filter(|l| {
            ["SCAN ", "SEARCH "].iter().any(|k| {
                l.strip_prefix(k).is_some_and(|rest| {
                    ["e ", "i ", "o ", "inbox "]
                        .iter()
                        .any(|t| rest.starts_with(t) || rest == t.trim_end())
                })
            })
        });
        for l in visits {
            assert!(
                l.contains("INDEX") || l.contains("PRIMARY KEY"),
                "walks the table: {l} in {plan:#?}"
            );
        }
    }
}
