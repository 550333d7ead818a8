//! The chat command grammar: one verb, then its argument. Parsing is separate from executing;
//! an unknown verb is a variant (answered with help), not an error.

use super::meeting::{MeetingError, MeetingRequest, MeetingsWindow};
use super::task::{TaskNumber, TaskNumberError, TaskNumbers, TaskTitle, TaskTitleError, shorten};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Task(TaskTitle),
    /// The open tasks, with a card.
    List,
    /// Every open task, as text only.
    ListAll,
    /// `list done`, `list today`, `list overdue`, `list week`.
    ListOnly(ListFilter),
    Done(TaskNumbers),
    Delete(TaskNumbers),
    /// `edit <n> <new text>`.
    Edit(TaskNumber, TaskTitle),
    /// Revert the last change.
    Undo,
    /// `due <n> <when>`; `None` for `due <n> none`. The phrase is read against the
    /// person's clock and zone when it runs.
    Due(TaskNumber, Option<String>),
    /// `remind <n> <when>`; `None` for `remind <n> off`.
    Remind(TaskNumber, Option<String>),
    /// `remind me in 20m to call Bob` (`when` before `to`), or `remind me to call Bob at 5pm`
    /// (`when: None`: the date is read from the end of the title).
    RemindMe {
        when: Option<String>,
        title: TaskTitle,
    },
    /// `remind default 15m` / `remind default off`; `None` shows the default.
    RemindDefault(Option<String>),
    /// `snooze <n> [2h | tomorrow]`; `None` for an hour.
    Snooze(TaskNumber, Option<String>),
    Agenda(AgendaCommand),
    /// `tz` shows the zone, `tz Europe/Paris` sets it, `tz auto` forgets it.
    Tz(Option<String>),
    /// Create a Webex meeting with the person's own grant, and a task for it.
    Meeting(MeetingRequest),
    /// `meeting templates`: the person's Webex meeting templates.
    MeetingTemplates,
    /// `meet now`: an instant meeting for the group space, its link posted there.
    MeetNow,
    /// `meetings [today | tomorrow | week]`: the person's meetings, from Webex.
    Meetings(MeetingsWindow),
    /// `calendar`: the private address of the person's calendar feed; `calendar reset`
    /// (`true`) replaces it.
    Calendar {
        reset: bool,
    },
    /// Whether the person's Webex account is connected, and until when.
    Status,
    /// Where to connect the person's Webex account.
    Connect,
    /// Remove the person's grant.
    Disconnect,
    /// `admin …` (what follows `admin`, parsed once the sender is known to be an admin, so
    /// that a non-admin learns nothing from the answer).
    Admin(String),
    /// `export`: the person's data as files, in 1:1.
    Export,
    /// `forget me` (asks for confirmation), `forget me confirm` (erases).
    ForgetMe {
        confirm: bool,
    },
    Help,
    /// A verb Botper does not know; the reply names it and lists the commands.
    Unknown(String),
}

/// `agenda`, `agenda at 8:30 [every day]`, `agenda off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgendaCommand {
    Show,
    /// Send it every working day (or every day) at `time`, read when it runs.
    At {
        time: String,
        every_day: bool,
    },
    Off,
}

/// Which tasks a filtered `list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    /// Recently done tasks, newest first.
    Done,
    /// Open tasks due today (in the person's zone), overdue ones included.
    Today,
    /// Open tasks whose due moment has passed.
    Overdue,
    /// Open tasks due within the next 7 days (today included), overdue ones included.
    Week,
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
    /// `edit <n>` without a usable new title.
    #[error("{0}")]
    EditTitle(TaskTitleError),
    /// `due <n>` without a date.
    #[error("`due` needs a date after the number")]
    DueMissing,
    /// `remind` without what it needs.
    #[error(
        "`remind` needs a task number and a time: `remind 3 at 9:00`, `remind 3 in 2h`, \
         `remind me in 20m to call Bob`, or `remind default 15m`"
    )]
    RemindMissing,
    /// `remind me …` without a title after `to`.
    #[error("`remind me` needs what to remind you of: `remind me in 20m to call Bob`")]
    RemindMeTitle(TaskTitleError),
    #[error("`agenda` takes `at 8:30`, `at 8:30 every day` or `off` (or nothing, for today's)")]
    Agenda,
    #[error("`meetings` takes `today`, `tomorrow` or `week` (or nothing, for today's)")]
    MeetingsWindow,
    #[error("`calendar` takes `reset` (or nothing, for your calendar's address)")]
    Calendar,
    #[error("it is `forget me`, then `forget me confirm`")]
    Forget,
}

