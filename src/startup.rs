//! The composition root: builds every adapter, wires them to the ports, starts the HTTP
//! server and the workers. `main` and the end-to-end tests both call [`start`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::adapters::db::{Db, PoolOptions};
use crate::adapters::http::{self, HttpSettings};
use crate::adapters::webex::{RetryPolicy, WebexHttp, WebexMessagingClient};
use crate::app::worker::{self, WorkerOptions};
use crate::app::{App, Ports};
use crate::config::Config;
use crate::ports::SystemClock;

/// Knobs that tests and the load tool turn; production uses the defaults.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    pub retry: Option<RetryPolicy>,
    pub worker: Option<WorkerOptions>,
}

/// A started service.
pub struct Running {
    pub addr: SocketAddr,
    pub app: App,
    pub db: Db,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    workers: Option<JoinHandle<()>>,
    housekeeping: JoinHandle<()>,
}

impl Running {
    /// Stops accepting requests, lets workers finish or release their items, and returns
    /// when everything has stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some(w) = self.workers {
            let _ = w.await;
        }
        self.housekeeping.abort();
    }
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
    let db = open_database(&config).await?;
    tracing::info!(store = %config.database.redacted(), "store ready");

    let webex = WebexHttp::new(&config.webex_api_base, tuning.retry.unwrap_or_default())?;
    let messaging = WebexMessagingClient::new(webex, config.bot_token.clone());
    let db_arc = Arc::new(db.clone());
    let app = App::new(Ports {
        tasks: db_arc.clone(),
        inbox: db_arc,
        messaging: Arc::new(messaging),
        clock: Arc::new(SystemClock),
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let routes = http::routes(
        app.clone(),
        HttpSettings {
            webhook_secret: config.webhook_secret.clone(),
            bot_token_configured: config.bot_token.is_some(),
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
        let options = tuning.worker.unwrap_or_else(|| WorkerOptions {
            workers: config.workers,
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

    let housekeeping = tokio::spawn(housekeeping(app.clone(), config.inbox_retention));

    Ok(Running {
        addr,
        app,
        db,
        stop: stop_tx,
        server,
        workers,
        housekeeping,
    })
}

/// Hourly: deletes settled inbox items (and their recorded outcomes) past the retention.
async fn housekeeping(app: App, retention: Duration) {
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
    }
}
