//! The SDK-upgrade diff as text (a terminal) and Markdown (a CI job page,
//! an artifact): what cannot be trusted first, then the summary, then one
//! row per distinct change by class, then the noise on one line each.
//! (`--format json` is the [`FlavourDiff`] list itself; the HTML report
//! reads that.)

use super::diff::{Class, FlavourDiff, Row};
use std::fmt::Write;

/// How many cases a text row names before `+N more`.
const SHOWN_CASES: usize = 3;

fn side(d: &FlavourDiff, to: bool) -> String {
    let s = if to { &d.to } else { &d.from };
    match (&s.version, &s.loaded) {
        (Some(v), _) if *v == s.label => v.clone(),
        (Some(v), _) => format!("{} ({v})", s.label),
        (None, _) => s.label.clone(),
    }
}

/// `2.1.0 -> 2.1.1`, with what the SDK loaded when that differs.
fn versions(d: &FlavourDiff, arrow: &str) -> String {
    let mut s = format!("{} {} {arrow} {}", d.package, side(d, false), side(d, true));
    let loaded = |x: &super::diff::Side| x.loaded.clone().unwrap_or_else(|| "not loaded".into());
    let probed = d.from.probed || d.to.probed;
    if probed && (d.from.loaded != d.from.version || d.to.loaded != d.to.version) {
        let _ = write!(s, " (as the SDK loads it: {} {arrow} {})", loaded(&d.from), loaded(&d.to));
    }
    s
}

/// A value on one line, at most 100 characters.
fn short(v: &str) -> String {
    let one = v.replace('\r', "").replace('\n', "\\n");
    match one.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

fn cases_line(r: &Row) -> String {
    let mut shown: Vec<String> = r.cases.iter().take(SHOWN_CASES).cloned().collect();
    if r.cases.len() > SHOWN_CASES {
        shown.push(format!("+{} more", r.cases.len() - SHOWN_CASES));
    }
    shown.join(", ")
}

fn counts(r: &Row) -> String {
    let plural = |n: usize, w: &str| if n == 1 { format!("{n} {w}") } else { format!("{n} {w}s") };
    format!("{}, {}", plural(r.requests, "request"), plural(r.cases.len(), "case"))
}

/// The diff for a terminal.
pub fn text(diffs: &[FlavourDiff]) -> String {
    let mut s = String::new();
    for d in diffs.iter().filter(|d| !d.problems.is_empty()) {
        let _ = writeln!(s, "NO RESULT for {} ({}):", d.flavour, versions(d, "->"));
        for p in &d.problems {
            let _ = writeln!(s, "  {}", p.replace('\n', "\n  "));
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "{:<20} {:<10} {:>8} {:>7} {:>5} {:>13}  upgrade",
        "flavour", "verdict", "breaking", "notable", "noise", "changed cases"
    );
    for d in diffs {
        let m = &d.summary;
        let _ = writeln!(
            s,
            "{:<20} {:<10} {:>8} {:>7} {:>5} {:>13}  {}",
            d.flavour,
            d.verdict(),
            m.breaking,
            m.notable,
            m.noise,
            format!("{} of {}", m.changed_cases, m.cases),
            versions(d, "->")
        );
    }
    s.push_str("(counts are distinct changes)\n");
    for d in diffs.iter().filter(|d| !d.changes.is_empty()) {
        let _ = writeln!(s, "\n== {}: {}", d.flavour, versions(d, "->"));
        for class in [Class::Breaking, Class::Notable] {
            let rows: Vec<&Row> = d.changes.iter().filter(|r| r.class == class).collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(s, "{} ({}):", class.name(), rows.len());
            for r in rows {
                let acc = r.accepted.as_ref().map(|a| format!(" [accepted: {a}]")).unwrap_or_default();
                let vary =
                    if r.variants > 1 { format!(" (and {} other values)", r.variants - 1) } else { String::new() };
                let _ = writeln!(s, "  {}: {}: {} -> {}{vary}{acc}", r.section, r.what, short(&r.old), short(&r.new));
                let _ = writeln!(s, "      {}: {}", counts(r), cases_line(r));
                if let Some((case, detail)) = r.details.iter().next() {
                    let _ = writeln!(s, "      e.g. {case}: {}", short(detail));
                }
            }
        }
        let noise: Vec<String> = d
            .changes
            .iter()
            .filter(|r| r.class == Class::Noise)
            .map(|r| format!("{} ({})", r.what, counts(r)))
            .collect();
        if !noise.is_empty() {
            let _ = writeln!(s, "noise: {}", noise.join("; "));
        }
    }
    s
}

fn cell(t: &str) -> String {
    t.replace('|', "\\|").replace('\n', " ").replace('`', "'")
}

/// The diff as Markdown: the summary table first, then per flavour one row
/// per change with its cases collapsed.
pub fn markdown(diffs: &[FlavourDiff]) -> String {
    let mut s = String::from("# SDK upgrade diff\n\n");
    for d in diffs.iter().filter(|d| !d.problems.is_empty()) {
        let _ = writeln!(s, "> **No result for `{}`** ({}):\n>", d.flavour, cell(&versions(d, "→")));
        for p in &d.problems {
            let _ = writeln!(s, "> ```\n> {}\n> ```", p.replace('\n', "\n> "));
        }
        s.push('\n');
    }
    s.push_str("| flavour | upgrade | verdict | breaking | notable | noise | changed cases |\n|---|---|---|---:|---:|---:|---:|\n");
    for d in diffs {
        let m = &d.summary;
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} of {} |",
            d.flavour,
            cell(&versions(d, "→")),
            d.verdict(),
            m.breaking,
            m.notable,
            m.noise,
            m.changed_cases,
            m.cases
        );
    }
    s.push_str("\nCounts are distinct changes; each row below lists the requests and cases it touches.\n");
    for d in diffs.iter().filter(|d| !d.changes.is_empty()) {
        let _ = writeln!(s, "\n## `{}`: {}\n", d.flavour, cell(&versions(d, "→")));
        s.push_str("| class | section | change | old | new | touches | accepted |\n|---|---|---|---|---|---|---|\n");
        for r in d.changes.iter().filter(|r| r.class != Class::Noise) {
            let list: Vec<String> = r
                .cases
                .iter()
                .map(|c| match r.details.get(c) {
                    Some(d) => format!("`{c}`: {}", cell(d)),
                    None => format!("`{c}`"),
                })
                .collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | `{}` | `{}` | <details><summary>{}</summary>{}</details> | {} |",
                r.class.name(),
                r.section,
                cell(&r.what),
                cell(&short(&r.old)),
                cell(&short(&r.new)),
                counts(r),
                list.join("<br>"),
                r.accepted.as_deref().map(cell).unwrap_or_default()
            );
        }
        let noise: Vec<String> = d
            .changes
            .iter()
            .filter(|r| r.class == Class::Noise)
            .map(|r| format!("{} ({})", cell(&r.what), counts(r)))
            .collect();
        if !noise.is_empty() {
            let _ = writeln!(s, "\nNoise: {}.", noise.join("; "));
        }
    }
    s
}
