//! Use cases: orchestration of ports and domain rules. Nothing here names an adapter.
//!
//! [`App`] holds every port as `Arc<dyn Port>`; it is cheap to clone into HTTP handlers,
//! workers and the console.

mod access;
mod calendar;
mod cards;
mod commands;
mod error;
pub mod export;
mod grants;
mod ingress;
pub mod leader;
mod meetings;
mod oauth;
pub mod polling;
mod reminders;
pub mod scheduler;
mod web;
pub mod webhooks;
pub mod worker;

use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use secrecy::SecretString;
use tokio::sync::{Mutex, Notify, OnceCell};

pub use error::{AppError, ProcessError};
pub use grants::GrantState;
pub use ingress::Receipt;
pub use meetings::MeetingResult;
pub use oauth::{CallbackParams, Connected, LoginError, LoginStart, SignInCheck, TestMeetingError};
pub use web::{Connection, Home, WebActionError};

use crate::domain::PersonId;
use crate::domain::rate::{Admission, Pace};
use crate::ports::{
    AccessStore, BotIdentity, Clock, Inbox, Leases, MeetingPolls, Metrics, OAuthProvider,
    Scheduler, TaskRepository, TokenStore, WebAuthStore, WebexError, WebexMeetings, WebexMessaging,
    WebexWebhooks,
};

/// The ports the use cases need.
pub struct Ports {
    pub tasks: Arc<dyn TaskRepository>,
    pub inbox: Arc<dyn Inbox>,
    pub scheduler: Arc<dyn Scheduler>,
    pub messaging: Arc<dyn WebexMessaging>,
    pub meetings: Arc<dyn WebexMeetings>,
    pub webhooks: Arc<dyn WebexWebhooks>,
    pub oauth: Arc<dyn OAuthProvider>,
    pub tokens: Arc<dyn TokenStore>,
    pub web_auth: Arc<dyn WebAuthStore>,
    pub leases: Arc<dyn Leases>,
    pub polls: Arc<dyn MeetingPolls>,
    pub access: Arc<dyn AccessStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
}

/// Settings the use cases need (not secrets they pass around, except the webhook secret
/// they register webhooks with).
#[derive(Clone)]
pub struct AppSettings {
    /// Where Webex and browsers reach Botper, without a trailing slash.
    pub public_url: String,
    pub webhook_secret: Option<SecretString>,
    /// Retry step while a meeting's REST data lags its webhook (attempt n waits n steps).
    pub meeting_lag_step: std::time::Duration,
    /// Per-sender command limit; `None` disables it.
    pub rate_limit: Option<crate::domain::rate::RatePolicy>,
    /// `meet now` is on (connecting then asks for the `spark:all` scope it needs).
    pub meet_now: bool,
    /// How events reach Botper: in websocket mode there is no meetings webhook (Webex
    /// cannot reach Botper), so connected people's meetings are polled.
    pub events: EventsMode,
    /// How often meetings are polled in websocket mode.
    pub meetings_poll: std::time::Duration,
    /// Who may use Botper.
    pub allow: crate::domain::access::AllowList,
    /// Admins by configuration (`BOTPER_ADMINS`), lowercase.
    pub admins: Vec<String>,
    /// Who may create meetings through Botper.
    pub meeting_role: crate::domain::access::MeetingRole,
}

/// How Webex's events reach this deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsMode {
    /// Signed webhooks to `BOTPER_PUBLIC_URL` (production).
    Webhooks,
    /// Over the Webex websocket, meetings by polling (no public URL needed).
    Websocket,
}

impl EventsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhooks => "webhooks",
            Self::Websocket => "websocket",
        }
    }
}

impl AppSettings {
    pub fn connect_url(&self) -> String {
        format!("{}/auth/webex/login", self.public_url)
    }

    pub fn webhook_url(&self) -> String {
        format!("{}/webex/webhook", self.public_url)
    }
}

/// Striped locks: at most one refresh per person in flight inside this process (the
/// store's lease covers other processes).
const REFRESH_STRIPES: usize = 64;

