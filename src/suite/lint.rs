//! The lint rules: every check a case must pass before the runner sees it
//! (unknown parameters, fixtures, undocumented codes, duplicates, prose
//! conditions, one API version per vendor service). Each problem is a
//! diagnostic with a position; none stops the others from being found.

use super::model::{Api, Case, CaseStep, CheckedExpect, Location};
use crate::case::{BodyCheck, CaseFile, Expect, Params, Step};
use crate::contract::{Authority, Contract, DocumentedError};
use crate::diag::{did_you_mean, Diagnostic, FileDiagnostics, Pos};
use crate::template::{self, Token};
use crate::world::{Kind, WorldSpec};
use crate::yaml::{self, Spanned};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The texts of an API's case files, by path.
pub(super) type CaseTexts = Vec<(PathBuf, String)>;

/// An API as read, before its cases are checked (the loader's output,
/// the lint rules' input).
pub(super) struct RawApi {
    pub api: Api,
    pub files: CaseTexts,
    /// `api.yaml` as messages name it, and its text, for diagnostics about
    /// the contract.
    pub api_path: PathBuf,
    pub api_text: String,
}

/// Parses and checks the case files of each API.
pub(super) fn check_cases(raw_apis: Vec<RawApi>, diags: &mut Vec<Diagnostic>) -> Vec<Api> {
    // Contracts of sibling APIs, so that a step may call another action of
    // the same vendor: of the same service first, then of its others (a
    // Volcengine case verifies volume sizes with EBS DescribeVolumes).
    let contracts: Vec<(String, String, Contract)> =
        raw_apis.iter().map(|r| (r.api.vendor.clone(), r.api.service.clone(), r.api.contract.clone())).collect();
    let mut apis = Vec::new();
    for RawApi { mut api, files, api_path, api_text } in raw_apis {
        let mut siblings: Vec<(bool, &Contract)> =
            contracts.iter().filter(|(v, _, _)| *v == api.vendor).map(|(_, s, c)| (*s != api.service, c)).collect();
        siblings.sort_by_key(|(other_service, _)| *other_service);
        let siblings: Vec<&Contract> = siblings.into_iter().map(|(_, c)| c).collect();
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut cases = Vec::new();
        for (file, text) in files {
            let cf = match yaml::parse::<CaseFile>(&file, &text) {
                Ok(cf) => cf,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let mut ck = Checker {
                file: &file,
                text: &text,
                api: &api,
                siblings: &siblings,
                diags: FileDiagnostics::new(&file),
            };
            let name_pos = yaml::pos_of(&cf.name);
            if let Some(prev) = seen.get(&cf.name.value) {
                ck.err(
                    name_pos,
                    format!("duplicate case name `{}`", cf.name.value),
                    Some(format!("`{}` already uses this name; case names must be unique per API", prev.display())),
                );
            } else {
                seen.insert(cf.name.value.clone(), file.clone());
            }
            let case = ck.case(cf);
            if ck.diags.is_empty() {
                if let Some(c) = case {
                    cases.push(c);
                }
            }
            diags.extend(ck.diags.finish());
        }
        api.cases = cases;
        check_prose(&api, (&api_path, &api_text), diags);
        apis.push(api);
    }
    apis
}

/// An API's version is its vendor's and service's: every `api.yaml` of one
/// vendor and service must name the same one (the most common one wins).
pub(super) fn check_versions(apis: &[RawApi], diags: &mut Vec<Diagnostic>) {
    let mut counts: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    for a in apis.iter().map(|r| &r.api) {
        *counts.entry((&a.vendor, &a.service, &a.contract.version)).or_default() += 1;
    }
    for RawApi { api: a, api_path: path, api_text: text, .. } in apis {
        let usual = counts
            .iter()
            .filter(|((v, s, _), _)| *v == a.vendor && *s == a.service)
            .max_by_key(|(_, n)| **n)
            .map(|((_, _, ver), n)| (*ver, *n));
        let Some((usual, n)) = usual else { continue };
        let mine = counts.get(&(a.vendor.as_str(), a.service.as_str(), a.contract.version.as_str())).copied();
        if a.contract.version != usual && mine.is_some_and(|m| m < n) {
            diags.push(
                Diagnostic::new(
                    path,
                    find_pos(text, "version:"),
                    format!(
                        "version `{}` disagrees with {}/{}: its other APIs use `{usual}`",
                        a.contract.version, a.vendor, a.service
                    ),
                )
                .with_source(text)
                .hint(format!("one vendor service has one API version; set `version: \"{usual}\"`")),
            );
        }
    }
}

/// Every prose condition of `api.yaml` has a case that exists and touches
/// what the entry is about, a waiver, or a conflict; every relation of the
/// parameters names known parameters, documented codes and known states.
fn check_prose(api: &Api, (path, text): (&Path, &str), diags: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = api.cases.iter().map(|c| c.name.as_str()).collect();
    let mut problems = api.contract.prose_problems(&names);
    problems.extend(prose_touches(api));
    let relations = api.contract.relation_problems(&api.common);
    for (needle, msg) in problems {
        let d = Diagnostic::new(path, find_pos(text, &needle), msg.clone()).with_source(text);
        diags.push(if msg.contains("does not exist") {
            d.suggest(&needle, names.iter().copied())
        } else if msg.contains("does not touch") {
            d.hint("name the cases whose request or `given:` is about these words, or correct `about:`")
        } else {
            d.hint("name the case(s) under `cases:` and what they are `about:`, or give a `waiver:` or a `conflict:`")
        });
    }
    for (needle, msg) in relations {
        let d = Diagnostic::new(path, find_pos(text, &needle), msg).with_source(text);
        diags.push(d.suggest(&needle, api.contract.params.keys().map(String::as_str)));
    }
}

/// A prose entry's cases must touch what it is `about`: a parameter their
/// request sends (or leaves out where the API's `success` case sends it),
/// an action a step calls, state their `given:` sets, a response field a
/// step checks (`response.<path>`), or a burst (`repeat`).
fn prose_touches(api: &Api) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in &api.contract.prose {
        for name in &p.cases {
            let Some(case) = api.cases.iter().find(|c| &c.name == name) else { continue };
            if !p.about.is_empty() && !p.about.iter().any(|a| touches(api, case, a)) {
                let about = p.about.join(", ");
                out.push((
                    name.clone(),
                    format!("case `{name}` does not touch what this prose condition is about ({about})"),
                ));
            }
        }
    }
    out
}

