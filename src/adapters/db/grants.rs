//! `TokenStore` and `WebAuthStore` on the shared store. Tokens are sealed before they reach
//! SQL; refreshes are single-flight through a lease column that any process can take.

use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use jiff::Timestamp;

use super::crypto::{OpenError, Sealer, digest};
use super::schema::{calendar_feeds, grants, oauth_states, web_sessions};
use super::{Db, DbError, from_millis, millis, now_ms};
use crate::domain::PersonId;
use crate::domain::grant::{AccessToken, Grant, RefreshToken, TokenSet};
use crate::ports::{GrantSummary, RefreshClaim, StoreError, TokenStore, WebAuthStore, WebSession};

/// The associated data a calendar feed token is sealed under (with the person id).
const CALENDAR_FIELD: &str = "calendar";

#[derive(Queryable, Selectable)]
#[diesel(table_name = grants)]
struct GrantRow {
    person_id: String,
    display_name: String,
    email: Option<String>,
    timezone: Option<String>,
    access_token: String,
    access_expires_at: i64,
    refresh_token: String,
    refresh_expires_at: i64,
    scope: Option<String>,
    webhook_id: Option<String>,
    disconnected: Option<String>,
    version: i64,
}

impl Db {
    fn sealer(&self) -> Result<Sealer, DbError> {
        self.sealer
            .clone()
            .ok_or_else(|| DbError::Other(anyhow::anyhow!("no token key configured")))
    }
}

fn open_row(sealer: &Sealer, r: GrantRow) -> Result<Grant, DbError> {
    let open = |v: &str, field| {
        sealer
            .open(v, &r.person_id, field)
            .map_err(|e: OpenError| DbError::Other(e.into()))
    };
    Ok(Grant {
        tokens: TokenSet {
            access_token: AccessToken::new(open(&r.access_token, "access")?),
            access_expires_at: from_millis(r.access_expires_at)?,
            refresh_token: RefreshToken::new(open(&r.refresh_token, "refresh")?),
            refresh_expires_at: from_millis(r.refresh_expires_at)?,
            scope: r.scope,
        },
        person: PersonId::new(r.person_id),
        display_name: r.display_name,
        email: r.email,
        timezone: r.timezone,
        webhook_id: r.webhook_id,
        disconnected: r.disconnected,
        version: r.version,
    })
}

/// Stores a person's calendar feed token (its hash and its sealed copy).
fn insert_feed(
    conn: &mut super::DbConnection,
    person: &str,
    hash: &str,
    sealed: &str,
    now: Timestamp,
) -> QueryResult<usize> {
    diesel::insert_into(calendar_feeds::table)
        .values((
            calendar_feeds::person_id.eq(person),
            calendar_feeds::token_hash.eq(hash),
            calendar_feeds::token_sealed.eq(sealed),
            calendar_feeds::created_at.eq(millis(now)),
        ))
        .execute(conn)
}

