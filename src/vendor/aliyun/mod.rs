//! The Alibaba Cloud ECS wing: the vendor's descriptor ([`VENDOR`]), its wire
//! protocol, one rule module per API under test and its support actions.
//!
//! Sources: the API docs (`shared/vendor-docs/aliyun-ecs-ReplaceSystemDisk.zh.txt`,
//! `shared/vendor-docs/aliyun-ecs-ReplaceSystemDisk.en-legacy.md`,
//! `shared/vendor-docs/aliyun-ecs-ResetDisk.zh.txt`), the wire facts
//! (`shared/reference/vendor-protocols.md`), and for the credential
//! variables and endpoints the README's "Nightly runs against real accounts".

pub mod protocol;
pub mod replace_system_disk;
pub mod reset_disk;
pub mod support;

use super::{vars, ActionError, ApiRules, LiveEnv, Redaction, StagingCalls, Sweep, Vendor};

use crate::world::Kind;

pub static VENDOR: Vendor = Vendor {
    name: "aliyun",
    display: "Alibaba Cloud",
    region: "cn-hangzhou",
    version: "2014-05-26",
    throttling_codes: &["Throttling.User", "Throttling", "Throttling.Api"],
    signature_variants: true,
    sweep: Some(Sweep {
        noun: "snapshot",
        list_action: "DescribeSnapshots",
        page_size_param: "PageSize",
        page_number_param: "PageNumber",
        items: "/Snapshots/Snapshot",
        total: "TotalCount",
        id_field: "SnapshotId",
        name_field: "SnapshotName",
        delete_action: "DeleteSnapshot",
        id_param: "SnapshotId",
    }),
    protocol: &protocol::Aliyun,
    apis: &[
        ApiRules { action: "ReplaceSystemDisk", run: replace_system_disk::run, flags: replace_system_disk::FLAGS },
        ApiRules { action: "ResetDisk", run: reset_disk::run, flags: reset_disk::FLAGS },
    ],
    test_credentials: ("testid", "testsecret"),
    unknown_action: ActionError { code: "InvalidAction.NotFound", with_action_and_version: false },
    wrong_version: ActionError { code: "InvalidVersion", with_action_and_version: false },
    id_format,
    key_pair_ids_are_names: true,
    redaction: Redaction {
        params: &[
            ("Signature", "[signature]"),
            ("AccessKeyId", "[access-key]"),
            ("SecurityToken", "[security-token]"),
            ("Timestamp", "[timestamp]"),
            ("SignatureNonce", "[nonce]"),
            ("Password", "[password]"),
        ],
        headers: &[
            ("x-acs-date", "[timestamp]"),
            ("x-acs-signature-nonce", "[nonce]"),
            ("x-acs-security-token", "[security-token]"),
            ("x-acs-accesskey-id", "[access-key]"),
        ],
        ids: "(?:i|d|m|s|kp|key)-[0-9a-z*]{8,}",
    },
    live: LiveEnv {
        credentials: &[
            // alibabacloud-credentials (the current SDKs)
            vars("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", &["ALIBABA_CLOUD_SECURITY_TOKEN"]),
            // the legacy aliyunsdkcore
            vars("ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", &[]),
            // Terraform's alicloud provider
            vars("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY", &["ALICLOUD_ACCESS_KEY_STS_TOKEN"]),
        ],
        region: &["ALIBABA_CLOUD_REGION_ID", "ALIYUN_REGION_ID", "ALICLOUD_REGION"],
        endpoint: "APICONFORM_ALIYUN_ENDPOINT",
        default_endpoint,
        implicit_params,
        staging,
        // DescribeDisks filters by instance and disk type.
        system_disk_lookup: true,
    },
    support: support::dispatch,
};

/// `i-bp1…`, `d-bp1…`, `m-bp1…`: a kind prefix, `bp1` and 17 hex digits.
fn id_format(kind: Kind, h: &str) -> String {
    let prefix = match kind {
        Kind::Instance => "i-",
        Kind::Disk => "d-",
        Kind::Image => "m-",
        Kind::Snapshot => "s-",
        Kind::KeyPair => "kp-",
        Kind::KmsKey => "key-",
    };
    format!("{prefix}bp1{}", &h[..17])
}

/// ECS's public endpoint for a region.
fn default_endpoint(region: &str) -> String {
    if region == "cn-hangzhou" {
        "https://ecs-cn-hangzhou.aliyuncs.com".into()
    } else {
        format!("https://ecs.{region}.aliyuncs.com")
    }
}

/// ECS calls name the region (`RegionId`, required by Describe* and the
/// batch calls); the emulator accepts it as a common parameter.
fn implicit_params(region: &str) -> Vec<(String, String)> {
    vec![("RegionId".to_string(), region.to_string())]
}

fn staging(id: &str, status: &str) -> StagingCalls {
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    let stop = status == "Stopped";
    StagingCalls {
        change: ((if stop { "StopInstance" } else { "StartInstance" }).into(), vec![p("InstanceId", id)]),
        describe: ("DescribeInstances".into(), vec![p("InstanceIds", &format!("[\"{id}\"]"))]),
        status_path: "Instances.Instance.0.Status",
        status_value: status.to_string(),
    }
}
