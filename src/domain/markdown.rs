//! Escaping of user-typed text that Botper echoes back in Webex Markdown.
//!
//! Webex turns `<@all>`, `<@personEmail:…>` and `<@personId:…>` into mentions and renders
//! Markdown emphasis, code and links. Text that a person typed must come back as typed, so
//! every character that could start markup is escaped: `<`, `>` and `&` as HTML entities
//! (which no mention parser reads as `<@`), the Markdown punctuation with a backslash.

/// Bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069):
/// invisible, and able to make a title or a reply read differently from what it is
/// ("Trojan Source"). Stripped from titles and from every echoed text.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` without bidirectional controls.
pub fn strip_bidi_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_bidi_control) {
        text.chars()
            .filter(|c| !is_bidi_control(*c))
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// Escapes `text` for use inside a line of Markdown. Line breaks become spaces so that a
/// title can never start a heading, a list or a quote of its own.
pub fn escape_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' | '\t' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_cannot_be_injected() {
        let e = escape_inline("<@all> look <@personEmail:a@b.com|A>");
        assert!(!e.contains('<'));
        assert!(!e.contains("<@"));
        assert_eq!(e, "&lt;@all&gt; look &lt;@personEmail:a@b.com\\|A&gt;");
    }

    #[test]
    fn markdown_punctuation_is_escaped() {
        assert_eq!(escape_inline("*bold* _it_"), "\\*bold\\* \\_it\\_");
        assert_eq!(escape_inline("[x](http://e)"), "\\[x\\](http://e)");
        assert_eq!(escape_inline("`code` ~~s~~"), "\\`code\\` \\~\\~s\\~\\~");
        assert_eq!(escape_inline("a\\b"), "a\\\\b");
        assert_eq!(escape_inline("# not a heading"), "\\# not a heading");
        assert_eq!(escape_inline("Tom & Jerry"), "Tom &amp; Jerry");
    }

    #[test]
    fn line_breaks_and_controls_do_not_break_the_layout() {
        assert_eq!(escape_inline("one\r\ntwo\tthree"), "one two three");
        assert_eq!(escape_inline("bell\u{7}"), "bell");
    }

    #[test]
    fn bidi_controls_are_stripped() {
        let sneaky =
            "Pay \u{202E}lla\u{202C} \u{2066}x\u{2069} \u{202A}\u{202B}\u{202D}\u{2067}\u{2068}";
        assert_eq!(escape_inline(sneaky), "Pay lla x ");
        assert_eq!(strip_bidi_controls(sneaky), "Pay lla x ");
        assert!(matches!(
            strip_bidi_controls("שלום hello"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn unicode_passes_through() {
        let t = "Café ☕ — 日本語 👩‍👩‍👧";
        assert_eq!(escape_inline(t), t);
    }
}
