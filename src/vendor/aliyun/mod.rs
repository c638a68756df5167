//! Alibaba Cloud ECS (`shared/vendor-docs/`, wire facts in
//! `shared/reference/vendor-protocols.md`).

pub mod protocol;
pub mod replace_system_disk;
pub mod reset_disk;
pub mod support;

use super::{ApiRules, Sweep, Vendor};

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
    support: support::dispatch,
};
