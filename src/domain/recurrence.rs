//! Recurring meetings: what a person types after `every` (`every weekday`, `every monday`,
//! `every 2 weeks on tue`, `every month on the 1st`), with `until <date>` or `<n> times`,
//! as the RRULE Webex's `POST /meetings` takes in `recurrence` (no `RRULE:` prefix).
//!
//! Webex keeps only the first day of a monthly or yearly rule with several, so such rules
//! are refused here rather than silently changed there.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{ToSpan, Zoned};

/// How often a series repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    /// On these days (Monday first, no repeats); empty means the first meeting's day.
    Weekly(Vec<Weekday>),
    /// On this day of the month (1–28); `None` means the first meeting's day.
    Monthly(Option<i8>),
}

/// When a series stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrenceEnd {
    /// After this date (the last meeting is on or before it, in the person's zone).
    Until(Date),
    /// After this many meetings.
    Count(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub frequency: Frequency,
    /// Every `interval` days, weeks or months (1–99).
    pub interval: u16,
    pub end: Option<RecurrenceEnd>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error(
        "I can't read `every {0}`: try `every day`, `every weekday`, `every monday`, `every mon and thu`, `every 2 weeks on tue` or `every month on the 1st`"
    )]
    Unreadable(String),
    #[error(
        "Webex keeps only the first day of a monthly series, so make one series per day of the month"
    )]
    SeveralMonthDays,
    #[error(
        "not every month has a {0}th: pick a day from the 1st to the 28th (or the 1st of the next month)"
    )]
    NotEveryMonth(i8),
    #[error("repeat every 1 to 99 days, weeks or months")]
    BadInterval,
    #[error("a series has 1 to 999 meetings")]
    BadCount,
    #[error("`until` and `times` go with `every …` (a repeating meeting)")]
    EndWithoutRepeat,
    #[error("the series would end before its first meeting")]
    EndsBeforeStart,
}

pub const MAX_INTERVAL: u16 = 99;
pub const MAX_COUNT: u16 = 999;

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
];

/// Whether the word after `every` reads as the start of a repetition, so that a phrase
/// that then fails is an error and not part of the title (`Review every detail` stays a
/// title).
pub fn looks_like_repeat(word: &str) -> bool {
    let w = word.to_lowercase();
    w.parse::<u16>().is_ok()
        || matches!(
            w.as_str(),
            "day"
                | "days"
                | "weekday"
                | "weekdays"
                | "workday"
                | "workdays"
                | "week"
                | "weeks"
                | "month"
                | "months"
                | "other"
        )
        || weekday_list(&w).is_some()
}

impl Recurrence {
    /// Reads the words after `every` (`weekday`, `2 weeks on tue`, `month on the 1st`).
    pub fn parse_phrase(words: &[&str]) -> Result<Self, RecurrenceError> {
        let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        let unreadable = || RecurrenceError::Unreadable(words.join(" "));
        let mut rest: &[String] = &lower;
        let mut interval = 1u16;
        if let Some(first) = rest.first() {
            if first == "other" {
                interval = 2;
                rest = &rest[1..];
            } else if let Ok(n) = first.parse::<u16>() {
                if n == 0 || n > MAX_INTERVAL {
                    return Err(RecurrenceError::BadInterval);
                }
                interval = n;
                rest = &rest[1..];
            }
        }
        let (unit, tail) = rest.split_first().ok_or_else(unreadable)?;
        let frequency = match unit.as_str() {
            "day" | "days" if tail.is_empty() => Frequency::Daily,
            "weekday" | "weekdays" | "workday" | "workdays" if tail.is_empty() && interval == 1 => {
                Frequency::Weekly(WEEKDAYS.to_vec())
            }
            "week" | "weeks" => match tail {
                [] => Frequency::Weekly(Vec::new()),
                [on, days @ ..] if on == "on" && !days.is_empty() => {
                    Frequency::Weekly(weekday_list(&days.join(" ")).ok_or_else(unreadable)?)
                }
                _ => return Err(unreadable()),
            },
            "month" | "months" => match tail {
                [] => Frequency::Monthly(None),
                [on, day @ ..] if on == "on" && !day.is_empty() => {
                    Frequency::Monthly(Some(month_day(day).ok_or_else(unreadable)??))
                }
                _ => return Err(unreadable()),
            },
            _ if interval == 1 => {
                Frequency::Weekly(weekday_list(&rest.join(" ")).ok_or_else(unreadable)?)
            }
            _ => return Err(unreadable()),
        };
        Ok(Self {
            frequency,
            interval,
            end: None,
        })
    }

