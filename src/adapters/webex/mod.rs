//! Webex over HTTP (reqwest). One transport, [`WebexHttp`], carries every call — messaging,
//! meetings and OAuth — so there is one place for the base URL, timeouts, the retry policy
//! and error mapping.

mod dto;
mod meetings;
mod messaging;
mod oauth;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub(crate) use dto::{DeliveryEnvelope, EnvelopeError};
pub use meetings::WebexMeetingsClient;
pub use messaging::WebexMessagingClient;
pub use oauth::{OAuthSettings, WebexOAuthClient};
pub use webhooks::WebexWebhooksClient;

use crate::ports::{Metrics, NoMetrics, WebexError};

/// How Webex calls are retried: 429 and 423 honour `Retry-After` (capped); 5xx, timeouts and
/// connection errors back off exponentially with full jitter; other 4xx are final.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited out in line: the call fails with
    /// `RateLimited` and the caller reschedules the work.
    pub max_retry_after: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        let ms = cap.as_millis().max(1) as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }
}

/// The shared Webex transport.
#[derive(Clone)]
pub struct WebexHttp {
    client: reqwest::Client,
    base: Url,
    policy: RetryPolicy,
    metrics: Arc<dyn Metrics>,
}

impl WebexHttp {
    /// `base` is `WEBEX_API_BASE_URL`, e.g. `https://webexapis.com/v1`.
    pub fn new(base: &Url, policy: RetryPolicy) -> anyhow::Result<Self> {
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .user_agent(concat!("botper/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            client,
            base,
            policy,
            metrics: Arc::new(NoMetrics),
        })
    }

