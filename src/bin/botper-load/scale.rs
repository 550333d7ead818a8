//! The scale check: `list` for one person when the tasks table holds ~1k rows and when it
//! holds ~1M rows of other people's tasks, and the query plan behind it.

use std::time::Instant;

use anyhow::Context as _;
use botper::adapters::db::{Db, DbTarget, PoolOptions};
use botper::domain::{PersonId, TaskOp, TaskTitle};
use botper::ports::TaskRepository;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::TempDir;

const ME: &str = "scale-me";
const MINE: usize = 50;
const SAMPLES: usize = 300;

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct LitePlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

enum Raw {
    Pg(PgConnection),
    Lite(SqliteConnection),
}

impl Raw {
    fn exec(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Raw::Pg(c) => diesel::sql_query(sql).execute(c)?,
            Raw::Lite(c) => diesel::sql_query(sql).execute(c)?,
        };
        Ok(())
    }

    /// Inserts other people's tasks numbered `from..=to` (10 000 people, every third done).
    fn fill(&mut self, from: usize, to: usize) -> anyhow::Result<()> {
        let sql = match self {
            Raw::Pg(_) => format!(
                "INSERT INTO tasks (owner, number, title, done, created_at) \
                 SELECT 'other-' || (g % 10000), g, 'Someone else''s task ' || g, \
                        CASE WHEN g % 3 = 0 THEN 1 ELSE 0 END, 0 \
                 FROM generate_series({from}, {to}) AS g"
            ),
            Raw::Lite(_) => format!(
                "WITH RECURSIVE s(g) AS (SELECT {from} UNION ALL SELECT g + 1 FROM s WHERE g < {to}) \
                 INSERT INTO tasks (owner, number, title, done, created_at) \
                 SELECT 'other-' || (g % 10000), g, 'Someone else''s task ' || g, \
                        CASE WHEN g % 3 = 0 THEN 1 ELSE 0 END, 0 FROM s"
            ),
        };
        self.exec(&sql)?;
        self.exec(match self {
            Raw::Pg(_) => "ANALYZE tasks",
            Raw::Lite(_) => "ANALYZE",
        })
    }

    /// The plan of the `list` query (the statement `list_open` sends).
    fn plan(&mut self) -> anyhow::Result<Vec<String>> {
        let q = "SELECT number, title, done, created_at, meeting_id, meeting_link, meeting_start \
                 FROM tasks WHERE owner = 'scale-me' AND done = 0 AND deleted_at IS NULL ORDER BY number";
        Ok(match self {
            Raw::Pg(c) => diesel::sql_query(format!("EXPLAIN {q}"))
                .load::<PgPlanLine>(c)?
                .into_iter()
                .map(|l| l.line)
                .collect(),
            Raw::Lite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {q}"))
                .load::<LitePlanLine>(c)?
                .into_iter()
                .map(|l| l.detail)
                .collect(),
        })
    }
}

fn uses_index(plan: &[String]) -> bool {
    plan.iter().any(|l| {
        let l = l.to_lowercase();
        l.contains("index scan")
            || l.contains("index only scan")
            || l.contains("using index")
            || l.contains("using covering index")
            || l.contains("bitmap index scan")
    }) && !plan.iter().any(|l| {
        let l = l.to_lowercase();
        l.contains("seq scan") || (l.starts_with("scan tasks") && !l.contains("index"))
    })
}

async fn median_list_micros(db: &Db) -> anyhow::Result<f64> {
    let me = PersonId::new(ME);
    for _ in 0..20 {
        db.list_open(me.clone()).await?;
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let open = db.list_open(me.clone()).await?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
        anyhow::ensure!(open.len() == MINE, "list returned {} tasks", open.len());
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

/// A database created on a Postgres server for one run, dropped on drop.
pub struct ScratchDb {
    admin_url: String,
    name: String,
    pub url: String,
}

impl ScratchDb {
    pub fn create(admin_url: &str) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("botper_load_{}_{nanos}", std::process::id());
        let mut admin = PgConnection::establish(admin_url).context("connecting to DATABASE_URL")?;
        diesel::sql_query(format!(r#"CREATE DATABASE "{name}""#)).execute(&mut admin)?;
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&name);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            let drop = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
            let _ = diesel::sql_query(drop).execute(&mut admin);
        }
    }
}

pub async fn run(database_url: Option<String>, rows: usize) -> anyhow::Result<()> {
    let dir = TempDir::new("botper-scale")?;
    // Postgres: a database of its own on the given server, dropped at the end.
    let scratch = match database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => Some(ScratchDb::create(u)?),
        _ => None,
    };
    let (target, mut raw) = match &scratch {
        Some(s) => (
            DbTarget::parse(&s.url).map_err(anyhow::Error::msg)?,
            Raw::Pg(PgConnection::establish(&s.url)?),
        ),
        None => {
            let path = dir.path().join("scale.db");
            let raw = Raw::Lite(SqliteConnection::establish(&path.to_string_lossy())?);
            (DbTarget::Sqlite(path), raw)
        }
    };
    let result = measure(&target, &mut raw, rows).await;
    drop(raw);
    drop(scratch);
    result
}

async fn measure(target: &DbTarget, raw: &mut Raw, rows: usize) -> anyhow::Result<()> {
    let db = Db::open(target.clone(), &PoolOptions::default())?;
    db.migrate().await?;
    let now = jiff::Timestamp::now();
    for i in 0..MINE {
        let op = TaskOp::Create {
            title: TaskTitle::parse(&format!("My task {i}")).expect("title"),
            meeting: None,
            due: None,
            remind_at: None,
        };
        db.apply(PersonId::new(ME), op, None, now).await?;
    }
    let small = 1_000usize;
    raw.fill(1, small - MINE)?;
    let t_small = median_list_micros(&db).await?;
    let plan_small = raw.plan()?;
    let started = Instant::now();
    raw.fill(small - MINE + 1, rows.max(small) - MINE)?;
    let fill_secs = started.elapsed().as_secs_f64();
    let t_large = median_list_micros(&db).await?;
    let plan_large = raw.plan()?;
    let indexed = uses_index(&plan_large);
    println!("scale check on the {}", target.redacted());
    println!("  list ({MINE} open tasks) with {small} rows: median {t_small:.0} µs");
    println!(
        "  list ({MINE} open tasks) with {} rows: median {t_large:.0} µs ({:.2}x; filled in {fill_secs:.1} s)",
        rows.max(small),
        t_large / t_small
    );
    println!("  plan at {small} rows: {}", plan_small.join(" / "));
    println!(
        "  plan at {} rows: {}",
        rows.max(small),
        plan_large.join(" / ")
    );
    println!("  index used: {}", if indexed { "yes" } else { "NO" });
    println!(
        "{}",
        serde_json::json!({
            "rows_small": small, "rows_large": rows.max(small),
            "list_small_us": t_small.round(), "list_large_us": t_large.round(),
            "ratio": ((t_large / t_small) * 100.0).round() / 100.0,
            "index_used": indexed,
        })
    );
    anyhow::ensure!(indexed, "the list query does not use an index");
    Ok(())
}
