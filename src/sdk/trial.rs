//! One case through one flavour: the SDK target, a `TargetKind` of the
//! runner.
//!
//! The runner's step loop, checks and saves are the emulator target's;
//! what differs is stated here: a fresh tenant whose keys the emulator's
//! wiretap watches, and each step **carried by the flavour's driver**, so
//! the SDK itself encodes, signs, sends and decodes. The case's
//! expectations are checked against what the SDK decoded.
//!
//! Verdicts are never kinder than the facts:
//! - a case the flavour cannot express (a pinned wire shape it does not
//!   speak, an action it has no method for, a parameter its request object
//!   drops, a request it refuses to send, a session token it does not put on
//!   the wire) is `unsupported`, with the reason;
//! - a case parameter the SDK sends under another name (`KeyId.1` as
//!   `KeyId.0`) fails the trial, unless that exact renaming is a listed
//!   divergence; so does any other mismatch a divergence does not name;
//! - a driver that does not start, crashes or stops answering is an
//!   environment error, never a verdict on the case.

use super::driver::{Driver, Pool, Reply, Request};
use super::wire::WireView;
use super::{Divergence, Flavour};
use crate::case::{Auth, Method, ParamsIn, Signature};
use crate::contract::ParamType;
use crate::normalize::Redactor;
use crate::protocol::{HttpResponse, Normalized};
use crate::runner::{Binding, Carried, Harness, Prepared, Request as StepRequest, TargetKind, Trial};
use crate::suite::{Api, Case, CaseStep, Suite};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, MutexGuard};

/// One step as the SDK did it.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub name: String,
    pub action: String,
    /// Every request the SDK sent for this step (more than one: it retried).
    pub wire: Vec<WireView>,
    /// What the driver reported, redacted.
    pub reply: Reply,
}

/// What one SDK trial gave.
#[derive(Debug, Clone, Default)]
pub struct SdkOutcome {
    pub failures: Vec<String>,
    /// Set when the flavour cannot express the case, with the reason.
    pub unsupported: Option<String>,
    /// Set when the driver could not serve the trial: the environment's
    /// fault, never a verdict on the case.
    pub env_error: Option<String>,
    /// The reasons of the listed divergences that happened.
    pub divergences: Vec<String>,
    pub steps: Vec<StepRecord>,
    /// The snapshot text: `wire` and `decoded` per step.
    pub transcript: String,
}

/// An SDK trial's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail(String),
    Unsupported(String),
    Divergence(String),
    EnvError(String),
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Pass => "passed",
            Verdict::Fail(_) => "failed",
            Verdict::Unsupported(_) => "unsupported",
            Verdict::Divergence(_) => "divergence",
            Verdict::EnvError(_) => "environment error",
        }
    }

    /// The reason, failure lines or cause.
    pub fn detail(&self) -> &str {
        match self {
            Verdict::Pass => "",
            Verdict::Fail(s) | Verdict::Unsupported(s) | Verdict::Divergence(s) | Verdict::EnvError(s) => s,
        }
    }
}

impl SdkOutcome {
    pub fn verdict(&self) -> Verdict {
        match (&self.env_error, self.failures.is_empty(), &self.unsupported) {
            (Some(e), ..) => Verdict::EnvError(e.clone()),
            (None, false, _) => Verdict::Fail(self.failures.join("\n")),
            (None, true, Some(r)) => Verdict::Unsupported(r.clone()),
            (None, true, None) if !self.divergences.is_empty() => Verdict::Divergence(self.divergences.join("; ")),
            _ => Verdict::Pass,
        }
    }
}

/// Runs `case` through the pool's flavour; `listed` are the flavour's
/// divergences. Never panics.
pub fn run(h: &Harness, suite: &Suite, pool: &Pool, listed: &[Divergence], api: &Api, case: &Case) -> SdkOutcome {
    let name = format!("{}::{}", api.path(), case.name);
    let kind = OnSdk {
        pool,
        suite,
        listed: listed.iter().filter(|d| d.case == name).collect(),
        state: Mutex::new(State::default()),
    };
    let out = h.run_on(&kind, api, case, None);
    let st = kind.state.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut failures = out.failures;
    let completed = st.env_error.is_none() && out.skipped.is_none();
    for (i, d) in kind.listed.iter().enumerate() {
        if completed && !st.applied.contains(&i) {
            failures.push(format!(
                "the listed divergence ({}) did not happen: remove it from sdk/flavours/{}/divergences.yaml",
                d.what(),
                pool.flavour().name
            ));
        }
    }
    let mut divergences: Vec<String> = st.applied.iter().map(|i| kind.listed[*i].reason.clone()).collect();
    divergences.dedup();
    SdkOutcome {
        failures,
        unsupported: out.skipped,
        env_error: st.env_error,
        divergences,
        steps: st.steps.into_values().collect(),
        transcript: out.transcript,
    }
}

