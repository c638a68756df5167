//! The parameter checks an API's contract states, derived from `api.yaml`
//! instead of written again in each rule module: presence, type, bounds,
//! lengths, character classes, patterns, encodings, enums, list sizes,
//! `at_least_one_of`, `requires`, `conflicts_with` and parameters that are
//! not open, each answered with the code the contract names for it (or the
//! vendor's common parameter error). A rule module keeps only what needs the
//! state, and asks these checks for the bounds and defaults that depend on it
//! ([`Req::state_bounds`], [`Req::int_or_default`]).
//!
//! The order (the docs state none; see ARCHITECTURE.md "Error precedence"):
//! required parameters, then each parameter's format (by name), then
//! `at_least_one_of`, then `conflicts_with`, then `requires`, then parameters
//! that are not open. Empty values count as absent, except for a required
//! parameter.

use super::{fail, Fail, Req};
use crate::contract::{
    CharClass, Check, CommonErrors, Contract, ErrorRef, Format, Others, Param, ParamErrors, ParamType, Term,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

/// One API's checks, built once from its contract (patterns compiled).
#[derive(Debug)]
pub struct ParamChecks {
    contract: Contract,
    defaults: ParamErrors,
    /// Codes the vendor's common errors define (a default code is taken
    /// from there when it is one of them).
    common_codes: HashSet<String>,
    patterns: BTreeMap<String, regex::Regex>,
}

/// A code as `&'static str`, as [`Fail`] carries it: contract codes are
/// leaked once per distinct code (a few dozen), never per request.
pub fn intern(code: &str) -> &'static str {
    static CODES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut codes = CODES.lock().unwrap_or_else(|e| e.into_inner());
    match codes.iter().find(|c| **c == code) {
        Some(c) => c,
        None => {
            let c: &'static str = Box::leak(code.to_string().into_boxed_str());
            codes.push(c);
            c
        }
    }
}

impl ParamChecks {
    pub fn new(contract: &Contract, common: &CommonErrors) -> ParamChecks {
        let patterns = contract
            .params
            .iter()
            .filter_map(|(n, p)| Some((n.clone(), regex::Regex::new(p.pattern.as_deref()?).ok()?)))
            .collect();
        ParamChecks {
            contract: contract.clone(),
            defaults: common.param_errors.clone(),
            common_codes: common.errors.iter().map(|e| e.code.clone()).collect(),
            patterns,
        }
    }

    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The failure for `check` of `name`: the contract's code for it, else
    /// the vendor's common one, naming the parameter.
    fn fail(&self, p: &Param, name: &str, check: Check) -> Fail {
        self.refuse(p.codes.get(check), name, check == Check::Missing)
    }

    fn refuse(&self, code: Option<&ErrorRef>, name: &str, missing: bool) -> Fail {
        let shown = name.strip_suffix(".N").unwrap_or(name);
        match code {
            Some(r) => Fail { status: r.status, ..fail(intern(&r.code)).arg(shown) },
            None => {
                let default = if missing { &self.defaults.missing } else { &self.defaults.invalid };
                let code = default.as_deref().unwrap_or(if missing { "MissingParameter" } else { "InvalidParameter" });
                let f = fail(intern(code)).arg(shown);
                if self.common_codes.contains(code) {
                    f.common()
                } else {
                    f
                }
            }
        }
    }

