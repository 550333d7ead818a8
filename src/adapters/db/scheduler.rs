//! `Scheduler` on the shared store: one row per pending job in `scheduled_jobs`, fired by
//! moving it into the inbox in the same transaction (see `crate::ports::scheduler`).
//! Postgres skips the rows another instance is firing (`FOR UPDATE SKIP LOCKED`); SQLite
//! has one process, whose one connection runs one transaction at a time.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use jiff::Timestamp;

use super::schema::{person_settings, scheduled_jobs, tasks};
use super::sql::{Bind, CachedSql};
use super::{Db, DbConnection, DbError, from_millis, millis};
use crate::domain::agenda::AgendaSchedule;
use crate::domain::task::ReminderLead;
use crate::domain::{PersonId, Task, TaskNumber};
use crate::ports::{
    DedupKey, JobKind, NewDelivery, Scheduler, SchedulerStats, StoreError, WebexEvent,
};

const REMIND: &str = "remind";
const AGENDA: &str = "agenda";
const AGENDA_SUBJECT: &str = "daily";

/// The resource name of scheduler firings in the inbox's dedup key.
pub(crate) const FIRING_RESOURCE: &str = "botper.scheduler";

/// The person's default reminder lead, read inside the caller's transaction.
fn lead_of(conn: &mut DbConnection, owner: &str) -> Result<ReminderLead, DbError> {
    let mins: Option<Option<i32>> = person_settings::table
        .find(owner)
        .select(person_settings::remind_lead_mins)
        .first(conn)
        .optional()?;
    Ok(ReminderLead::from_minutes(mins.flatten().map(i64::from)))
}

/// Puts the reminder job of task `number` in step with the task (`None`: the task is done
/// or gone): scheduled at its reminder moment if that is still ahead of `now`, else none.
/// Runs inside the transaction that changed the task.
pub(super) fn sync_reminder(
    conn: &mut DbConnection,
    owner: &str,
    number: TaskNumber,
    task: Option<&Task>,
    now: Timestamp,
) -> Result<(), DbError> {
    let at = match task {
        Some(t) => t.reminder_at(lead_of(conn, owner)?).filter(|at| *at > now),
        None => None,
    };
    let subject = number.get().to_string();
    match at {
        Some(at) => {
            const UPSERT: &[&str] = &[
                "INSERT INTO scheduled_jobs (owner, kind, subject, fire_at, created_at) VALUES (",
                ", 'remind', ",
                ", ",
                ", ",
                ") ON CONFLICT (owner, kind, subject) DO UPDATE SET fire_at = excluded.fire_at",
            ];
            CachedSql::new(
                UPSERT,
                vec![
                    Bind::Text(owner.to_owned()),
                    Bind::Text(subject),
                    Bind::BigInt(millis(at)),
                    Bind::BigInt(millis(now)),
                ],
            )
            .execute(conn)?;
        }
        None => {
            diesel::delete(
                scheduled_jobs::table
                    .filter(scheduled_jobs::owner.eq(owner))
                    .filter(scheduled_jobs::kind.eq(REMIND))
                    .filter(scheduled_jobs::subject.eq(subject)),
            )
            .execute(conn)?;
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = Text)]
    owner: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = BigInt)]
    fire_at: i64,
    #[diesel(sql_type = Nullable<Text>)]
    rule: Option<String>,
}

/// Due jobs, oldest first. Binds: now, limit.
const DUE_POSTGRES: &[&str] = &[
    "SELECT owner, kind, subject, fire_at, rule FROM scheduled_jobs WHERE fire_at <= ",
    " ORDER BY fire_at, owner, kind, subject LIMIT ",
    " FOR UPDATE SKIP LOCKED",
];
const DUE_SQLITE: &[&str] = &[
    "SELECT owner, kind, subject, fire_at, rule FROM scheduled_jobs WHERE fire_at <= ",
    " ORDER BY fire_at, owner, kind, subject LIMIT ",
    "",
];

