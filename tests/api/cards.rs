//! The Adaptive Card task list: `list` sends a card with Done and Delete per task; pressing
//! a button runs the same use case as typing it (owner only) and shows the updated list; a
//! stale card gets a clear answer; the bot greets a space it is added to.

use std::time::Duration;

use botper::domain::PersonId;
use botper::ports::TaskRepository;
use serde_json::{Value, json};

use crate::support::{Backend, card_action_created, membership_created, spawn_app};

const WAIT: Duration = Duration::from_secs(10);

/// The golden shape of a card: one row per task, two buttons, the owner in the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_sends_an_adaptive_card_with_done_snooze_and_delete_per_task() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Cara");
    let room = app.fake.new_room_id();
    app.ask(&p, &room, "task First *one*").await;
    app.ask(&p, &room, "task Second").await;
    let md = app.ask(&p, &room, "list").await;
    let sent = app.fake.sent();
    let card_msg = sent.last().unwrap();
    assert_eq!(
        md,
        "**Your 2 open tasks**\n\n- **#1** First \\*one\\*\n- **#2** Second"
    );
    let attachments = card_msg.body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    let expected = json!({
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                {"type": "TextBlock", "text": "Your 2 open tasks", "weight": "Bolder", "size": "Medium", "wrap": true},
                {"type": "ColumnSet", "separator": true, "columns": [
                    {"type": "Column", "width": "stretch", "verticalContentAlignment": "Center",
                     "items": [{"type": "TextBlock", "text": "**#1** First \\*one\\*", "wrap": true}]},
                    {"type": "Column", "width": "auto", "items": [{"type": "ActionSet", "actions": [
                        {"type": "Action.Submit", "title": "Done", "data": {"action": "done", "task": "1", "owner": p.id}},
                        {"type": "Action.Submit", "title": "Snooze 1h", "data": {"action": "snooze", "task": "1", "owner": p.id}},
                        {"type": "Action.Submit", "title": "Delete", "data": {"action": "delete", "task": "1", "owner": p.id}}
                    ]}]}
                ]},
                {"type": "ColumnSet", "separator": true, "columns": [
                    {"type": "Column", "width": "stretch", "verticalContentAlignment": "Center",
                     "items": [{"type": "TextBlock", "text": "**#2** Second", "wrap": true}]},
                    {"type": "Column", "width": "auto", "items": [{"type": "ActionSet", "actions": [
                        {"type": "Action.Submit", "title": "Done", "data": {"action": "done", "task": "2", "owner": p.id}},
                        {"type": "Action.Submit", "title": "Snooze 1h", "data": {"action": "snooze", "task": "2", "owner": p.id}},
                        {"type": "Action.Submit", "title": "Delete", "data": {"action": "delete", "task": "2", "owner": p.id}}
                    ]}]}
                ]}
            ]
        }
    });
    assert_eq!(attachments[0], expected);
    // `list all` is text only; an empty list has no card.
    app.ask(&p, &room, "list all").await;
    assert!(
        app.fake
            .sent()
            .last()
            .unwrap()
            .body
            .get("attachments")
            .is_none()
    );
    app.fake.assert_spec_clean();
}

