//! The store: diesel over an r2d2 pool, one code path for Postgres and SQLite.
//!
//! Diesel is synchronous, so every call runs in `tokio::task::spawn_blocking`, and the pool
//! is asked for a connection inside that closure (`Db::run`). [`Db`] implements the store
//! ports ([`crate::ports::TaskRepository`], [`crate::ports::Inbox`], …).

mod access;
mod connection;
mod crypto;
mod events;
mod grants;
mod inbox;
mod scheduler;
mod schema;
mod sql;
mod tasks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::SimpleConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use connection::{DbConnection, DbTarget};
pub use crypto::{KeyError, TokenKey};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Serialises migrations when several instances start at once on one Postgres.
const MIGRATION_LOCK: i64 = 0x426f_7470_6572_0001;

pub type Pool = r2d2::Pool<connection::Manager>;

/// How statements reach the database.
#[derive(Clone)]
enum Exec {
    /// Postgres: a pool; each call runs on tokio's blocking thread pool.
    Pool(Pool),
    /// SQLite (one writer): one connection owned by one thread, calls queued for it. Under
    /// load this avoids a thread handoff and a pool wait per statement.
    Single(Arc<JobQueue>),
}

/// The most jobs the SQLite thread runs in one transaction.
const MAX_GROUP: usize = 32;

/// The SQLite thread's work: two lanes, so that storing a webhook delivery (which Webex is
/// waiting on) goes before queued worker statements.
pub(crate) struct JobQueue {
    lanes: std::sync::Mutex<Lanes>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct Lanes {
    urgent: std::collections::VecDeque<Job>,
    normal: std::collections::VecDeque<Job>,
    /// The thread waits for work: a push must wake it (otherwise it will look anyway).
    sleeping: bool,
}

impl JobQueue {
    fn new() -> Self {
        Self {
            lanes: std::sync::Mutex::new(Lanes::default()),
            ready: std::sync::Condvar::new(),
        }
    }

    fn push(&self, job: Job, urgent: bool) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if urgent {
            lanes.urgent.push_back(job);
        } else {
            lanes.normal.push_back(job);
        }
        let wake = lanes.sleeping;
        lanes.sleeping = false;
        drop(lanes);
        if wake {
            self.ready.notify_one();
        }
    }

    /// The next job, urgent first; `None` after a second without work (so the thread can
    /// see whether the store is still in use).
    fn pop(&self) -> Option<Job> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(j) = lanes
                .urgent
                .pop_front()
                .or_else(|| lanes.normal.pop_front())
            {
                return Some(j);
            }
            lanes.sleeping = true;
            let (next, timeout) = self
                .ready
                .wait_timeout(lanes, Duration::from_secs(1))
                .unwrap_or_else(|p| p.into_inner());
            lanes = next;
            if timeout.timed_out() && lanes.urgent.is_empty() && lanes.normal.is_empty() {
                lanes.sleeping = false;
                return None;
            }
        }
    }

    /// The next waiting job that may join a shared transaction, urgent first, without
    /// waiting.
    fn try_pop_joinable(&self, urgent_only: bool) -> Option<Job> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lanes = &mut *lanes;
        let lane = if !lanes.urgent.is_empty() {
            &mut lanes.urgent
        } else if urgent_only {
            return None;
        } else {
            &mut lanes.normal
        };
        if lane.front().is_some_and(|j| !j.solo) {
            lane.pop_front()
        } else {
            None
        }
    }
}

/// What a job runs on: the connection (inside a savepoint of a shared transaction when
/// `grouped`), or the reason there is none.
enum Run<'a> {
    Conn(&'a mut connection::Managed, bool),
    NoConn(DbError),
}

/// Answers a job's caller once it is known whether the job's work was committed.
type Answer = Box<dyn FnOnce(bool) + Send>;

