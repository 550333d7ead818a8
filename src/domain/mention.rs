//! Removing the bot's own @mention from a message, by person id (never by display name).
//!
//! In a group space a person must @mention the bot. Webex then puts the mention's display
//! text into the message's plain `text` ("Botper task Buy milk") and marks it in `html` as
//! `<spark-mention data-object-type="person" data-object-id="…">Botper</spark-mention>`.
//! The id there is either the REST id (base64 of `ciscospark://…/PEOPLE/<uuid>`) or the bare
//! uuid; both are matched against the bot's REST id.

use base64::Engine;

/// Returns `text` without the bot's mention(s). Mentions of other people stay.
pub fn strip_bot_mention(text: &str, html: Option<&str>, bot_person_id: &str) -> String {
    let Some(html) = html else {
        return text.trim().to_owned();
    };
    let mut out = text.to_owned();
    for (object_id, shown) in spark_mentions(html) {
        if shown.is_empty() || !same_person(&object_id, bot_person_id) {
            continue;
        }
        if let Some(at) = out.find(&shown) {
            out.replace_range(at..at + shown.len(), "");
        }
    }
    out.trim().to_owned()
}

/// Whether a message @mentions the bot: in `mentionedPeople`, or as a mention in its
/// `html`. In a group space a message that does not is not for the bot, whatever a delivery
/// claims.
pub fn mentions_bot<'a>(
    mentioned_people: impl IntoIterator<Item = &'a str>,
    html: Option<&str>,
    bot_person_id: &str,
) -> bool {
    mentioned_people
        .into_iter()
        .any(|p| same_person(p, bot_person_id))
        || html.is_some_and(|h| {
            spark_mentions(h)
                .iter()
                .any(|(id, _)| same_person(id, bot_person_id))
        })
}

/// A person @mentioned in a message, other than the bot: their REST id and the name the
/// message shows for them (Webex puts that name, without an `@`, in the plain text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mentioned {
    pub person: String,
    pub shown: String,
}

/// The people a message @mentions besides the bot, in order, each once.
pub fn people_mentioned(html: Option<&str>, bot_person_id: &str) -> Vec<Mentioned> {
    let mut out: Vec<Mentioned> = Vec::new();
    for (object_id, shown) in spark_mentions(html.unwrap_or_default()) {
        if shown.trim().is_empty() || same_person(&object_id, bot_person_id) {
            continue;
        }
        let person = rest_person_id(&object_id);
        if !out.iter().any(|m| m.person == person) {
            out.push(Mentioned {
                person,
                shown: shown.trim().to_owned(),
            });
        }
    }
    out
}

/// A mention's object id as a REST person id: kept when it is one, else (a bare uuid)
/// encoded the way Webex encodes them.
fn rest_person_id(object_id: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let is_rest = engine
        .decode(object_id.trim_end_matches('='))
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .is_some_and(|uri| uri.starts_with("ciscospark://"));
    if is_rest {
        object_id.to_owned()
    } else {
        engine.encode(format!("ciscospark://us/PEOPLE/{object_id}"))
    }
}

/// Every person mention in `html`: (data-object-id, displayed text).
fn spark_mentions(html: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<spark-mention") {
        rest = &rest[start + "<spark-mention".len()..];
        let Some(tag_end) = rest.find('>') else { break };
        let attrs = &rest[..tag_end];
        let body = &rest[tag_end + 1..];
        let Some(close) = body.find("</spark-mention>") else {
            break;
        };
        let shown = decode_entities(&strip_tags(&body[..close]));
        rest = &body[close..];
        if attribute(attrs, "data-object-type").is_some_and(|t| t != "person") {
            continue;
        }
        if let Some(id) = attribute(attrs, "data-object-id") {
            found.push((id, shown));
        }
    }
    found
}