/// One line of a message and what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line as typed (trimmed), to name it in replies.
    pub text: String,
    pub command: Result<Command, ParseError>,
}

/// The most commands one message runs; the lines after it are named as not run.
pub const MAX_LINES: usize = 50;

/// `- x`, `* x`, `• x`, `1. x`, `1) x`: the item without its bullet.
fn bullet_item(line: &str) -> Option<&str> {
    let rest = if let Some(r) = line
        .strip_prefix('-')
        .or_else(|| line.strip_prefix('*'))
        .or_else(|| line.strip_prefix('•'))
    {
        r
    } else {
        let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || digits > 3 {
            return None;
        }
        line[digits..]
            .strip_prefix('.')
            .or_else(|| line[digits..].strip_prefix(')'))?
    };
    rest.starts_with(char::is_whitespace)
        .then(|| rest.trim())
        .filter(|r| !r.is_empty())
}

/// The verb of a line, lower-cased, without a leading `/`.
fn verb_of(line: &str) -> String {
    let verb = line.split_whitespace().next().unwrap_or("");
    verb.strip_prefix('/').unwrap_or(verb).to_lowercase()
}

fn is_task_verb(verb: &str) -> bool {
    matches!(verb, "task" | "todo" | "add")
}

/// A message of several lines: one command per line, in order. Lines that start with a
/// bullet (`-`, `*`, `•`, `1.`) right after a `task` line, or under a bare `task`, are more
/// tasks, so a pasted list becomes tasks. Blank lines are skipped.
pub fn parse_script(text: &str) -> Vec<Line> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() <= 1 {
        return vec![Line {
            text: text.trim().to_owned(),
            command: Command::parse(text),
        }];
    }
    let mut out = Vec::new();
    let mut in_tasks = false;
    for (i, line) in lines.iter().enumerate() {
        if let Some(item) = bullet_item(line) {
            let command = if in_tasks {
                TaskTitle::parse(item)
                    .map(Command::Task)
                    .map_err(ParseError::from)
            } else {
                Command::parse(item)
            };
            out.push(Line {
                text: (*line).to_owned(),
                command,
            });
            continue;
        }
        let verb = verb_of(line);
        in_tasks = is_task_verb(&verb);
        let bare = line.split_whitespace().count() == 1;
        let heads_a_list = lines
            .get(i + 1)
            .is_some_and(|next| bullet_item(next).is_some());
        if in_tasks && bare && heads_a_list {
            continue;
        }
        out.push(Line {
            text: (*line).to_owned(),
            command: Command::parse(line),
        });
    }
    out
}

