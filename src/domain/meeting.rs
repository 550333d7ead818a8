//! Meetings as the core sees them: what a person asks for (`meeting Team Standup at 15:00
//! for 45m`), when that is in their time zone, and the rule that links a meeting to exactly
//! one task.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};

use super::RoomId;
use super::mention::Mentioned;
use super::recurrence::{Recurrence, RecurrenceEnd, RecurrenceError, looks_like_repeat};
use super::task::Task;

/// The integration tag on every meeting Botper creates.
pub const BOTPER_TAG: &str = "botper";

/// A meeting title: trimmed, 1 to 128 characters (Webex's limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingTitle(String);

impl MeetingTitle {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, MeetingError> {
        let cleaned = super::markdown::strip_bidi_controls(raw);
        let t = cleaned.trim();
        if t.is_empty() {
            return Err(MeetingError::NoTitle);
        }
        let got = t.chars().count();
        if got > Self::MAX_CHARS {
            return Err(MeetingError::TitleTooLong {
                max: Self::MAX_CHARS,
                got,
            });
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Today,
    Tomorrow,
    On(Date),
}

/// What a person typed after `meeting`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRequest {
    pub title: MeetingTitle,
    pub day: Option<Day>,
    pub at: Option<Time>,
    /// Minutes; `None` means the default.
    pub minutes: Option<u32>,
    /// `every …`: a series, sent as Webex's `recurrence`.
    pub repeat: Option<Recurrence>,
    /// `with bob@example.com, carol@example.com`: invited by email (no repeats).
    pub invitees: Vec<String>,
    /// `using <template name>`: created from one of the person's Webex templates.
    pub template: Option<String>,
    /// `with @Bob` / `with everyone` in a group space: invited once their addresses are
    /// looked up (see [`MeetingRequest::take_guests`]).
    pub guests: Guests,
}

/// People `with …` names who are invited by their Webex address, looked up before the
/// meeting is created: @mentioned people, or everyone in the space.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Guests {
    /// The people @mentioned after `with`.
    pub people: Vec<Mentioned>,
    /// `with everyone`: the members of this space.
    pub everyone_in: Option<RoomId>,
}

impl Guests {
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.everyone_in.is_none()
    }
}

/// A Webex meeting template the person may create meetings from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingTemplate {
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

/// No single template answers to the name asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateMiss {
    pub asked: String,
    /// The names the request could mean (empty: none comes close).
    pub ambiguous: Vec<String>,
}

fn normalize_name(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The template `asked` names: the one whose name is the same (ignoring case and spacing),
/// else the only one whose name starts with it.
///
/// # Errors
/// A [`TemplateMiss`] when none or several match.
pub fn pick_template<'a>(
    templates: &'a [MeetingTemplate],
    asked: &str,
) -> Result<&'a MeetingTemplate, TemplateMiss> {
    let want = normalize_name(asked);
    let exact: Vec<&MeetingTemplate> = templates
        .iter()
        .filter(|t| normalize_name(&t.name) == want)
        .collect();
    let candidates = if exact.is_empty() {
        templates
            .iter()
            .filter(|t| normalize_name(&t.name).starts_with(&want))
            .collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        many => Err(TemplateMiss {
            asked: asked.to_owned(),
            ambiguous: many.iter().map(|t| t.name.clone()).collect(),
        }),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeetingError {
    #[error("a meeting needs a title")]
    NoTitle,
    #[error("meeting titles are at most {max} characters (this one has {got})")]
    TitleTooLong { max: usize, got: usize },
    #[error("`{0}` is given twice")]
    Repeated(&'static str),
    #[error("a meeting lasts from 10 minutes to 23 h 59 min")]
    BadDuration,
    #[error("that time has already passed")]
    InThePast,
    #[error("that date is too far ahead")]
    TooFar,
    #[error("{0}")]
    Repeat(#[from] RecurrenceError),
    #[error("`{0}` is not an email address")]
    BadEmail(String),
    #[error("a meeting has at most {max} invitees (this one has {got})")]
    TooManyInvitees { max: usize, got: usize },
    #[error("template names are at most {max} characters")]
    TemplateNameTooLong { max: usize },
    #[error(
        "`with everyone` invites the members of a group space; here, name their email addresses"
    )]
    EveryoneOnlyInGroups,
}

/// A resolved time slot: the meeting, or the first of its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub start: Zoned,
    pub end: Zoned,
    pub series: Option<Series>,
    /// Who was invited by email.
    pub invited: Vec<String>,
}

/// A series as sent to Webex and as said back to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The RRULE without its `RRULE:` prefix.
    pub rrule: String,
    /// The rule in words (`every weekday, 10 times`).
    pub words: String,
}

impl MeetingRequest {
    /// Webex's limit.
    pub const MAX_INVITEES: usize = 1000;
    pub const MAX_TEMPLATE_NAME: usize = 128;
    pub const DEFAULT_MINUTES: u32 = 30;
    pub const DEFAULT_LEAD_MINUTES: i64 = 5;