fn touches(api: &Api, case: &Case, about: &str) -> bool {
    if about == "repeat" {
        return case.steps.iter().any(|s| s.repeat > 1);
    }
    if let Some(path) = about.strip_prefix("given.") {
        return given_sets(&case.given, path);
    }
    if let Some(path) = about.strip_prefix("response.") {
        return case.steps.iter().any(|s| s.action == api.action && s.expect.body.contains_key(path));
    }
    let param = |wire: &str| {
        wire == about
            || api.contract.param_for_wire_name(wire).is_some_and(|(n, _)| n == about)
            || wire.strip_prefix(about).is_some_and(|rest| rest.starts_with('.'))
    };
    let sends = |s: &CaseStep| s.params.iter().any(|(k, _)| param(k));
    let success = api.cases.iter().find(|c| c.name == "success").and_then(|c| c.steps.first());
    let leaves_out = |s: &CaseStep| s.action == api.action && success.is_some_and(|ok| sends(ok) && !sends(s));
    case.steps.iter().any(|s| s.action == about || sends(s) || leaves_out(s))
}

/// Whether `given:` sets `<section>[.<field>]` (`instances.status`,
/// `account.flags`) on any fixture.
fn given_sets(given: &WorldSpec, path: &str) -> bool {
    let (section, field) = path.split_once('.').unwrap_or((path, ""));
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(given) else { return false };
    let Some(v) = map.get(section) else { return false };
    let set = |o: &serde_json::Value| field.is_empty() || o.get(field).is_some_and(|f| !f.is_null());
    match section {
        "account" => v.as_object().is_some_and(|o| !o.is_empty()) && set(v),
        _ => v.as_object().is_some_and(|fixtures| fixtures.values().any(set)),
    }
}

/// Where `needle` first appears in `text`, as a position (the world types
/// carry no spans; the text search finds the line the user wrote).
pub(super) fn find_pos(text: &str, needle: &str) -> Pos {
    match text.find(needle) {
        Some(at) => super::tree::position(text, at),
        None => Pos::default(),
    }
}

