//! `apiconform`: run cases, lint them, or serve the emulator.

use apiconform::coverage::{Matrix, Results, Verdict};
use apiconform::live::LiveConfig;
use apiconform::runner::{Harness, Target};
use apiconform::suite::{Api, Case, Suite};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

#[derive(Parser)]
#[command(name = "apiconform", version, about = "Conformance harness and emulator for cloud vendor APIs")]
struct Cli {
    /// The cases directory.
    #[arg(long, global = true, default_value = "cases")]
    cases: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run cases against a target and print a summary per API.
    Run {
        /// `emulator` (in-process, the default) or `mock` (wiremock).
        #[arg(long, default_value = "emulator")]
        target: String,
        /// Run only trials whose name (`vendor::service::Action::case`) contains one of these.
        filters: Vec<String>,
        /// Print every trial, not only failures.
        #[arg(long, short)]
        verbose: bool,
        /// With `--target live`: record every exchange under `snapshots/live/`.
        #[arg(long)]
        record: bool,
    },
    /// Check every case file and report all problems with file:line:column.
    Lint,
    /// Show every documented error against the cases that produce it and each target's verdict.
    Coverage {
        /// `table` for people, `json` for machines.
        #[arg(long, default_value = "table")]
        format: String,
        /// Exit 1 when a documented error has neither a case nor a waiver.
        #[arg(long)]
        check: bool,
    },
    /// Delete what earlier live runs left behind (resources named `apiconform-...`).
    Sweep {
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Serve the emulator over HTTP for SDKs and applications.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Do not enforce the documented rate limits.
        #[arg(long)]
        no_flow_control: bool,
    },
}

fn load(cases: &Path) -> Result<Suite, ExitCode> {
    Suite::load(cases).map_err(|d| {
        eprintln!("{d}\n\n{} problem(s) in the case files", d.0.len());
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lint => match load(&cli.cases) {
            Ok(s) => {
                println!("ok: {} cases in {} APIs", s.case_count(), s.apis.len());
                ExitCode::SUCCESS
            }
            Err(c) => c,
        },
        Command::Run { target, filters, verbose, record } => {
            let Some(target) = Target::parse(&target) else {
                eprintln!(
                    "error: unknown target `{target}`; use `emulator` or `mock` (the live target is not built yet)"
                );
                return ExitCode::from(2);
            };
            let suite = match load(&cli.cases) {
                Ok(s) => s,
                Err(c) => return c,
            };
            if record && target != Target::Live {
                eprintln!("error: `--record` records live runs only (recordings are never written from the emulator or the mock)");
                return ExitCode::from(2);
            }
            run(&suite, target, &filters, verbose, record)
        }
        Command::Serve { addr, no_flow_control } => serve(&cli.cases, &addr, !no_flow_control),
        Command::Sweep { dry_run } => {
            let suite = match load(&cli.cases) {
                Ok(s) => s,
                Err(c) => return c,
            };
            let cfg = LiveConfig::from_process_env();
            if !cfg.enabled {
                eprintln!("error: sweeping touches real accounts: set {}=1", apiconform::live::OPT_IN);
                return ExitCode::from(2);
            }
            let harness = match Harness::start(&suite) {
                Ok(h) => h.with_live(cfg),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            for line in harness.sweep(dry_run) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Command::Coverage { format, check } => {
            let suite = match load(&cli.cases) {
                Ok(s) => s,
                Err(c) => return c,
            };
            coverage(&suite, &format, check)
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
}

fn run(suite: &Suite, target: Target, filters: &[String], verbose: bool, record: bool) -> ExitCode {
    let harness = match Harness::start(suite) {
        Ok(h) if target == Target::Live => h.with_live(LiveConfig::from_process_env()).recording(record),
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot start the emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let harness = std::sync::Arc::new(harness);
    if target == Target::Live {
        harness.cleanup_on_interrupt();
    }
    let started = std::time::Instant::now();
    let (jobs, results) = run_trials(suite, &harness, &[target], filters);
    for line in harness.cleanup_all() {
        println!("cleanup: {line}");
    }
    let mut per_api: BTreeMap<String, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    for (i, _, failures, skip) in &results {
        let (api, _, name) = &jobs[*i];
        let c = per_api.entry(api.path()).or_default();
        match (failures, skip) {
            (_, Some(reason)) => {
                c.skipped += 1;
                total.skipped += 1;
                if verbose {
                    println!("SKIP {name} ({reason})");
                }
            }
            (Some(f), None) if f.is_empty() => {
                c.passed += 1;
                total.passed += 1;
                if verbose {
                    println!("ok   {name}");
                }
            }
            (Some(f), None) => {
                c.failed += 1;
                total.failed += 1;
                println!("FAIL {name}");
                for line in f {
                    println!("     {}", line.replace('\n', "\n     "));
                }
            }
            (None, None) => {}
        }
    }
    let width = per_api.keys().map(String::len).max().unwrap_or(3).max(3);
    println!("\ntarget: {}\n", target.name());
    println!("{:<width$}  {:>6}  {:>6}  {:>7}", "API", "passed", "failed", "skipped");
    for (api, c) in &per_api {
        println!("{api:<width$}  {:>6}  {:>6}  {:>7}", c.passed, c.failed, c.skipped);
    }
    println!("{:<width$}  {:>6}  {:>6}  {:>7}", "total", total.passed, total.failed, total.skipped);
    println!("\nfinished in {:.2}s", started.elapsed().as_secs_f64());
    println!("{} passed, {} failed, {} skipped", total.passed, total.failed, total.skipped);
    if total.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

type Job<'a> = (&'a Api, &'a Case, String);
/// (job index, target, failures and observations when run, skip reason when skipped)
type Done = (usize, Target, Option<Vec<String>>, Option<String>);
type Observations = Vec<(usize, Target, Vec<apiconform::runner::Observed>)>;

/// Runs every selected case on every target, in parallel.
fn run_trials<'a>(
    suite: &'a Suite,
    harness: &Harness,
    targets: &[Target],
    filters: &[String],
) -> (Vec<Job<'a>>, Vec<Done>) {
    let (jobs, done, _) = run_trials_observed(suite, harness, targets, filters);
    (jobs, done)
}

fn run_trials_observed<'a>(
    suite: &'a Suite,
    harness: &Harness,
    targets: &[Target],
    filters: &[String],
) -> (Vec<Job<'a>>, Vec<Done>, Observations) {
    let mut jobs: Vec<Job> = Vec::new();
    for api in &suite.apis {
        for case in &api.cases {
            let name = format!("{}::{}", api.path(), case.name);
            if filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())) {
                jobs.push((api, case, name));
            }
        }
    }
    let work: Vec<(usize, Target)> = (0..jobs.len()).flat_map(|i| targets.iter().map(move |t| (i, *t))).collect();
    let next = Mutex::new(0usize);
    let results: Mutex<(Vec<Done>, Observations)> = Mutex::new((Vec::new(), Vec::new()));
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let w = {
                    let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                    let w = *n;
                    *n += 1;
                    w
                };
                let Some(&(i, target)) = work.get(w) else { break };
                let (api, case, _) = &jobs[i];
                let (done, obs) = match case.targets.skip_reason(target.name()) {
                    Some(reason) => ((i, target, None, Some(reason.to_string())), Vec::new()),
                    None => {
                        let out = harness.run(api, case, target);
                        match out.skipped {
                            Some(reason) => ((i, target, None, Some(reason)), Vec::new()),
                            None => ((i, target, Some(out.failures), None), out.observed),
                        }
                    }
                };
                let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
                r.0.push(done);
                r.1.push((i, target, obs));
            });
        }
    });
    let (mut done, obs) = results.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|r| (r.0, r.1.name()));
    (jobs, done, obs)
}