fn load_row(conn: &mut super::DbConnection, person: &str) -> Result<Option<GrantRow>, DbError> {
    Ok(grants::table
        .find(person)
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

#[async_trait]
impl TokenStore for Db {
    async fn connected(&self) -> Result<Vec<GrantSummary>, StoreError> {
        let rows: Vec<(String, String, Option<String>)> = self
            .run(|conn| {
                Ok(grants::table
                    .filter(grants::disconnected.is_null())
                    .order(grants::person_id)
                    .select((grants::person_id, grants::display_name, grants::webhook_id))
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(person, display_name, webhook_id)| GrantSummary {
                person: PersonId::new(person),
                display_name,
                webhook_id,
            })
            .collect())
    }

    async fn save(&self, g: Grant) -> Result<(), StoreError> {
        let sealer = self.sealer()?;
        let person = g.person.as_str().to_owned();
        let access = sealer.seal(g.tokens.access_token.expose(), &person, "access");
        let refresh = sealer.seal(g.tokens.refresh_token.expose(), &person, "refresh");
        self.run(move |conn| {
            let now = now_ms();
            let values = (
                grants::display_name.eq(&g.display_name),
                grants::email.eq(&g.email),
                grants::timezone.eq(&g.timezone),
                grants::access_token.eq(&access),
                grants::access_expires_at.eq(millis(g.tokens.access_expires_at)),
                grants::refresh_token.eq(&refresh),
                grants::refresh_expires_at.eq(millis(g.tokens.refresh_expires_at)),
                grants::scope.eq(&g.tokens.scope),
                grants::webhook_id.eq(&g.webhook_id),
                grants::disconnected.eq(None::<String>),
                grants::updated_at.eq(now),
            );
            // Update, else insert; a concurrent first save makes the insert fail once, and
            // the second round then updates.
            for _ in 0..2 {
                let updated = diesel::update(grants::table.find(&person))
                    .set((values.clone(), grants::version.eq(grants::version + 1)))
                    .execute(conn)?;
                if updated == 1 {
                    return Ok(());
                }
                let inserted = diesel::insert_into(grants::table)
                    .values((
                        grants::person_id.eq(&person),
                        values.clone(),
                        grants::version.eq(1i64),
                        grants::created_at.eq(now),
                    ))
                    .execute(conn);
                match inserted {
                    Ok(_) => return Ok(()),
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn load(&self, person: PersonId) -> Result<Option<Grant>, StoreError> {
        let sealer = self.sealer()?;
        let row = self
            .run(move |conn| load_row(conn, person.as_str()))
            .await?;
        Ok(row.map(|r| open_row(&sealer, r)).transpose()?)
    }

    async fn delete(&self, person: PersonId) -> Result<Option<Grant>, StoreError> {
        let sealer = self.sealer()?;
        let row = self
            .run(move |conn| {
                conn.transaction::<_, DbError, _>(|conn| {
                    let row = load_row(conn, person.as_str())?;
                    diesel::delete(grants::table.find(person.as_str())).execute(conn)?;
                    diesel::delete(
                        web_sessions::table.filter(web_sessions::person_id.eq(person.as_str())),
                    )
                    .execute(conn)?;
                    Ok(row)
                })
            })
            .await?;
        // A grant whose tokens cannot be opened is still deleted; the caller just gets none.
        Ok(row.and_then(|r| open_row(&sealer, r).ok()))
    }

    async fn try_begin_refresh(
        &self,
        person: PersonId,
        owner: String,
        lease: Duration,
        now: Timestamp,
    ) -> Result<RefreshClaim, StoreError> {
        let sealer = self.sealer()?;
        let now_ms = millis(now);
        let until = now_ms.saturating_add(lease.as_millis() as i64);
        let (taken, row) = self
            .run(move |conn| {
                let taken = diesel::update(
                    grants::table.find(person.as_str()).filter(
                        grants::refresh_until
                            .is_null()
                            .or(grants::refresh_until.lt(now_ms)),
                    ),
                )
                .set((
                    grants::refresh_owner.eq(Some(&owner)),
                    grants::refresh_until.eq(Some(until)),
                ))
                .execute(conn)?;
                Ok((taken == 1, load_row(conn, person.as_str())?))
            })
            .await?;
        Ok(match (taken, row) {
            (_, None) => RefreshClaim::Missing,
            (true, Some(r)) => RefreshClaim::Claimed(open_row(&sealer, r)?),
            (false, Some(_)) => RefreshClaim::Busy,
        })
    }

    async fn finish_refresh(
        &self,
        person: PersonId,
        owner: String,
        tokens: Option<TokenSet>,
    ) -> Result<Option<Grant>, StoreError> {
        let sealer = self.sealer()?;
        let p = person.as_str().to_owned();
        let sealed = tokens.as_ref().map(|t| {
            (
                sealer.seal(t.access_token.expose(), &p, "access"),
                sealer.seal(t.refresh_token.expose(), &p, "refresh"),
            )
        });
        let row = self
            .run(move |conn| {
                let mine = grants::table
                    .find(person.as_str())
                    .filter(grants::refresh_owner.eq(&owner));
                let n = match (tokens, sealed) {
                    (Some(t), Some((access, refresh))) => diesel::update(mine)
                        .set((
                            grants::access_token.eq(access),
                            grants::access_expires_at.eq(millis(t.access_expires_at)),
                            grants::refresh_token.eq(refresh),
                            grants::refresh_expires_at.eq(millis(t.refresh_expires_at)),
                            grants::scope.eq(t.scope),
                            grants::version.eq(grants::version + 1),
                            grants::refresh_owner.eq(None::<String>),
                            grants::refresh_until.eq(None::<i64>),
                            grants::updated_at.eq(now_ms()),
                        ))
                        .execute(conn)?,
                    _ => diesel::update(mine)
                        .set((
                            grants::refresh_owner.eq(None::<String>),
                            grants::refresh_until.eq(None::<i64>),
                        ))
                        .execute(conn)?,
                };
                if n != 1 {
                    return Err(DbError::Other(anyhow::anyhow!(
                        "the refresh lease was lost before the refresh finished"
                    )));
                }
                load_row(conn, person.as_str())
            })
            .await?;
        Ok(row.map(|r| open_row(&sealer, r)).transpose()?)
    }

    async fn mark_disconnected(&self, person: PersonId, reason: String) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::update(grants::table.find(person.as_str()))
                .set((
                    grants::disconnected.eq(Some(reason)),
                    grants::refresh_owner.eq(None::<String>),
                    grants::refresh_until.eq(None::<i64>),
                    grants::updated_at.eq(now_ms()),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn set_webhook(
        &self,
        person: PersonId,
        webhook_id: Option<String>,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::update(grants::table.find(person.as_str()))
                .set(grants::webhook_id.eq(webhook_id))
                .execute(conn)?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }
}

#[async_trait]
impl WebAuthStore for Db {
    async fn put_state(
        &self,
        state: String,
        browser: String,
        expires_at: Timestamp,
        now: Timestamp,
        keep_at_most: u32,
    ) -> Result<(), StoreError> {
        let hash = digest(&state);
        self.run(move |conn| {
            // Expired states are swept as new ones arrive.
            diesel::delete(oauth_states::table.filter(oauth_states::expires_at.lt(millis(now))))
                .execute(conn)?;
            let pending: i64 = oauth_states::table.count().get_result(conn)?;
            let over = pending - i64::from(keep_at_most) + 1;
            if over > 0 {
                let oldest: Vec<String> = oauth_states::table
                    .order(oauth_states::expires_at.asc())
                    .select(oauth_states::state_hash)
                    .limit(over)
                    .load(conn)?;
                diesel::delete(oauth_states::table.filter(oauth_states::state_hash.eq_any(oldest)))
                    .execute(conn)?;
            }
            diesel::insert_into(oauth_states::table)
                .values((
                    oauth_states::state_hash.eq(hash),
                    oauth_states::browser.eq(browser),
                    oauth_states::expires_at.eq(millis(expires_at)),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn purge_states(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.run(move |conn| {
            let n = diesel::delete(
                oauth_states::table.filter(oauth_states::expires_at.lt(millis(now))),
            )
            .execute(conn)?;
            Ok(n as u64)
        })
        .await
        .map_err(Into::into)
    }

    async fn take_state(
        &self,
        state: String,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let hash = digest(&state);
        self.run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                let row: Option<(String, i64)> = oauth_states::table
                    .find(&hash)
                    .select((oauth_states::browser, oauth_states::expires_at))
                    .first(conn)
                    .optional()?;
                let deleted = diesel::delete(oauth_states::table.find(&hash)).execute(conn)?;
                // Only the caller that actually deleted the row may use it (single use).
                Ok(match row {
                    Some((browser, expires)) if deleted == 1 && expires > millis(now) => {
                        Some(browser)
                    }
                    _ => None,
                })
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn create_session(
        &self,
        token: String,
        s: WebSession,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let hash = digest(&token);
        self.run(move |conn| {
            diesel::delete(web_sessions::table.filter(web_sessions::expires_at.lt(millis(now))))
                .execute(conn)?;
            diesel::insert_into(web_sessions::table)
                .values((
                    web_sessions::token_hash.eq(hash),
                    web_sessions::person_id.eq(s.person.as_str()),
                    web_sessions::csrf.eq(s.csrf),
                    web_sessions::expires_at.eq(millis(expires_at)),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn session(
        &self,
        token: String,
        now: Timestamp,
    ) -> Result<Option<WebSession>, StoreError> {
        let hash = digest(&token);
        self.run(move |conn| {
            let row: Option<(String, String)> = web_sessions::table
                .find(&hash)
                .filter(web_sessions::expires_at.gt(millis(now)))
                .select((web_sessions::person_id, web_sessions::csrf))
                .first(conn)
                .optional()?;
            Ok(row.map(|(person, csrf)| WebSession {
                person: PersonId::new(person),
                csrf,
            }))
        })
        .await
        .map_err(Into::into)
    }

    async fn rotate_csrf(
        &self,
        token: String,
        expected: String,
        new: String,
    ) -> Result<bool, StoreError> {
        let hash = digest(&token);
        self.run(move |conn| {
            let n = diesel::update(
                web_sessions::table
                    .find(&hash)
                    .filter(web_sessions::csrf.eq(&expected)),
            )
            .set(web_sessions::csrf.eq(&new))
            .execute(conn)?;
            Ok(n == 1)
        })
        .await
        .map_err(Into::into)
    }
    async fn calendar_token(
        &self,
        person: PersonId,
        candidate: String,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let sealer = self.sealer()?;
        let sealed = sealer.seal(&candidate, person.as_str(), CALENDAR_FIELD);
        let hash = digest(&candidate);
        let owner = person.as_str().to_owned();
        let stored = self
            .run(move |conn| {
                let read = |conn: &mut super::DbConnection| -> Result<Option<String>, DbError> {
                    Ok(calendar_feeds::table
                        .find(&owner)
                        .select(calendar_feeds::token_sealed)
                        .first(conn)
                        .optional()?)
                };
                if let Some(existing) = read(conn)? {
                    return Ok(existing);
                }
                match insert_feed(conn, &owner, &hash, &sealed, now) {
                    Ok(_) => Ok(sealed),
                    // Another caller stored one first: theirs stands.
                    Err(e) => read(conn)?.ok_or_else(|| e.into()),
                }
            })
            .await?;
        sealer
            .open(&stored, person.as_str(), CALENDAR_FIELD)
            .map_err(|_| StoreError::Sealed)
    }

    async fn reset_calendar_token(
        &self,
        person: PersonId,
        token: String,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sealed = self.sealer()?.seal(&token, person.as_str(), CALENDAR_FIELD);
        let hash = digest(&token);
        self.run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                diesel::delete(calendar_feeds::table.find(person.as_str())).execute(conn)?;
                insert_feed(conn, person.as_str(), &hash, &sealed, now)?;
                Ok(())
            })
        })
        .await
        .map_err(Into::into)
    }

    async fn calendar_owner(&self, token: String) -> Result<Option<PersonId>, StoreError> {
        let hash = digest(&token);
        self.run(move |conn| {
            let owner: Option<String> = calendar_feeds::table
                .filter(calendar_feeds::token_hash.eq(&hash))
                .select(calendar_feeds::person_id)
                .first(conn)
                .optional()?;
            Ok(owner.map(PersonId::new))
        })
        .await
        .map_err(Into::into)
    }
}
