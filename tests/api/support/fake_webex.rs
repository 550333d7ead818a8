//! A stateful fake of the Webex REST API, for end-to-end tests and the load tool.
//!
//! It serves under `/v1` on 127.0.0.1 (random port) and keeps state like Webex does:
//! people known by their bearer tokens (the bot's and users'), messages people "type",
//! every message the bot sends, the OAuth authorize/token endpoints (codes are single-use,
//! refresh tokens rotate, access tokens expire), meetings, and webhooks — and it delivers
//! signed `meetings`/`created` events to the webhooks people registered, as Webex does.
//! Response shapes follow Cisco's OpenAPI specs; ids follow Webex's formats.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

#[path = "fake_socket.rs"]
mod fake_socket;
pub use fake_socket::uuid_of;

pub const BOT_TOKEN: &str = "fake-bot-token";
pub const CLIENT_ID: &str = "fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret";

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub kind: &'static str,
}

/// A message the bot sent, as the fake received it. For a `multipart/form-data` message,
/// `body` is what Webex makes of it: the text fields, and `files` with the one file's URL.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: String,
    pub body: Value,
    pub token: String,
    /// The uploaded file of a `multipart/form-data` message (none for a JSON message).
    pub files: Vec<SentFile>,
}

/// A file uploaded with a message (the `files` part of a `multipart/form-data` body).
#[derive(Clone)]
pub struct SentFile {
    /// The part's `filename`.
    pub name: String,
    /// The part's `Content-Type` (`application/octet-stream` when it had none).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl SentFile {
    /// The content as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl std::fmt::Debug for SentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentFile")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Sent {
    /// The uploaded file, if the message had one.
    pub fn file(&self) -> Option<&SentFile> {
        self.files.first()
    }
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

#[derive(Debug, Clone)]
struct TokenInfo {
    person: Person,
    expires: Option<SystemTime>,
}

#[derive(Debug, Clone)]
pub struct FakeWebhook {
    pub owner: String,
    pub body: Value,
}

/// A signed delivery the fake sent to a webhook target, and the status it got back.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub target: String,
    pub body: Value,
    pub status: u16,
}

struct State {
    /// bearer token → person (and expiry, for OAuth access tokens)
    tokens: HashMap<String, TokenInfo>,
    messages: HashMap<String, Value>,
    sent: Vec<Sent>,
    /// Every request: (method, path, status).
    log: Vec<(String, String, u16)>,
    /// Who signs in at `/authorize`; `None` answers `access_denied`.
    authorizer: Option<Person>,
    /// code → (person, redirect_uri)
    codes: HashMap<String, (Person, String)>,
    /// live refresh token → person
    refresh_tokens: HashMap<String, Person>,
    access_ttl: Duration,
    refresh_requests: usize,
    code_exchanges: usize,
    meetings: HashMap<String, Value>,
    /// Every accepted `POST /meetings` body, in order.
    meeting_requests: Vec<Value>,
    /// Answer 404 this many more times to `GET /meetings/{id}` (REST lag after a webhook).
    meeting_lag: HashMap<String, u32>,
    webhooks: HashMap<String, FakeWebhook>,
    deliveries: Vec<Delivery>,
    /// Problems with request bodies, as Webex would see them (tests assert there are none).
    violations: Vec<String>,
    faults: Option<FaultPlan>,
    /// The next this-many `/access_token` calls answer 500 (after counting them).
    failing_token_calls: u32,
    /// Card submissions (`GET /attachment/actions/{id}`).
    card_actions: HashMap<String, Value>,
    fault_calls: u64,
    injected: HashMap<&'static str, usize>,
    /// Creates that are applied and then answered with a failure ("POST /meetings", …).
    after_apply: HashMap<&'static str, Vec<AfterApply>>,
    /// `POST /webhooks` and `PUT /webhooks/{id}` answer 403 while set.
    webhook_writes_refused: bool,
    /// Messages in insertion order (for the list endpoints), by id.
    message_order: Vec<String>,
    /// While set, `meetings`/`created` deliveries wait here (Webex delivering late).
    held_meetings: Option<Vec<(Person, Value)>>,
    /// person id → the person object `GET /people/{id}` answers.
    profiles: HashMap<String, Value>,
    /// person id → their meeting templates (others have [`default_templates`]).
    templates: HashMap<String, Vec<Value>>,
    /// person id → the scopes they granted at their last authorize (space-separated).
    granted: HashMap<String, String>,
    /// room id → its instant meeting (`adhoc`), while it lasts.
    adhoc: HashMap<String, Value>,
    /// room id → its members (person ids), for `GET /memberships`.
    rooms: HashMap<String, Vec<String>>,
    /// Devices (WDM) and their Mercury websockets.
    socket: fake_socket::Sockets,
}

impl State {
    /// The meeting templates `person` may use.
    fn templates_of(&self, person: &str) -> Vec<Value> {
        self.templates
            .get(person)
            .cloned()
            .unwrap_or_else(default_templates)
    }
}

/// A meeting template as Webex describes it (Meetings spec, `TemplateObject`).
fn template(id: &str, name: &str, is_default: bool, is_standard: bool) -> Value {
    json!({
        "id": id,
        "name": name,
        "locale": "en_US",
        "siteUrl": "example.webex.com",
        "templateType": "meeting",
        "isDefault": is_default,
        "isStandard": is_standard,
    })
}

/// The templates a Webex site offers everyone.
pub fn default_templates() -> Vec<Value> {
    [
        ("Webex Meetings Standard", true, true),
        ("Board Meeting", false, false),
        ("Board Meeting Extended", false, false),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, is_default, is_standard))| {
        let id = format!("N2Q3ZWE1ZjQ0NGY0NDMyYWFiNDZjY2IzMDU5ODJkNTFfTV8{i}");
        template(&id, name, *is_default, *is_standard)
    })
    .collect()
}

/// The occurrences of a stored series starting in [`from`, `to`), as `GET /meetings` with
/// `meetingType=scheduledMeeting` lists them: `<series id>_<start>` with `meetingSeriesId`.
/// The fake expands daily and weekly (one day) rules; any other series shows its first.
fn occurrences(m: &Value, from: jiff::Timestamp, to: jiff::Timestamp) -> Vec<Value> {
    let ts = |k: &str| {
        m[k].as_str()
            .and_then(|v| v.parse::<jiff::Timestamp>().ok())
    };
    let (Some(start), Some(end)) = (ts("start"), ts("end")) else {
        return Vec::new();
    };
    let rule = m["recurrence"].as_str().unwrap_or("");
    let part = |k: &str| {
        rule.split(';')
            .find_map(|p| p.strip_prefix(k)?.strip_prefix('='))
    };
    let interval: i64 = part("INTERVAL").and_then(|v| v.parse().ok()).unwrap_or(1);
    let step = match part("FREQ") {
        Some("DAILY") => Some(jiff::SignedDuration::from_hours(24 * interval)),
        Some("WEEKLY") if part("BYDAY").is_none_or(|d| !d.contains(',')) => {
            Some(jiff::SignedDuration::from_hours(24 * 7 * interval))
        }
        _ => None,
    };
    let count: usize = match (step, part("COUNT")) {
        (None, _) => 1,
        (Some(_), Some(c)) => c.parse().unwrap_or(1),
        (Some(_), None) => 400,
    };
    let until = part("UNTIL").and_then(|u| {
        jiff::fmt::strtime::parse("%Y%m%dT%H%M%SZ", u)
            .ok()?
            .to_datetime()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    });
    let len = end.duration_since(start);
    let mut out = Vec::new();
    for k in 0..count.min(400) {
        let at = start + step.unwrap_or_default() * i32::try_from(k).unwrap();
        if at >= to || until.is_some_and(|u| at > u) {
            break;
        }
        if at < from {
            continue;
        }
        let mut o = m.clone();
        let stamp = jiff::fmt::strtime::format("%Y%m%dT%H%M%SZ", at).unwrap();
        o["id"] = json!(format!("{}_{stamp}", m["id"].as_str().unwrap_or("")));
        o["meetingSeriesId"] = m["id"].clone();
        o["meetingType"] = json!("scheduledMeeting");
        o["start"] = json!(at.to_string());
        o["end"] = json!((at + len).to_string());
        if let Some(o) = o.as_object_mut() {
            o.remove("recurrence");
        }
        out.push(o);
    }
    out
}

/// How a create that Webex applied is answered: the caller cannot tell that it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterApply {
    BadGateway,
    DropConnection,
}

