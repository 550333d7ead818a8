//! One contract suite for the store ports, run against Postgres and SQLite alike.

use std::time::Duration;

use botper::domain::grant::{AccessToken, Grant, RefreshToken, TokenSet};
use botper::domain::task::MeetingLink;
use botper::domain::{PersonId, TaskNumber, TaskOp, TaskOutcome, TaskTitle};
use botper::ports::{
    DedupKey, Enqueued, IdempotencyKey, Inbox, InboxError, Leases, MeetingPolls, NewDelivery,
    Pacing, RefreshClaim, TaskRepository, TokenStore, WebAuthStore, WebSession, WebexEvent,
};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use jiff::Timestamp;

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
    numbers_start_at_one_and_are_per_person,
    deleting_keeps_numbers_stable_and_never_reuses_them,
    done_then_done_again_and_missing_numbers,
    nobody_reaches_anyone_elses_tasks,
    list_is_open_tasks_in_number_order,
    titles_round_trip_unicode_and_full_length,
    the_same_key_replays_the_first_outcome,
    a_meeting_is_linked_to_one_task_only,
    an_edit_changes_only_the_title_and_replays_under_its_key,
    undo_walks_back_through_the_last_changes,
    due_dates_round_trip_and_undo_and_settings_are_per_person,
    a_deleted_meeting_task_stays_deleted,
    concurrent_creates_get_distinct_numbers,
    enqueue_deduplicates_on_resource_event_and_data_id,
    claims_go_oldest_first_and_one_per_person_at_a_time,
    an_expired_lease_is_claimed_again_and_the_old_worker_loses_it,
    the_oldest_due_item_is_claimed_first_expired_leases_included,
    retry_later_hides_the_item_until_due,
    paced_items_wait_their_turn_and_refusals_jump_the_queue,
    dead_letters_are_listed_with_their_last_error,
    release_gives_the_item_back_without_counting_the_attempt,
    complete_and_claim_settles_one_and_takes_the_next,
    a_claim_first_made_on_an_empty_inbox_walks_past_busy_people,
    workers_settling_at_once_each_get_their_own_next_item,
    the_done_purge_takes_every_old_done_task_in_batches_and_nothing_else,
    concurrent_changes_with_one_key_apply_once_and_the_others_stand,
    an_unreadable_item_becomes_a_dead_letter_and_blocks_nobody,
    a_renewed_lease_keeps_the_item,
    purge_deletes_old_settled_items,
    ping_answers,
    grants_round_trip_and_the_table_holds_no_usable_token,
    a_grant_saved_again_replaces_the_first,
    the_refresh_lease_is_single_flight_and_expires,
    a_finished_refresh_stores_new_tokens_and_bumps_the_version,
    disconnected_and_deleted_grants,
    login_states_are_single_use_and_expire,
    pending_login_states_are_capped_and_expired_ones_purged,
    purge_deletes_dead_letters_once_dead_for_the_retention,
    web_sessions_expire,
    a_lease_has_one_holder_until_it_expires_or_is_released,
    meeting_poll_snapshots_replace_and_forget,
);

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn t0() -> Timestamp {
    at("2026-11-29T12:00:00Z")
}

fn n(v: u32) -> TaskNumber {
    TaskNumber::new(v).unwrap()
}

fn create(title: &str) -> TaskOp {
    TaskOp::Create {
        title: TaskTitle::parse(title).unwrap(),
        meeting: None,
        due: None,
        remind_at: None,
    }
}

fn number_of(o: &TaskOutcome) -> u32 {
    match o {
        TaskOutcome::NotFound(n) => n.get(),
        other => other.task().map_or(0, |t| t.number.get()),
    }
}

async fn numbers_start_at_one_and_are_per_person(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let (alice, bob) = (PersonId::from("alice"), PersonId::from("bob"));
    for expected in 1..=3 {
        let o = db
            .apply(alice.clone(), create("a"), None, t0())
            .await
            .unwrap();
        assert_eq!(number_of(&o), expected);
    }
    let o = db
        .apply(bob.clone(), create("b"), None, t0())
        .await
        .unwrap();
    assert_eq!(number_of(&o), 1, "bob's numbers are his own");
}

async fn deleting_keeps_numbers_stable_and_never_reuses_them(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    for t in ["one", "two", "three"] {
        db.apply(p.clone(), create(t), None, t0()).await.unwrap();
    }
    let o = db
        .apply(p.clone(), TaskOp::Delete(n(2)), None, t0())
        .await
        .unwrap();
    assert!(matches!(o, TaskOutcome::Deleted(t) if t.title.as_str() == "two"));
    let open = db.list_open(p.clone()).await.unwrap();
    let numbers: Vec<u32> = open.iter().map(|t| t.number.get()).collect();
    assert_eq!(numbers, vec![1, 3]);
    assert_eq!(open[1].title.as_str(), "three");
    let o = db
        .apply(p.clone(), create("four"), None, t0())
        .await
        .unwrap();
    assert_eq!(number_of(&o), 4, "2 is not reused");
    let o = db
        .apply(p.clone(), TaskOp::Delete(n(2)), None, t0())
        .await
        .unwrap();
    assert_eq!(o, TaskOutcome::NotFound(n(2)));
}

async fn done_then_done_again_and_missing_numbers(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    db.apply(p.clone(), create("x"), None, t0()).await.unwrap();
    let o = db
        .apply(p.clone(), TaskOp::Complete(n(1)), None, t0())
        .await
        .unwrap();
    assert!(matches!(o, TaskOutcome::Completed(ref t) if t.done));
    let o = db
        .apply(p.clone(), TaskOp::Complete(n(1)), None, t0())
        .await
        .unwrap();
    assert!(matches!(o, TaskOutcome::AlreadyDone(_)));
    let o = db
        .apply(p.clone(), TaskOp::Complete(n(7)), None, t0())
        .await
        .unwrap();
    assert_eq!(o, TaskOutcome::NotFound(n(7)));
    assert!(db.list_open(p.clone()).await.unwrap().is_empty());
}

async fn nobody_reaches_anyone_elses_tasks(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let (alice, mallory) = (PersonId::from("alice"), PersonId::from("mallory"));
    db.apply(alice.clone(), create("secret plan"), None, t0())
        .await
        .unwrap();
    for op in [TaskOp::Complete(n(1)), TaskOp::Delete(n(1))] {
        let o = db.apply(mallory.clone(), op, None, t0()).await.unwrap();
        assert_eq!(o, TaskOutcome::NotFound(n(1)));
    }
    let open = db.list_open(alice.clone()).await.unwrap();
    assert_eq!(open.len(), 1);
    assert!(!open[0].done);
    assert!(db.list_open(mallory).await.unwrap().is_empty());
}

