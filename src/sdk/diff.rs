//! What an SDK upgrade changes, case by case, and how much it matters.
//!
//! Both environments run every case ([`super::trial`]); this module compares
//! the two records step by step and classes each difference:
//!
//! - **breaking** (fails the run): the signature scheme, method, parameter
//!   location or path changed; a parameter's name or flattening changed; the
//!   encoded value of a business parameter changed (`False` against `false`);
//!   a case parameter was dropped; Action or Version moved; the emulator now
//!   refuses the signature; the exception class is no longer a subclass of
//!   the old one; the outcome, code, status, message or request ID is decoded
//!   differently; a decoded field disappeared; the number of attempts changed.
//! - **notable** (listed, does not fail): new headers or a larger
//!   signed-header set; new exception subclasses or attributes; a new nonce
//!   or date format, percent-encoding style or Accept-Encoding; new decoded
//!   fields; a new SDK-added parameter.
//! - **noise**: header order, query order, User-Agent. Nonce, date and
//!   signature values, Content-Length, the port and request IDs are redacted
//!   before the comparison, so they never show up at all.
//!
//! A difference that a reviewer accepted lives in
//! `sdk/flavours/<flavour>/accepted.yaml` with its reason; it is reported
//! with that reason and does not fail the run.

use super::trial::{SdkOutcome, StepRecord};
use super::wire::WireView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Breaking,
    Notable,
    Noise,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Breaking => "breaking",
            Class::Notable => "notable",
            Class::Noise => "noise",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub case: String,
    pub step: usize,
    pub section: &'static str,
    pub class: Class,
    pub what: String,
    pub old: String,
    pub new: String,
    pub accepted: Option<String>,
}

/// One accepted difference (`sdk/flavours/<flavour>/accepted.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// Matches a change whose `what` contains this text.
    pub what: String,
    /// Only for cases whose name starts with this (default: every case).
    #[serde(default)]
    pub case: Option<String>,
    /// Only for this target version (default: any).
    #[serde(default)]
    pub to: Option<String>,
    pub reason: String,
}

