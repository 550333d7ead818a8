//! `botper`: the service and its operator commands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use botper::config::Config;
use botper::startup::{self, Tuning};

/// mimalloc instead of the system allocator: the service allocates small buffers per request
/// and per statement on several threads (glibc's malloc was 7 % of the process's CPU under
/// load, `docs/performance.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "botper",
    version,
    about = "Botper: your tasks and meetings in Webex"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve webhooks, the web pages and the workers (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Look into the durable inbox.
    Inbox {
        #[command(subcommand)]
        command: InboxCommand,
    },
    /// The bot's webhooks at Webex.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Chat with Botper in this terminal, as a pretend person: no Webex, no network.
    Chat {
        /// Your name in the console (each name has its own tasks).
        #[arg(long = "as", value_name = "NAME", default_value = "you")]
        name: String,
    },
    /// Check configuration, database, Webex reachability and the bot token; say what to fix.
    Doctor,
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Make sure the bot's webhooks (messages, attachmentActions, memberships) exist, are
    /// active and point at BOTPER_PUBLIC_URL with the current secret. Idempotent; never
    /// deletes a webhook it did not create.
    Sync,
    /// List the bot's webhooks.
    List,
}

#[derive(Subcommand)]
enum InboxCommand {
    /// Count items by state.
    Stats,
    /// List dead letters (newest first) with their last error.
    Dead {
        /// How many to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Put a dead letter back to be processed again.
    Retry {
        /// The item id (see `botper inbox dead`).
        id: i64,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: what is wrong, and where to look.
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("botper: {first} (see `botper --help`)");
            return ExitCode::from(2);
        }
    };
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
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("botper: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => botper::cli::migrate(&config).await,
            Command::Inbox { command } => match command {
                InboxCommand::Stats => botper::cli::inbox_stats(&config).await,
                InboxCommand::Dead { limit } => botper::cli::inbox_dead(&config, limit).await,
                InboxCommand::Retry { id } => botper::cli::inbox_retry(&config, id).await,
            },
            Command::Webhooks { command } => match command {
                WebhooksCommand::Sync => botper::cli::webhooks_sync(&config).await,
                WebhooksCommand::List => botper::cli::webhooks_list(&config).await,
            },
            Command::Chat { name } => botper::cli::chat(&config, &name).await,
            Command::Doctor => botper::cli::doctor(&config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("botper: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let running = startup::start(config, Tuning::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot start: {e:#}"))?;
    tracing::info!("Botper listening on http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down");
    // Within 10 s whatever happens (a database that is down keeps workers waiting).
    if tokio::time::timeout(std::time::Duration::from_secs(9), running.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "shutdown took too long; exiting with work unfinished (its leases will expire)"
        );
    }
    tracing::info!("stopped");
    Ok(())
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
