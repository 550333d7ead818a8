//! Events over the Webex websocket (`BOTPER_EVENTS=websocket`) against the fake device
//! service and websocket, in process and as the real binary: replies, duplicates,
//! reconnects, device reuse and cleanup, one socket per deployment with takeover, card
//! submits, the greeting, and meetings by polling.

use std::time::Duration;

use botper::adapters::webex::socket::Timing;
use botper::app::leader::LeaderOptions;
use botper::startup::Tuning;
use serde_json::{Value, json};

use crate::support::fake_webex::{BOT_TOKEN, FakeWebex, uuid_of};
use crate::support::process::{Proc, botper};
use crate::support::{
    AppOptions, Backend, TOKEN_KEY, TestApp, TestDb, eventually, message_created, spawn_app_on,
};

const WAIT: Duration = Duration::from_secs(10);

fn socket_env(fake: &FakeWebex) -> Vec<(&'static str, String)> {
    vec![
        ("BOTPER_EVENTS", "websocket".into()),
        ("WEBEX_U2C_URL", fake.u2c_url()),
        ("BOTPER_MEETINGS_POLL_SECS", "1".into()),
    ]
}

fn fast_socket() -> Tuning {
    Tuning {
        socket: Some(Timing {
            ping_every: Duration::from_millis(300),
            silence: Duration::from_secs(2),
        }),
        leader: Some(LeaderOptions {
            ttl: Duration::from_secs(3),
            replaced_pause: Duration::from_secs(2),
        }),
        ..Tuning::default()
    }
}

async fn socket_app_on(fake: FakeWebex, backend: Backend) -> TestApp {
    let env = socket_env(&fake);
    let app = spawn_app_on(
        fake,
        TestDb::new(backend),
        AppOptions {
            backend,
            env,
            tuning: fast_socket(),
        },
    )
    .await;
    assert!(
        app.fake.wait_socket(1, WAIT).await,
        "the socket never connected"
    );
    app
}

async fn socket_app(backend: Backend) -> TestApp {
    socket_app_on(FakeWebex::start().await, backend).await
}

