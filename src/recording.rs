//! Live recordings: what a real cloud answered, normalized and sanitized,
//! under `snapshots/live/<vendor>/<service>/<Action>/<case>.json`.
//!
//! Only live runs write them (`apiconform run --target live --record`). The
//! mock replays a recording when one exists (so `cargo test` checks the
//! request encoding and response decoding against what the cloud really
//! said), and `apiconform parity` compares the emulator with it.
//!
//! Sanitizing is the normalizer's: fixture IDs become `${instance.id}`,
//! generated IDs numbered tokens, and no access key, signature, security
//! token or password survives, raw or percent-encoded.

use crate::suite::Api;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// UTC, ISO 8601.
    pub recorded_at: String,
    /// `vendor::service::Action::case`.
    pub case: String,
    /// The case ran with the vendor's DryRun (`targets.live.dry_run`); the
    /// mock replays it, and parity runs the emulator, the same way.
    #[serde(default)]
    pub dry_run: bool,
    /// The live answers met the case's expectations. Only a passing
    /// recording is replayed by the mock; a failing one is for parity and
    /// the coverage matrix's last live verdict.
    #[serde(default = "passed_by_default")]
    pub passed: bool,
    pub steps: Vec<RecordedStep>,
}

fn passed_by_default() -> bool {
    true
}

/// One exchange, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedStep {
    pub name: String,
    pub action: String,
    /// The normalized request, as in snapshots.
    pub request: String,
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub body: Value,
}

/// `snapshots/live` next to the `cases` directory.
pub fn root_for(cases: &Path) -> PathBuf {
    cases.parent().unwrap_or(Path::new(".")).join("snapshots").join("live")
}

pub fn path(root: &Path, api: &Api, case: &str) -> PathBuf {
    root.join(&api.vendor).join(&api.service).join(&api.action).join(format!("{case}.json"))
}

pub fn load(root: &Path, api: &Api, case: &str) -> Option<Recording> {
    let text = std::fs::read_to_string(path(root, api, case)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save(root: &Path, api: &Api, rec: &Recording) -> std::io::Result<PathBuf> {
    let case = rec.case.rsplit("::").next().unwrap_or(&rec.case);
    let p = path(root, api, case);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = serde_json::to_string_pretty(rec).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(&p, text)?;
    Ok(p)
}
