//! Grants that go wrong without being the person's fault, end to end: Webex refusing the
//! integration's credentials, a token key that changed, a rotated webhook secret, a broken
//! meetings webhook.

use std::time::Duration;

use botper::app::webhooks::SyncAction;
use botper::domain::PersonId;
use botper::ports::TokenStore;

use crate::meetings::open_titles;

use crate::support::{Backend, eventually, spawn_app};

const WAIT: Duration = Duration::from_secs(10);
/// 32 bytes, base64: a key other than the suite's.
const OTHER_KEY: &str = "b3Roci10b2tlbi1rZXktdGhpcnR5LXR3by1ieXRlcyE=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webex_refusing_the_integration_keeps_the_grant_and_says_to_try_later() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app(backend).await;
        let alice = app.fake.add_person("Alice");
        // Tokens that need a refresh at once.
        app.fake.set_access_ttl(Duration::from_secs(60));
        app.connect(&alice).await;
        // The operator pastes a wrong client secret: Webex answers 400 invalid_client.
        let app = app
            .restart_with(vec![("WEBEX_CLIENT_SECRET", "not-the-secret".into())])
            .await;
        let room = app.fake.new_room_id();
        let r = app.ask(&alice, &room, "meeting Standup").await;
        assert!(
            r.contains("could not reach Webex's sign-in service; try again later"),
            "{backend:?}: {r}"
        );
        assert!(!r.contains("not-the-secret"), "{r}");
        assert!(app.fake.meetings().is_empty(), "nothing was created");
        let stored = app
            .db
            .open()
            .await
            .load(PersonId::new(alice.id.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.disconnected, None, "{backend:?}: still connected");
        let r = app.ask(&alice, &room, "status").await;
        assert!(r.contains("You're connected"), "{r}");

        // Fixed: the same grant works again, no reconnect needed.
        let app = app.restart_with(vec![]).await;
        app.fake.set_access_ttl(Duration::from_secs(14 * 86_400));
        let r = app.ask(&alice, &room, "meeting Standup").await;
        assert!(r.contains("is scheduled"), "{backend:?}: {r}");
        assert_eq!(app.fake.meetings().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_sealed_under_another_key_asks_for_renewal_and_disconnect_still_works() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app(backend).await;
        let alice = app.fake.add_person("Alice");
        app.connect(&alice).await;
        let room = app.fake.new_room_id();
        assert!(app.ask(&alice, &room, "task Keep me").await.contains("#1"));
        let app = app
            .restart_with(vec![("BOTPER_TOKEN_KEY", OTHER_KEY.into())])
            .await;

        let r = app.ask(&alice, &room, "status").await;
        assert!(r.contains("can no longer read it"), "{backend:?}: {r}");
        assert!(r.contains("renew the connection"), "{r}");
        assert!(r.contains("/auth/webex/login"), "the connect link: {r}");
        let r = app.ask(&alice, &room, "meeting Standup").await;
        assert!(r.contains("renew the connection"), "{backend:?}: {r}");
        assert!(r.contains("/auth/webex/login"), "{r}");
        assert!(app.fake.meetings().is_empty());
        // Tasks never depended on the key.
        assert!(app.ask(&alice, &room, "list").await.contains("Keep me"));

        let r = app.ask(&alice, &room, "disconnect").await;
        assert!(r.starts_with("Disconnected"), "{backend:?}: {r}");
        let r = app.ask(&alice, &room, "status").await;
        assert!(r.contains("is not connected"), "{r}");

        // Renewing seals the new grant under the new key.
        app.connect(&alice).await;
        let r = app.ask(&alice, &room, "meeting Standup").await;
        assert!(r.contains("is scheduled"), "{backend:?}: {r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_rotating_the_webhook_secret_a_sync_keeps_meetings_becoming_tasks() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app(backend).await;
        let alice = app.fake.add_person("Alice");
        let bob = app.fake.add_person("Bob");
        app.connect(&alice).await;
        app.connect(&bob).await;
        let app = app
            .restart_with(vec![("WEBEX_WEBHOOK_SECRET", "rotated-secret".into())])
            .await;

        // Before the sync, Webex still signs with the old per-person secret: refused.
        app.fake.schedule_elsewhere(&alice, "Before sync").await;
        let last = app.fake.deliveries().last().unwrap().status;
        assert_eq!(last, 401, "{backend:?}: signed with the old secret");
        assert!(open_titles(&app, &alice.id).await.is_empty());

        let people = app.app().sync_people_webhooks().await.unwrap();
        assert_eq!(people.len(), 2, "{people:?}");
        for p in &people {
            assert!(
                matches!(p.result, Ok((_, SyncAction::Updated))),
                "{backend:?}: {p:?}"
            );
        }
        // Idempotent.
        for p in app.app().sync_people_webhooks().await.unwrap() {
            assert!(matches!(p.result, Ok((_, SyncAction::Unchanged))), "{p:?}");
        }

        app.fake.schedule_elsewhere(&alice, "After sync").await;
        app.fake.schedule_elsewhere(&bob, "Bob's sync").await;
        assert!(
            eventually(WAIT, || async {
                open_titles(&app, &alice.id).await == ["1 After sync"]
                    && open_titles(&app, &bob.id).await == ["1 Bob's sync"]
            })
            .await,
            "{backend:?}: {:?}",
            app.fake.deliveries()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_does_not_claim_meetings_are_followed_when_the_webhook_is_broken() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    app.connect(&alice).await;
    let room = app.fake.new_room_id();
    let r = app.ask(&alice, &room, "status").await;
    assert!(
        r.contains("Meetings you schedule anywhere in Webex become tasks."),
        "{r}"
    );

    // Webex disabled it and refuses to let it be fixed.
    app.fake.disable_meetings_webhooks_of(&alice);
    app.fake.refuse_webhook_writes(true);
    let r = app.ask(&alice, &room, "status").await;
    assert!(r.contains("**not followed** right now"), "{r}");
    assert!(r.contains("Webhook update is not allowed"), "{r}");
    assert!(!r.contains("anywhere in Webex become tasks"), "{r}");

    // Fixable: status repairs it and says so.
    app.fake.refuse_webhook_writes(false);
    let r = app.ask(&alice, &room, "status").await;
    assert!(r.contains("that is repaired now"), "{r}");
    app.fake.schedule_elsewhere(&alice, "Followed again").await;
    assert!(
        eventually(WAIT, || async {
            open_titles(&app, &alice.id).await == ["1 Followed again"]
        })
        .await
    );
}
