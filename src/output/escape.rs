//! Text from servers and files made safe for a terminal. An app named `ESC ] 0 ; … BEL` would
//! retitle the window of whoever lists apps, `ESC [ 2 J` would clear it, and a right-to-left
//! override would show a different name than the one stored. Every C0 and C1 control character,
//! DEL, and the Unicode bidirectional controls are shown as visible escapes (`\u{1b}`, `\t`)
//! instead. The colour sequences qtool writes itself survive when colour is on. JSON and YAML
//! output never passes through here: it stays exactly the server's data.

use std::borrow::Cow;

/// What [`escape_controls`] leaves as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keep {
    /// Line feeds (plain multi-line text); otherwise shown as `\n`.
    pub newlines: bool,
    /// The SGR colour sequences of [`super::Paint`] (only when colour is on, so a server
    /// cannot slip in even those when it is off).
    pub own_colors: bool,
}

/// Our own colour sequences (see `Printer::paint`): bold, dim, red, green, yellow, reset.
const OWN_SGR: [&str; 6] = [
    "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[0m",
];

/// Characters a terminal interprets instead of showing.
fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Bidirectional controls (the "Trojan Source" set and the marks).
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // Line and paragraph separators start new lines in some terminals.
        | '\u{2028}' | '\u{2029}')
}

/// `text` with every control character shown as an escape (see the module docs).
pub(crate) fn escape_controls(text: &str, keep: Keep) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| is_unsafe(c) && !(keep.newlines && c == '\n'))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if keep.own_colors
            && c == '\x1b'
            && let Some(sgr) = OWN_SGR.iter().find(|s| rest.starts_with(**s))
        {
            out.push_str(sgr);
            rest = &rest[sgr.len()..];
            continue;
        }
        match c {
            '\n' if keep.newlines => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Keep = Keep {
        newlines: false,
        own_colors: false,
    };

    #[test]
    fn controls_are_shown_not_obeyed() {
        let title = "\x1b]0;pwned\x07App\x1b[2J";
        assert_eq!(
            escape_controls(title, PLAIN),
            "\\u{1b}]0;pwned\\u{7}App\\u{1b}[2J"
        );
        assert_eq!(
            escape_controls("a\u{202e}gpj.exe\u{9b}31m", PLAIN),
            "a\\u{202e}gpj.exe\\u{9b}31m"
        );
        assert_eq!(escape_controls("tab\there\r\n", PLAIN), "tab\\there\\r\\n");
        assert_eq!(escape_controls("x\u{7f}", PLAIN), "x\\u{7f}");
        assert!(matches!(
            escape_controls("Sales — 日本 ✓", PLAIN),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn our_colours_and_newlines_survive_when_asked() {
        let painted = "\x1b[1mNAME\x1b[0m\nnext";
        let keep = Keep {
            newlines: true,
            own_colors: true,
        };
        assert_eq!(escape_controls(painted, keep), painted);
        // Only the exact sequences qtool writes: a server's title change still shows.
        assert_eq!(
            escape_controls("\x1b[1mx\x1b]0;t\x07", keep),
            "\x1b[1mx\\u{1b}]0;t\\u{7}"
        );
        assert_eq!(
            escape_controls(painted, PLAIN),
            "\\u{1b}[1mNAME\\u{1b}[0m\\nnext"
        );
    }
}
