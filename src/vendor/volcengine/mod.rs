//! Volcengine ECS (`shared/vendor-docs/`, wire facts in
//! `shared/reference/vendor-protocols.md`).

use super::Vendor;

pub static VENDOR: Vendor = Vendor {
    name: "volcengine",
    display: "Volcengine",
    region: "cn-beijing",
    version: "2020-04-01",
    throttling_codes: &["AccountFlowLimitExceeded"],
    signature_variants: false,
    sweep: None,
    protocol: &crate::protocol::volcengine::Volcengine,
};