    /// Every check the contract states that needs no state, in the order
    /// above.
    pub fn check(&self, r: &Req) -> Result<(), Fail> {
        let params = &self.contract.params;
        for (name, p) in params.iter().filter(|(_, p)| p.required) {
            if values(r, name, Some(p)).iter().all(|v| v.is_empty()) {
                return Err(self.fail(p, name, Check::Missing));
            }
        }
        for (name, p) in params.iter().filter(|(_, p)| !p.not_open) {
            if !p.ignored_when.iter().any(|t| self.holds(r, t)) {
                self.format(r, name, p)?;
            }
        }
        for g in &self.contract.at_least_one_of {
            if !g.params.iter().any(|t| self.holds(r, t)) {
                let first = g.params.first().map_or("", |t| t.param.as_str());
                let absent = g.params.iter().all(|t| values(r, &t.param, self.param(&t.param)).is_empty());
                let code = if absent { g.absent_code.as_ref().or(g.code.as_ref()) } else { g.code.as_ref() };
                return Err(self.refuse(code, first, true));
            }
        }
        let set: Vec<(&String, &Param)> = params.iter().filter(|(n, p)| self.is_set(r, n, Some(p))).collect();
        let other_set = |t: &Term| match t.value {
            Some(_) => self.holds(r, t),
            None => self.is_set(r, &t.param, self.param(&t.param)),
        };
        for (name, p) in &set {
            if let Some(rel) = p.conflicts_with.iter().find(|rel| other_set(&rel.param)) {
                return Err(self.refuse(rel.code.as_ref(), name, false));
            }
        }
        for (_, p) in &set {
            if let Some(rel) = p.requires.iter().find(|rel| !self.holds(r, &rel.param)) {
                return Err(self.refuse(rel.code.as_ref(), &rel.param.param, true));
            }
        }
        for (name, p) in params.iter().filter(|(_, p)| p.not_open) {
            if values(r, name, Some(p)).iter().any(|v| !v.is_empty()) {
                return Err(self.fail(p, name, Check::NotOpen));
            }
        }
        Ok(())
    }

    /// One parameter's documented format.
    fn format(&self, r: &Req, name: &str, p: &Param) -> Result<(), Fail> {
        let vals = values(r, name, Some(p));
        if let Some(max) = p.max_items {
            if item_count(r, name, p) > max as usize {
                return Err(self.fail(p, name, Check::MaxItems));
            }
        }
        for v in vals.into_iter().filter(|v| !v.is_empty()) {
            let broken = match p.ty {
                ParamType::Integer => integer(v, p),
                ParamType::Boolean => {
                    (!v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false")).then_some(Check::Type)
                }
                ParamType::String => self.string(v, name, p),
                ParamType::Array | ParamType::Object => None,
            };
            if let Some(check) = broken {
                return Err(self.fail(p, name, check));
            }
        }
        Ok(())
    }

    fn string(&self, v: &str, name: &str, p: &Param) -> Option<Check> {
        let n = v.chars().count();
        if p.min_length.is_some_and(|m| n < m as usize) {
            return Some(Check::MinLength);
        }
        if p.max_length.is_some_and(|m| n > m as usize) {
            return Some(Check::MaxLength);
        }
        if p.ascii_only() && !v.is_ascii() {
            return Some(Check::Charset);
        }
        if p.classes.as_ref().is_some_and(|c| !classes_ok(v, c)) {
            return Some(Check::Classes);
        }
        if self.patterns.get(name).is_some_and(|re| !re.is_match(v)) {
            return Some(Check::Pattern);
        }
        if p.format == Some(Format::Base64) && !base64_ok(v) {
            return Some(Check::Format);
        }
        if p.enum_values.as_ref().is_some_and(|e| !e.iter().any(|x| x == v)) {
            return Some(Check::Enum);
        }
        None
    }

    fn param(&self, name: &str) -> Option<&Param> {
        self.contract.params.get(name).or_else(|| self.contract.param_for_wire_name(name).map(|(_, p)| p))
    }

    /// The parameter's value, or its literal default when it is absent.
    fn effective<'r>(&'r self, r: &Req<'r>, name: &str) -> Option<&'r str> {
        let p = self.param(name);
        let given = values(r, name, p).into_iter().find(|v| !v.is_empty());
        given.or_else(|| p.and_then(literal_default))
    }

    /// Whether `t` holds for the request (see [`Term`]).
    pub fn holds(&self, r: &Req, t: &Term) -> bool {
        let boolean = self.param(&t.param).is_some_and(|p| p.ty == ParamType::Boolean);
        match (&t.value, self.effective(r, &t.param)) {
            (None, _) => values(r, &t.param, self.param(&t.param)).iter().any(|v| !v.is_empty()),
            (Some(want), Some(v)) if boolean => v.eq_ignore_ascii_case(want),
            (Some(want), Some(v)) => v == want,
            (Some(_), None) => false,
        }
    }

    /// Given, and for a boolean, true: what a relation starts from.
    fn is_set(&self, r: &Req, name: &str, p: Option<&Param>) -> bool {
        let vals = values(r, name, p);
        match p.map(|p| p.ty) {
            Some(ParamType::Boolean) => vals.iter().any(|v| v.eq_ignore_ascii_case("true")),
            _ => vals.iter().any(|v| !v.is_empty()),
        }
    }

    /// The bounds of `name` that depend on the state (`min_from`,
    /// `max_from`), `state` giving each state name's value for this request.
    pub fn state_bounds(&self, r: &Req, name: &str, state: &dyn Fn(&str) -> Option<i64>) -> Result<(), Fail> {
        let Some(p) = self.param(name) else { return Ok(()) };
        let Some(v) = values(r, name, Some(p)).first().and_then(|v| v.parse::<i64>().ok()) else { return Ok(()) };
        for b in &p.min_from {
            if state(&b.state).is_some_and(|min| v < min) {
                return Err(self.refuse(b.code.as_ref(), name, false));
            }
        }
        for b in &p.max_from {
            if state(&b.state).is_some_and(|max| v > max) {
                return Err(self.refuse(b.code.as_ref(), name, false));
            }
        }
        Ok(())
    }

    /// The integer given for `name`, else its `default_from` (the larger of
    /// `at_least` and the state's value).
    pub fn int_or_default(&self, r: &Req, name: &str, state: &dyn Fn(&str) -> Option<i64>) -> Option<i64> {
        let p = self.param(name)?;
        if let Some(v) = values(r, name, Some(p)).first().and_then(|v| v.parse::<i64>().ok()) {
            return Some(v);
        }
        let d = p.default_from.as_ref()?;
        let from_state = state(&d.state);
        match (from_state, d.at_least) {
            (Some(s), Some(a)) => Some(s.max(a)),
            (s, a) => s.or(a),
        }
    }
}

/// The values sent for a parameter: its wire name and aliases, every item
/// of a `.N` list, or every member of an array (`Arn.1.RoleType`).
fn values<'r>(r: &Req<'r>, name: &str, p: Option<&Param>) -> Vec<&'r str> {
    let aliases = p.map(|p| p.aliases.as_slice()).unwrap_or_default();
    let names = std::iter::once(name).chain(aliases.iter().map(String::as_str));
    let mut out = Vec::new();
    for n in names {
        if let Some(prefix) = n.strip_suffix(".N") {
            out.extend(r.list(prefix));
        } else if p.is_some_and(|p| p.ty == ParamType::Array) {
            let prefix = format!("{n}.");
            out.extend(r.params.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(_, v)| v.as_str()));
        } else if let Some(v) = r.get(&[n]) {
            out.push(v);
        }
    }
    out
}

