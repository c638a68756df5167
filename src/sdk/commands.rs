//! `apiconform sdk list | setup | record | diff | accept | gc`: the
//! SDK-upgrade workflow.
//!
//! - `setup` builds the pinned environments (CI runs it before the tests),
//!   saying first what it will build and how big, with progress on a
//!   terminal and a total at the end.
//! - `record` runs every case through the pinned flavours and writes the
//!   snapshots `tests/sdk_regression.rs` compares with.
//! - `diff` runs every case through two versions of a flavour and classes
//!   what changed ([`super::diff`]). A side that cannot run, a conflicting
//!   set, or a moved package the SDK does not load is a problem: no result.
//! - `accept` promotes a reviewed version: the lock files and the snapshots.
//! - `gc` keeps the cache to the flavours' locked environments.

use super::bundle::Bundle;
use super::diff::{self, FlavourDiff, Side};
use super::driver::{Pool, Probe};
use super::env::{self, Env, Pin, Plan};
use super::trial::{self, SdkOutcome, Verdict};
use super::{Divergence, Flavour};
use crate::runner::Harness;
use crate::suite::{Api, Case, Suite};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// What the commands share: the files, the emulator, the cases.
pub struct Context<'a> {
    pub bundle: &'static Bundle,
    pub harness: &'a Harness,
    pub suite: &'a Suite,
}

/// Progress on a terminal (a spinner with the current step), plain lines
/// elsewhere.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Default for Progress {
    fn default() -> Progress {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b
        });
        Progress { bar }
    }
}

impl Progress {
    /// The current step (the spinner's message, or a line).
    pub fn note(&self, what: &str) {
        match &self.bar {
            Some(b) => b.set_message(what.to_string()),
            None => eprintln!("{what}"),
        }
    }

    /// How far a run is: on a terminal only (a log gets the notes).
    pub fn tick(&self, what: &str, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{what}: trial {done} of {total}"));
        }
    }

    /// A line that stays.
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The cases of `f`'s vendor whose name contains one of `filters`.
pub fn cases_for<'a>(suite: &'a Suite, f: &Flavour, filters: &[String]) -> Vec<(&'a Api, &'a Case)> {
    suite
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

/// One trial to run: a case through a pool, with the divergences listed.
pub type Job<'a> = (&'a Pool, &'a [Divergence], &'a Api, &'a Case);

/// How many SDK trials run at once: they wait on driver processes and SDK
/// retry back-offs more than on a core.
fn workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 4) * 2
}

/// Runs `jobs`, a few at a time (one driver process per trial running).
pub fn run_all(h: &Harness, suite: &Suite, jobs: &[Job], progress: &(dyn Fn(usize, usize) + Sync)) -> Vec<SdkOutcome> {
    let job = |i: usize| {
        let (pool, listed, api, case) = jobs[i];
        trial::run(h, suite, pool, listed, api, case)
    };
    crate::report::parallel(jobs.len(), workers(), &job, &|_, done, total| progress(done, total))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `apiconform sdk list`: the flavour table.
pub fn list(b: &Bundle, json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(b.flavours()).unwrap_or_default();
    }
    let mut s = format!("{:<20} {:<11} {:<7} {:<24} {:<28} wire\n", "flavour", "vendor", "lang", "package", "driver");
    for f in b.flavours() {
        let driver = format!("{} {}", f.driver, f.args.join(" "));
        let w = &f.wire;
        s.push_str(&format!(
            "{:<20} {:<11} {:<7} {:<24} {:<28} {}, {}, {}\n",
            f.name,
            f.vendor,
            f.language.name(),
            f.package,
            driver.trim(),
            w.signature,
            w.method,
            w.params_in
        ));
    }
    s
}