    /// Parses `Team Standup`, `Team Standup at 15:00`, `Review tomorrow at 9:30 for 1h`,
    /// `Retro on 2026-12-01 at 14:00 for 45m`. Options are read from the end; words that do
    /// not form an option stay in the title (`Lunch at noon` is a title).
    pub fn parse(raw: &str) -> Result<Self, MeetingError> {
        let words: Vec<(usize, &str)> = word_offsets(raw);
        let mut end = words.len();
        let (mut day, mut at, mut minutes) = (None, None, None);
        let (mut repeat, mut stop) = (None::<Recurrence>, None::<RecurrenceEnd>);
        let mut invitees: Option<Vec<String>> = None;
        let mut template: Option<String> = None;
        loop {
            if end >= 2 {
                let (kw, value) = (words[end - 2].1.to_lowercase(), words[end - 1].1);
                let parsed = match kw.as_str() {
                    "at" => parse_time(value).map(|t| set(&mut at, t, "at")),
                    "for" => parse_minutes(value).map(|m| set(&mut minutes, m, "for")),
                    "on" => parse_date(value).map(|d| set(&mut day, Day::On(d), "on")),
                    "until" => {
                        parse_date(value).map(|d| set(&mut stop, RecurrenceEnd::Until(d), "until"))
                    }
                    n if value.eq_ignore_ascii_case("times") => {
                        n.parse::<u32>().ok().map(|n| match u16::try_from(n) {
                            Ok(c) if (1..=super::recurrence::MAX_COUNT).contains(&c) => {
                                set(&mut stop, RecurrenceEnd::Count(c), "times")
                            }
                            _ => Err(RecurrenceError::BadCount.into()),
                        })
                    }
                    _ => None,
                };
                if let Some(result) = parsed {
                    result?;
                    end -= 2;
                    continue;
                }
            }
            if end >= 1 {
                let d = match words[end - 1].1.to_lowercase().as_str() {
                    "today" => Some(Day::Today),
                    "tomorrow" => Some(Day::Tomorrow),
                    _ => None,
                };
                if let Some(d) = d {
                    set(&mut day, d, "day")?;
                    end -= 1;
                    continue;
                }
            }
            // `with a@x.com, b@y.org` up to the options read so far.
            if invitees.is_none()
                && let Some(k) = words[..end]
                    .iter()
                    .rposition(|(_, w)| w.eq_ignore_ascii_case("with"))
                && let Some(list) = email_list(words[k + 1..end].iter().map(|(_, w)| *w))
            {
                let list = list?;
                if list.len() > Self::MAX_INVITEES {
                    return Err(MeetingError::TooManyInvitees {
                        max: Self::MAX_INVITEES,
                        got: list.len(),
                    });
                }
                invitees = Some(list);
                end = k;
                continue;
            }
            // A bare time (`tomorrow 15:00`, `9:30am`).
            if end >= 1
                && at.is_none()
                && words[end - 1]
                    .1
                    .contains(|c: char| c == ':' || c.is_ascii_alphabetic())
                && let Some(t) = parse_time(words[end - 1].1)
            {
                at = Some(t);
                end -= 1;
                continue;
            }
            // `using <template name>` up to the options read so far (never the first word:
            // `meeting Using git` is a title).
            if template.is_none()
                && let Some(k) = words[..end]
                    .iter()
                    .rposition(|(_, w)| w.eq_ignore_ascii_case("using"))
                && k > 0
                // `Tools we are using`: no name after it, so part of the title.
                && k + 1 < end
                // `using Standard every weekday`: the series is read first.
                && !words[k + 1..end].windows(2).any(|p| {
                    p[0].1.eq_ignore_ascii_case("every") && looks_like_repeat(p[1].1)
                })
            {
                let from = words.get(k + 1).map_or(raw.len(), |(at, _)| *at);
                let to = words.get(end).map_or(raw.len(), |(at, _)| *at);
                let name = raw[from.min(to)..to].trim();
                if name.chars().count() > Self::MAX_TEMPLATE_NAME {
                    return Err(MeetingError::TemplateNameTooLong {
                        max: Self::MAX_TEMPLATE_NAME,
                    });
                }
                template = Some(name.to_owned());
                end = k;
                continue;
            }
            // `every …` up to the options read so far.
            if repeat.is_none()
                && let Some(k) = words[..end]
                    .iter()
                    .rposition(|(_, w)| w.eq_ignore_ascii_case("every"))
                && words.get(k + 1).is_some_and(|(_, w)| looks_like_repeat(w))
            {
                let phrase: Vec<&str> = words[k + 1..end].iter().map(|(_, w)| *w).collect();
                repeat = Some(Recurrence::parse_phrase(&phrase)?);
                end = k;
                continue;
            }
            break;
        }
        if let Some(stop) = stop {
            match repeat.as_mut() {
                Some(r) => r.end = Some(stop),
                None => return Err(RecurrenceError::EndWithoutRepeat.into()),
            }
        }
        let title_end = words.get(end).map_or(raw.len(), |(at, _)| *at);
        let title = MeetingTitle::parse(&raw[..title_end])?;
        if let Some(m) = minutes
            && !(10..=1439).contains(&m)
        {
            return Err(MeetingError::BadDuration);
        }
        Ok(Self {
            title,
            day,
            at,
            minutes,
            repeat,
            invitees: invitees.unwrap_or_default(),
            template,
            guests: Guests::default(),
        })
    }

