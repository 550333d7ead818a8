//! Tasks: validated numbers and titles, the operations a person can apply to their own tasks
//! and what each operation did.

use std::fmt;
use std::num::NonZeroU32;

use jiff::{SignedDuration, Timestamp};

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
    #[error("at most {max} task numbers at once")]
    TooMany { max: usize },
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

/// Several task numbers, as typed: `1 2 5`, `1,2`, `3-6`, `#4 #7`; in the order typed,
/// each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNumbers(Vec<TaskNumber>);

impl TaskNumbers {
    /// More than this in one command is refused (`done 1-100000`).
    pub const MAX: usize = 100;

    /// # Errors
    /// The first token that is not a number or a range, or too many numbers.
    pub fn parse(raw: &str) -> Result<Self, TaskNumberError> {
        let mut out: Vec<TaskNumber> = Vec::new();
        let tokens = raw
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter(|t| !t.is_empty());
        // `# 3` (a hash apart from its number) is one number.
        let mut pending_hash = false;
        for token in tokens {
            if token == "#" {
                pending_hash = true;
                continue;
            }
            pending_hash = false;
            let range = token
                .split_once('-')
                .filter(|(a, b)| !a.trim_start_matches('#').is_empty() && !b.is_empty());
            let (lo, hi) = match range {
                Some((a, b)) => (TaskNumber::parse(a)?, TaskNumber::parse(b)?),
                None => {
                    let n = TaskNumber::parse(token)?;
                    (n, n)
                }
            };
            let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
            if (hi.get() - lo.get()) as usize >= Self::MAX {
                return Err(TaskNumberError::TooMany { max: Self::MAX });
            }
            for n in lo.get()..=hi.get() {
                let n = TaskNumber::new(n).expect("at least lo, which is not zero");
                if !out.contains(&n) {
                    if out.len() == Self::MAX {
                        return Err(TaskNumberError::TooMany { max: Self::MAX });
                    }
                    out.push(n);
                }
            }
        }
        if pending_hash || out.is_empty() {
            return Err(TaskNumberError::Missing);
        }
        Ok(Self(out))
    }

    pub fn one(n: TaskNumber) -> Self {
        Self(vec![n])
    }

    pub fn as_slice(&self) -> &[TaskNumber] {
        &self.0
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
    /// When that meeting ends (unknown for tasks filed before Botper kept it).
    pub end: Option<Timestamp>,
    /// The meeting's title as Webex last gave it (unknown for tasks filed before Botper
    /// kept it): a task still called that follows a rename; one the person renamed keeps
    /// their title.
    pub title: Option<String>,
    /// The meeting was cancelled in Webex: its task was closed for that reason.
    pub cancelled: bool,
}

/// A change Webex reported to a meeting that has a task (a `meetings` `updated` or
/// `deleted` event), as the task should follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingChange {
    /// The meeting as Webex now has it: its title, join link, (next) start and end.
    Now {
        title: TaskTitle,
        web_link: String,
        start: Timestamp,
        end: Timestamp,
    },
    Cancelled,
}

impl MeetingChange {
    /// The task as it becomes when its meeting changes, or `None` when it stays as it is:
    /// a done task (cancelled ones included) is never reopened or renamed, so a late or
    /// out-of-order `updated` can never bring back a cancelled meeting's task.
    pub fn apply_to(&self, task: &Task) -> Option<Task> {
        let link = task.meeting.as_ref()?;
        if task.done || link.cancelled {
            return None;
        }
        let mut next = task.clone();
        match self {
            Self::Now {
                title,
                web_link,
                start,
                end,
            } => {
                // The person's own `edit` wins over the meeting's name.
                let follows_name = link
                    .title
                    .as_deref()
                    .is_none_or(|was| was == task.title.as_str());
                let known = link.title.as_deref() == Some(title.as_str());
                if (!follows_name || &task.title == title)
                    && known
                    && &link.web_link == web_link
                    && link.start == Some(*start)
                    && link.end == Some(*end)
                {
                    return None;
                }
                if follows_name {
                    next.title = title.clone();
                }
                next.meeting = Some(MeetingLink {
                    web_link: web_link.clone(),
                    start: Some(*start),
                    end: Some(*end),
                    title: Some(title.as_str().to_owned()),
                    ..link.clone()
                });
            }
            Self::Cancelled => {
                next.done = true;
                next.meeting = Some(MeetingLink {
                    cancelled: true,
                    ..link.clone()
                });
            }
        }
        Some(next)
    }
}