/// Builds each flavour's locked environment (identical sets once),
/// starts each driver once to prove the SDK imports, and prints what was
/// built, how big, and the total.
pub fn setup(b: &Bundle, flavours: &[&Flavour]) -> Result<(), String> {
    let started = Instant::now();
    let p = Progress::default();
    let mut plans: BTreeMap<String, (Plan, Vec<&Flavour>)> = BTreeMap::new();
    for f in flavours {
        let plan = env::plan(b, f, &Pin::Locked, &|n| p.note(n)).map_err(|e| format!("{}: {e}", f.name))?;
        plans.entry(plan.key.clone()).or_insert_with(|| (plan, Vec::new())).1.push(f);
    }
    let todo: Vec<&(Plan, Vec<&Flavour>)> = plans.values().filter(|(plan, _)| !plan.built()).collect();
    let names = |fs: &[&Flavour]| fs.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
    p.line(&format!(
        "{} for {}; {} already built, {} to build{}",
        plural(plans.len(), "environment"),
        plural(flavours.len(), "flavour"),
        plans.len() - todo.len(),
        todo.len(),
        if todo.is_empty() { "." } else { ":" }
    ));
    for (plan, fs) in &todo {
        p.line(&format!("  {} ({}): {} packages", plan.key, names(fs), plan.packages));
    }
    let mut built_bytes = 0;
    for (plan, fs) in plans.values() {
        let fresh = !plan.built();
        let t = Instant::now();
        let note = |n: &str| p.note(&format!("{} ({}): {n}", plan.key, names(fs)));
        let e = env::build(plan, &note).map_err(|e| format!("{}: {e}", names(fs)))?;
        let size = env::size_of(&e.dir);
        for f in fs {
            note(&format!("starting the {} driver", f.name));
            let pool = Pool::new(&b.drivers_dir(&env::cache_root())?, f, e.clone());
            let packages = pool.packages().map_err(|e| format!("{}: {e}", f.name))?;
            let list: Vec<String> = packages.iter().map(|(k, v)| format!("{k} {v}")).collect();
            p.line(&format!("{:<20} {} ({})", f.name, e.key, list.join(", ")));
        }
        if fresh {
            built_bytes += size;
            p.line(&format!("  built {} in {:.0} s ({})", e.key, t.elapsed().as_secs_f64(), env::human(size)));
        }
    }
    drop(p);
    let cache: u64 = env::list(&env::cache_root()).iter().map(|c| c.size).sum();
    println!(
        "sdk setup: {} ready ({} built now, {}) in {:.0} s; cache {}: {} of at most {}",
        plural(plans.len(), "environment"),
        todo.len(),
        env::human(built_bytes),
        started.elapsed().as_secs_f64(),
        env::cache_root().display(),
        env::human(cache),
        env::human(env::cap())
    );
    Ok(())
}

/// Counts of one flavour's record run.
#[derive(Debug, Default)]
pub struct Recorded {
    pub passed: usize,
    pub failed: Vec<String>,
    pub unsupported: usize,
    pub divergences: usize,
    pub env_errors: Vec<String>,
}

/// Runs every case through `f`'s locked environment and writes the
/// snapshots under `snapshots`.
pub fn record(cx: &Context, snapshots: &Path, f: &Flavour, filters: &[String]) -> Result<Recorded, String> {
    let p = Progress::default();
    let plan = env::plan(cx.bundle, f, &Pin::Locked, &|n| p.note(n))?;
    let pool = Pool::new(&cx.bundle.drivers_dir(&env::cache_root())?, f, env::build(&plan, &|n| p.note(n))?);
    let listed = super::divergences(cx.bundle, &f.name)?;
    let cases = cases_for(cx.suite, f, filters);
    let jobs: Vec<Job> = cases.iter().map(|(a, c)| (&pool, listed.as_slice(), *a, *c)).collect();
    let outs = run_all(cx.harness, cx.suite, &jobs, &|done, total| p.tick(&f.name, done, total));
    let mut r = Recorded::default();
    for ((api, case), out) in cases.iter().zip(outs) {
        let name = format!("{}::{}", api.path(), case.name);
        match out.verdict() {
            Verdict::EnvError(e) => {
                r.env_errors.push(format!("{name}: {e}"));
                continue;
            }
            Verdict::Fail(e) => {
                r.failed.push(format!("{name}: {}", e.replace('\n', "; ")));
                continue;
            }
            Verdict::Divergence(_) => r.divergences += 1,
            Verdict::Unsupported(_) => r.unsupported += 1,
            Verdict::Pass => r.passed += 1,
        }
        let dir = snapshots.join(&f.name).join(&api.vendor).join(&api.service).join(&api.action);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join(format!("{}.snap", case.name));
        // insta's format, so `cargo insta review` and the test read it; a
        // snapshot whose content did not change is left as it is.
        let body = out.transcript.trim_end();
        let old = std::fs::read_to_string(&file).unwrap_or_default();
        let old_body = old.splitn(3, "---\n").nth(2).unwrap_or("").trim_end();
        if old_body != body {
            let text = format!("---\nsource: tests/common/mod.rs\n---\n{body}\n");
            std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        }
    }
    Ok(r)
}

