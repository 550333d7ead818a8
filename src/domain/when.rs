//! The date language of tasks: `fri 15:00`, `tomorrow 9am`, `5 dec`, `in 2h`, `eom`…
//!
//! Everything is resolved in the person's zone (the zone of `now`) with jiff's zoned
//! arithmetic, so daylight saving time is handled by the time zone database, never by a
//! fixed offset. A local time that does not exist (in a spring-forward gap) or exists twice
//! (in a fall-back fold) is resolved with jiff's *compatible* disambiguation: a gap moves
//! the time forward by the length of the gap, a fold picks the earlier instant.
//!
//! The rules, in short:
//!
//! * A date without a time of day (`fri`, `5 dec`, `today`) is a date only
//!   (`has_time: false`) and resolves to [`DEFAULT_TIME`] (09:00 local) on that date. A
//!   date only is accepted as long as the date is today or later, even when 09:00 today
//!   has already passed.
//! * `tonight` is today at [`TONIGHT`] (20:00) and counts as a time; `tonight 9pm` is
//!   today at 21:00. `noon` is 12:00 and `midnight` is 00:00 (so `tomorrow midnight` is the
//!   very start of tomorrow, and `midnight` alone is the coming midnight).
//! * A weekday (`fri`, `friday`) is the next such day strictly after today: on a Friday,
//!   `fri` is a week from today. `next fri` is the Friday of next week (weeks start on
//!   Monday), so on a Wednesday `fri` is in 2 days and `next fri` in 9. `next week` is the
//!   Monday of next week.
//! * A time alone (`15:00`) is today at that time, or tomorrow if it has passed. A date
//!   with a time that has passed (`today 9am` at 10:00) is an error.
//! * A day and month without a year (`5 jan`) that is before today means next year; the
//!   year is chosen first, then the date is checked (`29 feb` is refused in January 2027
//!   and accepted in January 2028).
//! * Numeric dates (`5/12`) are refused when both readings (day/month and month/day) are
//!   dates and differ, since the person's date format is not known; when only one reading
//!   is a date (`25/12`), that one is taken.
//! * `in 45m`, `in 3h`, `in 2 days`: now plus the amount, rounded up to the next whole
//!   minute. Days and weeks are calendar days (the wall clock is kept across DST), minutes
//!   and hours are elapsed time.
//! * Results are at whole minutes, never in the past and at most [`MAX_YEARS_AHEAD`] years
//!   ahead.

use jiff::civil::{Date, Time, Weekday};
use jiff::{RoundMode, SignedDuration, Span, ToSpan, Unit, Zoned, ZonedRound};

/// The time of day a date-only phrase (`fri`, `5 dec`) resolves to.
pub const DEFAULT_TIME: Time = Time::constant(9, 0, 0, 0);

/// The time of day `tonight` means.
pub const TONIGHT: Time = Time::constant(20, 0, 0, 0);

/// How far ahead a date may be.
pub const MAX_YEARS_AHEAD: i64 = 10;

/// The longest date phrase (after its introducer) that `split_due` looks for at the end of
/// a task text, in words.
const MAX_PHRASE_WORDS: usize = 12;

/// Generous bounds on `in …` amounts and durations: anything above is more than 10 years.
const MAX_DAYS: i64 = 3700;
const MAX_MINUTES: i64 = MAX_DAYS * 24 * 60;

/// Words that introduce a date at the end of a task text (`Send the deck by fri`).
const INTRODUCERS: [&str; 4] = ["by", "due", "on", "at"];

/// Date words that are also ordinary English words: at the end of a task text they are a
/// date only after an introducer (`Enjoy the sun` has no date, `Picnic on sun` has).
const ORDINARY_WORDS: [&str; 5] = ["sun", "sat", "wed", "noon", "midnight"];

/// A moment the person named, resolved in their zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub at: Zoned,
    /// `false`: a date only (`fri`); `at` is then [`DEFAULT_TIME`] on that date.
    pub has_time: bool,
}

impl When {
    /// The due date this names: the instant, and whether a time of day was given.
    pub fn due(&self) -> super::task::Due {
        super::task::Due {
            at: self.at.timestamp(),
            has_time: self.has_time,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("give a date or a time, e.g. `fri 15:00`, `tomorrow 9am`, `5 dec` or `in 2h`")]
    Empty,
    #[error(
        "`{0}` is not a date or time I understand: try `fri 15:00`, `tomorrow 9am`, `5 dec` or `in 2h`"
    )]
    NotUnderstood(String),
    #[error("{0} is not a date")]
    NotADate(String),
    #[error("{0} is not a time of day")]
    NotATime(String),
    #[error("{date} is a {is}, not a {said}")]
    WrongWeekday {
        date: String,
        is: &'static str,
        said: &'static str,
    },
    #[error("`{text}` could be {dm} or {md}: write `{}` or `{}`", .dm.to_lowercase(), .md.to_lowercase())]
    Ambiguous {
        text: String,
        dm: String,
        md: String,
    },
    #[error("`{0}`: a duration must be positive")]
    NotPositive(String),
    #[error("give a duration, e.g. `45m`, `2h`, `1h30m` or `3 days`")]
    NoDuration,
    #[error("`{0}` is not a duration: try `45m`, `2h`, `1h30m` or `3 days`")]
    NotADuration(String),
    #[error("that is in the past")]
    InThePast,
    #[error("that is more than 10 years ahead")]
    TooFar,
}

/// Parses a whole phrase that is only a date/time, e.g. the argument of `due 3 <phrase>`
/// or `remind 3 <phrase>`. `now` is the current time in the person's zone. A leading `by`,
/// `due`, `on` or `at` is allowed (`due 3 by fri`).
pub fn parse_when(phrase: &str, now: &Zoned) -> Result<When, WhenError> {
    let owned = tokens(phrase.split_whitespace());
    let mut toks: Vec<&str> = owned.iter().map(String::as_str).collect();
    if toks.is_empty() {
        return Err(WhenError::Empty);
    }
    let intros = toks.iter().take_while(|t| is_introducer(t)).count();
    if intros < toks.len() {
        toks.drain(..intros);
    }
    match parse_tokens(&toks, now) {
        Parsed::Ok(w) => Ok(w),
        Parsed::Bad(e) => Err(e),
        Parsed::No => Err(WhenError::NotUnderstood(shorten(phrase.trim()))),
    }
}

/// Splits a task text into (title, optional due moment) by finding a date phrase at the
/// END of the text, optionally introduced by `by`, `due`, `on` or `at` ("Send the deck by
/// fri 15:00", "Pay rent due 5 dec", "Call Bob tomorrow 9am").
///
/// Words that only look like a date stay in the title ("Read 1984", "Buy 3 apples", "Watch
/// 24", "Meet Jan"). The longest trailing phrase that is a date wins. A phrase after an
/// introducer that has the shape of a date but is not a valid one ("Pay rent due 31 feb",
/// "x by 25:00", "x by 5/12") is an error; without an introducer it stays in the title.
/// The title is trimmed (also of trailing `,;:-`); if it would be empty, the whole text is
/// the title and there is no date.
pub fn split_due(text: &str, now: &Zoned) -> Result<(String, Option<When>), WhenError> {
    let words = word_offsets(text);
    let n = words.len();
    let intro: Vec<bool> = words.iter().map(|(_, w)| is_introducer(w)).collect();
    // next[i]: the first word at or after i that is not an introducer.
    let mut next = vec![n; n + 1];
    for i in (0..n).rev() {
        next[i] = if intro[i] { next[i + 1] } else { i };
    }
    for i in 1..n {
        // A phrase right after an introducer was already tried, introduced, from the
        // introducer's position (or its title would be empty).
        if intro[i - 1] {
            continue;
        }
        let j = next[i];
        if j >= n || n - j > MAX_PHRASE_WORDS {
            continue;
        }
        let title = clean_title(&text[..words[i].0]);
        if title.is_empty() {
            continue;
        }
        let introduced = j > i;
        let owned = tokens(words[j..].iter().map(|(_, w)| *w));
        let toks: Vec<&str> = owned.iter().map(String::as_str).collect();
        if toks.is_empty() || (!introduced && toks.len() == 1 && ORDINARY_WORDS.contains(&toks[0]))
        {
            continue;
        }
        match parse_tokens(&toks, now) {
            Parsed::No => {}
            Parsed::Ok(w) => return Ok((title.to_owned(), Some(w))),
            Parsed::Bad(e) if introduced => return Err(e),
            Parsed::Bad(_) => break,
        }
    }
    Ok((text.trim().to_owned(), None))
}

