//! The vendors' official SDKs as a target, and what an SDK upgrade changes.
//!
//! Teams reach the clouds through the official SDKs, not raw HTTP. A
//! **flavour** is one official SDK in one language, used the way its README
//! shows; the table of flavours is data (`sdk/flavours/<flavour>/flavour.json`,
//! carried by the binary: [`bundle`]). Each has a **driver** under
//! `sdk/drivers/`: a small Python or JavaScript program that runs as one
//! long-lived process and speaks JSON lines (protocol in `sdk/README.md`).
//!
//! The SDK target ([`trial`]) is one more `TargetKind` of the runner: the
//! same step loop and checks as the emulator target, except that each step
//! is carried by the flavour's driver, so the SDK itself encodes, signs,
//! sends and decodes; the emulator's wiretap shows what it sent ([`wire`]).
//!
//! Environments ([`env`]) are built from a whole resolved dependency set in
//! a cache, keyed by that set's content. [`diff`] runs every case through
//! two environments and classes each difference by what a server would
//! see; [`render`] writes the grouped report.
//!
//! Known limits: the SDK trials run against the emulator only (never live);
//! an SDK's retry back-off is real time, so cases that make an SDK retry
//! are slow.

pub mod bundle;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod driver;
pub mod env;
pub mod names;
pub mod render;
pub mod trial;
pub mod wire;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The language a driver runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    Node,
}

impl Language {
    /// The files that pin a whole dependency set.
    pub fn lock_files(self) -> &'static [&'static str] {
        match self {
            Language::Python => &["requirements.txt"],
            Language::Node => &["package.json", "package-lock.json"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Node => "node",
        }
    }
}

/// One official SDK, used one way (`sdk/flavours/<name>/flavour.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flavour {
    /// The directory name.
    #[serde(default, skip_deserializing)]
    pub name: String,
    pub vendor: String,
    /// What it is, for people (`sdk list`).
    pub sdk: String,
    pub language: Language,
    /// The driver file under `sdk/drivers/`, and its arguments.
    pub driver: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// The package an upgrade moves by default (`sdk diff --to V`).
    pub package: String,
    pub wire: WireShape,
}

/// How a flavour signs (`acs3`, `rpc-v1`, `volc-v4`, `aws-v4`), its method
/// and where it puts the parameters: a case that pins another wire shape is
/// one this flavour cannot express.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireShape {
    pub signature: String,
    pub method: String,
    pub params_in: String,
}

/// A known, investigated mismatch between a case and what a flavour does
/// (`sdk/flavours/<flavour>/divergences.yaml`). It names one exact
/// mismatch: the decoded `code`, `status` or `message` (expected and got),
/// or case parameters the SDK `sent` under other names. Such a trial is
/// reported as a divergence with its reason, never as passed; every other
/// difference in it still fails it, and so does the listed one no longer
/// happening.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// `vendor::service::Action::case`.
    pub case: String,
    /// The step it happens in (its name); default: any step.
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub code: Option<Swap<Option<String>>>,
    #[serde(default)]
    pub status: Option<Swap<u16>>,
    #[serde(default)]
    pub message: Option<Swap<String>>,
    /// Case parameter → the name the SDK sent it under, all of them.
    #[serde(default)]
    pub sent: Option<BTreeMap<String, String>>,
    pub reason: String,
}

/// What the case expects, and what the SDK gave instead.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swap<T> {
    pub expected: T,
    pub got: T,
}

impl Divergence {
    /// The mismatch in words.
    pub fn what(&self) -> String {
        let opt = |c: &Option<String>| c.clone().unwrap_or_else(|| "(none)".into());
        match (&self.code, &self.status, &self.message, &self.sent) {
            (Some(c), ..) => format!("code {} instead of {}", opt(&c.got), opt(&c.expected)),
            (_, Some(s), ..) => format!("status {} instead of {}", s.got, s.expected),
            (_, _, Some(m), _) => format!("message {:?} instead of {:?}", m.got, m.expected),
            (.., Some(s)) => {
                let pairs: Vec<String> = s.iter().map(|(k, v)| format!("{k} as {v}")).collect();
                format!("sent {}", pairs.join(", "))
            }
            _ => "(nothing)".into(),
        }
    }
}

/// The divergences listed for `flavour`; none when it lists none.
pub fn divergences(b: &bundle::Bundle, flavour: &str) -> Result<Vec<Divergence>, String> {
    let rel = format!("flavours/{flavour}/divergences.yaml");
    let Some(text) = b.text(&rel) else { return Ok(Vec::new()) };
    let list =
        crate::yaml::parse::<Vec<Divergence>>(Path::new(&format!("sdk/{rel}")), &text).map_err(|d| d.to_string())?;
    for d in &list {
        let n = [d.code.is_some(), d.status.is_some(), d.message.is_some(), d.sent.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if n != 1 {
            return Err(format!(
                "sdk/{rel}: the entry for {} must name exactly one mismatch (code, status, message or sent), not {n}",
                d.case
            ));
        }
    }
    Ok(list)
}

/// `snapshots/sdk` beside the cases directory.
pub fn snapshots_for(cases: &Path) -> PathBuf {
    cases.parent().unwrap_or(Path::new(".")).join("snapshots").join("sdk")
}
