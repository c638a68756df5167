//! The documented contract of one API: `cases/<vendor>/<service>/<Action>/api.yaml`.
//!
//! The contract is data taken from the vendor's documentation, never from
//! observed behaviour: the parameters with their documented constraints, the
//! rate limit, and every documented error exactly as printed (typos and `%s`
//! included). The emulator and the mock take their error messages from here,
//! and the loader refuses a case that expects a code the contract does not
//! document.
//!
//! Vendor-wide errors (signature, throttling, missing parameters) live in
//! `cases/<vendor>/common-errors.yaml`, in the same shape as `errors:` here.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `api.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub vendor: String,
    pub service: String,
    pub action: String,
    /// API version, e.g. `2014-05-26`.
    pub version: String,
    /// The documentation pages this contract was taken from.
    pub docs: Vec<DocSource>,
    /// A set-up or verification action (DescribeDisks, StopInstance, ...)
    /// that cases call as steps. It is not under test: its contract is
    /// minimal and the coverage report leaves it out.
    #[serde(default)]
    pub support: bool,
    /// The documented flow control, when the doc gives one.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Request parameters by wire name. A list parameter is written with `.N`
    /// (`KeyId.N`, `Arn.N.RoleType`) and matches any 1-based (or, where an
    /// alias says so, 0-based) index.
    pub params: BTreeMap<String, Param>,
    /// Every documented error of this API. The same code may appear several
    /// times with different statuses or messages: each entry is kept.
    pub errors: Vec<DocumentedError>,
    /// The documented success response's fields, with the doc's example
    /// values (the mock serves them; the request id is added by the protocol).
    #[serde(default)]
    pub response: BTreeMap<String, serde_json::Value>,
    /// Documented errors that cannot be triggered, with the reason.
    #[serde(default)]
    pub waivers: Vec<Waiver>,
    /// Conditions the doc states in prose (parameter descriptions, notes,
    /// the authorisation table) rather than as an error row: each names the
    /// cases that exercise it or says why it has none.
    #[serde(default)]
    pub prose: Vec<ProseCondition>,
    /// Groups of which the doc says at least one must be given
    /// ("不允许同时为空", "必须填写一个"), each with the code the API answers.
    #[serde(default)]
    pub at_least_one_of: Vec<OneOf>,
}

/// One condition in the doc's prose.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProseCondition {
    /// The doc's words, quoted.
    pub text: String,
    /// Which page says it; absent means the current one.
    #[serde(default)]
    pub source: Option<Authority>,
    /// The cases that exercise it.
    #[serde(default)]
    pub cases: Vec<String>,
    /// Why it (or the part no case covers) has no case.
    #[serde(default)]
    pub waiver: Option<String>,
    /// Where the pages disagree: the other page's words, the reading a case
    /// pins, and that a live run settles it.
    #[serde(default)]
    pub conflict: Option<String>,
    /// What the quoted words are about: parameter names (a case sends the
    /// parameter, or leaves out one the `success` case sends), action names
    /// (a step that calls it), `given.<section>[.<field>]` (state a case
    /// sets), `response.<path>` (a field a step checks) or `repeat` (a
    /// burst). Every named case must touch one of them.
    #[serde(default)]
    pub about: Vec<String>,
}

impl Contract {
    /// Problems with the `prose` list, given the API's case names: an entry
    /// with neither a case, a waiver nor a conflict, naming a case that does
    /// not exist, or naming cases without saying what its words are about.
    /// Each is (the text to point at, the message).
    pub fn prose_problems(&self, case_names: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let blank = |t: &Option<String>| t.as_deref().is_none_or(|w| w.trim().is_empty());
        for p in &self.prose {
            if p.cases.is_empty() && blank(&p.waiver) && blank(&p.conflict) {
                out.push((p.text.clone(), "this prose condition has neither a case, a waiver nor a conflict".into()));
            }
            if !p.cases.is_empty() && p.about.is_empty() {
                out.push((p.text.clone(), "this prose condition names cases but not what its words are about".into()));
            }
            for c in p.cases.iter().filter(|c| !case_names.contains(&c.as_str())) {
                out.push((c.clone(), format!("prose names a case `{c}` that does not exist")));
            }
        }
        out
    }

