//! One wing per vendor: everything the harness knows about a vendor sits in
//! `src/vendor/<name>/` and reaches the rest of the code through one
//! [`Vendor`] descriptor, registered once in [`ALL`].
//!
//! Why: before this module, adding a vendor meant editing about twenty
//! files that each matched on the vendor's name (issue 9). Code outside
//! `src/vendor/` now asks the descriptor (`vendor::get(name)`) instead of
//! naming a vendor.

/// Declares each wing's module and lists its descriptor in [`ALL`], in
/// that order: adding a vendor is one name here.
macro_rules! wings {
    ($($wing:ident),* $(,)?) => {
        $(pub mod $wing;)*
        /// Every vendor, registered once.
        pub static ALL: &[&Vendor] = &[$(&$wing::VENDOR),*];
    };
}

wings!(aliyun, volcengine, ksyun);

use crate::model::rules::{Fail, FlagDoc, Outcome, Req};
use crate::model::state::{IdStyle, State};
use crate::protocol::Protocol;
use crate::world::Kind;

/// What the harness needs to know about one vendor.
pub struct Vendor {
    /// The directory name under `cases/` and the key of every per-vendor table.
    pub name: &'static str,
    /// The vendor's name for people, in messages.
    pub display: &'static str,
    /// The region requests are signed for when none is configured.
    pub region: &'static str,
    /// The API version of the vendor's support calls (Describe*, Stop/Start, snapshots).
    pub version: &'static str,
    /// Codes that mean "refused by flow control, retry later". The first is
    /// the one the emulator answers with.
    pub throttling_codes: &'static [&'static str],
    /// Whether a case may choose among signature variants (`wire.signature`).
    pub signature_variants: bool,
    /// How leftovers of earlier live runs are found and deleted, if the
    /// harness creates resources on this vendor at all.
    pub sweep: Option<Sweep>,
    /// Encoding, signing, parsing and rendering of the vendor's wire format.
    pub protocol: &'static dyn Protocol,
    /// The APIs under test, each with its emulator rule.
    pub apis: &'static [ApiRules],
    /// The access key id and secret `apiconform serve` accepts out of the
    /// box: the throw-away values the official SDK captures were made with.
    pub test_credentials: (&'static str, &'static str),
    /// The error for an action the vendor does not have, and for a version
    /// the action does not have.
    pub unknown_action: ActionError,
    pub wrong_version: ActionError,
    /// A resource ID in the vendor's format, from 32 hex digits.
    pub id_format: fn(Kind, &str) -> String,
    /// Whether key pairs are known by their names (no separate ID).
    pub key_pair_ids_are_names: bool,
    /// What the normalizer replaces in this vendor's exchanges.
    pub redaction: Redaction,
    /// Where live credentials, region and endpoint come from, and what live
    /// runs send and stage.
    pub live: LiveEnv,
    /// The emulator's verification and set-up actions (Describe*, Stop/Start,
    /// snapshots); `None` for an action the emulator does not implement.
    pub support: fn(&str, &mut State, &Req) -> Option<Outcome>,
}

/// The vendor's volatile values, for `normalize`: parameters and headers
/// replaced by a token, and the shape of its resource IDs (a regex
/// alternative; generated IDs are numbered by kind in snapshots).
pub struct Redaction {
    pub params: &'static [(&'static str, &'static str)],
    pub headers: &'static [(&'static str, &'static str)],
    pub ids: &'static str,
}

/// A documented error code, and whether its message names the action and
/// the version (`%s` placeholders, in that order).
pub struct ActionError {
    pub code: &'static str,
    pub with_action_and_version: bool,
}

impl ActionError {
    pub fn fail(&self, action: &str, version: &str) -> Fail {
        let f = crate::model::rules::fail(self.code);
        if self.with_action_and_version {
            f.arg(action).arg(version)
        } else {
            f
        }
    }
}

/// One API under test: its action, its rule, and the flags its rule reads.
pub struct ApiRules {
    pub action: &'static str,
    pub run: fn(&mut State, &Req) -> Outcome,
    pub flags: &'static [FlagDoc],
}