/// Failures the fake injects into the bot's messaging calls (`people/me`, `GET /messages`,
/// `POST /messages`), deterministically: call k fails when a hash of (seed, k) falls under
/// `percent`. A failed call does nothing (so a retry cannot duplicate a message).
#[derive(Debug, Clone)]
pub struct FaultPlan {
    pub percent: u32,
    pub kinds: Vec<Fault>,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After`.
    TooManyRequests { retry_after_secs: u32 },
    /// 500 with a Webex error body.
    ServerError,
    /// Answer late (GETs only; a late POST that the client gave up on would still post).
    Slow(Duration),
    /// Start a response and break the connection.
    DropConnection,
}

impl Fault {
    fn name(&self) -> &'static str {
        match self {
            Fault::TooManyRequests { .. } => "429",
            Fault::ServerError => "500",
            Fault::Slow(_) => "slow",
            Fault::DropConnection => "dropped",
        }
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[derive(Clone)]
pub struct FakeWebex {
    pub addr: SocketAddr,
    /// Where the Mercury websockets are served (devices' `webSocketUrl`).
    pub ws_addr: SocketAddr,
    pub bot: Person,
    state: Arc<Mutex<State>>,
    sent_signal: Arc<Notify>,
    ids: Arc<AtomicU64>,
    http: reqwest::Client,
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

fn iso(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).unwrap().to_string()
}

impl FakeWebex {
    pub async fn start() -> Self {
        let bot = Person {
            id: webex_id("PEOPLE", "b0b0b0b0-0000-4000-8000-000000000001"),
            email: "botper@webex.bot".into(),
            display_name: "Botper".into(),
            kind: "bot",
        };
        let mut tokens = HashMap::new();
        tokens.insert(
            BOT_TOKEN.to_owned(),
            TokenInfo {
                person: bot.clone(),
                expires: None,
            },
        );
        let state = State {
            tokens,
            messages: HashMap::new(),
            sent: Vec::new(),
            log: Vec::new(),
            authorizer: None,
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_ttl: Duration::from_secs(1_209_599),
            refresh_requests: 0,
            code_exchanges: 0,
            meetings: HashMap::new(),
            meeting_requests: Vec::new(),
            meeting_lag: HashMap::new(),
            webhooks: HashMap::new(),
            deliveries: Vec::new(),
            violations: Vec::new(),
            faults: None,
            failing_token_calls: 0,
            card_actions: HashMap::new(),
            fault_calls: 0,
            injected: HashMap::new(),
            after_apply: HashMap::new(),
            webhook_writes_refused: false,
            message_order: Vec::new(),
            held_meetings: None,
            profiles: HashMap::new(),
            templates: HashMap::new(),
            granted: HashMap::new(),
            adhoc: HashMap::new(),
            rooms: HashMap::new(),
            socket: fake_socket::Sockets::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            addr: listener.local_addr().unwrap(),
            ws_addr: ws_listener.local_addr().unwrap(),
            bot,
            state: Arc::new(Mutex::new(state)),
            sent_signal: Arc::new(Notify::new()),
            ids: Arc::new(AtomicU64::new(1)),
            http: reqwest::Client::new(),
            _stop: Arc::new(StopOnDrop(Mutex::new(None))),
        };
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
        *fake._stop.0.lock().unwrap() = Some(tx);
        fake.serve_sockets(ws_listener);
        fake
    }

    /// The value for `WEBEX_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn next_n(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    fn next_uuid(&self) -> String {
        format!("00000000-0000-4000-8000-{:012x}", self.next_n())
    }

    fn secret_token(&self, prefix: &str) -> String {
        format!(
            "{prefix}-{:016x}{:08x}",
            rand::random::<u64>(),
            self.next_n()
        )
    }

    /// A new person (who can sign in at `/authorize` with [`FakeWebex::sign_in_as`]).
    pub fn add_person(&self, name: &str) -> Person {
        let p = Person {
            id: webex_id("PEOPLE", &self.next_uuid()),
            email: format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
            display_name: name.into(),
            kind: "person",
        };
        // Webex gives `timezone` only where the person (or their admin) set one.
        self.state.lock().unwrap().profiles.insert(
            p.id.clone(),
            json!({
                "id": p.id, "emails": [p.email], "displayName": p.display_name,
                "orgId": webex_id("ORGANIZATION", "org-1"), "type": "person",
                "created": "2026-01-01T00:00:00.000Z",
            }),
        );
        p
    }

    /// Sets the `timezone` of the person's Webex profile.
    pub fn set_profile_timezone(&self, p: &Person, zone: &str) {
        if let Some(profile) = self.state.lock().unwrap().profiles.get_mut(&p.id) {
            profile["timezone"] = json!(zone);
        }
    }

    pub fn new_room_id(&self) -> String {
        webex_id("ROOM", &self.next_uuid())
    }

    // ----- messages -------------------------------------------------------------------

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
            if h.contains(&format!("data-object-id=\"{}\"", self.bot.id)) {
                m["mentionedPeople"] = json!([self.bot.id]);
            }
        }
        let mut s = self.state.lock().unwrap();
        s.messages.insert(id.clone(), m);
        s.message_order.push(id.clone());
        id
    }

    /// `html` for a group-space message that @mentions the bot, followed by `rest`.
    pub fn mention_html(&self, shown: &str, rest: &str) -> String {
        format!(
            r#"<p><spark-mention data-object-type="person" data-object-id="{}">{shown}</spark-mention>{rest}</p>"#,
            self.bot.id
        )
    }

    /// `person` presses a button on the card of `message_id`; returns the submission id (the
    /// webhook for it is the test's to send).
    pub fn press(&self, person: &Person, room: &str, message_id: &str, inputs: Value) -> String {
        let id = webex_id("ATTACHMENT_ACTION", &self.next_uuid());
        let action = json!({
            "id": id, "type": "submit", "messageId": message_id, "inputs": inputs,
            "personId": person.id, "roomId": room, "created": "2026-11-29T12:00:02.000Z",
        });
        self.state
            .lock()
            .unwrap()
            .card_actions
            .insert(id.clone(), action);
        id
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

    /// How many `method path` requests were made (`path` as logged: `/meetings/{id}`).
    pub fn request_count(&self, method: &str, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(m, p, _)| m == method && p == path)
            .count()
    }

    /// Request-body problems seen so far (Webex would have refused those requests).
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// Fails the test if any request body broke Cisco's spec or Webex's documented rules.
    pub fn assert_spec_clean(&self) {
        let v = self.violations();
        assert!(v.is_empty(), "requests Webex would refuse: {v:#?}");
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

    // ----- faults ---------------------------------------------------------------------

    pub fn inject_faults(&self, plan: FaultPlan) {
        self.state.lock().unwrap().faults = Some(plan);
    }

    pub fn stop_faults(&self) {
        self.state.lock().unwrap().faults = None;
    }

    /// Faults injected so far, by kind ("429", "500", "slow", "dropped").
    pub fn injected(&self) -> HashMap<&'static str, usize> {
        self.state.lock().unwrap().injected.clone()
    }

    /// Calls to the faultable endpoints so far.
    pub fn faultable_calls(&self) -> u64 {
        self.state.lock().unwrap().fault_calls
    }

    /// Decides (and counts) whether this call fails; applies a slow answer itself.
    async fn fault(&self, what: &'static str, may_be_slow: bool) -> Option<Response> {
        let chosen = {
            let mut s = self.state.lock().unwrap();
            s.fault_calls += 1;
            let k = s.fault_calls;
            let plan = s.faults.clone()?;
            let h = mix(plan.seed ^ k.wrapping_mul(0x2545_F491_4F6C_DD1D));
            if h % 100 >= u64::from(plan.percent) || plan.kinds.is_empty() {
                return None;
            }
            let mut kind = plan.kinds[(mix(h) % plan.kinds.len() as u64) as usize];
            if matches!(kind, Fault::Slow(_)) && !may_be_slow {
                if plan.kinds.iter().all(|k| matches!(k, Fault::Slow(_))) {
                    // A plan of only slowness leaves POSTs alone.
                    return None;
                }
                kind = Fault::TooManyRequests {
                    retry_after_secs: 1,
                };
            }
            *s.injected.entry(kind.name()).or_default() += 1;
            let (m, p) = what.split_once(' ').unwrap_or(("?", what));
            s.log.push((m.into(), p.into(), 0));
            kind
        };
        match chosen {
            Fault::TooManyRequests { retry_after_secs } => {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
                r.headers_mut()
                    .insert("retry-after", retry_after_secs.to_string().parse().unwrap());
                Some(r)
            }
            Fault::ServerError => Some(error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")),
            Fault::Slow(d) => {
                tokio::time::sleep(d).await;
                None
            }
            Fault::DropConnection => Some(dropped_connection()),
        }
    }

    /// The next creates on `endpoint` ("POST /meetings", "POST /messages", "POST
    /// /webhooks") are applied, then answered as `answers` say, one each.
    pub fn fail_after_applying(&self, endpoint: &'static str, answers: Vec<AfterApply>) {
        let mut s = self.state.lock().unwrap();
        let q = s.after_apply.entry(endpoint).or_default();
        q.extend(answers);
    }

    /// Replaces a success by the planned failure, if one is planned for `endpoint`.
    fn after_applied(&self, endpoint: &'static str, ok: Response) -> Response {
        let planned = {
            let mut s = self.state.lock().unwrap();
            let q = s.after_apply.entry(endpoint).or_default();
            (!q.is_empty()).then(|| q.remove(0))
        };
        match planned {
            None => ok,
            Some(AfterApply::BadGateway) => error(StatusCode::BAD_GATEWAY, "Bad gateway"),
            Some(AfterApply::DropConnection) => dropped_connection(),
        }
    }

    // ----- POST /messages -------------------------------------------------------------

    /// Checks and stores a message the bot (or a user) sends, as Webex does: `body` is the
    /// JSON body, or what Webex makes of a multipart one (its fields, and `files` with the
    /// uploaded file's URL); `files` are the uploaded files.
    fn create_message(
        &self,
        s: &mut State,
        sender: &Person,
        uuid: &str,
        body: Value,
        files: Vec<SentFile>,
        token: String,
    ) -> Response {
        // The spec's attachment schema is known to be wrong (it describes files); cards are
        // checked against the documented card rules.
        let mut for_spec = body.clone();
        if let Some(o) = for_spec.as_object_mut() {
            o.remove("attachments");
        }
        let checked = check(s, "POST", "/messages", &for_spec)
            .and(validate_create_message(&body))
            .and(validate_cards(&body).inspect_err(|why| {
                s.violations.push(why.clone());
            }));
        if let Err(why) = checked {
            return error(StatusCode::BAD_REQUEST, &why);
        }
        let id = webex_id("MESSAGE", uuid);
        let mut stored = body.clone();
        stored["id"] = json!(id);
        stored["personId"] = json!(sender.id);
        stored["personEmail"] = json!(sender.email);
        stored["created"] = json!(iso(SystemTime::now()));
        s.messages.insert(id.clone(), stored.clone());
        s.message_order.push(id.clone());
        self.socket_posted(s, sender, &stored);
        s.sent.push(Sent {
            id,
            body,
            token,
            files,
        });
        ok(stored)
    }

    // ----- OAuth ----------------------------------------------------------------------

    /// The person who "signs in" at `/authorize` from now on.
    pub fn sign_in_as(&self, person: &Person) {
        self.state.lock().unwrap().authorizer = Some(person.clone());
    }

    /// `/authorize` answers `error=access_denied` from now on.
    pub fn deny_authorization(&self) {
        self.state.lock().unwrap().authorizer = None;
    }

    /// Lifetime of access tokens issued from now on.
    pub fn set_access_ttl(&self, ttl: Duration) {
        self.state.lock().unwrap().access_ttl = ttl;
    }

    /// The next `n` calls to `/access_token` answer 500.
    pub fn fail_token_calls(&self, n: u32) {
        self.state.lock().unwrap().failing_token_calls = n;
    }

    pub fn refresh_requests(&self) -> usize {
        self.state.lock().unwrap().refresh_requests
    }

    pub fn code_exchanges(&self) -> usize {
        self.state.lock().unwrap().code_exchanges
    }

    /// Every live access token of `person`.
    pub fn access_tokens_of(&self, person: &Person) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.tokens
            .iter()
            .filter(|(_, t)| t.person.id == person.id && t.expires.is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Revokes every access token of `person` (their next call gets 401).
    pub fn revoke_access_tokens(&self, person: &Person) {
        let mut s = self.state.lock().unwrap();
        s.tokens
            .retain(|_, t| !(t.person.id == person.id && t.expires.is_some()));
    }

    /// Revokes `person`'s refresh tokens (their next refresh gets `invalid_grant`).
    pub fn revoke_refresh_tokens(&self, person: &Person) {
        self.state
            .lock()
            .unwrap()
            .refresh_tokens
            .retain(|_, p| p.id != person.id);
    }

    // ----- meetings and webhooks -----------------------------------------------------

    /// The bodies of the `POST /meetings` requests Webex accepted, in order.
    pub fn meeting_requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().meeting_requests.clone()
    }

    pub fn meetings(&self) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .meetings
            .values()
            .cloned()
            .collect()
    }

    pub fn webhooks(&self) -> Vec<FakeWebhook> {
        self.state
            .lock()
            .unwrap()
            .webhooks
            .values()
            .cloned()
            .collect()
    }

    /// A webhook that already exists at Webex, owned by `owner` (e.g. the bot).
    pub fn add_webhook(
        &self,
        owner: &Person,
        resource: &str,
        target: &str,
        name: &str,
        status: &str,
        secret: &str,
    ) -> String {
        let id = webex_id("WEBHOOK", &self.next_uuid());
        let body = json!({
            "id": id, "name": name, "targetUrl": target, "resource": resource,
            "event": "created", "secret": secret, "status": status,
            "created": "2026-11-01T00:00:00.000Z", "createdBy": owner.id, "ownedBy": "creator",
        });
        self.state.lock().unwrap().webhooks.insert(
            id.clone(),
            FakeWebhook {
                owner: owner.id.clone(),
                body,
            },
        );
        id
    }

    /// Removes a webhook at Webex (as if it never existed, or its owner deleted it).
    pub fn drop_webhook(&self, id: &str) {
        self.state.lock().unwrap().webhooks.remove(id);
    }

    /// While `on`, webhook creates and updates are refused with 403.
    pub fn refuse_webhook_writes(&self, on: bool) {
        self.state.lock().unwrap().webhook_writes_refused = on;
    }

    /// Webex disables `person`'s meetings webhooks (as it does after failed deliveries).
    pub fn disable_meetings_webhooks_of(&self, person: &Person) {
        let mut s = self.state.lock().unwrap();
        for h in s.webhooks.values_mut() {
            if h.owner == person.id && h.body["resource"] == "meetings" {
                h.body["status"] = json!("inactive");
            }
        }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().deliveries.clone()
    }

    /// The next `GET /meetings/{id}` calls for meetings created from now on answer 404
    /// `times` times (Webex's REST data lagging its webhook).
    pub fn lag_meetings(&self, times: u32) {
        self.state
            .lock()
            .unwrap()
            .meeting_lag
            .insert("*".into(), times);
    }

    /// `person` schedules a meeting outside Botper (Webex app, Outlook…): it is stored and
    /// their `meetings`/`created` webhooks are called.
    pub async fn schedule_elsewhere(&self, person: &Person, title: &str) -> String {
        let start = SystemTime::now() + Duration::from_secs(3600);
        let body = json!({
            "title": title,
            "start": iso(start),
            "end": iso(start + Duration::from_secs(1800)),
            "timezone": "UTC",
        });
        let m = self.store_meeting(person, &body);
        self.deliver_meeting_created(person, &m).await;
        m["id"].as_str().unwrap().to_owned()
    }

    fn store_meeting(&self, host: &Person, body: &Value) -> Value {
        let id = format!(
            "{:032x}",
            (self.next_n() as u128) << 64 | rand::random::<u64>() as u128
        );
        let number = 2_000_000_000 + self.next_n();
        let m = json!({
            "id": id,
            "meetingNumber": number.to_string(),
            "title": body["title"],
            "password": "BgJep@43",
            "meetingType": "meetingSeries",
            "state": "active",
            "timezone": body.get("timezone").cloned().unwrap_or(json!("UTC")),
            "start": body["start"],
            "end": body["end"],
            "hostUserId": host.id,
            "hostDisplayName": host.display_name,
            "hostEmail": host.email,
            "siteUrl": "example.webex.com",
            "webLink": format!("https://example.webex.com/example/j.php?MTID=m{id}"),
            "sipAddress": format!("{number}@example.webex.com"),
            "enabledAutoRecordMeeting": false,
            "scheduledType": "meeting",
            "integrationTags": body.get("integrationTags").cloned().unwrap_or(json!([])),
        });
        let mut m = m;
        if let Some(rule) = body.get("recurrence").and_then(Value::as_str) {
            m["recurrence"] = json!(webex_keeps_of(rule));
        }
        let mut s = self.state.lock().unwrap();
        s.meeting_requests.push(body.clone());
        if let Some(lag) = s.meeting_lag.get("*").copied() {
            s.meeting_lag.insert(id.clone(), lag);
        }
        s.meetings.insert(id, m.clone());
        m
    }

    /// The space's instant meeting (`meet now`), as Webex describes one: no integration
    /// tags, `adhoc` and the `roomId`, starting in 5 minutes for 15.
    fn start_adhoc(&self, host: &Person, room: &str) -> Value {
        let id = format!("{:032x}", (self.next_n() as u128) << 64 | 7);
        let now = jiff::Timestamp::now();
        let number = 2_500_000_000 + self.next_n();
        let m = json!({
            "id": id,
            "meetingNumber": number.to_string(),
            "title": host.display_name,
            "meetingType": "meetingSeries",
            "state": "active",
            "adhoc": true,
            "roomId": room,
            "timezone": "UTC",
            "start": (now + jiff::SignedDuration::from_mins(5)).to_string(),
            "end": (now + jiff::SignedDuration::from_mins(20)).to_string(),
            "hostUserId": host.id,
            "hostDisplayName": host.display_name,
            "hostEmail": host.email,
            "siteUrl": "example.webex.com",
            "webLink": format!("https://example.webex.com/example/j.php?MTID=a{id}"),
            "scheduledType": "meeting",
        });
        let mut s = self.state.lock().unwrap();
        // Listed by `GET /meetings/{id}` (the created webhook reads it), never by the list.
        s.meetings.insert(id, m.clone());
        s.adhoc.insert(room.to_owned(), m.clone());
        m
    }

    /// The space's members (and the bot), for `GET /memberships?roomId=…`.
    pub fn set_room_members(&self, room: &str, people: &[&Person]) {
        let mut ids: Vec<String> = people.iter().map(|p| p.id.clone()).collect();
        ids.push(self.bot.id.clone());
        self.state
            .lock()
            .unwrap()
            .rooms
            .insert(room.to_owned(), ids);
    }

    /// The `POST /meetings` bodies with `adhoc: true`.
    pub fn adhoc_requests(&self) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .meeting_requests
            .iter()
            .filter(|b| b.get("adhoc") == Some(&json!(true)))
            .cloned()
            .collect()
    }

    /// Gives `person` these meeting templates (by name) instead of the site's defaults.
    pub fn set_templates(&self, person: &Person, names: &[&str]) {
        let list = names
            .iter()
            .map(|n| {
                let id = webex_id("MEETING_TEMPLATE", &self.next_uuid());
                template(&id, n, false, false)
            })
            .collect();
        self.state
            .lock()
            .unwrap()
            .templates
            .insert(person.id.clone(), list);
    }

    /// From now on `meetings`/`created` deliveries wait until [`FakeWebex::release_meetings`].
    pub fn hold_meetings(&self) {
        self.state.lock().unwrap().held_meetings = Some(Vec::new());
    }

    /// Sends the held `meetings`/`created` deliveries, and stops holding.
    pub async fn release_meetings(&self) {
        let held = self.state.lock().unwrap().held_meetings.take();
        for (host, m) in held.unwrap_or_default() {
            self.deliver_meeting_created(&host, &m).await;
        }
    }

    /// Calls `host`'s active `meetings`/`created` webhooks, signed with their secrets.
    async fn deliver_meeting_created(&self, host: &Person, meeting: &Value) {
        if let Some(held) = self.state.lock().unwrap().held_meetings.as_mut() {
            held.push((host.clone(), meeting.clone()));
            return;
        }
        self.deliver_meeting_event(host, meeting, "created").await;
    }

    /// The meeting `id` as Webex has it now (`None` once it is cancelled).
    pub fn meeting(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().meetings.get(id).cloned()
    }

    /// `host` moves and/or renames their meeting in Webex (the Webex app, Outlook…): it
    /// changes, and their `meetings`/`updated` webhooks are called. Returns the meeting as
    /// it now is.
    pub async fn update_meeting(
        &self,
        host: &Person,
        id: &str,
        title: Option<&str>,
        start: Option<SystemTime>,
    ) -> Value {
        let m = {
            let mut s = self.state.lock().unwrap();
            let m = s.meetings.get_mut(id).expect("a meeting the fake has");
            if let Some(t) = title {
                m["title"] = json!(t);
            }
            if let Some(start) = start {
                let old_start: jiff::Timestamp = m["start"].as_str().unwrap().parse().unwrap();
                let old_end: jiff::Timestamp = m["end"].as_str().unwrap().parse().unwrap();
                let length = old_end.duration_since(old_start);
                // Webex keeps meeting times to the second.
                let new_start = jiff::Timestamp::from_second(
                    jiff::Timestamp::try_from(start).unwrap().as_second(),
                )
                .unwrap();
                m["start"] = json!(new_start.to_string());
                m["end"] = json!((new_start + length).to_string());
            }
            m.clone()
        };
        self.deliver_meeting_event(host, &m, "updated").await;
        m
    }

    /// `host` cancels their meeting in Webex: it is gone (`GET` answers 404) and their
    /// `meetings`/`deleted` webhooks are called.
    pub async fn cancel_meeting(&self, host: &Person, id: &str) {
        let m = self
            .state
            .lock()
            .unwrap()
            .meetings
            .remove(id)
            .expect("a meeting the fake has");
        self.deliver_meeting_event(host, &m, "deleted").await;
    }

    /// Calls `host`'s active `meetings` webhooks for `event`, signed with their secrets,
    /// with `meeting` as the delivery's data (a stale copy makes a late delivery).
    pub async fn deliver_meeting_event(&self, host: &Person, meeting: &Value, event: &str) {
        let hooks: Vec<(String, Value)> = {
            let s = self.state.lock().unwrap();
            s.webhooks
                .iter()
                .filter(|(_, h)| {
                    h.owner == host.id
                        && h.body["resource"] == "meetings"
                        && h.body["event"] == event
                        && h.body["status"] == "active"
                })
                .map(|(id, h)| (id.clone(), h.body.clone()))
                .collect()
        };
        for (hook_id, hook) in hooks {
            let envelope = json!({
                "id": hook_id,
                "name": hook["name"],
                "targetUrl": hook["targetUrl"],
                "resource": "meetings",
                "event": event,
                "orgId": webex_id("ORGANIZATION", "org-1"),
                "createdBy": host.id,
                "appId": webex_id("APPLICATION", "app-1"),
                "ownedBy": "creator",
                "status": "active",
                "created": hook["created"],
                "actorId": host.id,
                "data": {
                    "id": meeting["id"],
                    "meetingType": "meetingSeries",
                    "timezone": meeting["timezone"],
                    "start": meeting["start"],
                    "end": meeting["end"],
                    "hostUserId": host.id,
                    "state": "active",
                    "hostEmail": host.email,
                    "siteUrl": "example.webex.com",
                },
            });
            let raw = serde_json::to_vec(&envelope).unwrap();
            let mut req = self
                .http
                .post(hook["targetUrl"].as_str().unwrap_or_default())
                .header("content-type", "application/json")
                .body(raw.clone());
            if let Some(secret) = hook["secret"].as_str() {
                req = req.header(
                    "x-spark-signature",
                    botper::adapters::http::signature::sign(secret, &raw),
                );
            }
            let status = match req.send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            };
            self.state.lock().unwrap().deliveries.push(Delivery {
                target: hook["targetUrl"].as_str().unwrap_or_default().to_owned(),
                body: envelope,
                status,
            });
        }
    }

    // ----- HTTP ----------------------------------------------------------------------

    fn routes(
        self,
    ) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
        let me = self.clone();
        let with = warp::any().map(move || me.clone());
        let auth = warp::header::optional::<String>("authorization");
        let json_body =
            warp::body::bytes().map(|b: bytes::Bytes| serde_json::from_slice::<Value>(&b).ok());

        let people_me = warp::path!("v1" / "people" / "me")
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .then(|auth: Option<String>, f: FakeWebex| async move {
                if bearer(&auth).as_deref() == Some(BOT_TOKEN)
                    && let Some(r) = f.fault("GET /people/me", true).await
                {
                    return r;
                }
                f.authed(auth, "GET /people/me", |_, p| {
                    ok(json!({
                        "id": p.id, "emails": [p.email], "displayName": p.display_name,
                        "nickName": p.display_name, "orgId": webex_id("ORGANIZATION", "org-1"),
                        "type": p.kind, "created": "2026-01-01T00:00:00.000Z",
                        "timezone": if p.kind == "bot" { Value::Null } else { json!("Europe/Paris") },
                    }))
                })
            });
        let get_person = warp::path!("v1" / "people" / String)
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .then(
                |id: String, auth: Option<String>, f: FakeWebex| async move {
                    f.authed(auth, "GET /people/{id}", |s, _| match s.profiles.get(&id) {
                        Some(p) => ok(p.clone()),
                        None => error(
                            StatusCode::NOT_FOUND,
                            "The requested resource could not be found.",
                        ),
                    })
                },
            );
        let memberships =
            warp::path!("v1" / "memberships")
                .and(warp::get())
                .and(auth)
                .and(warp::query::<HashMap<String, String>>())
                .and(with.clone())
                .map(
                    |auth: Option<String>, q: HashMap<String, String>, f: FakeWebex| {
                        let bot = f.bot.clone();
                        f.authed(auth, "GET /memberships", |s, _| {
                            let room = q.get("roomId").cloned().unwrap_or_default();
                            let Some(members) = s.rooms.get(&room) else {
                                return error(
                                    StatusCode::NOT_FOUND,
                                    "The requested resource could not be found.",
                                );
                            };
                            let items: Vec<Value> = members
                            .iter()
                            .filter_map(|id| {
                                if *id == bot.id {
                                    return Some((id, json!({
                                        "emails": [bot.email], "displayName": bot.display_name,
                                        "orgId": webex_id("ORGANIZATION", "org-1"),
                                    })));
                                }
                                s.profiles.get(id).map(|p| (id, p.clone()))
                            })
                            .map(|(id, p)| {
                                json!({
                                    "id": webex_id("MEMBERSHIP", id),
                                    "roomId": room,
                                    "personId": id,
                                    "personEmail": p["emails"][0],
                                    "personDisplayName": p["displayName"],
                                    "personOrgId": p["orgId"],
                                    "isModerator": false,
                                    "isMonitor": false,
                                    "created": "2026-01-01T00:00:00.000Z",
                                })
                            })
                            .collect();
                            ok(json!({ "items": items }))
                        })
                    },
                );
        let get_message = warp::path!("v1" / "messages" / String)
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .then(
                |id: String, auth: Option<String>, f: FakeWebex| async move {
                    if let Some(r) = f.fault("GET /messages/{id}", true).await {
                        return r;
                    }
                    f.authed(auth, "GET /messages/{id}", |s, _| {
                        match s.messages.get(&id) {
                            Some(m) => ok(m.clone()),
                            None => error(
                                StatusCode::NOT_FOUND,
                                "The requested resource could not be found.",
                            ),
                        }
                    })
                },
            );
        // `POST /messages` takes JSON, or `multipart/form-data` for a message with a file:
        // the body is read raw (bounded) and dispatched on its `Content-Type`.
        let raw_body = warp::body::stream().then(read_bounded);
        let post_message = warp::path!("v1" / "messages")
            .and(warp::post())
            .and(auth)
            .and(warp::header::optional::<String>("content-type"))
            .and(raw_body)
            .and(with.clone())
            .then(
                |auth: Option<String>,
                 content_type: Option<String>,
                 raw: Result<bytes::Bytes, String>,
                 f: FakeWebex| async move {
                    if let Some(r) = f.fault("POST /messages", false).await {
                        return r;
                    }
                    let token = bearer(&auth).unwrap_or_default();
                    let uuid = f.next_uuid();
                    let signal = f.sent_signal.clone();
                    let r = match content_type.filter(|ct| is_multipart(ct)) {
                        None => {
                            let body = raw
                                .ok()
                                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                            f.authed(auth, "POST /messages", |s, sender| {
                                let Some(body) = body else {
                                    return error(StatusCode::BAD_REQUEST, "Malformed JSON");
                                };
                                f.create_message(s, &sender, &uuid, body, Vec::new(), token)
                            })
                        }
                        Some(ct) => {
                            let url = format!(
                                "https://webexapis.com/v1/contents/{}",
                                webex_id("CONTENT", &f.next_uuid())
                            );
                            let upload = raw.and_then(|b| message_upload(&ct, &b, &url));
                            f.authed(auth, "POST /messages", |s, sender| match upload {
                                Ok((body, files)) => {
                                    f.create_message(s, &sender, &uuid, body, files, token)
                                }
                                Err(why) => {
                                    let why =
                                        format!("POST /messages (multipart/form-data): {why}");
                                    s.violations.push(why.clone());
                                    error(StatusCode::BAD_REQUEST, &why)
                                }
                            })
                        }
                    };
                    signal.notify_waiters();
                    if r.status().is_success() {
                        return f.after_applied("POST /messages", r);
                    }
                    r
                },
            );
        let list_messages = warp::path!("v1" / "messages")
            .and(warp::get())
            .and(auth)
            .and(warp::query::<HashMap<String, String>>())
            .and(with.clone())
            .map(
                |auth: Option<String>, q: HashMap<String, String>, f: FakeWebex| {
                    let bot_id = f.bot.id.clone();
                    f.authed(auth, "GET /messages", |s, caller| {
                        let Some(room) = q.get("roomId") else {
                            return error(StatusCode::BAD_REQUEST, "roomId is required");
                        };
                        let in_room: Vec<&Value> = s
                            .message_order
                            .iter()
                            .rev()
                            .filter_map(|id| s.messages.get(id))
                            .filter(|m| m["roomId"] == room.as_str())
                            .collect();
                        let group = in_room.iter().any(|m| m["roomType"] == "group");
                        let mentioned_me = q.get("mentionedPeople").map(String::as_str) == Some("me");
                        if caller.id == bot_id && group && !mentioned_me {
                            return error(
                                StatusCode::FORBIDDEN,
                                "Bots can only list messages in group spaces with mentionedPeople=me",
                            );
                        }
                        let max = q.get("max").and_then(|m| m.parse().ok()).unwrap_or(50);
                        let items: Vec<Value> = in_room.into_iter().take(max).cloned().collect();
                        ok(json!({ "items": items }))
                    })
                },
            );
        let direct_messages = warp::path!("v1" / "messages" / "direct")
            .and(warp::get())
            .and(auth)
            .and(warp::query::<HashMap<String, String>>())
            .and(with.clone())
            .map(
                |auth: Option<String>, q: HashMap<String, String>, f: FakeWebex| {
                    f.authed(auth, "GET /messages/direct", |s, caller| {
                        let Some(person) = q.get("personId") else {
                            return error(
                                StatusCode::BAD_REQUEST,
                                "personId or personEmail is required",
                            );
                        };
                        let items: Vec<Value> = s
                            .message_order
                            .iter()
                            .rev()
                            .filter_map(|id| s.messages.get(id))
                            .filter(|m| {
                                (m["toPersonId"] == person.as_str()
                                    && m["personId"] == caller.id.as_str())
                                    || (m["personId"] == person.as_str()
                                        && m["roomType"] == "direct")
                            })
                            .cloned()
                            .collect();
                        ok(json!({ "items": items }))
                    })
                },
            );

        let card_action = warp::path!("v1" / "attachment" / "actions" / String)
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .map(|id: String, auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "GET /attachment/actions/{id}", |s, _| {
                    match s.card_actions.get(&id) {
                        Some(a) => ok(a.clone()),
                        None => error(StatusCode::NOT_FOUND, "Attachment action not found."),
                    }
                })
            });
        let authorize = warp::path!("v1" / "authorize")
            .and(warp::get())
            .and(warp::query::<HashMap<String, String>>())
            .and(with.clone())
            .map(|q: HashMap<String, String>, f: FakeWebex| f.authorize(q));
        let access_token = warp::path!("v1" / "access_token")
            .and(warp::post())
            .and(warp::body::form::<HashMap<String, String>>())
            .and(with.clone())
            .map(|form: HashMap<String, String>, f: FakeWebex| f.access_token(form));

        let create_meeting = warp::path!("v1" / "meetings")
            .and(warp::post())
            .and(auth)
            .and(json_body)
            .and(with.clone())
            .then(
                |auth: Option<String>, body: Option<Value>, f: FakeWebex| async move {
                    let mut created = None;
                    let mut adhoc = None;
                    let r = f.authed(auth, "POST /meetings", |s, host| {
                        let Some(body) = body else {
                            return error(StatusCode::BAD_REQUEST, "Malformed JSON");
                        };
                        if let Err(why) =
                            check(s, "POST", "/meetings", &body).and(validate_meeting(&body))
                        {
                            return error(StatusCode::BAD_REQUEST, &why);
                        }
                        if body.get("adhoc") == Some(&json!(true)) {
                            let room = body["roomId"].as_str().unwrap_or_default().to_owned();
                            let full = s
                                .granted
                                .get(&host.id)
                                .is_some_and(|g| g.split(' ').any(|x| x == "spark:all"));
                            if !full {
                                return error(
                                    StatusCode::FORBIDDEN,
                                    "The access token is missing the spark:all scope required with roomId.",
                                );
                            }
                            if !s.rooms.get(&room).is_some_and(|m| m.contains(&host.id)) {
                                return error(
                                    StatusCode::FORBIDDEN,
                                    "The user is not a member of the space.",
                                );
                            }
                            s.meeting_requests.push(body.clone());
                            if let Some(m) = s.adhoc.get(&room) {
                                return ok(m.clone());
                            }
                            adhoc = Some((host, room));
                            return ok(json!({}));
                        }
                        if let Some(id) = body.get("templateId") {
                            if !s.templates_of(&host.id).iter().any(|t| &t["id"] == id) {
                                return error(StatusCode::NOT_FOUND, "Template not found.");
                            }
                        }
                        created = Some((host, body));
                        ok(json!({}))
                    });
                    if let Some((host, room)) = adhoc {
                        let m = f.start_adhoc(&host, &room);
                        let f2 = f.clone();
                        let m2 = m.clone();
                        tokio::spawn(async move { f2.deliver_meeting_created(&host, &m2).await });
                        return ok(m);
                    }
                    match created {
                        Some((host, body)) => {
                            let m = f.store_meeting(&host, &body);
                            let f2 = f.clone();
                            let m2 = m.clone();
                            tokio::spawn(
                                async move { f2.deliver_meeting_created(&host, &m2).await },
                            );
                            f.after_applied("POST /meetings", ok(m))
                        }
                        None => r,
                    }
                },
            );
        let list_meetings = warp::path!("v1" / "meetings")
            .and(warp::get())
            .and(auth)
            .and(warp::query::<HashMap<String, String>>())
            .and(with.clone())
            .map(
                |auth: Option<String>, q: HashMap<String, String>, f: FakeWebex| {
                    f.authed(auth, "GET /meetings", |s, p| {
                        let tag = q.get("integrationTag");
                        // The spec's window (meetingSeries): `from` defaults to now (or `to`
                        // minus 7 days), `to` to `from` plus 7 days.
                        let parse =
                            |k: &str| q.get(k).and_then(|v| v.parse::<jiff::Timestamp>().ok());
                        let week = jiff::SignedDuration::from_hours(24 * 7);
                        let (from, to) = match (parse("from"), parse("to")) {
                            (Some(f), Some(t)) => (f, t),
                            (Some(f), None) => (f, f + week),
                            (None, Some(t)) => (t - week, t),
                            (None, None) => {
                                let now = jiff::Timestamp::now();
                                (now, now + week)
                            }
                        };
                        let scheduled = match q.get("meetingType").map(String::as_str) {
                            None | Some("meetingSeries") => false,
                            Some("scheduledMeeting") => true,
                            Some(other) => {
                                return error(
                                    StatusCode::BAD_REQUEST,
                                    &format!("the fake does not list meetingType={other}"),
                                );
                            }
                        };
                        let series = s
                            .meetings
                            .values()
                            // Instant meetings are never listed (the spec says so).
                            .filter(|m| m["hostUserId"] == p.id.as_str() && m["adhoc"] != true);
                        let listed: Vec<Value> = if scheduled {
                            series.flat_map(|m| occurrences(m, from, to)).collect()
                        } else {
                            series
                                .filter(|m| {
                                    m["start"]
                                        .as_str()
                                        .and_then(|v| v.parse::<jiff::Timestamp>().ok())
                                        .is_some_and(|start| start >= from && start < to)
                                })
                                .cloned()
                                .collect()
                        };
                        let items: Vec<Value> = listed
                            .into_iter()
                            .filter(|m| {
                                tag.is_none_or(|t| {
                                    m["integrationTags"]
                                        .as_array()
                                        .is_some_and(|a| a.iter().any(|x| x == t.as_str()))
                                })
                            })
                            .collect();
                        ok(json!({ "items": items }))
                    })
                },
            );
        let list_templates = warp::path!("v1" / "meetings" / "templates")
            .and(warp::get())
            .and(auth)
            .and(warp::query::<HashMap<String, String>>())
            .and(with.clone())
            .map(
                |auth: Option<String>, q: HashMap<String, String>, f: FakeWebex| {
                    f.authed(auth, "GET /meetings/templates", |s, p| {
                        let kind = q.get("templateType").map_or("meeting", String::as_str);
                        let items: Vec<Value> = s
                            .templates_of(&p.id)
                            .into_iter()
                            .filter(|t| t["templateType"] == kind)
                            .collect();
                        ok(json!({ "items": items }))
                    })
                },
            );
        let get_meeting = warp::path!("v1" / "meetings" / String)
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .map(|id: String, auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "GET /meetings/{id}", |s, p| {
                    if let Some(n) = s.meeting_lag.get_mut(&id).filter(|n| **n > 0) {
                        *n -= 1;
                        return error(StatusCode::NOT_FOUND, "Meeting not found.");
                    }
                    match s.meetings.get(&id) {
                        Some(m) if m["hostUserId"] == p.id.as_str() => ok(m.clone()),
                        _ => error(StatusCode::NOT_FOUND, "Meeting not found."),
                    }
                })
            });

        let create_webhook = warp::path!("v1" / "webhooks")
            .and(warp::post())
            .and(auth)
            .and(json_body)
            .and(with.clone())
            .map(|auth: Option<String>, body: Option<Value>, f: FakeWebex| {
                let id = webex_id("WEBHOOK", &f.next_uuid());
                let r = f.authed(auth, "POST /webhooks", |s, owner| {
                    let Some(body) = body else {
                        return error(StatusCode::BAD_REQUEST, "Malformed JSON");
                    };
                    if let Err(why) = check(s, "POST", "/webhooks", &body) {
                        return error(StatusCode::BAD_REQUEST, &why);
                    }
                    if s.webhook_writes_refused {
                        return error(StatusCode::FORBIDDEN, "Webhook creation is not allowed");
                    }
                    let mut hook = body.clone();
                    hook["id"] = json!(id);
                    hook["status"] = json!("active");
                    hook["created"] = json!(iso(SystemTime::now()));
                    hook["createdBy"] = json!(owner.id);
                    hook["ownedBy"] = json!("creator");
                    s.webhooks.insert(
                        id.clone(),
                        FakeWebhook {
                            owner: owner.id.clone(),
                            body: hook.clone(),
                        },
                    );
                    ok(hook)
                });
                if r.status().is_success() {
                    return f.after_applied("POST /webhooks", r);
                }
                r
            });
        let list_webhooks = warp::path!("v1" / "webhooks")
            .and(warp::get())
            .and(auth)
            .and(with.clone())
            .map(|auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "GET /webhooks", |s, owner| {
                    let items: Vec<Value> = s
                        .webhooks
                        .values()
                        .filter(|h| h.owner == owner.id)
                        .map(|h| h.body.clone())
                        .collect();
                    ok(json!({ "items": items }))
                })
            });
        let update_webhook = warp::path!("v1" / "webhooks" / String)
            .and(warp::put())
            .and(auth)
            .and(json_body)
            .and(with.clone())
            .map(
                |id: String, auth: Option<String>, body: Option<Value>, f: FakeWebex| {
                    f.authed(auth, "PUT /webhooks/{id}", |s, owner| {
                        let Some(body) = body else {
                            return error(StatusCode::BAD_REQUEST, "Malformed JSON");
                        };
                        if let Err(why) = check(s, "PUT", "/webhooks/{webhookId}", &body) {
                            return error(StatusCode::BAD_REQUEST, &why);
                        }
                        if s.webhook_writes_refused {
                            return error(StatusCode::FORBIDDEN, "Webhook update is not allowed");
                        }
                        match s.webhooks.get_mut(&id).filter(|h| h.owner == owner.id) {
                            Some(h) => {
                                for k in ["name", "targetUrl", "secret", "status"] {
                                    if let Some(v) = body.get(k) {
                                        h.body[k] = v.clone();
                                    }
                                }
                                ok(h.body.clone())
                            }
                            None => error(StatusCode::NOT_FOUND, "Webhook not found."),
                        }
                    })
                },
            );
        let delete_webhook = warp::path!("v1" / "webhooks" / String)
            .and(warp::delete())
            .and(auth)
            .and(with.clone())
            .map(|id: String, auth: Option<String>, f: FakeWebex| {
                f.authed(auth, "DELETE /webhooks/{id}", |s, owner| {
                    match s.webhooks.get(&id) {
                        Some(h) if h.owner == owner.id => {
                            s.webhooks.remove(&id);
                            warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT)
                                .into_response()
                        }
                        _ => error(StatusCode::NOT_FOUND, "Webhook not found."),
                    }
                })
            });

        // Each route boxed, and the union boxed at every step, so that the filter's type stays
        // small for the compiler (a long `.or()` chain of unboxed filters is a huge type).
        let mut routes: Vec<BoxedFilter<(Response,)>> = vec![
            people_me.boxed(),
            get_person.boxed(),
            memberships.boxed(),
            direct_messages.boxed(),
            get_message.boxed(),
            list_messages.boxed(),
            post_message.boxed(),
            card_action.boxed(),
            authorize.boxed(),
            access_token.boxed(),
            create_meeting.boxed(),
            list_meetings.boxed(),
            list_templates.boxed(),
            get_meeting.boxed(),
            create_webhook.boxed(),
            list_webhooks.boxed(),
            update_webhook.boxed(),
            delete_webhook.boxed(),
        ];
        routes.extend(self.socket_routes());
        routes
            .into_iter()
            .reduce(|all, route| all.or(route).unify().boxed())
            .expect("routes")
            .recover(|_r: warp::Rejection| async move {
                Ok::<_, std::convert::Infallible>(error(
                    StatusCode::NOT_FOUND,
                    "no such endpoint in the fake",
                ))
            })
            .unify()
    }

    fn authorize(&self, q: HashMap<String, String>) -> Response {
        let mut s = self.state.lock().unwrap();
        s.log.push(("GET".into(), "/authorize".into(), 302));
        let Some(redirect) = q.get("redirect_uri").cloned() else {
            return error(StatusCode::BAD_REQUEST, "redirect_uri is required");
        };
        if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
            || q.get("response_type").map(String::as_str) != Some("code")
        {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid client_id or response_type",
            );
        }
        let scopes: Vec<&str> = q
            .get("scope")
            .map(|s| s.split(' ').collect())
            .unwrap_or_default();
        for needed in [
            "meeting:schedules_write",
            "meeting:schedules_read",
            "spark:people_read",
        ] {
            if !scopes.contains(&needed) {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("invalid scope: {needed} missing"),
                );
            }
        }
        let state = q.get("state").cloned().unwrap_or_default();
        let mut target = url::Url::parse(&redirect).unwrap();
        let granted = scopes.join(" ");
        match s.authorizer.clone() {
            Some(p) => {
                s.granted.insert(p.id.clone(), granted);
                let code = format!("code-{:016x}", rand::random::<u64>());
                s.codes.insert(code.clone(), (p, redirect.clone()));
                target
                    .query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("state", &state);
            }
            None => {
                target
                    .query_pairs_mut()
                    .append_pair("error", "access_denied")
                    .append_pair("error_description", "The user denied the request")
                    .append_pair("state", &state);
            }
        }
        let mut r = warp::reply::with_status(warp::reply(), StatusCode::FOUND).into_response();
        r.headers_mut()
            .insert("location", target.as_str().parse().unwrap());
        r
    }

    fn access_token(&self, form: HashMap<String, String>) -> Response {
        let access = self.secret_token("user-access");
        let refresh = self.secret_token("user-refresh");
        let mut s = self.state.lock().unwrap();
        s.log.push(("POST".into(), "/access_token".into(), 200));
        if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
            || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
        {
            // RFC 6749 §5.2: with the credentials in the body, a 400.
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "Client authentication failed",
            );
        }
        let person = match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                s.code_exchanges += 1;
                let code = form.get("code").cloned().unwrap_or_default();
                match s.codes.remove(&code) {
                    Some((p, redirect)) if form.get("redirect_uri") == Some(&redirect) => p,
                    Some(_) => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "redirect_uri does not match",
                        );
                    }
                    None => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "The authorization code is invalid or was already used",
                        );
                    }
                }
            }
            Some("refresh_token") => {
                s.refresh_requests += 1;
                if s.failing_token_calls > 0 {
                    s.failing_token_calls -= 1;
                    return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
                }
                let rt = form.get("refresh_token").cloned().unwrap_or_default();
                match s.refresh_tokens.remove(&rt) {
                    Some(p) => p,
                    None => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "The refresh token is invalid or expired",
                        );
                    }
                }
            }
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "grant_type",
                );
            }
        };
        let ttl = s.access_ttl;
        s.tokens.insert(
            access.clone(),
            TokenInfo {
                person: person.clone(),
                expires: Some(SystemTime::now() + ttl),
            },
        );
        let scope = match s.granted.get(&person.id) {
            Some(g) => format!("spark:kms {g}"),
            None => "spark:kms spark:messages_read spark:messages_write spark:rooms_read spark:people_read meeting:schedules_write meeting:schedules_read".to_owned(),
        };
        s.refresh_tokens.insert(refresh.clone(), person);
        ok(json!({
            "access_token": access,
            "expires_in": ttl.as_secs(),
            "refresh_token": refresh,
            "refresh_token_expires_in": 7_775_999,
            "token_type": "Bearer",
            "scope": scope,
        }))
    }

    /// Runs `f` for the person the bearer token names, or answers 401.
    fn authed(
        &self,
        auth: Option<String>,
        what: &str,
        f: impl FnOnce(&mut State, Person) -> Response,
    ) -> Response {
        let mut s = self.state.lock().unwrap();
        let info = bearer(&auth).and_then(|t| s.tokens.get(&t).cloned());
        let resp = match info {
            Some(t) if t.expires.is_none_or(|e| e > SystemTime::now()) => f(&mut s, t.person),
            _ => error(
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

/// Checks a request body against Cisco's OpenAPI spec and records problems.
fn check(s: &mut State, method: &str, path: &str, body: &Value) -> Result<(), String> {
    match super::webex_spec::check_request(method, path, body) {
        Ok(()) => Ok(()),
        Err(problems) => {
            let why = format!("{method} {path}: {}", problems.join("; "));
            s.violations.push(why.clone());
            Err(why)
        }
    }
}

fn bearer(auth: &Option<String>) -> Option<String> {
    auth.as_deref()?.strip_prefix("Bearer ").map(str::to_owned)
}

/// The most of a `POST /messages` body the fake reads (a file may be 100 MB, plus the fields).
const MESSAGE_BODY_LIMIT: usize = 110 * 1024 * 1024;
/// Webex's limit on the file of a message.
const FILE_LIMIT: usize = 100 * 1024 * 1024;

/// A request body, read whole up to [`MESSAGE_BODY_LIMIT`] (past it, the rest is read and
/// dropped, so that the client still gets the answer); `Err` says why there is none.
async fn read_bounded<B: bytes::Buf>(
    body: impl futures_util::Stream<Item = Result<B, warp::Error>>,
) -> Result<bytes::Bytes, String> {
    use futures_util::StreamExt as _;
    let mut body = std::pin::pin!(body);
    let mut whole = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("the body could not be read: {e}"))?;
        total += chunk.remaining();
        if total <= MESSAGE_BODY_LIMIT {
            bytes::BufMut::put(&mut whole, chunk);
        }
    }
    if total > MESSAGE_BODY_LIMIT {
        return Err(format!(
            "the body is {total} bytes, over the {MESSAGE_BODY_LIMIT} the fake reads"
        ));
    }
    Ok(whole.freeze())
}

/// Whether a `Content-Type` is `multipart/form-data` (with whatever parameters).
fn is_multipart(content_type: &str) -> bool {
    header_params(content_type)
        .0
        .eq_ignore_ascii_case("multipart/form-data")
}

/// What Webex makes of a `multipart/form-data` `POST /messages`: the JSON of its text fields
/// (`roomId`, `toPersonId`, `toPersonEmail`, `parentId`, `text`, `markdown`) with
/// `"files": [file_url]` when it has a file, and the file (the `files` part). `Err` says
/// why Webex would refuse the request.
fn message_upload(
    content_type: &str,
    body: &[u8],
    file_url: &str,
) -> Result<(Value, Vec<SentFile>), String> {
    let boundary = header_params(content_type)
        .1
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty())
        .ok_or("the Content-Type has no boundary")?;
    let parts = parse_multipart(body, &boundary)
        .map_err(|why| format!("the body does not parse: {why}"))?;
    let mut fields = serde_json::Map::new();
    let mut files = Vec::new();
    for part in parts {
        if part.name == "files" || part.filename.is_some() {
            if part.name != "files" {
                return Err(format!(
                    "the file part is named {:?}; Webex takes a file in a part named \"files\"",
                    part.name
                ));
            }
            let Some(name) = part.filename else {
                return Err("the files part has no filename".into());
            };
            if part.data.len() > FILE_LIMIT {
                return Err(format!(
                    "the file {name:?} is {} bytes, over Webex's 100 MB limit",
                    part.data.len()
                ));
            }
            files.push(SentFile {
                name,
                content_type: part
                    .content_type
                    .unwrap_or_else(|| "application/octet-stream".into()),
                bytes: part.data.to_vec(),
            });
            continue;
        }
        let value = std::str::from_utf8(part.data)
            .map_err(|_| format!("the field {:?} is not UTF-8", part.name))?;
        if fields.insert(part.name.clone(), json!(value)).is_some() {
            return Err(format!("the field {:?} is given twice", part.name));
        }
    }
    if files.len() > 1 {
        return Err(format!(
            "only one file per message ({} files parts)",
            files.len()
        ));
    }
    if !files.is_empty() {
        fields.insert("files".into(), json!([file_url]));
    }
    Ok((Value::Object(fields), files))
}

