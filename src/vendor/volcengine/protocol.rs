//! Volcengine OpenAPI (ECS `2020-04-01`).
//!
//! `GET /?<params>&Action=..&Version=..`, signed with HMAC-SHA256 over the
//! scope `date/region/ecs/request` (`shared/reference/vendor-protocols.md` §3). The server uses
//! the client's declared `SignedHeaders` verbatim: the Python SDK signs
//! `content-type;host;x-content-sha256;x-date`, the Node SDK only `x-date`.
//!
//! Every response carries `ResponseMetadata`; errors put
//! `{"CodeN","Code","Message"}` under `ResponseMetadata.Error` with a 4xx/5xx
//! status, and successes put the result under `Result`.

use crate::case::{Method, ParamsIn};
use crate::protocol::*;
use crate::{clock, signing};
use serde_json::{json, Map, Value};

/// The service a reply names: the one the request was signed for, else ECS.
fn service_of(ctx: &ReplyCtx) -> &str {
    if ctx.service.is_empty() {
        SERVICE
    } else {
        &ctx.service
    }
}

pub struct Volcengine;

const SERVICE: &str = "ecs";

impl Protocol for Volcengine {
    fn vendor(&self) -> &'static str {
        "volcengine"
    }

    fn recognizes(&self, req: &HttpRequest) -> bool {
        req.header("authorization").is_some_and(|a| a.starts_with("HMAC-SHA256 "))
            || (req.header("x-date").is_some() && req.header("x-amz-date").is_none())
    }

    fn encode(&self, call: &Call, creds: &Credentials) -> HttpRequest {
        let method = call.wire.method.unwrap_or(Method::Get);
        let mut params: Vec<(String, String)> = call.params.to_vec();
        params.push(("Action".into(), call.action.into()));
        params.push(("Version".into(), call.version.into()));
        let form = call.wire.params_in == Some(ParamsIn::Form);
        let (query, body, content_type) = if form {
            (Vec::new(), encode_pairs(&params).into_bytes(), "application/x-www-form-urlencoded")
        } else {
            (params, Vec::new(), "text/plain")
        };
        let payload = signing::sha256_hex(&body);
        let date = clock::compact(call.now);
        // The Python SDK signs Content-Type, Host and X-* headers, not Accept.
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), content_type.into()),
            ("host".into(), call.host.into()),
            ("x-date".into(), date.clone()),
            ("x-content-sha256".into(), payload.clone()),
        ];
        if let Some(t) = &creds.session_token {
            headers.push(("x-security-token".into(), t.clone()));
        }
        let (signed, cr) = canonical_over_all_headers(method.as_str(), &query, &headers, &payload);
        headers.push(("accept".into(), "application/json".into()));
        let key = signing::SigningKey {
            access_key_id: &creds.access_key_id,
            secret: &creds.secret,
            region: call.region,
            service: if call.service.is_empty() { SERVICE } else { call.service },
        };
        headers.push(("Authorization".into(), signing::VOLCENGINE.authorization(&key, &date, &signed, &cr)));
        HttpRequest { method: method.as_str().into(), path: "/".into(), query, headers, body }
    }

    fn decode(&self, resp: &HttpResponse) -> Normalized {
        let v = json_body(resp);
        let meta = &v["ResponseMetadata"];
        let err = &meta["Error"];
        let s = |x: &Value| x.as_str().map(str::to_string);
        Normalized {
            status: resp.status,
            code: s(&err["Code"]),
            message: s(&err["Message"]),
            request_id: s(&meta["RequestId"]),
            body: v.get("Result").cloned().unwrap_or(Value::Null),
        }
    }

    fn accept(&self, req: &HttpRequest, keys: &dyn KeyStore, now: i64) -> Result<Inbound, Rejection> {
        let all = req.all_params();
        let get = |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let mut reply = ReplyCtx {
            action: get("Action").unwrap_or_default(),
            version: get("Version").unwrap_or_default(),
            region: String::new(),
            service: String::new(),
            request_id: String::new(),
            xml: false,
        };
        let Some(auth) = req.header("authorization") else {
            return Err(reject("MissingAuthenticationToken", vec![], &reply));
        };
        let fields = auth_fields(auth.trim_start_matches("HMAC-SHA256").trim());
        let (Some(cred), Some(signed), Some(sig)) =
            (field(&fields, "Credential"), field(&fields, "SignedHeaders"), field(&fields, "Signature"))
        else {
            return Err(reject("MissingSignature", vec![], &reply));
        };
        let scope: Vec<&str> = cred.split('/').collect();
        let [ak, _date, region, service, "request"] = scope[..] else {
            return Err(reject("MissingRequestInfo", vec!["Credential".into()], &reply));
        };
        reply.region = region.to_string();
        // Which services exist, and which actions each has, is the
        // emulator's to decide from the contracts (ServiceNotFound there).
        reply.service = service.to_string();
        let Some(xdate) = req.header("x-date") else {
            return Err(reject("MissingRequestInfo", vec!["X-Date".into()], &reply));
        };
        match clock::parse_compact(xdate) {
            Some(t) if (now - t).abs() <= TIME_WINDOW => {}
            _ => return Err(reject("InvalidTimestamp", vec![], &reply)),
        }
        let Some(secret) = keys.secret("volcengine", ak) else {
            return Err(reject("InvalidAccessKey", vec![ak.to_string()], &reply));
        };
        let signed: Vec<String> = signed.split(';').map(|s| s.trim().to_ascii_lowercase()).collect();
        let cr = signing::canonical_request(
            &req.method,
            &req.path,
            &signing::canonical_query(&req.query),
            // "Trimall" (§3.2 step 4): trimmed, whitespace runs collapsed.
            &signing::canonical_headers_with(&req.headers, &signed, signing::HeaderRules::VOLCENGINE),
            &signed.join(";"),
            &signing::sha256_hex(&req.body),
        );
        let (_, expected) = signing::VOLCENGINE.sign(&secret, xdate, region, service, &cr);
        if !signing::same(&expected, sig) {
            return Err(reject("SignatureDoesNotMatch", vec![], &reply));
        }
        let params = all.into_iter().filter(|(k, _)| k != "Action" && k != "Version").collect();
        Ok(Inbound {
            action: reply.action.clone(),
            version: reply.version.clone(),
            params,
            access_key_id: ak.to_string(),
            reply,
        })
    }

    fn render_success(&self, ctx: &ReplyCtx, result: &Map<String, Value>) -> HttpResponse {
        HttpResponse::json(
            200,
            &json!({
                "ResponseMetadata": {
                    "RequestId": ctx.request_id,
                    "Action": ctx.action,
                    "Version": ctx.version,
                    "Service": service_of(ctx),
                    "Region": ctx.region,
                },
                "Result": result,
            }),
        )
    }

    fn render_error(&self, ctx: &ReplyCtx, err: &ErrorReply) -> HttpResponse {
        let mut e = Map::new();
        if let Some(n) = err.code_n {
            e.insert("CodeN".into(), json!(n));
        }
        e.insert("Code".into(), json!(err.code));
        e.insert("Message".into(), json!(err.message));
        HttpResponse::json(
            err.status,
            &json!({
                "ResponseMetadata": {
                    "RequestId": ctx.request_id,
                    "Action": ctx.action,
                    "Version": ctx.version,
                    "Service": service_of(ctx),
                    "Region": ctx.region,
                    "Error": e,
                }
            }),
        )
    }

    fn request_id(&self, seq: u64) -> String {
        format!(
            "{}{}",
            clock::compact(clock::now_secs()).replace(['T', 'Z'], ""),
            &hex_id(seq)[..20].to_ascii_uppercase()
        )
    }
}
