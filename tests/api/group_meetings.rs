//! Meetings from a group space, end to end: `with @Bob` invites the people @mentioned (their
//! addresses read from Webex), `with everyone` the space's members (not the host, not
//! bots), and `meet now` starts the space's instant meeting and posts its link there, with
//! no task (Webex says not to keep instant meetings) — only with `BOTPER_MEET_NOW` on and a
//! grant that allows it.

use std::time::Duration;

use serde_json::json;

use crate::support::fake_webex::Person;
use crate::support::{AppOptions, Backend, TestApp, message_created, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

fn mention(p: &Person) -> String {
    format!(
        r#"<spark-mention data-object-type="person" data-object-id="{}">{}</spark-mention>"#,
        p.id, p.display_name
    )
}

/// `person` writes in the group space `room`: `@Botper <text>`, where `html` is the same
/// with its mentions marked up. Returns the bot's reply there.
async fn group_ask(app: &TestApp, person: &Person, room: &str, text: &str, html: &str) -> String {
    let before = app.fake.sent_count();
    let html = format!("<p>{}{html}</p>", mention(&app.fake.bot));
    let id = app
        .fake
        .user_says(person, room, &format!("Botper {text}"), Some(&html));
    assert_eq!(
        app.deliver(&message_created(&id, room, &person.id)).await,
        200
    );
    let sent = app.fake.wait_for_sent(before + 1, WAIT).await;
    let reply = &sent[before];
    assert_eq!(reply.room_id(), Some(room), "answered in the space");
    reply.markdown().to_owned()
}

async fn spawn(b: Backend, meet_now: bool) -> TestApp {
    spawn_app_with(AppOptions {
        backend: b,
        env: vec![("BOTPER_MEET_NOW", meet_now.to_string())],
        ..AppOptions::default()
    })
    .await
}

async fn mentioned_people_and_everyone_are_invited(b: Backend) {
    let app = spawn(b, false).await;
    let alice = app.fake.add_person("Alice");
    let bob = app.fake.add_person("Bob Stone");
    let carol = app.fake.add_person("Carol");
    let dave = app.fake.add_person("Dave");
    app.connect(&alice).await;
    let room = app.fake.new_room_id();
    app.fake
        .set_room_members(&room, &[&alice, &bob, &carol, &dave]);

    // Options before the list are read, the names become addresses Webex invites.
    let text = "meeting Review tomorrow 15:00 with Bob Stone and Carol, erin@example.org";
    let html = format!(
        " meeting Review tomorrow 15:00 with {} and {}, erin@example.org",
        mention(&bob),
        mention(&carol)
    );
    let r = group_ask(&app, &alice, &room, text, &html).await;
    assert!(r.contains("15:00–15:30 (Europe/Paris)"), "{r}");
    for invited in [
        "bob.stone@example.com",
        "carol@example.com",
        "erin@example.org",
    ] {
        assert!(r.contains(invited), "{r}");
    }
    let sent = app.fake.meeting_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["title"], "Review");
    assert_eq!(
        sent[0]["invitees"],
        json!([
            {"email": "erin@example.org"},
            {"email": "bob.stone@example.com"},
            {"email": "carol@example.com"}
        ])
    );
    assert_eq!(sent[0]["sendEmail"], true);

    // Everyone: the members but the host and the bot.
    let r = group_ask(
        &app,
        &alice,
        &room,
        "meeting Retro with everyone",
        " meeting Retro with everyone",
    )
    .await;
    assert!(r.contains("Retro"), "{r}");
    let sent = app.fake.meeting_requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["title"], "Retro");
    assert_eq!(
        sent[1]["invitees"],
        json!([
            {"email": "bob.stone@example.com"},
            {"email": "carol@example.com"},
            {"email": "dave@example.com"}
        ])
    );

    // Someone Webex does not show the bot: nothing is created.
    let ghost = Person {
        id: crate::support::fake_webex::webex_id("PEOPLE", "ghost"),
        email: "ghost@example.com".into(),
        display_name: "Ghost".into(),
        kind: "person",
    };
    let r = group_ask(
        &app,
        &alice,
        &room,
        "meeting Sync with Ghost",
        &format!(" meeting Sync with {}", mention(&ghost)),
    )
    .await;
    assert!(r.contains("email address of **Ghost**"), "{r}");
    assert_eq!(
        app.fake.meeting_requests().len(),
        2,
        "nothing more was created"
    );

    // In 1:1, `with everyone` names nobody: refused before anything is created.
    let direct = app.fake.new_room_id();
    let r = app
        .ask(&alice, &direct, "meeting Party with everyone")
        .await;
    assert!(
        r.contains("`with everyone` invites the members of a group space"),
        "{r}"
    );
    // An unmentioned name stays in the title.
    let r = group_ask(
        &app,
        &alice,
        &room,
        "meeting Lunch with Frank",
        " meeting Lunch with Frank",
    )
    .await;
    assert!(r.contains("Lunch with Frank"), "{r}");
    let sent = app.fake.meeting_requests();
    assert_eq!(sent.len(), 3);
    assert!(sent[2].get("invitees").is_none(), "{}", sent[2]);
    app.fake.assert_spec_clean();
}

