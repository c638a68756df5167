//! The HTML report: one self-contained file (inline CSS and JS, no network,
//! no external assets) that people would rather look at than read. It is
//! rendered from a results document ([`crate::results`]) and, optionally,
//! the SDK-upgrade diff (`apiconform sdk diff --format json`), so it can be
//! written by `run --html` or later by `report --html` from saved results.
//!
//! The page is a maud template: every value is escaped unless it is wrapped
//! in `PreEscaped`, which only the page's own stylesheet and script are (a
//! test holds that). A results file is input like any other, so a field that
//! holds markup must show as text, whatever its JSON type. Filters live in
//! the URL fragment (`#verdict=fail&vendor=aliyun&q=disk`), so a link shows a
//! filtered view.

use crate::results::{RunResults, Trial};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

/// The whole page.
pub fn render(results: &RunResults, sdk_diff: Option<&Value>) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "apiconform report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (header(results))
                (filters(&results.trials))
                (failures(&results.trials))
                (coverage(results))
                (trials(&results.trials))
                (parity(&results.parity))
                (sdks(sdk_diff))
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string() + "\n"
}

/// A JSON value as text: a string as it is, `null` or missing as a dash,
/// anything else (a number, or whatever a crafted file holds) as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn vendor_of(api: &str) -> &str {
    api.split("::").next().unwrap_or(api)
}

fn header(r: &RunResults) -> Markup {
    let count = |v: &str| r.trials.iter().filter(|t| t.verdict == v).count();
    html! {
        header {
            h1 { "apiconform report" }
            p.meta { "apiconform " (r.tool_version) " · finished " (r.finished_at) " · targets: " (r.targets.join(", ")) }
            p.totals {
                span.v-pass #total-pass { (count("pass")) " passed" } " "
                span.v-fail #total-fail { (count("fail")) " failed" } " "
                span.v-skip #total-skip { (count("skip")) " skipped" }
            }
            nav {
                a href="#coverage" { "Coverage" } " " a href="#cases" { "Cases" } " "
                a href="#parity" { "Parity" } " " a href="#sdks" { "SDKs" }
            }
        }
    }
}

fn select(id: &str, label: &str, values: &BTreeSet<String>) -> Markup {
    html! {
        label {
            (label) " "
            select id={ "f-" (id) } data-filter=(id) {
                option value="" { "all" }
                @for v in values { option { (v) } }
            }
        }
        " "
    }
}

fn filters(trials: &[Trial]) -> Markup {
    let set = |f: &dyn Fn(&Trial) -> Vec<String>| -> BTreeSet<String> { trials.iter().flat_map(f).collect() };
    html! {
        section #filters .filters {
            (select("vendor", "Vendor", &set(&|t| vec![vendor_of(&t.api).to_string()])))
            (select("api", "API", &set(&|t| vec![t.api.clone()])))
            (select("target", "Target", &set(&|t| vec![t.target.clone()])))
            (select("verdict", "Verdict", &set(&|t| vec![t.verdict.clone()])))
            (select("tag", "Tag", &set(&|t| t.tags.clone())))
            label { "Search " input #f-q data-filter="q" type="search" placeholder="case, code, text"; } " "
            span.shown { "showing " b #shown { "0" } " of " b #total { "0" } " trials" }
        }
    }
}

/// Links to every failed trial, first thing under the filters.
fn failures(trials: &[Trial]) -> Markup {
    let failed: Vec<&Trial> = trials.iter().filter(|t| t.verdict == "fail").collect();
    html! {
        @if failed.is_empty() {
            p #failures .v-pass { "Every trial passed or was skipped." }
        } @else {
            section #failures {
                h2 { "Failures" }
                ul {
                    @for t in failed {
                        li {
                            a href={ "#" (anchor(&t.name)) } { code { (t.name) } } " "
                            (t.detail.first().map(String::as_str).unwrap_or_default())
                        }
                    }
                }
            }
        }
    }
}

/// An element id for a trial name.
fn anchor(name: &str) -> String {
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("t-{id}")
}

fn verdict_cell(v: Option<&str>) -> Markup {
    html! {
        @match v {
            Some(v) => td class={ "v-" (v) } { (v) },
            None => td.v-none { "–" },
        }
    }
}