/// One part of a `multipart/form-data` body.
struct FormPart<'a> {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: &'a [u8],
}

/// The parts of a `multipart/form-data` body (RFC 7578): each after a `--boundary` line,
/// with `Content-Disposition: form-data; name="…"` (and `filename="…"` for a file) and an
/// optional `Content-Type`; the body ends with `--boundary--`.
fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<FormPart<'a>>, String> {
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = [b"\r\n".as_slice(), &delimiter].concat();
    let mut pos = if body.starts_with(&delimiter) {
        0
    } else {
        // After a preamble.
        find(body, &next_delimiter, 0).ok_or("no boundary line")? + 2
    };
    let mut parts = Vec::new();
    loop {
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        while matches!(body.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("a boundary line does not end with CRLF".into());
        }
        pos += 2;
        let (head, data_start) = if body[pos..].starts_with(b"\r\n") {
            (&body[pos..pos], pos + 2)
        } else {
            let end = find(body, b"\r\n\r\n", pos).ok_or("a part's headers do not end")?;
            (&body[pos..end], end + 4)
        };
        let data_end = find(body, &next_delimiter, data_start)
            .ok_or("the body ends without a closing boundary")?;
        let head = std::str::from_utf8(head).map_err(|_| "a part's headers are not UTF-8")?;
        let mut disposition = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let (k, v) = line
                .split_once(':')
                .ok_or(format!("the part header {line:?} is not `Name: value`"))?;
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => disposition = Some(v.trim()),
                "content-type" => content_type = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        let disposition = disposition.ok_or("a part has no Content-Disposition")?;
        let (kind, params) = header_params(disposition);
        if !kind.eq_ignore_ascii_case("form-data") {
            return Err(format!(
                "a part's Content-Disposition is {kind:?}, not form-data"
            ));
        }
        let param = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        };
        let name = param("name").ok_or("a part's Content-Disposition has no name")?;
        // RFC 5987 `filename*=UTF-8''…` wins over `filename`.
        let filename = param("filename*")
            .and_then(|v| Some(percent_decode(v.split_once("''")?.1)))
            .or_else(|| param("filename"));
        parts.push(FormPart {
            name,
            filename,
            content_type,
            data: &body[data_start..data_end],
        });
        pos = data_end + 2;
    }
}