/// When a task is due: an instant, and whether the person gave a time of day (a date alone
/// is shown without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: Timestamp,
    pub has_time: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub number: TaskNumber,
    pub title: TaskTitle,
    pub done: bool,
    pub created_at: Timestamp,
    pub meeting: Option<MeetingLink>,
    pub due: Option<Due>,
    /// A reminder the person set (`remind`, `snooze`); without one, the task reminds at its
    /// due time or before its meeting (see [`Task::reminder_at`]).
    pub remind_at: Option<Timestamp>,
}

/// How long before a task's due time (or its meeting's start) the default reminder comes;
/// `remind default 15m` / `remind default off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReminderLead {
    /// At the due time by default.
    #[default]
    AtDue,
    Before(SignedDuration),
    Off,
}

/// A meeting's task reminds at least this long before the meeting starts.
pub const MEETING_LEAD: SignedDuration = SignedDuration::from_mins(10);

impl ReminderLead {
    fn before(self) -> Option<SignedDuration> {
        match self {
            Self::AtDue => Some(SignedDuration::ZERO),
            Self::Before(d) => Some(d),
            Self::Off => None,
        }
    }

    /// Minutes for storage: `None` for the default, -1 for off.
    pub fn to_minutes(self) -> Option<i64> {
        match self {
            Self::AtDue => None,
            Self::Before(d) => Some(d.as_mins()),
            Self::Off => Some(-1),
        }
    }

    pub fn from_minutes(m: Option<i64>) -> Self {
        match m {
            None | Some(0) => Self::AtDue,
            Some(m) if m < 0 => Self::Off,
            Some(m) => Self::Before(SignedDuration::from_mins(m)),
        }
    }
}

impl Task {
    /// When this task reminds its owner: the reminder they set, else (with `lead`) before
    /// its meeting starts (at least [`MEETING_LEAD`]) or at its due time minus the lead
    /// (a due date without a time of day does not remind). Done tasks never remind.
    pub fn reminder_at(&self, lead: ReminderLead) -> Option<Timestamp> {
        if self.done {
            return None;
        }
        if self.remind_at.is_some() {
            return self.remind_at;
        }
        let before = lead.before()?;
        if let Some(start) = self.meeting.as_ref().and_then(|m| m.start) {
            return start.checked_sub(before.max(MEETING_LEAD)).ok();
        }
        let due = self.due.filter(|d| d.has_time)?;
        due.at.checked_sub(before).ok()
    }
}

/// A change a person makes to their own tasks. Ownership is by construction: numbers are
/// per person, so an operation can only ever reach the owner's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOp {
    Create {
        title: TaskTitle,
        meeting: Option<MeetingLink>,
        due: Option<Due>,
        /// A reminder set with the task (`remind me in 20m to …`).
        remind_at: Option<Timestamp>,
    },
    Complete(TaskNumber),
    Delete(TaskNumber),
    /// A new title; the due date, reminder and meeting link stay.
    Edit(TaskNumber, TaskTitle),
    /// Sets (or, with `None`, clears) the due date.
    SetDue(TaskNumber, Option<Due>),
    /// Sets (or, with `None`, clears) the reminder (`remind`, `snooze`). A done task keeps
    /// none.
    Remind(TaskNumber, Option<Timestamp>),
    /// Reverts the person's most recent change that is not undone yet.
    Undo,
    /// The task filed for meeting `meeting_id` follows a change Webex reported (not the
    /// person's own change: `undo` does not go back through it).
    FollowMeeting {
        meeting_id: String,
        change: MeetingChange,
    },
}