async fn list_is_open_tasks_in_number_order(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    for t in ["a", "b", "c", "d"] {
        db.apply(p.clone(), create(t), None, t0()).await.unwrap();
    }
    db.apply(p.clone(), TaskOp::Complete(n(2)), None, t0())
        .await
        .unwrap();
    let titles: Vec<String> = db
        .list_open(p)
        .await
        .unwrap()
        .iter()
        .map(|t| format!("{}:{}", t.number, t.title.as_str()))
        .collect();
    assert_eq!(titles, ["1:a", "3:c", "4:d"]);
}

async fn titles_round_trip_unicode_and_full_length(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let fancy = "Café ☕ — 日本語 👩‍👩‍👧 <@all> *x* 'quote\" \\ ; DROP TABLE tasks; --";
    let long = "ß".repeat(500);
    db.apply(p.clone(), create(fancy), None, t0())
        .await
        .unwrap();
    db.apply(p.clone(), create(&long), None, t0())
        .await
        .unwrap();
    let open = db.list_open(p).await.unwrap();
    assert_eq!(open[0].title.as_str(), fancy);
    assert_eq!(open[1].title.as_str(), long);
    assert_eq!(open[0].created_at, t0());
}

async fn the_same_key_replays_the_first_outcome(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    db.apply(p.clone(), create("before"), None, t0())
        .await
        .unwrap();
    let key = IdempotencyKey::new("inbox:1");
    let first = db
        .apply(p.clone(), create("once"), Some(key.clone()), t0())
        .await
        .unwrap();
    let again = db
        .apply(p.clone(), create("once"), Some(key.clone()), t0())
        .await
        .unwrap();
    assert!(
        matches!(&first, TaskOutcome::Created(t) if t.number == n(2)),
        "{first:?}"
    );
    assert_eq!(first, again);
    assert_eq!(db.list_open(p.clone()).await.unwrap().len(), 2);
    // Deleting under a key: the replay still says "deleted", not "no such task".
    let dk = IdempotencyKey::new("inbox:2");
    let d1 = db
        .apply(p.clone(), TaskOp::Delete(n(1)), Some(dk.clone()), t0())
        .await
        .unwrap();
    let d2 = db
        .apply(p.clone(), TaskOp::Delete(n(1)), Some(dk), t0())
        .await
        .unwrap();
    assert!(matches!(d1, TaskOutcome::Deleted(_)));
    assert_eq!(d1, d2);
}

async fn an_edit_changes_only_the_title_and_replays_under_its_key(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let link = MeetingLink {
        meeting_id: "m-edit".into(),
        web_link: "https://example.webex.com/meet/e".into(),
        start: Some(at("2026-11-30T09:00:00Z")),
        end: Some(at("2026-11-30T09:30:00Z")),
        title: Some("Standup".into()),
        cancelled: false,
    };
    let create = TaskOp::Create {
        title: TaskTitle::parse("Standup").unwrap(),
        meeting: Some(link.clone()),
        due: None,
        remind_at: None,
    };
    db.apply(p.clone(), create, None, t0()).await.unwrap();
    let edit = TaskOp::Edit(n(1), TaskTitle::parse("Daily standup ☕").unwrap());
    let key = Some(IdempotencyKey::new("inbox:9.1"));
    let first = db
        .apply(p.clone(), edit.clone(), key.clone(), t0())
        .await
        .unwrap();
    match &first {
        TaskOutcome::Edited { task, before } => {
            assert_eq!(task.title.as_str(), "Daily standup ☕");
            assert_eq!(before.as_str(), "Standup");
            assert_eq!(task.meeting.as_ref(), Some(&link), "the link stays");
        }
        other => panic!("{other:?}"),
    }
    // Replayed, not applied again (a second edit would report "was Daily standup").
    assert_eq!(db.apply(p.clone(), edit, key, t0()).await.unwrap(), first);
    let other = TaskOp::Edit(n(1), TaskTitle::parse("Not yours").unwrap());
    assert_eq!(
        db.apply("q".into(), other, None, t0()).await.unwrap(),
        TaskOutcome::NotFound(n(1))
    );
    let open = db.list_open(p).await.unwrap();
    assert_eq!(open[0].title.as_str(), "Daily standup ☕");
    assert_eq!(open[0].meeting.as_ref(), Some(&link));
    // Derived keys are purged by age with the inbox.
    db.purge_settled(at("2027-01-30T00:00:00Z")).await.unwrap();
    let fresh = TaskOp::Edit(n(1), TaskTitle::parse("Again").unwrap());
    match db
        .apply(
            "p".into(),
            fresh,
            Some(IdempotencyKey::new("inbox:9.1")),
            t0(),
        )
        .await
        .unwrap()
    {
        TaskOutcome::Edited { before, .. } => assert_eq!(before.as_str(), "Daily standup ☕"),
        other => panic!("the old record should be gone: {other:?}"),
    }
}