/// The calls that list and delete what earlier live runs left behind:
/// one resource kind, listed page by page.
pub struct Sweep {
    /// The resource kind, for the log ("snapshot").
    pub noun: &'static str,
    pub list_action: &'static str,
    pub page_size_param: &'static str,
    pub page_number_param: &'static str,
    /// JSON pointer to the listed items in the answer.
    pub items: &'static str,
    /// Field of the answer holding the total count.
    pub total: &'static str,
    pub id_field: &'static str,
    pub name_field: &'static str,
    pub delete_action: &'static str,
    /// The delete call's parameter naming the resource.
    pub id_param: &'static str,
}

/// One set of variables a vendor's tools read credentials from. A key, its
/// secret and its token always come from the same set, never mixed.
pub struct CredentialVars {
    pub access_key_id: &'static str,
    pub secret: &'static str,
    pub session_token: &'static [&'static str],
}

/// The credential and region variables of one vendor, its endpoints and
/// what live runs send and stage there (`Vendor::live`).
pub struct LiveEnv {
    /// In order of preference: the current SDKs' names first.
    pub credentials: &'static [CredentialVars],
    pub region: &'static [&'static str],
    /// The variable that overrides the endpoint (`APICONFORM_<VENDOR>_ENDPOINT`).
    pub endpoint: &'static str,
    /// The vendor's public endpoint for a region.
    pub default_endpoint: fn(&str) -> String,
    /// Parameters every live request carries, for a region.
    pub implicit_params: fn(&str) -> Vec<(String, String)>,
    /// The set-up calls that bring an instance (id) to a status.
    pub staging: fn(&str, &str) -> StagingCalls,
    /// Whether the cloud can be asked for an instance's system disk
    /// (`live::system_disk_call`), so an inventory entry for it is not needed.
    pub system_disk_lookup: bool,
}

pub const fn vars(
    access_key_id: &'static str,
    secret: &'static str,
    session_token: &'static [&'static str],
) -> CredentialVars {
    CredentialVars { access_key_id, secret, session_token }
}

/// The set-up call that changes an instance's status and the Describe call
/// that shows it, for one vendor.
pub struct StagingCalls {
    pub change: (String, Vec<(String, String)>),
    pub describe: (String, Vec<(String, String)>),
    /// Body path of the status in the Describe answer, and the value meaning "there".
    pub status_path: &'static str,
    pub status_value: String,
}

impl StagingCalls {
    pub fn is_there(&self, n: &crate::protocol::Normalized) -> bool {
        let v = self.status_path.split('.').try_fold(&n.body, |v, k| match (v, k.parse::<usize>()) {
            (serde_json::Value::Array(a), Ok(i)) => a.get(i),
            _ => v.get(k),
        });
        n.status < 300 && v.and_then(|v| v.as_str()) == Some(self.status_value.as_str())
    }
}

/// The vendor of that name.
pub fn get(name: &str) -> Option<&'static Vendor> {
    ALL.iter().copied().find(|v| v.name == name)
}

/// The region a vendor's requests are signed for (Alibaba's `cn-hangzhou`
/// for a name no vendor has, as before the descriptor existed).
pub fn region(name: &str) -> &'static str {
    get(name).map_or(aliyun::VENDOR.region, |v| v.region)
}

/// The flags a world of `vendor`'s `action` may set: those its rule reads
/// and those the state model reads for every API. The loader refuses any
/// other.
pub fn flags_of(vendor: &str, action: &str) -> impl Iterator<Item = &'static FlagDoc> {
    let api = get(vendor).and_then(|v| v.apis.iter().find(|a| a.action == action));
    api.map_or(&[][..], |a| a.flags).iter().chain(crate::model::state::FLAGS)
}

/// The protocol for a vendor name.
pub fn protocol_of(name: &str) -> Option<&'static dyn Protocol> {
    get(name).map(|v| v.protocol)
}

/// Every protocol, for request detection (no allocation: this is on the
/// emulator's request path).
pub fn protocols() -> impl Iterator<Item = &'static dyn Protocol> {
    ALL.iter().map(|v| v.protocol)
}

/// How the state model names a vendor's resources (Alibaba's format for a
/// name no vendor has, as before the descriptor existed).
pub fn id_style(name: &str) -> IdStyle {
    get(name).unwrap_or(ALL[0]).id_style()
}

