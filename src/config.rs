//! Configuration from the environment (and a `.env` file in the working directory, if any).
//!
//! Every value is parsed once into a typed field. A missing bot token or webhook secret is
//! not fatal (the web page still serves; webhooks are refused and the log says which
//! variable is missing); an invalid value is, with one line naming the variable.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::adapters::db::{DbTarget, TokenKey};

pub const DEFAULT_API_BASE: &str = "https://webexapis.com/v1";
pub const DEFAULT_DATABASE: &str = "botper.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8000";
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8000";
/// Every device Botper registers is named with this prefix.
pub const DEVICE_PREFIX: &str = "Botper ";
pub const DEFAULT_U2C_URL: &str = "https://u2c.wbx2.com/u2c/api/v1";

/// `BOTPER_EVENTS`: how Webex's events reach Botper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsChoice {
    Webhooks,
    Websocket,
    /// The websocket unless `BOTPER_PUBLIC_URL` is an `https://` address.
    Auto,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bot_token: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    pub webex_api_base: Url,
    pub database: DbTarget,
    pub bind: SocketAddr,
    pub workers: usize,
    /// How long a worker's claim on an inbox item lasts (`BOTPER_LEASE_SECS`).
    pub lease: Duration,
    pub db_pool_size: u32,
    pub inbox_retention: Duration,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Where Webex sends the browser back (`WEBEX_REDIRECT_URI`).
    pub redirect_uri: String,
    /// Where Webex and browsers reach Botper (`BOTPER_PUBLIC_URL`), no trailing slash.
    pub public_url: String,
    /// `BOTPER_TOKEN_KEY`; required with Postgres, generated into a file next to an SQLite
    /// database otherwise.
    pub token_key: Option<TokenKey>,
    /// `BOTPER_RATE_LIMIT_PER_MINUTE` / `_BURST` / `_BACKLOG`; `None` when the rate is 0.
    pub rate_limit: Option<crate::domain::rate::RatePolicy>,
    /// `BOTPER_SYNC_WEBHOOKS=true`: `serve` runs `webhooks sync` at start.
    pub sync_webhooks: bool,
    /// `BOTPER_MEET_NOW=true`: `meet now` is on, and connecting asks for `spark:all`.
    pub meet_now: bool,
    /// `BOTPER_EVENTS`.
    pub events: EventsChoice,
    /// `WEBEX_U2C_URL`: where the device service is discovered (websocket mode).
    pub u2c_url: Url,
    /// `BOTPER_MEETINGS_POLL_SECS`: how often connected people's meetings are polled in
    /// websocket mode.
    pub meetings_poll: Duration,
    /// `BOTPER_LEADER_LEASE_SECS`: how long the socket holder's lease lasts unrenewed (a
    /// standby takes over at most this long after the holder dies).
    pub leader_lease: Duration,
    /// `BOTPER_DEVICE_NAME`: the name of Botper's device at Webex (websocket mode); by
    /// default one derived from the database, so that a deployment's instances share it.
    pub device_name: Option<String>,
    /// `BOTPER_ALLOWED_DOMAINS` / `_ORGS` / `_EMAILS` (all unset: open).
    pub allow: crate::domain::access::AllowList,
    /// `BOTPER_ADMINS`: admins by address (lowercase).
    pub admins: Vec<String>,
    /// `BOTPER_MEETING_ROLE`: `everyone` or `organizer`.
    pub meeting_role: crate::domain::access::MeetingRole,
    /// `BOTPER_DONE_RETENTION_DAYS`: done tasks older than this are purged (unset: kept).
    pub done_retention: Option<Duration>,
}