/// The SDK target: one trial through one flavour's driver.
struct OnSdk<'a> {
    pool: &'a Pool,
    suite: &'a Suite,
    /// This case's listed divergences.
    listed: Vec<&'a Divergence>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    driver: Option<Driver>,
    /// The tenant's access key and the trial's unknown one (watched).
    keys: [String; 2],
    steps: BTreeMap<usize, StepRecord>,
    env_error: Option<String>,
    /// Indices into `listed` that happened.
    applied: Vec<usize>,
}

impl OnSdk<'_> {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TargetKind for OnSdk<'_> {
    fn heading(&self) -> String {
        format!("flavour: {}", self.pool.flavour().name)
    }

    async fn bind(&self, h: &Harness, api: &Api, case: &Case, seq: u64) -> Result<Binding, String> {
        let (creds, bindings) = h.emulator().create_tenant(&api.vendor, &case.world);
        let unknown = format!("APICONFORMUNKNOWN{seq:06}");
        h.emulator().watch(&[creds.access_key_id.as_str(), unknown.as_str()]);
        self.state().keys = [creds.access_key_id.clone(), unknown];
        Ok(Binding::loopback(creds, bindings, h.emulator_addr().to_string(), &api.vendor))
    }

    async fn prepare(&self, _h: &Harness, t: &mut Trial<'_>, _forced_dry_run: Option<bool>) -> bool {
        let f = self.pool.flavour();
        if let Some(reason) = t.case.steps.iter().find_map(|s| pinned_elsewhere(f, s)) {
            t.out.skipped = Some(reason);
            return false;
        }
        let mut st = self.state();
        t.redactor.add(&st.keys[1], "[unknown-access-key]");
        t.redactor.add(&format!("apiconform-sts-{}", t.seq), "[security-token]");
        match self.pool.take() {
            Ok(d) => st.driver = Some(d),
            Err(e) => {
                t.out.failures.push(e.clone());
                st.env_error = Some(e);
                return false;
            }
        }
        t.dry_run = false;
        true
    }

    async fn before_send(&self, _h: &Harness, t: &mut Trial<'_>, _i: usize, step: &CaseStep, s: &mut Prepared<'_>) {
        // Per trial, so that the wiretap tells parallel trials apart.
        if step.auth == Auth::UnknownAccessKey {
            s.creds.access_key_id = self.state().keys[1].clone();
        }
        // A saved value comes back in later requests and answers.
        for (var, v) in t.b.bindings.saved.clone() {
            t.redactor.add(&v, &format!("${{saved.{var}}}"));
        }
    }