    /// Whether a meeting on `date` is one of the series' meetings (given its first date).
    fn falls_on(&self, date: Date) -> bool {
        match &self.frequency {
            Frequency::Daily => true,
            Frequency::Weekly(days) => days.is_empty() || days.contains(&date.weekday()),
            Frequency::Monthly(day) => day.is_none_or(|d| date.day() == d),
        }
    }

    /// The first date on or after `from` that the series meets on (within a year).
    pub fn first_on_or_after(&self, from: Date) -> Option<Date> {
        let mut d = from;
        for _ in 0..366 {
            if self.falls_on(d) {
                return Some(d);
            }
            d = d.tomorrow().ok()?;
        }
        None
    }

    /// The RRULE for a series whose first meeting is `start` (its day fills a rule that
    /// names none; `until` is the end of that date in `start`'s zone, in UTC).
    pub fn rrule(&self, start: &Zoned) -> String {
        let mut r = match &self.frequency {
            Frequency::Daily => format!("FREQ=DAILY;INTERVAL={}", self.interval),
            Frequency::Weekly(days) => {
                let days = if days.is_empty() {
                    vec![start.weekday()]
                } else {
                    days.clone()
                };
                let by: Vec<&str> = days.iter().map(|d| byday(*d)).collect();
                format!(
                    "FREQ=WEEKLY;INTERVAL={};BYDAY={}",
                    self.interval,
                    by.join(",")
                )
            }
            Frequency::Monthly(day) => format!(
                "FREQ=MONTHLY;INTERVAL={};BYMONTHDAY={}",
                self.interval,
                day.unwrap_or(start.day())
            ),
        };
        match self.end {
            Some(RecurrenceEnd::Count(n)) => r.push_str(&format!(";COUNT={n}")),
            Some(RecurrenceEnd::Until(date)) => {
                let end = date
                    .to_datetime(jiff::civil::Time::constant(23, 59, 59, 0))
                    .to_zoned(start.time_zone().clone())
                    .map_or_else(|_| date.to_zoned(TimeZone::UTC), Ok);
                if let Ok(z) = end {
                    let utc = z.timestamp().to_zoned(TimeZone::UTC);
                    r.push_str(&format!(";UNTIL={}", utc.strftime("%Y%m%dT%H%M%SZ")));
                }
            }
            None => {}
        }
        r
    }

    /// The rule in words: `every weekday`, `every 2 weeks on Tuesday`, `every month on the
    /// 1st, 10 times`.
    pub fn describe(&self, start: &Zoned) -> String {
        let n = self.interval;
        let mut s = match &self.frequency {
            Frequency::Daily if n == 1 => "every day".to_owned(),
            Frequency::Daily => format!("every {n} days"),
            Frequency::Weekly(days) if *days == WEEKDAYS => "every weekday".to_owned(),
            Frequency::Weekly(days) => {
                let days = if days.is_empty() {
                    vec![start.weekday()]
                } else {
                    days.clone()
                };
                let names = join_and(&days.iter().map(|d| day_name(*d)).collect::<Vec<_>>());
                if n == 1 {
                    format!("every {names}")
                } else {
                    format!("every {n} weeks on {names}")
                }
            }
            Frequency::Monthly(day) => {
                let d = day.unwrap_or(start.day());
                if n == 1 {
                    format!("every month on the {}", ordinal(d))
                } else {
                    format!("every {n} months on the {}", ordinal(d))
                }
            }
        };
        match self.end {
            Some(RecurrenceEnd::Count(c)) => s.push_str(&format!(", {c} times")),
            Some(RecurrenceEnd::Until(d)) => {
                s.push_str(&format!(", until {}", d.strftime("%a %-d %b %Y")));
            }
            None => {}
        }
        s
    }

