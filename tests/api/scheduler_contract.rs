//! The scheduler port's contract, on Postgres and SQLite alike: reminder jobs follow their
//! task, a due job fires exactly once into the inbox (also with several instances racing on
//! one Postgres), repeating jobs move on, and a person's jobs can be forgotten.

use std::collections::HashMap;
use std::time::Duration;

use botper::adapters::db::Db;
use botper::domain::agenda::{AgendaDays, AgendaSchedule};
use botper::domain::task::{Due, MeetingLink, ReminderLead};
use botper::domain::{PersonId, TaskNumber, TaskOp, TaskOutcome, TaskTitle};
use botper::ports::{Inbox, JobKind, Scheduler, TaskRepository, WebexEvent};
use jiff::{SignedDuration, Timestamp};

use crate::support::{Backend, TestDb};

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Backend::Postgres).await } )*
        }
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Backend::Sqlite).await } )*
        }
    };
}

contract!(
    a_reminder_fires_once_into_the_inbox_and_is_gone,
    reminder_jobs_follow_due_dates_done_delete_and_undo,
    the_default_lead_moves_reminders_and_meetings_remind_ten_minutes_before,
    an_agenda_repeats_and_a_missed_one_fires_once,
    jobs_survive_a_restart_and_fire_late,
    forgetting_a_person_removes_only_their_jobs,
    many_jobs_for_one_person_fire_together_with_others,
);

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn t0() -> Timestamp {
    at("2026-12-02T08:00:00Z")
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

fn n(v: u32) -> TaskNumber {
    TaskNumber::new(v).unwrap()
}

fn create(title: &str, due: Option<Timestamp>, remind_at: Option<Timestamp>) -> TaskOp {
    TaskOp::Create {
        title: TaskTitle::parse(title).unwrap(),
        meeting: None,
        due: due.map(|at| Due { at, has_time: true }),
        remind_at,
    }
}

/// Claims every claimable inbox item (completing each) and returns the scheduled ones.
async fn drain(db: &Db, now: Timestamp) -> Vec<(PersonId, JobKind, Timestamp)> {
    let mut out = Vec::new();
    while let Some(item) = db
        .claim("w".into(), Duration::from_secs(60), now)
        .await
        .unwrap()
    {
        if let WebexEvent::Scheduled { owner, job, due_at } = item.event.clone() {
            out.push((owner, job, due_at));
        }
        db.complete(item.id, "w".into(), now).await.unwrap();
    }
    out
}

async fn a_reminder_fires_once_into_the_inbox_and_is_gone(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let when = t0() + mins(30);
    db.apply(p.clone(), create("Call Bob", None, Some(when)), None, t0())
        .await
        .unwrap();
    assert_eq!(db.next_due().await.unwrap(), Some(when));
    let s = Scheduler::stats(&db, t0()).await.unwrap();
    assert_eq!((s.waiting, s.due), (1, 0));
    assert_eq!(db.fire_due(t0() + mins(29), 100).await.unwrap(), 0);
    assert_eq!(db.fire_due(when, 100).await.unwrap(), 1);
    assert_eq!(db.fire_due(when, 100).await.unwrap(), 0, "fired once");
    assert_eq!(db.fire_due(when + mins(5), 100).await.unwrap(), 0);
    let fired = drain(&db, when).await;
    assert_eq!(fired, vec![(p.clone(), JobKind::Reminder(n(1)), when)]);
    assert_eq!(db.next_due().await.unwrap(), None);
    // The task still says what it was set to (shown as past), and never fires again.
    let t = db.task(p.clone(), n(1)).await.unwrap().unwrap();
    assert_eq!(t.remind_at, Some(when));
    assert_eq!(tdb.count_rows("scheduled_jobs"), 0);
}

async fn reminder_jobs_follow_due_dates_done_delete_and_undo(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let due = t0() + mins(120);
    // A due time reminds at it; a due date without a time does not; a past one does not.
    db.apply(p.clone(), create("Deck", Some(due), None), None, t0())
        .await
        .unwrap();
    let date_only = TaskOp::Create {
        title: TaskTitle::parse("Rent").unwrap(),
        meeting: None,
        due: Some(Due {
            at: due,
            has_time: false,
        }),
        remind_at: None,
    };
    db.apply(p.clone(), date_only, None, t0()).await.unwrap();
    db.apply(
        p.clone(),
        create("Old", Some(t0() - mins(5)), None),
        None,
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(tdb.count_rows("scheduled_jobs"), 1);
    assert_eq!(db.next_due().await.unwrap(), Some(due));
    // A reminder of its own wins over the due time; clearing it falls back.
    let mine = t0() + mins(60);
    let o = db
        .apply(p.clone(), TaskOp::Remind(n(1), Some(mine)), None, t0())
        .await
        .unwrap();
    assert!(matches!(o, TaskOutcome::Reminded { before: None, .. }));
    assert_eq!(db.next_due().await.unwrap(), Some(mine));
    db.apply(p.clone(), TaskOp::Undo, None, t0()).await.unwrap();
    assert_eq!(db.next_due().await.unwrap(), Some(due), "undo restores it");
    // Moving the due date moves the job.
    let later = due + mins(60);
    db.apply(
        p.clone(),
        TaskOp::SetDue(
            n(1),
            Some(Due {
                at: later,
                has_time: true,
            }),
        ),
        None,
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(db.next_due().await.unwrap(), Some(later));
    // Done: no job; undo: back; deleted: no job; undo: back.
    db.apply(p.clone(), TaskOp::Complete(n(1)), None, t0())
        .await
        .unwrap();
    assert_eq!(tdb.count_rows("scheduled_jobs"), 0);
    assert!(matches!(
        db.apply(p.clone(), TaskOp::Remind(n(1), Some(mine)), None, t0())
            .await
            .unwrap(),
        TaskOutcome::AlreadyDone(_)
    ));
    assert_eq!(
        tdb.count_rows("scheduled_jobs"),
        0,
        "a done task never reminds"
    );
    db.apply(p.clone(), TaskOp::Undo, None, t0()).await.unwrap();
    assert_eq!(db.next_due().await.unwrap(), Some(later));
    db.apply(p.clone(), TaskOp::Delete(n(1)), None, t0())
        .await
        .unwrap();
    assert_eq!(tdb.count_rows("scheduled_jobs"), 0);
    db.apply(p.clone(), TaskOp::Undo, None, t0()).await.unwrap();
    assert_eq!(db.next_due().await.unwrap(), Some(later));
    // A reminder set under a key replays without scheduling twice.
    let key = botper::ports::IdempotencyKey::new("k1");
    for _ in 0..2 {
        db.apply(
            p.clone(),
            TaskOp::Remind(n(2), Some(mine)),
            Some(key.clone()),
            t0(),
        )
        .await
        .unwrap();
    }
    assert_eq!(tdb.count_rows("scheduled_jobs"), 2);
}

fn meeting(title: &str, id: &str, start: Timestamp) -> TaskOp {
    TaskOp::Create {
        title: TaskTitle::parse(title).unwrap(),
        meeting: Some(MeetingLink {
            meeting_id: id.into(),
            web_link: format!("https://example.webex.com/{id}"),
            start: Some(start),
            end: None,
            title: None,
            cancelled: false,
        }),
        due: None,
        remind_at: None,
    }
}

async fn the_default_lead_moves_reminders_and_meetings_remind_ten_minutes_before(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let (due, start) = (t0() + mins(120), t0() + mins(240));
    db.apply(p.clone(), create("Deck", Some(due), None), None, t0())
        .await
        .unwrap();
    db.apply(p.clone(), meeting("Standup", "m1", start), None, t0())
        .await
        .unwrap();
    assert_eq!(
        db.reminder_lead(p.clone()).await.unwrap(),
        ReminderLead::AtDue
    );
    assert_eq!(db.next_due().await.unwrap(), Some(due));
    assert_eq!(db.fire_due(start - mins(10), 10).await.unwrap(), 2);
    assert_eq!(
        drain(&db, start).await,
        vec![
            (p.clone(), JobKind::Reminder(n(1)), due),
            (p.clone(), JobKind::Reminder(n(2)), start - mins(10)),
        ]
    );
    // Later: a new lead moves what is still ahead, and only that.
    let now = t0() + mins(250);
    db.apply(
        p.clone(),
        create("Deck 2", Some(t0() + mins(300)), None),
        None,
        now,
    )
    .await
    .unwrap();
    db.apply(
        p.clone(),
        meeting("Review", "m2", t0() + mins(400)),
        None,
        now,
    )
    .await
    .unwrap();
    let five = db
        .set_reminder_lead(p.clone(), ReminderLead::Before(mins(5)), now)
        .await
        .unwrap();
    assert_eq!(five, 2, "the fired ones are past and stay unscheduled");
    assert_eq!(db.next_due().await.unwrap(), Some(t0() + mins(295)));
    assert_eq!(db.fire_due(t0() + mins(389), 10).await.unwrap(), 1);
    assert_eq!(
        db.next_due().await.unwrap(),
        Some(t0() + mins(390)),
        "a meeting reminds at least 10 minutes before"
    );
    drain(&db, t0() + mins(389)).await;
    let fifteen = db
        .set_reminder_lead(p.clone(), ReminderLead::Before(mins(15)), now)
        .await
        .unwrap();
    assert_eq!(fifteen, 2);
    assert_eq!(
        db.reminder_lead(p.clone()).await.unwrap(),
        ReminderLead::Before(mins(15))
    );
    assert_eq!(db.next_due().await.unwrap(), Some(t0() + mins(285)));
    assert_eq!(
        db.set_reminder_lead(p.clone(), ReminderLead::Off, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(db.next_due().await.unwrap(), None);
    // Someone else's default is their own.
    assert_eq!(
        db.reminder_lead(PersonId::from("q")).await.unwrap(),
        ReminderLead::AtDue
    );
}

async fn an_agenda_repeats_and_a_missed_one_fires_once(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let schedule = AgendaSchedule {
        at: jiff::civil::Time::new(8, 30, 0, 0).unwrap(),
        days: AgendaDays::Weekdays,
        zone: "Europe/Paris".into(),
    };
    // Wednesday 2 Dec, 09:00 Paris: the next one is Thursday 08:30 Paris.
    let next = db
        .set_agenda(p.clone(), Some(schedule.clone()), t0())
        .await
        .unwrap();
    assert_eq!(next, Some(at("2026-12-03T07:30:00Z")));
    assert_eq!(db.agenda(p.clone()).await.unwrap(), Some(schedule.clone()));
    assert_eq!(
        db.fire_due(at("2026-12-03T07:30:00Z"), 10).await.unwrap(),
        1
    );
    assert_eq!(
        db.next_due().await.unwrap(),
        Some(at("2026-12-04T07:30:00Z"))
    );
    // Down from Friday to Tuesday: one late agenda, then the next working day.
    assert_eq!(
        db.fire_due(at("2026-12-08T10:00:00Z"), 10).await.unwrap(),
        1
    );
    assert_eq!(
        db.fire_due(at("2026-12-08T10:00:00Z"), 10).await.unwrap(),
        0
    );
    assert_eq!(
        db.next_due().await.unwrap(),
        Some(at("2026-12-09T07:30:00Z"))
    );
    let fired = drain(&db, at("2026-12-08T10:00:00Z")).await;
    assert_eq!(
        fired,
        vec![
            (p.clone(), JobKind::Agenda, at("2026-12-03T07:30:00Z")),
            (p.clone(), JobKind::Agenda, at("2026-12-04T07:30:00Z")),
        ]
    );
    assert_eq!(db.set_agenda(p.clone(), None, t0()).await.unwrap(), None);
    assert_eq!(db.agenda(p.clone()).await.unwrap(), None);
    assert_eq!(db.next_due().await.unwrap(), None);
}

async fn jobs_survive_a_restart_and_fire_late(b: Backend) {
    let tdb = TestDb::new(b);
    let when = t0() + mins(1);
    {
        let db = tdb.open().await;
        db.apply(
            PersonId::from("p"),
            create("Call", None, Some(when)),
            None,
            t0(),
        )
        .await
        .unwrap();
    }
    let db = tdb.open().await;
    let late = when + SignedDuration::from_hours(3);
    assert_eq!(db.fire_due(late, 10).await.unwrap(), 1);
    let fired = drain(&db, late).await;
    assert_eq!(
        fired,
        vec![(PersonId::from("p"), JobKind::Reminder(n(1)), when)]
    );
}

async fn forgetting_a_person_removes_only_their_jobs(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let (p, q) = (PersonId::from("p"), PersonId::from("q"));
    for who in [&p, &q] {
        db.apply(
            who.clone(),
            create("a", None, Some(t0() + mins(5))),
            None,
            t0(),
        )
        .await
        .unwrap();
        db.apply(
            who.clone(),
            create("b", Some(t0() + mins(50)), None),
            None,
            t0(),
        )
        .await
        .unwrap();
        db.set_agenda(
            who.clone(),
            Some(AgendaSchedule {
                at: jiff::civil::Time::new(8, 0, 0, 0).unwrap(),
                days: AgendaDays::EveryDay,
                zone: "UTC".into(),
            }),
            t0(),
        )
        .await
        .unwrap();
    }
    assert_eq!(tdb.count_rows("scheduled_jobs"), 6);
    assert_eq!(db.forget_jobs(p.clone()).await.unwrap(), 3);
    assert_eq!(tdb.count_rows("scheduled_jobs"), 3);
    assert_eq!(db.agenda(p.clone()).await.unwrap(), None);
    assert!(db.agenda(q.clone()).await.unwrap().is_some());
    let t = db.task(p.clone(), n(1)).await.unwrap().unwrap();
    assert_eq!(t.remind_at, None, "the reminder they set is gone too");
    assert_eq!(db.fire_due(t0() + mins(100), 10).await.unwrap(), 2);
    let fired = drain(&db, t0() + mins(100)).await;
    assert!(fired.iter().all(|(o, _, _)| *o == q));
}

async fn many_jobs_for_one_person_fire_together_with_others(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let minute = t0() + mins(10);
    let busy = PersonId::from("busy");
    for i in 0..500 {
        db.apply(
            busy.clone(),
            create(&format!("r{i}"), None, Some(minute)),
            None,
            t0(),
        )
        .await
        .unwrap();
    }
    db.apply(
        PersonId::from("other"),
        create("mine", None, Some(minute)),
        None,
        t0(),
    )
    .await
    .unwrap();
    let mut fired = 0;
    loop {
        let n = db.fire_due(minute, 200).await.unwrap();
        fired += n;
        if n < 200 {
            break;
        }
    }
    assert_eq!(fired, 501);
    // The inbox serves one item per person at a time: the other person's reminder is
    // claimable while the busy person's first one is still held.
    let first = db
        .claim("w1".into(), Duration::from_secs(60), minute)
        .await
        .unwrap()
        .unwrap();
    let second = db
        .claim("w2".into(), Duration::from_secs(60), minute)
        .await
        .unwrap()
        .unwrap();
    let owners: Vec<PersonId> = [first, second]
        .iter()
        .map(|i| match &i.event {
            WebexEvent::Scheduled { owner, .. } => owner.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(owners.contains(&PersonId::from("other")), "{owners:?}");
    assert!(owners.contains(&busy));
}

/// Three instances (each its own pool, as three processes have) fire the same 300 due jobs
/// at once: every job lands in the inbox exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_postgres_fire_each_job_exactly_once() {
    let tdb = TestDb::new(Backend::Postgres);
    let setup = tdb.open().await;
    let minute = t0() + mins(10);
    for person in 0..30 {
        for i in 0..10 {
            setup
                .apply(
                    PersonId::new(format!("p{person}")),
                    create(&format!("r{i}"), None, Some(minute)),
                    None,
                    t0(),
                )
                .await
                .unwrap();
        }
    }
    let mut handles = Vec::new();
    for _ in 0..3 {
        let db = tdb.open().await;
        handles.push(tokio::spawn(async move {
            let mut fired = 0;
            loop {
                let n = db.fire_due(minute, 7).await.unwrap();
                fired += n;
                if n == 0 {
                    return fired;
                }
            }
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, 300, "each job fired by exactly one instance");
    assert_eq!(tdb.count_rows("scheduled_jobs"), 0);
    let fired = drain(&setup, minute).await;
    assert_eq!(fired.len(), 300);
    let mut seen: HashMap<(PersonId, JobKind), u32> = HashMap::new();
    for (owner, job, due) in fired {
        assert_eq!(due, minute);
        *seen.entry((owner, job)).or_default() += 1;
    }
    assert_eq!(seen.len(), 300);
    assert!(seen.values().all(|&c| c == 1));
}
