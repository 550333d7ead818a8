//! The scale run (`--scale`): a company's size on one machine.
//!
//! 1. The store-level check: `list_open` for one person with 50 open tasks when the tasks
//!    table holds ~1k rows and when it holds `--scale-rows`, and the plan behind it.
//! 2. The company: `--scale-people` people own the other rows (about ten tasks each, every
//!    third done, some due yesterday, today or later), `--scale-grants` of them are
//!    connected (grants sealed with the run's token key, valid for days: nothing to
//!    refresh), and `--scale-reminders` of them have a reminder on their task 1, days ahead.
//!    The rows are written with bulk SQL as the real code writes them (the task with its
//!    `remind_at`, its `scheduled_jobs` row, the `task_history` of its creation and
//!    completion, the counter, the settings row of the zone hint); the grants through the
//!    real `TokenStore`.
//! 3. The real binary on that store, once at ~1k rows and once at company size: start-up
//!    (spawn to `/readyz` 200), RSS after a second idle, `list` and `agenda` latency
//!    (webhook to reply, one at a time, each person's zone looked up once before), and then
//!    `--scale-due` of the reminders moved through the real `TaskRepository` to come due at
//!    the same moment (or spread over `--scale-due-window-secs`): how fast the scheduler
//!    delivers them, how late after their moment, none twice, none lost.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use botper::adapters::db::{Db, DbTarget, PoolOptions, TokenKey};
use botper::domain::grant::{AccessToken, Grant, RefreshToken, TokenSet};
use botper::domain::{PersonId, TaskNumber, TaskOp, TaskOutcome, TaskTitle};
use botper::ports::{Scheduler, TaskRepository, TokenStore};
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::json;

use super::{Args, SECRET, Server, TOKEN_KEY, Target, TempDir, fake, pct, round};

const ME: &str = "scale-me";
const MINE: usize = 50;
const SAMPLES: usize = 300;
/// The small table's rows (scale-me's 50 among them).
const SMALL: usize = 1_000;
const DAY_MS: i64 = 86_400_000;
/// Seeders writing grants at once (Postgres; SQLite has one connection).
const SEEDERS: usize = 8;

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
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
    fn pg(&self) -> bool {
        matches!(self, Raw::Pg(_))
    }

    /// Runs one statement (outside any transaction: `VACUUM` may run too).
    fn exec(&mut self, sql: &str) -> anyhow::Result<()> {
        use diesel::connection::SimpleConnection;
        match self {
            Raw::Pg(c) => c.batch_execute(sql),
            Raw::Lite(c) => c.batch_execute(sql),
        }
        .with_context(|| format!("running {}", &sql[..sql.len().min(300)]))
    }

    /// Session settings for bulk writes (this connection only).
    fn prepare(&mut self) -> anyhow::Result<()> {
        match self {
            Raw::Pg(_) => {
                self.exec("SET synchronous_commit = off")?;
                self.exec("SET maintenance_work_mem = '256MB'")
            }
            Raw::Lite(_) => {
                self.exec("PRAGMA busy_timeout = 10000")?;
                self.exec("PRAGMA cache_size = -262144")
            }
        }
    }

    /// After a bulk fill, the store as a running service keeps it: Postgres vacuumed and
    /// analysed (autovacuum does it soon after such a load); SQLite with its log copied
    /// back (Botper never runs ANALYZE on SQLite, so neither does this).
    fn settle(&mut self) -> anyhow::Result<()> {
        match self {
            Raw::Pg(_) => self.exec(
                "VACUUM ANALYZE tasks, task_history, task_counters, scheduled_jobs, \
                 person_settings, grants",
            ),
            Raw::Lite(_) => self.exec("PRAGMA wal_checkpoint(TRUNCATE)"),
        }
    }

    fn count(&mut self, table: &str) -> anyhow::Result<u64> {
        let q = format!("SELECT COUNT(*) AS n FROM {table}");
        let c = match self {
            Raw::Pg(c) => diesel::sql_query(q).get_result::<Count>(c)?,
            Raw::Lite(c) => diesel::sql_query(q).get_result::<Count>(c)?,
        };
        Ok(c.n as u64)
    }

    fn plan_of(&mut self, q: &str) -> anyhow::Result<Vec<String>> {
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

    /// The plan of the `list` query (the statement `list_open` sends).
    fn plan(&mut self) -> anyhow::Result<Vec<String>> {
        self.plan_of(
            "SELECT number, title, done, created_at, meeting_id, meeting_link, meeting_start \
             FROM tasks WHERE owner = 'scale-me' AND done = 0 AND deleted_at IS NULL ORDER BY number",
        )
    }
}