/// A positive duration like "2h", "45m", "1h30m", "90 min", "2 hours", "3 days", "1d",
/// "1 week", "an hour" (for `snooze 3 2h`, `remind default 15m`). A day is 24 hours here. A
/// leading `in` is allowed. At most about 10 years.
pub fn parse_duration(s: &str) -> Result<SignedDuration, WhenError> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(WhenError::NoDuration);
    }
    let lower = trimmed.to_lowercase();
    let body = match lower.strip_prefix("in") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest,
        _ => lower.as_str(),
    };
    match amount(body, trimmed) {
        Parsed::Ok(a) => {
            let mins = a.total_minutes();
            if mins > MAX_MINUTES {
                return Err(WhenError::TooFar);
            }
            Ok(SignedDuration::from_mins(mins))
        }
        Parsed::Bad(e) => Err(e),
        Parsed::No => Err(WhenError::NotADuration(shorten(trimmed))),
    }
}

/// "Fri 5 Dec, 15:00 Europe/Paris" (date only: "Fri 5 Dec"); the year is included only when
/// it is not the year of `now`. Used to echo a resolved date back to the person.
pub fn describe(at: &Zoned, has_time: bool, now: &Zoned) -> String {
    let mut s = format!(
        "{} {} {}",
        weekday_name(at.weekday()).get(..3).unwrap_or("?"),
        at.day(),
        month_abbr(at.month())
    );
    if at.year() != now.year() {
        s.push_str(&format!(" {}", at.year()));
    }
    if has_time {
        let zone = at
            .time_zone()
            .iana_name()
            .map_or_else(|| format!("UTC{}", at.offset()), str::to_owned);
        s.push_str(&format!(", {:02}:{:02} {zone}", at.hour(), at.minute()));
    }
    s
}

// ---------------------------------------------------------------------------------------
// Parsing

/// The result of trying one reading: not this shape at all, this shape but impossible, or
/// a value.
#[derive(Debug)]
enum Parsed<T> {
    No,
    Bad(WhenError),
    Ok(T),
}

impl<T> Parsed<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::No => Parsed::No,
            Parsed::Bad(e) => Parsed::Bad(e),
            Parsed::Ok(v) => Parsed::Ok(f(v)),
        }
    }

    /// Both readings must match; the first impossibility wins.
    fn and<U>(self, other: Parsed<U>) -> Parsed<(T, U)> {
        match (self, other) {
            (Parsed::No, _) | (_, Parsed::No) => Parsed::No,
            (Parsed::Bad(e), _) | (_, Parsed::Bad(e)) => Parsed::Bad(e),
            (Parsed::Ok(a), Parsed::Ok(b)) => Parsed::Ok((a, b)),
        }
    }

    /// Keeps the better of two alternatives: a value, else an impossibility, else nothing
    /// (the first one on ties).
    fn or(self, other: Parsed<T>) -> Parsed<T> {
        match (self, other) {
            (Parsed::Ok(a), _) => Parsed::Ok(a),
            (_, Parsed::Ok(b)) => Parsed::Ok(b),
            (Parsed::Bad(e), _) => Parsed::Bad(e),
            (Parsed::No, b) => b,
        }
    }

    fn from_result(r: Result<T, WhenError>) -> Self {
        match r {
            Ok(v) => Parsed::Ok(v),
            Err(e) => Parsed::Bad(e),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateSpec {
    Today,
    Tonight,
    Tomorrow,
    /// The next such weekday strictly after today.
    Weekday(Weekday),
    /// That weekday in next week.
    NextWeekday(Weekday),
    /// Monday of next week.
    NextWeek,
    EndOfMonth,
    /// A named date, with the weekday the person said along with it (`fri 5 dec`).
    Named(Named, Option<Weekday>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Full(Date),
    NoYear { month: i8, day: i8 },
}

/// Minutes are elapsed time; days (weeks included) are calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Amount {
    days: i64,
    minutes: i64,
}

impl Amount {
    fn total_minutes(self) -> i64 {
        self.days
            .saturating_mul(24 * 60)
            .saturating_add(self.minutes)
    }
}

fn parse_tokens(t: &[&str], now: &Zoned) -> Parsed<When> {
    if let ["in", rest @ ..] = t {
        if rest.is_empty() {
            return Parsed::No;
        }
        let body = rest.join(" ");
        let shown = format!("in {body}");
        return amount(&body, &shown).map(|a| in_amount(a, now)).flatten();
    }
    let mut best = date_spec(t)
        .map(|d| (Some(d), None))
        .or(time_of(t).map(|x| (None, Some(x))));
    for k in 1..t.len() {
        let (a, b) = t.split_at(k);
        let date_then_time = date_spec(a)
            .and(time_of(strip_word(b, "at")))
            .map(|(d, x)| (Some(d), Some(x)));
        let time_then_date = time_of(a)
            .and(date_spec(strip_word(b, "on")))
            .map(|(x, d)| (Some(d), Some(x)));
        best = best.or(date_then_time).or(time_then_date);
    }
    best.map(|(d, x)| resolve(d, x, now)).flatten()
}

impl<T> Parsed<Result<T, WhenError>> {
    fn flatten(self) -> Parsed<T> {
        match self {
            Parsed::No => Parsed::No,
            Parsed::Bad(e) => Parsed::Bad(e),
            Parsed::Ok(r) => Parsed::from_result(r),
        }
    }
}

fn strip_word<'a, 'b>(t: &'a [&'b str], word: &str) -> &'a [&'b str] {
    match t {
        [first, rest @ ..] if *first == word => rest,
        _ => t,
    }
}

fn date_spec(t: &[&str]) -> Parsed<DateSpec> {
    match t {
        [] => Parsed::No,
        ["today"] => Parsed::Ok(DateSpec::Today),
        ["tonight"] => Parsed::Ok(DateSpec::Tonight),
        ["tomorrow" | "tmrw"] => Parsed::Ok(DateSpec::Tomorrow),
        ["next", "week"] => Parsed::Ok(DateSpec::NextWeek),
        ["eom"] | ["end", "of", "month"] | ["end", "of", "the", "month"] => {
            Parsed::Ok(DateSpec::EndOfMonth)
        }
        ["next", w] => weekday(w).map_or(Parsed::No, |w| Parsed::Ok(DateSpec::NextWeekday(w))),
        [w] if weekday(w).is_some() => {
            weekday(w).map_or(Parsed::No, |w| Parsed::Ok(DateSpec::Weekday(w)))
        }
        [w, rest @ ..] if weekday(w).is_some() => {
            let said = weekday(w);
            named(rest).map(|d| DateSpec::Named(d, said))
        }
        _ => named(t).map(|d| DateSpec::Named(d, None)),
    }
}

