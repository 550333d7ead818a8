//! What Botper says back: every reply is rendered here, in Webex Markdown, with user text
//! escaped. Replies stay under Webex's message size limit.

use jiff::Zoned;

use super::card::{CardError, TaskListCard, task_list_card};
use super::command::{ListFilter, ParseError};
use super::grant::Grant;
use super::ids::PersonId;
use super::markdown::escape_inline;
use super::meeting::{MeetingError, MeetingTemplate, MeetingsWindow, TemplateMiss, Upcoming};
use super::task::{Task, TaskNumberError, TaskOutcome, TaskTitleError, Undone};

/// Webex refuses `markdown` longer than 7439 bytes.
pub const MAX_MARKDOWN_BYTES: usize = 7439;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The message, and the fallback for clients that cannot show the card.
    pub markdown: String,
    pub card: Option<TaskListCard>,
}

impl Reply {
    pub fn new(markdown: impl Into<String>) -> Self {
        Self {
            markdown: markdown.into(),
            card: None,
        }
    }
}

pub const HELP: &str = "**Botper keeps your tasks and meetings.** Commands:\n\
- `task <text>`: add a task\n\
- `list`: show your open tasks (`list all` for every one, as text; `list today`, `list overdue`, `list week`, `list done`)\n\
- `done <n>`: mark task *n* done (several: `done 1 2 5`, `done 3-6`)\n\
- `delete <n>`: remove task *n* (several, as for `done`)\n\
- `edit <n> <new text>`: rename task *n*\n\
- `undo`: revert your last change (again for the one before)\n\
- `task Pay rent due 5 dec`, `task Call Bob tomorrow 9am`: a task with a due date; `due <n> next monday` / `due <n> none` change it\n\
- `remind <n> at 9:00` / `in 2h` / `tomorrow` (`remind <n> off`); `remind me in 20m to call Bob`; `remind default 15m` (or `off`): tasks with a due time remind at it\n\
- `snooze <n> 2h` / `snooze <n> tomorrow`: move a reminder\n\
- `agenda`: today's meetings, tasks due today and overdue ones; `agenda at 8:30 [every day]` sends it each working day (`agenda off`)\n\
- `tz Europe/Paris`: your time zone (`tz` shows it)\n\
- `meeting <title> [at 15:00] [tomorrow] [for 45m]`: create a Webex meeting and a task for it\n\
- `meeting Review tomorrow 15:00 with bob@example.com, carol@example.com`: invite people by email\n\
- `meeting Standup every weekday at 9:00 for 15m [until 2027-03-01 | 10 times]`: a series (`every day`, `every monday`, `every 2 weeks on tue`, `every month on the 1st`)\n\
- `meeting templates`: your Webex meeting templates; `meeting Board review using <template name>` creates from one\n\
- in a group space: `meeting Review tomorrow 15:00 with @Bob, @Carol` (the people you mention) or `with everyone` (the space's members); `meet now`: a meeting for the space right away, its link posted here\n\
- `meetings` (`meetings tomorrow`, `meetings week`): your Webex meetings with their join links\n\
- `calendar`: a private address to subscribe to in your calendar app (tasks with a due date and your meetings); `calendar reset` replaces it\n\
- `status`: whether your Webex account is connected\n\
- `connect` / `disconnect`: let Botper create meetings for you and follow the ones you schedule anywhere (moved or cancelled, their tasks follow), or stop it\n\
- `export`: everything Botper keeps about you, as files (in a 1:1 space); `forget me`: erase it all\n\
- `help`: this list\n\n\
Several lines run one command each; a bullet list under `task` adds one task per bullet.";

/// Where people schedule a meeting by hand.
pub const WEBEX_MEETINGS_URL: &str = "https://web.webex.com/meetings";

pub fn help() -> Reply {
    Reply::new(HELP)
}

pub const ADMIN_HELP: &str = "**Admin commands** (in a 1:1 space with me):\n\
- `admin grant organizer bob@example.com` / `admin grant admin …`: give a role (stored for people who have not used Botper yet)\n\
- `admin revoke organizer bob@example.com` / `admin revoke admin …`: take it back\n\
- `admin roles`: who has which role\n\
- `admin stats`: people, open tasks, connections, inbox and scheduler backlog\n\
- `admin disconnect bob@example.com`: delete that person's Webex connection and meetings webhook\n\
- `admin audit`: the last admin actions";

/// `help` for an admin: the commands, then theirs.
pub fn help_for_admin() -> Reply {
    Reply::new(format!("{HELP}\n\n{ADMIN_HELP}"))
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
                TaskNumberError::TooMany { max } => {
                    format!("it takes at most {max} task numbers at once")
                }
            };
            let example = if *verb == "edit" {
                "edit 2 New title".to_owned()
            } else {
                format!("{verb} 2")
            };
            format!("I can't run `{verb}`: {why}. Try `{example}`, and `list` to see your numbers.")
        }
        ParseError::DueMissing => {
            "I can't set that due date: give a date after the number, like `due 3 fri 15:00`, or `due 3 none` to clear it. Nothing changed.".to_owned()
        }
        ParseError::EditTitle(TaskTitleError::Empty) => {
            "I can't edit that task: give the new title after the number, like `edit 2 Buy oat milk`. Nothing changed.".to_owned()
        }
        ParseError::EditTitle(TaskTitleError::TooLong { max, got }) => format!(
            "I can't edit that task: titles are at most {max} characters, and this one has {got}. Nothing changed."
        ),
        ParseError::RemindMissing => format!("I can't set that reminder: {e}. Nothing changed."),
        ParseError::RemindMeTitle(TaskTitleError::TooLong { max, got }) => format!(
            "I can't set that reminder: titles are at most {max} characters, and this one has {got}. Nothing changed."
        ),
        ParseError::RemindMeTitle(TaskTitleError::Empty)
        | ParseError::Agenda
        | ParseError::MeetingsWindow
        | ParseError::Calendar
        | ParseError::Forget => {
            format!("I can't run that: {e}. Nothing changed.")
        }
        ParseError::Meeting(e) => format!(
            "I can't schedule that meeting: {}. Try `meeting Team Standup` or \
             `meeting Review tomorrow at 15:00 for 45m`.",
            meeting_error(e)
        ),
    };
    Reply::new(text)
}

pub fn outcome(o: &TaskOutcome) -> Reply {
    outcome_at(o, None)
}

/// Where and when the person reads a reply: due dates are shown in their zone, and
/// marked when overdue.
#[derive(Debug, Clone)]
pub struct Here {
    pub tz: jiff::tz::TimeZone,
    pub now: jiff::Timestamp,
}

impl Here {
    /// A due date in the person's zone (`Fri 5 Dec, 15:00 Europe/Paris`, `tomorrow`).
    pub fn describe(&self, due: &super::task::Due) -> String {
        let now = self.now.to_zoned(self.tz.clone());
        let at = due.at.to_zoned(self.tz.clone());
        super::when::describe(&at, due.has_time, &now)
    }

    /// A moment, with its time of day, in the person's zone.
    pub fn moment(&self, at: jiff::Timestamp) -> String {
        self.describe(&super::task::Due { at, has_time: true })
    }
}

/// " — ⏰ Fri 5 Dec, 09:00 Europe/Paris" for a reminder the person set that is still ahead.
fn remind_text(t: &Task, here: Option<&Here>) -> String {
    match (t.remind_at, here) {
        (Some(r), Some(h)) if !t.done && r > h.now => {
            format!(" — ⏰ {}", escape_inline(&h.moment(r)))
        }
        _ => String::new(),
    }
}

/// " — due Fri 5 Dec, 15:00 Europe/Paris" (overdue: marked).
fn due_text(t: &Task, here: Option<&Here>) -> String {
    match (t.due, here) {
        (Some(d), Some(h)) if !t.done && d.at < h.now => {
            format!(" — ⚠️ **overdue** (due {})", escape_inline(&h.describe(&d)))
        }
        (Some(d), Some(h)) => format!(" — due {}", escape_inline(&h.describe(&d))),
        _ => String::new(),
    }
}

