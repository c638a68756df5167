//! What an SDK upgrade changes, and how much it matters to a server and to
//! a caller.
//!
//! Both environments run every case ([`super::trial`]); [`compare`] reads
//! the two records of a case step by step and classes each difference by
//! **what a server that accepted the old request would see**, and what a
//! caller's code would stop getting. The rules, one per row of the README's
//! table ("Classification"):
//!
//! - **breaking**: the trial ran on one side and failed or became
//!   unsupported on the other; the signature scheme, method, content type,
//!   path or parameter location changed; Action or Version is no longer
//!   sent where it was; a case parameter is renamed, removed, dropped or
//!   re-encoded (its decoded value differs); a protocol parameter is gone
//!   or its value differs; a header the old request signed (or `accept`,
//!   `content-type`) is gone or has another value; a header is no longer
//!   signed; the decoded outcome, status, code, message, request ID or a
//!   body field differs or is no longer exposed; the exception class is no
//!   longer the old one or a subclass of it; an exception attribute is gone.
//! - **notable** (listed, does not fail): anything added (a header, a
//!   signed header, a parameter, Action/Version in one more place, a
//!   decoded field, a newly exposed status, an exception subclass or
//!   attribute, a retry hint); a new User-Agent or other client header
//!   value; a volatile value's new format (nonce, date); the number
//!   of attempts (retries); more steps run; a case that now passes or runs.
//! - **noise**: header and parameter order. (Volatile values themselves,
//!   nonce, date, signature, length, host, port and request IDs, are
//!   redacted to their shape before the comparison, and a value is compared
//!   percent-decoded, as a server reads it.)
//!
//! [`FlavourDiff::new`] groups identical changes across cases: one row per
//! distinct change, with how many requests and cases it touches.

use super::trial::{SdkOutcome, StepRecord, Verdict};
use super::wire::WireView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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

/// One difference in one step of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub case: String,
    pub step: usize,
    pub section: &'static str,
    pub class: Class,
    pub what: String,
    pub old: String,
    pub new: String,
    /// What differs per case under the same change (a failure's lines).
    pub detail: Option<String>,
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

/// The accepted differences of a flavour; none when it lists none.
pub fn accepted(b: &super::bundle::Bundle, flavour: &str) -> Result<Vec<Accepted>, String> {
    let rel = format!("flavours/{flavour}/accepted.yaml");
    match b.text(&rel) {
        Some(text) => crate::yaml::parse::<Vec<Accepted>>(std::path::Path::new(&format!("sdk/{rel}")), &text)
            .map_err(|d| d.to_string()),
        None => Ok(Vec::new()),
    }
}

/// One distinct change, with every case and request it touches. Values
/// that differ per case (a status, a message) are one change: `old` and
/// `new` are the first seen, `variants` counts the distinct pairs, and
/// `details` gives each case's own.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub class: Class,
    pub section: &'static str,
    pub what: String,
    pub old: String,
    pub new: String,
    pub variants: usize,
    /// Requests (steps) that show it.
    pub requests: usize,
    /// The cases that show it, in suite order.
    pub cases: Vec<String>,
    /// Per case, what differs under this change (a failure's first line).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    pub accepted: Option<String>,
}

/// One side of a diff.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Side {
    /// What was asked for (`2.1.0`, `latest`, `locked`).
    pub label: String,
    /// The moved package's version in the resolved set.
    pub version: Option<String>,
    /// The version the SDK's own imports loaded (none: not loaded).
    pub loaded: Option<String>,
    /// Whether what the SDK loaded was asked (the side ran).
    pub probed: bool,
    /// The environment's cache key.
    pub env: String,
}

/// The diff of one flavour between two versions of one package.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlavourDiff {
    pub flavour: String,
    pub package: String,
    pub from: Side,
    pub to: Side,
    /// Why this diff has no result, or is not about the package: the
    /// environment errors (driver's own lines) and what the SDK did not
    /// load. Shown first; any makes `sdk diff` exit 2.
    pub problems: Vec<String>,
    pub summary: Summary,
    pub changes: Vec<Row>,
}

/// Counts of distinct changes (rows), and of cases.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub breaking: usize,
    pub notable: usize,
    pub noise: usize,
    /// Breaking changes a reviewer accepted (counted in `breaking` too).
    pub accepted: usize,
    pub cases: usize,
    pub changed_cases: usize,
    pub unchanged_cases: usize,
}

