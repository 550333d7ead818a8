//! Who may use Botper (allow-lists), roles and admin commands, and a person's data (export,
//! `forget me`, retention), end to end against the fake Webex.

use std::time::Duration;

use serde_json::Value;

use crate::support::fake_webex::{Person, webex_id};
use crate::support::{AppOptions, Backend, TestApp, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

async fn app_with(backend: Backend, env: Vec<(&'static str, String)>) -> TestApp {
    spawn_app_with(AppOptions {
        backend,
        env,
        ..AppOptions::default()
    })
    .await
}

/// A person whose address is at another domain (the fake gives everyone example.com).
fn outsider(app: &TestApp, name: &str, email: &str) -> Person {
    let mut p = app.fake.add_person(name);
    p.email = email.into();
    p
}

async fn strangers_get_one_refusal_a_day_and_nothing_is_kept(backend: Backend) {
    let app = app_with(
        backend,
        vec![("BOTPER_ALLOWED_DOMAINS", "example.com".into())],
    )
    .await;
    let ana = app.fake.add_person("Ana");
    let room = app.fake.new_room_id();
    let r = app.ask(&ana, &room, "task Inside").await;
    assert_eq!(r, "Added task **#1** Inside.");

    let eve = outsider(&app, "Eve", "eve@elsewhere.test");
    let eve_room = app.fake.new_room_id();
    let r = app.ask(&eve, &eve_room, "task Secret plan").await;
    assert!(r.contains("not available to your account"), "{r}");
    let before = app.fake.sent_count();
    app.say(&eve, &eve_room, "task Another secret").await;
    app.say(&eve, &eve_room, "list").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(app.fake.sent_count(), before, "one refusal per space a day");
    assert_eq!(
        app.db.count_rows("tasks"),
        1,
        "nothing filed for the stranger"
    );
    assert_eq!(app.db.count_rows("task_counters"), 1);
    // Their inbox rows keep only the dedup key.
    let redacted = count_where(&app, "inbox", "payload = '{\"redacted\":true}'");
    assert_eq!(redacted, 3, "the stranger's three messages");
    let theirs = count_where(&app, "inbox", &format!("payload LIKE '%{}%'", eve.id));
    assert_eq!(theirs, 0);

    // Another bot is never answered.
    let bot = outsider(&app, "Other Bot", "other@webex.bot");
    let before = app.fake.sent_count();
    app.say(&bot, &app.fake.new_room_id(), "help").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.fake.sent_count(), before);

    // Connecting is refused after `people/me`, before anything is stored.
    app.fake.sign_in_as(&eve);
    let page = crate::support::browser()
        .get(app.url("/auth/webex/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Not available to your account")
    );
    assert_eq!(app.db.count_rows("grants"), 0);
}

fn count_where(app: &TestApp, table: &str, cond: &str) -> i64 {
    app.db.count_rows(&format!("{table} WHERE {cond}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_one_refusal_a_day_and_nothing_is_kept_on_sqlite() {
    strangers_get_one_refusal_a_day_and_nothing_is_kept(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_one_refusal_a_day_and_nothing_is_kept_on_postgres() {
    strangers_get_one_refusal_a_day_and_nothing_is_kept(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_organisation_lets_any_address_in_on_sqlite() {
    an_allowed_organisation_lets_any_address_in(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_organisation_lets_any_address_in_on_postgres() {
    an_allowed_organisation_lets_any_address_in(Backend::Postgres).await;
}

async fn an_allowed_organisation_lets_any_address_in(backend: Backend) {
    let app = app_with(
        backend,
        vec![
            ("BOTPER_ALLOWED_EMAILS", "boss@partner.test".into()),
            ("BOTPER_ALLOWED_ORGS", webex_id("ORGANIZATION", "org-1")),
        ],
    )
    .await;
    let eve = outsider(&app, "Eve", "eve@elsewhere.test");
    let r = app
        .ask(&eve, &app.fake.new_room_id(), "task In by org")
        .await;
    assert_eq!(r, "Added task **#1** In by org.");
}

async fn roles_gate_meetings_and_admins_manage_them(backend: Backend) {
    let app = app_with(
        backend,
        vec![
            ("BOTPER_ADMINS", "ann@example.com".into()),
            ("BOTPER_MEETING_ROLE", "organizer".into()),
        ],
    )
    .await;
    let ann = app.fake.add_person("Ann");
    let bob = app.fake.add_person("Bob");
    let ann_room = app.fake.new_room_id();
    let bob_room = app.fake.new_room_id();
    let (browser, html) = app.connect(&bob).await;
    // The success page's test-meeting form is a way to create a meeting too.
    let csrf = crate::support::csrf(&html);
    let r = browser
        .post(app.url("/meetings/test"))
        .form(&[("csrf", csrf.as_str()), ("title", "Form meeting")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("reserved to organizers"));

    let r = app
        .ask(&bob, &bob_room, "meeting Standup tomorrow 9:00")
        .await;
    assert!(
        r.contains("reserved to organizers") && r.contains("ann@example.com"),
        "{r}"
    );
    assert!(app.fake.meeting_requests().is_empty(), "no Webex call");
    let r = app.ask(&bob, &bob_room, "admin roles").await;
    assert_eq!(r, "Only Botper's admins can use `admin` commands.");
    let r = app
        .ask(&bob, &bob_room, "admin grant admin bob@example.com")
        .await;
    assert_eq!(r, "Only Botper's admins can use `admin` commands.");
    let r = app.ask(&bob, &bob_room, "help").await;
    assert!(!r.contains("Admin commands"), "{r}");

    let r = app.ask(&ann, &ann_room, "help").await;
    assert!(
        r.contains("Admin commands") && r.contains("admin grant organizer"),
        "{r}"
    );
    let r = app
        .ask(&ann, &ann_room, "admin grant organizer bob@example.com")
        .await;
    assert_eq!(
        r,
        "**bob@example.com** is now an organizer and may create meetings through Botper."
    );
    let r = app.ask(&ann, &ann_room, "admin grant organizer bob").await;
    assert!(r.contains("is not an email address"), "{r}");
    // A role for someone who has not arrived yet waits for them.
    let r = app
        .ask(&ann, &ann_room, "admin grant organizer carol@example.com")
        .await;
    assert!(r.contains("carol@example.com"), "{r}");

    let r = app
        .ask(&bob, &bob_room, "meeting Standup tomorrow 9:00")
        .await;
    assert!(r.contains("Standup"), "{r}");
    assert_eq!(app.fake.meeting_requests().len(), 1);

    let carol = app.fake.add_person("Carol");
    let carol_room = app.fake.new_room_id();
    app.connect(&carol).await;
    let r = app
        .ask(&carol, &carol_room, "meeting Planning tomorrow 10:00")
        .await;
    assert!(!r.contains("reserved"), "{r}");

    let r = app.ask(&ann, &ann_room, "admin roles").await;
    assert!(r.contains("**ann@example.com**: admin"), "{r}");
    assert!(r.contains("**bob@example.com**: organizer"), "{r}");
    let r = app.ask(&ann, &ann_room, "admin stats").await;
    assert!(r.contains("connected Webex accounts: 2"), "{r}");
    assert!(r.contains("open tasks: 2"), "{r}");
    assert!(r.contains("inbox: ") && r.contains("scheduler: "), "{r}");
    let r = app
        .ask(&ann, &ann_room, "admin revoke organizer bob@example.com")
        .await;
    assert_eq!(r, "**bob@example.com** is no longer an organizer.");
    app.ask(&bob, &bob_room, "task Call the bank tomorrow 9am")
        .await;
    app.ask(&bob, &bob_room, "remind 2 in 2h").await;
    let jobs_before = app.db.count_rows("scheduled_jobs");
    let r = app
        .ask(&ann, &ann_room, "admin disconnect bob@example.com")
        .await;
    assert!(r.starts_with("Disconnected **bob@example.com**"), "{r}");
    assert_eq!(
        app.db.count_rows("scheduled_jobs"),
        jobs_before,
        "bob's reminders are his: only the grant goes"
    );
    assert!(
        app.fake.webhooks().iter().all(|h| h.owner != bob.id),
        "bob's meetings webhooks deleted at Webex"
    );
    let r = app.ask(&ann, &ann_room, "admin audit").await;
    for action in [
        "`grant organizer` bob@example.com: granted",
        "`revoke organizer` bob@example.com: revoked",
        "`disconnect` bob@example.com: disconnected",
        "`stats`",
    ] {
        assert!(r.contains(action), "{action} missing from {r}");
    }
    assert!(app.db.count_rows("audit_log") >= 8);
    let r = app.ask(&ann, &app.fake.new_room_id(), "admin roles").await;
    assert!(
        r.contains("Only Botper's admins") || r.contains("**ann"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_gate_meetings_and_admins_manage_them_on_sqlite() {
    roles_gate_meetings_and_admins_manage_them(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_gate_meetings_and_admins_manage_them_on_postgres() {
    roles_gate_meetings_and_admins_manage_them(Backend::Postgres).await;
}

async fn export_sends_json_and_csv_and_the_page_offers_them(backend: Backend) {
    let app = app_with(backend, vec![]).await;
    let ana = app.fake.add_person("Ana");
    let room = app.fake.new_room_id();
    app.ask(&ana, &room, "task Pay rent due 5 jan").await;
    app.ask(&ana, &room, "task Buy milk, eggs").await;
    app.ask(&ana, &room, "task =SUM(A1)").await;
    app.ask(&ana, &room, "done 2").await;
    let before = app.fake.sent_count();
    app.say(&ana, &room, "export").await;
    let sent = app.fake.wait_for_sent(before + 3, WAIT).await;
    let json_file = &sent[before].files[0];
    assert!(json_file.name.ends_with(".json"), "{}", json_file.name);
    assert_eq!(json_file.content_type, "application/json");
    let doc: Value = serde_json::from_str(&json_file.text()).unwrap();
    assert_eq!(doc["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(doc["tasks"][0]["title"], "Pay rent");
    assert!(
        doc["tasks"][0]["due"].as_str().unwrap().ends_with("-01-05"),
        "{doc}"
    );
    assert_eq!(doc["tasks"][1]["status"], "done");
    assert_eq!(doc["webex_connection"]["connected"], false);
    let csv = sent[before + 1].files[0].text();
    assert!(csv.starts_with("number,title,status,"), "{csv}");
    assert!(csv.contains("2,\"Buy milk, eggs\",done,"), "{csv}");
    assert!(csv.contains("3,'=SUM(A1),open,"), "{csv}");
    assert!(sent[before + 2].markdown().contains("forget me"));
    assert_eq!(sent[before].to_person_id(), Some(ana.id.as_str()));

    let (browser, _) = app.connect(&ana).await;
    let r = browser.get(app.url("/")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("/export.json"));
    let r = browser.get(app.url("/export.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["webex_connection"]["connected"], true);
    let r = browser.get(app.url("/export.csv")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Pay rent"));
    let r = reqwest::get(app.url("/export.json")).await.unwrap();
    assert_eq!(r.status(), 401, "no session, no data");
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_sends_json_and_csv_and_the_page_offers_them_on_sqlite() {
    export_sends_json_and_csv_and_the_page_offers_them(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_sends_json_and_csv_and_the_page_offers_them_on_postgres() {
    export_sends_json_and_csv_and_the_page_offers_them(Backend::Postgres).await;
}

async fn forget_me_erases_everything(backend: Backend) -> (TestApp, Vec<String>) {
    let app = app_with(backend, vec![]).await;
    let ana = app.fake.add_person("Ana");
    let room = app.fake.new_room_id();
    let r = app.ask(&ana, &room, "forget me").await;
    assert!(r.contains("keeps nothing about you"), "{r}");

    app.ask(&ana, &room, "task Zebra-quartz-7781 tomorrow 9am")
        .await;
    app.ask(&ana, &room, "task Walrus-basalt-5523").await;
    app.ask(&ana, &room, "edit 2 Walrus-basalt-5524").await;
    app.ask(&ana, &room, "remind 1 in 2h").await;
    app.ask(&ana, &room, "tz Europe/Oslo").await;
    app.ask(&ana, &room, "agenda at 8:30").await;
    app.ask(&ana, &room, "calendar").await;
    app.connect(&ana).await;
    let tokens = app.fake.access_tokens_of(&ana);
    assert!(!tokens.is_empty());
    let bob = app.fake.add_person("Bob");
    app.ask(&bob, &app.fake.new_room_id(), "task Bob keeps this")
        .await;

    if let Some(bytes) = sqlite_bytes(&app) {
        let needle = b"Zebra-quartz-7781";
        assert!(
            bytes.windows(needle.len()).any(|w| w == needle),
            "the scan finds a title while it is stored"
        );
    }
    let r = app.ask(&ana, &room, "forget me confirm").await;
    assert!(r.contains("There is no request"), "{r}");
    let r = app.ask(&ana, &room, "forget me").await;
    assert!(
        r.contains("forget me confirm") && r.contains("2 task(s)"),
        "{r}"
    );
    let r = app.ask(&ana, &room, "forget me confirm").await;
    assert!(r.starts_with("Done: Botper has forgotten you."), "{r}");
    for what in [
        "2 task(s)",
        "Webex connection",
        "meetings webhook(s)",
        "calendar address",
        "settings",
    ] {
        assert!(r.contains(what), "{what} missing from {r}");
    }
    assert!(app.fake.webhooks().iter().all(|h| h.owner != ana.id));
    for table in [
        "grants",
        "calendar_feeds",
        "person_settings",
        "web_sessions",
    ] {
        assert_eq!(app.db.count_rows(table), 0, "{table}");
    }
    for table in ["task_history", "scheduled_jobs", "meeting_polls"] {
        assert_eq!(
            count_where(&app, table, &format!("owner = '{}'", ana.id)),
            0,
            "{table}"
        );
    }
    assert_eq!(app.db.count_rows("tasks"), 1, "Bob's task stays");
    assert_eq!(
        count_where(&app, "inbox", &format!("payload LIKE '%{}%'", ana.id)),
        0
    );
    let r = app.ask(&bob, &app.fake.new_room_id(), "list").await;
    assert!(r.contains("Bob keeps this"), "{r}");
    let r = app.ask(&ana, &room, "list").await;
    assert!(r.contains("no open tasks"), "starts afresh: {r}");
    let r = app.ask(&ana, &room, "forget me").await;
    assert!(r.contains("keeps nothing about you"), "{r}");
    (app, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_me_leaves_nothing_in_the_sqlite_file() {
    let (mut app, tokens) = forget_me_erases_everything(Backend::Sqlite).await;
    let bytes = sqlite_bytes(&app).expect("an SQLite file");
    let mut secrets: Vec<String> = [
        "Zebra-quartz-7781",
        "Walrus-basalt-5523",
        "Walrus-basalt-5524",
        "Europe/Oslo",
    ]
    .map(String::from)
    .to_vec();
    secrets.extend(tokens);
    for secret in &secrets {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is still in the database file"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_me_erases_everything_on_postgres() {
    forget_me_erases_everything(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn done_tasks_past_the_retention_are_purged_on_sqlite() {
    done_tasks_past_the_retention_are_purged(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn done_tasks_past_the_retention_are_purged_on_postgres() {
    done_tasks_past_the_retention_are_purged(Backend::Postgres).await;
}

async fn done_tasks_past_the_retention_are_purged(backend: Backend) {
    let clock = crate::support::ScaledClock::new(1.0);
    let app = spawn_app_with(AppOptions {
        backend,
        env: vec![("BOTPER_DONE_RETENTION_DAYS", "30".into())],
        tuning: botper::startup::Tuning {
            clock: Some(clock.clone()),
            ..Default::default()
        },
    })
    .await;
    let ana = app.fake.add_person("Ana");
    let room = app.fake.new_room_id();
    app.ask(&ana, &room, "task Old").await;
    app.ask(&ana, &room, "task Open").await;
    app.ask(&ana, &room, "done 1").await;
    // Let the worker settle that item before the clock jumps (a jump past its lease would
    // hand it to another worker, which replays the reply).
    tokio::time::sleep(Duration::from_millis(500)).await;
    clock.advance(Duration::from_secs(29 * 86_400));
    let n = app
        .app()
        .purge_done_tasks(Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    assert_eq!(n, 0, "not yet");
    clock.advance(Duration::from_secs(2 * 86_400));
    let n = app
        .app()
        .purge_done_tasks(Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let r = app.ask(&ana, &room, "list done").await;
    assert!(!r.contains("Old"), "{r}");
    let r = app.ask(&ana, &room, "list").await;
    assert!(r.contains("Open"), "{r}");
}

/// The SQLite database file and its write-ahead log, as bytes (`None` on Postgres).
fn sqlite_bytes(app: &TestApp) -> Option<Vec<u8>> {
    let botper::adapters::db::DbTarget::Sqlite(path) = &app.db.target else {
        return None;
    };
    let mut bytes = std::fs::read(path).unwrap();
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    if let Ok(w) = std::fs::read(wal) {
        bytes.extend(w);
    }
    Some(bytes)
}