pub fn outcome_at(o: &TaskOutcome, here: Option<&Here>) -> Reply {
    let line = |t: &Task| format!("{}{}{}", line(t), due_text(t, here), remind_text(t, here));
    Reply::new(match o {
        TaskOutcome::Created(t) => format!("Added task {}.", line(t)),
        TaskOutcome::AlreadyLinked(t) => format!("That meeting already has task {}.", line(t)),
        TaskOutcome::Completed(t) => format!("Done: {}. ✅", line(t)),
        TaskOutcome::AlreadyDone(t) => format!("Task {} was already done.", line(t)),
        TaskOutcome::Deleted(t) => format!("Deleted task {}.", line(t)),
        TaskOutcome::Edited { task, before } => format!(
            "Renamed task {} (was “{}”).",
            line(task),
            escape_inline(&super::task::shorten(before.as_str(), 80))
        ),
        TaskOutcome::NotFound(n) => {
            format!("You have no task #{n}. Type `list` to see your tasks and their numbers.")
        }
        TaskOutcome::Undid { change, task } => match change {
            Undone::Added => format!("Undone: task {} is removed again.", line(task)),
            Undone::Completed => format!("Undone: task {} is open again.", line(task)),
            Undone::Deleted => format!("Undone: task {} is back.", line(task)),
            Undone::Edited { from } => format!(
                "Undone: task {} has its old title again (it was “{}”).",
                line(task),
                escape_inline(&super::task::shorten(from.as_str(), 80))
            ),
            Undone::DueChanged { .. } => match &task.due {
                Some(_) => format!("Undone: task {} has its old due date again.", line(task)),
                None => format!("Undone: task {} has no due date again.", line(task)),
            },
            Undone::ReminderChanged { .. } => match &task.remind_at {
                Some(_) => format!("Undone: task {} has its old reminder again.", line(task)),
                None => format!(
                    "Undone: task {} has no reminder of its own again.",
                    line(task)
                ),
            },
        },
        TaskOutcome::Reminded { task, .. } => match (task.remind_at, here) {
            (Some(r), Some(h)) => format!(
                "⏰ I'll remind you of {} on {}.",
                self::line(task),
                escape_inline(&h.moment(r))
            ),
            (Some(_), None) => format!("⏰ I'll remind you of {}.", self::line(task)),
            (None, _) => format!(
                "Task {} has no reminder of its own any more.",
                self::line(task)
            ),
        },
        TaskOutcome::DueSet { task, before } => match (&task.due, before) {
            (Some(_), _) => format!("Task {}.", line(task)),
            (None, Some(_)) => format!("Task {} has no due date any more.", line(task)),
            (None, None) => format!("Task {} had no due date; nothing changed.", line(task)),
        },
        TaskOutcome::NothingToUndo => {
            "There is nothing to undo: you have made no change to your tasks that I could revert."
                .to_owned()
        }
        TaskOutcome::MeetingMoved { task, .. } => {
            format!("Task {} follows its meeting.", line(task))
        }
        TaskOutcome::MeetingCancelled(t) => {
            format!("Task {} is closed: its meeting was cancelled.", line(t))
        }
        TaskOutcome::MeetingUnchanged => "Nothing changed.".to_owned(),
    })
}