async fn press(
    app: &crate::support::TestApp,
    who: &crate::support::Person,
    room: &str,
    card: &str,
    inputs: Value,
) -> String {
    let before = app.fake.sent_count();
    let action = app.fake.press(who, room, card, inputs);
    assert_eq!(
        app.deliver(&card_action_created(&action, room, &who.id))
            .await,
        200
    );
    let sent = app.fake.wait_for_sent(before + 1, WAIT).await;
    sent[before].markdown().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressing_done_and_delete_round_trips_through_the_fake() {
    let app = spawn_app(Backend::Postgres).await;
    let p = app.fake.add_person("Dora");
    let room = app.fake.new_room_id();
    for t in ["one", "two", "three"] {
        app.ask(&p, &room, &format!("task {t}")).await;
    }
    app.ask(&p, &room, "list").await;
    let card_id = app.fake.sent().last().unwrap().id.clone();

    let r = press(
        &app,
        &p,
        &room,
        &card_id,
        json!({"action": "done", "task": "2", "owner": p.id}),
    )
    .await;
    assert!(r.starts_with("Done: **#2** two."), "{r}");
    assert!(r.contains("- **#1** one\n- **#3** three"), "{r}");
    let last = app.fake.sent().last().unwrap().clone();
    let rows = last.body["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rows, 3, "heading + two rows: the updated list");

    let r = press(
        &app,
        &p,
        &room,
        &card_id,
        json!({"action": "delete", "task": "1", "owner": p.id}),
    )
    .await;
    assert!(r.starts_with("Deleted task **#1** one."), "{r}");

    // The old card still shows #2 and #1: both are gone now.
    let r = press(
        &app,
        &p,
        &room,
        &card_id,
        json!({"action": "delete", "task": "1", "owner": p.id}),
    )
    .await;
    assert!(r.starts_with("Task #1 is already gone"), "{r}");

    // Someone else pressing Dora's card changes nothing.
    let eve = app.fake.add_person("Eve");
    let r = press(
        &app,
        &eve,
        &room,
        &card_id,
        json!({"action": "done", "task": "3", "owner": p.id}),
    )
    .await;
    assert!(r.contains("belongs to someone else"), "{r}");
    // A tampered card is refused in plain words.
    let r = press(
        &app,
        &p,
        &room,
        &card_id,
        json!({"action": "explode", "task": "3", "owner": p.id}),
    )
    .await;
    assert!(r.contains("I could not use that card"), "{r}");

    let db = app.db.open().await;
    let open: Vec<String> = db
        .list_open(PersonId::new(p.id.clone()))
        .await
        .unwrap()
        .iter()
        .map(|t| t.title.as_str().to_owned())
        .collect();
    assert_eq!(open, ["three"]);
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_greets_a_space_it_is_added_to_once() {
    let app = spawn_app(Backend::Sqlite).await;
    let room = app.fake.new_room_id();
    let bot = app.fake.bot.clone();
    let someone = app.fake.add_person("Joiner");
    let hello = membership_created("mem-1", &room, &bot.id);
    assert_eq!(app.deliver(&hello).await, 200);
    assert_eq!(app.deliver(&hello).await, 200);
    assert_eq!(
        app.deliver(&membership_created("mem-2", &room, &someone.id))
            .await,
        200
    );
    let sent = app.fake.wait_for_sent(1, WAIT).await;
    assert!(
        sent[0].markdown().contains("Hi, I'm **Botper**"),
        "{}",
        sent[0].markdown()
    );
    assert!(sent[0].markdown().contains("`task <text>`"));
    assert!(sent[0].markdown().contains("@mention me"), "a group space");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.sent_count(), 1);

    // Added to a 1:1 space: no mention needed there, so none is asked for.
    let direct = app.fake.new_room_id();
    let mut hello = membership_created("mem-3", &direct, &bot.id);
    hello["data"]["roomType"] = serde_json::json!("direct");
    assert_eq!(app.deliver(&hello).await, 200);
    let sent = app.fake.wait_for_sent(2, WAIT).await;
    assert!(
        sent[1].markdown().contains("Just type a command here")
            && !sent[1].markdown().contains("@mention"),
        "{}",
        sent[1].markdown()
    );
}

/// A crafted submission's inputs come back escaped: no working `<@all>`, no link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crafted_card_submission_cannot_post_a_mention_or_a_link() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Mallory");
    let room = app.fake.new_room_id();
    let r = press(
        &app,
        &p,
        &room,
        "m-card",
        serde_json::json!({
            "action": "<@all> [win](https://evil.example) \u{202E}x",
            "task": "1",
            "owner": p.id,
        }),
    )
    .await;
    assert!(r.starts_with("I could not use that card"), "{r}");
    assert!(!r.contains("<@"), "{r}");
    assert!(!r.contains("[win]("), "the link is escaped: {r}");
    assert!(!r.contains('\u{202E}'), "{r}");
}
