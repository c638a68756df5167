//! Alibaba Cloud RPC-style APIs (ECS `2014-05-26`).
//!
//! Two signatures share one endpoint, as the official SDKs use them
//! (`shared/reference/vendor-protocols.md` §2): ACS3-HMAC-SHA256 in the
//! `Authorization` header (the current SDKs' default; action and version in
//! `x-acs-*` headers, business parameters only in the query) and RPC V1
//! HMAC-SHA1 (every parameter, `Signature` included, in the query or in a
//! urlencoded body; the legacy SDK and pop-core). The server tells them apart
//! by the `Authorization` header.
//!
//! Errors are `{"RequestId","HostId","Code","Message","Recommend"}` with a
//! 4xx/5xx status; V1 requests without `Format=JSON` get XML, as documented.

use crate::case::{Method, ParamsIn, Signature};
use crate::protocol::*;
use crate::{clock, signing};
use serde_json::{json, Map, Value};

pub struct Aliyun;

/// Parameters the V1 protocol adds; they are not business parameters.
const V1_PROTOCOL_PARAMS: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureType",
    "AccessKeyId",
    "Signature",
    "SecurityToken",
];

/// Headers the ACS3 signature must cover (the documented minimum).
const ACS3_REQUIRED_SIGNED: &[&str] =
    &["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"];

/// The one ACS3 algorithm verified (§2.5).
const ACS3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

const HOST_ID: &str = "ecs.aliyuncs.com";
const DEFAULT_REGION: &str = "cn-hangzhou";