/// How many items a list parameter has: `KeyId.1`..`KeyId.n`, or the
/// distinct indexes of an array's members.
fn item_count(r: &Req, name: &str, p: &Param) -> usize {
    let prefix = name.strip_suffix(".N").unwrap_or(name);
    let names = std::iter::once(prefix).chain(p.aliases.iter().map(|a| a.strip_suffix(".N").unwrap_or(a)));
    let mut indexes = HashSet::new();
    for n in names {
        let lead = format!("{n}.");
        for (k, _) in r.params.iter() {
            if let Some(idx) = k.strip_prefix(&lead).map(|rest| rest.split('.').next().unwrap_or(rest)) {
                if idx.bytes().all(|b| b.is_ascii_digit()) && !idx.is_empty() {
                    indexes.insert(idx.to_string());
                }
            }
        }
    }
    indexes.len()
}

/// The first broken bound of an integer value: not a 64-bit integer, 0 or
/// less (where the API has a code for it), below `min`, above `max`.
fn integer(v: &str, p: &Param) -> Option<Check> {
    let Ok(n) = v.parse::<i64>() else { return Some(Check::Type) };
    if n <= 0 && p.codes.non_positive.is_some() {
        return Some(Check::NonPositive);
    }
    if p.min.is_some_and(|m| n < m) {
        return Some(Check::Min);
    }
    if p.max.is_some_and(|m| n > m) {
        return Some(Check::Max);
    }
    None
}

