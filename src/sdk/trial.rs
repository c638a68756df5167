//! One case through one flavour: the `sdk` target.
//!
//! Like the emulator target, each trial gets a fresh tenant (its own keys
//! and state). Each step goes through the flavour's driver, so the SDK
//! itself encodes, signs, sends and decodes; the emulator's wiretap shows
//! what it sent. The case's expectations (status, code, message, body) are
//! checked against what the SDK decoded, so a case checks the SDK, not only
//! our own signer.
//!
//! A case the flavour cannot express (a pinned wire shape it does not
//! speak, an action it has no method for, a parameter it drops, a request
//! it refuses to send) is `unsupported`, with the reason: never a pass.

use super::driver::{Driver, Pool, Reply, Request};
use super::wire::WireView;
use super::Flavour;
use crate::case::{Auth, Method, ParamsIn, Signature};
use crate::contract::ParamType;
use crate::emulator::Emulator;
use crate::normalize::Redactor;
use crate::protocol::{Credentials, Normalized};
use crate::suite::{Api, Case, CaseStep, Suite};
use crate::template::Bindings;
use serde_json::{json, Value};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// The verdict of one SDK trial.
#[derive(Debug, Clone, Default)]
pub struct SdkOutcome {
    pub failures: Vec<String>,
    /// Set when the flavour cannot express the case, with the reason.
    pub unsupported: Option<String>,
    pub steps: Vec<StepRecord>,
    /// The snapshot text: `wire` and `decoded` per step.
    pub transcript: String,
}

/// The emulator the SDKs talk to, and the suite's contracts.
pub struct SdkHarness {
    /// Owns the emulator's threads.
    _rt: tokio::runtime::Runtime,
    emulator: Emulator,
    addr: SocketAddr,
    suite: Arc<Suite>,
    seq: AtomicU64,
}

impl SdkHarness {
    /// Starts the emulator on `127.0.0.1:<ephemeral>`.
    pub fn start(suite: Arc<Suite>) -> std::io::Result<SdkHarness> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let emulator = Emulator::from_suite(&*suite);
        let addr = rt.block_on(emulator.clone().spawn("127.0.0.1:0"))?;
        Ok(SdkHarness { _rt: rt, emulator, addr, suite, seq: AtomicU64::new(1) })
    }

    /// The emulator the SDKs talk to (to inject a fault, say).
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    pub fn suite(&self) -> &Suite {
        &self.suite
    }

    /// Runs `case` through the pool's flavour. Never panics.
    pub fn run(&self, pool: &Pool, api: &Api, case: &Case) -> SdkOutcome {
        let f = pool.flavour();
        let mut out = SdkOutcome::default();
        let _ = writeln!(out.transcript, "case: {}::{}\nflavour: {}", api.path(), case.name, f.name);
        if let Some(reason) = case.steps.iter().find_map(|s| pinned_elsewhere(f, s)) {
            out.unsupported = Some(reason);
            return out;
        }
        let mut driver = match pool.take() {
            Ok(d) => d,
            Err(e) => {
                out.failures.push(format!("the {} driver does not start: {e}", f.name));
                return out;
            }
        };
        let (tenant, mut bindings, mut redactor) = self.open_tenant(api, case);
        let mut healthy = true;
        'steps: for step in &case.steps {
            let params: Vec<(String, String)> =
                step.params.iter().map(|(k, v)| (k.clone(), bindings.resolve(v))).collect();
            // A `repeat: N` step is sent N times, each answer checked; only
            // the last exchange is recorded.
            for k in 1..=step.repeat.max(1) {
                let (wire, reply) = match self.exchange(&mut driver, api, step, &params, &tenant, &mut redactor) {
                    Ok(x) => x,
                    Err(e) => {
                        out.failures.push(format!("{}: the driver failed: {}", step.name, redactor.text(&e)));
                        healthy = false;
                        break 'steps;
                    }
                };
                // Judged on what the SDK decoded; redacted only for the record.
                let verdict = judge(step, &params, &wire, &reply);
                let last = k >= step.repeat.max(1);
                if last || !matches!(verdict, Judged::Decoded(_)) {
                    let reply = redact_reply(reply, &mut redactor);
                    keep_step(
                        &mut out,
                        step,
                        k,
                        StepRecord { name: step.name.clone(), action: step.action.clone(), wire, reply },
                    );
                }
                let n = match verdict {
                    Judged::Unsupported(reason) => {
                        out.unsupported = Some(reason);
                        break 'steps;
                    }
                    Judged::Decoded(n) => n,
                };
                let before = out.failures.len();
                let name = if last { step.name.clone() } else { format!("{} (#{k})", step.name) };
                crate::runner::check(&name, &step.expect, &n, &bindings, &mut out.failures);
                if last {
                    crate::runner::save(step, &n, &mut bindings, &mut out.failures);
                    for var in step.save.keys() {
                        if let Some(v) = bindings.saved.get(var) {
                            redactor.add(v, &format!("${{saved.{var}}}"));
                        }
                    }
                }
                if out.failures.len() > before {
                    break 'steps;
                }
            }
        }
        self.emulator.unwatch(&[tenant.creds.access_key_id.as_str(), tenant.unknown.as_str()]);
        if healthy {
            pool.give(driver);
        }
        for line in out.failures.iter_mut() {
            *line = redactor.text(line);
        }
        out
    }

    /// A fresh tenant for one trial, its access keys watched, and a
    /// redactor that knows its secrets.
    fn open_tenant(&self, api: &Api, case: &Case) -> (Tenant, Bindings, Redactor) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let (creds, bindings) = self.emulator.create_tenant(&api.vendor, &case.world);
        let unknown = format!("APICONFORMUNKNOWN{seq:06}");
        self.emulator.watch(&[creds.access_key_id.as_str(), unknown.as_str()]);
        let mut redactor = Redactor::new(&bindings);
        redactor.add_credentials(&creds);
        redactor.add(&unknown, "[unknown-access-key]");
        redactor.add(&format!("apiconform-sts-{seq}"), "[security-token]");
        (Tenant { creds, unknown, seq }, bindings, redactor)
    }

    /// One call of a step through the driver, and what the SDK sent for it.
    fn exchange(
        &self,
        driver: &mut Driver,
        api: &Api,
        step: &CaseStep,
        params: &[(String, String)],
        tenant: &Tenant,
        redactor: &mut Redactor,
    ) -> Result<(Vec<WireView>, Reply), String> {
        let call_creds = credentials(&tenant.creds, step.auth, &tenant.unknown, tenant.seq);
        let request = Request {
            id: tenant.seq,
            action: &step.action,
            version: &step.version,
            service: &step.service,
            endpoint: &self.addr.to_string(),
            region: crate::vendor::region(&api.vendor),
            credentials: json!({
                "access_key_id": call_creds.access_key_id,
                "secret": call_creds.secret,
                "session_token": call_creds.session_token,
            }),
            auth: auth_name(step.auth),
            params: self.typed_params(api, step, params),
        };
        let reply = driver.call(&request)?;
        let records = self.emulator.take_wire(&[&tenant.creds.access_key_id, &tenant.unknown]);
        for r in &records {
            // Volatile values (nonce, date, host) may come back inside a
            // message (a server string to sign): learn them first.
            redactor.learn_request(&r.as_request());
        }
        let wire = records.iter().map(|r| WireView::read(r, params, redactor)).collect();
        Ok((wire, reply))
    }

    /// The step's parameters with the contract's types, for the driver.
    fn typed_params(&self, api: &Api, step: &CaseStep, params: &[(String, String)]) -> Vec<Value> {
        let contract = self
            .suite
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
}