/// An invalid value: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl Config {
    /// Reads the process environment, after loading `.env` from the working directory when
    /// it exists (variables already set win over the file).
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(ConfigError {
                    var: ".env",
                    problem: format!("cannot be read ({e})"),
                });
            }
        }
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds the configuration from any variable source (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let secret = |k: &str| var(k).map(SecretString::from);

        let api_raw = var("WEBEX_API_BASE_URL").unwrap_or_else(|| DEFAULT_API_BASE.into());
        let webex_api_base = parse_http_url(&api_raw).map_err(|problem| ConfigError {
            var: "WEBEX_API_BASE_URL",
            problem,
        })?;
        let db_raw = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE.into());
        let database = DbTarget::parse(&db_raw).map_err(|problem| ConfigError {
            var: "DATABASE_URL",
            problem,
        })?;
        let bind_raw = var("BOTPER_BIND").unwrap_or_else(|| DEFAULT_BIND.into());
        let bind = bind_raw.parse().map_err(|_| ConfigError {
            var: "BOTPER_BIND",
            problem: format!("`{bind_raw}` is not an address like 127.0.0.1:8000"),
        })?;
        // Workers are async tasks that hold a database connection only for a statement and
        // wait on Webex most of the time, so more of them overlap more Webex calls: 32 did
        // ~18 % more than 8 on SQLite (queued statements share one commit) and ~22 % more
        // on Postgres with the same 8 connections (docs/performance.md; the pool's default
        // 10 keeps 2 of them for webhook deliveries). On SQLite 64 keep up with a saturating
        // sender where 32 fall behind (reply p99 20-40 ms instead of 360-460 ms).
        let default_workers = if database.is_postgres() { 32 } else { 64 };
        let workers = number(&var, "BOTPER_WORKERS", default_workers, 1, 256)?;
        let lease_secs = number(&var, "BOTPER_LEASE_SECS", 60, 2, 3600)?;
        let db_pool_size = number(&var, "BOTPER_DB_POOL_SIZE", 10, 1, 128)?;
        let retention_days = number(&var, "BOTPER_INBOX_RETENTION_DAYS", 7, 1, 3650)?;
        let per_minute = number(&var, "BOTPER_RATE_LIMIT_PER_MINUTE", 30, 0, 100_000)?;
        let burst = number(&var, "BOTPER_RATE_LIMIT_BURST", 10, 1, 100_000)?;
        let backlog = number(&var, "BOTPER_RATE_LIMIT_BACKLOG", 300, 1, 100_000)?;

        let public_raw = var("BOTPER_PUBLIC_URL").unwrap_or_else(|| DEFAULT_PUBLIC_URL.into());
        let public_url = parse_http_url(&public_raw)
            .map_err(|problem| ConfigError {
                var: "BOTPER_PUBLIC_URL",
                problem,
            })?
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let redirect_uri = match var("WEBEX_REDIRECT_URI") {
            Some(raw) => parse_http_url(&raw)
                .map_err(|problem| ConfigError {
                    var: "WEBEX_REDIRECT_URI",
                    problem,
                })?
                .to_string(),
            None => format!("{public_url}/auth/webex/callback"),
        };
        let token_key = match var("BOTPER_TOKEN_KEY") {
            Some(raw) => Some(TokenKey::from_base64(&raw).map_err(|e| ConfigError {
                var: "BOTPER_TOKEN_KEY",
                problem: format!("{e} (make one with `openssl rand -base64 32`)"),
            })?),
            None if database.is_postgres() => {
                return Err(ConfigError {
                    var: "BOTPER_TOKEN_KEY",
                    problem: "is required with Postgres: 32 random bytes in base64 \
                              (`openssl rand -base64 32`); it encrypts the stored tokens"
                        .into(),
                });
            }
            None => None,
        };

        let flag = |name: &'static str| match var(name).map(|v| v.to_lowercase()) {
            None => Ok(false),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError {
                var: name,
                problem: format!("`{v}` is not true or false"),
            }),
        };
        let events = match var("BOTPER_EVENTS").map(|v| v.to_lowercase()).as_deref() {
            None | Some("auto") => EventsChoice::Auto,
            Some("webhooks" | "webhook") => EventsChoice::Webhooks,
            Some("websocket" | "socket") => EventsChoice::Websocket,
            Some(other) => {
                return Err(ConfigError {
                    var: "BOTPER_EVENTS",
                    problem: format!("`{other}` is not webhooks, websocket or auto"),
                });
            }
        };
        let u2c_raw = var("WEBEX_U2C_URL").unwrap_or_else(|| DEFAULT_U2C_URL.into());
        let u2c_url = parse_http_url(&u2c_raw).map_err(|problem| ConfigError {
            var: "WEBEX_U2C_URL",
            problem,
        })?;
        let poll_secs = number(&var, "BOTPER_MEETINGS_POLL_SECS", 60, 1, 86_400)?;
        let lease_secs_leader = number(&var, "BOTPER_LEADER_LEASE_SECS", 30, 2, 600)?;
        let device_name = var("BOTPER_DEVICE_NAME");
        if let Some(n) = &device_name
            && (n.chars().count() > 100 || n.chars().any(char::is_control))
        {
            return Err(ConfigError {
                var: "BOTPER_DEVICE_NAME",
                problem: "must be at most 100 printable characters".into(),
            });
        }
        let allow = crate::domain::access::AllowList::new(
            &var("BOTPER_ALLOWED_DOMAINS").unwrap_or_default(),
            &var("BOTPER_ALLOWED_ORGS").unwrap_or_default(),
            &var("BOTPER_ALLOWED_EMAILS").unwrap_or_default(),
        )
        .map_err(|problem| ConfigError {
            var: if problem.contains("domain") {
                "BOTPER_ALLOWED_DOMAINS"
            } else {
                "BOTPER_ALLOWED_EMAILS"
            },
            problem,
        })?;
        let admins: Vec<String> = var("BOTPER_ADMINS")
            .unwrap_or_default()
            .split(',')
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        if let Some(bad) = admins
            .iter()
            .find(|e| !crate::domain::meeting::valid_email(e))
        {
            return Err(ConfigError {
                var: "BOTPER_ADMINS",
                problem: format!("`{bad}` is not an email address"),
            });
        }
        let meeting_role = match var("BOTPER_MEETING_ROLE")
            .map(|v| v.to_lowercase())
            .as_deref()
        {
            None | Some("everyone") => crate::domain::access::MeetingRole::Everyone,
            Some("organizer" | "organiser" | "organizers") => {
                crate::domain::access::MeetingRole::Organizer
            }
            Some(other) => {
                return Err(ConfigError {
                    var: "BOTPER_MEETING_ROLE",
                    problem: format!("`{other}` is not everyone or organizer"),
                });
            }
        };
        let done_retention = match var("BOTPER_DONE_RETENTION_DAYS") {
            None => None,
            Some(_) => Some(Duration::from_secs(
                u64::from(number(&var, "BOTPER_DONE_RETENTION_DAYS", 0, 1, 36_500)?) * 86_400,
            )),
        };
        let sync_webhooks = flag("BOTPER_SYNC_WEBHOOKS")?;
        let meet_now = flag("BOTPER_MEET_NOW")?;

        Ok(Self {
            allow,
            admins,
            meeting_role,
            done_retention,
            events,
            u2c_url,
            meetings_poll: Duration::from_secs(u64::from(poll_secs)),
            leader_lease: Duration::from_secs(u64::from(lease_secs_leader)),
            device_name,
            sync_webhooks,
            meet_now,
            rate_limit: (per_minute > 0).then_some(crate::domain::rate::RatePolicy {
                per_minute,
                burst,
                backlog,
            }),
            client_id: var("WEBEX_CLIENT_ID"),
            client_secret: secret("WEBEX_CLIENT_SECRET"),
            redirect_uri,
            public_url,
            token_key,
            bot_token: secret("WEBEX_BOT_TOKEN"),
            webhook_secret: secret("WEBEX_WEBHOOK_SECRET"),
            webex_api_base,
            database,
            bind,
            workers: workers as usize,
            lease: Duration::from_secs(u64::from(lease_secs)),
            db_pool_size,
            inbox_retention: Duration::from_secs(u64::from(retention_days) * 86_400),
        })
    }

    /// Variables that are missing but not fatal, each with what goes without it.
    pub fn missing(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.bot_token.is_none() {
            out.push((
                "WEBEX_BOT_TOKEN",
                "the bot cannot read or answer messages; webhooks are refused",
            ));
        }
        if self.webhook_secret.is_none() {
            out.push((
                "WEBEX_WEBHOOK_SECRET",
                "webhook signatures cannot be checked; webhooks are refused",
            ));
        }
        let oauth =
            "OAuth credentials not configured: \"Connect to Webex\" and `meeting` are unavailable";
        if self.client_id.is_none() {
            out.push(("WEBEX_CLIENT_ID", oauth));
        }
        if self.client_secret.is_none() {
            out.push(("WEBEX_CLIENT_SECRET", oauth));
        }
        out
    }

    /// The transport this configuration runs, and why (for the log and `doctor`).
    pub fn events_mode(&self) -> (crate::app::EventsMode, String) {
        use crate::app::EventsMode;
        match self.events {
            EventsChoice::Webhooks => (EventsMode::Webhooks, "BOTPER_EVENTS=webhooks".into()),
            EventsChoice::Websocket => (EventsMode::Websocket, "BOTPER_EVENTS=websocket".into()),
            EventsChoice::Auto if self.public_url.starts_with("https://") => (
                EventsMode::Webhooks,
                format!(
                    "BOTPER_EVENTS=auto and BOTPER_PUBLIC_URL ({}) is https, so Webex can deliver webhooks",
                    self.public_url
                ),
            ),
            EventsChoice::Auto => (
                EventsMode::Websocket,
                format!(
                    "BOTPER_EVENTS=auto and BOTPER_PUBLIC_URL ({}) is not https, so Webex cannot deliver webhooks to it",
                    self.public_url
                ),
            ),
        }
    }

    /// The device name: `BOTPER_DEVICE_NAME`, or `Botper <hash of the database>` so that
    /// every instance of a deployment (one database) reuses the same device and two
    /// deployments of one bot do not take each other's.
    pub fn device_name(&self) -> String {
        if let Some(n) = &self.device_name {
            return n.clone();
        }
        use sha2::Digest;
        let place = match &self.database {
            DbTarget::Postgres(url) => {
                self.database.redacted() + url.split('?').next().unwrap_or("")
            }
            DbTarget::Sqlite(path) => std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        };
        let digest = sha2::Sha256::digest(place.as_bytes());
        format!("{}{}", DEVICE_PREFIX, hex::encode(&digest[..4]))
    }

    pub fn oauth_configured(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }
}

