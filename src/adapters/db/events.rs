//! The lease on the deployment's websocket and the meetings poll snapshots.

use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use jiff::Timestamp;

use super::schema::{leases, meeting_poll_owners, meeting_polls};
use super::{Db, DbError, from_millis, millis};
use crate::domain::PersonId;
use crate::domain::polling::Seen;
use crate::ports::{Leases, MeetingPolls, StoreError};

#[async_trait]
impl Leases for Db {
    async fn acquire(
        &self,
        name: String,
        holder: String,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let until = millis(now) + ttl.as_millis() as i64;
        let now = millis(now);
        Ok(self
            .run(move |conn| {
                // Renew ours, or take an expired one: one statement, so two instances
                // cannot both succeed.
                let taken = diesel::update(
                    leases::table
                        .filter(leases::name.eq(&name))
                        .filter(leases::holder.eq(&holder).or(leases::expires_at.lt(now))),
                )
                .set((leases::holder.eq(&holder), leases::expires_at.eq(until)))
                .execute(conn)?;
                if taken == 1 {
                    return Ok(true);
                }
                // Never held: the first insert wins (outside a transaction, so a
                // Postgres unique violation leaves the connection usable).
                match diesel::insert_into(leases::table)
                    .values((
                        leases::name.eq(&name),
                        leases::holder.eq(&holder),
                        leases::expires_at.eq(until),
                    ))
                    .execute(conn)
                {
                    Ok(_) => Ok(true),
                    Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                        Ok(false)
                    }
                    Err(e) => Err(e.into()),
                }
            })
            .await?)
    }

    async fn release(&self, name: String, holder: String) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::delete(
                leases::table
                    .filter(leases::name.eq(&name))
                    .filter(leases::holder.eq(&holder)),
            )
            .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn holder(&self, name: String) -> Result<Option<(String, Timestamp)>, StoreError> {
        let row: Option<(String, i64)> = self
            .run(move |conn| {
                Ok(leases::table
                    .find(&name)
                    .select((leases::holder, leases::expires_at))
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(match row {
            Some((h, until)) => Some((h, from_millis(until)?)),
            None => None,
        })
    }
}

#[async_trait]
impl MeetingPolls for Db {
    async fn seen(&self, owner: PersonId) -> Result<Option<Vec<Seen>>, StoreError> {
        let owner = owner.as_str().to_owned();
        let (known, rows): (bool, Vec<(String, String, i64)>) = self
            .run(move |conn| {
                let known = meeting_poll_owners::table
                    .find(&owner)
                    .select(meeting_poll_owners::owner)
                    .first::<String>(conn)
                    .optional()?
                    .is_some();
                let rows = meeting_polls::table
                    .filter(meeting_polls::owner.eq(&owner))
                    .order(meeting_polls::meeting_id)
                    .select((
                        meeting_polls::meeting_id,
                        meeting_polls::fingerprint,
                        meeting_polls::starts_at,
                    ))
                    .load(conn)?;
                Ok((known, rows))
            })
            .await?;
        if !known {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(rows.len());
        for (id, fingerprint, start) in rows {
            out.push(Seen {
                id,
                fingerprint,
                start: from_millis(start)?,
            });
        }
        Ok(Some(out))
    }

    async fn save_seen(
        &self,
        owner: PersonId,
        snapshot: Vec<Seen>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let owner = owner.as_str().to_owned();
        let now = millis(now);
        self.run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                diesel::delete(meeting_polls::table.filter(meeting_polls::owner.eq(&owner)))
                    .execute(conn)?;
                for s in &snapshot {
                    diesel::insert_into(meeting_polls::table)
                        .values((
                            meeting_polls::owner.eq(&owner),
                            meeting_polls::meeting_id.eq(&s.id),
                            meeting_polls::fingerprint.eq(&s.fingerprint),
                            meeting_polls::starts_at.eq(millis(s.start)),
                        ))
                        .execute(conn)?;
                }
                let updated = diesel::update(meeting_poll_owners::table.find(&owner))
                    .set(meeting_poll_owners::polled_at.eq(now))
                    .execute(conn)?;
                if updated == 0 {
                    diesel::insert_into(meeting_poll_owners::table)
                        .values((
                            meeting_poll_owners::owner.eq(&owner),
                            meeting_poll_owners::polled_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                Ok(())
            })
        })
        .await?;
        Ok(())
    }

    async fn forget_seen(&self, owner: PersonId) -> Result<(), StoreError> {
        let owner = owner.as_str().to_owned();
        self.run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                diesel::delete(meeting_polls::table.filter(meeting_polls::owner.eq(&owner)))
                    .execute(conn)?;
                diesel::delete(meeting_poll_owners::table.find(&owner)).execute(conn)?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }
}