/// `2026-12-05`, `5/12`, `5 dec`, `5th of december`, `dec 5`, `december 5th 2027`.
fn named(t: &[&str]) -> Parsed<Named> {
    if let [one] = t {
        return iso_date(one).or(slash_date(one));
    }
    let (body, year) = match t {
        [body @ .., y] if body.len() >= 2 => match year_of(y) {
            Some(y) => (body, Some(y)),
            None => (t, None),
        },
        _ => (t, None),
    };
    let (day, month) = match body {
        [d, m] | [d, "of", m] if day_of(d).is_some() && month_of(m).is_some() => {
            (day_of(d), month_of(m))
        }
        [m, d] if day_of(d).is_some() && month_of(m).is_some() => (day_of(d), month_of(m)),
        _ => return Parsed::No,
    };
    let (Some(day), Some(month)) = (day, month) else {
        return Parsed::No;
    };
    if !(1..=max_day(month, year)).contains(&day) {
        return Parsed::Bad(WhenError::NotADate(render_date(day, month, year)));
    }
    match year {
        None => Parsed::Ok(Named::NoYear { month, day }),
        Some(y) => match Date::new(y, month, day) {
            Ok(d) => Parsed::Ok(Named::Full(d)),
            Err(_) => Parsed::Bad(WhenError::NotADate(render_date(day, month, year))),
        },
    }
}

/// `2026-12-05` (also `2026-12-5`).
fn iso_date(s: &str) -> Parsed<Named> {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Parsed::No;
    };
    let (Some(y), Some(m), Some(d)) = (year_of(y), small_number(m), small_number(d)) else {
        return Parsed::No;
    };
    match Date::new(y, m, d) {
        Ok(date) => Parsed::Ok(Named::Full(date)),
        Err(_) => Parsed::Bad(WhenError::NotADate(shorten(s))),
    }
}

/// `5/12` or `5/12/2026`: taken only when exactly one reading is a date (or both are the
/// same date).
fn slash_date(s: &str) -> Parsed<Named> {
    let parts: Vec<&str> = s.split('/').collect();
    let (a, b, year) = match parts.as_slice() {
        [a, b] => (*a, *b, None),
        [a, b, y] => match year_of(y) {
            Some(y) => (*a, *b, Some(y)),
            None => return Parsed::No,
        },
        _ => return Parsed::No,
    };
    let (Some(a), Some(b)) = (small_number(a), small_number(b)) else {
        return Parsed::No;
    };
    let reading = |day: i8, month: i8| -> Option<Named> {
        if !(1..=12).contains(&month) || !(1..=max_day(month, year)).contains(&day) {
            return None;
        }
        match year {
            None => Some(Named::NoYear { month, day }),
            Some(y) => Date::new(y, month, day).ok().map(Named::Full),
        }
    };
    match (reading(a, b), reading(b, a)) {
        (Some(dm), Some(md)) if dm == md => Parsed::Ok(dm),
        (Some(_), Some(_)) => Parsed::Bad(WhenError::Ambiguous {
            text: s.to_owned(),
            dm: format!("{a} {}", month_abbr(b)),
            md: format!("{} {b}", month_abbr(a)),
        }),
        (Some(one), None) | (None, Some(one)) => Parsed::Ok(one),
        (None, None) => Parsed::Bad(WhenError::NotADate(shorten(s))),
    }
}

/// `15:00`, `9:30`, `3pm`, `3 pm`, `9:30am`, `noon`, `midnight`. A bare number is not a time.
fn time_of(t: &[&str]) -> Parsed<Time> {
    match t {
        ["noon"] => Parsed::Ok(Time::constant(12, 0, 0, 0)),
        ["midnight"] => Parsed::Ok(Time::MIN),
        [x] => {
            if let Some(body) = x.strip_suffix("am") {
                clock(body, Some(false), x)
            } else if let Some(body) = x.strip_suffix("pm") {
                clock(body, Some(true), x)
            } else {
                clock(x, None, x)
            }
        }
        [x, "am"] => clock(x, Some(false), &t.join(" ")),
        [x, "pm"] => clock(x, Some(true), &t.join(" ")),
        _ => Parsed::No,
    }
}

/// `H`, `H:MM` with an optional half of the day (`pm`: `Some(true)`).
fn clock(body: &str, pm: Option<bool>, shown: &str) -> Parsed<Time> {
    let bad = || Parsed::Bad(WhenError::NotATime(shorten(shown)));
    let (h, m) = match body.split_once(':') {
        Some((h, m)) => (h, Some(m)),
        None => (body, None),
    };
    if !all_digits(h) || m.is_some_and(|m| !all_digits(m)) {
        return Parsed::No;
    }
    if m.is_none() && pm.is_none() {
        return Parsed::No;
    }
    if h.len() > 2 || m.is_some_and(|m| m.len() != 2) {
        return bad();
    }
    let (Ok(h), Ok(m)) = (h.parse::<i8>(), m.unwrap_or("0").parse::<i8>()) else {
        return bad();
    };
    let h = match pm {
        Some(_) if !(1..=12).contains(&h) => return bad(),
        Some(true) => h % 12 + 12,
        Some(false) => h % 12,
        None => h,
    };
    match Time::new(h, m, 0, 0) {
        Ok(t) => Parsed::Ok(t),
        Err(_) => bad(),
    }
}

/// `2h`, `45m`, `1h30m`, `90 min`, `2 hours`, `3 days`, `1 week`, `an hour`,
/// `1 hour and 30 minutes`. `shown` is what an error quotes.
fn amount(s: &str, shown: &str) -> Parsed<Amount> {
    enum Piece {
        Num(Option<i64>),
        Word(String),
        Minus,
    }
    let mut pieces = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_digit() {
            let mut n: Option<i64> = Some(0);
            while let Some(&d) = chars.peek() {
                let Some(v) = d.to_digit(10) else {
                    break;
                };
                n = n
                    .and_then(|n| n.checked_mul(10))
                    .and_then(|n| n.checked_add(i64::from(v)));
                chars.next();
            }
            pieces.push(Piece::Num(n));
        } else if c.is_alphabetic() {
            let mut w = String::new();
            while let Some(&d) = chars.peek() {
                if !d.is_alphabetic() {
                    break;
                }
                w.extend(d.to_lowercase());
                chars.next();
            }
            pieces.push(Piece::Word(w));
        } else if c == '-' {
            pieces.push(Piece::Minus);
            chars.next();
        } else {
            return Parsed::No;
        }
    }
    let mut rest = pieces.as_slice();
    let negative = matches!(rest.first(), Some(Piece::Minus));
    if negative {
        rest = &rest[1..];
    }
    let (mut days, mut minutes) = (Some(0i64), Some(0i64));
    let mut pairs = 0;
    loop {
        match rest {
            [] => break,
            [Piece::Word(and), more @ ..] if and == "and" && pairs > 0 && !more.is_empty() => {
                rest = more;
                continue;
            }
            _ => {}
        }
        let (n, unit, more) = match rest {
            [Piece::Num(n), Piece::Word(u), more @ ..] => (*n, u.as_str(), more),
            [Piece::Word(a), Piece::Word(u), more @ ..] if a == "a" || a == "an" => {
                (Some(1), u.as_str(), more)
            }
            _ => return Parsed::No,
        };
        let (per_day, per_minute) = match unit {
            "m" | "min" | "mins" | "minute" | "minutes" => (0, 1),
            "h" | "hr" | "hrs" | "hour" | "hours" => (0, 60),
            "d" | "day" | "days" => (1, 0),
            "w" | "wk" | "wks" | "week" | "weeks" => (7, 0),
            _ => return Parsed::No,
        };
        let add = |acc: Option<i64>, per: i64| {
            acc.zip(n)
                .and_then(|(acc, n)| n.checked_mul(per).and_then(|x| acc.checked_add(x)))
        };
        days = add(days, per_day);
        minutes = add(minutes, per_minute);
        pairs += 1;
        rest = more;
    }
    if pairs == 0 {
        return Parsed::No;
    }
    if negative {
        return Parsed::Bad(WhenError::NotPositive(shorten(shown)));
    }
    let (Some(days), Some(minutes)) = (days, minutes) else {
        return Parsed::Bad(WhenError::TooFar);
    };
    if days > MAX_DAYS || minutes > MAX_MINUTES {
        return Parsed::Bad(WhenError::TooFar);
    }
    if days == 0 && minutes == 0 {
        return Parsed::Bad(WhenError::NotPositive(shorten(shown)));
    }
    Parsed::Ok(Amount { days, minutes })
}