/// The first `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = from;
    while i <= last_start {
        i += hay[i..=last_start].iter().position(|&b| b == first)?;
        if hay[i..].starts_with(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A header value's first token and its `; key=value` parameters (values unquoted).
fn header_params(value: &str) -> (String, Vec<(String, String)>) {
    let mut chars = value.chars().peekable();
    let mut first = String::new();
    while let Some(c) = chars.next_if(|c| *c != ';') {
        first.push(c);
    }
    let mut params = Vec::new();
    while chars.next() == Some(';') {
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ';') {
            key.push(c);
        }
        let mut val = String::new();
        if chars.next_if_eq(&'=').is_some() {
            while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => val.extend(chars.next()),
                        c => val.push(c),
                    }
                }
                while chars.next_if(|c| *c != ';').is_some() {}
            } else {
                while let Some(c) = chars.next_if(|c| *c != ';') {
                    val.push(c);
                }
                val = val.trim_end().to_owned();
            }
        }
        params.push((key.trim().to_owned(), val));
    }
    (first.trim().to_owned(), params)
}

/// `%XX`-decodes `s` (lossy UTF-8).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The rules of `POST /messages` that the spec does not express: one destination, some
/// content, Webex's size limit.
fn validate_create_message(body: &Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("body must be a JSON object")?;
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
    if let Some(a) = obj.get("attachments").and_then(Value::as_array)
        && a.len() > 1
    {
        return Err("only one card per message".into());
    }
    Ok(())
}

