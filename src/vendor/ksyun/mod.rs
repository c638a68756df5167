//! The Kingsoft Cloud (Ksyun) KEC wing: the vendor's descriptor ([`VENDOR`]), its wire
//! protocol, one rule module per API under test and its support actions.
//!
//! Sources: the API docs (`shared/vendor-docs/ksyun-kec-ModifyInstanceImage.zh.txt`), the wire facts
//! (`shared/reference/vendor-protocols.md`), and for the credential
//! variables and endpoints the README's "Nightly runs against real accounts".

pub mod modify_instance_image;
pub mod protocol;
pub mod support;

use super::{vars, ActionError, ApiRules, LiveEnv, Redaction, StagingCalls, Vendor};

use crate::world::Kind;

pub static VENDOR: Vendor = Vendor {
    name: "ksyun",
    display: "Kingsoft Cloud",
    region: "cn-beijing-6",
    version: "2016-03-04",
    throttling_codes: &["RequestLimitExceeded", "ThrottlingException"],
    signature_variants: false,
    sweep: None,
    protocol: &protocol::Ksyun,
    apis: &[ApiRules {
        action: "ModifyInstanceImage",
        run: modify_instance_image::run,
        flags: modify_instance_image::FLAGS,
    }],
    test_credentials: ("AKLTtestak", "testsecretkey"),
    unknown_action: ActionError { code: "InvalidAction", with_action_and_version: false },
    wrong_version: ActionError { code: "InvalidAction", with_action_and_version: false },
    id_format,
    key_pair_ids_are_names: false,
    redaction: Redaction {
        params: &[("Accesskey", "[access-key]"), ("InstancePassword", "[password]")],
        headers: &[("x-amz-date", "[timestamp]"), ("x-amz-security-token", "[security-token]")],
        ids: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    },
    live: LiveEnv {
        credentials: &[
            // Terraform's ksyun provider
            vars("KSYUN_ACCESS_KEY", "KSYUN_SECRET_KEY", &[]),
            // kscore (ksc-sdk-python)
            vars("KS_ACCESS_KEY_ID", "KS_SECRET_ACCESS_KEY", &["KS_SECURITY_TOKEN", "KS_SESSION_TOKEN"]),
        ],
        region: &["KSYUN_REGION", "KS_DEFAULT_REGION"],
        endpoint: "APICONFORM_KSYUN_ENDPOINT",
        default_endpoint: |_| "https://kec.api.ksyun.com".into(),
        implicit_params: |_| Vec::new(),
        staging,
        system_disk_lookup: false,
    },
    support: support::dispatch,
};

/// Lowercase UUIDs, whatever the kind.
fn id_format(_kind: Kind, h: &str) -> String {
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn staging(id: &str, status: &str) -> StagingCalls {
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    let stop = status == "Stopped";
    StagingCalls {
        change: ((if stop { "StopInstances" } else { "StartInstances" }).into(), vec![p("InstanceId.1", id)]),
        describe: ("DescribeInstances".into(), vec![p("InstanceId.1", id)]),
        status_path: "InstancesSet.0.InstanceState.Name",
        status_value: status.to_ascii_lowercase(),
    }
}
