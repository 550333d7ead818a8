//! The `botper` command line: help, one-line errors, migrate, chat, webhooks sync/list,
//! doctor and the inbox commands, run as the real binary.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::fake_webex::{BOT_TOKEN, FakeWebex};
use crate::support::process::botper;
use crate::support::{SECRET, TOKEN_KEY};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command, stdin: &str) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn in_dir(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut c = botper();
    c.current_dir(dir).args(args).env("RUST_LOG", "warn");
    c
}

fn with_webex(dir: &std::path::Path, fake: &FakeWebex, args: &[&str]) -> Command {
    let mut c = in_dir(dir, args);
    c.env("WEBEX_BOT_TOKEN", BOT_TOKEN)
        .env("WEBEX_WEBHOOK_SECRET", SECRET)
        .env("WEBEX_API_BASE_URL", fake.base_url())
        .env("BOTPER_PUBLIC_URL", "https://botper.example.com")
        .env("BOTPER_TOKEN_KEY", TOKEN_KEY);
    c
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(in_dir(dir.path(), &["--help"]), "");
    assert_eq!(r.code, 0);
    for sub in ["serve", "migrate", "inbox", "webhooks", "chat", "doctor"] {
        assert!(r.stdout.contains(sub), "{sub} missing from:\n{}", r.stdout);
    }
    for args in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["inbox", "--help"],
        &["inbox", "dead", "--help"],
        &["webhooks", "sync", "--help"],
        &["webhooks", "list", "--help"],
        &["chat", "--help"],
        &["doctor", "--help"],
    ] {
        let r = run(in_dir(dir.path(), args), "");
        assert_eq!(r.code, 0, "{args:?}");
        assert!(r.stdout.contains("Usage: botper"), "{args:?}: {}", r.stdout);
    }
}

#[test]
fn bad_input_is_one_clear_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["bogus"][..], "unrecognized subcommand 'bogus'"),
        (&["inbox", "retry", "abc"], "invalid value 'abc'"),
        (&["inbox", "dead", "--limit", "0"], "0 is not in 1..=1000"),
        (&["chat", "--as"], "a value is required"),
    ] {
        let r = run(in_dir(dir.path(), args), "");
        assert_eq!(r.code, 2, "{args:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("botper: ") && r.stderr.contains(needle),
            "{}",
            r.stderr
        );
    }
    let r = run(in_dir(dir.path(), &["inbox", "retry", "99"]), "");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("there is no dead letter 99"),
        "{}",
        r.stderr
    );
}

#[test]
fn migrate_then_inbox_commands_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(in_dir(dir.path(), &["migrate"]), "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("SQLite file botper.db: 13 migration(s) applied"),
        "{}",
        r.stdout
    );
    let r = run(in_dir(dir.path(), &["migrate"]), "");
    assert!(r.stdout.contains("0 migration(s) applied"), "{}", r.stdout);
    let r = run(in_dir(dir.path(), &["inbox", "stats"]), "");
    assert_eq!(r.stdout, "pending 0\nprocessing 0\ndone 0\ndead 0\n");
    let r = run(in_dir(dir.path(), &["inbox", "dead"]), "");
    assert_eq!(r.stdout, "no dead letters\n");
}