/// The accepted differences of a flavour; none when the file is absent.
pub fn accepted(sdk: &Path, flavour: &str) -> Result<Vec<Accepted>, String> {
    let path = sdk.join("flavours").join(flavour).join("accepted.yaml");
    match std::fs::read_to_string(&path) {
        Ok(text) => crate::yaml::parse::<Vec<Accepted>>(&path, &text).map_err(|d| d.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The diff of one flavour between two versions.
#[derive(Debug, Clone, Serialize)]
pub struct FlavourDiff {
    pub flavour: String,
    pub from: String,
    pub to: String,
    pub summary: Summary,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub breaking: usize,
    pub notable: usize,
    pub noise: usize,
    pub unchanged: usize,
    pub cases: usize,
}

impl FlavourDiff {
    pub fn new(flavour: &str, from: &str, to: &str, per_case: Vec<Vec<Change>>, accepted: &[Accepted]) -> FlavourDiff {
        let mut summary = Summary { cases: per_case.len(), ..Default::default() };
        let mut changes = Vec::new();
        for mut case in per_case {
            if case.is_empty() {
                summary.unchanged += 1;
            }
            for c in case.iter_mut() {
                c.accepted = accepted
                    .iter()
                    .find(|a| {
                        c.what.contains(&a.what)
                            && a.case.as_ref().is_none_or(|p| c.case.starts_with(p.as_str()))
                            && a.to.as_ref().is_none_or(|t| t == to)
                    })
                    .map(|a| a.reason.clone());
                match c.class {
                    Class::Breaking => summary.breaking += 1,
                    Class::Notable => summary.notable += 1,
                    Class::Noise => summary.noise += 1,
                }
            }
            changes.extend(case);
        }
        FlavourDiff { flavour: flavour.into(), from: from.into(), to: to.into(), summary, changes }
    }

    /// Breaking changes nobody accepted: these fail the run.
    pub fn unaccepted_breaking(&self) -> usize {
        self.changes.iter().filter(|c| c.class == Class::Breaking && c.accepted.is_none()).count()
    }
}

/// Every difference between two runs of one case.
pub fn compare(case: &str, old: &SdkOutcome, new: &SdkOutcome) -> Vec<Change> {
    let mut d = Differ { case, step: 0, out: Vec::new() };
    if old.unsupported != new.unsupported {
        d.push("decoded", Class::Breaking, "unsupported", opt(&old.unsupported), opt(&new.unsupported));
    }
    if old.steps.len() != new.steps.len() {
        d.push("decoded", Class::Breaking, "steps run", old.steps.len(), new.steps.len());
    }
    for (i, (a, b)) in old.steps.iter().zip(&new.steps).enumerate() {
        d.step = i + 1;
        d.wire(a, b);
        d.decoded(a, b);
    }
    d.out
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

struct Differ<'a> {
    case: &'a str,
    step: usize,
    out: Vec<Change>,
}

impl Differ<'_> {
    fn push(&mut self, section: &'static str, class: Class, what: &str, old: impl ToString, new: impl ToString) {
        self.out.push(Change {
            case: self.case.to_string(),
            step: self.step,
            section,
            class,
            what: what.to_string(),
            old: old.to_string(),
            new: new.to_string(),
            accepted: None,
        });
    }

    fn same<T: PartialEq + std::fmt::Display>(&mut self, class: Class, what: &str, a: &T, b: &T) {
        if a != b {
            self.push("wire", class, what, a, b);
        }
    }

    fn wire(&mut self, a: &StepRecord, b: &StepRecord) {
        if a.wire.len() != b.wire.len() {
            self.push("wire", Class::Breaking, "number of attempts", a.wire.len(), b.wire.len());
        }
        let (Some(x), Some(y)) = (a.wire.last(), b.wire.last()) else { return };
        self.same(Class::Breaking, "signature scheme", &x.scheme, &y.scheme);
        self.same(Class::Breaking, "method", &x.method, &y.method);
        self.same(Class::Breaking, "parameter location", &x.params_in, &y.params_in);
        self.same(Class::Breaking, "path", &x.path, &y.path);
        self.same(Class::Breaking, "Action moved", &x.action_in, &y.action_in);
        self.same(Class::Breaking, "Version moved", &x.version_in, &y.version_in);
        self.same(Class::Notable, "content type", &x.content_type, &y.content_type);
        self.params(x, y);
        self.headers(x, y);
        if x.param_order != y.param_order && x.params.len() == y.params.len() {
            self.push("wire", Class::Noise, "query order", x.param_order.join("&"), y.param_order.join("&"));
        }
        if x.header_order != y.header_order {
            self.push("wire", Class::Noise, "header order", x.header_order.join(","), y.header_order.join(","));
        }
        self.same(Class::Noise, "User-Agent", &x.user_agent, &y.user_agent);
    }

    fn params(&mut self, x: &WireView, y: &WireView) {
        let by = |w: &WireView| -> BTreeMap<String, (String, String, bool)> {
            w.params.iter().map(|p| (p.name.clone(), (p.encoded.clone(), p.value.clone(), p.protocol))).collect()
        };
        let (a, b) = (by(x), by(y));
        let gone: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k) && !a[*k].2).collect();
        let added: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k) && !b[*k].2).collect();
        for k in &gone {
            let what = if added.is_empty() { "parameter no longer sent" } else { "parameter name or flattening" };
            self.push(
                "wire",
                Class::Breaking,
                &format!("{what}: {k}"),
                k,
                added.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            );
        }
        if gone.is_empty() {
            for k in &added {
                self.push("wire", Class::Notable, &format!("new parameter: {k}"), "-", &b[*k].0);
            }
        }
        for (k, (enc_a, val_a, protocol)) in &a {
            let Some((enc_b, val_b, _)) = b.get(k) else {
                if *protocol {
                    self.push("wire", Class::Notable, &format!("protocol parameter gone: {k}"), enc_a, "-");
                }
                continue;
            };
            if val_a != val_b {
                let volatile = val_a.starts_with('[') && val_b.starts_with('[');
                let class = if volatile || *protocol { Class::Notable } else { Class::Breaking };
                let what = if volatile { format!("format of {k}") } else { format!("encoded value of {k}") };
                self.push("wire", class, &what, enc_a, enc_b);
            } else if enc_a != enc_b {
                self.push("wire", Class::Notable, &format!("percent-encoding of {k}"), enc_a, enc_b);
            }
        }
        for k in b.keys().filter(|k| !a.contains_key(*k) && b[*k].2) {
            self.push("wire", Class::Notable, &format!("new protocol parameter: {k}"), "-", &b[k].0);
        }
    }

    fn headers(&mut self, x: &WireView, y: &WireView) {
        let sa: BTreeSet<&String> = x.signed_headers.iter().collect();
        let sb: BTreeSet<&String> = y.signed_headers.iter().collect();
        if sa != sb {
            let class = if sa.is_subset(&sb) { Class::Notable } else { Class::Breaking };
            let what = if sa.is_subset(&sb) { "signed headers grew" } else { "signed headers changed" };
            self.push("wire", class, what, x.signed_headers.join(";"), y.signed_headers.join(";"));
        }
        let a: BTreeMap<&str, &str> = x.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let b: BTreeMap<&str, &str> = y.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for (k, v) in &b {
            match a.get(k) {
                None => self.push("wire", Class::Notable, &format!("new header: {k}"), "-", v),
                Some(old) if old != v && *k != "authorization" => {
                    self.push("wire", Class::Notable, &format!("header value: {k}"), old, v)
                }
                _ => {}
            }
        }
        for (k, v) in &a {
            if !b.contains_key(k) {
                self.push("wire", Class::Notable, &format!("header gone: {k}"), v, "-");
            }
        }
    }

    fn decoded(&mut self, a: &StepRecord, b: &StepRecord) {
        let (x, y) = (&a.reply, &b.reply);
        let same = |d: &mut Self, what: &str, p: String, q: String| {
            if p != q {
                d.push("decoded", Class::Breaking, what, p, q);
            }
        };
        let code = |c: &Option<String>| c.clone().unwrap_or_else(|| "-".into());
        same(self, "outcome", x.outcome.clone(), y.outcome.clone());
        let status = |s: Option<u16>| s.map(|s| s.to_string()).unwrap_or_else(|| "(not exposed)".into());
        same(self, "status", status(x.status), status(y.status));
        same(self, "code", code(&x.code), code(&y.code));
        same(self, "message", code(&x.message), code(&y.message));
        same(self, "request ID", code(&x.request_id), code(&y.request_id));
        let refused = |c: &Option<String>| c.as_deref().is_some_and(|c| c.contains("Signature"));
        if refused(&y.code) && !refused(&x.code) {
            self.push(
                "decoded",
                Class::Breaking,
                "the emulator now refuses the signature",
                code(&x.code),
                code(&y.code),
            );
        }
        match (&x.exception, &y.exception) {
            (Some(e), Some(f)) if e.class != f.class => {
                let sub = f.bases.contains(&e.class);
                let (class, what) = match sub {
                    true => (Class::Notable, "new exception subclass"),
                    false => (Class::Breaking, "exception class is no longer a subclass of the old one"),
                };
                self.push("decoded", class, what, &e.class, &f.class);
            }
            _ => {}
        }
        if let (Some(e), Some(f)) = (&x.exception, &y.exception) {
            let ea: BTreeSet<&String> = e.attributes.iter().collect();
            let fa: BTreeSet<&String> = f.attributes.iter().collect();
            for n in fa.difference(&ea) {
                self.push("decoded", Class::Notable, &format!("new exception attribute: {n}"), "-", n);
            }
            for n in ea.difference(&fa) {
                self.push("decoded", Class::Breaking, &format!("exception attribute disappeared: {n}"), n, "-");
            }
            let ra = e.retry_after.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "-".into());
            let rb = f.retry_after.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "-".into());
            if ra != rb {
                self.push("decoded", Class::Notable, "retry_after", ra, rb);
            }
        }
        self.body(&x.body, &y.body);
        let da: BTreeSet<&String> = x.dropped.iter().collect();
        for n in y.dropped.iter().filter(|n| !da.contains(n)) {
            self.push("decoded", Class::Breaking, &format!("case parameter dropped: {n}"), "-", n);
        }
    }

    fn body(&mut self, a: &Value, b: &Value) {
        let (fa, fb) = (flatten(a), flatten(b));
        for (k, v) in &fa {
            match fb.get(k) {
                None => self.push("decoded", Class::Breaking, &format!("decoded field disappeared: {k}"), v, "-"),
                Some(w) if w != v => self.push("decoded", Class::Breaking, &format!("decoded value of {k}"), v, w),
                _ => {}
            }
        }
        for (k, v) in fb.iter().filter(|(k, _)| !fa.contains_key(*k)) {
            self.push("decoded", Class::Notable, &format!("new decoded field: {k}"), "-", v);
        }
    }
}

