//! What the edge must know about failures. User mistakes are replies, not errors.

use std::time::Duration;

use crate::ports::{InboxError, StoreError, WebexError};

/// A failure of the system (never of the person's input).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A dependency is down; the caller should answer 503 and may try again.
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    /// Webex failed in a way worth retrying (5xx, timeouts, rate limits).
    #[error(transparent)]
    Webex(WebexError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => AppError::Unavailable("the database"),
            StoreError::Sealed => AppError::Unexpected(StoreError::Sealed.into()),
            StoreError::Unexpected(e) => AppError::Unexpected(e),
        }
    }
}

impl From<InboxError> for AppError {
    fn from(e: InboxError) -> Self {
        match e {
            InboxError::Unavailable(_) => AppError::Unavailable("the database"),
            other => AppError::Unexpected(other.into()),
        }
    }
}

/// How long an item whose create was ambiguous waits before it looks again.
pub const AMBIGUOUS_SETTLE: Duration = Duration::from_secs(20);

/// Why processing an inbox item failed, and whether trying again may help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProcessError {
    pub message: String,
    pub transient: bool,
    /// How long Webex asked us to wait, when it did.
    pub retry_after: Option<Duration>,
}

impl ProcessError {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: false,
            retry_after: None,
        }
    }
}

impl From<WebexError> for ProcessError {
    fn from(e: WebexError) -> Self {
        let retry_after = match &e {
            WebexError::RateLimited { retry_after } => *retry_after,
            // Give Webex's lists time to show what an ambiguous create may have made, so
            // the retry's lookup finds it.
            WebexError::Ambiguous(_) => Some(AMBIGUOUS_SETTLE),
            _ => None,
        };
        Self {
            transient: e.is_transient(),
            message: format!("Webex: {e}"),
            retry_after,
        }
    }
}

impl From<StoreError> for ProcessError {
    fn from(e: StoreError) -> Self {
        // Database trouble is always worth another try: the data is still in the inbox.
        Self {
            message: format!("store: {e:#}"),
            transient: true,
            retry_after: None,
        }
    }
}

impl From<AppError> for ProcessError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Webex(w) => w.into(),
            other => Self {
                message: format!("{other:#}"),
                transient: true,
                retry_after: None,
            },
        }
    }
}