#[test]
fn chat_runs_commands_against_the_embedded_store_without_webex() {
    let dir = tempfile::tempdir().unwrap();
    // An unreachable Webex proves the console needs no network.
    let mut cmd = in_dir(dir.path(), &["chat", "--as", "ana"]);
    cmd.env("WEBEX_API_BASE_URL", "http://127.0.0.1:9/v1");
    let r = run(
        cmd,
        "task Buy milk\ntask <@all> *bold*\n\nlist\ndone 1\ndelete abc\nmeeting Standup\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "botper> Added task #1 Buy milk.");
    assert_eq!(lines[1], "botper> Added task #2 <@all> *bold*.");
    assert!(
        r.stdout
            .contains("- #1 Buy milk\n        - #2 <@all> *bold*"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("botper> Done: #1 Buy milk."));
    assert!(r.stdout.contains("“abc” is not a task number"));
    assert!(r.stdout.contains("connect your Webex account"));
    // The store kept them; another person's console is separate.
    let r = run(in_dir(dir.path(), &["chat", "--as", "ana"]), "list\n");
    assert!(
        r.stdout.contains("#2 <@all> *bold*") && !r.stdout.contains("Buy milk"),
        "{}",
        r.stdout
    );
    let r = run(in_dir(dir.path(), &["chat", "--as", "ben"]), "list\n");
    assert!(r.stdout.contains("no open tasks"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_sync_creates_reactivates_leaves_foreign_alone_and_is_idempotent() {
    let fake = FakeWebex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let target = "https://botper.example.com/webex/webhook";
    let bot = fake.bot.clone();
    let inactive = fake.add_webhook(
        &bot,
        "messages",
        target,
        "Botper: messages/created",
        "inactive",
        SECRET,
    );
    let foreign = fake.add_webhook(
        &bot,
        "messages",
        "https://elsewhere.example/hook",
        "my own hook",
        "active",
        "theirs",
    );
    let stale = fake.add_webhook(
        &bot,
        "memberships",
        "https://old.example/webex/webhook",
        "Botper: memberships/created",
        "active",
        "old",
    );

    let r = tokio::task::block_in_place(|| {
        run(with_webex(dir.path(), &fake, &["webhooks", "sync"]), "")
    });
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("messages/created: re-activated ({inactive})")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("attachmentActions/created: created"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("memberships/created: created"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "left alone (Botper's name, another target URL: another deployment or an old address; delete it if it is this one's): {stale}"
        )),
        "another deployment's webhook is not taken over: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("left alone (not created by Botper): {foreign}")),
        "{}",
        r.stdout
    );

    let hooks = fake.webhooks();
    assert_eq!(hooks.len(), 5, "two created, none deleted");
    for h in &hooks {
        if h.body["id"] == foreign.as_str() {
            assert_eq!(h.body["targetUrl"], "https://elsewhere.example/hook");
            assert_eq!(h.body["secret"], "theirs");
        } else if h.body["id"] == stale.as_str() {
            assert_eq!(h.body["targetUrl"], "https://old.example/webex/webhook");
            assert_eq!(h.body["secret"], "old");
        } else {
            assert_eq!(h.body["targetUrl"], target);
            assert_eq!(h.body["status"], "active");
            assert_eq!(h.body["secret"], SECRET);
        }
    }
    let mutations = |f: &FakeWebex| {
        f.requests()
            .iter()
            .filter(|(m, p, _)| p.starts_with("/webhooks") && m != "GET")
            .count()
    };
    let before = mutations(&fake);
    let r = tokio::task::block_in_place(|| {
        run(with_webex(dir.path(), &fake, &["webhooks", "sync"]), "")
    });
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.matches(": ok (").count(), 3, "{}", r.stdout);
    assert_eq!(mutations(&fake), before, "a second sync changes nothing");

    let r = tokio::task::block_in_place(|| {
        run(with_webex(dir.path(), &fake, &["webhooks", "list"]), "")
    });
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.lines().count(), 5);
    assert!(r.stdout.contains("(not Botper's)"));
    fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_what_is_wrong_and_what_to_do() {
    let fake = FakeWebex::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Before sync: the webhooks are missing.
    let r = tokio::task::block_in_place(|| run(with_webex(dir.path(), &fake, &["doctor"]), ""));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("ok   bot token: valid for Botper (botper@webex.bot)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("FAIL webhook: messages/created is missing, inactive or points elsewhere: run `botper webhooks sync`"), "{}", r.stdout);
    assert!(r.stderr.contains("problem(s) found"));
    tokio::task::block_in_place(|| run(with_webex(dir.path(), &fake, &["webhooks", "sync"]), ""));
    let r = tokio::task::block_in_place(|| run(with_webex(dir.path(), &fake, &["doctor"]), ""));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("all checks passed"));

    // The integration's credentials, probed at the token endpoint.
    let mut with_oauth = with_webex(dir.path(), &fake, &["doctor"]);
    with_oauth
        .env("WEBEX_CLIENT_ID", crate::support::fake_webex::CLIENT_ID)
        .env(
            "WEBEX_CLIENT_SECRET",
            crate::support::fake_webex::CLIENT_SECRET,
        );
    let r = tokio::task::block_in_place(|| run(with_oauth, ""));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "ok   sign-in: Webex's token endpoint accepts WEBEX_CLIENT_ID and WEBEX_CLIENT_SECRET"
        ),
        "{}",
        r.stdout
    );
    let mut wrong_secret = with_webex(dir.path(), &fake, &["doctor"]);
    wrong_secret
        .env("WEBEX_CLIENT_ID", crate::support::fake_webex::CLIENT_ID)
        .env("WEBEX_CLIENT_SECRET", "pasted-the-wrong-one");
    let r = tokio::task::block_in_place(|| run(wrong_secret, ""));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("FAIL sign-in: Webex refused (400, invalid_client)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("their grants are kept"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("pasted-the-wrong-one") && !r.stderr.contains("pasted-the-wrong-one")
    );

    // A Botper-named webhook that Botper never registers, and one of another deployment.
    let bot = fake.bot.clone();
    fake.add_webhook(
        &bot,
        "rooms",
        "https://botper.example.com/webex/webhook",
        "Botper: rooms/created",
        "active",
        "s",
    );
    fake.add_webhook(
        &bot,
        "messages",
        "https://old.example.com/webex/webhook",
        "Botper: messages/created",
        "active",
        "s",
    );
    let r = tokio::task::block_in_place(|| run(with_webex(dir.path(), &fake, &["doctor"]), ""));
    assert_eq!(r.code, 0, "warnings only: {}", r.stdout);
    assert!(
        r.stdout.contains(
            "is named like Botper's but is rooms/created, which Botper does not register"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("(messages/created) is named like Botper's but points at https://old.example.com/webex/webhook"),
        "{}",
        r.stdout
    );

    let mut bad_token = with_webex(dir.path(), &fake, &["doctor"]);
    bad_token.env("WEBEX_BOT_TOKEN", "revoked-token");
    let r = tokio::task::block_in_place(|| run(bad_token, ""));
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("FAIL bot token: Webex refused WEBEX_BOT_TOKEN (401)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("revoked-token") && !r.stderr.contains("revoked-token"));

    let mut offline = with_webex(dir.path(), &fake, &["doctor"]);
    offline.env("WEBEX_API_BASE_URL", "http://127.0.0.1:9/v1");
    let r = tokio::task::block_in_place(|| run(offline, ""));
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("FAIL Webex: cannot reach Webex at http://127.0.0.1:9/v1"),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_syncs_the_bots_webhooks_at_start_when_asked() {
    let app = crate::support::spawn_app_with(crate::support::AppOptions {
        env: vec![("BOTPER_SYNC_WEBHOOKS", "true".into())],
        ..Default::default()
    })
    .await;
    assert!(
        crate::support::eventually(std::time::Duration::from_secs(10), || async {
            app.fake.webhooks().len() == 3
        })
        .await
    );
    let mut kinds: Vec<String> = app
        .fake
        .webhooks()
        .iter()
        .map(|h| {
            assert_eq!(h.body["targetUrl"], app.url("/webex/webhook"));
            h.body["resource"].as_str().unwrap().to_owned()
        })
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["attachmentActions", "memberships", "messages"]);
}

#[test]
fn json_logs_are_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    // A fresh store: opening it logs the migrations at info.
    let mut cmd = in_dir(dir.path(), &["inbox", "stats"]);
    cmd.env("BOTPER_LOG_FORMAT", "json").env("RUST_LOG", "info");
    let r = run(cmd, "");
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(!lines.is_empty(), "opening the store logs at info");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
}
