//! The web pages: home, the OAuth login and callback, and the test-meeting form. Small,
//! server-rendered, accessible, and working without JavaScript.

use std::collections::HashMap;

use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response, html};

use super::Shared;
use crate::app::{
    CallbackParams, Connection, Home, LoginError, MeetingResult, TestMeetingError, WebActionError,
};

/// Binds an OAuth state to the browser that started the login.
pub(crate) const BROWSER_COOKIE: &str = "botper_browser";
/// The success page's session (for the test-meeting form).
pub(crate) const SESSION_COOKIE: &str = "botper_session";

/// `/`: the signed-in person's own page (session cookie), else what Botper is.
pub(crate) async fn index(session: Option<String>, shared: Shared) -> Response {
    match shared.app.home(session).await {
        Ok(Some(home)) => home_page(&home, &shared),
        Ok(None) => public_index(&shared),
        Err(e) => {
            tracing::warn!(error = %e, "personal page unavailable");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "Botper's database is not answering; reload the page in a moment.",
            )
        }
    }
}

fn public_index(shared: &Shared) -> Response {
    let s = &shared.settings;
    let bot = match shared.app.known_bot_identity() {
        Some(b) => format!(
            "<p>The bot is <strong>{}</strong>.</p>",
            escape(&b.display_name)
        ),
        None if s.bot_token_configured => {
            "<p>The bot token is set; the bot's identity is not confirmed yet.</p>".into()
        }
        None => "<p class=\"error\"><strong>WEBEX_BOT_TOKEN is not set</strong>: the bot cannot answer.</p>".into(),
    };
    let webhooks = if s.webhook_secret.is_some() && s.bot_token_configured {
        "<p>Webhooks are accepted at <code>/webex/webhook</code>.</p>"
    } else {
        "<p class=\"error\"><strong>Webhooks are refused</strong> until WEBEX_BOT_TOKEN and WEBEX_WEBHOOK_SECRET are set.</p>"
    };
    let connect = if s.oauth_configured {
        "<h2>Your meetings</h2>\
         <p>Connect your Webex account so that <code>meeting Team Standup</code> creates the \
         meeting for you, and every meeting you schedule anywhere becomes a task.</p>\
         <p><a class=\"button\" href=\"/auth/webex/login\">Connect to Webex</a></p>"
            .to_owned()
    } else {
        "<h2>Your meetings</h2>\
         <p class=\"error\" role=\"status\"><strong>OAuth credentials not configured.</strong> \
         Set <code>WEBEX_CLIENT_ID</code> and <code>WEBEX_CLIENT_SECRET</code> (from your \
         Webex integration) to enable \"Connect to Webex\".</p>"
            .to_owned()
    };
    html(page(
        "Botper",
        &format!(
            "<h1>Botper</h1>\
             <p>Botper keeps your tasks and meetings in Webex. In a space with the bot, type \
             <code>task Buy milk</code>, <code>list</code>, <code>done 1</code>, \
             <code>delete 1</code>, <code>meeting Team Standup</code> or <code>help</code>.</p>\
             {bot}{webhooks}{connect}"
        ),
    ))
    .into_response()
}

pub(crate) async fn login(browser: Option<String>, shared: Shared) -> Response {
    match shared.app.begin_login(browser).await {
        Ok(start) => {
            let cookie = cookie(
                BROWSER_COOKIE,
                &start.browser,
                "/auth/webex",
                600,
                shared.settings.secure_cookies,
            );
            let mut r = warp::reply::with_status("", StatusCode::FOUND).into_response();
            let h = r.headers_mut();
            if let Ok(v) = start.authorize_url.parse() {
                h.insert(header::LOCATION, v);
            }
            if let Ok(v) = cookie.parse() {
                h.insert(header::SET_COOKIE, v);
            }
            h.insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
            r
        }
        Err(e) => login_error_page(&e),
    }
}