#[derive(Clone)]
pub struct App {
    tasks: Arc<dyn TaskRepository>,
    inbox: Arc<dyn Inbox>,
    scheduler: Arc<dyn Scheduler>,
    messaging: Arc<dyn WebexMessaging>,
    meetings: Arc<dyn WebexMeetings>,
    webhooks: Arc<dyn WebexWebhooks>,
    oauth: Arc<dyn OAuthProvider>,
    tokens: Arc<dyn TokenStore>,
    web_auth: Arc<dyn WebAuthStore>,
    leases: Arc<dyn Leases>,
    polls: Arc<dyn MeetingPolls>,
    access: Arc<dyn AccessStore>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
    settings: Arc<AppSettings>,
    bot: Arc<OnceCell<BotIdentity>>,
    /// Wakes idle workers when a delivery was stored by this process.
    work: Arc<Notify>,
    refresh_locks: Arc<Vec<Mutex<()>>>,
    /// Names this process in refresh leases.
    instance: Arc<str>,
    /// Per-sender paces. In memory: a pace per instance is enough for fairness, and nothing
    /// depends on it for correctness (the inbox keeps each person's commands in order).
    paces: Arc<std::sync::Mutex<HashMap<PersonId, Pace>>>,
    /// The zone of people's Webex profiles, looked up for people who set none and are not
    /// connected, kept for a day (an hour after a failed lookup). In memory: a cache only.
    profile_zones: Arc<std::sync::Mutex<ProfileZones>>,
}

/// A profile zone (none when the profile names none) and until when it is kept.
type ProfileZones = HashMap<PersonId, (Option<String>, jiff::Timestamp)>;

impl App {
    pub fn new(p: Ports, settings: AppSettings) -> Self {
        Self {
            tasks: p.tasks,
            inbox: p.inbox,
            scheduler: p.scheduler,
            messaging: p.messaging,
            meetings: p.meetings,
            webhooks: p.webhooks,
            oauth: p.oauth,
            tokens: p.tokens,
            web_auth: p.web_auth,
            leases: p.leases,
            polls: p.polls,
            access: p.access,
            clock: p.clock,
            metrics: p.metrics,
            settings: Arc::new(settings),
            bot: Arc::new(OnceCell::new()),
            work: Arc::new(Notify::new()),
            refresh_locks: Arc::new((0..REFRESH_STRIPES).map(|_| Mutex::new(())).collect()),
            instance: format!("{}-{:08x}", std::process::id(), rand::rng().random::<u32>()).into(),
            paces: Arc::new(std::sync::Mutex::new(HashMap::new())),
            profile_zones: Arc::new(std::sync::Mutex::new(HashMap::new())),
        }
    }

    /// Drops what this process caches about a person (their pace, their profile's zone).
    pub(crate) fn forget_cached(&self, person: &PersonId) {
        self.paces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(person);
        self.profile_zones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(person);
    }

    /// The same use cases on another clock (tests run time-based behaviour faster).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Charges one command from `person`, arrived at `now`, to their pace.
    pub(crate) fn admit(&self, person: &PersonId, now: jiff::Timestamp) -> Admission {
        let Some(policy) = self.settings.rate_limit else {
            return Admission::Now;
        };
        let mut paces = self.paces.lock().unwrap_or_else(|p| p.into_inner());
        if paces.len() > 10_000 {
            paces.retain(|_, p| !p.is_idle(now));
        }
        paces
            .entry(person.clone())
            .or_insert_with(|| Pace::new(now))
            .admit(policy, now)
    }

    /// The bot's identity, learned once from Webex (`GET /people/me`) and then kept.
    pub async fn bot_identity(&self) -> Result<&BotIdentity, WebexError> {
        self.bot.get_or_try_init(|| self.messaging.me()).await
    }

    /// The bot's identity if it was already learned; never calls Webex.
    pub fn known_bot_identity(&self) -> Option<&BotIdentity> {
        self.bot.get()
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn ready(&self) -> bool {
        self.inbox.ping().await.is_ok()
    }

    pub(crate) fn work_signal(&self) -> &Notify {
        &self.work
    }

    pub fn inbox(&self) -> &Arc<dyn Inbox> {
        &self.inbox
    }

    pub fn scheduler(&self) -> &Arc<dyn Scheduler> {
        &self.scheduler
    }

    pub fn settings(&self) -> &AppSettings {
        &self.settings
    }

    pub fn metrics(&self) -> &Arc<dyn Metrics> {
        &self.metrics
    }
}

/// A random URL-safe token of `bytes` random bytes.
pub(crate) fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders for app contract tests: real domain, mocked ports.
    use super::*;
    use crate::domain::grant::{AccessToken, Grant, RefreshToken, TokenSet};
    use crate::ports::access::MockAccessStore;
    use crate::ports::clock::MockClock;
    use crate::ports::events::{MockLeases, MockMeetingPolls};
    use crate::ports::grants::{MockTokenStore, MockWebAuthStore};
    use crate::ports::inbox::MockInbox;
    use crate::ports::meetings::MockWebexMeetings;
    use crate::ports::messaging::MockWebexMessaging;
    use crate::ports::oauth::MockOAuthProvider;
    use crate::ports::scheduler::MockScheduler;
    use crate::ports::tasks::MockTaskRepository;
    use crate::ports::webhooks::MockWebexWebhooks;
    use jiff::{SignedDuration, Timestamp};

