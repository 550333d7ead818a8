//! `TaskRepository` on the shared store: per-person numbering from a counter row, and
//! outcomes recorded under their idempotency key in the same transaction as the change.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::Integer;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::schema::{person_settings, task_effects, task_history, tasks};
use super::sql::{Bind, CachedSql};
use super::{Db, DbConnection, DbError, from_millis, millis};
use crate::domain::task::{Due, MeetingChange, MeetingLink, Undone};
use crate::domain::{PersonId, Task, TaskNumber, TaskOp, TaskOutcome, TaskTitle};
use crate::ports::{IdempotencyKey, PersonSettings, StoreError, TaskRepository};

#[derive(Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub(super) struct TaskRow {
    number: i32,
    title: String,
    done: i16,
    created_at: i64,
    meeting_id: Option<String>,
    meeting_link: Option<String>,
    meeting_start: Option<i64>,
    due_at: Option<i64>,
    due_has_time: i16,
    remind_at: Option<i64>,
    meeting_cancelled: i16,
    meeting_end: Option<i64>,
    meeting_title: Option<String>,
}

fn due_of(at: Option<i64>, has_time: i16) -> Result<Option<Due>, DbError> {
    at.map(|ms| {
        Ok(Due {
            at: from_millis(ms)?,
            has_time: has_time != 0,
        })
    })
    .transpose()
}

impl TryFrom<TaskRow> for Task {
    type Error = DbError;

    fn try_from(r: TaskRow) -> Result<Self, DbError> {
        let bad = |what: &str| DbError::Other(anyhow::anyhow!("invalid {what} in tasks table"));
        let number = u32::try_from(r.number)
            .ok()
            .and_then(TaskNumber::new)
            .ok_or_else(|| bad("number"))?;
        let title = TaskTitle::parse(&r.title).map_err(|_| bad("title"))?;
        let meeting = match (r.meeting_id, r.meeting_link) {
            (Some(meeting_id), Some(web_link)) => Some(MeetingLink {
                meeting_id,
                web_link,
                start: r.meeting_start.map(from_millis).transpose()?,
                end: r.meeting_end.map(from_millis).transpose()?,
                title: r.meeting_title,
                cancelled: r.meeting_cancelled != 0,
            }),
            _ => None,
        };
        Ok(Task {
            number,
            title,
            done: r.done != 0,
            created_at: from_millis(r.created_at)?,
            meeting,
            due: due_of(r.due_at, r.due_has_time)?,
            remind_at: r.remind_at.map(from_millis).transpose()?,
        })
    }
}

#[derive(QueryableByName)]
struct NextNumber {
    #[diesel(sql_type = Integer)]
    last_number: i32,
}

fn load_task(
    conn: &mut DbConnection,
    owner: &str,
    number: TaskNumber,
) -> Result<Option<Task>, DbError> {
    tasks::table
        .filter(tasks::owner.eq(owner))
        .filter(tasks::number.eq(number.get() as i32))
        .filter(tasks::deleted_at.is_null())
        .select(TaskRow::as_select())
        .first(conn)
        .optional()?
        .map(Task::try_from)
        .transpose()
}

/// `done`, `delete`, `edit` and their undos: one column of one task, through the statement
/// cache (diesel prepares each `UPDATE` of its own again on every call). Binds: the new
/// value, owner, number.
const MARK_DONE: &[&str] = &[
    "UPDATE tasks SET done = 1, done_at = ",
    " WHERE owner = ",
    " AND number = ",
    "",
];
const SET_DELETED_AT: &[&str] = &[
    "UPDATE tasks SET deleted_at = ",
    " WHERE owner = ",
    " AND number = ",
    "",
];
const SET_TITLE: &[&str] = &[
    "UPDATE tasks SET title = ",
    " WHERE owner = ",
    " AND number = ",
    "",
];

fn set_one(
    conn: &mut DbConnection,
    sql: &'static [&'static str],
    value: Bind,
    owner: &str,
    number: i64,
) -> Result<(), DbError> {
    let binds = vec![value, Bind::Text(owner.to_owned()), Bind::BigInt(number)];
    CachedSql::new(sql, binds).execute(conn)?;
    Ok(())
}

/// The task filed for a meeting, deleted ones included: a meeting whose task the person
/// deleted is handled, and must not be filed again.
fn task_for_meeting(
    conn: &mut DbConnection,
    owner: &str,
    meeting_id: &str,
) -> Result<Option<Task>, DbError> {
    tasks::table
        .filter(tasks::owner.eq(owner))
        .filter(tasks::meeting_id.eq(meeting_id))
        .select(TaskRow::as_select())
        .first(conn)
        .optional()?
        .map(Task::try_from)
        .transpose()
}