fn coverage(suite: &Suite, format: &str, check: bool) -> ExitCode {
    let harness = match Harness::start(suite) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot start the emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let (jobs, done, obs) = run_trials_observed(suite, &harness, &Target::OFFLINE, &[]);
    let mut results = Results::new();
    for (i, target, failures, skip) in &done {
        let (api, case, _) = &jobs[*i];
        let verdict = match (failures, skip) {
            (_, Some(_)) => Verdict::Skip,
            (Some(f), None) if f.is_empty() => Verdict::Pass,
            _ => Verdict::Fail,
        };
        let observed = obs.iter().find(|(j, t, _)| j == i && t == target).map(|o| o.2.clone()).unwrap_or_default();
        results.insert((api.path(), case.name.clone(), target.name()), (verdict, observed));
    }
    let m = Matrix::build(suite, &results);
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default()),
        _ => print!("{}", m.render()),
    }
    if check && m.missing() > 0 {
        eprintln!("\ncoverage is incomplete: {} documented error(s) have neither a case nor a waiver", m.missing());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn serve(cases: &Path, addr: &str, flow_control: bool) -> ExitCode {
    let suite = match load(cases) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let emulator = apiconform::emulator::Emulator::from_suite(&suite);
    emulator.set_flow_control(flow_control);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(async {
        let bound = match emulator.clone().spawn(addr).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(2);
            }
        };
        println!("apiconform emulator listening on http://{bound}");
        for (vendor, ak, _) in apiconform::emulator::DEFAULT_CREDENTIALS {
            println!("\n{vendor}: access key id {ak} (secret: see README)");
            if let Some(state) = emulator.default_tenant_state(vendor, ak) {
                for i in state.instances.values() {
                    println!("  instance {} ({}, image {})", i.id, i.status, i.image_id);
                }
                for m in state.images.values() {
                    println!("  image    {} ({})", m.id, m.os_type);
                }
            }
        }
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}
