//! `WebexWebhooks`: list (following `Link: rel="next"`), create, reactivate, delete.

use async_trait::async_trait;
use reqwest::Method;

use super::dto::{WebhookBody, WebhookDto};
use super::meetings::bearer;
use super::messaging::urlencode;
use super::{Repeat, WebexHttp, json};
use crate::domain::grant::AccessToken;
use crate::ports::{NewWebhook, WebexError, WebexWebhooks, Webhook};

#[derive(Clone)]
pub struct WebexWebhooksClient {
    http: WebexHttp,
}

impl WebexWebhooksClient {
    pub fn new(http: WebexHttp) -> Self {
        Self { http }
    }
}

#[async_trait]
impl WebexWebhooks for WebexWebhooksClient {
    #[tracing::instrument(level = "debug", name = "webex.list_webhooks", skip_all)]
    async fn list(&self, token: AccessToken) -> Result<Vec<Webhook>, WebexError> {
        let token = bearer(&token);
        let first = self.http.url("webhooks?max=100").to_string();
        let all: Vec<WebhookDto> = self
            .http
            .get_pages("GET /webhooks", first, &token, 50)
            .await?;
        Ok(all.into_iter().map(Webhook::from).collect())
    }

    #[tracing::instrument(level = "debug", name = "webex.create_webhook", skip_all)]
    async fn create(&self, token: AccessToken, h: NewWebhook) -> Result<Webhook, WebexError> {
        let token = bearer(&token);
        let body = WebhookBody {
            name: &h.name,
            target_url: &h.target_url,
            resource: Some(&h.resource),
            event: Some(&h.event),
            secret: &h.secret,
            status: None,
        };
        let resp = self
            .http
            .send("POST /webhooks", Repeat::OnlyIfUnprocessed, || {
                self.http
                    .authed(Method::POST, "webhooks", &token)
                    .json(&body)
            })
            .await?;
        Ok(json::<WebhookDto>("POST /webhooks", resp).await?.into())
    }

    #[tracing::instrument(level = "debug", name = "webex.update_webhook", skip_all)]
    async fn reactivate(
        &self,
        token: AccessToken,
        id: String,
        h: NewWebhook,
    ) -> Result<Webhook, WebexError> {
        let token = bearer(&token);
        let path = format!("webhooks/{}", urlencode(&id));
        let body = WebhookBody {
            name: &h.name,
            target_url: &h.target_url,
            resource: None,
            event: None,
            secret: &h.secret,
            status: Some("active"),
        };
        let resp = self
            .http
            .send("PUT /webhooks/{id}", Repeat::Safe, || {
                self.http.authed(Method::PUT, &path, &token).json(&body)
            })
            .await?;
        Ok(json::<WebhookDto>("PUT /webhooks/{id}", resp).await?.into())
    }

    #[tracing::instrument(level = "debug", name = "webex.delete_webhook", skip_all)]
    async fn delete(&self, token: AccessToken, id: String) -> Result<(), WebexError> {
        let token = bearer(&token);
        let path = format!("webhooks/{}", urlencode(&id));
        self.http
            .send("DELETE /webhooks/{id}", Repeat::Safe, || {
                self.http.authed(Method::DELETE, &path, &token)
            })
            .await?;
        Ok(())
    }
}
