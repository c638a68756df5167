//! Environments: a Python virtualenv or a Node `node_modules`, built from a
//! whole resolved dependency set in the SDK cache.
//!
//! - **Resolved first, built fresh.** A pin is resolved to a complete set
//!   of exact versions before anything is installed: the flavour's lock,
//!   an exact set under `sdk/upgrades/`, or the lock with one package moved
//!   (pip's resolver in dry-run, or `npm install --package-lock-only`,
//!   moves what must move with it; `latest` is looked up at each run). The
//!   environment is then built from nothing with that set, so no file of
//!   another version can remain in it.
//! - **Keyed by content.** The cache directory's name is a hash of the
//!   set's canonical content (and the Python version), not of a label:
//!   identical sets share one environment, and `latest` moving is a new one.
//! - **Checked.** `pip check` (or `npm ls --all`) must pass; a conflict is
//!   the build's error, and is remembered so the next run fails fast.
//! - **Bounded.** Each environment records its size and last use; past
//!   the cap (`APICONFORM_SDK_CACHE_MAX`, default 8G) the least recently
//!   used ones that no process is using are removed. `apiconform sdk gc`
//!   removes every environment but the flavours' locked ones.
//!
//! The cache is `$APICONFORM_SDK_CACHE`, else `$XDG_CACHE_HOME/apiconform/sdk`,
//! else `~/.cache/apiconform/sdk`.

use super::bundle::Bundle;
use super::{Flavour, Language};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

const READY: &str = ".apiconform-ready";
const CONFLICT: &str = ".apiconform-conflict";
const USED: &str = ".apiconform-used";
const SIZE: &str = ".apiconform-size";
const DEFAULT_CAP: u64 = 8 << 30;

/// Which dependency set to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// The flavour's lock files under `sdk/flavours/<name>/`.
    Locked,
    /// `package` at `version` (or `latest`): the exact set pinned as
    /// `sdk/upgrades/<flavour>-<version>.txt` (or `.../<flavour>-<version>/`
    /// for Node) when there is one, else the lock with that package moved.
    Version { package: String, version: String },
}

impl Pin {
    pub fn label(&self, f: &Flavour) -> String {
        match self {
            Pin::Locked => "locked".into(),
            Pin::Version { package, version } if *package == f.package => version.clone(),
            Pin::Version { package, version } => format!("{package} {version}"),
        }
    }
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

/// A resolved set, ready to build.
#[derive(Debug, Clone)]
pub struct Plan {
    pub language: Language,
    /// The files to install from, as (name, contents).
    pub files: Vec<(String, String)>,
    /// `py-<hash>` or `node-<hash>`: the cache directory's name.
    pub key: String,
    pub packages: usize,
    /// The package that moved and the exact version it resolved to.
    pub moved: Option<(String, String)>,
}

impl Plan {
    pub fn dir(&self) -> PathBuf {
        cache_root().join(&self.key)
    }

    /// Whether the cache holds it already.
    pub fn built(&self) -> bool {
        self.dir().join(READY).is_file()
    }
}

/// A built environment, held in use (a shared lock) while a value lives.
#[derive(Debug, Clone)]
pub struct Env {
    pub dir: PathBuf,
    pub language: Language,
    pub key: String,
    /// The whole resolved set in canonical form: `name==version` lines, or
    /// the lock's packages as JSON.
    pub resolved: String,
    _in_use: Arc<File>,
}

impl Env {
    /// An environment at `dir` that no cache manages (tests of the driver).
    #[cfg(test)]
    pub(crate) fn at(dir: &Path, language: Language) -> Env {
        let lock = File::open(dir).expect("the directory opens");
        Env { dir: dir.to_path_buf(), language, key: "test".into(), resolved: String::new(), _in_use: Arc::new(lock) }
    }

