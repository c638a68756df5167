//! Runs one case on one target and gives a verdict and a transcript.
//!
//! The path of a trial: bind the case's fixtures to real IDs (a fresh
//! emulator tenant, or generated IDs for the mock), then for each step
//! resolve `${...}` references, encode and sign the call with the vendor's
//! protocol module, send it over real HTTP, decode the response into the
//! normalized shape, check the expectation, and save values for later steps.
//! The transcript (normalized, redacted request and response of every step)
//! is what the snapshot tests compare.

use crate::case::Auth;
use crate::emulator::{state::State, Emulator};
use crate::normalize::Redactor;
use crate::protocol::{self, Call, Credentials, HttpRequest, HttpResponse, Normalized};
use crate::suite::{Api, Case, CaseStep, CheckedExpect, Suite};
use crate::template::Bindings;
use crate::world::Kind;
use serde_json::Value;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a trial sends its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Emulator,
    Mock,
}

impl Target {
    pub const OFFLINE: [Target; 2] = [Target::Emulator, Target::Mock];

    pub fn name(self) -> &'static str {
        match self {
            Target::Emulator => "emulator",
            Target::Mock => "mock",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        match s {
            "emulator" => Some(Target::Emulator),
            "mock" => Some(Target::Mock),
            _ => None,
        }
    }
}

/// The region each vendor's requests are signed for.
pub fn region(vendor: &str) -> &'static str {
    match vendor {
        "volcengine" => "cn-beijing",
        "ksyun" => "cn-beijing-6",
        _ => "cn-hangzhou",
    }
}

/// The verdict of one trial.
#[derive(Debug, Clone, Default)]
pub struct TrialOutcome {
    /// Empty when the trial passed.
    pub failures: Vec<String>,
    /// Normalized, redacted exchanges, for snapshots.
    pub transcript: String,
    /// (action, status, code, message) of each response, for coverage.
    pub observed: Vec<Observed>,
}

/// What one step got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub action: String,
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Shared machinery for all trials: a runtime, the in-process emulator and
/// an HTTP client.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    emulator: Emulator,
    emulator_addr: SocketAddr,
    client: reqwest::Client,
    seq: AtomicU64,
}

