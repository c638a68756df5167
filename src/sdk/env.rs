//! Building a flavour's environment: a Python virtualenv or a Node
//! `node_modules`, in a cache directory.
//!
//! An environment is keyed by the hash of its whole dependency set, not
//! only the top package's version: a newer transitive package (a credentials
//! library, say) can change the wire, so it must be a different
//! environment. A finished environment holds a marker file with the
//! resolved set; an unfinished one (an interrupted install) is rebuilt.
//!
//! The cache is `$APICONFORM_SDK_CACHE`, else `$XDG_CACHE_HOME/apiconform/sdk`,
//! else `~/.cache/apiconform/sdk`. A Volcengine virtualenv alone is several
//! hundred MB: CI keeps this directory between runs.

use super::{Flavour, Language};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

const READY: &str = ".apiconform-ready";

/// Which dependency set to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// The flavour's lock files under `sdk/flavours/<name>/`.
    Locked,
    /// `package` at `version` (or `latest`): the exact set the repository
    /// pins as `sdk/upgrades/<flavour>-<version>.txt` (Python) or
    /// `sdk/upgrades/<flavour>-<version>/` (Node) when there is one (a label
    /// such as `7.3.0+tea-openapi-0.3.16` names such a set), else the locked
    /// set with that package moved (and what the installer must move with it).
    Version { package: String, version: String },
}

impl Pin {
    pub fn label(&self, f: &Flavour) -> String {
        match self {
            Pin::Locked => "locked".into(),
            Pin::Version { package, version } if package == f.package => version.clone(),
            Pin::Version { package, version } => format!("{package} {version}"),
        }
    }
}

/// A built environment.
#[derive(Debug, Clone)]
pub struct Env {
    pub dir: PathBuf,
    pub language: Language,
    /// The whole resolved set: `pip freeze`, or the `package-lock.json`.
    pub resolved: String,
}

pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("APICONFORM_SDK_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("apiconform").join("sdk")
}

