//! `apiconform`: run cases, lint them, or serve the emulator.

/// The emulator allocates on every request; mimalloc avoids glibc's lock
/// contention across worker threads (about 2x requests per second).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use apiconform::coverage::{Matrix, Results, Verdict};
use apiconform::emulator::control::Access;
use apiconform::emulator::server::Limits;
use apiconform::explore;
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
        #[command(flatten)]
        timeouts: Timeouts,
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
    /// Generate requests from each API's contract (boundaries, enums, types, conflicts) and judge the answers.
    Explore {
        /// `emulator` or `live`.
        #[arg(long, default_value = "emulator")]
        target: String,
        /// Only APIs whose `vendor::service::Action` contains one of these.
        filters: Vec<String>,
    },
    /// Delete what earlier live runs left behind (resources named `apiconform-...`).
    Sweep {
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        timeouts: Timeouts,
    },
    /// The vendors' official SDKs: record what they do, diff an upgrade, accept it.
    Sdk {
        #[command(subcommand)]
        command: SdkCommand,
    },
    /// Serve the emulator over HTTP for SDKs and applications.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Do not enforce the documented rate limits.
        #[arg(long)]
        no_flow_control: bool,
        /// The token the control API (`/_apiconform/`) requires; required
        /// when `--addr` is not a loopback address. Prefer the
        /// `APICONFORM_CONTROL_TOKEN` variable (a flag shows in `ps`).
        #[arg(long, value_name = "TOKEN")]
        control_token: Option<String>,
        /// Another Host name the control API answers to, besides localhost,
        /// 127.0.0.0/8 and [::1] (repeatable).
        #[arg(long = "control-host", value_name = "NAME")]
        control_hosts: Vec<String>,
        /// Open connections at most; one more is answered 503 and closed.
        #[arg(long, value_name = "N", default_value_t = apiconform::emulator::server::DEFAULT_MAX_CONNECTIONS,
              value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        max_connections: u32,
    },
}

#[derive(Subcommand)]
enum SdkCommand {
    /// Build the pinned environments (Python virtualenvs, node_modules) in the SDK cache.
    Setup {
        /// Only these flavours (default: all).
        #[arg(long = "flavour", value_name = "FLAVOUR")]
        flavours: Vec<String>,
    },
    /// Run every case through the pinned flavours and write `snapshots/sdk/<flavour>/...`.
    Record {
        #[arg(long = "flavour", value_name = "FLAVOUR")]
        flavours: Vec<String>,
        /// Only cases whose name (`vendor::service::Action::case`) contains one of these.
        filters: Vec<String>,
    },
    /// Run every case through two versions of a flavour and class what changed.
    Diff {
        #[arg(long = "flavour", value_name = "FLAVOUR", required = true)]
        flavours: Vec<String>,
        /// The package that moves (default: the flavour's SDK package).
        #[arg(long)]
        package: Option<String>,
        /// The old version (default: the locked set).
        #[arg(long)]
        from: Option<String>,
        /// The new version, or `latest`.
        #[arg(long)]
        to: String,
        /// `text`, `markdown` or `json`.
        #[arg(long, default_value = "text", value_parser = ["text", "markdown", "json"])]
        format: String,
        /// Write the report here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        filters: Vec<String>,
    },
    /// Promote a reviewed version: its resolved set becomes the flavour's lock, and its snapshots are re-recorded.
    Accept {
        flavour: String,
        version: String,
        #[arg(long)]
        package: Option<String>,
    },
}

/// Live request timeouts; they override `APICONFORM_LIVE_CONNECT_TIMEOUT_MS`
/// and `APICONFORM_LIVE_REQUEST_TIMEOUT_MS`.
#[derive(clap::Args)]
struct Timeouts {
    /// Live target: seconds a connection may take to open (default 10).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    connect_timeout: Option<std::time::Duration>,
    /// Live target: seconds one request may take, answer included (default 60).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    request_timeout: Option<std::time::Duration>,
}

impl Timeouts {
    fn apply(&self, mut cfg: LiveConfig) -> LiveConfig {
        cfg.connect_timeout = self.connect_timeout.unwrap_or(cfg.connect_timeout);
        cfg.request_timeout = self.request_timeout.unwrap_or(cfg.request_timeout);
        cfg
    }
}