/// What `sdk diff` compares.
pub struct DiffRequest<'a> {
    pub flavour: &'a Flavour,
    pub package: &'a str,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub filters: &'a [String],
}

/// One side, made ready: its plan, built environment and a started driver.
fn side(cx: &Context, f: &Flavour, pin: &Pin, p: &Progress) -> Result<(Plan, Pool), String> {
    let label = pin.label(f);
    let plan = env::plan(cx.bundle, f, pin, &|n| p.note(&format!("{label}: {n}")))?;
    let env: Env = env::build(&plan, &|n| p.note(&format!("{label}: {n}")))?;
    let pool = Pool::new(&cx.bundle.drivers_dir(&env::cache_root())?, f, env);
    pool.packages()?;
    Ok((plan, pool))
}

/// Runs every case in both environments and compares them.
pub fn diff(cx: &Context, req: &DiffRequest) -> FlavourDiff {
    let f = req.flavour;
    let package = req.package.to_string();
    let old_pin = match req.from {
        Some(v) => Pin::Version { package: package.clone(), version: v.to_string() },
        None => Pin::Locked,
    };
    let new_pin = Pin::Version { package: package.clone(), version: req.to.to_string() };
    let mut d = FlavourDiff { flavour: f.name.clone(), package: package.clone(), ..Default::default() };
    d.from.label = req.from.unwrap_or("locked").to_string();
    d.to.label = req.to.to_string();
    let p = Progress::default();
    let (old, new) = (side(cx, f, &old_pin, &p), side(cx, f, &new_pin, &p));
    let ((old_plan, old), (new_plan, new)) = match (old, new) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            for (which, r) in [("old", a.err()), ("new", b.err())] {
                if let Some(e) = r {
                    d.problems.push(format!("environment error ({which} side): {e}"));
                }
            }
            return d;
        }
    };
    for (s, plan, pool) in [(&mut d.from, &old_plan, &old), (&mut d.to, &new_plan, &new)] {
        s.env = plan.key.clone();
        s.version = plan.moved.as_ref().map(|(_, v)| v.clone()).or_else(|| pool.env.versions().get(&package).cloned());
    }
    let cases = cases_for(cx.suite, f, req.filters);
    // No divergence applies here: both sides are compared as they behave.
    let jobs: Vec<Job> =
        [&old, &new].iter().flat_map(|pool| cases.iter().map(move |(a, c)| (*pool, &[][..], *a, *c))).collect();
    let outs = run_all(cx.harness, cx.suite, &jobs, &|done, total| p.tick(&f.name, done, total));
    let (a, b) = outs.split_at(cases.len());
    for (which, side) in [("old", a), ("new", b)] {
        let errors: Vec<&String> = side.iter().filter_map(|o| o.env_error.as_ref()).collect();
        if let Some(first) = errors.first() {
            d.problems.push(format!(
                "environment error ({which} side): {} of {} trials could not run; the first: {first}",
                errors.len(),
                side.len()
            ));
        }
    }
    loaded(&mut d, &package, &old, &new);
    if !d.problems.is_empty() {
        return d;
    }
    let per_case = cases
        .iter()
        .zip(a.iter().zip(b))
        .map(|((api, case), (x, y))| diff::compare(&format!("{}::{}", api.path(), case.name), x, y))
        .collect();
    let accepted = diff::accepted(cx.bundle, &f.name).unwrap_or_else(|e| {
        d.problems.push(e);
        Vec::new()
    });
    d.grouped(per_case, &accepted)
}

/// What the SDK loaded of the moved package on each side; a problem when
/// it loaded nothing of it, or another copy than the one installed.
fn loaded(d: &mut FlavourDiff, package: &str, old: &Pool, new: &Pool) {
    for (which, pool) in [("old", old), ("new", new)] {
        let probe = match pool.probe(package) {
            Ok(p) => p,
            Err(e) => {
                d.problems.push(format!("environment error ({which} side): {e}"));
                continue;
            }
        };
        let side: &mut Side = if which == "old" { &mut d.from } else { &mut d.to };
        side.probed = true;
        match judge_probe(&probe) {
            Ok(v) => side.loaded = v,
            Err(why) => {
                let others: Vec<String> = probe.loaded.iter().filter_map(|c| c.version.clone()).collect();
                if !others.is_empty() {
                    side.loaded = Some(format!("{} (another copy)", others.join(", ")));
                }
                d.problems.push(format!("{which} side: {why}: this diff says nothing about {package}"));
            }
        }
    }
}

