//! The daily agenda: when it is sent (`agenda at 8:30`, `agenda at 8:30 every day`) and
//! what it holds (today's meetings, tasks due today, overdue tasks).

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::task::Task;

/// Which days the agenda comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgendaDays {
    /// Monday to Friday.
    Weekdays,
    EveryDay,
}

/// A daily agenda at a local time in the person's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaSchedule {
    pub at: Time,
    pub days: AgendaDays,
    /// An IANA zone name; the wall-clock time is kept across DST changes.
    pub zone: String,
}

impl AgendaSchedule {
    fn tz(&self) -> TimeZone {
        TimeZone::get(&self.zone).unwrap_or(TimeZone::UTC)
    }

    fn runs_on(&self, day: Weekday) -> bool {
        match self.days {
            AgendaDays::EveryDay => true,
            AgendaDays::Weekdays => !matches!(day, Weekday::Saturday | Weekday::Sunday),
        }
    }

    /// The first time the agenda comes strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let tz = self.tz();
        let today = after.to_zoned(tz.clone()).date();
        (0..9).find_map(|d| {
            let date = today.checked_add(d.days()).ok()?;
            if !self.runs_on(date.weekday()) {
                return None;
            }
            // A time that does not exist that day (a DST gap) moves forward with the clock.
            let at = date.to_datetime(self.at).to_zoned(tz.clone()).ok()?;
            (at.timestamp() > after).then(|| at.timestamp())
        })
    }

    /// The stored form: `08:30 weekdays Europe/Paris`.
    pub fn to_rule(&self) -> String {
        let days = match self.days {
            AgendaDays::Weekdays => "weekdays",
            AgendaDays::EveryDay => "daily",
        };
        format!(
            "{:02}:{:02} {days} {}",
            self.at.hour(),
            self.at.minute(),
            self.zone
        )
    }

    pub fn from_rule(rule: &str) -> Option<Self> {
        let mut parts = rule.split(' ');
        let (hm, days, zone) = (parts.next()?, parts.next()?, parts.next()?);
        let (h, m) = hm.split_once(':')?;
        let at = Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()?;
        let days = match days {
            "weekdays" => AgendaDays::Weekdays,
            "daily" => AgendaDays::EveryDay,
            _ => return None,
        };
        Some(Self {
            at,
            days,
            zone: zone.to_owned(),
        })
    }

    /// "every working day (Mon–Fri) at 08:30 Europe/Paris".
    pub fn describe(&self) -> String {
        let days = match self.days {
            AgendaDays::Weekdays => "every working day (Mon–Fri)",
            AgendaDays::EveryDay => "every day",
        };
        format!(
            "{days} at {:02}:{:02} {}",
            self.at.hour(),
            self.at.minute(),
            self.zone
        )
    }
}

/// What `agenda` shows, picked from the person's open tasks at `now` in `tz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agenda<'a> {
    /// Meetings (tasks filed for a meeting) that start today, by start time.
    pub meetings: Vec<&'a Task>,
    /// Tasks due later today (or today without a time), soonest first.
    pub due_today: Vec<&'a Task>,
    /// Tasks whose due moment has passed, oldest first.
    pub overdue: Vec<&'a Task>,
}

pub fn agenda<'a>(open: &'a [Task], now: Timestamp, tz: &TimeZone) -> Agenda<'a> {
    let today = now.to_zoned(tz.clone()).date();
    let on_today = |t: Timestamp| t.to_zoned(tz.clone()).date() == today;
    let mut meetings: Vec<&Task> = open
        .iter()
        .filter(|t| {
            t.meeting
                .as_ref()
                .and_then(|m| m.start)
                .is_some_and(on_today)
        })
        .collect();
    meetings.sort_by_key(|t| t.meeting.as_ref().and_then(|m| m.start));
    let overdue_at = |t: &Task| t.due.filter(|d| is_overdue(d, now)).map(|d| d.at);
    let mut overdue: Vec<&Task> = open.iter().filter(|t| overdue_at(t).is_some()).collect();
    overdue.sort_by_key(|t| overdue_at(t));
    let mut due_today: Vec<&Task> = open
        .iter()
        .filter(|t| {
            t.due
                .is_some_and(|d| on_today(d.at) && !is_overdue(&d, now))
        })
        .collect();
    due_today.sort_by_key(|t| t.due.map(|d| d.at));
    Agenda {
        meetings,
        due_today,
        overdue,
    }
}

