//! Discovery and checking: `cases/` on disk to a [`Suite`] the runner trusts.
//!
//! Layout: `cases/<vendor>/common-errors.yaml`, and per API
//! `cases/<vendor>/<service>/<Action>/{api.yaml, world.yaml, *.yaml}`.
//! Every problem found is collected as a [`Diagnostic`] with a position, so
//! `apiconform lint` can report them all at once. Nothing here panics on user
//! input, and nothing the user wrote is ignored: unknown fields, duplicate
//! case names, unknown parameters, missing fixtures and undocumented codes
//! are all errors.

use crate::case::{Auth, BodyCheck, CaseFile, Expect, Params, Step, Targets, Wire};
use crate::contract::{Authority, CommonErrors, Contract, DocumentedError};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics, Pos};
use crate::template::{self, Token};
use crate::world::{Kind, WorldSpec};
use crate::yaml::{self, Spanned};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything under `cases/`, checked.
#[derive(Debug)]
pub struct Suite {
    pub root: PathBuf,
    pub apis: Vec<Api>,
}

/// One API directory.
#[derive(Debug)]
pub struct Api {
    pub vendor: String,
    pub service: String,
    pub action: String,
    pub dir: PathBuf,
    pub contract: Contract,
    pub common: Arc<CommonErrors>,
    pub world: WorldSpec,
    pub cases: Vec<Case>,
}

/// One checked case, ready to run.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub file: PathBuf,
    pub condition: String,
    pub tags: Vec<String>,
    /// Why the whole case rests on an assumption, when it does.
    pub assumed: Option<String>,
    /// The API's default world with the case's `given:` applied.
    pub world: WorldSpec,
    /// The case's `given:` as written (what a live run must stage).
    pub given: WorldSpec,
    pub steps: Vec<CaseStep>,
    pub targets: Targets,
    pub parity: crate::case::Parity,
}

#[derive(Debug, Clone)]
pub struct CaseStep {
    pub name: String,
    pub action: String,
    pub version: String,
    /// Wire name and templated value, in the order written.
    pub params: Vec<(String, String)>,
    pub wire: Wire,
    pub auth: Auth,
    pub expect: CheckedExpect,
    pub save: BTreeMap<String, String>,
    /// How many times the request is sent (a burst); 1 for most steps.
    pub repeat: u32,
}

#[derive(Debug, Clone)]
pub struct CheckedExpect {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub message_contains: Option<String>,
    pub undocumented: Option<String>,
    /// Why this expectation rests on an assumption, when it does.
    pub assumed: Option<String>,
    pub body: BTreeMap<String, BodyCheck>,
    /// The documented entries for `code` (empty when undocumented or success).
    pub documented: Vec<DocumentedError>,
}

impl Api {
    /// `vendor::service::Action`.
    pub fn path(&self) -> String {
        format!("{}::{}::{}", self.vendor, self.service, self.action)
    }
}

impl Suite {
    /// Loads and checks every case under `root`.
    pub fn load(root: &Path) -> Result<Suite, Diagnostics> {
        let mut diags = Vec::new();
        let mut apis = Vec::new();
        let vendors = match sorted_dirs(root) {
            Ok(v) => v,
            Err(e) => {
                return Err(Diagnostics(vec![Diagnostic::new(
                    root,
                    Pos::default(),
                    format!("cannot read the cases directory: {e}"),
                )]))
            }
        };
        let mut raw_apis = Vec::new();
        for vdir in vendors {
            let common_path = vdir.join("common-errors.yaml");
            let common = match read(&common_path).and_then(|t| yaml::parse::<CommonErrors>(&common_path, &t)) {
                Ok(c) => Arc::new(c),
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            for sdir in sorted_dirs(&vdir).unwrap_or_default() {
                for adir in sorted_dirs(&sdir).unwrap_or_default() {
                    match load_api_files(&adir, &common) {
                        Ok(a) => raw_apis.push(a),
                        Err(d) => diags.push(d),
                    }
                }
            }
        }
        // Contracts of sibling APIs, so that a step may call another action
        // of the same vendor and service.
        let contracts: Vec<(String, String, Contract)> =
            raw_apis.iter().map(|(a, _)| (a.vendor.clone(), a.service.clone(), a.contract.clone())).collect();
        for (mut api, files) in raw_apis {
            let siblings: Vec<&Contract> =
                contracts.iter().filter(|(v, s, _)| *v == api.vendor && *s == api.service).map(|(_, _, c)| c).collect();
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
                let mut ck = Checker { file: &file, text: &text, api: &api, siblings: &siblings, diags: Vec::new() };
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
                diags.extend(ck.diags);
            }
            api.cases = cases;
            check_prose(&api, &mut diags);
            apis.push(api);
        }
        if diags.is_empty() {
            Ok(Suite { root: root.to_path_buf(), apis })
        } else {
            Err(Diagnostics(diags))
        }
    }