    /// Reads `with @Bob, @Carol`, `with everyone` (addresses may stand among them) at the
    /// end of the title: Webex shows a mention in the text as the person's name, so the
    /// options parser left it there. Names are matched against `mentioned` (the message's
    /// mentions, the longest name first), never guessed; a `with` followed by anything
    /// else stays in the title (`Lunch with Bob`, unmentioned). `room` is the group space
    /// the message came from (`None` in 1:1, where `with everyone` is refused).
    ///
    /// # Errors
    /// `EveryoneOnlyInGroups`, `BadEmail`, `NoTitle` (nothing before `with`).
    pub fn take_guests(
        &mut self,
        mentioned: &[Mentioned],
        room: Option<&RoomId>,
    ) -> Result<(), MeetingError> {
        let title = self.title.as_str().to_owned();
        let mut by_length: Vec<&Mentioned> = mentioned.iter().collect();
        by_length.sort_by_key(|m| std::cmp::Reverse(m.shown.len()));
        // The last `with` whose rest reads as a guest list.
        let withs = word_offsets(&title)
            .into_iter()
            .filter(|(_, w)| w.eq_ignore_ascii_case("with"))
            .map(|(at, _)| at)
            .collect::<Vec<_>>();
        for at in withs.into_iter().rev() {
            let rest = &title[at + 4..];
            let Some(list) = guest_list(rest, &by_length) else {
                continue;
            };
            let mut guests = Guests::default();
            let mut emails = self.invitees.clone();
            for g in list {
                match g {
                    Guest::Person(m) => {
                        if !guests.people.contains(&m) {
                            guests.people.push(m);
                        }
                    }
                    Guest::Everyone => {
                        guests.everyone_in =
                            Some(room.cloned().ok_or(MeetingError::EveryoneOnlyInGroups)?);
                    }
                    Guest::Email(e) => {
                        if !valid_email(&e) {
                            return Err(MeetingError::BadEmail(e));
                        }
                        if !emails.iter().any(|x| x.eq_ignore_ascii_case(&e)) {
                            emails.push(e);
                        }
                    }
                }
            }
            if guests.is_empty() {
                // Addresses alone were read by the parser already; this is a title.
                return Ok(());
            }
            // The options before `with` (`Review tomorrow 15:00 with @Bob`) were left in
            // the title: read them now, beside those after the list.
            let head = Self::parse(&title[..at])?;
            for e in head.invitees {
                if !emails.iter().any(|x| x.eq_ignore_ascii_case(&e)) {
                    emails.push(e);
                }
            }
            *self = Self {
                title: head.title,
                day: one(head.day, self.day, "day")?,
                at: one(head.at, self.at, "at")?,
                minutes: one(head.minutes, self.minutes, "for")?,
                repeat: one(head.repeat, self.repeat.take(), "every")?,
                invitees: emails,
                template: one(head.template, self.template.take(), "using")?,
                guests,
            };
            return Ok(());
        }
        Ok(())
    }

    pub fn default_for(title: MeetingTitle) -> Self {
        Self {
            title,
            day: None,
            at: None,
            minutes: None,
            repeat: None,
            invitees: Vec::new(),
            template: None,
            guests: Guests::default(),
        }
    }

    /// The slot in `tz`: by default it starts 5 minutes from `now` (on a whole minute) and
    /// lasts 30 minutes; a time of day that has passed today means tomorrow.
    pub fn resolve(&self, now: Timestamp, tz: &TimeZone) -> Result<Slot, MeetingError> {
        let now_z = now.to_zoned(tz.clone());
        let minutes = i64::from(self.minutes.unwrap_or(Self::DEFAULT_MINUTES));
        let start = match (self.day, self.at) {
            (None, None) => {
                let lead = now_z
                    .checked_add(SignedDuration::from_mins(Self::DEFAULT_LEAD_MINUTES))
                    .map_err(|_| MeetingError::TooFar)?;
                round_up_to_minute(&lead)?
            }
            (day, at) => {
                let time = at.unwrap_or(Time::constant(9, 0, 0, 0));
                let date = match day {
                    None | Some(Day::Today) => now_z.date(),
                    Some(Day::Tomorrow) => {
                        now_z.date().tomorrow().map_err(|_| MeetingError::TooFar)?
                    }
                    Some(Day::On(d)) => d,
                };
                let mut z = date
                    .to_datetime(time)
                    .to_zoned(tz.clone())
                    .map_err(|_| MeetingError::TooFar)?;
                if z.timestamp() <= now {
                    if day.is_none() {
                        z = z.checked_add(1.day()).map_err(|_| MeetingError::TooFar)?;
                    } else {
                        return Err(MeetingError::InThePast);
                    }
                }
                z
            }
        };
        let (start, series) = match &self.repeat {
            Some(r) => {
                let first = r.first_meeting(&start)?;
                let series = Series {
                    rrule: r.rrule(&first),
                    words: r.describe(&first),
                };
                (first, Some(series))
            }
            None => (start, None),
        };
        if start.timestamp().duration_since(now) > SignedDuration::from_hours(24 * 365 * 5) {
            return Err(MeetingError::TooFar);
        }
        let end = start
            .checked_add(SignedDuration::from_mins(minutes))
            .map_err(|_| MeetingError::TooFar)?;
        Ok(Slot {
            start,
            end,
            series,
            invited: self.invitees.clone(),
        })
    }
}