/// The lock files of a flavour, as (file name, contents).
pub fn lock_files(sdk: &Path, f: &Flavour) -> Result<Vec<(String, String)>, String> {
    let dir = sdk.join("flavours").join(f.name);
    let names: &[&str] = match f.language {
        Language::Python => &["requirements.txt"],
        Language::Node => &["package.json", "package-lock.json"],
    };
    names
        .iter()
        .map(|n| {
            let p = dir.join(n);
            std::fs::read_to_string(&p).map(|c| (n.to_string(), c)).map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

/// The exact dependency set the repository pins for `label`, if any.
fn pinned_set(sdk: &Path, f: &Flavour, label: &str) -> Option<Vec<(String, String)>> {
    let base = sdk.join("upgrades");
    match f.language {
        Language::Python => {
            let set = std::fs::read_to_string(base.join(format!("{}-{label}.txt", f.name))).ok()?;
            Some(vec![("requirements.txt".into(), set)])
        }
        Language::Node => {
            let dir = base.join(format!("{}-{label}", f.name));
            ["package.json", "package-lock.json"]
                .iter()
                .map(|n| std::fs::read_to_string(dir.join(n)).ok().map(|c| (n.to_string(), c)))
                .collect()
        }
    }
}

/// The environment of `f` pinned by `pin` if the cache already holds it
/// (nothing is installed).
pub fn cached(sdk: &Path, f: &Flavour, pin: &Pin) -> Option<Env> {
    let dir = plan(sdk, f, pin).ok()?.dir;
    let resolved = std::fs::read_to_string(dir.join(READY)).ok()?;
    Some(Env { dir, language: f.language, resolved })
}

/// Builds (or finds in the cache) the environment of `f` pinned by `pin`.
pub fn build(sdk: &Path, f: &Flavour, pin: &Pin) -> Result<Env, String> {
    let p = plan(sdk, f, pin)?;
    build_at(f, p.dir, &p.files, p.upgrade.as_ref())
}

/// What to install, and the cache directory it goes in.
struct Plan {
    /// Lock files as (name, contents).
    files: Vec<(String, String)>,
    /// A package to move after installing the lock: (package, version).
    upgrade: Option<(String, String)>,
    dir: PathBuf,
}

fn plan(sdk: &Path, f: &Flavour, pin: &Pin) -> Result<Plan, String> {
    let mut files = lock_files(sdk, f)?;
    let mut upgrade = None;
    if let Pin::Version { package, version } = pin {
        match pinned_set(sdk, f, version) {
            Some(set) => files = set,
            None => upgrade = Some((package.clone(), version.clone())),
        }
    }
    let mut h = Sha256::new();
    for (n, c) in &files {
        h.update(n.as_bytes());
        h.update(c.as_bytes());
    }
    if let Some((p, v)) = &upgrade {
        h.update(format!("upgrade {p} {v}").as_bytes());
    }
    let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let lang = if f.language == Language::Python { "py" } else { "node" };
    let dir = cache_root().join(format!("{lang}-{key}"));
    Ok(Plan { files, upgrade, dir })
}

fn build_at(
    f: &Flavour,
    dir: PathBuf,
    files: &[(String, String)],
    upgrade: Option<&(String, String)>,
) -> Result<Env, String> {
    let key = dir.file_name().and_then(|n| n.to_str()).unwrap_or("env").to_string();
    std::fs::create_dir_all(cache_root()).map_err(|e| format!("cannot create {}: {e}", cache_root().display()))?;
    // One builder per environment, across threads and processes (parallel
    // tests, a CLI run beside `cargo test`): the others wait, then find it.
    let lock_path = cache_root().join(format!("{key}.lock"));
    let lock = std::fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if let Ok(resolved) = std::fs::read_to_string(dir.join(READY)) {
        return Ok(Env { dir, language: f.language, resolved });
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let resolved = match f.language {
        Language::Python => build_python(&dir, files, upgrade)?,
        Language::Node => build_node(&dir, files, upgrade)?,
    };
    std::fs::write(dir.join(READY), &resolved).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Env { dir, language: f.language, resolved })
}

fn build_python(dir: &Path, files: &[(String, String)], upgrade: Option<&(String, String)>) -> Result<String, String> {
    let python = std::env::var("APICONFORM_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python).args(["-m", "venv"]).arg(dir))?;
    let req = dir.join("requirements.lock.txt");
    std::fs::write(&req, &files[0].1).map_err(|e| e.to_string())?;
    let pip = dir.join("bin").join("pip");
    let quiet = ["--disable-pip-version-check", "--quiet", "--no-input"];
    run(Command::new(&pip).arg("install").args(quiet).arg("--no-deps").arg("-r").arg(&req))?;
    if let Some((package, version)) = upgrade {
        let spec = if version == "latest" { package.clone() } else { format!("{package}=={version}") };
        run(Command::new(&pip).arg("install").args(quiet).args(["--upgrade", &spec]))?;
    }
    run(Command::new(&pip).args(["freeze", "--disable-pip-version-check"]))
}

fn build_node(dir: &Path, files: &[(String, String)], upgrade: Option<&(String, String)>) -> Result<String, String> {
    for (n, c) in files {
        std::fs::write(dir.join(n), c).map_err(|e| e.to_string())?;
    }
    let npm = |args: &[&str]| {
        run(Command::new("npm").args(args).args(["--no-audit", "--no-fund", "--ignore-scripts"]).current_dir(dir))
    };
    npm(&["ci", "--silent"])?;
    if let Some((package, version)) = upgrade {
        npm(&["install", "--silent", &format!("{package}@{version}")])?;
    }
    std::fs::read_to_string(dir.join("package-lock.json")).map_err(|e| e.to_string())
}

/// Runs a build step; a failure quotes the end of what it printed.
fn run(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!("{shown} failed ({}):\n{}", out.status, tail.join("\n")))
}
