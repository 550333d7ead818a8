//! Test harness: a throwaway database per test (Postgres or SQLite), the fake Webex, and the
//! real service started on 127.0.0.1:0 through the same `startup::start` that `main` uses.

#![allow(dead_code)]

pub mod fake_webex;
pub mod pg_cluster;
pub mod process;
pub mod webex_spec;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use botper::adapters::db::{Db, DbTarget, PoolOptions};
use botper::adapters::http::signature::sign;
use botper::config::Config;
use botper::startup::{self, Running, Tuning};
use diesel::Connection;
use diesel::RunQueryDsl;
use serde_json::{Value, json};

pub use fake_webex::{FakeWebex, Person};

pub const SECRET: &str = "test-webhook-secret";
/// 32 bytes, base64.
pub const TOKEN_KEY: &str = "dGVzdC10b2tlbi1rZXktdGhpcnR5LXR3by1ieXRlcyE=";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        botper::telemetry::init(false);
    }
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// The admin URL used to create and drop per-test databases.
pub fn admin_url() -> String {
    std::env::var("BOTPER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A database that exists for one test: a fresh Postgres database (dropped on drop) or an
/// SQLite file in a temporary directory.
pub struct TestDb {
    pub target: DbTarget,
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        LazyLock::force(&TRACING);
        let unique = format!(
            "{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        match backend {
            Backend::Postgres => {
                let name = format!("botper_test_{unique}");
                let mut admin = diesel::PgConnection::establish(&admin_url()).expect(
                    "Postgres must run on 127.0.0.1:5432 (or set BOTPER_TEST_DATABASE_URL)",
                );
                diesel::sql_query(format!(r#"CREATE DATABASE "{name}""#))
                    .execute(&mut admin)
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_url()).unwrap();
                url.set_path(&name);
                Self {
                    target: DbTarget::parse(url.as_str()).unwrap(),
                    url: url.to_string(),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("botper.db");
                Self {
                    target: DbTarget::Sqlite(path.clone()),
                    url: path.to_string_lossy().into_owned(),
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// A database the test does not own (nothing is dropped).
    pub fn external(url: &str) -> Self {
        Self {
            target: DbTarget::parse(url).unwrap(),
            url: url.to_owned(),
            pg_name: None,
            _dir: None,
        }
    }

    pub async fn open(&self) -> Db {
        let db = Db::open(self.target.clone(), &PoolOptions::default()).unwrap();
        db.migrate().await.unwrap();
        db.with_token_key(&botper::adapters::db::TokenKey::from_base64(TOKEN_KEY).unwrap())
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl TestDb {
    /// How many rows `table` holds, read directly as a database dump would.
    pub fn count_rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        match &self.target {
            DbTarget::Postgres(url) => {
                let mut c = diesel::PgConnection::establish(url).unwrap();
                diesel::sql_query(sql)
                    .get_result::<Count>(&mut c)
                    .unwrap()
                    .n
            }
            DbTarget::Sqlite(path) => {
                let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
                diesel::sql_query(sql)
                    .get_result::<Count>(&mut c)
                    .unwrap()
                    .n
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut c) = diesel::PgConnection::establish(&admin_url())
        {
            let _ = diesel::sql_query(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                .execute(&mut c);
        }
    }
}

fn rand_suffix() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// The service under test with its fake Webex and database.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub fake: FakeWebex,
    pub client: reqwest::Client,
    pub running: Option<Running>,
    pub db: TestDb,
}

pub struct AppOptions {
    pub backend: Backend,
    pub env: Vec<(&'static str, String)>,
    pub tuning: Tuning,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
            env: Vec::new(),
            tuning: Tuning::default(),
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(AppOptions {
        backend,
        ..AppOptions::default()
    })
    .await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let fake = FakeWebex::start().await;
    spawn_app_on(fake, TestDb::new(options.backend), options).await
}

/// Starts the service against an existing fake and database (to restart it, for example).
pub async fn spawn_app_on(fake: FakeWebex, db: TestDb, options: AppOptions) -> TestApp {
    // Bound first, so that the public URL (OAuth redirect, webhook target) names the port.
    let mut options = options;
    let listener = match options.tuning.listener.take() {
        Some(l) => l,
        None => std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
    };
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("BOTPER_PUBLIC_URL", public_url),
        ("WEBEX_CLIENT_ID", fake_webex::CLIENT_ID.to_owned()),
        ("WEBEX_CLIENT_SECRET", fake_webex::CLIENT_SECRET.to_owned()),
        ("WEBEX_BOT_TOKEN", fake_webex::BOT_TOKEN.to_owned()),
        ("WEBEX_WEBHOOK_SECRET", SECRET.to_owned()),
        ("WEBEX_API_BASE_URL", fake.base_url()),
        ("DATABASE_URL", db.url.clone()),
        ("BOTPER_BIND", "127.0.0.1:0".to_owned()),
        ("BOTPER_WORKERS", "2".to_owned()),
        ("BOTPER_TOKEN_KEY", TOKEN_KEY.to_owned()),
        // Tests type faster than people; the limiter has a test of its own.
        ("BOTPER_RATE_LIMIT_PER_MINUTE", "0".to_owned()),
        // The public URL is http, which would pick the websocket: tests of the webhook
        // path say so (the socket's tests ask for it).
        ("BOTPER_EVENTS", "webhooks".to_owned()),
    ]);
    for (k, v) in options.env {
        vars.insert(k, v);
    }
    let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("test config");
    let tuning = Tuning {
        retry: Some(options.tuning.retry.clone().unwrap_or_else(fast_retry)),
        listener: Some(listener),
        ..options.tuning
    };
    let running = startup::start(config, tuning)
        .await
        .expect("service starts");
    TestApp {
        addr: running.addr,
        fake,
        client: reqwest::Client::new(),
        running: Some(running),
        db,
    }
}

/// The production retry policy with short waits, so tests of failures stay quick.
pub fn fast_retry() -> botper::adapters::webex::RetryPolicy {
    botper::adapters::webex::RetryPolicy {
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        ..Default::default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs `body` to the webhook with the given signature header (if any).
    pub async fn post_webhook(&self, body: &[u8], signature: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/webex/webhook"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("x-spark-signature", s);
        }
        req.send().await.unwrap()
    }

    /// Delivers `envelope` signed with the right secret; returns the status code.
    pub async fn deliver(&self, envelope: &Value) -> u16 {
        let body = serde_json::to_vec(envelope).unwrap();
        self.post_webhook(&body, Some(&sign(SECRET, &body)))
            .await
            .status()
            .as_u16()
    }

    /// `person` types `text` in `room` (a direct space); Webex tells Botper about it.
    pub async fn say(&self, person: &Person, room: &str, text: &str) -> String {
        let id = self.fake.user_says(person, room, text, None);
        let status = self.deliver(&message_created(&id, room, &person.id)).await;
        assert_eq!(status, 200, "webhook for {text:?} not accepted");
        id
    }

    /// `person` types `text` in `room` (direct) and Webex tells Botper over the websocket;
    /// waits for the bot's reply and returns its Markdown.
    pub async fn socket_ask(&self, person: &Person, room: &str, text: &str) -> String {
        let before = self.fake.sent_count();
        self.fake.socket_says(person, room, text, None);
        let sent = self
            .fake
            .wait_for_sent(before + 1, Duration::from_secs(10))
            .await;
        sent[before].markdown().to_owned()
    }

    /// Says `text` and waits for the bot's reply; returns the reply's Markdown.
    pub async fn ask(&self, person: &Person, room: &str, text: &str) -> String {
        let before = self.fake.sent_count();
        self.say(person, room, text).await;
        let sent = self
            .fake
            .wait_for_sent(before + 1, Duration::from_secs(10))
            .await;
        sent[before].markdown().to_owned()
    }

    /// `person` connects their Webex account in a browser (a cookie jar): Botper's login
    /// page, the fake's authorize page, the callback. Returns the browser and the final page.
    pub async fn connect(&self, person: &Person) -> (reqwest::Client, String) {
        self.fake.sign_in_as(person);
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let page = browser
            .get(self.url("/auth/webex/login"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "connect failed");
        let html = page.text().await.unwrap();
        assert!(html.contains("Connected as"), "{html}");
        (browser, html)
    }

    pub fn app(&self) -> &botper::app::App {
        &self.running.as_ref().unwrap().app
    }

    /// Stops the service and starts it again on the same address, database and fake
    /// Webex, with `env` on top of the defaults.
    pub async fn restart_with(mut self, env: Vec<(&'static str, String)>) -> TestApp {
        self.stop().await;
        let listener = std::net::TcpListener::bind(self.addr).expect("rebind the same port");
        let TestApp { fake, db, .. } = self;
        let tuning = Tuning {
            listener: Some(listener),
            ..Tuning::default()
        };
        spawn_app_on(
            fake,
            db,
            AppOptions {
                env,
                tuning,
                ..AppOptions::default()
            },
        )
        .await
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// A client that keeps cookies and follows redirects, like a browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// A `messages`/`created` envelope as Webex sends it.
pub fn message_created(message_id: &str, room_id: &str, person_id: &str) -> Value {
    json!({
        "id": "Y2lzY29zcGFyazovL3VzL1dFQkhPT0svd2gtMQ",
        "name": "botper messages",
        "targetUrl": "https://botper.example.com/webex/webhook",
        "resource": "messages",
        "event": "created",
        "orgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vcmctMQ",
        "createdBy": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ib3Q",
        "appId": "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL2FwcA",
        "ownedBy": "creator",
        "status": "active",
        "created": "2026-11-29T10:00:00.000Z",
        "actorId": person_id,
        "data": {
            "id": message_id,
            "roomId": room_id,
            "roomType": "direct",
            "personId": person_id,
            "personEmail": "someone@example.com",
            "created": "2026-11-29T12:00:00.000Z"
        }
    })
}

/// Prints a line of the fault suite's figures and appends it to `target/fault-suite.txt`
/// (CI prints that file).
pub fn report(test: &str, figures: &[(&str, String)]) {
    let line = format!(
        "{test}: {}",
        figures
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("{line}");
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("fault-suite.txt"))
    {
        use std::io::Write;
        let _ = writeln!(f, "{line}");
    }
}

/// A small deterministic generator (xorshift) for shuffles and choices in tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// An `attachmentActions`/`created` envelope (a card button was pressed).
pub fn card_action_created(action_id: &str, room_id: &str, person_id: &str) -> Value {
    let mut e = message_created(action_id, room_id, person_id);
    e["resource"] = json!("attachmentActions");
    e["name"] = json!("Botper: attachmentActions/created");
    e["data"] = json!({
        "id": action_id, "type": "submit", "messageId": "unused-here",
        "personId": person_id, "roomId": room_id, "created": "2026-11-29T12:00:02.000Z"
    });
    e
}

/// A `memberships`/`created` envelope (someone, maybe the bot, joined a space).
pub fn membership_created(membership_id: &str, room_id: &str, person_id: &str) -> Value {
    let mut e = message_created(membership_id, room_id, person_id);
    e["resource"] = json!("memberships");
    e["name"] = json!("Botper: memberships/created");
    e["data"] = json!({
        "id": membership_id, "roomId": room_id, "personId": person_id,
        "personEmail": "someone@example.com", "personDisplayName": "Someone",
        "isModerator": false, "isMonitor": false, "roomType": "group",
        "created": "2026-11-29T12:00:00.000Z"
    });
    e
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A clock that runs `factor` times faster than real time, from the moment it is made:
/// time-based behaviour (pacing, backoff, due times) on its defaults, in a fraction of the
/// real time. Leases and Webex timeouts stay real, so nothing else changes.
#[derive(Debug)]
pub struct ScaledClock {
    origin: jiff::Timestamp,
    started: std::time::Instant,
    factor: f64,
    /// Added by [`ScaledClock::advance`], in milliseconds.
    skipped_ms: AtomicU64,
}

impl ScaledClock {
    pub fn new(factor: f64) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            origin: jiff::Timestamp::now(),
            started: std::time::Instant::now(),
            factor,
            skipped_ms: AtomicU64::new(0),
        })
    }

    /// Moves the clock forward by `d` at once (a clock with factor 0 moves only so).
    pub fn advance(&self, d: Duration) {
        self.skipped_ms
            .fetch_add(d.as_millis() as u64, Ordering::Relaxed);
    }

    /// How much clock time has passed since `since` (a reading of this clock).
    pub fn since(&self, since: jiff::Timestamp) -> Duration {
        use botper::ports::Clock;
        self.now()
            .duration_since(since)
            .try_into()
            .unwrap_or_default()
    }
}

impl botper::ports::Clock for ScaledClock {
    fn now(&self) -> jiff::Timestamp {
        let real = self.started.elapsed().as_secs_f64() * self.factor;
        let skipped = self.skipped_ms.load(Ordering::Relaxed) as i64;
        self.origin
            + jiff::SignedDuration::from_secs_f64(real)
            + jiff::SignedDuration::from_millis(skipped)
    }
}

/// The value of `<input … name="csrf" value="…">` on a page.
pub fn csrf(html: &str) -> String {
    let field = "name=\"csrf\" value=\"";
    let at = html.find(field).expect("a CSRF field") + field.len();
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}
