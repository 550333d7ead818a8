//! Using a person's grant: refresh before expiry, refresh once on a 401, never spend a
//! refresh token twice (a per-person lock here, the store's lease across processes), and
//! mark the grant disconnected when Webex refuses the refresh token.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::domain::PersonId;
use crate::domain::grant::{AccessToken, Grant};
use crate::ports::{OAuthError, RefreshClaim, StoreError, WebexError};

use super::{App, AppError};

/// How long one refresh may hold the store's lease.
const REFRESH_LEASE: Duration = Duration::from_secs(30);
/// How long a caller waits for someone else's refresh.
const REFRESH_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq)]
// Built once per request and moved a few times: boxing would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
pub enum GrantState {
    NotConnected,
    /// There is a grant, but Webex refuses it: the person must connect again.
    Reconnect(String),
    /// The stored tokens cannot be decrypted with the configured key (it changed or was
    /// lost): the person must renew the connection.
    Unreadable,
    /// Webex's token endpoint refused the refresh for a reason that is not the grant's
    /// (`invalid_client`: the integration's id or secret): the grant is kept, the person
    /// is told to try later, the operator sees it in the log and in `doctor`.
    SignInUnavailable(String),
    Ready(Grant),
}

/// The outcome of a Webex call made with a person's token.
pub(crate) enum UserCall<T> {
    NotConnected,
    Reconnect(String),
    Unreadable,
    SignInUnavailable(String),
    Done(Result<T, WebexError>),
}

impl<T> UserCall<T> {
    /// The grant to call with, or why the call cannot run.
    fn from_state(state: GrantState) -> Result<Grant, Self> {
        match state {
            GrantState::NotConnected => Err(Self::NotConnected),
            GrantState::Reconnect(r) => Err(Self::Reconnect(r)),
            GrantState::Unreadable => Err(Self::Unreadable),
            GrantState::SignInUnavailable(w) => Err(Self::SignInUnavailable(w)),
            GrantState::Ready(g) => Ok(g),
        }
    }
}

