//! Roles, the audit log, refusals, erasure and retention.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use jiff::Timestamp;

use super::schema::{
    audit_log, calendar_feeds, forget_requests, grants, inbox, meeting_poll_owners, meeting_polls,
    person_settings, refusals, roles, scheduled_jobs, task_counters, task_history, tasks,
    web_sessions,
};
use super::sql::{Bind, CachedSql};
use super::{Db, DbConnection, DbError, from_millis, millis};
use crate::domain::PersonId;
use crate::domain::access::Role;
use crate::ports::{
    AccessStore, AuditEntry, Forgotten, InboxId, PeopleStats, RoleGrant, StoreError,
};

/// What a redacted inbox row keeps: its dedup key (resource, event, data id) and state.
const REDACTED: &str = "{\"redacted\":true}";

fn role_from(s: &str) -> Result<Role, DbError> {
    Role::parse(s).ok_or_else(|| DbError::Other(anyhow::anyhow!("unknown role {s} in the store")))
}

/// The inbox order keys a person's items queue under (see `WebexEvent::order_key`).
fn order_keys(person: &str) -> Vec<String> {
    ["person", "refused:person", "jobs", "meetings"]
        .iter()
        .map(|k| format!("{k}:{person}"))
        .collect()
}

#[async_trait]
impl AccessStore for Db {
    async fn role_of(&self, email: String) -> Result<Option<Role>, StoreError> {
        let row: Option<String> = self
            .run(move |conn| {
                Ok(roles::table
                    .find(email.to_lowercase())
                    .select(roles::role)
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.map(|r| role_from(&r)).transpose()?)
    }

    async fn set_role(
        &self,
        email: String,
        role: Role,
        by: String,
        now: Timestamp,
    ) -> Result<Option<Role>, StoreError> {
        let email = email.to_lowercase();
        let before: Option<String> = self
            .run(move |conn| {
                conn.transaction::<_, DbError, _>(|conn| {
                    let before: Option<String> = roles::table
                        .find(&email)
                        .select(roles::role)
                        .first(conn)
                        .optional()?;
                    diesel::delete(roles::table.find(&email)).execute(conn)?;
                    if role != Role::Member {
                        diesel::insert_into(roles::table)
                            .values((
                                roles::email.eq(&email),
                                roles::role.eq(role.as_str()),
                                roles::granted_by.eq(&by),
                                roles::granted_at.eq(millis(now)),
                            ))
                            .execute(conn)?;
                    }
                    Ok(before)
                })
            })
            .await?;
        Ok(before.map(|r| role_from(&r)).transpose()?)
    }

    async fn roles(&self) -> Result<Vec<RoleGrant>, StoreError> {
        let rows: Vec<(String, String, String, i64)> = self
            .run(|conn| {
                Ok(roles::table
                    .order(roles::email)
                    .select((
                        roles::email,
                        roles::role,
                        roles::granted_by,
                        roles::granted_at,
                    ))
                    .load(conn)?)
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (email, role, granted_by, at) in rows {
            out.push(RoleGrant {
                email,
                role: role_from(&role)?,
                granted_by,
                granted_at: from_millis(at)?,
            });
        }
        out.sort_by(|a, b| b.role.cmp(&a.role).then(a.email.cmp(&b.email)));
        Ok(out)
    }

    async fn audit(&self, e: AuditEntry) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::insert_into(audit_log::table)
                .values((
                    audit_log::at.eq(millis(e.at)),
                    audit_log::actor.eq(&e.actor),
                    audit_log::action.eq(&e.action),
                    audit_log::target.eq(e.target.as_deref()),
                    audit_log::outcome.eq(&e.outcome),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(i64, String, String, Option<String>, String)> = self
            .run(move |conn| {
                Ok(audit_log::table
                    .order(audit_log::id.desc())
                    .limit(i64::from(limit))
                    .select((
                        audit_log::at,
                        audit_log::actor,
                        audit_log::action,
                        audit_log::target,
                        audit_log::outcome,
                    ))
                    .load(conn)?)
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (at, actor, action, target, outcome) in rows {
            out.push(AuditEntry {
                at: from_millis(at)?,
                actor,
                action,
                target,
                outcome,
            });
        }
        Ok(out)
    }

    async fn first_refusal(&self, room: String, day: String) -> Result<bool, StoreError> {
        Ok(self
            .run(move |conn| {
                match diesel::insert_into(refusals::table)
                    .values((refusals::room_id.eq(&room), refusals::day.eq(&day)))
                    .execute(conn)
                {
                    Ok(_) => {
                        // Yesterday's and older are of no use any more.
                        diesel::delete(refusals::table.filter(refusals::day.lt(&day)))
                            .execute(conn)?;
                        Ok(true)
                    }
                    Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                        Ok(false)
                    }
                    Err(e) => Err(e.into()),
                }
            })
            .await?)
    }

    async fn people_stats(&self) -> Result<PeopleStats, StoreError> {
        Ok(self
            .run(|conn| {
                let people: i64 = task_counters::table.count().get_result(conn)?;
                let open_tasks: i64 = tasks::table
                    .filter(tasks::done.eq(0))
                    .filter(tasks::deleted_at.is_null())
                    .count()
                    .get_result(conn)?;
                let connected: i64 = grants::table
                    .filter(grants::disconnected.is_null())
                    .count()
                    .get_result(conn)?;
                Ok(PeopleStats {
                    people: people as u64,
                    open_tasks: open_tasks as u64,
                    connected: connected as u64,
                })
            })
            .await?)
    }

    async fn person_by_email(&self, email: String) -> Result<Option<PersonId>, StoreError> {
        let row: Option<String> = self
            .run(move |conn| {
                Ok(grants::table
                    .filter(grants::email.eq(email.to_lowercase()))
                    .or_filter(grants::email.eq(&email))
                    .select(grants::person_id)
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.map(PersonId::new))
    }

    async fn ask_forget(&self, person: PersonId, now: Timestamp) -> Result<(), StoreError> {
        let person = person.as_str().to_owned();
        self.run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                diesel::delete(forget_requests::table.find(&person)).execute(conn)?;
                diesel::insert_into(forget_requests::table)
                    .values((
                        forget_requests::person_id.eq(&person),
                        forget_requests::requested_at.eq(millis(now)),
                    ))
                    .execute(conn)?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }

    async fn take_forget(&self, person: PersonId, since: Timestamp) -> Result<bool, StoreError> {
        let person = person.as_str().to_owned();
        Ok(self
            .run(move |conn| {
                let n = diesel::delete(
                    forget_requests::table
                        .find(&person)
                        .filter(forget_requests::requested_at.ge(millis(since))),
                )
                .execute(conn)?;
                // An expired request is no use either.
                diesel::delete(forget_requests::table.find(&person)).execute(conn)?;
                Ok(n == 1)
            })
            .await?)
    }

    async fn forget(
        &self,
        person: PersonId,
        email: Option<String>,
    ) -> Result<Forgotten, StoreError> {
        let person = person.as_str().to_owned();
        let email = email.map(|e| e.to_lowercase());
        let sqlite = !self.target().is_postgres();
        let report = self
            .run_solo(move |conn| {
                let report = conn.transaction::<_, DbError, _>(|conn| {
                    forget_in(conn, &person, email.as_deref())
                })?;
                if sqlite {
                    // `secure_delete` zeroed the cells in the pages; the pages' old images
                    // are still in the WAL until it is checkpointed and truncated.
                    use diesel::connection::SimpleConnection;
                    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
                }
                Ok(report)
            })
            .await?;
        Ok(report)
    }

    async fn redact_item(&self, id: InboxId) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::update(inbox::table.find(id.0))
                .set((inbox::payload.eq(REDACTED), inbox::order_key.eq("redacted")))
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn purge_done(&self, before: Timestamp) -> Result<u64, StoreError> {
        // In batches, each its own trip to the database: a first purge of a large table
        // (300 000 rows: 720 ms on SQLite) does not hold the database thread, and the
        // commands typed meanwhile, for all of that time.
        const BATCH: i64 = 1_000;
        const PURGE: &[&str] = &[
            "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks \
             WHERE done = 1 AND done_at < ",
            " LIMIT ",
            ")",
        ];
        let cutoff = millis(before);
        let mut total = 0u64;
        loop {
            let n = self
                .run(move |conn| {
                    Ok(
                        CachedSql::new(PURGE, vec![Bind::BigInt(cutoff), Bind::BigInt(BATCH)])
                            .execute(conn)?,
                    )
                })
                .await?;
            total += n as u64;
            if (n as i64) < BATCH {
                return Ok(total);
            }
        }
    }
}

fn forget_in(
    conn: &mut DbConnection,
    person: &str,
    email: Option<&str>,
) -> Result<Forgotten, DbError> {
    let keys = order_keys(person);
    // Recorded outcomes (they hold task titles) of the person's inbox items.
    const EFFECTS: &[&str] = &[
        "DELETE FROM task_effects WHERE effect_key IN (SELECT 'inbox:' || id FROM inbox \
         WHERE order_key IN (",
        ", ",
        ", ",
        ", ",
        ")) OR EXISTS (SELECT 1 FROM inbox WHERE order_key IN (",
        ", ",
        ", ",
        ", ",
        ") AND task_effects.effect_key LIKE 'inbox:' || inbox.id || '.%')",
    ];
    let mut binds: Vec<Bind> = keys.iter().cloned().map(Bind::Text).collect();
    binds.extend(keys.iter().cloned().map(Bind::Text));
    CachedSql::new(EFFECTS, binds).execute(conn)?;
    let mut r = Forgotten::default();
    let n_tasks = diesel::delete(tasks::table.filter(tasks::owner.eq(person))).execute(conn)?;
    diesel::delete(task_history::table.filter(task_history::owner.eq(person))).execute(conn)?;
    diesel::delete(task_counters::table.find(person)).execute(conn)?;
    r.tasks = n_tasks as u64;
    r.jobs = diesel::delete(scheduled_jobs::table.filter(scheduled_jobs::owner.eq(person)))
        .execute(conn)? as u64;
    r.settings = diesel::delete(person_settings::table.find(person)).execute(conn)? > 0;
    r.sessions = diesel::delete(web_sessions::table.filter(web_sessions::person_id.eq(person)))
        .execute(conn)? as u64;
    r.calendar = diesel::delete(calendar_feeds::table.find(person)).execute(conn)? > 0;
    diesel::delete(meeting_polls::table.filter(meeting_polls::owner.eq(person))).execute(conn)?;
    diesel::delete(meeting_poll_owners::table.find(person)).execute(conn)?;
    diesel::delete(forget_requests::table.find(person)).execute(conn)?;
    if let Some(e) = email {
        r.role = diesel::delete(roles::table.find(e)).execute(conn)? > 0;
        diesel::update(audit_log::table.filter(audit_log::actor.eq(e)))
            .set(audit_log::actor.eq("(a forgotten person)"))
            .execute(conn)?;
        diesel::update(audit_log::table.filter(audit_log::target.eq(e)))
            .set(audit_log::target.eq("(a forgotten person)"))
            .execute(conn)?;
    }
    // Their inbox rows keep only their dedup key (a redelivery is still recognised). An
    // event names its person in its payload: `LIKE` finds the rows whose order key does
    // not (a membership, a card press queued by room).
    let pattern = format!("%{}%", person.replace('%', "").replace('_', "\\_"));
    let theirs = || {
        inbox::order_key
            .eq_any(keys.clone())
            .or(inbox::payload.like(pattern.clone()).escape('\\'))
    };
    // What still waits (a reminder already fired, say) is settled: there is nothing left
    // to act on.
    let waiting = diesel::update(
        inbox::table
            .filter(theirs())
            .filter(inbox::state.eq("pending")),
    )
    .set((
        inbox::payload.eq(REDACTED),
        inbox::order_key.eq("redacted"),
        inbox::state.eq("done"),
    ))
    .execute(conn)?;
    let settled = diesel::update(inbox::table.filter(theirs()))
        .set((inbox::payload.eq(REDACTED), inbox::order_key.eq("redacted")))
        .execute(conn)?;
    r.inbox_rows = (waiting + settled) as u64;
    Ok(r)
}
