//! Webex's device service (WDM), its U2C catalog and the Mercury websocket, as the fake
//! serves them (a child module of `fake_webex`, so it shares the fake's state).
//!
//! REST (on the fake's REST server, bearer token required, logged like the other routes):
//! `GET /u2c/api/v1/catalog`, `GET|POST|DELETE /wdm/api/v1/devices` and
//! `GET|PUT|DELETE /wdm/api/v1/devices/{uuid}`. The websocket listens on its own port
//! ([`FakeWebex::ws_addr`]) at `/mercury/{uuid}`: the client authorizes with its first frame,
//! gets a `mercury.buffer_state` event, then every activity pushed for the token's owner (the
//! bot), in envelopes it acks. Events are buffered while no connection is live, and events
//! sent but not acked are sent again on the device's next connection, as Mercury does.

use std::time::UNIX_EPOCH;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request};
use tokio_tungstenite::tungstenite::http;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::*;

const CONVERSATION_URL: &str = "https://conv-a.wbx2.com/conversation/api/v1";
const LOCUS_URL: &str = "https://locus-a.wbx2.com/locus/api/v1";
/// The org of every person of the fake, as Mercury names it (a bare uuid).
const ORG_UUID: &str = "6f0e7f2c-3d4b-4a5e-9c1d-000000000001";
const DEFAULT_DEVICE_LIMIT: usize = 20;

/// The devices, connections and counters of the socket side.
pub(super) struct Sockets {
    /// Registered devices, oldest first.
    devices: Vec<Device>,
    limit: usize,
    registrations: usize,
    authorizations: usize,
    events_sent: usize,
    pings: usize,
    pongs_off: bool,
    acks: Vec<String>,
    sequence: u64,
    next_conn: u64,
}

impl Default for Sockets {
    fn default() -> Self {
        Self {
            devices: Vec::new(),
            limit: DEFAULT_DEVICE_LIMIT,
            registrations: 0,
            authorizations: 0,
            events_sent: 0,
            pings: 0,
            pongs_off: false,
            acks: Vec::new(),
            sequence: 0,
            next_conn: 1,
        }
    }
}

struct Device {
    uuid: String,
    /// The owner's person id (REST form).
    owner: String,
    body: Value,
    live: Option<Live>,
    /// Events for this device while no connection was live, oldest first.
    buffered: Vec<Value>,
    /// Events sent on a connection and not acked yet, oldest first.
    unacked: Vec<Value>,
}

/// The live (authorized) connection of a device. Dropping it ends the connection abruptly.
struct Live {
    conn: u64,
    tx: mpsc::UnboundedSender<Cmd>,
}

enum Cmd {
    Send(Message),
    Close(u16, &'static str),
}

/// The uuid inside a fake Webex id (`ciscospark://us/KIND/<uuid>`, base64); other ids as is.
pub fn uuid_of(id: &str) -> String {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let trimmed = id.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.starts_with("ciscospark://"))
        .and_then(|s| s.rsplit('/').next().map(str::to_owned))
        .unwrap_or_else(|| id.to_owned())
}

/// Something that looks like a JWE (what Mercury carries instead of the text).
fn opaque() -> String {
    let b64 = |n: usize| {
        let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    format!(
        "eyJhbGciOiJkaXIiLCJraWQiOiJrbXM6Ly9rbXMtYS53YngyLmNvbS9rZXlzLzEiLCJlbmMiOiJBMjU2R0NNIn0..{}.{}.{}",
        b64(12),
        b64(48),
        b64(16)
    )
}

/// A person as Mercury's activities name them.
fn actor(p: &Person) -> Value {
    let u = uuid_of(&p.id);
    json!({
        "id": u,
        "objectType": "person",
        "displayName": p.display_name,
        "emailAddress": p.email,
        "orgId": ORG_UUID,
        "entryUUID": u,
        "type": if p.kind == "bot" { "ROBOT" } else { "PERSON" },
    })
}

/// A space as Mercury's activities name it.
fn target(room: &str, one_on_one: bool) -> Value {
    let u = uuid_of(room);
    json!({
        "id": u,
        "objectType": "conversation",
        "url": format!("{CONVERSATION_URL}/conversations/{u}"),
        "tags": if one_on_one { json!(["ONE_ON_ONE"]) } else { json!(["JOINED", "LOCKED"]) },
    })
}

/// Whether the fake knows `room` as a 1:1 space (a message typed there says so).
fn is_direct(s: &State, room: &str) -> bool {
    s.messages
        .values()
        .any(|m| m["roomId"] == room && m["roomType"] == "direct")
}

/// A time as Webex's internal services write it: `2026-01-01T12:00:00.123Z`.
fn iso_ms(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

const DEVICE_FIELDS: [&str; 7] = [
    "name",
    "deviceName",
    "deviceType",
    "model",
    "localizedModel",
    "systemName",
    "systemVersion",
];

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The requested resource could not be found.",
    )
}

