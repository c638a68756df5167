//! A user's own case repository, kept the way Hurl and Tavern users keep
//! theirs: `apiconform init DIR` lays one out, `apiconform new` writes a
//! case from an API's contract. Both write only plain files the user then
//! edits, and refuse to overwrite anything.

use crate::suite::{Api, Suite};
use crate::world::WorldSpec;
use std::path::{Path, PathBuf};

/// The JSON Schemas, written into `DIR/.schema/` for editors.
pub const SCHEMAS: [(&str, &str); 4] = [
    ("api.schema.json", include_str!("../schema/api.schema.json")),
    ("case.schema.json", include_str!("../schema/case.schema.json")),
    ("common-errors.schema.json", include_str!("../schema/common-errors.schema.json")),
    ("world.schema.json", include_str!("../schema/world.schema.json")),
];

/// The example case `init` writes: a documented error every target can run.
const EXAMPLE_API: &str = "aliyun::ecs::ReplaceSystemDisk";
const EXAMPLE: &str = r#"name: my-instance-not-found
condition: "InvalidInstanceId.NotFound: The specified InstanceId does not exist."
tags: [existence, example]
request:
  InstanceId: ${absent.instance}
  ImageId: ${other_image.id}
expect:
  status: 404
  code: InvalidInstanceId.NotFound
"#;

const README: &str = r#"# My apiconform cases

Cases of my own, laid over the cases shipped with apiconform: a file here
adds a case, or replaces the shipped file at the same path
(`<vendor>/<service>/<Action>/<case>.yaml`; an `api.yaml` or `world.yaml`
here replaces the shipped contract or world).

```sh
apiconform --cases . lint
apiconform --cases . run                      # shipped cases and mine
apiconform --cases . run my-                  # only mine (a name filter)
apiconform --cases . --no-shipped lint        # mine alone (needs api.yaml/world.yaml)
apiconform --cases . new aliyun::ecs::ResetDisk::my-case
```

