//! The web OAuth flow, browser-less with a cookie jar: login redirect, the fake's authorize
//! page, the callback, the stored (encrypted) grant, the meetings webhook; and every way
//! the flow can be refused, each storing nothing.

use botper::domain::PersonId;
use botper::ports::TokenStore;

use crate::support::fake_webex::{CLIENT_ID, CLIENT_SECRET};
use crate::support::{AppOptions, Backend, SECRET, TestApp, browser, spawn_app, spawn_app_with};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn grant_rows(app: &TestApp) -> i64 {
    app.db.count_rows("grants")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_offers_to_connect_or_says_what_is_missing() {
    let app = spawn_app(Backend::Sqlite).await;
    let html = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<a class="button" href="/auth/webex/login">Connect to Webex</a>"#),
        "{html}"
    );
    assert!(html.starts_with("<!doctype html>"));

    let bare = spawn_app_with(AppOptions {
        env: vec![
            ("WEBEX_CLIENT_ID", String::new()),
            ("WEBEX_CLIENT_SECRET", String::new()),
        ],
        ..AppOptions::default()
    })
    .await;
    let html = bare
        .client
        .get(bare.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("OAuth credentials not configured"), "{html}");
    assert!(html.contains("WEBEX_CLIENT_ID") && html.contains("WEBEX_CLIENT_SECRET"));
    assert!(!html.contains("Connect to Webex</a>"));
    let r = bare
        .client
        .get(bare.url("/auth/webex/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("OAuth credentials not configured")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_redirects_to_authorize_with_every_parameter_and_a_browser_cookie() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = no_redirects()
        .get(app.url("/auth/webex/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("botper_browser="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Max-Age=600")
    );
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/authorize?", app.fake.base_url()))
    );
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["redirect_uri"], app.url("/auth/webex/callback"));
    assert_eq!(
        q["scope"],
        "spark:messages_read spark:messages_write spark:rooms_read spark:people_read meeting:schedules_write meeting:schedules_read"
    );
    assert!(q["state"].len() >= 40, "state is random and long");
    // Two logins, two states.
    let r2 = no_redirects()
        .get(app.url("/auth/webex/login"))
        .send()
        .await
        .unwrap();
    let l2 = url::Url::parse(r2.headers()["location"].to_str().unwrap()).unwrap();
    let q2: std::collections::HashMap<_, _> = l2.query_pairs().into_owned().collect();
    assert_ne!(q["state"], q2["state"]);
}