    pub fn case_count(&self) -> usize {
        self.apis.iter().map(|a| a.cases.len()).sum()
    }
}

fn read(path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path).map_err(|e| Diagnostic::new(path, Pos::default(), format!("cannot read file: {e}")))
}

fn sorted_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    v.sort();
    Ok(v)
}

type CaseTexts = Vec<(PathBuf, String)>;

/// Every prose condition of `api.yaml` has a case that exists, or a waiver.
fn check_prose(api: &Api, diags: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = api.cases.iter().map(|c| c.name.as_str()).collect();
    let problems = api.contract.prose_problems(&names);
    if problems.is_empty() {
        return;
    }
    let path = api.dir.join("api.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    for (needle, msg) in problems {
        let d = Diagnostic::new(&path, find_pos(&text, &needle), msg.clone()).with_source(&text);
        diags.push(if msg.contains("does not exist") {
            d.suggest(&needle, names.iter().copied())
        } else {
            d.hint("name the case(s) under `cases:`, or give a `waiver:` with the reason")
        });
    }
}

fn load_api_files(dir: &Path, common: &Arc<CommonErrors>) -> Result<(Api, CaseTexts), Diagnostic> {
    let api_path = dir.join("api.yaml");
    let contract: Contract = yaml::parse(&api_path, &read(&api_path)?)?;
    let world_path = dir.join("world.yaml");
    let world_text = read(&world_path)?;
    let world: WorldSpec = yaml::parse(&world_path, &world_text)?;
    let rel: Vec<String> =
        dir.components().rev().take(3).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let (action, service, vendor) = (&rel[0], &rel[1], &rel[2]);
    if (&contract.vendor, &contract.service, &contract.action) != (vendor, service, action) {
        return Err(Diagnostic::new(
            &api_path,
            Pos::new(1, 1),
            format!(
                "api.yaml names {}/{}/{} but lives in {}/{}/{}",
                contract.vendor, contract.service, contract.action, vendor, service, action
            ),
        )
        .hint("the directory path and the vendor, service and action fields must agree"));
    }
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::new(dir, Pos::default(), format!("cannot read directory: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let fname = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if fname == "api.yaml" || fname == "world.yaml" {
            continue;
        }
        if fname.ends_with(".yml") {
            return Err(Diagnostic::new(&p, Pos::default(), "case files must end in `.yaml`")
                .hint(format!("rename it to `{}`", fname.trim_end_matches(".yml").to_string() + ".yaml")));
        }
        if fname.ends_with(".yaml") {
            files.push((p.clone(), read(&p)?));
        }
    }
    let api = Api {
        vendor: vendor.clone(),
        service: service.clone(),
        action: action.clone(),
        dir: dir.to_path_buf(),
        contract,
        common: common.clone(),
        world,
        cases: Vec::new(),
    };
    let mut d = Vec::new();
    check_world_refs(&api.world, &world_path, &world_text, &mut d);
    if let Some(first) = d.into_iter().next() {
        return Err(first);
    }
    Ok((api, files))
}

/// Where `needle` first appears in `text`, as a position (the world types
/// carry no spans; the text search finds the line the user wrote).
fn find_pos(text: &str, needle: &str) -> Pos {
    let Some(at) = text.find(needle) else {
        return Pos::default();
    };
    let line = text[..at].matches('\n').count() as u32 + 1;
    let col = text[..at].rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) as u32 + 1;
    Pos::new(line, col)
}