impl FlavourDiff {
    /// Groups the changes of every case (`per_case` in suite order).
    pub fn grouped(mut self, per_case: Vec<Vec<Change>>, accepted: &[Accepted]) -> FlavourDiff {
        let mut s = Summary { cases: per_case.len(), ..Default::default() };
        let mut rows: Vec<Row> = Vec::new();
        let mut index: BTreeMap<(Class, &'static str, String), usize> = BTreeMap::new();
        let mut pairs: Vec<BTreeSet<(String, String)>> = Vec::new();
        for case in per_case {
            if case.iter().all(|c| c.class == Class::Noise) {
                s.unchanged_cases += 1;
            } else {
                s.changed_cases += 1;
            }
            for c in case {
                let key = (c.class, c.section, c.what.clone());
                let i = *index.entry(key).or_insert_with(|| {
                    pairs.push(BTreeSet::new());
                    rows.push(Row {
                        class: c.class,
                        section: c.section,
                        what: c.what.clone(),
                        old: c.old.clone(),
                        new: c.new.clone(),
                        variants: 0,
                        requests: 0,
                        cases: Vec::new(),
                        details: BTreeMap::new(),
                        accepted: None,
                    });
                    rows.len() - 1
                });
                let row = &mut rows[i];
                row.requests += 1;
                if row.cases.last() != Some(&c.case) {
                    row.cases.push(c.case.clone());
                }
                pairs[i].insert((c.old.clone(), c.new.clone()));
                let detail = c.detail.unwrap_or_else(|| format!("{} -> {}", c.old, c.new));
                row.details.entry(c.case).or_insert(detail);
            }
        }
        for (row, p) in rows.iter_mut().zip(&pairs) {
            row.variants = p.len();
            // One value pair for all: the cases need no detail of their own.
            if row.variants == 1 && row.details.values().all(|d| *d == format!("{} -> {}", row.old, row.new)) {
                row.details.clear();
            }
        }
        let to = self.to.label.clone();
        for row in &mut rows {
            row.accepted = accepted
                .iter()
                .find(|a| {
                    row.what.contains(&a.what)
                        && a.case.as_ref().is_none_or(|p| row.cases.iter().all(|c| c.starts_with(p.as_str())))
                        && a.to.as_ref().is_none_or(|t| *t == to)
                })
                .map(|a| a.reason.clone());
            match row.class {
                Class::Breaking => s.breaking += 1,
                Class::Notable => s.notable += 1,
                Class::Noise => s.noise += 1,
            }
            if row.class == Class::Breaking && row.accepted.is_some() {
                s.accepted += 1;
            }
        }
        rows.sort_by_key(|r| (r.class, std::cmp::Reverse(r.requests)));
        self.summary = s;
        self.changes = rows;
        self
    }

    /// Breaking changes nobody accepted: these fail the run.
    pub fn unaccepted_breaking(&self) -> usize {
        self.changes.iter().filter(|c| c.class == Class::Breaking && c.accepted.is_none()).count()
    }

    /// `sdk diff`'s exit code for this flavour: 2 without a result, 1 on an
    /// unaccepted breaking change, else 0.
    pub fn exit_code(&self) -> u8 {
        match (self.problems.is_empty(), self.unaccepted_breaking()) {
            (false, _) => 2,
            (true, 0) => 0,
            _ => 1,
        }
    }

    /// One word for the summary line.
    pub fn verdict(&self) -> &'static str {
        match (self.problems.is_empty(), self.unaccepted_breaking(), self.summary.breaking, self.summary.notable) {
            (false, ..) => "no result",
            (true, n, ..) if n > 0 => "breaking",
            (true, 0, b, _) if b > 0 => "accepted",
            (true, 0, 0, n) if n > 0 => "notable",
            _ => "unchanged",
        }
    }
}

/// Every difference between two runs of one case.
pub fn compare(case: &str, old: &SdkOutcome, new: &SdkOutcome) -> Vec<Change> {
    let mut d = Differ { case, step: 0, out: Vec::new() };
    d.verdicts(&old.verdict(), &new.verdict());
    if old.steps.len() != new.steps.len() {
        let class = if new.steps.len() < old.steps.len() { Class::Breaking } else { Class::Notable };
        d.push("decoded", class, "steps run", old.steps.len(), new.steps.len());
    }
    for (i, (a, b)) in old.steps.iter().zip(&new.steps).enumerate() {
        d.step = i + 1;
        d.wire(a, b);
        d.decoded(a, b);
    }
    d.out
}

