//! Reminders, snoozes and the agenda end to end: the real service on a clock the test moves
//! forward, the fake Webex receiving the 1:1 reminder messages and the card presses.

use std::time::Duration;

use botper::app::scheduler::SchedulerOptions;
use botper::ports::Clock;
use botper::startup::Tuning;
use serde_json::{Value, json};

use crate::support::{
    AppOptions, Backend, Person, ScaledClock, TestApp, card_action_created, eventually,
    spawn_app_with,
};

const WAIT: Duration = Duration::from_secs(10);

async fn start(backend: Backend) -> (TestApp, std::sync::Arc<ScaledClock>) {
    let clock = ScaledClock::new(1.0);
    let app = spawn_app_with(AppOptions {
        backend,
        tuning: Tuning {
            clock: Some(clock.clone()),
            scheduler: Some(SchedulerOptions {
                tick: Duration::from_millis(50),
                batch: 200,
            }),
            ..Tuning::default()
        },
        ..AppOptions::default()
    })
    .await;
    (app, clock)
}

/// The 1:1 messages the bot sent to `p` (reminders and agendas).
fn direct_to(app: &TestApp, p: &Person) -> Vec<crate::support::fake_webex::Sent> {
    app.fake
        .sent()
        .into_iter()
        .filter(|s| s.to_person_id() == Some(p.id.as_str()))
        .collect()
}

async fn wait_direct(app: &TestApp, p: &Person, n: usize) -> Vec<crate::support::fake_webex::Sent> {
    assert!(
        eventually(WAIT, || async { direct_to(app, p).len() >= n }).await,
        "expected {n} direct messages, got {:?}",
        direct_to(app, p)
            .iter()
            .map(|s| s.markdown().to_owned())
            .collect::<Vec<_>>()
    );
    direct_to(app, p)
}

