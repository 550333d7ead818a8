//! `botper`: serves the bot (webhooks, pages, workers) until SIGTERM/SIGINT.

use std::process::ExitCode;

use botper::config::Config;
use botper::startup::{self, Tuning};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("botper: {e}");
            return ExitCode::from(2);
        }
    };
    let json_logs =
        std::env::var("BOTPER_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    botper::telemetry::init(json_logs);

    let running = match startup::start(config, Tuning::default()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start: {e:#}");
            eprintln!("botper: cannot start: {e:#}");
            return ExitCode::from(1);
        }
    };
    tracing::info!("Botper listening on http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
