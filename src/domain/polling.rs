//! Following a person's meetings without webhooks: Webex never sends meetings over the
//! websocket, so Botper lists them (`GET /meetings`) and compares the list with what it
//! saw last time. Pure: the app layer lists, stores and enqueues.

use std::time::Duration;

use jiff::Timestamp;

/// A meeting as one poll lists it: a single meeting, or a series (its occurrences folded
/// into one entry under the series' id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    /// What, if it changes, is worth telling: see [`fingerprint`].
    pub fingerprint: String,
    /// Its (first listed occurrence's) start.
    pub start: Timestamp,
}

/// A meeting as the last poll left it (stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    pub fingerprint: String,
    pub start: Timestamp,
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Listed now, not seen before: a meeting scheduled since the last poll.
    New(String),
    /// Listed before and now, but different (moved, renamed, new link).
    Changed(String),
    /// Seen starting inside the window, no longer listed: cancelled, or moved out of
    /// the window (the caller asks Webex which).
    Vanished(String),
}

/// The changes, and the snapshot to store in place of the old one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diff {
    pub changes: Vec<Change>,
    pub snapshot: Vec<Seen>,
}

/// The fingerprint of a meeting: a hash of its title, link and time. A series is
/// fingerprinted by its time of day and length rather than its next occurrence, so an
/// occurrence passing is not a change.
pub fn fingerprint(
    title: &str,
    web_link: &str,
    start: Timestamp,
    end: Timestamp,
    series: bool,
) -> String {
    use sha2::Digest;
    let when = if series {
        let secs = start.as_second().rem_euclid(86_400);
        format!("daily@{secs}+{}", end.as_second() - start.as_second())
    } else {
        format!("{}/{}", start.as_second(), end.as_second())
    };
    let digest = sha2::Sha256::digest(format!("{title}\u{1f}{web_link}\u{1f}{when}").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares this poll's list (meetings starting in [`from`, …)) with the last snapshot.
/// A meeting seen before that started before `from` has ended: it is dropped unsaid.
pub fn diff(seen: &[Seen], listed: &[Listed], from: Timestamp) -> Diff {
    let mut out = Diff::default();
    for l in listed {
        match seen.iter().find(|s| s.id == l.id) {
            None => out.changes.push(Change::New(l.id.clone())),
            Some(s) if s.fingerprint != l.fingerprint => {
                out.changes.push(Change::Changed(l.id.clone()))
            }
            Some(_) => {}
        }
        out.snapshot.push(Seen {
            id: l.id.clone(),
            fingerprint: l.fingerprint.clone(),
            start: l.start,
        });
    }
    for s in seen {
        if listed.iter().any(|l| l.id == s.id) {
            continue;
        }
        if s.start >= from {
            out.changes.push(Change::Vanished(s.id.clone()));
        }
    }
    out
}

/// How long until a person's next poll: the base interval, doubled for each poll in a row
/// that listed no meeting, up to 8×; a person with meetings is polled at the base rate.
pub fn next_poll_in(base: Duration, idle_polls: u32) -> Duration {
    base.saturating_mul(1 << idle_polls.min(3))
}

/// The wait before reconnecting a websocket after `failures` failed attempts in a row:
/// 1 s, 2 s, 4 s … up to 32 s, with "equal jitter" (`jitter` in [0, 1) picks a point in
/// the upper half) so that many clients do not come back in step.
pub fn reconnect_delay(failures: u32, jitter: f64) -> Duration {
    let full = Duration::from_secs(1 << failures.min(5));
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn listed(id: &str, fp: &str, start: &str) -> Listed {
        Listed {
            id: id.into(),
            fingerprint: fp.into(),
            start: at(start),
        }
    }

    fn seen(id: &str, fp: &str, start: &str) -> Seen {
        Seen {
            id: id.into(),
            fingerprint: fp.into(),
            start: at(start),
        }
    }

    const FROM: &str = "2026-12-07T12:00:00Z";

    #[test]
    fn new_changed_and_vanished_meetings_are_told_apart() {
        let before = [
            seen("a", "1", "2026-12-08T09:00:00Z"),
            seen("b", "1", "2026-12-08T10:00:00Z"),
            seen("c", "1", "2026-12-09T10:00:00Z"),
            seen("ended", "1", "2026-12-07T08:00:00Z"),
        ];
        let now = [
            listed("a", "1", "2026-12-08T09:00:00Z"),
            listed("b", "2", "2026-12-08T11:00:00Z"),
            listed("d", "1", "2026-12-10T10:00:00Z"),
        ];
        let d = diff(&before, &now, at(FROM));
        assert_eq!(
            d.changes,
            vec![
                Change::Changed("b".into()),
                Change::New("d".into()),
                Change::Vanished("c".into()),
            ]
        );
        let ids: Vec<&str> = d.snapshot.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d"], "an ended meeting is forgotten unsaid");
        assert_eq!(d.snapshot[1].start, at("2026-12-08T11:00:00Z"));
    }

    #[test]
    fn the_same_list_twice_is_no_change() {
        let now = [listed("a", "1", "2026-12-08T09:00:00Z")];
        let first = diff(&[], &now, at(FROM));
        assert_eq!(first.changes, vec![Change::New("a".into())]);
        let second = diff(&first.snapshot, &now, at(FROM));
        assert!(second.changes.is_empty());
        assert_eq!(second.snapshot, first.snapshot);
    }

    #[test]
    fn a_series_keeps_its_fingerprint_as_occurrences_pass() {
        let day = jiff::SignedDuration::from_hours(24);
        let monday = at("2026-12-07T09:00:00Z");
        let end = monday + jiff::SignedDuration::from_mins(30);
        let a = fingerprint("Standup", "https://x/j", monday, end, true);
        let b = fingerprint("Standup", "https://x/j", monday + day, end + day, true);
        assert_eq!(a, b);
        let moved = fingerprint(
            "Standup",
            "https://x/j",
            monday + jiff::SignedDuration::from_hours(1),
            end + jiff::SignedDuration::from_hours(1),
            true,
        );
        assert_ne!(a, moved);
        assert_ne!(
            fingerprint("Standup", "https://x/j", monday, end, false),
            fingerprint("Standup", "https://x/j", monday + day, end + day, false),
            "a single meeting moved a day is a change"
        );
        assert_ne!(a, fingerprint("Stand-up", "https://x/j", monday, end, true));
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn idle_people_are_polled_less_often_up_to_eight_times_the_base() {
        let base = Duration::from_secs(60);
        assert_eq!(next_poll_in(base, 0), base);
        assert_eq!(next_poll_in(base, 1), base * 2);
        assert_eq!(next_poll_in(base, 3), base * 8);
        assert_eq!(next_poll_in(base, 30), base * 8);
    }

    #[test]
    fn reconnects_back_off_from_one_to_thirty_two_seconds_with_jitter() {
        assert_eq!(reconnect_delay(0, 1.0), Duration::from_secs(1));
        assert_eq!(reconnect_delay(0, 0.0), Duration::from_millis(500));
        assert_eq!(reconnect_delay(3, 1.0), Duration::from_secs(8));
        assert_eq!(reconnect_delay(5, 0.5), Duration::from_secs(24));
        assert_eq!(reconnect_delay(40, 1.0), Duration::from_secs(32));
        assert!(reconnect_delay(40, 0.0) >= Duration::from_secs(16));
    }
}
