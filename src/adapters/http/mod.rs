//! HTTP ingress (warp): the webhook endpoint, health checks and the web pages. The only
//! module that knows warp.

mod calendar;
mod pages;
pub mod signature;
mod webhook;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use secrecy::SecretString;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::adapters::metrics::PromMetrics;
use crate::app::App;

/// Largest webhook body accepted.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// What the HTTP edge needs besides the use cases.
#[derive(Clone)]
pub struct HttpSettings {
    pub webhook_secret: Option<SecretString>,
    pub bot_token_configured: bool,
    pub oauth_configured: bool,
    /// Mark cookies `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Serves `/metrics` when present.
    pub exporter: Option<Arc<PromMetrics>>,
}

/// What every route reads. One reference count: warp clones its whole filter tree, and
/// each route's copy of this, for every request.
pub(crate) type Shared = Arc<SharedParts>;

pub(crate) struct SharedParts {
    pub app: App,
    pub settings: Arc<HttpSettings>,
}

/// Every route, with request tracing and one rejection handler.
pub fn routes(
    app: App,
    settings: HttpSettings,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let shared: Shared = Arc::new(SharedParts {
        app,
        settings: Arc::new(settings),
    });
    let with = warp::any().map(move || shared.clone());

    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::with_status("ok", StatusCode::OK));
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with.clone())
        .then(|s: Shared| async move {
            if s.app.ready().await {
                warp::reply::with_status("ready", StatusCode::OK)
            } else {
                warp::reply::with_status("database unavailable", StatusCode::SERVICE_UNAVAILABLE)
            }
        });
    let webhook = warp::path!("webex" / "webhook")
        .and(warp::post())
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::header::optional::<String>("x-spark-signature"))
        .and(warp::body::stream())
        .and(with.clone())
        .then(webhook::receive);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with.clone())
        .then(|s: Shared| async move {
            match &s.settings.exporter {
                Some(e) => {
                    let stats = s.app.inbox().stats().await.ok();
                    warp::reply::with_header(
                        e.render(stats),
                        "content-type",
                        "text/plain; version=0.0.4; charset=utf-8",
                    )
                    .into_response()
                }
                None => json_status(StatusCode::NOT_FOUND, "metrics are off"),
            }
        });
    let index = warp::path::end()
        .and(warp::get())
        .and(warp::cookie::optional::<String>(pages::SESSION_COOKIE))
        .and(with.clone())
        .then(pages::index);
    let login = warp::path!("auth" / "webex" / "login")
        .and(warp::get())
        .and(warp::cookie::optional::<String>(pages::BROWSER_COOKIE))
        .and(with.clone())
        .then(pages::login);
    let callback = warp::path!("auth" / "webex" / "callback")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::cookie::optional::<String>(pages::BROWSER_COOKIE))
        .and(with.clone())
        .then(pages::callback);
    let test_meeting = warp::path!("meetings" / "test")
        .and(warp::post())
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::form::<HashMap<String, String>>())
        .and(warp::cookie::optional::<String>(pages::SESSION_COOKIE))
        .and(with.clone())
        .then(pages::test_meeting);
    let disconnect = warp::path!("disconnect")
        .and(warp::post())
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::form::<HashMap<String, String>>())
        .and(warp::cookie::optional::<String>(pages::SESSION_COOKIE))
        .and(with.clone())
        .then(pages::disconnect);
    let export = warp::path("export.json")
        .map(|| "export.json".to_owned())
        .or(warp::path("export.csv").map(|| "export.csv".to_owned()))
        .unify()
        .and(warp::path::end())
        .and(warp::get())
        .and(warp::cookie::optional::<String>(pages::SESSION_COOKIE))
        .and(with.clone())
        .then(pages::export);
    let calendar = warp::path!("calendar" / String)
        .and(warp::get())
        .and(warp::header::optional::<String>("if-none-match"))
        .and(with.clone())
        .then(calendar::feed);

    healthz
        .or(readyz)
        .or(metrics)
        .or(webhook)
        .or(index)
        .or(login)
        .or(callback)
        .or(test_meeting)
        .or(disconnect)
        .or(calendar)
        .or(export)
        .with(warp::trace(|info| {
            tracing::info_span!("http", method = %info.method(), path = %calendar::logged_path(info.path()))
        }))
        .recover(handle_rejection)
}

async fn handle_rejection(r: Rejection) -> Result<impl Reply, Infallible> {
    let (status, message) = if r.is_not_found() {
        (StatusCode::NOT_FOUND, "not found")
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else if r.find::<warp::reject::InvalidHeader>().is_some() {
        (StatusCode::BAD_REQUEST, "invalid header")
    } else {
        tracing::debug!(rejection = ?r, "request rejected");
        (StatusCode::BAD_REQUEST, "bad request")
    };
    Ok(json_status(status, message))
}

pub(crate) fn json_status(status: StatusCode, message: &str) -> warp::reply::Response {
    warp::reply::with_status(
        warp::reply::json(&serde_json::json!({ "status": status.as_u16(), "message": message })),
        status,
    )
    .into_response()
}
