//! Transport: sign, schedule, send and decode one request, and write what
//! it got into the trial's transcript, recording and observations.
//!
//! Why apart: every request of a trial (its steps, and the live session's
//! set-up, clean-up and sweep calls) goes through [`Harness::exchange`], so
//! redaction, the rate limit and the retry policy apply to all of them.

use super::verdict::{creates_twice, retryable};
use super::{Harness, Observed, TrialOutcome};
use crate::contract::RateLimit;
use crate::normalize::Redactor;
use crate::protocol::{self, Call, Credentials, HttpRequest, HttpResponse, Normalized, Protocol};
use crate::recording::RecordedStep;
use crate::suite::CaseStep;
use crate::template::Bindings;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Where and as whom one trial sends its requests.
pub(crate) struct Binding {
    pub creds: Credentials,
    pub bindings: Bindings,
    pub scheme: String,
    pub host: String,
    pub region: String,
    pub mock: Option<wiremock::MockServer>,
    pub staging: Vec<(String, String)>,
    /// System disks to bind by asking the cloud (live): (disk, instance).
    pub system_disks: Vec<(String, String)>,
}

impl Binding {
    /// An offline target on loopback: nothing to stage.
    pub(crate) fn loopback(creds: Credentials, bindings: Bindings, host: String, vendor: &str) -> Binding {
        let region = crate::vendor::region(vendor).to_string();
        let (staging, system_disks) = (Vec::new(), Vec::new());
        Binding { creds, bindings, scheme: "http".into(), host, region, mock: None, staging, system_disks }
    }
}

/// The four values that travel together: the vendor's protocol, where and
/// as whom requests go, the trial's redactor and what it reports.
pub(crate) struct Channel<'a> {
    pub p: &'static dyn Protocol,
    pub b: &'a Binding,
    pub redactor: &'a mut Redactor,
    pub out: &'a mut TrialOutcome,
}

/// One request to make: a step with its resolved parameters.
pub(crate) struct Request<'a> {
    pub step: &'a CaseStep,
    pub creds: &'a Credentials,
    pub params: &'a [(String, String)],
    /// The documented rate limit the live scheduler keeps to.
    pub limit: Option<&'a RateLimit>,
    /// Live: scheduled under the rate limit, retried on throttling and safe
    /// 5xx answers; offline requests are sent once.
    pub live: bool,
}

/// Why a request got no answer.
pub(crate) struct SendError {
    message: String,
    /// The request never left (the connection could not be opened), so
    /// sending it again cannot do anything twice.
    unsent: bool,
}

impl Harness {
    /// Signs, schedules, sends and decodes one step; live requests are held
    /// to the documented rate and retried on throttling and 5xx answers
    /// with backoff, with the same parameters (and so the same ClientToken).
    pub(crate) async fn exchange(
        &self,
        ch: &mut Channel<'_>,
        r: &Request<'_>,
    ) -> Result<(HttpResponse, Normalized), String> {
        let (step, params) = (r.step, r.params);
        let attempts = if r.live { 4 } else { 1 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            if r.live && self.interrupted.load(Ordering::SeqCst) && step.action != "DeleteSnapshot" {
                return Err("interrupted (Ctrl-C): no further live requests".into());
            }
            if let (true, Some(l)) = (r.live, r.limit) {
                self.admit(&format!("{}/{}", ch.p.vendor(), step.action), l).await;
            }
            let req = self.encode(ch, r);
            let resp = match self.send(&req, &ch.b.scheme).await {
                Ok(resp) => resp,
                Err(e) if attempt < attempts && (e.unsent || !creates_twice(&step.action, params)) => {
                    let wait = self.backoff(&HttpResponse::default(), attempt);
                    retry_later(ch.out, step, attempt, format!("failed: {}", e.message), "", wait).await;
                    continue;
                }
                Err(e) if attempt > 1 => return Err(format!("{} (attempt {attempt} of {attempts})", e.message)),
                Err(e) => return Err(e.message),
            };
            let n = ch.p.decode(&resp);
            if attempt < attempts && retryable(&n, &step.action, params) {
                let wait = self.backoff(&resp, attempt);
                let token = params.iter().find(|(k, _)| k == "ClientToken").map(|(_, v)| v.as_str());
                let what = format!("got HTTP {} {}", n.status, n.code.as_deref().unwrap_or("(no code)"));
                let same = token.map(|t| format!(" with the same ClientToken {t}")).unwrap_or_default();
                retry_later(ch.out, step, attempt, what, &same, wait).await;
                continue;
            }
            report(ch, step, &req, &n);
            return Ok((resp, n));
        }
    }