impl Aliyun {
    fn encode_acs3(&self, call: &Call, creds: &Credentials, method: Method) -> HttpRequest {
        let body: Vec<u8> = Vec::new();
        let payload = signing::sha256_hex(&body);
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), call.host.into()),
            ("x-acs-version".into(), call.version.into()),
            ("x-acs-action".into(), call.action.into()),
            ("x-acs-date".into(), clock::iso8601(call.now)),
            ("x-acs-signature-nonce".into(), call.nonce.into()),
            ("accept".into(), "application/json".into()),
            ("x-acs-content-sha256".into(), payload.clone()),
        ];
        if let Some(t) = &creds.session_token {
            headers.push(("x-acs-accesskey-id".into(), creds.access_key_id.clone()));
            headers.push(("x-acs-security-token".into(), t.clone()));
        }
        let query = call.params.to_vec();
        let (signed, cr) = canonical_over_all_headers(method.as_str(), &query, &headers, &payload);
        let (_, sig) = signing::acs3_signature(&creds.secret, &cr);
        headers.push((
            "Authorization".into(),
            format!(
                "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={sig}",
                creds.access_key_id,
                signed.join(";")
            ),
        ));
        HttpRequest { method: method.as_str().into(), path: "/".into(), query, headers, body }
    }

    fn encode_v1(&self, call: &Call, creds: &Credentials, method: Method, params_in: ParamsIn) -> HttpRequest {
        let mut p: Vec<(String, String)> = vec![
            ("Action".into(), call.action.into()),
            ("Format".into(), "JSON".into()),
            ("Version".into(), call.version.into()),
            ("Timestamp".into(), clock::iso8601(call.now)),
            ("SignatureNonce".into(), call.nonce.into()),
        ];
        p.extend(call.params.iter().cloned());
        p.push(("SignatureMethod".into(), "HMAC-SHA1".into()));
        p.push(("SignatureVersion".into(), "1.0".into()));
        p.push(("AccessKeyId".into(), creds.access_key_id.clone()));
        if let Some(t) = &creds.session_token {
            p.push(("SecurityToken".into(), t.clone()));
        }
        let sts = signing::rpc_v1_string_to_sign(method.as_str(), &p);
        p.push(("Signature".into(), signing::rpc_v1_signature(&creds.secret, &sts)));
        let mut headers = vec![
            ("host".into(), call.host.to_string()),
            ("x-acs-action".into(), call.action.to_string()),
            ("x-acs-version".into(), call.version.to_string()),
        ];
        match params_in {
            ParamsIn::Query => {
                HttpRequest { method: method.as_str().into(), path: "/".into(), query: p, headers, body: Vec::new() }
            }
            ParamsIn::Form => {
                headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
                HttpRequest {
                    method: method.as_str().into(),
                    path: "/".into(),
                    query: Vec::new(),
                    headers,
                    body: encode_pairs(&p).into_bytes(),
                }
            }
        }
    }

    fn accept_acs3(&self, req: &HttpRequest, auth: &str, keys: &dyn KeyStore, now: i64) -> Result<Inbound, Rejection> {
        let mut reply = ReplyCtx {
            action: req.header("x-acs-action").unwrap_or_default().to_string(),
            version: req.header("x-acs-version").unwrap_or_default().to_string(),
            region: DEFAULT_REGION.into(),
            service: String::new(),
            request_id: String::new(),
            xml: false,
        };
        // Other ACS3 algorithms (ACS3-HMAC-SM3, ACS3-RSA-SHA256, §2.5 step 9)
        // are not verified here: refused, never mistaken for a V1 request.
        let (algorithm, rest) = auth.trim().split_once(' ').unwrap_or((auth.trim(), ""));
        if algorithm != ACS3_ALGORITHM {
            return Err(reject("IncompleteSignature", vec![String::new()], &reply));
        }
        let fields = auth_fields(rest);
        let (Some(ak), Some(signed), Some(sig)) =
            (field(&fields, "Credential"), field(&fields, "SignedHeaders"), field(&fields, "Signature"))
        else {
            return Err(reject("IncompleteSignature", vec![String::new()], &reply));
        };
        let signed: Vec<String> = signed.split(';').map(|s| s.trim().to_ascii_lowercase()).collect();
        if ACS3_REQUIRED_SIGNED.iter().any(|h| !signed.iter().any(|s| s == *h) || req.header(h).is_none()) {
            return Err(reject("IncompleteSignature", vec![String::new()], &reply));
        }
        let date = req.header("x-acs-date").unwrap_or_default();
        let Some(t) = clock::parse_iso8601(date) else {
            return Err(reject("InvalidTimeStamp.Format", vec![], &reply));
        };
        if (now - t).abs() > TIME_WINDOW {
            return Err(reject("InvalidTimeStamp.Expired", vec![], &reply));
        }
        let Some(secret) = keys.secret("aliyun", ak) else {
            return Err(reject("InvalidAccessKeyId.NotFound", vec![], &reply));
        };
        let payload = signing::sha256_hex(&req.body);
        let declared = req.header("x-acs-content-sha256").unwrap_or_default();
        let headers = signing::canonical_headers_with(&req.headers, &signed, signing::HeaderRules::ALIYUN);
        let canonical = |query: &str| {
            signing::canonical_request(&req.method, &req.path, query, &headers, &signed.join(";"), declared)
        };
        let matches = |cr: &str| signing::same(&signing::acs3_signature(&secret, cr).1, sig);
        let cr = canonical(&signing::canonical_query(&req.query));
        // The old openapi-util wrote an empty value as the bare key (§2.5
        // step 3): tried only when the current form fails.
        let verified = matches(&cr)
            || (req.query.iter().any(|(_, v)| v.is_empty())
                && matches(&canonical(&signing::canonical_query_bare_empty(&req.query))));
        if !verified || declared != payload {
            return Err(reject("SignatureDoesNotMatch", vec![cr], &reply));
        }
        let nonce = req.header("x-acs-signature-nonce").unwrap_or_default();
        if !keys.fresh_nonce("aliyun", ak, nonce, now) {
            return Err(reject("SignatureNonceUsed", vec![], &reply));
        }
        let params = req.all_params();
        if let Some((_, r)) = params.iter().find(|(k, _)| k == "RegionId") {
            reply.region = r.clone();
        }
        Ok(Inbound {
            action: reply.action.clone(),
            version: reply.version.clone(),
            params,
            access_key_id: ak.to_string(),
            reply,
        })
    }

    fn accept_v1(&self, req: &HttpRequest, keys: &dyn KeyStore, now: i64) -> Result<Inbound, Rejection> {
        let all = req.all_params();
        let get = |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let format = get("Format").unwrap_or("XML");
        // The unsigned x-acs-* headers only name the action in the reply to a
        // rejection; the call itself takes Action and Version from the
        // signed parameters.
        let reply = ReplyCtx {
            action: get("Action").or_else(|| req.header("x-acs-action")).unwrap_or_default().to_string(),
            version: get("Version").or_else(|| req.header("x-acs-version")).unwrap_or_default().to_string(),
            region: get("RegionId").unwrap_or(DEFAULT_REGION).to_string(),
            service: String::new(),
            request_id: String::new(),
            xml: !format.eq_ignore_ascii_case("json"),
        };
        let missing = |name: &str| reject("MissingParameter", vec![name.to_string()], &reply);
        let (Some(ak), Some(sig)) = (get("AccessKeyId"), get("Signature")) else {
            return Err(reject("IncompleteSignature", vec![String::new()], &reply));
        };
        let Some(t) = get("Timestamp").map(clock::parse_iso8601) else {
            return Err(missing("Timestamp"));
        };
        let Some(t) = t else {
            return Err(reject("InvalidTimeStamp.Format", vec![], &reply));
        };
        let Some(nonce) = get("SignatureNonce").filter(|n| !n.is_empty()) else {
            return Err(missing("SignatureNonce"));
        };
        for (name, only) in [("SignatureMethod", "HMAC-SHA1"), ("SignatureVersion", "1.0")] {
            match get(name) {
                None => return Err(missing(name)),
                Some(v) if v != only => {
                    return Err(reject("InvalidParameter", vec![name.to_string()], &reply));
                }
                Some(_) => {}
            }
        }
        if (now - t).abs() > TIME_WINDOW {
            return Err(reject("InvalidTimeStamp.Expired", vec![], &reply));
        }
        let Some(secret) = keys.secret("aliyun", ak) else {
            return Err(reject("InvalidAccessKeyId.NotFound", vec![], &reply));
        };
        let sts = signing::rpc_v1_string_to_sign(&req.method, &all);
        if !signing::same(&signing::rpc_v1_signature(&secret, &sts), sig) {
            return Err(reject("SignatureDoesNotMatch", vec![sts], &reply));
        }
        if !keys.fresh_nonce("aliyun", ak, nonce, now) {
            return Err(reject("SignatureNonceUsed", vec![], &reply));
        }
        let Some(action) = get("Action").filter(|a| !a.is_empty()) else {
            return Err(missing("Action"));
        };
        let Some(version) = get("Version").filter(|v| !v.is_empty()) else {
            return Err(missing("Version"));
        };
        let (action, version, ak) = (action.to_string(), version.to_string(), ak.to_string());
        let params = all.into_iter().filter(|(k, _)| !V1_PROTOCOL_PARAMS.contains(&k.as_str())).collect();
        Ok(Inbound { action, version, params, access_key_id: ak, reply })
    }
}

