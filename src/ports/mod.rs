//! The capabilities the core needs, as traits it owns. Adapters implement them; the app only
//! ever holds `Arc<dyn Port>`.
//!
//! Conventions: every port is `Send + Sync`; async ports use `async_trait` with
//! `#[cfg_attr(test, mockall::automock)]` placed *before* it; signatures use domain and port
//! types only (no HTTP or database types); each port documents its error contract.

pub mod access;
pub mod clock;
pub mod events;
pub mod grants;
pub mod inbox;
pub mod meetings;
pub mod messaging;
pub mod metrics;
pub mod oauth;
pub mod scheduler;
pub mod tasks;
pub mod webhooks;

pub use access::{AccessStore, AuditEntry, Forgotten, PeopleStats, RoleGrant};
pub use clock::{Clock, SystemClock};
pub use events::{EVENTS_LEASE, Leases, MeetingPolls};
pub use grants::{GrantSummary, RefreshClaim, TokenStore, WebAuthStore, WebSession};
pub use inbox::{
    DeadLetter, DedupKey, Enqueued, Inbox, InboxError, InboxId, InboxItem, InboxStats, NewDelivery,
    Pacing, WebexEvent,
};
pub use meetings::{AdhocDraft, Meeting, MeetingDraft, WebexMeetings};
pub use messaging::{
    Attachment, BotIdentity, CardSubmission, Destination, IncomingMessage, RoomType, WebexError,
    WebexMessaging,
};
pub use metrics::{Metrics, NoMetrics};
pub use oauth::{Identity, OAuthError, OAuthProvider};
pub use scheduler::{JobKind, Scheduler, SchedulerStats};
pub use tasks::{IdempotencyKey, PersonSettings, StoreError, TaskRepository};
pub use webhooks::{NewWebhook, WebexWebhooks, Webhook};