fn next_number(conn: &mut DbConnection, owner: &str) -> Result<TaskNumber, DbError> {
    const NEXT: &[&str] = &[
        "INSERT INTO task_counters (owner, last_number) VALUES (",
        ", 1) ON CONFLICT (owner) DO UPDATE SET last_number = task_counters.last_number + 1 \
         RETURNING last_number",
    ];
    let row: NextNumber =
        CachedSql::new(NEXT, vec![Bind::Text(owner.to_owned())]).get_result(conn)?;
    u32::try_from(row.last_number)
        .ok()
        .and_then(TaskNumber::new)
        .ok_or_else(|| DbError::Other(anyhow::anyhow!("task counter out of range")))
}

/// How many changes per person `undo` can go back through.
const HISTORY_KEPT: i64 = 50;

/// What a change replaced, for `undo`.
#[derive(Default)]
struct Before<'a> {
    title: Option<&'a str>,
    due: Option<Due>,
    remind: Option<Timestamp>,
}

#[derive(diesel::QueryableByName)]
struct Seq {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

/// Remembers a change for `undo`, and forgets the ones older than the last
/// [`HISTORY_KEPT`].
fn record(
    conn: &mut DbConnection,
    owner: &str,
    kind: &str,
    number: TaskNumber,
    before: Before<'_>,
    at: Timestamp,
) -> Result<(), DbError> {
    let Before {
        title: before_title,
        due: before_due,
        remind: before_remind,
    } = before;
    // The next number and the insert in one statement.
    const INSERT: &[&str] = &[
        "INSERT INTO task_history (owner, seq, kind, number, before_title, before_due_at, \
         before_due_has_time, before_remind_at, created_at) \
         SELECT ",
        ", COALESCE(MAX(seq), 0) + 1, ",
        ", ",
        ", ",
        ", ",
        ", ",
        ", ",
        ", ",
        " FROM task_history WHERE owner = ",
        " RETURNING seq",
    ];
    let binds = vec![
        Bind::Text(owner.to_owned()),
        Bind::Text(kind.to_owned()),
        Bind::BigInt(i64::from(number.get())),
        Bind::NullableText(before_title.map(str::to_owned)),
        Bind::NullableBigInt(before_due.map(|d| millis(d.at))),
        Bind::NullableBigInt(before_due.map(|d| i64::from(d.has_time))),
        Bind::NullableBigInt(before_remind.map(millis)),
        Bind::BigInt(millis(at)),
        Bind::Text(owner.to_owned()),
    ];
    let seq = CachedSql::new(INSERT, binds).get_result::<Seq>(conn)?.seq;
    if seq > HISTORY_KEPT {
        diesel::delete(
            task_history::table
                .filter(task_history::owner.eq(owner))
                .filter(task_history::seq.le(seq - HISTORY_KEPT)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// A task, deleted or not.
fn load_any(conn: &mut DbConnection, owner: &str, number: i32) -> Result<Option<Task>, DbError> {
    tasks::table
        .filter(tasks::owner.eq(owner))
        .filter(tasks::number.eq(number))
        .select(TaskRow::as_select())
        .first(conn)
        .optional()?
        .map(Task::try_from)
        .transpose()
}

fn undo(conn: &mut DbConnection, owner: &str, at: Timestamp) -> Result<TaskOutcome, DbError> {
    type Latest = (
        i64,
        String,
        i32,
        Option<String>,
        Option<i64>,
        Option<i16>,
        Option<i64>,
    );
    let latest: Option<Latest> = task_history::table
        .filter(task_history::owner.eq(owner))
        .order(task_history::seq.desc())
        .select((
            task_history::seq,
            task_history::kind,
            task_history::number,
            task_history::before_title,
            task_history::before_due_at,
            task_history::before_due_has_time,
            task_history::before_remind_at,
        ))
        .first(conn)
        .optional()?;
    let Some((seq, kind, number, before, before_due_at, before_due_has_time, before_remind_at)) =
        latest
    else {
        return Ok(TaskOutcome::NothingToUndo);
    };
    diesel::delete(
        task_history::table
            .filter(task_history::owner.eq(owner))
            .filter(task_history::seq.eq(seq)),
    )
    .execute(conn)?;
    let this = tasks::table
        .filter(tasks::owner.eq(owner))
        .filter(tasks::number.eq(number));
    let change = match kind.as_str() {
        "created" => {
            let at_ms = Bind::BigInt(millis(at));
            set_one(conn, SET_DELETED_AT, at_ms, owner, number.into())?;
            Undone::Added
        }
        "completed" => {
            diesel::update(this)
                .set((tasks::done.eq(0i16), tasks::done_at.eq(None::<i64>)))
                .execute(conn)?;
            Undone::Completed
        }
        "deleted" => {
            let none = Bind::NullableBigInt(None);
            set_one(conn, SET_DELETED_AT, none, owner, number.into())?;
            Undone::Deleted
        }
        "edited" => {
            let bad = || DbError::Other(anyhow::anyhow!("edit without its old title in history"));
            let old = TaskTitle::parse(before.as_deref().ok_or_else(bad)?).map_err(|_| bad())?;
            let now: Option<String> = this.select(tasks::title).first(conn).optional()?;
            let title_then = Bind::Text(old.as_str().to_owned());
            set_one(conn, SET_TITLE, title_then, owner, number.into())?;
            let from = now
                .and_then(|t| TaskTitle::parse(&t).ok())
                .unwrap_or_else(|| old.clone());
            Undone::Edited { from }
        }
        "due" => {
            let old = due_of(before_due_at, before_due_has_time.unwrap_or(0))?;
            let now: Option<(Option<i64>, i16)> = this
                .select((tasks::due_at, tasks::due_has_time))
                .first(conn)
                .optional()?;
            diesel::update(this)
                .set((
                    tasks::due_at.eq(old.map(|d| millis(d.at))),
                    tasks::due_has_time.eq(old.map_or(0, |d| i16::from(d.has_time))),
                ))
                .execute(conn)?;
            let from = match now {
                Some((at, has)) => due_of(at, has)?,
                None => None,
            };
            Undone::DueChanged { from }
        }
        "remind" => {
            let now: Option<Option<i64>> = this.select(tasks::remind_at).first(conn).optional()?;
            diesel::update(this)
                .set(tasks::remind_at.eq(before_remind_at))
                .execute(conn)?;
            let from = now.flatten().map(from_millis).transpose()?;
            Undone::ReminderChanged { from }
        }
        other => {
            return Err(DbError::Other(anyhow::anyhow!(
                "unknown history kind {other}"
            )));
        }
    };
    let task = load_any(conn, owner, number)?
        .ok_or_else(|| DbError::Other(anyhow::anyhow!("history names a missing task")))?;
    let live = !matches!(change, Undone::Added);
    super::scheduler::sync_reminder(conn, owner, task.number, live.then_some(&task), at)?;
    Ok(TaskOutcome::Undid { change, task })
}

fn apply_op(
    conn: &mut DbConnection,
    owner: &str,
    op: TaskOp,
    at: Timestamp,
) -> Result<TaskOutcome, DbError> {
    match op {
        TaskOp::Create {
            title,
            meeting,
            due,
            remind_at,
        } => {
            if let Some(m) = &meeting
                && let Some(existing) = task_for_meeting(conn, owner, &m.meeting_id)?
            {
                return Ok(TaskOutcome::AlreadyLinked(existing));
            }
            let number = next_number(conn, owner)?;
            diesel::insert_into(tasks::table)
                .values((
                    tasks::owner.eq(owner),
                    tasks::number.eq(number.get() as i32),
                    tasks::title.eq(title.as_str()),
                    tasks::done.eq(0i16),
                    tasks::created_at.eq(millis(at)),
                    tasks::meeting_id.eq(meeting.as_ref().map(|m| m.meeting_id.clone())),
                    tasks::meeting_link.eq(meeting.as_ref().map(|m| m.web_link.clone())),
                    tasks::meeting_start.eq(meeting.as_ref().and_then(|m| m.start.map(millis))),
                    tasks::meeting_end.eq(meeting.as_ref().and_then(|m| m.end.map(millis))),
                    tasks::meeting_title.eq(meeting.as_ref().and_then(|m| m.title.clone())),
                    tasks::due_at.eq(due.map(|d| millis(d.at))),
                    tasks::due_has_time.eq(due.map_or(0, |d| i16::from(d.has_time))),
                    tasks::remind_at.eq(remind_at.map(millis)),
                ))
                .execute(conn)?;
            record(conn, owner, "created", number, Before::default(), at)?;
            let task = Task {
                number,
                title,
                done: false,
                created_at: at,
                meeting,
                due,
                remind_at,
            };
            if may_remind(&task) {
                super::scheduler::sync_reminder(conn, owner, number, Some(&task), at)?;
            }
            Ok(TaskOutcome::Created(task))
        }
        TaskOp::Complete(n) => match load_task(conn, owner, n)? {
            None => Ok(TaskOutcome::NotFound(n)),
            Some(t) if t.done => Ok(TaskOutcome::AlreadyDone(t)),
            Some(mut t) => {
                set_one(
                    conn,
                    MARK_DONE,
                    Bind::BigInt(millis(at)),
                    owner,
                    n.get().into(),
                )?;
                record(conn, owner, "completed", n, Before::default(), at)?;
                if may_remind(&t) {
                    super::scheduler::sync_reminder(conn, owner, n, None, at)?;
                }
                t.done = true;
                Ok(TaskOutcome::Completed(t))
            }
        },
        TaskOp::Delete(n) => match load_task(conn, owner, n)? {
            None => Ok(TaskOutcome::NotFound(n)),
            Some(t) => {
                // A tombstone: the number stays taken, the meeting stays handled.
                let at_ms = Bind::BigInt(millis(at));
                set_one(conn, SET_DELETED_AT, at_ms, owner, n.get().into())?;
                record(conn, owner, "deleted", n, Before::default(), at)?;
                if may_remind(&t) {
                    super::scheduler::sync_reminder(conn, owner, n, None, at)?;
                }
                Ok(TaskOutcome::Deleted(t))
            }
        },
        TaskOp::Edit(n, title) => match load_task(conn, owner, n)? {
            None => Ok(TaskOutcome::NotFound(n)),
            Some(mut t) => {
                set_one(
                    conn,
                    SET_TITLE,
                    Bind::Text(title.as_str().to_owned()),
                    owner,
                    n.get().into(),
                )?;
                let before = Before {
                    title: Some(t.title.as_str()),
                    ..Before::default()
                };
                record(conn, owner, "edited", n, before, at)?;
                let before = std::mem::replace(&mut t.title, title);
                Ok(TaskOutcome::Edited { task: t, before })
            }
        },
        TaskOp::SetDue(n, due) => match load_task(conn, owner, n)? {
            None => Ok(TaskOutcome::NotFound(n)),
            Some(mut t) => {
                diesel::update(
                    tasks::table
                        .filter(tasks::owner.eq(owner))
                        .filter(tasks::number.eq(n.get() as i32)),
                )
                .set((
                    tasks::due_at.eq(due.map(|d| millis(d.at))),
                    tasks::due_has_time.eq(due.map_or(0, |d| i16::from(d.has_time))),
                ))
                .execute(conn)?;
                let before = Before {
                    due: t.due,
                    ..Before::default()
                };
                record(conn, owner, "due", n, before, at)?;
                let before = std::mem::replace(&mut t.due, due);
                super::scheduler::sync_reminder(conn, owner, n, Some(&t), at)?;
                Ok(TaskOutcome::DueSet { task: t, before })
            }
        },
        TaskOp::Remind(n, remind_at) => match load_task(conn, owner, n)? {
            None => Ok(TaskOutcome::NotFound(n)),
            Some(t) if t.done => Ok(TaskOutcome::AlreadyDone(t)),
            Some(mut t) => {
                diesel::update(
                    tasks::table
                        .filter(tasks::owner.eq(owner))
                        .filter(tasks::number.eq(n.get() as i32)),
                )
                .set(tasks::remind_at.eq(remind_at.map(millis)))
                .execute(conn)?;
                let before = Before {
                    remind: t.remind_at,
                    ..Before::default()
                };
                record(conn, owner, "remind", n, before, at)?;
                let before = std::mem::replace(&mut t.remind_at, remind_at);
                super::scheduler::sync_reminder(conn, owner, n, Some(&t), at)?;
                Ok(TaskOutcome::Reminded { task: t, before })
            }
        },
        TaskOp::Undo => undo(conn, owner, at),
        TaskOp::FollowMeeting { meeting_id, change } => {
            follow_meeting(conn, owner, &meeting_id, &change, at)
        }
    }
}

/// A meeting's change reaches its live task (not a deleted one: the person let it go).
/// Not recorded for `undo`: the person did not make it.
fn follow_meeting(
    conn: &mut DbConnection,
    owner: &str,
    meeting_id: &str,
    change: &MeetingChange,
    at: Timestamp,
) -> Result<TaskOutcome, DbError> {
    let live: Option<Task> = tasks::table
        .filter(tasks::owner.eq(owner))
        .filter(tasks::meeting_id.eq(meeting_id))
        .filter(tasks::deleted_at.is_null())
        .select(TaskRow::as_select())
        .first(conn)
        .optional()?
        .map(Task::try_from)
        .transpose()?;
    let Some(before) = live else {
        return Ok(TaskOutcome::MeetingUnchanged);
    };
    let Some(task) = change.apply_to(&before) else {
        return Ok(TaskOutcome::MeetingUnchanged);
    };
    let n = task.number;
    let link = task
        .meeting
        .as_ref()
        .expect("a meeting's task keeps its link");
    // Only while it is still open and not deleted: a `done` or `delete` the person sent
    // meanwhile (another queue, maybe another instance) wins over the meeting.
    let changed = diesel::update(
        tasks::table
            .filter(tasks::owner.eq(owner))
            .filter(tasks::number.eq(n.get() as i32))
            .filter(tasks::done.eq(0))
            .filter(tasks::deleted_at.is_null()),
    )
    .set((
        tasks::title.eq(task.title.as_str()),
        tasks::meeting_link.eq(&link.web_link),
        tasks::meeting_start.eq(link.start.map(millis)),
        tasks::meeting_end.eq(link.end.map(millis)),
        tasks::meeting_title.eq(link.title.as_deref()),
        tasks::meeting_cancelled.eq(i16::from(link.cancelled)),
        tasks::done.eq(i16::from(task.done)),
        tasks::done_at.eq(task.done.then(|| millis(at))),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(TaskOutcome::MeetingUnchanged);
    }
    super::scheduler::sync_reminder(conn, owner, n, (!task.done).then_some(&task), at)?;
    Ok(if task.done {
        TaskOutcome::MeetingCancelled(task)
    } else {
        TaskOutcome::MeetingMoved {
            task,
            before: Box::new(before),
        }
    })
}

/// Whether a task can have a reminder job (so that changing it must look): one it was
/// given, a due time, or a meeting.
fn may_remind(t: &Task) -> bool {
    t.remind_at.is_some()
        || t.due.is_some_and(|d| d.has_time)
        || t.meeting.as_ref().is_some_and(|m| m.start.is_some())
}

fn is_unique_violation(e: &DbError) -> bool {
    matches!(e, DbError::Other(err) if matches!(
        err.downcast_ref::<diesel::result::Error>(),
        Some(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        ))
    ))
}

/// The statement of [`create_in_one_statement`]; binds in order: owner, owner, title, at,
/// due, owner, owner, at, owner, outcome JSON (number to be filled), at, key.
const CREATE_PLAIN_TASK: &[&str] = &[
    "WITH n AS (INSERT INTO task_counters (owner, last_number) VALUES (",
    ", 1) ON CONFLICT (owner) DO UPDATE SET last_number = task_counters.last_number + 1 \
     RETURNING last_number), \
     t AS (INSERT INTO tasks (owner, number, title, done, created_at, due_at, due_has_time) \
     SELECT ",
    ", n.last_number, ",
    ", 0, ",
    ", ",
    ", 0 FROM n RETURNING number), \
     h AS (INSERT INTO task_history (owner, seq, kind, number, created_at) SELECT ",
    ", COALESCE((SELECT MAX(seq) FROM task_history WHERE owner = ",
    "), 0) + 1, 'created', t.number, ",
    " FROM t RETURNING seq), \
     d AS (DELETE FROM task_history WHERE owner = ",
    " AND seq <= (SELECT seq FROM h) - 50), \
     e AS (INSERT INTO task_effects (effect_key, outcome, created_at) \
     SELECT k.key, jsonb_set(CAST(",
    " AS jsonb), '{task,number}', to_jsonb(t.number))::text, ",
    " FROM t, (SELECT CAST(",
    " AS TEXT) AS key) k WHERE k.key IS NOT NULL) \
     SELECT t.number FROM t",
];

/// Postgres, the most common change — a new task with no meeting and nothing to remind
/// (a date without a time at most) — in one statement, its own transaction: the counter,
/// the task, its undo history (and trim) and the recorded outcome. One round trip instead of
/// six (`BEGIN`, four statements, `COMMIT`). `None` when `op` is not such a change.
///
/// A key recorded before fails the statement on `task_effects`' primary key, and nothing of
/// it stays; the caller then runs the change again with the lookup, which replays.
fn create_in_one_statement(
    conn: &mut DbConnection,
    owner: &str,
    op: &TaskOp,
    key: Option<&str>,
    at: Timestamp,
) -> Option<Result<TaskOutcome, DbError>> {
    const _: () = assert!(HISTORY_KEPT == 50, "the trim above keeps 50");
    let DbConnection::Postgres(_) = conn else {
        return None;
    };
    let TaskOp::Create {
        title,
        meeting: None,
        due,
        remind_at: None,
    } = op
    else {
        return None;
    };
    if due.is_some_and(|d| d.has_time) {
        return None;
    }
    let task = Task {
        // Replaced by the number the counter gives, in the statement and below.
        number: TaskNumber::new(1)?,
        title: title.clone(),
        done: false,
        created_at: at,
        meeting: None,
        due: *due,
        remind_at: None,
    };
    Some(insert_plain_task(conn, owner, task, key, at))
}

fn insert_plain_task(
    conn: &mut DbConnection,
    owner: &str,
    mut task: Task,
    key: Option<&str>,
    at: Timestamp,
) -> Result<TaskOutcome, DbError> {
    let outcome = OutcomeDto::encode(&TaskOutcome::Created(task.clone()))?;
    let binds = vec![
        Bind::Text(owner.to_owned()),
        Bind::Text(owner.to_owned()),
        Bind::Text(task.title.as_str().to_owned()),
        Bind::BigInt(millis(at)),
        Bind::NullableBigInt(task.due.map(|d| millis(d.at))),
        Bind::Text(owner.to_owned()),
        Bind::Text(owner.to_owned()),
        Bind::BigInt(millis(at)),
        Bind::Text(owner.to_owned()),
        Bind::Text(outcome),
        Bind::BigInt(millis(at)),
        Bind::NullableText(key.map(str::to_owned)),
    ];
    let row: NewNumber = CachedSql::new(CREATE_PLAIN_TASK, binds).get_result(conn)?;
    task.number = u32::try_from(row.number)
        .ok()
        .and_then(TaskNumber::new)
        .ok_or_else(|| DbError::Other(anyhow::anyhow!("task counter out of range")))?;
    Ok(TaskOutcome::Created(task))
}

#[derive(diesel::QueryableByName)]
struct NewNumber {
    #[diesel(sql_type = Integer)]
    number: i32,
}

/// Applies `op` and records its outcome under `key`, in one transaction. With
/// `look_first`, an outcome already recorded under the key is replayed instead; without it
/// the lookup is skipped (a statement saved on the common path) and a recorded key shows
/// up as a unique violation on the insert, which rolls the change back: the caller then
/// runs again with `look_first`.
fn apply_once(
    conn: &mut DbConnection,
    owner: &str,
    op: &TaskOp,
    key: Option<&str>,
    at: Timestamp,
    look_first: bool,
) -> Result<TaskOutcome, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        if let Some(key) = key.filter(|_| look_first) {
            let recorded: Option<String> = task_effects::table
                .filter(task_effects::effect_key.eq(key))
                .select(task_effects::outcome)
                .first(conn)
                .optional()?;
            if let Some(json) = recorded {
                return OutcomeDto::decode(&json);
            }
        }
        let outcome = apply_op(conn, owner, op.clone(), at)?;
        if let Some(key) = key {
            diesel::insert_into(task_effects::table)
                .values((
                    task_effects::effect_key.eq(key),
                    task_effects::outcome.eq(OutcomeDto::encode(&outcome)?),
                    task_effects::created_at.eq(millis(at)),
                ))
                .execute(conn)?;
        }
        Ok(outcome)
    })
}

#[async_trait]
impl TaskRepository for Db {
    #[tracing::instrument(level = "debug", name = "db.tasks.apply", skip_all)]
    async fn apply(
        &self,
        owner: PersonId,
        op: TaskOp,
        key: Option<IdempotencyKey>,
        at: Timestamp,
    ) -> Result<TaskOutcome, StoreError> {
        self.run(move |conn| {
            let key = key.as_ref().map(IdempotencyKey::as_str);
            let first = create_in_one_statement(conn, owner.as_str(), &op, key, at)
                .unwrap_or_else(|| apply_once(conn, owner.as_str(), &op, key, at, false));
            match first {
                // The key was recorded before (a retry of the same item), or a concurrent
                // transaction filed the same meeting or recorded the same key first: run
                // again, and the second run sees what the first one wrote. With a key, any
                // failure runs again with the lookup: a replay of a change that already
                // happened may fail before it reaches the insert (an `undo` whose history
                // moved on), and must replay the recorded outcome instead.
                Err(e) if key.is_some() || is_unique_violation(&e) => {
                    apply_once(conn, owner.as_str(), &op, key, at, true)
                }
                other => other,
            }
        })
        .await
        .map_err(Into::into)
    }

    #[tracing::instrument(level = "debug", name = "db.tasks.list_open", skip_all)]
    async fn list_open(&self, owner: PersonId) -> Result<Vec<Task>, StoreError> {
        self.run(move |conn| {
            tasks::table
                .filter(tasks::owner.eq(owner.as_str()))
                .filter(tasks::done.eq(0i16))
                .filter(tasks::deleted_at.is_null())
                .order(tasks::number.asc())
                .select(TaskRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Task::try_from)
                .collect()
        })
        .await
        .map_err(Into::into)
    }

    async fn list_done(&self, owner: PersonId, limit: u32) -> Result<Vec<Task>, StoreError> {
        self.run(move |conn| {
            tasks::table
                .filter(tasks::owner.eq(owner.as_str()))
                .filter(tasks::done.eq(1i16))
                .filter(tasks::deleted_at.is_null())
                .order((tasks::done_at.desc(), tasks::number.desc()))
                .limit(i64::from(limit))
                .select(TaskRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Task::try_from)
                .collect()
        })
        .await
        .map_err(Into::into)
    }

    async fn task(&self, owner: PersonId, number: TaskNumber) -> Result<Option<Task>, StoreError> {
        self.run(move |conn| load_task(conn, owner.as_str(), number))
            .await
            .map_err(Into::into)
    }

    #[tracing::instrument(level = "debug", name = "db.tasks.find_by_meeting", skip_all)]
    async fn find_by_meeting(
        &self,
        owner: PersonId,
        meeting_id: String,
    ) -> Result<Option<Task>, StoreError> {
        self.run(move |conn| task_for_meeting(conn, owner.as_str(), &meeting_id))
            .await
            .map_err(Into::into)
    }

    async fn settings(&self, person: PersonId) -> Result<PersonSettings, StoreError> {
        let row: Option<(Option<String>, i16)> = self
            .run(move |conn| {
                Ok(person_settings::table
                    .find(person.as_str())
                    .select((person_settings::timezone, person_settings::zone_hint_shown))
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(row
            .map(|(timezone, hint)| PersonSettings {
                timezone,
                zone_hint_shown: hint != 0,
            })
            .unwrap_or_default())
    }

    async fn set_timezone(
        &self,
        person: PersonId,
        timezone: Option<String>,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            upsert_settings(conn, person.as_str(), |conn, now| {
                diesel::update(person_settings::table.find(person.as_str()))
                    .set((
                        person_settings::timezone.eq(&timezone),
                        person_settings::updated_at.eq(now),
                    ))
                    .execute(conn)
            })
            .map(|_| ())
        })
        .await
        .map_err(Into::into)
    }

    async fn mark_zone_hint(&self, person: PersonId) -> Result<bool, StoreError> {
        self.run(move |conn| {
            upsert_settings(conn, person.as_str(), |conn, now| {
                diesel::update(
                    person_settings::table
                        .find(person.as_str())
                        .filter(person_settings::zone_hint_shown.eq(0i16)),
                )
                .set((
                    person_settings::zone_hint_shown.eq(1i16),
                    person_settings::updated_at.eq(now),
                ))
                .execute(conn)
            })
            .map(|n| n == 1)
        })
        .await
        .map_err(Into::into)
    }
}

/// Makes sure the person has a settings row, then runs `update` on it.
fn upsert_settings(
    conn: &mut DbConnection,
    person: &str,
    update: impl FnOnce(&mut DbConnection, i64) -> QueryResult<usize>,
) -> Result<usize, DbError> {
    const ENSURE: &[&str] = &[
        "INSERT INTO person_settings (person_id, zone_hint_shown, updated_at) VALUES (",
        ", 0, ",
        ") ON CONFLICT (person_id) DO NOTHING",
    ];
    let now = super::now_ms();
    CachedSql::new(
        ENSURE,
        vec![Bind::Text(person.to_owned()), Bind::BigInt(now)],
    )
    .execute(conn)?;
    Ok(update(conn, now)?)
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(e) => StoreError::Unavailable(e),
            DbError::Other(e) if e.is::<super::crypto::OpenError>() => StoreError::Sealed,
            DbError::Other(e) => StoreError::Unexpected(e),
        }
    }
}

/// The recorded form of a [`TaskOutcome`] (adapter-private).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum OutcomeDto {
    Created {
        task: TaskDto,
    },
    AlreadyLinked {
        task: TaskDto,
    },
    Completed {
        task: TaskDto,
    },
    AlreadyDone {
        task: TaskDto,
    },
    Deleted {
        task: TaskDto,
    },
    Edited {
        task: TaskDto,
        before: String,
    },
    Undid {
        change: String,
        from: Option<String>,
        #[serde(default)]
        from_due_at: Option<i64>,
        #[serde(default)]
        from_due_has_time: bool,
        #[serde(default)]
        from_remind_at: Option<i64>,
        task: TaskDto,
    },
    Reminded {
        task: TaskDto,
        before: Option<i64>,
    },
    DueSet {
        task: TaskDto,
        before_due_at: Option<i64>,
        before_due_has_time: bool,
    },
    NothingToUndo,
    NotFound {
        number: u32,
    },
    MeetingMoved {
        task: TaskDto,
        before: TaskDto,
    },
    MeetingCancelled {
        task: TaskDto,
    },
    MeetingUnchanged,
}

