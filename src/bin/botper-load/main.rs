//! `botper-load`: an end-to-end load benchmark of the real `botper` binary against a fast
//! in-process fake Webex, with a ceiling to compare against.
//!
//! ```text
//! cargo run --release --bin botper-load -- --requests 5000 --concurrency 32
//! cargo run --release --bin botper-load -- --requests 5000 --rate 1000 --ceiling
//! cargo run --release --bin botper-load -- --scale
//! cargo run --release --bin botper-load -- --scale --scale-rows 30000 --scale-commands 50
//! cargo run --release --bin botper-load -- --reminders 10000
//! ```
//! The last line of a run is one JSON object with the figures.

mod ceiling;
mod fake;
mod reminders;
mod scale;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use serde_json::json;

const SECRET: &str = "load-webhook-secret";
/// The `BOTPER_TOKEN_KEY` Botper runs with (and `--scale` seals its grants with).
const TOKEN_KEY: &str = "bG9hZC10ZXN0LWtleS10aGlydHktdHdvLWJ5dGVzISE=";

#[derive(Parser, Debug, Clone)]
#[command(name = "botper-load", about = "End-to-end load benchmark of Botper")]
struct Args {
    /// Commands to send.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Deliveries in flight at once (ignored with --rate).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Send at this many deliveries per second instead of with fixed concurrency.
    #[arg(long)]
    rate: Option<f64>,
    /// Distinct people sending (commands are spread over them round robin).
    #[arg(long, default_value_t = 500)]
    people: usize,
    /// Botper's inbox workers (default: the service's own default for the store).
    #[arg(long)]
    workers: Option<usize>,
    /// Botper processes on the same database, deliveries spread over them round robin
    /// (Postgres; each is a full instance with its own workers).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Also run the ceiling (a minimal server: signature, two Webex calls) and print ratios.
    #[arg(long)]
    ceiling: bool,
    /// The botper binary (default: next to this one, built first when run by cargo).
    #[arg(long)]
    botper: Option<PathBuf>,
    /// Run Botper on this database (default: DATABASE_URL, else a fresh embedded SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    /// Instead of a load run: a company's size on one machine. The store-level `list` with
    /// 1k vs --scale-rows rows and its plan; then the real binary on that store: start-up,
    /// idle RSS, `list` and `agenda` latency, and --scale-due reminders due at once.
    #[arg(long)]
    scale: bool,
    /// --scale: tasks in all (the large table).
    #[arg(long, default_value_t = 1_000_000)]
    scale_rows: usize,
    /// --scale: people owning them [default: --scale-rows / 10].
    #[arg(long)]
    scale_people: Option<usize>,
    /// --scale: people with a connected (OAuth) grant [default: --scale-rows / 100].
    #[arg(long)]
    scale_grants: Option<usize>,
    /// --scale: scheduled reminders, at most one a person [default: --scale-rows / 10].
    #[arg(long)]
    scale_reminders: Option<usize>,
    /// --scale: of those, how many come due during the run [default: 1000, at most all].
    #[arg(long)]
    scale_due: Option<usize>,
    /// --scale: spread the due reminders evenly over this many seconds (0: all at the same
    /// moment, as reminders set for the same whole minute are).
    #[arg(long, default_value_t = 0.0)]
    scale_due_window_secs: f64,
    /// --scale: `list` commands and `agenda` commands timed (each).
    #[arg(long, default_value_t = 300)]
    scale_commands: usize,
    /// --scale: keep the store at the end (its path or database is printed), to look into.
    #[arg(long)]
    scale_keep: bool,
    /// Every fake Webex call answers after this many ms (a real Webex takes 100 or more).
    /// With --scale: only while the due reminders are delivered.
    #[arg(long, default_value_t = 0.0)]
    webex_latency_ms: f64,
    /// Extra environment for the botper binary, `NAME=value` (repeatable), e.g.
    /// `BOTPER_DONE_RETENTION_DAYS=30`.
    #[arg(long, value_name = "NAME=value", value_parser = parse_env)]
    server_env: Vec<(String, String)>,
    /// Instead of a load run: this many reminders, seeded to come due at the same second,
    /// delivered by the scheduler (lag after the due second, reminders/s).
    #[arg(long)]
    reminders: Option<usize>,
    #[arg(long, hide = true)]
    serve_ceiling: Option<String>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not NAME=value")),
    }
}