    /// Installed package → version, as the set pins it.
    pub fn versions(&self) -> BTreeMap<String, String> {
        match self.language {
            Language::Python => {
                self.resolved.lines().filter_map(|l| l.split_once("==")).map(|(n, v)| (n.into(), v.into())).collect()
            }
            Language::Node => {
                let v: serde_json::Value = serde_json::from_str(&self.resolved).unwrap_or_default();
                let packages = v.get("packages").and_then(|p| p.as_object()).cloned().unwrap_or_default();
                packages
                    .iter()
                    .filter_map(|(k, e)| {
                        let name = k.rsplit_once("node_modules/").map(|(_, n)| n)?;
                        Some((
                            k.strip_prefix("node_modules/").unwrap_or(name).to_string(),
                            e.get("version")?.as_str()?.into(),
                        ))
                    })
                    .collect()
            }
        }
    }
}

/// Resolves `pin` of `f` to a complete set (this may ask the registry, and
/// build the locked environment to resolve a move against).
pub fn plan(b: &Bundle, f: &Flavour, pin: &Pin, note: &dyn Fn(&str)) -> Result<Plan, String> {
    let (files, moved) = match pin {
        Pin::Locked => (b.lock_files(f), None),
        Pin::Version { version, .. } if b.pinned_set(f, version).is_some() => {
            (b.pinned_set(f, version).unwrap_or_default(), None)
        }
        Pin::Version { package, version } => {
            let exact = match version.as_str() {
                "latest" => {
                    note(&format!("looking up the newest {package}"));
                    newest(f.language, package)?
                }
                v => v.to_string(),
            };
            let files = resolve_move(b, f, package, &exact, note)?;
            (files, Some((package.clone(), exact)))
        }
    };
    keyed(f.language, files, moved)
}

/// The plan of a set already resolved (no registry).
fn keyed(language: Language, files: Vec<(String, String)>, moved: Option<(String, String)>) -> Result<Plan, String> {
    let (canonical, packages) = canonical(language, &files)?;
    let mut h = Sha256::new();
    h.update(language.name());
    if language == Language::Python {
        h.update(python_version()?);
    }
    h.update(&canonical);
    let hash: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let prefix = if language == Language::Python { "py" } else { "node" };
    let files = match language {
        // Installed from the canonical list: comments and spelling of the
        // lock file do not matter, and nothing but `name==version` is read.
        Language::Python => vec![("requirements.txt".into(), canonical)],
        Language::Node => files,
    };
    Ok(Plan { language, files, key: format!("{prefix}-{hash}"), packages, moved })
}

/// The set's canonical content (what the key hashes) and its package count.
fn canonical(language: Language, files: &[(String, String)]) -> Result<(String, usize), String> {
    let get = |n: &str| files.iter().find(|(f, _)| f == n).map(|(_, c)| c.as_str()).unwrap_or("");
    match language {
        Language::Python => {
            let mut pins = Vec::new();
            for line in get("requirements.txt").lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let (name, version) = line
                    .split_once("==")
                    .map(|(n, v)| (n.trim(), v.trim()))
                    .filter(|(n, v)| {
                        super::names::package(language, n).is_ok() && super::names::version(language, v).is_ok()
                    })
                    .ok_or_else(|| format!("`{line}` in a pinned set is not `name==version`"))?;
                pins.push(format!("{}=={version}", normalize(name)));
            }
            pins.sort();
            pins.dedup();
            let n = pins.len();
            Ok((pins.iter().map(|p| format!("{p}\n")).collect(), n))
        }
        Language::Node => {
            let lock: serde_json::Value =
                serde_json::from_str(get("package-lock.json")).map_err(|e| format!("package-lock.json: {e}"))?;
            let manifest: serde_json::Value =
                serde_json::from_str(get("package.json")).map_err(|e| format!("package.json: {e}"))?;
            let mut packages = lock
                .get("packages")
                .and_then(|p| p.as_object())
                .cloned()
                .ok_or("package-lock.json has no `packages`")?;
            if let Some(root) = packages.get_mut("").and_then(|r| r.as_object_mut()) {
                root.remove("name");
                root.remove("version");
            }
            let n = packages.len().saturating_sub(1);
            let deps = manifest.get("dependencies").cloned().unwrap_or_default();
            Ok((serde_json::json!({ "dependencies": deps, "packages": packages }).to_string(), n))
        }
    }
}

/// PEP 503: lowercase, runs of `-_.` as one `-`.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '-' | '_' | '.' if out.ends_with('-') => {}
            '-' | '_' | '.' => out.push('-'),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

