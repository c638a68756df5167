//! `apiconform`: run cases, lint them, or serve the emulator.

/// The emulator allocates on every request; mimalloc avoids glibc's lock
/// contention across worker threads (about 2x requests per second).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use apiconform::coverage::{Matrix, Results, Verdict};
use apiconform::live::LiveConfig;
use apiconform::report::{self, Selection, TrialResult};
use apiconform::runner::{Harness, Target};
use apiconform::suite::Suite;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
        /// Where live recordings go (default: `snapshots/live` beside the cases).
        #[arg(long, value_name = "DIR")]
        recordings: Option<PathBuf>,
        /// Run only shard K of N (`--shard 2/4`), for a CI matrix.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Write JUnit XML here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write a Markdown summary here (e.g. `$GITHUB_STEP_SUMMARY`).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
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
    /// Compare the emulator with the live recordings, case by case.
    Parity {
        /// Only cases whose name contains one of these.
        filters: Vec<String>,
        /// Where the recordings are (default: `snapshots/live` beside the cases).
        #[arg(long, value_name = "DIR")]
        recordings: Option<PathBuf>,
        /// `table` or `json`.
        #[arg(long, default_value = "table")]
        format: String,
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
        Command::Run { target, filters, verbose, record, recordings, shard, junit, markdown } => {
            let Some(target) = Target::parse(&target) else {
                eprintln!("error: unknown target `{target}`; use `emulator`, `mock` or `live`");
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
            let shard = match shard.as_deref().map(Selection::parse_shard).transpose() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: --shard {e}");
                    return ExitCode::from(2);
                }
            };
            let sel = Selection { filters, shard };
            run(&suite, target, &sel, verbose, record, Outputs { junit, markdown, recordings })
        }
        Command::Serve { addr, no_flow_control } => serve(&cli.cases, &addr, !no_flow_control),
        Command::Parity { filters, recordings, format } => {
            let suite = match load(&cli.cases) {
                Ok(s) => s,
                Err(c) => return c,
            };
            let harness = match start(&suite) {
                Ok(h) => h,
                Err(c) => return c,
            };
            let root = recordings.unwrap_or_else(|| apiconform::recording::root_for(&suite.root));
            let results = apiconform::parity::check(&suite, &harness, &root, &Selection { filters, shard: None });
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default()),
                _ => print!("{}", apiconform::parity::render(&results)),
            }
            if results.iter().any(|r| r.unaccepted() > 0) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
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

/// Report files a run writes.
struct Outputs {
    junit: Option<PathBuf>,
    markdown: Option<PathBuf>,
    recordings: Option<PathBuf>,
}

fn start(suite: &Suite) -> Result<Harness, ExitCode> {
    Harness::start(suite).map_err(|e| {
        eprintln!("error: cannot start the emulator: {e}");
        ExitCode::from(2)
    })
}

fn run(suite: &Suite, target: Target, sel: &Selection, verbose: bool, record: bool, outputs: Outputs) -> ExitCode {
    let harness = match start(suite) {
        // Shards of one vendor may run at once on one account, whose rate
        // limit they share: each keeps to its share.
        Ok(h) if target == Target::Live => h
            .with_live(LiveConfig::from_process_env())
            .recording(record)
            .rate_share(sel.shard.map_or(1, |(_, n)| u32::try_from(n).unwrap_or(u32::MAX))),
        Ok(h) => h,
        Err(c) => return c,
    };
    let harness = match &outputs.recordings {
        Some(dir) => harness.with_recordings(dir.clone()),
        None => harness,
    };
    let harness = std::sync::Arc::new(harness);
    if target == Target::Live {
        harness.cleanup_on_interrupt();
    }
    let started = std::time::Instant::now();
    // A bar on a terminal; plain lines elsewhere (CI logs), for live runs
    // that take minutes.
    let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let bar = indicatif::ProgressBar::new(0);
    if !tty {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let progress = |r: &TrialResult, done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        let line = match r.verdict {
            Verdict::Fail => Some(format!("FAIL {}", r.name())),
            _ if verbose => Some(format!("{:<4} {}", if r.verdict == Verdict::Pass { "ok" } else { "SKIP" }, r.name())),
            _ => None,
        };
        if let Some(l) = line {
            bar.println(&l);
        }
        if !tty && target == Target::Live {
            eprintln!("[{done}/{total}] {} {:?} ({:.1}s)", r.name(), r.verdict, r.duration.as_secs_f64());
        }
    };
    let results = report::run(suite, &harness, &[target], sel, &progress);
    bar.finish_and_clear();
    for line in harness.cleanup_all() {
        println!("cleanup: {line}");
    }
    for r in &results {
        match r.verdict {
            Verdict::Fail => {
                println!("FAIL {}", r.name());
                for line in &r.detail {
                    println!("     {}", line.replace('\n', "\n     "));
                }
            }
            Verdict::Skip if verbose => println!("SKIP {} ({})", r.name(), r.detail.join("; ")),
            _ => {}
        }
    }
    if !verbose {
        // A skip is never silent: its reason, grouped (a vendor without
        // credentials skips all its trials for one reason).
        let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
        for r in results.iter().filter(|r| r.verdict == Verdict::Skip) {
            *reasons.entry(r.detail.join("; ")).or_default() += 1;
        }
        for (reason, n) in reasons {
            println!("SKIP {n} trial(s): {reason}");
        }
    }
    println!("\ntarget: {}\n", target.name());
    print!("{}", report::table(&results));
    if let Some(p) = &outputs.junit {
        if let Err(e) = std::fs::write(p, report::junit(&results)) {
            eprintln!("error: cannot write {}: {e}", p.display());
        }
    }
    if let Some(p) = &outputs.markdown {
        let md = report::markdown(&results, &format!("apiconform: {} target", target.name()));
        let written = std::fs::OpenOptions::new().create(true).append(true).open(p).and_then(|mut f| {
            use std::io::Write;
            f.write_all(md.as_bytes())
        });
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", p.display());
        }
    }
    let (_, total) = report::counts(&results);
    println!("\nfinished in {:.2}s", started.elapsed().as_secs_f64());
    println!("{} passed, {} failed, {} skipped", total.passed, total.failed, total.skipped);
    if total.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn coverage(suite: &Suite, format: &str, check: bool) -> ExitCode {
    let harness = match start(suite) {
        Ok(h) => h,
        Err(c) => return c,
    };
    let all = report::run(suite, &harness, &Target::OFFLINE, &Selection::default(), &|_, _, _| {});
    let mut results = Results::new();
    for r in all {
        results.insert((r.api.clone(), r.case.clone(), r.target.name()), (r.verdict, r.observed));
    }
    let m = Matrix::build(suite, &results, &apiconform::recording::root_for(&suite.root));
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
        // A closed stdout (a parent that read the first line and left) must
        // not stop the server: write errors are ignored.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "apiconform emulator listening on http://{bound}");
        let _ = out.flush();
        for (vendor, ak, _) in apiconform::emulator::DEFAULT_CREDENTIALS {
            let _ = writeln!(out, "\n{vendor}: access key id {ak} (secret: see README)");
            if let Some(state) = emulator.default_tenant_state(vendor, ak) {
                for i in state.instances.values() {
                    let _ = writeln!(out, "  instance {} ({}, image {})", i.id, i.status, i.image_id);
                }
                for m in state.images.values() {
                    let _ = writeln!(out, "  image    {} ({})", m.id, m.os_type);
                }
            }
        }
        let _ = out.flush();
        drop(out);
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}