    /// Problems with the relations and codes of the parameters: a term
    /// naming no parameter, a code neither this API nor the vendor
    /// documents, a state name the rules cannot give, a pattern that does
    /// not compile. Each is (the text to point at, the message).
    pub fn relation_problems(&self, common: &CommonErrors) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let known = |t: &Term| self.param_for_wire_name(&t.param).is_some() || self.params.contains_key(&t.param);
        let term = |t: &Term, out: &mut Vec<(String, String)>| {
            if !known(t) {
                out.push((t.param.clone(), format!("`{t}` names no parameter of this contract")));
            }
        };
        let documented = |r: &ErrorRef| {
            let matches = |e: &DocumentedError| e.code == r.code && r.status.is_none_or(|s| s == e.status);
            self.errors.iter().any(matches) || common.errors.iter().any(matches)
        };
        let mut codes: Vec<&ErrorRef> = Vec::new();
        for g in &self.at_least_one_of {
            g.params.iter().for_each(|t| term(t, &mut out));
            codes.extend(g.code.iter().chain(&g.absent_code));
        }
        for (name, p) in &self.params {
            for r in p.requires.iter().chain(&p.conflicts_with) {
                term(&r.param, &mut out);
                codes.extend(&r.code);
            }
            p.ignored_when.iter().for_each(|t| term(t, &mut out));
            for b in p.min_from.iter().chain(&p.max_from) {
                codes.extend(&b.code);
            }
            let states =
                p.min_from.iter().chain(&p.max_from).map(|b| &b.state).chain(p.default_from.iter().map(|d| &d.state));
            for st in states.filter(|st| !STATE_NAMES.contains(&st.as_str())) {
                out.push((
                    st.clone(),
                    format!("`{st}` is not a state the rules give; one of: {}", STATE_NAMES.join(", ")),
                ));
            }
            codes.extend(p.codes.all());
            if let Some(re) = &p.pattern {
                if let Err(e) = regex::Regex::new(re) {
                    out.push((re.clone(), format!("the pattern of `{name}` does not compile: {e}")));
                }
            }
            if let Some(c) = &p.classes {
                if c.at_least == 0 || c.at_least > c.of.len() {
                    out.push((name.clone(), format!("`{name}`: classes.at_least must be 1 to {}", c.of.len())));
                }
            }
        }
        for r in codes.into_iter().filter(|r| !documented(r)) {
            let at = r.status.map(|s| format!(" with status {s}")).unwrap_or_default();
            out.push((r.code.clone(), format!("`{}`{at} is documented neither by this API nor by the vendor", r.code)));
        }
        out
    }
}

/// The constraints a parameter code may be given for (`codes:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Missing,
    Type,
    NonPositive,
    Min,
    Max,
    MinLength,
    MaxLength,
    Charset,
    Classes,
    Pattern,
    Format,
    Enum,
    MaxItems,
    NotOpen,
    NotFound,
}

impl ParamCodes {
    /// The code given for `check`: its own entry, else `invalid` for a
    /// format constraint.
    pub fn get(&self, check: Check) -> Option<&ErrorRef> {
        let own = match check {
            Check::Missing => return self.missing.as_ref(),
            Check::NotFound => return self.not_found.as_ref(),
            Check::Type => &self.ty,
            Check::NonPositive => &self.non_positive,
            Check::Min => &self.min,
            Check::Max => &self.max,
            Check::MinLength => &self.min_length,
            Check::MaxLength => &self.max_length,
            Check::Charset => &self.charset,
            Check::Classes => &self.classes,
            Check::Pattern => &self.pattern,
            Check::Format => &self.format,
            Check::Enum => &self.enum_values,
            Check::MaxItems => &self.max_items,
            Check::NotOpen => &self.not_open,
        };
        own.as_ref().or(self.invalid.as_ref())
    }