async fn undo_walks_back_through_the_last_changes(b: Backend) {
    use botper::domain::task::Undone;
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let apply = |op: TaskOp| {
        let db = &db;
        let p = p.clone();
        async move { db.apply(p, op, None, t0()).await.unwrap() }
    };
    apply(create("Buy milk")).await;
    apply(create("Call mum")).await;
    apply(TaskOp::Complete(n(1))).await;
    apply(TaskOp::Edit(n(2), TaskTitle::parse("Call dad").unwrap())).await;
    apply(TaskOp::Delete(n(1))).await;
    // Another person's changes are theirs to undo.
    db.apply("q".into(), create("Q's"), None, t0())
        .await
        .unwrap();

    let titles = || async {
        db.list_open(p.clone())
            .await
            .unwrap()
            .iter()
            .map(|t| format!("{} {}", t.number, t.title.as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(titles().await, ["2 Call dad"]);
    let key = Some(IdempotencyKey::new("inbox:77"));
    let first = db
        .apply(p.clone(), TaskOp::Undo, key.clone(), t0())
        .await
        .unwrap();
    assert!(
        matches!(&first, TaskOutcome::Undid { change: Undone::Deleted, task } if task.number == n(1) && task.done),
        "{first:?}"
    );
    // The same delivery again undoes nothing more.
    assert_eq!(
        db.apply(p.clone(), TaskOp::Undo, key, t0()).await.unwrap(),
        first
    );
    match apply(TaskOp::Undo).await {
        TaskOutcome::Undid {
            change: Undone::Edited { from },
            task,
        } => {
            assert_eq!(from.as_str(), "Call dad");
            assert_eq!(task.title.as_str(), "Call mum");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        apply(TaskOp::Undo).await,
        TaskOutcome::Undid { change: Undone::Completed, task } if !task.done
    ));
    assert_eq!(titles().await, ["1 Buy milk", "2 Call mum"]);
    assert!(matches!(
        apply(TaskOp::Undo).await,
        TaskOutcome::Undid { change: Undone::Added, task } if task.number == n(2)
    ));
    assert!(matches!(
        apply(TaskOp::Undo).await,
        TaskOutcome::Undid { change: Undone::Added, task } if task.number == n(1)
    ));
    assert_eq!(apply(TaskOp::Undo).await, TaskOutcome::NothingToUndo);
    assert!(titles().await.is_empty());
    // Numbers are still never reused.
    assert_eq!(number_of(&apply(create("Third")).await), 3);
    assert_eq!(db.list_open("q".into()).await.unwrap().len(), 1);

    // At least the last 10 (in fact 50) changes can be undone; older ones are forgotten.
    for i in 0..60 {
        apply(create(&format!("bulk {i}"))).await;
    }
    let mut undone = 0;
    while apply(TaskOp::Undo).await != TaskOutcome::NothingToUndo {
        undone += 1;
    }
    assert_eq!(undone, 50);
}

async fn due_dates_round_trip_and_undo_and_settings_are_per_person(b: Backend) {
    use botper::domain::task::{Due, Undone};
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let fri = Due {
        at: at("2026-12-04T14:00:00Z"),
        has_time: true,
    };
    let day = Due {
        at: at("2026-12-07T08:00:00Z"),
        has_time: false,
    };
    let op = TaskOp::Create {
        title: TaskTitle::parse("Send the deck").unwrap(),
        meeting: None,
        due: Some(fri),
        remind_at: None,
    };
    let key = Some(IdempotencyKey::new("inbox:5"));
    let created = db
        .apply(p.clone(), op.clone(), key.clone(), t0())
        .await
        .unwrap();
    assert!(matches!(&created, TaskOutcome::Created(t) if t.due == Some(fri)));
    // Replayed with its due date.
    assert_eq!(db.apply(p.clone(), op, key, t0()).await.unwrap(), created);
    assert_eq!(db.list_open(p.clone()).await.unwrap()[0].due, Some(fri));
    match db
        .apply(p.clone(), TaskOp::SetDue(n(1), Some(day)), None, t0())
        .await
        .unwrap()
    {
        TaskOutcome::DueSet { task, before } => {
            assert_eq!((task.due, before), (Some(day), Some(fri)));
        }
        other => panic!("{other:?}"),
    }
    let cleared = db
        .apply(p.clone(), TaskOp::SetDue(n(1), None), None, t0())
        .await
        .unwrap();
    assert!(
        matches!(cleared, TaskOutcome::DueSet { ref task, before: Some(_) } if task.due.is_none())
    );
    match db.apply(p.clone(), TaskOp::Undo, None, t0()).await.unwrap() {
        TaskOutcome::Undid {
            change: Undone::DueChanged { from: None },
            task,
        } => assert_eq!(task.due, Some(day)),
        other => panic!("{other:?}"),
    }
    assert_eq!(db.list_open(p.clone()).await.unwrap()[0].due, Some(day));
    assert_eq!(
        db.apply("q".into(), TaskOp::SetDue(n(1), Some(fri)), None, t0())
            .await
            .unwrap(),
        TaskOutcome::NotFound(n(1))
    );

    // Done tasks, most recently done first; deleted ones are not listed.
    for t in ["a", "b", "c"] {
        db.apply(p.clone(), create(t), None, t0()).await.unwrap();
    }
    let later = |m: i64| t0() + jiff::SignedDuration::from_mins(m);
    db.apply(p.clone(), TaskOp::Complete(n(2)), None, later(1))
        .await
        .unwrap();
    db.apply(p.clone(), TaskOp::Complete(n(4)), None, later(2))
        .await
        .unwrap();
    db.apply(p.clone(), TaskOp::Complete(n(3)), None, later(3))
        .await
        .unwrap();
    db.apply(p.clone(), TaskOp::Delete(n(4)), None, later(4))
        .await
        .unwrap();
    let done: Vec<u32> = db
        .list_done(p.clone(), 10)
        .await
        .unwrap()
        .iter()
        .map(|t| t.number.get())
        .collect();
    assert_eq!(done, [3, 2]);
    assert_eq!(db.list_done(p.clone(), 1).await.unwrap().len(), 1);
    assert!(db.list_done("q".into(), 10).await.unwrap().is_empty());

    assert_eq!(db.settings(p.clone()).await.unwrap(), Default::default());
    db.set_timezone(p.clone(), Some("Europe/Paris".into()))
        .await
        .unwrap();
    assert!(
        db.mark_zone_hint(p.clone()).await.unwrap(),
        "the first time"
    );
    assert!(!db.mark_zone_hint(p.clone()).await.unwrap(), "only once");
    let s = db.settings(p.clone()).await.unwrap();
    assert_eq!(s.timezone.as_deref(), Some("Europe/Paris"));
    assert!(s.zone_hint_shown);
    db.set_timezone(p.clone(), None).await.unwrap();
    assert_eq!(db.settings(p).await.unwrap().timezone, None);
    assert_eq!(db.settings("q".into()).await.unwrap(), Default::default());
    assert!(db.mark_zone_hint("q".into()).await.unwrap());
}

async fn a_meeting_is_linked_to_one_task_only(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let link = MeetingLink {
        meeting_id: "870f51ff287b41be84648412901e0402".into(),
        web_link: "https://example.webex.com/meet/x".into(),
        start: Some(at("2026-11-30T09:00:00Z")),
        end: Some(at("2026-11-30T09:30:00Z")),
        title: Some("Standup".into()),
        cancelled: false,
    };
    let op = TaskOp::Create {
        title: TaskTitle::parse("Standup").unwrap(),
        meeting: Some(link.clone()),
        due: None,
        remind_at: None,
    };
    let first = db.apply(p.clone(), op.clone(), None, t0()).await.unwrap();
    let second = db.apply(p.clone(), op, None, t0()).await.unwrap();
    match (&first, &second) {
        (TaskOutcome::Created(a), TaskOutcome::AlreadyLinked(b)) => {
            assert_eq!(a.number, b.number);
            assert_eq!(b.meeting.as_ref(), Some(&link));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(db.list_open(p).await.unwrap().len(), 1);
}

async fn a_deleted_meeting_task_stays_deleted(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let op = TaskOp::Create {
        title: TaskTitle::parse("Standup").unwrap(),
        meeting: Some(MeetingLink {
            meeting_id: "m-deleted".into(),
            web_link: "https://example.webex.com/meet/d".into(),
            start: None,
            end: None,
            title: None,
            cancelled: false,
        }),
        due: None,
        remind_at: None,
    };
    db.apply(p.clone(), op.clone(), None, t0()).await.unwrap();
    let deleted = db
        .apply(p.clone(), TaskOp::Delete(n(1)), None, t0())
        .await
        .unwrap();
    assert!(matches!(deleted, TaskOutcome::Deleted(_)));
    assert!(
        db.find_by_meeting(p.clone(), "m-deleted".into())
            .await
            .unwrap()
            .is_some(),
        "the meeting is still known as handled"
    );
    let again = db.apply(p.clone(), op, None, t0()).await.unwrap();
    assert!(matches!(again, TaskOutcome::AlreadyLinked(_)), "{again:?}");
    assert!(db.list_open(p.clone()).await.unwrap().is_empty());
    let done = db
        .apply(p.clone(), TaskOp::Complete(n(1)), None, t0())
        .await
        .unwrap();
    assert_eq!(done, TaskOutcome::NotFound(n(1)), "a deleted task is gone");
}

async fn concurrent_creates_get_distinct_numbers(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let mut handles = Vec::new();
    for i in 0..20 {
        let db = db.clone();
        let p = p.clone();
        handles.push(tokio::spawn(async move {
            db.apply(p, create(&format!("t{i}")), None, t0())
                .await
                .unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(number_of(&h.await.unwrap()));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
}

fn delivery(data_id: &str, person: &str, received: Timestamp) -> NewDelivery {
    NewDelivery::now(
        DedupKey {
            resource: "messages".into(),
            event: "created".into(),
            data_id: data_id.into(),
        },
        WebexEvent::MessageCreated {
            message_id: data_id.into(),
            room_id: "room".into(),
            person_id: person.into(),
        },
        received,
    )
}

const LEASE: Duration = Duration::from_secs(30);

async fn paced_items_wait_their_turn_and_refusals_jump_the_queue(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let secs = |s: i64| t0() + jiff::SignedDuration::from_secs(s);
    db.enqueue(delivery("now", "p", t0())).await.unwrap();
    let mut later = delivery("later", "p", t0());
    later.not_before = secs(10);
    later.pacing = Pacing::CatchingUp { waiting: 3 };
    db.enqueue(later).await.unwrap();
    let mut refused = delivery("refused", "p", t0());
    refused.pacing = Pacing::Refused { waiting: 300 };
    db.enqueue(refused).await.unwrap();

    let first = db.claim("w1".into(), LEASE, t0()).await.unwrap().unwrap();
    assert_eq!(first.pacing, Pacing::Normal);
    let second = db.claim("w2".into(), LEASE, t0()).await.unwrap().unwrap();
    assert_eq!(
        second.pacing,
        Pacing::Refused { waiting: 300 },
        "a refusal does not wait behind the person's queue"
    );
    db.complete(first.id, "w1".into(), t0()).await.unwrap();
    db.complete(second.id, "w2".into(), t0()).await.unwrap();
    assert!(
        db.claim("w1".into(), LEASE, secs(9))
            .await
            .unwrap()
            .is_none(),
        "not before its turn"
    );
    let third = db
        .claim("w1".into(), LEASE, secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.pacing, Pacing::CatchingUp { waiting: 3 });
    assert_eq!(third.received_at, t0());
}

async fn enqueue_deduplicates_on_resource_event_and_data_id(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    assert!(matches!(
        db.enqueue(delivery("m1", "p", t0())).await.unwrap(),
        Enqueued::Accepted(_)
    ));
    assert_eq!(
        db.enqueue(delivery("m1", "p", t0())).await.unwrap(),
        Enqueued::Duplicate
    );
    let mut other_event = delivery("m1", "p", t0());
    other_event.key.event = "deleted".into();
    assert!(matches!(
        db.enqueue(other_event).await.unwrap(),
        Enqueued::Accepted(_)
    ));
    let stats = db.stats().await.unwrap();
    assert_eq!(stats.pending, 2);
}

async fn claims_go_oldest_first_and_one_per_person_at_a_time(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("a1", "alice", t0())).await.unwrap();
    db.enqueue(delivery("a2", "alice", t0())).await.unwrap();
    db.enqueue(delivery("b1", "bob", t0())).await.unwrap();
    let first = db.claim("w1".into(), LEASE, t0()).await.unwrap().unwrap();
    assert!(
        matches!(&first.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "a1")
    );
    assert_eq!(first.attempts, 1);
    // a2 waits for a1 (same person); bob's item is free.
    let second = db.claim("w2".into(), LEASE, t0()).await.unwrap().unwrap();
    assert!(
        matches!(&second.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "b1")
    );
    assert!(db.claim("w3".into(), LEASE, t0()).await.unwrap().is_none());
    db.complete(first.id, "w1".into(), t0()).await.unwrap();
    let third = db.claim("w3".into(), LEASE, t0()).await.unwrap().unwrap();
    assert!(
        matches!(&third.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "a2")
    );
    let stats = db.stats().await.unwrap();
    assert_eq!((stats.pending, stats.processing, stats.done), (0, 2, 1));
}

async fn an_expired_lease_is_claimed_again_and_the_old_worker_loses_it(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("m", "p", t0())).await.unwrap();
    let item = db
        .claim("dead-worker".into(), LEASE, t0())
        .await
        .unwrap()
        .unwrap();
    assert!(db.claim("w2".into(), LEASE, t0()).await.unwrap().is_none());
    let later = at("2026-11-29T12:01:00Z");
    let again = db.claim("w2".into(), LEASE, later).await.unwrap().unwrap();
    assert_eq!(again.id, item.id);
    assert_eq!(again.attempts, 2);
    let lost = db.complete(item.id, "dead-worker".into(), later).await;
    assert!(matches!(lost, Err(InboxError::LeaseLost(id)) if id == item.id));
    db.complete(again.id, "w2".into(), later).await.unwrap();
}

/// A claim takes the oldest due item, whether it waits pending (here after a retry) or
/// in flight under a lease that expired; a live lease keeps its item; a person's later
/// item waits for their earlier one.
async fn the_oldest_due_item_is_claimed_first_expired_leases_included(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let secs = |s: i64| t0() + jiff::SignedDuration::from_secs(s);
    for (id, person) in [
        ("z1", "zoe"),
        ("a1", "alice"),
        ("b1", "bob"),
        ("a2", "alice"),
    ] {
        db.enqueue(delivery(id, person, t0())).await.unwrap();
    }
    let z1 = db.claim("w0".into(), LEASE, t0()).await.unwrap().unwrap();
    db.retry_later(z1.id, "w0".into(), secs(40), "Webex 503".into())
        .await
        .unwrap();
    let a1 = db.claim("gone".into(), LEASE, t0()).await.unwrap().unwrap();
    let b1 = db
        .claim("slow".into(), LEASE, secs(20))
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<_> = [&z1, &a1, &b1].iter().map(|i| i.id).collect();
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    // At 41 s z1 is due again, a1's lease (to 30 s) has run out, b1's (to 50 s) has not.
    let later = secs(41);
    let first = db.claim("w1".into(), LEASE, later).await.unwrap().unwrap();
    assert_eq!((first.id, first.attempts), (z1.id, 2), "the oldest first");
    let second = db.claim("w2".into(), LEASE, later).await.unwrap().unwrap();
    assert_eq!((second.id, second.attempts), (a1.id, 2));
    // b1 is in flight under a live lease, and a2 waits for a1.
    assert!(db.claim("w3".into(), LEASE, later).await.unwrap().is_none());
    db.complete(second.id, "w2".into(), later).await.unwrap();
    let a2 = db.claim("w3".into(), LEASE, later).await.unwrap().unwrap();
    assert!(
        matches!(&a2.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "a2")
    );
}

async fn retry_later_hides_the_item_until_due(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("m", "p", t0())).await.unwrap();
    let item = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    let due = at("2026-11-29T12:00:10Z");
    db.retry_later(item.id, "w".into(), due, "Webex 503".into())
        .await
        .unwrap();
    assert!(db.claim("w".into(), LEASE, t0()).await.unwrap().is_none());
    let again = db.claim("w".into(), LEASE, due).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
}

async fn dead_letters_are_listed_with_their_last_error(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("m", "p", t0())).await.unwrap();
    db.enqueue(delivery("m2", "p", t0())).await.unwrap();
    let item = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    db.dead_letter(item.id, "w".into(), "Webex refused (403)".into(), t0())
        .await
        .unwrap();
    let dead = db.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key.data_id, "m");
    assert_eq!(dead[0].last_error, "Webex refused (403)");
    assert_eq!(db.stats().await.unwrap().dead, 1);
    // A dead letter does not block the person's next item.
    let next = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    assert!(
        matches!(&next.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "m2")
    );
}

async fn release_gives_the_item_back_without_counting_the_attempt(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("m", "p", t0())).await.unwrap();
    let item = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    Inbox::release(&db, item.id, "w".into()).await.unwrap();
    let again = db.claim("w2".into(), LEASE, t0()).await.unwrap().unwrap();
    assert_eq!(again.attempts, 1);
}

async fn purge_deletes_old_settled_items(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("old", "p", t0())).await.unwrap();
    db.enqueue(delivery("pending", "q", t0())).await.unwrap();
    let item = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    db.complete(item.id, "w".into(), t0()).await.unwrap();
    let deleted = db.purge_settled(at("2026-12-30T00:00:00Z")).await.unwrap();
    assert_eq!(deleted, 1);
    let s = db.stats().await.unwrap();
    assert_eq!((s.done, s.pending), (0, 1));
}

async fn purge_deletes_dead_letters_once_dead_for_the_retention(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    for (id, person) in [
        ("dead-long-ago", "p"),
        ("dead-lately", "q"),
        ("pending", "r"),
    ] {
        db.enqueue(delivery(id, person, t0())).await.unwrap();
    }
    let first = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    db.dead_letter(first.id, "w".into(), "gave up".into(), t0())
        .await
        .unwrap();
    let second = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    // Requeued by an operator later and dead again: its retention counts from then.
    let later = at("2026-12-20T00:00:00Z");
    db.dead_letter(second.id, "w".into(), "gave up".into(), later)
        .await
        .unwrap();
    let cutoff = at("2026-12-10T00:00:00Z");
    assert_eq!(db.purge_settled(cutoff).await.unwrap(), 1);
    let s = db.stats().await.unwrap();
    assert_eq!(
        (s.dead, s.pending),
        (1, 1),
        "the late death and the pending item stay"
    );
    let left = db.dead_letters(10).await.unwrap();
    assert_eq!(left[0].key.data_id, "dead-lately");
}

async fn ping_answers(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.ping().await.unwrap();
}

fn tokens(access: &str, expires: Timestamp) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(access),
        access_expires_at: expires,
        refresh_token: RefreshToken::new(format!("{access}-refresh")),
        refresh_expires_at: at("2027-02-27T12:00:00Z"),
        scope: Some("meeting:schedules_write".into()),
    }
}

