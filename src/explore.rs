//! `apiconform explore`: cases generated from the contract itself.
//!
//! Hand-written cases cover what someone thought of; `api.yaml` already
//! knows every parameter's type, required flag, range, length, pattern, enum
//! and conflicts. This module turns those constraints into requests (each
//! boundary and one past it, each enum value and one outside, a missing
//! required parameter, a wrong type, a string too long, non-ASCII text where
//! the doc says ASCII, a value for a parameter that is not open, conflicting
//! pairs), each on top of the API's `success` case, so that everything else
//! in the request and the world is valid. Generation is a pure function of
//! the contract: the same contract always gives the same requests, in the
//! same order.
//!
//! Each answer is judged against the contract, never against the emulator:
//! - a value the contract refuses that is accepted (a success, or DryRun's
//!   "validation passed") is a finding;
//! - a code the API does not document (its own or the vendor's common ones)
//!   is a finding;
//! - a valid boundary (or enum value) refused exactly like the invalid value
//!   paired with it is a finding: the valid one was rejected for the
//!   constraint itself.
//!
//! Probes run through [`Harness::run`], so on the live target they pass the
//! same gates as every live trial (opt-in, credentials, inventory binding and
//! staging, DryRun where the success case asks for it, the documented rate
//! limit). An API without DryRun runs only the probes the contract refuses
//! on live: a valid probe would really replace a system disk. Live findings
//! are printed as candidate case YAML, for review.

use crate::contract::{Param, ParamType};
use crate::runner::{Harness, Observed, Target};
use crate::suite::{Api, Case, CaseStep, CheckedExpect, Suite};
use crate::term::{clean, clean_lines};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One generated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `vendor::service::Action`.
    pub api: String,
    /// The parameter (documented name) the probe is about.
    pub param: String,
    /// What the probe does: `max_length 64 (at)`, `missing (required)`...
    pub what: String,
    /// The contract accepts this request.
    pub valid: bool,
    /// For a valid probe: the index of the invalid probe it is paired with.
    pub partner: Option<usize>,
    /// The request: the success case's parameters, changed.
    pub params: Vec<(String, String)>,
}

/// A probe whose answer the contract does not allow.
#[derive(Debug, Clone)]
pub struct Finding {
    pub probe: Probe,
    pub why: String,
    pub answer: Observed,
}

/// What one run of `explore` found.
#[derive(Debug, Default)]
pub struct Report {
    /// Requests generated per API.
    pub generated: BTreeMap<String, usize>,
    pub probes: Vec<Probe>,
    pub findings: Vec<Finding>,
    /// (probe description, reason) for probes that did not run.
    pub skipped: Vec<(String, String)>,
}

/// Text no enum lists.
const OUTSIDE_ENUM: &str = "apiconform-outside";

/// The API's own step of its `success` case: the valid base of every probe.
pub fn base(api: &Api) -> Result<&Case, String> {
    api.cases
        .iter()
        .find(|c| c.name == "success")
        .filter(|c| c.steps.first().is_some_and(|s| s.action == api.action))
        .ok_or_else(|| format!("{} has no `success` case to build probes on", api.path()))
}

/// Every probe of one API, in a stable order.
pub fn generate(api: &Api) -> Result<Vec<Probe>, String> {
    let success = base(api)?;
    let base = &success.steps[0].params;
    let mut g = Gen { api: api.path(), base, out: Vec::new() };
    for (name, p) in &api.contract.params {
        if p.ty == ParamType::Array || p.ty == ParamType::Object {
            continue;
        }
        let wire = name.replace(".N", ".1");
        g.param(&wire, name, p);
        for other in p.conflicts_with.iter().map(|r| r.param.param.as_str()) {
            let v = if p.ty == ParamType::Boolean { "true".to_string() } else { g.seed(&wire, p) };
            let other_p = api.contract.params.get(other);
            let ov = other_p.map(|o| g.seed(other, o)).unwrap_or_else(|| "apiconform".into());
            let params = with(&with(base, &wire, &v), other, &ov);
            g.push(name, format!("conflicts with {other}"), false, None, params);
        }
    }
    Ok(g.out)
}