    /// The signed request of one attempt (a fresh nonce and time each).
    fn encode(&self, ch: &mut Channel<'_>, r: &Request<'_>) -> HttpRequest {
        let nonce = self.fresh_nonce();
        let call = Call {
            action: &r.step.action,
            version: &r.step.version,
            service: &r.step.service,
            params: r.params,
            wire: &r.step.wire,
            host: &ch.b.host,
            region: &ch.b.region,
            now: crate::clock::now_secs(),
            nonce: &nonce,
        };
        let req = ch.p.encode(&call, r.creds);
        ch.redactor.learn_request(&req);
        req
    }

    /// A nonce unique across trials, runs and processes (it must not repeat
    /// within the vendor's 15-minute window, even from parallel CI shards).
    fn fresh_nonce(&self) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let n = self.nonces.fetch_add(1, Ordering::Relaxed);
        protocol::hex_id(nanos.rotate_left(17) ^ n ^ ((std::process::id() as u64) << 40))
    }

    async fn send(&self, req: &HttpRequest, scheme: &str) -> Result<HttpResponse, SendError> {
        let host = req.header("host").unwrap_or("127.0.0.1");
        let q = req.query_string();
        let url = if q.is_empty() {
            format!("{scheme}://{host}{}", req.path)
        } else {
            format!("{scheme}://{host}{}?{q}", req.path)
        };
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| SendError { message: e.to_string(), unsent: true })?;
        let mut b = self.client.request(method, url);
        if let Some(cfg) = &self.live {
            b = b.timeout(cfg.request_timeout);
        }
        for (k, v) in &req.headers {
            if !k.eq_ignore_ascii_case("host") {
                b = b.header(k.as_str(), v.as_str());
            }
        }
        // Without the URL: a V1 request carries its signature and access key
        // in the query string.
        let r = b.body(req.body.clone()).send().await.map_err(|e| self.transport_error(e))?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = r.bytes().await.map_err(|e| self.transport_error(e))?.to_vec();
        Ok(HttpResponse { status, headers, body })
    }

    /// A transport error with its cause ("Connection refused", "timed out
    /// after 30 s") and without the URL: a V1 request carries its signature
    /// and access key in the query string.
    fn transport_error(&self, e: reqwest::Error) -> SendError {
        let unsent = e.is_connect();
        let e = e.without_url();
        let timeouts = self.live.as_ref().map(|c| (c.connect_timeout, c.request_timeout));
        let message = match timeouts {
            Some((connect, _)) if e.is_timeout() && unsent => {
                format!("could not connect: timed out after {}", human(connect))
            }
            Some((_, request)) if e.is_timeout() => format!("timed out after {} (no complete answer)", human(request)),
            _ => {
                let mut parts = vec![e.to_string()];
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    let text = s.to_string();
                    if !parts.iter().any(|p| p.contains(&text)) {
                        parts.push(text);
                    }
                    source = s.source();
                }
                parts.join(": ")
            }
        };
        SendError { message, unsent }
    }
}

/// Writes one answered exchange into the transcript, the recording and the
/// observations, redacted.
fn report(ch: &mut Channel<'_>, step: &CaseStep, req: &HttpRequest, n: &Normalized) {
    let (redactor, out) = (&mut *ch.redactor, &mut *ch.out);
    let _ = writeln!(out.transcript, "\n{} {}\nrequest:\n{}", step.name, step.action, redactor.request(req).trim_end());
    let _ = writeln!(out.transcript, "response:\n{}", redactor.response(n).trim_end());
    out.recorded.push(RecordedStep {
        name: step.name.clone(),
        action: step.action.clone(),
        request: redactor.request(req),
        status: n.status,
        code: n.code.clone(),
        message: n.message.as_deref().map(|m| redactor.text(m)),
        body: redactor.value(&n.body),
    });
    out.observed.push(Observed {
        action: step.action.clone(),
        status: n.status,
        code: n.code.clone(),
        message: n.message.clone(),
    });
}

/// Reports a retry (in the trial's retries and transcript), then waits.
async fn retry_later(out: &mut TrialOutcome, step: &CaseStep, attempt: u64, what: String, note: &str, wait: Duration) {
    out.retries.push(format!(
        "{} {}: attempt {attempt} {what}; retrying in {} ms{note}",
        step.name,
        step.action,
        wait.as_millis()
    ));
    let _ = writeln!(out.transcript, "\n{} {} (attempt {attempt}, retried)", step.name, step.action);
    tokio::time::sleep(wait).await;
}

/// `30 s`, `1.5 s`, `200 ms`.
fn human(d: Duration) -> String {
    match d.as_millis() {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        _ => format!("{:.1} s", d.as_secs_f64()),
    }
}
