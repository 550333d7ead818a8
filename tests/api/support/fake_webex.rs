//! A stateful fake of the Webex REST API, for end-to-end tests and the load tool.
//!
//! It serves under `/v1` on 127.0.0.1 (random port), knows people by their bearer tokens,
//! stores the messages people "type" and records every message the bot sends. Response
//! shapes follow Cisco's OpenAPI specs (`shared/webex-spec`), ids follow Webex's format
//! (base64 of `ciscospark://us/<TYPE>/<uuid>`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

pub const BOT_TOKEN: &str = "fake-bot-token";

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub kind: &'static str,
}

/// A message the bot sent, as the fake received it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: String,
    pub body: Value,
    pub token: String,
}

impl Sent {
    pub fn markdown(&self) -> &str {
        self.body["markdown"].as_str().unwrap_or_default()
    }
    pub fn room_id(&self) -> Option<&str> {
        self.body["roomId"].as_str()
    }
    pub fn to_person_id(&self) -> Option<&str> {
        self.body["toPersonId"].as_str()
    }
}

#[derive(Default)]
struct State {
    /// bearer token → person
    tokens: HashMap<String, Person>,
    messages: HashMap<String, Value>,
    sent: Vec<Sent>,
    /// Every request: (method, path, status).
    log: Vec<(String, String, u16)>,
}

#[derive(Clone)]
pub struct FakeWebex {
    pub addr: SocketAddr,
    pub bot: Person,
    state: Arc<Mutex<State>>,
    sent_signal: Arc<Notify>,
    ids: Arc<AtomicU64>,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(Mutex<Option<oneshot::Sender<()>>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.lock().unwrap().take() {
            let _ = tx.send(());
        }
    }
}

pub fn webex_id(kind: &str, uuid: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("ciscospark://us/{kind}/{uuid}"))
}

impl FakeWebex {
    pub async fn start() -> Self {
        let bot = Person {
            id: webex_id("PEOPLE", "b0b0b0b0-0000-4000-8000-000000000001"),
            email: "botper@webex.bot".into(),
            display_name: "Botper".into(),
            kind: "bot",
        };
        let mut state = State::default();
        state.tokens.insert(BOT_TOKEN.into(), bot.clone());
        let fake = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            bot,
            state: Arc::new(Mutex::new(state)),
            sent_signal: Arc::new(Notify::new()),
            ids: Arc::new(AtomicU64::new(1)),
            _stop: Arc::new(StopOnDrop(Mutex::new(None))),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let routes = fake.clone().routes();
        tokio::spawn(
            warp::serve(routes)
                .incoming(listener)
                .graceful(async move {
                    let _ = rx.await;
                })
                .run(),
        );
        let fake = Self { addr, ..fake };
        *fake._stop.0.lock().unwrap() = Some(tx);
        fake
    }

