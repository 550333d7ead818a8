//! The web OAuth flow: a single-use state bound to the browser, the code exchange, who the
//! person is, the grant stored, their meetings webhook registered (or reused), and a web
//! session for the success page's test-meeting form.

use jiff::SignedDuration;

use crate::domain::PersonId;
use crate::domain::grant::Grant;
use crate::domain::meeting::{MeetingRequest, MeetingTitle};
use crate::ports::{OAuthError, StoreError, WebSession, WebexError};

use super::grants::UserCall;
use super::{App, AppError, MeetingResult, random_token};

/// How long an OAuth `state` is valid.
pub const STATE_TTL: SignedDuration = SignedDuration::from_mins(10);
/// Pending logins kept at most (the oldest go first): anyone can start a login, so the
/// table must stay bounded under a flood of anonymous `GET /auth/webex/login`.
pub const MAX_PENDING_LOGINS: u32 = 10_000;
/// How long the success page's session lasts.
pub const SESSION_TTL: SignedDuration = SignedDuration::from_hours(1);

#[derive(Debug, Clone)]
pub struct LoginStart {
    pub authorize_url: String,
    /// The browser's id, to be kept in a cookie until the callback.
    pub browser: String,
}

/// The query of `/auth/webex/callback`.
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Connected {
    pub display_name: String,
    pub email: Option<String>,
    /// Cookie value for the success page's session.
    pub session: String,
    pub csrf: String,
    /// `Err(reason)` when the meetings webhook could not be registered.
    pub webhook: Result<(), String>,
}

/// Why connecting failed, in words a person can act on. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("OAuth credentials not configured: {0}")]
    NotConfigured(&'static str),
    #[error("You did not authorize Botper ({0}). Nothing was stored.")]
    Denied(String),
    #[error(
        "This sign-in link is invalid: it expired, was already used, or was started in another browser. Nothing was stored; please start again."
    )]
    BadState,
    #[error("Webex did not send an authorization code. Nothing was stored; please start again.")]
    MissingCode,
    #[error("Token exchange failed: {0}")]
    TokenExchange(String),
    #[error("Webex did not say who you are: {0}")]
    Identity(String),
    #[error("Botper's database is unavailable; please try again in a moment.")]
    Unavailable,
    #[error(
        "Botper is not available to your account: this deployment is limited to certain organisations or addresses. Nothing was stored."
    )]
    NotAllowed,
}

impl From<AppError> for LoginError {
    fn from(_: AppError) -> Self {
        LoginError::Unavailable
    }
}

impl From<crate::ports::StoreError> for LoginError {
    fn from(_: crate::ports::StoreError) -> Self {
        LoginError::Unavailable
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestMeetingError {
    #[error("Your session expired; connect again to create a test meeting.")]
    NoSession,
    #[error("This form was already sent or is out of date. Connect again for a fresh one.")]
    BadCsrf,
    #[error("{0}")]
    BadTitle(String),
    #[error("Botper could not reach its database or Webex; please try again.")]
    Unavailable,
    #[error(
        "Creating meetings through Botper is reserved to organizers, and you are not one: ask one of Botper's admins to grant it."
    )]
    Reserved,
}

impl App {
    /// Starts a login: a random state remembered for 10 minutes and bound to `browser`
    /// (a new browser id when the browser has none).
    ///
    /// # Errors
    /// `NotConfigured` without client credentials; `Unavailable` without the database.
    pub async fn begin_login(&self, browser: Option<String>) -> Result<LoginStart, LoginError> {
        let state = random_token(32);
        let authorize_url = self.oauth.authorize_url(&state).map_err(|e| match e {
            OAuthError::NotConfigured(what) => LoginError::NotConfigured(what),
            _ => LoginError::Unavailable,
        })?;
        let browser = browser
            .filter(|b| (16..=128).contains(&b.len()))
            .unwrap_or_else(|| random_token(24));
        let now = self.clock.now();
        self.web_auth
            .put_state(
                state,
                browser.clone(),
                now + STATE_TTL,
                now,
                MAX_PENDING_LOGINS,
            )
            .await?;
        Ok(LoginStart {
            authorize_url,
            browser,
        })
    }