    fn all(&self) -> impl Iterator<Item = &ErrorRef> {
        [
            &self.missing,
            &self.invalid,
            &self.ty,
            &self.non_positive,
            &self.min,
            &self.max,
            &self.min_length,
            &self.max_length,
            &self.charset,
            &self.classes,
            &self.pattern,
            &self.format,
            &self.enum_values,
            &self.max_items,
            &self.not_open,
            &self.not_found,
        ]
        .into_iter()
        .flatten()
    }
}

impl Param {
    /// `charset: ASCII` (the doc says "只支持 ASCII 字符").
    pub fn ascii_only(&self) -> bool {
        self.charset.as_deref().is_some_and(|c| c.trim() == "ASCII")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocSource {
    /// File name under `shared/vendor-docs/`.
    pub file: String,
    /// `current` (authoritative) or `legacy` (older page, kept for its extra errors).
    pub authority: Authority,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Authority {
    Current,
    Legacy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u32,
    pub per_seconds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Boolean,
    Array,
    Object,
}

/// One request parameter and its documented constraints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    #[serde(rename = "type")]
    pub ty: ParamType,
    #[serde(default)]
    pub required: bool,
    /// The doc's description, quoted.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub min_length: Option<u32>,
    #[serde(default)]
    pub max_length: Option<u32>,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    /// A regular expression the value must match, when the doc gives one.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Allowed values, when the doc enumerates them.
    #[serde(default)]
    pub enum_values: Option<Vec<String>>,
    /// Allowed characters or character classes, in the doc's words.
    #[serde(default)]
    pub charset: Option<String>,
    /// Maximum number of list items (`子级条数`).
    #[serde(default)]
    pub max_items: Option<u32>,
    /// Documented default value.
    #[serde(default)]
    pub default: Option<String>,
    /// The doc's example value, where it prints one but no default.
    #[serde(default)]
    pub example: Option<String>,
    /// The doc marks it deprecated; the text says what to use instead.
    #[serde(default)]
    pub deprecated: Option<String>,
    /// The doc says the parameter is not yet open for use.
    #[serde(default)]
    pub not_open: bool,
    /// Parameters the doc says cannot be given together with this one
    /// (for a boolean: when it is true), each with the code the API answers.
    #[serde(default)]
    pub conflicts_with: Vec<Relation>,
    /// Parameters (or `Name=value`) this one needs when it is given, each
    /// with the code the API answers when the other is missing.
    #[serde(default)]
    pub requires: Vec<Relation>,
    /// Conditions under which the doc says the parameter has no effect
    /// ("当该值填写为true,默认InstancePassword参数无效"): it is not checked then.
    #[serde(default)]
    pub ignored_when: Vec<Term>,
    /// Lower bounds that depend on the state (`image.size_gib`: the size of
    /// the image the request names), each with its code.
    #[serde(default)]
    pub min_from: Vec<StateBound>,
    /// Upper bounds that depend on the state (`instance.max_system_disk_gib`).
    #[serde(default)]
    pub max_from: Vec<StateBound>,
    /// A default that depends on the state: the larger of `at_least` and the
    /// state's value ("Max{40, [the size of the specified image file]}").
    #[serde(default)]
    pub default_from: Option<StateDefault>,
    /// The character classes a value must mix (passwords).
    #[serde(default)]
    pub classes: Option<Classes>,
    /// A named encoding the value must have (`base64`).
    #[serde(default)]
    pub format: Option<Format>,
    /// The documented code the API answers when a constraint fails, by
    /// constraint; a constraint without one gets the vendor's common
    /// parameter error (`param_errors` in `common-errors.yaml`).
    #[serde(default)]
    pub codes: ParamCodes,
    /// Other wire names the vendor's own SDKs send for this parameter
    /// (for example Ksyun's `SystemDisk_DiskSize`).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// A parameter, or a parameter with a value: `Password`, `Encrypted=true`.
/// Written as one string. A parameter alone holds when it is given and not
/// empty; with a value, when its value (or its literal `default:`, when it
/// is absent) is that value (booleans in any case).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Term {
    pub param: String,
    pub value: Option<String>,
}

impl TryFrom<String> for Term {
    type Error = String;
    fn try_from(s: String) -> Result<Term, String> {
        let (param, value) = match s.split_once('=') {
            Some((p, v)) => (p.trim().to_string(), Some(v.trim().to_string())),
            None => (s.trim().to_string(), None),
        };
        if param.is_empty() || param.contains(char::is_whitespace) {
            return Err(format!("`{s}` is not a parameter name or `Name=value`"));
        }
        Ok(Term { param, value })
    }
}

impl From<Term> for String {
    fn from(t: Term) -> String {
        t.to_string()
    }
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={v}", self.param),
            None => f.write_str(&self.param),
        }
    }
}