// ---------------------------------------------------------------------------------------
// Resolving

fn in_amount(a: Amount, now: &Zoned) -> Result<When, WhenError> {
    let days = Span::new()
        .try_days(a.days)
        .map_err(|_| WhenError::TooFar)?;
    let at = now
        .checked_add(days)
        .and_then(|z| z.checked_add(SignedDuration::from_mins(a.minutes)))
        .and_then(|z| {
            z.round(
                ZonedRound::new()
                    .smallest(Unit::Minute)
                    .mode(RoundMode::Ceil),
            )
        })
        .map_err(|_| WhenError::TooFar)?;
    within_reach(&at, now)?;
    Ok(When { at, has_time: true })
}

fn resolve(spec: Option<DateSpec>, time: Option<Time>, now: &Zoned) -> Result<When, WhenError> {
    let today = now.date();
    let Some(spec) = spec else {
        // A time alone: today, or tomorrow if it has passed.
        let t = time.unwrap_or(DEFAULT_TIME);
        let mut at = local(today, t, now)?;
        if at.timestamp() <= now.timestamp() {
            at = local(today.tomorrow().map_err(|_| WhenError::TooFar)?, t, now)?;
        }
        within_reach(&at, now)?;
        return Ok(When { at, has_time: true });
    };
    let from_monday = i64::from(today.weekday().to_monday_zero_offset());
    let (date, default) = match spec {
        DateSpec::Today => (today, None),
        DateSpec::Tonight => (today, Some(TONIGHT)),
        DateSpec::Tomorrow => (today.tomorrow().map_err(|_| WhenError::TooFar)?, None),
        DateSpec::Weekday(w) => {
            let ahead = (i64::from(w.to_monday_zero_offset()) - from_monday).rem_euclid(7);
            (add_days(today, if ahead == 0 { 7 } else { ahead })?, None)
        }
        DateSpec::NextWeekday(w) => (
            add_days(
                today,
                7 - from_monday + i64::from(w.to_monday_zero_offset()),
            )?,
            None,
        ),
        DateSpec::NextWeek => (add_days(today, 7 - from_monday)?, None),
        DateSpec::EndOfMonth => (today.last_of_month(), None),
        DateSpec::Named(named, said) => {
            let date = match named {
                Named::Full(d) => d,
                Named::NoYear { month, day } => {
                    let mut year = today.year();
                    if (month, day) < (today.month(), today.day()) {
                        year = year.checked_add(1).ok_or(WhenError::TooFar)?;
                    }
                    Date::new(year, month, day)
                        .map_err(|_| WhenError::NotADate(render_date(day, month, Some(year))))?
                }
            };
            if let Some(said) = said
                && date.weekday() != said
            {
                return Err(WhenError::WrongWeekday {
                    date: render_date(date.day(), date.month(), Some(date.year())),
                    is: weekday_name(date.weekday()),
                    said: weekday_name(said),
                });
            }
            (date, None)
        }
    };
    let has_time = time.is_some() || default.is_some();
    let at = local(date, time.or(default).unwrap_or(DEFAULT_TIME), now)?;
    let past = if has_time {
        at.timestamp() <= now.timestamp()
    } else {
        date < today
    };
    if past {
        return Err(WhenError::InThePast);
    }
    within_reach(&at, now)?;
    Ok(When { at, has_time })
}

/// `date` at `time` in the zone of `now`; a time in a DST gap or fold is resolved with the
/// compatible disambiguation.
fn local(date: Date, time: Time, now: &Zoned) -> Result<Zoned, WhenError> {
    date.to_datetime(time)
        .to_zoned(now.time_zone().clone())
        .map_err(|_| WhenError::TooFar)
}

fn add_days(date: Date, days: i64) -> Result<Date, WhenError> {
    date.checked_add(days.days()).map_err(|_| WhenError::TooFar)
}

fn within_reach(at: &Zoned, now: &Zoned) -> Result<(), WhenError> {
    let limit = now
        .checked_add(MAX_YEARS_AHEAD.years())
        .map_err(|_| WhenError::TooFar)?;
    if at.timestamp() > limit.timestamp() {
        return Err(WhenError::TooFar);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Words

/// Lower-cased tokens: commas split words, trailing `.;!?` are dropped, and an ISO
/// `2026-12-05T15:00` becomes two tokens.
fn tokens<'a>(words: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    for word in words {
        for part in word.to_lowercase().split(',') {
            let part = part.trim_end_matches(['.', ';', '!', '?']);
            if part.is_empty() {
                continue;
            }
            match part.split_once('t') {
                Some((d, t)) if !t.is_empty() && matches!(iso_date(d), Parsed::Ok(_)) => {
                    out.push(d.to_owned());
                    out.push(t.to_owned());
                }
                _ => out.push(part.to_owned()),
            }
        }
    }
    out
}

fn is_introducer(word: &str) -> bool {
    let w = word.trim_end_matches([':', ',']);
    INTRODUCERS.iter().any(|i| w.eq_ignore_ascii_case(i))
}

fn clean_title(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c))
        .trim()
}

use super::meeting::word_offsets;

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// 1 or 2 ASCII digits.
fn small_number(s: &str) -> Option<i8> {
    if s.len() > 2 || !all_digits(s) {
        return None;
    }
    s.parse().ok()
}

/// `5`, `05`, `5th`, `1st`, `22nd`, `3rd`.
fn day_of(s: &str) -> Option<i8> {
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|suffix| s.strip_suffix(suffix))
        .unwrap_or(s);
    small_number(digits)
}

/// Four ASCII digits.
fn year_of(s: &str) -> Option<i16> {
    if s.len() != 4 || !all_digits(s) {
        return None;
    }
    s.parse().ok()
}

fn month_of(s: &str) -> Option<i8> {
    Some(match s {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    })
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tues" | "tuesday" => Weekday::Tuesday,
        "wed" | "weds" | "wednesday" => Weekday::Wednesday,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

fn month_abbr(month: i8) -> &'static str {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    usize::try_from(i32::from(month) - 1)
        .ok()
        .and_then(|i| MONTHS.get(i))
        .copied()
        .unwrap_or("?")
}

/// The last day of `month` (in a leap year when the year is not known).
fn max_day(month: i8, year: Option<i16>) -> i8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => match year {
            Some(y) if Date::new(y, 2, 29).is_err() => 28,
            _ => 29,
        },
        _ => 0,
    }
}

/// `31 Feb`, `29 Feb 2027`.
fn render_date(day: i8, month: i8, year: Option<i16>) -> String {
    match year {
        Some(y) => format!("{day} {} {y}", month_abbr(month)),
        None => format!("{day} {}", month_abbr(month)),
    }
}