fn check_world_refs(w: &WorldSpec, file: &Path, text: &str, out: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = w.fixtures().into_iter().map(|(n, _)| n).collect();
    for (owner, field, target, kind) in w.references() {
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
        let known: Vec<&str> =
            crate::emulator::rules::known_flags().filter(|f| f.kind == kind).map(|f| f.name).collect();
        if !known.contains(&flag.as_str()) {
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
}

struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    api: &'a Api,
    siblings: &'a [&'a Contract],
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn err(&mut self, pos: Pos, msg: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(self.file, pos, msg).with_source(self.text);
        d.hint = hint;
        self.diags.push(d);
    }

    fn case(&mut self, cf: CaseFile) -> Option<Case> {
        let name_pos = yaml::pos_of(&cf.name);
        let name = cf.name.value.clone();
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            self.err(
                name_pos,
                format!("case name `{name}` must be lowercase letters, digits, `-` and `_`"),
                Some(format!("try `{}`", slug(&name))),
            );
        }
        if cf.condition.trim().is_empty() {
            self.err(
                name_pos,
                "`condition` is empty",
                Some("quote the documented condition this case exercises".into()),
            );
        }
        let world = self.api.world.patched(&cf.given);
        let given = cf.given.clone();
        let mut d = Vec::new();
        check_world_refs(&world, self.file, self.text, &mut d);
        for x in d {
            self.err(x.pos, x.message, x.hint);
        }
        let raw_steps: Vec<Step> = match (cf.request, cf.expect, cf.steps) {
            (Some(request), Some(expect), None) => vec![Step {
                name: None,
                action: None,
                request,
                wire: cf.wire,
                auth: cf.auth,
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
        };
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
                        format!("no contract for action `{}` in {}/{}", a.value, self.api.vendor, self.api.service),
                        hint,
                    );
                    (a.value.clone(), None)
                }
            },
        };
        let contract = contract?;
        if s.wire.as_ref().and_then(|w| w.signature).is_some() && self.api.vendor != "aliyun" {
            self.err(
                find_pos(self.text, "signature:"),
                "`wire.signature` only applies to Alibaba Cloud",
                Some("remove it; this vendor has one signature scheme".into()),
            );
        }
        self.params(&s.request, contract, world, saved);
        let expect = self.expect(s.expect, contract, world, saved);
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
            if !known {
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
            self.template(&e.value, e.value_pos, world, saved);
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

    fn template(&mut self, text: &str, pos: Pos, world: &WorldSpec, saved: &BTreeSet<String>) {
        let tokens = match template::parse(text) {
            Ok(t) => t,
            Err(msg) => {
                self.err(
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
        for t in tokens {
            match t {
                Token::Literal(_) => {}
                Token::Fixture { name, attr } => match world.kind_of(&name) {
                    None => {
                        let names: Vec<&str> = world.fixtures().into_iter().map(|(n, _)| n).collect();
                        let hint = did_you_mean(&name, names.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("fixtures in this world: {}", names.join(", ")));
                        self.err(
                            pos,
                            format!("`${{{name}.{attr}}}` names a fixture `{name}` that is not in the world"),
                            Some(hint),
                        );
                    }
                    Some(kind) => {
                        if attr == "name" && kind != Kind::KeyPair {
                            self.err(
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
                        self.err(
                            pos,
                            format!("`${{absent.{kind}}}`: unknown kind `{kind}`"),
                            Some(format!("kinds: {}", words.join(", "))),
                        );
                    }
                }
                Token::Saved(var) => {
                    if !saved.contains(&var) {
                        self.err(
                            pos,
                            format!("`${{saved.{var}}}` is not saved by an earlier step"),
                            Some("add `save: {{ {var}: <BodyField> }}` to an earlier step".into()),
                        );
                    }
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
                (None, true) => {
                    let mut all: Vec<&str> = contract.errors.iter().map(|x| x.code.as_str()).collect();
                    all.extend(self.api.common.errors.iter().map(|x| x.code.as_str()));
                    let hint = did_you_mean(&code.value, all.iter().copied())
                        .map(|s| {
                            format!(
                                "did you mean `{s}`? (or add `undocumented: <reason>` if the vendor really returns it)"
                            )
                        })
                        .unwrap_or_else(|| {
                            "add `undocumented: <reason>` to expect, if the vendor really returns it".into()
                        });
                    self.err(
                        pos,
                        format!("`{}` is not a documented error of {}", code.value, contract.action),
                        Some(hint),
                    );
                }
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
                            && !documented.iter().any(|d| crate::runner::message_matches(&d.message, &m.value))
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
            self.err(
                find_pos(self.text, &format!("status: {}", e.status)),
                format!("expect.status {} is an error, but no `code` is given", e.status),
                Some("add the expected `code:`".into()),
            );
        }
        for (path, check) in &e.body {
            for v in [&check.equals, &check.not_equals].into_iter().flatten() {
                self.template(v, find_pos(self.text, v), world, saved);
            }
            if let Some(re) = &check.matches {
                if let Err(err) = regex::Regex::new(re) {
                    self.err(
                        find_pos(self.text, re),
                        format!("body.{path}.matches is not a valid regular expression: {err}"),
                        None,
                    );
                }
            }
        }
        CheckedExpect {
            status: e.status,
            code: e.code.map(|c| c.value),
            message: e.message.map(|m| m.value),
            message_contains: e.message_contains,
            undocumented: e.undocumented,
            assumed: e.assumed,
            body: e.body,
            documented,
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