fn uses_index(plan: &[String]) -> bool {
    plan.iter().any(|l| {
        let l = l.to_lowercase();
        l.contains("index scan")
            || l.contains("index only scan")
            || l.contains("using index")
            || l.contains("using covering index")
            || l.contains("using primary key")
            || l.contains("bitmap index scan")
    }) && !plan.iter().any(|l| {
        let l = l.to_lowercase();
        l.contains("seq scan") || (l.starts_with("scan ") && !l.contains("index"))
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
        ensure!(open.len() == MINE, "list returned {} tasks", open.len());
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

/// The sizes of the run.
#[derive(Debug, Clone)]
struct Company {
    /// Tasks in all, scale-me's included.
    rows: u64,
    people: u64,
    grants: u64,
    reminders: u64,
    due: u64,
    window: Duration,
    commands: usize,
}

impl Company {
    fn from_args(a: &Args) -> anyhow::Result<Self> {
        let rows = a.scale_rows.max(SMALL) as u64;
        let people = a.scale_people.map_or(rows / 10, |n| n as u64);
        let grants = a.scale_grants.map_or(rows / 100, |n| n as u64);
        let reminders = a.scale_reminders.map_or(rows / 10, |n| n as u64);
        let due = a.scale_due.map_or(reminders.min(1000), |n| n as u64);
        let company_rows = rows - MINE as u64;
        ensure!(
            (1..=company_rows).contains(&people),
            "--scale-people must be 1 to {company_rows} (everyone owns a task)"
        );
        ensure!(
            grants <= people,
            "--scale-grants must be at most --scale-people"
        );
        ensure!(
            reminders <= people,
            "--scale-reminders must be at most --scale-people (one a person)"
        );
        ensure!(
            (1..=reminders).contains(&due),
            "--scale-due must be 1 to --scale-reminders"
        );
        ensure!(
            a.scale_due_window_secs.is_finite() && a.scale_due_window_secs >= 0.0,
            "--scale-due-window-secs must be 0 or more"
        );
        ensure!(a.scale_commands > 0, "--scale-commands must be at least 1");
        Ok(Self {
            rows,
            people,
            grants,
            reminders,
            due,
            window: Duration::from_secs_f64(a.scale_due_window_secs),
            commands: a.scale_commands,
        })
    }
}

/// Where every company row is: person k (`load-person-<k>`) owns the tasks numbered
/// 1..=n(k), contiguous in the generated sequence (so the first rows are whole people,
/// like the 1k-row table). Everything is a function of (k, number), in Rust and in SQL.
#[derive(Debug, Clone, Copy)]
struct Layout {
    people: u64,
    /// Company rows (scale-me's are not among them).
    tasks: u64,
    grants: u64,
    reminders: u64,
    now_ms: i64,
}

impl Layout {
    fn per(&self) -> u64 {
        self.tasks / self.people
    }

    /// The first `extra()` people own one task more.
    fn extra(&self) -> u64 {
        self.tasks % self.people
    }

    fn tasks_of(&self, k: u64) -> u64 {
        self.per() + u64::from(k < self.extra())
    }

    fn first_row(&self, k: u64) -> u64 {
        k * self.per() + k.min(self.extra())
    }

    /// The people whose first task is among rows `from..to`.
    fn people_starting_in(&self, from: u64, to: u64) -> std::ops::Range<u64> {
        let first_at = |row: u64| {
            // The smallest k with first_row(k) >= row.
            let (mut lo, mut hi) = (0, self.people);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if self.first_row(mid) < row {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        first_at(from)..first_at(to)
    }

    /// Whether k is one of `n` people spread evenly among all.
    fn spread(&self, k: u64, n: u64) -> bool {
        ((k + 1) * n) / self.people > (k * n) / self.people
    }

    fn has_grant(&self, k: u64) -> bool {
        self.spread(k, self.grants)
    }

    fn has_reminder(&self, k: u64) -> bool {
        self.spread(k, self.reminders)
    }

    /// The minute after now, in minutes since the epoch.
    fn next_minute(&self) -> i64 {
        self.now_ms.div_euclid(60_000) + 1
    }

    /// Person k's reminder: at a whole minute, 1 to 30 days ahead.
    fn reminder_ms(&self, k: u64) -> i64 {
        (self.next_minute() + 1440 + ((k * 7919) % (29 * 1440)) as i64) * 60_000
    }

    fn base_ms(&self) -> i64 {
        self.now_ms - 30 * DAY_MS
    }

    /// 09:00 UTC on the day `days` from today (a date without a time of day).
    fn day_ms(&self, days: i64) -> i64 {
        (self.now_ms.div_euclid(DAY_MS) + days) * DAY_MS + 9 * 3_600_000
    }

    // The same in SQL, over columns `k` and `j` (the task number).

    fn sql_owner(&self) -> &'static str {
        "'load-person-' || k"
    }

    fn sql_n(&self) -> String {
        format!(
            "(CASE WHEN k < {} THEN {} ELSE {} END)",
            self.extra(),
            self.per() + 1,
            self.per()
        )
    }

    fn sql_spread(&self, n: u64) -> String {
        format!("(((k + 1) * {n}) / {p} > (k * {n}) / {p})", p = self.people)
    }

    fn sql_created(&self, j: &str) -> String {
        format!("({} + {j} * 3600000 + (k % 3600) * 1000)", self.base_ms())
    }

    fn sql_reminder(&self) -> String {
        format!(
            "(({} + 1440 + (k * 7919) % {}) * 60000)",
            self.next_minute(),
            29 * 1440
        )
    }

    /// How many history rows the person's past left (their tasks' creation, then the
    /// completion of every third); `undo` keeps the last 50.
    fn sql_history_len(&self) -> String {
        format!("({n} + {n} / 3)", n = self.sql_n())
    }

    /// `WITH RECURSIVE s(g), r(k, j)`: rows `from..to` of the layout.
    fn rows_cte(&self, pg: bool, from: u64, to: u64) -> String {
        let (per, extra) = (self.per(), self.extra());
        let big = extra * (per + 1);
        let last = to - 1;
        let series = if pg {
            format!("s(g) AS (SELECT generate_series({from}::bigint, {last}::bigint))")
        } else {
            format!("s(g) AS (SELECT {from} UNION ALL SELECT g + 1 FROM s WHERE g < {last})")
        };
        format!(
            "WITH RECURSIVE {series}, r(k, j) AS (SELECT \
             CASE WHEN g < {big} THEN g / {p1} ELSE {extra} + (g - {big}) / {per} END, \
             CASE WHEN g < {big} THEN g % {p1} + 1 ELSE (g - {big}) % {per} + 1 END FROM s) ",
            p1 = per + 1
        )
    }

    /// `WITH RECURSIVE s(k)`: people `from..to`.
    fn people_cte(&self, pg: bool, from: u64, to: u64) -> String {
        let last = to - 1;
        if pg {
            format!(
                "WITH RECURSIVE s(k) AS (SELECT generate_series({from}::bigint, {last}::bigint)) "
            )
        } else {
            format!(
                "WITH RECURSIVE s(k) AS (SELECT {from} UNION ALL SELECT k + 1 FROM s WHERE k < {last}) "
            )
        }
    }

    /// The statements that write company rows `from..to` and the people they start.
    fn fill_sql(&self, pg: bool, from: u64, to: u64) -> Vec<String> {
        let mut out = Vec::new();
        if from >= to {
            return out;
        }
        let owner = self.sql_owner();
        let created = self.sql_created("j");
        let rows = self.rows_cte(pg, from, to);
        // A task as `TaskOp::Create` wrote it, then `TaskOp::Complete` for every third.
        out.push(format!(
            "{rows}INSERT INTO tasks (owner, number, title, done, created_at, done_at, due_at, \
             due_has_time, remind_at) \
             SELECT {owner}, j, \
               CASE WHEN j = 1 THEN 'Call load-rem-' || k || '-end' \
                    ELSE 'Company task ' || j || ' of load-person-' || k END, \
               CASE WHEN j % 3 = 0 THEN 1 ELSE 0 END, \
               {created}, \
               CASE WHEN j % 3 = 0 THEN {created} + {DAY_MS} END, \
               CASE j % 4 WHEN 2 THEN {yesterday} WHEN 3 THEN {today} WHEN 0 THEN {later} END, \
               0, \
               CASE WHEN j = 1 AND {has_rem} THEN {reminder} END \
             FROM r",
            yesterday = self.day_ms(-1),
            today = self.day_ms(0),
            later = self.day_ms(10),
            has_rem = self.sql_spread(self.reminders),
            reminder = self.sql_reminder(),
        ));
        let (n, len) = (self.sql_n(), self.sql_history_len());
        out.push(format!(
            "{rows}INSERT INTO task_history (owner, seq, kind, number, created_at) \
             SELECT {owner}, j, 'created', j, {created} FROM r WHERE j > {len} - 50"
        ));
        out.push(format!(
            "{rows}INSERT INTO task_history (owner, seq, kind, number, created_at) \
             SELECT {owner}, {n} + j / 3, 'completed', j, {created} + {DAY_MS} FROM r \
             WHERE j % 3 = 0 AND {n} + j / 3 > {len} - 50"
        ));
        let ks = self.people_starting_in(from, to);
        if ks.is_empty() {
            return out;
        }
        let people = self.people_cte(pg, ks.start, ks.end);
        let created_1 = self.sql_created("1");
        out.push(format!(
            "{people}INSERT INTO task_counters (owner, last_number) SELECT {owner}, {n} FROM s"
        ));
        // The job `sync_reminder` wrote with the task: subject its number, at its reminder.
        out.push(format!(
            "{people}INSERT INTO scheduled_jobs (owner, kind, subject, fire_at, created_at) \
             SELECT {owner}, 'remind', '1', {reminder}, {created_1} FROM s WHERE {has_rem}",
            reminder = self.sql_reminder(),
            has_rem = self.sql_spread(self.reminders),
        ));
        // Someone not connected saw a date in UTC once: the zone hint was shown.
        out.push(format!(
            "{people}INSERT INTO person_settings (person_id, zone_hint_shown, updated_at) \
             SELECT {owner}, 1, {created_1} FROM s WHERE NOT {has_grant}",
            has_grant = self.sql_spread(self.grants),
        ));
        out
    }
}

fn person(k: u64) -> PersonId {
    PersonId::new(format!("load-person-{k}"))
}

/// The grant a connected person has: valid for days (no refresh), their Webex zone known.
fn grant(k: u64, now: jiff::Timestamp) -> Grant {
    Grant {
        person: person(k),
        display_name: format!("Load Person {k}"),
        email: Some(format!("load-person-{k}@example.com")),
        timezone: Some("Europe/Paris".into()),
        tokens: TokenSet {
            access_token: AccessToken::new(format!("load-access-{k}")),
            access_expires_at: now + jiff::SignedDuration::from_hours(14 * 24),
            refresh_token: RefreshToken::new(format!("load-refresh-{k}")),
            refresh_expires_at: now + jiff::SignedDuration::from_hours(90 * 24),
            scope: Some("spark:all meeting:schedules_read meeting:schedules_write".into()),
        },
        webhook_id: Some(format!("load-meetings-webhook-{k}")),
        disconnected: None,
        version: 1,
    }
}

/// Writes company rows `from..to`: bulk SQL, then the grants of the people they start.
async fn seed(db: &Db, raw: &mut Raw, layout: &Layout, from: u64, to: u64) -> anyhow::Result<()> {
    let pg = raw.pg();
    for sql in layout.fill_sql(pg, from, to) {
        raw.exec(&sql)?;
    }
    let now = jiff::Timestamp::from_millisecond(layout.now_ms)?;
    let connected: Vec<u64> = layout
        .people_starting_in(from, to)
        .filter(|&k| layout.has_grant(k))
        .collect();
    let connected = Arc::new(connected);
    let mut seeders = Vec::new();
    for s in 0..SEEDERS {
        let (db, connected) = (db.clone(), connected.clone());
        seeders.push(tokio::spawn(async move {
            for &k in connected.iter().skip(s).step_by(SEEDERS) {
                db.save(grant(k, now)).await?;
            }
            anyhow::Ok(())
        }));
    }
    for s in seeders {
        s.await??;
    }
    raw.settle()
}

/// The seeded rows read back through the real store as the scheduler reads them.
async fn check_seed(db: &Db, layout: &Layout) -> anyhow::Result<()> {
    for k in [0, layout.people / 2, layout.people - 1] {
        let n = layout.tasks_of(k);
        let open = db.list_open(person(k)).await?;
        ensure!(
            open.len() as u64 == n - n / 3,
            "person {k}: {} open tasks, expected {}",
            open.len(),
            n - n / 3
        );
        let first = db
            .task(person(k), TaskNumber::new(1).expect("1"))
            .await?
            .context("task 1")?;
        let lead = db.reminder_lead(person(k)).await?;
        let want = layout
            .has_reminder(k)
            .then(|| jiff::Timestamp::from_millisecond(layout.reminder_ms(k)))
            .transpose()?;
        ensure!(
            first.reminder_at(lead) == want,
            "person {k}: reminder {:?}, expected {want:?}",
            first.reminder_at(lead)
        );
        if layout.has_grant(k) {
            let g = db.load(person(k)).await?.context("grant")?;
            ensure!(g.tokens.access_token.expose() == format!("load-access-{k}"));
        }
    }
    let now = jiff::Timestamp::now();
    let stats = db.stats(now).await?;
    ensure!(
        stats.due == 0 && stats.waiting == layout.reminders,
        "scheduled jobs: {} due, {} waiting; expected 0 and {}",
        stats.due,
        stats.waiting,
        layout.reminders
    );
    Ok(())
}

pub async fn run(args: &Args, botper: PathBuf) -> anyhow::Result<()> {
    let company = Company::from_args(args)?;
    let dir = TempDir::new("botper-scale")?;
    // Postgres: a database of its own on the given server, dropped at the end.
    let scratch = match args.database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => Some(ScratchDb::create(u)?),
        _ => None,
    };
    let (target, url, raw) = match &scratch {
        Some(s) => (
            DbTarget::parse(&s.url).map_err(anyhow::Error::msg)?,
            s.url.clone(),
            Raw::Pg(PgConnection::establish(&s.url)?),
        ),
        None => {
            let path = dir.path().join("scale.db");
            let raw = Raw::Lite(SqliteConnection::establish(&path.to_string_lossy())?);
            (
                DbTarget::Sqlite(path.clone()),
                path.to_string_lossy().into_owned(),
                raw,
            )
        }
    };
    let mut args = args.clone();
    args.database_url = Some(url.clone());
    let result = measure(&args, botper, &company, &target, raw).await;
    if args.scale_keep {
        eprintln!("botper-load: the store is kept: {url}");
        std::mem::forget(scratch);
        std::mem::forget(dir);
    }
    result
}

fn open_store(target: &DbTarget) -> anyhow::Result<Db> {
    let key = TokenKey::from_base64(TOKEN_KEY).map_err(|e| anyhow::anyhow!("token key {e}"))?;
    Ok(Db::open(target.clone(), &PoolOptions::default())?.with_token_key(&key))
}

async fn measure(
    args: &Args,
    botper: PathBuf,
    company: &Company,
    target: &DbTarget,
    mut raw: Raw,
) -> anyhow::Result<()> {
    let store = if raw.pg() { "postgres" } else { "sqlite" };
    let db = open_store(target)?;
    db.migrate().await?;
    raw.prepare()?;
    let now = jiff::Timestamp::now();
    let layout = Layout {
        people: company.people,
        tasks: company.rows - MINE as u64,
        grants: company.grants,
        reminders: company.reminders,
        now_ms: now.as_millisecond(),
    };
    println!(
        "scale run on the {}: {} tasks of {} people (+{MINE} of one more), {} connected, {} reminders, {} of them due during the run",
        target.redacted(),
        company.rows,
        company.people,
        company.grants,
        company.reminders,
        company.due
    );
    for i in 0..MINE {
        let op = TaskOp::Create {
            title: TaskTitle::parse(&format!("My task {i}")).expect("title"),
            meeting: None,
            due: None,
            remind_at: None,
        };
        db.apply(PersonId::new(ME), op, None, now).await?;
    }
    let seeding = Instant::now();
    let small_rows = (SMALL - MINE) as u64;
    seed(&db, &mut raw, &layout, 0, small_rows).await?;
    let small_seed_secs = seeding.elapsed().as_secs_f64();
    let t_small = median_list_micros(&db).await?;
    let plan_small = raw.plan()?;
    drop(db);

    // The binary on the 1k-row store: the figure `list` at company size compares with.
    let whole = |k: &u64| layout.first_row(*k) + layout.tasks_of(*k) <= small_rows;
    let small_people: Vec<u64> = (0..layout.people).take_while(whole).collect();
    ensure!(!small_people.is_empty(), "no whole person in the 1k rows");
    println!(
        "  1k rows: seeded in {small_seed_secs:.1} s; the binary on it ({} people)…",
        small_people.len()
    );
    let small = serve(args, &botper, company, &layout, target, &small_people, &[]).await?;
    small.print("  1k rows");

    let filling = Instant::now();
    let db = open_store(target)?;
    seed(&db, &mut raw, &layout, small_rows, layout.tasks).await?;
    let seed_secs = filling.elapsed().as_secs_f64();
    let rows = company.rows;
    check_seed(&db, &layout).await?;
    let counted: Vec<(&str, u64)> = [
        "tasks",
        "task_history",
        "task_counters",
        "scheduled_jobs",
        "person_settings",
        "grants",
    ]
    .into_iter()
    .map(|t| Ok((t, raw.count(t)?)))
    .collect::<anyhow::Result<_>>()?;
    // The 1k-row run may have purged its done tasks (with BOTPER_DONE_RETENTION_DAYS).
    ensure!(
        (rows - SMALL as u64..=rows).contains(&counted[0].1)
            && counted[3].1 == company.reminders
            && counted[5].1 == company.grants,
        "seeded {counted:?}"
    );
    let t_large = median_list_micros(&db).await?;
    let plan_large = raw.plan()?;
    let plan_due = raw.plan_of(&format!(
        "SELECT owner, kind, subject, fire_at, rule FROM scheduled_jobs WHERE fire_at <= {} \
         ORDER BY fire_at, owner, kind, subject LIMIT 200",
        layout.now_ms
    ))?;
    drop(db);
    drop(raw);
    let indexed = uses_index(&plan_large);
    println!(
        "  {rows} rows: seeded in {seed_secs:.1} s more; store-level list ({MINE} open tasks): {t_small:.0} µs at {SMALL} rows, {t_large:.0} µs at {rows} ({:.2}x)",
        t_large / t_small
    );
    println!(
        "  rows: {}",
        counted
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  plan of list at {SMALL} rows: {}", plan_small.join(" / "));
    println!("  plan of list at {rows} rows: {}", plan_large.join(" / "));
    println!(
        "  plan of the scheduler's due jobs: {}",
        plan_due.join(" / ")
    );
    println!("  index used: {}", if indexed { "yes" } else { "NO" });

    // The people timed: spread over everyone; the due reminders: spread over theirs.
    let m = (company.commands as u64).min(layout.people);
    let timed: Vec<u64> = (0..m).map(|i| i * layout.people / m).collect();
    let with_reminder: Vec<u64> = (0..layout.people)
        .filter(|&k| layout.has_reminder(k))
        .collect();
    let due_people: Vec<u64> = (0..company.due)
        .map(|i| with_reminder[(i * company.reminders / company.due.max(1)) as usize])
        .collect();
    println!(
        "  the binary on {rows} rows ({} people timed)…",
        timed.len()
    );
    let large = serve(args, &botper, company, &layout, target, &timed, &due_people).await?;
    large.print(&format!("  {rows} rows"));
    let burst = large.burst.as_ref().context("the burst")?;

    let list_p50 = pct(&mut large.list.clone(), 0.5);
    let list_small_p50 = pct(&mut small.list.clone(), 0.5);
    let list_ratio = list_p50 / list_small_p50;
    let targets = [
        ("start-up < 2 s", large.startup_ms < 2000.0),
        ("RSS idle < 60 MB", large.rss_idle_mb < 60.0),
        ("reminder lag p99 < 2 s", burst.lag_p99_ms < 2000.0),
        ("list p50 within 2x of 1k rows", list_ratio <= 2.0),
    ];
    println!(
        "  targets: {}",
        targets
            .iter()
            .map(|(t, ok)| format!("{t}: {}", if *ok { "met" } else { "MISSED" }))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let mut list = large.list.clone();
    let mut agenda = large.agenda.clone();
    let mut small_list = small.list.clone();
    let mut small_agenda = small.agenda.clone();
    println!(
        "{}",
        json!({
            "store": store,
            "rows_small": SMALL, "rows_large": rows,
            "list_small_us": t_small.round(), "list_large_us": t_large.round(),
            "ratio": round(t_large / t_small),
            "index_used": indexed,
            "people": company.people, "tasks": rows, "grants": company.grants,
            "reminders": company.reminders, "due": company.due,
            "due_window_secs": company.window.as_secs_f64(),
            "seed_secs": round(small_seed_secs + seed_secs),
            "startup_ms": round(large.startup_ms),
            "startup_small_ms": round(small.startup_ms),
            "rss_idle_mb": round(large.rss_idle_mb),
            "rss_peak_mb": round(large.rss_peak_mb),
            "commands": company.commands,
            "list_p50_ms": round(pct(&mut list, 0.5)),
            "list_p99_ms": round(pct(&mut list, 0.99)),
            "list_small_p50_ms": round(pct(&mut small_list, 0.5)),
            "list_small_p99_ms": round(pct(&mut small_list, 0.99)),
            "list_ratio": round(list_ratio),
            "agenda_p50_ms": round(pct(&mut agenda, 0.5)),
            "agenda_p99_ms": round(pct(&mut agenda, 0.99)),
            "agenda_small_p99_ms": round(pct(&mut small_agenda, 0.99)),
            "fired_per_sec": round(burst.per_sec),
            "lag_p50_ms": round(burst.lag_p50_ms),
            "lag_p99_ms": round(burst.lag_p99_ms),
            "lag_max_ms": round(burst.lag_max_ms),
            "reschedule_secs": round(burst.reschedule_secs),
            "reminders_delivered": burst.delivered,
            "reminders_twice": burst.twice,
            "reminders_lost": burst.lost,
            "reminders_early": burst.early,
            "reminders_unexpected": burst.unexpected,
            "webex_latency_ms": args.webex_latency_ms,
            "workers": args.workers,
            "burst_profile_lookups": burst.profiles,
            "errors": small.errors + large.errors,
        })
    );
    ensure!(indexed, "the list query does not use an index");
    if burst.lost > 0 || burst.twice > 0 || burst.early > 0 || burst.unexpected > 0 {
        bail!(
            "reminders: {} lost, {} twice, {} early, {} not due",
            burst.lost,
            burst.twice,
            burst.early,
            burst.unexpected
        );
    }
    ensure!(
        small.errors + large.errors == 0,
        "{} commands failed",
        small.errors + large.errors
    );
    Ok(())
}

/// What one run of the binary measured.
struct Served {
    startup_ms: f64,
    rss_idle_mb: f64,
    rss_peak_mb: f64,
    /// Webhook to reply, in ns.
    list: Vec<u64>,
    agenda: Vec<u64>,
    errors: u64,
    burst: Option<Burst>,
}

struct Burst {
    delivered: usize,
    twice: usize,
    lost: usize,
    early: usize,
    unexpected: usize,
    per_sec: f64,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
    lag_max_ms: f64,
    reschedule_secs: f64,
    /// Webex calls during the burst: profile lookups (`GET /people/{id}`) and messages.
    profiles: u64,
    posts: u64,
}

impl Served {
    fn print(&self, name: &str) {
        let (mut list, mut agenda) = (self.list.clone(), self.agenda.clone());
        println!(
            "{name}: start-up {:.0} ms | RSS idle {:.1} MB, peak {:.1} MB | list p50 {:.2} ms p99 {:.2} ms | agenda p50 {:.2} ms p99 {:.2} ms | errors {}",
            self.startup_ms,
            self.rss_idle_mb,
            self.rss_peak_mb,
            pct(&mut list, 0.5),
            pct(&mut list, 0.99),
            pct(&mut agenda, 0.5),
            pct(&mut agenda, 0.99),
            self.errors
        );
        if let Some(b) = &self.burst {
            println!(
                "{name}: reminders {}/{} delivered ({:.1} s to move them) | {:.0}/s from the first to the last | lag after each one's moment p50 {:.0} ms p99 {:.0} ms max {:.0} ms | twice {} lost {} early {} not due {} | Webex calls meanwhile: {} POST /messages, {} GET /people/{{id}}",
                b.delivered,
                b.delivered + b.lost,
                b.reschedule_secs,
                b.per_sec,
                b.lag_p50_ms,
                b.lag_p99_ms,
                b.lag_max_ms,
                b.twice,
                b.lost,
                b.early,
                b.unexpected,
                b.posts,
                b.profiles
            );
        }
    }
}

/// Sends command i and waits for its reply; returns webhook to reply in ns.
async fn send_and_wait(
    client: &reqwest::Client,
    url: &str,
    replies: &fake::Replies,
    (i, offset): (usize, usize),
    person: &str,
) -> anyhow::Result<u64> {
    let body = super::envelope_from(offset + i, person);
    let sig = botper::adapters::http::signature::sign(SECRET, &body);
    let sent = replies.started.elapsed().as_nanos() as u64;
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-spark-signature", sig)
        .body(body)
        .send()
        .await?;
    ensure!(r.status().is_success(), "webhook answered {}", r.status());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let arrived = replies.arrived.notified();
        if replies.count[i].load(Ordering::Relaxed) > 0 {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, arrived).await.is_err() {
            bail!("no reply to command {i} ({person}) within 10 s");
        }
    }
    Ok(replies.first_reply[i]
        .load(Ordering::Relaxed)
        .saturating_sub(sent))
}

/// Starts the binary on the store, measures start-up and idle RSS, times `list` and
/// `agenda` for `timed` people, then (when `due` is not empty) moves those people's
/// reminders to come due now and records their delivery.
async fn serve(
    args: &Args,
    botper: &std::path::Path,
    company: &Company,
    layout: &Layout,
    target: &DbTarget,
    timed: &[u64],
    due: &[u64],
) -> anyhow::Result<Served> {
    // Message ids this run has not used on this store (the inbox keeps them for days).
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let offset = RUNS.fetch_add(1, Ordering::Relaxed) * 10_000_000;
    let started = Instant::now();
    // Each person's zone is looked up once (`tz`), then `list` and `agenda` in turn.
    let mut script: Vec<(String, String)> = timed
        .iter()
        .map(|&k| (format!("load-person-{k}"), "tz".to_owned()))
        .collect();
    let warm = script.len();
    for text in ["list", "agenda"] {
        for c in 0..company.commands {
            let k = timed[c % timed.len()];
            script.push((format!("load-person-{k}"), text.to_owned()));
        }
    }
    let commands = Arc::new(fake::Replies::watched(script.len(), started));
    let reminders = Arc::new(fake::Replies::new(layout.people as usize, started));
    let script = Arc::new(script);
    let lines = script.clone();
    let fake_addr = fake::start_scripted(
        commands.clone(),
        reminders.clone(),
        Arc::new(move |i| lines.get(i).cloned()),
        offset,
    )
    .await;
    let base = format!("http://{fake_addr}/v1");
    let args2 = args.clone();
    let botper = botper.to_path_buf();
    let server =
        tokio::task::spawn_blocking(move || Server::start(&Target::Botper(botper), &args2, &base))
            .await??;
    let client = reqwest::Client::new();
    let ready = format!("{}/readyz", server.addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    let startup = loop {
        if let Ok(r) = client.get(&ready).send().await
            && r.status().is_success()
        {
            break server.spawned.elapsed();
        }
        if Instant::now() > deadline {
            bail!("/readyz did not answer 200 within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_mb = server.rss_mb();

    let url = format!("{}/webex/webhook", server.addr);
    let mut errors = 0u64;
    let (mut list, mut agenda) = (Vec::new(), Vec::new());
    for (i, (person, text)) in script.iter().enumerate() {
        match send_and_wait(&client, &url, &commands, (i, offset), person).await {
            Ok(ns) if i >= warm && text == "list" => list.push(ns),
            Ok(ns) if i >= warm => agenda.push(ns),
            Ok(_) => {}
            Err(e) => {
                eprintln!("{e:#}");
                errors += 1;
                if errors >= 3 {
                    tokio::task::spawn_blocking(move || server.stop()).await?;
                    bail!("{errors} commands went unanswered; stopping");
                }
            }
        }
    }
    let burst = if due.is_empty() {
        None
    } else {
        Some(
            run_burst(
                company,
                target,
                &reminders,
                started,
                due,
                args.webex_latency_ms,
            )
            .await?,
        )
    };
    errors += commands.strays.load(Ordering::Relaxed) + reminders.strays.load(Ordering::Relaxed);
    let rss_peak_mb = server.rss_peak_mb();
    tokio::task::spawn_blocking(move || server.stop()).await?;
    Ok(Served {
        startup_ms: startup.as_secs_f64() * 1e3,
        rss_idle_mb,
        rss_peak_mb,
        list,
        agenda,
        errors,
        burst,
    })
}

/// Moves `due` people's reminders (their task 1) to the same moment a few seconds ahead,
/// or spread over the window, through the real `TaskRepository` (`remind 1 at …`), while
/// the binary runs; then waits for the scheduler to deliver them.
async fn run_burst(
    company: &Company,
    target: &DbTarget,
    reminders: &fake::Replies,
    started: Instant,
    due: &[u64],
    latency_ms: f64,
) -> anyhow::Result<Burst> {
    let n = due.len();
    let db = Db::open(target.clone(), &PoolOptions::default())?;
    // The wall clock against the replies' clock.
    let (wall0, mono0) = (jiff::Timestamp::now(), started.elapsed().as_nanos() as i128);
    let lead = Duration::from_secs(3) + Duration::from_millis(3 * n as u64);
    let first = (wall0 + lead).as_millisecond();
    let window = company.window.as_millis() as i64;
    let at: Vec<i64> = (0..n as i64)
        .map(|i| first + window * i / n as i64)
        .collect();
    let moving = Instant::now();
    let retries = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut movers = Vec::new();
    for s in 0..SEEDERS {
        let (db, retries) = (db.clone(), retries.clone());
        let jobs: Vec<(u64, i64)> = due
            .iter()
            .copied()
            .zip(at.iter().copied())
            .skip(s)
            .step_by(SEEDERS)
            .collect();
        movers.push(tokio::spawn(async move {
            for (k, ms) in jobs {
                let when = jiff::Timestamp::from_millisecond(ms)?;
                let op = TaskOp::Remind(TaskNumber::new(1).expect("1"), Some(when));
                let mut tries = 0;
                let outcome = loop {
                    match db
                        .apply(person(k), op.clone(), None, jiff::Timestamp::now())
                        .await
                    {
                        Ok(o) => break o,
                        // SQLite: the binary committed between this transaction's read and
                        // its write ("database is locked" at once). Only a second process
                        // on the file does that (Botper keeps to one connection); the
                        // transaction was rolled back, so run it again.
                        Err(_) if tries < 100 => {
                            tries += 1;
                            retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                ensure!(
                    matches!(outcome, TaskOutcome::Reminded { .. }),
                    "person {k}: {outcome:?}"
                );
            }
            anyhow::Ok(())
        }));
    }
    for m in movers {
        m.await??;
    }
    let reschedule_secs = moving.elapsed().as_secs_f64();
    let retries = retries.load(Ordering::Relaxed);
    if retries > 0 {
        println!("  moving the reminders: {retries} transactions run again (the file was busy)");
    }
    drop(db);
    if jiff::Timestamp::now().as_millisecond() >= first {
        bail!("moving {n} reminders took {reschedule_secs:.1} s, past their moment; use fewer");
    }
    // Each one's moment on the replies' clock.
    let due_ns: Vec<u64> = at
        .iter()
        .map(|&ms| (mono0 + (i128::from(ms) * 1_000_000 - wall0.as_nanosecond())) as u64)
        .collect();
    let last_due = due_ns.iter().copied().max().unwrap_or(0);
    let calls = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let before = (calls(&fake::CALLS.people), calls(&fake::CALLS.post_message));
    fake::set_latency(Duration::from_secs_f64(latency_ms / 1e3));
    let delivered = || {
        due.iter()
            .filter(|&&k| reminders.count[k as usize].load(Ordering::Relaxed) > 0)
            .count()
    };
    // Until all came, or nothing new came for 10 s after the last moment.
    let mut last = (0, Instant::now());
    loop {
        let got = delivered();
        if got >= n {
            break;
        }
        if got != last.0 || (started.elapsed().as_nanos() as u64) < last_due {
            last = (got, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Two more scheduler ticks: a reminder fired twice would show now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    fake::set_latency(Duration::ZERO);
    let profiles = calls(&fake::CALLS.people) - before.0;
    let posts = calls(&fake::CALLS.post_message) - before.1;

    let mut lags = Vec::with_capacity(n);
    let (mut early, mut twice) = (0, 0);
    let mut arrivals = Vec::with_capacity(n);
    for (&k, &due_at) in due.iter().zip(&due_ns) {
        let count = reminders.count[k as usize].load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        twice += usize::from(count > 1);
        let t = reminders.first_reply[k as usize].load(Ordering::Relaxed);
        early += usize::from(t < due_at);
        lags.push(t.saturating_sub(due_at));
        arrivals.push(t);
    }
    let mut wanted = vec![false; reminders.count.len()];
    for &k in due {
        wanted[k as usize] = true;
    }
    let unexpected = reminders
        .count
        .iter()
        .enumerate()
        .filter(|(k, c)| !wanted[*k] && c.load(Ordering::Relaxed) > 0)
        .count();
    let delivered = arrivals.len();
    let (first_arrival, last_arrival) = (
        arrivals.iter().copied().min().unwrap_or(0),
        arrivals.iter().copied().max().unwrap_or(0),
    );
    let per_sec = if last_arrival > first_arrival {
        delivered as f64 / ((last_arrival - first_arrival) as f64 / 1e9)
    } else {
        0.0
    };
    Ok(Burst {
        delivered,
        twice,
        lost: n - delivered,
        early,
        unexpected,
        per_sec,
        lag_p50_ms: pct(&mut lags, 0.5),
        lag_p99_ms: pct(&mut lags, 0.99),
        lag_max_ms: pct(&mut lags, 1.0),
        reschedule_secs,
        profiles,
        posts,
    })
}
