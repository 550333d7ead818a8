//! Operator commands and the local chat console: driving adapters that print to a terminal.

use std::io::{BufRead, Write};

use anyhow::Context as _;

use crate::app::webhooks::{BOT_WEBHOOKS, NAME_PREFIX, SyncAction};
use crate::app::{App, SignInCheck};
use crate::config::Config;
use crate::domain::PersonId;
use crate::domain::grant::AccessToken;
use crate::ports::{Inbox, InboxId, NoMetrics, WebexError};
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
    println!("{}: {n} migration(s) applied", config.database.redacted());
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

/// The app over the configured store and Webex, for one-shot commands.
async fn app(config: &Config) -> anyhow::Result<App> {
    let key = startup::token_key(config)?;
    let db = startup::open_database(config).await?.with_token_key(&key);
    startup::build_app(
        config,
        db,
        Default::default(),
        startup::app_settings(config),
        std::sync::Arc::new(NoMetrics),
    )
}

fn bot_token(config: &Config) -> anyhow::Result<AccessToken> {
    use secrecy::ExposeSecret;
    config
        .bot_token
        .as_ref()
        .map(|t| AccessToken::new(t.expose_secret()))
        .ok_or_else(|| anyhow::anyhow!("WEBEX_BOT_TOKEN is not set"))
}

pub async fn webhooks_sync(config: &Config) -> anyhow::Result<()> {
    let token = bot_token(config)?;
    let app = app(config).await?;
    let target = app.settings().webhook_url();
    if !target.starts_with("https://") {
        println!(
            "warning: {target} is not https; Webex can only deliver to a public https URL (set BOTPER_PUBLIC_URL)"
        );
    }
    let report = app.sync_bot_webhooks(&token).await?;
    let mut failed = false;
    for line in &report.lines {
        let what = format!("{}/{}", line.resource, line.event);
        match &line.result {
            Ok((id, action)) => println!("{what}: {} ({id})", said(*action)),
            Err(e) => {
                failed = true;
                println!("{what}: FAILED: {e}");
            }
        }
    }
    for h in &report.foreign {
        println!(
            "left alone (not created by Botper): {} {}/{} -> {} [{}]",
            h.id, h.resource, h.event, h.target_url, h.status
        );
    }
    for h in &report.elsewhere {
        println!(
            "left alone (Botper's name, another target URL: another deployment or an old address; delete it if it is this one's): {} {}/{} -> {} [{}]",
            h.id, h.resource, h.event, h.target_url, h.status
        );
    }
    // Each connected person's meetings webhook, with their own grant: after a secret
    // rotation this moves them to the new (per-person) secret.
    for p in app.sync_people_webhooks().await? {
        let who = format!(
            "meetings/created,updated,deleted of {} ({})",
            p.display_name, p.person
        );
        match p.result {
            Ok((id, action)) => println!("{who}: {} ({id})", said(action)),
            Err(e) => {
                failed = true;
                println!("{who}: FAILED: {e}");
            }
        }
    }
    if failed {
        anyhow::bail!("some webhooks could not be synced");
    }
    Ok(())
}

fn said(action: SyncAction) -> &'static str {
    match action {
        SyncAction::Unchanged => "ok",
        SyncAction::Created => "created",
        SyncAction::Reactivated => "re-activated",
        SyncAction::Updated => "updated (target URL, secret or name)",
    }
}

pub async fn webhooks_list(config: &Config) -> anyhow::Result<()> {
    let token = bot_token(config)?;
    let app = app(config).await?;
    let hooks = app.bot_webhooks(&token).await?;
    if hooks.is_empty() {
        println!("the bot has no webhooks; run `botper webhooks sync`");
    }
    for h in hooks {
        println!(
            "{}\t{}/{}\t{}\t{}\t{}{}",
            h.id,
            h.resource,
            h.event,
            h.status,
            h.target_url,
            h.name,
            if h.name.starts_with(NAME_PREFIX) {
                ""
            } else {
                "\t(not Botper's)"
            }
        );
    }
    Ok(())
}