    /// Records every call's latency and final status.
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// `path` is relative to the base URL ("messages", "people/me").
    pub fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| self.base.clone())
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request to an absolute URL (a pagination link) with the bearer token.
    pub fn request_url(&self, method: Method, url: &str, token: &SecretString) -> RequestBuilder {
        self.client.request(method, url).header(
            header::AUTHORIZATION,
            format!("Bearer {}", token.expose_secret()),
        )
    }

    pub fn authed(&self, method: Method, path: &str, token: &SecretString) -> RequestBuilder {
        self.request(method, path).header(
            header::AUTHORIZATION,
            format!("Bearer {}", token.expose_secret()),
        )
    }

    /// Sends the request built by `build` (called once per attempt) under the retry policy.
    /// Returns the first 2xx response; every failure maps to a [`WebexError`].
    pub async fn send(
        &self,
        endpoint: &'static str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, WebexError> {
        let resp = self.send_raw(endpoint, build).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let failure = read_failure(resp).await;
        Err(match status {
            StatusCode::UNAUTHORIZED => WebexError::Unauthorized,
            StatusCode::NOT_FOUND => WebexError::NotFound,
            s => WebexError::Rejected {
                status: s.as_u16(),
                message: failure.message,
                tracking_id: failure.tracking_id,
            },
        })
    }

    /// Like [`WebexHttp::send`], but a final 4xx (other than 429/423) is returned to the
    /// caller as a response, for endpoints whose errors need their own reading (OAuth).
    pub async fn send_raw(
        &self,
        endpoint: &'static str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, WebexError> {
        self.send_observed(endpoint, build, true).await
    }

    /// Like [`WebexHttp::send_raw`] for a request that must not reach Webex twice (spending
    /// a refresh token or an authorization code): it is re-sent only when it was certainly
    /// not processed (the connection was never made, or Webex answered 429/423).
    pub async fn send_at_most_once(
        &self,
        endpoint: &'static str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, WebexError> {
        self.send_observed(endpoint, build, false).await
    }

    async fn send_observed(
        &self,
        endpoint: &'static str,
        build: impl Fn() -> RequestBuilder,
        resend_after_sent: bool,
    ) -> Result<Response, WebexError> {
        let started = std::time::Instant::now();
        let result = self
            .send_raw_inner(endpoint, build, resend_after_sent)
            .await;
        let status = match &result {
            Ok(r) => r.status().as_u16(),
            Err(WebexError::RateLimited { .. }) => 429,
            Err(_) => 0,
        };
        self.metrics
            .webex_call(endpoint, status, started.elapsed().as_secs_f64());
        result
    }

    async fn send_raw_inner(
        &self,
        endpoint: &'static str,
        build: impl Fn() -> RequestBuilder,
        resend_after_sent: bool,
    ) -> Result<Response, WebexError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.policy.max_attempts;
            let wait = match build().send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::LOCKED
                        || status.is_server_error();
                    if !retryable {
                        let tracking = resp
                            .headers()
                            .get("trackingid")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_owned();
                        tracing::warn!(endpoint, status = status.as_u16(), tracking_id = %tracking, attempt, "Webex refused the call");
                        return Ok(resp);
                    }
                    let retry_after = retry_after(&resp);
                    let failure = read_failure(resp).await;
                    tracing::warn!(
                        endpoint,
                        status = status.as_u16(),
                        tracking_id = failure.tracking_id.as_deref().unwrap_or("-"),
                        attempt,
                        message = %failure.message,
                        "Webex call failed"
                    );
                    if status.is_server_error() {
                        if last || !resend_after_sent {
                            return Err(WebexError::Unavailable(format!(
                                "{endpoint} answered {}",
                                status.as_u16()
                            )));
                        }
                        self.policy.backoff(attempt)
                    } else {
                        match retry_after {
                            Some(d) if d > self.policy.max_retry_after => {
                                return Err(WebexError::RateLimited {
                                    retry_after: Some(d),
                                });
                            }
                            _ if last => return Err(WebexError::RateLimited { retry_after }),
                            Some(d) => d,
                            None => self.policy.backoff(attempt),
                        }
                    }
                }
                Err(e) => {
                    // reqwest's error text carries the URL, never headers: no token.
                    let unsent = e.is_connect();
                    let why = if e.is_timeout() {
                        "timed out"
                    } else if unsent {
                        "connection failed"
                    } else {
                        "request failed"
                    };
                    tracing::warn!(endpoint, attempt, error = %e.without_url(), "Webex call {why}");
                    if last || (!resend_after_sent && !unsent) {
                        return Err(WebexError::Unavailable(format!("{endpoint} {why}")));
                    }
                    self.policy.backoff(attempt)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// What a refused call said: Webex's message and tracking id.
pub(crate) struct Failure {
    pub message: String,
    pub tracking_id: Option<String>,
    pub oauth_error: Option<String>,
}

/// Decodes a 2xx body, mapping a body that is not what Webex documents to `Unexpected`.
pub(crate) async fn json<T: serde::de::DeserializeOwned>(
    endpoint: &'static str,
    resp: Response,
) -> Result<T, WebexError> {
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| WebexError::Unavailable(format!("{endpoint} body: {}", e.without_url())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| WebexError::Unexpected(anyhow::anyhow!("{endpoint} answered with {e}")))
}

fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

pub(crate) async fn read_failure(resp: Response) -> Failure {
    let header_tracking = resp
        .headers()
        .get("trackingid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    let parsed: Option<dto::ErrorBody> = serde_json::from_slice(&body).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.best_message())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    Failure {
        message: dto::clip(&message, 300),
        oauth_error: parsed.as_ref().and_then(|b| b.oauth_error()),
        tracking_id: parsed.and_then(|b| b.tracking_id).or(header_tracking),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_keeps_its_path() {
        let http = WebexHttp::new(
            &Url::parse("https://webexapis.com/v1").unwrap(),
            RetryPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            http.url("messages").as_str(),
            "https://webexapis.com/v1/messages"
        );
        assert_eq!(
            http.url("/people/me").as_str(),
            "https://webexapis.com/v1/people/me"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for _ in 0..50 {
            let d1 = p.backoff(1);
            assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(200));
            let d10 = p.backoff(10);
            assert!(d10 <= Duration::from_secs(5) && d10 >= Duration::from_millis(2500));
        }
    }
}
