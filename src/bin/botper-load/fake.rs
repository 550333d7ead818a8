//! A fast fake Webex for load runs: `people/me`, `GET /people/{id}`, `GET /messages/{id}`,
//! `POST /messages`.
//! Messages are generated from their id (`load-msg-<i>`), and every reply is recorded,
//! lock-free, against the command it answers (`roomId` = `load-room-<i>`) or, for a
//! reminder sent 1:1, the task it names (`load-rem-<i>-end`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;

pub const BOT_TOKEN: &str = "load-bot-token";
pub const BOT_ID: &str = "load-bot";

pub struct Replies {
    pub started: Instant,
    /// Nanoseconds after `started` when the first reply to command i arrived (0 = none).
    pub first_reply: Vec<AtomicU64>,
    pub count: Vec<AtomicU32>,
    /// Replies that named no known command.
    pub strays: AtomicU64,
}

impl Replies {
    pub fn new(n: usize, started: Instant) -> Self {
        Self {
            started,
            first_reply: (0..n).map(|_| AtomicU64::new(0)).collect(),
            count: (0..n).map(|_| AtomicU32::new(0)).collect(),
            strays: AtomicU64::new(0),
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

pub async fn start(replies: Arc<Replies>, people: usize) -> SocketAddr {
    let with = warp::any().map(move || replies.clone());
    let authed = warp::header::optional::<String>("authorization").and_then(
        |a: Option<String>| async move {
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
        .map(move |id: String, ()| match index(&id, "load-msg-") {
            Some(i) => warp::reply::with_status(
                warp::reply::json(&json!({
                    "id": id,
                    "roomId": format!("load-room-{i}"),
                    "roomType": "direct",
                    "personId": format!("load-person-{}", i % people),
                    "personEmail": "someone@example.com",
                    "text": command_text(i),
                    "created": "2026-11-29T12:00:00.000Z",
                })),
                StatusCode::OK,
            ),
            None => warp::reply::with_status(
                warp::reply::json(&json!({"message": "not found"})),
                StatusCode::NOT_FOUND,
            ),
        });
    let post = warp::path!("v1" / "messages")
        .and(warp::post())
        .and(authed)
        .and(warp::body::json::<Value>())
        .and(with)
        .map(|(), body: Value, r: Arc<Replies>| {
            let at = r.started.elapsed().as_nanos() as u64;
            // A command's reply names its room; a reminder goes 1:1 and names its task.
            let i = match body["roomId"].as_str() {
                Some(room) => index(room, "load-room-"),
                None => body["markdown"].as_str().and_then(reminder_index),
            };
            match i {
                Some(i) if i < r.count.len() => {
                    if r.count[i].fetch_add(1, Ordering::Relaxed) == 0 {
                        r.first_reply[i].store(at.max(1), Ordering::Relaxed);
                    }
                }
                _ => {
                    r.strays.fetch_add(1, Ordering::Relaxed);
                }
            }
            warp::reply::json(&json!({ "id": format!("load-reply-{at}") }))
        });
    // Profiles name no zone, as for most people.
    let person = warp::path!("v1" / "people" / String)
        .and(warp::get())
        .and(authed)
        .map(|id: String, ()| {
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