    /// The value for `WEBEX_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn next_uuid(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{n:012x}")
    }

    /// A person known to the fake (their token works for `people/me`).
    pub fn add_person(&self, name: &str) -> Person {
        let p = Person {
            id: webex_id("PEOPLE", &self.next_uuid()),
            email: format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
            display_name: name.into(),
            kind: "person",
        };
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert(format!("user-token-{}", p.id), p.clone());
        p
    }

    pub fn new_room_id(&self) -> String {
        webex_id("ROOM", &self.next_uuid())
    }

    /// Stores a message typed by `person` in `room` and returns its id (the webhook for it
    /// is the test's to send). `html` carries mention markup in group spaces.
    pub fn user_says(&self, person: &Person, room: &str, text: &str, html: Option<&str>) -> String {
        let id = webex_id("MESSAGE", &self.next_uuid());
        let mut m = json!({
            "id": id,
            "roomId": room,
            "roomType": if html.is_some() { "group" } else { "direct" },
            "text": text,
            "personId": person.id,
            "personEmail": person.email,
            "created": "2026-11-29T12:00:00.000Z",
        });
        if let Some(h) = html {
            m["html"] = json!(h);
            m["mentionedPeople"] = json!([self.bot.id]);
        }
        self.state.lock().unwrap().messages.insert(id.clone(), m);
        id
    }

    /// `html` for a group-space message that @mentions the bot, followed by `rest`.
    pub fn mention_html(&self, shown: &str, rest: &str) -> String {
        format!(
            r#"<p><spark-mention data-object-type="person" data-object-id="{}">{shown}</spark-mention>{rest}</p>"#,
            self.bot.id
        )
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.state.lock().unwrap().sent.clone()
    }

    pub fn sent_count(&self) -> usize {
        self.state.lock().unwrap().sent.len()
    }

    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.state.lock().unwrap().log.clone()
    }

    /// Waits until at least `n` messages were sent; panics after `timeout`.
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.sent_signal.notified();
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let sent = self.sent();
                assert!(
                    sent.len() >= n,
                    "expected {n} messages from the bot within {timeout:?}, got {}: {:#?}",
                    sent.len(),
                    sent.iter().map(Sent::markdown).collect::<Vec<_>>()
                );
                return sent;
            }
        }
    }

    fn routes(
        self,
    ) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
        let me = self.clone();
        let with = warp::any().map(move || me.clone());
        let auth = warp::header::optional::<String>("authorization");

        let people_me = warp::path!("v1" / "people" / "me")
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .map(|auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "GET /people/me", |_, p| {
                    ok(json!({
                        "id": p.id, "emails": [p.email], "displayName": p.display_name,
                        "nickName": p.display_name, "orgId": webex_id("ORGANIZATION", "org-1"),
                        "type": p.kind, "created": "2026-01-01T00:00:00.000Z",
                    }))
                })
            });
        let get_message = warp::path!("v1" / "messages" / String)
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .map(|id: String, auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "GET /messages/{id}", |s, _| {
                    match s.messages.get(&id) {
                        Some(m) => ok(m.clone()),
                        None => error(
                            StatusCode::NOT_FOUND,
                            "The requested resource could not be found.",
                        ),
                    }
                })
            });
        let post_message = warp::path!("v1" / "messages")
            .and(warp::post())
            .and(auth)
            .and(warp::body::bytes())
            .and(with.clone())
            .map(|auth: Option<String>, body: bytes::Bytes, f: FakeWebex| {
                let token = bearer(&auth).unwrap_or_default();
                let uuid = f.next_uuid();
                let signal = f.sent_signal.clone();
                let r = f.authed(auth, "POST /messages", |s, sender| {
                    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
                        return error(StatusCode::BAD_REQUEST, "Malformed JSON");
                    };
                    if let Err(why) = validate_create_message(&body) {
                        return error(StatusCode::BAD_REQUEST, &why);
                    }
                    let id = webex_id("MESSAGE", &uuid);
                    let mut stored = body.clone();
                    stored["id"] = json!(id);
                    stored["personId"] = json!(sender.id);
                    stored["personEmail"] = json!(sender.email);
                    stored["created"] = json!("2026-11-29T12:00:01.000Z");
                    s.messages.insert(id.clone(), stored.clone());
                    s.sent.push(Sent {
                        id,
                        body,
                        token: token.clone(),
                    });
                    ok(stored)
                });
                signal.notify_waiters();
                r
            });
        people_me
            .or(get_message)
            .unify()
            .or(post_message)
            .unify()
            .recover(|_r: warp::Rejection| async move {
                Ok::<_, std::convert::Infallible>(error(
                    StatusCode::NOT_FOUND,
                    "no such endpoint in the fake",
                ))
            })
            .unify()
    }

    /// Runs `f` for the person the bearer token names, or answers 401.
    fn authed(
        &self,
        auth: Option<String>,
        what: &str,
        f: impl FnOnce(&mut State, Person) -> Response,
    ) -> Response {
        let mut s = self.state.lock().unwrap();
        let person = bearer(&auth).and_then(|t| s.tokens.get(&t).cloned());
        let resp = match person {
            Some(p) => f(&mut s, p),
            None => error(
                StatusCode::UNAUTHORIZED,
                "The request requires a valid access token set in the Authorization request header.",
            ),
        };
        let (method, path) = what.split_once(' ').unwrap_or(("?", what));
        s.log
            .push((method.into(), path.into(), resp.status().as_u16()));
        resp
    }
}

fn bearer(auth: &Option<String>) -> Option<String> {
    auth.as_deref()?.strip_prefix("Bearer ").map(str::to_owned)
}

/// The rules of `POST /messages` that matter to Botper: one destination, some content,
/// Webex's size limit, known fields only.
fn validate_create_message(body: &Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("body must be a JSON object")?;
    let known = [
        "roomId",
        "parentId",
        "toPersonId",
        "toPersonEmail",
        "text",
        "markdown",
        "files",
        "attachments",
    ];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown field {k}"));
    }
    let destinations = ["roomId", "toPersonId", "toPersonEmail"]
        .iter()
        .filter(|k| obj.contains_key(**k))
        .count();
    if destinations != 1 {
        return Err("exactly one of roomId, toPersonId, toPersonEmail is required".into());
    }
    if !obj.contains_key("text") && !obj.contains_key("markdown") && !obj.contains_key("files") {
        return Err("text, markdown or files is required".into());
    }
    for k in ["text", "markdown"] {
        if let Some(v) = obj.get(k) {
            let s = v.as_str().ok_or(format!("{k} must be a string"))?;
            if s.len() > 7439 {
                return Err(format!("{k} is longer than 7439 bytes"));
            }
        }
    }
    Ok(())
}

pub fn ok(v: Value) -> Response {
    warp::reply::with_status(warp::reply::json(&v), StatusCode::OK).into_response()
}

pub fn error(status: StatusCode, message: &str) -> Response {
    use warp::Reply;
    let tracking = format!("FAKE_{}", status.as_u16());
    let mut r = warp::reply::with_status(
        warp::reply::json(&json!({
            "message": message,
            "errors": [{"description": message}],
            "trackingId": tracking,
        })),
        status,
    )
    .into_response();
    r.headers_mut()
        .insert("trackingid", tracking.parse().unwrap());
    r
}

use warp::Reply as _;
