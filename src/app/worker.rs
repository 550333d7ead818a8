//! The worker pool: claims inbox items, processes them, and settles each one (done, retry
//! later with backoff, or dead letter after a bounded number of attempts).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::ports::{InboxError, InboxItem};

use super::{App, ProcessError};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub workers: usize,
    /// How long a claim is held before another worker may take the item over.
    pub lease: Duration,
    /// How often an idle worker looks for work stored by other processes.
    pub poll_interval: Duration,
    /// Attempts before an item is parked as a dead letter.
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long in-flight items may run on after shutdown is asked for, before they are
    /// released for another worker.
    pub shutdown_grace: Duration,
    /// Name prefix for leases (unique per process).
    pub name: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            workers: 8,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            max_attempts: 8,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(7),
            name: default_worker_name(),
        }
    }
}

fn default_worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "botper".into());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::rng().random::<u16>()
    )
}

impl WorkerOptions {
    /// Delay before attempt `attempts + 1`: exponential from `retry_base`, capped, jittered;
    /// never shorter than what Webex asked for.
    fn retry_delay(&self, attempts: u32, asked: Option<Duration>) -> Duration {
        let exp = self
            .retry_base
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
            .min(self.retry_max);
        let ms = exp.as_millis().max(1) as u64;
        let jittered = Duration::from_millis(rand::rng().random_range(ms / 2..=ms));
        asked.map_or(jittered, |a| a.max(jittered))
    }
}

/// Runs `options.workers` workers until `stop` turns true; then lets in-flight items finish
/// within the grace period and releases the rest.
pub async fn run(app: App, options: WorkerOptions, stop: watch::Receiver<bool>) {
    let options = Arc::new(options);
    let mut set = JoinSet::new();
    for n in 0..options.workers.max(1) {
        let worker = format!("{}-w{n}", options.name);
        set.spawn(worker_loop(
            app.clone(),
            options.clone(),
            worker,
            stop.clone(),
        ));
    }
    while set.join_next().await.is_some() {}
}

async fn worker_loop(
    app: App,
    options: Arc<WorkerOptions>,
    worker: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut idle_backoff = options.poll_interval;
    // The next item, when finishing the last one already claimed it (the busy path).
    let mut next: Option<InboxItem> = None;
    loop {
        if let Some(item) = next.take() {
            next = handle(&app, &options, &worker, item, &mut stop).await;
            continue;
        }
        if *stop.borrow() {
            return;
        }
        let claimed = app
            .inbox
            .claim(worker.clone(), options.lease, app.clock.now())
            .await;
        match claimed {
            Ok(Some(item)) => {
                idle_backoff = options.poll_interval;
                next = handle(&app, &options, &worker, item, &mut stop).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(worker, error = %e, "cannot claim inbox items; will retry");
                idle_backoff = (idle_backoff * 2).min(Duration::from_secs(5));
            }
        }
        tokio::select! {
            _ = app.work_signal().notified() => {}
            _ = tokio::time::sleep(idle_backoff) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Processes and settles one item; returns the next item when settling claimed one.
async fn handle(
    app: &App,
    options: &WorkerOptions,
    worker: &str,
    item: InboxItem,
    stop: &mut watch::Receiver<bool>,
) -> Option<InboxItem> {
    let id = item.id;
    if item.attempts > options.max_attempts {
        let why = format!(
            "gave up after {} attempts (the last ones did not finish)",
            options.max_attempts
        );
        let failed = Err(ProcessError::permanent(why));
        return settle(app, worker, &item, failed, options, false).await;
    }
    // The lease is renewed while the item runs, so a slow Webex (retries, timeouts) does not
    // let another worker take over an item that is still being processed.
    let processing = with_renewal(app, id, worker, options.lease, app.process(&item));
    tokio::pin!(processing);
    let result = tokio::select! {
        r = &mut processing => r,
        _ = wait_for_stop(stop) => {
            match tokio::time::timeout(options.shutdown_grace, &mut processing).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(worker, item = id.0, "shutdown: releasing an unfinished item");
                    if let Err(e) = app.inbox.release(id, worker.to_owned()).await {
                        tracing::warn!(item = id.0, error = %e, "could not release; its lease will expire");
                    }
                    return None;
                }
            }
        }
    };
    let claim_next = !*stop.borrow();
    settle(app, worker, &item, result, options, claim_next).await
}

/// Runs `work` while renewing the item's lease every third of a lease.
async fn with_renewal<T>(
    app: &App,
    id: crate::ports::InboxId,
    worker: &str,
    lease: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    let renew = async {
        let mut tick = tokio::time::interval(lease / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            let until = app.clock.now() + jiff::SignedDuration::try_from(lease).unwrap_or_default();
            match app.inbox.renew_lease(id, worker.to_owned(), until).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        item = id.0,
                        "lease lost while processing; another worker may run it"
                    );
                    std::future::pending::<()>().await;
                }
                Err(e) => tracing::warn!(item = id.0, error = %e, "could not renew the lease"),
            }
        }
    };
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => r,
        () = renew => unreachable!("renewal never ends"),
    }
}

