//! A person's calendar feed (iCalendar, RFC 5545): their open tasks with a due date and the
//! meetings Botper knows (the open tasks that carry a meeting), for Google Calendar, Outlook
//! or Apple Calendar to subscribe to.
//!
//! Written here rather than with a crate: the iCalendar writers on offer build on another
//! date library than the project's, and the part of the format a feed needs is small —
//! text escaping (§3.3.11), line folding at 75 octets (§3.1), UTC date-times and dates
//! (§3.3.4, §3.3.5). The tests in `tests/api/calendar.rs` read the feed back with an
//! independent parser.
//!
//! The feed is a pure function of the tasks: the same tasks give the same bytes (`DTSTAMP`
//! is when the task was filed, not when the feed was asked for), so an `ETag` over the body
//! lets a calendar that asks again get a 304.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::task::Task;

/// How long a task with a due time lasts in the calendar.
pub const TASK_MINUTES: i64 = 15;

/// The whole `VCALENDAR` for `owner`'s open tasks; all-day tasks fall on their date in `tz`.
pub fn feed(owner: &str, tasks: &[Task], tz: &TimeZone) -> String {
    let mut out = String::new();
    let scope = uid_scope(owner);
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Botper//Tasks and meetings//EN",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:Botper",
        "NAME:Botper",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ] {
        push(&mut out, line);
    }
    for t in tasks.iter().filter(|t| !t.done) {
        event(&mut out, &scope, t, tz);
    }
    push(&mut out, "END:VCALENDAR");
    out
}

/// One task's `VEVENT`: its meeting if it carries one, else its due date; nothing for a
/// task with neither.
fn event(out: &mut String, scope: &str, t: &Task, tz: &TimeZone) {
    let n = t.number.get();
    let (uid, dates, url, description) = match &t.meeting {
        Some(m) if m.cancelled => return,
        Some(m) => {
            let Some(start) = m.start else { return };
            let mut dates = vec![format!("DTSTART:{}", utc(start))];
            if let Some(end) = m.end.filter(|e| *e > start) {
                dates.push(format!("DTEND:{}", utc(end)));
            }
            (
                format!("meeting-{}@botper", id_part(&m.meeting_id)),
                dates,
                Some(m.web_link.as_str()),
                format!(
                    "Join: {}\nBotper task #{n} (done {n} when it is behind you).",
                    m.web_link
                ),
            )
        }
        None => {
            let Some(due) = t.due else { return };
            let dates = if due.has_time {
                vec![
                    format!("DTSTART:{}", utc(due.at)),
                    format!(
                        "DTEND:{}",
                        utc(due.at + SignedDuration::from_mins(TASK_MINUTES))
                    ),
                ]
            } else {
                let day = due.at.to_zoned(tz.clone()).date();
                let next = day.tomorrow().unwrap_or(day);
                vec![
                    format!("DTSTART;VALUE=DATE:{}", day.strftime("%Y%m%d")),
                    format!("DTEND;VALUE=DATE:{}", next.strftime("%Y%m%d")),
                ]
            };
            (
                format!("task-{n}.{scope}@botper"),
                dates,
                None,
                format!("Botper task #{n}: type done {n} when it is done."),
            )
        }
    };
    push(out, "BEGIN:VEVENT");
    push(out, &format!("UID:{uid}"));
    push(out, &format!("DTSTAMP:{}", utc(t.created_at)));
    for d in dates {
        push(out, &d);
    }
    push(out, &format!("SUMMARY:{}", text(t.title.as_str())));
    push(out, &format!("DESCRIPTION:{}", text(&description)));
    if let Some(url) = url.filter(|u| is_uri(u)) {
        push(out, &format!("URL:{url}"));
    }
    push(out, "TRANSP:TRANSPARENT");
    push(out, "END:VEVENT");
}

