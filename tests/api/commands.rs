//! End to end: signed deliveries in, replies out through the fake Webex, tasks in the store.

use std::time::Duration;

use botper::domain::PersonId;
use botper::ports::{Inbox, TaskRepository};

use crate::support::{AppOptions, Backend, eventually, message_created, spawn_app, spawn_app_with};

async fn a_person_adds_lists_completes_and_deletes_tasks(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();

    let r = app.ask(&alice, &room, "task Buy milk").await;
    assert_eq!(r, "Added task **#1** Buy milk.");
    let r = app.ask(&alice, &room, "  TASK   Call  *Bob*  ").await;
    assert_eq!(r, "Added task **#2** Call  \\*Bob\\*.");
    let r = app.ask(&alice, &room, "task Write report").await;
    assert!(r.contains("**#3**"));
    let r = app.ask(&alice, &room, "list").await;
    assert_eq!(
        r,
        "**Your 3 open tasks**\n\n- **#1** Buy milk\n- **#2** Call  \\*Bob\\*\n- **#3** Write report"
    );
    let r = app.ask(&alice, &room, "done 2").await;
    assert_eq!(r, "Done: **#2** Call  \\*Bob\\*. ✅");
    let r = app.ask(&alice, &room, "Delete #1").await;
    assert_eq!(r, "Deleted task **#1** Buy milk.");
    let r = app.ask(&alice, &room, "list").await;
    assert_eq!(r, "**Your open task**\n\n- **#3** Write report");
    let r = app.ask(&alice, &room, "task New one").await;
    assert!(r.contains("**#4**"), "numbers are not reused: {r}");

    // Every reply went to the same space, with the bot token.
    for s in app.fake.sent() {
        assert_eq!(s.room_id(), Some(room.as_str()));
        assert_eq!(s.token, crate::support::fake_webex::BOT_TOKEN);
    }
    // The store agrees with what the bot said.
    let db = app.db.open().await;
    let open = db.list_open(PersonId::new(alice.id.clone())).await.unwrap();
    let shown: Vec<String> = open
        .iter()
        .map(|t| format!("{} {}", t.number, t.title.as_str()))
        .collect();
    assert_eq!(shown, ["3 Write report", "4 New one"]);
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_adds_lists_completes_and_deletes_tasks_on_sqlite() {
    a_person_adds_lists_completes_and_deletes_tasks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_adds_lists_completes_and_deletes_tasks_on_postgres() {
    a_person_adds_lists_completes_and_deletes_tasks(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_commands_get_clear_replies_and_change_nothing() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Pat");
    let room = app.fake.new_room_id();
    app.ask(&p, &room, "task keep me").await;

    let cases = [
        (
            "delete abc",
            "I can't run `delete`: “abc” is not a task number.",
        ),
        ("done", "I can't run `done`: `done` needs a task number."),
        ("done 0", "task numbers start at 1"),
        ("done 99", "You have no task #99."),
        ("delete 5", "You have no task #5."),
        ("task", "a task needs a title"),
        ("task    ", "a task needs a title"),
        ("frobnicate", "I don't know the command `frobnicate`."),
        ("help", "`task <text>`"),
    ];
    for (text, expected) in cases {
        let r = app.ask(&p, &room, text).await;
        assert!(r.contains(expected), "{text:?} → {r:?}");
    }
    let long = format!("task {}", "x".repeat(501));
    let r = app.ask(&p, &room, &long).await;
    assert!(r.contains("at most 500 characters"), "{r}");

    let db = app.db.open().await;
    let open = db.list_open(PersonId::new(p.id.clone())).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].title.as_str(), "keep me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_number_reaches_only_your_own_tasks() {
    let app = spawn_app(Backend::Sqlite).await;
    let (alice, bob) = (app.fake.add_person("Alice"), app.fake.add_person("Bob"));
    let room = app.fake.new_room_id();
    app.ask(&alice, &room, "task Alice's task").await;
    let r = app.ask(&bob, &room, "done 1").await;
    assert!(r.contains("You have no task #1"), "{r}");
    let r = app.ask(&bob, &room, "delete 1").await;
    assert!(r.contains("You have no task #1"), "{r}");
    let r = app.ask(&alice, &room, "list").await;
    assert!(r.contains("**#1** Alice's task"), "{r}");
    let r = app.ask(&bob, &room, "list").await;
    assert!(r.contains("no open tasks"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_group_space_the_mention_is_stripped_by_person_id() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Gina");
    let room = app.fake.new_room_id();
    // The bot is shown as "Task Helper" here: a renamed bot is still recognised by its id.
    let html = app
        .fake
        .mention_html("Task Helper", " task Plan the offsite");
    let id = app
        .fake
        .user_says(&p, &room, "Task Helper task Plan the offsite", Some(&html));
    assert_eq!(app.deliver(&message_created(&id, &room, &p.id)).await, 200);
    let sent = app.fake.wait_for_sent(1, Duration::from_secs(10)).await;
    assert_eq!(sent[0].markdown(), "Added task **#1** Plan the offsite.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_injection_and_markdown_in_titles_are_escaped() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Eve");
    let room = app.fake.new_room_id();
    let r = app
        .ask(
            &p,
            &room,
            "task <@all> ping [x](http://evil) `code` _it_ 日本",
        )
        .await;
    assert_eq!(
        r,
        "Added task **#1** &lt;@all&gt; ping \\[x\\](http://evil) \\`code\\` \\_it\\_ 日本."
    );
    // The title is stored as typed.
    let db = app.db.open().await;
    let open = db.list_open(PersonId::new(p.id.clone())).await.unwrap();
    assert_eq!(
        open[0].title.as_str(),
        "<@all> ping [x](http://evil) `code` _it_ 日本"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_own_messages_are_ignored() {
    let app = spawn_app(Backend::Sqlite).await;
    let room = app.fake.new_room_id();
    let bot = app.fake.bot.clone();
    // Let the service learn who it is first.
    let running = app.running.as_ref().unwrap();
    running.app.bot_identity().await.unwrap();
    let id = app
        .fake
        .user_says(&bot, &room, "Added task **#1** x.", None);
    assert_eq!(
        app.deliver(&message_created(&id, &room, &bot.id)).await,
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.sent_count(), 0);
    let db = app.db.open().await;
    assert_eq!(
        db.stats().await.unwrap(),
        Default::default(),
        "nothing stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_webhook_files_one_task_and_sends_one_reply() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Dup");
    let room = app.fake.new_room_id();
    let id = app.fake.user_says(&p, &room, "task Only once", None);
    let envelope = message_created(&id, &room, &p.id);
    for _ in 0..3 {
        assert_eq!(app.deliver(&envelope).await, 200);
    }
    app.fake.wait_for_sent(1, Duration::from_secs(10)).await;
    // Redeliver after processing too.
    assert_eq!(app.deliver(&envelope).await, 200);
    let db = app.db.open().await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            let s = db.stats().await.unwrap();
            s.pending == 0 && s.processing == 0
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.fake.sent_count(), 1);
    assert_eq!(
        db.list_open(PersonId::new(p.id.clone()))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(db.stats().await.unwrap().done, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_persons_commands_are_answered_in_the_order_typed() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Quick");
    let room = app.fake.new_room_id();
    for i in 1..=5 {
        app.say(&p, &room, &format!("task t{i}")).await;
    }
    app.say(&p, &room, "list").await;
    let sent = app.fake.wait_for_sent(6, Duration::from_secs(10)).await;
    for (i, s) in sent.iter().take(5).enumerate() {
        assert!(
            s.markdown().contains(&format!("**#{}** t{}", i + 1, i + 1)),
            "{}",
            s.markdown()
        );
    }
    assert!(sent[5].markdown().starts_with("**Your 5 open tasks**"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_message_is_settled_without_a_reply() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Gone");
    let room = app.fake.new_room_id();
    assert_eq!(
        app.deliver(&message_created(
            "Y2lzY29zcGFyazovL3VzL01FU1NBR0Uvbm9uZQ",
            &room,
            &p.id
        ))
        .await,
        200
    );
    let db = app.db.open().await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            db.stats().await.unwrap().done == 1
        })
        .await
    );
    assert_eq!(app.fake.sent_count(), 0);
}

/// A reply Webex stored but answered with a 502 (or a dropped connection) is found in the
/// 1:1 space and not posted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_webex_stored_but_whose_answer_was_lost_is_not_sent_twice() {
    use crate::support::fake_webex::AfterApply;
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Dana");
    let room = app.fake.new_room_id();
    app.fake.fail_after_applying(
        "POST /messages",
        vec![AfterApply::BadGateway, AfterApply::DropConnection],
    );
    app.say(&p, &room, "task once").await;
    app.say(&p, &room, "task twice").await;
    let db = app.db.open().await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            let s = db.stats().await.unwrap();
            s.done == 2 && s.pending == 0 && s.processing == 0
        })
        .await
    );
    let sent: Vec<String> = app
        .fake
        .sent()
        .iter()
        .map(|s| s.markdown().to_owned())
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(
        sent[0].contains("once") && sent[1].contains("twice"),
        "{sent:#?}"
    );
    let posts = app.fake.request_count("POST", "/messages");
    assert_eq!(posts, 2);
}

/// In a group space: a message that does not mention the bot is ignored whatever the
/// delivery says, and `status` does not post the person's email.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_group_space_unmentioned_messages_are_ignored_and_status_hides_the_email() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Gina");
    let room = app.fake.new_room_id();
    let id = app
        .fake
        .user_says(&p, &room, "task sneaky", Some("<p>task sneaky</p>"));
    assert_eq!(app.deliver(&message_created(&id, &room, &p.id)).await, 200);
    let db = app.db.open().await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            db.stats().await.unwrap().done == 1
        })
        .await
    );
    assert_eq!(app.fake.sent_count(), 0, "ignored");
    assert!(
        db.list_open(PersonId::new(p.id.clone()))
            .await
            .unwrap()
            .is_empty()
    );

    app.connect(&p).await;
    let html = app.fake.mention_html("Botper", " status");
    let id = app.fake.user_says(&p, &room, "Botper status", Some(&html));
    assert_eq!(app.deliver(&message_created(&id, &room, &p.id)).await, 200);
    let sent = app.fake.wait_for_sent(1, Duration::from_secs(10)).await;
    let r = sent[0].markdown();
    assert!(r.contains("You're connected as **Gina**"), "{r}");
    assert!(!r.contains(&p.email), "no email in a group space: {r}");
}