struct Gen<'a> {
    api: String,
    base: &'a [(String, String)],
    out: Vec<Probe>,
}

impl Gen<'_> {
    fn push(&mut self, param: &str, what: String, valid: bool, partner: Option<usize>, params: Vec<(String, String)>) {
        let probe = Probe { api: self.api.clone(), param: param.to_string(), what, valid, partner, params };
        self.out.push(probe);
    }

    /// The invalid probe, then the valid one paired with it.
    fn pair(&mut self, param: &str, what: &str, (bad, good): (String, String), wire: &str) {
        let i = self.out.len();
        self.push(param, format!("{what} (one past)"), false, None, with(self.base, wire, &bad));
        self.push(param, format!("{what} (at)"), true, Some(i), with(self.base, wire, &good));
    }

    /// A valid value to start from: the success case's, the doc's example
    /// or default, or one of the right type.
    fn seed(&self, wire: &str, p: &Param) -> String {
        let from_base = self.base.iter().find(|(k, _)| k == wire).map(|(_, v)| v.clone());
        from_base.or_else(|| p.example.clone()).or_else(|| p.default.clone()).unwrap_or_else(|| match p.ty {
            ParamType::Integer => p.min.unwrap_or(1).to_string(),
            ParamType::Boolean => "true".into(),
            _ => "apiconform".into(),
        })
    }

    fn param(&mut self, wire: &str, name: &str, p: &Param) {
        if p.required {
            self.push(name, "missing (required)".into(), false, None, without(self.base, wire));
        }
        if p.not_open {
            let v = self.seed(wire, p);
            self.push(name, "a value (not open)".into(), false, None, with(self.base, wire, &v));
            return;
        }
        match p.ty {
            ParamType::Integer => {
                self.push(name, "wrong type (not an integer)".into(), false, None, with(self.base, wire, "abc"));
                if let Some(min) = p.min {
                    self.pair(name, &format!("min {min}"), ((min - 1).to_string(), min.to_string()), wire);
                }
                if let Some(max) = p.max {
                    self.pair(name, &format!("max {max}"), ((max + 1).to_string(), max.to_string()), wire);
                }
            }
            ParamType::Boolean => {
                self.push(name, "wrong type (not a boolean)".into(), false, None, with(self.base, wire, "maybe"));
            }
            _ => self.string(wire, name, p),
        }
    }

    fn string(&mut self, wire: &str, name: &str, p: &Param) {
        let seed = self.seed(wire, p);
        if let Some(min) = p.min_length.filter(|m| *m > 0) {
            let (bad, good) = (of_len(&seed, min as usize - 1), of_len(&seed, min as usize));
            self.pair(name, &format!("min_length {min}"), (bad, good), wire);
        }
        if let Some(max) = p.max_length {
            let (bad, good) = (of_len(&seed, max as usize + 1), of_len(&seed, max as usize));
            self.pair(name, &format!("max_length {max} (too long)"), (bad, good), wire);
        }
        if let Some(values) = &p.enum_values {
            let i = self.out.len();
            self.push(name, "outside the enum".into(), false, None, with(self.base, wire, OUTSIDE_ENUM));
            for v in values {
                self.push(name, format!("enum value {v}"), true, Some(i), with(self.base, wire, v));
            }
        }
        if let Some(pattern) = &p.pattern {
            let bad = "apiconform-not-matching";
            if regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(bad)) {
                self.push(name, "not matching the pattern".into(), false, None, with(self.base, wire, bad));
            }
        }
        let ascii = [&p.charset, &p.description].iter().any(|t| t.as_deref().is_some_and(|t| t.contains("ASCII")));
        if ascii {
            let room = p.max_length.map_or(seed.chars().count(), |m| (m as usize).saturating_sub(1));
            let bad = format!("{}\u{e9}", of_len(&seed, room.min(seed.chars().count())));
            self.push(name, "non-ASCII (the doc says ASCII)".into(), false, None, with(self.base, wire, &bad));
        }
    }
}

