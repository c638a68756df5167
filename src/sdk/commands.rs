//! `apiconform sdk setup | record | diff | accept`: the SDK-upgrade workflow.
//!
//! - `setup` builds the pinned environments (CI runs it before the tests).
//! - `record` runs every case through the pinned flavours and writes the
//!   snapshots `tests/sdk_regression.rs` compares with.
//! - `diff` runs every case through two versions of a flavour and classes
//!   what changed ([`super::diff`]); exit 1 on an unaccepted breaking change.
//! - `accept` promotes a reviewed version: the lock files and the snapshots.

use super::diff::{self, FlavourDiff};
use super::driver::Pool;
use super::env::{self, Pin};
use super::trial::{SdkHarness, SdkOutcome};
use super::{Flavour, Language, FLAVOURS};
use crate::suite::{Api, Case};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The flavours named, or all.
pub fn select(names: &[String]) -> Result<Vec<&'static Flavour>, String> {
    if names.is_empty() {
        return Ok(FLAVOURS.iter().collect());
    }
    names.iter().map(|n| super::flavour(n)).collect()
}

/// The cases of `f`'s vendor whose name contains one of `filters`.
pub fn cases_for<'a>(h: &'a SdkHarness, f: &Flavour, filters: &[String]) -> Vec<(&'a Api, &'a Case)> {
    h.suite()
        .apis
        .iter()
        .filter(|a| a.vendor == f.vendor)
        .flat_map(|a| a.cases.iter().map(move |c| (a, c)))
        .filter(|(a, c)| {
            let name = format!("{}::{}", a.path(), c.name);
            filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
        })
        .collect()
}

/// Runs `cases` through `pool`, a few at a time (one driver process each).
pub fn run_all(h: &SdkHarness, pool: &Pool, cases: &[(&Api, &Case)]) -> Vec<SdkOutcome> {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 4);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SdkOutcome>>> = Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((api, case)) = cases.get(i) else { break };
                let out = h.run(pool, api, case);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(out);
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().map(Option::unwrap_or_default).collect()
}

/// Builds each flavour's pinned environment and prints what it holds.
pub fn setup(sdk: &Path, flavours: &[&'static Flavour]) -> Result<(), String> {
    for f in flavours {
        let e = env::build(sdk, f, &Pin::Locked).map_err(|e| format!("{}: {e}", f.name))?;
        let pool = Pool::new(sdk, f, e);
        let packages = pool.packages().map_err(|e| format!("{}: {e}", f.name))?;
        let list: Vec<String> = packages.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("{:<20} {} ({})", f.name, pool.env.dir.display(), list.join(", "));
    }
    Ok(())
}

/// Counts of one flavour's record run.
#[derive(Debug, Default)]
pub struct Recorded {
    pub passed: usize,
    pub failed: Vec<String>,
    pub unsupported: usize,
    pub divergences: usize,
}

/// Runs every case through `f` in `pin`'s environment and writes the
/// snapshots under `snapshots`.
pub fn record(
    h: &SdkHarness,
    sdk: &Path,
    snapshots: &Path,
    f: &'static Flavour,
    filters: &[String],
) -> Result<Recorded, String> {
    let e = env::build(sdk, f, &Pin::Locked)?;
    let pool = Pool::new(sdk, f, e);
    let cases = cases_for(h, f, filters);
    let outs = run_all(h, &pool, &cases);
    let listed = super::divergences(sdk, f.name)?;
    let mut r = Recorded::default();
    for ((api, case), out) in cases.iter().zip(outs) {
        let name = format!("{}::{}", api.path(), case.name);
        match (super::verdict(&name, &out.failures, &listed), &out.unsupported) {
            (Err(e), _) => {
                r.failed.push(format!("{name}: {}", e.replace('\n', "; ")));
                continue;
            }
            (Ok(Some(_)), _) => r.divergences += 1,
            (Ok(None), Some(_)) => r.unsupported += 1,
            (Ok(None), None) => r.passed += 1,
        }
        let dir = snapshots.join(f.name).join(&api.vendor).join(&api.service).join(&api.action);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join(format!("{}.snap", case.name));
        // insta's format, so `cargo insta review` and the test read it; a
        // snapshot whose content did not change is left as it is.
        let body = out.transcript.trim_end();
        let old = std::fs::read_to_string(&file).unwrap_or_default();
        let old_body = old.splitn(3, "---\n").nth(2).unwrap_or("").trim_end();
        if old_body != body {
            let text = format!("---\nsource: tests/sdk_regression.rs\n---\n{body}\n");
            std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        }
    }
    Ok(r)
}

/// What `sdk diff` compares.
pub struct DiffRequest<'a> {
    pub flavour: &'static Flavour,
    pub package: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub filters: &'a [String],
}

/// Runs every case in both environments and compares them.
pub fn diff(h: &SdkHarness, sdk: &Path, req: &DiffRequest) -> Result<FlavourDiff, String> {
    let f = req.flavour;
    let package = req.package.unwrap_or(f.package).to_string();
    let old_pin = match req.from {
        Some(v) => Pin::Version { package: package.clone(), version: v.to_string() },
        None => Pin::Locked,
    };
    let new_pin = Pin::Version { package, version: req.to.to_string() };
    let old = Pool::new(sdk, f, env::build(sdk, f, &old_pin)?);
    let new = Pool::new(sdk, f, env::build(sdk, f, &new_pin)?);
    let label = |pool: &Pool, pin: &Pin| {
        let v = pool.packages().ok().and_then(|p| p.get(f.package).cloned());
        match (pin, v) {
            (Pin::Locked, Some(v)) => format!("{v} (locked)"),
            (_, Some(v)) if pin.label(f) == v => v,
            (_, Some(v)) => format!("{} ({} {v})", pin.label(f), f.package),
            (_, None) => pin.label(f),
        }
    };
    let (from, to) = (label(&old, &old_pin), label(&new, &new_pin));
    let cases = cases_for(h, f, req.filters);
    let (a, b) = (run_all(h, &old, &cases), run_all(h, &new, &cases));
    let per_case = cases
        .iter()
        .zip(a.iter().zip(&b))
        .map(|((api, case), (x, y))| diff::compare(&format!("{}::{}", api.path(), case.name), x, y))
        .collect();
    let accepted = diff::accepted(sdk, f.name)?;
    Ok(FlavourDiff::new(f.name, &from, &to, per_case, &accepted))
}

/// Promotes `version` of `f`: its resolved set becomes the lock.
pub fn accept(sdk: &Path, f: &'static Flavour, package: Option<&str>, version: &str) -> Result<(), String> {
    let pin = Pin::Version { package: package.unwrap_or(f.package).to_string(), version: version.to_string() };
    let e = env::build(sdk, f, &pin)?;
    let dir = sdk.join("flavours").join(f.name);
    let files: Vec<(&str, String)> = match f.language {
        Language::Python => vec![("requirements.txt", e.resolved.clone())],
        Language::Node => ["package.json", "package-lock.json"]
            .iter()
            .map(|n| std::fs::read_to_string(e.dir.join(n)).map(|c| (*n, c)).map_err(|x| x.to_string()))
            .collect::<Result<_, _>>()?,
    };
    for (n, c) in files {
        std::fs::write(dir.join(n), c).map_err(|x| format!("{}: {x}", dir.join(n).display()))?;
    }
    Ok(())
}
