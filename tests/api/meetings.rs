//! `meeting …` and the meetings webhook, end to end: with and without a grant, Botper's own
//! meetings filed once, meetings scheduled elsewhere filed once and announced, replays,
//! refresh before expiry, refresh on a 401, a refused refresh token, concurrent refreshes.

use std::time::Duration;

use botper::app::GrantState;
use botper::domain::PersonId;
use botper::ports::{Inbox, TaskRepository, TokenStore};
use botper::startup::Tuning;

use crate::support::{AppOptions, Backend, TestApp, eventually, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

async fn quiet(app: &TestApp) {
    let db = app.db.open().await;
    assert!(
        eventually(WAIT, || async {
            let s = db.stats().await.unwrap();
            s.pending == 0 && s.processing == 0
        })
        .await,
        "inbox did not drain"
    );
}

pub(crate) async fn open_titles(app: &TestApp, person: &str) -> Vec<String> {
    let db = app.db.open().await;
    db.list_open(PersonId::new(person))
        .await
        .unwrap()
        .iter()
        .map(|t| format!("{} {}", t.number, t.title.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_grant_the_bot_offers_a_manual_link_and_to_connect() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Nora");
    let room = app.fake.new_room_id();
    let r = app.ask(&p, &room, "meeting Team Standup").await;
    assert!(
        r.contains(&format!("({})", app.url("/auth/webex/login"))),
        "{r}"
    );
    assert!(r.contains("(https://web.webex.com/meetings)"), "{r}");
    assert!(app.fake.meetings().is_empty());
    assert!(open_titles(&app, &p.id).await.is_empty());
}

async fn a_connected_person_gets_a_real_meeting_and_one_task(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;

    let r = app.ask(&alice, &room, "meeting Team Standup").await;
    let meetings = app.fake.meetings();
    assert_eq!(meetings.len(), 1);
    let m = &meetings[0];
    assert_eq!(m["title"], "Team Standup");
    assert_eq!(m["hostUserId"], alice.id.as_str(), "created with her token");
    assert_eq!(m["timezone"], "Europe/Paris");
    let tags: Vec<&str> = m["integrationTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags[0], "botper");
    let start: jiff::Timestamp = m["start"].as_str().unwrap().parse().unwrap();
    let end: jiff::Timestamp = m["end"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        end.duration_since(start),
        jiff::SignedDuration::from_mins(30)
    );
    let lead = start.duration_since(jiff::Timestamp::now());
    assert!(
        lead > jiff::SignedDuration::from_mins(4) && lead <= jiff::SignedDuration::from_mins(6),
        "{lead:?}"
    );
    assert!(r.contains("**Team Standup** is scheduled for"), "{r}");
    assert!(r.contains(m["webLink"].as_str().unwrap()), "{r}");
    assert!(r.contains("task **#1**"), "{r}");

    // Webex then calls the meetings webhook for the same meeting: no second task, no 1:1.
    assert!(eventually(WAIT, || async { app.fake.deliveries().len() == 1 }).await);
    assert_eq!(app.fake.deliveries()[0].status, 200);
    quiet(&app).await;
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Team Standup"]);
    assert_eq!(app.fake.sent_count(), 1, "only the reply in the space");
    let listed = app.ask(&alice, &room, "list").await;
    assert!(
        listed.contains("**#1** Team Standup ([join](https://example.webex.com/"),
        "{listed}"
    );
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_person_gets_a_real_meeting_and_one_task_on_sqlite() {
    a_connected_person_gets_a_real_meeting_and_one_task(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_person_gets_a_real_meeting_and_one_task_on_postgres() {
    a_connected_person_gets_a_real_meeting_and_one_task(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_options_are_read_in_the_persons_zone() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;
    let r = app
        .ask(&alice, &room, "meeting Planning tomorrow at 15:00 for 45m")
        .await;
    let m = &app.fake.meetings()[0];
    let start: jiff::Timestamp = m["start"].as_str().unwrap().parse().unwrap();
    let paris = start.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap());
    assert_eq!((paris.hour(), paris.minute()), (15, 0));
    let end: jiff::Timestamp = m["end"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        end.duration_since(start),
        jiff::SignedDuration::from_mins(45)
    );
    assert!(r.contains("15:00–15:45 (Europe/Paris)"), "{r}");
}

async fn a_series_is_one_webex_meeting_with_its_rule_and_one_task(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;

    // Refused before any call: Webex would keep only the 1st.
    let r = app
        .ask(
            &alice,
            &room,
            "meeting Board every month on the 1st and 15th at 14:00",
        )
        .await;
    assert!(r.contains("Webex keeps only the first day"), "{r}");
    let r = app.ask(&alice, &room, "meeting Standup 10 times").await;
    assert!(r.contains("go with `every …`"), "{r}");
    assert!(app.fake.meetings().is_empty());

    let r = app
        .ask(
            &alice,
            &room,
            "meeting Standup every weekday at 9:00 for 15m 10 times",
        )
        .await;
    let meetings = app.fake.meetings();
    assert_eq!(meetings.len(), 1, "one series");
    let m = &meetings[0];
    assert_eq!(
        m["recurrence"],
        "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR;COUNT=10"
    );
    let start: jiff::Timestamp = m["start"].as_str().unwrap().parse().unwrap();
    let paris = start.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap());
    assert_eq!((paris.hour(), paris.minute()), (9, 0));
    assert!(
        !matches!(
            paris.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ),
        "the first meeting is on a weekday: {paris}"
    );
    assert!(
        r.contains("repeats every weekday, 10 times; the first is"),
        "{r}"
    );
    assert!(r.contains("09:00–09:15 (Europe/Paris)"), "{r}");
    quiet(&app).await;
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Standup"]);

    let r = app
        .ask(
            &alice,
            &room,
            "meeting Design sync every 2 weeks on tue at 10:00 until 2027-03-01",
        )
        .await;
    assert!(
        r.contains("repeats every 2 weeks on Tuesday, until Mon 1 Mar 2027"),
        "{r}"
    );
    let meetings = app.fake.meetings();
    let m = meetings
        .iter()
        .find(|m| m["title"] == "Design sync")
        .unwrap();
    assert_eq!(
        m["recurrence"],
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;UNTIL=20270301T225959Z"
    );
}

async fn invitees_by_email_are_invited_and_a_bad_address_creates_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;

    let r = app
        .ask(
            &alice,
            &room,
            "meeting Review tomorrow 15:00 with bob@example.com, carol@",
        )
        .await;
    assert!(r.contains("`carol@` is not an email address"), "{r}");
    assert!(app.fake.meetings().is_empty(), "nothing was created");

    let r = app
        .ask(
            &alice,
            &room,
            "meeting Review tomorrow 15:00 with bob@example.com, carol@example.com",
        )
        .await;
    assert!(r.contains("15:00–15:30 (Europe/Paris)"), "{r}");
    assert!(
        r.contains("emailed the invitation to bob@example.com, carol@example.com"),
        "{r}"
    );
    let sent = app.fake.meeting_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["title"], "Review");
    assert_eq!(
        sent[0]["invitees"],
        serde_json::json!([{"email": "bob@example.com"}, {"email": "carol@example.com"}])
    );
    assert_eq!(sent[0]["sendEmail"], true);
    quiet(&app).await;
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Review"]);

    // Without invitees neither field is sent.
    app.ask(&alice, &room, "meeting Solo time").await;
    let sent = app.fake.meeting_requests();
    assert!(sent[1].get("invitees").is_none(), "{}", sent[1]);
    assert!(sent[1].get("sendEmail").is_none(), "{}", sent[1]);
    app.fake.assert_spec_clean();
}

async fn templates_and_the_meetings_list(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    let connect = format!("({})", app.url("/auth/webex/login"));
    // Not connected: both offer to connect, and nothing is asked of Webex.
    let r = app.ask(&alice, &room, "meeting templates").await;
    assert!(
        r.contains("I can show your meeting templates once you connect") && r.contains(&connect),
        "{r}"
    );
    let r = app.ask(&alice, &room, "meetings week").await;
    assert!(
        r.contains("I can show your meetings once you connect"),
        "{r}"
    );
    app.connect(&alice).await;

    let r = app.ask(&alice, &room, "meeting templates").await;
    assert!(r.starts_with("**Your meeting templates (3)**"), "{r}");
    assert!(r.contains("- Webex Meetings Standard (default)\n"), "{r}");
    assert!(r.contains("- Board Meeting Extended\n"), "{r}");
    // A name that could be two templates, or none: nothing is created.
    let r = app
        .ask(
            &alice,
            &room,
            "meeting Board review tomorrow 15:00 using board",
        )
        .await;
    assert!(
        r.starts_with("“board” could be “Board Meeting”, “Board Meeting Extended”: say which"),
        "{r}"
    );
    let r = app
        .ask(&alice, &room, "meeting Board review using Retro")
        .await;
    assert!(
        r.contains(
            "You have no meeting template called “Retro”. Yours: “Webex Meetings Standard”, \
             “Board Meeting”, “Board Meeting Extended”. Nothing was created."
        ),
        "{r}"
    );
    assert!(
        app.fake.meeting_requests().is_empty(),
        "nothing was created"
    );
    let r = app
        .ask(
            &alice,
            &room,
            "meeting Board review tomorrow 15:00 using board meeting",
        )
        .await;
    assert!(r.contains("**Board review** is scheduled for"), "{r}");
    let sent = app.fake.meeting_requests();
    assert_eq!(sent[0]["title"], "Board review");
    assert_eq!(
        sent[0]["templateId"],
        crate::support::fake_webex::default_templates()[1]["id"]
    );
    // Someone with their own templates sees those.
    let bob = app.fake.add_person("Bob");
    app.fake.set_templates(&bob, &["Retro"]);
    app.connect(&bob).await;
    let r = app.ask(&bob, &room, "meeting templates").await;
    assert!(
        r.starts_with("**Your meeting templates (1)**\n\n- Retro\n"),
        "{r}"
    );

    // `meetings week`: a series' occurrences one by one, tasks marked, a meeting scheduled
    // elsewhere (its event held back, so no task) listed too.
    app.ask(&alice, &room, "meeting Daily every day at 23:30 3 times")
        .await;
    app.fake.hold_meetings();
    app.fake
        .schedule_elsewhere(&alice, "Quarterly review")
        .await;
    quiet(&app).await;
    assert_eq!(
        open_titles(&app, &alice.id).await,
        ["1 Board review", "2 Daily"]
    );
    let r = app.ask(&alice, &room, "meetings week").await;
    assert!(
        r.starts_with("**Your meetings this week (5)**, Europe/Paris\n\n"),
        "{r}"
    );
    assert_eq!(r.matches("[Daily](").count(), 3, "{r}");
    assert_eq!(r.matches("· task **#2**").count(), 3, "{r}");
    let line = |title: &str| {
        r.lines()
            .find(|l| l.contains(&format!("[{title}](")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("Board review").contains("15:00–15:30"), "{r}");
    assert!(line("Board review").ends_with("· task **#1**"), "{r}");
    assert!(!line("Quarterly review").contains("task"), "{r}");
    let r = app.ask(&alice, &room, "meetings tomorrow").await;
    assert!(r.starts_with("**Your meetings tomorrow ("), "{r}");
    assert!(
        r.contains("- 15:00–15:30 [Board review](") && r.contains("· task **#1**"),
        "{r}"
    );
    let r = app.ask(&alice, &room, "meetings someday").await;
    assert!(
        r.contains("`meetings` takes `today`, `tomorrow` or `week`"),
        "{r}"
    );
    let r = app.ask(&bob, &room, "meetings").await;
    assert_eq!(
        r,
        "You have no Webex meetings today. Schedule one with `meeting <title>`."
    );
    // In a group space the list (titles, join links) is not shown; nothing is asked of Webex.
    let group = app.fake.new_room_id();
    let html = app.fake.mention_html("Botper", " meetings week");
    let id = app
        .fake
        .user_says(&alice, &group, "Botper meetings week", Some(&html));
    let lists_before = app.fake.request_count("GET", "/meetings");
    let before = app.fake.sent_count();
    assert_eq!(
        app.deliver(&crate::support::message_created(&id, &group, &alice.id))
            .await,
        200
    );
    let sent = app.fake.wait_for_sent(before + 1, WAIT).await;
    let r = sent[before].markdown();
    assert!(r.contains("I list them only in our 1:1 space"), "{r}");
    assert!(!r.contains("Board review"), "{r}");
    let lists_after = app.fake.request_count("GET", "/meetings");
    assert_eq!(lists_before, lists_after);
    app.fake.release_meetings().await;
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_and_the_meetings_list_on_sqlite() {
    templates_and_the_meetings_list(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_and_the_meetings_list_on_postgres() {
    templates_and_the_meetings_list(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitees_by_email_are_invited_and_a_bad_address_creates_nothing_on_sqlite() {
    invitees_by_email_are_invited_and_a_bad_address_creates_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitees_by_email_are_invited_and_a_bad_address_creates_nothing_on_postgres() {
    invitees_by_email_are_invited_and_a_bad_address_creates_nothing(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_is_one_webex_meeting_with_its_rule_and_one_task_on_sqlite() {
    a_series_is_one_webex_meeting_with_its_rule_and_one_task(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_is_one_webex_meeting_with_its_rule_and_one_task_on_postgres() {
    a_series_is_one_webex_meeting_with_its_rule_and_one_task(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_scheduled_elsewhere_becomes_a_task_and_the_host_is_told_once() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    app.connect(&alice).await;
    app.fake
        .schedule_elsewhere(&alice, "Quarterly review")
        .await;
    let sent = app.fake.wait_for_sent(1, WAIT).await;
    assert_eq!(
        sent[0].to_person_id(),
        Some(alice.id.as_str()),
        "a 1:1 message"
    );
    assert!(
        sent[0]
            .markdown()
            .contains("You scheduled **Quarterly review**"),
        "{}",
        sent[0].markdown()
    );
    assert!(sent[0].markdown().contains("task **#1**"));
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Quarterly review"]);

    // Webex delivers the same event again: nothing new.
    let again = app.fake.deliveries()[0].body.clone();
    assert_eq!(app.deliver(&again).await, 200);
    quiet(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.fake.sent_count(), 1);
    assert_eq!(open_titles(&app, &alice.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_whose_rest_data_lags_is_filed_once_it_appears() {
    let app = spawn_app_with(AppOptions {
        tuning: Tuning {
            meeting_lag_step: Some(Duration::from_millis(50)),
            worker: Some(botper::app::worker::WorkerOptions {
                workers: 2,
                retry_base: Duration::from_millis(20),
                poll_interval: Duration::from_millis(50),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..AppOptions::default()
    })
    .await;
    let alice = app.fake.add_person("Alice");
    app.connect(&alice).await;
    app.fake.lag_meetings(2);
    app.fake.schedule_elsewhere(&alice, "Lagging").await;
    app.fake.wait_for_sent(1, WAIT).await;
    let gets = app
        .fake
        .requests()
        .iter()
        .filter(|(m, p, _)| m == "GET" && p == "/meetings/{id}")
        .map(|(_, _, s)| *s)
        .collect::<Vec<_>>();
    assert_eq!(gets, [404, 404, 200]);
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Lagging"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_access_token_is_refreshed_before_use() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.fake.set_access_ttl(Duration::from_secs(120));
    app.connect(&alice).await;
    let old = app.fake.access_tokens_of(&alice);
    app.fake.set_access_ttl(Duration::from_secs(14 * 86_400));
    let r = app.ask(&alice, &room, "meeting After refresh").await;
    assert!(r.contains("is scheduled"), "{r}");
    assert_eq!(app.fake.refresh_requests(), 1);
    let db = app.db.open().await;
    let g = db
        .load(PersonId::new(alice.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !old.contains(&g.tokens.access_token.expose().to_owned()),
        "a new token was stored"
    );
    assert_eq!(g.version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_access_token_gets_one_refresh_and_one_retry() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;
    app.fake.revoke_access_tokens(&alice);
    let r = app.ask(&alice, &room, "meeting Retry me").await;
    assert!(r.contains("is scheduled"), "{r}");
    assert_eq!(app.fake.refresh_requests(), 1);
    // The first call with the revoked token (looking for an earlier attempt's meeting) got
    // a 401; after one refresh, the same call and the creation went through.
    let calls: Vec<(String, u16)> = app
        .fake
        .requests()
        .into_iter()
        .filter(|(_, p, _)| p == "/meetings")
        .map(|(m, _, s)| (m, s))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET".to_owned(), 401),
            ("GET".to_owned(), 200),
            ("POST".to_owned(), 200)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_asks_the_person_to_reconnect() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.fake.set_access_ttl(Duration::from_secs(60));
    app.connect(&alice).await;
    app.fake.revoke_refresh_tokens(&alice);
    let r = app.ask(&alice, &room, "meeting Nope").await;
    assert!(r.contains("connect again"), "{r}");
    assert!(app.fake.meetings().is_empty());
    let r = app.ask(&alice, &room, "status").await;
    assert!(
        r.contains("stopped working") && r.contains("connect again"),
        "{r}"
    );
    // Connecting again fixes it.
    app.fake.set_access_ttl(Duration::from_secs(14 * 86_400));
    app.connect(&alice).await;
    let r = app.ask(&alice, &room, "meeting Yes").await;
    assert!(r.contains("is scheduled"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uses_spend_the_refresh_token_once_even_across_processes() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app(backend).await;
        let alice = app.fake.add_person("Alice");
        app.fake.set_access_ttl(Duration::from_secs(60));
        app.connect(&alice).await;
        app.fake.set_access_ttl(Duration::from_secs(14 * 86_400));
        // A second App over the same database plays a second process.
        let config = botper::config::Config::from_lookup(|k| match k {
            "DATABASE_URL" => Some(app.db.url.clone()),
            "WEBEX_API_BASE_URL" => Some(app.fake.base_url()),
            "WEBEX_CLIENT_ID" => Some(crate::support::fake_webex::CLIENT_ID.into()),
            "WEBEX_CLIENT_SECRET" => Some(crate::support::fake_webex::CLIENT_SECRET.into()),
            "BOTPER_TOKEN_KEY" => Some(crate::support::TOKEN_KEY.into()),
            _ => None,
        })
        .unwrap();
        let key = botper::startup::token_key(&config).unwrap();
        let db2 = botper::startup::open_database(&config)
            .await
            .unwrap()
            .with_token_key(&key);
        let other = botper::startup::build_app(
            &config,
            db2,
            crate::support::fast_retry(),
            botper::startup::app_settings(&config),
            std::sync::Arc::new(botper::ports::NoMetrics),
        )
        .unwrap();
        let person = PersonId::new(alice.id.clone());
        let mut calls = Vec::new();
        for i in 0..8 {
            let a = if i % 2 == 0 {
                app.app().clone()
            } else {
                other.clone()
            };
            let p = person.clone();
            calls.push(tokio::spawn(async move { a.fresh_grant(&p).await }));
        }
        let mut tokens = std::collections::HashSet::new();
        for c in calls {
            match c.await.unwrap().unwrap() {
                GrantState::Ready(g) => {
                    tokens.insert(g.tokens.access_token.expose().to_owned());
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            app.fake.refresh_requests(),
            1,
            "{backend:?}: exactly one refresh reached Webex"
        );
        assert_eq!(tokens.len(), 1, "everyone uses the refreshed token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_disconnect() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    let r = app.ask(&alice, &room, "status").await;
    assert!(r.contains("not connected"), "{r}");
    app.connect(&alice).await;
    let r = app.ask(&alice, &room, "status").await;
    assert!(
        r.contains("You're connected as **Alice** (alice@example.com)"),
        "{r}"
    );
    assert!(r.contains("Meetings you schedule anywhere"), "{r}");
    assert_eq!(app.fake.webhooks().len(), 3, "created, updated, deleted");
    let r = app.ask(&alice, &room, "disconnect").await;
    assert!(r.starts_with("Disconnected"), "{r}");
    assert!(
        app.fake.webhooks().is_empty(),
        "the meetings webhook was deleted"
    );
    let r = app.ask(&alice, &room, "meeting After").await;
    assert!(r.contains("connect your Webex account"), "{r}");
    let r = app.ask(&alice, &room, "disconnect").await;
    assert!(r.contains("nothing to disconnect"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_is_not_re_sent_in_line_and_succeeds_on_the_next_attempt() {
    let app = spawn_app_with(AppOptions {
        tuning: Tuning {
            worker: Some(botper::app::worker::WorkerOptions {
                workers: 2,
                retry_base: Duration::from_millis(20),
                poll_interval: Duration::from_millis(50),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..AppOptions::default()
    })
    .await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.fake.set_access_ttl(Duration::from_secs(60));
    app.connect(&alice).await;
    app.fake.set_access_ttl(Duration::from_secs(14 * 86_400));
    app.fake.fail_token_calls(1);
    let r = app.ask(&alice, &room, "meeting After a hiccup").await;
    assert!(r.contains("is scheduled"), "{r}");
    // One refused request, then one on the item's next attempt: the refresh token was
    // never sent twice in one go (the fake would have processed the second).
    assert_eq!(app.fake.refresh_requests(), 2);
    assert_eq!(app.fake.meetings().len(), 1);
}

/// `POST /meetings` that Webex applied but answered with a 502, or whose connection dropped:
/// the meeting is found by its integration tag (searched around the requested slot, 20 days
/// out, past Webex's default 7-day window), never created twice.
async fn an_applied_create_with_a_lost_answer_is_not_sent_again(b: Backend) {
    use crate::support::fake_webex::AfterApply;
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;
    let day = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 20))
        .to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        .strftime("%Y-%m-%d")
        .to_string();
    for (n, answer) in [AfterApply::BadGateway, AfterApply::DropConnection]
        .into_iter()
        .enumerate()
    {
        app.fake.fail_after_applying("POST /meetings", vec![answer]);
        let r = app
            .ask(
                &alice,
                &room,
                &format!("meeting Review {n} on {day} at 10:00"),
            )
            .await;
        assert!(
            r.contains(&format!("**Review {n}** is scheduled")),
            "{answer:?}: {r}"
        );
        quiet(&app).await;
        let created = app
            .fake
            .meetings()
            .iter()
            .filter(|m| m["title"] == format!("Review {n}").as_str())
            .count();
        assert_eq!(created, 1, "{answer:?}: one real meeting");
        let posts = app.fake.request_count("POST", "/meetings");
        assert_eq!(posts, n + 1, "POST /meetings sent once per meeting");
    }
    assert_eq!(
        open_titles(&app, &alice.id).await,
        ["1 Review 0", "2 Review 1"]
    );
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_create_with_a_lost_answer_is_not_sent_again_on_sqlite() {
    an_applied_create_with_a_lost_answer_is_not_sent_again(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_create_with_a_lost_answer_is_not_sent_again_on_postgres() {
    an_applied_create_with_a_lost_answer_is_not_sent_again(Backend::Postgres).await;
}

/// The person's meetings webhook: created once even when Webex's answer to the create is
/// lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_webhook_create_with_a_lost_answer_makes_one_webhook() {
    use crate::support::fake_webex::AfterApply;
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    app.fake
        .fail_after_applying("POST /webhooks", vec![AfterApply::BadGateway]);
    app.connect(&alice).await;
    let hooks: Vec<_> = app
        .fake
        .webhooks()
        .into_iter()
        .filter(|h| h.owner == alice.id)
        .collect();
    assert_eq!(hooks.len(), 3, "one per event, none twice: {hooks:#?}");
    let db = app.db.open().await;
    let grant = db
        .load(PersonId::new(alice.id.clone()))
        .await
        .unwrap()
        .unwrap();
    let mut stored: Vec<&str> = grant.webhook_id.as_deref().unwrap().split(',').collect();
    let mut ids: Vec<&str> = hooks
        .iter()
        .map(|h| h.body["id"].as_str().unwrap())
        .collect();
    stored.sort();
    ids.sort();
    assert_eq!(stored, ids);
}

/// A task the person deleted does not come back when the meeting's `created` webhook
/// arrives afterwards (Webex delivers it late).
async fn a_deleted_meeting_task_does_not_come_back(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;
    app.fake.hold_meetings();
    let r = app.ask(&alice, &room, "meeting Team Standup").await;
    assert!(r.contains("task **#1**"), "{r}");
    let r = app.ask(&alice, &room, "delete 1").await;
    assert!(r.contains("Deleted task **#1**"), "{r}");
    app.fake.release_meetings().await;
    assert_eq!(app.fake.deliveries().len(), 1, "the webhook was delivered");
    assert_eq!(app.fake.deliveries()[0].status, 200);
    quiet(&app).await;
    assert!(open_titles(&app, &alice.id).await.is_empty());
    let r = app.ask(&alice, &room, "task next").await;
    assert!(r.contains("**#2** next"), "numbers are never reused: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_meeting_task_does_not_come_back_on_sqlite() {
    a_deleted_meeting_task_does_not_come_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_meeting_task_does_not_come_back_on_postgres() {
    a_deleted_meeting_task_does_not_come_back(Backend::Postgres).await;
}

/// A meeting scheduled elsewhere, then moved and renamed, then cancelled in Webex: its task
/// follows each change and the host is told once; repeated, empty and late deliveries
/// change nothing and say nothing.
async fn a_changed_meeting_keeps_its_task_in_step(b: Backend) {
    use std::time::SystemTime;
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;
    let id = app.fake.schedule_elsewhere(&alice, "Design review").await;
    app.fake.wait_for_sent(1, WAIT).await;
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Design review"]);
    let db = app.db.open().await;
    let task = || async {
        db.find_by_meeting(PersonId::new(alice.id.clone()), id.clone())
            .await
            .unwrap()
            .unwrap()
    };

    // Moved by a day and renamed in Webex.
    let new_start = SystemTime::now() + Duration::from_secs(26 * 3600);
    let now_meeting = app
        .fake
        .update_meeting(&alice, &id, Some("Design review (v2)"), Some(new_start))
        .await;
    let sent = app.fake.wait_for_sent(2, WAIT).await;
    let note = sent[1].markdown();
    assert_eq!(
        sent[1].to_person_id(),
        Some(alice.id.as_str()),
        "a 1:1 note"
    );
    assert!(
        note.contains("is now called **Design review (v2)**"),
        "{note}"
    );
    assert!(note.contains("moved to **"), "{note}");
    assert!(note.contains("Task **#1** Design review (v2)"), "{note}");
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Design review (v2)"]);
    let t = task().await;
    let start: jiff::Timestamp = now_meeting["start"].as_str().unwrap().parse().unwrap();
    assert_eq!(t.meeting.as_ref().unwrap().start, Some(start));
    assert_eq!(
        t.reminder_at(botper::domain::task::ReminderLead::AtDue),
        Some(start - botper::domain::task::MEETING_LEAD),
        "the reminder moved with the meeting"
    );

    // Renamed again, at the same time: a second rename is followed too (Webex's delivery
    // data may be the same for both).
    let renamed = app
        .fake
        .update_meeting(&alice, &id, Some("Design review (v3)"), None)
        .await;
    let sent = app.fake.wait_for_sent(3, WAIT).await;
    let note = sent[2].markdown();
    assert!(
        note.contains("is now called **Design review (v3)** (was “Design review (v2)”)")
            && !note.contains("moved"),
        "{note}"
    );
    assert_eq!(renamed["start"], now_meeting["start"]);

    // The same delivery again, or an update of something Botper does not keep (here, the
    // delivery says another zone), changes nothing: neither says a word.
    let again = app.fake.deliveries().last().unwrap().body.clone();
    assert_eq!(app.deliver(&again).await, 200);
    let mut other = renamed.clone();
    other["timezone"] = serde_json::json!("Europe/Paris");
    app.fake
        .deliver_meeting_event(&alice, &other, "updated")
        .await;
    quiet(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.fake.sent_count(), 3);
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Design review (v3)"]);

    // She renames the task: a later rename in Webex keeps her title; a move is followed.
    let r = app
        .ask(&alice, &room, "edit 1 Prepare the design review")
        .await;
    assert!(r.contains("Prepare the design review"), "{r}");
    let later = SystemTime::now() + Duration::from_secs(50 * 3600);
    app.fake
        .update_meeting(&alice, &id, Some("Design review (v4)"), Some(later))
        .await;
    let sent = app.fake.wait_for_sent(5, WAIT).await;
    let note = sent[4].markdown();
    assert!(
        note.contains("moved to **") && !note.contains("is now called"),
        "{note}"
    );
    assert_eq!(
        open_titles(&app, &alice.id).await,
        ["1 Prepare the design review"]
    );

    // Cancelled in Webex: the task is closed as cancelled, and she is told.
    app.fake.cancel_meeting(&alice, &id).await;
    let sent = app.fake.wait_for_sent(6, WAIT).await;
    let note = sent[5].markdown();
    assert_eq!(sent[5].to_person_id(), Some(alice.id.as_str()));
    assert!(note.contains("**Prepare the design review** on "), "{note}");
    assert!(note.contains("was cancelled in Webex"), "{note}");
    assert!(open_titles(&app, &alice.id).await.is_empty());
    let t = task().await;
    assert!(t.done && t.meeting.as_ref().unwrap().cancelled, "{t:?}");
    assert_eq!(
        t.reminder_at(botper::domain::task::ReminderLead::AtDue),
        None
    );

    // A late `updated` (an older version, delivered after the deletion) and the deletion
    // again: nothing comes back, nothing is said.
    let mut stale = now_meeting.clone();
    stale["start"] = serde_json::json!("2026-12-24T10:00:00Z");
    app.fake
        .deliver_meeting_event(&alice, &stale, "updated")
        .await;
    let gone = app
        .fake
        .deliveries()
        .iter()
        .rev()
        .find(|d| d.body["event"] == "deleted")
        .unwrap()
        .body
        .clone();
    assert_eq!(app.deliver(&gone).await, 200);
    quiet(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.fake.sent_count(), 6);
    assert!(open_titles(&app, &alice.id).await.is_empty());
    let r = app.ask(&alice, &room, "list done").await;
    assert!(
        r.contains("Prepare the design review (meeting cancelled)"),
        "{r}"
    );
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_meeting_keeps_its_task_in_step_on_sqlite() {
    a_changed_meeting_keeps_its_task_in_step(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_meeting_keeps_its_task_in_step_on_postgres() {
    a_changed_meeting_keeps_its_task_in_step(Backend::Postgres).await;
}

/// A person connected before updates were followed has only a `created` webhook: the sync
/// adds `updated` and `deleted`, and their moved meetings follow from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_sync_migrates_a_grant_from_before_updates_were_followed() {
    use botper::app::webhooks::SyncAction;
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    app.connect(&alice).await;
    let db = app.db.open().await;
    let created = app
        .fake
        .webhooks()
        .into_iter()
        .find(|h| h.body["event"] == "created")
        .unwrap()
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for h in app.fake.webhooks() {
        if h.body["event"] != "created" {
            app.fake.drop_webhook(h.body["id"].as_str().unwrap());
        }
    }
    db.set_webhook(PersonId::new(alice.id.clone()), Some(created.clone()))
        .await
        .unwrap();

    let people = app.app().sync_people_webhooks().await.unwrap();
    assert!(
        matches!(&people[0].result, Ok((ids, SyncAction::Created)) if ids.starts_with(&format!("{created},"))),
        "{people:?}"
    );
    assert_eq!(app.fake.webhooks().len(), 3);
    let stored = db
        .load(PersonId::new(alice.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.webhook_id.as_deref().unwrap().split(',').count(), 3);

    let id = app.fake.schedule_elsewhere(&alice, "Old grant").await;
    app.fake.wait_for_sent(1, WAIT).await;
    app.fake
        .update_meeting(&alice, &id, Some("Old grant, renamed"), None)
        .await;
    app.fake.wait_for_sent(2, WAIT).await;
    assert_eq!(open_titles(&app, &alice.id).await, ["1 Old grant, renamed"]);
}
