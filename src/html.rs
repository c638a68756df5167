//! The HTML report: one self-contained file (inline CSS and JS, no network,
//! no external assets) that people would rather look at than read. It is
//! rendered from a results document ([`crate::results`]) and, optionally,
//! the SDK-upgrade diff (`apiconform sdk diff --format json`), so it can be
//! written by `run --html` or later by `report --html` from saved results.
//!
//! Every string in it passes through [`esc`]; the inputs were redacted
//! before they were saved. Filters live in the URL fragment
//! (`#verdict=fail&vendor=aliyun&q=disk`), so a link shows a filtered view.

use crate::results::{RunResults, Trial};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

/// The whole page.
pub fn render(results: &RunResults, sdk_diff: Option<&Value>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>apiconform report</title><style>{STYLE}</style></head><body>"
    );
    header(&mut h, results);
    filters(&mut h, &results.trials);
    failures(&mut h, &results.trials);
    coverage(&mut h, results);
    trials(&mut h, &results.trials);
    parity(&mut h, &results.parity);
    sdks(&mut h, sdk_diff);
    let _ = writeln!(h, "<script>{SCRIPT}</script></body></html>");
    h
}

fn vendor_of(api: &str) -> &str {
    api.split("::").next().unwrap_or(api)
}

fn header(h: &mut String, r: &RunResults) {
    let count = |v: &str| r.trials.iter().filter(|t| t.verdict == v).count();
    let _ = write!(
        h,
        "<header><h1>apiconform report</h1><p class=\"meta\">apiconform {} · finished {} · targets: {}</p>\
         <p class=\"totals\"><span class=\"v-pass\" id=\"total-pass\">{} passed</span> \
         <span class=\"v-fail\" id=\"total-fail\">{} failed</span> \
         <span class=\"v-skip\" id=\"total-skip\">{} skipped</span></p>\
         <nav><a href=\"#coverage\">Coverage</a> <a href=\"#cases\">Cases</a> <a href=\"#parity\">Parity</a> \
         <a href=\"#sdks\">SDKs</a></nav></header>",
        esc(&r.tool_version),
        esc(&r.finished_at),
        esc(&r.targets.join(", ")),
        count("pass"),
        count("fail"),
        count("skip"),
    );
}

fn select(h: &mut String, id: &str, label: &str, values: &BTreeSet<String>) {
    let _ = write!(h, "<label>{label} <select id=\"f-{id}\" data-filter=\"{id}\"><option value=\"\">all</option>");
    for v in values {
        let _ = write!(h, "<option>{}</option>", esc(v));
    }
    h.push_str("</select></label> ");
}

fn filters(h: &mut String, trials: &[Trial]) {
    let set = |f: &dyn Fn(&Trial) -> Vec<String>| -> BTreeSet<String> { trials.iter().flat_map(f).collect() };
    h.push_str("<section id=\"filters\" class=\"filters\">");
    select(h, "vendor", "Vendor", &set(&|t| vec![vendor_of(&t.api).to_string()]));
    select(h, "api", "API", &set(&|t| vec![t.api.clone()]));
    select(h, "target", "Target", &set(&|t| vec![t.target.clone()]));
    select(h, "verdict", "Verdict", &set(&|t| vec![t.verdict.clone()]));
    select(h, "tag", "Tag", &set(&|t| t.tags.clone()));
    h.push_str(
        "<label>Search <input id=\"f-q\" data-filter=\"q\" type=\"search\" placeholder=\"case, code, text\"></label> \
         <span class=\"shown\">showing <b id=\"shown\">0</b> of <b id=\"total\">0</b> trials</span></section>",
    );
}

/// Links to every failed trial, first thing under the filters.
fn failures(h: &mut String, trials: &[Trial]) {
    let failed: Vec<&Trial> = trials.iter().filter(|t| t.verdict == "fail").collect();
    if failed.is_empty() {
        h.push_str("<p id=\"failures\" class=\"v-pass\">Every trial passed or was skipped.</p>");
        return;
    }
    h.push_str("<section id=\"failures\"><h2>Failures</h2><ul>");
    for t in failed {
        let first = t.detail.first().map(String::as_str).unwrap_or_default();
        let _ = write!(h, "<li><a href=\"#{}\"><code>{}</code></a> {}</li>", anchor(&t.name), esc(&t.name), esc(first));
    }
    h.push_str("</ul></section>");
}

/// An element id for a trial name.
fn anchor(name: &str) -> String {
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("t-{id}")
}