/// A literal `default:` of a boolean or integer parameter ("true/false,默认false").
fn literal_default(p: &Param) -> Option<&str> {
    let d = p.default.as_deref()?;
    match p.ty {
        ParamType::Boolean => (d.eq_ignore_ascii_case("true") || d.eq_ignore_ascii_case("false")).then_some(d),
        ParamType::Integer => d.parse::<i64>().is_ok().then_some(d),
        _ => None,
    }
}

/// Every character in a counted class (or, with `others: visible`, any
/// printable ASCII but the space), and at least `at_least` classes present.
pub fn classes_ok(v: &str, c: &crate::contract::Classes) -> bool {
    let mut seen = HashSet::new();
    for ch in v.chars() {
        let class = if ch.is_ascii_uppercase() {
            Some(CharClass::Upper)
        } else if ch.is_ascii_lowercase() {
            Some(CharClass::Lower)
        } else if ch.is_ascii_digit() {
            Some(CharClass::Digit)
        } else if c.specials.as_deref().map_or(ch.is_ascii_punctuation(), |s| s.contains(ch)) {
            Some(CharClass::Special)
        } else {
            None
        };
        match class.filter(|k| c.of.contains(k)) {
            Some(k) => {
                seen.insert(k as u8);
            }
            None if c.others == Some(Others::Visible) && ch.is_ascii_graphic() => {}
            None => return false,
        }
    }
    seen.len() >= c.at_least
}

