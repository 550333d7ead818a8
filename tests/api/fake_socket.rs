//! The fake's device service and Mercury websocket behave as the service will use them:
//! catalog → register → connect → authorize, events acked, pings answered, one connection
//! per device, and no handshake for a deleted device.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::FakeWebex;
use crate::support::fake_webex::{BOT_TOKEN, uuid_of};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The next data frame, as JSON (panics after 5 s or on a close).
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("an open websocket")
            .expect("a good frame");
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Binary(b) => return serde_json::from_slice(&b).unwrap(),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => continue,
        }
    }
}

/// The close code the server sends next (skipping data frames).
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")?
            .ok()?;
        if let Message::Close(c) = m {
            return c.map(|c| c.code.into());
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

async fn connect(url: &str, token: &str) -> Ws {
    let url = format!(
        "{url}?outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true&clientTimestamp=1"
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let auth =
        json!({"id": "a-1", "type": "authorization", "data": {"token": format!("Bearer {token}")}});
    send(&mut ws, auth).await;
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_serves_devices_and_mercury() {
    let fake = FakeWebex::start().await;
    let http = reqwest::Client::new();

    let r = http
        .get(format!("{}/catalog?format=hostmap", fake.u2c_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let catalog: Value = http
        .get(format!("{}/catalog?format=hostmap", fake.u2c_url()))
        .bearer_auth(BOT_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wdm = catalog["serviceLinks"]["wdm"].as_str().unwrap().to_owned();

    let body = json!({
        "deviceName": "botper", "deviceType": "DESKTOP", "localizedModel": "rust",
        "model": "rust", "name": "botper", "systemName": "linux", "systemVersion": "1",
    });
    let register = || {
        http.post(format!("{wdm}/devices"))
            .bearer_auth(BOT_TOKEN)
            .json(&body)
            .send()
    };
    let r = register().await.unwrap();
    assert_eq!(r.status(), 200);
    let device: Value = r.json().await.unwrap();
    assert_eq!(device["name"], "botper");
    assert_eq!(
        device["creationTime"].as_str().unwrap().len(),
        24,
        "{device}"
    );
    assert_eq!(fake.device_registrations(), 1);
    assert_eq!(fake.devices(), vec![device.clone()]);
    assert_eq!(fake.request_count("POST", "/wdm/api/v1/devices"), 1);
    let ws_url = device["webSocketUrl"].as_str().unwrap().to_owned();
    let device_url = device["url"].as_str().unwrap().to_owned();
    fake.set_device_limit(1);
    let r = register().await.unwrap();
    assert_eq!(r.status(), 403);
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["message"], "User has excessive device registrations");
    let r = http
        .put(&device_url)
        .bearer_auth(BOT_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(fake.device_registrations(), 1);

    // A wrong token is refused with 4401.
    let mut bad = connect(&ws_url, "nobody").await;
    assert_eq!(close_code(&mut bad).await, Some(4401));

    let mut ws = connect(&ws_url, BOT_TOKEN).await;
    assert_eq!(
        next_json(&mut ws).await["data"]["eventType"],
        "mercury.buffer_state"
    );
    assert!(fake.wait_socket(1, Duration::from_secs(5)).await);
    assert_eq!(fake.socket_authorizations(), 1);

    // A person's message arrives as an opaque post activity; the ack is recorded.
    let ada = fake.add_person("Ada");
    let room = fake.new_room_id();
    let id = fake.socket_says(&ada, &room, "hello", None);
    let ev = next_json(&mut ws).await;
    let a = &ev["data"]["activity"];
    assert_eq!(ev["data"]["eventType"], "conversation.activity");
    assert_eq!(a["verb"], "post");
    assert_eq!(a["id"], uuid_of(&id).as_str());
    assert_eq!(a["actor"]["type"], "PERSON");
    assert_eq!(a["actor"]["id"], uuid_of(&ada.id).as_str());
    assert_eq!(a["target"]["tags"], json!(["ONE_ON_ONE"]));
    assert_ne!(a["object"]["displayName"], "hello");
    let env_id = ev["id"].as_str().unwrap().to_owned();
    send(&mut ws, json!({"messageId": env_id, "type": "ack"})).await;
    send(&mut ws, json!({"id": "p-1", "type": "ping"})).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"id": "p-1", "type": "pong"})
    );
    assert_eq!(fake.pings(), 1);
    assert_eq!(fake.acks(), vec![env_id]);

    // The bot's own post comes back too, as the bot's.
    let r = http
        .post(format!("{}/messages", fake.base_url()))
        .bearer_auth(BOT_TOKEN)
        .json(&json!({"roomId": room, "markdown": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ev = next_json(&mut ws).await;
    assert_eq!(ev["data"]["activity"]["actor"]["type"], "ROBOT");
    assert_eq!(
        ev["data"]["activity"]["target"]["tags"],
        json!(["ONE_ON_ONE"])
    );

    // Unacked (that one and the next), then replaced by a second connection: the first is
    // closed with 4000 and the second gets both again.
    fake.socket_push_event(json!({"eventType": "status.start_typing"}));
    let typing = next_json(&mut ws).await;
    assert_eq!(typing["data"]["eventType"], "status.start_typing");
    let mut ws2 = connect(&ws_url, BOT_TOKEN).await;
    assert_eq!(
        next_json(&mut ws2).await["data"]["eventType"],
        "mercury.buffer_state"
    );
    assert_eq!(next_json(&mut ws2).await["id"], ev["id"]);
    assert_eq!(next_json(&mut ws2).await["id"], typing["id"]);
    assert_eq!(close_code(&mut ws).await, Some(4000));
    assert_eq!(fake.socket_connections(), 1);
    assert_eq!(fake.socket_authorizations(), 2);
    assert_eq!(fake.socket_events_sent(), 5);

    // Events wait while no connection is live.
    fake.drop_sockets();
    assert_eq!(fake.socket_connections(), 0);
    let pressed = fake.socket_press(&ada, &room, &id, json!({"done": "1"}));
    let mut ws3 = connect(&ws_url, BOT_TOKEN).await;
    next_json(&mut ws3).await; // buffer_state
    next_json(&mut ws3).await; // the bot's post, again
    next_json(&mut ws3).await; // typing, again
    let ev = next_json(&mut ws3).await;
    assert_eq!(ev["data"]["activity"]["verb"], "cardAction");
    assert_eq!(ev["data"]["activity"]["id"], uuid_of(&pressed).as_str());
    assert_eq!(
        ev["data"]["activity"]["parent"]["id"],
        uuid_of(&id).as_str()
    );

    // A deleted device: 204, then 404 for its url and its websocket.
    let r = http
        .delete(&device_url)
        .bearer_auth(BOT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http
        .get(&device_url)
        .bearer_auth(BOT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    match tokio_tungstenite::connect_async(ws_url.as_str()).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 404),
        other => panic!("expected a 404 handshake, got {:?}", other.map(|_| ())),
    }
    assert!(fake.devices().is_empty());
    fake.assert_spec_clean();
}
