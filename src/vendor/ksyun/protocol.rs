//! Kingsoft Cloud (Ksyun) KEC `2016-03-04`.
//!
//! Plain AWS Signature V4 with service `kec` (`shared/reference/vendor-protocols.md` §4). Two
//! official SDKs, two shapes: kscore sends `GET /?Action=..&Version=..&..`
//! with `X-Action`/`X-Version` headers; kingsoftcloud-sdk-python POSTs a
//! urlencoded form with extra common parameters (`Service`, `SdkVersion`,
//! `Region`, `Accesskey`, `Language`), which are not business parameters.
//!
//! Successes are `{"RequestId", <fields>}`; errors are
//! `{"RequestId","Error":{"Type","Code","Message"}}` with a 4xx/5xx status.
//! JSON only when the client sends `Accept: application/json`, else XML.

use crate::case::{Method, ParamsIn};
use crate::protocol::*;
use crate::{clock, signing};
use serde_json::{json, Map, Value};

pub struct Ksyun;

const SERVICE: &str = "kec";

/// Parameters the SDKs add that are not the API's.
const PROTOCOL_PARAMS: &[&str] = &["Action", "Version", "Service", "SdkVersion", "Region", "Accesskey", "Language"];

impl Protocol for Ksyun {
    fn vendor(&self) -> &'static str {
        "ksyun"
    }

    fn recognizes(&self, req: &HttpRequest) -> bool {
        req.header("authorization").is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256"))
            || req.header("x-amz-date").is_some()
    }

    fn encode(&self, call: &Call, creds: &Credentials) -> HttpRequest {
        let method = call.wire.method.unwrap_or(Method::Get);
        let form =
            call.wire.params_in == Some(ParamsIn::Form) || (method == Method::Post && call.wire.params_in.is_none());
        let mut params: Vec<(String, String)> =
            vec![("Action".into(), call.action.into()), ("Version".into(), call.version.into())];
        params.extend(call.params.iter().cloned());
        let date = clock::compact(call.now);
        let mut headers: Vec<(String, String)> = vec![
            ("accept".into(), "application/json".into()),
            ("host".into(), call.host.into()),
            ("x-action".into(), call.action.into()),
            ("x-version".into(), call.version.into()),
            ("x-amz-date".into(), date.clone()),
        ];
        let (query, body) = if form {
            headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
            (Vec::new(), encode_pairs(&params).into_bytes())
        } else {
            (params, Vec::new())
        };
        let payload = signing::sha256_hex(&body);
        if form {
            headers.push(("x-amz-content-sha256".into(), payload.clone()));
        }
        if let Some(t) = &creds.session_token {
            headers.push(("x-amz-security-token".into(), t.clone()));
        }
        let (signed, cr) = canonical_over_all_headers(method.as_str(), &query, &headers, &payload);
        let key = signing::SigningKey {
            access_key_id: &creds.access_key_id,
            secret: &creds.secret,
            region: call.region,
            service: SERVICE,
        };
        headers.push(("Authorization".into(), signing::AWS4.authorization(&key, &date, &signed, &cr)));
        HttpRequest { method: method.as_str().into(), path: "/".into(), query, headers, body }
    }

    fn decode(&self, resp: &HttpResponse) -> Normalized {
        let text = String::from_utf8_lossy(&resp.body);
        if resp.header("content-type").is_some_and(|c| c.contains("xml")) {
            return Normalized {
                status: resp.status,
                code: xml_tag(&text, "Code"),
                message: xml_tag(&text, "Message"),
                request_id: xml_tag(&text, "RequestId"),
                body: json!({ "xml": text }),
            };
        }
        let mut v = json_body(resp);
        let request_id =
            v.as_object_mut().and_then(|m| m.remove("RequestId")).and_then(|x| x.as_str().map(str::to_string));
        let err = v.as_object_mut().and_then(|m| m.remove("Error")).unwrap_or(Value::Null);
        let s = |x: &Value| x.as_str().map(str::to_string);
        Normalized { status: resp.status, code: s(&err["Code"]), message: s(&err["Message"]), request_id, body: v }
    }

    fn accept(&self, req: &HttpRequest, keys: &dyn KeyStore, now: i64) -> Result<Inbound, Rejection> {
        let all = req.all_params();
        let get = |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let json = req.header("accept").is_some_and(|a| a.contains("json"));
        let mut reply = ReplyCtx {
            action: get("Action").or_else(|| req.header("x-action").map(str::to_string)).unwrap_or_default(),
            version: get("Version").or_else(|| req.header("x-version").map(str::to_string)).unwrap_or_default(),
            region: String::new(),
            service: String::new(),
            request_id: String::new(),
            xml: !json,
        };
        let Some(auth) = req.header("authorization") else {
            return Err(reject("MissingAuthenticationToken", vec![], &reply));
        };
        let fields = auth_fields(auth.trim_start_matches("AWS4-HMAC-SHA256").trim());
        let (Some(cred), Some(signed), Some(sig)) =
            (field(&fields, "Credential"), field(&fields, "SignedHeaders"), field(&fields, "Signature"))
        else {
            return Err(reject("IncompleteSignature", vec![], &reply));
        };
        let scope: Vec<&str> = cred.split('/').collect();
        let [ak, _date, region, service, "aws4_request"] = scope[..] else {
            return Err(reject("IncompleteSignature", vec![], &reply));
        };
        reply.region = region.to_string();
        let Some(amz_date) = req.header("x-amz-date") else {
            return Err(reject("IncompleteSignature", vec![], &reply));
        };
        match clock::parse_compact(amz_date) {
            Some(t) if (now - t).abs() <= TIME_WINDOW => {}
            _ => return Err(reject("RequestExpired", vec![], &reply)),
        }
        let Some(secret) = keys.secret("ksyun", ak) else {
            return Err(reject("InvalidClientTokenId", vec![], &reply));
        };
        let body_hash = signing::sha256_hex(&req.body);
        let payload = req.header("x-amz-content-sha256").unwrap_or(&body_hash).to_string();
        let signed: Vec<String> = signed.split(';').map(|s| s.trim().to_ascii_lowercase()).collect();
        let query = signing::canonical_query(&req.query);
        let canonical = |rules| {
            let headers = signing::canonical_headers_with(&req.headers, &signed, rules);
            signing::canonical_request(&req.method, &req.path, &query, &headers, &signed.join(";"), &payload)
        };
        let matches = |cr: &str| signing::same(&signing::AWS4.sign(&secret, amz_date, region, service, cr).1, sig);
        // AWS SigV4 "Trimall" (requests-aws4auth, the kingsoftcloud SDK); kscore
        // 1.3.65 only trims and sorts repeated values (§4.2 step 4).
        let aws = canonical(signing::HeaderRules::AWS4);
        let verified = matches(&aws) || {
            let kscore = canonical(signing::HeaderRules::KSCORE);
            kscore != aws && matches(&kscore)
        };
        // The scope must name the service (`kec`, §4.2 step 6); a signature
        // scoped to another service does not match this one's.
        if !verified || payload != body_hash || service != SERVICE {
            return Err(reject("SignatureDoesNotMatch", vec![], &reply));
        }
        let params = all.into_iter().filter(|(k, _)| !PROTOCOL_PARAMS.contains(&k.as_str())).collect();
        Ok(Inbound {
            action: reply.action.clone(),
            version: reply.version.clone(),
            params,
            access_key_id: ak.to_string(),
            reply,
        })
    }

    fn render_success(&self, ctx: &ReplyCtx, result: &Map<String, Value>) -> HttpResponse {
        if ctx.xml {
            let body = format!(
                "<{a}Response><ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata>{f}</{a}Response>",
                a = ctx.action,
                id = ctx.request_id,
                f = xml_fields(result)
            );
            return HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/xml".into())],
                body: body.into_bytes(),
            };
        }
        json_with_request_id(ctx, result)
    }

    fn render_error(&self, ctx: &ReplyCtx, err: &ErrorReply) -> HttpResponse {
        let kind = if err.status >= 500 { "Receiver" } else { "Sender" };
        if ctx.xml {
            let body = format!(
                "<ErrorResponse><RequestId>{}</RequestId><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error></ErrorResponse>",
                ctx.request_id,
                xml_escape(&err.code),
                xml_escape(&err.message)
            );
            return HttpResponse {
                status: err.status,
                headers: vec![("content-type".into(), "application/xml".into())],
                body: body.into_bytes(),
            };
        }
        HttpResponse::json(
            err.status,
            &json!({
                "RequestId": ctx.request_id,
                "Error": { "Type": kind, "Code": err.code, "Message": err.message },
            }),
        )
    }

    fn request_id(&self, seq: u64) -> String {
        let h = hex_id(seq);
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}