/// `botper doctor`: every check, what is wrong, what to do. Fails if any check fails.
pub async fn doctor(config: &Config) -> anyhow::Result<()> {
    let mut problems = 0;
    let mut say = |ok: Option<bool>, what: &str, detail: String| {
        let mark = match ok {
            Some(true) => "ok  ",
            Some(false) => {
                problems += 1;
                "FAIL"
            }
            None => "warn",
        };
        println!("{mark} {what}: {detail}");
    };
    let (mode, why) = config.events_mode();
    let websocket = mode == crate::app::EventsMode::Websocket;
    say(Some(true), "events", format!("{}: {why}", mode.as_str()));
    for (var, consequence) in config.missing() {
        // Without these the bot cannot work at all (the secret only with webhooks); the
        // OAuth pair is optional.
        let fatal = var == "WEBEX_BOT_TOKEN" || (var == "WEBEX_WEBHOOK_SECRET" && !websocket);
        say(
            if fatal { Some(false) } else { None },
            "configuration",
            format!("{var} is not set: {consequence}"),
        );
    }
    if !config.public_url.starts_with("https://") && !websocket {
        say(
            None,
            "public URL",
            format!(
                "{} is not https: Webex cannot deliver webhooks to it (set BOTPER_PUBLIC_URL)",
                config.public_url
            ),
        );
    }
    let app = match app(config).await {
        Ok(app) => {
            say(Some(true), "database", config.database.redacted());
            app
        }
        Err(e) => {
            say(Some(false), "database", format!("{e:#}"));
            anyhow::bail!("{problems} problem(s) found");
        }
    };
    if config.bot_token.is_some() {
        match app.bot_identity().await {
            Ok(me) => say(
                Some(true),
                "bot token",
                format!(
                    "valid for {} ({}) at {}",
                    me.display_name,
                    me.email.as_deref().unwrap_or("no email"),
                    config.webex_api_base
                ),
            ),
            Err(WebexError::Unauthorized) => say(
                Some(false),
                "bot token",
                "Webex refused WEBEX_BOT_TOKEN (401): copy a fresh token from the bot's page in the developer portal".into(),
            ),
            Err(e) => say(
                Some(false),
                "Webex",
                format!("cannot reach Webex at {}: {e}", config.webex_api_base),
            ),
        }
        if websocket {
            match crate::startup::socket(
                config,
                Default::default(),
                None,
                std::sync::Arc::new(crate::ports::NoMetrics),
            ) {
                Ok(Some(socket)) => match socket.probe().await {
                    Ok(steps) => say(
                        Some(true),
                        "websocket",
                        format!(
                            "{} (device \"{}\")",
                            steps.join("; "),
                            socket.devices().name()
                        ),
                    ),
                    Err(e) => say(
                        Some(false),
                        "websocket",
                        format!("{e} (WEBEX_U2C_URL is {})", config.u2c_url),
                    ),
                },
                Ok(None) => {}
                Err(e) => say(Some(false), "websocket", format!("{e:#}")),
            }
        }
        if let (Ok(token), false) = (bot_token(config), websocket) {
            match app.bot_webhooks(&token).await {
                Ok(hooks) => {
                    for (resource, event) in BOT_WEBHOOKS {
                        let good = hooks.iter().any(|h| {
                            h.resource == resource
                                && h.event == event
                                && h.status == "active"
                                && h.target_url == app.settings().webhook_url()
                        });
                        say(
                            Some(good),
                            "webhook",
                            if good {
                                format!(
                                    "{resource}/{event} is active at {}",
                                    app.settings().webhook_url()
                                )
                            } else {
                                format!(
                                    "{resource}/{event} is missing, inactive or points elsewhere: run `botper webhooks sync`"
                                )
                            },
                        );
                    }
                    for h in hooks.iter().filter(|h| {
                        h.name.starts_with(NAME_PREFIX)
                            && !BOT_WEBHOOKS.contains(&(h.resource.as_str(), h.event.as_str()))
                    }) {
                        say(
                            None,
                            "webhook",
                            format!(
                                "{} is named like Botper's but is {}/{}, which Botper does not register (-> {}): delete it if nobody uses it",
                                h.id, h.resource, h.event, h.target_url
                            ),
                        );
                    }
                    for h in hooks.iter().filter(|h| {
                        h.name.starts_with(NAME_PREFIX)
                            && h.target_url != app.settings().webhook_url()
                            && BOT_WEBHOOKS.contains(&(h.resource.as_str(), h.event.as_str()))
                    }) {
                        say(
                            None,
                            "webhook",
                            format!(
                                "{} ({}/{}) is named like Botper's but points at {}: another deployment, or an old address of this one",
                                h.id, h.resource, h.event, h.target_url
                            ),
                        );
                    }
                }
                Err(e) => say(Some(false), "webhooks", format!("cannot list them: {e}")),
            }
        }
    }
    match app.check_sign_in().await {
        SignInCheck::Accepted => say(
            Some(true),
            "sign-in",
            "Webex's token endpoint accepts WEBEX_CLIENT_ID and WEBEX_CLIENT_SECRET".into(),
        ),
        // Already reported as missing configuration.
        SignInCheck::NotConfigured(_) => {}
        SignInCheck::Refused(e) => say(
            Some(false),
            "sign-in",
            format!(
                "{e}: token refreshes fail for everyone (their grants are kept); copy the client id and secret from the integration's page in the developer portal"
            ),
        ),
        SignInCheck::Unreachable(e) => say(
            Some(false),
            "sign-in",
            format!("cannot reach Webex's token endpoint: {e}"),
        ),
    }
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found");
    }
    println!("all checks passed");
    Ok(())
}

/// `botper chat`: type commands as a pretend person, against the real domain and store.
pub async fn chat(config: &Config, name: &str) -> anyhow::Result<()> {
    let app = app(config).await?;
    let person = PersonId::new(format!("local:{name}"));
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if interactive {
        println!(
            "Botper console ({}). You are \"{name}\". Type `help`; Ctrl-D to leave.",
            config.database.redacted()
        );
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("you> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = app.execute(&person, &line, None).await?;
        println!(
            "botper> {}",
            to_terminal(&reply.markdown).replace('\n', "\n        ")
        );
    }
    Ok(())
}

/// Webex Markdown as plain terminal text: emphasis dropped, escapes and entities undone,
/// links shown with their URL.
pub fn to_terminal(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
            }
            '[' => {
                let text: String = chars.by_ref().take_while(|c| *c != ']').collect();
                if chars.peek() == Some(&'(') {
                    chars.next();
                    let url: String = chars.by_ref().take_while(|c| *c != ')').collect();
                    out.push_str(&format!("{text} <{url}>"));
                } else {
                    out.push('[');
                    out.push_str(&text);
                    out.push(']');
                }
            }
            c => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::to_terminal;

    #[test]
    fn markdown_becomes_plain_text() {
        assert_eq!(
            to_terminal("Added task **#1** Buy \\*milk\\* &lt;@all&gt;."),
            "Added task #1 Buy *milk* <@all>."
        );
        assert_eq!(
            to_terminal("[connect](https://x/login) now"),
            "connect <https://x/login> now"
        );
    }
}