#[derive(Serialize, Deserialize)]
struct TaskDto {
    number: u32,
    title: String,
    done: bool,
    created_at: i64,
    meeting_id: Option<String>,
    meeting_link: Option<String>,
    meeting_start: Option<i64>,
    /// Absent in outcomes recorded before meeting ends were kept.
    #[serde(default)]
    meeting_end: Option<i64>,
    #[serde(default)]
    meeting_title: Option<String>,
    /// Absent in outcomes recorded before due dates.
    #[serde(default)]
    due_at: Option<i64>,
    #[serde(default)]
    due_has_time: bool,
    #[serde(default)]
    remind_at: Option<i64>,
    #[serde(default)]
    meeting_cancelled: bool,
}

impl OutcomeDto {
    fn encode(o: &TaskOutcome) -> Result<String, DbError> {
        let t = |t: &Task| TaskDto {
            number: t.number.get(),
            title: t.title.as_str().to_owned(),
            done: t.done,
            created_at: millis(t.created_at),
            meeting_id: t.meeting.as_ref().map(|m| m.meeting_id.clone()),
            meeting_link: t.meeting.as_ref().map(|m| m.web_link.clone()),
            meeting_start: t.meeting.as_ref().and_then(|m| m.start.map(millis)),
            meeting_end: t.meeting.as_ref().and_then(|m| m.end.map(millis)),
            meeting_title: t.meeting.as_ref().and_then(|m| m.title.clone()),
            due_at: t.due.map(|d| millis(d.at)),
            due_has_time: t.due.is_some_and(|d| d.has_time),
            remind_at: t.remind_at.map(millis),
            meeting_cancelled: t.meeting.as_ref().is_some_and(|m| m.cancelled),
        };
        let due_parts = |d: &Option<Due>| (d.map(|d| millis(d.at)), d.is_some_and(|d| d.has_time));
        let dto = match o {
            TaskOutcome::Created(x) => Self::Created { task: t(x) },
            TaskOutcome::AlreadyLinked(x) => Self::AlreadyLinked { task: t(x) },
            TaskOutcome::Completed(x) => Self::Completed { task: t(x) },
            TaskOutcome::AlreadyDone(x) => Self::AlreadyDone { task: t(x) },
            TaskOutcome::Deleted(x) => Self::Deleted { task: t(x) },
            TaskOutcome::Edited { task, before } => Self::Edited {
                task: t(task),
                before: before.as_str().to_owned(),
            },
            TaskOutcome::Undid { change, task } => {
                let (from_due_at, from_due_has_time) = match change {
                    Undone::DueChanged { from } => due_parts(from),
                    _ => (None, false),
                };
                let from_remind_at = match change {
                    Undone::ReminderChanged { from } => from.map(millis),
                    _ => None,
                };
                let (change, from) = match change {
                    Undone::ReminderChanged { .. } => ("remind", None),
                    Undone::Added => ("added", None),
                    Undone::Completed => ("completed", None),
                    Undone::Deleted => ("deleted", None),
                    Undone::Edited { from } => ("edited", Some(from.as_str().to_owned())),
                    Undone::DueChanged { .. } => ("due", None),
                };
                Self::Undid {
                    change: change.to_owned(),
                    from,
                    from_due_at,
                    from_due_has_time,
                    from_remind_at,
                    task: t(task),
                }
            }
            TaskOutcome::Reminded { task, before } => Self::Reminded {
                task: t(task),
                before: before.map(millis),
            },
            TaskOutcome::DueSet { task, before } => {
                let (before_due_at, before_due_has_time) = due_parts(before);
                Self::DueSet {
                    task: t(task),
                    before_due_at,
                    before_due_has_time,
                }
            }
            TaskOutcome::NothingToUndo => Self::NothingToUndo,
            TaskOutcome::NotFound(n) => Self::NotFound { number: n.get() },
            TaskOutcome::MeetingMoved { task, before } => Self::MeetingMoved {
                task: t(task),
                before: t(before),
            },
            TaskOutcome::MeetingCancelled(x) => Self::MeetingCancelled { task: t(x) },
            TaskOutcome::MeetingUnchanged => Self::MeetingUnchanged,
        };
        serde_json::to_string(&dto).map_err(|e| DbError::Other(e.into()))
    }