impl Protocol for Aliyun {
    /// V1 (query-signed) calls are answered in XML unless they ask for JSON.
    fn errors_in_xml(&self, req: &HttpRequest) -> bool {
        let q = |k: &str| req.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        q("SignatureMethod").is_some() && !q("Format").is_some_and(|f| f.eq_ignore_ascii_case("json"))
    }

    fn vendor(&self) -> &'static str {
        "aliyun"
    }

    fn protocol_params(&self) -> &'static [&'static str] {
        V1_PROTOCOL_PARAMS
    }

    fn recognizes(&self, req: &HttpRequest) -> bool {
        req.header("authorization").is_some_and(|a| a.starts_with("ACS3-"))
            || req.header("x-acs-action").is_some()
            || req.all_params().iter().any(|(k, v)| k == "SignatureMethod" && v == "HMAC-SHA1")
    }

    fn encode(&self, call: &Call, creds: &Credentials) -> HttpRequest {
        let method = call.wire.method.unwrap_or(Method::Post);
        match call.wire.signature.unwrap_or(Signature::Acs3) {
            Signature::Acs3 => self.encode_acs3(call, creds, method),
            Signature::RpcV1 => self.encode_v1(call, creds, method, call.wire.params_in.unwrap_or(ParamsIn::Query)),
        }
    }

    fn decode(&self, resp: &HttpResponse) -> Normalized {
        let text = String::from_utf8_lossy(&resp.body);
        if resp.header("content-type").is_some_and(|c| c.contains("xml")) {
            let code = xml_tag(&text, "Code");
            return Normalized {
                status: resp.status,
                message: xml_tag(&text, "Message"),
                request_id: xml_tag(&text, "RequestId"),
                body: json!({ "xml": text }),
                code,
            };
        }
        let mut body = json_body(resp);
        let take = |b: &mut Value, k: &str| {
            b.as_object_mut().and_then(|m| m.remove(k)).and_then(|v| v.as_str().map(str::to_string))
        };
        let request_id = take(&mut body, "RequestId");
        let (code, message) = if resp.status >= 300 {
            let c = take(&mut body, "Code");
            let m = take(&mut body, "Message");
            if let Some(m) = body.as_object_mut() {
                m.remove("HostId");
                m.remove("Recommend");
            }
            (c, m)
        } else {
            (None, None)
        };
        Normalized { status: resp.status, code, message, request_id, body }
    }

    fn accept(&self, req: &HttpRequest, keys: &dyn KeyStore, now: i64) -> Result<Inbound, Rejection> {
        match req.header("authorization") {
            Some(a) if a.trim_start().starts_with("ACS3-") => self.accept_acs3(req, a, keys, now),
            _ => self.accept_v1(req, keys, now),
        }
    }

    fn render_success(&self, ctx: &ReplyCtx, result: &Map<String, Value>) -> HttpResponse {
        if ctx.xml {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><{a}Response><RequestId>{id}</RequestId>{f}</{a}Response>",
                a = ctx.action,
                id = ctx.request_id,
                f = xml_fields(result)
            );
            return HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "text/xml;charset=utf-8".into())],
                body: body.into_bytes(),
            };
        }
        json_with_request_id(ctx, result)
    }

    fn render_error(&self, ctx: &ReplyCtx, err: &ErrorReply) -> HttpResponse {
        let recommend = format!("https://api.aliyun.com/troubleshoot?q={}&product=Ecs", err.code);
        let mut resp = if ctx.xml {
            let body = format!(
                "<?xml version='1.0' encoding='UTF-8'?><Error><RequestId>{}</RequestId><HostId>{HOST_ID}</HostId><Code>{}</Code><Message>{}</Message><Recommend>{}</Recommend></Error>",
                ctx.request_id,
                xml_escape(&err.code),
                xml_escape(&err.message),
                xml_escape(&recommend)
            );
            HttpResponse {
                status: err.status,
                headers: vec![("content-type".into(), "text/xml;charset=utf-8".into())],
                body: body.into_bytes(),
            }
        } else {
            HttpResponse::json(
                err.status,
                &json!({
                    "RequestId": ctx.request_id,
                    "HostId": HOST_ID,
                    "Code": err.code,
                    "Message": err.message,
                    "Recommend": recommend,
                }),
            )
        };
        if let Some(ms) = err.retry_after_ms {
            resp.headers.push(("x-acs-retry-after".into(), ms.to_string()));
        }
        resp
    }

    fn request_id(&self, seq: u64) -> String {
        let h = hex_id(seq).to_ascii_uppercase();
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_carries_the_retry_hint_tea_reads() {
        let ctx = ReplyCtx { action: "ReplaceSystemDisk".into(), request_id: "R".into(), ..Default::default() };
        let err = ErrorReply {
            status: 400,
            code: "Throttling.User".into(),
            message: "Request was denied due to user flow control.".into(),
            retry_after_ms: Some(1500),
            code_n: None,
        };
        let r = Aliyun.render_error(&ctx, &err);
        assert_eq!(r.header("x-acs-retry-after"), Some("1500"));
        let n = Aliyun.decode(&r);
        assert_eq!((n.status, n.code.as_deref()), (400, Some("Throttling.User")));
    }

    #[test]
    fn v1_without_format_json_answers_xml() {
        let ctx = ReplyCtx { action: "ResetDisk".into(), request_id: "R1".into(), xml: true, ..Default::default() };
        let r = Aliyun.render_success(&ctx, &Map::new());
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ResetDiskResponse><RequestId>R1</RequestId></ResetDiskResponse>"
        );
    }
}