/// One end of a `requires` or `conflicts_with` relation: the other
/// parameter (a [`Term`]) and the code the API answers. Written as the term
/// alone (`Encrypted=true`) when the vendor's common error answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RelationRepr")]
pub struct Relation {
    pub param: Term,
    pub code: Option<ErrorRef>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RelationRepr {
    Term(Term),
    Full {
        param: Term,
        #[serde(default)]
        code: Option<ErrorRef>,
    },
}

impl From<RelationRepr> for Relation {
    fn from(r: RelationRepr) -> Relation {
        match r {
            RelationRepr::Term(param) => Relation { param, code: None },
            RelationRepr::Full { param, code } => Relation { param, code },
        }
    }
}

/// A documented error by code, and by status where the code is documented
/// with several (`{ code: InvalidParameter.Conflict, status: 403 }`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "ErrorRefRepr")]
pub struct ErrorRef {
    pub code: String,
    pub status: Option<u16>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorRefRepr {
    Code(String),
    Full {
        code: String,
        #[serde(default)]
        status: Option<u16>,
    },
}

impl From<ErrorRefRepr> for ErrorRef {
    fn from(r: ErrorRefRepr) -> ErrorRef {
        match r {
            ErrorRefRepr::Code(code) => ErrorRef { code, status: None },
            ErrorRefRepr::Full { code, status } => ErrorRef { code, status },
        }
    }
}

/// `at_least_one_of`: one of `params` must hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneOf {
    pub params: Vec<Term>,
    /// The code when none holds; absent: the vendor's common "missing" error.
    #[serde(default)]
    pub code: Option<ErrorRef>,
    /// The code when none of the parameters is even sent, where the API
    /// documents one apart from `code` (an empty one gets `code`).
    #[serde(default)]
    pub absent_code: Option<ErrorRef>,
}

/// A bound read from the state, `<fixture kind>.<field>` of the resource
/// the request names (`image.size_gib`, `instance.max_system_disk_gib`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBound {
    pub state: String,
    #[serde(default)]
    pub code: Option<ErrorRef>,
}

/// `default_from`: the larger of `at_least` and the state's value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDefault {
    pub state: String,
    #[serde(default)]
    pub at_least: Option<i64>,
}

/// The state names a bound or default may read: the fields of the
/// resources a request names that the rules can give.
pub const STATE_NAMES: &[&str] = &["image.size_gib", "instance.max_system_disk_gib", "system_disk.size_gib"];

/// A character class of [`Classes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CharClass {
    Upper,
    Lower,
    Digit,
    Special,
}

