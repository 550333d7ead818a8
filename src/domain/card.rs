//! The task list as a card: what it shows and what its buttons mean. The Adaptive Card
//! JSON itself is a Webex wire format and lives in the Webex adapter; this is the model.

use super::ids::PersonId;
use super::task::{Task, TaskNumber, TaskNumberError};

/// At most this many tasks get buttons on one card; the rest are counted.
pub const CARD_MAX_ROWS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskListCard {
    /// Whose tasks these are: only they may press the buttons.
    pub owner: PersonId,
    pub kind: CardKind,
    pub heading: String,
    pub rows: Vec<CardRow>,
    /// Open tasks not shown on the card.
    pub hidden: usize,
}

/// Which buttons each row has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    /// `list`: Done, Snooze 1h, Delete.
    List,
    /// A reminder: Done, Snooze 1h, Tomorrow.
    Reminder,
}

impl CardKind {
    pub fn buttons(self) -> &'static [CardVerb] {
        match self {
            Self::List => &[CardVerb::Done, CardVerb::Snooze, CardVerb::Delete],
            Self::Reminder => &[CardVerb::Done, CardVerb::Snooze, CardVerb::Tomorrow],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRow {
    pub number: TaskNumber,
    /// The title as typed (the adapter escapes it for the card).
    pub title: String,
    pub join_link: Option<String>,
    /// When it is due, in the person's words and zone ("due Fri 5 Dec, 15:00 Europe/Paris").
    pub note: Option<String>,
}

/// The card for `owner`'s open tasks; `None` when there are none. `note` says when a task
/// is due.
pub fn task_list_card(
    owner: &PersonId,
    open: &[Task],
    note: impl Fn(&Task) -> Option<String>,
) -> Option<TaskListCard> {
    if open.is_empty() {
        return None;
    }
    let heading = match open.len() {
        1 => "Your open task".to_owned(),
        n => format!("Your {n} open tasks"),
    };
    Some(TaskListCard {
        owner: owner.clone(),
        kind: CardKind::List,
        heading,
        rows: open
            .iter()
            .take(CARD_MAX_ROWS)
            .map(|t| CardRow {
                number: t.number,
                title: t.title.as_str().to_owned(),
                join_link: t.meeting.as_ref().map(|m| m.web_link.clone()),
                note: note(t),
            })
            .collect(),
        hidden: open.len().saturating_sub(CARD_MAX_ROWS),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardVerb {
    Done,
    Delete,
    /// Remind again in an hour.
    Snooze,
    /// Remind again tomorrow morning.
    Tomorrow,
}

impl CardVerb {
    /// The button's label and the `action` its data carries.
    pub fn label_and_action(self) -> (&'static str, &'static str) {
        match self {
            Self::Done => ("Done", "done"),
            Self::Delete => ("Delete", "delete"),
            Self::Snooze => ("Snooze 1h", "snooze"),
            Self::Tomorrow => ("Tomorrow", "tomorrow"),
        }
    }
}

/// A button press, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCommand {
    pub verb: CardVerb,
    pub task: TaskNumber,
    /// Whose list the card showed.
    pub owner: PersonId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("the card did not say what to do")]
    NoAction,
    #[error("the card asked for `{0}`, which Botper does not know")]
    UnknownAction(String),
    #[error("the card's task number is not valid: {0}")]
    BadTask(TaskNumberError),
    #[error("the card does not say whose list it is")]
    NoOwner,
}

/// Reads the inputs of a submitted card (`action`, `task`, `owner`).
pub fn parse_submission(
    action: Option<&str>,
    task: Option<&str>,
    owner: Option<&str>,
) -> Result<CardCommand, CardError> {
    let verb = match action.map(str::trim) {
        None | Some("") => return Err(CardError::NoAction),
        Some("done") => CardVerb::Done,
        Some("delete") => CardVerb::Delete,
        Some("snooze") => CardVerb::Snooze,
        Some("tomorrow") => CardVerb::Tomorrow,
        Some(other) => {
            return Err(CardError::UnknownAction(super::task::shorten(other, 40)));
        }
    };
    let task = TaskNumber::parse(task.unwrap_or("")).map_err(CardError::BadTask)?;
    let owner = owner
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .ok_or(CardError::NoOwner)?;
    Ok(CardCommand {
        verb,
        task,
        owner: PersonId::new(owner),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::TaskTitle;

    fn task(n: u32) -> Task {
        Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(&format!("t{n}")).unwrap(),
            done: false,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            meeting: None,
            due: None,
            remind_at: None,
        }
    }

    #[test]
    fn at_most_ten_rows_the_rest_counted() {
        let open: Vec<Task> = (1..=13).map(task).collect();
        let c = task_list_card(&"p".into(), &open, |_| None).unwrap();
        assert_eq!(c.rows.len(), 10);
        assert_eq!(c.hidden, 3);
        assert_eq!(c.heading, "Your 13 open tasks");
        assert!(task_list_card(&"p".into(), &[], |_| None).is_none());
    }

    #[test]
    fn submissions_are_validated() {
        assert_eq!(
            parse_submission(Some("done"), Some("3"), Some("p1")),
            Ok(CardCommand {
                verb: CardVerb::Done,
                task: TaskNumber::new(3).unwrap(),
                owner: "p1".into()
            })
        );
        assert_eq!(
            parse_submission(None, Some("3"), Some("p")),
            Err(CardError::NoAction)
        );
        assert!(matches!(
            parse_submission(Some("explode"), Some("3"), Some("p")),
            Err(CardError::UnknownAction(_))
        ));
        assert!(matches!(
            parse_submission(Some("delete"), Some("x"), Some("p")),
            Err(CardError::BadTask(_))
        ));
        assert_eq!(
            parse_submission(Some("delete"), Some("2"), Some(" ")),
            Err(CardError::NoOwner)
        );
    }
}
