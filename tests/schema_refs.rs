//! The JSON Schemas resolve with relative references only. yaml-language-server
//! 1.20 resolved `$ref` against an `$id` (`https://apiconform.invalid/...`),
//! failed to fetch it, and then validated no case file at all; so no schema
//! carries an `$id`, every `$ref` is a file beside it or a pointer into it,
//! and every case file's `$schema=` comment reaches `schema/case.schema.json`.

use serde_json::Value;
use std::path::{Path, PathBuf};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema")
}

fn load(name: &str) -> Value {
    let p = schema_dir().join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every `$id` and `$ref` value in a document.
fn walk(v: &Value, ids: &mut Vec<String>, refs: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$id", Value::String(s)) => ids.push(s.clone()),
                    ("$ref", Value::String(s)) => refs.push(s.clone()),
                    _ => walk(x, ids, refs),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, ids, refs)),
        _ => {}
    }
}

#[test]
fn schemas_have_no_id_and_only_relative_refs_that_resolve() {
    let mut files: Vec<String> = std::fs::read_dir(schema_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".schema.json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let mut resolved = 0;
    for name in &files {
        let doc = load(name);
        let (mut ids, mut refs) = (Vec::new(), Vec::new());
        walk(&doc, &mut ids, &mut refs);
        assert!(ids.is_empty(), "{name} has an $id {ids:?}: editors resolve $ref against it and fetch");
        for r in refs {
            assert!(!r.contains("://") && !r.starts_with('/'), "{name}: $ref `{r}` is not relative");
            let (file, pointer) = r.split_once('#').unwrap_or((&r, ""));
            let target = if file.is_empty() { doc.clone() } else { load(file) };
            assert!(
                pointer.is_empty() || target.pointer(pointer).is_some(),
                "{name}: $ref `{r}`: no `{pointer}` in {}",
                if file.is_empty() { name } else { file }
            );
            resolved += 1;
        }
    }
    assert!(resolved > 0, "the case schema refers to the world schema");
}

#[test]
fn every_case_file_points_at_the_case_schema_relatively() {
    fn walk_cases(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk_cases(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk_cases(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let Some(rel) = first.strip_prefix("# yaml-language-server: $schema=") else {
            panic!("{}: the first line does not name its schema", f.display());
        };
        assert!(!rel.contains("://"), "{}: {rel} is not relative", f.display());
        let target = f.parent().unwrap().join(rel);
        assert!(target.exists(), "{}: {rel} does not exist", f.display());
    }
}