fn attribute(attrs: &str, name: &str) -> Option<String> {
    let mut rest = attrs;
    while let Some(at) = rest.find(name) {
        let after = &rest[at + name.len()..];
        let preceded_ok = rest[..at].chars().last().is_none_or(|c| c.is_whitespace());
        let after_trim = after.trim_start();
        if preceded_ok && let Some(v) = after_trim.strip_prefix('=') {
            let v = v.trim_start();
            let quote = v.chars().next()?;
            if quote == '"' || quote == '\'' {
                let inner = &v[1..];
                let end = inner.find(quote)?;
                return Some(decode_entities(&inner[..end]));
            }
            let end = v.find(char::is_whitespace).unwrap_or(v.len());
            return Some(v[..end].to_owned());
        }
        rest = after;
    }
    None
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Whether a mention's object id names the bot. Webex REST ids are unpadded base64 of
/// `ciscospark://<cluster>/PEOPLE/<uuid>`; mention markup may carry either form.
fn same_person(object_id: &str, bot_person_id: &str) -> bool {
    if object_id == bot_person_id {
        return true;
    }
    let uuid_of = |id: &str| -> Option<String> {
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id.trim_end_matches('='))
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(id.trim_end_matches('='))
            })
            .ok()?;
        let uri = String::from_utf8(decoded).ok()?;
        uri.starts_with("ciscospark://")
            .then(|| uri.rsplit('/').next().map(str::to_lowercase))
            .flatten()
    };
    match (uuid_of(bot_person_id), uuid_of(object_id)) {
        (Some(bot), Some(other)) => bot == other,
        (Some(bot), None) => bot.eq_ignore_ascii_case(object_id),
        _ => false,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn people_mentioned_besides_the_bot_are_listed_once_with_rest_ids() {
        let bot = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode("ciscospark://us/PEOPLE/bot-uuid");
        let bob = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode("ciscospark://us/PEOPLE/bob-uuid");
        let html = format!(
            r#"<p><spark-mention data-object-type="person" data-object-id="{bot}">Botper</spark-mention> meeting Review with <spark-mention data-object-type="person" data-object-id="{bob}">Bob Smith</spark-mention> and <spark-mention data-object-type="person" data-object-id="carol-uuid">Carol</spark-mention>, <spark-mention data-object-type="person" data-object-id="{bob}">Bob Smith</spark-mention> <spark-mention data-object-type="groupMention" data-group-type="all">All</spark-mention></p>"#
        );
        let got = people_mentioned(Some(&html), &bot);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].person, bob);
        assert_eq!(got[0].shown, "Bob Smith");
        assert_eq!(got[1].shown, "Carol");
        let carol = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&got[1].person)
            .unwrap();
        assert_eq!(carol, b"ciscospark://us/PEOPLE/carol-uuid");
        assert!(people_mentioned(None, &bot).is_empty());
    }

    use super::*;

    // base64("ciscospark://us/PEOPLE/bot-uuid-1")
    const BOT: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ib3QtdXVpZC0x";

    fn html(id: &str, shown: &str, rest: &str) -> String {
        format!(
            r#"<p><spark-mention data-object-type="person" data-object-id="{id}">{shown}</spark-mention>{rest}</p>"#
        )
    }

    #[test]
    fn strips_the_bots_mention_by_rest_id() {
        let h = html(BOT, "Botper", " task Buy milk");
        assert_eq!(
            strip_bot_mention("Botper task Buy milk", Some(&h), BOT),
            "task Buy milk"
        );
    }

    #[test]
    fn strips_the_bots_mention_by_bare_uuid() {
        let h = html("bot-uuid-1", "Botper", " list");
        assert_eq!(strip_bot_mention("Botper list", Some(&h), BOT), "list");
    }

    #[test]
    fn a_display_name_that_is_not_the_bot_is_kept() {
        // Someone else who happens to be called "Botper": not stripped.
        let h = html("someone-else", "Botper", " task x");
        assert_eq!(
            strip_bot_mention("Botper task x", Some(&h), BOT),
            "Botper task x"
        );
    }

    #[test]
    fn a_renamed_bot_is_still_stripped() {
        let h = html(BOT, "Task Helper", " done 2");
        assert_eq!(
            strip_bot_mention("Task Helper done 2", Some(&h), BOT),
            "done 2"
        );
    }

    #[test]
    fn mentions_of_other_people_inside_the_title_stay() {
        let h = format!(
            r#"{}<spark-mention data-object-type="person" data-object-id="alice">Alice</spark-mention> docs</p>"#,
            html(BOT, "Botper", " task Ask ").trim_end_matches("</p>")
        );
        assert_eq!(
            strip_bot_mention("Botper task Ask Alice docs", Some(&h), BOT),
            "task Ask Alice docs"
        );
    }

    #[test]
    fn no_html_means_nothing_to_strip() {
        assert_eq!(strip_bot_mention(" list ", None, BOT), "list");
    }

    #[test]
    fn group_mentions_and_broken_markup_are_harmless() {
        let h = r#"<spark-mention data-object-type="groupMention" data-group-type="all">All</spark-mention> list"#;
        assert_eq!(strip_bot_mention("All list", Some(h), BOT), "All list");
        assert_eq!(
            strip_bot_mention("list", Some("<spark-mention data-object-id="), BOT),
            "list"
        );
        assert_eq!(
            strip_bot_mention("list", Some("<spark-mention x>never closed"), BOT),
            "list"
        );
    }

    #[test]
    fn entities_in_the_display_name_are_decoded() {
        let h = html(BOT, "Bots &amp; Co", " list");
        assert_eq!(strip_bot_mention("Bots & Co list", Some(&h), BOT), "list");
    }
}
