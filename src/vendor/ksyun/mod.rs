//! Kingsoft Cloud (Ksyun) KEC (`shared/vendor-docs/`, wire facts in
//! `shared/reference/vendor-protocols.md`).

use super::Vendor;

pub static VENDOR: Vendor = Vendor {
    name: "ksyun",
    display: "Kingsoft Cloud",
    region: "cn-beijing-6",
    version: "2016-03-04",
    throttling_codes: &["RequestLimitExceeded", "ThrottlingException"],
    signature_variants: false,
    sweep: None,
    protocol: &crate::protocol::ksyun::Ksyun,
};
