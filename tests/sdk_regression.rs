//! Every case through every pinned flavour of the vendors' official SDKs,
//! against the in-process emulator: trials named
//! `vendor::service::Action::case::sdk-<flavour>`, each compared with
//! `snapshots/sdk/<flavour>/<vendor>/<service>/<Action>/<case>.snap`
//! (`cargo insta review` accepts changes).
//!
//! The environments are built from `sdk/flavours/*` into the SDK cache by
//! `apiconform sdk setup` (`.ci/run` does). Without them a flavour is
//! skipped with a note, so a plain `cargo test` stays offline; with
//! `APICONFORM_REQUIRE_SDKS=1` (CI) a missing one is built, and one that
//! cannot be built is a failure.
//! `APICONFORM_SDK_FLAVOURS=a,b` limits the run to some flavours.

use apiconform::sdk::driver::Pool;
use apiconform::sdk::trial::SdkHarness;
use apiconform::sdk::{self, env, FLAVOURS};
use apiconform::suite::Suite;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::Path;
use std::sync::Arc;

mod common;
use common::snapshot;

fn main() {
    let args = Arguments::from_args();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = match Suite::load(&manifest.join("cases")) {
        Ok(s) => Arc::new(s),
        Err(d) => {
            eprintln!("{d}\n\nthe case files do not load; `cargo run -- lint` shows the same");
            std::process::exit(101);
        }
    };
    let required = std::env::var_os("APICONFORM_REQUIRE_SDKS").is_some();
    let only: Option<Vec<String>> =
        std::env::var("APICONFORM_SDK_FLAVOURS").ok().map(|v| v.split(',').map(str::to_string).collect());
    let sdk_root = sdk::root_for(&manifest.join("cases"));
    let harness = Arc::new(SdkHarness::start(suite.clone()).expect("the emulator starts"));
    let mut trials = Vec::new();
    for f in FLAVOURS {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == f.name)) {
            continue;
        }
        // Listing must not build environments.
        // Listing must not build environments; nor must a plain `cargo
        // test` (offline, seconds): it uses what `apiconform sdk setup` built.
        let pool = if args.list {
            None
        } else if required {
            match env::build(&sdk_root, f, &env::Pin::Locked) {
                Ok(e) => Some(Arc::new(Pool::new(&sdk_root, f, e))),
                Err(e) => {
                    eprintln!("the {} environment is required here (APICONFORM_REQUIRE_SDKS) and failed: {e}", f.name);
                    std::process::exit(101);
                }
            }
        } else {
            let cached = env::cached(&sdk_root, f, &env::Pin::Locked);
            if cached.is_none() {
                eprintln!("note: {} skipped: its environment is not built (`cargo run -- sdk setup`)", f.name);
            }
            cached.map(|e| Arc::new(Pool::new(&sdk_root, f, e)))
        };
        for (ai, api) in suite.apis.iter().enumerate() {
            if api.vendor != f.vendor {
                continue;
            }
            for (ci, case) in api.cases.iter().enumerate() {
                let name = format!("{}::{}::sdk-{}", api.path(), case.name, f.name);
                let snap_dir =
                    manifest.join("snapshots/sdk").join(f.name).join(&api.vendor).join(&api.service).join(&api.action);
                let listed = sdk::divergences(&sdk_root, f.name).unwrap_or_else(|e| panic!("{e}"));
                let (suite, harness, pool) = (suite.clone(), harness.clone(), pool.clone());
                let ignored = pool.is_none() && !args.list;
                trials.push(
                    Trial::ignorable_test(name, move || {
                        let Some(pool) = pool else { return Ok(Completion::ignored_with("no environment")) };
                        let api = &suite.apis[ai];
                        let case = &api.cases[ci];
                        let out = harness.run(&pool, api, case);
                        let full = format!("{}::{}", api.path(), case.name);
                        let divergence = sdk::verdict(&full, &out.failures, &listed).map_err(|failures| {
                            Failed::from(format!(
                                "{failures}\n  case file: {}\n\ntranscript:\n{}",
                                case.file.display(),
                                out.transcript
                            ))
                        })?;
                        snapshot(&snap_dir, &case.name, &out.transcript)?;
                        Ok(match (divergence, out.unsupported) {
                            (Some(reason), _) => Completion::ignored_with(format!("divergence: {reason}")),
                            (None, Some(reason)) => Completion::ignored_with(format!("unsupported: {reason}")),
                            (None, None) => Completion::Completed,
                        })
                    })
                    .with_ignored_flag(ignored),
                );
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
