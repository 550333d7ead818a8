//! What Botper says back: every reply is rendered here, in Webex Markdown, with user text
//! escaped. Replies stay under Webex's message size limit.

use super::command::ParseError;
use super::markdown::escape_inline;
use super::task::{Task, TaskNumberError, TaskOutcome, TaskTitleError};

/// Webex refuses `markdown` longer than 7439 bytes.
pub const MAX_MARKDOWN_BYTES: usize = 7439;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub markdown: String,
}

impl Reply {
    pub fn new(markdown: impl Into<String>) -> Self {
        Self {
            markdown: markdown.into(),
        }
    }
}

pub const HELP: &str = "**Botper keeps your tasks.** Commands:\n\
- `task <text>`: add a task\n\
- `list`: show your open tasks\n\
- `done <n>`: mark task *n* done\n\
- `delete <n>`: remove task *n*\n\
- `help`: this list";

pub fn help() -> Reply {
    Reply::new(HELP)
}

pub fn unknown(verb: &str) -> Reply {
    Reply::new(format!(
        "I don't know the command `{}`.\n\n{HELP}",
        escape_code(verb)
    ))
}

pub fn parse_error(e: &ParseError) -> Reply {
    let text = match e {
        ParseError::Title(TaskTitleError::Empty) => {
            "I can't add that task: a task needs a title. Try `task Buy milk`.".to_owned()
        }
        ParseError::Title(TaskTitleError::TooLong { max, got }) => format!(
            "I can't add that task: titles are at most {max} characters, and this one has {got}."
        ),
        ParseError::Number { verb, error } => {
            let why = match error {
                TaskNumberError::Missing => format!("`{verb}` needs a task number"),
                TaskNumberError::NotANumber(s) => {
                    format!("“{}” is not a task number", escape_inline(s))
                }
                TaskNumberError::Zero => "task numbers start at 1".to_owned(),
                TaskNumberError::TooLarge(s) => {
                    format!("“{}” is too large to be a task number", escape_inline(s))
                }
            };
            format!("I can't run `{verb}`: {why}. Try `{verb} 2`, and `list` to see your numbers.")
        }
    };
    Reply::new(text)
}

pub fn outcome(o: &TaskOutcome) -> Reply {
    Reply::new(match o {
        TaskOutcome::Created(t) => format!("Added task {}.", line(t)),
        TaskOutcome::AlreadyLinked(t) => format!("That meeting already has task {}.", line(t)),
        TaskOutcome::Completed(t) => format!("Done: {}. ✅", line(t)),
        TaskOutcome::AlreadyDone(t) => format!("Task {} was already done.", line(t)),
        TaskOutcome::Deleted(t) => format!("Deleted task {}.", line(t)),
        TaskOutcome::NotFound(n) => {
            format!("You have no task #{n}. Type `list` to see your tasks and their numbers.")
        }
    })
}

/// The person's open tasks, oldest first, within the message size limit.
pub fn task_list(open: &[Task]) -> Reply {
    if open.is_empty() {
        return Reply::new("You have no open tasks. 🎉 Add one with `task <text>`.");
    }
    let header = match open.len() {
        1 => "**Your open task**\n".to_owned(),
        n => format!("**Your {n} open tasks**\n"),
    };
    let mut md = header;
    for (shown, t) in open.iter().enumerate() {
        let entry = format!("\n- {}", line(t));
        let left = open.len() - shown;
        // Keep room for the "and N more" line.
        if md.len() + entry.len() + 40 > MAX_MARKDOWN_BYTES {
            md.push_str(&format!("\n\n…and {left} more."));
            break;
        }
        md.push_str(&entry);
    }
    Reply::new(md)
}

/// `**#3** Buy milk` with the title escaped, and the join link for meeting tasks.
fn line(t: &Task) -> String {
    let mut s = format!("**#{}** {}", t.number, escape_inline(t.title.as_str()));
    if let Some(m) = &t.meeting {
        s.push_str(&format!(" ([join]({}))", link_target(&m.web_link)));
    }
    s
}

/// A URL placed inside `( )`: characters that would end the link target are percent-encoded.
fn link_target(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

fn escape_code(s: &str) -> String {
    s.replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::command::Command;
    use crate::domain::task::{MeetingLink, TaskNumber, TaskTitle};
    use jiff::Timestamp;

    fn task(n: u32, title: &str) -> Task {
        Task {
            number: TaskNumber::new(n).unwrap(),
            title: TaskTitle::parse(title).unwrap(),
            done: false,
            created_at: Timestamp::UNIX_EPOCH,
            meeting: None,
        }
    }

    #[test]
    fn created_reply_names_number_and_escaped_title() {
        let r = outcome(&TaskOutcome::Created(task(3, "Buy *milk* <@all>")));
        assert_eq!(r.markdown, "Added task **#3** Buy \\*milk\\* &lt;@all&gt;.");
    }

    #[test]
    fn not_found_points_to_list() {
        let r = outcome(&TaskOutcome::NotFound(TaskNumber::new(9).unwrap()));
        assert!(r.markdown.contains("no task #9"));
        assert!(r.markdown.contains("`list`"));
    }

    #[test]
    fn empty_list_is_friendly() {
        assert!(task_list(&[]).markdown.contains("no open tasks"));
    }

    #[test]
    fn list_shows_numbers_and_titles() {
        let r = task_list(&[task(1, "A"), task(3, "C")]);
        assert_eq!(
            r.markdown,
            "**Your 2 open tasks**\n\n- **#1** A\n- **#3** C"
        );
    }

    #[test]
    fn meeting_tasks_carry_their_join_link() {
        let mut t = task(4, "Standup");
        t.meeting = Some(MeetingLink {
            meeting_id: "m1".into(),
            web_link: "https://x.webex.com/j.php?MTID=m1".into(),
            start: None,
        });
        assert_eq!(
            task_list(&[t]).markdown,
            "**Your open task**\n\n- **#4** Standup ([join](https://x.webex.com/j.php?MTID=m1))"
        );
    }

    #[test]
    fn long_lists_stay_under_the_webex_limit() {
        let title = "é".repeat(500);
        let many: Vec<Task> = (1..=100).map(|n| task(n, &title)).collect();
        let r = task_list(&many);
        assert!(
            r.markdown.len() <= MAX_MARKDOWN_BYTES,
            "{}",
            r.markdown.len()
        );
        assert!(r.markdown.contains("more."));
        assert!(r.markdown.contains("**#1**"));
    }

    #[test]
    fn parse_errors_are_plain_words_and_escape_user_text() {
        let e = Command::parse("delete <@all>").unwrap_err();
        let r = parse_error(&e);
        assert_eq!(
            r.markdown,
            "I can't run `delete`: “&lt;@all&gt;” is not a task number. \
             Try `delete 2`, and `list` to see your numbers."
        );
        let e = Command::parse("task").unwrap_err();
        assert_eq!(
            parse_error(&e).markdown,
            "I can't add that task: a task needs a title. Try `task Buy milk`."
        );
    }

    #[test]
    fn unknown_verb_gets_help() {
        let r = unknown("fly`away");
        assert!(
            r.markdown
                .starts_with("I don't know the command `fly'away`.")
        );
        assert!(r.markdown.contains("`task <text>`"));
    }
}
