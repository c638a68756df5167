//! Reading `cases/` from disk: directories, file size and kind limits,
//! `api.yaml`, `world.yaml` and the case files' texts. The texts go to the
//! lint rules (`lint`), which build the checked [`Suite`].

use super::lint::{check_cases, check_versions, check_world_refs, pos_at, CaseTexts, RawApi};
use super::model::{Api, Suite};
use crate::contract::{CommonErrors, Contract};
use crate::diag::{Diagnostic, Diagnostics, FileDiagnostics, Pos};
use crate::world::WorldSpec;
use crate::yaml;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Suite {
    /// Loads and checks every case under `root`.
    pub fn load(root: &Path) -> Result<Suite, Diagnostics> {
        let mut diags = Vec::new();
        let vendors = match entries(root) {
            Ok(v) => dirs_only(v, "a vendor directory", &[], &mut diags),
            Err(e) => {
                return Err(Diagnostics(vec![Diagnostic::new(
                    root,
                    Pos::default(),
                    format!("cannot read the cases directory: {e}"),
                )]))
            }
        };
        let mut raw_apis = Vec::new();
        for vdir in vendors {
            let common_path = vdir.join("common-errors.yaml");
            let common = match read(&common_path).and_then(|t| yaml::parse::<CommonErrors>(&common_path, &t)) {
                Ok(c) => Arc::new(c),
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            for sdir in subdirs(&vdir, "a service directory", &["common-errors.yaml"], &mut diags) {
                for adir in subdirs(&sdir, "an action directory", &[], &mut diags) {
                    match load_api_files(&adir, &common) {
                        Ok((raw, d)) => {
                            diags.extend(d);
                            raw_apis.push(raw);
                        }
                        Err(d) => diags.extend(d),
                    }
                }
            }
        }
        check_versions(&raw_apis, &mut diags);
        let apis = check_cases(raw_apis, &mut diags);
        if diags.is_empty() {
            Ok(Suite { root: root.to_path_buf(), apis })
        } else {
            Err(Diagnostics(diags))
        }
    }
}

/// The largest file the loader reads (1 MiB; the largest `api.yaml` today is
/// 17 KB). Larger files are refused with a diagnostic, unread.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads one file the user wrote, once: only a regular file (a FIFO would
/// block, `/dev/zero` never ends), at most [`MAX_FILE_BYTES`], UTF-8.
fn read(path: &Path) -> Result<String, Diagnostic> {
    use std::io::Read;
    let err = |msg: String| Diagnostic::new(path, Pos::default(), msg);
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read file: {e}")))?;
    if !meta.is_file() {
        return Err(err(format!("not a regular file ({}); only regular files are read", file_kind(&meta)))
            .hint("replace it with a plain file, or remove it"));
    }
    let too_big = |n: u64| err(format!("the file is {n} bytes; the limit is {MAX_FILE_BYTES} (1 MiB)"));
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()).hint("split it; a case file tests one condition"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| err(format!("cannot read file: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let valid = String::from_utf8_lossy(&bytes[..at]).into_owned();
        let pos = pos_at(&valid, at);
        Diagnostic::new(
            path,
            pos,
            format!("the file is not UTF-8: byte 0x{:02X} cannot start a character here", bytes[at]),
        )
        .with_source(&String::from_utf8_lossy(&bytes))
        .hint("save the file as UTF-8")
    })
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// The entries of `dir`, sorted.
fn entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    v.sort();
    Ok(v)
}

/// Notes, hidden files and the files named in `allowed` may sit among the
/// directories of the layout; any other file there is a mistake.
fn dirs_only(entries: Vec<PathBuf>, what: &str, allowed: &[&str], diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for p in entries {
        let name = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if p.is_dir() {
            dirs.push(p);
        } else if !(name.starts_with('.') || name.ends_with(".md") || allowed.contains(&name.as_str())) {
            diags.push(
                Diagnostic::new(&p, Pos::default(), format!("`{name}` is not a directory, but {what} belongs here"))
                    .hint("the layout is cases/<vendor>/<service>/<Action>/; move or remove this file"),
            );
        }
    }
    dirs
}

fn subdirs(dir: &Path, what: &str, allowed: &[&str], diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    match entries(dir) {
        Ok(v) => dirs_only(v, what, allowed, diags),
        Err(e) => {
            diags.push(Diagnostic::new(dir, Pos::default(), format!("cannot read directory: {e}")));
            Vec::new()
        }
    }
}

/// An API's contract, world and case texts, and the problems of the case
/// files that could not be read (the others still load). Errors in
/// `api.yaml` or `world.yaml` fail the whole API.
fn load_api_files(dir: &Path, common: &Arc<CommonErrors>) -> Result<(RawApi, Vec<Diagnostic>), Vec<Diagnostic>> {
    let api_path = dir.join("api.yaml");
    let api_text = read(&api_path).map_err(|d| vec![d])?;
    let contract: Contract = yaml::parse(&api_path, &api_text).map_err(|d| vec![d])?;
    let world_path = dir.join("world.yaml");
    let world_text = read(&world_path).map_err(|d| vec![d])?;
    let world: WorldSpec = yaml::parse(&world_path, &world_text).map_err(|d| vec![d])?;
    let rel: Vec<String> =
        dir.components().rev().take(3).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let (action, service, vendor) = (&rel[0], &rel[1], &rel[2]);
    if (&contract.vendor, &contract.service, &contract.action) != (vendor, service, action) {
        return Err(vec![Diagnostic::new(
            &api_path,
            Pos::new(1, 1),
            format!(
                "api.yaml names {}/{}/{} but lives in {}/{}/{}",
                contract.vendor, contract.service, contract.action, vendor, service, action
            ),
        )
        .hint("the directory path and the vendor, service and action fields must agree")]);
    }
    let mut d = FileDiagnostics::new(&world_path);
    check_world_refs(&world, (vendor, action), &world_path, &world_text, &mut d);
    if !d.is_empty() {
        return Err(d.finish());
    }
    let (files, diags) = case_files(dir)?;
    let api = Api {
        vendor: vendor.clone(),
        service: service.clone(),
        action: action.clone(),
        dir: dir.to_path_buf(),
        contract,
        common: common.clone(),
        world,
        cases: Vec::new(),
    };
    Ok((RawApi { api, files, api_text }, diags))
}

/// The texts of an API directory's case files, and a diagnostic for each one
/// that cannot be read.
fn case_files(dir: &Path) -> Result<(CaseTexts, Vec<Diagnostic>), Vec<Diagnostic>> {
    let entries =
        entries(dir).map_err(|e| vec![Diagnostic::new(dir, Pos::default(), format!("cannot read directory: {e}"))])?;
    let (mut files, mut diags) = (Vec::new(), Vec::new());
    for p in entries {
        let fname = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if fname == "api.yaml" || fname == "world.yaml" {
            continue;
        }
        if fname.ends_with(".yml") {
            diags.push(
                Diagnostic::new(&p, Pos::default(), "case files must end in `.yaml`")
                    .hint(format!("rename it to `{}`", fname.trim_end_matches(".yml").to_string() + ".yaml")),
            );
        } else if fname.ends_with(".yaml") {
            match read(&p) {
                Ok(t) => files.push((p, t)),
                Err(d) => diags.push(d),
            }
        }
    }
    Ok((files, diags))
}