fn grant(person: &str, access: &str) -> Grant {
    Grant {
        person: person.into(),
        display_name: "Zoë Ünicode".into(),
        email: Some("zoe@example.com".into()),
        timezone: Some("Europe/Paris".into()),
        tokens: tokens(access, at("2026-12-13T12:00:00Z")),
        webhook_id: Some("wh-1".into()),
        disconnected: None,
        version: 1,
    }
}

#[derive(QueryableByName)]
struct SealedRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    access_token: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    refresh_token: String,
}

/// The raw token columns, as a database dump would show them.
fn raw_token_columns(tdb: &TestDb) -> Vec<SealedRow> {
    let sql = "SELECT access_token, refresh_token FROM grants";
    match &tdb.target {
        botper::adapters::db::DbTarget::Postgres(url) => {
            let mut c = diesel::PgConnection::establish(url).unwrap();
            diesel::sql_query(sql).load(&mut c).unwrap()
        }
        botper::adapters::db::DbTarget::Sqlite(path) => {
            let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
            diesel::sql_query(sql).load(&mut c).unwrap()
        }
    }
}

async fn grants_round_trip_and_the_table_holds_no_usable_token(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let g = grant("p1", "NjlhN-access-token-value");
    db.save(g.clone()).await.unwrap();
    let loaded = db.load("p1".into()).await.unwrap().unwrap();
    assert_eq!(loaded, g);
    assert!(db.load("nobody".into()).await.unwrap().is_none());
    let rows = raw_token_columns(&tdb);
    assert_eq!(rows.len(), 1);
    for v in [&rows[0].access_token, &rows[0].refresh_token] {
        assert!(v.starts_with("v1:"), "{v}");
        assert!(
            !v.contains("NjlhN"),
            "ciphertext in the table is not the token"
        );
    }
    // Another key cannot open them.
    let other = botper::adapters::db::Db::open(tdb.target.clone(), &Default::default())
        .unwrap()
        .with_token_key(&botper::adapters::db::TokenKey::generate());
    assert!(other.load("p1".into()).await.is_err());
}