    pub const ADMIN_EMAIL: &str = "admin@example.com";
    pub const BOT_ID: &str = "bot-1";
    pub const PUBLIC_URL: &str = "https://botper.example.com";
    pub const SECRET: &str = "hook-secret";

    pub fn now() -> Timestamp {
        "2026-11-29T12:00:00Z".parse().unwrap()
    }

    pub fn grant(person: &str, access: &str, expires_in_mins: i64, version: i64) -> Grant {
        Grant {
            person: person.into(),
            display_name: "Pat Doe".into(),
            email: Some("pat@example.com".into()),
            timezone: Some("Europe/Paris".into()),
            tokens: TokenSet {
                access_token: AccessToken::new(access),
                access_expires_at: now() + SignedDuration::from_mins(expires_in_mins),
                refresh_token: RefreshToken::new(format!("refresh-{access}")),
                refresh_expires_at: now() + SignedDuration::from_hours(24 * 80),
                scope: None,
            },
            webhook_id: Some("wh-1".into()),
            disconnected: None,
            version,
        }
    }

    pub struct Mocks {
        pub tasks: MockTaskRepository,
        pub inbox: MockInbox,
        pub scheduler: MockScheduler,
        pub messaging: MockWebexMessaging,
        pub meetings: MockWebexMeetings,
        pub webhooks: MockWebexWebhooks,
        pub oauth: MockOAuthProvider,
        pub tokens: MockTokenStore,
        pub web_auth: MockWebAuthStore,
        pub leases: MockLeases,
        pub polls: MockMeetingPolls,
        pub access: MockAccessStore,
        pub events: EventsMode,
        pub meeting_role: crate::domain::access::MeetingRole,
    }

    impl Mocks {
        pub fn new() -> Self {
            Self {
                tasks: MockTaskRepository::new(),
                inbox: MockInbox::new(),
                scheduler: MockScheduler::new(),
                messaging: MockWebexMessaging::new(),
                meetings: MockWebexMeetings::new(),
                webhooks: MockWebexWebhooks::new(),
                oauth: MockOAuthProvider::new(),
                tokens: MockTokenStore::new(),
                web_auth: MockWebAuthStore::new(),
                leases: MockLeases::new(),
                polls: MockMeetingPolls::new(),
                access: MockAccessStore::new(),
                events: EventsMode::Webhooks,
                meeting_role: crate::domain::access::MeetingRole::Everyone,
            }
        }

        /// An App whose bot identity is already known (no `me()` call expected).
        pub fn app(self) -> App {
            let mut clock = MockClock::new();
            clock.expect_now().returning(now);
            let app = App::new(
                Ports {
                    tasks: Arc::new(self.tasks),
                    inbox: Arc::new(self.inbox),
                    scheduler: Arc::new(self.scheduler),
                    messaging: Arc::new(self.messaging),
                    meetings: Arc::new(self.meetings),
                    webhooks: Arc::new(self.webhooks),
                    oauth: Arc::new(self.oauth),
                    tokens: Arc::new(self.tokens),
                    web_auth: Arc::new(self.web_auth),
                    leases: Arc::new(self.leases),
                    polls: Arc::new(self.polls),
                    access: Arc::new(self.access),
                    clock: Arc::new(clock),
                    metrics: Arc::new(crate::ports::NoMetrics),
                },
                AppSettings {
                    public_url: PUBLIC_URL.into(),
                    webhook_secret: Some(SecretString::from(SECRET.to_owned())),
                    meeting_lag_step: std::time::Duration::from_secs(15),
                    rate_limit: Some(crate::domain::rate::RatePolicy {
                        per_minute: 30,
                        burst: 3,
                        backlog: 5,
                    }),
                    meet_now: true,
                    events: self.events,
                    meetings_poll: std::time::Duration::from_secs(60),
                    allow: crate::domain::access::AllowList::default(),
                    admins: vec![ADMIN_EMAIL.into()],
                    meeting_role: self.meeting_role,
                },
            );
            app.bot
                .set(BotIdentity {
                    id: BOT_ID.into(),
                    display_name: "Botper".into(),
                    email: Some("botper@webex.bot".into()),
                })
                .unwrap();
            app
        }
    }
}
