//! Webex webhook registrations (`/webhooks`), with whichever token owns them.

use async_trait::async_trait;

use crate::domain::grant::AccessToken;

use super::WebexError;

#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub target_url: String,
    pub resource: String,
    pub event: String,
    pub filter: Option<String>,
    /// `active` or `inactive`.
    pub status: String,
    /// Webex returns the secret to the owner; used to tell whether it is current.
    pub secret: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub name: String,
    pub target_url: String,
    pub resource: String,
    pub event: String,
    pub secret: String,
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait WebexWebhooks: Send + Sync {
    /// The token owner's webhooks (all pages).
    ///
    /// # Errors
    /// `Unauthorized` for a bad token; transient errors otherwise.
    async fn list(&self, token: AccessToken) -> Result<Vec<Webhook>, WebexError>;

    /// `POST /webhooks`.
    ///
    /// # Errors
    /// `Rejected` when Webex refuses (missing scope, bad target URL).
    async fn create(&self, token: AccessToken, hook: NewWebhook) -> Result<Webhook, WebexError>;

    /// `PUT /webhooks/{id}` with name, target URL and secret, and `status: active`.
    ///
    /// # Errors
    /// `NotFound` when the webhook is gone.
    async fn reactivate(
        &self,
        token: AccessToken,
        id: String,
        hook: NewWebhook,
    ) -> Result<Webhook, WebexError>;

    /// `DELETE /webhooks/{id}`.
    ///
    /// # Errors
    /// `NotFound` when it is already gone.
    async fn delete(&self, token: AccessToken, id: String) -> Result<(), WebexError>;
}

// Hand-written so that a webhook's secret never reaches a log through `{:?}`.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("target_url", &self.target_url)
            .field("resource", &self.resource)
            .field("event", &self.event)
            .field("status", &self.status)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .finish()
    }
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("name", &self.name)
            .field("target_url", &self.target_url)
            .field("resource", &self.resource)
            .field("event", &self.event)
            .field("secret", &"***")
            .finish()
    }
}
