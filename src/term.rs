//! What the terminal gets: colour when a person is looking and has not
//! said no (`--color`, then `NO_COLOR`, then whether the stream is a
//! terminal), and nothing but plain text otherwise, so logs and pipes stay
//! clean. Progress bars follow the same test (see `main.rs`).
//!
//! Names and paths come from files a pull request may have written (a case
//! file named `x\x1b]0;title\x07.yaml`, an action whose name holds a line
//! break and `error: ...`), so every one the CLI prints goes through
//! [`clean`] first: a control character shows as its escape and cannot
//! change the terminal's title or forge a line.

use anstyle::{AnsiColor, Style};
use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1: terminal escapes,
/// line breaks, tabs) and every bidirectional override written as a Rust
/// escape (`\u{1b}`, `\n`), so it prints as one inert line.
pub fn clean(text: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.contains(bad) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if bad(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`clean`] for anything displayed (a path, an error).
pub fn shown(value: impl std::fmt::Display) -> String {
    clean(&value.to_string()).into_owned()
}

/// Text of several lines (a failure's detail): each line [`clean`]ed, the
/// line breaks kept.
pub fn clean_lines(text: &str) -> String {
    text.split('\n').map(clean).collect::<Vec<_>>().join("\n")
}

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Whether to colour a stream: `always` and `never` win; `auto` colours a
/// terminal unless `NO_COLOR` is set to anything non-empty (no-color.org).
pub fn enabled(choice: ColorChoice, no_color: Option<&std::ffi::OsStr>, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// Paints verdict words and headings, or leaves them plain.
#[derive(Debug, Clone, Copy)]
pub struct Painter {
    pub on: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.on {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
    pub fn fail(&self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default().bold(), text)
    }
    pub fn pass(&self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), text)
    }
    pub fn skip(&self, text: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn auto_follows_the_terminal_and_no_color() {
        assert!(enabled(ColorChoice::Auto, None, true));
        assert!(!enabled(ColorChoice::Auto, None, false));
        assert!(!enabled(ColorChoice::Auto, Some(OsStr::new("1")), true));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(enabled(ColorChoice::Auto, Some(OsStr::new("")), true));
        assert!(enabled(ColorChoice::Always, Some(OsStr::new("1")), false));
        assert!(!enabled(ColorChoice::Never, None, true));
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        assert_eq!(clean("aliyun::ecs::ResetDisk"), "aliyun::ecs::ResetDisk");
        assert_eq!(clean("x\u{1b}]0;pwned\u{7}\nerror: forged"), "x\\u{1b}]0;pwned\\u{7}\\nerror: forged");
        assert_eq!(clean("a\tb\r\u{9b}c\u{202e}d\u{7f}"), "a\\tb\\r\\u{9b}c\\u{202e}d\\u{7f}");
        assert_eq!(clean("云服务器 é"), "云服务器 é");
        assert_eq!(clean_lines("a\u{1b}\nb"), "a\\u{1b}\nb");
    }

    #[test]
    fn a_painter_that_is_off_adds_nothing() {
        assert_eq!(Painter { on: false }.fail("FAIL"), "FAIL");
        assert!(Painter { on: true }.fail("FAIL").contains("\u{1b}["));
    }
}