    async fn carry(&self, h: &Harness, t: &mut Trial<'_>, i: usize, r: &StepRequest<'_>) -> Result<Carried, String> {
        let mut st = self.state();
        let keys = st.keys.clone();
        let Some(driver) = st.driver.as_mut() else { return Err("no driver".into()) };
        let request = Request {
            id: t.seq,
            action: &r.step.action,
            version: &r.step.version,
            service: &r.step.service,
            endpoint: &t.b.host,
            region: &t.b.region,
            credentials: json!({
                "access_key_id": r.creds.access_key_id,
                "secret": r.creds.secret,
                "session_token": r.creds.session_token,
            }),
            auth: auth_name(r.step.auth),
            params: typed_params(self.suite, t.api, r.step, r.params),
        };
        let reply = match driver.call(&request) {
            Ok(reply) => reply,
            Err(e) => {
                let e = format!("the {} driver failed: {}", self.pool.flavour().name, t.redactor.text(&e));
                st.env_error = Some(e.clone());
                st.driver = None;
                return Err(e);
            }
        };
        let records = h.emulator().take_wire(&[&keys[0], &keys[1]]);
        let token = r.creds.session_token.clone().filter(|_| r.step.auth == Auth::SessionToken);
        let token_sent = token.as_deref().is_none_or(|tok| records.iter().any(|w| super::wire::carries(w, tok)));
        for w in &records {
            // Volatile values (nonce, date, host) may come back inside a
            // message (a server string to sign): learn them first. So may
            // the User-Agent, shown once as such, not inside every message.
            t.redactor.learn_request(&w.as_request());
            if let Some((_, ua)) = w.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
                t.redactor.add(ua, "[user-agent]");
            }
        }
        let wire: Vec<WireView> = records.iter().map(|w| WireView::read(w, r.params, &mut t.redactor)).collect();
        let shown: Vec<(String, String)> = r.params.iter().map(|(k, v)| (k.clone(), t.redactor.text(v))).collect();
        let judged = judge(r.step, &shown, &wire, &reply, token_sent);
        let status = wire.last().map(|w| w.status).unwrap_or_default();
        let record = StepRecord {
            name: r.step.name.clone(),
            action: r.step.action.clone(),
            wire,
            reply: redact_reply(reply, &mut t.redactor),
        };
        render_step(&record, &mut t.out.transcript);
        st.steps.insert(i, record);
        let (mut n, renames) = match judged {
            Judged::Unsupported(reason) => return Ok(Carried::Unsupported(reason)),
            Judged::Decoded(n, renames) => (n, renames),
        };
        let listed: Vec<(usize, &Divergence)> = self
            .listed
            .iter()
            .enumerate()
            .filter(|(_, d)| d.step.as_ref().is_none_or(|s| *s == r.step.name))
            .map(|(k, d)| (k, *d))
            .collect();
        for k in apply(&listed, &r.step.expect, &mut n, &renames) {
            if !st.applied.contains(&k) {
                st.applied.push(k);
            }
        }
        if !renames.is_empty() && !listed.iter().any(|(_, d)| d.sent.as_ref() == Some(&renames)) {
            let pairs: Vec<String> = renames.iter().map(|(k, v)| format!("{k} as {v}")).collect();
            t.out.failures.push(format!("{}: the SDK sent {}", r.step.name, pairs.join(", ")));
        }
        let resp = HttpResponse { status, ..Default::default() };
        Ok(Carried::Answer(resp, n))
    }

    async fn finish(&self, h: &Harness, _t: &mut Trial<'_>) {
        let mut st = self.state();
        h.emulator().unwatch(&[st.keys[0].as_str(), st.keys[1].as_str()]);
        if let Some(d) = st.driver.take() {
            self.pool.give(d);
        }
    }
}

/// Lays the listed divergences that match exactly over what the SDK
/// decoded; gives the indices of those that applied.
fn apply(
    listed: &[(usize, &Divergence)],
    expect: &crate::suite::CheckedExpect,
    n: &mut Normalized,
    renames: &BTreeMap<String, String>,
) -> Vec<usize> {
    let mut applied = Vec::new();
    for (k, d) in listed {
        let hit = if let Some(c) = &d.code {
            let hit = n.code == c.got && expect.code == c.expected;
            if hit {
                n.code = c.expected.clone();
            }
            hit
        } else if let Some(s) = &d.status {
            let hit = n.status == s.got && expect.status == s.expected;
            if hit {
                n.status = s.expected;
            }
            hit
        } else if let Some(m) = &d.message {
            let hit = n.message.as_deref() == Some(m.got.as_str());
            if hit {
                n.message = Some(m.expected.clone());
            }
            hit
        } else {
            d.sent.as_ref() == Some(renames) && !renames.is_empty()
        };
        if hit {
            applied.push(*k);
        }
    }
    applied
}

/// The step's parameters with the contract's types, for the driver.
fn typed_params(suite: &Suite, api: &Api, step: &CaseStep, params: &[(String, String)]) -> Vec<Value> {
    let contract = suite
        .apis
        .iter()
        .find(|a| a.vendor == api.vendor && a.service == step.service && a.action == step.action)
        .map(|a| &a.contract);
    params
        .iter()
        .map(|(name, value)| {
            let pattern: Vec<&str> =
                name.split('.').map(|s| if s.chars().all(|c| c.is_ascii_digit()) { "N" } else { s }).collect();
            let ty = contract
                .and_then(|c| c.params.get(&pattern.join(".")))
                .map(|p| match p.ty {
                    ParamType::String => "string",
                    ParamType::Integer => "integer",
                    ParamType::Boolean => "boolean",
                    ParamType::Array => "array",
                    ParamType::Object => "object",
                })
                .unwrap_or("string");
            json!({ "name": name, "value": value, "type": ty })
        })
        .collect()
}

