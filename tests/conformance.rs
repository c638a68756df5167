//! The conformance suite: one trial per case × offline target, named
//! `vendor::service::Action::case::target`.
//!
//! Each trial runs its case through the runner and fails with a readable
//! list of mismatches; when the verdict passes, the normalized, redacted
//! transcript is compared with `snapshots/<target>/<vendor>/<service>/<Action>/<case>.snap`
//! by insta (`cargo insta review` works on them). libtest-mimic provides the
//! standard flags (`--list`, `--exact`, `--ignored`, `--include-ignored`,
//! filters), which is also what `cargo nextest run` needs.

use apiconform::live::{self, LiveConfig};
use apiconform::runner::{Harness, Skips, Target, TrialResult, Verdict};
use apiconform::suite::Suite;
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;
use common::snapshot;

fn main() {
    let args = Arguments::from_args();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // APICONFORM_CASES points the suite at another cases tree (for trying
    // out cases outside the repository); snapshots stay under `snapshots/`.
    let cases = std::env::var_os("APICONFORM_CASES").map(PathBuf::from).unwrap_or_else(|| manifest.join("cases"));
    let suite = match Suite::load(&cases) {
        Ok(s) => Arc::new(s),
        Err(d) => {
            eprintln!("{d}\n\nthe case files do not load; `cargo run -- lint` shows the same");
            std::process::exit(101);
        }
    };
    let live = LiveConfig::from_process_env();
    let harness = match Harness::start(&suite) {
        Ok(h) => Arc::new(h.with_live(live.clone())),
        Err(e) => {
            eprintln!("cannot start the emulator: {e}");
            std::process::exit(101);
        }
    };
    let mut trials = Vec::new();
    let mut live_skips: BTreeMap<String, usize> = BTreeMap::new();
    for (ai, api) in suite.apis.iter().enumerate() {
        for (ci, case) in api.cases.iter().enumerate() {
            for target in Target::OFFLINE {
                let name = format!("{}::{}::{}", api.path(), case.name, target.name());
                let skip = case.targets.skip_reason(target.name()).is_some();
                let (suite, harness) = (suite.clone(), harness.clone());
                let snap_dir: PathBuf = manifest
                    .join("snapshots")
                    .join(target.name())
                    .join(&api.vendor)
                    .join(&api.service)
                    .join(&api.action);
                trials.push(
                    Trial::test(name, move || {
                        let api = &suite.apis[ai];
                        let case = &api.cases[ci];
                        let r = harness.execute(api, case, target, Skips::Overridden);
                        judge(r, &case.file, Some((&snap_dir, &case.name)))
                    })
                    .with_ignored_flag(skip),
                );
            }
            // The live target: ignored unless opted in, with credentials, an
            // inventory that binds the case's fixtures, and a stageable state.
            let plan = live::plan(api, case, &live);
            if let Err(reason) = &plan {
                *live_skips.entry(reason.clone()).or_default() += 1;
            }
            let (suite, harness) = (suite.clone(), harness.clone());
            trials.push(
                Trial::test(format!("{}::{}::live", api.path(), case.name), move || {
                    let api = &suite.apis[ai];
                    let case = &api.cases[ci];
                    judge(harness.execute(api, case, Target::Live, Skips::Overridden), &case.file, None)
                })
                .with_ignored_flag(plan.is_err()),
            );
        }
    }
    if !args.list {
        for (reason, n) in &live_skips {
            eprintln!("live: {n} trial(s) ignored: {reason}");
        }
    }
    // Live trials delete what they create as they go; whatever a panic or
    // an interrupted trial left is deleted before the process exits.
    if live.enabled {
        harness.cleanup_on_interrupt();
    }
    let conclusion = libtest_mimic::run(&args, trials);
    for line in harness.cleanup_all() {
        eprintln!("cleanup: {line}");
    }
    conclusion.exit();
}

/// The executor's verdict as a libtest result; a passing offline trial is
/// then held to its snapshot.
fn judge(r: TrialResult, case_file: &Path, snap: Option<(&Path, &str)>) -> Result<(), Failed> {
    match (r.verdict, snap) {
        (Verdict::Pass, Some((dir, name))) => snapshot(dir, name, &r.transcript),
        (Verdict::Pass, None) => Ok(()),
        (Verdict::Skip, _) => Err(Failed::from(format!("not run: {}", r.detail.join("; ")))),
        (Verdict::Fail, _) => Err(Failed::from(format!(
            "{}\n  case file: {}\n\ntranscript:\n{}",
            r.detail.join("\n"),
            case_file.display(),
            r.transcript
        ))),
    }
}