/// What an error quotes of the person's text: at most 40 characters.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::{Offset, TimeZone};
    use proptest::prelude::*;

    /// Wednesday 2 Dec 2026, 10:15:30 in Paris.
    const WED: &str = "2026-12-02T10:15:30+01:00[Europe/Paris]";
    /// Friday 4 Dec 2026, 10:00 in Paris.
    const FRI: &str = "2026-12-04T10:00:00+01:00[Europe/Paris]";
    /// Sunday 6 Dec 2026, 10:00 in Paris.
    const SUN: &str = "2026-12-06T10:00:00+01:00[Europe/Paris]";
    /// Paris springs forward on Sunday 29 Mar 2026 at 02:00 (to 03:00).
    const PARIS_SPRING_NIGHT: &str = "2026-03-29T00:30:00+01:00[Europe/Paris]";
    const PARIS_SPRING_EVE: &str = "2026-03-28T14:00:00+01:00[Europe/Paris]";
    /// Paris falls back on Sunday 25 Oct 2026 at 03:00 (to 02:00).
    const PARIS_FALL_EVE: &str = "2026-10-24T10:00:00+02:00[Europe/Paris]";
    /// New York springs forward on Sunday 8 Mar 2026 at 02:00 (to 03:00).
    const NY_SPRING_EVE: &str = "2026-03-07T20:00:00-05:00[America/New_York]";
    /// New York falls back on Sunday 1 Nov 2026 at 02:00 (to 01:00).
    const NY_FALL_EVE: &str = "2026-10-31T12:00:00-04:00[America/New_York]";

    fn z(s: &str) -> Zoned {
        s.parse().unwrap()
    }

    #[derive(Debug)]
    enum Want {
        /// A moment with a time of day.
        At(&'static str),
        /// A date only, at 09:00.
        Day(&'static str),
        Fails(WhenError),
    }
    use Want::{At, Day, Fails};

    fn date_err(s: &str) -> Want {
        Fails(WhenError::NotADate(s.to_owned()))
    }

    fn time_err(s: &str) -> Want {
        Fails(WhenError::NotATime(s.to_owned()))
    }

    fn mismatch(got: &Result<When, WhenError>, want: &Want) -> bool {
        match (got, want) {
            (Ok(w), At(s)) => !w.has_time || w.at != z(s),
            (Ok(w), Day(s)) => w.has_time || w.at != z(s),
            (Err(e), Fails(f)) => e != f,
            _ => true,
        }
    }

    fn parse_rows() -> Vec<(&'static str, &'static str, Want)> {
        vec![
            // Days.
            ("today", WED, Day("2026-12-02T09:00:00+01:00[Europe/Paris]")),
            (
                "tonight",
                WED,
                At("2026-12-02T20:00:00+01:00[Europe/Paris]"),
            ),
            (
                "tonight 9pm",
                WED,
                At("2026-12-02T21:00:00+01:00[Europe/Paris]"),
            ),
            (
                "tonight at 21:30",
                WED,
                At("2026-12-02T21:30:00+01:00[Europe/Paris]"),
            ),
            (
                "tonight",
                "2026-12-02T22:00:00+01:00[Europe/Paris]",
                Fails(WhenError::InThePast),
            ),
            (
                "tomorrow",
                WED,
                Day("2026-12-03T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "tmrw 15:00",
                WED,
                At("2026-12-03T15:00:00+01:00[Europe/Paris]"),
            ),
            (
                "  TOMORROW   AT   9AM ",
                WED,
                At("2026-12-03T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "15:00 tomorrow",
                WED,
                At("2026-12-03T15:00:00+01:00[Europe/Paris]"),
            ),
            (
                "9am on fri",
                WED,
                At("2026-12-04T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "by fri",
                WED,
                Day("2026-12-04T09:00:00+01:00[Europe/Paris]"),
            ),
            // Weekdays: the next one strictly after today.
            ("fri", WED, Day("2026-12-04T09:00:00+01:00[Europe/Paris]")),
            (
                "Friday 15:00",
                WED,
                At("2026-12-04T15:00:00+01:00[Europe/Paris]"),
            ),
            (
                "fri, 15:00",
                WED,
                At("2026-12-04T15:00:00+01:00[Europe/Paris]"),
            ),
            ("wed", WED, Day("2026-12-09T09:00:00+01:00[Europe/Paris]")),
            (
                "wednesday 11:00",
                WED,
                At("2026-12-09T11:00:00+01:00[Europe/Paris]"),
            ),
            ("mon", WED, Day("2026-12-07T09:00:00+01:00[Europe/Paris]")),
            (
                "next monday",
                WED,
                Day("2026-12-07T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "next fri",
                WED,
                Day("2026-12-11T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "next week",
                WED,
                Day("2026-12-07T09:00:00+01:00[Europe/Paris]"),
            ),
            ("fri", FRI, Day("2026-12-11T09:00:00+01:00[Europe/Paris]")),
            (
                "fri 15:00",
                FRI,
                At("2026-12-11T15:00:00+01:00[Europe/Paris]"),
            ),
            (
                "next fri",
                FRI,
                Day("2026-12-11T09:00:00+01:00[Europe/Paris]"),
            ),
            ("sat", FRI, Day("2026-12-05T09:00:00+01:00[Europe/Paris]")),
            ("thu", FRI, Day("2026-12-10T09:00:00+01:00[Europe/Paris]")),
            (
                "next sun",
                FRI,
                Day("2026-12-13T09:00:00+01:00[Europe/Paris]"),
            ),
            ("mon", SUN, Day("2026-12-07T09:00:00+01:00[Europe/Paris]")),
            (
                "next mon",
                SUN,
                Day("2026-12-07T09:00:00+01:00[Europe/Paris]"),
            ),
            ("sun", SUN, Day("2026-12-13T09:00:00+01:00[Europe/Paris]")),
            // Relative amounts, rounded up to the minute.
            ("in 45m", WED, At("2026-12-02T11:01:00+01:00[Europe/Paris]")),
            ("in 1m", WED, At("2026-12-02T10:17:00+01:00[Europe/Paris]")),
            (
                "in 1m",
                "2026-12-02T10:15:00+01:00[Europe/Paris]",
                At("2026-12-02T10:16:00+01:00[Europe/Paris]"),
            ),
            ("in 3h", WED, At("2026-12-02T13:16:00+01:00[Europe/Paris]")),
            (
                "in 1h30m",
                WED,
                At("2026-12-02T11:46:00+01:00[Europe/Paris]"),
            ),
            (
                "in an hour",
                WED,
                At("2026-12-02T11:16:00+01:00[Europe/Paris]"),
            ),
            (
                "in 2 days",
                WED,
                At("2026-12-04T10:16:00+01:00[Europe/Paris]"),
            ),
            (
                "in 2 weeks",
                WED,
                At("2026-12-16T10:16:00+01:00[Europe/Paris]"),
            ),
            (
                "in -5m",
                WED,
                Fails(WhenError::NotPositive("in -5m".into())),
            ),
            ("in 0m", WED, Fails(WhenError::NotPositive("in 0m".into()))),
            ("in 600 weeks", WED, Fails(WhenError::TooFar)),
            ("in 99999999999999999999999m", WED, Fails(WhenError::TooFar)),
            (
                "in 5 apples",
                WED,
                Fails(WhenError::NotUnderstood("in 5 apples".into())),
            ),
            // End of month.
            ("eom", WED, Day("2026-12-31T09:00:00+01:00[Europe/Paris]")),
            (
                "end of month",
                WED,
                Day("2026-12-31T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "eom",
                "2026-12-31T23:00:00+01:00[Europe/Paris]",
                Day("2026-12-31T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "end of the month 17:00",
                "2026-02-10T12:00:00+01:00[Europe/Paris]",
                At("2026-02-28T17:00:00+01:00[Europe/Paris]"),
            ),
            // Named dates.
            (
                "2026-12-05",
                WED,
                Day("2026-12-05T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "2026-12-05 15:00",
                WED,
                At("2026-12-05T15:00:00+01:00[Europe/Paris]"),
            ),
            (
                "2026-12-05T15:00",
                WED,
                At("2026-12-05T15:00:00+01:00[Europe/Paris]"),
            ),
            ("5 dec", WED, Day("2026-12-05T09:00:00+01:00[Europe/Paris]")),
            ("dec 5", WED, Day("2026-12-05T09:00:00+01:00[Europe/Paris]")),
            (
                "5 December",
                WED,
                Day("2026-12-05T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "december 5th",
                WED,
                Day("2026-12-05T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "5th of december",
                WED,
                Day("2026-12-05T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "5 dec 2027",
                WED,
                Day("2027-12-05T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "dec 5, 2027 3pm",
                WED,
                At("2027-12-05T15:00:00+01:00[Europe/Paris]"),
            ),
            (
                "5 dec at 15:00",
                WED,
                At("2026-12-05T15:00:00+01:00[Europe/Paris]"),
            ),
            (
                "sat 5 dec",
                WED,
                Day("2026-12-05T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "Sat 5 Dec, 15:00",
                WED,
                At("2026-12-05T15:00:00+01:00[Europe/Paris]"),
            ),
            (
                "fri 5 dec",
                WED,
                Fails(WhenError::WrongWeekday {
                    date: "5 Dec 2026".into(),
                    is: "Saturday",
                    said: "Friday",
                }),
            ),
            ("2 dec", WED, Day("2026-12-02T09:00:00+01:00[Europe/Paris]")),
            ("2 dec 9am", WED, Fails(WhenError::InThePast)),
            ("1 dec", WED, Day("2027-12-01T09:00:00+01:00[Europe/Paris]")),
            (
                "5 jan",
                "2026-12-20T12:00:00+01:00[Europe/Paris]",
                Day("2027-01-05T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "jan 5 10:00",
                "2026-12-20T12:00:00+01:00[Europe/Paris]",
                At("2027-01-05T10:00:00+01:00[Europe/Paris]"),
            ),
            (
                "in 2 weeks",
                "2026-12-20T12:00:00+01:00[Europe/Paris]",
                At("2027-01-03T12:00:00+01:00[Europe/Paris]"),
            ),
            // Leap days.
            (
                "29 feb",
                "2028-01-10T12:00:00+01:00[Europe/Paris]",
                Day("2028-02-29T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "29 feb",
                "2027-01-10T12:00:00+01:00[Europe/Paris]",
                date_err("29 Feb 2027"),
            ),
            (
                "29 feb",
                "2027-03-10T12:00:00+01:00[Europe/Paris]",
                Day("2028-02-29T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "29 feb 2028",
                "2027-01-10T12:00:00+01:00[Europe/Paris]",
                Day("2028-02-29T09:00:00+01:00[Europe/Paris]"),
            ),
            ("2027-02-29", WED, date_err("2027-02-29")),
            // Numeric dates.
            (
                "5/12",
                WED,
                Fails(WhenError::Ambiguous {
                    text: "5/12".into(),
                    dm: "5 Dec".into(),
                    md: "May 12".into(),
                }),
            ),
            ("25/12", WED, Day("2026-12-25T09:00:00+01:00[Europe/Paris]")),
            (
                "12/25/2026",
                WED,
                Day("2026-12-25T09:00:00+01:00[Europe/Paris]"),
            ),
            ("5/5", WED, Day("2027-05-05T09:00:00+02:00[Europe/Paris]")),
            ("13/13", WED, date_err("13/13")),
            // Times.
            ("15:00", WED, At("2026-12-02T15:00:00+01:00[Europe/Paris]")),
            ("9:30", WED, At("2026-12-03T09:30:00+01:00[Europe/Paris]")),
            ("3pm", WED, At("2026-12-02T15:00:00+01:00[Europe/Paris]")),
            ("3 PM", WED, At("2026-12-02T15:00:00+01:00[Europe/Paris]")),
            ("9:30am", WED, At("2026-12-03T09:30:00+01:00[Europe/Paris]")),
            ("12am", WED, At("2026-12-03T00:00:00+01:00[Europe/Paris]")),
            ("12pm", WED, At("2026-12-02T12:00:00+01:00[Europe/Paris]")),
            ("noon", WED, At("2026-12-02T12:00:00+01:00[Europe/Paris]")),
            (
                "midnight",
                WED,
                At("2026-12-03T00:00:00+01:00[Europe/Paris]"),
            ),
            (
                "fri at noon",
                WED,
                At("2026-12-04T12:00:00+01:00[Europe/Paris]"),
            ),
            ("today 9am", WED, Fails(WhenError::InThePast)),
            // Impossible dates and times.
            ("31 feb", WED, date_err("31 Feb")),
            ("30 feb", WED, date_err("30 Feb")),
            ("0 dec", WED, date_err("0 Dec")),
            ("2026-02-30", WED, date_err("2026-02-30")),
            ("2026-13-01", WED, date_err("2026-13-01")),
            ("25:00", WED, time_err("25:00")),
            ("13pm", WED, time_err("13pm")),
            ("13 pm", WED, time_err("13 pm")),
            ("9:75", WED, time_err("9:75")),
            ("fri 24:00", WED, time_err("24:00")),
            ("31 feb 15:00", WED, date_err("31 Feb")),
            // Past and far.
            ("2020-01-01", WED, Fails(WhenError::InThePast)),
            (
                "2036-12-01",
                WED,
                Day("2036-12-01T09:00:00+01:00[Europe/Paris]"),
            ),
            ("2037-01-01", WED, Fails(WhenError::TooFar)),
            // Not dates at all.
            ("", WED, Fails(WhenError::Empty)),
            (
                "banana",
                WED,
                Fails(WhenError::NotUnderstood("banana".into())),
            ),
            ("jan", WED, Fails(WhenError::NotUnderstood("jan".into()))),
            ("1984", WED, Fails(WhenError::NotUnderstood("1984".into()))),
            // DST in Paris.
            (
                "in 3h",
                PARIS_SPRING_NIGHT,
                At("2026-03-29T04:30:00+02:00[Europe/Paris]"),
            ),
            (
                "2:30",
                "2026-03-29T01:00:00+01:00[Europe/Paris]",
                At("2026-03-29T03:30:00+02:00[Europe/Paris]"),
            ),
            (
                "in 1 days",
                PARIS_SPRING_EVE,
                At("2026-03-29T14:00:00+02:00[Europe/Paris]"),
            ),
            (
                "in 24h",
                PARIS_SPRING_EVE,
                At("2026-03-29T15:00:00+02:00[Europe/Paris]"),
            ),
            (
                "tomorrow 2:30",
                PARIS_SPRING_EVE,
                At("2026-03-29T03:30:00+02:00[Europe/Paris]"),
            ),
            (
                "2026-03-29 02:30",
                PARIS_SPRING_EVE,
                At("2026-03-29T03:30:00+02:00[Europe/Paris]"),
            ),
            (
                "tomorrow",
                PARIS_SPRING_EVE,
                Day("2026-03-29T09:00:00+02:00[Europe/Paris]"),
            ),
            (
                "tomorrow 9am",
                PARIS_FALL_EVE,
                At("2026-10-25T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "in 1 day",
                PARIS_FALL_EVE,
                At("2026-10-25T10:00:00+01:00[Europe/Paris]"),
            ),
            (
                "in 24h",
                PARIS_FALL_EVE,
                At("2026-10-25T09:00:00+01:00[Europe/Paris]"),
            ),
            (
                "2026-10-25 02:30",
                PARIS_FALL_EVE,
                At("2026-10-25T02:30:00+02:00[Europe/Paris]"),
            ),
            // DST in New York.
            (
                "tomorrow 9am",
                NY_SPRING_EVE,
                At("2026-03-08T09:00:00-04:00[America/New_York]"),
            ),
            (
                "in 1 day",
                NY_SPRING_EVE,
                At("2026-03-08T20:00:00-04:00[America/New_York]"),
            ),
            (
                "in 12h",
                NY_SPRING_EVE,
                At("2026-03-08T09:00:00-04:00[America/New_York]"),
            ),
            (
                "tomorrow 2:30am",
                NY_SPRING_EVE,
                At("2026-03-08T03:30:00-04:00[America/New_York]"),
            ),
            (
                "sun 9am",
                NY_FALL_EVE,
                At("2026-11-01T09:00:00-05:00[America/New_York]"),
            ),
            (
                "tomorrow 1:30am",
                NY_FALL_EVE,
                At("2026-11-01T01:30:00-04:00[America/New_York]"),
            ),
            (
                "in 1 week",
                NY_FALL_EVE,
                At("2026-11-07T12:00:00-05:00[America/New_York]"),
            ),
        ]
    }

    #[test]
    fn parse_when_table() {
        let rows = parse_rows();
        assert!(rows.len() >= 60);
        let failures: Vec<String> = rows
            .iter()
            .filter_map(|(phrase, now, want)| {
                let got = parse_when(phrase, &z(now));
                mismatch(&got, want)
                    .then(|| format!("{phrase:?} at {now}: got {got:?}, want {want:?}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    type SplitWant = Result<(&'static str, Option<Want>), WhenError>;

    fn split_rows() -> Vec<(&'static str, SplitWant)> {
        let title = |t: &'static str| Ok((t, None));
        let due = |t: &'static str, w: Want| Ok((t, Some(w)));
        vec![
            (
                "Send the deck by fri 15:00",
                due(
                    "Send the deck",
                    At("2026-12-04T15:00:00+01:00[Europe/Paris]"),
                ),
            ),
            (
                "Pay rent due 5 dec",
                due("Pay rent", Day("2026-12-05T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Call Bob tomorrow 9am",
                due("Call Bob", At("2026-12-03T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Call Bob tomorrow at 9am",
                due("Call Bob", At("2026-12-03T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Meet Jan 5",
                due("Meet", Day("2027-01-05T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Lunch at noon",
                due("Lunch", At("2026-12-02T12:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Picnic on sun",
                due("Picnic", Day("2026-12-06T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Stand by me tomorrow",
                due(
                    "Stand by me",
                    Day("2026-12-03T09:00:00+01:00[Europe/Paris]"),
                ),
            ),
            (
                "  Send   deck,   fri  ",
                due(
                    "Send   deck",
                    Day("2026-12-04T09:00:00+01:00[Europe/Paris]"),
                ),
            ),
            (
                "Report due by eom",
                due("Report", Day("2026-12-31T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Check in 2 days",
                due("Check", At("2026-12-04T10:16:00+01:00[Europe/Paris]")),
            ),
            (
                "Renew passport due: 2027-03-01",
                due(
                    "Renew passport",
                    Day("2027-03-01T09:00:00+01:00[Europe/Paris]"),
                ),
            ),
            (
                "Email Ann 9:30",
                due("Email Ann", At("2026-12-03T09:30:00+01:00[Europe/Paris]")),
            ),
            (
                "Plan next week",
                due("Plan", Day("2026-12-07T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Buy milk TODAY",
                due("Buy milk", Day("2026-12-02T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Fix bug 5 on fri",
                due("Fix bug 5", Day("2026-12-04T09:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Dinner 5 dec at 8pm",
                due("Dinner", At("2026-12-05T20:00:00+01:00[Europe/Paris]")),
            ),
            (
                "Read 1984 tomorrow",
                due("Read 1984", Day("2026-12-03T09:00:00+01:00[Europe/Paris]")),
            ),
            ("Read 1984", title("Read 1984")),
            ("Buy 3 apples", title("Buy 3 apples")),
            ("Watch 24", title("Watch 24")),
            ("Call mum", title("Call mum")),
            ("Meet Jan", title("Meet Jan")),
            ("Meet on Jan", title("Meet on Jan")),
            ("Pay 5/12 invoices", title("Pay 5/12 invoices")),
            ("Pay invoices 5/12", title("Pay invoices 5/12")),
            ("Pay rent 31 feb", title("Pay rent 31 feb")),
            ("Call Bob today 9am", title("Call Bob today 9am")),
            ("Watch High Noon", title("Watch High Noon")),
            ("Enjoy the sun", title("Enjoy the sun")),
            ("Stand by me", title("Stand by me")),
            ("Meet at home", title("Meet at home")),
            ("  tomorrow ", title("tomorrow")),
            ("by fri", title("by fri")),
            ("", title("")),
            (
                "Pay rent due 31 feb",
                Err(WhenError::NotADate("31 Feb".into())),
            ),
            ("x by 25:00", Err(WhenError::NotATime("25:00".into()))),
            ("File taxes by 2020-01-01", Err(WhenError::InThePast)),
            (
                "Pay invoices by 5/12",
                Err(WhenError::Ambiguous {
                    text: "5/12".into(),
                    dm: "5 Dec".into(),
                    md: "May 12".into(),
                }),
            ),
        ]
    }

    #[test]
    fn split_due_table() {
        let now = z(WED);
        let failures: Vec<String> = split_rows()
            .into_iter()
            .filter_map(|(text, want)| {
                let got = split_due(text, &now);
                let ok = match (&got, &want) {
                    (Ok((t, None)), Ok((wt, None))) => t == wt,
                    (Ok((t, Some(w))), Ok((wt, Some(ww)))) => {
                        t == wt && !mismatch(&Ok(w.clone()), ww)
                    }
                    (Err(e), Err(we)) => e == we,
                    _ => false,
                };
                (!ok).then(|| format!("{text:?}: got {got:?}, want {want:?}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn describe_table() {
        let now = z(WED);
        let utc = z("2026-12-05T08:05:00+00:00[UTC]");
        let fixed = z("2026-12-05T15:00:00+05:30[Asia/Kolkata]").with_time_zone(TimeZone::fixed(
            Offset::from_seconds(5 * 3600 + 1800).unwrap(),
        ));
        let rows: Vec<(Zoned, bool, &str)> = vec![
            (
                z("2026-12-05T15:00:00+01:00[Europe/Paris]"),
                true,
                "Sat 5 Dec, 15:00 Europe/Paris",
            ),
            (
                z("2026-12-05T09:00:00+01:00[Europe/Paris]"),
                false,
                "Sat 5 Dec",
            ),
            (
                z("2027-01-05T09:00:00+01:00[Europe/Paris]"),
                false,
                "Tue 5 Jan 2027",
            ),
            (
                z("2027-01-05T07:30:00+01:00[Europe/Paris]"),
                true,
                "Tue 5 Jan 2027, 07:30 Europe/Paris",
            ),
            (
                z("2026-11-01T01:30:00-04:00[America/New_York]"),
                true,
                "Sun 1 Nov, 01:30 America/New_York",
            ),
            (utc, true, "Sat 5 Dec, 08:05 UTC"),
            (fixed, true, "Sat 5 Dec, 15:00 UTC+05:30"),
        ];
        for (at, has_time, want) in rows {
            assert_eq!(describe(&at, has_time, &now), want);
        }
    }

    #[test]
    fn describe_round_trips_through_parse_when() {
        let now = z(WED);
        for phrase in ["fri 15:00", "5 dec", "5 jan 2027 9:30", "eom", "tonight"] {
            let w = parse_when(phrase, &now).unwrap();
            let text = describe(&w.at, w.has_time, &now);
            let again = text
                .rsplit_once(' ')
                .filter(|_| w.has_time)
                .map_or(text.as_str(), |(d, _)| d);
            assert_eq!(parse_when(again, &now), Ok(w), "{phrase} -> {text}");
        }
    }

    #[test]
    fn parse_duration_table() {
        let mins = |m: i64| Ok(SignedDuration::from_mins(m));
        let rows: Vec<(&str, Result<SignedDuration, WhenError>)> = vec![
            ("2h", mins(120)),
            ("45m", mins(45)),
            ("1h30m", mins(90)),
            ("1h 30m", mins(90)),
            ("90 min", mins(90)),
            ("90mins", mins(90)),
            ("2 hours", mins(120)),
            ("1 hour and 30 minutes", mins(90)),
            ("an hour", mins(60)),
            ("3 days", mins(3 * 24 * 60)),
            ("1d", mins(24 * 60)),
            ("1 week", mins(7 * 24 * 60)),
            ("2w", mins(14 * 24 * 60)),
            (" 15M ", mins(15)),
            ("in 2h", mins(120)),
            ("", Err(WhenError::NoDuration)),
            ("0m", Err(WhenError::NotPositive("0m".into()))),
            ("-5m", Err(WhenError::NotPositive("-5m".into()))),
            ("5", Err(WhenError::NotADuration("5".into()))),
            ("5 apples", Err(WhenError::NotADuration("5 apples".into()))),
            ("1.5h", Err(WhenError::NotADuration("1.5h".into()))),
            ("30s", Err(WhenError::NotADuration("30s".into()))),
            ("h", Err(WhenError::NotADuration("h".into()))),
            ("100000 weeks", Err(WhenError::TooFar)),
            ("99999999999999999999999m", Err(WhenError::TooFar)),
        ];
        for (s, want) in rows {
            assert_eq!(parse_duration(s), want, "{s:?}");
        }
    }

    #[test]
    fn error_messages_are_short_and_clear() {
        let now = z(WED);
        let msg = |s: &str| parse_when(s, &now).unwrap_err().to_string();
        assert_eq!(msg("31 feb"), "31 Feb is not a date");
        assert_eq!(msg("25:00"), "25:00 is not a time of day");
        assert_eq!(msg("2020-01-01"), "that is in the past");
        assert_eq!(msg("2040-01-01"), "that is more than 10 years ahead");
        assert_eq!(
            msg("5/12"),
            "`5/12` could be 5 Dec or May 12: write `5 dec` or `may 12`"
        );
        assert_eq!(msg("in -5m"), "`in -5m`: a duration must be positive");
        assert_eq!(msg("fri 5 dec"), "5 Dec 2026 is a Saturday, not a Friday");
        let long = msg(&"x".repeat(500));
        assert!(long.chars().count() < 150, "{long}");
    }

    #[test]
    fn results_are_on_whole_minutes() {
        let now = z("2026-12-02T10:15:30.123456789+01:00[Europe/Paris]");
        for phrase in [
            "in 1m",
            "in 3h",
            "in 2 days",
            "15:00",
            "fri",
            "tonight",
            "eom",
        ] {
            let w = parse_when(phrase, &now).unwrap();
            assert_eq!(
                (w.at.second(), w.at.subsec_nanosecond()),
                (0, 0),
                "{phrase}"
            );
            assert!(w.at > now || !w.has_time, "{phrase}");
        }
    }

    // --- properties -----------------------------------------------------------------

    const ZONES: [&str; 6] = [
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Asia/Kolkata",
        "Pacific/Kiritimati",
        "America/St_Johns",
    ];

    /// 2026-01-01 ± 50 years, in one of the zones.
    fn reference() -> impl Strategy<Value = Zoned> {
        const CENTER: i64 = 1_767_225_600;
        const HALF: i64 = 50 * 31_556_952;
        (CENTER - HALF..CENTER + HALF, 0..ZONES.len()).prop_map(|(s, i)| {
            jiff::Timestamp::from_second(s)
                .unwrap()
                .to_zoned(TimeZone::get(ZONES[i]).unwrap())
        })
    }

    fn phrases() -> impl Strategy<Value = String> {
        let atoms = prop_oneof![
            Just("by".to_owned()),
            Just("due".to_owned()),
            Just("on".to_owned()),
            Just("at".to_owned()),
            Just("in".to_owned()),
            Just("next".to_owned()),
            Just("today".to_owned()),
            Just("tonight".to_owned()),
            Just("tomorrow".to_owned()),
            Just("eom".to_owned()),
            Just("noon".to_owned()),
            Just("midnight".to_owned()),
            Just("end of month".to_owned()),
            "(mon|tue|wed|thu|fri|sat|sun)(day)?",
            "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
            "[0-9]{1,3}(st|nd|rd|th)?",
            "[0-9]{4}",
            "-?[0-9]{1,5} ?(m|h|d|w|min|hours|days|weeks)",
            "[0-9]{1,3}:[0-9]{1,3}(am|pm)?",
            "[0-9]{1,2} ?(am|pm)",
            "[0-9]{1,2}/[0-9]{1,2}(/[0-9]{2,4})?",
            "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(T[0-9]{1,2}:[0-9]{2})?",
            "\\PC{0,12}",
            "[,.;:!?\\-]{1,3}",
        ];
        prop::collection::vec(atoms, 0..10).prop_map(|v| v.join(" "))
    }

    fn check_resolved(w: &When, now: &Zoned) -> Result<(), TestCaseError> {
        let limit = now.checked_add(MAX_YEARS_AHEAD.years()).unwrap();
        prop_assert!(w.at.timestamp() <= limit.timestamp());
        if w.has_time {
            prop_assert!(w.at.timestamp() > now.timestamp());
        } else {
            prop_assert!(w.at.date() >= now.date());
            prop_assert_eq!(w.at.time(), DEFAULT_TIME);
        }
        prop_assert_eq!((w.at.second(), w.at.subsec_nanosecond()), (0, 0));
        prop_assert_eq!(w.at.time_zone(), now.time_zone());
        Ok(())
    }

    fn check_split(text: &str, now: &Zoned) -> Result<(), TestCaseError> {
        if let Ok((title, due)) = split_due(text, now) {
            prop_assert!(text.trim_start().starts_with(&title));
            prop_assert_eq!(title.trim(), title.as_str());
            match due {
                Some(w) => {
                    prop_assert!(!title.is_empty());
                    check_resolved(&w, now)?;
                }
                None => prop_assert_eq!(title.as_str(), text.trim()),
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}", now in reference()) {
            if let Ok(w) = parse_when(&text, &now) {
                check_resolved(&w, &now)?;
            }
            check_split(&text, &now)?;
            let _ = parse_duration(&text);
        }

        #[test]
        fn date_like_text_never_panics(text in phrases(), now in reference()) {
            if let Ok(w) = parse_when(&text, &now) {
                check_resolved(&w, &now)?;
            }
            check_split(&text, &now)?;
            check_split(&format!("Do the thing {text}"), &now)?;
            if let Ok(d) = parse_duration(&text) {
                prop_assert!(d.is_positive());
            }
        }

        #[test]
        fn a_found_date_is_what_parse_when_reads(title in "[A-Z][a-z]{1,8}( [a-z]{1,8}){0,3}", phrase in phrases(), now in reference()) {
            let text = format!("{title} {phrase}");
            if let Ok((t, Some(w))) = split_due(&text, &now) {
                let rest = text[t.len()..].trim_start_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c));
                prop_assert_eq!(parse_when(rest, &now), Ok(w));
            }
        }
    }
}