struct Differ<'a> {
    case: &'a str,
    step: usize,
    out: Vec<Change>,
}

/// The first line of a verdict's detail, without the trial's step name.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
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
            detail: None,
        });
    }

    /// A trial that passed on one side and not on the other, with the reason.
    fn verdicts(&mut self, a: &Verdict, b: &Verdict) {
        let class = match (a, b) {
            _ if a.name() == b.name() => return,
            (Verdict::Pass | Verdict::Divergence(_), Verdict::Fail(_) | Verdict::Unsupported(_)) => Class::Breaking,
            (_, Verdict::Fail(_)) => Class::Breaking,
            _ => Class::Notable,
        };
        let what = match b {
            Verdict::Fail(_) => "the case now fails",
            Verdict::Unsupported(_) => "the SDK can no longer express the case",
            Verdict::Pass => "the case now passes",
            _ => "the case's verdict",
        };
        self.push("verdict", class, what, a.name(), b.name());
        let detail = if b.detail().is_empty() { first_line(a.detail()) } else { first_line(b.detail()) };
        if let Some(last) = self.out.last_mut() {
            last.detail = Some(detail);
        }
    }

    fn wire(&mut self, a: &StepRecord, b: &StepRecord) {
        if a.wire.len() != b.wire.len() {
            self.push("wire", Class::Notable, "number of attempts (retries)", a.wire.len(), b.wire.len());
        }
        let (Some(x), Some(y)) = (a.wire.last(), b.wire.last()) else { return };
        for (what, p, q) in [
            ("signature scheme", &x.scheme, &y.scheme),
            ("method", &x.method, &y.method),
            ("parameter location", &x.params_in, &y.params_in),
            ("path", &x.path, &y.path),
        ] {
            if p != q {
                self.push("wire", Class::Breaking, what, p, q);
            }
        }
        self.media_type(&x.content_type, &y.content_type);
        self.places("Action", &x.action_in, &y.action_in);
        self.places("Version", &x.version_in, &y.version_in);
        self.params(x, y);
        // Under another scheme, what is signed is that scheme's (its row says so).
        if x.scheme == y.scheme {
            self.signed(x, y);
        }
        self.headers(x, y);
        if let Some((a, b)) = reordered(&x.param_order, &y.param_order) {
            self.push("wire", Class::Noise, "parameter order", a, b);
        }
        if let Some((a, b)) = reordered(&x.header_order, &y.header_order) {
            self.push("wire", Class::Noise, "header order", a, b);
        }
        if x.user_agent != y.user_agent {
            self.push("wire", Class::Notable, "User-Agent", &x.user_agent, &y.user_agent);
        }
    }

    /// The content type is how a server parses the body.
    fn media_type(&mut self, a: &str, b: &str) {
        if a != b {
            self.push("wire", Class::Breaking, "content type", a, b);
        }
    }

    /// Where Action or Version travels: gone from a place is breaking, one
    /// more place is notable.
    fn places(&mut self, name: &str, a: &str, b: &str) {
        let set = |s: &str| -> BTreeSet<String> { s.split('+').filter(|p| *p != "-").map(str::to_string).collect() };
        let (pa, pb) = (set(a), set(b));
        if pa == pb {
            return;
        }
        if pa.is_subset(&pb) {
            let added: Vec<String> = pb.difference(&pa).cloned().collect();
            self.push("wire", Class::Notable, &format!("{name} also sent in {}", added.join("+")), a, b);
        } else {
            self.push("wire", Class::Breaking, &format!("{name} no longer sent where it was"), a, b);
        }
    }

    fn params(&mut self, x: &WireView, y: &WireView) {
        let by = |w: &WireView| -> BTreeMap<String, (String, String, bool)> {
            w.params.iter().map(|p| (p.name.clone(), (p.encoded.clone(), p.value.clone(), p.protocol))).collect()
        };
        let (a, b) = (by(x), by(y));
        let added: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
        for (k, (enc_a, val_a, protocol)) in &a {
            let kind = if *protocol { "protocol parameter" } else { "parameter" };
            let Some((enc_b, val_b, _)) = b.get(k) else {
                self.push("wire", Class::Breaking, &format!("{kind} no longer sent: {k}"), enc_a, "-");
                continue;
            };
            let volatile = val_a.starts_with('[') && val_b.starts_with('[');
            if val_a != val_b && volatile {
                self.push("wire", Class::Notable, &format!("format of {k}"), enc_a, enc_b);
            } else if val_a != val_b {
                // The same value percent-encoded another way is the same to
                // a server (and its signature is judged by the answer).
                self.push("wire", Class::Breaking, &format!("encoded value of {k}"), enc_a, enc_b);
            }
        }
        for k in added {
            let kind = if b[k].2 { "protocol parameter" } else { "parameter" };
            self.push("wire", Class::Notable, &format!("new {kind}: {k}"), "-", &b[k].0);
        }
    }

    fn signed(&mut self, x: &WireView, y: &WireView) {
        let sa: BTreeSet<&String> = x.signed_headers.iter().collect();
        let sb: BTreeSet<&String> = y.signed_headers.iter().collect();
        for h in sa.difference(&sb) {
            self.push("wire", Class::Breaking, &format!("header no longer signed: {h}"), h, "-");
        }
        for h in sb.difference(&sa) {
            self.push("wire", Class::Notable, &format!("header newly signed: {h}"), "-", h);
        }
    }

    fn headers(&mut self, x: &WireView, y: &WireView) {
        // Headers a server reads: the ones the old request signed, and how
        // the body is typed and the answer asked for.
        let read = |k: &str| k == "accept" || k == "content-type" || x.signed_headers.iter().any(|s| s == k);
        let a: BTreeMap<&str, &str> = x.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let b: BTreeMap<&str, &str> = y.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for (k, v) in &b {
            match a.get(k) {
                // Facts read elsewhere: the scheme, signed headers, content type.
                _ if ["authorization", "content-type", "user-agent"].contains(k) => {}
                None => self.push("wire", Class::Notable, &format!("new header: {k}"), "-", v),
                Some(old) if old != v => {
                    let volatile = old.starts_with('[') && v.starts_with('[');
                    let class = if read(k) && !volatile { Class::Breaking } else { Class::Notable };
                    let what = if volatile { "format of header" } else { "header value" };
                    self.push("wire", class, &format!("{what}: {k}"), old, v);
                }
                _ => {}
            }
        }
        for (k, v) in &a {
            if !b.contains_key(k) && !["authorization", "content-type", "user-agent"].contains(k) {
                let class = if read(k) { Class::Breaking } else { Class::Notable };
                self.push("wire", class, &format!("header gone: {k}"), v, "-");
            }
        }
    }

    /// A decoded field: differing or no longer exposed is breaking, newly
    /// exposed is notable.
    fn exposed(&mut self, what: &str, a: Option<String>, b: Option<String>) {
        match (a, b) {
            (None, None) => {}
            (Some(p), Some(q)) if p == q => {}
            (None, Some(q)) => {
                self.push("decoded", Class::Notable, &format!("{what} newly exposed"), "(not exposed)", q)
            }
            (Some(p), None) => {
                self.push("decoded", Class::Breaking, &format!("{what} no longer exposed"), p, "(not exposed)")
            }
            (Some(p), Some(q)) => self.push("decoded", Class::Breaking, what, p, q),
        }
    }

    fn decoded(&mut self, a: &StepRecord, b: &StepRecord) {
        let (x, y) = (&a.reply, &b.reply);
        if x.outcome != y.outcome {
            self.push("decoded", Class::Breaking, "outcome", &x.outcome, &y.outcome);
        }
        self.exposed("status", x.status.map(|s| s.to_string()), y.status.map(|s| s.to_string()));
        let some = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        self.exposed("code", some(&x.code), some(&y.code));
        self.exposed("message", some(&x.message), some(&y.message));
        self.exposed("request ID", some(&x.request_id), some(&y.request_id));
        self.exception(a, b);
        self.body(&x.body, &y.body);
        let da: BTreeSet<&String> = x.dropped.iter().collect();
        for n in y.dropped.iter().filter(|n| !da.contains(n)) {
            self.push("decoded", Class::Breaking, &format!("case parameter dropped: {n}"), "-", n);
        }
    }

    fn exception(&mut self, a: &StepRecord, b: &StepRecord) {
        let (Some(e), Some(f)) = (&a.reply.exception, &b.reply.exception) else { return };
        if e.class != f.class {
            let (class, what) = match f.bases.contains(&e.class) {
                true => (Class::Notable, "new exception subclass"),
                false => (Class::Breaking, "exception class is no longer the old one or a subclass of it"),
            };
            self.push("decoded", class, what, &e.class, &f.class);
        }
        let ea: BTreeSet<&String> = e.attributes.iter().collect();
        let fa: BTreeSet<&String> = f.attributes.iter().collect();
        for n in fa.difference(&ea) {
            self.push("decoded", Class::Notable, &format!("new exception attribute: {n}"), "-", n);
        }
        for n in ea.difference(&fa) {
            self.push("decoded", Class::Breaking, &format!("exception attribute gone: {n}"), n, "-");
        }
        let hint = |v: &Option<Value>| match v {
            None | Some(Value::Null) => "-".to_string(),
            Some(v) if v.is_number() => "[milliseconds]".to_string(),
            Some(v) => v.to_string(),
        };
        let (ra, rb) = (hint(&e.retry_after), hint(&f.retry_after));
        if ra != rb {
            self.push("decoded", Class::Notable, "retry hint (retry_after)", ra, rb);
        }
    }

    fn body(&mut self, a: &Value, b: &Value) {
        let (fa, fb) = (flatten(a), flatten(b));
        for (k, v) in &fa {
            match fb.get(k) {
                None => self.push("decoded", Class::Breaking, &format!("decoded field gone: {k}"), v, "-"),
                Some(w) if w != v => self.push("decoded", Class::Breaking, &format!("decoded value of {k}"), v, w),
                _ => {}
            }
        }
        for (k, v) in fb.iter().filter(|(k, _)| !fa.contains_key(*k)) {
            self.push("decoded", Class::Notable, &format!("new decoded field: {k}"), "-", v);
        }
    }
}