async fn connecting_stores_an_encrypted_grant_and_registers_the_meetings_webhook(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice Smith");
    let (_browser, html) = app.connect(&alice).await;
    assert!(
        html.contains("Connected as Alice Smith (alice.smith@example.com)"),
        "{html}"
    );
    assert!(html.contains(r#"action="/meetings/test""#));
    assert!(html.contains("Meetings you schedule anywhere in Webex will now become tasks"));

    let db = app.db.open().await;
    let g = db
        .load(PersonId::new(alice.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.display_name, "Alice Smith");
    assert_eq!(g.timezone.as_deref(), Some("Europe/Paris"));
    let live = app.fake.access_tokens_of(&alice);
    assert_eq!(live, vec![g.tokens.access_token.expose().to_owned()]);

    // One webhook per meetings event Botper follows, each with her own secret (not the
    // bot's: Webex shows a webhook's secret to its owner).
    let mut hooks = app.fake.webhooks();
    let order = |e: &serde_json::Value| {
        ["created", "updated", "deleted"]
            .iter()
            .position(|x| e == x)
    };
    hooks.sort_by_key(|h| order(&h.body["event"]));
    let events: Vec<&str> = hooks
        .iter()
        .map(|h| h.body["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["created", "updated", "deleted"]);
    let own = botper::app::webhooks::meetings_secret(SECRET, &PersonId::new(alice.id.clone()));
    assert_ne!(own, SECRET);
    for h in &hooks {
        assert_eq!(h.owner, alice.id);
        assert_eq!(h.body["resource"], "meetings");
        assert_eq!(h.body["targetUrl"], app.url("/webex/webhook"));
        assert_eq!(h.body["secret"], own.as_str());
    }
    let ids: Vec<&str> = hooks
        .iter()
        .map(|h| h.body["id"].as_str().unwrap())
        .collect();
    assert_eq!(g.webhook_id.as_deref(), Some(ids.join(",").as_str()));

    // Connecting again reuses the webhooks.
    app.connect(&alice).await;
    assert_eq!(app.fake.webhooks().len(), 3);
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_stores_an_encrypted_grant_and_registers_the_meetings_webhook_on_sqlite() {
    connecting_stores_an_encrypted_grant_and_registers_the_meetings_webhook(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_stores_an_encrypted_grant_and_registers_the_meetings_webhook_on_postgres() {
    connecting_stores_an_encrypted_grant_and_registers_the_meetings_webhook(Backend::Postgres)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_state_is_refused_and_nothing_is_stored() {
    let app = spawn_app(Backend::Sqlite).await;
    let browser = no_redirects();
    browser
        .get(app.url("/auth/webex/login"))
        .send()
        .await
        .unwrap();
    let r = browser
        .get(app.url("/auth/webex/callback?code=code-123&state=forged-state"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Sign-in refused") && html.contains("Nothing was stored"),
        "{html}"
    );
    assert_eq!(app.fake.code_exchanges(), 0);
    assert_eq!(grant_rows(&app), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_state_and_a_state_from_another_browser_are_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    app.fake.sign_in_as(&alice);

    // Browser A starts; browser B (no cookie) brings A's authorize answer back.
    let a = no_redirects();
    let login = a.get(app.url("/auth/webex/login")).send().await.unwrap();
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    let back = a.get(&authorize).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let b = no_redirects();
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400, "another browser");
    // The state was spent by that attempt: A cannot use it either.
    let r = a.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400, "reused");
    assert_eq!(grant_rows(&app), 0);

    // A fresh, proper round trip works, and replaying its callback is refused.
    let login = a.get(app.url("/auth/webex/login")).send().await.unwrap();
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    let callback = a.get(&authorize).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(a.get(&callback).send().await.unwrap().status(), 200);
    assert_eq!(a.get(&callback).send().await.unwrap().status(), 400);
    assert_eq!(grant_rows(&app), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_says_so_and_stores_nothing() {
    let app = spawn_app(Backend::Sqlite).await;
    app.fake.deny_authorization();
    let browser = browser();
    let r = browser
        .get(app.url("/auth/webex/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("You did not authorize Botper"), "{html}");
    assert_eq!(grant_rows(&app), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_token_exchange_shows_webexs_reason_and_never_the_secret() {
    let app = spawn_app_with(AppOptions {
        env: vec![("WEBEX_CLIENT_SECRET", "the-wrong-client-secret".into())],
        ..AppOptions::default()
    })
    .await;
    let alice = app.fake.add_person("Alice");
    app.fake.sign_in_as(&alice);
    let browser = browser();
    let r = browser
        .get(app.url("/auth/webex/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let html = r.text().await.unwrap();
    assert!(html.contains("Token exchange failed"), "{html}");
    assert!(html.contains("Client authentication failed"), "{html}");
    assert!(!html.contains("the-wrong-client-secret") && !html.contains(CLIENT_SECRET));
    assert_eq!(grant_rows(&app), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_meeting_form_creates_a_meeting_and_a_task() {
    let app = spawn_app(Backend::Sqlite).await;
    let alice = app.fake.add_person("Alice");
    let (browser, html) = app.connect(&alice).await;
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let r = browser
        .post(app.url("/meetings/test"))
        .form(&[("csrf", csrf.as_str()), ("title", "Form meeting")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Meeting created") && page.contains("Form meeting"),
        "{page}"
    );
    assert!(
        page.contains(r#"<strong id="task-number">#1</strong>"#),
        "{page}"
    );
    let meetings = app.fake.meetings();
    assert_eq!(meetings.len(), 1);
    assert!(page.contains(meetings[0]["webLink"].as_str().unwrap()));
    // Sending the same form again (a reload, a double click) creates nothing.
    let again = browser
        .post(app.url("/meetings/test"))
        .form(&[("csrf", csrf.as_str()), ("title", "Form meeting")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
    assert!(again.text().await.unwrap().contains("already sent"));
    assert_eq!(app.fake.meetings().len(), 1);
    // The result page carries a fresh form that works once.
    let next = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert_ne!(next, csrf);
    let r = browser
        .post(app.url("/meetings/test"))
        .form(&[("csrf", next.as_str()), ("title", "Second one")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.fake.meetings().len(), 2);

    // A cross-site post (no session cookie, or a wrong token) is refused.
    let r = reqwest::Client::new()
        .post(app.url("/meetings/test"))
        .form(&[("csrf", csrf.as_str()), ("title", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = browser
        .post(app.url("/meetings/test"))
        .form(&[("csrf", "guess"), ("title", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.fake.meetings().len(), 2);
    app.fake.assert_spec_clean();
}
