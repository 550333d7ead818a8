//! One connection type over Postgres and SQLite, and an r2d2 manager that picks the backend
//! from the configured target (never by trial: SQLite would accept any string as a path).

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Where the data lives, as chosen by `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DbTarget {
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
    /// A file path for the embedded SQLite store.
    Sqlite(PathBuf),
}

impl DbTarget {
    /// `postgres://…` / `postgresql://…` selects Postgres; anything else is an SQLite path.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is empty".into());
        }
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            url::Url::parse(raw).map_err(|e| format!("is not a valid Postgres URL ({e})"))?;
            return Ok(Self::Postgres(raw.to_owned()));
        }
        if lower.contains("://") {
            return Err(
                "has an unsupported scheme (use postgres://… or an SQLite file path)".into(),
            );
        }
        let path = raw.strip_prefix("sqlite:").unwrap_or(raw);
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// A description that is safe to log (no password).
    pub fn redacted(&self) -> String {
        match self {
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    // libpq also takes secrets as query parameters.
                    let secret = |k: &str| {
                        k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword")
                    };
                    if u.query_pairs().any(|(k, _)| secret(&k)) {
                        let pairs: Vec<(String, String)> = u
                            .query_pairs()
                            .map(|(k, v)| {
                                let v = if secret(&k) {
                                    "***".into()
                                } else {
                                    v.into_owned()
                                };
                                (k.into_owned(), v)
                            })
                            .collect();
                        u.query_pairs_mut().clear().extend_pairs(pairs);
                    }
                    format!("Postgres at {u}")
                }
                Err(_) => "Postgres".into(),
            },
            Self::Sqlite(path) => format!("SQLite file {}", path.display()),
        }
    }
}

impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A pooled connection and whether it was seen to fail at the connection level.
///
/// Diesel cannot tell that a Postgres connection died with its server (its `is_broken` only
/// looks at the transaction state), so after any failed statement [`super::Db::run`] pings
/// the connection and, if that fails too, marks it here; the pool then drops it instead of
/// handing a dead connection out forever.
pub struct Managed {
    pub conn: DbConnection,
    pub dead: bool,
}

pub struct Manager {
    target: DbTarget,
}

impl Manager {
    pub fn new(target: DbTarget) -> Self {
        Self { target }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Managed;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Managed, Self::Error> {
        let conn = match &self.target {
            DbTarget::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(diesel::r2d2::Error::ConnectionError),
            DbTarget::Sqlite(path) => {
                let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; NORMAL sync keeps every committed
                // transaction across a process crash (not across power loss); the busy
                // timeout covers a second process (e.g. `botper chat`) on the same file.
                // Temporary data (the sub-journal of each job's savepoint in a shared
                // transaction, sorts) stays in memory: no temporary file opened, written and
                // removed per transaction, and no copy of a person's rows in one.
                c.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                     PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; \
                     PRAGMA journal_size_limit = 67108864;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(c))
            }
        }?;
        Ok(Managed { conn, dead: false })
    }

    fn is_valid(&self, m: &mut Managed) -> Result<(), Self::Error> {
        m.conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, m: &mut Managed) -> bool {
        m.dead || m.conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_picks_the_backend() {
        assert!(DbTarget::parse("postgres://u@h/db").unwrap().is_postgres());
        assert!(
            DbTarget::parse("postgresql://u:p@127.0.0.1:5432/db")
                .unwrap()
                .is_postgres()
        );
        assert_eq!(
            DbTarget::parse("botper.db").unwrap(),
            DbTarget::Sqlite("botper.db".into())
        );
        assert_eq!(
            DbTarget::parse("sqlite:/tmp/x.db").unwrap(),
            DbTarget::Sqlite("/tmp/x.db".into())
        );
        assert!(DbTarget::parse("mysql://x").is_err());
        assert!(DbTarget::parse("  ").is_err());
    }

    #[test]
    fn redacted_hides_the_password() {
        let t = DbTarget::parse("postgres://bob:s3cret@db:5432/botper").unwrap();
        assert!(!t.redacted().contains("s3cret"));
        assert!(!format!("{t:?}").contains("s3cret"));
        for url in [
            "postgres://db:5432/botper?password=s3cret",
            "postgres://bob@db/botper?sslmode=require&PASSWORD=s3cret",
            "postgresql://bob:s3cret@db/botper?sslpassword=s3cret&application_name=botper",
        ] {
            let t = DbTarget::parse(url).unwrap();
            let shown = t.redacted();
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
            assert!(shown.contains("db"), "{shown}");
        }
        let plain = DbTarget::parse("postgres://bob@db/botper?sslmode=require").unwrap();
        assert_eq!(
            plain.redacted(),
            "Postgres at postgres://bob@db/botper?sslmode=require"
        );
    }

    /// The bundled SQLite is built as `.cargo/config.toml` asks: no memory statistics (a
    /// global lock around every allocation), multi-thread mode (no lock per call) and
    /// plans that never depend on a bound value (a cached statement is not prepared again
    /// when its `LIMIT` or a value compared with a partial index's condition changes).
    #[test]
    fn sqlite_is_built_without_needless_locks() {
        #[derive(diesel::QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut c)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(options.iter().any(|o| o == "THREADSAFE=2"), "{options:?}");
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
    }
}
