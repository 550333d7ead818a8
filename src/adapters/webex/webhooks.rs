//! `WebexWebhooks`: list (following `Link: rel="next"`), create, reactivate, delete.

use async_trait::async_trait;
use reqwest::{Method, header};

use super::dto::{ItemsDto, WebhookBody, WebhookDto};
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

/// The `rel="next"` target of a `Link` header.
pub(crate) fn next_link(resp: &reqwest::Response) -> Option<String> {
    next_in(resp.headers().get(header::LINK)?.to_str().ok()?)
}

fn next_in(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().trim_matches('"') == "rel=next" || p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

#[async_trait]
impl WebexWebhooks for WebexWebhooksClient {
    #[tracing::instrument(name = "webex.list_webhooks", skip_all)]
    async fn list(&self, token: AccessToken) -> Result<Vec<Webhook>, WebexError> {
        let token = bearer(&token);
        let mut out = Vec::new();
        let mut url = self.http.url("webhooks?max=100").to_string();
        for _ in 0..50 {
            let resp = self
                .http
                .send("GET /webhooks", Repeat::Safe, || {
                    self.http.request_url(Method::GET, &url, &token)
                })
                .await?;
            let next = next_link(&resp);
            let page: ItemsDto<WebhookDto> = json("GET /webhooks", resp).await?;
            out.extend(page.items.into_iter().map(Webhook::from));
            // Only follow links under our own base URL: the token goes with the request.
            match next.filter(|n| n.starts_with(self.http.url("").as_str())) {
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(out)
    }

    #[tracing::instrument(name = "webex.create_webhook", skip_all)]
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

    #[tracing::instrument(name = "webex.update_webhook", skip_all)]
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

    #[tracing::instrument(name = "webex.delete_webhook", skip_all)]
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

#[cfg(test)]
mod tests {
    #[test]
    fn link_header_next_is_found() {
        let link = r#"<https://webexapis.com/v1/webhooks?max=100&cursor=abc>; rel="next", <https://webexapis.com/v1/webhooks?max=100>; rel="first""#;
        assert_eq!(
            super::next_in(link).as_deref(),
            Some("https://webexapis.com/v1/webhooks?max=100&cursor=abc")
        );
        assert_eq!(super::next_in(r#"<https://x/y>; rel="prev""#), None);
    }
}