fn python() -> String {
    std::env::var("APICONFORM_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `3.11.7`: a venv belongs to one interpreter, so it is part of the key.
fn python_version() -> Result<&'static str, String> {
    static V: OnceLock<Result<String, String>> = OnceLock::new();
    V.get_or_init(|| {
        let code = "import sys; print('%d.%d.%d' % sys.version_info[:3])";
        run(Command::new(python()).args(["-c", code])).map(|v| v.trim().to_string())
    })
    .as_ref()
    .map(String::as_str)
    .map_err(|e| format!("no Python interpreter: {e}"))
}

/// The newest published version of `package` (at this moment).
pub fn newest(language: Language, package: &str) -> Result<String, String> {
    super::names::package(language, package)?;
    let out = match language {
        Language::Python => {
            let mut c = Command::new(python());
            c.args(["-m", "pip", "index", "versions", "--disable-pip-version-check", "--no-input", "--", package]);
            run(&mut c)?
        }
        Language::Node => run(Command::new("npm").args(["view", "--silent", "--", package, "version"]))?,
    };
    // pip: `name (1.2.3)` on the first line; npm: the version alone.
    let first = out.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let v = first.rsplit_once('(').map(|(_, v)| v.trim_end_matches(')')).unwrap_or(first).to_string();
    super::names::version(language, &v).map_err(|e| format!("the registry's newest {package}: {e}"))?;
    Ok(v)
}

/// The lock of `f` with `package` moved to `version`, and what its
/// installer moves with it (remembered per base set, package and version).
fn resolve_move(
    b: &Bundle,
    f: &Flavour,
    package: &str,
    version: &str,
    note: &dyn Fn(&str),
) -> Result<Vec<(String, String)>, String> {
    let base = keyed(f.language, b.lock_files(f), None)?;
    let memo = cache_root().join("resolutions").join(format!("{}-{}-{version}", base.key, normalize(package)));
    let names = f.language.lock_files();
    if let Some(files) =
        names.iter().map(|n| Some((n.to_string(), std::fs::read_to_string(memo.join(n)).ok()?))).collect()
    {
        return Ok(files);
    }
    note(&format!("resolving {package} {version} against the lock"));
    let files = match f.language {
        Language::Python => {
            let env = build(&base, note)?;
            let report = memo.with_extension("report.json");
            std::fs::create_dir_all(cache_root().join("resolutions")).map_err(|e| e.to_string())?;
            let mut c = Command::new(env.dir.join("bin").join("python"));
            c.args(["-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check", "--no-input"])
                .arg("--report")
                .arg(&report)
                .args(["--", &format!("{package}=={version}")]);
            run(&mut c).map_err(|e| format!("pip cannot install {package}=={version} into the locked set: {e}"))?;
            let text = std::fs::read_to_string(&report).map_err(|e| e.to_string())?;
            let _ = std::fs::remove_file(&report);
            vec![("requirements.txt".to_string(), merged(&env.resolved, &text)?)]
        }
        Language::Node => {
            let scratch = scratch_dir("resolve")?;
            for (n, c) in &base.files {
                std::fs::write(scratch.join(n), c).map_err(|e| e.to_string())?;
            }
            let mut c = Command::new("npm");
            c.args(["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund", "--save-exact"])
                .args(["--silent", "--", &format!("{package}@{version}")])
                .current_dir(&scratch);
            let out =
                run(&mut c).map_err(|e| format!("npm cannot install {package}@{version} into the locked set: {e}"));
            let files = out.and_then(|_| {
                names
                    .iter()
                    .map(|n| Ok((n.to_string(), std::fs::read_to_string(scratch.join(n)).map_err(|e| e.to_string())?)))
                    .collect()
            });
            let _ = std::fs::remove_dir_all(&scratch);
            files?
        }
    };
    std::fs::create_dir_all(&memo).map_err(|e| format!("{}: {e}", memo.display()))?;
    for (n, c) in &files {
        std::fs::write(memo.join(n), c).map_err(|e| format!("{}: {e}", memo.display()))?;
    }
    Ok(files)
}

/// The locked set with pip's dry-run report (`--report`) laid over it.
fn merged(locked: &str, report: &str) -> Result<String, String> {
    let r: serde_json::Value = serde_json::from_str(report).map_err(|e| format!("pip's report: {e}"))?;
    let mut pins: BTreeMap<String, String> =
        locked.lines().filter_map(|l| l.split_once("==")).map(|(n, v)| (n.to_string(), v.to_string())).collect();
    for item in r.get("install").and_then(|i| i.as_array()).into_iter().flatten() {
        let (Some(n), Some(v)) = (item.pointer("/metadata/name"), item.pointer("/metadata/version")) else { continue };
        pins.insert(normalize(n.as_str().unwrap_or_default()), v.as_str().unwrap_or_default().to_string());
    }
    Ok(pins.iter().map(|(n, v)| format!("{n}=={v}\n")).collect())
}

/// A fresh scratch directory in the cache.
fn scratch_dir(what: &str) -> Result<PathBuf, String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = cache_root().join(format!("tmp-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// The environment of `plan` if the cache holds it (nothing is installed).
pub fn cached(plan: &Plan) -> Option<Env> {
    let dir = plan.dir();
    let lock = File::create(cache_root().join(format!("{}.lock", plan.key))).ok()?;
    lock.lock_shared().ok()?;
    let resolved = std::fs::read_to_string(dir.join(READY)).ok()?;
    touch(&dir);
    Some(Env { dir, language: plan.language, key: plan.key.clone(), resolved, _in_use: Arc::new(lock) })
}

/// Builds `plan`'s environment, or finds it in the cache. `note` hears
/// what is being done.
pub fn build(plan: &Plan, note: &dyn Fn(&str)) -> Result<Env, String> {
    let root = cache_root();
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    // One builder per environment, across threads and processes; users
    // hold it shared, so an eviction never removes one in use.
    let lock_path = root.join(format!("{}.lock", plan.key));
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    let locked = |r: std::io::Result<()>| r.map_err(|e| format!("cannot lock {}: {e}", lock_path.display()));
    let dir = plan.dir();
    let finished = || match std::fs::read_to_string(dir.join(READY)) {
        Ok(resolved) => Some(Ok(resolved)),
        Err(_) => std::fs::read_to_string(dir.join(CONFLICT)).ok().map(Err),
    };
    // A finished environment is only read: a shared lock (waiting for a
    // builder to finish). Building takes the lock alone.
    locked(lock.lock_shared())?;
    let result = match finished() {
        Some(r) => r,
        None => {
            locked(lock.unlock())?;
            if lock.try_lock().is_err() {
                note("waiting for another process building it");
                locked(lock.lock())?;
            }
            let r = finished().unwrap_or_else(|| build_fresh(plan, &dir, note));
            locked(lock.lock_shared())?;
            r
        }
    };
    let resolved = result?;
    touch(&dir);
    let env = Env { dir, language: plan.language, key: plan.key.clone(), resolved, _in_use: Arc::new(lock) };
    evict(&root, cap(), note);
    Ok(env)
}

fn build_fresh(plan: &Plan, dir: &Path, note: &dyn Fn(&str)) -> Result<String, String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let checked = match plan.language {
        Language::Python => build_python(dir, &plan.files[0].1, plan.packages, note)?,
        Language::Node => build_node(dir, &plan.files, plan.packages, note)?,
    };
    if let Err(conflict) = checked {
        let text = format!("the resolved set has a dependency conflict:\n{conflict}");
        let _ = std::fs::write(dir.join(CONFLICT), &text);
        return Err(text);
    }
    let (canonical, _) = canonical(plan.language, &plan.files)?;
    let _ = std::fs::write(dir.join(SIZE), size_of(dir).to_string());
    std::fs::write(dir.join(READY), &canonical).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(canonical)
}

/// Installs the pins; `Ok(Err(conflict))` when `pip check` finds one.
fn build_python(dir: &Path, pins: &str, n: usize, note: &dyn Fn(&str)) -> Result<Result<(), String>, String> {
    note("creating the virtualenv");
    run(Command::new(python()).args(["-m", "venv"]).arg(dir))?;
    let req = dir.join("requirements.lock.txt");
    std::fs::write(&req, pins).map_err(|e| e.to_string())?;
    let py = dir.join("bin").join("python");
    note(&format!("installing {n} packages"));
    let quiet = ["--disable-pip-version-check", "--quiet", "--no-input", "--progress-bar", "off"];
    run(Command::new(&py).args(["-m", "pip", "install"]).args(quiet).arg("--no-deps").arg("-r").arg(&req))?;
    note("pip check");
    Ok(run(Command::new(&py).args(["-m", "pip", "check", "--disable-pip-version-check"])).map(|_| ()))
}

/// Installs the lock; `Ok(Err(problems))` when `npm ls` finds some.
fn build_node(
    dir: &Path,
    files: &[(String, String)],
    n: usize,
    note: &dyn Fn(&str),
) -> Result<Result<(), String>, String> {
    for (name, c) in files {
        std::fs::write(dir.join(name), c).map_err(|e| e.to_string())?;
    }
    let npm = |args: &[&str]| {
        run(Command::new("npm").args(args).args(["--no-audit", "--no-fund", "--ignore-scripts"]).current_dir(dir))
    };
    note(&format!("installing {n} packages"));
    npm(&["ci", "--silent"])?;
    note("npm ls");
    Ok(npm(&["ls", "--all", "--silent"]).map(|_| ()).map_err(|e| {
        let problems: Vec<&str> = e
            .lines()
            .filter(|l| ["invalid", "missing", "UNMET", "extraneous", "ELSPROBLEMS"].iter().any(|w| l.contains(w)))
            .collect();
        if problems.is_empty() {
            e.clone()
        } else {
            problems.join("\n")
        }
    }))
}

/// Runs a build step; a failure quotes the end of what it printed.
fn run(cmd: &mut Command) -> Result<String, String> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    let out = cmd.output().map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("pip index is currently an experimental"))
        .collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    Err(format!("`{shown}` failed ({}):\n{tail}", out.status))
}

