//! The vendors' official SDKs as a target, and what an SDK upgrade changes.
//!
//! Teams reach the clouds through the official SDKs, not raw HTTP. A
//! **flavour** is one official SDK in one language, used the way its README
//! shows ([`FLAVOURS`]). Each has a **driver** under `sdk/drivers/`: a small
//! Python or JavaScript program that runs as one long-lived process and
//! speaks JSON lines (protocol in `sdk/README.md`). It builds the SDK's own
//! request objects from a case's parameters, calls the SDK against the
//! in-process emulator, and reports what the SDK handed back.
//!
//! The pipeline of one SDK trial ([`trial`]): a fresh emulator tenant whose
//! keys the emulator's wiretap watches; per step, the driver calls the SDK;
//! the wiretap gives exactly what the SDK put on the wire ([`wire`]); the
//! case's expectations are checked against what the SDK decoded; both are
//! rendered into the snapshot `snapshots/sdk/<flavour>/<vendor>/<service>/<Action>/<case>.snap`.
//!
//! Environments ([`env`]) are built from the flavour's whole pinned
//! dependency set (`sdk/flavours/<flavour>/requirements.txt`, or
//! `package.json` + `package-lock.json`) in a cache directory, keyed by the
//! hash of that set, so a transitive upgrade is a new environment too.
//! [`diff`] runs every case through two environments and classes each
//! difference as breaking, notable or noise.
//!
//! Known limits: the SDK trials run against the emulator only (never live);
//! an SDK's retry back-off is real time, so cases that make an SDK retry
//! are slow; a driver that hangs longer than the SDK's own timeout is
//! waited for.

pub mod cli;
pub mod commands;
pub mod diff;
pub mod driver;
pub mod env;
pub mod trial;
pub mod wire;

use std::path::{Path, PathBuf};

/// The language a driver runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    Node,
}

/// One official SDK, used one way.
#[derive(Debug)]
pub struct Flavour {
    pub name: &'static str,
    pub vendor: &'static str,
    pub language: Language,
    /// The driver file under `sdk/drivers/` and its arguments.
    pub driver: &'static str,
    pub args: &'static [&'static str],
    /// The package an upgrade moves by default (`sdk diff --to V`).
    pub package: &'static str,
    /// How it signs (`acs3`, `rpc-v1`, `volc-v4`, `aws-v4`), the method and
    /// where the parameters go: a case that pins another wire shape is one
    /// this flavour cannot express.
    pub signature: &'static str,
    pub method: &'static str,
    pub params_in: &'static str,
}

/// Every flavour. Adding one: a driver, its lock files under
/// `sdk/flavours/<name>/`, and a row here.
pub static FLAVOURS: &[Flavour] = &[
    Flavour {
        name: "py-tea-ecs",
        vendor: "aliyun",
        language: Language::Python,
        driver: "py_tea_ecs.py",
        args: &[],
        package: "alibabacloud-ecs20140526",
        signature: "acs3",
        method: "POST",
        params_in: "query",
    },
    Flavour {
        name: "py-tea-ecs-v2",
        vendor: "aliyun",
        language: Language::Python,
        driver: "py_tea_ecs.py",
        args: &["--signature", "v2"],
        package: "alibabacloud-ecs20140526",
        signature: "rpc-v1",
        method: "POST",
        params_in: "query",
    },
    Flavour {
        name: "py-aliyun-core",
        vendor: "aliyun",
        language: Language::Python,
        driver: "py_aliyun_core.py",
        args: &[],
        package: "aliyun-python-sdk-core",
        signature: "rpc-v1",
        method: "POST",
        params_in: "query",
    },
    Flavour {
        name: "py-volcengine",
        vendor: "volcengine",
        language: Language::Python,
        driver: "py_volcengine.py",
        args: &[],
        package: "volcengine-python-sdk",
        signature: "volc-v4",
        method: "GET",
        params_in: "query",
    },
    Flavour {
        name: "py-kscore",
        vendor: "ksyun",
        language: Language::Python,
        driver: "py_kscore.py",
        args: &[],
        package: "ksc-sdk-python",
        signature: "aws-v4",
        method: "GET",
        params_in: "query",
    },
    Flavour {
        name: "py-kingsoftcloud",
        vendor: "ksyun",
        language: Language::Python,
        driver: "py_kingsoftcloud.py",
        args: &[],
        package: "kingsoftcloud-sdk-python",
        signature: "aws-v4",
        method: "POST",
        params_in: "form",
    },
    Flavour {
        name: "node-tea-ecs",
        vendor: "aliyun",
        language: Language::Node,
        driver: "node_tea_ecs.js",
        args: &[],
        package: "@alicloud/ecs20140526",
        signature: "acs3",
        method: "POST",
        params_in: "query",
    },
    Flavour {
        name: "node-pop-core",
        vendor: "aliyun",
        language: Language::Node,
        driver: "node_pop_core.js",
        args: &[],
        package: "@alicloud/pop-core",
        signature: "rpc-v1",
        method: "GET",
        params_in: "query",
    },
    Flavour {
        name: "node-pop-core-post",
        vendor: "aliyun",
        language: Language::Node,
        driver: "node_pop_core.js",
        args: &["--method", "POST"],
        package: "@alicloud/pop-core",
        signature: "rpc-v1",
        method: "POST",
        params_in: "form",
    },
    Flavour {
        name: "node-volcengine",
        vendor: "volcengine",
        language: Language::Node,
        driver: "node_volcengine.js",
        args: &[],
        package: "@volcengine/openapi",
        signature: "volc-v4",
        method: "GET",
        params_in: "query",
    },
];

