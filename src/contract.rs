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
}

impl Contract {
    /// Problems with the `prose` list, given the API's case names: an entry
    /// with neither a case nor a waiver, or naming a case that does not
    /// exist. Each is (the text to point at, the message).
    pub fn prose_problems(&self, case_names: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for p in &self.prose {
            if p.cases.is_empty() && p.waiver.as_deref().is_none_or(|w| w.trim().is_empty()) {
                out.push((p.text.clone(), "this prose condition has neither a case nor a waiver".to_string()));
            }
            for c in p.cases.iter().filter(|c| !case_names.contains(&c.as_str())) {
                out.push((c.clone(), format!("prose names a case `{c}` that does not exist")));
            }
        }
        out
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
    /// (for a boolean: when it is true); `explore` sends both.
    #[serde(default)]
    pub conflicts_with: Vec<String>,
    /// Other wire names the vendor's own SDKs send for this parameter
    /// (for example Ksyun's `SystemDisk_DiskSize`).
    #[serde(default)]
    pub aliases: Vec<String>,
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
    pub errors: Vec<DocumentedError>,
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
    fn list_patterns() {
        assert!(list_pattern_matches("KeyId.N", "KeyId.1"));
        assert!(list_pattern_matches("Arn.N.RoleType", "Arn.10.RoleType"));
        assert!(!list_pattern_matches("Arn.N.RoleType", "Arn.x.RoleType"));
        assert!(!list_pattern_matches("KeyId.N", "KeyId"));
        assert!(!list_pattern_matches("KeyId", "KeyId.1"));
    }
}
