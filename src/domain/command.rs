//! The chat command grammar: one verb, then its argument. Parsing is separate from executing;
//! an unknown verb is a variant (answered with help), not an error.

use super::meeting::{MeetingError, MeetingRequest};
use super::task::{TaskNumber, TaskNumberError, TaskTitle, TaskTitleError, shorten};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Task(TaskTitle),
    /// The open tasks, with a card.
    List,
    /// Every open task, as text only.
    ListAll,
    Done(TaskNumber),
    Delete(TaskNumber),
    /// Create a Webex meeting with the person's own grant, and a task for it.
    Meeting(MeetingRequest),
    /// Whether the person's Webex account is connected, and until when.
    Status,
    /// Where to connect the person's Webex account.
    Connect,
    /// Remove the person's grant.
    Disconnect,
    Help,
    /// A verb Botper does not know; the reply names it and lists the commands.
    Unknown(String),
}

/// A command the person typed that cannot run as typed. Rendered as a reply, never logged as
/// a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    Title(#[from] TaskTitleError),
    #[error("`{verb}`: {error}")]
    Number {
        verb: &'static str,
        error: TaskNumberError,
    },
    #[error("{0}")]
    Meeting(#[from] MeetingError),
}

impl Command {
    /// A short name for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Command::Task(_) => "task",
            Command::List | Command::ListAll => "list",
            Command::Done(_) => "done",
            Command::Delete(_) => "delete",
            Command::Meeting(_) => "meeting",
            Command::Status => "status",
            Command::Connect => "connect",
            Command::Disconnect => "disconnect",
            Command::Help => "help",
            Command::Unknown(_) => "unknown",
        }
    }

    /// Parses the text of a message, after the bot's mention has been removed.
    /// Verbs are case-insensitive, whitespace around and between words is tolerated, and a
    /// leading `/` is accepted (`/list`).
    pub fn parse(text: &str) -> Result<Command, ParseError> {
        let text = text.trim();
        let (verb, rest) = match text.split_once(char::is_whitespace) {
            Some((v, r)) => (v, r.trim()),
            None => (text, ""),
        };
        let verb = verb.strip_prefix('/').unwrap_or(verb).to_lowercase();
        let number = |verb: &'static str| {
            TaskNumber::parse(rest).map_err(|error| ParseError::Number { verb, error })
        };
        match verb.as_str() {
            "task" | "todo" | "add" => Ok(Command::Task(TaskTitle::parse(rest)?)),
            "list" | "tasks" | "ls" if rest.eq_ignore_ascii_case("all") => Ok(Command::ListAll),
            "list" | "tasks" | "ls" => Ok(Command::List),
            "done" | "complete" => Ok(Command::Done(number("done")?)),
            "delete" | "remove" | "rm" => Ok(Command::Delete(number("delete")?)),
            "meeting" | "meet" | "schedule" => Ok(Command::Meeting(MeetingRequest::parse(rest)?)),
            "status" => Ok(Command::Status),
            "connect" | "login" => Ok(Command::Connect),
            "disconnect" | "logout" => Ok(Command::Disconnect),
            "" | "help" | "?" | "hi" | "hello" => Ok(Command::Help),
            _ => Ok(Command::Unknown(shorten(&verb, 40))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> TaskNumber {
        TaskNumber::new(v).unwrap()
    }

    #[test]
    fn task_takes_the_rest_of_the_text_as_title() {
        assert_eq!(
            Command::parse("task Buy milk"),
            Ok(Command::Task(TaskTitle::parse("Buy milk").unwrap()))
        );
        assert_eq!(
            Command::parse("  TASK    Buy   milk  "),
            Ok(Command::Task(TaskTitle::parse("Buy   milk").unwrap()))
        );
    }

    #[test]
    fn title_keeps_newlines_and_unicode_inside() {
        let c = Command::parse("Task\tÉcrire à Zoë\n2e ligne 🚀").unwrap();
        assert_eq!(
            c,
            Command::Task(TaskTitle::parse("Écrire à Zoë\n2e ligne 🚀").unwrap())
        );
    }

    #[test]
    fn task_without_title_is_an_error() {
        assert_eq!(
            Command::parse("task"),
            Err(ParseError::Title(TaskTitleError::Empty))
        );
        assert_eq!(
            Command::parse("task    "),
            Err(ParseError::Title(TaskTitleError::Empty))
        );
    }

    #[test]
    fn oversize_title_is_an_error() {
        let text = format!("task {}", "x".repeat(501));
        assert_eq!(
            Command::parse(&text),
            Err(ParseError::Title(TaskTitleError::TooLong {
                max: 500,
                got: 501
            }))
        );
    }

    #[test]
    fn list_ignores_case_and_extra_words() {
        assert_eq!(Command::parse("LIST"), Ok(Command::List));
        assert_eq!(Command::parse(" list please "), Ok(Command::List));
        assert_eq!(Command::parse("/list"), Ok(Command::List));
        assert_eq!(Command::parse("list ALL"), Ok(Command::ListAll));
    }

    #[test]
    fn done_and_delete_take_a_number() {
        assert_eq!(Command::parse("done 2"), Ok(Command::Done(n(2))));
        assert_eq!(Command::parse("Done   #12"), Ok(Command::Done(n(12))));
        assert_eq!(Command::parse("delete 3"), Ok(Command::Delete(n(3))));
        assert_eq!(Command::parse("DELETE\t3 "), Ok(Command::Delete(n(3))));
    }

    #[test]
    fn delete_with_a_word_instead_of_a_number_is_a_bad_number() {
        assert_eq!(
            Command::parse("delete abc"),
            Err(ParseError::Number {
                verb: "delete",
                error: TaskNumberError::NotANumber("abc".into())
            })
        );
    }

    #[test]
    fn done_without_number_or_with_zero_or_two_numbers_is_refused() {
        assert!(matches!(
            Command::parse("done"),
            Err(ParseError::Number {
                verb: "done",
                error: TaskNumberError::Missing
            })
        ));
        assert!(matches!(
            Command::parse("done 0"),
            Err(ParseError::Number {
                error: TaskNumberError::Zero,
                ..
            })
        ));
        assert!(matches!(
            Command::parse("done 2 3"),
            Err(ParseError::Number {
                error: TaskNumberError::NotANumber(_),
                ..
            })
        ));
    }

    #[test]
    fn meeting_status_connect_and_disconnect() {
        match Command::parse("Meeting  Team Standup at 15:00") {
            Ok(Command::Meeting(r)) => assert_eq!(r.title.as_str(), "Team Standup"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Command::parse("meeting"),
            Err(ParseError::Meeting(MeetingError::NoTitle))
        );
        assert_eq!(Command::parse("STATUS"), Ok(Command::Status));
        assert_eq!(Command::parse("connect"), Ok(Command::Connect));
        assert_eq!(Command::parse("disconnect"), Ok(Command::Disconnect));
    }

    #[test]
    fn help_empty_and_unknown() {
        assert_eq!(Command::parse("help"), Ok(Command::Help));
        assert_eq!(Command::parse("   "), Ok(Command::Help));
        assert_eq!(
            Command::parse("Frobnicate now"),
            Ok(Command::Unknown("frobnicate".into()))
        );
    }

    #[test]
    fn unknown_verb_is_shortened() {
        let long = "z".repeat(100);
        match Command::parse(&long) {
            Ok(Command::Unknown(v)) => assert_eq!(v.chars().count(), 41),
            other => panic!("unexpected {other:?}"),
        }
    }
}