struct Figures {
    name: &'static str,
    commands_per_sec: f64,
    ack_p50_ms: f64,
    ack_p99_ms: f64,
    reply_p50_ms: f64,
    reply_p99_ms: f64,
    reply_max_ms: f64,
    rss_peak_mb: f64,
    /// CPU time (user + system) of the server process per answered command, in ms.
    cpu_ms_per_command: f64,
    errors: u64,
    lost: usize,
    duplicated: usize,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.database_url.is_none() {
        args.database_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    }
    let rt = tokio::runtime::Runtime::new()?;
    if let Some(base) = &args.serve_ceiling {
        rt.block_on(ceiling::serve(
            base.clone(),
            SECRET.into(),
            fake::BOT_TOKEN.into(),
        ));
        return Ok(());
    }
    if !(args.webex_latency_ms.is_finite() && args.webex_latency_ms >= 0.0) {
        bail!("--webex-latency-ms must be 0 or more");
    }
    if args.scale {
        let botper = botper_binary(&args)?;
        return rt.block_on(scale::run(&args, botper));
    }
    if args.requests == 0 || args.people == 0 || args.concurrency == 0 {
        bail!("--requests, --people and --concurrency must be at least 1");
    }
    let botper = botper_binary(&args)?;
    // Postgres: a database of its own on that server for this run, dropped at the end.
    let _scratch = match args.database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => {
            let s = scale::ScratchDb::create(u)?;
            args.database_url = Some(s.url.clone());
            Some(s)
        }
        _ => None,
    };
    fake::set_latency(Duration::from_secs_f64(args.webex_latency_ms / 1e3));
    if let Some(n) = args.reminders {
        if n == 0 {
            bail!("--reminders must be at least 1");
        }
        return rt.block_on(reminders::run(&args, botper, n));
    }
    if args.instances == 0 || (args.instances > 1 && args.database_url.is_none()) {
        bail!("--instances must be at least 1, and more than 1 needs --database-url (Postgres)");
    }
    println!(
        "botper-load: {} commands from {} people, {}; {} Botper instance(s) with {} workers on {}",
        args.requests,
        args.people,
        match args.rate {
            Some(r) => format!("at {r}/s"),
            None => format!("{} in flight", args.concurrency),
        },
        args.instances,
        args.workers
            .map_or_else(|| "the default".to_owned(), |w| w.to_string()),
        args.database_url
            .as_deref()
            .map_or("a fresh SQLite file", |_| "a fresh Postgres database")
    );
    let mine = rt.block_on(run(&args, Target::Botper(botper)))?;
    print_figures(&mine);
    let mut out = json!({
        "commands_per_sec": round(mine.commands_per_sec),
        "ack_p50_ms": round(mine.ack_p50_ms),
        "ack_p99_ms": round(mine.ack_p99_ms),
        "reply_p50_ms": round(mine.reply_p50_ms),
        "reply_p99_ms": round(mine.reply_p99_ms),
        "reply_max_ms": round(mine.reply_max_ms),
        "rss_peak_mb": round(mine.rss_peak_mb),
        "cpu_ms_per_command": round3(mine.cpu_ms_per_command),
        "errors": mine.errors,
        "lost": mine.lost,
        "duplicated": mine.duplicated,
        "instances": args.instances,
    });
    if args.ceiling {
        let ceiling = rt.block_on(run(&args, Target::Ceiling))?;
        print_figures(&ceiling);
        let ratio = mine.commands_per_sec / ceiling.commands_per_sec;
        println!(
            "Botper/ceiling: throughput {:.2}x, reply p50 {:.2}x, reply p99 {:.2}x, ack p99 {:.2}x, RSS {:.2}x",
            ratio,
            mine.reply_p50_ms / ceiling.reply_p50_ms,
            mine.reply_p99_ms / ceiling.reply_p99_ms,
            mine.ack_p99_ms / ceiling.ack_p99_ms,
            mine.rss_peak_mb / ceiling.rss_peak_mb,
        );
        out["ceiling_ratio"] = json!(round(ratio));
        out["ceiling_commands_per_sec"] = json!(round(ceiling.commands_per_sec));
        out["ceiling_reply_p99_ms"] = json!(round(ceiling.reply_p99_ms));
        out["ceiling_cpu_ms_per_command"] = json!(round3(ceiling.cpu_ms_per_command));
    }
    println!("{out}");
    if mine.lost > 0 || mine.duplicated > 0 {
        bail!(
            "{} lost and {} duplicated replies",
            mine.lost,
            mine.duplicated
        );
    }
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn print_figures(f: &Figures) {
    println!(
        "{}: {:.0} commands/s | ack p50 {:.2} ms p99 {:.2} ms | webhook->reply p50 {:.2} ms p99 {:.2} ms max {:.2} ms | peak RSS {:.1} MB | CPU {:.3} ms/command | errors {} lost {} duplicated {}",
        f.name,
        f.commands_per_sec,
        f.ack_p50_ms,
        f.ack_p99_ms,
        f.reply_p50_ms,
        f.reply_p99_ms,
        f.reply_max_ms,
        f.rss_peak_mb,
        f.cpu_ms_per_command,
        f.errors,
        f.lost,
        f.duplicated
    );
}

