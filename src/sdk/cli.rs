//! `apiconform sdk ...`: the command line of the SDK-upgrade workflow.
//!
//! Exit codes: 0 done (for `diff`: no unaccepted breaking change); 1 a
//! case failed (`record`) or an unaccepted breaking change (`diff`); 2 a
//! usage error, a case-file error, or no result (an environment that cannot
//! be built or run, a dependency conflict, a moved package the SDK does not
//! load, a report that cannot be written); 4 the filters select no case
//! (as `apiconform run`: nothing ran).

use super::bundle::{self, Bundle};
use super::commands::{self, Context};
use super::{names, Flavour};
use crate::diag::Diagnostics;
use crate::suite::Suite;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SdkCommand {
    /// The flavours: vendor, language, package, driver and wire (from sdk/flavours/*/flavour.json).
    List {
        /// `text` or `json`.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
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
    Diff(DiffArgs),
    /// Promote a reviewed version: its resolved set becomes the flavour's lock, and its snapshots are re-recorded.
    Accept {
        flavour: String,
        version: String,
        #[arg(long)]
        package: Option<String>,
    },
    /// Remove every cached environment but the flavours' locked ones.
    Gc {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

// The arguments of `apiconform sdk diff` (its help is the variant's).
#[derive(clap::Args)]
pub struct DiffArgs {
    #[arg(long = "flavour", value_name = "FLAVOUR", required = true)]
    flavours: Vec<String>,
    /// The package that moves (default: the flavour's SDK package).
    #[arg(long)]
    package: Option<String>,
    /// The old version (default: the locked set).
    #[arg(long)]
    from: Option<String>,
    /// The new version, or `latest` (the newest published, looked up now).
    #[arg(long)]
    to: String,
    /// `text`, `markdown` or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "markdown", "json"])]
    format: String,
    /// Write the report here instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Only cases whose name (`vendor::service::Action::case`) contains one of these.
    filters: Vec<String>,
}

/// Nothing selected, nothing ran (the runner's and nextest's convention).
const EXIT_EMPTY: u8 = 4;

fn usage(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {}", crate::term::shown(e));
    ExitCode::from(2)
}

/// Runs one `apiconform sdk` command; `load` loads the cases (`--cases`
/// honoured).
pub fn run(load: &dyn Fn() -> Result<Suite, Diagnostics>, command: SdkCommand) -> ExitCode {
    let b = match bundle::get() {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let names = match &command {
        SdkCommand::Setup { flavours } | SdkCommand::Record { flavours, .. } => flavours.clone(),
        SdkCommand::Diff(d) => d.flavours.clone(),
        SdkCommand::Accept { flavour, .. } => vec![flavour.clone()],
        SdkCommand::List { .. } | SdkCommand::Gc { .. } => Vec::new(),
    };
    let flavours = match b.select(&names) {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    if let Some(code) = without_cases(b, &flavours, &command) {
        return code;
    }
    if let Err(e) = check_args(&command, &flavours) {
        return usage(e);
    }
    let suite = match load() {
        Ok(s) => s,
        Err(d) => {
            eprintln!("{d}\n\n{} problem(s) in the case files", d.0.len());
            return ExitCode::from(2);
        }
    };
    let harness = match crate::runner::Harness::start(&suite) {
        Ok(h) => h,
        Err(e) => return usage(format!("cannot start the emulator: {e}")),
    };
    let cx = Context { bundle: b, harness: &harness, suite: &suite };
    let snapshots = super::snapshots_for(&suite.root);
    let filters = match &command {
        SdkCommand::Record { filters, .. } => filters.as_slice(),
        SdkCommand::Diff(d) => d.filters.as_slice(),
        _ => &[],
    };
    if flavours.iter().all(|f| commands::cases_for(&suite, f, filters).is_empty()) {
        eprintln!("error: no case of these flavours' vendors matches {filters:?}: nothing to run");
        return ExitCode::from(EXIT_EMPTY);
    }
    match command {
        SdkCommand::Record { filters, .. } => exit(sdk_record(&cx, &snapshots, &flavours, &filters)),
        SdkCommand::Diff(args) => sdk_diff(&cx, &flavours, args),
        SdkCommand::Accept { flavour, version, package } => {
            let f = flavours[0];
            let package = package.unwrap_or_else(|| f.package.clone());
            exit(commands::accept(b, f, &package, &version).and_then(|()| {
                println!("{flavour}: the lock now holds {package} {version}; re-recording its snapshots");
                sdk_record(&cx, &snapshots, &flavours, &[])
            }))
        }
        _ => unreachable!("handled above"),
    }
}

/// The commands that need no cases nor emulator: `list`, `setup`, `gc`.
fn without_cases(b: &'static Bundle, flavours: &[&Flavour], command: &SdkCommand) -> Option<ExitCode> {
    let done = |r: Result<(), String>| Some(r.map_or_else(usage, |()| ExitCode::SUCCESS));
    match command {
        SdkCommand::List { format } => {
            print!("{}", commands::list(b, format == "json"));
            Some(ExitCode::SUCCESS)
        }
        SdkCommand::Setup { .. } => done(commands::setup(b, flavours)),
        SdkCommand::Gc { dry_run } => {
            done(commands::gc(b, *dry_run).map(|lines| lines.iter().for_each(|l| println!("{l}"))))
        }
        _ => None,
    }
}

/// The values a command hands to an installer, before anything runs.
fn check_args(command: &SdkCommand, flavours: &[&Flavour]) -> Result<(), String> {
    match command {
        SdkCommand::Diff(args) => check_diff(args, flavours),
        SdkCommand::Accept { version, package, .. } => {
            let f = flavours[0];
            names::package(f.language, package.as_deref().unwrap_or(&f.package))?;
            names::version(f.language, version)
        }
        _ => Ok(()),
    }
}

fn exit(r: Result<bool, String>) -> ExitCode {
    match r {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::FAILURE,
        Err(e) => usage(e),
    }
}

/// The package and versions against each flavour's registry grammar, and
/// the report path, before anything is built.
fn check_diff(args: &DiffArgs, flavours: &[&Flavour]) -> Result<(), String> {
    for f in flavours {
        let package = args.package.as_deref().unwrap_or(&f.package);
        names::package(f.language, package).map_err(|e| format!("--package: {e}"))?;
        names::version(f.language, &args.to).map_err(|e| format!("--to: {e}"))?;
        if let Some(v) = &args.from {
            names::version(f.language, v).map_err(|e| format!("--from: {e}"))?;
        }
    }
    if let Some(out) = &args.output {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .map_err(|e| format!("--output {}: cannot write there: {e}", out.display()))?;
    }
    Ok(())
}

/// Records every flavour; true when a case failed.
fn sdk_record(
    cx: &Context,
    snapshots: &std::path::Path,
    flavours: &[&Flavour],
    filters: &[String],
) -> Result<bool, String> {
    let mut failed = false;
    for f in flavours {
        let r = commands::record(cx, snapshots, f, filters)?;
        println!(
            "{:<20} {} passed, {} failed, {} unsupported, {} listed divergences",
            f.name,
            r.passed,
            r.failed.len(),
            r.unsupported,
            r.divergences
        );
        for line in &r.failed {
            println!("  FAILED {}", crate::term::clean(line));
        }
        if let Some(e) = r.env_errors.first() {
            return Err(format!("{}: {} trial(s) could not run; the first: {e}", f.name, r.env_errors.len()));
        }
        failed |= !r.failed.is_empty();
    }
    Ok(failed)
}

/// Diffs every flavour: exit 2 when one has no result, 1 on an unaccepted
/// breaking change, else 0.
fn sdk_diff(cx: &Context, flavours: &[&Flavour], args: DiffArgs) -> ExitCode {
    let DiffArgs { package, from, to, format, output, filters, .. } = args;
    let diffs: Vec<_> = flavours
        .iter()
        .map(|f| {
            let req = commands::DiffRequest {
                flavour: f,
                package: package.as_deref().unwrap_or(&f.package),
                from: from.as_deref(),
                to: &to,
                filters: &filters,
            };
            commands::diff(cx, &req)
        })
        .collect();
    let text = match format.as_str() {
        "json" => serde_json::to_string_pretty(&diffs).unwrap_or_default(),
        "markdown" => super::render::markdown(&diffs),
        _ => super::render::text(&diffs),
    };
    let written = match &output {
        Some(p) => std::fs::write(p, &text).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            println!("{}", crate::term::clean_lines(&text));
            Ok(())
        }
    };
    if let Err(e) = written {
        return usage(e);
    }
    for d in diffs.iter().filter(|d| !d.problems.is_empty()) {
        eprintln!(
            "error: {}: no result: {}",
            d.flavour,
            crate::term::clean(d.problems[0].lines().next().unwrap_or(""))
        );
    }
    ExitCode::from(diffs.iter().map(|d| d.exit_code()).max().unwrap_or(0))
}

/// The bundle's flavour list, for tests and benches.
pub fn flavours() -> Result<&'static [Flavour], String> {
    bundle::get().map(Bundle::flavours)
}