/// "必须同时包含大小写英文字母、数字和特殊符号中的三类字符": the classes
/// counted, how many a value must contain, and what else it may contain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classes {
    /// The classes counted (ASCII letters and digits; `special`: `specials`).
    pub of: Vec<CharClass>,
    /// How many of them a value must contain.
    pub at_least: usize,
    /// The characters `special` means.
    #[serde(default)]
    pub specials: Option<String>,
    /// Characters outside the counted classes: refused, unless `visible`
    /// ("支持其他可见字符": any printable ASCII character but the space).
    #[serde(default)]
    pub others: Option<Others>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Others {
    Visible,
}

/// A named encoding of a string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Standard alphabet, padded ("必须是base64编码").
    Base64,
}

/// `codes:` of a parameter: the documented code per constraint. `invalid`
/// stands for every format constraint without its own entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamCodes {
    /// A required parameter absent or empty.
    #[serde(default)]
    pub missing: Option<ErrorRef>,
    #[serde(default)]
    pub invalid: Option<ErrorRef>,
    /// Not of the documented type (an integer out of 64 bits included).
    #[serde(default, rename = "type")]
    pub ty: Option<ErrorRef>,
    /// An integer of 0 or less, where the API answers it apart from `min`.
    #[serde(default)]
    pub non_positive: Option<ErrorRef>,
    #[serde(default)]
    pub min: Option<ErrorRef>,
    #[serde(default)]
    pub max: Option<ErrorRef>,
    #[serde(default)]
    pub min_length: Option<ErrorRef>,
    #[serde(default)]
    pub max_length: Option<ErrorRef>,
    /// Outside `charset: ASCII`.
    #[serde(default)]
    pub charset: Option<ErrorRef>,
    #[serde(default)]
    pub classes: Option<ErrorRef>,
    #[serde(default)]
    pub pattern: Option<ErrorRef>,
    #[serde(default)]
    pub format: Option<ErrorRef>,
    #[serde(default, rename = "enum")]
    pub enum_values: Option<ErrorRef>,
    #[serde(default)]
    pub max_items: Option<ErrorRef>,
    #[serde(default)]
    pub not_open: Option<ErrorRef>,
    /// The value names a resource that does not exist (checked by the rule,
    /// which needs the state; `explore` accepts it for a well-formed value).
    #[serde(default)]
    pub not_found: Option<ErrorRef>,
}

/// One documented error, exactly as printed.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DocumentedError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Which doc lists it. Absent means the current doc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Authority>,
    /// The doc's own explanation, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub code: String,
    /// Narrows the waiver to one entry when a code is documented several times.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub message: Option<String>,
    pub reason: String,
}

impl Waiver {
    pub fn covers(&self, e: &DocumentedError) -> bool {
        self.code == e.code
            && self.status.is_none_or(|s| s == e.status)
            && self.message.as_deref().is_none_or(|m| m == e.message)
    }
}

/// `cases/<vendor>/common-errors.yaml`: errors any API of the vendor can return.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommonErrors {
    pub vendor: String,
    /// Where these facts come from.
    pub source: String,
    /// Parameters every API of this vendor accepts besides its own.
    #[serde(default)]
    pub common_params: Vec<String>,
    /// The codes the vendor answers for a parameter constraint an API
    /// gives no code of its own.
    #[serde(default)]
    pub param_errors: ParamErrors,
    pub errors: Vec<DocumentedError>,
}

/// `param_errors:` of `common-errors.yaml`: the vendor's codes for a
/// required parameter that is missing and for a value that breaks a
/// documented constraint. Each names the parameter where its message has a
/// `%s`. A code of the common errors is taken from there, another from the
/// API's own errors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamErrors {
    #[serde(default)]
    pub missing: Option<String>,
    #[serde(default)]
    pub invalid: Option<String>,
}

impl Contract {
    /// The documented entries for `code`, current doc first.
    pub fn errors_for<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a DocumentedError> {
        self.errors.iter().filter(move |e| e.code == code)
    }