/// The `botper` binary next to this one; when run by cargo, built first in the same profile.
fn botper_binary(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(p) = &args.botper {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    let path = me.with_file_name("botper");
    if let Ok(cargo) = std::env::var("CARGO") {
        let release = me.components().any(|c| c.as_os_str() == "release");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--bin", "botper"]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().context("cargo build --bin botper")?;
        if !status.success() {
            bail!("building botper failed");
        }
    }
    if !path.exists() {
        bail!(
            "{} does not exist: build it (`cargo build --release`) or pass --botper",
            path.display()
        );
    }
    Ok(path)
}

enum Target {
    Botper(PathBuf),
    Ceiling,
}

/// A server under test, as a child process.
struct Server {
    child: Child,
    addr: String,
    /// When the process was spawned (start-up is measured from here).
    spawned: Instant,
    _dir: TempDir,
}

/// A scratch directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    fn start(target: &Target, args: &Args, webex_base: &str) -> anyhow::Result<Self> {
        let dir = TempDir::new("botper-load")?;
        let mut cmd = match target {
            Target::Botper(path) => {
                let mut c = Command::new(path);
                c.env_clear()
                    .current_dir(dir.path())
                    .env("WEBEX_BOT_TOKEN", fake::BOT_TOKEN)
                    .env("WEBEX_WEBHOOK_SECRET", SECRET)
                    .env("WEBEX_API_BASE_URL", webex_base)
                    .env("BOTPER_BIND", "127.0.0.1:0")
                    .env("BOTPER_RATE_LIMIT_PER_MINUTE", "0")
                    .env("BOTPER_EVENTS", "webhooks")
                    .env("BOTPER_TOKEN_KEY", TOKEN_KEY)
                    .env("RUST_LOG", "warn,botper=info")
                    .envs(args.workers.map(|w| ("BOTPER_WORKERS", w.to_string())))
                    .envs(args.server_env.iter().map(|(k, v)| (k, v)))
                    .env(
                        "DATABASE_URL",
                        args.database_url
                            .clone()
                            .unwrap_or_else(|| "load.db".into()),
                    );
                c
            }
            Target::Ceiling => {
                let mut c = Command::new(std::env::current_exe()?);
                c.args(["--serve-ceiling", webex_base]);
                c
            }
        };
        let spawned = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the server")?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if line.contains("listening on http://") {
                        let _ = tx.send(line);
                    } else if line.contains("ERROR") || line.starts_with("botper: ") {
                        eprintln!("server: {line}");
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let line = loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                break line;
            }
            if let Ok(Some(status)) = child.try_wait() {
                bail!("the server exited at start ({status}); run it by hand to see why");
            }
            if Instant::now() > deadline {
                bail!("the server did not start within 30 s");
            }
        };
        let start = line.find("http://").expect("address");
        let addr = line[start..]
            .split_whitespace()
            .next()
            .expect("address")
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .to_owned();
        Ok(Self {
            child,
            addr,
            spawned,
            _dir: dir,
        })
    }

    /// User + system CPU seconds the process has used (Linux `/proc/<pid>/stat` fields 14
    /// and 15, in the kernel's user-visible clock ticks, 100 a second).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return 0.0;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state): utime is field 14, stime field 15.
        let tick = |i: usize| {
            fields
                .get(i - 3)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (tick(14) + tick(15)) / 100.0
    }

    /// Peak resident set size in MB (Linux `VmHWM`).
    fn rss_peak_mb(&self) -> f64 {
        self.status_mb("VmHWM:")
    }

    /// Resident set size now, in MB (Linux `VmRSS`).
    fn rss_mb(&self) -> f64 {
        self.status_mb("VmRSS:")
    }

    fn status_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn envelope(i: usize, people: usize) -> Vec<u8> {
    envelope_from(i, &format!("load-person-{}", i % people))
}

