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
use std::sync::atomic::{AtomicI64, Ordering};
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

/// The SQLite thread's work: two lanes, so that storing a webhook delivery (which Webex is
/// waiting on) goes before queued worker statements.
pub(crate) struct JobQueue {
    lanes: std::sync::Mutex<(
        std::collections::VecDeque<Job>,
        std::collections::VecDeque<Job>,
    )>,
    ready: std::sync::Condvar,
}

impl JobQueue {
    fn new() -> Self {
        Self {
            lanes: std::sync::Mutex::new(Default::default()),
            ready: std::sync::Condvar::new(),
        }
    }

    fn push(&self, job: Job, urgent: bool) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if urgent {
            lanes.0.push_back(job);
        } else {
            lanes.1.push_back(job);
        }
        drop(lanes);
        self.ready.notify_one();
    }

    /// The next job, urgent first; `None` after a second without work (so the thread can
    /// see whether the store is still in use).
    fn pop(&self) -> Option<Job> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(j) = lanes.0.pop_front().or_else(|| lanes.1.pop_front()) {
                return Some(j);
            }
            let (next, timeout) = self
                .ready
                .wait_timeout(lanes, Duration::from_secs(1))
                .unwrap_or_else(|p| p.into_inner());
            lanes = next;
            if timeout.timed_out() && lanes.0.is_empty() && lanes.1.is_empty() {
                return None;
            }
        }
    }
}

type Job = Box<dyn FnOnce(&mut Slot) + Send>;

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

/// Copies the SQLite write-ahead log back into the database every half second, on a
/// connection of its own (a passive checkpoint never blocks the writer). Stops when the
/// store is dropped.
fn checkpointer(manager: connection::Manager, alive: std::sync::Weak<()>) {
    use r2d2::ManageConnection;
    let mut conn = None;
    while alive.upgrade().is_some() {
        std::thread::sleep(Duration::from_millis(500));
        if conn.is_none() {
            conn = manager.connect().ok();
        }
        if let Some(m) = conn.as_mut() {
            let m: &mut connection::Managed = m;
            if let Err(e) = m.conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
                conn = None;
            }
        }
    }
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
    target: DbTarget,
    /// When the database was last found unreachable (ms since the epoch; 0 = never).
    /// Calls within [`FAIL_FAST`] of it fail at once instead of each waiting for a
    /// connection: webhooks get their 503 immediately during an outage.
    down_since: Arc<AtomicI64>,
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
            max_size: 8,
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
            std::thread::Builder::new()
                .name("botper-sqlite".into())
                .spawn(move || {
                    // Ends when every handle to this store is gone.
                    loop {
                        match jobs.pop() {
                            Some(job) => {
                                // A panicking job drops its reply channel (its caller gets
                                // an error); the thread and its other callers carry on.
                                let run = std::panic::AssertUnwindSafe(|| job(&mut slot));
                                if std::panic::catch_unwind(run).is_err() {
                                    tracing::error!("a database job panicked; reconnecting");
                                    slot.conn = None;
                                }
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
                .spawn(move || checkpointer(manager, weak))
                .context("cannot start the checkpoint thread")?;
            Exec::Single(queue)
        };
        Ok(Self {
            exec,
            _alive: alive,
            enqueue_batch: Arc::new(std::sync::Mutex::new(Vec::new())),
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
        self.run(|conn| {
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
        self.run_lane(false, f).await
    }

    /// [`Db::run`] ahead of queued work (SQLite), for what a caller is waiting on.
    pub(crate) async fn run_urgent<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_lane(true, f).await
    }

    async fn run_lane<T, F>(&self, urgent: bool, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let span = tracing::Span::current();
        let down_since = self.down_since.clone();
        let last_down = down_since.load(Ordering::Relaxed);
        if last_down != 0 && now_ms() - last_down < FAIL_FAST.as_millis() as i64 {
            return Err(DbError::Unavailable(anyhow::anyhow!(
                "the database was unreachable moments ago"
            )));
        }
        match &self.exec {
            Exec::Pool(pool) => {
                let pool = pool.clone();
                tokio::task::spawn_blocking(move || {
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
                let job: Job = Box::new(move |slot: &mut Slot| {
                    let _entered = span.enter();
                    let result = match slot.connection() {
                        Ok(m) => {
                            down_since.store(0, Ordering::Relaxed);
                            let r = f(&mut m.conn);
                            settle(m, r)
                        }
                        Err(e) => {
                            down_since.store(now_ms(), Ordering::Relaxed);
                            Err(DbError::Unavailable(anyhow::Error::new(e)))
                        }
                    };
                    let _ = tx.send(result);
                });
                queue.push(job, urgent);
                rx.await
                    .map_err(|_| DbError::Other(anyhow::anyhow!("the database thread stopped")))?
            }
        }
    }

    pub(crate) async fn ping_db(&self) -> Result<(), DbError> {
        self.run(|conn| {
            use diesel::r2d2::R2D2Connection;
            conn.ping().map_err(|e| DbError::Unavailable(e.into()))
        })
        .await
    }
}

/// How long after an unreachable database calls fail without trying.
const FAIL_FAST: Duration = Duration::from_millis(500);

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