    /// Finds the parameter a wire name refers to, resolving `.N` list indexes
    /// and aliases. Returns the canonical (documented) name.
    pub fn param_for_wire_name(&self, wire: &str) -> Option<(&str, &Param)> {
        if let Some((k, p)) = self.params.get_key_value(wire) {
            return Some((k.as_str(), p));
        }
        for (name, p) in &self.params {
            if p.aliases.iter().any(|a| a == wire) || list_pattern_matches(name, wire) {
                return Some((name.as_str(), p));
            }
            if p.aliases.iter().any(|a| list_pattern_matches(a, wire)) {
                return Some((name.as_str(), p));
            }
        }
        None
    }
}

/// `KeyId.N` matches `KeyId.1`; `Arn.N.RoleType` matches `Arn.3.RoleType`.
/// A documented message with `%s` placeholders as a matcher.
/// A message ending in `:` without placeholders (Alibaba's `server string to
/// sign is:`) is a prefix, as the emulator appends to it.
pub fn message_matches(template: &str, got: &str) -> bool {
    if !template.contains("%s") && template.ends_with(':') {
        return got.starts_with(template);
    }
    let parts: Vec<String> = template.split("%s").map(regex::escape).collect();
    regex::Regex::new(&format!("^{}$", parts.join("(?s:.*)"))).is_ok_and(|re| re.is_match(got))
}

fn list_pattern_matches(pattern: &str, wire: &str) -> bool {
    if !pattern.contains(".N") {
        return false;
    }
    let pat: Vec<&str> = pattern.split('.').collect();
    let got: Vec<&str> = wire.split('.').collect();
    pat.len() == got.len()
        && pat.iter().zip(&got).all(|(p, g)| {
            if *p == "N" {
                !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit())
            } else {
                p == g
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_placeholders_match_anything() {
        assert!(message_matches("The accesskey [%s] included", "The accesskey [AK1] included"));
        assert!(!message_matches("The accesskey [%s] included", "The accesskey [AK1] excluded"));
        assert!(message_matches("a.b", "a.b"));
        assert!(!message_matches("a.b", "axb"));
        assert!(message_matches("sign is:", "sign is:GET&"));
        assert!(!message_matches("sign is:", "sign was:GET&"));
    }

    #[test]
    fn relations_name_known_states_and_compiling_patterns() {
        let c: Contract = serde_saphyr::from_str(
            "vendor: v\nservice: s\naction: A\nversion: '1'\ndocs: []\nerrors: []\nparams:\n  Size: { type: integer, min_from: [{ state: image.bytes }], default_from: { state: image.size_gib } }\n  Id: { type: string, pattern: '[', requires: [Size, \"Nope=1\"], ignored_when: [\"Size=2\"] }\n",
        )
        .expect("parses");
        let common = CommonErrors {
            vendor: "v".into(),
            source: "t".into(),
            common_params: Vec::new(),
            param_errors: ParamErrors::default(),
            errors: Vec::new(),
        };
        let msgs: Vec<String> = c.relation_problems(&common).into_iter().map(|(_, m)| m).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].contains("`Nope=1` names no parameter"), "{msgs:?}");
        assert!(msgs[1].contains("the pattern of `Id` does not compile"), "{msgs:?}");
        assert!(msgs[2].contains("`image.bytes` is not a state the rules give"), "{msgs:?}");
        let t = Term::try_from("Encrypted=true".to_string()).unwrap();
        assert_eq!(
            (t.param.as_str(), t.value.as_deref(), t.to_string()),
            ("Encrypted", Some("true"), "Encrypted=true".into())
        );
        assert!(Term::try_from("two words".to_string()).is_err());
    }

    #[test]
    fn list_patterns() {
        assert!(list_pattern_matches("KeyId.N", "KeyId.1"));
        assert!(list_pattern_matches("Arn.N.RoleType", "Arn.10.RoleType"));
        assert!(!list_pattern_matches("Arn.N.RoleType", "Arn.x.RoleType"));
        assert!(!list_pattern_matches("KeyId.N", "KeyId"));
        assert!(!list_pattern_matches("KeyId", "KeyId.1"));
    }
}
