//! A fast fake Webex for load runs: `people/me`, `GET /people/{id}`, `GET /messages/{id}`,
//! `POST /messages`.
//! Messages are generated from their id (`load-msg-<i>`), and every reply is recorded,
//! lock-free, against the command it answers (`roomId` = `load-room-<i>`) or, for a
//! reminder sent 1:1, the task it names (`load-rem-<i>-end`). [`start_scripted`] takes
//! who sent message i and its text from a script, and keeps reminders apart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;
use warp::Filter;
use warp::http::StatusCode;

pub const BOT_TOKEN: &str = "load-bot-token";
pub const BOT_ID: &str = "load-bot";

/// The Webex calls the fakes in this process answered.
pub struct Calls {
    /// `GET /people/{id}` (a person's profile, for their zone).
    pub people: AtomicU64,
    pub get_message: AtomicU64,
    pub post_message: AtomicU64,
}

pub static CALLS: Calls = Calls {
    people: AtomicU64::new(0),
    get_message: AtomicU64::new(0),
    post_message: AtomicU64::new(0),
};

/// How long every call waits before it is answered, in µs (0: at once).
static LATENCY_US: AtomicU64 = AtomicU64::new(0);

/// Makes every call wait `d` before it is answered (a real Webex takes 100 ms or more).
pub fn set_latency(d: Duration) {
    LATENCY_US.store(d.as_micros() as u64, Ordering::Relaxed);
}

pub struct Replies {
    pub started: Instant,
    /// Nanoseconds after `started` when the first reply to command i arrived (0 = none).
    pub first_reply: Vec<AtomicU64>,
    pub count: Vec<AtomicU32>,
    /// Replies that named no known command.
    pub strays: AtomicU64,
    /// Woken at every recorded reply when `watched` (a sender waiting for its reply).
    pub arrived: Notify,
    watched: bool,
}

impl Replies {
    pub fn new(n: usize, started: Instant) -> Self {
        Self {
            started,
            first_reply: (0..n).map(|_| AtomicU64::new(0)).collect(),
            count: (0..n).map(|_| AtomicU32::new(0)).collect(),
            strays: AtomicU64::new(0),
            arrived: Notify::new(),
            watched: false,
        }
    }

    /// As [`Replies::new`], and every reply wakes [`Replies::arrived`]'s waiters.
    pub fn watched(n: usize, started: Instant) -> Self {
        Self {
            watched: true,
            ..Self::new(n, started)
        }
    }

    fn record(&self, i: Option<usize>, at: u64) {
        match i {
            Some(i) if i < self.count.len() => {
                if self.count[i].fetch_add(1, Ordering::Relaxed) == 0 {
                    self.first_reply[i].store(at.max(1), Ordering::Relaxed);
                }
            }
            _ => {
                self.strays.fetch_add(1, Ordering::Relaxed);
            }
        }
        if self.watched {
            self.arrived.notify_waiters();
        }
    }

    pub fn answered(&self) -> usize {
        self.count
            .iter()
            .filter(|c| c.load(Ordering::Relaxed) > 0)
            .count()
    }
}

/// The text person `i % people` typed as command i: a mix of task, list and done.
pub fn command_text(i: usize) -> String {
    match i % 20 {
        0..=11 => format!("task Load task number {i}"),
        12..=16 => "list".to_owned(),
        _ => format!("done {}", 1 + (i / 20) % 3),
    }
}

fn index(s: &str, prefix: &str) -> Option<usize> {
    s.strip_prefix(prefix)?.parse().ok()
}

/// The title of the task behind reminder i (`--reminders`).
pub fn reminder_title(i: usize) -> String {
    format!("Call load-rem-{i}-end")
}

/// Which reminder a 1:1 message is, from the title in its text.
fn reminder_index(markdown: &str) -> Option<usize> {
    let rest = &markdown[markdown.find("load-rem-")? + "load-rem-".len()..];
    rest[..rest.find("-end")?].parse().ok()
}