impl Harness {
    /// Starts the emulator on `127.0.0.1:<ephemeral>`.
    pub fn start(suite: &Suite) -> std::io::Result<Harness> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let emulator = Emulator::from_suite(suite);
        let emulator_addr = rt.block_on(emulator.clone().spawn("127.0.0.1:0"))?;
        let client = reqwest::Client::builder().no_proxy().build().map_err(std::io::Error::other)?;
        Ok(Harness { rt, emulator, emulator_addr, client, seq: AtomicU64::new(1) })
    }

    pub fn emulator_addr(&self) -> SocketAddr {
        self.emulator_addr
    }

    /// Runs one case on one target. Never panics on a failing case.
    pub fn run(&self, api: &Api, case: &Case, target: Target) -> TrialOutcome {
        self.rt.block_on(self.run_async(api, case, target))
    }

    async fn run_async(&self, api: &Api, case: &Case, target: Target) -> TrialOutcome {
        let Some(p) = protocol::for_vendor(&api.vendor) else {
            return TrialOutcome {
                failures: vec![format!("no protocol module for vendor `{}`", api.vendor)],
                ..Default::default()
            };
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let (creds, mut bindings, server) = match target {
            Target::Emulator => {
                let (c, b) = self.emulator.create_tenant(&api.vendor, &case.world);
                (c, b, None)
            }
            Target::Mock => {
                let (state, fixtures) = State::build(&api.vendor, 1_000_000 + seq, &case.world);
                let mut b = Bindings { fixtures, ..Default::default() };
                for k in Kind::ALL {
                    b.absent.insert(k.word().to_string(), state.absent_id(k));
                }
                (crate::mock::credentials(), b, Some(wiremock::MockServer::start().await))
            }
        };
        let host = match &server {
            Some(s) => s.address().to_string(),
            None => self.emulator_addr.to_string(),
        };
        let mut out = TrialOutcome::default();
        let mut redactor = Redactor::new(&bindings);
        let _ = writeln!(out.transcript, "case: {}::{}\ntarget: {}", api.path(), case.name, target.name());
        for (i, step) in case.steps.iter().enumerate() {
            let params: Vec<(String, String)> =
                step.params.iter().map(|(k, v)| (k.clone(), bindings.resolve(v))).collect();
            if let Some(s) = &server {
                crate::mock::mount_step(s, api, p, step, params.clone(), &bindings, seq * 100 + i as u64).await;
            }
            let creds = match step.auth {
                Auth::Valid => creds.clone(),
                Auth::BadSignature => Credentials { secret: format!("{}-wrong", creds.secret), ..creds.clone() },
                Auth::UnknownAccessKey => Credentials { access_key_id: "APICONFORMUNKNOWNKEY".into(), ..creds.clone() },
                Auth::SessionToken => {
                    Credentials { session_token: Some(format!("apiconform-sts-{seq}")), ..creds.clone() }
                }
            };
            let nonce =
                protocol::hex_id(seq.wrapping_mul(7919).wrapping_add(i as u64 + 1) ^ crate::clock::now_secs() as u64);
            let call = Call {
                action: &step.action,
                version: &step.version,
                params: &params,
                wire: &step.wire,
                host: &host,
                region: region(&api.vendor),
                now: crate::clock::now_secs(),
                nonce: &nonce,
            };
            let req = p.encode(&call, &creds);
            redactor.learn_request(&req);
            let _ = writeln!(
                out.transcript,
                "\n{} {}\nrequest:\n{}",
                step.name,
                step.action,
                redactor.request(&req).trim_end()
            );
            let resp = match self.send(&req).await {
                Ok(r) => r,
                Err(e) => {
                    out.failures.push(format!("{}: request failed: {e}", step.name));
                    break;
                }
            };
            let n = p.decode(&resp);
            out.observed.push(Observed {
                action: step.action.clone(),
                status: n.status,
                code: n.code.clone(),
                message: n.message.clone(),
            });
            let _ = writeln!(out.transcript, "response:\n{}", redactor.response(&n).trim_end());
            let before = out.failures.len();
            check(&step.name, &step.expect, &n, &bindings, &mut out.failures);
            if target == Target::Mock && resp.status == 404 && resp.body.is_empty() && out.failures.len() > before {
                out.failures.push(format!(
                    "{}: the mock had no response for this request: its action, version, parameters or signature did not match the case",
                    step.name
                ));
            }
            save(step, &n, &mut bindings, &mut out.failures);
            if out.failures.len() > before {
                break;
            }
        }
        out
    }

    async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        let host = req.header("host").unwrap_or("127.0.0.1");
        let q = req.query_string();
        let url =
            if q.is_empty() { format!("http://{host}{}", req.path) } else { format!("http://{host}{}?{q}", req.path) };
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut b = self.client.request(method, url);
        for (k, v) in &req.headers {
            if !k.eq_ignore_ascii_case("host") {
                b = b.header(k.as_str(), v.as_str());
            }
        }
        let r = b.body(req.body.clone()).send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = r.bytes().await.map_err(|e| e.to_string())?.to_vec();
        Ok(HttpResponse { status, headers, body })
    }
}

/// A documented message with `%s` placeholders as a matcher.
/// A message ending in `:` without placeholders (Alibaba's `server string to
/// sign is:`) is a prefix, as the emulator appends to it.
pub fn message_matches(template: &str, got: &str) -> bool {
    if !template.contains("%s") && template.ends_with(':') {
        return got.starts_with(template);
    }
    let parts: Vec<String> = template.split("%s").map(regex::escape).collect();
    regex::Regex::new(&format!("^{}$", parts.join("(?s:.*)"))).is_ok_and(|re| re.is_match(got))
}