/// `{"a": {"b": [1]}}` → `a.b.0 = 1`.
fn flatten(v: &Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
        let key = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| walk(&key(k), x, out)),
            Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| walk(&key(&i.to_string()), x, out)),
            Value::Null if prefix.is_empty() => {}
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", v, &mut out);
    out
}

/// The diff as text for people: changes per case, then a summary table.
pub fn text(diffs: &[FlavourDiff]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for d in diffs {
        let _ = writeln!(s, "== {} {} -> {}", d.flavour, d.from, d.to);
        let mut last = "";
        for c in d.changes.iter().filter(|c| c.class != Class::Noise) {
            if c.case != last {
                let _ = writeln!(s, "{}", c.case);
                last = &c.case;
            }
            let acc = c.accepted.as_ref().map(|r| format!(" (accepted: {r})")).unwrap_or_default();
            let _ = writeln!(
                s,
                "  [{}] step {} {}: {}: {} -> {}{acc}",
                c.class.name(),
                c.step,
                c.section,
                c.what,
                c.old,
                c.new
            );
        }
    }
    let _ = writeln!(
        s,
        "\n{:<22} {:<28} {:>8} {:>8} {:>6} {:>10} {:>6}",
        "flavour", "from -> to", "breaking", "notable", "noise", "unchanged", "cases"
    );
    for d in diffs {
        let m = &d.summary;
        let v = format!("{} -> {}", d.from, d.to);
        let _ = writeln!(
            s,
            "{:<22} {:<28} {:>8} {:>8} {:>6} {:>10} {:>6}",
            d.flavour, v, m.breaking, m.notable, m.noise, m.unchanged, m.cases
        );
    }
    s
}