`.schema/` holds the JSON Schemas; the first line of each case lets
yaml-language-server (VS Code's YAML extension, Helix, Neovim) complete and
check it.
"#;

/// Writes a case repository into `dir` (which may exist but must not hold
/// any of the files). Returns the files written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let example_dir = api_dir(dir, EXAMPLE_API);
    let example = example_dir.join("my-instance-not-found.yaml");
    let mut files: Vec<(PathBuf, String)> = vec![(dir.join("README.md"), README.to_string())];
    for (name, text) in SCHEMAS {
        files.push((dir.join(".schema").join(name), text.to_string()));
    }
    files.push((example, format!("{}\n{EXAMPLE}", schema_line(3))));
    if let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
        return Err(format!("{} already exists; init writes only into a new or empty place", p.display()));
    }
    for (p, text) in &files {
        write_new(p, text)?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// The comment that points yaml-language-server at the case schema, from a
/// file `depth` directories below the repository root.
fn schema_line(depth: usize) -> String {
    format!("# yaml-language-server: $schema={}.schema/case.schema.json", "../".repeat(depth))
}

fn api_dir(root: &Path, api_path: &str) -> PathBuf {
    api_path.split("::").fold(root.to_path_buf(), |p, part| p.join(part))
}

fn write_new(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Splits `vendor::service::Action::case`.
pub fn parse_case_path(path: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = path.split("::").collect();
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if parts.len() != 4 || !parts.iter().all(|p| valid(p)) {
        return Err(format!("`{path}` is not `vendor::service::Action::case` (e.g. aliyun::ecs::ResetDisk::my-case)"));
    }
    let case = parts[3];
    if !case.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err(format!("case name `{case}`: lowercase letters, digits, `-` and `_` only"));
    }
    Ok((parts[..3].join("::"), case.to_string()))
}

/// Writes `<root>/<vendor>/<service>/<Action>/<case>.yaml`: the request of
/// the API's `success` case, or else every required parameter of the
/// contract filled from the API's world, expecting the documented success.
/// Returns the file written.
pub fn new_case(suite: &Suite, root: &Path, path: &str) -> Result<PathBuf, String> {
    let (api_path, case) = parse_case_path(path)?;
    let Some(api) = suite.apis.iter().find(|a| a.path() == api_path) else {
        let known: Vec<String> = suite.apis.iter().filter(|a| !a.contract.support).map(Api::path).collect();
        return Err(format!("no API `{api_path}`; known: {}", known.join(", ")));
    };
    let file = api_dir(root, &api_path).join(format!("{case}.yaml"));
    write_new(&file, &case_text(api, &case))?;
    Ok(file)
}

fn case_text(api: &Api, case: &str) -> String {
    let mut out = format!("{}\nname: {case}\n", schema_line(3));
    out.push_str("condition: \"TODO: quote the documented condition this case exercises\"\ntags: []\n");
    match documented_success(api) {
        Some(success) => {
            out.push_str(&format!(
                "# From {}, a request that succeeds;\n# change one thing for an error case.\nrequest:\n",
                success.file.display()
            ));
            for (wire, value) in &success.steps[0].params {
                out.push_str(&format!("  {wire}: {}\n", yaml_value(value)));
            }
        }
        None => {
            out.push_str("# Every required parameter, filled from the API's world.\nrequest:\n");
            for (name, param) in api.contract.params.iter().filter(|(_, p)| p.required) {
                let wire = name.replace(".N", ".1");
                let value = fixture_ref(&api.world, name).unwrap_or_else(|| literal(param));
                out.push_str(&format!("  {wire}: {value}\n"));
            }
        }
    }
    out.push_str("# The documented success; for an error, its status and `code:`.\nexpect:\n  status: 200\n");
    out
}

/// The API's own `success` case when it is one plain call on the default
/// world: parameters the contract requires only in combination (an image or
/// a password, say) are right there, so a new case starts from a request
/// that passes.
fn documented_success(api: &Api) -> Option<&crate::suite::Case> {
    api.cases.iter().find(|c| {
        c.name == "success"
            && c.given == WorldSpec::default()
            && c.steps.len() == 1
            && c.steps[0].action == api.action
            && c.steps[0].expect.status == 200
    })
}

/// A templated value as a YAML scalar: a lone `${ref}` bare, as the shipped
/// cases write it, anything else quoted.
fn yaml_value(v: &str) -> String {
    let lone_ref = v
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'));
    if lone_ref {
        v.to_string()
    } else {
        quoted(v)
    }
}

/// `${fixture.id}` for an ID parameter: the fixture of the matching kind
/// that the world's first instance uses (its image, its system disk), or
/// else one it does not use (another image to switch to), or else the first.
fn fixture_ref(world: &WorldSpec, param: &str) -> Option<String> {
    let base = param.split('.').next().unwrap_or(param);
    let instance = world.instances.iter().find(|(n, _)| n.as_str() == "instance").or(world.instances.iter().next());
    let pick = |names: Vec<&String>, used: Option<&String>, prefer_used: bool| -> Option<String> {
        let other = names.iter().find(|n| Some(**n) != used).map(|n| n.to_string());
        let used = used.filter(|u| names.contains(u)).cloned();
        if prefer_used {
            used.or(other)
        } else {
            other.or(used)
        }
    };
    let (name, attr) = match base {
        "InstanceId" => (instance.map(|(n, _)| n.clone()), "id"),
        "ImageId" => {
            let used = instance.and_then(|(_, i)| i.image.as_ref());
            (pick(world.images.keys().collect(), used, false), "id")
        }
        "DiskId" | "VolumeId" => {
            let used = instance.and_then(|(_, i)| i.system_disk.as_ref());
            (pick(world.disks.keys().collect(), used, true), "id")
        }
        "SnapshotId" => {
            // One taken from the disk the request names, as a rollback needs.
            let disk = instance.and_then(|(_, i)| i.system_disk.as_ref());
            let of_disk = world.snapshots.iter().find(|(_, s)| s.disk.is_some() && s.disk.as_ref() == disk);
            (of_disk.or(world.snapshots.iter().next()).map(|(n, _)| n.clone()), "id")
        }
        "KeyPairName" | "KeyPairNames" => (world.key_pairs.keys().next().cloned(), "name"),
        "KeyId" => (world.key_pairs.keys().next().cloned(), "id"),
        "KMSKeyId" | "KmsKeyId" => (world.kms_keys.keys().next().cloned(), "id"),
        _ => return None,
    };
    name.map(|n| format!("${{{n}.{attr}}}"))
}

/// A value for a required non-ID parameter: its default, its first allowed
/// value, its minimum, or a placeholder of the documented length.
fn literal(p: &crate::contract::Param) -> String {
    use crate::contract::ParamType;
    if let Some(d) = &p.default {
        return quoted(d);
    }
    if let Some(v) = p.enum_values.as_ref().and_then(|v| v.first()) {
        return quoted(v);
    }
    match p.ty {
        ParamType::Integer => p.min.unwrap_or(1).to_string(),
        ParamType::Boolean => "\"false\"".into(),
        _ => quoted(&"x".repeat(p.min_length.unwrap_or(1).max(1) as usize)),
    }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_paths_are_checked() {
        assert_eq!(
            parse_case_path("aliyun::ecs::ResetDisk::my-case").unwrap(),
            ("aliyun::ecs::ResetDisk".to_string(), "my-case".to_string())
        );
        assert!(parse_case_path("aliyun::ecs::ResetDisk").is_err());
        assert!(parse_case_path("aliyun::ecs::../x::c").is_err());
        assert!(parse_case_path("aliyun::ecs::ResetDisk::My Case").is_err());
    }
}