/// `2`, `0.5`: more than 0, at most a day.
fn seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(std::time::Duration::from_secs_f64(v)),
        _ => Err(format!("`{s}` is not a number of seconds above 0 and at most 86400")),
    }
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
        Command::Run { target, filters, verbose, record, recordings, shard, junit, markdown, timeouts } => {
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
            let live = timeouts.apply(LiveConfig::from_process_env());
            run(&suite, target, &sel, verbose, record, Outputs { junit, markdown, recordings, live: Some(live) })
        }
        Command::Serve { addr, no_flow_control, control_token, control_hosts, max_connections } => {
            let opts = ControlOpts::new(control_token, control_hosts, max_connections);
            serve(&cli.cases, &addr, !no_flow_control, opts)
        }
        Command::Sdk { command } => sdk(&cli.cases, command),
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
        Command::Explore { target, filters } => match load(&cli.cases).map(|s| explore::command(&s, &target, &filters))
        {
            Ok(Ok(true)) => ExitCode::SUCCESS,
            Ok(Ok(false)) => ExitCode::FAILURE,
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
            Err(c) => c,
        },
        Command::Sweep { dry_run, timeouts } => {
            let suite = match load(&cli.cases) {
                Ok(s) => s,
                Err(c) => return c,
            };
            let cfg = timeouts.apply(LiveConfig::from_process_env());
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
    /// The live configuration, timeouts from the command line applied.
    live: Option<LiveConfig>,
}

fn start(suite: &Suite) -> Result<Harness, ExitCode> {
    Harness::start(suite).map_err(|e| {
        eprintln!("error: cannot start the emulator: {e}");
        ExitCode::from(2)
    })
}