/// The names both sides sent, each side's order of them, when it differs.
fn reordered(a: &[String], b: &[String]) -> Option<(String, String)> {
    let common = |x: &[String], y: &[String]| -> Vec<String> { x.iter().filter(|n| y.contains(n)).cloned().collect() };
    let (p, q) = (common(a, b), common(b, a));
    (p != q).then(|| (p.join(","), q.join(",")))
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
            param_order: params.iter().map(|p| p.name.clone()).collect(),
            params,
            ..WireView::default()
        };
        StepRecord { name: "s".into(), action: "A".into(), wire: vec![wire], reply: Reply::default() }
    }

    fn outcome(s: StepRecord) -> SdkOutcome {
        SdkOutcome { steps: vec![s], ..Default::default() }
    }

    #[test]
    fn accepted_breaking_changes_do_not_fail() {
        let old = outcome(step(&[("A", "1")]));
        let new = outcome(step(&[("A", "2")]));
        let acc = vec![Accepted { what: "encoded value of A".into(), case: None, to: None, reason: "reviewed".into() }];
        let d = FlavourDiff::default().grouped(vec![compare("c", &old, &new)], &acc);
        assert_eq!((d.summary.breaking, d.unaccepted_breaking(), d.exit_code()), (1, 0, 0));
        let d = FlavourDiff::default().grouped(vec![compare("c", &old, &new)], &[]);
        assert_eq!((d.unaccepted_breaking(), d.exit_code()), (1, 1));
    }

    #[test]
    fn one_row_per_distinct_change_with_its_cases_and_requests() {
        let old = outcome(step(&[("DryRun", "False")]));
        let new = outcome(step(&[("DryRun", "false")]));
        let per_case = (0..3).map(|i| compare(&format!("v::s::A::c{i}"), &old, &new)).collect();
        let d = FlavourDiff::default().grouped(per_case, &[]);
        assert_eq!(d.changes.len(), 1, "{:#?}", d.changes);
        assert_eq!((d.changes[0].requests, d.changes[0].cases.len(), d.summary.breaking), (3, 3, 1));
        assert_eq!((d.summary.changed_cases, d.summary.unchanged_cases), (3, 0));
    }

    #[test]
    fn a_problem_means_no_result_whatever_the_changes() {
        let d = FlavourDiff { problems: vec!["the driver did not start".into()], ..Default::default() };
        assert_eq!((d.exit_code(), d.verdict()), (2, "no result"));
    }
}
