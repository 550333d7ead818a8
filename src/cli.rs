//! Operator commands (`botper migrate`, `botper inbox …`): a driving adapter that prints to
//! the terminal.

use anyhow::Context as _;

use crate::config::Config;
use crate::ports::{Inbox, InboxId};
use crate::startup;

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = crate::adapters::db::Db::open(
        config.database.clone(),
        &crate::adapters::db::PoolOptions::default(),
    )?;
    let n = db
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the {}", config.database.redacted()))?;
    println!("{}: {} migration(s) applied", config.database.redacted(), n);
    Ok(())
}

pub async fn inbox_stats(config: &Config) -> anyhow::Result<()> {
    let db = startup::open_database(config).await?;
    let s = db.stats().await?;
    println!(
        "pending {}\nprocessing {}\ndone {}\ndead {}",
        s.pending, s.processing, s.done, s.dead
    );
    Ok(())
}

pub async fn inbox_dead(config: &Config, limit: u32) -> anyhow::Result<()> {
    let db = startup::open_database(config).await?;
    let dead = db.dead_letters(limit).await?;
    if dead.is_empty() {
        println!("no dead letters");
    }
    for d in dead {
        println!(
            "{}\t{}/{}\t{}\tattempts {}\treceived {}\t{}",
            d.id.0,
            d.key.resource,
            d.key.event,
            d.key.data_id,
            d.attempts,
            d.received_at,
            d.last_error
        );
    }
    Ok(())
}

pub async fn inbox_retry(config: &Config, id: i64) -> anyhow::Result<()> {
    let db = startup::open_database(config).await?;
    if db.requeue_dead(InboxId(id), jiff::Timestamp::now()).await? {
        println!("dead letter {id} queued again");
        Ok(())
    } else {
        anyhow::bail!("there is no dead letter {id}")
    }
}
