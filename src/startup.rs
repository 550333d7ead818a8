//! The composition root: builds every adapter, wires them to the ports, starts the HTTP
//! server and the workers. `main` and the end-to-end tests both call [`start`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::adapters::db::{Db, DbTarget, PoolOptions, TokenKey};
use crate::adapters::http::{self, HttpSettings};
use crate::adapters::metrics::PromMetrics;
use crate::adapters::webex::socket::device::DeviceService;
use crate::adapters::webex::socket::{Timing as SocketTiming, WebexSocket};
use crate::adapters::webex::{
    OAuthSettings, RetryPolicy, WebexHttp, WebexMeetingsClient, WebexMessagingClient,
    WebexOAuthClient, WebexWebhooksClient,
};
use crate::app::EventsMode;
use crate::app::leader::{self, LeaderOptions};
use crate::app::scheduler::{self, SchedulerOptions};
use crate::app::worker::{self, WorkerOptions};
use crate::app::{App, AppSettings, Ports};
use crate::config::{Config, DEVICE_PREFIX};
use crate::ports::{Clock, Metrics, SystemClock};

/// Knobs that tests and the load tool turn; production uses the defaults.
#[derive(Default)]
pub struct Tuning {
    /// The clock the use cases read (tests run time-based behaviour on a faster one).
    pub clock: Option<Arc<dyn Clock>>,
    pub retry: Option<RetryPolicy>,
    pub worker: Option<WorkerOptions>,
    /// A listener bound beforehand (tests that must know the port before start).
    pub listener: Option<std::net::TcpListener>,
    /// Retry step while a meeting's REST data lags its webhook (default 15 s).
    pub meeting_lag_step: Option<Duration>,
    /// How often the scheduler looks for due jobs, and how many it fires at once.
    pub scheduler: Option<SchedulerOptions>,
    /// Websocket keep-alive timing (tests detect a dead socket sooner).
    pub socket: Option<SocketTiming>,
    /// The socket lease (tests stand aside for less than five minutes after a 4000).
    pub leader: Option<LeaderOptions>,
}

/// A started service.
pub struct Running {
    pub addr: SocketAddr,
    pub app: App,
    pub db: Db,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    workers: Option<JoinHandle<()>>,
    scheduler: Option<JoinHandle<()>>,
    /// Websocket mode: contends for the socket lease, holds the socket and polls meetings.
    events: Option<JoinHandle<()>>,
    housekeeping: JoinHandle<()>,
}

impl Running {
    /// Stops accepting requests, lets workers finish or release their items, and returns
    /// when everything has stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        // The socket closes, its device is deleted and the lease released, so that a
        // standby instance takes over at once.
        if let Some(e) = self.events {
            let _ = e.await;
        }
        if let Some(s) = self.scheduler {
            let _ = s.await;
        }
        if let Some(w) = self.workers {
            let _ = w.await;
        }
        self.housekeeping.abort();
    }
}

/// The key that seals stored tokens: `BOTPER_TOKEN_KEY`, or (embedded store only) a key
/// generated once into `<database>.key` with 0600 permissions.
pub fn token_key(config: &Config) -> anyhow::Result<TokenKey> {
    if let Some(k) = &config.token_key {
        return Ok(k.clone());
    }
    let DbTarget::Sqlite(db_path) = &config.database else {
        anyhow::bail!("BOTPER_TOKEN_KEY is required with Postgres");
    };
    let mut name = db_path.as_os_str().to_owned();
    name.push(".key");
    let path = std::path::PathBuf::from(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => TokenKey::from_base64(&text)
            .map_err(|e| anyhow::anyhow!("the token key file {} {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = TokenKey::generate();
            write_private(&path, &key.to_base64())
                .with_context(|| format!("cannot write the token key file {}", path.display()))?;
            tracing::warn!(
                file = %path.display(),
                "generated a token key for the embedded store (mode 0600); keep it with the database, or set BOTPER_TOKEN_KEY"
            );
            Ok(key)
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the token key file {}", path.display()))
        }
    }
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// Opens the database and applies migrations, retrying for a short while if the database is
/// still starting.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let db = Db::open(
        config.database.clone(),
        &PoolOptions {
            max_size: config.db_pool_size,
            ..PoolOptions::default()
        },
    )?;
    let mut last = None;
    for attempt in 1..=5 {
        match db.migrate().await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(applied = n, "database migrations applied");
                }
                return Ok(db);
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e, "database not ready");
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("database not ready")))
        .with_context(|| format!("cannot open the {}", config.database.redacted()))
}