fn verdict_cell(v: Option<&str>) -> String {
    match v {
        Some(v) => format!("<td class=\"v-{0}\">{0}</td>", esc(v)),
        None => "<td class=\"v-none\">–</td>".into(),
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

fn coverage(h: &mut String, r: &RunResults) {
    let targets = matrix_targets(&r.coverage);
    let assumed: BTreeMap<(&str, &str), &str> =
        r.trials.iter().filter_map(|t| t.assumed.as_deref().map(|a| ((t.api.as_str(), t.case.as_str()), a))).collect();
    h.push_str("<section id=\"coverage\"><h2>Coverage: every documented error × target</h2>");
    h.push_str("<table class=\"matrix\"><thead><tr><th>API</th><th>status</th><th>code</th><th>basis</th>");
    for t in &targets {
        let _ = write!(h, "<th>{}</th>", esc(t));
    }
    h.push_str("<th>live (date)</th><th>cases / waiver</th></tr></thead><tbody>");
    for row in r.coverage["rows"].as_array().into_iter().flatten() {
        let api = row["api"].as_str().unwrap_or_default();
        let cases: Vec<&str> = row["cases"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let reasons: Vec<&str> = cases.iter().filter_map(|c| assumed.get(&(api, *c)).copied()).collect();
        let basis = if reasons.is_empty() {
            "<td class=\"doc\">doc-stated</td>".to_string()
        } else {
            format!("<td class=\"assumed\" title=\"{}\">assumed</td>", esc(&reasons.join("; ")))
        };
        let verdicts: Vec<&str> = targets
            .iter()
            .filter_map(|t| row["verdicts"][t.as_str()].as_str())
            .chain(row["live"]["verdict"].as_str())
            .collect();
        let row_verdict = ["fail", "pass", "skip"].into_iter().find(|v| verdicts.contains(v)).unwrap_or("none");
        let _ = write!(
            h,
            "<tr class=\"row\" data-vendor=\"{}\" data-api=\"{}\" data-verdict=\"{row_verdict}\" data-text=\"{}\"><td>{}</td><td>{}</td><td><code>{}</code></td>{basis}",
            esc(vendor_of(api)),
            esc(api),
            esc(&format!("{api} {} {}", row["code"].as_str().unwrap_or_default(), cases.join(" ")).to_lowercase()),
            esc(api),
            row["status"],
            esc(row["code"].as_str().unwrap_or_default()),
        );
        for t in &targets {
            h.push_str(&verdict_cell(row["verdicts"][t.as_str()].as_str()));
        }
        match row["live"].as_object() {
            Some(l) => {
                let v = l.get("verdict").and_then(Value::as_str).unwrap_or("–");
                let at = l.get("recorded_at").and_then(Value::as_str).unwrap_or_default();
                let _ = write!(h, "<td class=\"v-{0}\">{0} <small>{1}</small></td>", esc(v), esc(at));
            }
            None => h.push_str("<td class=\"v-none\">not recorded</td>"),
        }
        let last = match row["waiver"].as_str() {
            Some(w) if cases.is_empty() => format!("<span class=\"waiver\">waived: {}</span>", esc(w)),
            _ if cases.is_empty() => "<span class=\"missing\">missing</span>".into(),
            _ => esc(&cases.join(", ")),
        };
        let _ = write!(h, "<td>{last}</td></tr>");
    }
    h.push_str("</tbody></table></section>");
}

fn diff_html(d: &str) -> String {
    d.lines()
        .map(|l| {
            let class = match l.chars().next() {
                Some('+') if !l.starts_with("+++") => "add",
                Some('-') if !l.starts_with("---") => "del",
                Some('@') => "hunk",
                _ => "ctx",
            };
            format!("<span class=\"{class}\">{}</span>", esc(l))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn trials(h: &mut String, trials: &[Trial]) {
    h.push_str("<section id=\"cases\"><h2>Cases</h2>");
    for t in trials {
        let text = format!("{} {} {} {}", t.name, t.condition, t.detail.join(" "), t.tags.join(" ")).to_lowercase();
        let _ = write!(
            h,
            "<details id=\"{}\" class=\"trial v-{v}\" data-vendor=\"{}\" data-api=\"{}\" data-target=\"{}\" data-verdict=\"{v}\" \
             data-tags=\"{}\" data-text=\"{}\"{}><summary><span class=\"badge v-{v}\">{v}</span> <code>{}</code>",
            anchor(&t.name),
            esc(vendor_of(&t.api)),
            esc(&t.api),
            esc(&t.target),
            esc(&t.tags.join(" ")),
            esc(&text),
            if t.verdict == "fail" { " open" } else { "" },
            esc(&t.name),
            v = esc(&t.verdict),
        );
        for tag in &t.tags {
            let _ = write!(h, " <span class=\"tag\">{}</span>", esc(tag));
        }
        if let Some(a) = &t.assumed {
            let _ = write!(h, " <span class=\"tag assumed\" title=\"{}\">assumed</span>", esc(a));
        }
        let _ = write!(
            h,
            "</summary><blockquote class=\"condition\">{}</blockquote><p class=\"file\">{} · {} ms</p>",
            esc(&t.condition),
            esc(&t.file.display().to_string()),
            t.duration_ms
        );
        if !t.detail.is_empty() {
            let _ = write!(h, "<pre class=\"detail\">{}</pre>", esc(&t.detail.join("\n")));
        }
        if let Some(d) = &t.snapshot_diff {
            let _ = write!(h, "<h4>Snapshot diff</h4><pre class=\"diff\">{}</pre>", diff_html(d));
        }
        let _ =
            write!(h, "<h4>Transcript (redacted)</h4><pre class=\"transcript\">{}</pre></details>", esc(&t.transcript));
    }
    h.push_str("</section>");
}

fn parity(h: &mut String, parity: &Value) {
    h.push_str("<section id=\"parity\"><h2>Parity: emulator against live recordings</h2>");
    let rows = parity.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        h.push_str("<p class=\"empty\">No live recordings to compare with.</p></section>");
        return;
    }
    h.push_str("<table><thead><tr><th>case</th><th>recorded</th><th>step</th><th>field</th><th>emulator</th><th>live</th><th>accepted</th></tr></thead><tbody>");
    for c in rows {
        let name = c["case"].as_str().unwrap_or_default();
        let at = c["recorded_at"].as_str().unwrap_or_default();
        let diffs = c["differences"].as_array().cloned().unwrap_or_default();
        if diffs.is_empty() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td colspan=\"5\" class=\"v-pass\">same</td></tr>",
                esc(name),
                esc(at)
            );
        }
        for d in diffs {
            let s = |k: &str| esc(d[k].as_str().unwrap_or_default());
            let accepted = d["accepted"].as_str().map_or("<span class=\"v-fail\">no</span>".into(), esc);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{accepted}</td></tr>",
                esc(name),
                esc(at),
                s("step"),
                s("field"),
                s("emulator"),
                s("live")
            );
        }
    }
    h.push_str("</tbody></table></section>");
}

fn sdks(h: &mut String, diff: Option<&Value>) {
    h.push_str("<section id=\"sdks\"><h2>SDKs: upgrade diff per flavour</h2>");
    let flavours = diff.and_then(Value::as_array).cloned().unwrap_or_default();
    if flavours.is_empty() {
        h.push_str("<p class=\"empty\">No SDK diff given (<code>--sdk-diff FILE</code>).</p></section>");
        return;
    }
    for f in flavours {
        let s = &f["summary"];
        let _ = write!(
            h,
            "<div class=\"flavour\"><h3><code>{}</code> {} → {}</h3><p class=\"summary\">\
             <span class=\"c-breaking\">{} breaking</span> <span class=\"c-notable\">{} notable</span> \
             <span class=\"c-noise\">{} noise</span> <span>{} unchanged</span> of {} cases</p>",
            esc(f["flavour"].as_str().unwrap_or_default()),
            esc(f["from"].as_str().unwrap_or_default()),
            esc(f["to"].as_str().unwrap_or_default()),
            s["breaking"],
            s["notable"],
            s["noise"],
            s["unchanged"],
            s["cases"],
        );
        h.push_str("<table><thead><tr><th>class</th><th>case</th><th>step</th><th>section</th><th>what</th><th>old</th><th>new</th><th>accepted</th></tr></thead><tbody>");
        for c in f["changes"].as_array().into_iter().flatten() {
            let s = |k: &str| match &c[k] {
                Value::String(x) => esc(x),
                Value::Null => "–".into(),
                other => esc(&other.to_string()),
            };
            let _ = write!(
                h,
                "<tr class=\"c-{}\"><td>{}</td><td class=\"case\"><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                s("class"),
                s("class"),
                case_cell(&s("case")),
                s("step"),
                s("section"),
                s("what"),
                s("old"),
                s("new"),
                s("accepted")
            );
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section>");
}

/// An escaped case path that breaks only between its parts, its case name
/// kept whole.
fn case_cell(path: &str) -> String {
    match path.rsplit_once("::") {
        Some((api, name)) => format!("{}::<wbr><span class=\"nw\">{name}</span>", api.replace("::", "::<wbr>")),
        None => format!("<span class=\"nw\">{path}</span>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_path_breaks_between_its_parts_only() {
        assert_eq!(case_cell("v::s::A::my-case"), "v::<wbr>s::<wbr>A::<wbr><span class=\"nw\">my-case</span>");
        assert_eq!(case_cell("x"), "<span class=\"nw\">x</span>");
    }

    #[test]
    fn markup_in_any_field_is_escaped() {
        assert_eq!(esc("<script>\"x\"&'y'</script>"), "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;");
        let r = RunResults {
            format: 1,
            tool_version: "<b>".into(),
            finished_at: String::new(),
            targets: vec![],
            trials: vec![],
            coverage: Value::Null,
            parity: Value::Null,
        };
        let sdk = serde_json::json!([{"flavour": "<img src=x>", "summary": {}, "changes": []}]);
        let page = render(&r, Some(&sdk));
        assert!(!page.contains("<b>") && !page.contains("<img src=x>"));
        assert!(!page.contains("http://") && !page.contains("https://"), "no external reference");
    }
}