async fn a_grant_saved_again_replaces_the_first(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.save(grant("p1", "first")).await.unwrap();
    db.mark_disconnected("p1".into(), "revoked".into())
        .await
        .unwrap();
    db.save(grant("p1", "second")).await.unwrap();
    let g = db.load("p1".into()).await.unwrap().unwrap();
    assert_eq!(g.tokens.access_token.expose(), "second");
    assert!(
        g.disconnected.is_none(),
        "reconnecting clears the disconnect"
    );
    assert_eq!(g.version, 2);
}

async fn the_refresh_lease_is_single_flight_and_expires(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    assert_eq!(
        db.try_begin_refresh("p1".into(), "a".into(), LEASE, t0())
            .await
            .unwrap(),
        RefreshClaim::Missing
    );
    db.save(grant("p1", "x")).await.unwrap();
    assert!(matches!(
        db.try_begin_refresh("p1".into(), "a".into(), LEASE, t0())
            .await
            .unwrap(),
        RefreshClaim::Claimed(_)
    ));
    assert_eq!(
        db.try_begin_refresh("p1".into(), "b".into(), LEASE, t0())
            .await
            .unwrap(),
        RefreshClaim::Busy
    );
    // "a" died: after the lease, "b" may refresh, and "a" can no longer finish.
    let later = at("2026-11-29T12:01:00Z");
    assert!(matches!(
        db.try_begin_refresh("p1".into(), "b".into(), LEASE, later)
            .await
            .unwrap(),
        RefreshClaim::Claimed(_)
    ));
    assert!(
        db.finish_refresh("p1".into(), "a".into(), None)
            .await
            .is_err()
    );
    db.finish_refresh("p1".into(), "b".into(), None)
        .await
        .unwrap();
    assert!(matches!(
        db.try_begin_refresh("p1".into(), "c".into(), LEASE, later)
            .await
            .unwrap(),
        RefreshClaim::Claimed(_)
    ));
}