/// The diff as Markdown (a CI job summary or an artifact).
pub fn markdown(diffs: &[FlavourDiff]) -> String {
    use std::fmt::Write;
    let mut s = String::from("# SDK upgrade diff\n\n| flavour | from → to | breaking | notable | noise | unchanged | cases |\n|---|---|---:|---:|---:|---:|---:|\n");
    for d in diffs {
        let m = &d.summary;
        let _ = writeln!(
            s,
            "| `{}` | {} → {} | {} | {} | {} | {} | {} |",
            d.flavour, d.from, d.to, m.breaking, m.notable, m.noise, m.unchanged, m.cases
        );
    }
    for d in diffs {
        let _ = writeln!(s, "\n## `{}` {} → {}\n", d.flavour, d.from, d.to);
        let _ = writeln!(
            s,
            "| class | case | step | section | what | old | new | accepted |\n|---|---|---:|---|---|---|---|---|"
        );
        for c in d.changes.iter().filter(|c| c.class != Class::Noise) {
            let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {} | {} | `{}` | `{}` | {} |",
                c.class.name(),
                c.case,
                c.step,
                c.section,
                cell(&c.what),
                cell(&c.old),
                cell(&c.new),
                c.accepted.as_deref().map(cell).unwrap_or_default()
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::driver::Reply;
    use crate::sdk::wire::{Param, WireView};

    fn step(params: &[(&str, &str)]) -> StepRecord {
        let params = params
            .iter()
            .map(|(n, v)| Param {
                name: n.to_string(),
                encoded: v.to_string(),
                value: v.to_string(),
                location: "query",
                protocol: false,
            })
            .collect::<Vec<_>>();
        let wire = WireView {
            scheme: "rpc-v1".into(),
            method: "GET".into(),
            path: "/".into(),
            params_in: "query".into(),
            content_type: "-".into(),
            action_in: "query".into(),
            version_in: "query".into(),
            signed_headers: vec![],
            param_order: params.iter().map(|p| p.name.clone()).collect(),
            params,
            headers: vec![],
            header_order: vec![],
            user_agent: String::new(),
            status: 200,
        };
        StepRecord { name: "s".into(), action: "A".into(), wire: vec![wire], reply: Reply::default() }
    }

    fn outcome(s: StepRecord) -> SdkOutcome {
        SdkOutcome { steps: vec![s], ..Default::default() }
    }

    #[test]
    fn a_renamed_flattening_is_breaking_and_a_boolean_spelling_too() {
        let old = outcome(step(&[("Tag.1.Value.1", "a"), ("DryRun", "False")]));
        let new = outcome(step(&[("Tag.1.Value", "a"), ("DryRun", "false")]));
        let c = compare("c", &old, &new);
        assert!(c.iter().any(|x| x.class == Class::Breaking && x.what.contains("flattening: Tag.1.Value.1")), "{c:?}");
        assert!(c.iter().any(|x| x.class == Class::Breaking && x.what == "encoded value of DryRun"), "{c:?}");
    }

    #[test]
    fn percent_encoding_style_is_notable_and_order_is_noise() {
        let mut a = step(&[("Name", "a b"), ("X", "1")]);
        a.wire[0].params[0].encoded = "a+b".into();
        let mut b = step(&[("X", "1"), ("Name", "a b")]);
        b.wire[0].params[1].encoded = "a%20b".into();
        b.wire[0].params.sort_by(|x, y| x.name.cmp(&y.name));
        let c = compare("c", &outcome(a), &outcome(b));
        assert!(c.iter().any(|x| x.class == Class::Notable && x.what == "percent-encoding of Name"), "{c:?}");
        assert!(c.iter().any(|x| x.class == Class::Noise && x.what == "query order"), "{c:?}");
        assert!(!c.iter().any(|x| x.class == Class::Breaking), "{c:?}");
    }

    #[test]
    fn accepted_breaking_changes_do_not_fail() {
        let old = outcome(step(&[("A", "1")]));
        let new = outcome(step(&[("A", "2")]));
        let acc = vec![Accepted { what: "encoded value of A".into(), case: None, to: None, reason: "reviewed".into() }];
        let d = FlavourDiff::new("f", "1", "2", vec![compare("c", &old, &new)], &acc);
        assert_eq!((d.summary.breaking, d.unaccepted_breaking()), (1, 0));
        let d = FlavourDiff::new("f", "1", "2", vec![compare("c", &old, &new)], &[]);
        assert_eq!(d.unaccepted_breaking(), 1);
    }
}