/// The option given on one side of a `with` list, or neither; both is a repeat.
fn one<T>(a: Option<T>, b: Option<T>, name: &'static str) -> Result<Option<T>, MeetingError> {
    match (a, b) {
        (Some(_), Some(_)) => Err(MeetingError::Repeated(name)),
        (a, b) => Ok(a.or(b)),
    }
}

fn set<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), MeetingError> {
    if slot.is_some() {
        return Err(MeetingError::Repeated(name));
    }
    *slot = Some(value);
    Ok(())
}

/// The words of `s` with their byte offsets.
pub(crate) fn word_offsets(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(st)) => {
                out.push((st, &s[st..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st, &s[st..]));
    }
    out
}

/// The addresses after `with`, split on commas, spaces and `and`: `None` unless every part
/// looks meant as an address (has an `@`), so `with Bob` stays in the title; an error for
/// the first that is not valid. Repeats are dropped (case-insensitively).
fn email_list<'a>(
    words: impl Iterator<Item = &'a str>,
) -> Option<Result<Vec<String>, MeetingError>> {
    let parts: Vec<&str> = words
        .flat_map(|w| w.split([',', ';']))
        .map(|p| bare_address(p.trim().trim_end_matches('.')))
        .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("and") && *p != "&")
        .collect();
    if parts.is_empty() || parts.iter().any(|p| !p.contains('@')) {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        if !valid_email(p) {
            return Some(Err(MeetingError::BadEmail(p.to_owned())));
        }
        if !out.iter().any(|e| e.eq_ignore_ascii_case(p)) {
            out.push(p.to_owned());
        }
    }
    Some(Ok(out))
}

/// One name in a `with …` list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Guest {
    Person(Mentioned),
    Everyone,
    Email(String),
}

/// `rest` (the title after `with`) as a list of mentioned names, `everyone` and
/// addresses, separated by commas, `and` or `&`; `None` when any part is none of those.
fn guest_list(rest: &str, mentioned: &[&Mentioned]) -> Option<Vec<Guest>> {
    let boundary = |s: &str| {
        s.chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || ",;.&".contains(c))
    };
    let mut out = Vec::new();
    let mut s = rest;
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || ",;&".contains(c));
        if s.is_empty() {
            break;
        }
        if let Some(n) = prefix_ci(s, "and")
            && boundary(&s[n..])
            && !s[n..].trim().is_empty()
        {
            s = &s[n..];
            continue;
        }
        let name = s.strip_prefix('@').unwrap_or(s);
        if let Some((m, n)) = mentioned
            .iter()
            .filter(|m| !m.shown.is_empty())
            .find_map(|m| {
                prefix_ci(name, &m.shown)
                    .filter(|n| boundary(&name[*n..]))
                    .map(|n| (m, n))
            })
        {
            out.push(Guest::Person((*m).clone()));
            s = &name[n..];
            continue;
        }
        let end = s
            .find(|c: char| c.is_whitespace() || ",;".contains(c))
            .unwrap_or(s.len());
        let word = s[..end].trim_end_matches('.');
        let bare = word.trim_start_matches('@');
        if bare.eq_ignore_ascii_case("everyone") || bare.eq_ignore_ascii_case("everybody") {
            out.push(Guest::Everyone);
        } else if word.contains('@') && !word.starts_with('@') {
            out.push(Guest::Email(bare_address(word).to_owned()));
        } else {
            return None;
        }
        s = &s[end..];
    }
    (!out.is_empty()).then_some(out)
}

/// The length in bytes of `s`'s start that equals `prefix` ignoring case, if it does.
fn prefix_ci(s: &str, prefix: &str) -> Option<usize> {
    let mut chars = s.char_indices();
    for p in prefix.chars() {
        let (_, c) = chars.next()?;
        if !c.to_lowercase().eq(p.to_lowercase()) {
            return None;
        }
    }
    Some(chars.next().map_or(s.len(), |(at, _)| at))
}

/// An address as typed, without `<…>` around it or a `mailto:` before it.
pub(crate) fn bare_address(p: &str) -> &str {
    let p = p.trim_start_matches('<').trim_end_matches('>');
    p.strip_prefix("mailto:").unwrap_or(p)
}

/// An address Webex can invite: `local@domain.tld`, the common subset of RFC 5321.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()));
    s.len() <= 254 && local_ok && domain_ok
}

/// `15:00`, `9:30`, `3pm`, `3:30pm`.
fn parse_time(s: &str) -> Option<Time> {
    let lower = s.to_lowercase();
    let (body, pm) = if let Some(b) = lower.strip_suffix("pm") {
        (b, Some(true))
    } else if let Some(b) = lower.strip_suffix("am") {
        (b, Some(false))
    } else {
        (lower.as_str(), None)
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?),
        None if pm.is_some() => (body.parse::<i8>().ok()?, 0),
        _ => return None,
    };
    let h = match pm {
        Some(true) if (1..=12).contains(&h) => h % 12 + 12,
        Some(false) if (1..=12).contains(&h) => h % 12,
        Some(_) => return None,
        None => h,
    };
    Time::new(h, m, 0, 0).ok()
}