/// The `messages`/`created` delivery of command i (message `load-msg-<i>` in room
/// `load-room-<i>`), sent by `person`.
fn envelope_from(i: usize, person: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "load-webhook", "name": "load", "resource": "messages", "event": "created",
        "orgId": "load-org", "createdBy": fake::BOT_ID, "appId": "load-app", "ownedBy": "creator",
        "status": "active", "created": "2026-11-29T10:00:00.000Z", "actorId": person,
        "data": {
            "id": format!("load-msg-{i}"), "roomId": format!("load-room-{i}"), "roomType": "direct",
            "personId": person, "personEmail": "someone@example.com",
            "created": "2026-11-29T12:00:00.000Z"
        }
    }))
    .expect("json")
}

async fn run(args: &Args, target: Target) -> anyhow::Result<Figures> {
    let name = match target {
        Target::Botper(_) => "botper",
        Target::Ceiling => "ceiling",
    };
    let n = args.requests;
    let started = Instant::now();
    let replies = Arc::new(fake::Replies::new(n, started));
    let fake_addr = fake::start(replies.clone(), args.people).await;
    let base = format!("http://{fake_addr}/v1");
    // One server, or (`--instances`) several Botper processes on the same database.
    let count = match target {
        Target::Botper(_) => args.instances.max(1),
        Target::Ceiling => 1,
    };
    let target = Arc::new(target);
    let mut servers = Vec::with_capacity(count);
    for _ in 0..count {
        let (args2, base, target) = (args.clone(), base.clone(), target.clone());
        servers.push(
            tokio::task::spawn_blocking(move || Server::start(&target, &args2, &base)).await??,
        );
    }
    let urls: Arc<Vec<String>> = Arc::new(
        servers
            .iter()
            .map(|s| format!("{}/webex/webhook", s.addr))
            .collect(),
    );

    // Everything a delivery needs is ready before the clock matters.
    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..n)
            .map(|i| {
                let b = envelope(i, args.people);
                let s = botper::adapters::http::signature::sign(SECRET, &b);
                (b, s)
            })
            .collect(),
    );
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    // The server's CPU from here (start-up left out) to the last reply.
    let cpu_before: f64 = servers.iter().map(Server::cpu_seconds).sum();
    let ack_ns: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let errors = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;

    let send = {
        let (bodies, sent_at, ack_ns, errors, client, urls) = (
            bodies.clone(),
            sent_at.clone(),
            ack_ns.clone(),
            errors.clone(),
            client.clone(),
            urls.clone(),
        );
        move |i: usize| {
            let (bodies, sent_at, ack_ns, errors, client, urls) = (
                bodies.clone(),
                sent_at.clone(),
                ack_ns.clone(),
                errors.clone(),
                client.clone(),
                urls.clone(),
            );
            async move {
                let (body, sig) = &bodies[i];
                let t0 = started.elapsed().as_nanos() as u64;
                sent_at[i].store(t0.max(1), Ordering::Relaxed);
                let r = client
                    .post(&urls[i % urls.len()])
                    .header("content-type", "application/json")
                    .header("x-spark-signature", sig)
                    .body(body.clone())
                    .send()
                    .await;
                let t1 = started.elapsed().as_nanos() as u64;
                ack_ns[i].store(t1 - t0, Ordering::Relaxed);
                if !matches!(r, Ok(ref resp) if resp.status().is_success()) {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    };

    match args.rate {
        Some(rate) => {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut handles = Vec::with_capacity(n);
            for i in 0..n {
                tick.tick().await;
                handles.push(tokio::spawn(send(i)));
            }
            for h in handles {
                let _ = h.await;
            }
        }
        None => {
            let next = Arc::new(AtomicUsize::new(0));
            let mut handles = Vec::new();
            for _ in 0..args.concurrency {
                let (next, send) = (next.clone(), send.clone());
                handles.push(tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        send(i).await;
                    }
                }));
            }
            for h in handles {
                let _ = h.await;
            }
        }
    }

    // Wait for the replies: until all came, or nothing new came for 10 s.
    let mut last = (replies.answered(), Instant::now());
    loop {
        let answered = replies.answered();
        if answered >= n {
            break;
        }
        if answered != last.0 {
            last = (answered, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Let stray duplicates arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The peak of the largest instance; the CPU of all of them.
    let rss = servers.iter().map(Server::rss_peak_mb).fold(0.0, f64::max);
    let cpu = servers.iter().map(Server::cpu_seconds).sum::<f64>() - cpu_before;
    for server in servers {
        tokio::task::spawn_blocking(move || server.stop()).await?;
    }

    let first_send = sent_at
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0);
    let last_reply = replies
        .first_reply
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    let mut acks: Vec<u64> = ack_ns.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let mut latencies: Vec<u64> = (0..n)
        .filter_map(|i| {
            let r = replies.first_reply[i].load(Ordering::Relaxed);
            (r > 0).then(|| r.saturating_sub(sent_at[i].load(Ordering::Relaxed)))
        })
        .collect();
    let answered = latencies.len();
    let duplicated = replies
        .count
        .iter()
        .filter(|c| c.load(Ordering::Relaxed) > 1)
        .count();
    let span = (last_reply.saturating_sub(first_send)) as f64 / 1e9;
    Ok(Figures {
        name,
        commands_per_sec: if span > 0.0 {
            answered as f64 / span
        } else {
            0.0
        },
        ack_p50_ms: pct(&mut acks, 0.50),
        ack_p99_ms: pct(&mut acks, 0.99),
        reply_p50_ms: pct(&mut latencies, 0.50),
        reply_p99_ms: pct(&mut latencies, 0.99),
        reply_max_ms: pct(&mut latencies, 1.0),
        rss_peak_mb: rss,
        cpu_ms_per_command: if answered > 0 {
            cpu * 1000.0 / answered as f64
        } else {
            0.0
        },
        errors: errors.load(Ordering::Relaxed) + replies.strays.load(Ordering::Relaxed),
        lost: n - answered,
        duplicated,
    })
}

/// The p-quantile of nanosecond samples, in milliseconds.
fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i] as f64 / 1e6
}