/// The matrix's target columns: the offline targets first, then any other
/// a row has a verdict for.
fn matrix_targets(coverage: &Value) -> Vec<String> {
    let mut out: Vec<String> = vec!["emulator".into(), "mock".into()];
    for row in coverage["rows"].as_array().into_iter().flatten() {
        for t in row["verdicts"].as_object().into_iter().flatten().map(|(k, _)| k) {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
    }
    out
}

fn coverage(r: &RunResults) -> Markup {
    let targets = matrix_targets(&r.coverage);
    let assumed: BTreeMap<(&str, &str), &str> =
        r.trials.iter().filter_map(|t| t.assumed.as_deref().map(|a| ((t.api.as_str(), t.case.as_str()), a))).collect();
    html! {
        section #coverage {
            h2 { "Coverage: every documented error × target" }
            table.matrix {
                thead { tr {
                    th { "API" } th { "status" } th { "code" } th { "basis" }
                    @for t in &targets { th { (t) } }
                    th { "live (date)" } th { "cases / waiver" }
                } }
                tbody {
                    @for row in r.coverage["rows"].as_array().into_iter().flatten() {
                        (coverage_row(row, &targets, &assumed))
                    }
                }
            }
        }
    }
}

fn coverage_row(row: &Value, targets: &[String], assumed: &BTreeMap<(&str, &str), &str>) -> Markup {
    let api = str_of(&row["api"]);
    let code = str_of(&row["code"]);
    let cases: Vec<&str> = row["cases"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let reasons: Vec<&str> = cases.iter().filter_map(|c| assumed.get(&(api, *c)).copied()).collect();
    let verdicts: Vec<&str> = targets
        .iter()
        .filter_map(|t| row["verdicts"][t.as_str()].as_str())
        .chain(row["live"]["verdict"].as_str())
        .collect();
    let row_verdict = ["fail", "pass", "skip"].into_iter().find(|v| verdicts.contains(v)).unwrap_or("none");
    let search = format!("{api} {code} {}", cases.join(" ")).to_lowercase();
    html! {
        tr.row data-vendor=(vendor_of(api)) data-api=(api) data-verdict=(row_verdict) data-text=(search) {
            td { (api) }
            td { (text(&row["status"])) }
            td { code { (code) } }
            @if reasons.is_empty() {
                td.doc { "doc-stated" }
            } @else {
                td.assumed title=(reasons.join("; ")) { "assumed" }
            }
            @for t in targets { (verdict_cell(row["verdicts"][t.as_str()].as_str())) }
            @match row["live"].as_object() {
                Some(l) => {
                    @let v = l.get("verdict").and_then(Value::as_str).unwrap_or("–");
                    td class={ "v-" (v) } { (v) " " small { (l.get("recorded_at").and_then(Value::as_str).unwrap_or_default()) } }
                }
                None => td.v-none { "not recorded" },
            }
            td {
                @match row["waiver"].as_str() {
                    Some(w) if cases.is_empty() => span.waiver { "waived: " (w) },
                    _ if cases.is_empty() => span.missing { "missing" },
                    _ => (cases.join(", ")),
                }
            }
        }
    }
}

fn diff_html(d: &str) -> Markup {
    html! {
        @for (i, l) in d.lines().enumerate() {
            @if i > 0 { "\n" }
            @let class = match l.chars().next() {
                Some('+') if !l.starts_with("+++") => "add",
                Some('-') if !l.starts_with("---") => "del",
                Some('@') => "hunk",
                _ => "ctx",
            };
            span class=(class) { (l) }
        }
    }
}

fn trials(trials: &[Trial]) -> Markup {
    html! {
        section #cases {
            h2 { "Cases" }
            @for t in trials { (trial(t)) }
        }
    }
}

fn trial(t: &Trial) -> Markup {
    let search = format!("{} {} {} {}", t.name, t.condition, t.detail.join(" "), t.tags.join(" ")).to_lowercase();
    let v = &t.verdict;
    html! {
        details id=(anchor(&t.name)) class={ "trial v-" (v) } data-vendor=(vendor_of(&t.api)) data-api=(t.api)
            data-target=(t.target) data-verdict=(v) data-tags=(t.tags.join(" ")) data-text=(search)
            open[t.verdict == "fail"] {
            summary {
                span class={ "badge v-" (v) } { (v) } " " code { (t.name) }
                @for tag in &t.tags { " " span.tag { (tag) } }
                @if let Some(a) = &t.assumed { " " span.tag.assumed title=(a) { "assumed" } }
            }
            blockquote.condition { (t.condition) }
            p.file { (t.file.display()) " · " (t.duration_ms) " ms" }
            @if !t.detail.is_empty() { pre.detail { (t.detail.join("\n")) } }
            @if let Some(d) = &t.snapshot_diff { h4 { "Snapshot diff" } pre.diff { (diff_html(d)) } }
            h4 { "Transcript (redacted)" }
            pre.transcript { (t.transcript) }
        }
    }
}

