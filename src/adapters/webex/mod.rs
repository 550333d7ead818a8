//! Webex over HTTP (reqwest). One transport, [`WebexHttp`], carries every call — messaging,
//! meetings and OAuth — so there is one place for the base URL, timeouts, the retry policy
//! and error mapping.

mod dto;
mod meetings;
mod messaging;
mod oauth;
pub mod socket;
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
pub use oauth::{OAuthSettings, WebexOAuthClient, scopes as oauth_scopes};
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

/// Whether Webex may see a request twice: said at every call site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, updates, deletes: re-sending after any transient failure is harmless.
    Safe,
    /// Creates (a meeting, a message, a webhook) and token grants: re-sent only when Webex
    /// provably did nothing (the connection was never made, 429, 423, or 503 with
    /// `Retry-After`). Any other failure is [`WebexError::Ambiguous`]: the caller resolves
    /// it by a lookup, never by a blind re-send.
    OnlyIfUnprocessed,
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
    /// Returns the first 2xx response; every failure maps to a [`WebexError`]. `repeat`
    /// says whether Webex may see the request twice.
    pub async fn send(
        &self,
        endpoint: &'static str,
        repeat: Repeat,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, WebexError> {
        let resp = self.send_raw(endpoint, repeat, build).await?;
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

    /// `GET first` and the pages its `Link: rel="next"` headers lead to (at most
    /// `max_pages`), every page's `items` in order. Only links under our own base URL are
    /// followed: the token goes with the request.
    ///
    /// # Errors
    /// As for [`WebexHttp::send`], and `Unexpected` for a page that is not `{"items": …}`.
    pub(crate) async fn get_pages<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        first: String,
        token: &SecretString,
        max_pages: usize,
    ) -> Result<Vec<T>, WebexError> {
        let mut url = first;
        let mut out = Vec::new();
        for _ in 0..max_pages {
            let resp = self
                .send(endpoint, Repeat::Safe, || {
                    self.request_url(Method::GET, &url, token)
                })
                .await?;
            let next = next_link(&resp);
            let page: dto::ItemsDto<T> = json(endpoint, resp).await?;
            out.extend(page.items);
            match next.filter(|n| n.starts_with(self.url("").as_str())) {
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(out)
    }

    /// Like [`WebexHttp::send`], but a final 4xx (other than 429/423) is returned to the
    /// caller as a response, for endpoints whose errors need their own reading (OAuth).
    pub async fn send_raw(
        &self,
        endpoint: &'static str,
        repeat: Repeat,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, WebexError> {
        let started = std::time::Instant::now();
        let result = self.send_raw_inner(endpoint, build, repeat).await;
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
        repeat: Repeat,
    ) -> Result<Response, WebexError> {
        let resend_after_sent = repeat == Repeat::Safe;
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
                    // A 503 with Retry-After says Webex did not take the request on.
                    let refused_for_now =
                        status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some();
                    if status.is_server_error() && !refused_for_now {
                        if !resend_after_sent {
                            return Err(WebexError::Ambiguous(format!(
                                "{endpoint} answered {}",
                                status.as_u16()
                            )));
                        }
                        if last {
                            return Err(WebexError::Unavailable(format!(
                                "{endpoint} answered {}",
                                status.as_u16()
                            )));
                        }
                        self.policy.backoff(attempt)
                    } else if status.is_server_error() {
                        match retry_after {
                            Some(d) if !last && d <= self.policy.max_retry_after => d,
                            _ => {
                                return Err(WebexError::Unavailable(format!(
                                    "{endpoint} answered {}",
                                    status.as_u16()
                                )));
                            }
                        }
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
                    if !resend_after_sent && !unsent {
                        // The request may have reached Webex and been applied.
                        return Err(WebexError::Ambiguous(format!("{endpoint} {why}")));
                    }
                    if last {
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

/// The `rel="next"` target of a `Link` header.
fn next_link(resp: &Response) -> Option<String> {
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
    fn link_header_next_is_found() {
        let link = r#"<https://webexapis.com/v1/webhooks?max=100&cursor=abc>; rel="next", <https://webexapis.com/v1/webhooks?max=100>; rel="first""#;
        assert_eq!(
            next_in(link).as_deref(),
            Some("https://webexapis.com/v1/webhooks?max=100&cursor=abc")
        );
        assert_eq!(next_in(r#"<https://x/y>; rel="prev""#), None);
    }

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

    /// A server that answers with `script` (status, Retry-After), one per request, then 200.
    async fn scripted(
        script: Vec<(u16, Option<&'static str>)>,
    ) -> (Url, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use warp::Filter;
        let hits = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let script = std::sync::Arc::new(script);
        let route = warp::any().map(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let (status, retry_after) = script.get(n).copied().unwrap_or((200, None));
            let mut r = warp::http::Response::builder().status(status);
            if let Some(v) = retry_after {
                r = r.header("retry-after", v);
            }
            r.body("{\"id\":\"x\"}".to_owned()).unwrap()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        (Url::parse(&format!("http://{addr}/v1")).unwrap(), hits)
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        }
    }

    async fn call(base: &Url, repeat: Repeat) -> Result<Response, WebexError> {
        let http = WebexHttp::new(base, quick()).unwrap();
        http.send("POST /things", repeat, || {
            http.request(Method::POST, "things")
        })
        .await
    }

    #[tokio::test]
    async fn a_create_is_never_re_sent_after_a_5xx_but_a_read_is() {
        use std::sync::atomic::Ordering;
        let (base, hits) = scripted(vec![(502, None)]).await;
        let e = call(&base, Repeat::OnlyIfUnprocessed).await.unwrap_err();
        assert!(matches!(e, WebexError::Ambiguous(_)), "{e:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        let (base, hits) = scripted(vec![(502, None)]).await;
        call(&base, Repeat::Safe).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_create_is_re_sent_when_webex_provably_did_nothing() {
        use std::sync::atomic::Ordering;
        let (base, hits) =
            scripted(vec![(429, Some("0")), (423, Some("0")), (503, Some("0"))]).await;
        call(&base, Repeat::OnlyIfUnprocessed).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 4);

        // A 503 without Retry-After may have been applied.
        let (base, hits) = scripted(vec![(503, None)]).await;
        let e = call(&base, Repeat::OnlyIfUnprocessed).await.unwrap_err();
        assert!(matches!(e, WebexError::Ambiguous(_)), "{e:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        // Nothing listens: the request never left, so it is retried and then unavailable.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let base = Url::parse(&format!("http://127.0.0.1:{port}/v1")).unwrap();
        let e = call(&base, Repeat::OnlyIfUnprocessed).await.unwrap_err();
        assert!(matches!(e, WebexError::Unavailable(_)), "{e:?}");
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