async fn a_finished_refresh_stores_new_tokens_and_bumps_the_version(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.save(grant("p1", "old")).await.unwrap();
    db.try_begin_refresh("p1".into(), "me".into(), LEASE, t0())
        .await
        .unwrap();
    let new = tokens("new", at("2026-12-20T00:00:00Z"));
    let g = db
        .finish_refresh("p1".into(), "me".into(), Some(new.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.tokens, new);
    assert_eq!(g.version, 2);
    assert_eq!(db.load("p1".into()).await.unwrap().unwrap().tokens, new);
}

async fn disconnected_and_deleted_grants(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.save(grant("p1", "x")).await.unwrap();
    db.set_webhook("p1".into(), Some("wh-9".into()))
        .await
        .unwrap();
    db.mark_disconnected("p1".into(), "Webex refused the refresh token".into())
        .await
        .unwrap();
    let g = db.load("p1".into()).await.unwrap().unwrap();
    assert_eq!(
        g.disconnected.as_deref(),
        Some("Webex refused the refresh token")
    );
    assert_eq!(g.webhook_id.as_deref(), Some("wh-9"));
    assert!(db.delete("p1".into()).await.unwrap().is_some());
    assert!(db.load("p1".into()).await.unwrap().is_none());
    assert!(db.delete("p1".into()).await.unwrap().is_none());
}

async fn login_states_are_single_use_and_expire(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let exp = at("2026-11-29T12:10:00Z");
    db.put_state("s1".into(), "browser-a".into(), exp, t0(), 100)
        .await
        .unwrap();
    db.put_state("s2".into(), "browser-b".into(), exp, t0(), 100)
        .await
        .unwrap();
    assert_eq!(
        db.take_state("s1".into(), t0()).await.unwrap().as_deref(),
        Some("browser-a")
    );
    assert_eq!(
        db.take_state("s1".into(), t0()).await.unwrap(),
        None,
        "single use"
    );
    assert_eq!(db.take_state("forged".into(), t0()).await.unwrap(), None);
    assert_eq!(
        db.take_state("s2".into(), at("2026-11-29T12:10:01Z"))
            .await
            .unwrap(),
        None,
        "expired"
    );
}

async fn pending_login_states_are_capped_and_expired_ones_purged(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let cap = 5;
    // Anonymous logins, one a second: the table never holds more than the cap, and the
    // newest states (the people who are signing in right now) are the ones kept.
    for i in 0..12i64 {
        let now = t0() + jiff::SignedDuration::from_secs(i);
        db.put_state(
            format!("s{i}"),
            "browser-a".into(),
            now + jiff::SignedDuration::from_mins(10),
            now,
            cap,
        )
        .await
        .unwrap();
        assert!(tdb.count_rows("oauth_states") <= i64::from(cap));
    }
    let now = t0() + jiff::SignedDuration::from_secs(12);
    assert_eq!(
        db.take_state("s6".into(), now).await.unwrap(),
        None,
        "evicted"
    );
    assert_eq!(
        db.take_state("s11".into(), now).await.unwrap().as_deref(),
        Some("browser-a")
    );
    // Once they expire, the next login sweeps them all.
    let much_later = t0() + jiff::SignedDuration::from_hours(1);
    db.put_state(
        "fresh".into(),
        "browser-b".into(),
        much_later + jiff::SignedDuration::from_mins(10),
        much_later,
        cap,
    )
    .await
    .unwrap();
    assert_eq!(tdb.count_rows("oauth_states"), 1);
    // And the hourly sweep removes expired ones with no new login at all.
    let after = much_later + jiff::SignedDuration::from_hours(1);
    assert_eq!(db.purge_states(after).await.unwrap(), 1);
    assert_eq!(tdb.count_rows("oauth_states"), 0);
}

async fn web_sessions_expire(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let s = WebSession {
        person: "p1".into(),
        csrf: "c".into(),
    };
    db.create_session("tok".into(), s.clone(), at("2026-11-29T13:00:00Z"), t0())
        .await
        .unwrap();
    assert_eq!(db.session("tok".into(), t0()).await.unwrap(), Some(s));
    assert_eq!(db.session("other".into(), t0()).await.unwrap(), None);
    assert_eq!(
        db.session("tok".into(), at("2026-11-29T13:00:01Z"))
            .await
            .unwrap(),
        None
    );
}

/// The claim's plan is made once per connection (Postgres) — here while the inbox is empty —
/// and still finds the one claimable item behind hundreds whose person is busy, in order.
async fn a_claim_first_made_on_an_empty_inbox_walks_past_busy_people(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    assert!(db.claim("w".into(), LEASE, t0()).await.unwrap().is_none());
    for m in 0..40 {
        for k in 0..5 {
            db.enqueue(delivery(&format!("p{k}-{m}"), &format!("p{k}"), t0()))
                .await
                .unwrap();
        }
    }
    let mut heads = Vec::new();
    for k in 0..5 {
        let item = db
            .claim(format!("w{k}"), LEASE, t0())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(&item.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == format!("p{k}-0")),
            "{:?}",
            item.event
        );
        heads.push(item);
    }
    assert!(db.claim("w".into(), LEASE, t0()).await.unwrap().is_none());
    db.enqueue(delivery("late", "newcomer", t0()))
        .await
        .unwrap();
    let late = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    assert!(
        matches!(&late.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "late")
    );
    let next = db
        .complete_and_claim(heads[3].id, "w3".into(), t0(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&next.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "p3-1")
    );
    let s = db.stats().await.unwrap();
    assert_eq!((s.pending, s.processing, s.done), (194, 6, 1));
}

