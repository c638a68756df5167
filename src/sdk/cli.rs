//! `apiconform sdk ...`: the command line of the SDK-upgrade workflow.

use super::commands;
use super::trial::SdkHarness;
use super::Flavour;
use crate::suite::Suite;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SdkCommand {
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

/// Runs one `apiconform sdk` command. `cases` is the repository's cases
/// directory: the drivers, lock files and snapshots sit beside it.
pub fn run(cases: &Path, command: SdkCommand) -> ExitCode {
    let root = super::root_for(cases);
    let snapshots = super::snapshots_for(cases);
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
    let suite = match Suite::load(cases) {
        Ok(s) => std::sync::Arc::new(s),
        Err(d) => {
            eprintln!("{d}\n\n{} problem(s) in the case files", d.0.len());
            return ExitCode::from(2);
        }
    };
    let h = match SdkHarness::start(suite) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot start the emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        SdkCommand::Setup { .. } => unreachable!("handled above"),
        SdkCommand::Record { filters, .. } => sdk_record(&h, &root, &snapshots, &flavours, &filters),
        diff @ SdkCommand::Diff { .. } => sdk_diff(&h, &root, &flavours, diff),
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

/// Diffs every flavour's snapshots against an upgrade and writes the
/// report; true when a breaking change is not accepted.
fn sdk_diff(h: &SdkHarness, root: &Path, flavours: &[&'static Flavour], command: SdkCommand) -> Result<bool, String> {
    let SdkCommand::Diff { package, from, to, format, output, filters, .. } = command else {
        return Err("not a diff command".into());
    };
    let mut diffs = Vec::new();
    for f in flavours {
        let req = commands::DiffRequest {
            flavour: f,
            package: package.as_deref(),
            from: from.as_deref(),
            to: &to,
            filters: &filters,
        };
        diffs.push(commands::diff(h, root, &req).map_err(|e| format!("{}: {e}", f.name))?);
    }
    let text = match format.as_str() {
        "json" => serde_json::to_string_pretty(&diffs).unwrap_or_default(),
        "markdown" => super::diff::markdown(&diffs),
        _ => super::diff::text(&diffs),
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

/// Records every flavour; true when a case failed.
fn sdk_record(
    h: &SdkHarness,
    root: &Path,
    snapshots: &Path,
    flavours: &[&'static Flavour],
    filters: &[String],
) -> Result<bool, String> {
    let mut failed = false;
    for f in flavours {
        let r = commands::record(h, root, snapshots, f, filters)?;
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