/// What a due row asks for, and when it comes next (repeating jobs).
fn read_job(row: &DueRow, now: Timestamp) -> Option<(JobKind, Option<Timestamp>)> {
    match row.kind.as_str() {
        REMIND => {
            let n = row.subject.parse::<u32>().ok().and_then(TaskNumber::new)?;
            Some((JobKind::Reminder(n), None))
        }
        AGENDA => {
            let schedule = AgendaSchedule::from_rule(row.rule.as_deref()?)?;
            let due = from_millis(row.fire_at).ok()?;
            Some((JobKind::Agenda, schedule.next_after(now.max(due))))
        }
        _ => None,
    }
}

fn fire_batch(conn: &mut DbConnection, now: Timestamp, limit: u32) -> Result<u32, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        let sql = match conn {
            DbConnection::Postgres(_) => DUE_POSTGRES,
            DbConnection::Sqlite(_) => DUE_SQLITE,
        };
        let rows: Vec<DueRow> = CachedSql::new(
            sql,
            vec![Bind::BigInt(millis(now)), Bind::BigInt(i64::from(limit))],
        )
        .load(conn)?;
        for row in &rows {
            let this = scheduled_jobs::table
                .filter(scheduled_jobs::owner.eq(&row.owner))
                .filter(scheduled_jobs::kind.eq(&row.kind))
                .filter(scheduled_jobs::subject.eq(&row.subject));
            let Some((job, next)) = read_job(row, now) else {
                tracing::error!(kind = %row.kind, subject = %row.subject, "unreadable scheduled job; removed");
                diesel::delete(this).execute(conn)?;
                continue;
            };
            let due_at = from_millis(row.fire_at)?;
            let delivery = NewDelivery::now(
                DedupKey {
                    resource: FIRING_RESOURCE.to_owned(),
                    event: row.kind.clone(),
                    data_id: format!("{}/{}@{}", row.owner, row.subject, row.fire_at),
                },
                WebexEvent::Scheduled {
                    owner: PersonId::new(row.owner.clone()),
                    job,
                    due_at,
                },
                now,
            );
            super::inbox::enqueue_in(conn, &delivery)?;
            match next {
                Some(next) => {
                    diesel::update(this)
                        .set(scheduled_jobs::fire_at.eq(millis(next)))
                        .execute(conn)?;
                }
                None => {
                    diesel::delete(this).execute(conn)?;
                }
            }
        }
        Ok(u32::try_from(rows.len()).unwrap_or(u32::MAX))
    })
}

/// Makes sure the person has a settings row.
fn ensure_settings(conn: &mut DbConnection, person: &str) -> Result<(), DbError> {
    const ENSURE: &[&str] = &[
        "INSERT INTO person_settings (person_id, zone_hint_shown, updated_at) VALUES (",
        ", 0, ",
        ") ON CONFLICT (person_id) DO NOTHING",
    ];
    CachedSql::new(
        ENSURE,
        vec![Bind::Text(person.to_owned()), Bind::BigInt(super::now_ms())],
    )
    .execute(conn)?;
    Ok(())
}