/// A due moment is overdue once it has passed (as in `list overdue`).
fn is_overdue(due: &super::task::Due, now: Timestamp) -> bool {
    due.at < now
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{Due, MeetingLink, TaskNumber, TaskTitle};

    fn sched(h: i8, m: i8, days: AgendaDays, zone: &str) -> AgendaSchedule {
        AgendaSchedule {
            at: Time::new(h, m, 0, 0).unwrap(),
            days,
            zone: zone.into(),
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn weekdays_skip_the_weekend_and_every_day_does_not() {
        // Friday 4 Dec 2026, 10:00 Paris: 8:30 has passed today.
        let fri = ts("2026-12-04T09:00:00Z");
        let w = sched(8, 30, AgendaDays::Weekdays, "Europe/Paris");
        assert_eq!(w.next_after(fri), Some(ts("2026-12-07T07:30:00Z")));
        let d = sched(8, 30, AgendaDays::EveryDay, "Europe/Paris");
        assert_eq!(d.next_after(fri), Some(ts("2026-12-05T07:30:00Z")));
        // Before 8:30 on a weekday: today.
        assert_eq!(
            w.next_after(ts("2026-12-04T07:00:00Z")),
            Some(ts("2026-12-04T07:30:00Z"))
        );
        // Exactly at the time: the next one (strictly after).
        assert_eq!(
            d.next_after(ts("2026-12-04T07:30:00Z")),
            Some(ts("2026-12-05T07:30:00Z"))
        );
    }

    #[test]
    fn the_local_time_is_kept_across_dst() {
        // Paris leaves summer time on Sunday 25 Oct 2026: 8:30 is 06:30Z before, 07:30Z after.
        let d = sched(8, 30, AgendaDays::EveryDay, "Europe/Paris");
        assert_eq!(
            d.next_after(ts("2026-10-24T07:00:00Z")),
            Some(ts("2026-10-25T07:30:00Z"))
        );
        assert_eq!(
            d.next_after(ts("2026-10-23T07:00:00Z")),
            Some(ts("2026-10-24T06:30:00Z"))
        );
        // 2:30 does not exist on 29 Mar 2026 in Paris: it moves forward to 3:30 summer time.
        let gap = sched(2, 30, AgendaDays::EveryDay, "Europe/Paris");
        assert_eq!(
            gap.next_after(ts("2026-03-28T12:00:00Z")),
            Some(ts("2026-03-29T01:30:00Z"))
        );
    }

    #[test]
    fn rules_round_trip_and_bad_ones_are_refused() {
        let s = sched(8, 5, AgendaDays::Weekdays, "America/New_York");
        assert_eq!(s.to_rule(), "08:05 weekdays America/New_York");
        assert_eq!(AgendaSchedule::from_rule(&s.to_rule()), Some(s.clone()));
        let d = sched(23, 59, AgendaDays::EveryDay, "UTC");
        assert_eq!(AgendaSchedule::from_rule(&d.to_rule()), Some(d));
        assert_eq!(AgendaSchedule::from_rule("25:00 daily UTC"), None);
        assert_eq!(AgendaSchedule::from_rule("08:00 sometimes UTC"), None);
        assert_eq!(AgendaSchedule::from_rule(""), None);
        assert_eq!(
            s.describe(),
            "every working day (Mon–Fri) at 08:05 America/New_York"
        );
    }

    fn task(n: u32, due: Option<(&str, bool)>, meeting_start: Option<&str>) -> Task {
        Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(&format!("t{n}")).unwrap(),
            done: false,
            created_at: Timestamp::UNIX_EPOCH,
            meeting: meeting_start.map(|s| MeetingLink {
                meeting_id: format!("m{n}"),
                web_link: "https://example.webex.com/j".into(),
                start: Some(ts(s)),
                end: None,
                title: None,
                cancelled: false,
            }),
            due: due.map(|(at, has_time)| Due {
                at: ts(at),
                has_time,
            }),
            remind_at: None,
        }
    }

    #[test]
    fn the_agenda_sorts_meetings_due_today_and_overdue() {
        let now = ts("2026-12-02T08:00:00Z");
        let open = vec![
            task(1, Some(("2026-12-02T15:00:00Z", true)), None),
            task(2, Some(("2026-12-01T15:00:00Z", true)), None),
            task(3, None, Some("2026-12-02T13:00:00Z")),
            task(4, None, Some("2026-12-03T13:00:00Z")),
            task(5, Some(("2026-12-02T09:00:00Z", false)), None),
            task(6, Some(("2026-11-30T09:00:00Z", false)), None),
            task(7, Some(("2026-12-02T07:00:00Z", true)), None),
            task(8, None, None),
        ];
        let a = agenda(&open, now, &TimeZone::UTC);
        let nums = |v: &[&Task]| v.iter().map(|t| t.number.get()).collect::<Vec<_>>();
        assert_eq!(nums(&a.meetings), vec![3]);
        assert_eq!(nums(&a.due_today), vec![5, 1]);
        assert_eq!(nums(&a.overdue), vec![6, 2, 7]);
    }
}