/// `45m`, `45min`, `1h`, `1h30m`, `90` (minutes).
fn parse_minutes(s: &str) -> Option<u32> {
    let lower = s.to_lowercase();
    if let Ok(n) = lower.parse::<u32>() {
        return Some(n);
    }
    let (hours, rest) = match lower.split_once('h') {
        Some((h, rest)) => (h.parse::<u32>().ok()?, rest),
        None => (0, lower.as_str()),
    };
    let rest = rest
        .trim_end_matches("mins")
        .trim_end_matches("min")
        .trim_end_matches('m');
    let mins = if rest.is_empty() {
        0
    } else {
        rest.parse::<u32>().ok()?
    };
    let total = hours.checked_mul(60)?.checked_add(mins)?;
    (total > 0).then_some(total)
}

/// `2026-12-01`.
fn parse_date(s: &str) -> Option<Date> {
    s.parse::<Date>().ok()
}

fn round_up_to_minute(z: &Zoned) -> Result<Zoned, MeetingError> {
    let t = z.time();
    if t.second() == 0 && t.subsec_nanosecond() == 0 {
        return Ok(z.clone());
    }
    let down = z
        .with()
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .map_err(|_| MeetingError::TooFar)?;
    down.checked_add(1.minute())
        .map_err(|_| MeetingError::TooFar)
}

/// Which of the person's meetings `meetings` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingsWindow {
    Today,
    Tomorrow,
    /// Today and the six days after it.
    Week,
}

impl MeetingsWindow {
    /// `today`, `tomorrow`, `week`; nothing means today.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_lowercase().as_str() {
            "" | "today" => Some(Self::Today),
            "tomorrow" => Some(Self::Tomorrow),
            "week" | "this week" | "7 days" | "next 7 days" => Some(Self::Week),
            _ => None,
        }
    }

    /// The calendar days it covers in `tz`, as [`from`, `to`).
    pub fn range(self, now: Timestamp, tz: &TimeZone) -> (Timestamp, Timestamp) {
        let (first, days) = match self {
            Self::Today => (0, 1),
            Self::Tomorrow => (1, 1),
            Self::Week => (0, 7),
        };
        let midnight = now
            .to_zoned(tz.clone())
            .start_of_day()
            .unwrap_or_else(|_| now.to_zoned(tz.clone()));
        let at = |d: i64| {
            midnight
                .checked_add(d.days())
                .map_or(now + SignedDuration::from_hours(24 * d), |z| z.timestamp())
        };
        (at(first), at(first + days))
    }

    /// `today`, `tomorrow`, `this week`.
    pub fn words(self) -> &'static str {
        match self {
            Self::Today => "today",
            Self::Tomorrow => "tomorrow",
            Self::Week => "this week",
        }
    }
}

/// A meeting of the person's, as `meetings` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    pub title: String,
    pub web_link: String,
    pub start: Zoned,
    pub end: Zoned,
    /// The open task that carries it.
    pub task: Option<super::task::TaskNumber>,
}

/// What to do with a `meetings`/`created` event.
#[derive(Debug, Clone, PartialEq, Eq)]
// Made and matched once per event: boxing the task would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
pub enum LinkDecision {
    /// A task already carries this meeting: nothing to file.
    AlreadyFiled(Task),
    /// File a task. `tell_host` is false for meetings Botper itself created (the person
    /// already got a reply where they typed `meeting …`).
    File { tell_host: bool },
    /// The connected person is not the host (an invitation): not theirs to file.
    NotHost,
}

