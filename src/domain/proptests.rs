//! Property tests: no input a person (or a forged message) can produce makes the core panic,
//! and what Botper echoes stays escaped and within Webex's size limit.

use proptest::prelude::*;

use super::command::Command;
use super::markdown::escape_inline;
use super::meeting::MeetingRequest;
use super::mention::strip_bot_mention;
use super::reply;
use super::task::{Task, TaskNumber, TaskTitle};

fn words() -> impl Strategy<Value = String> {
    // Commands, numbers, options, Markdown and mention syntax, Unicode, control characters.
    let atoms = prop_oneof![
        Just("task".to_owned()),
        Just("TASK".to_owned()),
        Just("done".to_owned()),
        Just("delete".to_owned()),
        Just("list".to_owned()),
        Just("meeting".to_owned()),
        Just("at".to_owned()),
        Just("for".to_owned()),
        Just("on".to_owned()),
        Just("tomorrow".to_owned()),
        Just("<@all>".to_owned()),
        Just("#".to_owned()),
        "[0-9]{1,12}",
        "[0-9]{1,2}:[0-9]{2}",
        "[0-9]{1,3}[hm]",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "\\PC{0,20}",
        "[*_`~\\[\\]()<>&|\\\\]{1,5}",
        "[\\x00-\\x1f]{1,3}",
    ];
    prop::collection::vec(atoms, 0..12).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics(text in words()) {
        let _ = Command::parse(&text);
    }

    #[test]
    fn parsing_arbitrary_unicode_never_panics(text in "\\PC{0,600}") {
        let _ = Command::parse(&text);
        let _ = MeetingRequest::parse(&text);
    }

    #[test]
    fn meeting_requests_resolve_or_refuse_without_panicking(text in words(), offset in 0i64..4_000_000_000) {
        if let Ok(r) = MeetingRequest::parse(&text) {
            let now = jiff::Timestamp::from_second(offset).unwrap();
            for tz in ["UTC", "Europe/Paris", "Pacific/Kiritimati", "America/St_Johns"] {
                let _ = r.resolve(now, &jiff::tz::TimeZone::get(tz).unwrap());
            }
        }
    }

    #[test]
    fn mention_stripping_never_panics(text in "\\PC{0,200}", html in "(<spark-mention[^>]{0,40}>\\PC{0,20}(</spark-mention>)?|\\PC{0,20}){0,5}") {
        let _ = strip_bot_mention(&text, Some(&html), "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ib3Q");
    }

    #[test]
    fn echoed_text_cannot_mention_or_format(text in "\\PC{0,300}") {
        let e = escape_inline(&text);
        prop_assert!(!e.contains('<') && !e.contains('>'));
        prop_assert!(!e.contains('\n'));
        // Every Markdown marker is preceded by a backslash.
        let chars: Vec<char> = e.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if matches!(c, '*' | '_' | '`' | '[' | ']' | '~' | '|' | '#') {
                prop_assert!(i > 0 && chars[i - 1] == '\\', "unescaped {c} in {e}");
            }
        }
    }

}

proptest! {
    // Generating long titles is the slow part; fewer, larger cases.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_reply_fits_in_a_webex_message(titles in prop::collection::vec("\\PC{1,500}", 0..40)) {
        let tasks: Vec<Task> = titles
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                Some(Task {
                    number: TaskNumber::new(i as u32 + 1)?,
                    title: TaskTitle::parse(t).ok()?,
                    done: false,
                    created_at: jiff::Timestamp::UNIX_EPOCH,
                    meeting: None,
            due: None,
            remind_at: None,
                })
            })
            .collect();
        let r = reply::task_list(&tasks);
        prop_assert!(r.markdown.len() <= reply::MAX_MARKDOWN_BYTES);
        for t in &tasks {
            let one = reply::outcome(&super::task::TaskOutcome::Created(t.clone()));
            prop_assert!(one.markdown.len() <= reply::MAX_MARKDOWN_BYTES);
        }
    }
}