async fn meet_now_starts_the_spaces_meeting_without_a_task(b: Backend) {
    let app = spawn(b, true).await;
    let alice = app.fake.add_person("Alice");
    let bob = app.fake.add_person("Bob");
    app.connect(&alice).await;
    let room = app.fake.new_room_id();
    app.fake.set_room_members(&room, &[&alice, &bob]);

    let r = group_ask(&app, &alice, &room, "meet now", " meet now").await;
    assert!(
        r.contains("**Alice** started a meeting for this space"),
        "{r}"
    );
    let adhoc = app.fake.adhoc_requests();
    assert_eq!(adhoc.len(), 1);
    assert_eq!(adhoc[0]["roomId"], room.as_str());
    assert!(adhoc[0].get("integrationTags").is_none(), "{}", adhoc[0]);
    let link = app
        .fake
        .meetings()
        .into_iter()
        .find(|m| m["adhoc"] == true)
        .expect("the instant meeting")["webLink"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(r.contains(&link), "{r}");
    // Asked again while it lasts: the same meeting (Webex answers with it).
    let again = group_ask(&app, &bob, &room, "meet now", " meet now").await;
    assert!(again.contains("connect"), "Bob is not connected: {again}");
    let r2 = group_ask(&app, &alice, &room, "meet now", " meet now").await;
    assert!(r2.contains(&link), "{r2}");
    // Its `meetings`/`created` event files no task.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = app.db.open().await;
    assert!(
        crate::support::eventually(WAIT, || async {
            use botper::ports::Inbox;
            let s = db.stats().await.unwrap();
            s.pending == 0 && s.processing == 0
        })
        .await
    );
    assert!(
        crate::meetings::open_titles(&app, &alice.id)
            .await
            .is_empty()
    );

    // In 1:1: pointed to a group space; nothing is created.
    let direct = app.fake.new_room_id();
    let r = app.ask(&alice, &direct, "meet now").await;
    assert!(r.contains("type it there"), "{r}");
    assert_eq!(app.fake.adhoc_requests().len(), 2);
    app.fake.assert_spec_clean();
}

async fn meet_now_needs_it_turned_on_and_a_grant_that_allows_it(b: Backend) {
    // Off: said so, nothing asked of Webex, and connecting does not ask for spark:all.
    let app = spawn(b, false).await;
    let alice = app.fake.add_person("Alice");
    app.connect(&alice).await;
    let room = app.fake.new_room_id();
    app.fake.set_room_members(&room, &[&alice]);
    let r = group_ask(&app, &alice, &room, "meet now", " meet now").await;
    assert!(r.contains("not turned on"), "{r}");
    assert!(app.fake.adhoc_requests().is_empty());

    // Turned on later: her grant lacks the scope, so she is asked to connect again…
    let app = app
        .restart_with(vec![("BOTPER_MEET_NOW", "true".to_owned())])
        .await;
    let r = group_ask(&app, &alice, &room, "meet now", " meet now").await;
    assert!(r.contains("connect again"), "{r}");
    assert!(app.fake.adhoc_requests().is_empty());
    // …and once she has, it works.
    app.connect(&alice).await;
    let r = group_ask(&app, &alice, &room, "meet now", " meet now").await;
    assert!(r.contains("started a meeting for this space"), "{r}");
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentioned_people_and_everyone_are_invited_on_sqlite() {
    mentioned_people_and_everyone_are_invited(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentioned_people_and_everyone_are_invited_on_postgres() {
    mentioned_people_and_everyone_are_invited(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_now_starts_the_spaces_meeting_without_a_task_on_sqlite() {
    meet_now_starts_the_spaces_meeting_without_a_task(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_now_starts_the_spaces_meeting_without_a_task_on_postgres() {
    meet_now_starts_the_spaces_meeting_without_a_task(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_now_needs_it_turned_on_and_a_grant_that_allows_it_on_sqlite() {
    meet_now_needs_it_turned_on_and_a_grant_that_allows_it(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_now_needs_it_turned_on_and_a_grant_that_allows_it_on_postgres() {
    meet_now_needs_it_turned_on_and_a_grant_that_allows_it(Backend::Postgres).await;
}
