//! The fault suite: nothing lost, nothing twice — under redeliveries, Webex failures, a
//! database that stops, a process killed with SIGKILL, several processes on one Postgres,
//! and forged input. Each test prints its figures (and appends them to
//! `target/fault-suite.txt`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use botper::adapters::http::signature::sign;
use botper::adapters::webex::RetryPolicy;
use botper::app::worker::WorkerOptions;
use botper::domain::PersonId;
use botper::ports::{Inbox, TaskRepository};
use botper::startup::Tuning;
use serde_json::Value;

use crate::support::fake_webex::{BOT_TOKEN, FakeWebex, Fault, FaultPlan, Person};
use crate::support::pg_cluster::PgCluster;
use crate::support::process::{Proc, botper};
use crate::support::{
    AppOptions, Backend, Rng, SECRET, ScaledClock, TOKEN_KEY, TestApp, TestDb, eventually,
    message_created, report, spawn_app_on, spawn_app_with,
};

/// Settings for fault tests: no rate limit (one person sends many commands), short retries.
fn fast_options(backend: Backend) -> AppOptions {
    AppOptions {
        backend,
        env: vec![
            ("BOTPER_RATE_LIMIT_PER_MINUTE", "0".into()),
            ("BOTPER_WORKERS", "4".into()),
        ],
        tuning: Tuning {
            worker: Some(WorkerOptions {
                workers: 4,
                lease: Duration::from_secs(4),
                poll_interval: Duration::from_millis(50),
                retry_base: Duration::from_millis(20),
                retry_max: Duration::from_millis(500),
                max_attempts: 12,
                ..WorkerOptions::default()
            }),
            ..Tuning::default()
        },
    }
}

/// `count` commands `task <prefix>NNNN` from `people` people, each in their own space.
struct Workload {
    people: Vec<(Person, String)>,
    /// (title, envelope)
    commands: Vec<(String, Value)>,
}

fn workload(fake: &FakeWebex, prefix: &str, people: usize, count: usize) -> Workload {
    let people: Vec<(Person, String)> = (0..people)
        .map(|i| (fake.add_person(&format!("Person {i}")), fake.new_room_id()))
        .collect();
    let commands = (0..count)
        .map(|i| {
            let (p, room) = &people[i % people.len()];
            let title = format!("{prefix}{i:04}");
            let id = fake.user_says(p, room, &format!("task {title}"), None);
            (title, message_created(&id, room, &p.id))
        })
        .collect();
    Workload { people, commands }
}

/// How many replies mention each title.
fn replies_by_title(fake: &FakeWebex, prefix: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for s in fake.sent() {
        for word in s.markdown().split_whitespace() {
            let w = word.trim_end_matches(['.', ',']);
            if w.starts_with(prefix) {
                *counts.entry(w.to_owned()).or_insert(0) += 1;
            }
        }
    }
    counts
}

async fn wait_for_titles(fake: &FakeWebex, prefix: &str, n: usize, timeout: Duration) -> bool {
    eventually(timeout, || async {
        replies_by_title(fake, prefix).len() >= n
    })
    .await
}

/// Every title was answered exactly once; returns (answered, duplicated).
fn exactly_once(fake: &FakeWebex, prefix: &str, titles: &[String]) -> (usize, usize) {
    let counts = replies_by_title(fake, prefix);
    let answered = titles.iter().filter(|t| counts.contains_key(*t)).count();
    let duplicated = counts.values().filter(|n| **n > 1).count();
    (answered, duplicated)
}

/// Every title is stored as a task exactly once.
async fn tasks_once(db: &TestDb, w: &Workload) -> usize {
    let store = db.open().await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (p, _) in &w.people {
        for t in store.list_open(PersonId::new(p.id.clone())).await.unwrap() {
            *seen.entry(t.title.as_str().to_owned()).or_insert(0) += 1;
        }
    }
    for (title, _) in &w.commands {
        assert_eq!(
            seen.get(title),
            Some(&1),
            "task {title} stored {:?} times",
            seen.get(title)
        );
    }
    seen.len()
}

