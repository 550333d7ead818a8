//! Escaping of user-typed text that Botper echoes back in Webex Markdown.
//!
//! Webex turns `<@all>`, `<@personEmail:…>` and `<@personId:…>` into mentions and renders
//! Markdown emphasis, code and links. Text that a person typed must come back as typed, so
//! every character that could start markup is escaped: `<`, `>` and `&` as HTML entities
//! (which no mention parser reads as `<@`), the Markdown punctuation with a backslash.

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
            c if c.is_control() => {}
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
    fn unicode_passes_through() {
        let t = "Café ☕ — 日本語 👩‍👩‍👧";
        assert_eq!(escape_inline(t), t);
    }
}
