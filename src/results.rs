//! A run's results as one JSON document: what `run --format json` prints,
//! what `run --results FILE` saves, and what `apiconform report` reads back
//! to write the HTML report later or elsewhere (CI artifact, then a report
//! built from several saved runs).
//!
//! Everything in it comes from trial results the normalizer already
//! redacted; the coverage matrix and parity are kept as the JSON their own
//! modules serialize, so this format follows them without a second schema.

use crate::coverage::{Matrix, Results, Verdict};
use crate::report::TrialResult;
use crate::suite::Suite;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bumped when a field changes meaning; `report` refuses other versions.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    pub format: u32,
    pub tool_version: String,
    /// When the run finished (ISO 8601, UTC).
    pub finished_at: String,
    pub targets: Vec<String>,
    pub trials: Vec<Trial>,
    /// `coverage::Matrix` as serialized.
    pub coverage: serde_json::Value,
    /// `parity::CaseParity` list as serialized, when computed.
    #[serde(default)]
    pub parity: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    /// `vendor::service::Action::case::target`.
    pub name: String,
    pub api: String,
    pub case: String,
    pub target: String,
    /// `pass`, `fail` or `skip`.
    pub verdict: String,
    /// Failure lines or the skip reason (redacted).
    pub detail: Vec<String>,
    /// The normalized, redacted transcript.
    pub transcript: String,
    pub duration_ms: u64,
    /// The documented condition, as the case quotes it.
    pub condition: String,
    pub tags: Vec<String>,
    pub file: PathBuf,
    /// A unified diff against the stored snapshot, when one exists and the
    /// transcript differs from it.
    #[serde(default)]
    pub snapshot_diff: Option<String>,
    /// Why the expectation is assumed rather than stated by the doc
    /// (`assumed:` on the case's expectation), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed: Option<String>,
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Skip => "skip",
    }
}

/// Builds the document from a run. `snapshots` is the snapshot root
/// (`snapshots/` beside the cases) used for the diffs.
pub fn build(suite: &Suite, results: &[TrialResult], targets: &[&str], snapshots: &Path) -> RunResults {
    let mut keyed = Results::new();
    for r in results {
        keyed.insert((r.api.clone(), r.case.clone(), r.target.name()), (r.verdict, r.observed.clone()));
    }
    let matrix = Matrix::build(suite, &keyed, &crate::recording::root_for(&suite.root));
    let trials = results.iter().map(|r| trial(suite, r, snapshots)).collect();
    RunResults {
        format: FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        finished_at: crate::clock::iso8601(crate::clock::now_secs()),
        targets: targets.iter().map(|t| t.to_string()).collect(),
        trials,
        coverage: serde_json::to_value(&matrix).unwrap_or_default(),
        parity: serde_json::Value::Null,
    }
}

fn trial(suite: &Suite, r: &TrialResult, snapshots: &Path) -> Trial {
    let api = suite.apis.iter().find(|a| a.path() == r.api);
    let case = api.and_then(|a| a.cases.iter().find(|c| c.name == r.case));
    let snapshot_diff = match (api, r.verdict) {
        (Some(a), Verdict::Pass | Verdict::Fail) => {
            let file = snapshots
                .join(r.target.name())
                .join(&a.vendor)
                .join(&a.service)
                .join(&a.action)
                .join(format!("{}.snap", r.case));
            std::fs::read_to_string(file).ok().and_then(|s| diff(snapshot_body(&s), &r.transcript))
        }
        _ => None,
    };
    Trial {
        name: r.name(),
        api: r.api.clone(),
        case: r.case.clone(),
        target: r.target.name().to_string(),
        verdict: verdict_name(r.verdict).to_string(),
        detail: r.detail.clone(),
        transcript: r.transcript.clone(),
        duration_ms: r.duration.as_millis() as u64,
        condition: case.map(|c| c.condition.clone()).unwrap_or_default(),
        tags: case.map(|c| c.tags.clone()).unwrap_or_default(),
        file: case.map(|c| c.file.clone()).unwrap_or_default(),
        snapshot_diff,
        // The case's own reason, else the first assumed expectation's.
        assumed: case.and_then(|c| c.assumed.clone().or_else(|| c.steps.iter().find_map(|s| s.expect.assumed.clone()))),
    }
}

/// The snapshot text without insta's `---` header.
fn snapshot_body(snap: &str) -> &str {
    let Some(rest) = snap.strip_prefix("---\n") else { return snap };
    rest.find("\n---\n").map_or(snap, |i| &rest[i + 5..])
}