fn run(suite: &Suite, target: Target, sel: &Selection, verbose: bool, record: bool, mut outputs: Outputs) -> ExitCode {
    let live = outputs.live.take().unwrap_or_else(LiveConfig::from_process_env);
    let harness = match start(suite) {
        // Shards of one vendor may run at once on one account, whose rate
        // limit they share: each keeps to its share.
        Ok(h) if target == Target::Live => {
            h.with_live(live).recording(record).rate_share(sel.shard.map_or(1, |(_, n)| n as u32))
        }
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

/// Where the control token can come from besides `--control-token`.
const CONTROL_TOKEN_VAR: &str = "APICONFORM_CONTROL_TOKEN";

/// A token shorter than this is refused: it could be guessed.
const MIN_TOKEN_LEN: usize = 16;

struct ControlOpts {
    token: Option<String>,
    hosts: Vec<String>,
    limits: Limits,
}

impl ControlOpts {
    /// The token from the flag, else from the environment.
    fn new(token: Option<String>, hosts: Vec<String>, max_connections: u32) -> ControlOpts {
        let token = token.or_else(|| std::env::var(CONTROL_TOKEN_VAR).ok()).filter(|t| !t.is_empty());
        let limits = Limits { max_connections: max_connections as usize, ..Limits::default() };
        ControlOpts { token, hosts, limits }
    }
}

/// Who may use the control API of a server bound to `bound`: on a
/// non-loopback address, only holders of the token (refused without one),
/// with a warning for the operator.
fn control_access(bound: std::net::SocketAddr, opts: ControlOpts) -> Result<(Access, Option<String>), String> {
    if opts.token.as_ref().is_some_and(|t| t.len() < MIN_TOKEN_LEN) {
        return Err(format!("the control token must have at least {MIN_TOKEN_LEN} characters"));
    }
    let mut hosts = opts.hosts;
    if let Some(bad) = hosts.iter().find(|h| h.is_empty() || h.contains([':', '/', ' '])) {
        return Err(format!("--control-host `{bad}`: give a host name or an IPv4 address, without port"));
    }
    let warning = if bound.ip().is_loopback() {
        None
    } else {
        if opts.token.is_none() {
            return Err(format!(
                "{bound} is reachable from other machines: set a control token with {CONTROL_TOKEN_VAR} (or --control-token), or listen on 127.0.0.1"
            ));
        }
        if !bound.ip().is_unspecified() {
            hosts.push(bound.ip().to_string());
        }
        Some(format!(
            "warning: listening on {bound}, reachable from other machines; the emulator's test credentials are public, and the control API requires the token and a Host among localhost, 127.0.0.0/8, [::1]{}",
            hosts.iter().map(|h| format!(", {h}")).collect::<String>()
        ))
    };
    Ok((Access { token: opts.token, hosts }, warning))
}

fn serve(cases: &Path, addr: &str, flow_control: bool, control: ControlOpts) -> ExitCode {
    let suite = match load(cases) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let emulator = apiconform::emulator::Emulator::from_suite(&suite);
    emulator.set_flow_control(flow_control);
    // `GET /_apiconform/requests?vendor=V` shows what clients sent with the
    // default keys (bounded per key).
    emulator.watch_default_keys();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(async {
        let (listener, bound) = match tokio::net::TcpListener::bind(addr).await.and_then(|l| {
            let a = l.local_addr()?;
            Ok((l, a))
        }) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(2);
            }
        };
        let limits = control.limits;
        match control_access(bound, control) {
            Ok((access, warning)) => {
                if let Some(w) = warning {
                    eprintln!("{w}");
                }
                emulator.set_control_access(access);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
        tokio::spawn(emulator.clone().serve_with(listener, limits));
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

fn sdk(cases: &Path, command: SdkCommand) -> ExitCode {
    use apiconform::sdk::{self, commands};
    let root = sdk::root_for(cases);
    let snapshots = sdk::snapshots_for(cases);
    let names = match &command {
        SdkCommand::Setup { flavours } | SdkCommand::Record { flavours, .. } | SdkCommand::Diff { flavours, .. } => {
            flavours.clone()
        }
        SdkCommand::Accept { flavour, .. } => vec![flavour.clone()],
    };
    let flavours = match commands::select(&names) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let SdkCommand::Setup { .. } = command {
        return match commands::setup(&root, &flavours) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let suite = match load(cases) {
        Ok(s) => std::sync::Arc::new(s),
        Err(c) => return c,
    };
    let h = match sdk::trial::SdkHarness::start(suite) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot start the emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        SdkCommand::Setup { .. } => unreachable!("handled above"),
        SdkCommand::Record { filters, .. } => sdk_record(&h, &root, &snapshots, &flavours, &filters),
        SdkCommand::Diff { package, from, to, format, output, filters, .. } => {
            let mut diffs = Vec::new();
            for f in &flavours {
                let req = commands::DiffRequest {
                    flavour: f,
                    package: package.as_deref(),
                    from: from.as_deref(),
                    to: &to,
                    filters: &filters,
                };
                match commands::diff(&h, &root, &req) {
                    Ok(d) => diffs.push(d),
                    Err(e) => {
                        eprintln!("error: {}: {e}", f.name);
                        return ExitCode::from(2);
                    }
                }
            }
            let text = match format.as_str() {
                "json" => serde_json::to_string_pretty(&diffs).unwrap_or_default(),
                "markdown" => sdk::diff::markdown(&diffs),
                _ => sdk::diff::text(&diffs),
            };
            match output {
                Some(p) => std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display())),
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
            .map(|()| diffs.iter().any(|d| d.unaccepted_breaking() > 0))
        }
        SdkCommand::Accept { flavour, version, package } => {
            commands::accept(&root, flavours[0], package.as_deref(), &version).and_then(|()| {
                println!("{flavour}: the lock now holds {version}; re-recording its snapshots");
                sdk_record(&h, &root, &snapshots, &flavours, &[])
            })
        }
    };
    match result {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Records every flavour; true when a case failed.
fn sdk_record(
    h: &apiconform::sdk::trial::SdkHarness,
    root: &Path,
    snapshots: &Path,
    flavours: &[&'static apiconform::sdk::Flavour],
    filters: &[String],
) -> Result<bool, String> {
    let mut failed = false;
    for f in flavours {
        let r = apiconform::sdk::commands::record(h, root, snapshots, f, filters)?;
        println!(
            "{:<20} {} passed, {} failed, {} unsupported, {} listed divergences",
            f.name,
            r.passed,
            r.failed.len(),
            r.unsupported,
            r.divergences
        );
        for line in &r.failed {
            println!("  FAILED {line}");
        }
        failed |= !r.failed.is_empty();
    }
    Ok(failed)
}