struct Job {
    /// Runs outside any shared transaction (a checkpoint, migrations).
    solo: bool,
    /// Someone is waiting on it (a webhook's delivery): once it is in a group, the group
    /// takes no more ordinary jobs and commits as soon as it can.
    urgent: bool,
    work: Box<dyn FnOnce(Run<'_>) -> Answer + Send>,
}

/// Runs `first` and, while it runs, whatever joins it: the jobs waiting when it ends
/// (urgent first, up to [`MAX_GROUP`]; once an urgent job is in, only urgent ones) share
/// its transaction, each in a savepoint of its own
/// (a failing job undoes only its own work), and their callers are answered only after the
/// commit: what a caller is told was stored, was. One commit for many jobs writes each page
/// they share once to the WAL instead of once per job. A job that arrives while the group
/// runs joins it, so a webhook's delivery waits for one job and a commit, not for a queue.
fn run_group(slot: &mut Slot, queue: &JobQueue, first: Job) {
    use diesel::connection::{Connection, TransactionManager};
    type Tm = <DbConnection as Connection>::TransactionManager;
    if first.solo {
        return run_alone(slot, first);
    }
    // Alone unless someone else is waiting: no transaction of our own around it.
    let Some(second) = queue.try_pop_joinable(first.urgent) else {
        return run_alone(slot, first);
    };
    let m = match slot.connection() {
        Ok(m) => m,
        Err(_) => {
            run_alone(slot, first);
            return run_alone(slot, second);
        }
    };
    // IMMEDIATE: the write lock up front, where the busy timeout applies, so another process
    // writing the file (`botper chat`) cannot turn a later write of the group into
    // SQLITE_BUSY_SNAPSHOT.
    let begun = match &mut m.conn {
        DbConnection::Sqlite(lite) => {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                lite,
                "BEGIN IMMEDIATE",
            )
        }
        other => Tm::begin_transaction(other),
    };
    if begun.is_err() {
        run_alone(slot, first);
        return run_alone(slot, second);
    }
    let mut answers = Vec::with_capacity(MAX_GROUP);
    let mut next = Some(first);
    let mut pending = Some(second);
    let mut panicked = false;
    let mut broken = false;
    let mut urgent = false;
    while let Some(job) = next.take() {
        urgent |= job.urgent;
        let run = std::panic::AssertUnwindSafe(|| (job.work)(Run::Conn(m, true)));
        match std::panic::catch_unwind(run) {
            Ok(answer) => answers.push(answer),
            Err(_) => {
                panicked = true;
                break;
            }
        }
        // SQLite ends the whole transaction on some errors (a full disk, I/O, memory): the
        // job's savepoint rollback then finds none, and what ran so far is gone. Stop there:
        // nothing of the group is committed, and the jobs after it must not run outside it.
        let depth = Tm::transaction_manager_status_mut(&mut m.conn).transaction_depth();
        if m.dead || !matches!(depth, Ok(Some(d)) if d.get() == 1) {
            broken = true;
            break;
        }
        next = pending.take().or_else(|| {
            if answers.len() < MAX_GROUP {
                queue.try_pop_joinable(urgent)
            } else {
                None
            }
        });
    }
    let committed = if panicked || broken {
        false
    } else {
        match Tm::commit_transaction(&mut m.conn) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, jobs = answers.len(), "a shared transaction did not commit; its callers are told so");
                false
            }
        }
    };
    if !committed {
        // Whatever state the transaction is in, a fresh connection has none of it.
        tracing::error!(panicked, broken, "database work rolled back; reconnecting");
        slot.conn = None;
    }
    for answer in answers {
        answer(committed);
    }
    // Jobs taken but not run (after a panic or a dead connection) run on their own.
    for job in pending.into_iter().chain(next) {
        run_alone(slot, job);
    }
}

/// Runs one job in its own transaction(s), as it asks.
fn run_alone(slot: &mut Slot, job: Job) {
    let answer = match slot.connection() {
        Ok(m) => {
            let run = std::panic::AssertUnwindSafe(|| (job.work)(Run::Conn(m, false)));
            match std::panic::catch_unwind(run) {
                Ok(answer) => answer,
                Err(_) => {
                    // The job dropped its reply channel (its caller gets an error); the
                    // thread and its other callers carry on.
                    tracing::error!("a database job panicked; reconnecting");
                    slot.conn = None;
                    return;
                }
            }
        }
        Err(e) => (job.work)(Run::NoConn(DbError::Unavailable(anyhow::Error::new(e)))),
    };
    answer(true);
}

/// The SQLite thread's connection, opened (and re-opened) on demand.
struct Slot {
    manager: connection::Manager,
    conn: Option<connection::Managed>,
}

