//! The calendar feed end to end: `calendar` gives a private address in 1:1 (never in a
//! group space), the feed is valid iCalendar read back with an independent parser (the
//! `ical` crate), it answers 304 to a calendar that has it already, `calendar reset` makes
//! the old address answer 404, and a wrong token is a 404.

use std::collections::HashMap;
use std::io::BufReader;

use crate::support::{Backend, TestApp, spawn_app};

/// One VEVENT: property name → (value, parameters as `NAME=value`).
type Event = HashMap<String, (String, Vec<String>)>;

fn parse_feed(body: &str) -> Vec<Event> {
    let calendars: Vec<_> = ical::IcalParser::new(BufReader::new(body.as_bytes()))
        .collect::<Result<_, _>>()
        .expect("the feed parses as iCalendar");
    assert_eq!(calendars.len(), 1, "one VCALENDAR");
    let cal = &calendars[0];
    let prop = |name: &str| {
        cal.properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
    };
    assert_eq!(prop("VERSION").as_deref(), Some("2.0"));
    assert!(prop("PRODID").is_some());
    cal.events
        .iter()
        .map(|e| {
            e.properties
                .iter()
                .map(|p| {
                    let params = p
                        .params
                        .iter()
                        .flatten()
                        .map(|(k, v)| format!("{k}={}", v.join(",")))
                        .collect();
                    (
                        p.name.clone(),
                        (p.value.clone().unwrap_or_default(), params),
                    )
                })
                .collect()
        })
        .collect()
}

/// A TEXT value as RFC 5545 §3.3.11 reads it.
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn feed_url(reply: &str) -> String {
    let start = reply.find("http://").expect("an address in the reply");
    let end = reply[start..].find(".ics").expect("an .ics address") + start + 4;
    reply[start..end].to_owned()
}

fn event<'a>(events: &'a [Event], summary: &str) -> &'a Event {
    events
        .iter()
        .find(|e| {
            e.get("SUMMARY")
                .is_some_and(|(v, _)| unescape(v) == summary)
        })
        .unwrap_or_else(|| panic!("no event {summary:?} in {events:#?}"))
}

async fn get(app: &TestApp, url: &str, etag: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(url);
    if let Some(t) = etag {
        req = req.header("if-none-match", t);
    }
    req.send().await.unwrap()
}