/// Marks an environment as just used (the eviction's order).
fn touch(dir: &Path) {
    let _ = std::fs::write(dir.join(USED), crate::clock::now_secs().to_string());
}

/// Bytes under `dir` (files only, symlinks not followed).
pub fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// `APICONFORM_SDK_CACHE_MAX`: `8G`, `500M`, or bytes.
pub fn cap() -> u64 {
    std::env::var("APICONFORM_SDK_CACHE_MAX").ok().and_then(|v| parse_size(&v)).unwrap_or(DEFAULT_CAP)
}

pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().ok()?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// One environment in the cache.
#[derive(Debug, Clone)]
pub struct Cached {
    pub key: String,
    pub size: u64,
    pub used: u64,
    pub ready: bool,
}

/// Every environment directory in the cache.
pub fn list(root: &Path) -> Vec<Cached> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut out: Vec<Cached> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let key = e.file_name().to_str()?.to_string();
            let hash = key.strip_prefix("py-").or_else(|| key.strip_prefix("node-"))?;
            if !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let dir = e.path();
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok().and_then(|s| s.trim().parse::<u64>().ok());
            let ready = dir.join(READY).is_file() || dir.join(CONFLICT).is_file();
            let size = read(SIZE).unwrap_or_else(|| size_of(&dir));
            Some(Cached { used: read(USED).unwrap_or(0), size, ready, key })
        })
        .collect();
    out.sort_by_key(|c| c.used);
    out
}