pub(super) fn check_world_refs(w: &WorldSpec, api: (&str, &str), file: &Path, text: &str, out: &mut FileDiagnostics) {
    let names: Vec<&str> = w.fixtures().into_iter().map(|(n, _)| n).collect();
    for (owner, field, target, kind) in w.references() {
        if !out.has_room() {
            if w.kind_of(&target) != Some(kind) {
                out.skip();
            }
            continue;
        }
        let pos = find_pos(text, &target);
        match w.kind_of(&target) {
            Some(k) if k == kind => {}
            Some(k) => out.push(
                Diagnostic::new(
                    file,
                    pos,
                    format!("`{owner}.{field}` names `{target}`, which is a {k:?}, not a {kind:?}"),
                )
                .with_source(text),
            ),
            None => out.push(
                Diagnostic::new(file, pos, format!("`{owner}.{field}` names a fixture `{target}` that does not exist"))
                    .with_source(text)
                    .suggest(&target, names.iter().copied()),
            ),
        }
    }
    for (owner, field, v) in w.dates() {
        if !crate::world::is_date(&v) {
            let d = Diagnostic::new(file, find_pos(text, &v), format!("`{owner}.{field}`: `{v}` is not a date"));
            out.push(d.with_source(text).hint("write dates as YYYY-MM-DD"));
        }
    }
    for (owner, kind, flag) in w.flags() {
        let mut known = crate::vendor::flags_of(api.0, api.1).filter(|f| f.kind == kind).map(|f| f.name);
        if known.any(|f| f == flag) {
            continue;
        }
        if !out.has_room() {
            out.skip();
            continue;
        }
        let known: Vec<&str> =
            crate::vendor::flags_of(api.0, api.1).filter(|f| f.kind == kind).map(|f| f.name).collect();
        let hint = did_you_mean(&flag, known.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("{kind} flags: {}", known.join(", ")));
        out.push(
            Diagnostic::new(file, find_pos(text, &flag), format!("`{owner}` has an unknown {kind} flag `{flag}`"))
                .with_source(text)
                .hint(hint),
        );
    }
}

struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    api: &'a Api,
    siblings: &'a [&'a Contract],
    diags: FileDiagnostics,
}

/// Where a problem is: a known position, or the first place a text appears
/// (searched only when the diagnostic is built).
#[derive(Clone, Copy)]
enum At<'s> {
    Pos(Pos),
    Text(&'s str),
}

