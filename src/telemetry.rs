//! Logging: `tracing` with `RUST_LOG` filtering, human-readable by default, JSON with
//! `BOTPER_LOG_FORMAT=json`. Initialised once, by `main`.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.with_target(false).try_init()
    };
    // Already initialised (tests): keep the first subscriber.
    let _ = result;
}