    /// Moves `start` to the series' first meeting (same time of day) and checks the end.
    pub fn first_meeting(&self, start: &Zoned) -> Result<Zoned, RecurrenceError> {
        let date = self
            .first_on_or_after(start.date())
            .ok_or(RecurrenceError::EndsBeforeStart)?;
        let days = (date - start.date()).get_days();
        let first = start
            .checked_add(days.days())
            .map_err(|_| RecurrenceError::EndsBeforeStart)?;
        if let Some(RecurrenceEnd::Until(until)) = self.end
            && until < first.date()
        {
            return Err(RecurrenceError::EndsBeforeStart);
        }
        Ok(first)
    }
}

/// `mon`, `monday`, `mondays`, `mon and thu`, `mon,thu`, `mon, wed and fri`.
fn weekday_list(s: &str) -> Option<Vec<Weekday>> {
    let mut days = Vec::new();
    for part in s
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "and" && *p != "&")
    {
        let d = weekday(part)?;
        if !days.contains(&d) {
            days.push(d);
        }
    }
    if days.is_empty() {
        return None;
    }
    days.sort_by_key(|d| d.to_monday_zero_offset());
    Some(days)
}

fn weekday(s: &str) -> Option<Weekday> {
    let s = s.strip_suffix('s').filter(|b| b.len() >= 5).unwrap_or(s);
    Some(match s {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tues" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// `the 1st`, `1st`, `the 15th`, `15`: `None` if unreadable, an error for several days or
/// a day not in every month.
fn month_day(words: &[String]) -> Option<Result<i8, RecurrenceError>> {
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| *w != "the")
        .collect();
    let joined = words.join(" ");
    let parts: Vec<&str> = joined
        .split([',', ' '])
        .filter(|p| !p.is_empty() && *p != "and" && *p != "&" && *p != "the")
        .collect();
    let days: Vec<i8> = parts
        .iter()
        .map(|p| {
            let digits = p.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let suffix = &p[digits.len()..];
            if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
                return None;
            }
            digits.parse::<i8>().ok().filter(|d| (1..=31).contains(d))
        })
        .collect::<Option<_>>()?;
    match days.as_slice() {
        [] => None,
        [d] if *d > 28 => Some(Err(RecurrenceError::NotEveryMonth(*d))),
        [d] => Some(Ok(*d)),
        _ => Some(Err(RecurrenceError::SeveralMonthDays)),
    }
}

fn byday(d: Weekday) -> &'static str {
    match d {
        Weekday::Monday => "MO",
        Weekday::Tuesday => "TU",
        Weekday::Wednesday => "WE",
        Weekday::Thursday => "TH",
        Weekday::Friday => "FR",
        Weekday::Saturday => "SA",
        Weekday::Sunday => "SU",
    }
}