/// `seed` cut or padded (with `a`) to `n` characters.
fn of_len(seed: &str, n: usize) -> String {
    let mut s: String = seed.chars().take(n).collect();
    while s.chars().count() < n {
        s.push('a');
    }
    s
}

fn with(base: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut out = without(base, name);
    out.push((name.to_string(), value.to_string()));
    out
}

fn without(base: &[(String, String)], name: &str) -> Vec<(String, String)> {
    base.iter().filter(|(k, _)| k != name).cloned().collect()
}

/// The probe as a one-step case over the success case's world and targets.
fn as_case(api: &Api, success: &Case, i: usize, probe: &Probe) -> Case {
    let expect = CheckedExpect {
        status: 200,
        code: None,
        message: None,
        message_contains: None,
        at: None,
        assumed: None,
        body: Default::default(),
        documented: Vec::new(),
    };
    let step = CaseStep {
        name: "probe".into(),
        action: api.action.clone(),
        version: api.contract.version.clone(),
        service: api.service.clone(),
        params: probe.params.clone(),
        wire: success.steps[0].wire.clone(),
        auth: Default::default(),
        expect,
        save: Default::default(),
        repeat: 1,
    };
    Case {
        name: format!("explore-{i}"),
        file: success.file.clone(),
        condition: format!("{}: {}", probe.param, probe.what),
        tags: vec!["explore".into()],
        assumed: None,
        world: success.world.clone(),
        given: success.given.clone(),
        steps: vec![step],
        targets: success.targets.clone(),
        parity: Default::default(),
    }
}

/// Judges one answer against the contract (`partner`: the paired invalid
/// probe's answer, for a valid probe).
pub fn judge(api: &Api, probe: &Probe, got: &Observed, partner: Option<&Observed>) -> Option<String> {
    let documented =
        |c: &str| api.contract.errors.iter().any(|e| e.code == c) || api.common.errors.iter().any(|e| e.code == c);
    if let Some(code) = got.code.as_deref().filter(|c| !documented(c)) {
        return Some(format!("`{code}` is not documented for {}", api.action));
    }
    let accepted = got.status < 300 || got.code.as_deref() == Some("DryRunOperation");
    if !probe.valid && accepted {
        return Some("the contract refuses this value, the target accepted it".into());
    }
    let same = |p: &Observed| p.status == got.status && p.code == got.code && p.message == got.message;
    if probe.valid && !accepted && partner.is_some_and(same) {
        return Some("a valid value was refused exactly like the invalid one paired with it".into());
    }
    None
}

