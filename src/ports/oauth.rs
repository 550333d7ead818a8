//! The Webex OAuth provider: the authorize URL, the token endpoint, and who a token belongs
//! to.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::domain::PersonId;
use crate::domain::grant::{AccessToken, RefreshToken, TokenSet};

/// The person a fresh access token belongs to (`GET /people/me`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: PersonId,
    pub display_name: String,
    pub email: Option<String>,
    pub timezone: Option<String>,
    /// The person's Webex organisation (`orgId`), for the allow-list.
    pub org_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The code or refresh token is invalid, expired or already used: the person must
    /// authorize again.
    #[error("Webex refused the grant: {0}")]
    InvalidGrant(String),
    /// Any other refusal by Webex (`invalid_client`, `invalid_request`, …), with its words
    /// and, when the body had one, the OAuth `error` code. The grant itself may be fine.
    #[error("Webex refused ({status}{}): {message}", error.as_deref().map(|e| format!(", {e}")).unwrap_or_default())]
    Rejected {
        status: u16,
        error: Option<String>,
        message: String,
    },
    /// The integration's client id or secret is not configured.
    #[error("OAuth is not configured: {0}")]
    NotConfigured(&'static str),
    #[error("Webex is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl OAuthError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait OAuthProvider: Send + Sync {
    /// Where to send the browser: `{base}/authorize?client_id&response_type=code&…&state`.
    ///
    /// # Errors
    /// `NotConfigured` without a client id.
    fn authorize_url(&self, state: &str) -> Result<String, OAuthError>;

    /// Exchanges an authorization code (`grant_type=authorization_code`).
    ///
    /// # Errors
    /// `InvalidGrant` for a bad or used code; `Rejected` for other refusals.
    async fn exchange_code(&self, code: String, now: Timestamp) -> Result<TokenSet, OAuthError>;

    /// Spends a refresh token (`grant_type=refresh_token`).
    ///
    /// # Errors
    /// `InvalidGrant` when the refresh token is no longer valid.
    async fn refresh(&self, token: RefreshToken, now: Timestamp) -> Result<TokenSet, OAuthError>;

    /// `GET /people/me` with the new access token.
    ///
    /// # Errors
    /// `Rejected`/`Unavailable` as for the other calls.
    async fn whoami(&self, token: AccessToken) -> Result<Identity, OAuthError>;
}
