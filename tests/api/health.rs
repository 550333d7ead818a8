//! `/healthz` says the process is up; `/readyz` says the database answers.

use crate::support::{Backend, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_readyz_on_sqlite() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_when_the_database_goes_away() {
    let app = spawn_app(Backend::Postgres).await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut app = app;
    // Dropping the test database (WITH FORCE) cuts every connection of the pool.
    let name = app.db.url.rsplit('/').next().unwrap().to_owned();
    {
        use diesel::{Connection, RunQueryDsl};
        let mut admin = diesel::PgConnection::establish(&crate::support::admin_url()).unwrap();
        diesel::sql_query(format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#))
            .execute(&mut admin)
            .unwrap();
    }
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_webhooks_commands_webex_calls_and_the_inbox() {
    let app = spawn_app(Backend::Sqlite).await;
    let p = app.fake.add_person("Metric");
    let room = app.fake.new_room_id();
    app.ask(&p, &room, "task count me").await;
    let forged = app.post_webhook(b"{}", Some("00")).await;
    assert_eq!(forged.status(), 401);
    // The item is marked done just after the reply went out.
    let db = app.db.open().await;
    assert!(
        crate::support::eventually(std::time::Duration::from_secs(5), || async {
            botper::ports::Inbox::stats(&db).await.unwrap().done == 1
        })
        .await
    );
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    for needle in [
        r#"botper_webhooks_total{outcome="accepted",resource="messages"} 1"#,
        r#"botper_webhooks_total{outcome="unauthorized",resource="unknown"} 1"#,
        r#"botper_command_duration_seconds_count{command="task"} 1"#,
        r#"botper_webex_request_duration_seconds_count{endpoint="POST /messages",status="200"} 1"#,
        r#"botper_webex_request_duration_seconds_count{endpoint="GET /messages/{id}",status="200"} 1"#,
        r#"botper_inbox_items{state="done"} 1"#,
        r#"botper_inbox_items{state="dead"} 0"#,
        r#"botper_inbox_settled_total{outcome="done"} 1"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}