pub(crate) async fn callback(
    query: HashMap<String, String>,
    browser: Option<String>,
    shared: Shared,
) -> Response {
    let params = CallbackParams {
        code: query.get("code").cloned(),
        state: query.get("state").cloned(),
        error: query.get("error").cloned(),
        error_description: query.get("error_description").cloned(),
    };
    let secure = shared.settings.secure_cookies;
    let clear_browser = cookie(BROWSER_COOKIE, "", "/auth/webex", 0, secure);
    let mut r = match shared.app.complete_login(params, browser).await {
        Ok(c) => {
            let who = match &c.email {
                Some(e) => format!("{} ({})", escape(&c.display_name), escape(e)),
                None => escape(&c.display_name),
            };
            let webhook = match &c.webhook {
                Ok(()) => "<p>Meetings you schedule anywhere in Webex will now become tasks.</p>"
                    .to_owned(),
                Err(why) => format!(
                    "<p class=\"error\" role=\"status\">Botper could not follow your meetings \
                     ({}); meetings you create with <code>meeting …</code> still become \
                     tasks.</p>",
                    escape(why)
                ),
            };
            let mut r = html(page(
                "Connected to Webex",
                &format!(
                    "<h1>Connected as {who}</h1>{webhook}\
                     <p>In any space with the bot, type <code>meeting Team Standup</code>.</p>\
                     {}",
                    test_form(&c.csrf, "Try it")
                ),
            ))
            .into_response();
            let session = cookie(SESSION_COOKIE, &c.session, "/", 3600, secure);
            if let Ok(v) = session.parse() {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => login_error_page(&e),
    };
    if let Ok(v) = clear_browser.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    r
}

/// The personal page: tasks, meetings, the calendar address, the connection and Disconnect.
fn home_page(h: &Home, shared: &Shared) -> Response {
    let connect = escape(&shared.app.settings().connect_url());
    let who = match &h.email {
        Some(e) => format!("<strong>{}</strong> ({})", escape(&h.name), escape(e)),
        None => format!("<strong>{}</strong>", escape(&h.name)),
    };
    let connected = matches!(h.connection, Connection::Connected { .. });
    let status = match &h.connection {
        Connection::Connected { until } => format!(
            "Connected: <code>meeting …</code> creates meetings as you, and the meetings \
             you schedule anywhere become tasks. Webex lets Botper act for you until {}.",
            escape(&until.strftime("%-d %b %Y").to_string())
        ),
        Connection::Stopped { reason } => format!(
            "Your connection stopped working ({}). <a href=\"{connect}\">Connect again</a>.",
            escape(reason)
        ),
        Connection::Unreadable => format!(
            "Botper can no longer read your connection (its stored keys changed). \
             <a href=\"{connect}\">Renew it</a>."
        ),
        Connection::None => format!(
            "Not connected. <a href=\"{connect}\">Connect to Webex</a> so that meetings \
             become tasks."
        ),
    };
    let tasks = if h.tasks.is_empty() {
        "<p>No open tasks. In a space with the bot, type <code>task Buy milk</code>.</p>".to_owned()
    } else {
        let items: String = h
            .tasks
            .iter()
            .map(|t| {
                let due = match t.due {
                    Some(d) if d.at < h.here.now => format!(
                        " <span class=\"error\">overdue (due {})</span>",
                        escape(&h.here.describe(&d))
                    ),
                    Some(d) => format!(" <span class=\"hint\">due {}</span>", escape(&h.here.describe(&d))),
                    None => String::new(),
                };
                let join = match &t.meeting {
                    Some(m) if !m.cancelled => format!(
                        "{} <a href=\"{}\">Join the meeting<span class=\"visually-hidden\"> {}</span></a>",
                        m.start
                            .map(|s| format!(
                                " <span class=\"hint\">meeting {}</span>",
                                escape(&h.here.moment(s))
                            ))
                            .unwrap_or_default(),
                        escape(&m.web_link),
                        escape(t.title.as_str())
                    ),
                    _ => String::new(),
                };
                format!(
                    "<li><strong>#{}</strong> {}{due}{join}</li>",
                    t.number,
                    escape(t.title.as_str())
                )
            })
            .collect();
        format!("<ul id=\"tasks\">{items}</ul>")
    };
    let meetings = match &h.meetings {
        _ if !connected => "<p>Connect to Webex to see your meetings here.</p>".to_owned(),
        None => "<p class=\"error\">Botper could not read your meetings from Webex just now; \
                 reload the page to try again.</p>"
            .to_owned(),
        Some(list) if list.is_empty() => "<p>No meetings in the next 7 days.</p>".to_owned(),
        Some(list) => {
            let items: String = list
                .iter()
                .map(|m| {
                    let task = m.task.map(|n| format!(" (task #{n})")).unwrap_or_default();
                    format!(
                        "<li>{}: <a href=\"{}\">{}</a>{task}</li>",
                        escape(&crate::domain::reply::slot_text(&m.start, &m.end)),
                        escape(&m.web_link),
                        escape(&m.title)
                    )
                })
                .collect();
            format!("<ul id=\"meetings\">{items}</ul>")
        }
    };
    let calendar = match &h.calendar_url {
        Some(url) => format!(
            "<p><label for=\"calendar-url\">Subscribe to this address in Google Calendar, \
             Outlook or Apple Calendar (\"add calendar from URL\"):</label><br>\
             <input id=\"calendar-url\" readonly value=\"{}\" aria-describedby=\"calendar-hint\"></p>\
             <p class=\"hint\" id=\"calendar-hint\">It holds your open tasks with a due date \
             and the meetings Botper knows. Anyone with the address can read them: send \
             <code>calendar reset</code> to the bot in your 1:1 space to replace it.</p>",
            escape(url)
        ),
        None => "<p class=\"error\">Your calendar address was sealed with a key Botper no \
                 longer has: send <code>calendar reset</code> to the bot for a new one.</p>"
            .to_owned(),
    };
    let disconnect = if connected {
        format!(
            "<h2>Disconnect</h2>\
             <p>Removes Botper's access to your Webex account, stops following your meetings \
             and cancels your reminders and agenda. Your tasks stay.</p>\
             <form method=\"post\" action=\"/disconnect\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <p><button class=\"button danger\" type=\"submit\">Disconnect from Webex</button></p>\
             </form>",
            escape(&h.csrf)
        )
    } else {
        String::new()
    };
    let mut r = html(page(
        "Your Botper",
        &format!(
            "<h1>Your Botper</h1>\
             <p>Signed in as {who}.</p>\
             <h2>Webex connection</h2><p id=\"status\">{status}</p>\
             <h2>Open tasks</h2>{tasks}\
             <h2>Meetings in the next 7 days</h2>{meetings}\
             <h2>Your calendar</h2>{calendar}\
             <h2>Your data</h2><p>Download everything Botper keeps about you: \
             <a href=\"/export.json\" download>JSON</a> (tasks, reminders, settings, connection) \
             or <a href=\"/export.csv\" download>your tasks as CSV</a>. Send <code>forget me</code> \
             to the bot in your 1:1 space to erase it all.</p>\
             {disconnect}"
        ),
    ))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    r
}

/// The page's Disconnect button.
pub(crate) async fn disconnect(
    form: HashMap<String, String>,
    session: Option<String>,
    shared: Shared,
) -> Response {
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    match shared.app.web_disconnect(session, csrf).await {
        Ok((_, jobs)) => {
            let jobs = match jobs {
                0 => String::new(),
                1 => " and cancelled 1 scheduled reminder or agenda".to_owned(),
                n => format!(" and cancelled {n} scheduled reminders and agendas"),
            };
            let mut r = html(page(
                "Disconnected",
                &format!(
                    "<h1>Disconnected</h1>\
                     <p>Botper removed its access to your Webex account{jobs}. Your tasks \
                     stay; in a space with the bot, <code>list</code> shows them.</p>\
                     <p><a href=\"/\">Back to Botper</a></p>"
                ),
            ))
            .into_response();
            let clear = cookie(SESSION_COOKIE, "", "/", 0, shared.settings.secure_cookies);
            if let Ok(v) = clear.parse() {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let status = match e {
                WebActionError::NoSession | WebActionError::BadCsrf => StatusCode::FORBIDDEN,
                WebActionError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            };
            error_page(
                status,
                "Not disconnected",
                &format!(
                    "{} <a href=\"/\">Back to Botper</a>",
                    escape(&e.to_string())
                ),
            )
        }
    }
}

fn test_form(csrf: &str, heading: &str) -> String {
    format!(
        "<h2>{}</h2>\
         <form method=\"post\" action=\"/meetings/test\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <p><label for=\"title\">Meeting title</label><br>\
         <input id=\"title\" name=\"title\" required maxlength=\"128\" \
         value=\"Botper test meeting\" aria-describedby=\"title-hint\"></p>\
         <p class=\"hint\" id=\"title-hint\">It starts in 5 minutes, lasts 30 minutes, and \
         becomes a task.</p>\
         <p><button class=\"button\" type=\"submit\">Create a test meeting</button></p>\
         </form>",
        escape(heading),
        escape(csrf)
    )
}

pub(crate) async fn test_meeting(
    form: HashMap<String, String>,
    session: Option<String>,
    shared: Shared,
) -> Response {
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    let title = form.get("title").map(String::as_str).unwrap_or_default();
    let connect = shared.app.settings().connect_url();
    match shared.app.schedule_test_meeting(session, csrf, title).await {
        Ok((
            MeetingResult::Scheduled {
                meeting,
                slot,
                task,
            },
            next_csrf,
        )) => {
            let number = match &task {
                crate::domain::TaskOutcome::Created(t)
                | crate::domain::TaskOutcome::AlreadyLinked(t) => format!("#{}", t.number),
                _ => "?".into(),
            };
            html(page(
                "Meeting created",
                &format!(
                    "<h1>Meeting created</h1>\
                     <p><strong>{}</strong>, {}.</p>\
                     <p><a class=\"button\" href=\"{}\">Join the meeting</a></p>\
                     <p>Botper filed it as task <strong id=\"task-number\">{number}</strong>; \
                     type <code>list</code> in a space with the bot to see it.</p>\
                     {}<p><a href=\"/\">Back to Botper</a></p>",
                    escape(&meeting.title),
                    escape(&crate::domain::reply::slot_text(&slot.start, &slot.end)),
                    escape(&meeting.web_link),
                    test_form(&next_csrf, "Create another"),
                ),
            ))
            .into_response()
        }
        Ok((other, _)) => {
            let text = match other {
                MeetingResult::NotConnected | MeetingResult::Reconnect(_) => format!(
                    "Your Webex connection is gone. <a href=\"{}\">Connect again</a>.",
                    escape(&connect)
                ),
                MeetingResult::Unreadable => format!(
                    "Botper can no longer read your Webex connection (its stored keys changed). <a href=\"{}\">Renew the connection</a>.",
                    escape(&connect)
                ),
                MeetingResult::SignInUnavailable => {
                    "Botper could not reach Webex's sign-in service; try again later.".to_owned()
                }
                MeetingResult::Refused { message, .. } => {
                    format!("Webex refused to create the meeting: {}", escape(&message))
                }
                MeetingResult::Invalid(e) => escape(&e.to_string()),
                MeetingResult::UnknownTemplate { miss, .. } => {
                    format!(
                        "No single meeting template is called {}.",
                        escape(&miss.asked)
                    )
                }
                MeetingResult::UnknownGuest(name) => {
                    format!(
                        "Webex does not show Botper the address of {}.",
                        escape(&name)
                    )
                }
                MeetingResult::Scheduled { .. } => unreachable!("handled above"),
            };
            error_page(StatusCode::BAD_GATEWAY, "Meeting not created", &text)
        }
        Err(e) => {
            let status = match e {
                TestMeetingError::NoSession | TestMeetingError::BadCsrf => StatusCode::FORBIDDEN,
                TestMeetingError::BadTitle(_) => StatusCode::BAD_REQUEST,
                TestMeetingError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                TestMeetingError::Reserved => StatusCode::FORBIDDEN,
            };
            error_page(status, "Meeting not created", &escape(&e.to_string()))
        }
    }
}

fn login_error_page(e: &LoginError) -> Response {
    let (status, title) = match e {
        LoginError::NotConfigured(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "OAuth credentials not configured",
        ),
        LoginError::Denied(_) => (StatusCode::FORBIDDEN, "Not connected"),
        LoginError::BadState | LoginError::MissingCode => {
            (StatusCode::BAD_REQUEST, "Sign-in refused")
        }
        LoginError::TokenExchange(_) => (StatusCode::BAD_GATEWAY, "Token exchange failed"),
        LoginError::Identity(_) => (StatusCode::BAD_GATEWAY, "Connection failed"),
        LoginError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Try again later"),
        LoginError::NotAllowed => (StatusCode::FORBIDDEN, "Not available to your account"),
    };
    let detail = match e {
        LoginError::NotConfigured(what) => format!(
            "{}. Set <code>WEBEX_CLIENT_ID</code> and <code>WEBEX_CLIENT_SECRET</code> to enable \
             \"Connect to Webex\".",
            escape(what)
        ),
        other => escape(&other.to_string()),
    };
    error_page(
        status,
        title,
        &format!("{detail} <a href=\"/\">Back to Botper</a>"),
    )
}

fn error_page(status: StatusCode, title: &str, body_html: &str) -> Response {
    warp::reply::with_status(
        html(page(
            title,
            &format!(
                "<h1>{}</h1><p class=\"error\">{body_html}</p>",
                escape(title)
            ),
        )),
        status,
    )
    .into_response()
}

fn cookie(name: &str, value: &str, path: &str, max_age: u32, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d1f23;line-height:1.5}\
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:12px;\
box-shadow:0 1px 4px rgba(0,0,0,.08)}code{background:#eef0f3;padding:.1rem .3rem;border-radius:4px}\
.button{display:inline-block;background:#0b5cc7;color:#fff;padding:.7rem 1.2rem;border-radius:8px;\
text-decoration:none;border:0;font-size:1rem;cursor:pointer}\
.button:focus,input:focus,a:focus{outline:3px solid #1d1f23;outline-offset:2px;\
box-shadow:0 0 0 6px #ffbf47}\
input{font-size:1rem;padding:.5rem;width:100%;max-width:24rem;border:1px solid #767676;border-radius:6px}\
.error{color:#a4161a}.hint{color:#555}.danger{background:#a4161a}\
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}";

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

/// `GET /export.json` and `/export.csv`: the person's data, with the page's session.
pub(crate) async fn export(file: String, session: Option<String>, shared: Shared) -> Response {
    let kind = match file.as_str() {
        "export.json" => "json",
        "export.csv" => "csv",
        _ => return error_page(StatusCode::NOT_FOUND, "Not found", "No such file."),
    };
    let Some(s) = shared.app.web_session(session).await else {
        return error_page(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "Your session has ended: <a href=\"/auth/webex/login\">connect to Webex</a> again to download your data.",
        );
    };
    match shared.app.export(&s.person).await {
        Ok(e) => {
            let (body, content_type, name) = if kind == "json" {
                (e.json, "application/json", "botper-export.json")
            } else {
                (e.csv, "text/csv; charset=utf-8", "botper-tasks.csv")
            };
            let mut r = warp::reply::Response::new(body.into());
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, content_type.parse().expect("static"));
            h.insert(
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\"")
                    .parse()
                    .expect("ascii"),
            );
            h.insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
            r
        }
        Err(_) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again later",
            "Botper's database is unavailable; please try again in a moment.",
        ),
    }
}
