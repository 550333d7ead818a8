//! Tasks: validated numbers and titles, the operations a person can apply to their own tasks
//! and what each operation did.

use std::fmt;
use std::num::NonZeroU32;

use jiff::Timestamp;

/// A task's short, per-person number. Numbers are never reused or renumbered: deleting #2
/// leaves #3 as it was, and the next task gets a fresh number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskNumber(NonZeroU32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskNumberError {
    #[error("a task number is missing")]
    Missing,
    #[error("`{0}` is not a task number")]
    NotANumber(String),
    #[error("task numbers start at 1")]
    Zero,
    #[error("`{0}` is too large to be a task number")]
    TooLarge(String),
}

impl TaskNumber {
    pub fn new(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(Self)
    }

    /// Parses what a person typed: `2`, `#2`, ` 2 `.
    pub fn parse(raw: &str) -> Result<Self, TaskNumberError> {
        let t = raw.trim();
        let digits = t.strip_prefix('#').unwrap_or(t).trim();
        if digits.is_empty() {
            return Err(TaskNumberError::Missing);
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(TaskNumberError::NotANumber(shorten(t, 40)));
        }
        let n: u32 = digits
            .parse()
            .map_err(|_| TaskNumberError::TooLarge(shorten(t, 40)))?;
        Self::new(n).ok_or(TaskNumberError::Zero)
    }

    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for TaskNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A task's title: trimmed, non-empty, at most [`TaskTitle::MAX_CHARS`] characters, any
/// Unicode kept exactly as typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskTitle(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskTitleError {
    #[error("a task needs a title")]
    Empty,
    #[error("titles are at most {max} characters (this one has {got})")]
    TooLong { max: usize, got: usize },
}

impl TaskTitle {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, TaskTitleError> {
        let cleaned = super::markdown::strip_bidi_controls(raw);
        let t = cleaned.trim();
        if t.is_empty() {
            return Err(TaskTitleError::Empty);
        }
        let got = t.chars().count();
        if got > Self::MAX_CHARS {
            return Err(TaskTitleError::TooLong {
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

/// The Webex meeting a task was filed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingLink {
    /// The meeting (series) id Webex gave the meeting; the key that links it to one task.
    pub meeting_id: String,
    /// The join link.
    pub web_link: String,
    pub start: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub number: TaskNumber,
    pub title: TaskTitle,
    pub done: bool,
    pub created_at: Timestamp,
    pub meeting: Option<MeetingLink>,
}

/// A change a person makes to their own tasks. Ownership is by construction: numbers are
/// per person, so an operation can only ever reach the owner's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOp {
    Create {
        title: TaskTitle,
        meeting: Option<MeetingLink>,
    },
    Complete(TaskNumber),
    Delete(TaskNumber),
}

/// What a [`TaskOp`] did. A store that is asked to apply the same operation twice under one
/// idempotency key answers with the first outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    Created(Task),
    /// A `Create` carried a meeting that already has a task: nothing new was filed.
    AlreadyLinked(Task),
    Completed(Task),
    AlreadyDone(Task),
    Deleted(Task),
    NotFound(TaskNumber),
}

pub(crate) fn shorten(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_accept_plain_and_hash_forms() {
        assert_eq!(TaskNumber::parse("2").unwrap().get(), 2);
        assert_eq!(TaskNumber::parse(" #17 ").unwrap().get(), 17);
        assert_eq!(TaskNumber::parse("# 3").unwrap().get(), 3);
    }

    #[test]
    fn bad_numbers_say_why() {
        assert_eq!(TaskNumber::parse(""), Err(TaskNumberError::Missing));
        assert_eq!(TaskNumber::parse("#"), Err(TaskNumberError::Missing));
        assert_eq!(TaskNumber::parse("0"), Err(TaskNumberError::Zero));
        assert_eq!(
            TaskNumber::parse("abc"),
            Err(TaskNumberError::NotANumber("abc".into()))
        );
        assert_eq!(
            TaskNumber::parse("-1"),
            Err(TaskNumberError::NotANumber("-1".into()))
        );
        assert_eq!(
            TaskNumber::parse("2.5"),
            Err(TaskNumberError::NotANumber("2.5".into()))
        );
        assert_eq!(
            TaskNumber::parse("99999999999"),
            Err(TaskNumberError::TooLarge("99999999999".into()))
        );
    }

    #[test]
    fn titles_are_trimmed_and_keep_unicode_as_typed() {
        assert_eq!(
            TaskTitle::parse("  Buy milk ").unwrap().as_str(),
            "Buy milk"
        );
        let t = "Café ☕ — 日本語 👩‍👩‍👧";
        assert_eq!(TaskTitle::parse(t).unwrap().as_str(), t);
    }

    #[test]
    fn empty_and_oversize_titles_are_refused() {
        assert_eq!(TaskTitle::parse(" \t\n "), Err(TaskTitleError::Empty));
        let ok = "é".repeat(500);
        assert!(TaskTitle::parse(&ok).is_ok());
        let long = "é".repeat(501);
        assert_eq!(
            TaskTitle::parse(&long),
            Err(TaskTitleError::TooLong { max: 500, got: 501 })
        );
    }

    #[test]
    fn titles_lose_bidi_controls() {
        assert_eq!(
            TaskTitle::parse("\u{202E}Pay rent\u{202C}")
                .unwrap()
                .as_str(),
            "Pay rent"
        );
        assert_eq!(
            TaskTitle::parse("\u{2066} \u{2069}"),
            Err(TaskTitleError::Empty)
        );
    }

    #[test]
    fn shorten_cuts_on_characters_not_bytes() {
        assert_eq!(shorten("ééé", 2), "éé…");
        assert_eq!(shorten("ab", 2), "ab");
    }
}
