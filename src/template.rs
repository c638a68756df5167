//! `${...}` references in case values.
//!
//! - `${instance.id}`: the ID the target gave fixture `instance`;
//! - `${key_pair.name}`: a key pair's name;
//! - `${absent.image}`: a well-formed ID of that kind that does not exist;
//! - `${saved.var}`: a value saved by an earlier step.
//!
//! `$$` is a literal `$`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    Fixture { name: String, attr: String },
    Absent(String),
    Saved(String),
}

/// Splits a value into literal text and references.
pub fn parse(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        lit.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("$$") {
            lit.push('$');
            rest = r;
            continue;
        }
        let Some(body) = rest.strip_prefix("${") else {
            lit.push('$');
            rest = &rest[1..];
            continue;
        };
        let Some(end) = body.find('}') else {
            return Err(format!("unclosed `${{` in `{text}`"));
        };
        let inner = &body[..end];
        rest = &body[end + 1..];
        if !lit.is_empty() {
            out.push(Token::Literal(std::mem::take(&mut lit)));
        }
        let (head, attr) =
            inner.split_once('.').ok_or_else(|| format!("`${{{inner}}}` needs two parts, like `${{instance.id}}`"))?;
        let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok(head) || !ok(attr) {
            return Err(format!("`${{{inner}}}` is not a valid reference"));
        }
        out.push(match head {
            "absent" => Token::Absent(attr.to_string()),
            "saved" => Token::Saved(attr.to_string()),
            _ => {
                if attr != "id" && attr != "name" {
                    return Err(format!("`${{{inner}}}`: a fixture has `.id` or `.name`, not `.{attr}`"));
                }
                Token::Fixture { name: head.to_string(), attr: attr.to_string() }
            }
        });
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        out.push(Token::Literal(lit));
    }
    Ok(out)
}

/// What the references stand for on one target, for one trial.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// `fixture.attr` → value.
    pub fixtures: BTreeMap<String, String>,
    /// kind word → an ID that does not exist.
    pub absent: BTreeMap<String, String>,
    pub saved: BTreeMap<String, String>,
}

impl Bindings {
    /// Substitutes every reference. Unknown ones were refused at load time;
    /// should one slip through, it is left visible rather than guessed.
    pub fn resolve(&self, text: &str) -> String {
        let Ok(tokens) = parse(text) else {
            return text.to_string();
        };
        let mut out = String::new();
        for t in tokens {
            match t {
                Token::Literal(s) => out.push_str(&s),
                Token::Fixture { name, attr } => match self.fixtures.get(&format!("{name}.{attr}")) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&format!("${{{name}.{attr}}}")),
                },
                Token::Absent(k) => out.push_str(self.absent.get(&k).map(String::as_str).unwrap_or("absent")),
                Token::Saved(v) => match self.saved.get(&v) {
                    Some(s) => out.push_str(s),
                    None => out.push_str(&format!("${{saved.{v}}}")),
                },
            }
        }
        out
    }

    /// Value → symbolic name, longest value first, for snapshot redaction.
    pub fn symbols(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = Vec::new();
        for (k, val) in &self.fixtures {
            v.push((val.clone(), format!("${{{k}}}")));
        }
        for (k, val) in &self.absent {
            v.push((val.clone(), format!("${{absent.{k}}}")));
        }
        v.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        v.retain(|(val, _)| val.len() >= 3);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves() {
        let t = parse("x-${instance.id}-$$-${saved.d}").unwrap();
        assert_eq!(t.len(), 4);
        let mut b = Bindings::default();
        b.fixtures.insert("instance.id".into(), "i-1".into());
        b.saved.insert("d".into(), "d-9".into());
        assert_eq!(b.resolve("x-${instance.id}-$$-${saved.d}"), "x-i-1-$-d-9");
        assert!(parse("${instance}").is_err());
        assert!(parse("${instance.id").is_err());
        assert!(parse("${instance.size}").is_err());
    }
}
