//! The mock target: wiremock serving the documented response of each step.
//!
//! For each step the mock mounts one response: the documented error for the
//! expected code (status and message from the contract, in the vendor's body
//! format), or the documented success fields. It answers only a request whose
//! action, version and parameters are the step's and whose signature
//! verifies, so a broken encoder or signer fails the mock trial: wiremock
//! then answers 404 with an empty body.

use crate::protocol::{Credentials, ErrorReply, HttpRequest, KeyStore, Protocol, ReplyCtx};
use crate::recording::RecordedStep;
use crate::suite::{Api, CaseStep};
use crate::template::Bindings;
use serde_json::{json, Map, Value};
use wiremock::{Match, Mock, MockServer, ResponseTemplate};

/// Credentials the mock accepts.
pub fn credentials() -> Credentials {
    Credentials { access_key_id: "MOCKACCESSKEY".into(), secret: "mock-secret".into(), session_token: None }
}

struct MockKeys;

impl KeyStore for MockKeys {
    fn secret(&self, _vendor: &str, ak: &str) -> Option<String> {
        (ak == credentials().access_key_id).then(|| credentials().secret)
    }
    fn fresh_nonce(&self, _v: &str, _ak: &str, _n: &str, _now: i64) -> bool {
        // wiremock evaluates every mounted matcher per request; replay checks
        // belong to the emulator.
        true
    }
}

/// Matches a request that verifies and carries exactly this call.
struct SignedCall {
    protocol: &'static dyn Protocol,
    action: String,
    version: String,
    params: Vec<(String, String)>,
    expect_bad_auth: bool,
}

fn to_http(r: &wiremock::Request) -> HttpRequest {
    HttpRequest {
        method: r.method.as_str().to_string(),
        path: r.url.path().to_string(),
        query: r.url.query_pairs().into_owned().collect(),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: r.body.clone(),
    }
}

impl Match for SignedCall {
    fn matches(&self, r: &wiremock::Request) -> bool {
        let req = to_http(r);
        match self.protocol.accept(&req, &MockKeys, crate::clock::now_secs()) {
            Ok(inbound) => {
                let mut got = inbound.params.clone();
                let mut want = self.params.clone();
                got.sort();
                want.sort();
                !self.expect_bad_auth && inbound.action == self.action && inbound.version == self.version && got == want
            }
            Err(_) => self.expect_bad_auth,
        }
    }
}

/// One step to mount: what the runner resolved for it.
pub struct MockStep<'a> {
    pub api: &'a Api,
    pub protocol: &'static dyn Protocol,
    pub step: &'a CaseStep,
    /// Resolved values, in the order written.
    pub params: Vec<(String, String)>,
    pub bindings: &'a Bindings,
    /// The region the trial signs for (the response echoes it).
    pub region: &'a str,
    /// The live recording to replay, when one passed.
    pub replay: Option<&'a RecordedStep>,
    pub seq: u64,
}

/// Mounts the response for one step.
pub async fn mount_step(server: &MockServer, m: MockStep<'_>) {
    let MockStep { api, protocol: p, step, params, bindings, region, replay, seq } = m;
    let ctx = ReplyCtx {
        action: step.action.clone(),
        version: step.version.clone(),
        region: region.to_string(),
        service: step.service.clone(),
        request_id: p.request_id(seq),
        xml: false,
    };
    let resp = match replay {
        // What the cloud really answered, with this trial's IDs put back.
        Some(r) => {
            let fill = |t: &str| crate::normalize::unredact_ids(&bindings.resolve(t));
            let message = r.message.as_deref().map(fill).unwrap_or_default();
            match &r.code {
                Some(code) => p.render_error(
                    &ctx,
                    &ErrorReply { status: r.status, code: code.clone(), message, retry_after_ms: None, code_n: None },
                ),
                None => {
                    let body: Value = serde_json::from_str(&fill(&r.body.to_string())).unwrap_or(Value::Null);
                    let result = match body {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                    p.render_success(&ctx, &result)
                }
            }
        }
        None => documented(api, p, step, bindings, &ctx, seq),
    };
    mount(server, p, step, params, resp).await;
}

/// The documented response for the step's expected code (or success).
fn documented(
    api: &Api,
    p: &'static dyn Protocol,
    step: &CaseStep,
    bindings: &Bindings,
    ctx: &ReplyCtx,
    seq: u64,
) -> crate::protocol::HttpResponse {
    let e = &step.expect;
    let ctx = ctx.clone();
    match &e.code {
        Some(code) => {
            // The doc's message, never the case's own words, so a wrong
            // expectation fails here as on the emulator. A case's exact
            // message only chooses among documented entries and fills their
            // `%s`; an undocumented code has only the case's words.
            let doc = match &e.message {
                Some(m) => e.documented.iter().find(|d| crate::contract::message_matches(&d.message, m)),
                None => e.documented.first(),
            };
            let message = match (doc, &e.message) {
                (Some(d), Some(m)) if d.message.contains("%s") || d.message.ends_with(':') => m.clone(),
                (Some(d), _) => d.message.clone(),
                (None, m) if e.documented.is_empty() => m.clone().unwrap_or_default(),
                (None, _) => e.documented[0].message.clone(),
            };
            p.render_error(
                &ctx,
                &ErrorReply { status: e.status, code: code.clone(), message, retry_after_ms: None, code_n: None },
            )
        }
        None => {
            let mut result: Map<String, Value> = api.contract.response.clone().into_iter().collect();
            // `equals` pins a value; other checks keep the doc's example, or
            // get a fresh value when the doc has none.
            for (path, check) in &e.body {
                if path.contains('.') {
                    continue;
                }
                if let Some(v) = &check.equals {
                    let want = bindings.resolve(v);
                    let same_as_doc =
                        result.get(path).is_some_and(|d| d.as_str().map_or(d.to_string(), str::to_string) == want);
                    if !same_as_doc {
                        result.insert(path.clone(), json!(want));
                    }
                } else if check.exists != Some(false) && !result.contains_key(path) {
                    result.insert(path.clone(), json!(format!("mock-{path}-{seq}")));
                }
            }
            p.render_success(&ctx, &result)
        }
    }
}

async fn mount(
    server: &MockServer,
    p: &'static dyn Protocol,
    step: &CaseStep,
    params: Vec<(String, String)>,
    resp: crate::protocol::HttpResponse,
) {
    let mut tpl = ResponseTemplate::new(resp.status);
    for (k, v) in &resp.headers {
        if !k.eq_ignore_ascii_case("content-type") {
            tpl = tpl.insert_header(k.as_str(), v.as_str());
        }
    }
    let ct = resp.header("content-type").unwrap_or("application/json").to_string();
    tpl = tpl.set_body_raw(resp.body, &ct);
    Mock::given(SignedCall {
        protocol: p,
        action: step.action.clone(),
        version: step.version.clone(),
        params,
        expect_bad_auth: matches!(step.auth, crate::case::Auth::BadSignature | crate::case::Auth::UnknownAccessKey),
    })
    .respond_with(tpl)
    .up_to_n_times(1)
    .mount(server)
    .await;
}
