//! One socket per deployment: the instance that holds the `webex-events` lease keeps the
//! Webex websocket open and polls meetings; the others stand by and take over when the
//! lease runs out (the holder died) or is released (it stopped cleanly).

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use super::App;
use crate::ports::EVENTS_LEASE;

/// What the leader's work is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Run,
    /// The lease was lost (another instance may hold it now): stop, leave shared state.
    LeaseLost,
    /// The process is stopping cleanly: stop and clean up (delete the device).
    Shutdown,
}

/// How the leader's work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadEnd {
    Stopped,
    /// Another connection took the socket over (close code 4000): stand aside.
    Replaced,
}

#[derive(Debug, Clone, Copy)]
pub struct LeaderOptions {
    /// How long the lease lasts unrenewed; it is renewed every third of that.
    pub ttl: Duration,
    /// How long to stand aside after the socket was replaced.
    pub replaced_pause: Duration,
}

impl LeaderOptions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            replaced_pause: Duration::from_secs(300),
        }
    }
}

/// Contends for the lease until `stop`; while this instance holds it, runs `work` (told
/// through its [`Signal`] when to stop). Returns once stopped, the lease released.
pub async fn run<F, Fut>(app: App, options: LeaderOptions, mut stop: watch::Receiver<bool>, work: F)
where
    F: Fn(watch::Receiver<Signal>) -> Fut,
    Fut: Future<Output = LeadEnd> + Send + 'static,
{
    let holder = app.instance.to_string();
    let step = options.ttl / 3;
    let mut standing_by_said = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let now = app.clock.now();
        match app
            .leases
            .acquire(EVENTS_LEASE.into(), holder.clone(), options.ttl, now)
            .await
        {
            Ok(true) => {
                standing_by_said = false;
                tracing::info!(instance = %holder, "this instance holds the Webex websocket");
                let (tx, rx) = watch::channel(Signal::Run);
                let mut job = tokio::spawn(work(rx));
                let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + step, step);
                let mut renewed = tokio::time::Instant::now();
                let end = loop {
                    tokio::select! {
                        r = &mut job => break Some(r.unwrap_or(LeadEnd::Stopped)),
                        _ = stop.changed() => {
                            let _ = tx.send(Signal::Shutdown);
                            let _ = (&mut job).await;
                            if let Err(e) = app.leases.release(EVENTS_LEASE.into(), holder.clone()).await {
                                tracing::warn!(error = %e, "cannot release the websocket lease; it expires on its own");
                            }
                            app.metrics.socket_state("off");
                            return;
                        }
                        _ = renew.tick() => {
                            match app.leases.acquire(EVENTS_LEASE.into(), holder.clone(), options.ttl, app.clock.now()).await {
                                Ok(true) => renewed = tokio::time::Instant::now(),
                                Ok(false) => {
                                    tracing::warn!("the websocket lease went to another instance; standing by");
                                    let _ = tx.send(Signal::LeaseLost);
                                    let _ = (&mut job).await;
                                    break None;
                                }
                                // Unsure: keep the socket until the lease may have run out.
                                Err(e) if renewed.elapsed() + step < options.ttl => {
                                    tracing::warn!(error = %e, "cannot renew the websocket lease; trying again");
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "the websocket lease may have run out; standing by");
                                    let _ = tx.send(Signal::LeaseLost);
                                    let _ = (&mut job).await;
                                    break None;
                                }
                            }
                        }
                    }
                };
                app.metrics.socket_state("standby");
                if end == Some(LeadEnd::Replaced) {
                    if let Err(e) = app
                        .leases
                        .release(EVENTS_LEASE.into(), holder.clone())
                        .await
                    {
                        tracing::warn!(error = %e, "cannot release the websocket lease");
                    }
                    tracing::warn!(
                        pause_secs = options.replaced_pause.as_secs(),
                        "standing aside after the websocket was replaced"
                    );
                    app.metrics.socket_state("replaced");
                    tokio::select! {
                        _ = tokio::time::sleep(options.replaced_pause) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
            Ok(false) => {
                if !standing_by_said {
                    tracing::info!("another instance holds the Webex websocket; standing by");
                    standing_by_said = true;
                }
                app.metrics.socket_state("standby");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach the store for the websocket lease");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(step) => {}
            _ = stop.changed() => {}
        }
    }
}