/// The trial's tenant: its keys and the variants `auth:` asks for.
struct Tenant {
    creds: Credentials,
    unknown: String,
    seq: u64,
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
    for (what, pinned, speaks) in
        [("signature", sig, f.signature), ("method", method, f.method), ("params_in", params_in, f.params_in)]
    {
        if let Some(p) = pinned.filter(|p| !p.eq_ignore_ascii_case(speaks)) {
            return Some(format!("step `{}` pins {what} {p}; {} sends {speaks}", step.name, f.name));
        }
    }
    None
}

fn credentials(creds: &Credentials, auth: Auth, unknown: &str, seq: u64) -> Credentials {
    match auth {
        Auth::Valid => creds.clone(),
        Auth::BadSignature => Credentials { secret: format!("{}-wrong", creds.secret), ..creds.clone() },
        Auth::UnknownAccessKey => Credentials { access_key_id: unknown.to_string(), ..creds.clone() },
        Auth::SessionToken => Credentials { session_token: Some(format!("apiconform-sts-{seq}")), ..creds.clone() },
    }
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
    Decoded(Normalized),
    Unsupported(String),
}

/// What the SDK decoded, as the runner's normalized shape; or why the
/// flavour cannot express the step.
fn judge(step: &CaseStep, params: &[(String, String)], wire: &[WireView], reply: &Reply) -> Judged {
    if reply.outcome == "unsupported" {
        return Judged::Unsupported(reply.reason.clone().unwrap_or_else(|| "the driver gave no reason".into()));
    }
    if !reply.dropped.is_empty() {
        return Judged::Unsupported(format!("the SDK cannot express parameter(s) {}", reply.dropped.join(", ")));
    }
    if wire.is_empty() {
        let class = reply.exception.as_ref().map(|e| e.class.as_str()).unwrap_or("no exception");
        let msg = reply.message.as_deref().unwrap_or("");
        return Judged::Unsupported(format!("the SDK refused to send the request ({class}: {msg})"));
    }
    let sent = &wire[wire.len() - 1];
    let missing: Vec<&str> =
        params.iter().map(|(k, _)| k.as_str()).filter(|k| !sent.params.iter().any(|p| p.name == *k)).collect();
    if !missing.is_empty() {
        return Judged::Unsupported(format!("the SDK did not send parameter(s) {}", missing.join(", ")));
    }
    // An SDK that does not expose the status is judged on the rest; the
    // snapshot says `status: (not exposed)`.
    let status = reply.status.unwrap_or(step.expect.status);
    let code = reply.code.clone().filter(|c| !c.is_empty());
    // The server's message as the SDK parsed it: SDKs that format their own
    // text (`code: 403, <Message> request id: ...`) keep the parsed field in
    // the error data they expose.
    let message = server_field(&reply.body, "Message").or_else(|| reply.message.clone());
    Judged::Decoded(Normalized {
        status,
        code,
        message,
        request_id: reply.request_id.clone(),
        body: reply.body.clone(),
    })
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

/// Keeps one exchange of a step in the transcript and the record (of a
/// `repeat: N` burst, the one shown).
fn keep_step(out: &mut SdkOutcome, step: &CaseStep, k: u32, record: StepRecord) {
    if step.repeat > 1 {
        let _ = writeln!(out.transcript, "\n({} sent {k} of {} times; this one is shown)", step.name, step.repeat);
    }
    render_step(&record, &mut out.transcript);
    out.steps.push(record);
}
