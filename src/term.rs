//! What the terminal gets: colour when a person is looking and has not
//! said no (`--color`, then `NO_COLOR`, then whether the stream is a
//! terminal), and nothing but plain text otherwise, so logs and pipes stay
//! clean. Progress bars follow the same test (see `main.rs`).

use anstyle::{AnsiColor, Style};

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
    fn a_painter_that_is_off_adds_nothing() {
        assert_eq!(Painter { on: false }.fail("FAIL"), "FAIL");
        assert!(Painter { on: true }.fail("FAIL").contains("\u{1b}["));
    }
}
