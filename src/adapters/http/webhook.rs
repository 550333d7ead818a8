//! `POST /webex/webhook`: size limit, signature, envelope, then the durable inbox. The 2xx
//! goes back only once the delivery is stored.

use futures_util::{Stream, StreamExt};
use warp::Buf;
use warp::http::StatusCode;
use warp::reply::Response;

use super::signature::{SignatureCheck, verify};
use super::{MAX_BODY_BYTES, Shared, json_status};
use crate::adapters::webex::{DeliveryEnvelope, EnvelopeError};
use crate::app::webhooks::meetings_secret;
use crate::app::{AppError, Receipt};
use crate::domain::PersonId;

pub(crate) async fn receive<S, B>(
    content_length: Option<u64>,
    signature: Option<String>,
    body: S,
    shared: Shared,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let settings = &shared.settings;
    let metrics = shared.app.metrics().clone();
    let count = |resource: &str, outcome: &'static str| metrics.webhook(resource, outcome);
    let Some(secret) = settings.webhook_secret.as_ref() else {
        count("unknown", "disabled");
        tracing::warn!(
            "webhook refused: WEBEX_WEBHOOK_SECRET is not set, so no signature can be checked"
        );
        return json_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are disabled: WEBEX_WEBHOOK_SECRET is not set",
        );
    };
    if !settings.bot_token_configured {
        count("unknown", "disabled");
        tracing::warn!("webhook refused: WEBEX_BOT_TOKEN is not set, so the bot cannot answer");
        return json_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are disabled: WEBEX_BOT_TOKEN is not set",
        );
    }
    if content_length.is_some_and(|n| n > MAX_BODY_BYTES) {
        count("unknown", "too_large");
        return json_status(StatusCode::PAYLOAD_TOO_LARGE, "body over 1 MiB");
    }
    let bytes = match read_limited(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(status) => {
            count("unknown", "too_large");
            return json_status(status, "body over 1 MiB or unreadable");
        }
    };
    let mut check = verify(secret, &bytes, signature.as_deref());
    if check == SignatureCheck::Invalid
        && let Some(owner) = meetings_owner(&bytes)
    {
        // A person's meetings webhook signs with a secret of their own.
        use secrecy::ExposeSecret;
        let own = meetings_secret(secret.expose_secret(), &owner);
        check = verify(
            &secrecy::SecretString::from(own),
            &bytes,
            signature.as_deref(),
        );
    }
    match check {
        SignatureCheck::Valid => {}
        SignatureCheck::Missing => {
            count("unknown", "unauthorized");
            tracing::warn!("webhook refused: no X-Spark-Signature");
            return json_status(StatusCode::UNAUTHORIZED, "missing X-Spark-Signature");
        }
        SignatureCheck::Invalid => {
            count("unknown", "unauthorized");
            tracing::warn!("webhook refused: X-Spark-Signature does not match");
            return json_status(StatusCode::UNAUTHORIZED, "invalid X-Spark-Signature");
        }
    }
    let (key, event) = match DeliveryEnvelope::parse(&bytes) {
        Ok(DeliveryEnvelope::Event { key, event }) => (key, event),
        Ok(DeliveryEnvelope::Ignored { resource, event }) => {
            count(&resource, "ignored");
            tracing::debug!(%resource, %event, "webhook for a resource/event Botper does not handle; ignored");
            return json_status(StatusCode::OK, "ignored");
        }
        Err(e @ (EnvelopeError::NotJson(_) | EnvelopeError::Missing(_))) => {
            count("unknown", "malformed");
            tracing::info!(error = %e, "webhook refused: malformed envelope");
            return json_status(StatusCode::BAD_REQUEST, &format!("malformed delivery: {e}"));
        }
    };
    let resource = key.resource.clone();
    let result = shared.app.receive(key, event).await;
    count(
        &resource,
        match &result {
            Ok(Receipt::Stored) => "accepted",
            Ok(Receipt::Duplicate) => "duplicate",
            Ok(Receipt::OwnMessage) => "own_message",
            Err(_) => "unavailable",
        },
    );
    match result {
        Ok(Receipt::Stored) => json_status(StatusCode::OK, "accepted"),
        Ok(Receipt::Duplicate) => json_status(StatusCode::OK, "duplicate"),
        Ok(Receipt::OwnMessage) => json_status(StatusCode::OK, "own message"),
        // Whatever failed, the delivery was not stored: Webex must send it again.
        Err(AppError::Unavailable(what)) => {
            tracing::warn!("webhook not acknowledged: {what} is unavailable");
            json_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable; please retry",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "webhook not acknowledged: it could not be stored");
            json_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage failed; please retry",
            )
        }
    }
}

/// `createdBy` of a `meetings` delivery (read before its signature is checked, to pick the
/// secret; nothing else is trusted until the signature matches).
fn meetings_owner(body: &[u8]) -> Option<PersonId> {
    #[derive(serde::Deserialize)]
    struct Peek {
        resource: Option<String>,
        #[serde(rename = "createdBy")]
        created_by: Option<String>,
    }
    let p: Peek = serde_json::from_slice(body).ok()?;
    (p.resource.as_deref() == Some("meetings"))
        .then_some(p.created_by)
        .flatten()
        .filter(|c| !c.is_empty())
        .map(PersonId::new)
}

async fn read_limited<S, B>(mut body: S, limit: u64) -> Result<Vec<u8>, StatusCode>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|_| StatusCode::BAD_REQUEST)?;
        if out.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(out)
}
