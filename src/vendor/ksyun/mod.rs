//! Kingsoft Cloud (Ksyun) KEC (`shared/vendor-docs/`, wire facts in
//! `shared/reference/vendor-protocols.md`).

pub mod modify_instance_image;
pub mod protocol;
pub mod support;

use super::{ApiRules, Vendor};

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
    support: support::dispatch,
};
