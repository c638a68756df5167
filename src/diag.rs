//! Diagnostics for files a user wrote: file, line, column, what is wrong,
//! and, where we can tell, the likely fix.
//!
//! This is the one place that formats loading errors, so that parse errors
//! from the YAML layer and semantic errors from the suite checks look alike:
//!
//! ```text
//! error: unknown request parameter `ImageID`
//!   --> cases/aliyun/ecs/ReplaceSystemDisk/success.yaml:7:3
//!    |
//!  7 |   ImageID: ${image.id}
//!    |   ^
//!    = hint: did you mean `ImageId`?
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a file; lines and columns are 1-based, 0 means unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }
    pub fn of(loc: &serde_saphyr::Location) -> Pos {
        let clamp = |n| u32::try_from(n).unwrap_or(u32::MAX);
        Pos::new(clamp(loc.line()), clamp(loc.column()))
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
    /// The offending source line, for the snippet.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without a snippet: the file is never read here (the
    /// loader reads each file once and adds the line with [`Self::with_source`]).
    pub fn new(file: &Path, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: file.to_path_buf(), pos, message: message.into(), hint: None, source_line: None }
    }

    pub fn with_source(mut self, text: &str) -> Diagnostic {
        self.source_line = line_of(text, self.pos.line);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Adds "did you mean `x`?" when one of `candidates` is close to `wrong`.
    pub fn suggest<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Diagnostic {
        match did_you_mean(wrong, candidates) {
            Some(s) => self.hint(format!("did you mean `{s}`?")),
            None => self,
        }
    }

    /// `file:line:column`, as editors and terminals link it.
    pub fn location(&self) -> String {
        if self.pos.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}:{}", self.file.display(), self.pos.line, self.pos.column)
        }
    }
}

/// A snippet line longer than this is cut (a 50 MB one-line value would
/// otherwise be copied into every diagnostic).
const MAX_SNIPPET: usize = 200;

/// Line `line` (1-based) of `text` and nothing more: lines end at `\n`,
/// `\r\n` or a lone `\r`, as YAML counts them.
fn line_of(text: &str, line: u32) -> Option<String> {
    let n = usize::try_from(line).ok()?.checked_sub(1)?;
    let l = text.split('\n').flat_map(|l| l.strip_suffix('\r').unwrap_or(l).split('\r')).nth(n)?;
    Some(match l.char_indices().nth(MAX_SNIPPET) {
        Some((at, _)) => format!("{}…", &l[..at]),
        None => l.to_string(),
    })
}

/// What a terminal shows: the file name, the message, the quoted line and
/// the hint may hold what a user wrote, so each is cleaned of control
/// characters ([`crate::term::clean`]; a quoted line keeps its tabs, for the
/// caret).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::term::clean;
        writeln!(f, "error: {}", clean(&self.message))?;
        write!(f, "  --> {}", clean(&self.location()))?;
        if let Some(src) = &self.source_line {
            let src = src.split('\t').map(clean).collect::<Vec<_>>().join("\t");
            let n = self.pos.line.to_string();
            let pad = " ".repeat(n.len());
            let caret_at = usize::try_from(self.pos.column.max(1) - 1).unwrap_or(0);
            let lead: String = src.chars().take(caret_at).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            write!(f, "\n {pad} |\n {n} | {src}\n {pad} | {lead}^")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n   = hint: {}", clean(h))?;
        }
        Ok(())
    }
}

/// All the problems found while loading, in file order.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

/// The most diagnostics shown for one file; past it, one "and N more" line.
pub const MAX_PER_FILE: usize = 20;

/// Collects the diagnostics of one file, at most [`MAX_PER_FILE`], and
/// counts the rest without building them (so that a file with 40,000
/// problems costs no more than one with 20).
#[derive(Debug)]
pub struct FileDiagnostics {
    pub file: std::path::PathBuf,
    pub list: Vec<Diagnostic>,
    pub more: usize,
}

impl FileDiagnostics {
    pub fn new(file: &Path) -> FileDiagnostics {
        FileDiagnostics { file: file.to_path_buf(), list: Vec::new(), more: 0 }
    }

    /// False when the file is full: the caller may skip building the
    /// diagnostic (call [`Self::skip`] instead).
    pub fn has_room(&self) -> bool {
        self.list.len() < MAX_PER_FILE
    }

    pub fn push(&mut self, d: Diagnostic) {
        match self.has_room() {
            true => self.list.push(d),
            false => self.more += 1,
        }
    }

    pub fn skip(&mut self) {
        self.more += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The diagnostics, then "and N more" when some were left out.
    pub fn finish(self) -> Vec<Diagnostic> {
        let mut v = self.list;
        if self.more > 0 {
            let msg = format!("and {} more problem{} in this file", self.more, if self.more == 1 { "" } else { "s" });
            v.push(Diagnostic::new(&self.file, Pos::default(), msg).hint("fix the ones above and run `lint` again"));
        }
        v
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest candidate, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = wrong.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let score = if c.to_ascii_lowercase() == lower {
                1.0
            } else {
                strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())
            };
            (c, score)
        })
        .filter(|(_, s)| *s >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_case_typos() {
        assert_eq!(did_you_mean("ImageID", ["InstanceId", "ImageId"]), Some("ImageId"));
        assert_eq!(did_you_mean("Zzz", ["InstanceId", "ImageId"]), None);
    }

    #[test]
    fn display_has_location_snippet_and_hint() {
        let d = Diagnostic::new(Path::new("x.yaml"), Pos::new(2, 3), "unknown field `ImageID`")
            .with_source("a: 1\n  ImageID: 2\n")
            .hint("did you mean `ImageId`?");
        let s = d.to_string();
        assert!(s.contains("x.yaml:2:3"), "{s}");
        assert!(s.contains("2 |   ImageID: 2"), "{s}");
        assert!(s.contains("   |   ^"), "{s}");
        assert!(s.ends_with("hint: did you mean `ImageId`?"), "{s}");
    }
}