/// A Webex id in a UID: only the characters a UID needs no escaping for.
fn id_part(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

/// A URL property must be a URI: no spaces, controls or quotes (a join link always is one).
fn is_uri(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.chars().all(|c| c.is_ascii_graphic() && c != '"')
}

/// Tasks are numbered per person: their UIDs carry a stable, opaque mark of the owner
/// (FNV-1a of the person id) so that two people's task 3 never share one.
fn uid_scope(owner: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in owner.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A UTC date-time: `20261207T150000Z`.
fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (§3.3.11): backslash, semicolon, comma and newline escaped; other control
/// characters (and bidi controls) dropped.
fn text(s: &str) -> String {
    let s = super::markdown::strip_bidi_controls(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded (§3.1): at most 75 octets a line, a continuation starts
/// with a space, never inside a UTF-8 character; lines end in CRLF.
fn push(out: &mut String, line: &str) {
    let mut room = 75;
    let mut used = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if used + len > room {
            out.push_str("\r\n ");
            used = 0;
            room = 74;
        }
        out.push(c);
        used += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{Due, MeetingLink};
    use crate::domain::{TaskNumber, TaskTitle};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn task(n: u32, title: &str) -> Task {
        Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(title).unwrap(),
            done: false,
            created_at: ts("2026-12-01T08:00:00Z"),
            meeting: None,
            due: None,
            remind_at: None,
        }
    }

    fn unfolded(feed: &str) -> Vec<String> {
        feed.replace("\r\n ", "")
            .split("\r\n")
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn timed_and_all_day_tasks_and_meetings_become_events() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let mut timed = task(1, "Send the deck");
        timed.due = Some(Due {
            at: ts("2026-12-04T14:00:00Z"),
            has_time: true,
        });
        // A date alone is stored at 09:00 in the person's zone; 23:30 UTC is the next
        // day in Paris.
        let mut all_day = task(2, "Pay rent");
        all_day.due = Some(Due {
            at: ts("2026-12-04T23:30:00Z"),
            has_time: false,
        });
        let mut meeting = task(3, "Standup");
        meeting.meeting = Some(MeetingLink {
            meeting_id: "870f51ff287b41be84648412901e0402".into(),
            web_link: "https://example.webex.com/meet/j.php?MTID=m1".into(),
            start: Some(ts("2026-12-07T08:00:00Z")),
            end: Some(ts("2026-12-07T08:15:00Z")),
            title: None,
            cancelled: false,
        });
        let undated = task(4, "Someday");
        let mut done = task(5, "Old");
        done.done = true;
        done.due = timed.due;
        let lines = unfolded(&feed(
            "p1",
            &[timed, all_day, meeting, undated, done],
            &paris,
        ));
        let has = |l: &str| lines.iter().any(|x| x == l);
        assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
        assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 3);
        assert!(has("DTSTART:20261204T140000Z") && has("DTEND:20261204T141500Z"));
        assert!(has("DTSTART;VALUE=DATE:20261205") && has("DTEND;VALUE=DATE:20261206"));
        assert!(has("DTSTART:20261207T080000Z") && has("DTEND:20261207T081500Z"));
        assert!(has("UID:meeting-870f51ff287b41be84648412901e0402@botper"));
        assert!(has("URL:https://example.webex.com/meet/j.php?MTID=m1"));
        assert!(has("DTSTAMP:20261201T080000Z"));
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("Someday") || l.contains("Old"))
        );
    }

    #[test]
    fn uids_are_stable_and_differ_between_people() {
        let mut t = task(3, "Call Bob");
        t.due = Some(Due {
            at: ts("2026-12-04T14:00:00Z"),
            has_time: true,
        });
        let uid = |owner: &str| {
            unfolded(&feed(owner, std::slice::from_ref(&t), &TimeZone::UTC))
                .into_iter()
                .find(|l| l.starts_with("UID:"))
                .unwrap()
        };
        assert_eq!(uid("alice"), uid("alice"));
        assert_ne!(uid("alice"), uid("bob"));
        assert!(uid("alice").starts_with("UID:task-3."));
    }

    #[test]
    fn text_is_escaped_and_long_lines_are_folded_on_character_boundaries() {
        assert_eq!(text("a;b,c\\d\ne\u{7}"), "a\\;b\\,c\\\\d\\ne");
        let title = "Préparer la réunion, étape; suivante ".repeat(4);
        let mut t = task(1, title.trim());
        t.due = Some(Due {
            at: ts("2026-12-04T14:00:00Z"),
            has_time: true,
        });
        let f = feed("p", &[t], &TimeZone::UTC);
        assert!(f.ends_with("END:VCALENDAR\r\n"));
        for physical in f.split("\r\n") {
            assert!(
                physical.len() <= 75,
                "{physical:?} is {} octets",
                physical.len()
            );
        }
        assert!(!f.replace("\r\n", "").contains('\n'));
        let summary = unfolded(&f)
            .into_iter()
            .find(|l| l.starts_with("SUMMARY:"))
            .unwrap();
        assert_eq!(summary, format!("SUMMARY:{}", text(title.trim())));
    }

    #[test]
    fn the_same_tasks_give_the_same_bytes() {
        let mut t = task(1, "Send the deck");
        t.due = Some(Due {
            at: ts("2026-12-04T14:00:00Z"),
            has_time: true,
        });
        let a = feed("p", std::slice::from_ref(&t), &TimeZone::UTC);
        assert_eq!(a, feed("p", &[t], &TimeZone::UTC));
    }

    #[test]
    fn cancelled_and_undated_meetings_are_left_out() {
        let mut m = task(1, "Retro");
        m.meeting = Some(MeetingLink {
            meeting_id: "m1".into(),
            web_link: "https://example.webex.com/j".into(),
            start: None,
            end: None,
            title: None,
            cancelled: false,
        });
        let mut c = m.clone();
        if let Some(l) = c.meeting.as_mut() {
            l.start = Some(ts("2026-12-07T08:00:00Z"));
            l.cancelled = true;
        }
        assert!(!feed("p", &[m, c], &TimeZone::UTC).contains("BEGIN:VEVENT"));
    }
}