async fn complete_and_claim_settles_one_and_takes_the_next(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("a1", "alice", t0())).await.unwrap();
    db.enqueue(delivery("a2", "alice", t0())).await.unwrap();
    let first = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    // a2 waited for a1 (same person); finishing a1 hands a2 to the same worker.
    let next = db
        .complete_and_claim(first.id, "w".into(), t0(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&next.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "a2")
    );
    let s = db.stats().await.unwrap();
    assert_eq!((s.done, s.processing), (1, 1));
    // A worker that lost its lease settles nothing and claims nothing.
    let lost = db
        .complete_and_claim(next.id, "someone-else".into(), t0(), LEASE)
        .await;
    assert!(matches!(lost, Err(InboxError::LeaseLost(_))));
    assert_eq!(db.stats().await.unwrap().processing, 1);
    let none = db
        .complete_and_claim(next.id, "w".into(), t0(), LEASE)
        .await
        .unwrap();
    assert!(none.is_none());
}

/// Workers that finish together settle and claim in one transaction (and, on SQLite, share
/// a commit with whatever else is queued): each still gets an item of its own, a lost lease
/// is only its worker's answer, and nothing is settled or claimed twice.
async fn workers_settling_at_once_each_get_their_own_next_item(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    // 12 people with two items each: the second of each waits for the first.
    for k in 0..12 {
        for m in 0..2 {
            db.enqueue(delivery(&format!("p{k}-{m}"), &format!("p{k}"), t0()))
                .await
                .unwrap();
        }
    }
    let mut held = Vec::new();
    for w in 0..12 {
        let item = db
            .claim(format!("w{w}"), LEASE, t0())
            .await
            .unwrap()
            .unwrap();
        held.push((format!("w{w}"), item));
    }
    let mut calls = Vec::new();
    for (w, item) in &held {
        let (db, w, id) = (db.clone(), w.clone(), item.id);
        calls.push(tokio::spawn(async move {
            db.complete_and_claim(id, w, t0(), LEASE).await
        }));
    }
    // An intruder finishing someone else's item, in the same rush.
    let (db2, stolen) = (db.clone(), held[0].1.id);
    let intruder = tokio::spawn(async move {
        db2.complete_and_claim(stolen, "intruder".into(), t0(), LEASE)
            .await
    });
    let mut next_ids = Vec::new();
    for c in calls {
        if let Some(next) = c.await.unwrap().unwrap() {
            next_ids.push(next.id);
        }
    }
    assert!(matches!(
        intruder.await.unwrap(),
        Err(InboxError::LeaseLost(_))
    ));
    let claimed = next_ids.len();
    next_ids.sort_unstable_by_key(|i| i.0);
    next_ids.dedup();
    assert_eq!(next_ids.len(), claimed, "no item handed to two workers");
    assert_eq!(claimed, 12, "every person's second item was handed out");
    let s = db.stats().await.unwrap();
    assert_eq!((s.done, s.processing, s.pending), (12, 12, 0));
}

/// Changes running at once (on SQLite: in one shared transaction, each in a savepoint): the
/// ones that repeat a recorded key roll back only their own work and replay the first
/// outcome; the others all stand.
async fn concurrent_changes_with_one_key_apply_once_and_the_others_stand(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::from("p");
    let mut handles = Vec::new();
    for i in 0..24 {
        let (db, p) = (db.clone(), p.clone());
        handles.push(tokio::spawn(async move {
            let (title, key) = if i % 2 == 0 {
                ("shared".to_owned(), "inbox:shared".to_owned())
            } else {
                (format!("own {i}"), format!("inbox:own-{i}"))
            };
            let key = Some(IdempotencyKey::new(key));
            (i, db.apply(p, create(&title), key, t0()).await.unwrap())
        }));
    }
    let mut shared = Vec::new();
    for h in handles {
        let (i, outcome) = h.await.unwrap();
        if i % 2 == 0 {
            shared.push(number_of(&outcome));
        }
    }
    shared.dedup();
    assert_eq!(
        shared.len(),
        1,
        "one outcome replayed for one key: {shared:?}"
    );
    let open = db.list_open(p.clone()).await.unwrap();
    assert_eq!(open.len(), 13, "12 own tasks and the shared one, once");
    let mut numbers: Vec<u32> = open.iter().map(|t| t.number.get()).collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=13).collect::<Vec<_>>(),
        "no number lost to a rollback"
    );
}

/// A webhook handler dropped mid-enqueue (its client went away) must not strand the batch:
/// later deliveries are still answered, while the database is down and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_enqueue_does_not_strand_the_next_ones() {
    use futures_util::FutureExt;
    use std::time::Duration;
    // Down: the "database file" is a directory.
    let dir = tempfile::tempdir().unwrap();
    let down = botper::adapters::db::Db::open(
        botper::adapters::db::DbTarget::Sqlite(dir.path().to_path_buf()),
        &Default::default(),
    )
    .unwrap();
    // Polled once (it may or may not have been answered yet), then dropped.
    let leader = down.enqueue(delivery("m0", "p", t0()));
    drop(Box::pin(leader).now_or_never());
    for i in 1..=3 {
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            down.enqueue(delivery(&format!("m{i}"), "p", t0())),
        )
        .await
        .expect("answered, not stranded");
        assert!(matches!(r, Err(InboxError::Unavailable(_))), "{r:?}");
        tokio::time::sleep(Duration::from_millis(600)).await; // past the fail-fast window
    }
    // Up: the dropped delivery is stored anyway, and the next one too.
    let tdb = TestDb::new(Backend::Sqlite);
    let db = tdb.open().await;
    let leader = db.enqueue(delivery("x0", "p", t0()));
    drop(Box::pin(leader).now_or_never());
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        db.enqueue(delivery("x1", "p", t0())),
    )
    .await
    .expect("answered");
    assert!(matches!(r, Ok(Enqueued::Accepted(_))));
    assert!(
        crate::support::eventually(Duration::from_secs(5), || async {
            db.stats().await.unwrap().pending == 2
        })
        .await
    );
}