/// Webex's card rules (the Cards guide): one card per message, an Adaptive Card 1.x with a
/// body, at most five actions per action set, every submit carrying data.
fn validate_cards(body: &Value) -> Result<(), String> {
    let Some(cards) = body.get("attachments") else {
        return Ok(());
    };
    let cards = cards.as_array().ok_or("attachments must be an array")?;
    if cards.len() > 1 {
        return Err("only one card per message".into());
    }
    for card in cards {
        if card["contentType"] != "application/vnd.microsoft.card.adaptive" {
            return Err(
                "attachments[0].contentType must be application/vnd.microsoft.card.adaptive".into(),
            );
        }
        let c = &card["content"];
        if c["type"] != "AdaptiveCard"
            || !c["version"].as_str().is_some_and(|v| v.starts_with("1."))
        {
            return Err("the card must be an AdaptiveCard of version 1.x".into());
        }
        if !c["body"].is_array() {
            return Err("the card needs a body".into());
        }
        fn walk(v: &Value, problems: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if o.get("type").and_then(Value::as_str) == Some("ActionSet")
                        && o.get("actions")
                            .and_then(Value::as_array)
                            .is_some_and(|a| a.len() > 5)
                    {
                        problems.push("an ActionSet has more than five actions".into());
                    }
                    if o.get("type").and_then(Value::as_str) == Some("Action.Submit")
                        && !o.get("data").is_some_and(Value::is_object)
                    {
                        problems.push("an Action.Submit has no data".into());
                    }
                    o.values().for_each(|x| walk(x, problems));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, problems)),
                _ => {}
            }
        }
        let mut problems = Vec::new();
        walk(c, &mut problems);
        if c["actions"].as_array().is_some_and(|a| a.len() > 5) {
            problems.push("more than five card actions".into());
        }
        if let Some(p) = problems.into_iter().next() {
            return Err(p);
        }
    }
    Ok(())
}

