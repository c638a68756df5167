//! Reading the case tree ([`Tree`]: embedded files, a directory on disk, or
//! one over the other): directories, `api.yaml`, `world.yaml` and the case
//! files' texts. The texts go to the lint rules (`lint`), which build the
//! checked [`Suite`]. Every file is read through [`Tree::read`], once.

use super::lint::{check_cases, check_versions, check_world_refs, RawApi};
use super::model::{Api, Suite};
use super::tree::Tree;
use crate::contract::{CommonErrors, Contract};
use crate::diag::{Diagnostic, Diagnostics, FileDiagnostics, Pos};
use crate::world::WorldSpec;
use crate::yaml;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Suite {
    /// Loads and checks every case under the directory `root`.
    pub fn load(root: &Path) -> Result<Suite, Diagnostics> {
        let tree = Tree::disk(root, root).map_err(|d| Diagnostics(vec![d]))?;
        Suite::load_tree(&tree)
    }

    /// Loads and checks every case of `tree`.
    pub fn load_tree(tree: &Tree) -> Result<Suite, Diagnostics> {
        let mut diags = tree.problems().to_vec();
        let mut raw_apis = Vec::new();
        for vdir in dirs_only(tree, Path::new(""), "a vendor directory", &[], &mut diags) {
            let common_rel = vdir.join("common-errors.yaml");
            let common = tree.read(&common_rel).and_then(|t| yaml::parse::<CommonErrors>(&tree.shown(&common_rel), &t));
            let common = match common {
                Ok(c) => Arc::new(c),
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            for sdir in dirs_only(tree, &vdir, "a service directory", &["common-errors.yaml"], &mut diags) {
                for adir in dirs_only(tree, &sdir, "an action directory", &[], &mut diags) {
                    match load_api_files(tree, &adir, &common) {
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
            Ok(Suite { root: tree.root().to_path_buf(), apis })
        } else {
            Err(Diagnostics(diags))
        }
    }
}

/// The directories in `dir`. Notes, hidden files and the files named in
/// `allowed` may sit among them; any other file there is a mistake.
fn dirs_only(tree: &Tree, dir: &Path, what: &str, allowed: &[&str], diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for (rel, node) in tree.entries(dir) {
        let name = rel.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if node.is_dir() {
            dirs.push(rel);
        } else if node.is_refused() {
            diags.extend(tree.read(&rel).err());
        } else if !(name.ends_with(".md") || allowed.contains(&name.as_str())) {
            diags.push(
                Diagnostic::new(
                    &node.shown,
                    Pos::default(),
                    format!("`{name}` is not a directory, but {what} belongs here"),
                )
                .hint("the layout is cases/<vendor>/<service>/<Action>/; move or remove this file"),
            );
        }
    }
    dirs
}

/// An API's contract, world and case texts, and the problems of the case
/// files that could not be read (the others still load). Errors in
/// `api.yaml` or `world.yaml` fail the whole API.
fn load_api_files(
    tree: &Tree,
    dir: &Path,
    common: &Arc<CommonErrors>,
) -> Result<(RawApi, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (api_rel, world_rel) = (dir.join("api.yaml"), dir.join("world.yaml"));
    let (api_path, world_path) = (tree.shown(&api_rel), tree.shown(&world_rel));
    let api_text = tree.read(&api_rel).map_err(|d| vec![d])?;
    let contract: Contract = yaml::parse(&api_path, &api_text).map_err(|d| vec![d])?;
    let world_text = tree.read(&world_rel).map_err(|d| vec![d])?;
    let world: WorldSpec = yaml::parse(&world_path, &world_text).map_err(|d| vec![d])?;
    let rel: Vec<String> = dir.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let [vendor, service, action] = &rel[..] else {
        return Err(vec![Diagnostic::new(&tree.shown(dir), Pos::default(), "not an action directory")]);
    };
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
    let (files, diags) = case_files(tree, dir);
    let api = Api {
        vendor: vendor.clone(),
        service: service.clone(),
        action: action.clone(),
        dir: tree.shown(dir),
        contract,
        common: common.clone(),
        world,
        cases: Vec::new(),
    };
    Ok((RawApi { api, files, api_path, api_text }, diags))
}

/// The texts of an API directory's case files (by the path messages show),
/// and a diagnostic for each one that cannot be read.
fn case_files(tree: &Tree, dir: &Path) -> (Vec<(PathBuf, String)>, Vec<Diagnostic>) {
    let (mut files, mut diags) = (Vec::new(), Vec::new());
    for (rel, node) in tree.entries(dir) {
        let fname = rel.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if fname == "api.yaml" || fname == "world.yaml" || node.is_dir() {
            continue;
        }
        if fname.ends_with(".yml") {
            diags.push(
                Diagnostic::new(&node.shown, Pos::default(), "case files must end in `.yaml`")
                    .hint(format!("rename it to `{}`", fname.trim_end_matches(".yml").to_string() + ".yaml")),
            );
        } else if fname.ends_with(".yaml") {
            match tree.read(&rel) {
                Ok(t) => files.push((node.shown.clone(), t)),
                Err(d) => diags.push(d),
            }
        }
    }
    (files, diags)
}