    /// Finishes a login from the callback's query and the browser's cookie.
    ///
    /// # Errors
    /// A [`LoginError`] that says what went wrong; nothing is stored on error.
    #[tracing::instrument(name = "app.oauth.callback", skip_all)]
    pub async fn complete_login(
        &self,
        params: CallbackParams,
        browser: Option<String>,
    ) -> Result<Connected, LoginError> {
        // The state is spent whatever happens next.
        let issued_to = match &params.state {
            Some(s) if !s.is_empty() => {
                self.web_auth
                    .take_state(s.clone(), self.clock.now())
                    .await?
            }
            _ => None,
        };
        if let Some(error) = params.error {
            let why = params.error_description.unwrap_or(error);
            tracing::info!(reason = %why, "the person did not authorize Botper");
            return Err(LoginError::Denied(clip(&why)));
        }
        match (issued_to, browser) {
            (Some(issued), Some(b)) if issued == b => {}
            _ => {
                tracing::warn!("OAuth callback refused: unknown, expired, reused or foreign state");
                return Err(LoginError::BadState);
            }
        }
        let code = params
            .code
            .filter(|c| !c.is_empty())
            .ok_or(LoginError::MissingCode)?;
        let tokens = self
            .oauth
            .exchange_code(code, self.clock.now())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "token exchange failed");
                LoginError::TokenExchange(match e {
                    OAuthError::InvalidGrant(m) | OAuthError::Rejected { message: m, .. } => {
                        clip(&m)
                    }
                    OAuthError::NotConfigured(w) => w.to_owned(),
                    OAuthError::Unavailable(_) => "Webex did not answer".into(),
                    OAuthError::Unexpected(_) => "Webex's answer was not understood".into(),
                })
            })?;
        let me = self
            .oauth
            .whoami(tokens.access_token.clone())
            .await
            .map_err(|e| LoginError::Identity(clip(&e.to_string())))?;
        // Outside the allow-list: refused before anything is stored (the tokens just
        // issued are dropped; Webex lets them expire).
        if !self
            .settings
            .allow
            .allows(me.email.as_deref(), me.org_id.as_deref())
        {
            tracing::info!("a person outside the allow-list tried to connect; refused");
            return Err(LoginError::NotAllowed);
        }
        // Websocket mode: Webex cannot reach Botper, so no meetings webhook; the socket
        // holder polls the person's meetings instead.
        let polled = self.settings.events == super::EventsMode::Websocket;
        let webhook = if polled {
            Err("polled".to_owned())
        } else {
            self.ensure_meetings_webhook(tokens.access_token.clone(), &me.id)
                .await
        };
        let grant = Grant {
            person: me.id.clone(),
            display_name: me.display_name.clone(),
            email: me.email.clone(),
            timezone: me.timezone.clone(),
            tokens,
            webhook_id: webhook.as_ref().ok().cloned(),
            disconnected: None,
            version: 1,
        };
        self.tokens.save(grant).await?;
        tracing::info!(person = %me.id, webhook = webhook.is_ok(), polled, "Webex account connected");
        if polled {
            // What is scheduled already is not news; what comes after is.
            self.polls.forget_seen(me.id.clone()).await?;
            self.baseline_meetings(&me.id).await;
        }
        let session = random_token(32);
        let csrf = random_token(24);
        self.web_auth
            .create_session(
                session.clone(),
                WebSession {
                    person: me.id,
                    csrf: csrf.clone(),
                },
                self.clock.now() + SESSION_TTL,
                self.clock.now(),
            )
            .await?;
        Ok(Connected {
            display_name: me.display_name,
            email: me.email,
            session,
            csrf,
            webhook: if polled { Ok(()) } else { webhook.map(|_| ()) },
        })
    }

    /// The success page's "create a test meeting" form: same use case as `meeting …`. Each
    /// form can be sent once (its CSRF token is replaced on use), so a reload or a double
    /// click does not create a second meeting. Returns the result and the next form's token.
    ///
    /// # Errors
    /// No session, a stale or reused form, a bad title, or an outage.
    pub async fn schedule_test_meeting(
        &self,
        session: Option<String>,
        csrf: &str,
        title: &str,
    ) -> Result<(MeetingResult, String), TestMeetingError> {
        let Some(token) = session else {
            return Err(TestMeetingError::NoSession);
        };
        let s = self
            .web_auth
            .session(token.clone(), self.clock.now())
            .await
            .map_err(|_| TestMeetingError::Unavailable)?
            .ok_or(TestMeetingError::NoSession)?;
        if !constant_time_eq(s.csrf.as_bytes(), csrf.as_bytes()) {
            return Err(TestMeetingError::BadCsrf);
        }
        let title =
            MeetingTitle::parse(title).map_err(|e| TestMeetingError::BadTitle(e.to_string()))?;
        if self.settings.meeting_role != crate::domain::access::MeetingRole::Everyone {
            let email = match self.tokens.load(s.person.clone()).await {
                Ok(g) => g.and_then(|g| g.email),
                Err(_) => return Err(TestMeetingError::Unavailable),
            };
            if self
                .meeting_refusal(email.as_deref())
                .await
                .map_err(|_| TestMeetingError::Unavailable)?
                .is_some()
            {
                return Err(TestMeetingError::Reserved);
            }
        }
        let next = random_token(24);
        let rotated = self
            .web_auth
            .rotate_csrf(token, s.csrf, next.clone())
            .await
            .map_err(|_| TestMeetingError::Unavailable)?;
        if !rotated {
            return Err(TestMeetingError::BadCsrf);
        }
        let result = self
            .schedule_meeting(&s.person, MeetingRequest::default_for(title), None)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "test meeting failed");
                TestMeetingError::Unavailable
            })?;
        Ok((result, next))
    }

    /// Forgets login states that expired (housekeeping; logins also sweep them).
    ///
    /// # Errors
    /// Store failures.
    pub async fn purge_expired_logins(&self) -> Result<u64, AppError> {
        Ok(self.web_auth.purge_states(self.clock.now()).await?)
    }

    /// The person behind a web session, if it is valid.
    pub async fn web_session(&self, token: Option<String>) -> Option<WebSession> {
        self.web_auth
            .session(token?, self.clock.now())
            .await
            .ok()
            .flatten()
    }

    /// `disconnect`: removes the grant and, with a still-valid token, the meetings webhook.
    ///
    /// # Errors
    /// Store failures.
    /// [`App::disconnect`], and removes the person's scheduled jobs (reminders and the
    /// daily agenda) too; returns whether there was a grant and how many jobs went.
    ///
    /// # Errors
    /// Only the store's.
    pub async fn disconnect_all(&self, person: &PersonId) -> Result<(bool, u32), AppError> {
        let had = self.disconnect(person).await?;
        let jobs = self.scheduler.forget_jobs(person.clone()).await?;
        Ok((had, jobs))
    }

    pub async fn disconnect(&self, person: &PersonId) -> Result<bool, AppError> {
        let grant = match self.tokens.load(person.clone()).await {
            Ok(Some(g)) => g,
            Ok(None) => return Ok(false),
            // Its tokens cannot be opened (the key changed), so the webhook cannot be
            // deleted with them; the grant itself still goes.
            Err(StoreError::Sealed) => {
                tracing::warn!(person = %person, "disconnecting an undecryptable grant; its meetings webhook stays until Webex disables it");
                self.tokens.delete(person.clone()).await?;
                return Ok(true);
            }
            Err(e) => return Err(e.into()),
        };
        let hooks: Vec<String> = grant
            .webhook_id
            .as_deref()
            .filter(|_| grant.is_connected())
            .map(|ids| {
                ids.split(',')
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        for hook in hooks {
            let call = self
                .with_user_token(person, |t| self.webhooks.delete(t, hook.clone()))
                .await;
            match call {
                Ok(UserCall::Done(Ok(()))) | Ok(UserCall::Done(Err(WebexError::NotFound))) => {}
                _ => {
                    tracing::warn!(person = %person, "could not delete a meetings webhook; Webex will keep calling until it disables it")
                }
            }
        }
        self.tokens.delete(person.clone()).await?;
        self.polls.forget_seen(person.clone()).await?;
        Ok(true)
    }
}

/// What `doctor` learned from Webex's token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInCheck {
    /// The integration's id and secret were accepted (the probe's made-up refresh token
    /// was refused as `invalid_grant`, which only comes after client authentication).
    Accepted,
    /// `WEBEX_CLIENT_ID` / `WEBEX_CLIENT_SECRET` are not set.
    NotConfigured(&'static str),
    /// Webex refused the integration itself: every refresh fails until it is fixed.
    Refused(String),
    /// Webex could not be reached.
    Unreachable(String),
}

impl App {
    /// Asks Webex's token endpoint to refresh a made-up token: the answer says whether it
    /// accepts the integration's credentials, without touching anyone's grant.
    pub async fn check_sign_in(&self) -> SignInCheck {
        let probe = crate::domain::grant::RefreshToken::new("botper-doctor-probe");
        match self.oauth.refresh(probe, self.clock.now()).await {
            Err(OAuthError::InvalidGrant(_)) => SignInCheck::Accepted,
            Err(OAuthError::NotConfigured(what)) => SignInCheck::NotConfigured(what),
            Err(e @ OAuthError::Rejected { .. }) => SignInCheck::Refused(e.to_string()),
            Err(e @ (OAuthError::Unavailable(_) | OAuthError::Unexpected(_))) => {
                SignInCheck::Unreachable(e.to_string())
            }
            Ok(_) => SignInCheck::Refused(
                "Webex accepted a made-up refresh token; WEBEX_API_BASE_URL may not point at Webex"
                    .into(),
            ),
        }
    }
}

fn clip(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 200 {
        s.chars().take(200).chain(['…']).collect()
    } else {
        s.to_owned()
    }
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_support::{Mocks, PUBLIC_URL, SECRET, grant, now};
    use crate::ports::{Identity, Webhook};

    fn identity() -> Identity {
        Identity {
            id: "p".into(),
            display_name: "Pat Doe".into(),
            email: Some("pat@example.com".into()),
            timezone: Some("Europe/Paris".into()),
            org_id: None,
        }
    }

    fn hook(id: &str, status: &str, secret: &str) -> Webhook {
        hook_for("created", id, status, secret)
    }

    fn hook_for(event: &str, id: &str, status: &str, secret: &str) -> Webhook {
        Webhook {
            id: id.into(),
            name: "x".into(),
            target_url: format!("{PUBLIC_URL}/webex/webhook"),
            resource: "meetings".into(),
            event: event.into(),
            filter: None,
            status: status.into(),
            secret: Some(secret.into()),
        }
    }

    fn callback(state: &str, code: &str) -> CallbackParams {
        CallbackParams {
            code: Some(code.into()),
            state: Some(state.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn login_remembers_a_random_state_for_ten_minutes_for_this_browser() {
        let mut m = Mocks::new();
        m.oauth
            .expect_authorize_url()
            .returning(|s| Ok(format!("https://webex/authorize?state={s}")));
        m.web_auth
            .expect_put_state()
            .withf(|state, browser, exp, at, cap| {
                state.len() >= 40
                    && browser == "browser-cookie-1234"
                    && *exp == now() + STATE_TTL
                    && *at == now()
                    && *cap == MAX_PENDING_LOGINS
            })
            .times(1)
            .returning(|_, _, _, _, _| Ok(()));
        let s = m
            .app()
            .begin_login(Some("browser-cookie-1234".into()))
            .await
            .unwrap();
        assert_eq!(s.browser, "browser-cookie-1234");
        assert!(
            s.authorize_url
                .starts_with("https://webex/authorize?state=")
        );
    }

    #[tokio::test]
    async fn a_full_callback_stores_the_grant_and_registers_the_webhook() {
        let mut m = Mocks::new();
        m.web_auth
            .expect_take_state()
            .returning(|_, _| Ok(Some("b".repeat(20))));
        m.oauth
            .expect_exchange_code()
            .withf(|code, _| code == "the-code")
            .returning(|_, _| Ok(grant("p", "user-acc", 60 * 24, 1).tokens));
        m.oauth.expect_whoami().returning(|_| Ok(identity()));
        m.webhooks.expect_list().returning(|_| Ok(vec![]));
        for event in ["created", "updated", "deleted"] {
            m.webhooks
                .expect_create()
                .withf(move |t, h| {
                    t.expose() == "user-acc"
                        && h.resource == "meetings"
                        && h.event == event
                        && h.target_url == format!("{PUBLIC_URL}/webex/webhook")
                        && h.secret == crate::app::webhooks::meetings_secret(SECRET, &"p".into())
                })
                .times(1)
                .returning(move |_, _| {
                    Ok(hook_for(event, &format!("wh-{event}"), "active", SECRET))
                });
        }
        m.tokens
            .expect_save()
            .withf(|g| {
                g.person.as_str() == "p"
                    && g.webhook_id.as_deref() == Some("wh-created,wh-updated,wh-deleted")
            })
            .times(1)
            .returning(|_| Ok(()));
        m.web_auth
            .expect_create_session()
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let c = m
            .app()
            .complete_login(callback("st", "the-code"), Some("b".repeat(20)))
            .await
            .unwrap();
        assert_eq!(c.display_name, "Pat Doe");
        assert_eq!(c.webhook, Ok(()));
    }

    #[tokio::test]
    async fn an_existing_inactive_webhook_is_reactivated_not_duplicated() {
        let mut m = Mocks::new();
        m.web_auth
            .expect_take_state()
            .returning(|_, _| Ok(Some("b".repeat(20))));
        m.oauth
            .expect_exchange_code()
            .returning(|_, _| Ok(grant("p", "user-acc", 60 * 24, 1).tokens));
        m.oauth.expect_whoami().returning(|_| Ok(identity()));
        // A grant from before updates were followed: its `created` webhook is reused (and
        // reactivated), the other two are added.
        m.webhooks
            .expect_list()
            .returning(|_| Ok(vec![hook("wh-old", "inactive", SECRET)]));
        m.webhooks
            .expect_create()
            .withf(|_, h| h.event != "created")
            .times(2)
            .returning(|_, h| {
                Ok(hook_for(
                    &h.event,
                    &format!("wh-{}", h.event),
                    "active",
                    SECRET,
                ))
            });
        m.webhooks
            .expect_reactivate()
            .withf(|_, id, _| id == "wh-old")
            .times(1)
            .returning(|_, _, _| Ok(hook("wh-old", "active", SECRET)));
        m.tokens
            .expect_save()
            .withf(|g| g.webhook_id.as_deref() == Some("wh-old,wh-updated,wh-deleted"))
            .returning(|_| Ok(()));
        m.web_auth
            .expect_create_session()
            .returning(|_, _, _, _| Ok(()));
        m.app()
            .complete_login(callback("st", "c"), Some("b".repeat(20)))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_forged_reused_or_foreign_state_stores_nothing() {
        for (issued, cookie) in [
            (None, Some("b".repeat(20))),
            (Some("b".repeat(20)), Some("c".repeat(20))),
            (Some("b".repeat(20)), None),
        ] {
            let mut m = Mocks::new();
            m.web_auth
                .expect_take_state()
                .returning(move |_, _| Ok(issued.clone()));
            m.oauth.expect_exchange_code().never();
            m.tokens.expect_save().never();
            let e = m
                .app()
                .complete_login(callback("st", "c"), cookie)
                .await
                .unwrap_err();
            assert_eq!(e, LoginError::BadState);
        }
    }

    #[tokio::test]
    async fn access_denied_and_a_failed_exchange_say_why_without_storing() {
        let mut m = Mocks::new();
        m.web_auth.expect_take_state().returning(|_, _| Ok(None));
        m.tokens.expect_save().never();
        let e = m
            .app()
            .complete_login(
                CallbackParams {
                    error: Some("access_denied".into()),
                    state: Some("s".into()),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, LoginError::Denied(ref w) if w == "access_denied"));

        let mut m = Mocks::new();
        m.web_auth
            .expect_take_state()
            .returning(|_, _| Ok(Some("b".repeat(20))));
        m.oauth.expect_exchange_code().returning(|_, _| {
            Err(OAuthError::InvalidGrant(
                "The authorization code is expired".into(),
            ))
        });
        m.tokens.expect_save().never();
        let e = m
            .app()
            .complete_login(callback("s", "c"), Some("b".repeat(20)))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Token exchange failed: The authorization code is expired"
        );
    }

    #[tokio::test]
    async fn test_meeting_needs_a_session_and_its_csrf_token() {
        let mut m = Mocks::new();
        m.web_auth.expect_session().returning(|_, _| {
            Ok(Some(WebSession {
                person: "p".into(),
                csrf: "right".into(),
            }))
        });
        m.meetings.expect_create().never();
        let app = m.app();
        assert_eq!(
            app.schedule_test_meeting(None, "right", "X")
                .await
                .unwrap_err(),
            TestMeetingError::NoSession
        );
        assert_eq!(
            app.schedule_test_meeting(Some("s".into()), "wrong", "X")
                .await
                .unwrap_err(),
            TestMeetingError::BadCsrf
        );
    }

    #[tokio::test]
    async fn disconnect_deletes_the_webhook_then_the_grant() {
        let mut m = Mocks::new();
        m.tokens
            .expect_load()
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.webhooks
            .expect_delete()
            .withf(|t, id| t.expose() == "user-acc" && id == "wh-1")
            .times(1)
            .returning(|_, _| Ok(()));
        m.tokens
            .expect_delete()
            .times(1)
            .returning(|_| Ok(Some(grant("p", "user-acc", 60, 1))));
        m.polls.expect_forget_seen().times(1).returning(|_| Ok(()));
        assert!(m.app().disconnect(&"p".into()).await.unwrap());
    }
}