fn no_content() -> Response {
    warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
}

impl FakeWebex {
    /// The value for `WEBEX_U2C_URL`.
    pub fn u2c_url(&self) -> String {
        format!("http://{}/u2c/api/v1", self.addr)
    }

    fn wdm_url(&self) -> String {
        format!("http://{}/wdm/api/v1", self.addr)
    }

    // ----- devices ---------------------------------------------------------------------

    /// A device as WDM answers it, from a registration body.
    fn new_device(&self, owner: &Person, body: &Value, created: SystemTime) -> Device {
        let uuid = self.next_uuid();
        let at = iso_ms(created);
        let wdm = self.wdm_url();
        let mut d = json!({
            "url": format!("{wdm}/devices/{uuid}"),
            "webSocketUrl": format!("ws://{}/mercury/{uuid}", self.ws_addr),
            "creationTime": at,
            "modificationTime": at,
            "userId": uuid_of(&owner.id),
            "services": {
                "conversationServiceUrl": CONVERSATION_URL,
                "locusServiceUrl": LOCUS_URL,
                "wdmServiceUrl": wdm,
            },
            "intranetInactivityDuration": 1800,
            "intranetInactivityCheckUrl": format!("{wdm}/ping"),
        });
        for k in DEVICE_FIELDS {
            if let Some(v) = body.get(k) {
                d[k] = v.clone();
            }
        }
        Device {
            uuid,
            owner: owner.id.clone(),
            body: d,
            live: None,
            buffered: Vec::new(),
            unacked: Vec::new(),
        }
    }

    /// The bot's current devices (as `GET /wdm/api/v1/devices` lists them), oldest first.
    pub fn devices(&self) -> Vec<Value> {
        let s = self.state.lock().unwrap();
        s.socket
            .devices
            .iter()
            .filter(|d| d.owner == self.bot.id)
            .map(|d| d.body.clone())
            .collect()
    }

    /// Registers a device for the bot directly, as an earlier run would have; returns its url.
    pub fn add_stale_device(&self, name: &str) -> String {
        let body = json!({
            "deviceName": name, "deviceType": "DESKTOP", "localizedModel": "rust",
            "model": "rust", "name": name, "systemName": "fake", "systemVersion": "1",
        });
        let d = self.new_device(
            &self.bot,
            &body,
            SystemTime::now() - Duration::from_secs(86_400),
        );
        let url = d.body["url"].as_str().unwrap_or_default().to_owned();
        self.state.lock().unwrap().socket.devices.push(d);
        url
    }

    /// Webex forgets the device at `url` (it expired): REST answers 404 for it, its websocket
    /// handshake too, and its live connection (if any) ends abruptly. False if unknown.
    pub fn delete_device(&self, url: &str) -> bool {
        let uuid = url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        let mut s = self.state.lock().unwrap();
        let before = s.socket.devices.len();
        s.socket.devices.retain(|d| d.uuid != uuid);
        s.socket.devices.len() != before
    }

    /// How many devices one owner may have (20 unless set).
    pub fn set_device_limit(&self, n: usize) {
        self.state.lock().unwrap().socket.limit = n;
    }

    /// Successful `POST /wdm/api/v1/devices` so far.
    pub fn device_registrations(&self) -> usize {
        self.state.lock().unwrap().socket.registrations
    }

    // ----- socket inspection and control -------------------------------------------------

    /// Live (authorized) websocket connections, over every device.
    pub fn socket_connections(&self) -> usize {
        let s = self.state.lock().unwrap();
        s.socket.devices.iter().filter(|d| d.live.is_some()).count()
    }

    /// Successful websocket authorizations so far.
    pub fn socket_authorizations(&self) -> usize {
        self.state.lock().unwrap().socket.authorizations
    }

    /// Ends every live connection abruptly (no close frame: the TCP stream is dropped).
    pub fn drop_sockets(&self) {
        let mut s = self.state.lock().unwrap();
        for d in &mut s.socket.devices {
            d.live = None;
        }
    }