impl Command {
    /// A short name for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Command::Task(_) => "task",
            Command::List | Command::ListAll | Command::ListOnly(_) => "list",
            Command::Done(_) => "done",
            Command::Delete(_) => "delete",
            Command::Edit(..) => "edit",
            Command::Undo => "undo",
            Command::Due(..) => "due",
            Command::Tz(_) => "tz",
            Command::Remind(..) | Command::RemindMe { .. } | Command::RemindDefault(_) => "remind",
            Command::Snooze(..) => "snooze",
            Command::Agenda(_) => "agenda",
            Command::Meeting(_) => "meeting",
            Command::MeetingTemplates => "meeting_templates",
            Command::MeetNow => "meet_now",
            Command::Meetings(_) => "meetings",
            Command::Calendar { .. } => "calendar",
            Command::Status => "status",
            Command::Connect => "connect",
            Command::Disconnect => "disconnect",
            Command::Admin(_) => "admin",
            Command::Export => "export",
            Command::ForgetMe { .. } => "forget",
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
        let numbers = |verb: &'static str| {
            TaskNumbers::parse(rest).map_err(|error| ParseError::Number { verb, error })
        };
        match verb.as_str() {
            "task" | "todo" | "add" => Ok(Command::Task(TaskTitle::parse(rest)?)),
            "list" | "tasks" | "ls" if rest.eq_ignore_ascii_case("all") => Ok(Command::ListAll),
            "list" | "tasks" | "ls" => Ok(match rest.to_lowercase().as_str() {
                "done" | "completed" => Command::ListOnly(ListFilter::Done),
                "today" => Command::ListOnly(ListFilter::Today),
                "overdue" | "late" => Command::ListOnly(ListFilter::Overdue),
                "week" | "this week" => Command::ListOnly(ListFilter::Week),
                _ => Command::List,
            }),
            "done" | "complete" => Ok(Command::Done(numbers("done")?)),
            "delete" | "remove" | "rm" => Ok(Command::Delete(numbers("delete")?)),
            "edit" | "rename" => {
                let (n, title) = match rest.split_once(char::is_whitespace) {
                    Some((n, t)) => (n, t.trim()),
                    None => (rest, ""),
                };
                let n = TaskNumber::parse(n).map_err(|error| ParseError::Number {
                    verb: "edit",
                    error,
                })?;
                let title = TaskTitle::parse(title).map_err(ParseError::EditTitle)?;
                Ok(Command::Edit(n, title))
            }
            "meeting" | "meet" | "schedule"
                if rest.eq_ignore_ascii_case("templates")
                    || rest.eq_ignore_ascii_case("template") =>
            {
                Ok(Command::MeetingTemplates)
            }
            "meet" | "meeting" if rest.eq_ignore_ascii_case("now") => Ok(Command::MeetNow),
            "meeting" | "meet" | "schedule" => Ok(Command::Meeting(MeetingRequest::parse(rest)?)),
            "meetings" if rest.eq_ignore_ascii_case("templates") => Ok(Command::MeetingTemplates),
            "meetings" => MeetingsWindow::parse(rest)
                .map(Command::Meetings)
                .ok_or(ParseError::MeetingsWindow),
            "calendar" | "ics" | "ical" => match rest.to_lowercase().as_str() {
                "" => Ok(Command::Calendar { reset: false }),
                "reset" | "new" => Ok(Command::Calendar { reset: true }),
                _ => Err(ParseError::Calendar),
            },
            "undo" => Ok(Command::Undo),
            "due" => {
                let (n, when) = match rest.split_once(char::is_whitespace) {
                    Some((n, w)) => (n, w.trim()),
                    None => (rest, ""),
                };
                let n = TaskNumber::parse(n)
                    .map_err(|error| ParseError::Number { verb: "due", error })?;
                let clear = matches!(
                    when.to_lowercase().as_str(),
                    "none" | "off" | "clear" | "never" | "-"
                );
                if when.is_empty() {
                    return Err(ParseError::DueMissing);
                }
                Ok(Command::Due(n, (!clear).then(|| when.to_owned())))
            }
            "remind" | "reminder" => parse_remind(rest),
            "snooze" => {
                let (n, when) = match rest.split_once(char::is_whitespace) {
                    Some((n, w)) => (n, w.trim()),
                    None => (rest, ""),
                };
                let n = TaskNumber::parse(n).map_err(|error| ParseError::Number {
                    verb: "snooze",
                    error,
                })?;
                Ok(Command::Snooze(
                    n,
                    (!when.is_empty()).then(|| when.to_owned()),
                ))
            }
            "agenda" | "today" => parse_agenda(rest),
            "tz" | "timezone" | "zone" => {
                Ok(Command::Tz((!rest.is_empty()).then(|| rest.to_owned())))
            }
            "status" => Ok(Command::Status),
            "connect" | "login" => Ok(Command::Connect),
            "disconnect" | "logout" => Ok(Command::Disconnect),
            "admin" => Ok(Command::Admin(rest.to_owned())),
            "export" if rest.is_empty() || rest.eq_ignore_ascii_case("my data") => {
                Ok(Command::Export)
            }
            "forget" => match rest.to_lowercase().split_whitespace().collect::<Vec<_>>()[..] {
                ["me"] => Ok(Command::ForgetMe { confirm: false }),
                ["me", "confirm"] => Ok(Command::ForgetMe { confirm: true }),
                _ => Err(ParseError::Forget),
            },
            "" | "help" | "?" | "hi" | "hello" => Ok(Command::Help),
            _ => Ok(Command::Unknown(shorten(&verb, 40))),
        }
    }
}

fn is_off(s: &str) -> bool {
    matches!(
        s.to_lowercase().as_str(),
        "off" | "none" | "no" | "never" | "clear" | "stop" | "-"
    )
}

