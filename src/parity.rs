//! Parity: the emulator's normalized answers against what the cloud really
//! answered (the live recordings), case by case and step by step.
//!
//! Both sides go through the same normalizer, so fixture IDs read as
//! `${instance.id}` and generated IDs as numbered tokens on both; what
//! remains is a real difference. A case may accept a known difference (a
//! message that differs only in wording, say) with a reason: it is shown,
//! not failed.

use crate::case::AcceptedDifference;
use crate::recording::{RecordedStep, Recording};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub step: String,
    pub field: String,
    pub emulator: String,
    pub live: String,
    /// The case's reason, when it accepts this difference.
    pub accepted: Option<String>,
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(none)".into())
}

fn body_diffs(path: &str, e: &Value, l: &Value, out: &mut Vec<(String, String, String)>) {
    match (e, l) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = format!("{path}.{k}");
                body_diffs(&p, a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null), out);
            }
        }
        _ if e != l => out.push((path.to_string(), e.to_string(), l.to_string())),
        _ => {}
    }
}

/// Every difference between the emulator's steps and the recording's.
pub fn compare(emulator: &[RecordedStep], live: &Recording, accept: &[AcceptedDifference]) -> Vec<Difference> {
    let mut out = Vec::new();
    let n = emulator.len().max(live.steps.len());
    for i in 0..n {
        let (e, l) = (emulator.get(i), live.steps.get(i));
        let step = e.or(l).map(|s| s.name.clone()).unwrap_or_default();
        let mut diffs: Vec<(String, String, String)> = Vec::new();
        match (e, l) {
            (Some(e), Some(l)) => {
                if e.status != l.status {
                    diffs.push(("status".into(), e.status.to_string(), l.status.to_string()));
                }
                if e.code != l.code {
                    diffs.push(("code".into(), text(&e.code), text(&l.code)));
                }
                if e.message != l.message {
                    diffs.push(("message".into(), text(&e.message), text(&l.message)));
                }
                body_diffs("body", &e.body, &l.body, &mut diffs);
            }
            (Some(_), None) => diffs.push(("step".into(), "answered".into(), "(not recorded)".into())),
            (None, Some(_)) => diffs.push(("step".into(), "(not run)".into(), "answered".into())),
            (None, None) => {}
        }
        for (field, emulator, live) in diffs {
            let accepted = accept
                .iter()
                .find(|a| {
                    a.step.as_ref().is_none_or(|s| *s == step)
                        && (a.field == field || (a.field == "body" && field.starts_with("body.")))
                })
                .map(|a| a.reason.clone());
            out.push(Difference { step: step.clone(), field, emulator, live, accepted });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(code: Option<&str>, message: &str, body: Value) -> RecordedStep {
        RecordedStep {
            name: "step1".into(),
            action: "ReplaceSystemDisk".into(),
            request: String::new(),
            status: if code.is_some() { 403 } else { 200 },
            code: code.map(str::to_string),
            message: Some(message.into()),
            body,
        }
    }

    #[test]
    fn finds_and_accepts_differences() {
        let live = Recording {
            recorded_at: "2026-11-24T00:00:00Z".into(),
            case: "c".into(),
            dry_run: false,
            passed: true,
            steps: vec![step(Some("IncorrectInstanceStatus"), "The current status ...", json!({"A": 1}))],
        };
        let same = vec![step(Some("IncorrectInstanceStatus"), "The current status ...", json!({"A": 1}))];
        assert!(compare(&same, &live, &[]).is_empty());
        let other = vec![step(Some("IncorrectInstanceStatus"), "Another wording", json!({"A": 2}))];
        let d = compare(&other, &live, &[]);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].field.as_str(), d[1].field.as_str()), ("message", "body.A"));
        let accept = vec![AcceptedDifference { field: "message".into(), step: None, reason: "wording".into() }];
        let d = compare(&other, &live, &accept);
        assert_eq!(d[0].accepted.as_deref(), Some("wording"));
        assert_eq!(d[1].accepted, None);
    }
}

/// One case's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CaseParity {
    pub case: String,
    pub recorded_at: String,
    pub differences: Vec<Difference>,
}

impl CaseParity {
    /// Differences the case does not accept.
    pub fn unaccepted(&self) -> usize {
        self.differences.iter().filter(|d| d.accepted.is_none()).count()
    }
}

/// Runs every selected case that has a live recording on the emulator and
/// compares the two.
pub fn check(
    suite: &crate::suite::Suite,
    harness: &crate::runner::Harness,
    recordings: &std::path::Path,
    sel: &crate::report::Selection,
) -> Vec<CaseParity> {
    let mut out = Vec::new();
    for (api, case) in sel.cases(suite) {
        let Some(rec) = crate::recording::load(recordings, api, &case.name) else { continue };
        let run = harness.run_with(api, case, crate::runner::Target::Emulator, Some(rec.dry_run));
        out.push(CaseParity {
            case: format!("{}::{}", api.path(), case.name),
            recorded_at: rec.recorded_at.clone(),
            differences: compare(&run.recorded, &rec, &case.parity.accept),
        });
    }
    out
}

/// The report for people.
pub fn render(results: &[CaseParity]) -> String {
    use crate::term::clean;
    let mut s = String::new();
    for r in results {
        let state = match (r.differences.len(), r.unaccepted()) {
            (0, _) => "same".to_string(),
            (n, 0) => format!("{n} accepted difference(s)"),
            (_, u) => format!("{u} DIFFERENCE(S)"),
        };
        s.push_str(&format!("{} (recorded {}): {state}\n", clean(&r.case), clean(&r.recorded_at)));
        for d in &r.differences {
            let note = d.accepted.as_ref().map(|a| format!("  [accepted: {}]", clean(a))).unwrap_or_default();
            let (step, field, emulator, live) = (clean(&d.step), clean(&d.field), clean(&d.emulator), clean(&d.live));
            s.push_str(&format!("    {step} {field}: emulator {emulator} | live {live}{note}\n"));
        }
    }
    let differ = results.iter().filter(|r| r.unaccepted() > 0).count();
    s.push_str(&format!("\n{} case(s) with a live recording, {} differ\n", results.len(), differ));
    s
}