impl Checker<'_> {
    fn err(&mut self, pos: Pos, msg: impl Into<String>, hint: Option<String>) {
        self.err_at(At::Pos(pos), msg, hint);
    }

    fn err_at(&mut self, at: At, msg: impl Into<String>, hint: Option<String>) {
        if !self.diags.has_room() {
            self.diags.skip();
            return;
        }
        let pos = match at {
            At::Pos(p) => p,
            At::Text(t) => find_pos(self.text, t),
        };
        let mut d = Diagnostic::new(self.file, pos, msg).with_source(self.text);
        d.hint = hint;
        self.diags.push(d);
    }

    fn check_name(&mut self, name: &str, name_pos: Pos) {
        if !name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            // A name must start with a letter: YAML reads `name: 007` as the
            // number 7 and `name: 1e3` as 1000, not as what was written.
            self.err(
                name_pos,
                format!("case name `{name}` must start with a lowercase letter, then lowercase letters, digits, `-` and `_`"),
                Some(format!("try `{}`", name_suggestion(name))),
            );
        }
    }

    fn case(&mut self, mut cf: CaseFile) -> Option<Case> {
        let name_pos = yaml::pos_of(&cf.name);
        let name = cf.name.value.clone();
        self.check_name(&name, name_pos);
        if cf.condition.trim().is_empty() {
            self.err(
                name_pos,
                "`condition` is empty",
                Some("quote the documented condition this case exercises".into()),
            );
        }
        let world = self.api.world.patched(&cf.given);
        let given = cf.given.clone();
        let (file, text) = (self.file, self.text);
        check_world_refs(&world, (&self.api.vendor, &self.api.action), file, text, &mut self.diags);
        let raw_steps = self.raw_steps(&mut cf, name_pos)?;
        if cf.targets.live_dry_run() && !self.api.contract.params.contains_key("DryRun") {
            self.err(
                name_pos,
                format!("`targets.live.dry_run` is set, but {} has no DryRun parameter", self.api.action),
                Some("remove `dry_run`; this API cannot be called without effect".into()),
            );
        }
        let mut saved: BTreeSet<String> = BTreeSet::new();
        let mut steps = Vec::new();
        for (i, s) in raw_steps.into_iter().enumerate() {
            if let Some(st) = self.step(i, s, &world, &mut saved) {
                steps.push(st);
            }
        }
        self.assumptions(&cf.assumed, &cf.tags, &steps, name_pos);
        Some(Case {
            name,
            file: self.file.to_path_buf(),
            condition: cf.condition,
            tags: cf.tags,
            assumed: cf.assumed,
            world,
            given,
            steps,
            targets: cf.targets,
            parity: cf.parity,
        })
    }

    /// The case's steps as written: `request` and `expect` are one step.
    fn raw_steps(&mut self, cf: &mut CaseFile, name_pos: Pos) -> Option<Vec<Step>> {
        Some(match (cf.request.take(), cf.expect.take(), cf.steps.take()) {
            (Some(request), Some(expect), None) => vec![Step {
                name: None,
                action: None,
                request,
                wire: cf.wire.take(),
                auth: cf.auth.take(),
                expect,
                repeat: None,
                save: BTreeMap::new(),
            }],
            (None, None, Some(steps)) if !steps.is_empty() => {
                if cf.wire.is_some() || cf.auth.is_some() {
                    self.err(name_pos, "`wire` and `auth` go inside each step when `steps` is used", None);
                }
                steps
            }
            (_, _, Some(_)) => {
                self.err(
                    name_pos,
                    "a case has either `request` and `expect`, or `steps`, not both",
                    Some("move the request into `steps`".into()),
                );
                return None;
            }
            (Some(_), None, None) => {
                self.err(
                    name_pos,
                    "the case has a `request` but no `expect`",
                    Some("add `expect:` with at least `status:`".into()),
                );
                return None;
            }
            _ => {
                self.err(name_pos, "the case has no request", Some("add `request:` and `expect:`, or `steps:`".into()));
                return None;
            }
        })
    }

    fn step(&mut self, i: usize, s: Step, world: &WorldSpec, saved: &mut BTreeSet<String>) -> Option<CaseStep> {
        let (action, contract): (String, Option<&Contract>) = match &s.action {
            None => (self.api.action.clone(), Some(&self.api.contract)),
            Some(a) => match self.siblings.iter().find(|c| c.action == a.value) {
                Some(c) => (a.value.clone(), Some(*c)),
                None => {
                    let names: Vec<&str> = self.siblings.iter().map(|c| c.action.as_str()).collect();
                    let hint = did_you_mean(&a.value, names.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| Some(format!("actions with a contract here: {}", names.join(", "))));
                    self.err(
                        yaml::pos_of(a),
                        format!("no contract for action `{}` of {}", a.value, self.api.vendor),
                        hint,
                    );
                    (a.value.clone(), None)
                }
            },
        };
        let contract = contract?;
        if s.wire.as_ref().and_then(|w| w.signature).is_some()
            && !crate::vendor::get(&self.api.vendor).is_some_and(|v| v.signature_variants)
        {
            self.err_at(
                At::Text("signature:"),
                crate::vendor::signature_variants_message(),
                Some("remove it; this vendor has one signature scheme".into()),
            );
        }
        self.params(&s.request, contract, world, saved);
        self.save_paths(&s.save, contract);
        let at = Location { file: self.file.to_path_buf(), pos: yaml::pos_of(&s.expect) };
        let expect = CheckedExpect { at: Some(at), ..self.expect(s.expect.value, contract, world, saved) };
        let repeat = s.repeat.unwrap_or(1);
        if !(1..=1000).contains(&repeat) {
            self.err(
                find_pos(self.text, "repeat:"),
                format!("`repeat: {repeat}` is out of range"),
                Some("a step is sent 1 to 1000 times".into()),
            );
        }
        for var in s.save.keys() {
            saved.insert(var.clone());
        }
        Some(CaseStep {
            name: s.name.unwrap_or_else(|| format!("step{}", i + 1)),
            action,
            version: contract.version.clone(),
            service: contract.service.clone(),
            params: s.request.0.iter().map(|e| (e.name.clone(), e.value.clone())).collect(),
            wire: s.wire.unwrap_or_default(),
            auth: s.auth.unwrap_or_default(),
            expect,
            save: s.save,
            repeat,
        })
    }

    fn params(&mut self, p: &Params, contract: &Contract, world: &WorldSpec, saved: &BTreeSet<String>) {
        let common = self.api.common.clone();
        for e in &p.0 {
            let known = contract.param_for_wire_name(&e.name).is_some() || common.common_params.contains(&e.name);
            if !known && !self.diags.has_room() {
                self.diags.skip();
            } else if !known {
                let mut names: Vec<&str> = contract.params.keys().map(String::as_str).collect();
                names.extend(contract.params.values().flat_map(|p| p.aliases.iter().map(String::as_str)));
                let hint = did_you_mean(&e.name, names.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("{} documents: {}", contract.action, names.join(", ")));
                self.err(
                    e.name_pos,
                    format!("unknown request parameter `{}` for {}", e.name, contract.action),
                    Some(hint),
                );
            }
            self.template(&e.value, At::Pos(e.value_pos), world, saved);
            self.integer_range(contract, &e.name, &e.value, e.value_pos);
            // IDs differ per target (a tenant, a mock, a live account), so a
            // case names fixtures; only template text is checked, not the
            // `${...}` references themselves.
            let literal = template::parse(&e.value).unwrap_or_default().into_iter().filter_map(|t| match t {
                Token::Literal(l) => Some(l),
                _ => None,
            });
            if let Some(id) =
                literal.collect::<Vec<_>>().iter().find_map(|l| crate::normalize::find_id(l).map(str::to_string))
            {
                self.err(
                    e.value_pos,
                    format!("`{id}` is a hard-coded resource ID"),
                    Some(
                        "name a fixture instead (`${instance.id}`), or `${absent.image}` for one that does not exist"
                            .into(),
                    ),
                );
            }
        }
    }

    /// A `save:` path must start at a documented response field, when the
    /// contract documents the response (the support actions' contracts do
    /// not: their paths are checked when the step runs).
    fn save_paths(&mut self, save: &BTreeMap<String, String>, contract: &Contract) {
        if contract.response.is_empty() {
            return;
        }
        for (var, path) in save {
            let head = path.split('.').next().unwrap_or(path);
            if contract.response.contains_key(head) {
                continue;
            }
            let fields: Vec<&str> = contract.response.keys().map(String::as_str).collect();
            let hint = did_you_mean(head, fields.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("{} documents: {}", contract.action, fields.join(", ")));
            self.err_at(
                At::Text(path),
                format!("`save: {{ {var}: {path} }}`: {} has no response field `{head}`", contract.action),
                Some(hint),
            );
        }
    }

    /// An integer parameter written as a number must fit the 32 bits the
    /// vendors' SDKs send (`Integer`/`int32`): past that no doc says what the
    /// cloud answers, so no case can state it. Text that is not a number
    /// stays allowed (cases test malformed values).
    fn integer_range(&mut self, contract: &Contract, name: &str, value: &str, pos: Pos) {
        let integer =
            contract.param_for_wire_name(name).is_some_and(|(_, p)| p.ty == crate::contract::ParamType::Integer);
        let digits = value.trim().strip_prefix(['-', '+']).unwrap_or(value.trim());
        let number = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        if integer && number && value.trim().parse::<i32>().is_err() {
            let shown: String = value.chars().take(40).collect();
            self.err(
                pos,
                format!("`{name}` is an integer parameter; `{shown}` is outside the 32-bit range the vendor SDKs send"),
                Some(format!("use a value from {} to {}", i32::MIN, i32::MAX)),
            );
        }
    }

    fn template(&mut self, text: &str, pos: At, world: &WorldSpec, saved: &BTreeSet<String>) {
        let tokens = match template::parse(text) {
            Ok(t) => t,
            Err(msg) => {
                self.err_at(
                    pos,
                    msg,
                    Some(
                        "write references as `${fixture.id}`, `${fixture.name}`, `${absent.kind}` or `${saved.var}`"
                            .into(),
                    ),
                );
                return;
            }
        };
        let adjacent =
            tokens.windows(2).any(|w| !matches!(w[0], Token::Literal(_)) && !matches!(w[1], Token::Literal(_)));
        if adjacent {
            self.err_at(
                pos,
                format!("`{text}` runs two references together, which makes one value no target has"),
                Some("give each reference its own parameter, or put text between them".into()),
            );
        }
        if tokens.iter().any(|t| matches!(t, Token::Literal(l) if l.contains("${"))) {
            self.err_at(
                pos,
                format!("`{text}` sends the text `${{` itself: `$$` is a literal `$`"),
                Some("write `${fixture.id}` for the reference".into()),
            );
        }
        for t in tokens {
            match t {
                Token::Literal(_) => {}
                Token::Fixture { name, attr } => match world.kind_of(&name) {
                    None => {
                        let names: Vec<&str> = world.fixtures().into_iter().map(|(n, _)| n).collect();
                        let hint = did_you_mean(&name, names.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("fixtures in this world: {}", names.join(", ")));
                        self.err_at(
                            pos,
                            format!("`${{{name}.{attr}}}` names a fixture `{name}` that is not in the world"),
                            Some(hint),
                        );
                    }
                    Some(kind) => {
                        if attr == "name" && kind != Kind::KeyPair {
                            self.err_at(
                                pos,
                                format!("only key pairs have a `.name`; `{name}` is a {kind:?}"),
                                Some(format!("use `${{{name}.id}}`")),
                            );
                        }
                    }
                },
                Token::Absent(kind) => {
                    if Kind::from_word(&kind).is_none() {
                        let words: Vec<&str> = Kind::ALL.iter().map(|k| k.word()).collect();
                        self.err_at(
                            pos,
                            format!("`${{absent.{kind}}}`: unknown kind `{kind}`"),
                            Some(format!("kinds: {}", words.join(", "))),
                        );
                    }
                }
                Token::Saved(var) => {
                    if !saved.contains(&var) {
                        self.err_at(
                            pos,
                            format!("`${{saved.{var}}}` is not saved by an earlier step"),
                            Some("add `save: {{ {var}: <BodyField> }}` to an earlier step".into()),
                        );
                    }
                }
            }
        }
    }

    fn undocumented_code(&mut self, code: &str, pos: Pos, contract: &Contract) {
        let mut all: Vec<&str> = contract.errors.iter().map(|x| x.code.as_str()).collect();
        all.extend(self.api.common.errors.iter().map(|x| x.code.as_str()));
        let hint = did_you_mean(code, all.iter().copied())
            .map(|s| format!("did you mean `{s}`? (or add `undocumented: <reason>` if the vendor really returns it)"))
            .unwrap_or_else(|| "add `undocumented: <reason>` to expect, if the vendor really returns it".into());
        self.err(pos, format!("`{}` is not a documented error of {}", code, contract.action), Some(hint));
    }

    fn body_checks(&mut self, body: &BTreeMap<String, BodyCheck>, world: &WorldSpec, saved: &BTreeSet<String>) {
        for (path, check) in body {
            for v in [&check.equals, &check.not_equals].into_iter().flatten() {
                self.template(v, At::Text(v), world, saved);
            }
            if let Some(re) = &check.matches {
                if let Err(err) = crate::case::body_regex(re) {
                    self.err_at(
                        At::Text(re),
                        format!("body.{path}.matches is not a valid regular expression: {err}"),
                        None,
                    );
                }
            }
        }
    }

    fn expect(&mut self, e: Expect, contract: &Contract, world: &WorldSpec, saved: &BTreeSet<String>) -> CheckedExpect {
        let mut documented = Vec::new();
        if let Some(code) = &e.code {
            let pos = yaml::pos_of(code);
            let entries: Vec<DocumentedError> = contract
                .errors_for(&code.value)
                .chain(self.api.common.errors.iter().filter(|x| x.code == code.value))
                .cloned()
                .collect();
            match (&e.undocumented, entries.is_empty()) {
                (None, true) => self.undocumented_code(&code.value, pos, contract),
                (Some(_), false) => {
                    self.err(
                        pos,
                        format!("`{}` is documented, but the case marks it `undocumented`", code.value),
                        Some("remove `undocumented`".into()),
                    );
                }
                (None, false) => {
                    if !entries.iter().any(|x| x.status == e.status) {
                        let st: Vec<String> = entries.iter().map(|x| x.status.to_string()).collect();
                        self.err(
                            pos,
                            format!("`{}` is documented with HTTP {}, not {}", code.value, st.join(" or "), e.status),
                            Some(format!("set `status: {}`", st[0])),
                        );
                    }
                    let same_status: Vec<DocumentedError> =
                        entries.into_iter().filter(|x| x.status == e.status).collect();
                    documented = self.entries_of_page(same_status, e.message_source, code);
                    if let Some(m) = &e.message {
                        if !documented.is_empty()
                            && !documented.iter().any(|d| crate::contract::message_matches(&d.message, &m.value))
                        {
                            let listed: Vec<String> = documented.iter().map(|d| format!("{:?}", d.message)).collect();
                            self.err(
                                yaml::pos_of(m),
                                format!(
                                    "this message is not the documented message of `{}` (HTTP {})",
                                    code.value, e.status
                                ),
                                Some(format!(
                                    "the doc prints {}; copy it exactly, or use `message_contains`",
                                    listed.join(" or ")
                                )),
                            );
                        }
                    }
                }
                (Some(_), true) => {}
            }
        } else if e.status >= 300 {
            let needle = format!("status: {}", e.status);
            self.err_at(
                At::Text(&needle),
                format!("expect.status {} is an error, but no `code` is given", e.status),
                Some("add the expected `code:`".into()),
            );
        }
        self.body_checks(&e.body, world, saved);
        CheckedExpect {
            status: e.status,
            code: e.code.map(|c| c.value),
            message: e.message.map(|m| m.value),
            message_contains: e.message_contains,
            assumed: e.assumed,
            body: e.body,
            documented,
            at: None,
        }
    }
}