/// More old done tasks than one purge batch (1 000): all go, in several trips; open tasks
/// and recently done ones stay.
async fn the_done_purge_takes_every_old_done_task_in_batches_and_nothing_else(b: Backend) {
    use botper::ports::AccessStore;
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let old = t0().as_millisecond() - 90 * 86_400_000;
    let recent = t0().as_millisecond() - 86_400_000;
    let rows = |from: u32, to: u32, done: u8, done_at: &str| {
        (from..=to)
            .map(|n| format!("('p{}', {n}, 't{n}', {done}, 0, {done_at})", n % 7))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!(
        "INSERT INTO tasks (owner, number, title, done, created_at, done_at) VALUES {}, {}, {}",
        rows(1, 2_345, 1, &old.to_string()),
        rows(2_346, 2_350, 1, &recent.to_string()),
        rows(2_351, 2_360, 0, "NULL"),
    );
    exec_raw(&tdb, &sql);
    let cutoff = t0() - jiff::SignedDuration::from_hours(30 * 24);
    assert_eq!(db.purge_done(cutoff).await.unwrap(), 2_345);
    assert_eq!(
        tdb.count_rows("tasks"),
        15,
        "recent done and open tasks stay"
    );
    assert_eq!(db.purge_done(cutoff).await.unwrap(), 0);
}

fn exec_raw(tdb: &TestDb, sql: &str) {
    match &tdb.target {
        botper::adapters::db::DbTarget::Postgres(url) => {
            let mut c = diesel::PgConnection::establish(url).unwrap();
            diesel::sql_query(sql).execute(&mut c).unwrap();
        }
        botper::adapters::db::DbTarget::Sqlite(path) => {
            let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
            diesel::sql_query(sql).execute(&mut c).unwrap();
        }
    }
}

async fn an_unreadable_item_becomes_a_dead_letter_and_blocks_nobody(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("a1", "alice", t0())).await.unwrap();
    db.enqueue(delivery("a2", "alice", t0())).await.unwrap();
    // Written by a newer version that knows an event this one does not.
    exec_raw(
        &tdb,
        "UPDATE inbox SET payload = '{\"type\":\"future_event\"}' WHERE data_id = 'a1'",
    );
    let next = db.claim("w".into(), LEASE, t0()).await.unwrap().unwrap();
    assert!(
        matches!(&next.event, WebexEvent::MessageCreated { message_id, .. } if message_id.as_str() == "a2")
    );
    let dead = db.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key.data_id, "a1");
    assert!(
        dead[0].last_error.starts_with("cannot be read"),
        "{}",
        dead[0].last_error
    );
}

async fn a_renewed_lease_keeps_the_item(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    db.enqueue(delivery("m", "p", t0())).await.unwrap();
    let item = db.claim("slow".into(), LEASE, t0()).await.unwrap().unwrap();
    // Still working 20 s later: the lease is extended to 12:01:20.
    assert!(
        db.renew_lease(item.id, "slow".into(), at("2026-11-29T12:01:20Z"))
            .await
            .unwrap()
    );
    // At 12:01:00 the original lease (12:00:30) would have expired; the renewed one holds.
    assert!(
        db.claim("other".into(), LEASE, at("2026-11-29T12:01:00Z"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !db.renew_lease(item.id, "other".into(), at("2026-11-29T12:05:00Z"))
            .await
            .unwrap(),
        "only the holder renews"
    );
    db.complete(item.id, "slow".into(), at("2026-11-29T12:01:10Z"))
        .await
        .unwrap();
}

async fn a_lease_has_one_holder_until_it_expires_or_is_released(b: Backend) {
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let ttl = Duration::from_secs(30);
    let take = |who: &str, t: Timestamp| db.acquire("events".into(), who.into(), ttl, t);
    assert!(take("a", t0()).await.unwrap());
    assert!(!take("b", t0()).await.unwrap(), "held by a");
    assert!(
        take("a", at("2026-11-29T12:00:20Z")).await.unwrap(),
        "renewed"
    );
    assert!(
        !take("b", at("2026-11-29T12:00:40Z")).await.unwrap(),
        "the renewal runs to 12:00:50"
    );
    assert_eq!(
        db.holder("events".into()).await.unwrap(),
        Some(("a".into(), at("2026-11-29T12:00:50Z")))
    );
    assert!(
        take("b", at("2026-11-29T12:00:51Z")).await.unwrap(),
        "expired: taken over"
    );
    assert!(!take("a", at("2026-11-29T12:00:52Z")).await.unwrap());
    Leases::release(&db, "events".into(), "a".into())
        .await
        .unwrap();
    assert!(
        !take("a", at("2026-11-29T12:00:53Z")).await.unwrap(),
        "only the holder releases"
    );
    Leases::release(&db, "events".into(), "b".into())
        .await
        .unwrap();
    assert!(
        take("a", at("2026-11-29T12:00:54Z")).await.unwrap(),
        "released: free"
    );
    assert!(db.holder("other".into()).await.unwrap().is_none());
    // Many contenders at once: exactly one wins a free lease.
    let wins = futures_util::future::join_all((0..8).map(|k| {
        let db = db.clone();
        async move {
            db.acquire("race".into(), format!("i{k}"), ttl, t0())
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
}

async fn meeting_poll_snapshots_replace_and_forget(b: Backend) {
    use botper::domain::polling::Seen;
    let tdb = TestDb::new(b);
    let db = tdb.open().await;
    let p = PersonId::new("p1");
    let seen = |id: &str, fp: &str| Seen {
        id: id.into(),
        fingerprint: fp.into(),
        start: at("2026-12-08T09:00:00Z"),
    };
    assert_eq!(db.seen(p.clone()).await.unwrap(), None, "no baseline yet");
    db.save_seen(p.clone(), vec![], t0()).await.unwrap();
    assert_eq!(
        db.seen(p.clone()).await.unwrap(),
        Some(vec![]),
        "an empty baseline"
    );
    db.save_seen(p.clone(), vec![seen("a", "1"), seen("b", "1")], t0())
        .await
        .unwrap();
    db.save_seen(p.clone(), vec![seen("b", "2"), seen("c", "1")], t0())
        .await
        .unwrap();
    assert_eq!(
        db.seen(p.clone()).await.unwrap(),
        Some(vec![seen("b", "2"), seen("c", "1")])
    );
    assert_eq!(db.seen(PersonId::new("p2")).await.unwrap(), None);
    db.forget_seen(p.clone()).await.unwrap();
    assert_eq!(db.seen(p.clone()).await.unwrap(), None);
    assert_eq!(tdb.count_rows("meeting_polls"), 0);
}

/// Postgres: a settle's own transaction commits without waiting for the WAL flush (migration
/// 15), and only it: the setting ends with that transaction, so a delivery or a change on the
/// same connection afterwards commits synchronously.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_settle_alone_commits_asynchronously() {
    use diesel::connection::SimpleConnection;
    let tdb = TestDb::new(Backend::Postgres);
    let db = tdb.open().await;
    db.enqueue(delivery("s1", "p", t0())).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        synchronous_commit: String,
    }
    let mut c = diesel::PgConnection::establish(&tdb.url).unwrap();
    let show = |c: &mut diesel::PgConnection| {
        diesel::sql_query("SHOW synchronous_commit")
            .get_result::<Setting>(c)
            .unwrap()
            .synchronous_commit
    };
    assert_eq!(show(&mut c), "on");
    c.batch_execute("BEGIN").unwrap();
    let now = t0().as_millisecond();
    diesel::sql_query(format!(
        "SELECT * FROM botper_settle(NULL, 'w', {now}, {})",
        now + 60_000
    ))
    .execute(&mut c)
    .unwrap();
    assert_eq!(show(&mut c), "off", "inside the settle's transaction");
    c.batch_execute("COMMIT").unwrap();
    assert_eq!(show(&mut c), "on", "after it");
    // The call claimed the delivery (its commit counted as any other).
    assert_eq!(db.stats().await.unwrap().processing, 1);
}