async fn metrics(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The `post` activity Webex would send for the message `id` typed by `person`.
fn post_activity(fake: &FakeWebex, id: &str, person_id: &str, room: &str) -> Value {
    let _ = fake;
    json!({
        "id": uuid_of(id), "verb": "post", "objectType": "activity",
        "published": "2026-12-07T12:00:00.000Z",
        "actor": {"id": uuid_of(person_id), "objectType": "person", "entryUUID": uuid_of(person_id), "type": "PERSON"},
        "object": {"objectType": "comment", "displayName": "opaque", "content": "opaque"},
        "target": {"id": uuid_of(room), "objectType": "conversation", "tags": ["ONE_ON_ONE"]},
    })
}

async fn a_message_over_the_socket_is_answered(backend: Backend) {
    let app = socket_app(backend).await;
    let pat = app.fake.add_person("Pat");
    let room = app.fake.new_room_id();
    let r = app.socket_ask(&pat, &room, "task Buy milk").await;
    assert_eq!(r, "Added task **#1** Buy milk.");
    let r = app.socket_ask(&pat, &room, "list").await;
    assert!(r.contains("**#1** Buy milk"), "{r}");
    // Every event acked (the bot's own posts too), none left to redeliver.
    assert!(
        eventually(WAIT, || async {
            // (the `mercury.buffer_state` frame is acked too, and not counted as sent)
            app.fake.acks().len() >= app.fake.socket_events_sent()
        })
        .await,
        "acks {} of {}",
        app.fake.acks().len(),
        app.fake.socket_events_sent()
    );
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"botper_socket_state{state="connected"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"botper_socket_events_total{outcome="accepted",verb="post"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"botper_socket_events_total{outcome="own_message",verb="post"}"#),
        "the bot's own posts come back and are dropped: {text}"
    );
    assert_eq!(app.fake.device_registrations(), 1);
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_socket_is_answered_on_sqlite() {
    a_message_over_the_socket_is_answered(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_socket_is_answered_on_postgres() {
    a_message_over_the_socket_is_answered(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_activity_twice_is_answered_once_and_other_verbs_are_ignored() {
    let app = socket_app(Backend::Sqlite).await;
    let pat = app.fake.add_person("Pat");
    let room = app.fake.new_room_id();
    let id = app.fake.socket_says(&pat, &room, "task Once", None);
    app.fake.wait_for_sent(1, WAIT).await;
    app.fake
        .socket_push(post_activity(&app.fake, &id, &pat.id, &room));
    let mut other = post_activity(&app.fake, &id, &pat.id, &room);
    other["verb"] = json!("acknowledge");
    app.fake.socket_push(other);
    app.fake
        .socket_push_event(json!({"eventType": "status.start_typing"}));
    let sent_before = app.fake.socket_events_sent();
    assert!(eventually(WAIT, || async { app.fake.acks().len() >= sent_before }).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.fake.sent_count(), 1, "{:?}", app.fake.sent());
    assert_eq!(app.db.count_rows("tasks"), 1);
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"botper_socket_events_total{outcome="duplicate",verb="post"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"botper_socket_events_total{outcome="ignored",verb="other"} 1"#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_and_a_socket_event_for_one_message_make_one_task() {
    let app = socket_app(Backend::Postgres).await;
    let pat = app.fake.add_person("Pat");
    let room = app.fake.new_room_id();
    // A deployment moving between transports: the webhook endpoint still takes signed
    // deliveries, and both name the message by the same REST id.
    let id = app.fake.socket_says(&pat, &room, "task Both ways", None);
    assert_eq!(
        app.deliver(&message_created(&id, &room, &pat.id)).await,
        200
    );
    app.fake.wait_for_sent(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.fake.sent_count(), 1);
    assert_eq!(app.db.count_rows("tasks"), 1);
    assert_eq!(
        app.fake.sent()[0].markdown(),
        "Added task **#1** Both ways."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_or_silent_socket_reconnects_and_nothing_typed_meanwhile_is_lost() {
    let app = socket_app(Backend::Sqlite).await;
    let pat = app.fake.add_person("Pat");
    let room = app.fake.new_room_id();
    app.socket_ask(&pat, &room, "task One").await;

    // Dropped without a close frame; a message typed while it is down waits at Webex.
    app.fake.drop_sockets();
    app.fake
        .socket_says(&pat, &room, "task Typed while down", None);
    assert!(
        eventually(WAIT, || async { app.fake.socket_authorizations() >= 2 }).await,
        "no reconnect"
    );
    let sent = app.fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent[1].markdown(), "Added task **#2** Typed while down.");

    // Webex stops answering pings: a dead socket, replaced by a new one.
    app.fake.stop_pongs(true);
    assert!(
        eventually(WAIT, || async { app.fake.socket_authorizations() >= 3 }).await,
        "a socket without pongs was not replaced"
    );
    app.fake.stop_pongs(false);
    assert!(app.fake.wait_socket(1, WAIT).await);
    let r = app.socket_ask(&pat, &room, "task After").await;
    assert_eq!(r, "Added task **#3** After.");
    let text = metrics(&app).await;
    assert!(!text.contains("botper_socket_reconnects_total 0"), "{text}");
    assert_eq!(app.fake.device_registrations(), 1, "the device was kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_webex_forgot_is_registered_again() {
    let app = socket_app(Backend::Sqlite).await;
    let pat = app.fake.add_person("Pat");
    let room = app.fake.new_room_id();
    let first = app.fake.devices()[0]["url"].as_str().unwrap().to_owned();
    assert!(app.fake.delete_device(&first));
    assert!(
        eventually(WAIT, || async { app.fake.device_registrations() == 2 }).await,
        "not registered again"
    );
    assert!(app.fake.wait_socket(1, WAIT).await);
    let r = app.socket_ask(&pat, &room, "task Still here").await;
    assert_eq!(r, "Added task **#1** Still here.");
    assert_eq!(app.fake.devices().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excessive_registrations_delete_botpers_stale_devices_only() {
    let fake = FakeWebex::start().await;
    fake.set_device_limit(3);
    fake.add_stale_device("Botper 0badf00d");
    fake.add_stale_device("Botper deadbeef");
    fake.add_stale_device("Another tool");
    let app = socket_app_on(fake, Backend::Sqlite).await;
    let names: Vec<String> = app
        .fake
        .devices()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Another tool".to_owned()), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("Botper ") && n != "Botper 0badf00d" && n != "Botper deadbeef"),
        "{names:?}"
    );
    let pat = app.fake.add_person("Pat");
    let room = app.fake.new_room_id();
    let r = app.socket_ask(&pat, &room, "task Connected").await;
    assert_eq!(r, "Added task **#1** Connected.");
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_deletes_the_device_and_a_replaced_socket_stands_aside() {
    let mut app = socket_app(Backend::Sqlite).await;
    // Another connection takes over (close 4000): Botper does not fight it, and comes
    // back only after its pause.
    app.fake.close_sockets(4000);
    assert!(
        eventually(WAIT, || async {
            metrics(&app)
                .await
                .contains(r#"botper_socket_state{state="replaced"} 1"#)
        })
        .await
    );
    let authorized = app.fake.socket_authorizations();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        app.fake.socket_authorizations(),
        authorized,
        "it fought back"
    );
    assert!(
        eventually(WAIT, || async {
            app.fake.socket_authorizations() > authorized
        })
        .await,
        "it never came back after the pause"
    );
    assert!(app.fake.wait_socket(1, WAIT).await);
    app.stop().await;
    assert!(app.fake.devices().is_empty(), "{:?}", app.fake.devices());
    assert_eq!(app.fake.socket_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_submit_and_the_greeting_arrive_over_the_socket() {
    let app = socket_app(Backend::Postgres).await;
    let dora = app.fake.add_person("Dora");
    let room = app.fake.new_room_id();
    for t in ["one", "two"] {
        app.socket_ask(&dora, &room, &format!("task {t}")).await;
    }
    app.socket_ask(&dora, &room, "list").await;
    let card = app.fake.sent().last().unwrap().id.clone();
    let before = app.fake.sent_count();
    app.fake.socket_press(
        &dora,
        &room,
        &card,
        json!({"action": "done", "task": "2", "owner": dora.id}),
    );
    let sent = app.fake.wait_for_sent(before + 1, WAIT).await;
    assert!(
        sent[before].markdown().starts_with("Done: **#2** two."),
        "{}",
        sent[before].markdown()
    );

    let group = app.fake.new_room_id();
    app.fake.socket_add_bot(&group, &dora, false);
    let sent = app.fake.wait_for_sent(before + 2, WAIT).await;
    let hello = sent[before + 1].markdown();
    assert!(hello.contains("Hi, I'm **Botper**"), "{hello}");
    assert!(hello.contains("@mention me"), "a group space: {hello}");
    assert_eq!(sent[before + 1].room_id(), Some(group.as_str()));
}

async fn meetings_become_tasks_by_polling(backend: Backend) {
    let app = socket_app(backend).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;
    assert!(
        app.fake.webhooks().iter().all(|h| h.owner != alice.id),
        "no meetings webhook without a public URL"
    );
    let r = app.socket_ask(&alice, &room, "status").await;
    assert!(r.contains("checks your meetings every second"), "{r}");

    let before = app.fake.sent_count();
    let id = app.fake.schedule_elsewhere(&alice, "Design review").await;
    let sent = app.fake.wait_for_sent(before + 1, WAIT).await;
    assert!(
        sent[before].markdown().contains("Design review"),
        "{}",
        sent[before].markdown()
    );
    // Many polls later: still one task, one message.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(app.fake.sent_count(), before + 1, "{:?}", app.fake.sent());
    assert_eq!(app.db.count_rows("tasks"), 1);
    let polls = app.fake.request_count("GET", "/meetings");
    assert!(polls >= 3, "{polls} polls");

    // Moved, then cancelled: each told once.
    let later = std::time::SystemTime::now() + Duration::from_secs(7200);
    app.fake
        .update_meeting(&alice, &id, None, Some(later))
        .await;
    let sent = app.fake.wait_for_sent(before + 2, WAIT).await;
    assert!(
        sent[before + 1].markdown().contains("moved"),
        "{}",
        sent[before + 1].markdown()
    );
    app.fake.cancel_meeting(&alice, &id).await;
    let sent = app.fake.wait_for_sent(before + 3, WAIT).await;
    assert!(
        sent[before + 2].markdown().contains("cancelled"),
        "{}",
        sent[before + 2].markdown()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.fake.sent_count(), before + 3, "{:?}", app.fake.sent());
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"botper_meetings_polls_total{outcome="changed"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"botper_meetings_polls_total{outcome="unchanged"}"#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_become_tasks_by_polling_on_sqlite() {
    meetings_become_tasks_by_polling(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_become_tasks_by_polling_on_postgres() {
    meetings_become_tasks_by_polling(Backend::Postgres).await;
}

// ----- the real binary ----------------------------------------------------------------

fn socket_binary(fake: &FakeWebex, db: &TestDb) -> Proc {
    let mut cmd = botper();
    cmd.env("RUST_LOG", "info")
        .env("WEBEX_BOT_TOKEN", BOT_TOKEN)
        .env("WEBEX_API_BASE_URL", fake.base_url())
        .env("WEBEX_U2C_URL", fake.u2c_url())
        .env("DATABASE_URL", &db.url)
        .env("BOTPER_TOKEN_KEY", TOKEN_KEY)
        .env("BOTPER_BIND", "127.0.0.1:0")
        .env("BOTPER_LEADER_LEASE_SECS", "3")
        // A killed instance's claimed items come back to the others after this.
        .env("BOTPER_LEASE_SECS", "2")
        .env("BOTPER_RATE_LIMIT_PER_MINUTE", "0");
    Proc::spawn(cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_a_bot_token_the_binary_answers_over_the_socket_and_reuses_its_device() {
    let fake = FakeWebex::start().await;
    let db = TestDb::new(Backend::Sqlite);
    let mut p = socket_binary(&fake, &db);
    tokio::task::block_in_place(|| {
        p.wait_for("events transport");
        p.wait_for("Webex websocket connected and authorized");
    });
    let pat = fake.add_person("Pat");
    let room = fake.new_room_id();
    fake.socket_says(&pat, &room, "task From the laptop", None);
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0].markdown(), "Added task **#1** From the laptop.");

    // Killed: no cleanup. The next start reuses the device instead of piling one up.
    // (After a second, so the reply's item is settled: a kill inside the worker's reply
    // window re-sends that reply, see docs/reliability.md.)
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::block_in_place(|| p.kill_hard());
    let mut p = socket_binary(&fake, &db);
    tokio::task::block_in_place(|| {
        p.wait_for("reusing Botper's device");
        p.wait_for("Webex websocket connected and authorized");
    });
    assert_eq!(fake.device_registrations(), 1);
    assert_eq!(fake.devices().len(), 1);
    fake.socket_says(&pat, &room, "task After a crash", None);
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent[1].markdown(), "Added task **#2** After a crash.");

    // A clean stop deletes it.
    let (code, _) = tokio::task::block_in_place(|| p.terminate());
    assert_eq!(code, 0);
    assert!(fake.devices().is_empty());
    let log = p.all_output();
    assert!(
        log.lines()
            .any(|l| l.contains("events transport") && l.contains("websocket")),
        "{log}"
    );
    assert!(!log.contains(BOT_TOKEN), "the bot token reached the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_hold_one_socket_and_the_standby_takes_over_when_the_leader_dies() {
    let fake = FakeWebex::start().await;
    let db = TestDb::new(Backend::Postgres);
    let mut a = socket_binary(&fake, &db);
    tokio::task::block_in_place(|| {
        a.wait_for("this instance holds the Webex websocket");
        a.wait_for("Webex websocket connected and authorized");
    });
    let mut b = socket_binary(&fake, &db);
    tokio::task::block_in_place(|| b.wait_for("another instance holds the Webex websocket"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.socket_connections(), 1);
    assert_eq!(
        fake.socket_authorizations(),
        1,
        "the standby stayed off the socket"
    );

    let pat = fake.add_person("Pat");
    let room = fake.new_room_id();
    let mut typed = Vec::new();
    for k in 0..5 {
        let t = format!("before {k}");
        fake.socket_says(&pat, &room, &format!("task {t}"), None);
        typed.push(t);
    }
    fake.wait_for_sent(5, Duration::from_secs(30)).await;
    // Let the holder mark those items done: a kill between Webex taking a reply and the
    // item being settled re-sends that reply (the worker's documented crash window, see
    // docs/reliability.md), which is not what this test is about.
    tokio::time::sleep(Duration::from_secs(1)).await;

    tokio::task::block_in_place(|| a.kill_hard());
    let killed = std::time::Instant::now();
    // Typed while nobody holds the socket: Webex keeps them for the device.
    for k in 0..5 {
        let t = format!("during {k}");
        fake.socket_says(&pat, &room, &format!("task {t}"), None);
        typed.push(t);
    }
    tokio::task::block_in_place(|| b.wait_for("Webex websocket connected and authorized"));
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(60), "takeover took {took:?}");
    for k in 0..5 {
        let t = format!("after {k}");
        fake.socket_says(&pat, &room, &format!("task {t}"), None);
        typed.push(t);
    }
    fake.wait_for_sent(15, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = fake.sent();
    assert_eq!(
        sent.len(),
        15,
        "{:?}",
        sent.iter().map(|s| s.markdown()).collect::<Vec<_>>()
    );
    for t in &typed {
        let n = sent
            .iter()
            .filter(|s| s.markdown().ends_with(&format!(" {t}.")))
            .count();
        assert_eq!(n, 1, "{t:?} answered {n} times");
    }
    assert_eq!(db.count_rows("tasks"), 15);
    assert_eq!(
        fake.device_registrations(),
        1,
        "the standby reused the device"
    );
    crate::support::report(
        "socket_takeover",
        &[("takeover_ms", took.as_millis().to_string())],
    );
}

#[test]
fn doctor_checks_the_socket_path() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeWebex::start());
    let dir = tempfile::tempdir().unwrap();
    let out = botper()
        .current_dir(dir.path())
        .arg("doctor")
        .env("RUST_LOG", "warn")
        .env("WEBEX_BOT_TOKEN", BOT_TOKEN)
        .env("WEBEX_API_BASE_URL", fake.base_url())
        .env("WEBEX_U2C_URL", fake.u2c_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok   events: websocket: BOTPER_EVENTS=auto and BOTPER_PUBLIC_URL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok   websocket: device service at http://"),
        "{stdout}"
    );
    assert!(
        stdout.contains("websocket connected and authorized"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("FAIL webhook"),
        "no webhooks needed: {stdout}"
    );
    assert!(
        rt.block_on(async { fake.devices() }).is_empty(),
        "the probe device was deleted"
    );
    let out = botper()
        .current_dir(dir.path())
        .arg("doctor")
        .env("RUST_LOG", "warn")
        .env("WEBEX_BOT_TOKEN", "wrong-token")
        .env("WEBEX_API_BASE_URL", fake.base_url())
        .env("WEBEX_U2C_URL", fake.u2c_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL websocket: catalog:"), "{stdout}");
}
