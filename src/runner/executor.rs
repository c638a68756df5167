//! The one executor: a case on a target to a verdict. `apiconform run`
//! (through `report::run`) and `cargo test` (`tests/conformance.rs`) both
//! call [`Harness::execute`], so a trial has the same verdict in both.

use super::{Harness, Observed, Target};
use crate::suite::{Api, Case};
use serde::Serialize;
use std::time::{Duration, Instant};

/// What happened to one case on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

/// Whether a case's own `targets: <target>: skip:` is honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skips {
    /// The trial is a skip with the case's reason (`apiconform run`).
    Honour,
    /// The caller decided already (libtest runs an ignored trial only when
    /// asked to with `--ignored`/`--include-ignored`): run it.
    Overridden,
}

/// One trial's result.
#[derive(Debug, Clone)]
pub struct TrialResult {
    pub api: String,
    pub case: String,
    pub target: Target,
    pub verdict: Verdict,
    /// Failure lines, or the skip reason.
    pub detail: Vec<String>,
    pub transcript: String,
    pub observed: Vec<Observed>,
    pub retries: Vec<String>,
    pub duration: Duration,
}

impl TrialResult {
    pub fn name(&self) -> String {
        format!("{}::{}::{}", self.api, self.case, self.target.name())
    }
}

impl Harness {
    /// Runs one case on one target and gives its verdict: a skip (the
    /// case's reason, or why the target cannot run it), a pass, or a
    /// failure with its lines.
    pub fn execute(&self, api: &Api, case: &Case, target: Target, skips: Skips) -> TrialResult {
        let started = Instant::now();
        let mut r = TrialResult {
            api: api.path(),
            case: case.name.clone(),
            target,
            verdict: Verdict::Skip,
            detail: Vec::new(),
            transcript: String::new(),
            observed: Vec::new(),
            retries: Vec::new(),
            duration: Duration::ZERO,
        };
        match case.targets.skip_reason(target.name()).filter(|_| skips == Skips::Honour) {
            Some(reason) => r.detail.push(reason.to_string()),
            None => {
                let out = self.run(api, case, target);
                r.transcript = out.transcript;
                r.observed = out.observed;
                r.retries = out.retries;
                match out.skipped {
                    Some(reason) => r.detail.push(reason),
                    None if out.failures.is_empty() => r.verdict = Verdict::Pass,
                    None => {
                        r.verdict = Verdict::Fail;
                        r.detail = out.failures;
                    }
                }
            }
        }
        r.duration = started.elapsed();
        r
    }
}