fn reminder_jobs(conn: &mut DbConnection, owner: &str) -> Result<u32, DbError> {
    let n: i64 = scheduled_jobs::table
        .filter(scheduled_jobs::owner.eq(owner))
        .filter(scheduled_jobs::kind.eq(REMIND))
        .count()
        .get_result(conn)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

#[async_trait]
impl Scheduler for Db {
    #[tracing::instrument(level = "debug", name = "db.scheduler.fire_due", skip_all)]
    async fn fire_due(&self, now: Timestamp, limit: u32) -> Result<u32, StoreError> {
        self.run(move |conn| fire_batch(conn, now, limit.max(1)))
            .await
            .map_err(Into::into)
    }

    async fn set_agenda(
        &self,
        person: PersonId,
        agenda: Option<AgendaSchedule>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        self.run(move |conn| {
            let this = scheduled_jobs::table
                .filter(scheduled_jobs::owner.eq(person.as_str()))
                .filter(scheduled_jobs::kind.eq(AGENDA));
            let Some((schedule, next)) = agenda.and_then(|a| a.next_after(now).map(|n| (a, n)))
            else {
                diesel::delete(this).execute(conn)?;
                return Ok(None);
            };
            conn.transaction::<_, DbError, _>(|conn| {
                diesel::delete(this).execute(conn)?;
                diesel::insert_into(scheduled_jobs::table)
                    .values((
                        scheduled_jobs::owner.eq(person.as_str()),
                        scheduled_jobs::kind.eq(AGENDA),
                        scheduled_jobs::subject.eq(AGENDA_SUBJECT),
                        scheduled_jobs::fire_at.eq(millis(next)),
                        scheduled_jobs::rule.eq(Some(schedule.to_rule())),
                        scheduled_jobs::created_at.eq(millis(now)),
                    ))
                    .execute(conn)?;
                Ok(Some(next))
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn agenda(&self, person: PersonId) -> Result<Option<AgendaSchedule>, StoreError> {
        let rule: Option<Option<String>> = self
            .run(move |conn| {
                Ok(scheduled_jobs::table
                    .filter(scheduled_jobs::owner.eq(person.as_str()))
                    .filter(scheduled_jobs::kind.eq(AGENDA))
                    .select(scheduled_jobs::rule)
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(rule
            .flatten()
            .as_deref()
            .and_then(AgendaSchedule::from_rule))
    }

    async fn reminder_lead(&self, person: PersonId) -> Result<ReminderLead, StoreError> {
        self.run(move |conn| lead_of(conn, person.as_str()))
            .await
            .map_err(Into::into)
    }

    async fn set_reminder_lead(
        &self,
        person: PersonId,
        lead: ReminderLead,
        now: Timestamp,
    ) -> Result<u32, StoreError> {
        self.run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                let owner = person.as_str();
                ensure_settings(conn, owner)?;
                let mins = lead
                    .to_minutes()
                    .map(|m| i32::try_from(m).unwrap_or(i32::MAX));
                diesel::update(person_settings::table.find(owner))
                    .set((
                        person_settings::remind_lead_mins.eq(mins),
                        person_settings::updated_at.eq(super::now_ms()),
                    ))
                    .execute(conn)?;
                let open: Vec<Task> = tasks::table
                    .filter(tasks::owner.eq(owner))
                    .filter(tasks::done.eq(0i16))
                    .filter(tasks::deleted_at.is_null())
                    .select(super::tasks::TaskRow::as_select())
                    .load(conn)?
                    .into_iter()
                    .map(Task::try_from)
                    .collect::<Result<_, _>>()?;
                for t in &open {
                    sync_reminder(conn, owner, t.number, Some(t), now)?;
                }
                reminder_jobs(conn, owner)
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn forget_jobs(&self, person: PersonId) -> Result<u32, StoreError> {
        self.run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                let owner = person.as_str();
                diesel::update(
                    tasks::table
                        .filter(tasks::owner.eq(owner))
                        .filter(tasks::remind_at.is_not_null()),
                )
                .set(tasks::remind_at.eq(None::<i64>))
                .execute(conn)?;
                let n =
                    diesel::delete(scheduled_jobs::table.filter(scheduled_jobs::owner.eq(owner)))
                        .execute(conn)?;
                Ok(u32::try_from(n).unwrap_or(u32::MAX))
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let ms: Option<i64> = self
            .run(|conn| {
                Ok(scheduled_jobs::table
                    .select(diesel::dsl::min(scheduled_jobs::fire_at))
                    .first(conn)?)
            })
            .await?;
        Ok(ms.map(from_millis).transpose()?)
    }

    async fn stats(&self, now: Timestamp) -> Result<SchedulerStats, StoreError> {
        self.run(move |conn| {
            let due: i64 = scheduled_jobs::table
                .filter(scheduled_jobs::fire_at.le(millis(now)))
                .count()
                .get_result(conn)?;
            let all: i64 = scheduled_jobs::table.count().get_result(conn)?;
            Ok(SchedulerStats {
                waiting: u64::try_from(all - due).unwrap_or(0),
                due: u64::try_from(due).unwrap_or(0),
            })
        })
        .await
        .map_err(Into::into)
    }
}
