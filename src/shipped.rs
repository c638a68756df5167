//! Where the cases come from, so that an installed binary works in any
//! directory: the `cases/` tree shipped inside the binary, a user's own
//! case directory laid over it (new files add, a file at the same relative
//! path replaces the shipped one), or the user's directory alone.
//!
//! The binary embeds the files (`include_dir!` in `main.rs`, so only the
//! binary recompiles when a case changes) and hands them here as
//! `(relative path, bytes)`. [`Suite::load`] reads a directory, so the
//! layers are written into a fresh temporary directory, loaded, and every
//! path the suite or a diagnostic shows is mapped back to the file the user
//! wrote (`cases/...` for a shipped one). Nothing reads the tree after
//! loading, and the directory is removed before `load` returns.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::suite::Suite;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The embedded tree: relative path (with `/`) and contents.
pub type Files<'a> = &'a [(&'a str, &'a [u8])];

/// How shipped files are named in messages: the repository's layout.
pub const SHIPPED_ROOT: &str = "cases";

/// Which cases to load.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The shipped cases only.
    Shipped,
    /// The user's directory over the shipped cases.
    Overlay(&'a Path),
    /// The user's directory alone (`--no-shipped`).
    Only(&'a Path),
}

/// Loads the suite from `source`; `shipped` is the embedded tree.
pub fn load(shipped: Files, source: Source) -> Result<Suite, Diagnostics> {
    let user = match source {
        Source::Only(dir) => return Suite::load(dir),
        Source::Shipped => None,
        Source::Overlay(dir) => Some(dir),
    };
    let mut layers: BTreeMap<PathBuf, Origin> =
        shipped.iter().filter_map(|(rel, bytes)| safe_rel(rel).map(|p| (p, Origin::Shipped(bytes)))).collect();
    if let Some(dir) = user {
        let mut own = Vec::new();
        if let Err(e) = user_files(dir, Path::new(""), &mut own) {
            return Err(Diagnostics(vec![Diagnostic::new(
                dir,
                Pos::default(),
                format!("cannot read the cases directory: {e}"),
            )
            .hint("--cases (or APICONFORM_CASES) must name a directory")]));
        }
        for rel in own {
            layers.insert(rel.clone(), Origin::User(dir.join(&rel)));
        }
    }
    let tmp = scratch_dir();
    let result = write_layers(&tmp, &layers)
        .map_err(|e| Diagnostics(vec![Diagnostic::new(&tmp, Pos::default(), format!("cannot stage the cases: {e}"))]))
        .and_then(|()| Suite::load(&tmp));
    let shown_root = user.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(SHIPPED_ROOT));
    let map = |p: &Path| -> PathBuf {
        match p.strip_prefix(&tmp) {
            Ok(rel) => match layers.get(rel) {
                Some(Origin::User(path)) => path.clone(),
                _ if rel.as_os_str().is_empty() => shown_root.clone(),
                _ => Path::new(SHIPPED_ROOT).join(rel),
            },
            Err(_) => p.to_path_buf(),
        }
    };
    let _ = std::fs::remove_dir_all(&tmp);
    match result {
        Ok(mut suite) => {
            suite.root = shown_root.clone();
            for api in &mut suite.apis {
                api.dir = map(&api.dir);
                for case in &mut api.cases {
                    case.file = map(&case.file);
                    for at in case.steps.iter_mut().filter_map(|s| s.expect.at.as_mut()) {
                        at.file = map(&at.file);
                    }
                }
            }
            Ok(suite)
        }
        Err(mut d) => {
            for diag in &mut d.0 {
                diag.file = map(&diag.file);
            }
            Err(d)
        }
    }
}

/// Where one file of the merged tree comes from.
enum Origin<'a> {
    Shipped(&'a [u8]),
    User(PathBuf),
}

/// A relative path with no `..`, no root and no empty part.
fn safe_rel(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(rel);
    p.components().all(|c| matches!(c, std::path::Component::Normal(_))).then_some(p)
}

/// Every file under `dir` (relative), skipping hidden entries such as the
/// `.schema/` directory `apiconform init` writes.
fn user_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let child = rel.join(&name);
        if entry.file_type()?.is_dir() {
            user_files(root, &child, out)?;
        } else if rel.components().next().is_some() {
            // Files at the top (README.md) are not cases.
            out.push(child);
        }
    }
    Ok(())
}

fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("apiconform-cases-{}-{nanos}", std::process::id()))
}

fn write_layers(tmp: &Path, layers: &BTreeMap<PathBuf, Origin>) -> std::io::Result<()> {
    std::fs::create_dir_all(tmp)?;
    for (rel, origin) in layers {
        let dest = tmp.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match origin {
            Origin::Shipped(bytes) => std::fs::write(&dest, bytes)?,
            Origin::User(src) => {
                std::fs::copy(src, &dest)?;
            }
        }
    }
    Ok(())
}

/// Every file under `dir`, as (relative path with `/`, contents).
pub fn read_tree(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(root.join(rel))? {
            let entry = entry?;
            let child = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                walk(root, &child, out)?;
            } else {
                let name = child.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                out.push((name, std::fs::read(root.join(&child))?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out)?;
    out.sort();
    Ok(out)
}

/// Whether `dir` holds other file names than `embedded`: a file added or
/// removed since the binary was built (`include_dir!` sees edits to the
/// files it embedded, not new ones, on stable Rust).
pub fn listing_differs(embedded: Files, dir: &Path) -> bool {
    let on_disk: std::collections::BTreeSet<String> =
        read_tree(dir).map(|t| t.into_iter().map(|(p, _)| p).collect()).unwrap_or_default();
    let built: std::collections::BTreeSet<String> = embedded.iter().map(|(p, _)| p.to_string()).collect();
    on_disk != built
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_relative_paths_are_refused() {
        assert!(safe_rel("aliyun/ecs/x.yaml").is_some());
        assert!(safe_rel("../x.yaml").is_none());
        assert!(safe_rel("/etc/passwd").is_none());
    }

    #[test]
    fn a_new_file_makes_the_listing_differ() {
        let dir = std::env::temp_dir().join(format!("apiconform-listing-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/x.yaml"), "x").unwrap();
        assert!(!listing_differs(&[("a/x.yaml", b"old")], &dir), "contents do not matter");
        std::fs::write(dir.join("a/y.yaml"), "y").unwrap();
        assert!(listing_differs(&[("a/x.yaml", b"x")], &dir));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_user_directory_is_a_diagnostic() {
        let e = load(&[], Source::Overlay(Path::new("/nonexistent/apiconform"))).unwrap_err();
        assert!(e.0[0].message.contains("cannot read the cases directory"), "{e}");
    }
}
