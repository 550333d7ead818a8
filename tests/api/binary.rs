//! The real `botper` binary: configuration errors, the startup log, the embedded default,
//! `.env`, a full command round trip, and shutdown on SIGTERM.

use std::time::Duration;

use crate::support::fake_webex::{BOT_TOKEN, CLIENT_ID, CLIENT_SECRET, FakeWebex};
use crate::support::process::{Proc, botper};
use crate::support::{SECRET, message_created};

#[test]
fn invalid_values_stop_startup_with_one_line_and_exit_code_2() {
    for (var, value) in [
        ("BOTPER_BIND", "not-an-address"),
        ("WEBEX_API_BASE_URL", "::nonsense::"),
        ("DATABASE_URL", "mysql://db/botper"),
        ("BOTPER_TOKEN_KEY", "too-short"),
        ("BOTPER_PUBLIC_URL", "botper.example.com"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = botper()
            .current_dir(dir.path())
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("botper: invalid {var}:")),
            "{stderr}"
        );
    }
}

#[test]
fn with_no_configuration_it_serves_on_the_embedded_store_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn({
        let mut c = botper();
        c.current_dir(dir.path()).env("BOTPER_BIND", "127.0.0.1:0");
        c
    });
    let addr = p.addr();
    p.wait_for("WEBEX_BOT_TOKEN is not set");
    p.wait_for("WEBEX_WEBHOOK_SECRET is not set");
    p.wait_for("SQLite file botper.db");
    p.wait_for("generated a token key");
    let key = dir.path().join("botper.db.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is private");
    }
    let page = reqwest::blocking::get(format!("{addr}/")).unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("Botper keeps your tasks"));
    let ready = reqwest::blocking::get(format!("{addr}/readyz")).unwrap();
    assert_eq!(ready.status(), 200);
    assert!(dir.path().join("botper.db").exists());
    let (code, took) = p.terminate();
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_commands_with_settings_from_a_dot_env_file() {
    let fake = FakeWebex::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "WEBEX_BOT_TOKEN={BOT_TOKEN}\nWEBEX_WEBHOOK_SECRET={SECRET}\nWEBEX_API_BASE_URL={}\nBOTPER_BIND=127.0.0.1:0\nBOTPER_EVENTS=webhooks\n",
            fake.base_url()
        ),
    )
    .unwrap();
    let mut p = Proc::spawn({
        let mut c = botper();
        c.current_dir(dir.path());
        c
    });
    let addr = tokio::task::block_in_place(|| p.addr());
    tokio::task::block_in_place(|| p.wait_for("bot identity confirmed"));

    let alice = fake.add_person("Alice");
    let room = fake.new_room_id();
    let id = fake.user_says(&alice, &room, "task From the binary", None);
    let body = serde_json::to_vec(&message_created(&id, &room, &alice.id)).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{addr}/webex/webhook"))
        .header(
            "x-spark-signature",
            botper::adapters::http::signature::sign(SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = fake.wait_for_sent(1, Duration::from_secs(10)).await;
    assert_eq!(sent[0].markdown(), "Added task **#1** From the binary.");

    let (code, _) = tokio::task::block_in_place(|| p.terminate());
    assert_eq!(code, 0);
    let log = p.all_output();
    assert!(!log.contains(BOT_TOKEN), "the bot token reached the log");
    assert!(!log.contains(SECRET), "the webhook secret reached the log");
}

#[test]
fn postgres_without_a_token_key_stops_with_one_line() {
    let out = botper()
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("botper: invalid BOTPER_TOKEN_KEY: is required with Postgres"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_code_or_secret_reaches_the_log_even_at_debug_level() {
    let fake = FakeWebex::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn({
        let mut c = botper();
        c.current_dir(dir.path())
            .env("RUST_LOG", "debug")
            .env("WEBEX_BOT_TOKEN", BOT_TOKEN)
            .env("WEBEX_WEBHOOK_SECRET", SECRET)
            .env("WEBEX_API_BASE_URL", fake.base_url())
            .env("WEBEX_CLIENT_ID", CLIENT_ID)
            .env("WEBEX_CLIENT_SECRET", CLIENT_SECRET)
            .env("BOTPER_BIND", format!("127.0.0.1:{port}"))
            .env("BOTPER_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("BOTPER_EVENTS", "webhooks")
            .env("BOTPER_TOKEN_KEY", crate::support::TOKEN_KEY);
        c
    });
    let addr = tokio::task::block_in_place(|| p.addr());

    // Connect, refresh (short-lived token), create a meeting.
    let alice = fake.add_person("Alice");
    fake.sign_in_as(&alice);
    fake.set_access_ttl(Duration::from_secs(60));
    let browser = crate::support::browser();
    let page = browser
        .get(format!("{addr}/auth/webex/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Connected as Alice"), "{page}");
    // The refreshed token lives long, so the short-lived one is refreshed
    // exactly once however the connect-time calls and the command interleave.
    fake.set_access_ttl(Duration::from_secs(14 * 86_400));
    let room = fake.new_room_id();
    let id = fake.user_says(&alice, &room, "meeting Secretive", None);
    let body = serde_json::to_vec(&message_created(&id, &room, &alice.id)).unwrap();
    reqwest::Client::new()
        .post(format!("{addr}/webex/webhook"))
        .header(
            "x-spark-signature",
            botper::adapters::http::signature::sign(SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let sent = fake.wait_for_sent(1, Duration::from_secs(10)).await;
    assert!(
        sent[0].markdown().contains("is scheduled"),
        "{}",
        sent[0].markdown()
    );
    assert_eq!(fake.refresh_requests(), 1);

    let (code, _) = tokio::task::block_in_place(|| p.terminate());
    assert_eq!(code, 0);
    let log = p.all_output();
    assert!(
        log.contains("access token refreshed"),
        "the log is really at work"
    );
    let mut secrets = vec![
        BOT_TOKEN.to_owned(),
        SECRET.to_owned(),
        CLIENT_SECRET.to_owned(),
        crate::support::TOKEN_KEY.to_owned(),
        "code-".to_owned(),
        "user-access-".to_owned(),
        "user-refresh-".to_owned(),
    ];
    secrets.extend(fake.access_tokens_of(&alice));
    for s in secrets {
        assert!(!log.contains(&s), "{s:?} reached the log");
    }
}