/// A unified diff (snapshot → this run), or `None` when they agree.
fn diff(old: &str, new: &str) -> Option<String> {
    if old.trim_end() == new.trim_end() {
        return None;
    }
    let d = similar::TextDiff::from_lines(old.trim_end(), new.trim_end());
    Some(d.unified_diff().context_radius(3).header("snapshot", "this run").to_string())
}

/// Reads a saved results file, refusing another format version.
pub fn read(path: &Path) -> Result<RunResults, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let r: RunResults =
        serde_json::from_str(&text).map_err(|e| format!("{}: not an apiconform results file: {e}", path.display()))?;
    if r.format != FORMAT {
        return Err(format!("{}: results format {} (this apiconform reads {FORMAT})", path.display(), r.format));
    }
    Ok(r)
}

/// Several saved runs as one (say, one per target): trials one after
/// another, and each coverage row's verdicts and live verdict joined (a
/// failure anywhere stays a failure).
pub fn merge(mut runs: Vec<RunResults>) -> Option<RunResults> {
    let mut out = runs.drain(..1.min(runs.len())).next()?;
    for r in runs {
        for t in r.targets {
            if !out.targets.contains(&t) {
                out.targets.push(t);
            }
        }
        out.finished_at = out.finished_at.max(r.finished_at);
        out.trials.extend(r.trials);
        join_coverage(&mut out.coverage, &r.coverage);
        if let (Some(a), Some(b)) = (out.parity.as_array_mut(), r.parity.as_array()) {
            a.extend(b.iter().cloned());
        } else if out.parity.is_null() {
            out.parity = r.parity;
        }
    }
    Some(out)
}

fn row_key(row: &serde_json::Value) -> String {
    format!("{}|{}|{}|{}", row["api"], row["status"], row["code"], row["message"])
}

fn join_coverage(into: &mut serde_json::Value, from: &serde_json::Value) {
    let Some(rows) = into["rows"].as_array_mut() else { return };
    for other in from["rows"].as_array().into_iter().flatten() {
        let Some(row) = rows.iter_mut().find(|r| row_key(r) == row_key(other)) else { continue };
        for (target, v) in other["verdicts"].as_object().into_iter().flatten() {
            let cur = &mut row["verdicts"][target];
            if cur.is_null() || v == "fail" {
                *cur = v.clone();
            }
        }
        if row["live"].is_null() {
            row["live"] = other["live"].clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_header_is_dropped_and_equal_text_has_no_diff() {
        let snap = "---\nsource: tests/conformance.rs\n---\nPOST /\n200\n";
        assert_eq!(snapshot_body(snap), "POST /\n200\n");
        assert_eq!(diff("POST /\n200\n", "POST /\n200"), None);
        let d = diff("POST /\n200\n", "POST /\n403\n").unwrap();
        assert!(d.contains("-200") && d.contains("+403"), "{d}");
    }

    fn run_of(target: &str, verdict: &str) -> RunResults {
        let row = serde_json::json!({"api": "a::b::C", "status": 403, "code": "X", "message": "m",
            "cases": ["c"], "verdicts": {target: verdict}, "live": null});
        RunResults {
            format: FORMAT,
            tool_version: "0".into(),
            finished_at: format!("2026-01-0{}T00:00:00Z", if target == "mock" { 2 } else { 1 }),
            targets: vec![target.into()],
            trials: vec![],
            coverage: serde_json::json!({"rows": [row]}),
            parity: serde_json::Value::Null,
        }
    }

    #[test]
    fn merged_runs_keep_every_target_and_every_failure() {
        let m = merge(vec![run_of("emulator", "pass"), run_of("mock", "fail")]).unwrap();
        assert_eq!(m.targets, ["emulator", "mock"]);
        assert_eq!(m.coverage["rows"][0]["verdicts"], serde_json::json!({"emulator": "pass", "mock": "fail"}));
        assert_eq!(m.finished_at, "2026-01-02T00:00:00Z");
        assert!(merge(vec![]).is_none());
    }

    #[test]
    fn another_format_version_is_refused() {
        let dir = std::env::temp_dir().join(format!("apiconform-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("r.json");
        std::fs::write(
            &f,
            r#"{"format":99,"tool_version":"x","finished_at":"","targets":[],"trials":[],"coverage":null}"#,
        )
        .unwrap();
        let e = read(&f).unwrap_err();
        assert!(e.contains("results format 99"), "{e}");
        std::fs::write(&f, "not json").unwrap();
        assert!(read(&f).unwrap_err().contains("not an apiconform results file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
