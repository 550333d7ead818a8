//! The load tool still works (a tiny run of commands and one of reminders; benchmarks are
//! not timed tests), and a small company-size run on both stores: the `list` query uses an
//! index, the binary answers, and every due reminder arrives once.

use std::process::Command;

fn load() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_botper-load"));
    c.env_remove("DATABASE_URL")
        .arg("--botper")
        .arg(env!("CARGO_BIN_EXE_botper"));
    c
}

/// Runs `cmd`, asserts it succeeded (showing its output if not, prefixed with `what`), and
/// returns the JSON summary on its last line.
fn run_to_json(cmd: &mut Command, what: &str) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    last_json(&out.stdout)
}

fn last_json(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: last line {last:?} of\n{text}"))
}

#[test]
fn a_tiny_load_run_answers_every_command_once_and_prints_its_figures() {
    let v = run_to_json(
        load().args([
            "--requests",
            "60",
            "--concurrency",
            "4",
            "--people",
            "7",
            "--ceiling",
        ]),
        "botper-load",
    );
    assert_eq!(v["lost"], 0);
    assert_eq!(v["duplicated"], 0);
    assert_eq!(v["errors"], 0);
    for k in [
        "commands_per_sec",
        "ack_p99_ms",
        "reply_p50_ms",
        "reply_p99_ms",
        "rss_peak_mb",
        "ceiling_ratio",
    ] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k} in {v}");
    }
    // CPU per command is read in 10 ms ticks: a run this small may round to 0.
    for k in ["cpu_ms_per_command", "ceiling_cpu_ms_per_command"] {
        assert!(v[k].as_f64().is_some_and(|x| x >= 0.0), "{k} in {v}");
    }
}

/// Three instances on one Postgres database, deliveries spread over them: every command is
/// answered once.
#[test]
fn instances_sharing_a_postgres_database_answer_every_command_once() {
    let v = run_to_json(
        load()
            .args(["--requests", "90", "--concurrency", "6", "--people", "9"])
            .args(["--instances", "3", "--database-url"])
            .arg(crate::support::admin_url()),
        "botper-load",
    );
    assert_eq!(v["instances"], 3, "{v}");
    assert_eq!(
        (v["lost"].as_u64(), v["duplicated"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );
    assert_eq!(v["errors"], 0, "{v}");
}

#[test]
fn a_small_company_run_uses_an_index_and_delivers_each_due_reminder_once_on_sqlite_and_postgres() {
    for db in [None, Some(crate::support::admin_url())] {
        let mut cmd = load();
        cmd.args([
            "--scale",
            "--scale-rows",
            "30000",
            "--scale-people",
            "3000",
            "--scale-grants",
            "300",
            "--scale-reminders",
            "3000",
            "--scale-due",
            "100",
            "--scale-commands",
            "30",
        ]);
        if let Some(url) = &db {
            cmd.args(["--database-url", url]);
        }
        let v = run_to_json(&mut cmd, &format!("{db:?}"));
        assert_eq!(v["index_used"], true, "{v}");
        assert_eq!(v["rows_large"], 30000);
        assert_eq!(v["store"], if db.is_some() { "postgres" } else { "sqlite" });
        for (k, n) in [
            ("tasks", 30000),
            ("people", 3000),
            ("grants", 300),
            ("reminders", 3000),
            ("due", 100),
            ("reminders_delivered", 100),
        ] {
            assert_eq!(v[k], n, "{k} in {v}");
        }
        for k in [
            "reminders_twice",
            "reminders_lost",
            "reminders_early",
            "reminders_unexpected",
            "errors",
        ] {
            assert_eq!(v[k], 0, "{k} in {v}");
        }
        for k in [
            "startup_ms",
            "rss_idle_mb",
            "list_p50_ms",
            "list_p99_ms",
            "list_small_p50_ms",
            "agenda_p99_ms",
            "fired_per_sec",
            "lag_p99_ms",
            "seed_secs",
        ] {
            assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k} in {v}");
        }
        assert!(v["lag_p50_ms"].as_f64().is_some(), "{v}");
    }
}

#[test]
fn a_tiny_reminder_run_delivers_each_reminder_once_and_not_early() {
    let v = run_to_json(
        load().args(["--reminders", "30", "--people", "7"]),
        "botper-load",
    );
    assert_eq!(v["delivered"], 30, "{v}");
    assert_eq!(v["lost"], 0);
    assert_eq!(v["duplicated"], 0);
    assert_eq!(v["early"], 0);
    assert!(v["lag_p99_ms"].as_f64().is_some(), "{v}");
}