    /// Sends a close frame with `code` to every live connection (which is then not live).
    pub fn close_sockets(&self, code: u16) {
        let mut s = self.state.lock().unwrap();
        for d in &mut s.socket.devices {
            if let Some(live) = d.live.take() {
                let _ = live.tx.send(Cmd::Close(code, "closed by the fake"));
            }
        }
    }

    /// The envelope ids the clients acked, in order.
    pub fn acks(&self) -> Vec<String> {
        self.state.lock().unwrap().socket.acks.clone()
    }

    /// Event envelopes sent (redeliveries included, `mercury.buffer_state` not).
    pub fn socket_events_sent(&self) -> usize {
        self.state.lock().unwrap().socket.events_sent
    }

    /// Client pings received so far.
    pub fn pings(&self) -> usize {
        self.state.lock().unwrap().socket.pings
    }

    /// While `on`, client pings are counted but not answered.
    pub fn stop_pongs(&self, on: bool) {
        self.state.lock().unwrap().socket.pongs_off = on;
    }

    /// Waits until at least `n` connections are live; false after `timeout`.
    pub async fn wait_socket(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.socket_connections() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // ----- activities ------------------------------------------------------------------

    fn activity(&self, verb: &str, id: &str, by: &Person, object: Value, target: Value) -> Value {
        json!({
            "id": id,
            "objectType": "activity",
            "verb": verb,
            "published": iso_ms(SystemTime::now()),
            "url": format!("{CONVERSATION_URL}/activities/{id}"),
            "encryptionKeyUrl": format!("kms://kms-a.wbx2.com/keys/{}", self.next_uuid()),
            "actor": actor(by),
            "object": object,
            "target": target,
        })
    }

    fn post_activity(&self, by: &Person, message_id: &str, room: &str, one_on_one: bool) -> Value {
        let object = json!({"objectType": "comment", "displayName": opaque(), "content": opaque()});
        self.activity(
            "post",
            &uuid_of(message_id),
            by,
            object,
            target(room, one_on_one),
        )
    }

    /// [`FakeWebex::user_says`], and the `post` activity for it on the bot's websocket.
    pub fn socket_says(
        &self,
        person: &Person,
        room: &str,
        text: &str,
        html: Option<&str>,
    ) -> String {
        let id = self.user_says(person, room, text, html);
        let a = self.post_activity(person, &id, room, html.is_none());
        self.socket_push(a);
        id
    }

    /// [`FakeWebex::press`], and the `cardAction` activity for it on the bot's websocket.
    pub fn socket_press(
        &self,
        person: &Person,
        room: &str,
        message_id: &str,
        inputs: Value,
    ) -> String {
        let id = self.press(person, room, message_id, inputs);
        let direct = is_direct(&self.state.lock().unwrap(), room);
        let object = json!({"objectType": "submit", "inputs": opaque()});
        let mut a = self.activity(
            "cardAction",
            &uuid_of(&id),
            person,
            object,
            target(room, direct),
        );
        a["parent"] = json!({"id": uuid_of(message_id), "type": "cardAction"});
        self.socket_push(a);
        id
    }

    /// `by` adds the bot to `room`: the `add` activity on the bot's websocket, and the bot in
    /// the room's members (a room without a member list gets `by` and the bot).
    pub fn socket_add_bot(&self, room: &str, by: &Person, one_on_one: bool) {
        let bot = uuid_of(&self.bot.id);
        let object = json!({
            "objectType": "person", "id": bot, "entryUUID": bot,
            "emailAddress": self.bot.email, "displayName": self.bot.display_name,
        });
        let a = self.activity(
            "add",
            &self.next_uuid(),
            by,
            object,
            target(room, one_on_one),
        );
        let mut s = self.state.lock().unwrap();
        let members = s
            .rooms
            .entry(room.to_owned())
            .or_insert_with(|| vec![by.id.clone()]);
        if !members.contains(&self.bot.id) {
            members.push(self.bot.id.clone());
        }
        self.push_locked(
            &mut s,
            json!({"eventType": "conversation.activity", "activity": a}),
        );
    }

    /// Pushes a raw activity (as a `conversation.activity` event) to the bot's devices.
    pub fn socket_push(&self, activity: Value) {
        self.socket_push_event(json!({"eventType": "conversation.activity", "activity": activity}));
    }

    /// Pushes an event with this `data` (e.g. `{"eventType": "status.start_typing"}`).
    pub fn socket_push_event(&self, data: Value) {
        let mut s = self.state.lock().unwrap();
        self.push_locked(&mut s, data);
    }

    /// The `post` activity of a message created through `POST /messages` (nothing for a
    /// message without a `roomId`). Called with the state locked, from that handler.
    pub(super) fn socket_posted(&self, s: &mut State, sender: &Person, message: &Value) {
        let Some(room) = message["roomId"].as_str() else {
            return;
        };
        let id = message["id"].as_str().unwrap_or_default();
        let a = self.post_activity(sender, id, room, is_direct(s, room));
        self.push_locked(
            s,
            json!({"eventType": "conversation.activity", "activity": a}),
        );
    }

    fn envelope(&self, sequence: &mut u64, data: Value) -> Value {
        *sequence += 1;
        json!({
            "id": self.next_uuid(),
            "data": data,
            "timestamp": millis_now(),
            "trackingId": format!("MERCURY_{}", self.next_uuid()),
            "alertType": "full",
            "headers": {},
            "sequenceNumber": *sequence,
            "filterMessage": false,
        })
    }

    /// Sends `data` in an envelope to each of the bot's devices: on its live connection, or
    /// into its buffer.
    fn push_locked(&self, s: &mut State, data: Value) {
        let Sockets {
            devices,
            sequence,
            events_sent,
            ..
        } = &mut s.socket;
        for d in devices.iter_mut().filter(|d| d.owner == self.bot.id) {
            let env = self.envelope(sequence, data.clone());
            if let Some(live) = &d.live {
                if live.tx.send(Cmd::Send(text(&env))).is_ok() {
                    *events_sent += 1;
                    d.unacked.push(env);
                    continue;
                }
                d.live = None;
            }
            d.buffered.push(env);
        }
    }

    // ----- the websocket server ----------------------------------------------------------

    /// Accepts websocket connections on `listener`, each in its own task.
    pub(super) fn serve_sockets(&self, listener: TcpListener) {
        let fake = self.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((tcp, _)) => {
                        tokio::spawn(fake.clone().serve_socket(tcp));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
    }

    async fn serve_socket(self, tcp: TcpStream) {
        let mut device: Option<String> = None;
        // tungstenite's callback type: its error is the whole refusal response.
        #[allow(clippy::result_large_err)]
        let known = |req: &Request, resp: http::Response<()>| {
            let id = req
                .uri()
                .path()
                .strip_prefix("/mercury/")
                .map(|p| p.trim_end_matches('/').to_owned());
            let exists = id.as_ref().is_some_and(|id| {
                let s = self.state.lock().unwrap();
                s.socket.devices.iter().any(|d| &d.uuid == id)
            });
            if exists {
                device = id;
                return Ok(resp);
            }
            let refused: ErrorResponse = http::Response::builder()
                .status(http::StatusCode::NOT_FOUND)
                .header("content-type", "application/json")
                .body(Some(
                    json!({"message": "Device not found", "errors": [{"description": "Device not found"}], "trackingId": "FAKE_404"})
                        .to_string(),
                ))
                .unwrap_or_default();
            Err(refused)
        };
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, known).await else {
            return;
        };
        let Some(device) = device else {
            return;
        };
        let first = tokio::time::timeout(Duration::from_secs(30), first_frame(&mut ws))
            .await
            .ok()
            .flatten();
        let token = first
            .as_ref()
            .filter(|v| v["type"] == "authorization")
            .and_then(|v| v["data"]["token"].as_str())
            .and_then(|t| t.strip_prefix("Bearer "))
            .map(str::to_owned);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let Some(conn) = self.authorize_socket(&device, token, tx) else {
            close(&mut ws, 4401, "unauthorized").await;
            return;
        };
        loop {
            tokio::select! {
                incoming = ws.next() => {
                    let v = match incoming {
                        Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(t.as_str()).ok(),
                        Some(Ok(Message::Binary(b))) => serde_json::from_slice::<Value>(&b).ok(),
                        Some(Ok(Message::Close(_))) => {
                            linger(&mut ws).await;
                            break;
                        }
                        Some(Err(_)) | None => break,
                        Some(Ok(_)) => None,
                    };
                    if let Some(reply) = v.and_then(|v| self.client_frame(&device, &v))
                        && ws.send(reply).await.is_err()
                    {
                        break;
                    }
                }
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Send(m)) => {
                        if ws.send(m).await.is_err() {
                            break;
                        }
                    }
                    Some(Cmd::Close(code, reason)) => {
                        close(&mut ws, code, reason).await;
                        return;
                    }
                    // Dropped by the fake: end without a close frame.
                    None => return,
                },
            }
        }
        self.socket_gone(&device, conn);
    }

    /// Checks the token against the device's owner; makes this connection the device's live
    /// one (closing the previous with 4000) and queues buffer_state, the unacked events and
    /// the buffered ones on it.
    fn authorize_socket(
        &self,
        device: &str,
        token: Option<String>,
        tx: mpsc::UnboundedSender<Cmd>,
    ) -> Option<u64> {
        let mut s = self.state.lock().unwrap();
        let now = SystemTime::now();
        let who = token
            .and_then(|t| s.tokens.get(&t))
            .filter(|t| t.expires.is_none_or(|e| e > now))
            .map(|t| t.person.id.clone())?;
        let Sockets {
            devices,
            sequence,
            events_sent,
            authorizations,
            next_conn,
            ..
        } = &mut s.socket;
        let d = devices
            .iter_mut()
            .find(|d| d.uuid == device && d.owner == who)?;
        let conn = *next_conn;
        *next_conn += 1;
        if let Some(old) = d.live.take() {
            let _ = old.tx.send(Cmd::Close(4000, "replaced"));
        }
        let state = self.envelope(sequence, json!({"eventType": "mercury.buffer_state"}));
        let _ = tx.send(Cmd::Send(text(&state)));
        for env in &d.unacked {
            let _ = tx.send(Cmd::Send(text(env)));
            *events_sent += 1;
        }
        for env in std::mem::take(&mut d.buffered) {
            let _ = tx.send(Cmd::Send(text(&env)));
            *events_sent += 1;
            d.unacked.push(env);
        }
        d.live = Some(Live { conn, tx });
        *authorizations += 1;
        Some(conn)
    }

    /// A client frame after authorization: pings (answered unless pongs are off) and acks.
    fn client_frame(&self, device: &str, v: &Value) -> Option<Message> {
        let mut s = self.state.lock().unwrap();
        match v["type"].as_str() {
            Some("ping") => {
                s.socket.pings += 1;
                (!s.socket.pongs_off).then(|| text(&json!({"id": v["id"], "type": "pong"})))
            }
            Some("ack") => {
                let id = v["messageId"].as_str()?.to_owned();
                if let Some(d) = s.socket.devices.iter_mut().find(|d| d.uuid == device) {
                    d.unacked.retain(|e| e["id"] != id.as_str());
                }
                s.socket.acks.push(id);
                None
            }
            _ => None,
        }
    }

    /// The connection `conn` of `device` ended (if it was still the live one, none is now).
    fn socket_gone(&self, device: &str, conn: u64) {
        let mut s = self.state.lock().unwrap();
        if let Some(d) = s.socket.devices.iter_mut().find(|d| d.uuid == device)
            && d.live.as_ref().is_some_and(|l| l.conn == conn)
        {
            d.live = None;
        }
    }

    // ----- REST ------------------------------------------------------------------------

    /// The U2C and WDM routes, each boxed.
    pub(super) fn socket_routes(&self) -> Vec<BoxedFilter<(Response,)>> {
        let me = self.clone();
        let with = warp::any().map(move || me.clone());
        let auth = warp::header::optional::<String>("authorization");
        let json_body =
            warp::body::bytes().map(|b: bytes::Bytes| serde_json::from_slice::<Value>(&b).ok());

        let catalog = warp::path!("u2c" / "api" / "v1" / "catalog")
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .map(|auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "GET /u2c/api/v1/catalog", |_, _| {
                    ok(json!({
                        "serviceLinks": {
                            "wdm": f.wdm_url(),
                            "conversation": CONVERSATION_URL,
                            "locus": LOCUS_URL,
                        },
                        "hostCatalog": {},
                        "format": "hostmap",
                    }))
                })
            });
        let list = warp::path!("wdm" / "api" / "v1" / "devices")
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .map(|auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "GET /wdm/api/v1/devices", |s, p| {
                    let devices: Vec<Value> = s
                        .socket
                        .devices
                        .iter()
                        .filter(|d| d.owner == p.id)
                        .map(|d| d.body.clone())
                        .collect();
                    ok(json!({ "devices": devices }))
                })
            });
        let create = warp::path!("wdm" / "api" / "v1" / "devices")
            .and(warp::post())
            .and(auth)
            .and(json_body)
            .and(with.clone())
            .map(|auth: Option<String>, body: Option<Value>, f: FakeWebex| {
                f.authed(auth, "POST /wdm/api/v1/devices", |s, p| {
                    let Some(body) = body.filter(Value::is_object) else {
                        return error(StatusCode::BAD_REQUEST, "Malformed JSON");
                    };
                    for k in ["name", "deviceType"] {
                        if !body[k].is_string() {
                            let why = format!("POST /wdm/api/v1/devices: {k} is required");
                            s.violations.push(why.clone());
                            return error(StatusCode::BAD_REQUEST, &why);
                        }
                    }
                    let owned = s.socket.devices.iter().filter(|d| d.owner == p.id).count();
                    if owned >= s.socket.limit {
                        return error(
                            StatusCode::FORBIDDEN,
                            "User has excessive device registrations",
                        );
                    }
                    let d = f.new_device(&p, &body, SystemTime::now());
                    let answer = d.body.clone();
                    s.socket.devices.push(d);
                    s.socket.registrations += 1;
                    ok(answer)
                })
            });
        let delete_all = warp::path!("wdm" / "api" / "v1" / "devices")
            .and(warp::delete())
            .and(auth)
            .and(with.clone())
            .map(|auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "DELETE /wdm/api/v1/devices", |s, p| {
                    s.violations.push(format!(
                        "DELETE /wdm/api/v1/devices: deleted every device of the token ({})",
                        p.email
                    ));
                    s.socket.devices.retain(|d| d.owner != p.id);
                    no_content()
                })
            });
        let get_one = warp::path!("wdm" / "api" / "v1" / "devices" / String)
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .map(|id: String, auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "GET /wdm/api/v1/devices/{id}", |s, p| {
                    match s
                        .socket
                        .devices
                        .iter()
                        .find(|d| d.uuid == id && d.owner == p.id)
                    {
                        Some(d) => ok(d.body.clone()),
                        None => not_found(),
                    }
                })
            });
        let put_one = warp::path!("wdm" / "api" / "v1" / "devices" / String)
            .and(warp::put())
            .and(auth)
            .and(json_body)
            .and(with.clone())
            .map(
                |id: String, auth: Option<String>, body: Option<Value>, f: FakeWebex| {
                    f.authed(auth, "PUT /wdm/api/v1/devices/{id}", |s, p| {
                        let Some(body) = body.filter(Value::is_object) else {
                            return error(StatusCode::BAD_REQUEST, "Malformed JSON");
                        };
                        let Some(d) = s
                            .socket
                            .devices
                            .iter_mut()
                            .find(|d| d.uuid == id && d.owner == p.id)
                        else {
                            return not_found();
                        };
                        for k in DEVICE_FIELDS {
                            if let Some(v) = body.get(k) {
                                d.body[k] = v.clone();
                            }
                        }
                        d.body["modificationTime"] = json!(iso_ms(SystemTime::now()));
                        ok(d.body.clone())
                    })
                },
            );
        let delete_one = warp::path!("wdm" / "api" / "v1" / "devices" / String)
            .and(warp::delete())
            .and(auth)
            .and(with.clone())
            .map(|id: String, auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "DELETE /wdm/api/v1/devices/{id}", |s, p| {
                    let before = s.socket.devices.len();
                    s.socket
                        .devices
                        .retain(|d| !(d.uuid == id && d.owner == p.id));
                    if s.socket.devices.len() == before {
                        return not_found();
                    }
                    no_content()
                })
            });
        vec![
            catalog.boxed(),
            list.boxed(),
            create.boxed(),
            delete_all.boxed(),
            get_one.boxed(),
            put_one.boxed(),
            delete_one.boxed(),
        ]
    }
}

fn text(v: &Value) -> Message {
    Message::text(v.to_string())
}

/// The first data frame of a connection, as JSON (`None` if it is not JSON or never comes).
async fn first_frame(ws: &mut WebSocketStream<TcpStream>) -> Option<Value> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Message::Binary(b)) => return serde_json::from_slice(&b).ok(),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    }
}

/// Sends a close frame, then reads until the client answers it (or 2 s pass).
async fn close(ws: &mut WebSocketStream<TcpStream>, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    if ws.send(Message::Close(Some(frame))).await.is_ok() {
        linger(ws).await;
    }
}

/// Reads what is left (the closing handshake) for at most 2 s.
async fn linger(ws: &mut WebSocketStream<TcpStream>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}