/// A dotted path into a body; numeric parts index arrays (`Disks.Disk.0.Status`).
fn lookup<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |v, k| match (v, k.parse::<usize>()) {
        (Value::Array(a), Ok(i)) => a.get(i),
        _ => v.get(k),
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares a response with an expectation; appends readable failures.
pub fn check(step: &str, e: &CheckedExpect, n: &Normalized, b: &Bindings, failures: &mut Vec<String>) {
    let got = format!(
        "got HTTP {} code {} message {:?}",
        n.status,
        n.code.as_deref().unwrap_or("(none)"),
        n.message.as_deref().unwrap_or("")
    );
    if n.status != e.status || n.code != e.code {
        failures.push(format!(
            "{step}: expected HTTP {} code {}\n{:>w$}{got}",
            e.status,
            e.code.as_deref().unwrap_or("(none: a success)"),
            "",
            w = step.len() + 2
        ));
    }
    let msg = n.message.as_deref().unwrap_or("");
    if let Some(m) = &e.message {
        if msg != m {
            failures.push(format!(
                "{step}: expected message {m:?}\n{:>width$}got message {msg:?}",
                "",
                width = step.len() + 2
            ));
        }
    } else if e.code.is_some()
        && e.code == n.code
        && !e.documented.is_empty()
        && !e.documented.iter().any(|d| message_matches(&d.message, msg))
    {
        let docs: Vec<&str> = e.documented.iter().map(|d| d.message.as_str()).collect();
        failures.push(format!("{step}: message {msg:?} is not the documented {docs:?}"));
    }
    if let Some(c) = &e.message_contains {
        if !msg.contains(c.as_str()) {
            failures.push(format!("{step}: expected the message to contain {c:?}, {got}"));
        }
    }
    for (path, c) in &e.body {
        let v = lookup(&n.body, path);
        let txt = v.map(text_of);
        if let Some(want) = c.exists {
            if v.is_some() != want {
                failures.push(format!(
                    "{step}: body.{path}: expected {}, body is {}",
                    if want { "present" } else { "absent" },
                    n.body
                ));
            }
        }
        if let Some(eq) = &c.equals {
            let want = b.resolve(eq);
            if txt.as_deref() != Some(want.as_str()) {
                failures.push(format!("{step}: body.{path}: expected {want:?}, got {txt:?}"));
            }
        }
        if let Some(ne) = &c.not_equals {
            let other = b.resolve(ne);
            if txt.as_deref() == Some(other.as_str()) {
                failures.push(format!("{step}: body.{path}: expected a value other than {other:?}"));
            }
        }
        if let Some(re) = &c.matches {
            let ok = regex::Regex::new(re).is_ok_and(|r| txt.as_deref().is_some_and(|t| r.is_match(t)));
            if !ok {
                failures.push(format!("{step}: body.{path}: {txt:?} does not match /{re}/"));
            }
        }
    }
}

fn save(step: &CaseStep, n: &Normalized, b: &mut Bindings, failures: &mut Vec<String>) {
    for (var, path) in &step.save {
        match lookup(&n.body, path) {
            Some(v) => {
                b.saved.insert(var.clone(), text_of(v));
            }
            None => failures.push(format!("{}: cannot save `{var}`: the response has no `{path}`", step.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_placeholders_match_anything() {
        assert!(message_matches("The accesskey [%s] included", "The accesskey [AK1] included"));
        assert!(!message_matches("The accesskey [%s] included", "The accesskey [AK1] excluded"));
        assert!(message_matches("a.b", "a.b"));
        assert!(!message_matches("a.b", "axb"));
        assert!(message_matches("sign is:", "sign is:GET&"));
        assert!(!message_matches("sign is:", "sign was:GET&"));
    }
}