async fn drained(app: &TestApp) {
    let db = app.db.open().await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            let s = db.stats().await.unwrap();
            s.pending == 0 && s.processing == 0
        })
        .await,
        "inbox did not drain"
    );
}

async fn redeliveries(backend: Backend) {
    let fake = FakeWebex::start().await;
    let app = spawn_app_on(fake.clone(), TestDb::new(backend), fast_options(backend)).await;
    let w = workload(&fake, "dup", 8, 64);
    let mut rng = Rng(0x5eed_0001);
    let mut sends: Vec<&Value> = Vec::new();
    for (i, (_, env)) in w.commands.iter().enumerate() {
        sends.push(env);
        sends.push(env);
        if i % 4 == 0 {
            sends.push(env);
        }
    }
    rng.shuffle(&mut sends);
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for chunk in sends.chunks(8) {
        let results = futures_util::future::join_all(chunk.iter().map(|e| app.deliver(e))).await;
        for s in results {
            *statuses.entry(s).or_insert(0) += 1;
        }
    }
    let titles: Vec<String> = w.commands.iter().map(|(t, _)| t.clone()).collect();
    assert!(wait_for_titles(&fake, "dup", titles.len(), Duration::from_secs(30)).await);
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (answered, duplicated) = exactly_once(&fake, "dup", &titles);
    let tasks = tasks_once(&app.db, &w).await;
    let inbox = app.db.open().await.stats().await.unwrap();
    report(
        &format!("redeliveries[{backend:?}]"),
        &[
            ("commands", titles.len().to_string()),
            ("deliveries", sends.len().to_string()),
            (
                "http_200",
                statuses.get(&200).copied().unwrap_or(0).to_string(),
            ),
            ("inbox_rows", inbox.done.to_string()),
            ("tasks", tasks.to_string()),
            ("replies", fake.sent_count().to_string()),
            ("duplicated_replies", duplicated.to_string()),
        ],
    );
    assert_eq!(statuses.get(&200), Some(&sends.len()));
    assert_eq!(answered, titles.len());
    assert_eq!(duplicated, 0);
    assert_eq!(fake.sent_count(), titles.len());
    assert_eq!(inbox.done as usize, titles.len(), "one inbox row per event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_twice_some_thrice_out_of_order_files_each_task_once_on_sqlite() {
    redeliveries(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_twice_some_thrice_out_of_order_files_each_task_once_on_postgres() {
    redeliveries(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_fifth_of_webex_calls_failing_every_command_is_answered_exactly_once() {
    let fake = FakeWebex::start().await;
    let mut options = fast_options(Backend::Postgres);
    options.tuning.retry = Some(RetryPolicy {
        max_attempts: 4,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_millis(600),
    });
    let app = spawn_app_on(fake.clone(), TestDb::new(Backend::Postgres), options).await;
    fake.inject_faults(FaultPlan {
        percent: 20,
        kinds: vec![
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
            Fault::ServerError,
            Fault::Slow(Duration::from_millis(900)),
            Fault::DropConnection,
        ],
        seed: 42,
    });
    let w = workload(&fake, "flt", 8, 48);
    for (_, env) in &w.commands {
        assert_eq!(app.deliver(env).await, 200);
    }
    let titles: Vec<String> = w.commands.iter().map(|(t, _)| t.clone()).collect();
    let started = Instant::now();
    assert!(wait_for_titles(&fake, "flt", titles.len(), Duration::from_secs(60)).await);
    drained(&app).await;
    let (answered, duplicated) = exactly_once(&fake, "flt", &titles);
    let injected = fake.injected();
    let calls = fake.faultable_calls();
    let total: usize = injected.values().sum();

    report(
        "webex_faults_20pct",
        &[
            ("commands", titles.len().to_string()),
            ("webex_calls", calls.to_string()),
            ("failed_calls", total.to_string()),
            ("429", injected.get("429").copied().unwrap_or(0).to_string()),
            ("500", injected.get("500").copied().unwrap_or(0).to_string()),
            (
                "slow",
                injected.get("slow").copied().unwrap_or(0).to_string(),
            ),
            (
                "dropped",
                injected.get("dropped").copied().unwrap_or(0).to_string(),
            ),
            ("answered", answered.to_string()),
            ("duplicated_replies", duplicated.to_string()),
            (
                "dead_letters",
                app.db.open().await.stats().await.unwrap().dead.to_string(),
            ),
            ("seconds", format!("{:.1}", started.elapsed().as_secs_f64())),
        ],
    );
    assert!(
        total * 100 >= calls as usize * 10,
        "faults were injected ({total}/{calls})"
    );
    assert_eq!(answered, titles.len());
    assert_eq!(duplicated, 0);
    assert_eq!(fake.sent_count(), titles.len());
    tasks_once(&app.db, &w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stops_and_starts_and_no_acknowledged_delivery_is_lost() {
    let cluster = PgCluster::start();
    let fake = FakeWebex::start().await;
    let app = spawn_app_on(
        fake.clone(),
        TestDb::external(&cluster.url()),
        fast_options(Backend::Postgres),
    )
    .await;
    let w = workload(&fake, "out", 6, 80);
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    let mut readyz_during_outage = Vec::new();
    let cluster = std::sync::Arc::new(cluster);
    for (i, (title, env)) in w.commands.iter().enumerate() {
        if i == 20 {
            let c = cluster.clone();
            tokio::task::spawn_blocking(move || c.down()).await.unwrap();
        }
        if (20..45).contains(&i) && i % 5 == 0 {
            let r = app.client.get(app.url("/readyz")).send().await.unwrap();
            readyz_during_outage.push(r.status().as_u16());
        }
        if i == 45 {
            let c = cluster.clone();
            tokio::task::spawn_blocking(move || c.up()).await.unwrap();
        }
        match app.deliver(env).await {
            200 => acked.push(title.clone()),
            _ => refused.push((title.clone(), env.clone())),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused_count = refused.len();
    // Webex sends refused deliveries again; so do we, now that the database is back.
    for (title, env) in &refused {
        let ok = eventually(Duration::from_secs(20), || async {
            app.deliver(env).await == 200
        })
        .await;
        assert!(
            ok,
            "redelivery of {title} refused after the database came back"
        );
    }
    let titles: Vec<String> = w.commands.iter().map(|(t, _)| t.clone()).collect();
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    assert!(wait_for_titles(&fake, "out", titles.len(), Duration::from_secs(60)).await);
    drained(&app).await;
    let (answered, duplicated) = exactly_once(&fake, "out", &titles);
    let acked_answered = exactly_once(&fake, "out", &acked).0;
    report(
        "database_outage",
        &[
            ("commands", titles.len().to_string()),
            ("acked_first_time", acked.len().to_string()),
            ("refused_503_while_down", refused_count.to_string()),
            ("readyz_while_down", format!("{readyz_during_outage:?}")),
            ("readyz_after", ready.as_u16().to_string()),
            ("acked_answered", acked_answered.to_string()),
            ("answered", answered.to_string()),
            ("duplicated_replies", duplicated.to_string()),
        ],
    );
    assert!(refused_count > 0, "the outage was seen");
    assert!(
        readyz_during_outage.iter().all(|s| *s == 503),
        "{readyz_during_outage:?}"
    );
    assert_eq!(ready, 200, "recovered without a restart");
    assert_eq!(
        acked_answered,
        acked.len(),
        "an acknowledged delivery was lost"
    );
    assert_eq!(answered, titles.len());
    tasks_once(&app.db, &w).await;
}

/// The real binary on `db`, talking to `fake`.
pub(crate) fn spawn_binary(fake: &FakeWebex, db: &TestDb, workers: u32) -> (Proc, String) {
    let mut cmd = botper();
    cmd.env("WEBEX_BOT_TOKEN", BOT_TOKEN)
        .env("WEBEX_WEBHOOK_SECRET", SECRET)
        .env("WEBEX_API_BASE_URL", fake.base_url())
        .env("DATABASE_URL", &db.url)
        .env("BOTPER_TOKEN_KEY", TOKEN_KEY)
        .env("BOTPER_BIND", "127.0.0.1:0")
        .env("BOTPER_WORKERS", workers.to_string())
        .env("BOTPER_LEASE_SECS", "2")
        .env("BOTPER_RATE_LIMIT_PER_MINUTE", "0")
        .env("BOTPER_EVENTS", "webhooks");
    let mut p = Proc::spawn(cmd);
    let addr = p.addr();
    (p, addr)
}

async fn post(client: &reqwest::Client, addr: &str, env: &Value) -> u16 {
    let body = serde_json::to_vec(env).unwrap();
    match client
        .post(format!("{addr}/webex/webhook"))
        .header("x-spark-signature", sign(SECRET, &body))
        .body(body)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn sigkill(backend: Backend) {
    let fake = FakeWebex::start().await;
    let db = TestDb::new(backend);
    // Every Webex call takes a while, so that the kill lands mid-run.
    fake.inject_faults(FaultPlan {
        percent: 100,
        kinds: vec![Fault::Slow(Duration::from_millis(30))],
        seed: 1,
    });
    let (mut first, addr) = tokio::task::block_in_place(|| spawn_binary(&fake, &db, 2));
    let w = workload(&fake, "kil", 6, 60);
    let client = reqwest::Client::new();
    let mut acked = Vec::new();
    for (title, env) in &w.commands {
        if post(&client, &addr, env).await == 200 {
            acked.push(title.clone());
        }
    }
    // Let some replies go out, then kill the process without warning.
    assert!(
        eventually(Duration::from_secs(10), || async {
            fake.sent_count() >= 10
        })
        .await
    );
    tokio::task::block_in_place(|| first.kill_hard());
    let before_restart = fake.sent_count();
    let (second, _) = tokio::task::block_in_place(|| spawn_binary(&fake, &db, 2));
    let titles: Vec<String> = w.commands.iter().map(|(t, _)| t.clone()).collect();
    assert!(wait_for_titles(&fake, "kil", acked.len(), Duration::from_secs(30)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(second);
    let (answered, duplicated) = exactly_once(&fake, "kil", &acked);
    report(
        &format!("sigkill_restart[{backend:?}]"),
        &[
            ("commands", titles.len().to_string()),
            ("acked", acked.len().to_string()),
            ("replies_before_kill", before_restart.to_string()),
            ("acked_answered", answered.to_string()),
            ("duplicated_replies_crash_window", duplicated.to_string()),
        ],
    );
    assert_eq!(answered, acked.len(), "an acknowledged delivery was lost");
    assert!(
        duplicated <= 2,
        "at most the in-flight items (2 workers) may reply twice"
    );
    tasks_once(&db, &w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_run_and_restarted_processes_every_acknowledged_delivery_on_postgres()
{
    sigkill(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_run_and_restarted_processes_every_acknowledged_delivery_on_sqlite() {
    sigkill(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_postgres_file_each_task_once_and_reply_once() {
    let fake = FakeWebex::start().await;
    let db = TestDb::new(Backend::Postgres);
    // Migrate once up front (the three also race on startup; the advisory lock holds).
    let mut procs = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..3 {
        let (p, a) = tokio::task::block_in_place(|| spawn_binary(&fake, &db, 2));
        procs.push(p);
        addrs.push(a);
    }
    let w = workload(&fake, "tri", 9, 90);
    let client = reqwest::Client::new();
    let mut per_instance = [0usize; 3];
    let mut n = 0usize;
    // Round robin; every delivery twice, to two different instances.
    for _round in 0..2 {
        for (_, env) in &w.commands {
            let i = n % 3;
            n += 1;
            if post(&client, &addrs[i], env).await == 200 {
                per_instance[i] += 1;
            }
        }
    }
    let titles: Vec<String> = w.commands.iter().map(|(t, _)| t.clone()).collect();
    assert!(wait_for_titles(&fake, "tri", titles.len(), Duration::from_secs(30)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (answered, duplicated) = exactly_once(&fake, "tri", &titles);
    report(
        "three_instances_round_robin",
        &[
            ("commands", titles.len().to_string()),
            ("deliveries", n.to_string()),
            ("acked_per_instance", format!("{per_instance:?}")),
            ("answered", answered.to_string()),
            ("replies", fake.sent_count().to_string()),
            ("duplicated_replies", duplicated.to_string()),
        ],
    );
    assert_eq!(per_instance.iter().sum::<usize>(), n);
    assert_eq!(answered, titles.len());
    assert_eq!(duplicated, 0);
    assert_eq!(fake.sent_count(), titles.len());
    tasks_once(&db, &w).await;
    drop(procs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_forged_unsigned_truncated_or_garbled_deliveries_are_all_refused() {
    let fake = FakeWebex::start().await;
    let app = spawn_app_on(
        fake.clone(),
        TestDb::new(Backend::Sqlite),
        fast_options(Backend::Sqlite),
    )
    .await;
    let p = fake.add_person("Target");
    let room = fake.new_room_id();
    let id = fake.user_says(&p, &room, "task should never exist", None);
    let good = serde_json::to_vec(&message_created(&id, &room, &p.id)).unwrap();
    let good_sig = sign(SECRET, &good);
    let mut rng = Rng(0xbad_5eed);
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for i in 0..1000 {
        let (kind, body, sig): (&str, Vec<u8>, Option<String>) = match i % 5 {
            0 => ("unsigned", good.clone(), None),
            1 => {
                let hex: String = (0..40)
                    .map(|_| char::from(b"0123456789abcdef"[rng.below(16)]))
                    .collect();
                ("forged_signature", good.clone(), Some(hex))
            }
            2 => (
                "other_secret",
                good.clone(),
                Some(sign(&format!("guess-{i}"), &good)),
            ),
            3 => {
                let cut = 1 + rng.below(good.len() - 1);
                ("truncated", good[..cut].to_vec(), Some(good_sig.clone()))
            }
            _ => {
                let mut g = good.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(g.len());
                    g[at] = rng.next() as u8;
                }
                // Half keep the original signature (altered after signing), half are
                // signed correctly but are not a valid delivery.
                if i % 10 == 4 {
                    ("garbled", g, Some(good_sig.clone()))
                } else {
                    let junk: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
                    let s = sign(SECRET, &junk);
                    ("signed_garbage", junk, Some(s))
                }
            }
        };
        let r = app.post_webhook(&body, sig.as_deref()).await;
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
        *kinds.entry(kind).or_insert(0) += 1;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = app.db.open().await.stats().await.unwrap();
    let rows = stats.pending + stats.processing + stats.done + stats.dead;
    let tasks = app
        .db
        .open()
        .await
        .list_open(PersonId::new(p.id.clone()))
        .await
        .unwrap()
        .len();
    report(
        "forged_deliveries",
        &[
            ("sent", "1000".into()),
            ("kinds", format!("{kinds:?}")),
            ("statuses", format!("{statuses:?}")),
            ("inbox_rows", rows.to_string()),
            ("tasks", tasks.to_string()),
            ("replies", fake.sent_count().to_string()),
        ],
    );
    assert_eq!(statuses.get(&200), None, "nothing was accepted");
    assert_eq!(
        statuses.get(&401).copied().unwrap_or(0) + statuses.get(&400).copied().unwrap_or(0),
        1000
    );
    assert_eq!((rows, tasks, fake.sent_count()), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_work_and_exits_promptly() {
    let fake = FakeWebex::start().await;
    let db = TestDb::new(Backend::Sqlite);
    fake.inject_faults(FaultPlan {
        percent: 100,
        kinds: vec![Fault::Slow(Duration::from_millis(300))],
        seed: 3,
    });
    let (mut p, addr) = tokio::task::block_in_place(|| spawn_binary(&fake, &db, 2));
    let w = workload(&fake, "sig", 4, 12);
    let client = reqwest::Client::new();
    for (_, env) in &w.commands {
        assert_eq!(post(&client, &addr, env).await, 200);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (code, took) = tokio::task::block_in_place(|| p.terminate());
    let answered_before = fake.sent_count();
    let (second, _) = tokio::task::block_in_place(|| spawn_binary(&fake, &db, 2));
    let titles: Vec<String> = w.commands.iter().map(|(t, _)| t.clone()).collect();
    assert!(wait_for_titles(&fake, "sig", titles.len(), Duration::from_secs(30)).await);
    drop(second);
    let (answered, duplicated) = exactly_once(&fake, "sig", &titles);
    report(
        "sigterm",
        &[
            ("exit_code", code.to_string()),
            ("stop_ms", took.as_millis().to_string()),
            ("answered_before_stop", answered_before.to_string()),
            ("answered", answered.to_string()),
            ("duplicated_replies", duplicated.to_string()),
        ],
    );
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(answered, titles.len());
    assert_eq!(
        duplicated, 0,
        "in-flight items were finished, not dropped and rerun"
    );
}

/// Sixty `task` commands from one person in about a second, on the default pace (30 a
/// minute, bursts of 10, backlog 300), on a clock ten times faster than real time: every
/// command is applied once and answered once, in order, within two minutes (of the clock);
/// the person is told once that Botper is catching up; another person sent meanwhile is
/// answered within a few seconds; `help` right after the burst is answered.
async fn a_burst_waits_its_turn(backend: Backend) {
    const FACTOR: f64 = 10.0;
    let clock = ScaledClock::new(FACTOR);
    let app = spawn_app_with(AppOptions {
        backend,
        // An empty value is unset: the defaults apply.
        env: vec![
            ("BOTPER_RATE_LIMIT_PER_MINUTE", String::new()),
            ("BOTPER_RATE_LIMIT_BURST", String::new()),
            ("BOTPER_RATE_LIMIT_BACKLOG", String::new()),
        ],
        tuning: Tuning {
            clock: Some(clock.clone()),
            ..Tuning::default()
        },
    })
    .await;
    use botper::ports::Clock;
    let (flood, calm) = (app.fake.add_person("Flood"), app.fake.add_person("Calm"));
    let (r1, r2) = (app.fake.new_room_id(), app.fake.new_room_id());
    let started = clock.now();
    let real_start = Instant::now();
    for i in 0..60 {
        app.say(&flood, &r1, &format!("task burst{i:02}")).await;
    }
    let burst_secs = clock.since(started).as_secs_f64();
    let asked = Instant::now();
    // The flood's replies keep coming meanwhile: wait for the one in the calm room.
    let before = app.fake.sent_count();
    app.say(&calm, &r2, "task calm one").await;
    let in_calm_room = || {
        app.fake.sent()[before..]
            .iter()
            .find(|s| s.room_id() == Some(r2.as_str()))
            .map(|s| s.markdown().to_owned())
    };
    eventually(Duration::from_secs(10), || async {
        in_calm_room().is_some()
    })
    .await;
    let calm_latency = asked.elapsed();
    let calm_reply = in_calm_room().unwrap_or_default();
    assert!(calm_reply.contains("calm one"), "{calm_reply}");
    assert!(
        calm_latency < Duration::from_secs(3),
        "another person waited {calm_latency:?}"
    );
    app.say(&flood, &r1, "help").await;

    let in_flood_room = |app: &TestApp| -> Vec<String> {
        app.fake
            .sent()
            .iter()
            .filter(|s| s.room_id() == Some(r1.as_str()))
            .map(|s| s.markdown().to_owned())
            .collect()
    };
    // 120 s of the clock, with room for polling.
    let answered = eventually(Duration::from_secs_f64(130.0 / FACTOR), || async {
        in_flood_room(&app).len() >= 61
    })
    .await;
    let elapsed = clock.since(started);
    let replies = in_flood_room(&app);
    assert!(answered, "{} of 61 answered: {replies:#?}", replies.len());
    assert!(
        elapsed <= Duration::from_secs(120),
        "took {elapsed:?} of clock time"
    );
    // In order, once each.
    for (i, r) in replies[..60].iter().enumerate() {
        assert!(
            r.contains(&format!("burst{i:02}")) && r.contains("Added task"),
            "reply {i} out of order: {r}"
        );
    }
    assert!(
        replies[60].contains("`task <text>`"),
        "help: {}",
        replies[60]
    );
    let told = replies.iter().filter(|m| m.contains("catching up")).count();
    assert_eq!(told, 1, "told once");
    let db = app.db.open().await;
    let tasks = db.list_open(PersonId::new(flood.id.clone())).await.unwrap();
    assert_eq!(tasks.len(), 60);
    // Settled, and nothing more is sent after a pause.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(in_flood_room(&app).len(), 61, "nothing twice");
    app.fake.assert_spec_clean();
    report(
        &format!("burst_{backend:?}").to_lowercase(),
        &[
            ("commands", "60+help".into()),
            ("sent_in_clock_s", format!("{burst_secs:.1}")),
            ("tasks", tasks.len().to_string()),
            ("replies", replies.len().to_string()),
            ("told", told.to_string()),
            (
                "last_reply_clock_s",
                format!("{:.0}", elapsed.as_secs_f64()),
            ),
            (
                "real_s",
                format!("{:.1}", real_start.elapsed().as_secs_f64()),
            ),
            ("other_person_ms", calm_latency.as_millis().to_string()),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sixty_commands_waits_its_turn_and_loses_nothing_on_sqlite() {
    a_burst_waits_its_turn(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sixty_commands_waits_its_turn_and_loses_nothing_on_postgres() {
    a_burst_waits_its_turn(Backend::Postgres).await;
}

/// Over the backlog cap, each refused command is answered at once with its own words, and
/// the queued ones still run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_backlog_cap_each_refused_command_is_named() {
    // A stopped clock: the queue does not drain while the test types.
    let clock = ScaledClock::new(0.0);
    let app = spawn_app_with(AppOptions {
        env: vec![
            ("BOTPER_RATE_LIMIT_PER_MINUTE", "30".into()),
            ("BOTPER_RATE_LIMIT_BURST", "2".into()),
            ("BOTPER_RATE_LIMIT_BACKLOG", "5".into()),
        ],
        tuning: Tuning {
            clock: Some(clock.clone()),
            ..Tuning::default()
        },
        ..AppOptions::default()
    })
    .await;
    let p = app.fake.add_person("Script");
    let room = app.fake.new_room_id();
    for i in 0..12 {
        app.say(&p, &room, &format!("task cap{i:02}")).await;
    }
    // The burst (2) and the refusals (5) are answered now; the 5 queued wait their turn.
    let sent = app.fake.wait_for_sent(7, Duration::from_secs(10)).await;
    let refused: Vec<&str> = sent
        .iter()
        .map(|s| s.markdown())
        .filter(|m| m.contains("I did **not** run"))
        .collect();
    assert_eq!(refused.len(), 5, "{refused:#?}");
    for i in 7..12 {
        assert!(
            refused
                .iter()
                .any(|m| m.contains(&format!("“task cap{i:02}”"))),
            "cap{i:02} named: {refused:#?}"
        );
    }
    clock.advance(Duration::from_secs(60));
    app.fake.wait_for_sent(12, Duration::from_secs(10)).await;
    let db = app.db.open().await;
    let titles: Vec<String> = db
        .list_open(PersonId::new(p.id.clone()))
        .await
        .unwrap()
        .iter()
        .map(|t| t.title.as_str().to_owned())
        .collect();
    assert_eq!(
        titles,
        (0..7).map(|i| format!("cap{i:02}")).collect::<Vec<_>>()
    );
    let sent = app.fake.sent();
    assert!(
        sent[7..]
            .iter()
            .all(|s| s.markdown().contains("Added task"))
    );
    assert!(
        sent[7].markdown().contains("catching up"),
        "{}",
        sent[7].markdown()
    );
}