impl Checker<'_> {
    /// No docs of the four APIs state a check order, so a `precedence` case
    /// rests on an assumption and must say so; an `assumed` needs a reason.
    fn assumptions(&mut self, case: &Option<String>, tags: &[String], steps: &[CaseStep], pos: Pos) {
        let reasons = std::iter::once(case).chain(steps.iter().map(|s| &s.expect.assumed)).flatten();
        if reasons.clone().any(|r| r.trim().is_empty()) {
            self.err(pos, "`assumed` is empty", Some("say what the case assumes and why".into()));
        }
        let any = reasons.count() > 0;
        if tags.iter().any(|t| t == "precedence") && !any {
            self.err(
                pos,
                "a `precedence` case rests on a check order the docs do not state",
                Some("add `assumed: <reason>` to the case or to the expectation that rests on it".into()),
            );
        }
    }

    /// Keeps the entries of the page the case asks for (the current one
    /// unless `message_source: legacy`); says so when that page has none.
    fn entries_of_page(
        &mut self,
        entries: Vec<DocumentedError>,
        wanted: Option<Authority>,
        code: &Spanned<String>,
    ) -> Vec<DocumentedError> {
        let wanted = wanted.unwrap_or(Authority::Current);
        let (kept, other): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|x| x.source.unwrap_or(Authority::Current) == wanted);
        if kept.is_empty() && !other.is_empty() {
            let (page, hint) = match wanted {
                Authority::Current => ("current", "set `message_source: legacy` if the case means the legacy wording"),
                Authority::Legacy => ("legacy", "remove `message_source: legacy`"),
            };
            self.err(
                yaml::pos_of(code),
                format!("the {page} page does not document `{}` with this status", code.value),
                Some(hint.into()),
            );
        }
        kept
    }
}

/// A valid case name close to `name`.
fn name_suggestion(name: &str) -> String {
    let s = slug(name);
    match s.bytes().next() {
        Some(b) if b.is_ascii_lowercase() => s,
        _ => format!("case-{s}").trim_end_matches('-').to_string(),
    }
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}