/// The rules of `POST /meetings` the spec states in prose: times, duration, title length.
fn validate_meeting(body: &Value) -> Result<(), String> {
    let title = body["title"].as_str().ok_or("title is required")?;
    if title.chars().count() > 128 {
        return Err("title is longer than 128 characters".into());
    }
    let t = |k: &str| -> Result<jiff::Timestamp, String> {
        body[k]
            .as_str()
            .ok_or(format!("{k} is required"))?
            .parse()
            .map_err(|e| format!("{k} is not ISO 8601: {e}"))
    };
    let (start, end) = (t("start")?, t("end")?);
    if start < jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60) {
        return Err("start cannot be before the current date and time".into());
    }
    let len = end.duration_since(start);
    if len < jiff::SignedDuration::from_mins(10) || len > jiff::SignedDuration::from_mins(1439) {
        return Err("the duration must be between 10 minutes and 23 hours 59 minutes".into());
    }
    if body["integrationTags"]
        .as_array()
        .is_some_and(|a| a.len() > 3)
    {
        return Err("at most 3 integrationTags".into());
    }
    if let Some(invitees) = body.get("invitees") {
        let list = invitees.as_array().ok_or("invitees is not an array")?;
        if list.len() > 1000 {
            return Err("the maximum size of invitees is 1000".into());
        }
        for i in list {
            let email = i["email"].as_str().ok_or("an invitee has no email")?;
            if !email.contains('@') || email.contains(' ') {
                return Err(format!("invalid invitee email {email}"));
            }
        }
    }
    if let Some(rule) = body.get("recurrence") {
        let rule = rule.as_str().ok_or("recurrence is not a string")?;
        validate_rrule(rule)?;
    }
    Ok(())
}

