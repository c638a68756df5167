//! Volcengine ECS (`shared/vendor-docs/`, wire facts in
//! `shared/reference/vendor-protocols.md`).

pub mod protocol;
pub mod replace_system_volume;
pub mod support;

use super::{ApiRules, Vendor};

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
    support: support::dispatch,
};
