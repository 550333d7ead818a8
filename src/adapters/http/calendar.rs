//! `GET /calendar/<token>.ics`: a person's calendar feed, for calendar apps to subscribe to.
//! The token is the only credential: no cookie, and never logged (see `logged_path`).

use sha2::Digest;
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};

use super::{Shared, json_status};

/// The path as the request log shows it: a feed address is a secret.
pub(crate) fn logged_path(path: &str) -> &str {
    if path.starts_with("/calendar/") {
        "/calendar/<token>.ics"
    } else {
        path
    }
}

pub(crate) async fn feed(file: String, if_none_match: Option<String>, shared: Shared) -> Response {
    let Some(token) = file.strip_suffix(".ics") else {
        return json_status(StatusCode::NOT_FOUND, "not found");
    };
    let body = match shared.app.calendar_feed(token).await {
        Ok(Some(body)) => body,
        Ok(None) => return json_status(StatusCode::NOT_FOUND, "not found"),
        Err(e) => {
            tracing::warn!(error = %e, "calendar feed unavailable");
            return json_status(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    };
    let etag = format!(
        "\"{}\"",
        &hex::encode(sha2::Sha256::digest(body.as_bytes()))[..32]
    );
    let matched = if_none_match.is_some_and(|v| {
        v.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    });
    let mut r = if matched {
        warp::reply::with_status("", StatusCode::NOT_MODIFIED).into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            "text/calendar; charset=utf-8".parse().expect("static"),
        );
        r.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            "inline; filename=\"botper.ics\"".parse().expect("static"),
        );
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = etag.parse() {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        "private, no-cache".parse().expect("static"),
    );
    h.insert(
        header::REFERRER_POLICY,
        "no-referrer".parse().expect("static"),
    );
    r
}
