//! The webhook edge: signatures, malformed and oversize bodies, unknown events, missing
//! configuration. Refused deliveries leave no trace in the store.

use std::time::Duration;

use botper::adapters::http::signature::sign;
use botper::ports::Inbox;
use serde_json::json;

use crate::support::{AppOptions, Backend, SECRET, message_created, spawn_app, spawn_app_with};

async fn nothing_stored(app: &crate::support::TestApp) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    let db = app.db.open().await;
    assert_eq!(db.stats().await.unwrap(), Default::default());
    assert_eq!(app.fake.sent_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_checked_before_anything_happens() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Sig");
    let room = app.fake.new_room_id();
    let id = app.fake.user_says(&p, &room, "task x", None);
    let body = serde_json::to_vec(&message_created(&id, &room, &p.id)).unwrap();
    let good = sign(SECRET, &body);

    let missing = app.post_webhook(&body, None).await;
    assert_eq!(missing.status(), 401);
    let text = missing.text().await.unwrap();
    assert!(text.contains("missing X-Spark-Signature"), "{text}");

    assert_eq!(app.post_webhook(&body, Some("not-hex")).await.status(), 401);
    assert_eq!(
        app.post_webhook(&body, Some(&"0".repeat(40)))
            .await
            .status(),
        401
    );
    let other_secret = sign("some-other-secret", &body);
    assert_eq!(
        app.post_webhook(&body, Some(&other_secret)).await.status(),
        401
    );
    let mut altered = body.clone();
    let pos = altered.iter().position(|b| *b == b'x').unwrap_or(10);
    altered[pos] = b'y';
    assert_eq!(app.post_webhook(&altered, Some(&good)).await.status(), 401);
    nothing_stored(&app).await;

    // Upper-case hex is the same signature.
    assert_eq!(
        app.post_webhook(&body, Some(&good.to_uppercase()))
            .await
            .status(),
        200
    );
    app.fake.wait_for_sent(1, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_and_unknown_events_are_200_and_ignored() {
    let app = spawn_app(Backend::Sqlite).await;
    for body in [
        &b"{not json"[..],
        b"[]",
        br#"{"resource":"messages"}"#,
        br#"{"resource":"messages","event":"created","data":{}}"#,
        br#"{"resource":"messages","event":"created","data":{"id":"m","roomId":"r"}}"#,
    ] {
        let r = app.post_webhook(body, Some(&sign(SECRET, body))).await;
        assert_eq!(r.status(), 400, "{}", String::from_utf8_lossy(body));
    }
    let rooms = serde_json::to_vec(&json!({
        "resource": "rooms", "event": "updated", "data": {"id": "r1"}
    }))
    .unwrap();
    let r = app.post_webhook(&rooms, Some(&sign(SECRET, &rooms))).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("ignored"));
    nothing_stored(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_one_mebibyte_are_413() {
    let app = spawn_app(Backend::Sqlite).await;
    let big = vec![b' '; 1024 * 1024 + 1];
    let r = app.post_webhook(&big, Some(&sign(SECRET, &big))).await;
    assert_eq!(r.status(), 413);
    // Without a content-length (chunked), the limit holds as well.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..17).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let r = app
        .client
        .post(app.url("/webex/webhook"))
        .header("x-spark-signature", "00")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    // The server answers 413 as soon as the limit is crossed and stops reading; a client
    // still writing the rest may see the connection close before it reads the answer.
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(
            e.is_request() || e.is_body() || e.to_string().contains("connection"),
            "{e}"
        ),
    }
    // Exactly 1 MiB is still read (and then refused for its bad signature).
    let edge = vec![b' '; 1024 * 1024];
    assert_eq!(app.post_webhook(&edge, Some("00")).await.status(), 401);
    nothing_stored(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_secret_or_token_webhooks_are_refused_but_the_page_serves() {
    for (var, label) in [
        ("WEBEX_WEBHOOK_SECRET", "WEBEX_WEBHOOK_SECRET is not set"),
        ("WEBEX_BOT_TOKEN", "WEBEX_BOT_TOKEN is not set"),
    ] {
        let app = spawn_app_with(AppOptions {
            env: vec![(var, String::new())],
            ..AppOptions::default()
        })
        .await;
        let body = serde_json::to_vec(&message_created("m", "r", "p")).unwrap();
        let r = app.post_webhook(&body, Some(&sign(SECRET, &body))).await;
        assert_eq!(r.status(), 503);
        assert!(r.text().await.unwrap().contains(label));
        let page = app.client.get(app.url("/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Botper"));
        assert!(html.contains("Webhooks are refused"), "{html}");
        nothing_stored(&app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_and_unknown_paths() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app
        .client
        .get(app.url("/webex/webhook"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_meetings_secret_signs_only_their_own_meetings_events() {
    use botper::app::webhooks::meetings_secret;
    use botper::domain::PersonId;
    let app = spawn_app(Backend::Sqlite).await;
    let (x, y) = (app.fake.add_person("X"), app.fake.add_person("Y"));
    let xs = meetings_secret(SECRET, &PersonId::new(x.id.clone()));
    let meeting_of = |owner: &str| {
        serde_json::to_vec(&json!({
            "resource": "meetings", "event": "created", "createdBy": owner,
            "data": {"id": "870f51ff287b41be84648412901e0402", "hostUserId": owner}
        }))
        .unwrap()
    };
    // X's own meetings event, signed with X's secret: accepted.
    let own = meeting_of(&x.id);
    assert_eq!(
        app.post_webhook(&own, Some(&sign(&xs, &own)))
            .await
            .status(),
        200
    );
    // Someone else's meetings event, or any bot event, signed with X's secret: refused.
    let other = meeting_of(&y.id);
    assert_eq!(
        app.post_webhook(&other, Some(&sign(&xs, &other)))
            .await
            .status(),
        401
    );
    let msg = serde_json::to_vec(&message_created("m1", "r1", &y.id)).unwrap();
    assert_eq!(
        app.post_webhook(&msg, Some(&sign(&xs, &msg)))
            .await
            .status(),
        401
    );
}