async fn several_lines_several_numbers_and_edit(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.fake.add_person("Alice");
    let bob = app.fake.add_person("Bob");
    let room = app.fake.new_room_id();

    // Three pasted lines are three tasks, answered in one message.
    let r = app
        .ask(&alice, &room, "task Buy milk\ntask Call mum\ntask Pay rent")
        .await;
    assert_eq!(
        r,
        "**task Buy milk** → Added task **#1** Buy milk.\n\n\
         **task Call mum** → Added task **#2** Call mum.\n\n\
         **task Pay rent** → Added task **#3** Pay rent."
    );
    assert_eq!(app.fake.sent_count(), 1, "one combined reply");
    // A pasted bullet list under a bare `task`.
    let r = app
        .ask(
            &alice,
            &room,
            "task\n- Book flights\n• Pack\n1. Water plants",
        )
        .await;
    assert!(
        r.contains("**#4** Book flights") && r.contains("**#6** Water plants"),
        "{r}"
    );
    let r = app.ask(&bob, &room, "task Bob's own").await;
    assert!(r.contains("**#1**"), "{r}");

    // Several numbers: each gets its own outcome; Bob's #1 is untouched.
    let r = app.ask(&alice, &room, "done 1, 2 9").await;
    assert_eq!(
        r,
        "Done: **#1** Buy milk. ✅\nDone: **#2** Call mum. ✅\n\
         You have no task #9. Type `list` to see your tasks and their numbers."
    );
    let r = app.ask(&alice, &room, "delete 4-5").await;
    assert!(
        r.contains("Deleted task **#4**") && r.contains("Deleted task **#5**"),
        "{r}"
    );
    let r = app.ask(&alice, &room, "done 1-100000").await;
    assert!(r.contains("at most 100 task numbers at once"), "{r}");
    let r = app.ask(&alice, &room, "done abc").await;
    assert!(r.contains("is not a task number"), "{r}");

    // Edit keeps the number; a missing task or title changes nothing.
    let r = app.ask(&alice, &room, "edit 3 Pay *rent* today").await;
    assert_eq!(
        r,
        "Renamed task **#3** Pay \\*rent\\* today (was “Pay rent”)."
    );
    let r = app.ask(&alice, &room, "edit 99 x").await;
    assert!(r.contains("You have no task #99"), "{r}");
    let r = app.ask(&alice, &room, "edit 3").await;
    assert!(r.contains("give the new title after the number"), "{r}");

    let db = app.db.open().await;
    let titles = |p: &str| {
        let db = &db;
        let p = PersonId::new(p);
        async move {
            db.list_open(p)
                .await
                .unwrap()
                .iter()
                .map(|t| format!("{} {}", t.number, t.title.as_str()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        titles(&alice.id).await,
        ["3 Pay *rent* today", "6 Water plants"]
    );
    assert_eq!(titles(&bob.id).await, ["1 Bob's own"]);

    // A redelivered multi-line message changes nothing and replays its replies.
    let before = app.fake.sent_count();
    let id = app.fake.user_says(&alice, &room, "task Once\ndone 6", None);
    let envelope = message_created(&id, &room, &alice.id);
    assert_eq!(app.deliver(&envelope).await, 200);
    app.fake
        .wait_for_sent(before + 1, Duration::from_secs(10))
        .await;
    assert_eq!(app.deliver(&envelope).await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(titles(&alice.id).await, ["3 Pay *rent* today", "7 Once"]);

    // Undo walks back: the `done 6`, then the `task Once`, then the edit.
    let r = app.ask(&alice, &room, "undo").await;
    assert_eq!(r, "Undone: task **#6** Water plants is open again.");
    let r = app.ask(&alice, &room, "undo\nundo").await;
    assert!(r.contains("task **#7** Once is removed again"), "{r}");
    assert!(
        r.contains("task **#3** Pay rent has its old title again"),
        "{r}"
    );
    assert_eq!(titles(&alice.id).await, ["3 Pay rent", "6 Water plants"]);
    let r = app.ask(&alice, &room, "undo\nundo").await;
    assert!(
        r.contains("task **#5** Pack is back") && r.contains("task **#4** Book flights is back"),
        "{r}"
    );
    assert!(app.ask(&bob, &room, "list").await.contains("Bob's own"));
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_lines_several_numbers_and_edit_on_sqlite() {
    several_lines_several_numbers_and_edit(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_lines_several_numbers_and_edit_on_postgres() {
    several_lines_several_numbers_and_edit(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_dates_are_read_echoed_in_the_persons_zone_and_changed() {
    // On a clock set to the next Wednesday at 10:00 UTC: `tomorrow`, `in 2 days`, `fri` and
    // `next monday` below never straddle midnight in Paris or a weekend, whenever this runs.
    let clock = crate::support::ScaledClock::new(1.0);
    {
        use botper::ports::Clock;
        let now = clock.now();
        let mut at = now
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_datetime(jiff::civil::Time::constant(10, 0, 0, 0))
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap();
        while at.weekday() != jiff::civil::Weekday::Wednesday || at.timestamp() <= now {
            at = at.tomorrow().unwrap();
        }
        clock.advance(at.timestamp().duration_since(now).try_into().unwrap());
    }
    let app = spawn_app_with(AppOptions {
        backend: Backend::Sqlite,
        tuning: botper::startup::Tuning {
            clock: Some(clock),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();

    let r = app.ask(&alice, &room, "task Pay rent due 31 feb").await;
    assert!(
        r.contains("I can't run `task`") && r.contains("not a date"),
        "{r}"
    );
    let r = app.ask(&alice, &room, "task Read 1984").await;
    assert_eq!(r, "Added task **#1** Read 1984.", "a title, not a date");

    // No zone known yet: UTC, and a one-time hint.
    let r = app.ask(&alice, &room, "task Call Bob tomorrow 9am").await;
    assert!(r.starts_with("Added task **#2** Call Bob — due "), "{r}");
    assert!(r.contains("09:00 UTC"), "{r}");
    assert!(r.contains("set it with `tz Europe/Paris`"), "{r}");
    let r = app.ask(&alice, &room, "task Water plants in 2 days").await;
    assert!(r.contains("**#3** Water plants — due "), "{r}");
    assert!(
        !r.contains("tz Europe/Paris"),
        "the hint is given once: {r}"
    );

    let r = app.ask(&alice, &room, "tz Mars/Olympus").await;
    assert!(r.contains("I don't know the time zone"), "{r}");
    let r = app.ask(&alice, &room, "tz Europe/Paris").await;
    assert!(r.contains("now **Europe/Paris**"), "{r}");
    let r = app.ask(&alice, &room, "tz").await;
    assert!(r.contains("**Europe/Paris** (you set it)"), "{r}");

    let r = app
        .ask(&alice, &room, "task Send the deck by fri 15:00")
        .await;
    assert!(r.contains("**#4** Send the deck — due Fri "), "{r}");
    assert!(r.contains("15:00 Europe/Paris"), "{r}");
    // Shown in the zone now set: 09:00 UTC is 10:00 in Paris in winter.
    let r = app.ask(&alice, &room, "list").await;
    assert!(r.contains("**#2** Call Bob — due "), "{r}");
    assert!(r.contains("10:00 Europe/Paris"), "{r}");
    assert!(r.contains("- **#1** Read 1984\n"), "{r}");

    let r = app.ask(&alice, &room, "due 2 25:00").await;
    assert!(
        r.contains("I can't run `due`") && r.contains("not a time of day"),
        "{r}"
    );
    let r = app.ask(&alice, &room, "due 2 none").await;
    assert_eq!(r, "Task **#2** Call Bob has no due date any more.");
    let r = app.ask(&alice, &room, "undo").await;
    assert!(
        r.contains("**#2** Call Bob — due ") && r.contains("old due date again"),
        "{r}"
    );
    let r = app.ask(&alice, &room, "due 1 next monday").await;
    assert!(r.contains("Task **#1** Read 1984 — due Mon "), "{r}");
    let r = app.ask(&alice, &room, "due 9 fri").await;
    assert!(r.contains("You have no task #9"), "{r}");
    let r = app.ask(&alice, &room, "due 1").await;
    assert!(r.contains("give a date after the number"), "{r}");

    // Filters: #2 is due tomorrow, #3 in 2 days, #4 on Friday.
    let r = app.ask(&alice, &room, "list overdue").await;
    assert_eq!(r, "Nothing is overdue. 🎉");
    let r = app.ask(&alice, &room, "list today").await;
    assert!(r.starts_with("Nothing is due today"), "{r}");
    let r = app.ask(&alice, &room, "list week").await;
    assert!(r.starts_with("**Due within a week ("), "{r}");
    assert!(
        r.contains("**#2** Call Bob") && r.contains("**#3** Water plants"),
        "{r}"
    );
    // Soonest first (#1, due next Monday, may be tomorrow too: not compared).
    let at = |n: &str| r.find(n).unwrap_or(usize::MAX);
    assert!(
        at("**#2**") < at("**#3**") && at("**#3**") < at("**#4**"),
        "tomorrow is the soonest, first: {r}"
    );
    let r = app.ask(&alice, &room, "list done").await;
    assert_eq!(r, "You have no done tasks yet.");
    // Two messages, so the two are done at distinct moments.
    app.ask(&alice, &room, "done 3").await;
    app.ask(&alice, &room, "done 2").await;
    let r = app.ask(&alice, &room, "list done").await;
    assert!(r.starts_with("**Recently done (2)**"), "{r}");
    assert!(
        r.find("#2").unwrap() < r.find("#3").unwrap(),
        "newest first: {r}"
    );
    app.fake.assert_spec_clean();
}
