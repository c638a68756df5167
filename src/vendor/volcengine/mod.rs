//! The Volcengine ECS wing: the vendor's descriptor ([`VENDOR`]), its wire
//! protocol, one rule module per API under test and its support actions.
//!
//! Sources: the API docs (`shared/vendor-docs/volcengine-ecs-ReplaceSystemVolume.zh.txt`), the wire facts
//! (`shared/reference/vendor-protocols.md`), and for the credential
//! variables and endpoints the README's "Nightly runs against real accounts".

pub mod protocol;
pub mod replace_system_volume;
pub mod support;

use super::{vars, ActionError, ApiRules, LiveEnv, Redaction, StagingCalls, Vendor};

use crate::world::Kind;

pub static VENDOR: Vendor = Vendor {
    name: "volcengine",
    display: "Volcengine",
    region: "cn-beijing",
    version: "2020-04-01",
    throttling_codes: &["AccountFlowLimitExceeded"],
    signature_variants: false,
    sweep: None,
    protocol: &protocol::Volcengine,
    apis: &[ApiRules {
        action: "ReplaceSystemVolume",
        run: replace_system_volume::run,
        flags: replace_system_volume::FLAGS,
    }],
    test_credentials: ("AKLTtestak", "testsk"),
    unknown_action: ActionError { code: "InvalidActionOrVersion", with_action_and_version: true },
    wrong_version: ActionError { code: "InvalidActionOrVersion", with_action_and_version: true },
    id_format,
    key_pair_ids_are_names: false,
    redaction: Redaction {
        params: &[("Password", "[password]")],
        headers: &[("x-date", "[timestamp]"), ("x-security-token", "[security-token]")],
        ids: "(?:i|vol|image|snap|kp|key)-[0-9a-z*]{8,}",
    },
    live: LiveEnv {
        credentials: &[
            // the Python and Go SDKs
            vars("VOLCENGINE_ACCESS_KEY", "VOLCENGINE_SECRET_KEY", &["VOLCENGINE_SESSION_TOKEN"]),
            // the Node SDK
            vars("VOLC_ACCESSKEY", "VOLC_SECRETKEY", &[]),
        ],
        region: &["VOLCENGINE_REGION"],
        endpoint: "APICONFORM_VOLCENGINE_ENDPOINT",
        default_endpoint: |_| "https://open.volcengineapi.com".into(),
        implicit_params: |_| Vec::new(),
        staging,
        system_disk_lookup: false,
    },
    support: support::dispatch,
};

/// `i-…`, `vol-…`, `image-…`: a kind prefix and 20 hex digits.
fn id_format(kind: Kind, h: &str) -> String {
    let prefix = match kind {
        Kind::Instance => "i-",
        Kind::Disk => "vol-",
        Kind::Image => "image-",
        Kind::Snapshot => "snap-",
        Kind::KeyPair => "kp-",
        Kind::KmsKey => "key-",
    };
    format!("{prefix}{}", &h[..20])
}

fn staging(id: &str, status: &str) -> StagingCalls {
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    let stop = status == "Stopped";
    StagingCalls {
        change: ((if stop { "StopInstance" } else { "StartInstance" }).into(), vec![p("InstanceId", id)]),
        describe: ("DescribeInstances".into(), vec![p("InstanceIds.1", id)]),
        status_path: "Instances.0.Status",
        status_value: status.to_ascii_uppercase(),
    }
}
