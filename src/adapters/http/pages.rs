//! The web pages (server-rendered HTML, no JavaScript).

use warp::reply::{Html, html};

use super::Shared;

pub(crate) fn index(shared: Shared) -> Html<String> {
    let s = &shared.settings;
    let bot = match shared.app.known_bot_identity() {
        Some(b) => format!(
            "<p>The bot is <strong>{}</strong>.</p>",
            escape(&b.display_name)
        ),
        None if s.bot_token_configured => {
            "<p>The bot token is set; the bot's identity is not confirmed yet.</p>".into()
        }
        None => "<p><strong>WEBEX_BOT_TOKEN is not set</strong>: the bot cannot answer.</p>".into(),
    };
    let webhooks = if s.webhook_secret.is_some() && s.bot_token_configured {
        "<p>Webhooks are accepted at <code>/webex/webhook</code>.</p>"
    } else {
        "<p><strong>Webhooks are refused</strong> until WEBEX_BOT_TOKEN and WEBEX_WEBHOOK_SECRET are set.</p>"
    };
    html(page(
        "Botper",
        &format!(
            "<h1>Botper</h1>\
             <p>Botper keeps your tasks and meetings in Webex. In a space with the bot, type \
             <code>task Buy milk</code>, <code>list</code>, <code>done 1</code>, \
             <code>delete 1</code> or <code>help</code>.</p>{bot}{webhooks}"
        ),
    ))
}

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d1f23}\
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:12px;\
box-shadow:0 1px 4px rgba(0,0,0,.08)}code{background:#eef0f3;padding:.1rem .3rem;border-radius:4px}\
.button{display:inline-block;background:#0b6ee0;color:#fff;padding:.7rem 1.2rem;border-radius:8px;\
text-decoration:none;border:0;font-size:1rem;cursor:pointer}.button:focus{outline:3px solid #ffbf47}\
.error{color:#a4161a}";

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
