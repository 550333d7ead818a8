//! Use cases: orchestration of ports and domain rules. Nothing here names an adapter.
//!
//! [`App`] holds every port as `Arc<dyn Port>`; it is cheap to clone into HTTP handlers,
//! workers and the console.

mod commands;
mod error;
mod ingress;
pub mod worker;

use std::sync::Arc;

use tokio::sync::{Notify, OnceCell};

pub use error::{AppError, ProcessError};
pub use ingress::Receipt;

use crate::ports::{BotIdentity, Clock, Inbox, TaskRepository, WebexError, WebexMessaging};

/// The ports the use cases need.
pub struct Ports {
    pub tasks: Arc<dyn TaskRepository>,
    pub inbox: Arc<dyn Inbox>,
    pub messaging: Arc<dyn WebexMessaging>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Clone)]
pub struct App {
    tasks: Arc<dyn TaskRepository>,
    inbox: Arc<dyn Inbox>,
    messaging: Arc<dyn WebexMessaging>,
    clock: Arc<dyn Clock>,
    bot: Arc<OnceCell<BotIdentity>>,
    /// Wakes idle workers when a delivery was stored by this process.
    work: Arc<Notify>,
}

impl App {
    pub fn new(p: Ports) -> Self {
        Self {
            tasks: p.tasks,
            inbox: p.inbox,
            messaging: p.messaging,
            clock: p.clock,
            bot: Arc::new(OnceCell::new()),
            work: Arc::new(Notify::new()),
        }
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
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders for app contract tests: real domain, mocked ports.
    use super::*;
    use crate::ports::clock::MockClock;
    use crate::ports::inbox::MockInbox;
    use crate::ports::messaging::MockWebexMessaging;
    use crate::ports::tasks::MockTaskRepository;
    use jiff::Timestamp;

    pub const BOT_ID: &str = "bot-1";

    pub fn now() -> Timestamp {
        "2026-11-29T12:00:00Z".parse().unwrap()
    }

    pub struct Mocks {
        pub tasks: MockTaskRepository,
        pub inbox: MockInbox,
        pub messaging: MockWebexMessaging,
    }

    impl Mocks {
        pub fn new() -> Self {
            Self {
                tasks: MockTaskRepository::new(),
                inbox: MockInbox::new(),
                messaging: MockWebexMessaging::new(),
            }
        }

        /// An App whose bot identity is already known (no `me()` call expected).
        pub fn app(self) -> App {
            let mut clock = MockClock::new();
            clock.expect_now().returning(now);
            let app = App::new(Ports {
                tasks: Arc::new(self.tasks),
                inbox: Arc::new(self.inbox),
                messaging: Arc::new(self.messaging),
                clock: Arc::new(clock),
            });
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
