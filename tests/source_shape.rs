//! The shape of the source tree, kept true by the test suite: no import
//! cycle between the crate's top-level modules, no function over 80 lines
//! and no `too_many_arguments` allowance anywhere under `src/`.
//!
//! Why: a cycle makes every module of the loop a dependency of every other
//! (the six-module loop of issue 9), and long functions with many
//! arguments were where the runner's target branches hid. The graph is
//! built from the `crate::` paths written in `src/` (use lines and inline
//! paths alike), one node per top-level module (`src/x.rs` or `src/x/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FUNCTION_LINES: usize = 80;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("src/ is readable").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn src_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).expect("under the manifest").to_string_lossy().replace('\\', "/");
            (rel, std::fs::read_to_string(&p).expect("source is UTF-8"))
        })
        .collect()
}

/// The code of a line without its `//` comment (string contents are kept,
/// which is good enough for paths and braces in this tree).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) if !line[..i].contains('"') => &line[..i],
        _ => line,
    }
}

/// The top-level module a file belongs to (`src/runner/trial.rs` → `runner`).
fn module_of(rel: &str) -> Option<String> {
    let rest = rel.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The lines of a text outside its `#[cfg(test)] mod ... { }` blocks: a
/// unit test's imports are not the module's dependencies.
fn non_test_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut skipping, mut depth, mut armed) = (false, 0i32, false);
    for line in text.lines().map(code) {
        let t = line.trim();
        if !skipping && t == "#[cfg(test)]" {
            armed = true;
            continue;
        }
        if armed && !skipping {
            armed = false;
            if t.starts_with("mod ") && t.ends_with('{') {
                (skipping, depth) = (true, 0);
            } else {
                out.push(line);
                continue;
            }
        }
        if skipping {
            depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
            skipping = depth > 0;
            continue;
        }
        out.push(line);
    }
    out
}

/// Every top-level module a text names through `crate::` (outside tests).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in non_test_lines(text) {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::c}`: the names at the group's first level.
                let mut depth = 0;
                for part in group.split_inclusive([',', '{', '}']) {
                    if depth == 0 {
                        out.insert(ident(part.trim_start()).to_string());
                    }
                    depth += part.matches('{').count() as i32 - part.matches('}').count() as i32;
                }
            } else {
                out.insert(ident(rest).to_string());
            }
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

/// Strongly connected components of more than one module.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for n in graph.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|m| (m, reach(m))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for (m, r) in &reaches {
        let mut scc: Vec<String> =
            r.iter().filter(|n| *n != *m && reaches.get(n).is_some_and(|back| back.contains(*m))).cloned().collect();
        if scc.is_empty() {
            continue;
        }
        scc.push((*m).clone());
        scc.sort();
        if !found.contains(&scc) {
            found.push(scc);
        }
    }
    found
}

fn graph_of(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in files {
        let Some(m) = module_of(rel) else { continue };
        let deps = graph.entry(m.clone()).or_default();
        deps.extend(imports(text).into_iter().filter(|d| *d != m));
    }
    graph
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = graph_of(&src_files());
    assert!(graph.contains_key("runner") && graph["runner"].contains("emulator"), "the graph is read from src/");
    let found = cycles(&graph);
    assert!(found.is_empty(), "modules that import each other in a loop: {found:?}");
}

#[test]
fn the_cycle_finder_finds_the_old_loop() {
    // The three ties of issue 9, as they were written.
    let files = [
        ("src/suite.rs".to_string(), "x(crate::runner::message_matches)".to_string()),
        ("src/mock.rs".to_string(), "use crate::runner::{region, message_matches};".to_string()),
        ("src/emulator/mod.rs".to_string(), "use crate::{suite::Suite, world};".to_string()),
        ("src/runner.rs".to_string(), "use crate::{emulator::Emulator, mock};".to_string()),
    ];
    let found = cycles(&graph_of(&files));
    assert_eq!(found, vec![vec!["emulator", "mock", "runner", "suite"]]);
    // A unit test's import is no dependency of its module.
    let tested = [
        (
            "src/a.rs".to_string(),
            "use crate::b;\n#[cfg(test)]\nmod tests {\n    use crate::c;\n}\nfn after() {}".to_string(),
        ),
        ("src/c.rs".to_string(), "use crate::a;".to_string()),
    ];
    assert!(cycles(&graph_of(&tested)).is_empty());
}

/// `(file, line, name, length)` of each function longer than the limit.
fn long_functions(rel: &str, text: &str) -> Vec<(String, usize, String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let c = code(line).trim_start();
        let Some(at) = c.find("fn ") else { continue };
        let head = &c[..at];
        let is_item = head
            .split_whitespace()
            .all(|w| matches!(w, "pub" | "async" | "const" | "unsafe" | "extern") || w.starts_with("pub("));
        if !is_item || c.ends_with(';') {
            continue;
        }
        let name = ident(&c[at + 3..]).to_string();
        // From the line of `fn` to the line that closes its body.
        let mut depth = 0i32;
        let mut opened = false;
        for (j, l) in lines.iter().enumerate().skip(i) {
            let l = code(l);
            if !opened && l.trim_end().ends_with(';') && !l.contains('{') {
                break; // a declaration without a body
            }
            for ch in l.chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                let len = j - i + 1;
                if len > MAX_FUNCTION_LINES {
                    out.push((rel.to_string(), i + 1, name.clone(), len));
                }
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_over_80_lines() {
    let long: Vec<_> = src_files().iter().flat_map(|(rel, text)| long_functions(rel, text)).collect();
    assert!(long.is_empty(), "functions over {MAX_FUNCTION_LINES} lines (file, line, name, lines): {long:#?}");
}

#[test]
fn the_length_measure_counts_bodies() {
    let body = "    x();\n".repeat(MAX_FUNCTION_LINES);
    let text = format!("pub async fn long(a: u8) -> u8 {{\n{body}}}\nfn short() {{}}\n");
    assert_eq!(long_functions("src/x.rs", &text), vec![("src/x.rs".into(), 1, "long".into(), MAX_FUNCTION_LINES + 2)]);
}

#[test]
fn no_too_many_arguments_allowance() {
    let found: Vec<_> = src_files()
        .iter()
        .filter(|(_, text)| text.lines().any(|l| code(l).contains("clippy::too_many_arguments")))
        .map(|(rel, _)| rel.clone())
        .collect();
    assert!(found.is_empty(), "`too_many_arguments` allowed in {found:?}");
}