/// Standard base64, padded.
fn base64_ok(v: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(v).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(api: &str) -> ParamChecks {
        let contract: Contract = serde_saphyr::from_str(api).expect("contract");
        let common: CommonErrors = serde_saphyr::from_str(
            "vendor: v\nsource: t\nparam_errors: { missing: MissingParameter, invalid: InvalidParameter }\nerrors:\n  - { status: 400, code: MissingParameter, message: \"m %s\" }\n  - { status: 400, code: InvalidParameter, message: \"i %s\" }\n",
        )
        .expect("common");
        ParamChecks::new(&contract, &common)
    }

    fn run(c: &ParamChecks, params: &[(&str, &str)]) -> Result<(), String> {
        let p: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        c.check(&Req { params: &p, checks: None }).map_err(|f| format!("{} {:?}", f.code, f.args))
    }

    const API: &str = r#"
vendor: v
service: s
action: A
version: "1"
docs: []
params:
  Id: { type: string, required: true }
  Size: { type: integer, min: 20, max: 500, codes: { type: BadSize, non_positive: ZeroSize } }
  Key: { type: string, max_length: 4, requires: [{ param: "Enc=true", code: NeedsEnc }] }
  Enc: { type: boolean }
  Keep: { type: boolean, default: "false", conflicts_with: [{ param: Pw, code: KeepAndPw }] }
  Pw: { type: string, min_length: 8, classes: { of: [upper, lower, digit], at_least: 3, others: visible }, ignored_when: ["Keep=true"] }
  KeyId.N: { type: string, max_items: 2, codes: { max_items: TooMany } }
  Algo: { type: string, not_open: true, requires: ["Enc=true"] }
at_least_one_of:
  - { params: [Pw, "Keep=true"], code: NeedOne }
errors:
  - { status: 400, code: BadSize, message: "b" }
  - { status: 400, code: ZeroSize, message: "z" }
  - { status: 403, code: NeedsEnc, message: "n" }
  - { status: 400, code: KeepAndPw, message: "k" }
  - { status: 400, code: TooMany, message: "t" }
  - { status: 400, code: NeedOne, message: "o" }
"#;

    #[test]
    fn each_constraint_answers_its_code() {
        let c = checks(API);
        let ok = [("Id", "x"), ("Pw", "Abcdefg1")];
        assert_eq!(run(&c, &ok), Ok(()));
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = ok.to_vec();
            v.extend_from_slice(extra);
            run(&c, &v)
        };
        assert_eq!(run(&c, &[("Pw", "Abcdefg1")]), Err("MissingParameter [\"Id\"]".into()));
        assert_eq!(with(&[("Size", "forty")]), Err("BadSize [\"Size\"]".into()));
        assert_eq!(with(&[("Size", "20.5")]), Err("BadSize [\"Size\"]".into()));
        assert_eq!(with(&[("Size", "99999999999999999999")]), Err("BadSize [\"Size\"]".into()));
        assert_eq!(with(&[("Size", "0")]), Err("ZeroSize [\"Size\"]".into()));
        assert_eq!(with(&[("Size", "19")]), Err("InvalidParameter [\"Size\"]".into()));
        assert_eq!(with(&[("Size", "501")]), Err("InvalidParameter [\"Size\"]".into()));
        assert_eq!(with(&[("Size", "500")]), Ok(()));
        assert_eq!(with(&[("Key", "k")]), Err("NeedsEnc [\"Enc\"]".into()));
        assert_eq!(with(&[("Key", "k"), ("Enc", "True")]), Ok(()));
        assert_eq!(with(&[("Key", "kkkkk"), ("Enc", "true")]), Err("InvalidParameter [\"Key\"]".into()));
        assert_eq!(with(&[("Keep", "true")]), Err("KeepAndPw [\"Keep\"]".into()));
        assert_eq!(with(&[("Keep", "false")]), Ok(()));
        assert_eq!(with(&[("KeyId.1", "a"), ("KeyId.2", "b")]), Ok(()));
        assert_eq!(with(&[("KeyId.1", "a"), ("KeyId.2", "b"), ("KeyId.3", "c")]), Err("TooMany [\"KeyId\"]".into()));
        assert_eq!(with(&[("Algo", "x")]), Err("MissingParameter [\"Enc\"]".into()));
        assert_eq!(with(&[("Algo", "x"), ("Enc", "true")]), Err("InvalidParameter [\"Algo\"]".into()));
    }

    #[test]
    fn relations_read_defaults_and_ignore_what_the_doc_says_has_no_effect() {
        let c = checks(API);
        // Keep defaults to false: without Pw, neither holds.
        assert_eq!(run(&c, &[("Id", "x")]), Err("NeedOne [\"Pw\"]".into()));
        assert_eq!(run(&c, &[("Id", "x"), ("Keep", "false")]), Err("NeedOne [\"Pw\"]".into()));
        assert_eq!(run(&c, &[("Id", "x"), ("Keep", "true")]), Ok(()));
        // A malformed Pw is not checked when Keep is true (but still conflicts).
        assert_eq!(run(&c, &[("Id", "x"), ("Pw", "short")]), Err("InvalidParameter [\"Pw\"]".into()));
        assert_eq!(run(&c, &[("Id", "x"), ("Pw", "abc def1A")]), Err("InvalidParameter [\"Pw\"]".into()));
        assert_eq!(run(&c, &[("Id", "x"), ("Pw", "Abcdefg1!")]), Ok(()));
    }

    #[test]
    fn state_bounds_and_state_defaults() {
        let api = API.replace(
            "  Size: { type: integer, min: 20, max: 500, codes: { type: BadSize, non_positive: ZeroSize } }",
            "  Size: { type: integer, min: 20, max: 500, min_from: [{ state: image.size_gib, code: BadSize }], default_from: { state: image.size_gib, at_least: 40 } }",
        );
        let c = checks(&api);
        let p = vec![("Size".to_string(), "30".to_string())];
        let r = Req { params: &p, checks: None };
        let image = |n: i64| move |s: &str| (s == "image.size_gib").then_some(n);
        assert!(c.state_bounds(&r, "Size", &image(20)).is_ok());
        assert_eq!(c.state_bounds(&r, "Size", &image(60)).unwrap_err().code, "BadSize");
        assert_eq!(c.int_or_default(&r, "Size", &image(60)), Some(30));
        let none: Vec<(String, String)> = Vec::new();
        let r = Req { params: &none, checks: None };
        assert_eq!(c.int_or_default(&r, "Size", &image(20)), Some(40));
        assert_eq!(c.int_or_default(&r, "Size", &image(60)), Some(60));
    }
}
