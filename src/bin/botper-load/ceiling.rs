//! The ceiling: the least a webhook bot can do per command — verify the signature, answer
//! 200, fetch the message, post a reply — with no command parsing and no database. Runs as
//! its own process (`botper-load --serve-ceiling`), like Botper.

use std::sync::Arc;

use botper::adapters::http::signature::{SignatureCheck, verify};
use secrecy::SecretString;
use serde_json::Value;
use warp::Filter;
use warp::http::StatusCode;

pub async fn serve(webex_base: String, secret: String, token: String) {
    let secret = Arc::new(SecretString::from(secret));
    let client = reqwest::Client::new();
    let ctx = Arc::new((client, webex_base, token));
    let route = warp::path!("webex" / "webhook")
        .and(warp::post())
        .and(warp::header::optional::<String>("x-spark-signature"))
        .and(warp::body::bytes())
        .map(move |sig: Option<String>, body: warp::hyper::body::Bytes| {
            if verify(&secret, &body, sig.as_deref()) != SignatureCheck::Valid {
                return StatusCode::UNAUTHORIZED;
            }
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                    return;
                };
                let (client, base, token) = &*ctx;
                let (Some(id), Some(room)) =
                    (v["data"]["id"].as_str(), v["data"]["roomId"].as_str())
                else {
                    return;
                };
                let auth = format!("Bearer {token}");
                if client
                    .get(format!("{base}/messages/{id}"))
                    .header("authorization", &auth)
                    .send()
                    .await
                    .is_err()
                {
                    return;
                }
                let _ = client
                    .post(format!("{base}/messages"))
                    .header("authorization", &auth)
                    .json(&serde_json::json!({ "roomId": room, "markdown": "ok" }))
                    .send()
                    .await;
            });
            StatusCode::OK
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // The parent reads the address from the first line.
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    warp::serve(route).incoming(listener).run().await;
}