/// The meeting-to-task rule: one task per meeting and host, keyed on the meeting id.
pub fn decide_link(existing: Option<Task>, person_is_host: bool, tags: &[String]) -> LinkDecision {
    if !person_is_host {
        return LinkDecision::NotHost;
    }
    match existing {
        Some(task) => LinkDecision::AlreadyFiled(task),
        None => LinkDecision::File {
            tell_host: !tags.iter().any(|t| t == BOTPER_TAG),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{TaskNumber, TaskTitle};

    fn req(s: &str) -> MeetingRequest {
        MeetingRequest::parse(s).unwrap()
    }

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn now() -> Timestamp {
        // 13:02:30 in Paris (UTC+1 in winter).
        "2026-11-30T12:02:30Z".parse().unwrap()
    }

    #[test]
    fn plain_title_uses_the_defaults() {
        let r = req("Team Standup");
        assert_eq!(r.title.as_str(), "Team Standup");
        assert_eq!((r.day, r.at, r.minutes), (None, None, None));
    }

    #[test]
    fn options_are_read_from_the_end() {
        let r = req("Team Standup at 15:00 for 45m");
        assert_eq!(r.title.as_str(), "Team Standup");
        assert_eq!(r.at, Some(Time::constant(15, 0, 0, 0)));
        assert_eq!(r.minutes, Some(45));
        let r = req("Review tomorrow at 9:30 for 1h30m");
        assert_eq!(r.title.as_str(), "Review");
        assert_eq!(r.day, Some(Day::Tomorrow));
        assert_eq!(r.at, Some(Time::constant(9, 30, 0, 0)));
        assert_eq!(r.minutes, Some(90));
        let r = req("Retro on 2026-12-01 at 2pm");
        assert_eq!(r.day, Some(Day::On("2026-12-01".parse().unwrap())));
        assert_eq!(r.at, Some(Time::constant(14, 0, 0, 0)));
    }

    #[test]
    fn words_that_are_not_options_stay_in_the_title() {
        assert_eq!(req("Lunch at noon").title.as_str(), "Lunch at noon");
        assert_eq!(req("Plan for Q3").title.as_str(), "Plan for Q3");
        assert_eq!(
            req("Sync on  roadmap   at 10:00").title.as_str(),
            "Sync on  roadmap"
        );
    }

    #[test]
    fn bad_requests_say_why() {
        assert_eq!(MeetingRequest::parse("  "), Err(MeetingError::NoTitle));
        assert_eq!(
            MeetingRequest::parse("at 15:00"),
            Err(MeetingError::NoTitle)
        );
        assert_eq!(
            MeetingRequest::parse("X for 5m"),
            Err(MeetingError::BadDuration)
        );
        assert_eq!(
            MeetingRequest::parse("X for 25h"),
            Err(MeetingError::BadDuration)
        );
        assert_eq!(
            MeetingRequest::parse("X at 10:00 at 11:00"),
            Err(MeetingError::Repeated("at"))
        );
        let long = "t".repeat(129);
        assert!(matches!(
            MeetingRequest::parse(&long),
            Err(MeetingError::TitleTooLong { max: 128, got: 129 })
        ));
    }

    #[test]
    fn default_slot_starts_in_five_minutes_on_a_whole_minute() {
        let s = req("X").resolve(now(), &paris()).unwrap();
        assert_eq!(
            s.start.to_string(),
            "2026-11-30T13:08:00+01:00[Europe/Paris]"
        );
        assert_eq!(s.end.to_string(), "2026-11-30T13:38:00+01:00[Europe/Paris]");
    }

    #[test]
    fn a_time_is_in_the_persons_zone_and_a_past_time_means_tomorrow() {
        let s = req("X at 15:00 for 45m").resolve(now(), &paris()).unwrap();
        assert_eq!(
            s.start.to_string(),
            "2026-11-30T15:00:00+01:00[Europe/Paris]"
        );
        assert_eq!(s.end.to_string(), "2026-11-30T15:45:00+01:00[Europe/Paris]");
        let s = req("X at 9:00").resolve(now(), &paris()).unwrap();
        assert_eq!(
            s.start.to_string(),
            "2026-12-01T09:00:00+01:00[Europe/Paris]"
        );
    }

    #[test]
    fn an_explicit_day_in_the_past_is_refused() {
        assert_eq!(
            req("X today at 9:00").resolve(now(), &paris()),
            Err(MeetingError::InThePast)
        );
        assert_eq!(
            req("X on 2026-11-01").resolve(now(), &paris()),
            Err(MeetingError::InThePast)
        );
        assert_eq!(
            req("X on 2099-01-01").resolve(now(), &paris()),
            Err(MeetingError::TooFar)
        );
    }

    fn task() -> Task {
        Task {
            number: TaskNumber::new(1).unwrap(),
            title: TaskTitle::parse("x").unwrap(),
            done: false,
            created_at: now(),
            meeting: None,
            due: None,
            remind_at: None,
        }
    }

    #[test]
    fn link_rule_files_once_and_only_for_the_host() {
        let ours = vec![BOTPER_TAG.to_owned()];
        assert_eq!(decide_link(None, false, &[]), LinkDecision::NotHost);
        assert_eq!(
            decide_link(Some(task()), true, &ours),
            LinkDecision::AlreadyFiled(task())
        );
        assert_eq!(
            decide_link(None, true, &[]),
            LinkDecision::File { tell_host: true }
        );
        assert_eq!(
            decide_link(None, true, &ours),
            LinkDecision::File { tell_host: false }
        );
    }

    #[test]
    fn a_series_is_read_among_the_options_in_any_order() {
        let r = req("Standup every weekday at 9:00 for 15m");
        assert_eq!(r.title.as_str(), "Standup");
        assert_eq!(r.minutes, Some(15));
        let s = r.resolve(now(), &paris()).unwrap();
        // Monday 13:02: 9:00 has passed, so the first is Tuesday.
        assert_eq!(
            s.start.to_string(),
            "2026-12-01T09:00:00+01:00[Europe/Paris]"
        );
        let series = s.series.unwrap();
        assert_eq!(series.rrule, "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR");
        assert_eq!(series.words, "every weekday");

        let r = req("1:1 every 2 weeks on tue at 10:00 until 2027-03-01");
        assert_eq!(r.title.as_str(), "1:1");
        let s = r.resolve(now(), &paris()).unwrap();
        assert_eq!(s.start.date(), jiff::civil::date(2026, 12, 1));
        assert_eq!(
            s.series.unwrap().rrule,
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;UNTIL=20270301T225959Z"
        );

        let r = req("Board every month on the 1st 10 times at 14:00");
        let s = r.resolve(now(), &paris()).unwrap();
        assert_eq!(
            s.start.to_string(),
            "2026-12-01T14:00:00+01:00[Europe/Paris]"
        );
        assert_eq!(s.series.unwrap().words, "every month on the 1st, 10 times");
        // Every Monday, from a given date that is a Wednesday: the Monday after it.
        let s = req("Sync every monday on 2026-12-02 at 9:00")
            .resolve(now(), &paris())
            .unwrap();
        assert_eq!(s.start.date(), jiff::civil::date(2026, 12, 7));
    }

    #[test]
    fn every_in_a_title_stays_there_and_bad_series_are_refused() {
        assert_eq!(
            req("Review every detail").title.as_str(),
            "Review every detail"
        );
        assert!(req("Review every detail").repeat.is_none());
        assert_eq!(
            MeetingRequest::parse("Board every month on the 1st and 15th"),
            Err(MeetingError::Repeat(RecurrenceError::SeveralMonthDays))
        );
        assert_eq!(
            MeetingRequest::parse("Standup 10 times"),
            Err(MeetingError::Repeat(RecurrenceError::EndWithoutRepeat))
        );
        assert_eq!(
            MeetingRequest::parse("Standup every day 0 times"),
            Err(MeetingError::Repeat(RecurrenceError::BadCount))
        );
        assert_eq!(
            MeetingRequest::parse("Standup every day until 2027-01-01 10 times"),
            Err(MeetingError::Repeated("until"))
        );
        assert_eq!(
            MeetingRequest::parse("every day at 9:00"),
            Err(MeetingError::NoTitle)
        );
        assert!(matches!(
            MeetingRequest::parse("Standup every 2 fortnights"),
            Err(MeetingError::Repeat(RecurrenceError::Unreadable(_)))
        ));
        assert_eq!(
            req("Standup every day until 2026-11-01").resolve(now(), &paris()),
            Err(MeetingError::Repeat(RecurrenceError::EndsBeforeStart))
        );
    }

    #[test]
    fn invitees_are_emails_after_with_and_a_bad_one_is_refused() {
        let r = req("Review tomorrow 15:00 with bob@example.com, carol@example.com");
        assert_eq!(r.title.as_str(), "Review");
        assert_eq!(r.day, Some(Day::Tomorrow));
        assert_eq!(r.at, Some(Time::constant(15, 0, 0, 0)));
        assert_eq!(r.invitees, ["bob@example.com", "carol@example.com"]);
        let r = req("Plan with a@x.io and B@Y.org, b@y.org at 9:00 every monday");
        assert_eq!(r.invitees, ["a@x.io", "B@Y.org"]);
        assert!(r.repeat.is_some());
        assert_eq!(r.at, Some(Time::constant(9, 0, 0, 0)));
        // No address: the words are the title's.
        let r = req("Coffee with Bob");
        assert_eq!(r.title.as_str(), "Coffee with Bob");
        assert!(r.invitees.is_empty());
        assert_eq!(
            MeetingRequest::parse("Review with bob@example.com, carol@"),
            Err(MeetingError::BadEmail("carol@".into()))
        );
        assert_eq!(
            MeetingRequest::parse("Review with bob@@example.com"),
            Err(MeetingError::BadEmail("bob@@example.com".into()))
        );
        let many: Vec<String> = (0..1001).map(|i| format!("p{i}@example.com")).collect();
        assert_eq!(
            MeetingRequest::parse(&format!("All hands with {}", many.join(", "))),
            Err(MeetingError::TooManyInvitees {
                max: 1000,
                got: 1001
            })
        );
    }

    #[test]
    fn a_template_is_named_after_using_among_the_options() {
        let r = req("Board review using Quarterly Board tomorrow 15:00");
        assert_eq!(r.title.as_str(), "Board review");
        assert_eq!(r.template.as_deref(), Some("Quarterly Board"));
        assert_eq!(r.day, Some(Day::Tomorrow));
        assert_eq!(r.at, Some(Time::constant(15, 0, 0, 0)));
        let r = req("Sync with a@example.com using Standard every weekday");
        assert_eq!(r.title.as_str(), "Sync");
        assert_eq!(r.template.as_deref(), Some("Standard"));
        assert_eq!(r.invitees, vec!["a@example.com".to_owned()]);
        assert!(r.repeat.is_some());
        let r = req("Sync using Standard with a@example.com");
        assert_eq!(
            (r.template.as_deref(), r.invitees.len()),
            (Some("Standard"), 1)
        );
        assert_eq!(req("Using git well").template, None);
        assert_eq!(req("Using git well").title.as_str(), "Using git well");
        // Nothing after it: part of the title.
        let r = req("Tools we are using");
        assert_eq!((r.title.as_str(), r.template), ("Tools we are using", None));
        let r = req("Review using at 15:00");
        assert_eq!((r.title.as_str(), r.template), ("Review using", None));
        assert_eq!(r.at, Some(Time::constant(15, 0, 0, 0)));
        let long = format!("Review using {}", "t".repeat(129));
        assert_eq!(
            MeetingRequest::parse(&long),
            Err(MeetingError::TemplateNameTooLong { max: 128 })
        );
    }

    #[test]
    fn templates_are_picked_by_name_then_by_a_unique_prefix() {
        let t = |id: &str, name: &str| MeetingTemplate {
            id: id.into(),
            name: name.into(),
            is_default: false,
        };
        let all = [
            t("1", "Board Meeting"),
            t("2", "Board Meeting Extended"),
            t("3", "Standup"),
            t("4", "Training"),
        ];
        assert_eq!(pick_template(&all, "board  meeting").unwrap().id, "1");
        assert_eq!(pick_template(&all, "stand").unwrap().id, "3");
        assert_eq!(pick_template(&all, "Board Meeting Ext").unwrap().id, "2");
        let miss = pick_template(&all, "Board").unwrap_err();
        assert_eq!(
            miss.ambiguous,
            vec![
                "Board Meeting".to_owned(),
                "Board Meeting Extended".to_owned()
            ]
        );
        let miss = pick_template(&all, "Retro").unwrap_err();
        assert_eq!((miss.asked.as_str(), miss.ambiguous.len()), ("Retro", 0));
        assert!(pick_template(&[], "Standup").is_err());
    }

    #[test]
    fn meetings_windows_are_whole_days_in_the_persons_zone() {
        assert_eq!(MeetingsWindow::parse(""), Some(MeetingsWindow::Today));
        assert_eq!(MeetingsWindow::parse("Week"), Some(MeetingsWindow::Week));
        assert_eq!(MeetingsWindow::parse("monday"), None);
        let ts = |s: &str| s.parse::<Timestamp>().unwrap();
        // 13:02 in Paris on 30 Nov: today is from 23:00 UTC the day before.
        assert_eq!(
            MeetingsWindow::Today.range(now(), &paris()),
            (ts("2026-11-29T23:00:00Z"), ts("2026-11-30T23:00:00Z"))
        );
        assert_eq!(
            MeetingsWindow::Tomorrow.range(now(), &paris()),
            (ts("2026-11-30T23:00:00Z"), ts("2026-12-01T23:00:00Z"))
        );
        assert_eq!(
            MeetingsWindow::Week.range(now(), &TimeZone::UTC),
            (ts("2026-11-30T00:00:00Z"), ts("2026-12-07T00:00:00Z"))
        );
    }

    #[test]
    fn mentioned_people_and_everyone_after_with_are_guests() {
        let bob = Mentioned {
            person: "bob-id".into(),
            shown: "Bob Smith".into(),
        };
        let bo = Mentioned {
            person: "bo-id".into(),
            shown: "Bob".into(),
        };
        let carol = Mentioned {
            person: "carol-id".into(),
            shown: "Carol".into(),
        };
        let room = RoomId::new("room-1");
        let all = [bo.clone(), bob.clone(), carol.clone()];
        let take = |text: &str, room: Option<&RoomId>| {
            let mut r = req(text);
            r.take_guests(&all, room).map(|()| r)
        };
        // The longest mentioned name wins; `@` and separators are optional.
        let r = take(
            "Review with Bob Smith and @Carol tomorrow 15:00",
            Some(&room),
        )
        .unwrap();
        assert_eq!(r.title.as_str(), "Review");
        assert_eq!(r.guests.people, vec![bob.clone(), carol.clone()]);
        assert_eq!(r.guests.everyone_in, None);
        assert!(r.at.is_some());
        // Options before the list are read too; one given on both sides is a repeat.
        let r = take(
            "Review tomorrow at 15:00 for 45m with Bob Smith and Carol",
            Some(&room),
        )
        .unwrap();
        assert_eq!(r.title.as_str(), "Review");
        assert_eq!((r.day, r.minutes), (Some(Day::Tomorrow), Some(45)));
        assert!(r.at.is_some());
        assert_eq!(r.guests.people.len(), 2);
        assert_eq!(
            take("Review at 9:00 with Carol at 10:00", Some(&room)).unwrap_err(),
            MeetingError::Repeated("at")
        );
        // Addresses may stand among the names.
        let r = take("Review with Carol, dan@example.com", Some(&room)).unwrap();
        assert_eq!(r.invitees, vec!["dan@example.com".to_owned()]);
        assert_eq!(r.guests.people, vec![carol.clone()]);
        let r = take("Retro with everyone every monday at 9:00", Some(&room)).unwrap();
        assert_eq!(r.title.as_str(), "Retro");
        assert_eq!(r.guests.everyone_in, Some(room.clone()));
        assert!(r.repeat.is_some());
        // A name nobody mentioned stays in the title, and so does an earlier `with`.
        let r = take("Lunch with Dave", Some(&room)).unwrap();
        assert_eq!(r.title.as_str(), "Lunch with Dave");
        assert!(r.guests.is_empty());
        let r = take("Coffee with milk with Carol", Some(&room)).unwrap();
        assert_eq!(r.title.as_str(), "Coffee with milk");
        // `everyone` needs a group space; a bad address among names is refused.
        assert_eq!(
            take("Party with everyone", None).unwrap_err(),
            MeetingError::EveryoneOnlyInGroups
        );
        assert_eq!(
            take("Review with Carol and dan@bad", Some(&room)).unwrap_err(),
            MeetingError::BadEmail("dan@bad".into())
        );
        assert_eq!(
            take("with Carol", Some(&room)).unwrap_err(),
            MeetingError::NoTitle
        );
        // Unicode names and titles never split a character.
        let zoe = Mentioned {
            person: "zoe-id".into(),
            shown: "Zoë İnce".into(),
        };
        let mut r = req("Café with ZOË İnce");
        r.take_guests(std::slice::from_ref(&zoe), Some(&room))
            .unwrap();
        assert_eq!(r.title.as_str(), "Café");
        assert_eq!(r.guests.people, vec![zoe]);
    }

    #[test]
    fn email_addresses() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "o'neil@example.ie",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "a@b",
            "@b.com",
            "a@.com",
            "a@b.c",
            "a..b@c.com",
            ".a@b.com",
            "a@-b.com",
            "a b@c.com",
            "a@b.c0m",
            "a@b_c.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
