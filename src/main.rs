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
use apiconform::term::{clean, clean_lines, shown, ColorChoice, Painter};
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "apiconform", version, about = "Conformance harness and emulator for cloud vendor APIs")]
struct Cli {
    #[command(flatten)]
    cases: CasesArgs,
    /// Colour: `auto` (a terminal, unless NO_COLOR is set), `always`, `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

/// `apiconform run`'s arguments.
#[derive(Args)]
struct RunArgs {
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
    #[arg(long, value_name = "K/N", value_parser = Selection::parse_shard)]
    shard: Option<(usize, usize)>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a Markdown summary here (e.g. `$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// `table` for people, `json` (the results document) for machines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Save the results document here (for `apiconform report`).
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    /// The SDK-upgrade diff (`apiconform sdk diff --format json`) for the HTML report.
    #[arg(long, value_name = "FILE")]
    sdk_diff: Option<PathBuf>,
    #[command(flatten)]
    timeouts: Timeouts,
}

/// Which cases to load: the shipped ones (embedded in the binary), with a
/// directory of one's own laid over them, or that directory alone.
#[derive(Args)]
struct CasesArgs {
    /// Your cases directory, laid over the shipped cases (same path
    /// replaces, new files add).
    #[arg(long = "cases", global = true, env = "APICONFORM_CASES", value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Load only `--cases DIR`, without the shipped cases.
    #[arg(long, global = true, requires = "dir")]
    no_shipped: bool,
}

/// The shipped `cases/` tree, embedded at build time.
static SHIPPED: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/cases");

/// The embedded files, as (relative path, contents).
fn embedded_files() -> Vec<(&'static str, &'static [u8])> {
    fn walk(dir: &'static include_dir::Dir<'static>, out: &mut Vec<(&'static str, &'static [u8])>) {
        for f in dir.files() {
            if let Some(p) = f.path().to_str() {
                out.push((p, f.contents()));
            }
        }
        for d in dir.dirs() {
            walk(d, out);
        }
    }
    let mut embedded = Vec::new();
    walk(&SHIPPED, &mut embedded);
    embedded
}

/// The shipped tree: the embedded files, read from memory. A debug build
/// run beside its source tree reads that tree instead when a case file was
/// added or removed since the build (so `cargo run -- lint` sees a new
/// case); release builds use only what they embedded.
fn shipped_tree<'a>(embedded: apiconform::shipped::Files<'a>) -> apiconform::suite::Tree<'a> {
    #[cfg(debug_assertions)]
    {
        let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
        if tree.is_dir() && apiconform::shipped::listing_differs(embedded, &tree) {
            if let Ok(on_disk) = apiconform::shipped::on_disk(&tree) {
                eprintln!(
                    "note: case files were added or removed since this binary was built: reading {}",
                    tree.display()
                );
                return on_disk;
            }
        }
    }
    apiconform::shipped::embedded(embedded)
}

/// `--format table|json` of the reporting commands.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run cases against a target and print a summary per API.
    Run(RunArgs),
    /// Check every case file and report all problems with file:line:column.
    Lint {
        /// `table` for people, `json` for machines.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show every documented error against the cases that produce it and each target's verdict.
    Coverage {
        /// `table` for people, `json` for machines.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
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
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
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
        command: apiconform::sdk::cli::SdkCommand,
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
    /// Print a shell completion script (`apiconform completions bash > ~/.local/share/bash-completion/completions/apiconform`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Scaffold a case repository of your own: README, JSON Schemas, one example case.
    Init {
        /// The directory to create (may exist, must not hold the files).
        dir: PathBuf,
    },
    /// Write a case from an API's contract, required parameters filled from its world.
    New {
        /// `vendor::service::Action::case`.
        case: String,
        /// The case repository to write into (default: `--cases`, else the current directory).
        #[arg(long, value_name = "DIR")]
        into: Option<PathBuf>,
    },
    /// Write the HTML report (or print a summary) from saved results (`run --results FILE`).
    Report {
        /// The results document `run --results` saved; repeat it to join runs
        /// (one per target, say).
        #[arg(long, value_name = "FILE", required = true)]
        results: Vec<PathBuf>,
        /// Write the self-contained HTML report here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// The SDK-upgrade diff (`apiconform sdk diff --format json`).
        #[arg(long, value_name = "FILE")]
        sdk_diff: Option<PathBuf>,
        /// `table` or `json` (the results document again).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
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

fn load(cases: &CasesArgs) -> Result<Suite, ExitCode> {
    load_quiet(cases).map_err(|d| {
        eprintln!("{d}\n\n{} problem(s) in the case files", d.0.len());
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paint = Painter {
        on: apiconform::term::enabled(
            cli.color,
            std::env::var_os("NO_COLOR").as_deref(),
            std::io::stdout().is_terminal(),
        ),
    };
    match cli.command {
        Command::Lint { format } => lint(&cli.cases, format),
        Command::Run(args) => run_cmd(&cli.cases, args, paint),
        Command::Serve { addr, no_flow_control, control_token, control_hosts, max_connections } => {
            let opts = ControlOpts::new(control_token, control_hosts, max_connections);
            serve(&cli.cases, &addr, !no_flow_control, opts)
        }
        Command::Sdk { command } => apiconform::sdk::cli::run(&|| load_quiet(&cli.cases), command),
        Command::Explore { target, filters } => explore_cmd(&cli.cases, &target, &filters),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "apiconform", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Init { dir } => init(&dir),
        Command::New { case, into } => new_case(&cli.cases, &case, into),
        Command::Report { results, html, sdk_diff, format } => report_cmd(&results, html, sdk_diff, format),
        Command::Parity { filters, recordings, format } => parity_cmd(&cli.cases, filters, recordings, format),
        Command::Sweep { dry_run, timeouts } => sweep_cmd(&cli.cases, dry_run, timeouts),
        Command::Coverage { format, check } => {
            let suite = match load(&cli.cases) {
                Ok(s) => s,
                Err(c) => return c,
            };
            coverage(&suite, format, check)
        }
    }
}

/// `apiconform explore`.
fn explore_cmd(cases: &CasesArgs, target: &str, filters: &[String]) -> ExitCode {
    match load(cases).map(|s| explore::command(&s, target, filters)) {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        Ok(Ok(false)) => ExitCode::FAILURE,
        Ok(Err(e)) => {
            eprintln!("error: {}", shown(e));
            ExitCode::from(2)
        }
        Err(c) => c,
    }
}

/// `apiconform parity`: the emulator against the live recordings.
fn parity_cmd(cases: &CasesArgs, filters: Vec<String>, recordings: Option<PathBuf>, format: Format) -> ExitCode {
    let suite = match load(cases) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let harness = match start(&suite) {
        Ok(h) => h,
        Err(c) => return c,
    };
    let root = recordings.unwrap_or_else(|| apiconform::recording::root_for(&suite.root));
    let results = apiconform::parity::check(&suite, &harness, &root, &Selection { filters, shard: None });
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default()),
        Format::Table => print!("{}", apiconform::parity::render(&results)),
    }
    if results.iter().any(|r| r.unaccepted() > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `apiconform sweep`: deletes what earlier runs left on live accounts.
fn sweep_cmd(cases: &CasesArgs, dry_run: bool, timeouts: Timeouts) -> ExitCode {
    let suite = match load(cases) {
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
            eprintln!("error: {}", shown(e));
            return ExitCode::from(2);
        }
    };
    for line in harness.sweep(dry_run) {
        println!("{}", clean(&line));
    }
    ExitCode::SUCCESS
}

/// `apiconform run`: checks the arguments, loads the cases, runs.
fn run_cmd(cases: &CasesArgs, args: RunArgs, paint: Painter) -> ExitCode {
    let RunArgs {
        target,
        filters,
        verbose,
        record,
        recordings,
        shard,
        junit,
        markdown,
        format,
        html,
        results,
        sdk_diff,
        timeouts,
    } = args;
    let Some(target) = Target::parse(&target) else {
        eprintln!("error: unknown target `{}`; use `emulator`, `mock` or `live`", clean(&target));
        return ExitCode::from(2);
    };
    let suite = match load(cases) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if record && target != Target::Live {
        eprintln!(
            "error: `--record` records live runs only (recordings are never written from the emulator or the mock)"
        );
        return ExitCode::from(2);
    }
    let sel = Selection { filters, shard };
    let sdk_diff = match sdk_diff.as_deref().map(read_sdk_diff).transpose() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {}", shown(e));
            return ExitCode::from(2);
        }
    };
    let json = format == Format::Json;
    let live = Some(timeouts.apply(LiveConfig::from_process_env()));
    let outputs = Outputs { junit, markdown, recordings, json, paint, html, results, sdk_diff, live };
    run(&suite, target, &sel, verbose, record, outputs)
}

/// Report files a run writes, and how it prints.
struct Outputs {
    junit: Option<PathBuf>,
    markdown: Option<PathBuf>,
    recordings: Option<PathBuf>,
    /// Print the results document instead of the table.
    json: bool,
    paint: Painter,
    html: Option<PathBuf>,
    results: Option<PathBuf>,
    sdk_diff: Option<serde_json::Value>,
    /// The live configuration, timeouts from the command line applied.
    live: Option<LiveConfig>,
}

fn start(suite: &Suite) -> Result<Harness, ExitCode> {
    Harness::start(suite).map_err(|e| {
        eprintln!("error: cannot start the emulator: {}", shown(e));
        ExitCode::from(2)
    })
}

fn run(suite: &Suite, target: Target, sel: &Selection, verbose: bool, record: bool, mut outputs: Outputs) -> ExitCode {
    let live = outputs.live.take().unwrap_or_else(LiveConfig::from_process_env);
    let harness = match start(suite) {
        // Shards of one vendor may run at once on one account, whose rate
        // limit they share: each keeps to its share.
        Ok(h) if target == Target::Live => h
            .with_live(live)
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
    let paint = outputs.paint;
    let progress = |r: &TrialResult, done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        let line = match r.verdict {
            Verdict::Fail => Some(format!("{} {}", paint.fail("FAIL"), clean(&r.name()))),
            Verdict::Pass if verbose => Some(format!("{}   {}", paint.pass("ok"), clean(&r.name()))),
            _ if verbose => Some(format!("{} {}", paint.skip("SKIP"), clean(&r.name()))),
            _ => None,
        };
        if let Some(l) = line {
            bar.println(&l);
        }
        if !tty && target == Target::Live {
            eprintln!("[{done}/{total}] {} {:?} ({:.1}s)", clean(&r.name()), r.verdict, r.duration.as_secs_f64());
        }
    };
    let results = report::run(suite, &harness, &[target], sel, &progress);
    bar.finish_and_clear();
    for line in harness.cleanup_all() {
        eprintln!("cleanup: {}", clean(&line));
    }
    if outputs.json || outputs.html.is_some() || outputs.results.is_some() {
        let mut doc = apiconform::results::build(suite, &results, &[target.name()], &snapshots_root(suite));
        let recordings = outputs.recordings.clone().unwrap_or_else(|| apiconform::recording::root_for(&suite.root));
        let parity = apiconform::parity::check(suite, &harness, &recordings, sel);
        doc.parity = serde_json::to_value(parity).unwrap_or_default();
        write_documents(&doc, &outputs);
    }
    if !outputs.json {
        // On a terminal the passes were shown as they landed.
        print_human(&results, target, verbose && !tty, verbose, paint);
    }
    write_reports(&results, target, &outputs);
    let (_, total) = report::counts(&results);
    if !outputs.json {
        println!("\nfinished in {:.2}s", started.elapsed().as_secs_f64());
        let failed = format!("{} failed", total.failed);
        let failed = if total.failed > 0 { paint.fail(&failed) } else { failed };
        println!("{} passed, {failed}, {} skipped", total.passed, total.skipped);
    }
    if total.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `snapshots/` beside the cases directory.
fn snapshots_root(suite: &Suite) -> PathBuf {
    suite.root.parent().unwrap_or(Path::new(".")).join("snapshots")
}

/// Failures with their detail, skip reasons, and the table per API;
/// `passes` lists the passed trials too.
fn print_human(results: &[TrialResult], target: Target, passes: bool, verbose: bool, paint: Painter) {
    for r in results {
        match r.verdict {
            Verdict::Pass if passes => println!("{}   {}", paint.pass("ok"), clean(&r.name())),
            Verdict::Fail => {
                println!("{} {}", paint.fail("FAIL"), clean(&r.name()));
                for line in &r.detail {
                    println!("     {}", clean_lines(line).replace('\n', "\n     "));
                }
            }
            Verdict::Skip if verbose => {
                println!("{} {} ({})", paint.skip("SKIP"), clean(&r.name()), clean(&r.detail.join("; ")))
            }
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
            println!("{} {n} trial(s): {}", paint.skip("SKIP"), clean(&reason));
        }
    }
    println!("\ntarget: {}\n", target.name());
    print!("{}", report::table(results));
}

/// The JUnit and Markdown files a run was asked for.
fn write_reports(results: &[TrialResult], target: Target, outputs: &Outputs) {
    if let Some(p) = &outputs.junit {
        if let Err(e) = std::fs::write(p, report::junit(results)) {
            eprintln!("error: cannot write {}: {}", shown(p.display()), shown(e));
        }
    }
    if let Some(p) = &outputs.markdown {
        let md = report::markdown(results, &format!("apiconform: {} target", target.name()));
        let written = std::fs::OpenOptions::new().create(true).append(true).open(p).and_then(|mut f| {
            use std::io::Write;
            f.write_all(md.as_bytes())
        });
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {}", shown(p.display()), shown(e));
        }
    }
}

/// The results document: printed (`--format json`), saved, rendered as HTML.
fn write_documents(doc: &apiconform::results::RunResults, outputs: &Outputs) {
    let text = serde_json::to_string_pretty(doc).unwrap_or_default();
    if outputs.json {
        println!("{text}");
    }
    if let Some(p) = &outputs.results {
        if let Err(e) = std::fs::write(p, &text) {
            eprintln!("error: cannot write {}: {}", shown(p.display()), shown(e));
        }
    }
    if let Some(p) = &outputs.html {
        if let Err(e) = std::fs::write(p, apiconform::html::render(doc, outputs.sdk_diff.as_ref())) {
            eprintln!("error: cannot write {}: {}", shown(p.display()), shown(e));
        }
    }
}

fn read_sdk_diff(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    if !v.is_array() {
        return Err(format!("{}: expected a list of flavours (`apiconform sdk diff --format json`)", path.display()));
    }
    Ok(v)
}

fn report_cmd(results: &[PathBuf], html: Option<PathBuf>, sdk_diff: Option<PathBuf>, format: Format) -> ExitCode {
    let loaded = results
        .iter()
        .map(|p| apiconform::results::read(p))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|docs| apiconform::results::merge(docs).ok_or_else(|| "no results file".to_string()))
        .and_then(|doc| Ok((doc, sdk_diff.as_deref().map(read_sdk_diff).transpose()?)));
    let (doc, sdk) = match loaded {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {}", shown(e));
            return ExitCode::from(2);
        }
    };
    if let Some(p) = &html {
        if let Err(e) = std::fs::write(p, apiconform::html::render(&doc, sdk.as_ref())) {
            eprintln!("error: cannot write {}: {}", shown(p.display()), shown(e));
            return ExitCode::from(2);
        }
    }
    let failed = doc.trials.iter().filter(|t| t.verdict == "fail").count();
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default()),
        Format::Table => {
            let n = |v: &str| doc.trials.iter().filter(|t| t.verdict == v).count();
            println!(
                "{} ({}): {} passed, {failed} failed, {} skipped",
                clean(&doc.targets.join(", ")),
                clean(&doc.finished_at),
                n("pass"),
                n("skip")
            );
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn lint(cases: &CasesArgs, format: Format) -> ExitCode {
    let (suite, problems) = match load_quiet(cases) {
        Ok(s) => (Some(s), Vec::new()),
        Err(d) => (None, d.0),
    };
    if format == Format::Json {
        let problems: Vec<serde_json::Value> = problems
            .iter()
            .map(|d| {
                serde_json::json!({
                    "file": d.file, "line": d.pos.line, "column": d.pos.column,
                    "message": d.message, "hint": d.hint,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "ok": suite.is_some(),
            "cases": suite.as_ref().map(Suite::case_count),
            "apis": suite.as_ref().map(|s| s.apis.len()),
            "problems": problems,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else if let Some(s) = &suite {
        println!("ok: {} cases in {} APIs", s.case_count(), s.apis.len());
    } else {
        eprintln!(
            "{}\n\n{} problem(s) in the case files",
            apiconform::diag::Diagnostics(problems.clone()),
            problems.len()
        );
    }
    if suite.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn load_quiet(cases: &CasesArgs) -> Result<Suite, apiconform::diag::Diagnostics> {
    let files = embedded_files();
    apiconform::shipped::load(shipped_tree(&files), source_of(cases))
}

fn source_of(cases: &CasesArgs) -> apiconform::shipped::Source<'_> {
    match (&cases.dir, cases.no_shipped) {
        (None, _) => apiconform::shipped::Source::Shipped,
        (Some(d), false) => apiconform::shipped::Source::Overlay(d),
        (Some(d), true) => apiconform::shipped::Source::Only(d),
    }
}

fn init(dir: &Path) -> ExitCode {
    match apiconform::scaffold::init(dir) {
        Ok(files) => {
            for f in files {
                println!("wrote {}", shown(f.display()));
            }
            println!(
                "\nnext: cd {} && apiconform --cases . lint && apiconform --cases . run my-",
                shown(dir.display())
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", shown(e));
            ExitCode::from(2)
        }
    }
}

fn new_case(cases: &CasesArgs, case: &str, into: Option<PathBuf>) -> ExitCode {
    let suite = match load(cases) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let root = into.or_else(|| cases.dir.clone()).unwrap_or_else(|| PathBuf::from("."));
    match apiconform::scaffold::new_case(&suite, &root, case) {
        Ok(file) => {
            println!("wrote {}", shown(file.display()));
            println!(
                "next: quote the doc's condition, adjust `expect:`, then `apiconform --cases {} lint`",
                shown(root.display())
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", shown(e));
            ExitCode::from(2)
        }
    }
}

fn coverage(suite: &Suite, format: Format, check: bool) -> ExitCode {
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
        Format::Json => println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default()),
        Format::Table => print!("{}", m.render()),
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

fn serve(cases: &CasesArgs, addr: &str, flow_control: bool, control: ControlOpts) -> ExitCode {
    let suite = match load(cases) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let emulator = apiconform::emulator::Emulator::from_suite(&suite);
    emulator.set_flow_control(flow_control);
    // A server's memory is taken at start, not while the nonce store fills.
    emulator.reserve_memory();
    // `GET /_apiconform/requests?vendor=V` shows what clients sent with the
    // default keys (bounded per key).
    emulator.watch_default_keys();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {}", shown(e));
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
                eprintln!("error: cannot listen on {addr}: {}", shown(e));
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
                eprintln!("error: {}", shown(e));
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
        for (vendor, ak, _) in apiconform::emulator::default_credentials() {
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