fn parity(parity: &Value) -> Markup {
    let rows = parity.as_array().cloned().unwrap_or_default();
    html! {
        section #parity {
            h2 { "Parity: emulator against live recordings" }
            @if rows.is_empty() {
                p.empty { "No live recordings to compare with." }
            } @else {
                table {
                    thead { tr {
                        th { "case" } th { "recorded" } th { "step" } th { "field" }
                        th { "emulator" } th { "live" } th { "accepted" }
                    } }
                    tbody { @for c in &rows { (parity_rows(c)) } }
                }
            }
        }
    }
}

fn parity_rows(c: &Value) -> Markup {
    let (name, at) = (str_of(&c["case"]), str_of(&c["recorded_at"]));
    let diffs = c["differences"].as_array().cloned().unwrap_or_default();
    html! {
        @if diffs.is_empty() {
            tr { td { (name) } td { (at) } td colspan="5" .v-pass { "same" } }
        }
        @for d in &diffs {
            tr {
                td { (name) } td { (at) } td { (str_of(&d["step"])) } td { (str_of(&d["field"])) }
                td { (str_of(&d["emulator"])) } td { (str_of(&d["live"])) }
                td {
                    @match d["accepted"].as_str() {
                        Some(a) => (a),
                        None => span.v-fail { "no" },
                    }
                }
            }
        }
    }
}

fn sdks(diff: Option<&Value>) -> Markup {
    let flavours = diff.and_then(Value::as_array).cloned().unwrap_or_default();
    html! {
        section #sdks {
            h2 { "SDKs: upgrade diff per flavour" }
            @if flavours.is_empty() {
                p.empty { "No SDK diff given (" code { "--sdk-diff FILE" } ")." }
            }
            @for f in &flavours { (flavour(f)) }
        }
    }
}

/// One flavour of the SDK diff: what has no result first, then the
/// summary, then one row per distinct change with its cases collapsed, and
/// the noise on one line.
fn flavour(f: &Value) -> Markup {
    let s = &f["summary"];
    let rows = f["changes"].as_array().cloned().unwrap_or_default();
    let noise: Vec<String> = rows
        .iter()
        .filter(|c| c["class"] == "noise")
        .map(|c| format!("{} ({} requests)", text(&c["what"]), text(&c["requests"])))
        .collect();
    html! {
        div.flavour {
            h3 {
                code { (str_of(&f["flavour"])) } " " (str_of(&f["package"])) " "
                (text(&f["from"]["label"])) " → " (text(&f["to"]["label"]))
            }
            @for p in f["problems"].as_array().into_iter().flatten() {
                pre.c-breaking { "No result: " (text(p)) }
            }
            p.summary {
                span.c-breaking { (text(&s["breaking"])) " breaking" } " "
                span.c-notable { (text(&s["notable"])) " notable" } " "
                span.c-noise { (text(&s["noise"])) " noise" } " distinct changes; "
                (text(&s["changed_cases"])) " of " (text(&s["cases"])) " cases changed"
            }
            table {
                thead { tr {
                    th { "class" } th { "section" } th { "change" } th { "old" } th { "new" }
                    th { "touches" } th { "accepted" }
                } }
                tbody {
                    @for c in rows.iter().filter(|c| c["class"] != "noise") { (change_row(c)) }
                }
            }
            @if !noise.is_empty() { p.c-noise { "Noise: " (noise.join("; ")) "." } }
        }
    }
}