fn day_name(d: Weekday) -> String {
    format!("{d:?}")
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn ordinal(d: i8) -> String {
    let suffix = match (d % 10, d % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{d}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Zoned {
        // A Thursday.
        "2026-12-03T09:00[Europe/Paris]".parse().unwrap()
    }

    fn phrase(s: &str) -> Result<Recurrence, RecurrenceError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        Recurrence::parse_phrase(&words)
    }

    #[test]
    fn phrases_become_the_rrule_webex_takes() {
        let table = [
            ("day", "FREQ=DAILY;INTERVAL=1", "every day"),
            ("3 days", "FREQ=DAILY;INTERVAL=3", "every 3 days"),
            (
                "weekday",
                "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR",
                "every weekday",
            ),
            ("monday", "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO", "every Monday"),
            ("Mondays", "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO", "every Monday"),
            (
                "thu and mon",
                "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH",
                "every Monday and Thursday",
            ),
            (
                "mon, wed and fri",
                "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE,FR",
                "every Monday, Wednesday and Friday",
            ),
            ("week", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TH", "every Thursday"),
            (
                "2 weeks on tue",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
                "every 2 weeks on Tuesday",
            ),
            (
                "other week on fri",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
                "every 2 weeks on Friday",
            ),
            (
                "month on the 1st",
                "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=1",
                "every month on the 1st",
            ),
            (
                "3 months on the 22nd",
                "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=22",
                "every 3 months on the 22nd",
            ),
            (
                "month",
                "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=3",
                "every month on the 3rd",
            ),
        ];
        for (typed, rule, words) in table {
            let r = phrase(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(r.rrule(&start()), rule, "{typed}");
            assert_eq!(r.describe(&start()), words, "{typed}");
        }
    }

    #[test]
    fn an_end_is_a_count_or_the_end_of_a_day_in_the_persons_zone() {
        let mut r = phrase("weekday").unwrap();
        r.end = Some(RecurrenceEnd::Count(10));
        assert_eq!(
            r.rrule(&start()),
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR;COUNT=10"
        );
        assert_eq!(r.describe(&start()), "every weekday, 10 times");
        r.end = Some(RecurrenceEnd::Until(jiff::civil::date(2027, 3, 1)));
        // 23:59:59 in Paris (UTC+1 in March) is 22:59:59 UTC.
        assert_eq!(
            r.rrule(&start()),
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR;UNTIL=20270301T225959Z"
        );
        assert_eq!(r.describe(&start()), "every weekday, until Mon 1 Mar 2027");
    }

    #[test]
    fn what_webex_would_change_or_cannot_do_is_refused() {
        assert_eq!(
            phrase("month on the 1st and 15th"),
            Err(RecurrenceError::SeveralMonthDays)
        );
        assert_eq!(
            phrase("month on the 31st"),
            Err(RecurrenceError::NotEveryMonth(31))
        );
        assert_eq!(phrase("0 days"), Err(RecurrenceError::BadInterval));
        assert_eq!(phrase("100 weeks"), Err(RecurrenceError::BadInterval));
        for bad in [
            "fortnight",
            "2 weekdays",
            "week on someday",
            "month on the",
            "",
        ] {
            assert!(
                matches!(phrase(bad), Err(RecurrenceError::Unreadable(_))),
                "{bad}: {:?}",
                phrase(bad)
            );
        }
    }

    #[test]
    fn the_first_meeting_is_the_first_day_of_the_rule_at_the_asked_time() {
        let r = phrase("monday").unwrap();
        let first = r.first_meeting(&start()).unwrap();
        assert_eq!(first.to_string(), "2026-12-07T09:00:00+01:00[Europe/Paris]");
        let r = phrase("weekday").unwrap();
        assert_eq!(r.first_meeting(&start()).unwrap(), start());
        let mut r = phrase("month on the 1st").unwrap();
        assert_eq!(
            r.first_meeting(&start()).unwrap().date(),
            jiff::civil::date(2027, 1, 1)
        );
        r.end = Some(RecurrenceEnd::Until(jiff::civil::date(2026, 12, 31)));
        assert_eq!(
            r.first_meeting(&start()),
            Err(RecurrenceError::EndsBeforeStart)
        );
    }

    #[test]
    fn only_repetition_words_make_every_a_rule() {
        assert!(looks_like_repeat("weekday"));
        assert!(looks_like_repeat("2"));
        assert!(looks_like_repeat("Tue"));
        assert!(!looks_like_repeat("detail"));
        assert!(!looks_like_repeat("one"));
    }
}