/// The code the emulator answers a throttled request with.
pub fn throttling_code(name: &str) -> &'static str {
    get(name).map_or("RequestLimitExceeded", |v| v.throttling_codes[0])
}

/// Runs the rule for `vendor`/`action`; `None` when the emulator does not
/// implement that action.
pub fn dispatch(vendor: &str, action: &str, state: &mut State, req: &Req) -> Option<Outcome> {
    let v = get(vendor)?;
    match v.apis.iter().find(|a| a.action == action) {
        Some(api) => Some((api.run)(state, req)),
        None => (v.support)(action, state, req),
    }
}

/// Whether any vendor means "throttled, retry later" by this code.
pub fn is_throttling(code: &str) -> bool {
    ALL.iter().any(|v| v.throttling_codes.contains(&code))
}

/// The loading error for `wire.signature` on a vendor with one signature
/// scheme: names the vendors that have variants.
pub fn signature_variants_message() -> String {
    let names: Vec<&str> = ALL.iter().filter(|v| v.signature_variants).map(|v| v.display).collect();
    format!("`wire.signature` only applies to {}", names.join(" and "))
}

impl Vendor {
    /// The API version of a support call.
    pub fn version_of(&self, _action: &str) -> &'static str {
        self.version
    }

    /// What the state model reads from the descriptor to name resources.
    pub fn id_style(&self) -> IdStyle {
        IdStyle { format: self.id_format, key_pair_ids_are_names: self.key_pair_ids_are_names }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendor_is_registered_once_with_its_protocol() {
        for v in ALL {
            assert_eq!(ALL.iter().filter(|w| w.name == v.name).count(), 1, "{}", v.name);
            assert_eq!(v.protocol.vendor(), v.name);
            assert!(!v.throttling_codes.is_empty(), "{}", v.name);
        }
    }

    #[test]
    fn every_flag_says_why_it_is_not_typed_state() {
        let all = ALL.iter().flat_map(|v| v.apis).flat_map(|a| a.flags);
        for f in all.chain(crate::model::state::FLAGS) {
            assert!(f.why.len() > 20, "{} {}: say why it stays a flag", f.kind, f.name);
        }
    }
}

#[cfg(test)]
mod live_credentials {
    use crate::live::LiveConfig;
    use std::collections::BTreeMap;

    fn cfg(vars: &[(&str, &str)]) -> LiveConfig {
        let map: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        LiveConfig::from_env(&|k| map.get(k).cloned())
    }

    #[test]
    fn a_key_its_secret_and_its_token_come_from_one_set() {
        // A current-SDK key with a legacy secret is not a pair.
        let c = cfg(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "AK1"), ("ALIYUN_ACCESS_KEY_SECRET", "SK2")]);
        assert!(c.vendors["aliyun"].credentials.is_none());
        assert!(c.vendors["aliyun"].skip.as_deref().unwrap().contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));
        // The legacy pair does not pick up the current SDKs' token.
        let c = cfg(&[
            ("ALIYUN_ACCESS_KEY_ID", "AK2"),
            ("ALIYUN_ACCESS_KEY_SECRET", "SK2"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", "TOKEN1"),
        ]);
        let creds = c.vendors["aliyun"].credentials.clone().unwrap();
        assert_eq!((creds.access_key_id.as_str(), creds.session_token), ("AK2", None));
        // Preference order: the current SDKs' names first; Node's names for Volcengine.
        let c = cfg(&[
            ("ALICLOUD_ACCESS_KEY", "AK3"),
            ("ALICLOUD_SECRET_KEY", "SK3"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "AK1"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "SK1"),
            ("VOLC_ACCESSKEY", "VAK"),
            ("VOLC_SECRETKEY", "VSK"),
            ("KS_ACCESS_KEY_ID", "KAK"),
            ("KS_SECRET_ACCESS_KEY", "KSK"),
            ("KS_SECURITY_TOKEN", "KTOK"),
        ]);
        assert_eq!(c.vendors["aliyun"].credentials.clone().unwrap().access_key_id, "AK1");
        assert_eq!(c.vendors["volcengine"].credentials.clone().unwrap().secret, "VSK");
        assert_eq!(c.vendors["ksyun"].credentials.clone().unwrap().session_token.as_deref(), Some("KTOK"));
    }
}