/// Runs every probe of the APIs whose path contains one of `filters` (all
/// when empty) on `target`.
pub fn explore(suite: &Suite, harness: &Harness, target: Target, filters: &[String]) -> Report {
    let mut report = Report::default();
    let chosen = suite.apis.iter().filter(|a| !a.contract.support);
    for api in chosen.filter(|a| filters.is_empty() || filters.iter().any(|f| a.path().contains(f.as_str()))) {
        let (success, probes) = match base(api).and_then(|s| Ok((s, generate(api)?))) {
            Ok(x) => x,
            Err(e) => {
                report.skipped.push((api.path(), e));
                continue;
            }
        };
        report.generated.insert(api.path(), probes.len());
        let no_dry_run = !success.targets.live_dry_run();
        let mut answers: Vec<Option<Observed>> = Vec::new();
        for (i, probe) in probes.iter().enumerate() {
            if target == Target::Live && probe.valid && no_dry_run {
                let why = "no DryRun: a valid probe would really change the resource".to_string();
                report.skipped.push((format!("{} {}: {}", api.path(), probe.param, probe.what), why));
                answers.push(None);
                continue;
            }
            let out = harness.run(api, &as_case(api, success, i, probe), target);
            let answer = out.observed.iter().rev().find(|o| o.action == api.action).cloned();
            match (&out.skipped, &answer) {
                (Some(why), _) => {
                    report.skipped.push((format!("{} {}: {}", api.path(), probe.param, probe.what), why.clone()))
                }
                (None, None) => report
                    .skipped
                    .push((format!("{} {}: {}", api.path(), probe.param, probe.what), out.failures.join("; "))),
                (None, Some(got)) => {
                    let partner = probe.partner.and_then(|p| answers.get(p).cloned().flatten());
                    if let Some(why) = judge(api, probe, got, partner.as_ref()) {
                        report.findings.push(Finding { probe: probe.clone(), why, answer: got.clone() });
                    }
                }
            }
            answers.push(answer);
        }
        report.probes.extend(probes);
    }
    report
}

/// A finding as a case file to review: the request, and what the target
/// answered as the expectation (tagged, since it contradicts the contract).
pub fn candidate_yaml(f: &Finding) -> String {
    let p = &f.probe;
    let slug: String = format!("explore-{}-{}", p.param, p.what)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut y = String::new();
    let _ = writeln!(y, "# yaml-language-server: $schema=../../../../schema/case.schema.json");
    let _ = writeln!(y, "# candidate from `apiconform explore` for {}: review before committing", p.api);
    let _ = writeln!(y, "name: {slug}");
    let _ = writeln!(y, "condition: {}", q(&format!("{}: {} (generated from api.yaml)", p.param, p.what)));
    let _ = writeln!(y, "assumed: {}", q(&format!("explore: {}", f.why)));
    let _ = writeln!(y, "request:");
    for (k, v) in &p.params {
        let _ = writeln!(y, "  {k}: {}", q(v));
    }
    let _ = writeln!(y, "expect:\n  status: {}", f.answer.status);
    if let Some(c) = &f.answer.code {
        let _ = writeln!(y, "  code: {c}");
        if f.why.contains("not documented") {
            let _ = writeln!(y, "  undocumented: {}", q("answered by the live cloud; not in the doc"));
        }
    }
    y
}

/// `apiconform explore`: prints per-API request counts, then the findings
/// (as candidate cases on live). `Err` carries the exit code's reason.
pub fn command(suite: &Suite, target: &str, filters: &[String]) -> Result<bool, String> {
    let target = match Target::parse(target) {
        Some(t @ (Target::Emulator | Target::Live)) => t,
        _ => return Err(format!("unknown target `{target}` for explore; use `emulator` or `live`")),
    };
    let harness = Harness::start(suite).map_err(|e| format!("cannot start the emulator: {e}"))?;
    let harness = match target {
        Target::Live => harness.with_live(crate::live::LiveConfig::from_process_env()),
        _ => harness,
    };
    let report = explore(suite, &harness, target, filters);
    for (api, n) in &report.generated {
        println!("{:<40} {n:>4} requests", clean(api));
    }
    for (what, why) in &report.skipped {
        println!("skipped {}: {}", clean(what), clean(why));
    }
    for f in &report.findings {
        match target {
            Target::Live => println!("---\n{}", clean_lines(&candidate_yaml(f))),
            _ => println!(
                "FINDING {} {}: {}: {} (got HTTP {} {})",
                clean(&f.probe.api),
                clean(&f.probe.param),
                clean(&f.probe.what),
                clean(&f.why),
                f.answer.status,
                clean(f.answer.code.as_deref().unwrap_or("(success)"))
            ),
        }
    }
    println!("{} requests, {} findings", report.probes.len(), report.findings.len());
    Ok(report.findings.is_empty())
}
