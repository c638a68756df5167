//! Every case through every pinned flavour of the vendors' official SDKs,
//! against the in-process emulator: trials named
//! `vendor::service::Action::case::sdk-<flavour>`, each compared with
//! `snapshots/sdk/<flavour>/<vendor>/<service>/<Action>/<case>.snap`
//! (`cargo insta review` accepts changes).
//!
//! The environments are built into the SDK cache by `apiconform sdk setup`
//! (`.ci/run` does). Without them a flavour is skipped with a note, so a
//! plain `cargo test` stays offline; with `APICONFORM_REQUIRE_SDKS=1` (CI) a
//! missing one is built, and one that cannot be built is a failure.
//! `APICONFORM_SDK_FLAVOURS=a,b` limits the run to some flavours.
//!
//! An unsupported case or a listed divergence is reported as ignored, with
//! its reason (never as passed); a driver that cannot serve a trial fails it.

use apiconform::runner::Harness;
use apiconform::sdk::driver::Pool;
use apiconform::sdk::env::{self, Pin};
use apiconform::sdk::trial::{self, Verdict};
use apiconform::sdk::{bundle, divergences};
use apiconform::suite::Suite;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::Path;
use std::sync::Arc;

mod common;
use common::snapshot;

fn main() {
    let mut args = Arguments::from_args();
    // Trials wait on driver processes and SDK retry back-offs, not on a core.
    args.test_threads.get_or_insert(8);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = match Suite::load(&manifest.join("cases")) {
        Ok(s) => Arc::new(s),
        Err(d) => {
            eprintln!("{d}\n\nthe case files do not load; `cargo run -- lint` shows the same");
            std::process::exit(101);
        }
    };
    let b = bundle::get().unwrap_or_else(|e| panic!("{e}"));
    let drivers = b.drivers_dir(&env::cache_root()).unwrap_or_else(|e| panic!("{e}"));
    let required = std::env::var_os("APICONFORM_REQUIRE_SDKS").is_some();
    let only: Option<Vec<String>> =
        std::env::var("APICONFORM_SDK_FLAVOURS").ok().map(|v| v.split(',').map(str::to_string).collect());
    let harness = Arc::new(Harness::start(&suite).expect("the emulator starts"));
    let mut trials = Vec::new();
    for f in b.flavours() {
        if only.as_ref().is_some_and(|o| !o.contains(&f.name)) {
            continue;
        }
        // Listing must not build environments; nor must a plain `cargo
        // test` (offline, seconds): it uses what `apiconform sdk setup` built.
        let plan = env::plan(b, f, &Pin::Locked, &|_| {}).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let pool = if args.list {
            None
        } else if required {
            match env::build(&plan, &|_| {}) {
                Ok(e) => Some(Arc::new(Pool::new(&drivers, f, e))),
                Err(e) => {
                    eprintln!("the {} environment is required here (APICONFORM_REQUIRE_SDKS) and failed: {e}", f.name);
                    std::process::exit(101);
                }
            }
        } else {
            let cached = env::cached(&plan);
            if cached.is_none() {
                eprintln!("note: {} skipped: its environment is not built (`cargo run -- sdk setup`)", f.name);
            }
            cached.map(|e| Arc::new(Pool::new(&drivers, f, e)))
        };
        let listed = Arc::new(divergences(b, &f.name).unwrap_or_else(|e| panic!("{e}")));
        for (ai, api) in suite.apis.iter().enumerate() {
            if api.vendor != f.vendor {
                continue;
            }
            for (ci, case) in api.cases.iter().enumerate() {
                let name = format!("{}::{}::sdk-{}", api.path(), case.name, f.name);
                let snap_dir =
                    manifest.join("snapshots/sdk").join(&f.name).join(&api.vendor).join(&api.service).join(&api.action);
                let (suite, harness, pool, listed) = (suite.clone(), harness.clone(), pool.clone(), listed.clone());
                let ignored = pool.is_none() && !args.list;
                trials.push(
                    Trial::ignorable_test(name, move || {
                        let Some(pool) = pool else { return Ok(Completion::ignored_with("no environment")) };
                        let api = &suite.apis[ai];
                        let case = &api.cases[ci];
                        let out = trial::run(&harness, &suite, &pool, &listed, api, case);
                        let failed = |lines: &str| {
                            Failed::from(format!(
                                "{lines}\n  case file: {}\n\ntranscript:\n{}",
                                case.file.display(),
                                out.transcript
                            ))
                        };
                        let verdict = out.verdict();
                        match &verdict {
                            Verdict::Fail(lines) => return Err(failed(lines)),
                            Verdict::EnvError(e) => return Err(failed(&format!("environment error: {e}"))),
                            _ => {}
                        }
                        snapshot(&snap_dir, &case.name, &out.transcript)?;
                        Ok(match verdict {
                            Verdict::Divergence(reason) => Completion::ignored_with(format!("divergence: {reason}")),
                            Verdict::Unsupported(reason) => Completion::ignored_with(format!("unsupported: {reason}")),
                            _ => Completion::Completed,
                        })
                    })
                    .with_ignored_flag(ignored),
                );
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
