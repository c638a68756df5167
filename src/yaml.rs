//! The one module that knows which YAML library we use (serde-saphyr).
//!
//! Everything else deserializes through [`parse`] and gets source positions
//! through [`Spanned`]; swapping the library means changing this file only.
//! Errors come back as [`Diagnostic`]s with the file, line and column, the
//! library's message reworded where it helps, and a hint.

use crate::diag::{did_you_mean, Diagnostic, Pos};
use serde::de::DeserializeOwned;
use std::path::Path;

pub use serde_saphyr::Spanned;

/// Position of a spanned value.
pub fn pos_of<T>(s: &Spanned<T>) -> Pos {
    Pos::of(&s.referenced)
}

/// Parses one YAML document into `T`, refusing unknown fields and duplicate keys.
pub fn parse<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Diagnostic> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let pos = e.location().map(|l| Pos::of(&l)).unwrap_or_default();
        let raw = e.without_snippet().to_string();
        let msg = strip_position(&raw);
        reword(Diagnostic::new(file, pos, msg.clone()).with_source(text), &msg)
    })
}

/// serde-saphyr appends " at line L, column C"; we print positions ourselves.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

/// The names after serde's ", expected one of a, b" (backticks removed).
fn expected_names(tail: &str) -> Vec<&str> {
    tail.trim_start_matches(", expected one of ")
        .trim_start_matches(", expected ")
        .split(", ")
        .map(|s| s.trim_matches('`'))
        .filter(|s| !s.is_empty())
        .collect()
}

fn reword(d: Diagnostic, msg: &str) -> Diagnostic {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        // "unknown field `cod`, expected one of status, code"
        let (field, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected_names(tail);
        let mut d = Diagnostic { message: format!("unknown field `{field}`"), ..d };
        d = match did_you_mean(field, expected.iter().copied()) {
            Some(s) => d.hint(format!("did you mean `{s}`?")),
            None if !expected.is_empty() => d.hint(format!("expected one of: {}", expected.join(", "))),
            None => d.hint("this place takes no fields"),
        };
        return d;
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return d.hint(format!("add `{field}:` here"));
    }
    if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest);
        return Diagnostic { message: format!("duplicate key `{key}`"), ..d }
            .hint("each key may appear once; remove or rename one of them");
    }
    if msg.contains("flow mapping") || msg.contains("flow sequence") {
        return d
            .hint("inside `{ ... }` or `[ ... ]`, quote values that contain `{`, `}` or `,`: `\"${instance.id}\"`");
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (variant, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected_names(tail);
        return d.suggest(variant, expected.iter().copied());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        status: u16,
        code: Option<String>,
    }

    #[test]
    fn unknown_field_gets_position_and_suggestion() {
        let e = parse::<Doc>(Path::new("t.yaml"), "status: 200\ncdoe: x\n").unwrap_err();
        assert_eq!(e.pos, Pos::new(2, 1));
        assert_eq!(e.message, "unknown field `cdoe`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `code`?"));
    }

    #[test]
    fn type_errors_and_duplicates_have_positions() {
        let e = parse::<Doc>(Path::new("t.yaml"), "status: abc\n").unwrap_err();
        assert_eq!(e.pos, Pos::new(1, 9));
        let e = parse::<Doc>(Path::new("t.yaml"), "status: 1\nstatus: 2\n").unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(e.message.starts_with("duplicate key `status`"), "{}", e.message);
    }
}