impl Slot {
    fn connection(&mut self) -> Result<&mut connection::Managed, diesel::r2d2::Error> {
        use r2d2::ManageConnection;
        if self.conn.as_ref().is_some_and(|c| c.dead) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let mut m = self.manager.connect()?;
            // Checkpoints run on their own thread (see `checkpointer`), not inside a
            // request's commit.
            m.conn
                .batch_execute("PRAGMA wal_autocheckpoint = 0;")
                .map_err(diesel::r2d2::Error::QueryError)?;
            self.conn = Some(m);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }
}

/// Copies the SQLite write-ahead log back into the database every half second (every
/// tenth under heavy writes), on a connection of its own (a passive checkpoint never blocks
/// the writer). Stops when the store is dropped.
///
/// Under steady writes a passive checkpoint never catches up: the writer appends while it
/// copies, so the log is never wholly copied, SQLite never starts it over, and it grows
/// without bound (1.2 GB after 8 s at saturation, every commit a new page of the file).
/// So after a pass that found new frames, it asks the writer's own thread to finish the job
/// (`tail`): after its current group of jobs, that thread copies what was appended during
/// the pass (little: the pass did the rest), and the next commit writes the log from its
/// start again. A flag, not a queued job, so that it never splits a group.
fn checkpointer(manager: connection::Manager, alive: std::sync::Weak<()>, tail: Arc<AtomicBool>) {
    use diesel::RunQueryDsl;
    use r2d2::ManageConnection;
    let mut conn = None;
    let mut last = None;
    let mut pause = CHECKPOINT_IDLE;
    while alive.upgrade().is_some() {
        std::thread::sleep(pause);
        pause = CHECKPOINT_IDLE;
        if conn.is_none() {
            conn = manager.connect().ok();
        }
        let Some(m) = conn.as_mut() else { continue };
        let m: &mut connection::Managed = m;
        let pass = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .get_result::<CheckpointPass>(&mut m.conn);
        let pass = match pass {
            Ok(pass) => pass,
            Err(e) => {
                tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
                conn = None;
                continue;
            }
        };
        // The same log as last time: nothing was written since (the writer starts the log
        // over by itself at its next commit).
        let seen = (pass.log, pass.checkpointed);
        if last.replace(seen) == Some(seen) || pass.log <= 0 {
            continue;
        }
        if pass.log > CHECKPOINT_BUSY_FRAMES {
            pause = CHECKPOINT_BUSY;
        }
        tail.store(true, Ordering::Release);
    }
}

/// On the writer's thread, when the checkpointer asked: copies the rest of the log.
fn finish_checkpoint(slot: &mut Slot, tail: &AtomicBool) {
    if !tail.swap(false, Ordering::AcqRel) {
        return;
    }
    if let Some(m) = slot.conn.as_mut()
        && let Err(e) = m.conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);")
    {
        tracing::warn!(error = %e, "SQLite checkpoint on the writer failed");
    }
}

/// How often the log is copied back while writes are few.
const CHECKPOINT_IDLE: Duration = Duration::from_millis(500);
/// … and while a pass finds more than this many frames (16 MB of 4 KB pages): the log
/// then stays at a few tens of MB under saturation.
const CHECKPOINT_BUSY: Duration = Duration::from_millis(100);
const CHECKPOINT_BUSY_FRAMES: i32 = 4096;

/// What `PRAGMA wal_checkpoint` reports: frames in the log, and frames copied.
#[derive(diesel::QueryableByName)]
struct CheckpointPass {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    checkpointed: i32,
}

/// After a statement: a failure that a ping confirms is the connection's own retires it and
/// counts as an outage.
fn settle<T>(m: &mut connection::Managed, result: Result<T, DbError>) -> Result<T, DbError> {
    use diesel::r2d2::R2D2Connection;
    match result {
        Err(DbError::Other(e)) if m.conn.ping().is_err() => {
            m.dead = true;
            Err(DbError::Unavailable(e))
        }
        Err(DbError::Unavailable(e)) => {
            m.dead = true;
            Err(DbError::Unavailable(e))
        }
        other => other,
    }
}