fn parse_remind(rest: &str) -> Result<Command, ParseError> {
    let (first, tail) = match rest.split_once(char::is_whitespace) {
        Some((f, t)) => (f, t.trim()),
        None => (rest, ""),
    };
    match first.to_lowercase().as_str() {
        "" => Err(ParseError::RemindMissing),
        "default" => Ok(Command::RemindDefault(
            (!tail.is_empty()).then(|| tail.to_owned()),
        )),
        "me" => {
            let lower = tail.to_lowercase();
            let (when, title) = if let Some(t) = lower.strip_prefix("to ") {
                (None, &tail[tail.len() - t.len()..])
            } else if let Some(i) = lower.find(" to ") {
                (Some(tail[..i].trim().to_owned()), &tail[i + 4..])
            } else {
                return Err(ParseError::RemindMeTitle(
                    super::task::TaskTitleError::Empty,
                ));
            };
            let title = TaskTitle::parse(title).map_err(ParseError::RemindMeTitle)?;
            Ok(Command::RemindMe { when, title })
        }
        _ => {
            let n = TaskNumber::parse(first).map_err(|error| ParseError::Number {
                verb: "remind",
                error,
            })?;
            if tail.is_empty() {
                return Err(ParseError::RemindMissing);
            }
            Ok(Command::Remind(n, (!is_off(tail)).then(|| tail.to_owned())))
        }
    }
}

