//! A case file: one documented condition, the state it starts from, the
//! request(s) that exercise it and what must come back.
//!
//! ```yaml
//! name: instance-not-stopped
//! condition: "实例的状态必须为已停止(Stopped)状态。"
//! tags: [precondition]
//! given:
//!   instances:
//!     instance: { status: Running }
//! request:
//!   InstanceId: ${instance.id}
//!   ImageId: ${other_image.id}
//! expect:
//!   status: 403
//!   code: IncorrectInstanceStatus
//! ```
//!
//! `request`/`expect` is shorthand for a single step; `steps:` holds several,
//! each able to `save:` body fields for later steps (`${saved.name}`).

use crate::diag::Pos;
use crate::world::WorldSpec;
use crate::yaml::Spanned;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// A case file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub name: Spanned<String>,
    /// The documented condition, quoted from the doc.
    pub condition: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Set, with the reason, when the whole case rests on something the
    /// docs do not state (a check order, a trigger the doc never names);
    /// the coverage report counts it as assumed, awaiting a live verdict.
    #[serde(default)]
    pub assumed: Option<String>,
    /// A patch over the API's default world.
    #[serde(default)]
    pub given: WorldSpec,
    #[serde(default)]
    pub request: Option<Params>,
    #[serde(default)]
    pub wire: Option<Wire>,
    #[serde(default)]
    pub auth: Option<Auth>,
    #[serde(default)]
    pub expect: Option<Spanned<Expect>>,
    #[serde(default)]
    pub steps: Option<Vec<Step>>,
    #[serde(default)]
    pub targets: Targets,
    /// Known, accepted differences between the emulator and the live
    /// recording (shown by `apiconform parity`, not failed).
    #[serde(default)]
    pub parity: Parity,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parity {
    #[serde(default)]
    pub accept: Vec<AcceptedDifference>,
}

/// A difference the case accepts between the emulator and the cloud.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AcceptedDifference {
    /// `status`, `code`, `message`, `body` or `body.<path>`.
    pub field: String,
    /// The step's name; absent means every step.
    #[serde(default)]
    pub step: Option<String>,
    pub reason: String,
}

/// One request and its expectation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub name: Option<String>,
    /// Defaults to the API's own action.
    #[serde(default)]
    pub action: Option<Spanned<String>>,
    pub request: Params,
    #[serde(default)]
    pub wire: Option<Wire>,
    #[serde(default)]
    pub auth: Option<Auth>,
    pub expect: Spanned<Expect>,
    /// Sends the same request this many times (1 to 1000), each answer
    /// checked against `expect`: a burst for the documented flow control.
    #[serde(default)]
    pub repeat: Option<u32>,
    /// `variable: BodyPath`: saves a response field as `${saved.variable}`.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
}

/// How the request travels, where a vendor offers choices.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Wire {
    /// Alibaba: `rpc-v1` (HMAC-SHA1) or `acs3` (ACS3-HMAC-SHA256, the default).
    #[serde(default)]
    pub signature: Option<Signature>,
    /// `GET` or `POST`; each vendor has its SDK's default.
    #[serde(default)]
    pub method: Option<Method>,
    /// Where the parameters go: `query` or `form` (a urlencoded body).
    #[serde(default)]
    pub params_in: Option<ParamsIn>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Signature {
    RpcV1,
    Acs3,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ParamsIn {
    Query,
    Form,
}

/// Which credentials sign the request.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// The target's own valid credentials.
    #[default]
    Valid,
    /// The right access key, signed with a wrong secret.
    BadSignature,
    /// An access key the target does not know.
    UnknownAccessKey,
    /// The target's credentials with an STS session token, sent the way
    /// each vendor's SDK sends it (and covered by the signature).
    SessionToken,
}

/// What must come back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    /// The vendor's error code; absent for a success.
    #[serde(default)]
    pub code: Option<Spanned<String>>,
    /// The exact message. When absent and `code` is set, the documented
    /// message is expected (`%s` matching anything).
    #[serde(default)]
    pub message: Option<Spanned<String>>,
    /// A substring the message must contain.
    #[serde(default)]
    pub message_contains: Option<String>,
    /// Which page's wording is expected: `current` (the default) or
    /// `legacy`. A legacy page's message is accepted only where a case asks
    /// for it by name, so the current page's wording is what every other
    /// case holds a target to.
    #[serde(default)]
    pub message_source: Option<crate::contract::Authority>,
    /// Set, with the reason, when the code is not in the API's documentation.
    #[serde(default)]
    pub undocumented: Option<String>,
    /// Set, with the reason, when this expectation rests on an assumption
    /// rather than on the doc's words.
    #[serde(default)]
    pub assumed: Option<String>,
    /// Assertions on response body fields, by dotted path (`DiskId`, `Result.X`).
    #[serde(default)]
    pub body: BTreeMap<String, BodyCheck>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BodyCheck {
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub not_equals: Option<String>,
    #[serde(default)]
    pub exists: Option<bool>,
    /// A regular expression the value must match.
    #[serde(default)]
    pub matches: Option<String>,
}