#[derive(Clone)]
pub struct Db {
    exec: Exec,
    /// Background threads stop when the last handle is dropped.
    _alive: Arc<()>,
    /// Deliveries waiting to be written together (see `Inbox::enqueue`).
    enqueue_batch: Arc<std::sync::Mutex<Vec<inbox::PendingEnqueue>>>,
    /// Workers' "done, give me the next" waiting to run together (see
    /// `Inbox::complete_and_claim`).
    settle_batch: Arc<std::sync::Mutex<Vec<inbox::PendingSettle>>>,
    target: DbTarget,
    /// When the database was last found unreachable (ms since the epoch; 0 = never).
    /// Calls within [`FAIL_FAST`] of it fail at once instead of each waiting for a
    /// connection: webhooks get their 503 immediately during an outage.
    down_since: Arc<AtomicI64>,
    /// Postgres: how many connections the workers' and other routine calls may hold at once;
    /// the rest of the pool stays free for what a caller waits on (a webhook's delivery), so
    /// 32 workers on 8 connections cannot make Webex's delivery wait (nor park a blocking
    /// thread each on the pool).
    routine_permits: Option<Arc<tokio::sync::Semaphore>>,
    /// Seals tokens; `None` until a token key is given (grants then cannot be stored).
    sealer: Option<crypto::Sealer>,
}

/// What went wrong in the store, before each port maps it to its own error type.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<DieselError> for DbError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => DbError::Unavailable(e.into()),
            _ => DbError::Other(e.into()),
        }
    }
}

/// Pool settings; the defaults suit a small service on two cores.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(2),
        }
    }
}