fn buttons(sent: &crate::support::fake_webex::Sent) -> Vec<(String, String)> {
    let body = sent.body["attachments"][0]["content"]["body"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    body.iter()
        .filter_map(|b| b["columns"][1]["items"][0]["actions"].as_array().cloned())
        .flatten()
        .map(|a| {
            (
                a["title"].as_str().unwrap_or_default().to_owned(),
                a["data"]["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn press(app: &TestApp, who: &Person, room: &str, card: &str, inputs: Value) -> String {
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

/// Moves the clock on once the inbox is idle: an item still being settled when the clock
/// jumps would see its lease expire and run a second time (which only happens in a test).
async fn advance(app: &TestApp, clock: &ScaledClock, d: Duration) {
    assert!(
        eventually(WAIT, || async {
            let s = app.app().inbox().stats().await.unwrap();
            s.pending == 0 && s.processing == 0
        })
        .await,
        "the inbox did not settle"
    );
    clock.advance(d);
}

/// Lets the scheduler and the workers run a few rounds.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

async fn reminders_come_once_in_one_to_one_and_snooze_moves_them(backend: Backend) {
    let (app, clock) = start(backend).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.ask(&alice, &room, "tz Europe/Paris").await;
    app.ask(&alice, &room, "task Call Bob").await;

    // Nonsense changes nothing.
    let r = app.ask(&alice, &room, "remind 1 in -5m").await;
    assert!(r.contains("I can't run `remind`"), "{r}");
    let r = app.ask(&alice, &room, "remind 1 2226-12-01").await;
    assert!(r.contains("more than 10 years"), "{r}");
    let r = app.ask(&alice, &room, "remind 9 in 5m").await;
    assert!(r.contains("You have no task #9"), "{r}");
    let r = app.ask(&alice, &room, "remind 1").await;
    assert!(r.contains("needs a task number and a time"), "{r}");
    assert_eq!(app.db.count_rows("scheduled_jobs"), 0);

    let r = app.ask(&alice, &room, "remind 1 in 1m").await;
    assert!(
        r.starts_with("⏰ I'll remind you of **#1** Call Bob on ") && r.contains("Europe/Paris"),
        "{r}"
    );
    let r = app.ask(&alice, &room, "list").await;
    assert!(r.contains("**#1** Call Bob — ⏰ "), "{r}");
    settle().await;
    assert!(direct_to(&app, &alice).is_empty(), "not due yet");

    advance(&app, &clock, Duration::from_secs(120)).await;
    let sent = wait_direct(&app, &alice, 1).await;
    let reminder = &sent[0];
    assert!(
        reminder
            .markdown()
            .starts_with("⏰ **Reminder:** **#1** Call Bob"),
        "{}",
        reminder.markdown()
    );
    assert!(!reminder.markdown().contains("late"), "on time");
    assert_eq!(
        buttons(reminder),
        vec![
            ("Done".to_owned(), "done".to_owned()),
            ("Snooze 1h".to_owned(), "snooze".to_owned()),
            ("Tomorrow".to_owned(), "tomorrow".to_owned()),
        ]
    );
    advance(&app, &clock, Duration::from_secs(600)).await;
    settle().await;
    assert_eq!(direct_to(&app, &alice).len(), 1, "fired exactly once");

    // Snooze 1h from the reminder's card: it comes again an hour later.
    let dm = app.fake.new_room_id();
    let r = press(
        &app,
        &alice,
        &dm,
        &reminder.id,
        json!({"action": "snooze", "task": "1", "owner": alice.id}),
    )
    .await;
    assert!(
        r.starts_with("⏰ I'll remind you of **#1** Call Bob on "),
        "{r}"
    );
    advance(&app, &clock, Duration::from_secs(30 * 60)).await;
    settle().await;
    assert_eq!(direct_to(&app, &alice).len(), 1, "not after half an hour");
    advance(&app, &clock, Duration::from_secs(31 * 60)).await;
    let sent = wait_direct(&app, &alice, 2).await;
    assert!(sent[1].markdown().contains("**#1** Call Bob"));
    // `snooze 1 2h` by typing, then Done: a done task never reminds.
    let r = app.ask(&alice, &room, "snooze 1 2h").await;
    assert!(
        r.starts_with("⏰ I'll remind you of **#1** Call Bob on "),
        "{r}"
    );
    let r = press(
        &app,
        &alice,
        &dm,
        &sent[1].id,
        json!({"action": "done", "task": "1", "owner": alice.id}),
    )
    .await;
    assert!(r.starts_with("Done: **#1** Call Bob."), "{r}");
    assert_eq!(app.db.count_rows("scheduled_jobs"), 0);

    // A new task with a reminder; deleting it cancels the reminder.
    let r = app.ask(&alice, &room, "remind me in 20m to call mum").await;
    assert!(
        r.starts_with("Added task **#2** call mum. ⏰ I'll remind you on "),
        "{r}"
    );
    app.ask(&alice, &room, "delete 2").await;
    // A task with a due time reminds at it by default; `remind default` moves it.
    let r = app.ask(&alice, &room, "task Send deck in 30m").await;
    assert!(r.contains("**#3** Send deck — due "), "{r}");
    let r = app.ask(&alice, &room, "remind default 10m").await;
    assert!(r.contains("10 min before it"), "{r}");
    assert!(r.contains("(1 upcoming reminder updated.)"), "{r}");
    let r = app.ask(&alice, &room, "remind default banana").await;
    assert!(r.contains("I can't run `remind default`"), "{r}");
    advance(&app, &clock, Duration::from_secs(21 * 60)).await;
    let sent = wait_direct(&app, &alice, 3).await;
    assert!(
        sent[2].markdown().contains("**#3** Send deck — due "),
        "{}",
        sent[2].markdown()
    );
    advance(&app, &clock, Duration::from_secs(15 * 60)).await;
    settle().await;
    let sent = direct_to(&app, &alice);
    assert_eq!(sent.len(), 3, "the deleted task did not remind: {sent:?}");

    // Undo of a reminder change, and disconnecting removes what is scheduled.
    app.ask(&alice, &room, "task Water plants").await;
    app.ask(&alice, &room, "remind 4 tomorrow").await;
    let r = app.ask(&alice, &room, "undo").await;
    assert!(r.contains("no reminder of its own again"), "{r}");
    app.ask(&alice, &room, "remind 4 tomorrow").await;
    app.ask(&alice, &room, "agenda at 8:30").await;
    assert_eq!(app.db.count_rows("scheduled_jobs"), 2);
    let r = app.ask(&alice, &room, "disconnect").await;
    assert!(r.contains("cancelled the 2 jobs scheduled for you"), "{r}");
    assert_eq!(app.db.count_rows("scheduled_jobs"), 0);
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_come_once_in_one_to_one_and_snooze_moves_them_sqlite() {
    reminders_come_once_in_one_to_one_and_snooze_moves_them(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_come_once_in_one_to_one_and_snooze_moves_them_postgres() {
    reminders_come_once_in_one_to_one_and_snooze_moves_them(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agenda_on_demand_and_every_working_day() {
    let (app, clock) = start(Backend::Sqlite).await;
    let bo = app.fake.add_person("Bo");
    let room = app.fake.new_room_id();
    app.ask(&bo, &room, "tz America/Chicago").await;
    // Due times would remind; this test is about the agenda alone.
    let r = app.ask(&bo, &room, "remind default off").await;
    assert!(r.contains("do not remind you unless you ask"), "{r}");
    let r = app.ask(&bo, &room, "agenda").await;
    assert!(r.starts_with("**Your agenda for "), "{r}");
    assert!(r.contains("Nothing today"), "{r}");
    app.ask(&bo, &room, "task Late thing").await;
    // Made overdue by moving the clock past its due time.
    app.ask(&bo, &room, "due 1 in 5m").await;
    advance(&app, &clock, Duration::from_secs(10 * 60)).await;
    app.ask(&bo, &room, "task Later today in 1m").await;
    app.ask(&bo, &room, "task Someday").await;
    let r = app.ask(&bo, &room, "agenda").await;
    assert!(
        r.contains("**Due today**\n- **#2** Later today — due "),
        "{r}"
    );
    assert!(
        r.contains("**Overdue**\n- **#1** Late thing — ⚠️ **overdue**"),
        "{r}"
    );
    assert!(!r.contains("Someday"), "{r}");

    let r = app.ask(&bo, &room, "agenda at 25:00").await;
    assert!(r.contains("I can't run `agenda`"), "{r}");
    let r = app.ask(&bo, &room, "agenda sometimes").await;
    assert!(r.contains("`agenda` takes"), "{r}");
    let r = app.ask(&bo, &room, "agenda at 7:15am every day").await;
    assert!(
        r.starts_with("📅 I'll send your agenda every day at 07:15 America/Chicago."),
        "{r}"
    );
    let next = app
        .app()
        .scheduler()
        .next_due()
        .await
        .unwrap()
        .expect("scheduled");
    let wait = next.duration_since(clock.now()).as_secs() + 5;
    advance(&app, &clock, Duration::from_secs(wait as u64)).await;
    let sent = wait_direct(&app, &bo, 1).await;
    let md = sent[0].markdown();
    assert!(md.starts_with("**Your agenda for "), "{md}");
    assert!(md.contains("**Overdue**"), "{md}");
    assert!(
        md.contains("Sent every day at 07:15 America/Chicago"),
        "{md}"
    );
    // The next one is a day later, and `agenda off` stops it.
    let again = app.app().scheduler().next_due().await.unwrap().unwrap();
    assert_eq!(again.duration_since(next).as_hours(), 24);
    let r = app.ask(&bo, &room, "agenda off").await;
    assert!(r.starts_with("📅 Your daily agenda is off."), "{r}");
    assert_eq!(app.db.count_rows("scheduled_jobs"), 0);
    let r = app.ask(&bo, &room, "agenda off").await;
    assert!(r.starts_with("You had no daily agenda."), "{r}");
}

/// Jobs that came due while Botper was down fire when it starts, once, saying they are
/// late, with three processes of the real binary starting together on one Postgres.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_deliver_each_missed_reminder_once_and_late() {
    use botper::domain::{PersonId, TaskOp, TaskTitle};
    use botper::ports::TaskRepository;
    let fake = crate::support::FakeWebex::start().await;
    let tdb = crate::support::TestDb::new(Backend::Postgres);
    let now = jiff::Timestamp::now();
    let people: Vec<Person> = (0..5).map(|i| fake.add_person(&format!("P{i}"))).collect();
    {
        let db = tdb.open().await;
        for p in &people {
            for i in 0..4 {
                let op = TaskOp::Create {
                    title: TaskTitle::parse(&format!("Missed {i}")).unwrap(),
                    meeting: None,
                    due: None,
                    remind_at: Some(now - jiff::SignedDuration::from_mins(10 + i)),
                };
                db.apply(
                    PersonId::new(p.id.clone()),
                    op,
                    None,
                    now - jiff::SignedDuration::from_hours(1),
                )
                .await
                .unwrap();
            }
        }
    }
    assert_eq!(tdb.count_rows("scheduled_jobs"), 20);
    let mut procs: Vec<_> = (0..3)
        .map(|_| crate::faults::spawn_binary(&fake, &tdb, 2).0)
        .collect();
    let direct = || {
        fake.sent()
            .into_iter()
            .filter(|s| s.to_person_id().is_some())
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(30), || async { direct().len() >= 20 }).await,
        "only {} reminders arrived",
        direct().len()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = direct();
    assert_eq!(sent.len(), 20, "each reminder once");
    let mut seen = std::collections::HashSet::new();
    for s in &sent {
        assert!(s.markdown().contains("This comes late"), "{}", s.markdown());
        let task = s.markdown().split("**#").nth(1).unwrap_or("").to_owned();
        assert!(
            seen.insert((s.to_person_id().unwrap().to_owned(), task)),
            "a duplicate: {}",
            s.markdown()
        );
    }
    assert_eq!(tdb.count_rows("scheduled_jobs"), 0);
    for p in &mut procs {
        p.terminate();
    }
}

/// A person who is not connected and set no zone gets the zone of their Webex profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zone_of_an_unconnected_persons_webex_profile_is_used() {
    let (app, _clock) = start(Backend::Sqlite).await;
    let kim = app.fake.add_person("Kim");
    app.fake.set_profile_timezone(&kim, "Asia/Tokyo");
    let room = app.fake.new_room_id();
    let r = app.ask(&kim, &room, "task Call Bob tomorrow 9am").await;
    assert!(r.contains("09:00 Asia/Tokyo"), "{r}");
    assert!(!r.contains("tz Europe/Paris"), "no hint: {r}");
    let r = app.ask(&kim, &room, "tz").await;
    assert!(
        r.contains("**Asia/Tokyo** (from your Webex profile)"),
        "{r}"
    );
    let lookups = app.fake.request_count("GET", "/people/{id}");
    assert_eq!(lookups, 1, "looked up once, then kept");
    app.fake.assert_spec_clean();
}