async fn wait_for_stop(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Records how an item ended. While the database is unreachable the worker keeps trying
/// (for up to half its lease), so a short outage does not make the item run twice.
async fn settle(
    app: &App,
    worker: &str,
    item: &InboxItem,
    result: Result<(), ProcessError>,
    options: &WorkerOptions,
    claim_next: bool,
) -> Option<InboxItem> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match settle_once(app, worker, item, &result, options, claim_next).await {
            Err(InboxError::Unavailable(_)) if started.elapsed() + pause < options.lease / 2 => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Ok(next) => return next,
            Err(InboxError::LeaseLost(_)) => {
                tracing::warn!(
                    item = item.id.0,
                    "lease lost while processing; another worker owns it now"
                );
                return None;
            }
            Err(e) => {
                tracing::warn!(item = item.id.0, error = %e, "could not settle the item; its lease will expire and it will run again");
                return None;
            }
        }
    }
}

async fn settle_once(
    app: &App,
    worker: &str,
    item: &InboxItem,
    result: &Result<(), ProcessError>,
    options: &WorkerOptions,
    claim_next: bool,
) -> Result<Option<InboxItem>, InboxError> {
    let now = app.clock.now();
    let id = item.id;
    let outcome = match result {
        Ok(()) => "done",
        Err(e) if e.transient && item.attempts < options.max_attempts => "retry",
        Err(_) => "dead",
    };
    let settled = match result {
        Ok(()) if claim_next => {
            let next = app
                .inbox
                .complete_and_claim(id, worker.to_owned(), now, options.lease)
                .await;
            if next.is_ok() {
                app.metrics.item_settled(outcome);
            }
            return next;
        }
        Ok(()) => app.inbox.complete(id, worker.to_owned(), now).await,
        Err(e) if e.transient && item.attempts < options.max_attempts => {
            let delay = options.retry_delay(item.attempts, e.retry_after);
            tracing::warn!(
                item = id.0,
                attempt = item.attempts,
                retry_in_ms = delay.as_millis() as u64,
                error = %e,
                "processing failed; will retry"
            );
            let at = now
                .checked_add(SignedDuration::try_from(delay).unwrap_or(SignedDuration::ZERO))
                .unwrap_or(Timestamp::MAX);
            app.inbox
                .retry_later(id, worker.to_owned(), at, e.message.clone())
                .await
        }
        Err(e) => {
            tracing::error!(
                item = id.0,
                attempts = item.attempts,
                error = %e,
                "processing failed for good; parked as a dead letter"
            );
            app.inbox
                .dead_letter(id, worker.to_owned(), e.message.clone(), now)
                .await
        }
    };
    if settled.is_ok() {
        app.metrics.item_settled(outcome);
    }
    settled.map(|()| None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_is_capped_and_honours_retry_after() {
        let o = WorkerOptions::default();
        for _ in 0..20 {
            let d1 = o.retry_delay(1, None);
            assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
            let d30 = o.retry_delay(30, None);
            assert!(d30 <= Duration::from_secs(300));
            let asked = o.retry_delay(1, Some(Duration::from_secs(30)));
            assert_eq!(asked, Duration::from_secs(30));
        }
    }
}