/// The outcomes of one command over several numbers, a line each.
pub fn outcomes(all: &[TaskOutcome], here: Option<&Here>) -> Reply {
    if let [one] = all {
        return outcome_at(one, here);
    }
    let full = all
        .iter()
        .map(|o| outcome_at(o, here).markdown)
        .collect::<Vec<_>>()
        .join("\n");
    if full.len() + 200 <= MAX_MARKDOWN_BYTES {
        return Reply::new(full);
    }
    // Too long to list title by title: numbers by what happened to them.
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for o in all {
        let (what, n) = match o {
            TaskOutcome::Completed(t) => ("Done", t.number),
            TaskOutcome::AlreadyDone(t) => ("Already done", t.number),
            TaskOutcome::Deleted(t) => ("Deleted", t.number),
            TaskOutcome::NotFound(n) => ("Not found (no such task of yours)", *n),
            TaskOutcome::Created(t)
            | TaskOutcome::AlreadyLinked(t)
            | TaskOutcome::Edited { task: t, .. }
            | TaskOutcome::DueSet { task: t, .. }
            | TaskOutcome::Reminded { task: t, .. }
            | TaskOutcome::Undid { task: t, .. }
            | TaskOutcome::MeetingMoved { task: t, .. } => ("Changed", t.number),
            TaskOutcome::MeetingCancelled(t) => ("Closed (meeting cancelled)", t.number),
            TaskOutcome::NothingToUndo | TaskOutcome::MeetingUnchanged => continue,
        };
        match groups.iter_mut().find(|(w, _)| *w == what) {
            Some((_, ns)) => ns.push(format!("#{n}")),
            None => groups.push((what, vec![format!("#{n}")])),
        }
    }
    Reply::new(
        groups
            .into_iter()
            .map(|(what, ns)| format!("{what}: {}", ns.join(" ")))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// A date the person typed that cannot be used; nothing changed.
pub fn date_error(verb: &str, e: &super::when::WhenError) -> Reply {
    Reply::new(format!(
        "I can't run `{verb}`: {}. Nothing changed.",
        escape_inline(&e.to_string())
    ))
}

/// `tz` without an argument.
pub fn zone_is(zone: &str, source: &str) -> Reply {
    Reply::new(format!(
        "Your time zone is **{}** ({source}). Set another with `tz Europe/Paris`; `tz auto` \
         goes back to your Webex profile's.",
        escape_inline(zone)
    ))
}

pub fn zone_set(zone: &str) -> Reply {
    Reply::new(format!(
        "Your time zone is now **{}**: dates you type and dates I show use it.",
        escape_inline(zone)
    ))
}

pub fn zone_unknown(typed: &str) -> Reply {
    Reply::new(format!(
        "I don't know the time zone “{}”. Use a name like `Europe/Paris`, `America/New_York` \
         or `UTC`. Nothing changed.",
        escape_inline(&super::task::shorten(typed, 60))
    ))
}

/// Added once, the first time a date is read in UTC because the person has no zone.
pub fn with_zone_hint(mut r: Reply) -> Reply {
    let hint = "\n\n_Dates are read and shown in UTC because I don't know your time zone: set \
                it with `tz Europe/Paris` (or your own)._";
    if r.markdown.len() + hint.len() <= MAX_MARKDOWN_BYTES {
        r.markdown.push_str(hint);
    }
    r
}

/// One reply for a message of several commands: each command's reply in order, prefixed
/// by its line when that helps, within the message size limit (the card of the last reply
/// that has one is kept). Replies that do not fit are summarised, never dropped silently.
pub fn combined(parts: Vec<(String, Reply)>) -> Reply {
    if parts.len() == 1 {
        return parts.into_iter().next().map(|(_, r)| r).expect("one part");
    }
    let card = parts.iter().rev().find_map(|(_, r)| r.card.clone());
    let mut markdown = String::new();
    let total = parts.len();
    for (shown, (line, r)) in parts.into_iter().enumerate() {
        let entry = format!(
            "{}**{}** → {}",
            if shown == 0 { "" } else { "\n\n" },
            escape_inline(&super::task::shorten(&line, 60)),
            r.markdown
        );
        let left = total - shown;
        if markdown.len() + entry.len() + 120 > MAX_MARKDOWN_BYTES {
            markdown.push_str(&format!(
                "\n\n…and {left} more line(s) were run but their replies do not fit in one \
                 message: type `list` to see where things stand."
            ));
            break;
        }
        markdown.push_str(&entry);
    }
    Reply { markdown, card }
}

/// Lines past [`super::command::MAX_LINES`]: not run, and said so.
pub fn lines_not_run(count: usize, max: usize) -> Reply {
    Reply::new(format!(
        "I ran the first {max} lines only; the other {count} were **not run**. Send them in \
         another message."
    ))
}

/// `list`: the Markdown list, with a card (Done/Delete buttons) for clients that show cards.
pub fn task_list_with_card(owner: &PersonId, open: &[Task], here: Option<&Here>) -> Reply {
    let mut r = task_list_at(open, here);
    r.card = task_list_card(owner, open, |t| {
        let h = here?;
        let d = t.due?;
        Some(if d.at < h.now {
            format!("⚠️ overdue (due {})", h.describe(&d))
        } else {
            format!("due {}", h.describe(&d))
        })
    });
    r
}

/// What pressing a card button did, followed by the updated list (and its card).
pub fn card_outcome(
    o: &TaskOutcome,
    owner: &PersonId,
    open: &[Task],
    here: Option<&Here>,
) -> Reply {
    let first = match o {
        TaskOutcome::NotFound(n) => {
            format!("Task #{n} is already gone (done or deleted since that list was shown).")
        }
        other => outcome_at(other, here).markdown,
    };
    let list = task_list_with_card(owner, open, here);
    let mut markdown = format!("{first}\n\n{}", list.markdown);
    if markdown.len() > MAX_MARKDOWN_BYTES {
        markdown = first;
    }
    Reply {
        markdown,
        card: list.card,
    }
}

/// The reminder a person gets in their 1:1 space, with Done / Snooze 1h / Tomorrow
/// buttons. `late` is when it was due, if it comes late (Botper was not running).
/// Whether [`reminder`] shows a moment, and so needs the person's zone: a meeting's start,
/// a due date, or the time a late reminder was due. A plain "remind me" task shows none, so
/// firing it does not look the zone up (a settings read, a grant, perhaps a Webex call).
pub fn reminder_shows_a_moment(task: &Task, late: bool) -> bool {
    late || task.due.is_some()
        || (task.remind_at.is_none() && task.meeting.as_ref().is_some_and(|m| m.start.is_some()))
}

pub fn reminder(
    owner: &PersonId,
    task: &Task,
    here: &Here,
    late: Option<jiff::Timestamp>,
) -> Reply {
    let mut md = format!("⏰ **Reminder:** {}", line(task));
    let start = task.meeting.as_ref().and_then(|m| m.start);
    if let (Some(start), None) = (start, task.remind_at) {
        let mins = start.duration_since(here.now).as_mins();
        let when = if mins > 0 {
            format!("starts in {mins} min ({})", here.moment(start))
        } else {
            format!("started at {}", here.moment(start))
        };
        md.push_str(&format!(" — {}", escape_inline(&when)));
        if let Some(link) = task.meeting.as_ref().map(|m| &m.web_link) {
            md.push_str(&format!(" · [Join]({})", link.replace(')', "%29")));
        }
    } else {
        md.push_str(&due_text(task, Some(here)));
    }
    if let Some(due) = late {
        md.push_str(&format!(
            "\n\n_This comes late: it was due {}, while I was not running._",
            escape_inline(&here.moment(due))
        ));
    }
    let mut card = task_list_card(owner, std::slice::from_ref(task), |t| {
        t.due.map(|d| format!("due {}", here.describe(&d)))
    });
    if let Some(c) = card.as_mut() {
        c.kind = super::card::CardKind::Reminder;
        c.heading = "⏰ Reminder".to_owned();
    }
    Reply { markdown: md, card }
}

/// `agenda`: today's meetings, what is due today and what is overdue; `late` as for
/// [`reminder`].
pub fn agenda(
    open: &[Task],
    here: &Here,
    late: Option<jiff::Timestamp>,
    schedule: Option<&super::agenda::AgendaSchedule>,
) -> Reply {
    let a = super::agenda::agenda(open, here.now, &here.tz);
    let today = here.now.to_zoned(here.tz.clone());
    let mut md = format!(
        "**Your agenda for {}**",
        escape_inline(&super::when::describe(&today, false, &today))
    );
    if let Some(due) = late {
        md.push_str(&format!(
            "\n\n_This comes late: it was due {}, while I was not running._",
            escape_inline(&here.moment(due))
        ));
    }
    let section =
        |md: &mut String, title: &str, tasks: &[&Task], extra: &dyn Fn(&Task) -> String| {
            if tasks.is_empty() {
                return;
            }
            md.push_str(&format!("\n\n**{title}**"));
            for (shown, t) in tasks.iter().enumerate() {
                let entry = format!("\n- {}{}", line(t), extra(t));
                if md.len() + entry.len() + 60 > MAX_MARKDOWN_BYTES {
                    md.push_str(&format!("\n- …and {} more", tasks.len() - shown));
                    return;
                }
                md.push_str(&entry);
            }
        };
    section(&mut md, "Meetings today", &a.meetings, &|t| {
        let Some(m) = t.meeting.as_ref() else {
            return String::new();
        };
        let at = m.start.map(|s| {
            let z = s.to_zoned(here.tz.clone());
            format!(" — {:02}:{:02}", z.hour(), z.minute())
        });
        format!(
            "{} · [Join]({})",
            at.unwrap_or_default(),
            m.web_link.replace(')', "%29")
        )
    });
    section(&mut md, "Due today", &a.due_today, &|t| {
        due_text(t, Some(here))
    });
    section(&mut md, "Overdue", &a.overdue, &|t| due_text(t, Some(here)));
    if a.meetings.is_empty() && a.due_today.is_empty() && a.overdue.is_empty() {
        md.push_str("\n\nNothing today: no meetings, nothing due, nothing overdue. 🎉");
    }
    match schedule {
        Some(s) => md.push_str(&format!(
            "\n\n_Sent {}; `agenda off` stops it._",
            escape_inline(&s.describe())
        )),
        None if late.is_none() => {
            md.push_str("\n\n_`agenda at 8:30` sends this every working day._")
        }
        None => {}
    }
    Reply::new(md)
}

/// "⏰ I'll remind you on Thu 3 Dec, 09:00 Europe/Paris." for a task given a reminder.
pub fn reminder_set_line(t: &Task, here: &Here) -> String {
    match t.remind_at {
        Some(r) => format!("⏰ I'll remind you on {}.", escape_inline(&here.moment(r))),
        None => String::new(),
    }
}

/// `remind me …` added a task with a reminder.
pub fn created_with_reminder(o: &TaskOutcome, here: &Here) -> Reply {
    match o.task() {
        Some(t) => Reply::new(format!(
            "{} {}",
            outcome_at(o, None).markdown,
            reminder_set_line(t, here)
        )),
        None => outcome_at(o, Some(here)),
    }
}

pub fn lead_too_long() -> Reply {
    Reply::new("I can't set that: a default reminder comes at most 7 days ahead. Nothing changed.")
}

pub fn agenda_never() -> Reply {
    Reply::new("I can't find a next time for that agenda. Nothing changed.")
}

/// `agenda at …` was set.
pub fn agenda_set(s: &super::agenda::AgendaSchedule, next: jiff::Timestamp, here: &Here) -> Reply {
    Reply::new(format!(
        "📅 I'll send your agenda {}. The next one: {}. `agenda off` stops it.",
        escape_inline(&s.describe()),
        escape_inline(&here.moment(next))
    ))
}

pub fn agenda_off(had: bool) -> Reply {
    Reply::new(if had {
        "📅 Your daily agenda is off. `agenda at 8:30` turns it on again."
    } else {
        "You had no daily agenda. `agenda at 8:30` sends one every working day."
    })
}

/// `remind default …` shows or sets the lead; `moved` reminders were rescheduled.
pub fn reminder_lead(lead: super::task::ReminderLead, changed: Option<u32>) -> Reply {
    use super::task::ReminderLead;
    let what = match lead {
        ReminderLead::AtDue => {
            "tasks with a due time remind you at that time, meetings 10 minutes before they start"
                .to_owned()
        }
        ReminderLead::Before(d) => format!(
            "tasks with a due time remind you {} before it, meetings {} before they start",
            lead_words(d),
            lead_words(d.max(super::task::MEETING_LEAD))
        ),
        ReminderLead::Off => {
            "tasks and meetings do not remind you unless you ask (`remind <n> …`)".to_owned()
        }
    };
    Reply::new(match changed {
        None => format!("Now {what}. `remind default 15m` or `remind default off` changes it."),
        Some(n) => format!(
            "Done: {what}. ({n} upcoming reminder{} updated.)",
            if n == 1 { "" } else { "s" }
        ),
    })
}

fn lead_words(d: jiff::SignedDuration) -> String {
    let m = d.as_mins();
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

pub fn not_your_card() -> Reply {
    Reply::new("That list belongs to someone else, so I left it alone. Type `list` to see yours.")
}

/// The bot's hello when it is added to a space; `None` when Webex did not say what kind.
pub fn greeting(bot_name: &str, audience: Option<Audience>) -> Reply {
    let how = match audience {
        Some(Audience::Private) => "Just type a command here.",
        Some(Audience::Shared) => "In this space, @mention me with a command.",
        None => "In a group space, @mention me with a command; in a 1:1 space, just type it.",
    };
    Reply::new(format!(
        "👋 Hi, I'm **{}**. I keep your tasks and meetings. {how}\n\n{HELP}",
        escape_inline(bot_name)
    ))
}

/// `list all`: the Markdown list only, as many tasks as fit in one message.
pub fn task_list_all(open: &[Task], here: Option<&Here>) -> Reply {
    task_list_at(open, here)
}

/// The person's open tasks, oldest first, within the message size limit.
pub fn task_list(open: &[Task]) -> Reply {
    task_list_at(open, None)
}

/// The open tasks: overdue first (marked), then by number; due dates in the person's zone.
pub fn task_list_at(open: &[Task], here: Option<&Here>) -> Reply {
    let mut open: Vec<&Task> = open.iter().collect();
    if let Some(h) = here {
        // Stable: overdue first, each group in number order.
        open.sort_by_key(|t| t.due.is_none_or(|d| d.at >= h.now));
    }
    if open.is_empty() {
        return Reply::new("You have no open tasks. 🎉 Add one with `task <text>`.");
    }
    let header = match open.len() {
        1 => "**Your open task**\n".to_owned(),
        n => format!("**Your {n} open tasks**\n"),
    };
    let mut md = header;
    for (shown, t) in open.iter().enumerate() {
        let entry = format!(
            "\n- {}{}{}",
            line(t),
            due_text(t, here),
            remind_text(t, here)
        );
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

/// The open tasks a filter keeps, in `here`'s zone.
pub fn filter_open<'a>(open: &'a [Task], filter: ListFilter, here: &Here) -> Vec<&'a Task> {
    let today = here.now.to_zoned(here.tz.clone()).date();
    let last = today
        .checked_add(jiff::Span::new().days(6))
        .unwrap_or(today);
    open.iter()
        .filter(|t| {
            let Some(d) = t.due else { return false };
            let overdue = d.at < here.now;
            let day = d.at.to_zoned(here.tz.clone()).date();
            match filter {
                ListFilter::Overdue => overdue,
                ListFilter::Today => overdue || day == today,
                ListFilter::Week => overdue || day <= last,
                ListFilter::Done => false,
            }
        })
        .collect()
}

/// `list today|overdue|week` (from the open tasks) and `list done` (recently done ones).
pub fn filtered_list(filter: ListFilter, tasks: &[&Task], here: &Here) -> Reply {
    let (what, none) = match filter {
        ListFilter::Done => ("Recently done", "You have no done tasks yet."),
        ListFilter::Today => (
            "Due today",
            "Nothing is due today. 🎉 (`list week` looks further.)",
        ),
        ListFilter::Overdue => ("Overdue", "Nothing is overdue. 🎉"),
        ListFilter::Week => ("Due within a week", "Nothing is due within a week."),
    };
    if tasks.is_empty() {
        return Reply::new(none);
    }
    let mut md = format!("**{what} ({})**\n", tasks.len());
    for (shown, t) in tasks.iter().enumerate() {
        let entry = format!(
            "\n- {}{}{}",
            line(t),
            due_text(t, Some(here)),
            remind_text(t, Some(here))
        );
        if md.len() + entry.len() + 40 > MAX_MARKDOWN_BYTES {
            md.push_str(&format!("\n\n…and {} more.", tasks.len() - shown));
            break;
        }
        md.push_str(&entry);
    }
    Reply::new(md)
}

fn meeting_error(e: &MeetingError) -> String {
    match e {
        MeetingError::Repeated(what) => format!("“{what}” is given twice"),
        other => other.to_string(),
    }
}

/// `Mon 30 Nov, 15:00–15:45 (Europe/Paris)`.
pub fn slot_text(start: &Zoned, end: &Zoned) -> String {
    let zone = start.time_zone().iana_name().unwrap_or("UTC").to_owned();
    format!(
        "{}–{} ({zone})",
        start.strftime("%a %-d %b, %H:%M"),
        end_text(start, end)
    )
}

/// The end of a slot: its time, with the day when that is not the start's.
fn end_text(start: &Zoned, end: &Zoned) -> String {
    if start.date() == end.date() {
        end.strftime("%H:%M").to_string()
    } else {
        end.strftime("%a %-d %b, %H:%M").to_string()
    }
}

/// The reply to `meeting …` once Webex created the meeting and the task is filed.
pub fn meeting_scheduled(
    title: &str,
    start: &Zoned,
    end: &Zoned,
    series: Option<&super::meeting::Series>,
    invited: &[String],
    web_link: &str,
    task: &TaskOutcome,
) -> Reply {
    const SHOWN: usize = 10;
    let invited_line = match invited.len() {
        0 => String::new(),
        n => {
            let names: Vec<String> = invited
                .iter()
                .take(SHOWN)
                .map(|e| escape_inline(e))
                .collect();
            let more = if n > SHOWN {
                format!(" and {} more", n - SHOWN)
            } else {
                String::new()
            };
            format!(
                " Webex emailed the invitation to {}{more}.",
                names.join(", ")
            )
        }
    };
    let task_line = match task {
        TaskOutcome::Created(t) | TaskOutcome::AlreadyLinked(t) => {
            format!("Filed as task **#{}**.", t.number)
        }
        _ => String::new(),
    };
    let when = match series {
        Some(s) => format!(
            "repeats {}; the first is {}",
            s.words,
            slot_text(start, end)
        ),
        None => format!("is scheduled for {}", slot_text(start, end)),
    };
    Reply::new(format!(
        "📅 **{}** {when}. [Join the meeting]({}){invited_line}\n\n{task_line}",
        escape_inline(title),
        link_target(web_link)
    ))
}

/// The 1:1 note to a host whose meeting (scheduled elsewhere) became a task.
pub fn meeting_filed(
    title: &str,
    start: &Zoned,
    end: &Zoned,
    web_link: &str,
    task: &Task,
) -> Reply {
    Reply::new(format!(
        "📅 You scheduled **{}** for {}. I filed it as task **#{}**. [Join the meeting]({})",
        escape_inline(title),
        slot_text(start, end),
        task.number,
        link_target(web_link)
    ))
}

/// A meeting with a task was moved or renamed in Webex: said once, in 1:1.
pub fn meeting_moved(before: &Task, task: &Task, tz: &jiff::tz::TimeZone) -> Option<Reply> {
    let shown = |t: Option<jiff::Timestamp>, format: &str| {
        t.map(|s| escape_inline(&s.to_zoned(tz.clone()).strftime(format).to_string()))
    };
    let start = |t: &Task| t.meeting.as_ref().and_then(|m| m.start);
    let end = |t: &Task| t.meeting.as_ref().and_then(|m| m.end);
    let web_link = |t: &Task| t.meeting.as_ref().map(|m| m.web_link.clone());
    let mut changes = Vec::new();
    if before.title != task.title {
        changes.push(format!(
            "is now called **{}** (was “{}”)",
            escape_inline(task.title.as_str()),
            escape_inline(&super::task::shorten(before.title.as_str(), 80))
        ));
    }
    let mut zone = String::new();
    let long = "%a %-d %b, %H:%M";
    match (shown(start(before), long), shown(start(task), long)) {
        (was, Some(now)) if was.as_deref() != Some(now.as_str()) => {
            changes.push(match was {
                Some(was) => format!("moved to **{now}** (was {was})"),
                None => format!("is on **{now}**"),
            });
            zone = format!(" ({})", tz.iana_name().unwrap_or("UTC"));
        }
        // Same start, another end (an end Botper did not know yet is no change to tell).
        _ => match (shown(end(before), "%H:%M"), shown(end(task), "%H:%M")) {
            (Some(was), Some(now)) if was != now => {
                changes.push(format!("now ends at **{now}** (was {was})"));
                zone = format!(" ({})", tz.iana_name().unwrap_or("UTC"));
            }
            _ => {}
        },
    }
    if web_link(before) != web_link(task) {
        changes.push("has a new join link".to_owned());
    }
    if changes.is_empty() {
        return None;
    }
    Some(Reply::new(format!(
        "📅 Your meeting {}{zone}. Task {} follows it{}.",
        changes.join(" and "),
        line(task),
        if task.remind_at.is_some() {
            "; the reminder you set stays as it was"
        } else {
            ", and so does its reminder"
        }
    )))
}

/// A meeting with a task was cancelled in Webex: said once, in 1:1.
pub fn meeting_cancelled(task: &Task, tz: &jiff::tz::TimeZone) -> Reply {
    let when = task
        .meeting
        .as_ref()
        .and_then(|m| m.start)
        .map(|s| {
            format!(
                " on {}",
                escape_inline(
                    &s.to_zoned(tz.clone())
                        .strftime("%a %-d %b, %H:%M %Z")
                        .to_string()
                )
            )
        })
        .unwrap_or_default();
    Reply::new(format!(
        "🗓️ **{}**{when} was cancelled in Webex. I closed task {} as cancelled; it will not remind you.",
        escape_inline(task.title.as_str()),
        line(task)
    ))
}

pub fn not_connected(connect_url: &str) -> Reply {
    Reply::new(format!(
        "I can create meetings for you once you connect your Webex account: \
         [connect Botper]({}). Until then, schedule it yourself in \
         [Webex]({WEBEX_MEETINGS_URL}) and add a task with `task <text>`. Nothing was created.",
        link_target(connect_url)
    ))
}

pub fn reconnect(connect_url: &str) -> Reply {
    Reply::new(format!(
        "Webex no longer accepts your connection to Botper (it expired or was revoked), so \
         nothing was created. Please [connect again]({}).",
        link_target(connect_url)
    ))
}

/// The stored connection cannot be read any more (the operator's token key changed).
pub fn renew_connection(connect_url: &str) -> Reply {
    Reply::new(format!(
        "Botper can no longer read your Webex connection (its stored keys changed), so \
         nothing was created. Please [renew the connection]({}); your tasks are safe.",
        link_target(connect_url)
    ))
}

/// Webex's token endpoint refused the integration itself (not the person's grant).
pub fn sign_in_unavailable() -> Reply {
    Reply::new(
        "Botper could not reach Webex's sign-in service; try again later. Nothing was \
         created, and your connection is kept.",
    )
}

/// Webex refused to create a meeting (a 4xx). `message` is Webex's own words.
pub fn meeting_refused(status: u16, message: &str) -> Reply {
    let hint = match status {
        403 => {
            " Your Webex account may not have a meeting license, or Botper was not \
                granted permission to schedule meetings (`connect` again to grant it)."
        }
        400 => " Check the time and title, then try again.",
        _ => "",
    };
    Reply::new(format!(
        "Webex refused to create the meeting: {}.{hint} Nothing was created.",
        escape_inline(message.trim_end_matches('.'))
    ))
}

/// `meeting … using <name>` named no single template: nothing was created.
pub fn unknown_template(miss: &TemplateMiss, known: &[String]) -> Reply {
    const SHOWN: usize = 20;
    let names = |all: &[String]| {
        let mut shown: Vec<String> = all
            .iter()
            .take(SHOWN)
            .map(|n| format!("“{}”", escape_inline(n)))
            .collect();
        if all.len() > SHOWN {
            shown.push(format!("and {} more", all.len() - SHOWN));
        }
        shown.join(", ")
    };
    let asked = escape_inline(&super::task::shorten(&miss.asked, 80));
    let text = if !miss.ambiguous.is_empty() {
        format!(
            "“{asked}” could be {}: say which, with its full name. Nothing was created.",
            names(&miss.ambiguous)
        )
    } else if known.is_empty() {
        format!(
            "You have no meeting template called “{asked}”; Webex shows you no templates at \
             all. Nothing was created."
        )
    } else {
        format!(
            "You have no meeting template called “{asked}”. Yours: {}. Nothing was created.",
            names(known)
        )
    };
    Reply::new(text)
}

/// `meeting templates`.
pub fn meeting_templates(templates: &[MeetingTemplate]) -> Reply {
    if templates.is_empty() {
        return Reply::new(
            "Webex shows you no meeting templates; `meeting <title>` uses your site's defaults.",
        );
    }
    let mut out = format!("**Your meeting templates ({})**\n\n", templates.len());
    for t in templates {
        let line = format!(
            "- {}{}\n",
            escape_inline(&t.name),
            if t.is_default { " (default)" } else { "" }
        );
        if out.len() + line.len() > MAX_MARKDOWN_BYTES - 200 {
            out.push_str("- …\n");
            break;
        }
        out.push_str(&line);
    }
    out.push_str("\nCreate from one with `meeting Board review using <template name>`.");
    Reply::new(out)
}

/// `meetings [today | tomorrow | week]`: soonest first, the ones with a task marked.
pub fn meetings_list(
    window: MeetingsWindow,
    meetings: &[Upcoming],
    now: jiff::Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Reply {
    let when = window.words();
    if meetings.is_empty() {
        return Reply::new(format!(
            "You have no Webex meetings {when}. Schedule one with `meeting <title>`."
        ));
    }
    let zone = tz.iana_name().unwrap_or("UTC");
    let mut out = format!("**Your meetings {when} ({})**, {zone}\n\n", meetings.len());
    for (i, m) in meetings.iter().enumerate() {
        let day = if window == MeetingsWindow::Week {
            m.start.strftime("%a %-d %b, ").to_string()
        } else {
            String::new()
        };
        let end = end_text(&m.start, &m.end);
        let now_mark = if m.start.timestamp() <= now && now < m.end.timestamp() {
            " (now)"
        } else {
            ""
        };
        let task = m
            .task
            .map(|n| format!(" · task **#{n}**"))
            .unwrap_or_default();
        let title = escape_inline(&super::task::shorten(&m.title, 100));
        let title = if m.web_link.is_empty() {
            format!("**{title}**")
        } else {
            format!("[{title}]({})", link_target(&m.web_link))
        };
        let line = format!(
            "- {day}{}–{end}{now_mark} {title}{task}\n",
            m.start.strftime("%H:%M")
        );
        if out.len() + line.len() > MAX_MARKDOWN_BYTES - 100 {
            out.push_str(&format!("- and {} more\n", meetings.len() - i));
            break;
        }
        out.push_str(&line);
    }
    Reply::new(out.trim_end().to_owned())
}

/// `meetings` in a group space: its titles and join links are not for everyone there.
pub fn meetings_in_private() -> Reply {
    Reply::new(
        "Your meetings carry their titles and join links, so I list them only in our 1:1 \
         space: send me `meetings` (or `meetings week`) there.",
    )
}

/// `meet now` answered: the space's instant meeting.
pub fn meet_now(name: &str, web_link: &str) -> Reply {
    let who = if name.trim().is_empty() {
        "A meeting".to_owned()
    } else {
        format!("**{}** started a meeting", escape_inline(name))
    };
    Reply::new(format!(
        "📹 {who} for this space: [join it now]({}). It is open to everyone here and \
         ends when the last person leaves.",
        link_target(web_link)
    ))
}

/// `meet now` in a 1:1 space.
pub fn meet_now_in_groups() -> Reply {
    Reply::new(
        "`meet now` starts a meeting for everyone in a group space: type it there (with an \
         @mention of me). For a meeting of your own, `meeting <title>`.",
    )
}

/// `meet now` while the deployment has it off.
pub fn meet_now_off() -> Reply {
    Reply::new(
        "`meet now` is not turned on for this Botper: it needs Webex's full-access \
         permission, which its administrator has not asked for (`BOTPER_MEET_NOW`). \
         `meeting <title>` schedules one instead.",
    )
}

/// `meet now` with a grant from before it was turned on.
pub fn meet_now_needs_scope(connect_url: &str) -> Reply {
    Reply::new(format!(
        "`meet now` needs a permission your connection to Botper does not include yet \
         (Webex requires full access for a meeting tied to a space). Please \
         [connect again]({}) to allow it, then try again.",
        link_target(connect_url)
    ))
}

/// `meeting … with @Bob` when Webex does not show the bot Bob's address.
pub fn unknown_guest(shown: &str) -> Reply {
    Reply::new(format!(
        "I can't schedule that meeting: Webex does not show me the email address of **{}**, \
         so I can't invite them. Nothing was created; name their address instead \
         (`with bob@example.com`).",
        escape_inline(shown)
    ))
}

/// `calendar` in a group space: the address opens the person's tasks, so it is given 1:1.
pub fn calendar_in_private() -> Reply {
    Reply::new(
        "Your calendar address opens your tasks and meetings to whoever has it, so I give it \
         only in our 1:1 space: send me `calendar` there.",
    )
}

/// `calendar` / `calendar reset` in 1:1: the feed's private address.
pub fn calendar_link(url: &str, reset: bool) -> Reply {
    let first = if reset {
        "Here is your new calendar address; the old one no longer works:"
    } else {
        "Your calendar, to subscribe to in Google Calendar, Outlook or Apple Calendar \
         (\"add calendar from URL\"):"
    };
    Reply::new(format!(
        "📆 {first}\n\n`{}`\n\nIt holds your open tasks that have a due date and the \
         meetings Botper knows, with their join links, and calendar apps refresh it about \
         every hour. Anyone with this address can read them: keep it to yourself, and send \
         `calendar reset` to replace it.",
        escape_code(url)
    ))
}

/// `calendar` when the stored address cannot be opened (the token key changed).
pub fn calendar_unreadable() -> Reply {
    Reply::new(
        "I can't show your calendar address: it was sealed with a key Botper no longer has. \
         Send `calendar reset` for a new one (then subscribe to that one instead).",
    )
}

/// A read of the person's Webex data that could not run: why, and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    NotConnected,
    Reconnect,
    Unreadable,
    SignInUnavailable,
}

/// `what` (`your meetings`) could not be read from Webex for `why`.
pub fn cannot_read(what: &str, why: Blocked, connect_url: &str) -> Reply {
    let url = link_target(connect_url);
    Reply::new(match why {
        Blocked::NotConnected => format!(
            "I can show {what} once you connect your Webex account: [connect Botper]({url})."
        ),
        Blocked::Reconnect => format!(
            "Webex no longer accepts your connection to Botper (it expired or was revoked), \
             so I can't show {what}. Please [connect again]({url})."
        ),
        Blocked::Unreadable => format!(
            "Botper can no longer read your Webex connection (its stored keys changed), so I \
             can't show {what}. Please [renew the connection]({url}); your tasks are safe."
        ),
        Blocked::SignInUnavailable => format!(
            "Botper could not reach Webex's sign-in service, so I can't show {what} now; try \
             again later. Your connection is kept."
        ),
    })
}

/// Webex refused to show `what` (a 4xx); `message` is its own words.
pub fn read_refused(what: &str, status: u16, message: &str) -> Reply {
    let hint = if status == 403 {
        " Botper may not have been granted permission to read your meetings (`connect` again \
         to grant it)."
    } else {
        ""
    };
    Reply::new(format!(
        "Webex refused to show {what}: {}.{hint}",
        escape_inline(message.trim_end_matches('.'))
    ))
}

/// Who reads a reply: only the person (a 1:1 space, the console), or a group space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Private,
    Shared,
}

/// Whether the person's meetings webhook was found working when `status` looked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingsFollowed {
    Yes,
    /// It was missing, inactive, pointed elsewhere or had an old secret; Botper fixed it.
    Repaired,
    /// It is broken and could not be fixed; the reason is for the person.
    No(String),
    /// Webex could not be asked.
    Unknown,
    /// Websocket mode: no webhook; Botper lists the person's meetings every this many
    /// seconds.
    Polled(u64),
}

pub fn status(
    grant: &Grant,
    connect_url: &str,
    audience: Audience,
    meetings: &MeetingsFollowed,
) -> Reply {
    let who = match grant
        .email
        .as_ref()
        .filter(|_| audience == Audience::Private)
    {
        Some(e) => format!(
            "**{}** ({})",
            escape_inline(&grant.display_name),
            escape_inline(e)
        ),
        None => format!("**{}**", escape_inline(&grant.display_name)),
    };
    if let Some(reason) = &grant.disconnected {
        return Reply::new(format!(
            "Your Webex connection as {who} stopped working ({}). Please [connect again]({}).",
            escape_inline(reason),
            link_target(connect_url)
        ));
    }
    let until = grant.tokens.refresh_expires_at.strftime("%-d %b %Y");
    let webhook = match meetings {
        MeetingsFollowed::Yes => "Meetings you schedule anywhere in Webex become tasks.".to_owned(),
        MeetingsFollowed::Repaired => "Meetings you schedule anywhere in Webex become tasks \
             (Webex had stopped telling Botper about them; that is repaired now)."
            .to_owned(),
        MeetingsFollowed::No(why) => format!(
            "Meetings you create with `meeting …` become tasks, but meetings scheduled \
             elsewhere are **not followed** right now ({}): [connect again]({}) to fix that.",
            escape_inline(why),
            link_target(connect_url)
        ),
        MeetingsFollowed::Unknown => "Meetings you create with `meeting …` become tasks; \
             Botper could not ask Webex just now whether meetings scheduled elsewhere are \
             followed."
            .to_owned(),
        MeetingsFollowed::Polled(secs) => format!(
            "Meetings you schedule anywhere in Webex become tasks (Botper checks your \
             meetings every {}).",
            match *secs {
                60 => "minute".to_owned(),
                s if s % 60 == 0 => format!("{} minutes", s / 60),
                1 => "second".to_owned(),
                s => format!("{s} seconds"),
            }
        ),
    };
    Reply::new(format!(
        "You're connected as {who}. The grant renews itself and is valid until {until} \
         unless you use Botper before then. {webhook} Type `disconnect` to remove it."
    ))
}

/// `status` when the stored grant cannot be decrypted.
pub fn status_unreadable(connect_url: &str) -> Reply {
    Reply::new(format!(
        "Botper holds a Webex connection for you but can no longer read it (its stored keys \
         changed), so it cannot create or follow meetings. Please [renew the connection]({}), \
         or type `disconnect` to remove it. Your tasks are safe.",
        link_target(connect_url)
    ))
}

pub fn status_not_connected(connect_url: &str) -> Reply {
    Reply::new(format!(
        "Your Webex account is not connected. [Connect Botper]({}) to let it create meetings \
         for you and file every meeting you schedule as a task.",
        link_target(connect_url)
    ))
}

pub fn connect(connect_url: &str) -> Reply {
    Reply::new(format!(
        "[Connect your Webex account]({}) to let Botper create meetings for you.",
        link_target(connect_url)
    ))
}

/// `disconnect`, which also removed `jobs` scheduled reminders and agendas.
pub fn disconnected_with_jobs(had_grant: bool, jobs: u32) -> Reply {
    let mut r = disconnected(had_grant);
    if jobs > 0 {
        r.markdown.push_str(&format!(
            "\n\nI also cancelled {} scheduled for you (reminders and your daily agenda): nothing is scheduled now. `remind <n> …` and `agenda at …` set them again.",
            if jobs == 1 { "the 1 job".to_owned() } else { format!("the {jobs} jobs") },
        ));
    }
    r
}

pub fn disconnected(had_grant: bool) -> Reply {
    Reply::new(if had_grant {
        "Disconnected: Botper no longer holds a grant for your Webex account and stopped \
         following your meetings. Your tasks stay."
    } else {
        "There was nothing to disconnect: your Webex account was not connected."
    })
}

/// The first reply that the sender's pace delayed: says once that Botper is catching up
/// and that nothing is dropped, then the reply itself.
pub fn catching_up(r: Reply, per_minute: u32, waiting: u32) -> Reply {
    let ahead = match waiting {
        0 => String::new(),
        1 => " (1 was waiting before this one)".to_owned(),
        n => format!(" ({n} were waiting before this one)"),
    };
    let note = format!(
        "⏳ You're sending commands faster than I answer ({per_minute} a minute), so I'm \
         catching up{ahead}: every command will be run and answered, in the order you sent \
         them.\n\n"
    );
    let mut markdown = note;
    markdown.push_str(&r.markdown);
    if markdown.len() > MAX_MARKDOWN_BYTES {
        return r;
    }
    Reply {
        markdown,
        card: r.card,
    }
}

/// A command refused because too many of the sender's commands are still waiting; names
/// the command so that nothing vanishes silently.
pub fn backlog_refused(command: &str, waiting: u32) -> Reply {
    Reply::new(format!(
        "I did **not** run “{}”: {waiting} of your commands are still waiting their turn, \
         which is as many as I queue for one person. Nothing was changed; send it again once \
         I've answered the others.",
        escape_inline(&super::task::shorten(command.trim(), 120))
    ))
}

/// A pressed button refused for the same reason as [`backlog_refused`].
pub fn backlog_refused_card(waiting: u32) -> Reply {
    Reply::new(format!(
        "I did **not** apply that button press: {waiting} of your commands are still waiting \
         their turn, which is as many as I queue for one person. Nothing was changed; press \
         it again once I've answered the others."
    ))
}

/// A card submission Botper cannot use. The submission's inputs came from outside: they are
/// escaped like any other user text.
pub fn card_error(e: &CardError) -> Reply {
    let why = match e {
        CardError::NoAction => "the card did not say what to do".to_owned(),
        CardError::UnknownAction(a) => format!(
            "the card asked for “{}”, which I don't know",
            escape_inline(a)
        ),
        CardError::BadTask(_) => "the card's task number is not valid".to_owned(),
        CardError::NoOwner => "the card does not say whose list it is".to_owned(),
    };
    Reply::new(format!(
        "I could not use that card: {why}. Type `list` for a fresh one."
    ))
}

/// `**#3** Buy milk` with the title escaped, and the join link for meeting tasks.
fn line(t: &Task) -> String {
    let mut s = format!("**#{}** {}", t.number, escape_inline(t.title.as_str()));
    match &t.meeting {
        Some(m) if m.cancelled => s.push_str(" (meeting cancelled)"),
        Some(m) => s.push_str(&format!(" ([join]({}))", link_target(&m.web_link))),
        None => {}
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

pub fn admin_help() -> Reply {
    Reply::new(ADMIN_HELP)
}

fn article(r: crate::domain::access::Role) -> &'static str {
    use crate::domain::access::Role;
    match r {
        Role::Admin | Role::Organizer => "an",
        Role::Member => "a",
    }
}

pub fn admin_already(who: &str, role: crate::domain::access::Role) -> Reply {
    Reply::new(format!(
        "**{}** is already {} {role}.",
        escape_inline(who),
        article(role)
    ))
}

pub fn admin_granted(
    who: &str,
    role: crate::domain::access::Role,
    meetings: crate::domain::access::MeetingRole,
) -> Reply {
    use crate::domain::access::{MeetingRole, Role};
    let extra = if role == Role::Organizer && meetings == MeetingRole::Organizer {
        " and may create meetings through Botper"
    } else {
        ""
    };
    Reply::new(format!(
        "**{}** is now {} {role}{extra}.",
        escape_inline(who),
        article(role)
    ))
}

pub fn admin_configured(who: &str) -> Reply {
    Reply::new(format!(
        "**{}** is an admin by configuration (`BOTPER_ADMINS`): change it there.",
        escape_inline(who)
    ))
}

pub fn admin_not_having(who: &str, role: crate::domain::access::Role) -> Reply {
    Reply::new(format!(
        "**{}** is not {} {role}; nothing changed.",
        escape_inline(who),
        article(role)
    ))
}

pub fn admin_revoked(who: &str, role: crate::domain::access::Role) -> Reply {
    Reply::new(format!(
        "**{}** is no longer {} {role}.",
        escape_inline(who),
        article(role)
    ))
}

/// `admin roles`.
pub fn admin_roles(
    rows: &[crate::domain::access::RoleLine],
    meetings: crate::domain::access::MeetingRole,
) -> Reply {
    use crate::domain::access::MeetingRole;
    let who_meets = match meetings {
        MeetingRole::Everyone => "everyone may create meetings (`BOTPER_MEETING_ROLE=everyone`)",
        MeetingRole::Organizer => {
            "only organizers and admins may create meetings (`BOTPER_MEETING_ROLE=organizer`)"
        }
    };
    if rows.is_empty() {
        return Reply::new(format!(
            "No roles are given: everyone is a member; {who_meets}."
        ));
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|l| match &l.granted {
            None => format!(
                "- **{}**: {} (`BOTPER_ADMINS`)",
                escape_inline(&l.email),
                l.role
            ),
            Some((by, when)) => format!(
                "- **{}**: {} (by {}, {})",
                escape_inline(&l.email),
                l.role,
                escape_inline(by),
                escape_inline(when)
            ),
        })
        .collect();
    Reply::new(format!(
        "Roles (everyone else is a member; {who_meets}):\n{}",
        lines.join("\n")
    ))
}

/// `admin stats`: (what, how many).
pub fn admin_stats(rows: &[(&str, String)]) -> Reply {
    Reply::new(
        rows.iter()
            .map(|(k, v)| format!("- {k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

pub fn admin_disconnected(who: &str) -> Reply {
    Reply::new(format!(
        "Disconnected **{}**: their Webex grant and meetings webhook are deleted (their tasks stay).",
        escape_inline(who)
    ))
}

pub fn admin_no_connection(who: &str) -> Reply {
    Reply::new(format!(
        "**{}** has no Webex connection with Botper.",
        escape_inline(who)
    ))
}

/// `admin audit`, newest first.
pub fn admin_audit(entries: &[crate::domain::access::AuditLine]) -> Reply {
    if entries.is_empty() {
        return Reply::new("No admin actions yet.");
    }
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "- {} **{}** `{}`{}: {}",
                escape_inline(&e.at),
                escape_inline(&e.actor),
                escape_code(&e.action),
                e.target
                    .as_deref()
                    .map(|t| format!(" {}", escape_inline(t)))
                    .unwrap_or_default(),
                escape_inline(&e.outcome)
            )
        })
        .collect();
    Reply::new(format!(
        "The last admin actions, newest first:\n{}",
        lines.join("\n")
    ))
}

pub fn export_json_file(tasks: usize) -> Reply {
    Reply::new(format!(
        "Your data as Botper keeps it ({tasks} task(s), reminders, settings, connection), as JSON."
    ))
}

pub fn export_csv_file() -> Reply {
    Reply::new("Your tasks as CSV (for a spreadsheet).")
}

pub fn exported() -> Reply {
    Reply::new(
        "That is what Botper keeps about you (besides the titles of tasks you deleted and \
         your undo history, which it keeps for `undo`). `forget me` erases all of it.",
    )
}

// ----- access, roles, a person's data -------------------------------------------------

/// The one refusal a space gets a day from someone outside the allow-list.
pub fn not_allowed() -> Reply {
    Reply::new(
        "Sorry, Botper is not available to your account: this deployment is limited to \
         certain organisations or addresses. Nothing you type here is kept. Ask whoever runs \
         Botper for your company if you think this is wrong.",
    )
}

pub fn admin_only() -> Reply {
    Reply::new("Only Botper's admins can use `admin` commands.")
}

pub fn admin_in_private() -> Reply {
    Reply::new("`admin` commands work only in a 1:1 space with me.")
}

pub fn admin_error(e: &crate::domain::access::AdminError) -> Reply {
    use crate::domain::access::AdminError;
    let text = match e {
        AdminError::UnknownRole(r) => format!(
            "“{}” is not a role: the roles are `organizer` and `admin` (everyone else is a member).",
            escape_inline(r)
        ),
        AdminError::NotGrantable(_) => {
            "Everyone is a member: grant `organizer` or `admin`, or revoke them.".to_owned()
        }
        AdminError::BadEmail(e) => format!(
            "“{}” is not an email address. Try `admin grant organizer bob@example.com`.",
            escape_inline(e)
        ),
        AdminError::Usage(u) => format!("Try `{u}`."),
        AdminError::Unknown(v) => format!(
            "`admin {}` is not an admin command.\n\n{ADMIN_HELP}",
            escape_code(v)
        ),
    };
    Reply::new(text)
}

/// Who to ask for the organizer role when meetings are reserved.
pub fn meetings_reserved(admins: &[String]) -> Reply {
    let who = if admins.is_empty() {
        "whoever runs Botper for your company".to_owned()
    } else {
        admins
            .iter()
            .map(|a| escape_inline(a))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Reply::new(format!(
        "Creating meetings through Botper is reserved to organizers, and you are not one. \
         An admin can grant it: ask {who} (`admin grant organizer <your address>`). Your tasks \
         and reminders work as before."
    ))
}

pub fn forget_in_private() -> Reply {
    Reply::new("`forget me` and `export` work only in a 1:1 space with me.")
}

pub fn forget_nothing() -> Reply {
    Reply::new(
        "Botper keeps nothing about you: no tasks, no reminders, no settings, no connection. There is nothing to forget.",
    )
}

pub fn forget_asked(tasks: usize, connected: bool) -> Reply {
    let conn = if connected {
        ", your Webex connection (and its meetings webhook)"
    } else {
        ""
    };
    Reply::new(format!(
        "This erases everything Botper keeps about you: your {} task(s), reminders, agenda, \
         settings{conn}, your personal page's sessions and your calendar address. It cannot be \
         undone (`export` first if you want a copy). Type `forget me confirm` within 10 \
         minutes to go ahead.",
        tasks
    ))
}

pub fn forget_not_asked() -> Reply {
    Reply::new(
        "There is no request to forget you (or it is older than 10 minutes): type `forget me` \
         first, then `forget me confirm`.",
    )
}

pub fn forgotten(f: &crate::domain::access::ForgetSummary) -> Reply {
    let mut parts = Vec::new();
    let mut push = |n: u64, what: &str| {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    };
    push(f.tasks, "task(s)");
    push(f.jobs, "reminder/agenda job(s)");
    push(u64::from(f.settings), "settings");
    push(u64::from(f.grant), "Webex connection");
    push(f.webhooks, "meetings webhook(s) at Webex");
    push(f.sessions, "web session(s)");
    push(u64::from(f.calendar), "calendar address");
    push(u64::from(f.role), "role");
    push(
        f.inbox_rows,
        "record(s) of your messages (only their ids are kept, to recognise a redelivery)",
    );
    Reply::new(format!(
        "Done: Botper has forgotten you. Deleted: {}. If you type here again, you start afresh.",
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join(", ")
        }
    ))
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
            due: None,
            remind_at: None,
        }
    }

    fn meeting_task(title: &str, start: &str) -> Task {
        let mut t = task(3, title);
        t.meeting = Some(MeetingLink {
            meeting_id: "m1".into(),
            web_link: "https://x.webex.com/j.php?MTID=m1".into(),
            start: Some(start.parse().unwrap()),
            end: None,
            title: None,
            cancelled: false,
        });
        t
    }

    /// A plain reminder's text is the same in every zone, so firing it needs no zone; one
    /// with a due date, a meeting start or a late note does.
    #[test]
    fn only_a_reminder_that_shows_a_moment_needs_the_zone() {
        let owner = PersonId::new("p");
        let now: Timestamp = "2026-12-04T08:00:00Z".parse().unwrap();
        let paris = Here {
            tz: jiff::tz::TimeZone::get("Europe/Paris").unwrap(),
            now,
        };
        let utc = Here {
            tz: jiff::tz::TimeZone::UTC,
            now,
        };
        let mut plain = task(4, "Call the plumber");
        plain.remind_at = Some(now);
        assert!(!reminder_shows_a_moment(&plain, false));
        assert_eq!(
            reminder(&owner, &plain, &paris, None),
            reminder(&owner, &plain, &utc, None)
        );
        assert!(
            reminder_shows_a_moment(&plain, true),
            "late: says when it was due"
        );
        let mut due = plain.clone();
        due.due = Some(crate::domain::task::Due {
            at: "2026-12-04T16:00:00Z".parse().unwrap(),
            has_time: true,
        });
        assert!(reminder_shows_a_moment(&due, false));
        assert_ne!(
            reminder(&owner, &due, &paris, None),
            reminder(&owner, &due, &utc, None)
        );
        let meeting = meeting_task("Review", "2026-12-04T14:00:00Z");
        assert!(reminder_shows_a_moment(&meeting, false));
    }

    #[test]
    fn a_moved_meeting_says_where_to_and_from_in_the_persons_zone() {
        let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let before = meeting_task("Review", "2026-12-04T14:00:00Z");
        let moved = meeting_task("Review", "2026-12-05T09:30:00Z");
        let r = meeting_moved(&before, &moved, &tz).unwrap().markdown;
        assert!(
            r.contains("moved to **Sat 5 Dec, 10:30** (was Fri 4 Dec, 15:00) (Europe/Paris)"),
            "{r}"
        );
        assert!(r.contains("Task **#3** Review"), "{r}");
        let renamed = meeting_task("Design *review*", "2026-12-04T14:00:00Z");
        let r = meeting_moved(&before, &renamed, &tz).unwrap().markdown;
        assert!(!r.contains("join link"), "{r}");
        assert!(r.contains("is now called **Design \\*review\\***"), "{r}");
        assert!(!r.contains("moved to"), "{r}");
    }

    #[test]
    fn a_longer_meeting_says_its_new_end_and_a_first_known_end_says_nothing() {
        let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let end =
            |t: &mut Task, at: &str| t.meeting.as_mut().unwrap().end = Some(at.parse().unwrap());
        let before = meeting_task("Review", "2026-12-04T14:00:00Z");
        let mut learned = before.clone();
        end(&mut learned, "2026-12-04T14:30:00Z");
        assert_eq!(meeting_moved(&before, &learned, &tz), None);
        let mut longer = learned.clone();
        end(&mut longer, "2026-12-04T15:00:00Z");
        let r = meeting_moved(&learned, &longer, &tz).unwrap().markdown;
        assert!(
            r.contains("now ends at **16:00** (was 15:30) (Europe/Paris)"),
            "{r}"
        );
        let mut relinked = learned.clone();
        relinked.meeting.as_mut().unwrap().web_link = "https://x.webex.com/j.php?MTID=m2".into();
        let r = meeting_moved(&learned, &relinked, &tz).unwrap().markdown;
        assert!(r.contains("has a new join link"), "{r}");
    }

    #[test]
    fn a_cancelled_meeting_task_shows_no_join_link() {
        let tz = jiff::tz::TimeZone::UTC;
        let mut t = meeting_task("Review", "2026-12-04T14:00:00Z");
        t.done = true;
        t.meeting.as_mut().unwrap().cancelled = true;
        let r = meeting_cancelled(&t, &tz).markdown;
        assert!(
            r.contains("**Review** on Fri 4 Dec, 14:00 UTC was cancelled"),
            "{r}"
        );
        assert!(r.contains("(meeting cancelled)"), "{r}");
        assert!(!r.contains("join"), "{r}");
    }

    #[test]
    fn the_list_puts_overdue_tasks_first_marked_with_dates_in_the_zone() {
        use crate::domain::task::Due;
        let here = Here {
            tz: jiff::tz::TimeZone::get("Europe/Paris").unwrap(),
            now: "2026-12-02T12:00:00Z".parse().unwrap(),
        };
        let mut late = task(2, "Late");
        late.due = Some(Due {
            at: "2026-12-01T08:00:00Z".parse().unwrap(),
            has_time: false,
        });
        let mut soon = task(3, "Soon");
        soon.due = Some(Due {
            at: "2026-12-04T14:00:00Z".parse().unwrap(),
            has_time: true,
        });
        let r = task_list_at(&[task(1, "Plain"), late, soon], Some(&here));
        assert_eq!(
            r.markdown,
            "**Your 3 open tasks**\n\n\
             - **#2** Late — ⚠️ **overdue** (due Tue 1 Dec)\n\
             - **#1** Plain\n\
             - **#3** Soon — due Fri 4 Dec, 15:00 Europe/Paris"
        );
        // Without a zone (no dated task), nothing is shown or reordered.
        assert!(!task_list(&[task(1, "Plain")]).markdown.contains("due"));
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
            end: None,
            title: None,
            cancelled: false,
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
    fn templates_and_a_template_miss_name_the_persons_templates() {
        let t = |name: &str, is_default| MeetingTemplate {
            id: name.to_lowercase(),
            name: name.into(),
            is_default,
        };
        let r = meeting_templates(&[t("Standard", true), t("Board <Review>", false)]);
        assert!(
            r.markdown.starts_with("**Your meeting templates (2)**"),
            "{}",
            r.markdown
        );
        assert!(
            r.markdown.contains("- Standard (default)\n"),
            "{}",
            r.markdown
        );
        assert!(
            r.markdown.contains("- Board &lt;Review&gt;\n"),
            "{}",
            r.markdown
        );
        assert!(
            meeting_templates(&[])
                .markdown
                .contains("no meeting templates")
        );
        let miss = TemplateMiss {
            asked: "Retro".into(),
            ambiguous: vec![],
        };
        let r = unknown_template(&miss, &["Standard".into(), "Board".into()]);
        assert_eq!(
            r.markdown,
            "You have no meeting template called “Retro”. Yours: “Standard”, “Board”. \
             Nothing was created."
        );
        let miss = TemplateMiss {
            asked: "Bo".into(),
            ambiguous: vec!["Board".into(), "Board Extended".into()],
        };
        assert!(
            unknown_template(&miss, &[])
                .markdown
                .starts_with("“Bo” could be “Board”, “Board Extended”: say which")
        );
    }

    #[test]
    fn meetings_are_listed_soonest_first_with_their_tasks() {
        let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().to_zoned(tz.clone());
        let now: jiff::Timestamp = "2026-11-30T09:10:00Z".parse().unwrap();
        let list = [
            Upcoming {
                title: "Standup".into(),
                web_link: "https://example.webex.com/j (1)".into(),
                start: at("2026-11-30T09:00:00Z"),
                end: at("2026-11-30T09:15:00Z"),
                task: Some(crate::domain::TaskNumber::new(3).unwrap()),
            },
            Upcoming {
                title: "Review *all*".into(),
                web_link: "https://example.webex.com/j2".into(),
                start: at("2026-12-01T14:00:00Z"),
                end: at("2026-12-01T15:00:00Z"),
                task: None,
            },
        ];
        let r = meetings_list(MeetingsWindow::Week, &list, now, &tz).markdown;
        assert_eq!(
            r,
            "**Your meetings this week (2)**, Europe/Paris\n\n\
             - Mon 30 Nov, 10:00–10:15 (now) [Standup](https://example.webex.com/j%20%281%29) · task **#3**\n\
             - Tue 1 Dec, 15:00–16:00 [Review \\*all\\*](https://example.webex.com/j2)"
        );
        let r = meetings_list(MeetingsWindow::Today, &list[..1], now, &tz).markdown;
        assert!(r.contains("\n- 10:00–10:15 (now) [Standup]"), "{r}");
        let r = meetings_list(MeetingsWindow::Tomorrow, &[], now, &tz).markdown;
        assert_eq!(
            r,
            "You have no Webex meetings tomorrow. Schedule one with `meeting <title>`."
        );
        let r = cannot_read("your meetings", Blocked::NotConnected, "http://x/");
        assert!(
            r.markdown.contains("[connect Botper](http://x/)"),
            "{}",
            r.markdown
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