/// The flavour named `name`, or a message that lists them.
pub fn flavour(name: &str) -> Result<&'static Flavour, String> {
    FLAVOURS.iter().find(|f| f.name == name).ok_or_else(|| {
        let names: Vec<&str> = FLAVOURS.iter().map(|f| f.name).collect();
        let hint = names
            .iter()
            .max_by(|a, b| strsim::jaro_winkler(a, name).total_cmp(&strsim::jaro_winkler(b, name)))
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        format!("unknown flavour `{name}`{hint}; one of: {}", names.join(", "))
    })
}

/// A known, investigated mismatch between a case and what a flavour
/// decodes (`sdk/flavours/<flavour>/divergences.yaml`). Such a trial is
/// reported as a divergence with its reason, never as passed; when the
/// mismatch stops happening, the trial fails until the entry is removed.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// `vendor::service::Action::case`.
    pub case: String,
    /// Text the failure must contain (the code the SDK decodes instead).
    pub got: String,
    pub reason: String,
}

/// The divergences listed for `flavour`; none when the file is absent.
pub fn divergences(sdk: &Path, flavour: &str) -> Result<Vec<Divergence>, String> {
    let path = sdk.join("flavours").join(flavour).join("divergences.yaml");
    match std::fs::read_to_string(&path) {
        Ok(text) => crate::yaml::parse::<Vec<Divergence>>(&path, &text).map_err(|d| d.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The verdict on one SDK trial's failures, given the listed divergences:
/// `Ok(None)` passed, `Ok(Some(reason))` a listed divergence, `Err` failed.
pub fn verdict(case: &str, failures: &[String], listed: &[Divergence]) -> Result<Option<String>, String> {
    let entry = listed.iter().find(|d| d.case == case);
    let text = failures.join("\n");
    match (entry, failures.is_empty()) {
        (None, true) => Ok(None),
        (None, false) => Err(text),
        (Some(d), false) if text.contains(&d.got) => Ok(Some(d.reason.clone())),
        (Some(d), false) => Err(format!("{text}\n(a divergence is listed for this case, but not this one: {})", d.got)),
        (Some(d), true) => {
            Err(format!("the listed divergence ({}) no longer happens: remove it from divergences.yaml", d.got))
        }
    }
}

/// `sdk/` beside the cases directory: drivers, lock files, accepted
/// differences, pinned old environments.
pub fn root_for(cases: &Path) -> PathBuf {
    cases.parent().unwrap_or(Path::new(".")).join("sdk")
}

/// `snapshots/sdk` beside the cases directory.
pub fn snapshots_for(cases: &Path) -> PathBuf {
    cases.parent().unwrap_or(Path::new(".")).join("snapshots").join("sdk")
}