/// The most a `matches:` pattern may be: its source length and its compiled
/// size. A larger one is refused by `lint`, and the runner compiles with the
/// same limits, so the two never disagree.
pub const MAX_REGEX_SOURCE: usize = 1024;
pub const MAX_REGEX_COMPILED: usize = 1 << 20;

/// Compiles a `matches:` pattern within [`MAX_REGEX_SOURCE`] and
/// [`MAX_REGEX_COMPILED`].
pub fn body_regex(re: &str) -> Result<regex::Regex, String> {
    if re.len() > MAX_REGEX_SOURCE {
        return Err(format!("the pattern is {} bytes; the limit is {MAX_REGEX_SOURCE}", re.len()));
    }
    regex::RegexBuilder::new(re).size_limit(MAX_REGEX_COMPILED).build().map_err(|e| e.to_string())
}

/// Per-target applicability.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(default)]
    pub emulator: Option<Applies>,
    #[serde(default)]
    pub mock: Option<Applies>,
    #[serde(default)]
    pub live: Option<LiveApplies>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applies {
    /// Why the case does not run on this target.
    pub skip: String,
}

/// The live target's applicability.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveApplies {
    /// Why the case does not run on a real account.
    #[serde(default)]
    pub skip: Option<String>,
    /// On a real account, send the API's own steps with `DryRun=true`: the
    /// checks run, nothing changes, and an expected success becomes the
    /// API's documented DryRun answer.
    #[serde(default)]
    pub dry_run: bool,
}

impl Targets {
    /// The case asks for DryRun on the live target.
    pub fn live_dry_run(&self) -> bool {
        self.live.as_ref().is_some_and(|l| l.dry_run)
    }

    pub fn skip_reason(&self, target: &str) -> Option<&str> {
        match target {
            "emulator" => self.emulator.as_ref().map(|a| a.skip.as_str()),
            "mock" => self.mock.as_ref().map(|a| a.skip.as_str()),
            "live" => self.live.as_ref().and_then(|a| a.skip.as_deref()),
            _ => None,
        }
    }
}

/// Request parameters by wire name, in the order written, with positions.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<ParamEntry>);

#[derive(Debug, Clone)]
pub struct ParamEntry {
    pub name: String,
    pub name_pos: Pos,
    /// The value as text: YAML `true`, `80` and `"80"` all become their text.
    pub value: String,
    pub value_pos: Pos,
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of parameter names to scalar values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Params, A::Error> {
                let mut out: Vec<ParamEntry> = Vec::new();
                let mut seen = Seen::default();
                while let Some(k) = m.next_key::<Spanned<String>>()? {
                    let v: Spanned<String> = m.next_value()?;
                    if !seen.first_time(k.value.clone()) {
                        return Err(de::Error::custom(format!("duplicate parameter `{}`", k.value)));
                    }
                    out.push(ParamEntry {
                        name: k.value,
                        name_pos: Pos::of(&k.referenced),
                        value: v.value,
                        value_pos: Pos::of(&v.referenced),
                    });
                }
                Ok(Params(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The names seen so far, each checked in constant time (a case may send
/// 80,000 parameters; a scan per name made loading quadratic).
struct Seen<K>(std::collections::HashSet<K>);

impl<K> Default for Seen<K> {
    fn default() -> Self {
        Seen(std::collections::HashSet::new())
    }
}

impl<K: std::hash::Hash + Eq> Seen<K> {
    /// False when `k` was seen before.
    fn first_time(&mut self, k: K) -> bool {
        self.0.insert(k)
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|e| e.name == name).map(|e| e.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A key that counts the comparisons made with it.
    struct Counted<'a>(u32, &'a Cell<usize>);
    impl PartialEq for Counted<'_> {
        fn eq(&self, other: &Self) -> bool {
            self.1.set(self.1.get() + 1);
            self.0 == other.0
        }
    }
    impl Eq for Counted<'_> {}
    impl std::hash::Hash for Counted<'_> {
        fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
            self.0.hash(h)
        }
    }

    #[test]
    fn checking_80k_parameter_names_for_repeats_is_linear_work() {
        let compared = Cell::new(0);
        let mut seen = Seen::default();
        let n = 80_000;
        assert!((0..n).all(|i| seen.first_time(Counted(i, &compared))));
        assert!(!seen.first_time(Counted(n / 2, &compared)));
        // A scan per name would compare n²/2 = 3.2e9 times.
        assert!(compared.get() <= 2 * n as usize, "{} comparisons for {n} names", compared.get());
    }

    #[test]
    fn a_repeated_parameter_among_80k_is_refused() {
        let mut yaml: String = (0..80_000).map(|i| format!("P{i}: v\n")).collect();
        assert_eq!(crate::yaml::parse::<Params>(std::path::Path::new("x"), &yaml).unwrap().0.len(), 80_000);
        yaml.push_str("P40000: again\n");
        let e = crate::yaml::parse::<Params>(std::path::Path::new("x"), &yaml).unwrap_err();
        assert!(e.message.contains("P40000"), "{e}");
    }
}
