//! The coverage matrix: every documented error of every API against the
//! cases that produce it and the verdict of each target.
//!
//! A documented error is **covered** by a case when one of the case's steps
//! expects its code and status, and the message the target answered matches
//! the documented text (`%s` matching anything). An error no case produces
//! needs a waiver with a reason in `api.yaml`; anything else is a gap.
//!
//! Each API's expectations are also counted as **stated** (from the doc's
//! words) or **assumed** (tagged `assumed: <reason>`: a check order, a
//! trigger the doc never names), so a reader sees how much awaits a live
//! verdict.

use crate::contract::message_matches;
use crate::contract::DocumentedError;
use crate::runner::{Observed, Target};
use crate::suite::Suite;
use serde::Serialize;
use std::collections::BTreeMap;

pub use crate::runner::Verdict;

/// One trial's result, keyed by (API path, case name, target).
pub type Results = BTreeMap<(String, String, &'static str), (Verdict, Vec<Observed>)>;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub api: String,
    #[serde(flatten)]
    pub error: DocumentedError,
    /// Cases that produce this error.
    pub cases: Vec<String>,
    /// Per target: pass when every covering case passed there.
    pub verdicts: BTreeMap<&'static str, Verdict>,
    pub waiver: Option<String>,
    /// The last live run, from the recordings: did the cloud answer this
    /// error where a case expects it, and when was that recorded.
    pub live: Option<LiveVerdict>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiveVerdict {
    pub verdict: Verdict,
    pub recorded_at: String,
}

impl Row {
    pub fn covered(&self) -> bool {
        !self.cases.is_empty() || self.waiver.is_some()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub documented: usize,
    pub covered: usize,
    pub waived: usize,
    pub missing: usize,
    /// Expectations (steps of the API's own action) resting on the doc's words.
    pub stated: usize,
    /// Expectations resting on an assumption (`assumed:` on the step or the
    /// case), awaiting a live verdict.
    pub assumed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub rows: Vec<Row>,
    pub totals: BTreeMap<String, Totals>,
}

/// Counts the API's expectations (steps of its own action) as stated or
/// assumed.
fn count_assumptions(api: &crate::suite::Api, t: &mut Totals) {
    for case in &api.cases {
        for step in case.steps.iter().filter(|s| s.action == api.action) {
            if case.assumed.is_some() || step.expect.assumed.is_some() {
                t.assumed += 1;
            } else {
                t.stated += 1;
            }
        }
    }
}

impl Matrix {
    pub fn build(suite: &Suite, results: &Results, recordings: &std::path::Path) -> Matrix {
        let mut rows = Vec::new();
        let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
        for api in suite.apis.iter().filter(|a| !a.contract.support) {
            let path = api.path();
            count_assumptions(api, totals.entry(path.clone()).or_default());
            for e in &api.contract.errors {
                let mut cases = Vec::new();
                let mut verdicts: BTreeMap<&'static str, Verdict> = BTreeMap::new();
                for case in &api.cases {
                    let expects = case.steps.iter().any(|s| {
                        s.action == api.action
                            && s.expect.code.as_deref() == Some(&e.code)
                            && s.expect.status == e.status
                    });
                    if !expects {
                        continue;
                    }
                    // The emulator's answer decides which entry the case meets
                    // when a code has several messages; an explicit expected
                    // message decides otherwise.
                    let explicit = case.steps.iter().find_map(|s| {
                        (s.expect.code.as_deref() == Some(&e.code)).then(|| s.expect.message.clone()).flatten()
                    });
                    let observed = results.get(&(path.clone(), case.name.clone(), Target::Emulator.name()));
                    let meets = match (&explicit, observed) {
                        (Some(m), _) => message_matches(&e.message, m),
                        (None, Some((_, obs))) => obs.iter().any(|o| {
                            o.code.as_deref() == Some(&e.code)
                                && o.message.as_deref().is_some_and(|m| message_matches(&e.message, m))
                        }),
                        (None, None) => true,
                    };
                    if !meets {
                        continue;
                    }
                    cases.push(case.name.clone());
                    for t in Target::OFFLINE {
                        if let Some((v, _)) = results.get(&(path.clone(), case.name.clone(), t.name())) {
                            let cur = verdicts.entry(t.name()).or_insert(*v);
                            if *v == Verdict::Fail || *cur == Verdict::Skip {
                                *cur = *v;
                            }
                        }
                    }
                }
                let mut live: Option<LiveVerdict> = None;
                for name in &cases {
                    let Some(case) = api.cases.iter().find(|c| &c.name == name) else { continue };
                    let Some(rec) = crate::recording::load(recordings, api, name) else { continue };
                    for (i, step) in case.steps.iter().enumerate() {
                        if step.expect.code.as_deref() != Some(&e.code) {
                            continue;
                        }
                        let got = rec.steps.get(i);
                        let ok = got.is_some_and(|g| g.status == e.status && g.code.as_deref() == Some(&e.code));
                        let v = if ok { Verdict::Pass } else { Verdict::Fail };
                        let newer = live.as_ref().is_none_or(|l| rec.recorded_at > l.recorded_at || v == Verdict::Fail);
                        if newer {
                            live = Some(LiveVerdict { verdict: v, recorded_at: rec.recorded_at.clone() });
                        }
                    }
                }
                let waiver = api.contract.waivers.iter().find(|w| w.covers(e)).map(|w| w.reason.clone());
                let t = totals.entry(path.clone()).or_default();
                t.documented += 1;
                if !cases.is_empty() {
                    t.covered += 1;
                } else if waiver.is_some() {
                    t.waived += 1;
                } else {
                    t.missing += 1;
                }
                rows.push(Row { api: path.clone(), error: e.clone(), cases, verdicts, waiver, live });
            }
        }
        Matrix { rows, totals }
    }

    pub fn missing(&self) -> usize {
        self.totals.values().map(|t| t.missing).sum()
    }

    /// The table for people.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut current = String::new();
        for r in &self.rows {
            if r.api != current {
                current = r.api.clone();
                s.push_str(&format!("\n{current}\n"));
                s.push_str(&format!(
                    "  {:<6} {:<52} {:<9} {:<9} {:<16} {}\n",
                    "status", "code", "emulator", "mock", "live", "cases / waiver"
                ));
            }
            let v = |t: &str| match r.verdicts.get(t) {
                Some(Verdict::Pass) => "pass",
                Some(Verdict::Fail) => "FAIL",
                Some(Verdict::Skip) => "skip",
                None => "-",
            };
            let who = if !r.cases.is_empty() {
                r.cases.join(", ")
            } else if let Some(w) = &r.waiver {
                format!("waived: {w}")
            } else {
                "MISSING".to_string()
            };
            let legacy = if r.error.source.is_some() { " (legacy doc)" } else { "" };
            let live = match &r.live {
                Some(l) => format!(
                    "{} {}",
                    if l.verdict == Verdict::Pass { "pass" } else { "FAIL" },
                    l.recorded_at.get(..10).unwrap_or(&l.recorded_at)
                ),
                None => "-".into(),
            };
            s.push_str(&format!(
                "  {:<6} {:<52} {:<9} {:<9} {:<16} {who}{legacy}\n",
                r.error.status,
                r.error.code,
                v("emulator"),
                v("mock"),
                live
            ));
        }
        s.push_str(&format!(
            "\n{:<40} {:>10} {:>8} {:>7} {:>8} {:>7} {:>8}\n",
            "API", "documented", "covered", "waived", "missing", "stated", "assumed"
        ));
        for (api, t) in &self.totals {
            s.push_str(&format!(
                "{api:<40} {:>10} {:>8} {:>7} {:>8} {:>7} {:>8}\n",
                t.documented, t.covered, t.waived, t.missing, t.stated, t.assumed
            ));
        }
        s.push_str(
            "(stated / assumed: expectations resting on the doc's words / on an assumption awaiting a live verdict)\n",
        );
        s
    }
}