/// The loaded version, or why the moved package is not what the SDK runs.
fn judge_probe(p: &Probe) -> Result<Option<String>, String> {
    let Some(installed) = &p.installed else {
        return Err(format!("{} is not installed in the environment", p.package));
    };
    if p.loaded.iter().any(|c| c.path == installed.path) {
        return Ok(installed.version.clone());
    }
    if p.loaded.is_empty() {
        return Err(format!(
            "the SDK does not load {} (installed {} at {}, never imported by the SDK's calls)",
            p.package,
            installed.version.as_deref().unwrap_or("?"),
            installed.path
        ));
    }
    let others: Vec<String> =
        p.loaded.iter().map(|c| format!("{} at {}", c.version.as_deref().unwrap_or("?"), c.path)).collect();
    Err(format!(
        "the SDK loads another copy of {} ({}), not the one moved ({})",
        p.package,
        others.join(", "),
        installed.version.as_deref().unwrap_or("?")
    ))
}

/// Promotes `version` of `f`: its resolved set becomes the lock in the
/// repository this binary was built from.
pub fn accept(b: &Bundle, f: &Flavour, package: &str, version: &str) -> Result<(), String> {
    let repo = b.repository.as_ref().ok_or(
        "`sdk accept` writes sdk/flavours/<flavour>/ of the repository this binary was built from, and it is not here; run it from a checkout (`cargo run -- sdk accept ...`)",
    )?;
    let pin = Pin::Version { package: package.to_string(), version: version.to_string() };
    let p = Progress::default();
    let plan = env::plan(b, f, &pin, &|n| p.note(n))?;
    env::build(&plan, &|n| p.note(n))?;
    let dir = repo.join("flavours").join(&f.name);
    for (n, c) in &plan.files {
        let text = match f.language {
            super::Language::Python => {
                format!("# {}: the resolved set of {package}=={version} (apiconform sdk accept)\n{c}", f.name)
            }
            super::Language::Node => c.clone(),
        };
        std::fs::write(dir.join(n), text).map_err(|x| format!("{}: {x}", dir.join(n).display()))?;
    }
    Ok(())
}

/// `apiconform sdk gc`: removes every environment but the flavours'
/// locked ones (and unfinished builds, scratch and old drivers); in-use
/// environments are left. Returns the lines to print.
pub fn gc(b: &Bundle, dry_run: bool) -> Result<Vec<String>, String> {
    let root = env::cache_root();
    let keep: Vec<String> =
        b.flavours().iter().filter_map(|f| env::plan(b, f, &Pin::Locked, &|_| {}).ok()).map(|p| p.key).collect();
    let drivers = b.drivers_dir(&root)?;
    let mut lines = Vec::new();
    let mut freed = 0;
    for c in env::list(&root) {
        if keep.contains(&c.key) {
            lines.push(format!("kept    {} ({}, locked)", c.key, env::human(c.size)));
            continue;
        }
        if dry_run || env::remove(&root, &c.key) {
            freed += c.size;
            lines.push(format!("removed {} ({})", c.key, env::human(c.size)));
        } else {
            lines.push(format!("in use  {} ({})", c.key, env::human(c.size)));
        }
    }
    for e in std::fs::read_dir(&root).map_err(|e| format!("{}: {e}", root.display()))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let scratch =
            name.starts_with("tmp-") || name == "resolutions" || name.starts_with("drivers-") && e.path() != drivers;
        if scratch && e.path().is_dir() {
            freed += env::size_of(&e.path());
            if !dry_run {
                let _ = std::fs::remove_dir_all(e.path());
            }
            lines.push(format!("removed {name}"));
        }
    }
    let verb = if dry_run { "would free" } else { "freed" };
    lines.push(format!(
        "{verb} {}; {} left in {}",
        env::human(freed),
        plural(keep.len(), "locked environment"),
        root.display()
    ));
    Ok(lines)
}
