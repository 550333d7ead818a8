//! A person's tasks as CSV (RFC 4180), for `export`. Pure.

use super::task::Task;

/// The header and one row per task, CRLF line ends. Times are UTC (RFC 3339); a date-only
/// due date is written as its date.
pub fn tasks_csv(tasks: &[Task]) -> String {
    let mut out = String::from(
        "number,title,status,created,due,remind_at,meeting_link,meeting_start,meeting_end\r\n",
    );
    for t in tasks {
        let due = t.due.map(due_text);
        let meeting = t.meeting.as_ref();
        let row = [
            t.number.get().to_string(),
            t.title.as_str().to_owned(),
            status(t).to_owned(),
            t.created_at.to_string(),
            due.unwrap_or_default(),
            t.remind_at.map(|r| r.to_string()).unwrap_or_default(),
            meeting.map(|m| m.web_link.clone()).unwrap_or_default(),
            meeting
                .and_then(|m| m.start)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            meeting
                .and_then(|m| m.end)
                .map(|s| s.to_string())
                .unwrap_or_default(),
        ];
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A task's state in an export: `open`, `done`, or `cancelled` (its meeting was).
pub fn status(t: &Task) -> &'static str {
    if t.meeting.as_ref().is_some_and(|m| m.cancelled) {
        "cancelled"
    } else if t.done {
        "done"
    } else {
        "open"
    }
}

/// A due date in an export: the UTC time (RFC 3339), or the date alone for a date-only one.
pub fn due_text(d: super::task::Due) -> String {
    if d.has_time {
        d.at.to_string()
    } else {
        d.at.strftime("%Y-%m-%d").to_string()
    }
}

/// One CSV field: quoted when it holds a comma, a quote or a line break; a leading `=`,
/// `+`, `-`, `@` (a spreadsheet formula) is neutralised with a `'`.
fn cell(raw: &str) -> String {
    let v = if raw.starts_with(['=', '+', '-', '@']) && raw.parse::<f64>().is_err() {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{Due, MeetingLink};
    use crate::domain::{TaskNumber, TaskTitle};

    fn task(n: u32, title: &str) -> Task {
        Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(title).unwrap(),
            done: false,
            created_at: "2026-12-01T09:00:00Z".parse().unwrap(),
            meeting: None,
            due: None,
            remind_at: None,
        }
    }

    #[test]
    fn tasks_become_rows_with_quoting_and_no_formulas() {
        let mut a = task(1, "Buy milk, eggs");
        a.due = Some(Due {
            at: "2026-12-05T00:00:00Z".parse().unwrap(),
            has_time: false,
        });
        let mut b = task(2, "Say \"hi\"");
        b.done = true;
        b.meeting = Some(MeetingLink {
            meeting_id: "m1".into(),
            web_link: "https://example.webex.com/meet/x".into(),
            start: Some("2026-12-08T15:00:00Z".parse().unwrap()),
            end: Some("2026-12-08T15:30:00Z".parse().unwrap()),
            title: None,
            cancelled: false,
        });
        let c = task(3, "=HYPERLINK(\"http://evil\")");
        let csv = tasks_csv(&[a, b, c]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "number,title,status,created,due,remind_at,meeting_link,meeting_start,meeting_end"
        );
        assert_eq!(
            lines[1],
            "1,\"Buy milk, eggs\",open,2026-12-01T09:00:00Z,2026-12-05,,,,"
        );
        assert_eq!(
            lines[2],
            "2,\"Say \"\"hi\"\"\",done,2026-12-01T09:00:00Z,,,https://example.webex.com/meet/x,2026-12-08T15:00:00Z,2026-12-08T15:30:00Z"
        );
        assert!(lines[3].starts_with("3,\"'=HYPERLINK("), "{}", lines[3]);
        assert_eq!(lines.len(), 5, "a CRLF after the last row");
    }
}
