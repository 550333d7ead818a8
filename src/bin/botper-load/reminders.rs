//! The scheduler run (`--reminders N`): N tasks of `--people` people whose reminders all
//! come due at the same second, seeded into a fresh store before the real binary starts.
//! Measures how long after that second each reminder reaches the fake Webex (lag), how
//! fast the burst drains, and that each arrives exactly once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::bail;
use botper::adapters::db::{Db, DbTarget, PoolOptions};
use botper::domain::{PersonId, TaskOp, TaskTitle};
use botper::ports::TaskRepository;
use serde_json::json;

use super::{Args, Server, Target, TempDir, fake, pct, round};

/// Seeders writing at once (each takes its own people, in order).
const SEEDERS: usize = 8;

pub async fn run(args: &Args, botper: std::path::PathBuf, n: usize) -> anyhow::Result<()> {
    let dir = TempDir::new("botper-reminders")?;
    let mut args = args.clone();
    let target = match args.database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => DbTarget::parse(u).map_err(anyhow::Error::msg)?,
        _ => {
            let path = dir.path().join("reminders.db");
            args.database_url = Some(path.to_string_lossy().into_owned());
            DbTarget::Sqlite(path)
        }
    };
    // The moment every reminder is due: far enough ahead for seeding and start-up.
    let lead = Duration::from_secs(4) + Duration::from_micros(1500 * n as u64);
    let started = Instant::now();
    let due = jiff::Timestamp::now() + lead;
    let due_ns = lead.as_nanos() as u64;

    let db = Db::open(target.clone(), &PoolOptions::default())?;
    db.migrate().await?;
    let seeding = Instant::now();
    let mut seeders = Vec::new();
    for s in 0..SEEDERS {
        let (db, people) = (db.clone(), args.people);
        seeders.push(tokio::spawn(async move {
            for i in (0..n).filter(|i| (i % people) % SEEDERS == s) {
                let op = TaskOp::Create {
                    title: TaskTitle::parse(&fake::reminder_title(i)).expect("title"),
                    meeting: None,
                    due: None,
                    remind_at: Some(due),
                };
                let owner = PersonId::new(format!("load-person-{}", i % people));
                db.apply(owner, op, None, jiff::Timestamp::now()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for s in seeders {
        s.await??;
    }
    let seed_secs = seeding.elapsed().as_secs_f64();
    drop(db);
    if started.elapsed() >= lead {
        bail!("seeding {n} reminders took {seed_secs:.1} s, past their due time; use fewer");
    }

    let replies = Arc::new(fake::Replies::new(n, started));
    let fake_addr = fake::start(replies.clone(), args.people).await;
    let base = format!("http://{fake_addr}/v1");
    let args2 = args.clone();
    let server =
        tokio::task::spawn_blocking(move || Server::start(&Target::Botper(botper), &args2, &base))
            .await??;
    println!(
        "botper-load: {n} reminders of {} people due at once; seeded in {seed_secs:.1} s into {}",
        args.people,
        target.redacted()
    );

    // Wait for them: until all came, or nothing new came for 10 s after the due time.
    let mut last = (0, Instant::now());
    loop {
        let answered = replies.answered();
        if answered >= n {
            break;
        }
        if answered != last.0 || (started.elapsed().as_nanos() as u64) < due_ns {
            last = (answered, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss = server.rss_peak_mb();
    tokio::task::spawn_blocking(move || server.stop()).await?;

    let arrivals: Vec<u64> = replies
        .first_reply
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .filter(|&t| t > 0)
        .collect();
    let mut lags: Vec<u64> = arrivals.iter().map(|t| t.saturating_sub(due_ns)).collect();
    let early = arrivals.iter().filter(|&&t| t < due_ns).count();
    let delivered = arrivals.len();
    let duplicated = replies
        .count
        .iter()
        .filter(|c| c.load(Ordering::Relaxed) > 1)
        .count();
    let first = arrivals.iter().min().copied().unwrap_or(0);
    let drained = arrivals.iter().max().copied().unwrap_or(0);
    let per_sec = if drained > first {
        delivered as f64 / ((drained - first) as f64 / 1e9)
    } else {
        0.0
    };
    let (p50, p99, max) = (
        pct(&mut lags, 0.5),
        pct(&mut lags, 0.99),
        pct(&mut lags, 1.0),
    );
    println!(
        "reminders: {delivered}/{n} delivered | {per_sec:.0} reminders/s from the first to the last | lag after the due second p50 {p50:.0} ms p99 {p99:.0} ms max {max:.0} ms | peak RSS {rss:.1} MB | early {early} duplicated {duplicated} strays {}",
        replies.strays.load(Ordering::Relaxed)
    );
    println!(
        "{}",
        json!({
            "reminders": n, "delivered": delivered, "reminders_per_sec": round(per_sec),
            "lag_p50_ms": round(p50), "lag_p99_ms": round(p99), "lag_max_ms": round(max),
            "rss_peak_mb": round(rss), "early": early, "lost": n - delivered,
            "duplicated": duplicated, "seed_secs": round(seed_secs),
        })
    );
    if delivered < n || duplicated > 0 || early > 0 {
        bail!(
            "{} lost, {duplicated} duplicated and {early} early reminders",
            n - delivered
        );
    }
    Ok(())
}
