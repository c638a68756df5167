//! Business rules: the vocabulary every API's rule module speaks. The rules
//! themselves live in the vendor wings, one module per API
//! (`src/vendor/<name>/<api>.rs`) plus the vendor's support actions.
//!
//! A rule reads the request's parameters, checks them against the tenant's
//! [`State`] in the documented order (presence and format, then existence,
//! then resource state, then account state; see `ARCHITECTURE.md`), and
//! either changes the state and returns the result fields, or fails with a
//! documented error **code**. It never writes a message or a byte: the
//! emulator looks the message up in the contract and the protocol module
//! renders it.

pub mod params;
pub mod support;

use super::state::State;
use serde_json::{Map, Value};

/// A documented error, by code. `status` picks among entries that share a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    pub code: &'static str,
    pub status: Option<u16>,
    /// Values for the message's `%s` placeholders.
    pub args: Vec<String>,
    /// Take the vendor's common error even when the API documents the code
    /// (with a message about another parameter).
    pub common: bool,
    /// For throttling: when the client may retry, in milliseconds.
    pub retry_after_ms: Option<u64>,
}

pub fn fail(code: &'static str) -> Fail {
    Fail { code, status: None, args: Vec::new(), common: false, retry_after_ms: None }
}

/// The vendor's flow-control error (`code`), with its retry hint.
pub fn throttled(code: &'static str, retry_after_ms: u64) -> Fail {
    Fail { retry_after_ms: Some(retry_after_ms), ..fail(code).common() }
}

impl Fail {
    pub fn status(mut self, s: u16) -> Fail {
        self.status = Some(s);
        self
    }
    pub fn common(mut self) -> Fail {
        self.common = true;
        self
    }
    pub fn arg(mut self, a: impl Into<String>) -> Fail {
        self.args.push(a.into());
        self
    }
}

pub type Outcome = Result<Map<String, Value>, Fail>;

/// A parameter value that is not of its documented type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The request's business parameters with typed accessors, and the checks
/// its API's contract states (`None` for a support action).
pub struct Req<'a> {
    pub params: &'a [(String, String)],
    pub checks: Option<&'a params::ParamChecks>,
}

impl<'a> Req<'a> {
    /// The bounds of `name` that depend on the state (the contract's
    /// `min_from` / `max_from`), `state` giving each state name's value.
    pub fn state_bounds(&self, name: &str, state: &dyn Fn(&str) -> Option<i64>) -> Result<(), Fail> {
        self.checks.map_or(Ok(()), |c| c.state_bounds(self, name, state))
    }

    /// The integer given for `name`, else the contract's `default_from`.
    pub fn int_or_default(&self, name: &str, state: &dyn Fn(&str) -> Option<i64>) -> Option<i64> {
        match self.checks {
            Some(c) => c.int_or_default(self, name, state),
            None => self.int(&[name]).ok().flatten(),
        }
    }

    /// The value of the first of `names` present (a name and its aliases).
    pub fn get(&self, names: &[&str]) -> Option<&'a str> {
        names.iter().find_map(|n| self.params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
    }

    /// Present and not empty.
    pub fn has(&self, names: &[&str]) -> bool {
        self.get(names).is_some_and(|v| !v.is_empty())
    }

    /// `true`/`True`/`false`/`False` (any case). `Err(Malformed)` otherwise.
    pub fn bool(&self, names: &[&str]) -> Result<Option<bool>, Malformed> {
        match self.get(names) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(Malformed),
        }
    }

    /// An integer. `Err(Malformed)` when not one.
    pub fn int(&self, names: &[&str]) -> Result<Option<i64>, Malformed> {
        match self.get(names) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| Malformed),
        }
    }

    /// Values of a list parameter `Prefix.N`, by index (1-based or 0-based).
    pub fn list(&self, prefix: &str) -> Vec<&'a str> {
        let mut items: Vec<(u32, &str)> = self
            .params
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(prefix)?.strip_prefix('.')?;
                Some((n.parse().ok()?, v.as_str()))
            })
            .collect();
        items.sort();
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// All parameters except those named, sorted: the identity of an
    /// idempotent request.
    pub fn fingerprint(&self, except: &[&str]) -> String {
        let mut p: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| !except.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        p.sort();
        p.join("&")
    }
}

/// A named condition a world may set with `flags:` on a fixture (or the
/// account), for states the typed fields do not model. Each rule module
/// lists the flags it reads; the loader refuses any other flag in that
/// API's worlds (`vendor::flags_of`).
#[derive(Debug, Clone, Copy)]
pub struct FlagDoc {
    /// `instance`, `disk`, `image`, `snapshot` or `account`.
    pub kind: &'static str,
    pub name: &'static str,
    pub meaning: &'static str,
    /// Why a flag and not typed state: what the doc leaves uncheckable.
    pub why: &'static str,
}

/// A [`FlagDoc`], in one line per flag.
pub const fn flag(kind: &'static str, name: &'static str, meaning: &'static str, why: &'static str) -> FlagDoc {
    FlagDoc { kind, name, meaning, why }
}

/// A RAM user's policy must allow `action` on every resource it touches
/// (`instance/<id>`, `disk/<id>`, `image/<id>`, as ARNs
/// `acs:ecs:<region>:<account>:<resource>`), the way the doc's authorisation
/// table lists them; otherwise the vendor's `Forbidden.RAM`. The account
/// itself (no policy) may do anything.
pub fn ram_allows(s: &State, r: &Req, action: &str, resources: &[String]) -> Result<(), Fail> {
    let Some(policy) = &s.account.ram_policy else { return Ok(()) };
    let region = r.get(&["RegionId"]).unwrap_or("cn-hangzhou");
    let allowed = |arn: &str| policy.iter().any(|st| glob(&st.action, action) && glob(&st.resource, arn));
    if resources.iter().all(|res| allowed(&format!("acs:ecs:{region}:apiconform:{res}"))) {
        Ok(())
    } else {
        Err(fail("Forbidden.RAM").common())
    }
}

/// `*` matches any run of characters (RAM policy wildcards).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_accept_both_bases() {
        let p = vec![
            ("KeyId.2".to_string(), "b".to_string()),
            ("KeyId.1".to_string(), "a".to_string()),
            ("KeyIdX".into(), "z".into()),
        ];
        assert_eq!(Req { params: &p, checks: None }.list("KeyId"), vec!["a", "b"]);
        let p0 = vec![("KeyId.0".to_string(), "a".to_string())];
        assert_eq!(Req { params: &p0, checks: None }.list("KeyId"), vec!["a"]);
    }

    #[test]
    fn booleans_in_every_sdk_spelling() {
        let p = vec![
            ("A".to_string(), "True".to_string()),
            ("B".to_string(), "false".to_string()),
            ("C".into(), "yes".into()),
        ];
        let r = Req { params: &p, checks: None };
        assert_eq!(r.bool(&["A"]), Ok(Some(true)));
        assert_eq!(r.bool(&["B"]), Ok(Some(false)));
        assert_eq!(r.bool(&["C"]), Err(Malformed));
        assert_eq!(r.bool(&["D"]), Ok(None));
    }

    #[test]
    fn ram_wildcards() {
        assert!(glob("acs:ecs:*:*:instance/*", "acs:ecs:cn-hangzhou:apiconform:instance/i-1"));
        assert!(!glob("acs:ecs:*:*:instance/*", "acs:ecs:cn-hangzhou:apiconform:image/m-1"));
        assert!(glob("ecs:*", "ecs:ResetDisk"));
        assert!(glob("*", "anything"));
        assert!(!glob("ecs:Reset*Disk", "ecs:ResetDis"));
    }
}