/// A change that `undo` reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undone {
    /// The task was added; it is removed again.
    Added,
    /// It was marked done; it is open again.
    Completed,
    /// It was deleted; it is back, with its number.
    Deleted,
    /// It was renamed; `from` is the title it had until the undo.
    Edited { from: TaskTitle },
    /// Its due date was changed; `from` is the one it had until the undo.
    DueChanged { from: Option<Due> },
    /// Its reminder was changed; `from` is the one it had until the undo.
    ReminderChanged { from: Option<Timestamp> },
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
    /// The title changed from `before`; `task` is the task as it is now.
    Edited {
        task: Task,
        before: TaskTitle,
    },
    /// The due date changed from `before`.
    DueSet {
        task: Task,
        before: Option<Due>,
    },
    /// The reminder changed from `before`.
    Reminded {
        task: Task,
        before: Option<Timestamp>,
    },
    /// `undo` reverted `change`; `task` is the task as it is now.
    Undid {
        change: Undone,
        task: Task,
    },
    NothingToUndo,
    NotFound(TaskNumber),
    /// The meeting's task now has its new title, link or start; `before` is the task as
    /// it was.
    MeetingMoved {
        task: Task,
        before: Box<Task>,
    },
    /// The meeting was cancelled: its task is closed as cancelled.
    MeetingCancelled(Task),
    /// Nothing to follow: no live task for the meeting, a done one, or nothing changed.
    MeetingUnchanged,
}

impl TaskOutcome {
    /// The task the outcome is about, when there is one.
    pub fn task(&self) -> Option<&Task> {
        match self {
            Self::Created(t)
            | Self::AlreadyLinked(t)
            | Self::Completed(t)
            | Self::AlreadyDone(t)
            | Self::Deleted(t)
            | Self::Edited { task: t, .. }
            | Self::DueSet { task: t, .. }
            | Self::Reminded { task: t, .. }
            | Self::Undid { task: t, .. }
            | Self::MeetingMoved { task: t, .. }
            | Self::MeetingCancelled(t) => Some(t),
            Self::NotFound(_) | Self::NothingToUndo | Self::MeetingUnchanged => None,
        }
    }
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
    fn several_numbers_lists_ranges_and_hashes() {
        let got = |s: &str| {
            TaskNumbers::parse(s).map(|n| n.as_slice().iter().map(|n| n.get()).collect::<Vec<_>>())
        };
        assert_eq!(got("1 2 5"), Ok(vec![1, 2, 5]));
        assert_eq!(got("1,2"), Ok(vec![1, 2]));
        assert_eq!(got("1, 2 ,3"), Ok(vec![1, 2, 3]));
        assert_eq!(got("3-6"), Ok(vec![3, 4, 5, 6]));
        assert_eq!(got("#3-#5"), Ok(vec![3, 4, 5]));
        assert_eq!(got("6-4"), Ok(vec![4, 5, 6]));
        assert_eq!(got("#4 # 7"), Ok(vec![4, 7]));
        assert_eq!(got("2 2 1-3"), Ok(vec![2, 1, 3]));
        assert_eq!(got("12"), Ok(vec![12]));
        assert_eq!(got(""), Err(TaskNumberError::Missing));
        assert_eq!(got(" , "), Err(TaskNumberError::Missing));
        assert_eq!(got("#"), Err(TaskNumberError::Missing));
        assert_eq!(got("1 abc"), Err(TaskNumberError::NotANumber("abc".into())));
        assert_eq!(got("0-3"), Err(TaskNumberError::Zero));
        assert_eq!(got("-1"), Err(TaskNumberError::NotANumber("-1".into())));
        assert_eq!(got("1-"), Err(TaskNumberError::NotANumber("1-".into())));
        assert_eq!(
            got("1-100000"),
            Err(TaskNumberError::TooMany {
                max: TaskNumbers::MAX
            })
        );
        assert_eq!(got("1-100").map(|v| v.len()), Ok(100));
        assert_eq!(
            got("1-100 101"),
            Err(TaskNumberError::TooMany {
                max: TaskNumbers::MAX
            })
        );
    }