/// What Webex checks of a `recurrence`: an RFC 2445 RRULE without its `RRULE:` prefix.
fn validate_rrule(rule: &str) -> Result<(), String> {
    if rule.starts_with("RRULE:") {
        return Err("recurrence must not start with RRULE:".into());
    }
    let mut freq = None;
    for part in rule.split(';') {
        let (k, v) = part
            .split_once('=')
            .ok_or(format!("recurrence part {part:?} is not KEY=VALUE"))?;
        let ok = match k {
            "FREQ" => {
                freq = Some(v);
                matches!(v, "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY")
            }
            "INTERVAL" | "COUNT" => v.parse::<u32>().is_ok_and(|n| n > 0),
            "BYDAY" => v
                .split(',')
                .all(|d| ["MO", "TU", "WE", "TH", "FR", "SA", "SU"].contains(&d)),
            "BYMONTHDAY" => v
                .split(',')
                .all(|d| d.parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))),
            "UNTIL" => jiff::fmt::strtime::parse("%Y%m%dT%H%M%SZ", v).is_ok(),
            _ => false,
        };
        if !ok {
            return Err(format!("recurrence {k}={v} is not valid"));
        }
    }
    if freq.is_none() {
        return Err("recurrence needs FREQ".into());
    }
    if rule.contains("COUNT=") && rule.contains("UNTIL=") {
        return Err("recurrence has both COUNT and UNTIL".into());
    }
    Ok(())
}

/// Webex keeps only the first day of a monthly or yearly rule with several.
fn webex_keeps_of(rule: &str) -> String {
    if !(rule.contains("FREQ=MONTHLY") || rule.contains("FREQ=YEARLY")) {
        return rule.to_owned();
    }
    rule.split(';')
        .map(|p| match p.split_once('=') {
            Some((k @ ("BYDAY" | "BYMONTHDAY"), v)) => {
                format!("{k}={}", v.split(',').next().unwrap_or(v))
            }
            _ => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// A response that starts and then breaks the connection.
fn dropped_connection() -> Response {
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
        Ok(bytes::Bytes::from_static(b"{\"id\":")),
        Err(std::io::Error::other("connection dropped by the fake")),
    ];
    let mut r = warp::reply::stream(futures_util::stream::iter(chunks)).into_response();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r.headers_mut()
        .insert("content-length", "512".parse().unwrap());
    r
}

pub fn ok(v: Value) -> Response {
    warp::reply::with_status(warp::reply::json(&v), StatusCode::OK).into_response()
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    warp::reply::with_status(
        warp::reply::json(&json!({ "error": code, "error_description": description })),
        status,
    )
    .into_response()
}

pub fn error(status: StatusCode, message: &str) -> Response {
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
