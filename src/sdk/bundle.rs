//! The SDK files every binary carries: the flavour table, the drivers, the
//! lock files, the pinned upgrade sets, accepted differences and known
//! divergences (the repository's `sdk/` tree, embedded at build time).
//!
//! Why embedded: `apiconform sdk setup` and `sdk diff` must work from an
//! installed binary in any directory, like the cases do. The drivers are
//! written into the SDK cache (`drivers-<hash>/`) to run from there.
//!
//! The flavour table lives once, as data: `sdk/flavours/<flavour>/flavour.json`
//! (vendor, language, driver and arguments, the package an upgrade moves,
//! the wire shape it sends). `sdk/check_drivers.py`, the nightly workflow's
//! matrix and `apiconform sdk list` read the same files.
//!
//! A debug build run beside its source tree reads `sdk/` from the tree
//! when a file was added or removed since the build (as the cases do);
//! release builds use only what they embedded.

use super::{names, Flavour};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static EMBEDDED: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/sdk");

/// The SDK files, by relative path (`flavours/py-tea-ecs/flavour.json`).
pub struct Bundle {
    files: BTreeMap<String, Vec<u8>>,
    flavours: Vec<Flavour>,
    /// The repository's `sdk/` this binary was built from, when it is on
    /// disk: where `sdk accept` writes a new lock.
    pub repository: Option<PathBuf>,
}

/// The bundle of this binary (loaded once).
pub fn get() -> Result<&'static Bundle, String> {
    static BUNDLE: OnceLock<Result<Bundle, String>> = OnceLock::new();
    BUNDLE.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Bundle, String> {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk");
    let mut embedded = BTreeMap::new();
    walk(&EMBEDDED, &mut embedded);
    let mut files = embedded;
    if cfg!(debug_assertions) && tree.is_dir() {
        let mut on_disk = BTreeMap::new();
        if read_dir(&tree, "", &mut on_disk).is_ok() && !on_disk.keys().eq(files.keys()) {
            eprintln!("note: SDK files were added or removed since this binary was built: reading {}", tree.display());
            files = on_disk;
        }
    }
    let repository = tree.join("flavours").is_dir().then_some(tree);
    Bundle::new(files, repository)
}

/// Files the bundle keeps: not hidden, not Python's byte-code caches.
fn kept(path: &str) -> bool {
    !path.split('/').any(|part| part.starts_with('.') || part == "__pycache__")
}