pub async fn start(config: Config, tuning: Tuning) -> anyhow::Result<Running> {
    for (var, consequence) in config.missing() {
        tracing::warn!("{var} is not set: {consequence}");
    }
    let key = token_key(&config)?;
    let db = open_database(&config).await?.with_token_key(&key);
    tracing::info!(store = %config.database.redacted(), "store ready");

    let mut settings = app_settings(&config);
    if let Some(step) = tuning.meeting_lag_step {
        settings.meeting_lag_step = step;
    }
    let exporter = Arc::new(PromMetrics::new());
    let exporter_metrics: Arc<dyn Metrics> = exporter.clone();
    let mut app = build_app(
        &config,
        db.clone(),
        tuning.retry.clone().unwrap_or_default(),
        settings,
        exporter.clone(),
    )?;
    if let Some(clock) = tuning.clock.clone() {
        app = app.with_clock(clock);
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = match tuning.listener {
        Some(l) => {
            l.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(l)?
        }
        None => tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?,
    };
    let addr = listener.local_addr()?;
    let routes = http::routes(
        app.clone(),
        HttpSettings {
            webhook_secret: config.webhook_secret.clone(),
            bot_token_configured: config.bot_token.is_some(),
            oauth_configured: config.oauth_configured(),
            exporter: Some(exporter),
            secure_cookies: config.public_url.starts_with("https://"),
        },
    );
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(
        warp::serve(routes)
            .incoming(listener)
            .graceful(async move {
                let _ = server_stop.wait_for(|s| *s).await;
            })
            .run(),
    );

    let workers = if config.bot_token.is_some() {
        let identity_app = app.clone();
        tokio::spawn(async move {
            match identity_app.bot_identity().await {
                Ok(me) => {
                    tracing::info!(bot = %me.display_name, "bot identity confirmed with Webex")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot confirm the bot's identity yet (GET /people/me); will retry when a message arrives")
                }
            }
        });
        if config.sync_webhooks {
            let sync_app = app.clone();
            let token = config.bot_token.clone();
            tokio::spawn(async move {
                use secrecy::ExposeSecret;
                let Some(token) = token else { return };
                let token = crate::domain::grant::AccessToken::new(token.expose_secret());
                match sync_app.sync_bot_webhooks(&token).await {
                    Ok(report) => {
                        for l in report.lines {
                            match l.result {
                                Ok((id, action)) => {
                                    tracing::info!(resource = %l.resource, event = %l.event, webhook = %id, ?action, "webhook synced")
                                }
                                Err(e) => {
                                    tracing::warn!(resource = %l.resource, event = %l.event, error = %e, "webhook sync failed")
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "webhook sync failed"),
                }
                match sync_app.sync_people_webhooks().await {
                    Ok(people) => {
                        for p in people {
                            match p.result {
                                Ok((id, action)) => {
                                    tracing::info!(person = %p.person, webhook = %id, ?action, "meetings webhook synced")
                                }
                                Err(e) => {
                                    tracing::warn!(person = %p.person, error = %e, "meetings webhook sync failed")
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "meetings webhook sync failed"),
                }
            });
        }
        let options = tuning.worker.unwrap_or_else(|| WorkerOptions {
            workers: config.workers,
            lease: config.lease,
            ..WorkerOptions::default()
        });
        Some(tokio::spawn(worker::run(
            app.clone(),
            options,
            stop_rx.clone(),
        )))
    } else {
        None
    };
    // Fired jobs are messages from the bot: without a bot token they would only pile up
    // as failing inbox items, so they wait in their table until there is one.
    let scheduler = config.bot_token.is_some().then(|| {
        tokio::spawn(scheduler::run(
            app.clone(),
            tuning.scheduler.clone().unwrap_or_default(),
            stop_rx.clone(),
        ))
    });

    let (mode, why) = config.events_mode();
    tracing::info!(mode = mode.as_str(), reason = %why, "events transport");
    // The socket's HTTP client is built only in websocket mode.
    let socket = match mode {
        EventsMode::Websocket => socket(
            &config,
            tuning.retry.clone().unwrap_or_default(),
            tuning.socket,
            exporter_metrics.clone(),
        )?,
        EventsMode::Webhooks => None,
    };
    let events = match (mode, socket) {
        (EventsMode::Websocket, Some(socket)) => {
            let socket = Arc::new(socket);
            let options = tuning
                .leader
                .unwrap_or_else(|| LeaderOptions::new(config.leader_lease));
            let work_app = app.clone();
            Some(tokio::spawn(leader::run(
                app.clone(),
                options,
                stop_rx.clone(),
                move |signal| {
                    let (socket, app) = (socket.clone(), work_app.clone());
                    async move {
                        let polls =
                            tokio::spawn(crate::app::polling::run(app.clone(), signal.clone()));
                        let end = socket.run(app, signal).await;
                        polls.abort();
                        let _ = polls.await;
                        end
                    }
                },
            )))
        }
        (EventsMode::Websocket, None) => {
            tracing::warn!("websocket mode needs WEBEX_BOT_TOKEN: no events will arrive");
            None
        }
        (EventsMode::Webhooks, _) => None,
    };

    if let Err(e) = app.seed_admins().await {
        tracing::warn!(error = %e, "cannot record BOTPER_ADMINS in the roles table yet");
    }
    let housekeeping = tokio::spawn(housekeeping(
        app.clone(),
        config.inbox_retention,
        config.done_retention,
    ));

    Ok(Running {
        addr,
        app,
        db,
        stop: stop_tx,
        server,
        workers,
        scheduler,
        events,
        housekeeping,
    })
}

/// The websocket transport, when there is a bot token to open it with.
pub fn socket(
    config: &Config,
    retry: RetryPolicy,
    timing: Option<SocketTiming>,
    metrics: Arc<dyn Metrics>,
) -> anyhow::Result<Option<WebexSocket>> {
    let Some(token) = config.bot_token.clone() else {
        return Ok(None);
    };
    let http = WebexHttp::new(&config.webex_api_base, retry)?.with_metrics(metrics.clone());
    let devices = DeviceService::new(
        http,
        config.u2c_url.clone(),
        token.clone(),
        config.device_name(),
        DEVICE_PREFIX,
    );
    Ok(Some(WebexSocket::new(
        devices,
        token,
        timing.unwrap_or_default(),
        metrics,
    )))
}

pub fn app_settings(config: &Config) -> AppSettings {
    AppSettings {
        public_url: config.public_url.clone(),
        webhook_secret: config.webhook_secret.clone(),
        meeting_lag_step: Duration::from_secs(15),
        rate_limit: config.rate_limit,
        meet_now: config.meet_now,
        events: config.events_mode().0,
        meetings_poll: config.meetings_poll,
        allow: config.allow.clone(),
        admins: config.admins.clone(),
        meeting_role: config.meeting_role,
    }
}

/// Wires every adapter to the ports (the store must already be migrated).
pub fn build_app(
    config: &Config,
    db: Db,
    retry: RetryPolicy,
    settings: AppSettings,
    metrics: Arc<dyn Metrics>,
) -> anyhow::Result<App> {
    let webex = WebexHttp::new(&config.webex_api_base, retry)?.with_metrics(metrics.clone());
    let db = Arc::new(db);
    Ok(App::new(
        Ports {
            tasks: db.clone(),
            inbox: db.clone(),
            scheduler: db.clone(),
            tokens: db.clone(),
            web_auth: db.clone(),
            leases: db.clone(),
            polls: db.clone(),
            access: db,
            messaging: Arc::new(WebexMessagingClient::new(
                webex.clone(),
                config.bot_token.clone(),
            )),
            meetings: Arc::new(WebexMeetingsClient::new(webex.clone())),
            webhooks: Arc::new(WebexWebhooksClient::new(webex.clone())),
            oauth: Arc::new(WebexOAuthClient::new(
                webex,
                OAuthSettings {
                    client_id: config.client_id.clone(),
                    client_secret: config.client_secret.clone(),
                    redirect_uri: config.redirect_uri.clone(),
                    scopes: crate::adapters::webex::oauth_scopes(config.meet_now),
                },
            )),
            clock: Arc::new(SystemClock),
            metrics,
        },
        settings,
    ))
}

/// Hourly (and at start): done tasks past `BOTPER_DONE_RETENTION_DAYS`; settled inbox items (done, and dead letters dead for the whole
/// retention) with their recorded outcomes, and expired login states.
async fn housekeeping(app: App, retention: Duration, done_retention: Option<Duration>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let cutoff = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::try_from(retention).unwrap_or_default())
            .unwrap_or(jiff::Timestamp::MIN);
        match app.inbox().purge_settled(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "purged settled inbox items"),
            Err(e) => tracing::warn!(error = %e, "inbox purge failed; will try again"),
        }
        if let Some(keep) = done_retention {
            match app.purge_done_tasks(keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    deleted = n,
                    "purged done tasks past BOTPER_DONE_RETENTION_DAYS"
                ),
                Err(e) => tracing::warn!(error = %e, "done-task purge failed; will try again"),
            }
        }
        match app.purge_expired_logins().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "purged expired login states"),
            Err(e) => tracing::warn!(error = %e, "login state purge failed; will try again"),
        }
    }
}
