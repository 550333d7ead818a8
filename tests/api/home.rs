//! The personal page end to end: after "Connect to Webex", `/` shows the person their open
//! tasks with due dates, their meetings from Webex, their calendar address and their
//! connection, and its Disconnect button (session cookie + single-use CSRF token) does what
//! `disconnect` does. Without a session, `/` stays the public page.

use crate::support::{Backend, spawn_app};

use crate::support::csrf;

async fn the_personal_page_shows_tasks_meetings_and_the_calendar(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    let (browser, _) = app.connect(&alice).await;
    app.ask(&alice, &room, "tz Europe/Paris").await;
    app.ask(&alice, &room, "task Send the <deck> & notes").await;
    app.ask(&alice, &room, "due 1 2027-01-04 15:00").await;
    app.ask(&alice, &room, "task Call Bob").await;
    let r = app
        .ask(&alice, &room, "meeting Review tomorrow at 15:00")
        .await;
    assert!(r.contains("#3"), "{r}");
    let join = app.fake.meetings()[0]["webLink"]
        .as_str()
        .unwrap()
        .to_owned();

    let page = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Your Botper</h1>"), "{html}");
    assert!(
        html.contains("Signed in as <strong>Alice</strong> (alice@example.com)"),
        "{html}"
    );
    assert!(html.contains("Connected:"), "{html}");
    // Tasks, escaped, with their due dates in her zone.
    assert!(
        html.contains("<strong>#1</strong> Send the &lt;deck&gt; &amp; notes"),
        "{html}"
    );
    assert!(
        html.contains("Mon 4 Jan 2027, 15:00") || html.contains("4 Jan"),
        "{html}"
    );
    assert!(html.contains("<strong>#2</strong> Call Bob"), "{html}");
    // A meeting's task says when the meeting is.
    assert!(
        html.contains("<strong>#3</strong> Review <span class=\"hint\">meeting "),
        "{html}"
    );
    // The meeting, from Webex, with its join link and its task.
    assert!(
        html.contains(&format!("href=\"{join}\">Review</a> (task #3)")),
        "{html}"
    );
    // The calendar address works and is the one `calendar` gives.
    let field = "id=\"calendar-url\" readonly value=\"";
    let at = html.find(field).unwrap() + field.len();
    let url = &html[at..at + html[at..].find('"').unwrap()];
    assert!(url.starts_with(&app.url("/calendar/")), "{url}");
    let feed = app.client.get(url).send().await.unwrap();
    assert_eq!(feed.status(), 200);
    assert!(feed.text().await.unwrap().contains("SUMMARY:Review"));
    let r = app.ask(&alice, &room, "calendar").await;
    assert!(r.contains(url), "{r}");

    // Without the session, `/` is the public page and shows none of it.
    let public = app.client.get(app.url("/")).send().await.unwrap();
    let public = public.text().await.unwrap();
    assert!(public.contains("Connect to Webex"), "{public}");
    assert!(!public.contains("Call Bob") && !public.contains("/calendar/"));

    // Disconnect: a forged token does nothing; the page's token disconnects, once.
    let token = csrf(&html);
    let forged = browser
        .post(app.url("/disconnect"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(
        open_grant(&app, &alice.id).await,
        "a forged form disconnects nothing"
    );
    let other = app
        .client
        .post(app.url("/disconnect"))
        .form(&[("csrf", token.as_str())]);
    assert_eq!(
        other.send().await.unwrap().status(),
        403,
        "no session, no disconnect"
    );
    let done = browser
        .post(app.url("/disconnect"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let done = done.text().await.unwrap();
    assert!(done.contains("<h1>Disconnected</h1>"), "{done}");
    assert!(!open_grant(&app, &alice.id).await, "the grant is gone");
    let again = browser
        .post(app.url("/disconnect"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403, "the form works once");
    // Her tasks stay; the page is the public one again (the session went with the grant).
    let html = browser
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Connect to Webex") && !html.contains("Your Botper"),
        "{html}"
    );
    let r = app.ask(&alice, &room, "list").await;
    assert!(r.contains("Call Bob"), "{r}");
    app.fake.assert_spec_clean();
}

async fn open_grant(app: &crate::support::TestApp, person: &str) -> bool {
    use botper::ports::TokenStore;
    let db = app.db.open().await;
    db.load(botper::domain::PersonId::new(person))
        .await
        .unwrap()
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_personal_page_shows_tasks_meetings_and_the_calendar_on_sqlite() {
    the_personal_page_shows_tasks_meetings_and_the_calendar(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_personal_page_shows_tasks_meetings_and_the_calendar_on_postgres() {
    the_personal_page_shows_tasks_meetings_and_the_calendar(Backend::Postgres).await;
}