fn parse_http_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{raw}` is not an http(s) URL"));
    }
    Ok(url)
}

fn number(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    let Some(raw) = var(name) else {
        return Ok(default);
    };
    match raw.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError {
            var: name,
            problem: format!("`{raw}` is not a whole number from {min} to {max}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_serve_on_the_embedded_store() {
        let c = config(&[]).unwrap();
        assert_eq!(c.webex_api_base.as_str(), "https://webexapis.com/v1");
        assert_eq!(c.database, DbTarget::Sqlite("botper.db".into()));
        assert_eq!(c.bind, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(c.missing().len(), 4);
        assert_eq!(c.missing()[0].0, "WEBEX_BOT_TOKEN");
        assert_eq!(c.public_url, "http://localhost:8000");
        assert_eq!(c.redirect_uri, "http://localhost:8000/auth/webex/callback");
        assert!(c.token_key.is_none());
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn postgres_urls_select_postgres_and_need_a_token_key() {
        let e = config(&[("DATABASE_URL", "postgres://postgres@127.0.0.1/botper")]).unwrap_err();
        assert_eq!(e.var, "BOTPER_TOKEN_KEY");
        let c = config(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/botper"),
            ("BOTPER_TOKEN_KEY", KEY),
        ])
        .unwrap();
        assert!(c.database.is_postgres());
        assert!(c.token_key.is_some());
    }

    #[test]
    fn the_redirect_follows_the_public_url_unless_set() {
        let c = config(&[("BOTPER_PUBLIC_URL", "https://botper.example.com/")]).unwrap();
        assert_eq!(c.public_url, "https://botper.example.com");
        assert_eq!(
            c.redirect_uri,
            "https://botper.example.com/auth/webex/callback"
        );
        let c = config(&[("WEBEX_REDIRECT_URI", "https://x.example/cb")]).unwrap();
        assert_eq!(c.redirect_uri, "https://x.example/cb");
    }

    #[test]
    fn a_bad_token_key_is_refused() {
        let e = config(&[("BOTPER_TOKEN_KEY", "c2hvcnQ=")]).unwrap_err();
        assert_eq!(e.var, "BOTPER_TOKEN_KEY");
        assert!(e.problem.contains("32 bytes"), "{}", e.problem);
    }

    #[test]
    fn workers_default_to_64_on_sqlite_and_32_on_postgres_and_can_be_set() {
        assert_eq!(config(&[]).unwrap().workers, 64, "SQLite");
        let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let pg = [
            ("DATABASE_URL", "postgres://u@h/db"),
            ("BOTPER_TOKEN_KEY", key),
        ];
        let pg = config(&pg).unwrap();
        assert_eq!(pg.workers, 32, "Postgres");
        assert_eq!(
            pg.db_pool_size, 10,
            "8 for the workers to share, 2 for deliveries"
        );
        let set = [
            ("DATABASE_URL", "postgres://u@h/db"),
            ("BOTPER_TOKEN_KEY", key),
            ("BOTPER_WORKERS", "16"),
        ];
        assert_eq!(config(&set).unwrap().workers, 16);
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let e = config(&[("BOTPER_BIND", "localhost")]).unwrap_err();
        assert_eq!(e.var, "BOTPER_BIND");
        let e = config(&[("WEBEX_API_BASE_URL", "not a url")]).unwrap_err();
        assert_eq!(e.var, "WEBEX_API_BASE_URL");
        let e = config(&[("WEBEX_API_BASE_URL", "ftp://x/v1")]).unwrap_err();
        assert_eq!(e.var, "WEBEX_API_BASE_URL");
        let e = config(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
        let e = config(&[("BOTPER_WORKERS", "0")]).unwrap_err();
        assert_eq!(e.var, "BOTPER_WORKERS");
        assert!(e.to_string().starts_with("invalid BOTPER_WORKERS:"));
    }

    #[test]
    fn events_default_to_the_websocket_without_an_https_public_url() {
        use crate::app::EventsMode;
        let c = config(&[]).unwrap();
        assert_eq!(c.events, EventsChoice::Auto);
        assert_eq!(c.events_mode().0, EventsMode::Websocket);
        assert!(
            c.events_mode().1.contains("not https"),
            "{}",
            c.events_mode().1
        );
        assert_eq!(c.u2c_url.as_str(), "https://u2c.wbx2.com/u2c/api/v1");
        assert_eq!(c.meetings_poll, Duration::from_secs(60));
        let c = config(&[("BOTPER_PUBLIC_URL", "https://botper.example.com")]).unwrap();
        assert_eq!(c.events_mode().0, EventsMode::Webhooks);
        let c = config(&[
            ("BOTPER_PUBLIC_URL", "https://botper.example.com"),
            ("BOTPER_EVENTS", "websocket"),
        ])
        .unwrap();
        assert_eq!(c.events_mode().0, EventsMode::Websocket);
        let c = config(&[("BOTPER_EVENTS", "Webhooks")]).unwrap();
        assert_eq!(
            c.events_mode().0,
            EventsMode::Webhooks,
            "explicit wins over auto"
        );
        let e = config(&[("BOTPER_EVENTS", "pigeons")]).unwrap_err();
        assert_eq!(e.var, "BOTPER_EVENTS");
        let e = config(&[("BOTPER_MEETINGS_POLL_SECS", "0")]).unwrap_err();
        assert_eq!(e.var, "BOTPER_MEETINGS_POLL_SECS");
        let e = config(&[("WEBEX_U2C_URL", "u2c")]).unwrap_err();
        assert_eq!(e.var, "WEBEX_U2C_URL");
    }

    #[test]
    fn the_device_name_follows_the_database_unless_set() {
        let a = config(&[("DATABASE_URL", "/tmp/a.db")])
            .unwrap()
            .device_name();
        let b = config(&[("DATABASE_URL", "/tmp/b.db")])
            .unwrap()
            .device_name();
        assert!(
            a.starts_with(DEVICE_PREFIX) && a.len() == DEVICE_PREFIX.len() + 8,
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(
            a,
            config(&[("DATABASE_URL", "/tmp/a.db")])
                .unwrap()
                .device_name()
        );
        let c = config(&[("BOTPER_DEVICE_NAME", "Botper staging")]).unwrap();
        assert_eq!(c.device_name(), "Botper staging");
    }

    #[test]
    fn access_settings_are_read_and_checked() {
        use crate::domain::access::MeetingRole;
        let c = config(&[]).unwrap();
        assert!(c.allow.is_open() && c.admins.is_empty());
        assert_eq!(c.meeting_role, MeetingRole::Everyone);
        assert_eq!(c.done_retention, None);
        let c = config(&[
            ("BOTPER_ALLOWED_DOMAINS", "example.com"),
            ("BOTPER_ADMINS", "Ann@Example.com, bo@example.com"),
            ("BOTPER_MEETING_ROLE", "organizer"),
            ("BOTPER_DONE_RETENTION_DAYS", "30"),
        ])
        .unwrap();
        assert!(c.allow.allows(Some("x@example.com"), None));
        assert_eq!(c.admins, ["ann@example.com", "bo@example.com"]);
        assert_eq!(c.meeting_role, MeetingRole::Organizer);
        assert_eq!(c.done_retention, Some(Duration::from_secs(30 * 86_400)));
        for (var, value) in [
            ("BOTPER_ALLOWED_DOMAINS", "localhost"),
            ("BOTPER_ALLOWED_EMAILS", "nobody"),
            ("BOTPER_ADMINS", "root"),
            ("BOTPER_MEETING_ROLE", "vips"),
            ("BOTPER_DONE_RETENTION_DAYS", "0"),
        ] {
            assert_eq!(config(&[(var, value)]).unwrap_err().var, var);
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = config(&[
            ("WEBEX_BOT_TOKEN", "tok-123"),
            ("WEBEX_WEBHOOK_SECRET", "sec-456"),
            ("WEBEX_CLIENT_ID", "cid"),
            ("WEBEX_CLIENT_SECRET", "csecret-789"),
            ("BOTPER_TOKEN_KEY", KEY),
        ])
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("tok-123") && !dbg.contains("sec-456"));
        assert!(!dbg.contains("csecret-789") && !dbg.contains(KEY));
        assert!(c.missing().is_empty());
    }
}