/// A case step that pins a wire shape this flavour does not speak.
fn pinned_elsewhere(f: &Flavour, step: &CaseStep) -> Option<String> {
    let w = &step.wire;
    let sig = w.signature.map(|s| match s {
        Signature::RpcV1 => "rpc-v1",
        Signature::Acs3 => "acs3",
    });
    let method = w.method.map(Method::as_str);
    let params_in = w.params_in.map(|p| match p {
        ParamsIn::Query => "query",
        ParamsIn::Form => "form",
    });
    let speaks = &f.wire;
    for (what, pinned, speaks) in [
        ("signature", sig, speaks.signature.as_str()),
        ("method", method, speaks.method.as_str()),
        ("params_in", params_in, speaks.params_in.as_str()),
    ] {
        if let Some(p) = pinned.filter(|p| !p.eq_ignore_ascii_case(speaks)) {
            return Some(format!("step `{}` pins {what} {p}; {} sends {speaks}", step.name, f.name));
        }
    }
    None
}

fn auth_name(a: Auth) -> &'static str {
    match a {
        Auth::Valid => "valid",
        Auth::BadSignature => "bad_signature",
        Auth::UnknownAccessKey => "unknown_access_key",
        Auth::SessionToken => "session_token",
    }
}

fn redact_reply(mut r: Reply, red: &mut Redactor) -> Reply {
    // The emulator's request IDs change every run; the SDK may repeat them
    // in its message and error data.
    if let Some(id) = r.request_id.as_deref().filter(|id| !id.is_empty()) {
        red.add(id, "[request-id]");
    }
    if let Some(id) = server_field(&r.body, "RequestId") {
        red.add(&id, "[request-id]");
    }
    r.message = r.message.map(|m| red.text(&m));
    r.reason = r.reason.map(|m| red.text(&m));
    r.body = red.value(&r.body);
    if let Some(id) = &r.request_id {
        r.request_id = Some(if id.is_empty() { String::new() } else { "[request-id]".into() });
    }
    r
}

enum Judged {
    /// What the SDK decoded, and the case parameters it sent under other
    /// names (case name → wire name).
    Decoded(Normalized, BTreeMap<String, String>),
    Unsupported(String),
}

/// What the SDK decoded, as the runner's normalized shape; or why the
/// flavour cannot express the step. `params` are the case's, redacted as
/// the wire view is.
fn judge(step: &CaseStep, params: &[(String, String)], wire: &[WireView], reply: &Reply, token_sent: bool) -> Judged {
    if reply.outcome == "unsupported" {
        return Judged::Unsupported(reply.reason.clone().unwrap_or_else(|| "the driver gave no reason".into()));
    }
    if !reply.dropped.is_empty() {
        return Judged::Unsupported(format!(
            "the SDK's request object does not keep parameter(s) {} (dropped when the request is built)",
            reply.dropped.join(", ")
        ));
    }
    let Some(sent) = wire.last() else {
        let class = reply.exception.as_ref().map(|e| e.class.as_str()).unwrap_or("no exception");
        let msg = reply.message.as_deref().unwrap_or("");
        return Judged::Unsupported(format!("nothing reached the emulator: the SDK raised {class}: {msg}"));
    };
    let (renames, missing) = renamed(params, sent);
    if !missing.is_empty() {
        return Judged::Unsupported(format!("the SDK did not send parameter(s) {}", missing.join(", ")));
    }
    if !token_sent {
        return Judged::Unsupported("the SDK did not put the session token on the wire".into());
    }
    // An SDK that does not expose the status is judged on the rest; the
    // snapshot says `status: (not exposed)`.
    let status = reply.status.unwrap_or(step.expect.status);
    let code = reply.code.clone().filter(|c| !c.is_empty());
    // The server's message as the SDK parsed it: SDKs that format their own
    // text (`code: 403, <Message> request id: ...`) keep the parsed field in
    // the error data they expose.
    let message = server_field(&reply.body, "Message").or_else(|| reply.message.clone());
    let n = Normalized { status, code, message, request_id: reply.request_id.clone(), body: reply.body.clone() };
    Judged::Decoded(n, renames)
}

/// Matches the case's parameters with what went out: by name and value,
/// then by value under a name of the same stem (a renaming: `KeyId.1` as
/// `KeyId.0`, `SystemDisk.DiskSize` as `SystemDisk_DiskSize`); a parameter
/// whose name went out with another value was re-encoded (the server's
/// answer judges that). What is left was not sent.
fn renamed(params: &[(String, String)], sent: &WireView) -> (BTreeMap<String, String>, Vec<String>) {
    let stem =
        |n: &str| -> String { n.chars().filter(char::is_ascii_alphabetic).map(|c| c.to_ascii_lowercase()).collect() };
    let own: Vec<&super::wire::Param> = sent.params.iter().filter(|p| !p.protocol).collect();
    let mut used = vec![false; own.len()];
    let mut open = Vec::new();
    for (k, v) in params {
        match own.iter().enumerate().position(|(j, p)| !used[j] && p.name == *k && p.value == *v) {
            Some(j) => used[j] = true,
            None => open.push((k, v)),
        }
    }
    let (mut renames, mut missing) = (BTreeMap::new(), Vec::new());
    for (k, v) in open {
        match own.iter().enumerate().position(|(j, p)| !used[j] && p.value == *v && stem(&p.name) == stem(k)) {
            Some(j) => {
                used[j] = true;
                renames.insert(k.clone(), own[j].name.clone());
            }
            None if own.iter().any(|p| p.name == *k) => {}
            None => missing.push(k.clone()),
        }
    }
    (renames, missing)
}