/// One distinct change: its class, values, and the requests and cases it
/// touches (the cases collapsed, each with its own detail when it has one).
fn change_row(c: &Value) -> Markup {
    let cases: Vec<&Value> = c["cases"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    html! {
        tr class={ "c-" (text(&c["class"])) } {
            td { (text(&c["class"])) }
            @for k in ["section", "what", "old", "new"] { td { (text(&c[k])) } }
            td {
                details {
                    summary { (text(&c["requests"])) " requests, " (cases.len()) " cases" }
                    ul {
                        @for case in &cases {
                            li {
                                code.case { (case_cell(&text(case))) }
                                @if let Some(d) = c["details"][str_of(case)].as_str() { ": " (d) }
                            }
                        }
                    }
                }
            }
            td { (text(&c["accepted"])) }
        }
    }
}

/// A case path that breaks only between its parts, its case name kept whole.
fn case_cell(path: &str) -> Markup {
    html! {
        @match path.rsplit_once("::") {
            Some((api, name)) => {
                @for part in api.split("::") { (part) "::" wbr; }
                span.nw { (name) }
            }
            None => span.nw { (path) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Markup that would run, break out of an attribute or open an element.
    const BAD: &str = "\"'><x-inj onerror=alert(1)>&amp;</x-inj>";

    #[test]
    fn a_case_path_breaks_between_its_parts_only() {
        let cell = |p: &str| case_cell(p).into_string();
        assert_eq!(cell("v::s::A::my-case"), "v::<wbr>s::<wbr>A::<wbr><span class=\"nw\">my-case</span>");
        assert_eq!(cell("x"), "<span class=\"nw\">x</span>");
        assert_eq!(cell("<a>::<b>"), "&lt;a&gt;::<wbr><span class=\"nw\">&lt;b&gt;</span>");
    }

    /// A results document and SDK diff whose every field holds markup,
    /// strings where numbers belong included (the coverage row's `status`
    /// and the SDK summary counts were written as raw JSON text).
    fn hostile() -> (RunResults, Value) {
        let s = || BAD.to_string();
        let trial = Trial {
            name: s(),
            api: s(),
            case: s(),
            target: s(),
            verdict: "fail".into(),
            detail: vec![s(), s()],
            transcript: s(),
            duration_ms: 1,
            condition: s(),
            tags: vec![s()],
            file: s().into(),
            snapshot_diff: Some(format!("+{BAD}\n-{BAD}\n@{BAD}\n {BAD}")),
            assumed: Some(s()),
        };
        let other = Trial { verdict: s(), assumed: None, ..trial.clone() };
        let row = json!({"api": BAD, "status": BAD, "code": BAD, "cases": [BAD], "waiver": BAD,
            "verdicts": {BAD: BAD, "emulator": BAD}, "live": {"verdict": BAD, "recorded_at": BAD}});
        let row2 = json!({"api": BAD, "status": {"x": BAD}, "code": [BAD], "cases": [], "waiver": BAD, "live": BAD});
        let results = RunResults {
            format: 1,
            tool_version: s(),
            finished_at: s(),
            targets: vec![s()],
            trials: vec![trial, other],
            coverage: json!({"rows": [row, row2]}),
            parity: json!([{"case": BAD, "recorded_at": BAD, "differences": [
                {"step": BAD, "field": BAD, "emulator": BAD, "live": BAD, "accepted": BAD},
                {"step": 1, "field": {"x": BAD}, "accepted": null}]},
                {"case": BAD, "recorded_at": BAD, "differences": []}]),
        };
        let counts =
            json!({"breaking": BAD, "notable": {"x": BAD}, "noise": [BAD], "changed_cases": BAD, "cases": BAD});
        let case = format!("{BAD}::{BAD}");
        let change = json!({"cases": [case, BAD], "details": {case.clone(): BAD}, "requests": BAD, "section": BAD,
            "class": BAD, "what": BAD, "old": {"x": BAD}, "new": BAD, "accepted": BAD});
        let noise = json!({"class": "noise", "what": BAD, "requests": [BAD]});
        let sdk = json!([{"flavour": BAD, "package": BAD, "from": {"label": BAD}, "to": BAD, "problems": [BAD, {"x": BAD}],
            "summary": counts, "changes": [change, noise]}]);
        (results, sdk)
    }

    #[test]
    fn markup_in_every_field_shows_as_text() {
        let (results, sdk) = hostile();
        let page = render(&results, Some(&sdk));
        assert!(!page.contains("<x-inj"), "an element was injected");
        assert!(!page.contains("\"'>"), "an attribute was closed");
        assert_eq!(page.matches("<script").count(), 1, "only the page's own script");
        assert!(page.contains("&quot;'&gt;&lt;x-inj onerror=alert(1)&gt;&amp;amp;&lt;/x-inj&gt;"));
        assert!(!page.contains("http://") && !page.contains("https://"), "no external reference");
    }

    #[test]
    fn only_the_pages_own_style_and_script_are_unescaped() {
        let source = include_str!("html.rs");
        let opt_out = ["Pre", "Escaped("].concat();
        let ours = |c: &str| source.matches(&format!("{opt_out}{c})")).count();
        assert_eq!(source.matches(&opt_out).count(), ours("STYLE") + ours("SCRIPT"), "a value bypasses escaping");
    }
}