/// Who sent message i, and its text (`None`: no such message).
pub type Script = Arc<dyn Fn(usize) -> Option<(String, String)> + Send + Sync>;

pub async fn start(replies: Arc<Replies>, people: usize) -> SocketAddr {
    let script: Script =
        Arc::new(move |i| Some((format!("load-person-{}", i % people), command_text(i))));
    start_scripted(replies.clone(), replies, script, 0).await
}

/// The fake with messages from `script`; replies to commands are recorded in `commands`,
/// 1:1 reminders in `reminders` (by the number in the title they name). Message and room
/// numbers start at `offset` (script and replies count from 0), so that runs on the same
/// store do not reuse message ids (the inbox would take them for redeliveries).
pub async fn start_scripted(
    commands: Arc<Replies>,
    reminders: Arc<Replies>,
    script: Script,
    offset: usize,
) -> SocketAddr {
    let numbered = move |s: &str, prefix: &str| index(s, prefix)?.checked_sub(offset);
    let with = warp::any().map(move || (commands.clone(), reminders.clone()));
    let authed = warp::header::optional::<String>("authorization").and_then(
        |a: Option<String>| async move {
            let latency = LATENCY_US.load(Ordering::Relaxed);
            if latency > 0 {
                tokio::time::sleep(Duration::from_micros(latency)).await;
            }
            if a.as_deref() == Some(&format!("Bearer {BOT_TOKEN}")) {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        },
    );
    let me = warp::path!("v1" / "people" / "me")
        .and(warp::get())
        .and(authed)
        .map(|()| {
            warp::reply::json(&json!({
                "id": BOT_ID, "emails": ["load@webex.bot"], "displayName": "Load Bot", "type": "bot"
            }))
        });
    let get = warp::path!("v1" / "messages" / String)
        .and(warp::get())
        .and(authed)
        .map(move |id: String, ()| {
            CALLS.get_message.fetch_add(1, Ordering::Relaxed);
            match numbered(&id, "load-msg-").and_then(|i| Some((i + offset, script(i)?))) {
                Some((i, (person, text))) => warp::reply::with_status(
                    warp::reply::json(&json!({
                        "id": id,
                        "roomId": format!("load-room-{i}"),
                        "roomType": "direct",
                        "personId": person,
                        "personEmail": "someone@example.com",
                        "text": text,
                        "created": "2026-11-29T12:00:00.000Z",
                    })),
                    StatusCode::OK,
                ),
                None => warp::reply::with_status(
                    warp::reply::json(&json!({"message": "not found"})),
                    StatusCode::NOT_FOUND,
                ),
            }
        });
    let post = warp::path!("v1" / "messages")
        .and(warp::post())
        .and(authed)
        .and(warp::body::json::<Value>())
        .and(with)
        .map(
            move |(), body: Value, (commands, reminders): (Arc<Replies>, Arc<Replies>)| {
                let at = commands.started.elapsed().as_nanos() as u64;
                CALLS.post_message.fetch_add(1, Ordering::Relaxed);
                // A command's reply names its room; a reminder goes 1:1 and names its task.
                match body["roomId"].as_str() {
                    Some(room) => commands.record(numbered(room, "load-room-"), at),
                    None => {
                        reminders.record(body["markdown"].as_str().and_then(reminder_index), at)
                    }
                }
                warp::reply::json(&json!({ "id": format!("load-reply-{at}") }))
            },
        );
    // Profiles name no zone, as for most people.
    let person = warp::path!("v1" / "people" / String)
        .and(warp::get())
        .and(authed)
        .map(|id: String, ()| {
            CALLS.people.fetch_add(1, Ordering::Relaxed);
            warp::reply::json(&json!({
                "id": id, "emails": ["someone@example.com"], "displayName": "Someone", "type": "person"
            }))
        });
    let routes = me.or(person).or(get).or(post);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    addr
}