    fn meeting_task(done: bool, cancelled: bool) -> Task {
        Task {
            number: TaskNumber::new(4).unwrap(),
            title: TaskTitle::parse("Standup").unwrap(),
            done,
            created_at: Timestamp::UNIX_EPOCH,
            meeting: Some(MeetingLink {
                meeting_id: "m1".into(),
                web_link: "https://example.webex.com/j/m1".into(),
                start: Some(Timestamp::from_second(1_000_000).unwrap()),
                end: None,
                title: Some("Standup".into()),
                cancelled,
            }),
            due: None,
            remind_at: None,
        }
    }

    #[test]
    fn a_moved_or_renamed_meeting_moves_and_renames_its_open_task() {
        let t = meeting_task(false, false);
        let later = Timestamp::from_second(1_003_600).unwrap();
        let moved = MeetingChange::Now {
            title: TaskTitle::parse("Standup (moved)").unwrap(),
            web_link: "https://example.webex.com/j/m1".into(),
            start: later,
            end: later + jiff::SignedDuration::from_mins(30),
        };
        let next = moved.apply_to(&t).unwrap();
        assert_eq!(next.title.as_str(), "Standup (moved)");
        assert_eq!(next.meeting.as_ref().unwrap().start, Some(later));
        assert_eq!(next.number, t.number);
        assert!(!next.done);
        // The same state again changes nothing (a repeated or older delivery tells no one).
        assert_eq!(moved.apply_to(&next), None);
    }

    #[test]
    fn a_task_the_person_renamed_keeps_their_title_when_the_meeting_is_renamed() {
        let mut t = meeting_task(false, false);
        t.title = TaskTitle::parse("Prepare the standup").unwrap();
        let at = Timestamp::from_second(1_000_000).unwrap();
        let renamed = MeetingChange::Now {
            title: TaskTitle::parse("Daily standup").unwrap(),
            web_link: "https://example.webex.com/j/m1".into(),
            start: at,
            end: at + jiff::SignedDuration::from_mins(15),
        };
        let next = renamed.apply_to(&t).unwrap();
        assert_eq!(next.title.as_str(), "Prepare the standup");
        assert_eq!(
            next.meeting.as_ref().unwrap().title.as_deref(),
            Some("Daily standup")
        );
        assert_eq!(renamed.apply_to(&next), None, "nothing more to follow");
        // A task from before Botper kept the meeting's title follows the rename, as before.
        let mut legacy = meeting_task(false, false);
        legacy.meeting.as_mut().unwrap().title = None;
        let next = renamed.apply_to(&legacy).unwrap();
        assert_eq!(next.title.as_str(), "Daily standup");
    }

    #[test]
    fn a_cancelled_meeting_closes_its_task_and_nothing_reopens_it() {
        let t = meeting_task(false, false);
        let closed = MeetingChange::Cancelled.apply_to(&t).unwrap();
        assert!(closed.done);
        assert!(closed.meeting.as_ref().unwrap().cancelled);
        assert_eq!(closed.reminder_at(ReminderLead::AtDue), None);
        assert_eq!(MeetingChange::Cancelled.apply_to(&closed), None);
        let late_update = MeetingChange::Now {
            title: TaskTitle::parse("Standup again").unwrap(),
            web_link: "https://example.webex.com/j/m1".into(),
            start: Timestamp::from_second(2_000_000).unwrap(),
            end: Timestamp::from_second(2_001_800).unwrap(),
        };
        assert_eq!(late_update.apply_to(&closed), None);
        // A task the person marked done stays as they left it, too.
        assert_eq!(late_update.apply_to(&meeting_task(true, false)), None);
        assert_eq!(
            MeetingChange::Cancelled.apply_to(&meeting_task(true, false)),
            None
        );
    }

    #[test]
    fn shorten_cuts_on_characters_not_bytes() {
        assert_eq!(shorten("ééé", 2), "éé…");
        assert_eq!(shorten("ab", 2), "ab");
    }
}