/// The files under `root/rel` (kept ones only), by path relative to `root`.
fn read_dir(root: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if !kept(&path) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            read_dir(root, &path, out)?;
        } else {
            out.insert(path, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}

fn walk(dir: &'static include_dir::Dir<'static>, out: &mut BTreeMap<String, Vec<u8>>) {
    for f in dir.files() {
        if let Some(p) = f.path().to_str().filter(|p| kept(p)) {
            out.insert(p.to_string(), f.contents().to_vec());
        }
    }
    for d in dir.dirs() {
        walk(d, out);
    }
}

impl Bundle {
    /// A bundle from files (relative path, contents); checks the flavour table.
    pub fn new(files: BTreeMap<String, Vec<u8>>, repository: Option<PathBuf>) -> Result<Bundle, String> {
        let mut b = Bundle { files, flavours: Vec::new(), repository };
        let names: Vec<String> = b
            .files
            .keys()
            .filter_map(|p| p.strip_prefix("flavours/")?.strip_suffix("/flavour.json").map(str::to_string))
            .collect();
        for name in names {
            let f = b.read_flavour(&name).map_err(|e| format!("sdk/flavours/{name}/flavour.json: {e}"))?;
            b.flavours.push(f);
        }
        b.flavours.sort_by(|x, y| x.name.cmp(&y.name));
        if b.flavours.is_empty() {
            return Err("no SDK flavour in this build (sdk/flavours/<flavour>/flavour.json)".into());
        }
        Ok(b)
    }

    fn read_flavour(&self, name: &str) -> Result<Flavour, String> {
        let text = self.text(&format!("flavours/{name}/flavour.json")).unwrap_or_default();
        let mut f: Flavour = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        f.name = name.to_string();
        if !crate::vendor::ALL.iter().any(|v| v.name == f.vendor) {
            return Err(format!("unknown vendor `{}`", f.vendor));
        }
        if !self.files.contains_key(&format!("drivers/{}", f.driver)) {
            return Err(format!("no driver sdk/drivers/{}", f.driver));
        }
        names::package(f.language, &f.package)?;
        for lock in f.language.lock_files() {
            if !self.files.contains_key(&format!("flavours/{name}/{lock}")) {
                return Err(format!("no lock file {lock} beside it"));
            }
        }
        Ok(f)
    }

    pub fn flavours(&self) -> &[Flavour] {
        &self.flavours
    }

    /// The flavour named `name`, or a message that lists them.
    pub fn flavour(&self, name: &str) -> Result<&Flavour, String> {
        self.flavours.iter().find(|f| f.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.flavours.iter().map(|f| f.name.as_str()).collect();
            let hint = names
                .iter()
                .max_by(|a, b| strsim::jaro_winkler(a, name).total_cmp(&strsim::jaro_winkler(b, name)))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            format!("unknown flavour `{name}`{hint}; one of: {}", names.join(", "))
        })
    }

    /// The flavours named, or all of them.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Flavour>, String> {
        if names.is_empty() {
            return Ok(self.flavours.iter().collect());
        }
        names.iter().map(|n| self.flavour(n)).collect()
    }

    /// A file's text, if the bundle has it.
    pub fn text(&self, rel: &str) -> Option<String> {
        self.files.get(rel).map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// A flavour's lock files, as (file name, contents).
    pub fn lock_files(&self, f: &Flavour) -> Vec<(String, String)> {
        let dir = format!("flavours/{}", f.name);
        f.language
            .lock_files()
            .iter()
            .map(|n| (n.to_string(), self.text(&format!("{dir}/{n}")).unwrap_or_default()))
            .collect()
    }

    /// The exact set pinned for `label` under `sdk/upgrades/`
    /// (`<flavour>-<label>.txt`, or `<flavour>-<label>/` with Node's two files).
    pub fn pinned_set(&self, f: &Flavour, label: &str) -> Option<Vec<(String, String)>> {
        match f.language {
            super::Language::Python => {
                let set = self.text(&format!("upgrades/{}-{label}.txt", f.name))?;
                Some(vec![("requirements.txt".into(), set)])
            }
            super::Language::Node => {
                let dir = format!("upgrades/{}-{label}", f.name);
                f.language
                    .lock_files()
                    .iter()
                    .map(|n| Some((n.to_string(), self.text(&format!("{dir}/{n}"))?)))
                    .collect()
            }
        }
    }

    /// The drivers, written once into `cache/drivers-<hash>/` (their
    /// content decides the name, so a changed driver is a new directory).
    pub fn drivers_dir(&self, cache: &Path) -> Result<PathBuf, String> {
        let drivers: Vec<(&String, &Vec<u8>)> = self.files.iter().filter(|(p, _)| p.starts_with("drivers/")).collect();
        let mut h = Sha256::new();
        for (p, c) in &drivers {
            h.update(p.as_bytes());
            h.update([0]);
            h.update(c);
        }
        let hash: String = h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
        let dir = cache.join(format!("drivers-{hash}"));
        if dir.is_dir() {
            return Ok(dir);
        }
        let tmp = cache.join(format!("drivers-{hash}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&tmp)?;
            for (p, c) in &drivers {
                std::fs::write(tmp.join(p.trim_start_matches("drivers/")), c)?;
            }
            Ok(())
        };
        write().map_err(|e| format!("cannot write the drivers into {}: {e}", tmp.display()))?;
        // Another process may have won the race: its copy is the same.
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Ok(dir)
    }
}
