//! The checked model of a suite: what the runner, the reports, coverage,
//! parity, explore and the SDK target read. Built only by the loader, so a
//! value of these types has passed every lint rule.

use crate::case::BodyCheck;
use crate::case::{Auth, Targets, Wire};
use crate::contract::{CommonErrors, Contract, DocumentedError};
use crate::diag::Pos;
use crate::world::WorldSpec;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything under `cases/`, checked.
#[derive(Debug)]
pub struct Suite {
    pub root: PathBuf,
    pub apis: Vec<Api>,
}

/// One API directory.
#[derive(Debug)]
pub struct Api {
    pub vendor: String,
    pub service: String,
    pub action: String,
    pub dir: PathBuf,
    pub contract: Contract,
    pub common: Arc<CommonErrors>,
    pub world: WorldSpec,
    pub cases: Vec<Case>,
}

/// One checked case, ready to run.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub file: PathBuf,
    pub condition: String,
    pub tags: Vec<String>,
    /// Why the whole case rests on an assumption, when it does.
    pub assumed: Option<String>,
    /// The API's default world with the case's `given:` applied.
    pub world: WorldSpec,
    /// The case's `given:` as written (what a live run must stage).
    pub given: WorldSpec,
    pub steps: Vec<CaseStep>,
    pub targets: Targets,
    pub parity: crate::case::Parity,
}

#[derive(Debug, Clone)]
pub struct CaseStep {
    pub name: String,
    pub action: String,
    pub version: String,
    /// The service of the action's contract.
    pub service: String,
    /// Wire name and templated value, in the order written.
    pub params: Vec<(String, String)>,
    pub wire: Wire,
    pub auth: Auth,
    pub expect: CheckedExpect,
    pub save: BTreeMap<String, String>,
    /// How many times the request is sent (a burst); 1 for most steps.
    pub repeat: u32,
}

#[derive(Debug, Clone)]
pub struct CheckedExpect {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub message_contains: Option<String>,
    /// Why this expectation rests on an assumption, when it does.
    pub assumed: Option<String>,
    pub body: BTreeMap<String, BodyCheck>,
    /// The documented entries for `code` (empty when undocumented or success).
    pub documented: Vec<DocumentedError>,
    /// Where the expectation is written, for failure lines (none for the
    /// harness's own set-up calls).
    pub at: Option<Location>,
}

/// Where something is written in a case file: `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub pos: Pos,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.pos.line, self.pos.column)
    }
}

impl Api {
    /// `vendor::service::Action`.
    pub fn path(&self) -> String {
        format!("{}::{}::{}", self.vendor, self.service, self.action)
    }
}

impl Suite {
    pub fn case_count(&self) -> usize {
        self.apis.iter().map(|a| a.cases.len()).sum()
    }
}