/// A field of a vendor error body as an SDK exposes it: at the top
/// (`{"Message": ..}`), under `Error`, or under `ResponseMetadata.Error`.
fn server_field(body: &Value, field: &str) -> Option<String> {
    [
        body.get(field),
        body.pointer(&format!("/Error/{field}")),
        body.pointer(&format!("/ResponseMetadata/Error/{field}")),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str().map(str::to_string))
}

fn render_step(r: &StepRecord, out: &mut String) {
    let _ = writeln!(out, "\n{} {}", r.name, r.action);
    for (i, w) in r.wire.iter().enumerate() {
        let _ = writeln!(out, "wire (attempt {}):", i + 1);
        w.render(out);
    }
    if r.wire.is_empty() {
        let _ = writeln!(out, "wire: (nothing sent)");
    }
    let d = &r.reply;
    let _ = writeln!(out, "decoded:");
    let _ = writeln!(out, "  outcome: {}", d.outcome);
    if let Some(reason) = &d.reason {
        let _ = writeln!(out, "  reason: {reason}");
    }
    let status = d.status.map(|s| s.to_string()).unwrap_or_else(|| "(not exposed)".into());
    let _ = writeln!(out, "  status: {status}");
    let _ = writeln!(out, "  code: {}", d.code.as_deref().unwrap_or("~"));
    let _ = writeln!(out, "  message: {}", d.message.as_deref().unwrap_or("~"));
    let _ = writeln!(out, "  request_id: {}", d.request_id.as_deref().unwrap_or("~"));
    if let Some(e) = &d.exception {
        let _ = writeln!(out, "  exception: {}", e.class);
        let _ = writeln!(out, "  bases: {}", e.bases.join(", "));
        let _ = writeln!(out, "  attributes: {}", e.attributes.join(", "));
        // The wait depends on when the window opens: its presence is kept,
        // not its value.
        let retry = match &e.retry_after {
            None | Some(Value::Null) => "~".to_string(),
            Some(v) if v.is_number() => "[milliseconds]".to_string(),
            Some(v) => v.to_string(),
        };
        let _ = writeln!(out, "  retry_after: {retry}");
    }
    let _ = writeln!(out, "  body: {}", serde_json::to_string(&d.body).unwrap_or_default());
    if !d.dropped.is_empty() {
        let _ = writeln!(out, "  dropped: {}", d.dropped.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::wire::Param;

    fn sent(params: &[(&str, &str)]) -> WireView {
        let params = params
            .iter()
            .map(|(n, v)| Param {
                name: n.to_string(),
                encoded: v.to_string(),
                value: v.to_string(),
                location: "form",
                protocol: false,
            })
            .collect();
        WireView { params, ..WireView::default() }
    }

    fn case(params: &[(&str, &str)]) -> Vec<(String, String)> {
        params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn lists_numbered_from_zero_are_renamings_not_omissions() {
        let c = case(&[("InstanceId", "i-1"), ("KeyId.1", "k-a"), ("KeyId.2", "k-b")]);
        let w = sent(&[("InstanceId", "i-1"), ("KeyId.0", "k-a"), ("KeyId.1", "k-b")]);
        let (renames, missing) = renamed(&c, &w);
        assert!(missing.is_empty());
        let want: BTreeMap<String, String> = [("KeyId.1", "KeyId.0"), ("KeyId.2", "KeyId.1")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(renames, want);
    }

    #[test]
    fn a_re_encoded_value_is_not_a_renaming_and_an_absent_one_is_missing() {
        let c = case(&[("DryRun", "false"), ("UserData", "abc")]);
        let w = sent(&[("DryRun", "False")]);
        let (renames, missing) = renamed(&c, &w);
        assert!(renames.is_empty(), "{renames:?}");
        assert_eq!(missing, vec!["UserData".to_string()]);
    }
}