impl App {
    /// The person's grant, refreshed first if its access token expires within 5 minutes.
    ///
    /// # Errors
    /// Store failures, and refresh failures worth retrying.
    pub async fn fresh_grant(&self, person: &PersonId) -> Result<GrantState, AppError> {
        let grant = match self.tokens.load(person.clone()).await {
            Ok(Some(g)) => g,
            Ok(None) => return Ok(GrantState::NotConnected),
            Err(StoreError::Sealed) => {
                tracing::warn!(person = %person, "the stored grant cannot be decrypted (BOTPER_TOKEN_KEY changed?); the person must renew it");
                return Ok(GrantState::Unreadable);
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(reason) = grant.disconnected {
            return Ok(GrantState::Reconnect(reason));
        }
        if !grant.needs_refresh(self.clock.now()) {
            return Ok(GrantState::Ready(grant));
        }
        self.refresh_grant(person, grant.version).await
    }

    /// Refreshes the grant unless someone else already replaced version `seen` with tokens
    /// that are still good.
    async fn refresh_grant(&self, person: &PersonId, seen: i64) -> Result<GrantState, AppError> {
        let _local = self.refresh_lock(person).lock().await;
        let started = tokio::time::Instant::now();
        loop {
            let now = self.clock.now();
            let claim = match self
                .tokens
                .try_begin_refresh(
                    person.clone(),
                    self.instance.to_string(),
                    REFRESH_LEASE,
                    now,
                )
                .await
            {
                Ok(c) => c,
                Err(StoreError::Sealed) => return Ok(GrantState::Unreadable),
                Err(e) => return Err(e.into()),
            };
            let grant = match claim {
                RefreshClaim::Missing => return Ok(GrantState::NotConnected),
                RefreshClaim::Busy => {
                    if started.elapsed() > REFRESH_WAIT {
                        return Err(AppError::Unavailable("the token refresh"));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let latest = match self.tokens.load(person.clone()).await {
                        Err(StoreError::Sealed) => return Ok(GrantState::Unreadable),
                        other => other?,
                    };
                    if let Some(g) = latest {
                        if let Some(reason) = g.disconnected {
                            return Ok(GrantState::Reconnect(reason));
                        }
                        if g.version != seen && !g.needs_refresh(self.clock.now()) {
                            return Ok(GrantState::Ready(g));
                        }
                    }
                    continue;
                }
                RefreshClaim::Claimed(g) => g,
            };
            return self.refresh_claimed(person, grant, seen).await;
        }
    }

    async fn refresh_claimed(
        &self,
        person: &PersonId,
        grant: Grant,
        seen: i64,
    ) -> Result<GrantState, AppError> {
        let now = self.clock.now();
        let owner = self.instance.to_string();
        let release = || {
            self.tokens
                .finish_refresh(person.clone(), owner.clone(), None)
        };
        if let Some(reason) = grant.disconnected.clone() {
            release().await?;
            return Ok(GrantState::Reconnect(reason));
        }
        if grant.version != seen && !grant.needs_refresh(now) {
            // Someone refreshed while we waited for the lease.
            release().await?;
            return Ok(GrantState::Ready(grant));
        }
        if grant.refresh_expired(now) {
            release().await?;
            return self
                .disconnect_grant(person, "the refresh token expired")
                .await;
        }
        match self
            .oauth
            .refresh(grant.tokens.refresh_token.clone(), now)
            .await
        {
            Ok(tokens) => {
                let stored = self
                    .tokens
                    .finish_refresh(person.clone(), owner, Some(tokens))
                    .await?;
                tracing::info!(person = %person, "access token refreshed");
                self.metrics.token_refresh("refreshed");
                Ok(stored.map_or(GrantState::NotConnected, GrantState::Ready))
            }
            Err(OAuthError::InvalidGrant(why)) => {
                release().await?;
                tracing::warn!(person = %person, "Webex refused the refresh token; the person must reconnect");
                self.metrics.token_refresh("refused");
                self.disconnect_grant(person, &format!("Webex refused the refresh token: {why}"))
                    .await
            }
            Err(e) if e.is_transient() => {
                release().await?;
                tracing::warn!(person = %person, error = %e, "token refresh failed; will retry");
                self.metrics.token_refresh("failed");
                Err(AppError::Unavailable("Webex (token refresh)"))
            }
            Err(e) => {
                // Not the grant's fault (`invalid_client`, a misconfigured integration): the
                // grant stays, the operator must act.
                release().await?;
                tracing::error!(person = %person, error = %e, "Webex refused the token refresh for a reason that is not the person's grant; check WEBEX_CLIENT_ID / WEBEX_CLIENT_SECRET (`botper doctor`)");
                self.metrics.token_refresh("sign_in_refused");
                Ok(GrantState::SignInUnavailable(e.to_string()))
            }
        }
    }

    async fn disconnect_grant(
        &self,
        person: &PersonId,
        reason: &str,
    ) -> Result<GrantState, AppError> {
        self.tokens
            .mark_disconnected(person.clone(), reason.to_owned())
            .await?;
        Ok(GrantState::Reconnect(reason.to_owned()))
    }

    fn refresh_lock(&self, person: &PersonId) -> &tokio::sync::Mutex<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        person.hash(&mut h);
        &self.refresh_locks[(h.finish() as usize) % self.refresh_locks.len()]
    }

    /// Runs `call` with the person's access token; on a 401 refreshes once and runs it again.
    ///
    /// # Errors
    /// Store failures and refresh failures worth retrying; the call's own result is in
    /// `UserCall::Done`.
    pub(crate) async fn with_user_token<T, F, Fut>(
        &self,
        person: &PersonId,
        call: F,
    ) -> Result<UserCall<T>, AppError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, WebexError>>,
    {
        match UserCall::from_state(self.fresh_grant(person).await?) {
            Ok(g) => self.call_with_grant(g, call).await,
            Err(not_run) => Ok(not_run),
        }
    }

    /// As [`App::with_user_token`], with a grant the caller already made fresh.
    ///
    /// # Errors
    /// As for [`App::with_user_token`].
    pub(crate) async fn call_with_grant<T, F, Fut>(
        &self,
        grant: Grant,
        call: F,
    ) -> Result<UserCall<T>, AppError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, WebexError>>,
    {
        let person = &grant.person;
        match call(grant.tokens.access_token.clone()).await {
            Err(WebexError::Unauthorized) => {}
            other => return Ok(UserCall::Done(other)),
        }
        tracing::info!(person = %person, "Webex refused the access token; refreshing once");
        let grant = match UserCall::from_state(self.refresh_grant(person, grant.version).await?) {
            Ok(g) => g,
            Err(not_run) => return Ok(not_run),
        };
        match call(grant.tokens.access_token.clone()).await {
            Err(WebexError::Unauthorized) => {
                let reason = "Webex refused a freshly refreshed access token";
                self.disconnect_grant(person, reason).await?;
                Ok(UserCall::Reconnect(reason.into()))
            }
            other => Ok(UserCall::Done(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{Mocks, grant, now};
    use crate::domain::grant::{RefreshToken, TokenSet};
    use jiff::SignedDuration;
    use mockall::predicate::*;

    fn new_tokens(access: &str) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new(access),
            access_expires_at: now() + SignedDuration::from_hours(24 * 14),
            refresh_token: RefreshToken::new(format!("refresh-{access}")),
            refresh_expires_at: now() + SignedDuration::from_hours(24 * 90),
            scope: None,
        }
    }

    #[tokio::test]
    async fn not_connected_without_a_grant() {
        let mut m = Mocks::new();
        m.tokens.expect_load().returning(|_| Ok(None));
        let s = m.app().fresh_grant(&"p".into()).await.unwrap();
        assert_eq!(s, GrantState::NotConnected);
    }

    #[tokio::test]
    async fn a_fresh_token_is_used_as_is() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "acc-1", 60, 1))));
        m.tokens.expect_try_begin_refresh().never();
        m.oauth.expect_refresh().never();
        match m.app().fresh_grant(&"p".into()).await.unwrap() {
            GrantState::Ready(g) => assert_eq!(g.tokens.access_token.expose(), "acc-1"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_token_expiring_within_five_minutes_is_refreshed_and_stored() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "acc-1", 4, 1))));
        m.tokens
            .expect_try_begin_refresh()
            .times(1)
            .returning(|_, _, _, _| Ok(RefreshClaim::Claimed(grant("p", "acc-1", 4, 1))));
        m.oauth
            .expect_refresh()
            .withf(|t, _| t.expose() == "refresh-acc-1")
            .times(1)
            .returning(|_, _| Ok(new_tokens("acc-2")));
        m.tokens
            .expect_finish_refresh()
            .withf(|_, _, t| t.as_ref().map(|t| t.access_token.expose()) == Some("acc-2"))
            .times(1)
            .returning(|_, _, _| Ok(Some(grant("p", "acc-2", 60 * 24, 2))));
        match m.app().fresh_grant(&"p".into()).await.unwrap() {
            GrantState::Ready(g) => assert_eq!(g.tokens.access_token.expose(), "acc-2"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_refused_refresh_token_disconnects_the_grant() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "acc-1", -10, 1))));
        m.tokens
            .expect_try_begin_refresh()
            .returning(|_, _, _, _| Ok(RefreshClaim::Claimed(grant("p", "acc-1", -10, 1))));
        m.oauth
            .expect_refresh()
            .returning(|_, _| Err(OAuthError::InvalidGrant("invalid_grant".into())));
        m.tokens
            .expect_finish_refresh()
            .with(always(), always(), eq(None))
            .times(1)
            .returning(|_, _, _| Ok(None));
        m.tokens
            .expect_mark_disconnected()
            .withf(|p, why| p.as_str() == "p" && why.contains("refused the refresh token"))
            .times(1)
            .returning(|_, _| Ok(()));
        let s = m.app().fresh_grant(&"p".into()).await.unwrap();
        assert!(matches!(s, GrantState::Reconnect(_)), "{s:?}");
    }

    #[tokio::test]
    async fn a_transient_refresh_failure_releases_the_lease_and_is_retryable() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "acc-1", 1, 1))));
        m.tokens
            .expect_try_begin_refresh()
            .returning(|_, _, _, _| Ok(RefreshClaim::Claimed(grant("p", "acc-1", 1, 1))));
        m.oauth
            .expect_refresh()
            .returning(|_, _| Err(OAuthError::Unavailable("503".into())));
        m.tokens
            .expect_finish_refresh()
            .with(always(), always(), eq(None))
            .times(1)
            .returning(|_, _, _| Ok(None));
        m.tokens.expect_mark_disconnected().never();
        let e = m.app().fresh_grant(&"p".into()).await.unwrap_err();
        assert!(matches!(e, AppError::Unavailable(_)));
    }

    #[tokio::test]
    async fn a_refusal_of_the_integration_keeps_the_grant_and_says_sign_in_is_unavailable() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "acc-1", -10, 1))));
        m.tokens
            .expect_try_begin_refresh()
            .returning(|_, _, _, _| Ok(RefreshClaim::Claimed(grant("p", "acc-1", -10, 1))));
        m.oauth.expect_refresh().times(1).returning(|_, _| {
            Err(OAuthError::Rejected {
                status: 400,
                error: Some("invalid_client".into()),
                message: "invalid_client: Client authentication failed".into(),
            })
        });
        m.tokens
            .expect_finish_refresh()
            .with(always(), always(), eq(None))
            .times(1)
            .returning(|_, _, _| Ok(None));
        m.tokens.expect_mark_disconnected().never();
        let s = m.app().fresh_grant(&"p".into()).await.unwrap();
        assert!(
            matches!(&s, GrantState::SignInUnavailable(w) if w.contains("invalid_client")),
            "{s:?}"
        );
    }

    #[tokio::test]
    async fn an_undecryptable_grant_is_unreadable_not_an_error() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Err(StoreError::Sealed));
        m.oauth.expect_refresh().never();
        let s = m.app().fresh_grant(&"p".into()).await.unwrap();
        assert_eq!(s, GrantState::Unreadable);
    }

    #[tokio::test]
    async fn while_another_process_refreshes_we_wait_and_use_its_tokens() {
        let mut m = Mocks::new();
        let mut loads = 0;
        m.tokens.expect_load().returning(move |_| {
            loads += 1;
            Ok(Some(if loads == 1 {
                grant("p", "acc-1", 2, 1)
            } else {
                grant("p", "acc-2", 60 * 24, 2)
            }))
        });
        m.tokens
            .expect_try_begin_refresh()
            .times(1)
            .returning(|_, _, _, _| Ok(RefreshClaim::Busy));
        m.oauth.expect_refresh().never();
        match m.app().fresh_grant(&"p".into()).await.unwrap() {
            GrantState::Ready(g) => assert_eq!(g.tokens.access_token.expose(), "acc-2"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_401_triggers_one_refresh_and_one_retry() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "revoked", 60, 1))));
        m.tokens
            .expect_try_begin_refresh()
            .times(1)
            .returning(|_, _, _, _| Ok(RefreshClaim::Claimed(grant("p", "revoked", 60, 1))));
        m.oauth
            .expect_refresh()
            .times(1)
            .returning(|_, _| Ok(new_tokens("acc-2")));
        m.tokens
            .expect_finish_refresh()
            .returning(|_, _, _| Ok(Some(grant("p", "acc-2", 60 * 24, 2))));
        let app = m.app();
        let calls = std::sync::Mutex::new(Vec::new());
        let r = app
            .with_user_token(&"p".into(), |t| {
                calls.lock().unwrap().push(t.expose().to_owned());
                let ok = t.expose() == "acc-2";
                async move {
                    if ok {
                        Ok(7)
                    } else {
                        Err(WebexError::Unauthorized)
                    }
                }
            })
            .await
            .unwrap();
        assert!(matches!(r, UserCall::Done(Ok(7))));
        assert_eq!(*calls.lock().unwrap(), ["revoked", "acc-2"]);
    }
}