/// Removes `key`'s environment unless a process holds it.
pub fn remove(root: &Path, key: &str) -> bool {
    let Ok(lock) = File::create(root.join(format!("{key}.lock"))) else { return false };
    if lock.try_lock().is_err() {
        return false;
    }
    // The lock file stays: another process may have it open already.
    std::fs::remove_dir_all(root.join(key)).is_ok()
}

/// Removes least recently used environments until the cache is under `cap`.
fn evict(root: &Path, cap: u64, note: &dyn Fn(&str)) {
    let all = list(root);
    let mut total: u64 = all.iter().map(|c| c.size).sum();
    for c in all {
        if total <= cap {
            break;
        }
        if remove(root, &c.key) {
            total -= c.size;
            note(&format!("evicted {} ({}, least recently used; cache cap {})", c.key, human(c.size), human(cap)));
        }
    }
}

/// `1.2 GB`, `340 MB`.
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{} MB", b >> 20),
        b => format!("{} KB", b >> 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_sets_share_a_key_whatever_their_comments_and_spelling() {
        let a = vec![("requirements.txt".to_string(), "# one\nSix==1.16.0\nalibabacloud_tea==0.4.3\n".to_string())];
        let b = vec![("requirements.txt".to_string(), "alibabacloud-tea==0.4.3\n# two\nsix==1.16.0\n".to_string())];
        let c = vec![("requirements.txt".to_string(), "alibabacloud-tea==0.4.4\nsix==1.16.0\n".to_string())];
        let key = |f: Vec<(String, String)>| canonical(Language::Python, &f).unwrap();
        assert_eq!(key(a.clone()), key(b));
        assert_ne!(key(a).0, key(c).0);
    }

    #[test]
    fn a_pinned_set_holds_exact_pins_only() {
        for bad in ["x @ https://e.com/x.whl", "-e .", "x>=1", "--index-url http://e.com/", "x==1.0; os_name=='nt'"] {
            let f = vec![("requirements.txt".to_string(), format!("six==1.16.0\n{bad}\n"))];
            assert!(canonical(Language::Python, &f).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_sets_are_keyed_without_their_own_name() {
        let lock = |name: &str| {
            serde_json::json!({"name": name, "lockfileVersion": 3, "packages": {
                "": {"name": name, "dependencies": {"a": "1.0.0"}},
                "node_modules/a": {"version": "1.0.0", "integrity": "sha512-x"}}})
            .to_string()
        };
        let files = |name: &str| {
            vec![
                ("package.json".to_string(), format!(r#"{{"name": "{name}", "dependencies": {{"a": "1.0.0"}}}}"#)),
                ("package-lock.json".to_string(), lock(name)),
            ]
        };
        let (a, n) = canonical(Language::Node, &files("one")).unwrap();
        assert_eq!((a, n), canonical(Language::Node, &files("two")).unwrap());
        assert_eq!(n, 1);
    }

    #[test]
    fn pip_reports_lay_over_the_lock() {
        let report = r#"{"install": [{"metadata": {"name": "Alibabacloud_Tea_OpenAPI", "version": "0.3.16"}},
                                     {"metadata": {"name": "alibabacloud-openapi-util", "version": "0.2.4"}}]}"#;
        let m = merged("alibabacloud-tea-openapi==0.4.6\nsix==1.16.0\n", report).unwrap();
        assert_eq!(m, "alibabacloud-openapi-util==0.2.4\nalibabacloud-tea-openapi==0.3.16\nsix==1.16.0\n");
    }

    /// Three environments of 100 bytes used at times 1, 2, 3; the oldest is
    /// held by a process.
    fn cache_with_three(name: &str) -> (PathBuf, File) {
        let root = std::env::temp_dir().join(format!("apiconform-evict-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for i in 1..=3 {
            let dir = root.join(format!("py-000000000000000{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(READY), "six==1.16.0\n").unwrap();
            std::fs::write(dir.join(SIZE), "100").unwrap();
            std::fs::write(dir.join(USED), i.to_string()).unwrap();
        }
        let held = File::create(root.join("py-0000000000000001.lock")).unwrap();
        held.lock_shared().unwrap();
        (root, held)
    }

    #[test]
    fn past_the_cap_the_least_recently_used_go_first_never_one_in_use() {
        let (root, held) = cache_with_three("cap");
        evict(&root, 250, &|_| {});
        let left: Vec<String> = list(&root).into_iter().map(|c| c.key).collect();
        assert_eq!(left, vec!["py-0000000000000001", "py-0000000000000003"], "2 was the oldest not in use");
        evict(&root, 1000, &|_| {});
        assert_eq!(list(&root).len(), 2, "under the cap nothing goes");
        drop(held);
        evict(&root, 150, &|_| {});
        assert_eq!(list(&root).into_iter().map(|c| c.key).collect::<Vec<_>>(), vec!["py-0000000000000003"]);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("8G"), Some(8 << 30));
        assert_eq!(parse_size("500M"), Some(500 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("lots"), None);
    }
}