impl Db {
    /// Builds the pool without waiting for the database: a server can start (and report
    /// "not ready") while the database is still down.
    pub fn open(target: DbTarget, options: &PoolOptions) -> anyhow::Result<Self> {
        if let DbTarget::Sqlite(path) = &target
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        }
        // SQLite has one writer at a time; one connection keeps write transactions from ever
        // needing a lock upgrade (SQLITE_BUSY) inside this process.
        let alive = Arc::new(());
        let exec = if target.is_postgres() {
            Exec::Pool(
                r2d2::Pool::builder()
                    .max_size(options.max_size.max(1))
                    .min_idle(Some(0))
                    .connection_timeout(options.connection_timeout)
                    .test_on_check_out(false)
                    .build_unchecked(connection::Manager::new(target.clone())),
            )
        } else {
            let queue = Arc::new(JobQueue::new());
            let mut slot = Slot {
                manager: connection::Manager::new(target.clone()),
                conn: None,
            };
            let (jobs, weak) = (queue.clone(), Arc::downgrade(&alive));
            let tail = Arc::new(AtomicBool::new(false));
            let asked = tail.clone();
            std::thread::Builder::new()
                .name("botper-sqlite".into())
                .spawn(move || {
                    // Ends when every handle to this store is gone.
                    loop {
                        match jobs.pop() {
                            Some(job) => {
                                run_group(&mut slot, &jobs, job);
                                finish_checkpoint(&mut slot, &asked);
                            }
                            None if weak.upgrade().is_none() => return,
                            None => {}
                        }
                    }
                })
                .context("cannot start the database thread")?;
            let manager = connection::Manager::new(target.clone());
            let weak = Arc::downgrade(&alive);
            std::thread::Builder::new()
                .name("botper-checkpoint".into())
                .spawn(move || checkpointer(manager, weak, tail))
                .context("cannot start the checkpoint thread")?;
            Exec::Single(queue)
        };
        Ok(Self {
            exec,
            _alive: alive,
            enqueue_batch: Arc::new(std::sync::Mutex::new(Vec::new())),
            settle_batch: Arc::new(std::sync::Mutex::new(Vec::new())),
            routine_permits: target.is_postgres().then(|| {
                Arc::new(tokio::sync::Semaphore::new(routine_permits(
                    options.max_size,
                )))
            }),
            target,
            sealer: None,
            down_since: Arc::new(AtomicI64::new(0)),
        })
    }

    /// Enables the token store with `key` (see `docs/operations.md` for key handling).
    pub fn with_token_key(mut self, key: &TokenKey) -> Self {
        self.sealer = Some(crypto::Sealer::new(key));
        self
    }

    pub fn target(&self) -> &DbTarget {
        &self.target
    }

    /// Applies pending migrations (embedded in the binary) for this backend.
    pub async fn migrate(&self) -> anyhow::Result<usize> {
        self.run_solo(|conn| {
            let applied = match conn {
                DbConnection::Postgres(pg) => {
                    pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                    let r = pg
                        .run_pending_migrations(POSTGRES_MIGRATIONS)
                        .map(|v| v.len());
                    pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                    r
                }
                DbConnection::Sqlite(lite) => lite
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|v| v.len()),
            };
            applied.map_err(|e| DbError::Other(anyhow::anyhow!("migrations failed: {e}")))
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, inside the caller's
    /// tracing span.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_lane(Lane::Normal, f).await
    }

    /// [`Db::run`] outside any shared transaction (SQLite runs queued jobs together, each in
    /// a savepoint): for what cannot run inside a transaction, like a checkpoint.
    pub(crate) async fn run_solo<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_lane(Lane::Solo, f).await
    }

    /// [`Db::run`] ahead of queued work (SQLite) or on the connections kept free of routine
    /// calls (Postgres), for what a caller is waiting on.
    pub(crate) async fn run_urgent<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_lane(Lane::Urgent, f).await
    }

    async fn run_lane<T, F>(&self, lane: Lane, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let span = tracing::Span::current();
        let down_since = self.down_since.clone();
        failing_fast(&down_since)?;
        match &self.exec {
            Exec::Pool(pool) => {
                let pool = pool.clone();
                let permit = match (&self.routine_permits, lane) {
                    (Some(permits), Lane::Normal | Lane::Solo) => {
                        let permit = permits
                            .clone()
                            .acquire_owned()
                            .await
                            .map_err(|e| DbError::Other(anyhow::Error::new(e)))?;
                        // The database may have gone away while this call waited its turn.
                        failing_fast(&down_since)?;
                        Some(permit)
                    }
                    _ => None,
                };
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let _entered = span.enter();
                    let mut pooled = match pool.get() {
                        Ok(p) => p,
                        Err(e) => {
                            down_since.store(now_ms(), Ordering::Relaxed);
                            return Err(DbError::Unavailable(anyhow::Error::new(e)));
                        }
                    };
                    down_since.store(0, Ordering::Relaxed);
                    let result = f(&mut pooled.conn);
                    settle(&mut pooled, result)
                })
                .await
                .map_err(|e| DbError::Other(anyhow::anyhow!("database task failed: {e}")))?
            }
            Exec::Single(queue) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let work = move |run: Run<'_>| -> Answer {
                    let _entered = span.enter();
                    let result = match run {
                        Run::Conn(m, grouped) => {
                            down_since.store(0, Ordering::Relaxed);
                            let r = if grouped {
                                diesel::Connection::transaction::<T, DbError, _>(&mut m.conn, f)
                            } else {
                                f(&mut m.conn)
                            };
                            settle(m, r)
                        }
                        Run::NoConn(e) => {
                            down_since.store(now_ms(), Ordering::Relaxed);
                            Err(e)
                        }
                    };
                    Box::new(move |committed| {
                        let result = match result {
                            Ok(_) if !committed => Err(DbError::Unavailable(anyhow::anyhow!(
                                "the database did not commit the work"
                            ))),
                            other => other,
                        };
                        let _ = tx.send(result);
                    })
                };
                let job = Job {
                    solo: lane == Lane::Solo,
                    urgent: lane == Lane::Urgent,
                    work: Box::new(work),
                };
                queue.push(job, lane == Lane::Urgent);
                rx.await
                    .map_err(|_| DbError::Other(anyhow::anyhow!("the database thread stopped")))?
            }
        }
    }

    /// Readiness: ahead of routine work, so a busy store still answers `/readyz`.
    pub(crate) async fn ping_db(&self) -> Result<(), DbError> {
        self.run_urgent(|conn| {
            use diesel::r2d2::R2D2Connection;
            conn.ping().map_err(|e| DbError::Unavailable(e.into()))
        })
        .await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Normal,
    Urgent,
    Solo,
}

/// Connections kept for urgent calls (webhook deliveries) on Postgres.
const URGENT_RESERVE: u32 = 2;