async fn the_calendar_feed_holds_dated_tasks_and_meetings(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.fake.add_person("Alice");
    let room = app.fake.new_room_id();
    app.connect(&alice).await;
    app.ask(&alice, &room, "tz Europe/Paris").await;
    let r = app.ask(&alice, &room, "task Pay rent due 2027-01-05").await;
    assert!(r.contains("#1"), "{r}");
    app.ask(&alice, &room, "task Send the deck").await;
    let r = app.ask(&alice, &room, "due 2 2027-01-04 15:00").await;
    assert!(r.contains("15:00"), "{r}");
    app.ask(&alice, &room, "task Someday, maybe").await;
    app.ask(&alice, &room, r"task Budget; Q1, v2 \ final").await;
    app.ask(&alice, &room, "due 4 2027-01-04 18:00").await;
    let r = app
        .ask(
            &alice,
            &room,
            "meeting Review on 2027-01-06 at 15:00 for 45m",
        )
        .await;
    assert!(r.contains("#5"), "{r}");
    let join = app.fake.meetings()[0]["webLink"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = app.ask(&alice, &room, "calendar").await;
    let url = feed_url(&r);
    assert!(url.starts_with(&app.url("/calendar/")), "{url}");
    assert!(r.contains("calendar reset"), "{r}");
    let token = url.trim_end_matches(".ics").rsplit('/').next().unwrap();
    assert_eq!(token.len(), 43, "256 random bits, URL-safe base64");

    let resp = get(&app, &url, None).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let body = resp.text().await.unwrap();
    assert!(body.contains("\r\n"), "CRLF line ends");
    let events = parse_feed(&body);
    assert_eq!(events.len(), 4, "{events:#?}");
    for e in &events {
        for p in ["UID", "DTSTAMP", "DTSTART", "SUMMARY"] {
            assert!(e.contains_key(p), "{p} missing in {e:#?}");
        }
    }
    let rent = event(&events, "Pay rent");
    assert_eq!(rent["DTSTART"].0, "20270105");
    assert_eq!(rent["DTSTART"].1, vec!["VALUE=DATE".to_owned()]);
    assert_eq!(rent["DTEND"].0, "20270106");
    let deck = event(&events, "Send the deck");
    assert_eq!(deck["DTSTART"].0, "20270104T140000Z", "15:00 in Paris");
    let budget = event(&events, r"Budget; Q1, v2 \ final");
    assert_eq!(budget["DTSTART"].0, "20270104T170000Z");
    let review = event(&events, "Review");
    assert_eq!(review["DTSTART"].0, "20270106T140000Z");
    assert_eq!(review["DTEND"].0, "20270106T144500Z");
    assert_eq!(review["URL"].0, join);
    assert!(unescape(&review["DESCRIPTION"].0).contains(&join));
    let uids: std::collections::HashSet<_> = events.iter().map(|e| &e["UID"].0).collect();
    assert_eq!(uids.len(), 4, "one UID per event");

    // A calendar that has this version is told so; a change makes a new one.
    let again = get(&app, &url, Some(&etag)).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    app.ask(&alice, &room, "done 1").await;
    let changed = get(&app, &url, Some(&etag)).await;
    assert_eq!(changed.status(), 200);
    let events2 = parse_feed(&changed.text().await.unwrap());
    assert_eq!(events2.len(), 3);
    assert!(!events2.iter().any(|e| e["SUMMARY"].0 == "Pay rent"));
    // The same UID for the same task, whatever else changed.
    assert_eq!(event(&events2, "Review")["UID"], review["UID"]);

    // The same address again; the store keeps only its hash and a sealed copy.
    let r = app.ask(&alice, &room, "calendar").await;
    assert_eq!(feed_url(&r), url);
    assert_eq!(app.db.count_rows("calendar_feeds"), 1);

    // Never in a group space: the address opens her tasks.
    let group = app.fake.new_room_id();
    let html = app.fake.mention_html("Botper", " calendar");
    let before = app.fake.sent_count();
    let id = app
        .fake
        .user_says(&alice, &group, "Botper calendar", Some(&html));
    app.deliver(&crate::support::message_created(&id, &group, &alice.id))
        .await;
    let sent = app
        .fake
        .wait_for_sent(before + 1, std::time::Duration::from_secs(10))
        .await;
    let r = sent[before].markdown();
    assert!(r.contains("only in our 1:1 space"), "{r}");
    assert!(!r.contains("/calendar/"), "{r}");

    // Reset: the old address is gone, the new one works.
    let r = app.ask(&alice, &room, "calendar reset").await;
    let new_url = feed_url(&r);
    assert_ne!(new_url, url);
    assert!(r.contains("old one no longer works"), "{r}");
    assert_eq!(get(&app, &url, None).await.status(), 404);
    assert_eq!(get(&app, &new_url, None).await.status(), 200);
    assert_eq!(app.db.count_rows("calendar_feeds"), 1);

    // Tokens nobody has, well-formed or not.
    let made_up = app.url(&format!("/calendar/{}.ics", "A".repeat(43)));
    assert_eq!(get(&app, &made_up, None).await.status(), 404);
    assert_eq!(
        get(&app, &app.url("/calendar/x.ics"), None).await.status(),
        404
    );
    let no_suffix = new_url.trim_end_matches(".ics");
    assert_eq!(get(&app, no_suffix, None).await.status(), 404);

    // Someone else's feed is theirs: Bob's address shows none of Alice's tasks.
    let bob = app.fake.add_person("Bob");
    let bob_room = app.fake.new_room_id();
    app.ask(&bob, &bob_room, "task Bob's own thing due 2027-01-05")
        .await;
    let bob_url = feed_url(&app.ask(&bob, &bob_room, "calendar").await);
    let bob_events = parse_feed(&get(&app, &bob_url, None).await.text().await.unwrap());
    assert_eq!(bob_events.len(), 1);
    assert_eq!(unescape(&bob_events[0]["SUMMARY"].0), "Bob's own thing");
    app.fake.assert_spec_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_feed_holds_dated_tasks_and_meetings_on_sqlite() {
    the_calendar_feed_holds_dated_tasks_and_meetings(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_feed_holds_dated_tasks_and_meetings_on_postgres() {
    the_calendar_feed_holds_dated_tasks_and_meetings(Backend::Postgres).await;
}