    fn decode(json: &str) -> Result<TaskOutcome, DbError> {
        let dto: Self = serde_json::from_str(json).map_err(|e| DbError::Other(e.into()))?;
        let t = |d: TaskDto| {
            Task::try_from(TaskRow {
                number: d.number as i32,
                title: d.title,
                done: i16::from(d.done),
                created_at: d.created_at,
                meeting_id: d.meeting_id,
                meeting_link: d.meeting_link,
                meeting_start: d.meeting_start,
                due_at: d.due_at,
                due_has_time: i16::from(d.due_has_time),
                remind_at: d.remind_at,
                meeting_cancelled: i16::from(d.meeting_cancelled),
                meeting_end: d.meeting_end,
                meeting_title: d.meeting_title,
            })
        };
        Ok(match dto {
            Self::Created { task } => TaskOutcome::Created(t(task)?),
            Self::AlreadyLinked { task } => TaskOutcome::AlreadyLinked(t(task)?),
            Self::Completed { task } => TaskOutcome::Completed(t(task)?),
            Self::AlreadyDone { task } => TaskOutcome::AlreadyDone(t(task)?),
            Self::Deleted { task } => TaskOutcome::Deleted(t(task)?),
            Self::Edited { task, before } => TaskOutcome::Edited {
                task: t(task)?,
                before: TaskTitle::parse(&before)
                    .map_err(|e| DbError::Other(anyhow::anyhow!("bad recorded title: {e}")))?,
            },
            Self::DueSet {
                task,
                before_due_at,
                before_due_has_time,
            } => TaskOutcome::DueSet {
                task: t(task)?,
                before: due_of(before_due_at, i16::from(before_due_has_time))?,
            },
            Self::Undid {
                change,
                from,
                from_due_at,
                from_due_has_time,
                from_remind_at,
                task,
            } => {
                let bad = || DbError::Other(anyhow::anyhow!("bad recorded undo"));
                let change = match (change.as_str(), from) {
                    ("added", _) => Undone::Added,
                    ("completed", _) => Undone::Completed,
                    ("deleted", _) => Undone::Deleted,
                    ("remind", _) => Undone::ReminderChanged {
                        from: from_remind_at.map(from_millis).transpose()?,
                    },
                    ("due", _) => Undone::DueChanged {
                        from: due_of(from_due_at, i16::from(from_due_has_time))?,
                    },
                    ("edited", Some(f)) => Undone::Edited {
                        from: TaskTitle::parse(&f).map_err(|_| bad())?,
                    },
                    _ => return Err(bad()),
                };
                TaskOutcome::Undid {
                    change,
                    task: t(task)?,
                }
            }
            Self::Reminded { task, before } => TaskOutcome::Reminded {
                task: t(task)?,
                before: before.map(from_millis).transpose()?,
            },
            Self::NothingToUndo => TaskOutcome::NothingToUndo,
            Self::MeetingMoved { task, before } => TaskOutcome::MeetingMoved {
                task: t(task)?,
                before: Box::new(t(before)?),
            },
            Self::MeetingCancelled { task } => TaskOutcome::MeetingCancelled(t(task)?),
            Self::MeetingUnchanged => TaskOutcome::MeetingUnchanged,
            Self::NotFound { number } => TaskOutcome::NotFound(
                TaskNumber::new(number)
                    .ok_or_else(|| DbError::Other(anyhow::anyhow!("bad recorded outcome")))?,
            ),
        })
    }
}