/// How many of a pool of `size` routine calls may hold at once (at least one).
fn routine_permits(size: u32) -> usize {
    size.saturating_sub(URGENT_RESERVE).max(1) as usize
}

/// How long after an unreachable database calls fail without trying.
const FAIL_FAST: Duration = Duration::from_millis(500);

/// `Unavailable` without trying when the database was unreachable moments ago.
fn failing_fast(down_since: &AtomicI64) -> Result<(), DbError> {
    let last_down = down_since.load(Ordering::Relaxed);
    if last_down != 0 && now_ms() - last_down < FAIL_FAST.as_millis() as i64 {
        return Err(DbError::Unavailable(anyhow::anyhow!(
            "the database was unreachable moments ago"
        )));
    }
    Ok(())
}

/// Wall-clock milliseconds, for bookkeeping columns (`updated_at`) and the outage circuit;
/// business times come from the `Clock` port.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub(crate) fn millis(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn from_millis(ms: i64) -> Result<jiff::Timestamp, DbError> {
    jiff::Timestamp::from_millisecond(ms)
        .map_err(|e| DbError::Other(anyhow::anyhow!("bad timestamp {ms} in the database: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn depth(conn: &mut DbConnection) -> u32 {
        use diesel::connection::{Connection, TransactionManager};
        <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .ok()
            .flatten()
            .map_or(0, |d| d.get())
    }

    #[test]
    fn routine_calls_leave_two_connections_for_deliveries() {
        assert_eq!(routine_permits(8), 6);
        assert_eq!(routine_permits(3), 1);
        assert_eq!(routine_permits(1), 1, "a pool of one is shared");
    }

    /// A store on a fresh SQLite file (the directory lives as long as the first value).
    pub(super) fn sqlite_store() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            DbTarget::Sqlite(dir.path().join("store.db")),
            &PoolOptions::default(),
        )
        .unwrap();
        (dir, db)
    }

    /// [`sqlite_store`] with an empty table `t (v INTEGER NOT NULL)` for jobs to write.
    async fn sqlite_store_with_table_t() -> (tempfile::TempDir, Db) {
        let (dir, db) = sqlite_store();
        db.run(|c| {
            c.batch_execute("CREATE TABLE t (v INTEGER NOT NULL)")?;
            Ok(())
        })
        .await
        .unwrap();
        (dir, db)
    }

    /// Writes that never pause still let the log be copied back whole and started over (the
    /// writer finishes each checkpoint pass), so the file stays within its size limit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sqlite_log_starts_over_under_steady_writes() {
        let (dir, db) = sqlite_store();
        db.run(|c| Ok(c.batch_execute("CREATE TABLE w (b BLOB NOT NULL)")?))
            .await
            .unwrap();
        let wal = dir.path().join("store.db-wal");
        // The header's checkpoint sequence number counts the times the log started over.
        let restarts = || {
            use std::io::Read;
            let mut header = [0u8; 16];
            std::fs::File::open(&wal)
                .and_then(|mut f| f.read_exact(&mut header))
                .map_or(0, |()| {
                    u32::from_be_bytes(header[12..16].try_into().unwrap())
                })
        };
        let before = restarts();
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let (db, stop) = (db.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        db.run(|c| Ok(c.batch_execute("INSERT INTO w VALUES (randomblob(3000))")?))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while restarts() == before && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        assert!(restarts() > before, "the log never started over");
        let size = std::fs::metadata(&wal).unwrap().len();
        assert!(size <= 80 << 20, "the log grew to {size} bytes");
    }

    /// Keeps the database thread busy until the sender is used, so jobs queue up behind it.
    async fn hold_the_thread(
        db: &Db,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), DbError>>,
    ) {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let db = db.clone();
            tokio::spawn(async move {
                db.run(move |_| {
                    held.recv().ok();
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        (release, blocker)
    }

    /// Jobs queued while the SQLite thread is busy run together in one transaction, each in
    /// a savepoint: a failing one undoes only its own write; a solo job runs outside it;
    /// every caller hears only after the commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_sqlite_jobs_share_a_transaction_and_fail_alone() {
        let (_dir, db) = sqlite_store_with_table_t().await;
        // Hold the thread until every job below is queued.
        let (release, blocker) = hold_the_thread(&db).await;
        let mut jobs = Vec::new();
        for v in 0..6i64 {
            let db = db.clone();
            jobs.push(tokio::spawn(async move {
                db.run(move |c| {
                    diesel::sql_query(format!("INSERT INTO t (v) VALUES ({v})")).execute(c)?;
                    let d = depth(c);
                    if v == 3 {
                        return Err(DbError::Other(anyhow::anyhow!("job 3 fails after writing")));
                    }
                    Ok(d)
                })
                .await
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let solo = {
            let db = db.clone();
            tokio::spawn(async move { db.run_solo(|c| Ok(depth(c))).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for (v, j) in jobs.into_iter().enumerate() {
            match j.await.unwrap() {
                Ok(d) => assert_eq!(d, 2, "job {v} ran in a savepoint of a shared transaction"),
                Err(e) => {
                    assert_eq!(v, 3);
                    assert!(e.to_string().contains("job 3"), "{e}");
                }
            }
        }
        assert_eq!(solo.await.unwrap().unwrap(), 0, "a solo job runs outside");
        let rows: Vec<Count> = db
            .run(|c| Ok(diesel::sql_query("SELECT count(*) AS n FROM t").load(c)?))
            .await
            .unwrap();
        assert_eq!(rows[0].n, 5, "only the failing job's write was undone");
    }

    /// A webhook's delivery that shares a transaction which then does not commit is not
    /// acknowledged: the caller hears an error, and the inbox holds nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_in_a_failed_shared_transaction_is_not_acknowledged() {
        use crate::ports::{DedupKey, Inbox, NewDelivery, WebexEvent};
        let (_dir, db) = sqlite_store();
        db.migrate().await.unwrap();
        let (release, blocker) = hold_the_thread(&db).await;
        let delivery = NewDelivery::now(
            DedupKey {
                resource: "messages".into(),
                event: "created".into(),
                data_id: "m1".into(),
            },
            WebexEvent::MessageCreated {
                message_id: "m1".into(),
                room_id: "r".into(),
                person_id: "p".into(),
            },
            jiff::Timestamp::now(),
        );
        let enqueued = {
            let db = db.clone();
            tokio::spawn(async move { db.enqueue(delivery).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let boom = {
            let db = db.clone();
            // Urgent too, so that it joins the delivery's transaction.
            tokio::spawn(async move {
                db.run_urgent(|_| -> Result<(), DbError> { panic!("a bug in a job") })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        assert!(boom.await.unwrap().is_err());
        let acked = enqueued.await.unwrap();
        assert!(acked.is_err(), "acknowledged but rolled back: {acked:?}");
        assert_eq!(db.stats().await.unwrap().pending, 0);
    }

    /// A job that panics inside a shared transaction: the others are told their work was
    /// not committed (it was not), and the store carries on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_a_shared_transaction_commits_nothing_and_says_so() {
        let (_dir, db) = sqlite_store_with_table_t().await;
        let (release, blocker) = hold_the_thread(&db).await;
        let first = {
            let db = db.clone();
            tokio::spawn(async move {
                db.run(|c| {
                    diesel::sql_query("INSERT INTO t (v) VALUES (1)").execute(c)?;
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let boom = {
            let db = db.clone();
            tokio::spawn(async move {
                db.run(|c| -> Result<(), DbError> {
                    diesel::sql_query("INSERT INTO t (v) VALUES (2)").execute(c)?;
                    panic!("a bug in a job")
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        let first = first.await.unwrap();
        assert!(matches!(first, Err(DbError::Unavailable(_))), "{first:?}");
        assert!(boom.await.unwrap().is_err());
        let rows: Vec<Count> = db
            .run(|c| Ok(diesel::sql_query("SELECT count(*) AS n FROM t").load(c)?))
            .await
            .unwrap();
        assert_eq!(rows[0].n, 0, "nothing of the group was committed");
    }

    /// A command's path through the store — its delivery stored, claimed, the task changes
    /// of the busy commands and an undo, `list`, settled with the next item claimed —
    /// prepares each statement once per connection: the second round prepares none and runs
    /// only cached ones. (Diesel never caches an `UPDATE` of its own: those are
    /// hand-written. SQLite's own re-preparing of a cached statement is invisible here;
    /// query planner stability, which prevents it, is checked by
    /// `sqlite_is_built_without_needless_locks`.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_busy_path_prepares_each_statement_once() {
        use crate::domain::{TaskNumber, TaskOp, TaskTitle};
        use crate::ports::{
            DedupKey, IdempotencyKey, Inbox, NewDelivery, TaskRepository, WebexEvent,
        };
        use diesel::connection::{Connection, InstrumentationEvent};
        use std::collections::HashSet;
        use std::sync::Mutex;

        #[derive(Default)]
        struct Seen {
            cached: HashSet<String>,
            /// Statements prepared and cached since the warm-up round.
            newly_cached: Vec<String>,
            run: Vec<String>,
        }
        let (_dir, db) = sqlite_store();
        db.migrate().await.unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let log = seen.clone();
        db.run_solo(move |c| {
            c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                let mut log = log.lock().unwrap();
                match event {
                    InstrumentationEvent::CacheQuery { sql, .. } => {
                        log.cached.insert(sql.to_owned());
                        log.newly_cached.push(sql.to_owned());
                    }
                    InstrumentationEvent::StartQuery { query, .. } => {
                        let text = query.to_string();
                        let sql = text.split(" -- binds: ").next().unwrap_or("").to_owned();
                        log.run.push(sql);
                    }
                    _ => {}
                }
            });
            Ok(())
        })
        .await
        .unwrap();

        let now = jiff::Timestamp::now();
        let me = crate::domain::PersonId::new("p");
        let title = |t: &str| TaskTitle::parse(t).unwrap();
        let n = |k: u32| TaskNumber::new(k).unwrap();
        for round in 0..2 {
            let key = |op: &str| Some(IdempotencyKey::new(format!("inbox:{round}.{op}")));
            let id = format!("m{round}");
            db.enqueue(NewDelivery::now(
                DedupKey {
                    resource: "messages".into(),
                    event: "created".into(),
                    data_id: id.clone(),
                },
                WebexEvent::MessageCreated {
                    message_id: id.as_str().into(),
                    room_id: "room".into(),
                    person_id: me.clone(),
                },
                now,
            ))
            .await
            .unwrap();
            let item = db
                .claim("w".into(), Duration::from_secs(60), now)
                .await
                .unwrap()
                .expect("the delivery is claimed");
            let create = |t: &str| TaskOp::Create {
                title: title(t),
                meeting: None,
                due: None,
                remind_at: None,
            };
            let first = 2 * round + 1;
            for (op, name) in [
                (create("one"), "create1"),
                (create("two"), "create2"),
                (TaskOp::Complete(n(first)), "done"),
                (TaskOp::Edit(n(first + 1), title("two, renamed")), "edit"),
                (TaskOp::Delete(n(first + 1)), "delete"),
                (TaskOp::Undo, "undo"),
                (TaskOp::Complete(n(99)), "missing"),
            ] {
                db.apply(me.clone(), op, key(name), now).await.unwrap();
            }
            db.list_open(me.clone()).await.unwrap();
            db.task(me.clone(), n(first)).await.unwrap();
            db.complete_and_claim(item.id, "w".into(), now, Duration::from_secs(60))
                .await
                .unwrap();
            if round == 0 {
                let mut seen = seen.lock().unwrap();
                seen.run.clear();
                seen.newly_cached.clear();
            }
        }
        let seen = seen.lock().unwrap();
        // Transaction control, and the checkpoint the database thread may run between jobs.
        let control = [
            "BEGIN",
            "COMMIT",
            "SAVEPOINT",
            "RELEASE",
            "ROLLBACK",
            "PRAGMA",
        ];
        let again: Vec<&String> = seen
            .run
            .iter()
            .filter(|sql| !control.iter().any(|c| sql.starts_with(c)))
            .filter(|sql| !seen.cached.contains(*sql))
            .collect();
        assert!(seen.run.len() > 10, "the round ran: {:?}", seen.run);
        assert!(again.is_empty(), "prepared again on every call: {again:#?}");
        assert!(
            seen.newly_cached.is_empty(),
            "prepared in the second round: {:#?}",
            seen.newly_cached
        );
    }
}