fn parse_agenda(rest: &str) -> Result<Command, ParseError> {
    let lower = rest.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    match words.as_slice() {
        [] | ["now"] | ["today"] => Ok(Command::Agenda(AgendaCommand::Show)),
        [off] if is_off(off) => Ok(Command::Agenda(AgendaCommand::Off)),
        ["at", rest @ ..] | ["daily", "at", rest @ ..] if !rest.is_empty() => {
            let (time, every_day) = match rest {
                [t @ .., "every", "day"] | [t @ .., "daily"] | [t @ .., "everyday"] => {
                    (t.join(" "), true)
                }
                [t @ .., "on", "weekdays"] | [t @ .., "weekdays"] => (t.join(" "), false),
                t => (t.join(" "), false),
            };
            if time.is_empty() {
                return Err(ParseError::Agenda);
            }
            Ok(Command::Agenda(AgendaCommand::At { time, every_day }))
        }
        _ => Err(ParseError::Agenda),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_snoozes_and_the_agenda_parse() {
        assert_eq!(
            Command::parse("remind 3 at 9:00"),
            Ok(Command::Remind(n(3), Some("at 9:00".into())))
        );
        assert_eq!(
            Command::parse("Remind #3 in 2h"),
            Ok(Command::Remind(n(3), Some("in 2h".into())))
        );
        assert_eq!(
            Command::parse("remind 3 off"),
            Ok(Command::Remind(n(3), None))
        );
        assert_eq!(Command::parse("remind 3"), Err(ParseError::RemindMissing));
        assert_eq!(Command::parse("remind"), Err(ParseError::RemindMissing));
        assert!(matches!(
            Command::parse("remind abc tomorrow"),
            Err(ParseError::Number { verb: "remind", .. })
        ));
        assert_eq!(
            Command::parse("remind me in 20m to call Bob"),
            Ok(Command::RemindMe {
                when: Some("in 20m".into()),
                title: TaskTitle::parse("call Bob").unwrap()
            })
        );
        assert_eq!(
            Command::parse("remind me to Call Bob at 5pm"),
            Ok(Command::RemindMe {
                when: None,
                title: TaskTitle::parse("Call Bob at 5pm").unwrap()
            })
        );
        assert!(matches!(
            Command::parse("remind me in 20m"),
            Err(ParseError::RemindMeTitle(_))
        ));
        assert!(matches!(
            Command::parse("remind me in 20m to  "),
            Err(ParseError::RemindMeTitle(_))
        ));
        assert_eq!(
            Command::parse("remind default 15m"),
            Ok(Command::RemindDefault(Some("15m".into())))
        );
        assert_eq!(
            Command::parse("remind default"),
            Ok(Command::RemindDefault(None))
        );
        assert_eq!(
            Command::parse("snooze 3 2h"),
            Ok(Command::Snooze(n(3), Some("2h".into())))
        );
        assert_eq!(Command::parse("snooze 3"), Ok(Command::Snooze(n(3), None)));
        assert!(matches!(
            Command::parse("snooze"),
            Err(ParseError::Number { verb: "snooze", .. })
        ));
        assert_eq!(
            Command::parse("agenda"),
            Ok(Command::Agenda(AgendaCommand::Show))
        );
        assert_eq!(
            Command::parse("agenda off"),
            Ok(Command::Agenda(AgendaCommand::Off))
        );
        assert_eq!(
            Command::parse("agenda at 8:30"),
            Ok(Command::Agenda(AgendaCommand::At {
                time: "8:30".into(),
                every_day: false
            }))
        );
        assert_eq!(
            Command::parse("agenda at 8:30am every day"),
            Ok(Command::Agenda(AgendaCommand::At {
                time: "8:30am".into(),
                every_day: true
            }))
        );
        assert_eq!(Command::parse("agenda at"), Err(ParseError::Agenda));
        assert_eq!(Command::parse("agenda sometimes"), Err(ParseError::Agenda));
    }

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
        assert_eq!(
            Command::parse("list done"),
            Ok(Command::ListOnly(ListFilter::Done))
        );
        assert_eq!(
            Command::parse("list Today"),
            Ok(Command::ListOnly(ListFilter::Today))
        );
        assert_eq!(
            Command::parse("list overdue"),
            Ok(Command::ListOnly(ListFilter::Overdue))
        );
        assert_eq!(
            Command::parse("list week"),
            Ok(Command::ListOnly(ListFilter::Week))
        );
    }

    fn ns(v: &[u32]) -> TaskNumbers {
        TaskNumbers::parse(&v.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")).unwrap()
    }

    #[test]
    fn done_and_delete_take_a_number() {
        assert_eq!(Command::parse("done 2"), Ok(Command::Done(ns(&[2]))));
        assert_eq!(Command::parse("Done   #12"), Ok(Command::Done(ns(&[12]))));
        assert_eq!(Command::parse("delete 3"), Ok(Command::Delete(ns(&[3]))));
        assert_eq!(Command::parse("DELETE\t3 "), Ok(Command::Delete(ns(&[3]))));
    }

    #[test]
    fn done_and_delete_take_several_numbers() {
        assert_eq!(
            Command::parse("done 1 2 5"),
            Ok(Command::Done(ns(&[1, 2, 5])))
        );
        assert_eq!(Command::parse("done 1,2"), Ok(Command::Done(ns(&[1, 2]))));
        assert_eq!(
            Command::parse("done 3-6"),
            Ok(Command::Done(ns(&[3, 4, 5, 6])))
        );
        assert_eq!(
            Command::parse("delete #4 #7"),
            Ok(Command::Delete(ns(&[4, 7])))
        );
        assert_eq!(
            Command::parse("done 1-100000"),
            Err(ParseError::Number {
                verb: "done",
                error: TaskNumberError::TooMany { max: 100 }
            })
        );
    }

    #[test]
    fn edit_takes_a_number_and_the_new_title() {
        assert_eq!(
            Command::parse("edit 3 Buy oat milk"),
            Ok(Command::Edit(
                n(3),
                TaskTitle::parse("Buy oat milk").unwrap()
            ))
        );
        assert_eq!(
            Command::parse("edit #3   Buy  oat milk "),
            Ok(Command::Edit(
                n(3),
                TaskTitle::parse("Buy  oat milk").unwrap()
            ))
        );
        assert_eq!(
            Command::parse("edit 3"),
            Err(ParseError::EditTitle(TaskTitleError::Empty))
        );
        assert!(matches!(
            Command::parse("edit abc x"),
            Err(ParseError::Number { verb: "edit", .. })
        ));
        assert!(matches!(
            Command::parse("edit"),
            Err(ParseError::Number {
                verb: "edit",
                error: TaskNumberError::Missing
            })
        ));
        let long = format!("edit 1 {}", "x".repeat(501));
        assert!(matches!(
            Command::parse(&long),
            Err(ParseError::EditTitle(TaskTitleError::TooLong { .. }))
        ));
    }

    fn commands(text: &str) -> Vec<Result<Command, ParseError>> {
        parse_script(text).into_iter().map(|l| l.command).collect()
    }

    fn task(t: &str) -> Result<Command, ParseError> {
        Ok(Command::Task(TaskTitle::parse(t).unwrap()))
    }

    #[test]
    fn several_lines_are_several_commands_in_order() {
        assert_eq!(
            commands("task Buy milk\ntask Call mum\ntask Pay rent"),
            [task("Buy milk"), task("Call mum"), task("Pay rent")]
        );
        assert_eq!(
            commands("task Buy milk\n\n  done 2  \nlist"),
            [
                task("Buy milk"),
                Ok(Command::Done(ns(&[2]))),
                Ok(Command::List)
            ]
        );
        let lines = parse_script("task A\nfrobnicate");
        assert_eq!(lines[1].text, "frobnicate");
        assert_eq!(lines[1].command, Ok(Command::Unknown("frobnicate".into())));
    }

    #[test]
    fn a_bullet_list_under_task_becomes_tasks() {
        assert_eq!(
            commands("task\n- Buy milk\n* Call mum\n• Pay rent\n1. Book flights\n2) Pack"),
            [
                task("Buy milk"),
                task("Call mum"),
                task("Pay rent"),
                task("Book flights"),
                task("Pack"),
            ]
        );
        assert_eq!(
            commands("task Groceries\n- milk\n- eggs\nlist"),
            [
                task("Groceries"),
                task("milk"),
                task("eggs"),
                Ok(Command::List)
            ]
        );
        // A bullet elsewhere is a command with a bullet in front.
        assert_eq!(
            commands("list\n- done 3"),
            [Ok(Command::List), Ok(Command::Done(ns(&[3])))]
        );
        // Not bullets: no space after the mark, a negative number, a long number.
        assert_eq!(
            commands("task A\n-5 degrees"),
            [task("A"), Ok(Command::Unknown("-5".into()))]
        );
        assert_eq!(bullet_item("2026. year"), None);
        assert_eq!(bullet_item("- "), None);
        // A bare `task` without a list under it is still a task without a title.
        assert_eq!(
            commands("task\nlist"),
            [
                Err(ParseError::Title(TaskTitleError::Empty)),
                Ok(Command::List)
            ]
        );
    }

    #[test]
    fn due_and_tz() {
        assert_eq!(
            Command::parse("due 3 next monday"),
            Ok(Command::Due(n(3), Some("next monday".into())))
        );
        assert_eq!(Command::parse("due #3 none"), Ok(Command::Due(n(3), None)));
        assert_eq!(Command::parse("due 3"), Err(ParseError::DueMissing));
        assert!(matches!(
            Command::parse("due x fri"),
            Err(ParseError::Number { verb: "due", .. })
        ));
        assert_eq!(Command::parse("tz"), Ok(Command::Tz(None)));
        assert_eq!(
            Command::parse("tz Europe/Paris"),
            Ok(Command::Tz(Some("Europe/Paris".into())))
        );
    }

    #[test]
    fn one_line_is_parsed_as_before() {
        assert_eq!(commands("  task Buy milk  "), [task("Buy milk")]);
        assert_eq!(commands(""), [Ok(Command::Help)]);
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
            Command::parse("done 2 x"),
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
        assert_eq!(
            Command::parse("meeting Templates"),
            Ok(Command::MeetingTemplates)
        );
        assert_eq!(
            Command::parse("meetings templates"),
            Ok(Command::MeetingTemplates)
        );
        assert_eq!(
            Command::parse("meetings"),
            Ok(Command::Meetings(MeetingsWindow::Today))
        );
        assert_eq!(
            Command::parse("meetings week"),
            Ok(Command::Meetings(MeetingsWindow::Week))
        );
        assert_eq!(Command::parse("meet now"), Ok(Command::MeetNow));
        assert_eq!(Command::parse("Meeting NOW"), Ok(Command::MeetNow));
        match Command::parse("meeting Now or never") {
            Ok(Command::Meeting(r)) => assert_eq!(r.title.as_str(), "Now or never"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Command::parse("calendar"),
            Ok(Command::Calendar { reset: false })
        );
        assert_eq!(
            Command::parse("Calendar  RESET"),
            Ok(Command::Calendar { reset: true })
        );
        assert_eq!(Command::parse("calendar please"), Err(ParseError::Calendar));
        assert_eq!(
            Command::parse("meetings someday"),
            Err(ParseError::MeetingsWindow)
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
