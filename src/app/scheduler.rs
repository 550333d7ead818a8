//! The scheduler loop: fires due jobs into the inbox (see `crate::ports::scheduler`) and
//! wakes the workers, which deliver them like any other item.

use std::time::Duration;

use tokio::sync::watch;

use super::App;

#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// How often due jobs are looked for. Jobs are at whole minutes; a second keeps a
    /// reminder within a couple of seconds of its minute.
    pub tick: Duration,
    /// Jobs fired per transaction.
    pub batch: u32,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            batch: 200,
        }
    }
}

/// Fires every job due now, batch by batch; returns how many fired.
pub async fn fire_once(app: &App, batch: u32) -> u32 {
    let now = app.clock.now();
    let mut fired = 0;
    loop {
        match app.scheduler.fire_due(now, batch).await {
            Ok(n) => {
                fired += n;
                if n > 0 {
                    app.work_signal().notify_waiters();
                    app.work_signal().notify_one();
                }
                if n < batch {
                    return fired;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fire due jobs; will retry");
                return fired;
            }
        }
    }
}

/// Runs until `stop` turns true. The first round runs at once, so jobs that came due while
/// Botper was down fire at start-up (and say they are late).
pub async fn run(app: App, options: SchedulerOptions, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let fired = fire_once(&app, options.batch.max(1)).await;
        if fired > 0 {
            tracing::debug!(fired, "scheduled jobs fired");
        }
        tokio::select! {
            _ = tokio::time::sleep(options.tick) => {}
            _ = stop.changed() => {}
        }
    }
}
