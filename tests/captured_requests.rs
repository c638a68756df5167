//! Raw requests captured from the vendors' official SDKs
//! (`shared/reference/vendor-protocols.md` Appendix B, copied to
//! `tests/data/captures/`) must pass the emulator's signature verification
//! as they are, and fail it after any change.

use apiconform::protocol::{self, HttpRequest, KeyStore};
use apiconform::signing::{self, V4Scheme};
use std::cell::RefCell;
use std::collections::HashSet;

struct Keys(RefCell<HashSet<String>>);

impl KeyStore for Keys {
    fn secret(&self, vendor: &str, ak: &str) -> Option<String> {
        match (vendor, ak) {
            ("aliyun", "testid") => Some("testsecret".into()),
            ("volcengine", "AKLTtestak") => Some("testsk".into()),
            ("ksyun", "AKLTtestak") => Some("testsecretkey".into()),
            _ => None,
        }
    }
    fn fresh_nonce(&self, _v: &str, _ak: &str, nonce: &str, _now: i64) -> bool {
        self.0.borrow_mut().insert(nonce.to_string())
    }
}

fn keys() -> Keys {
    Keys(RefCell::new(HashSet::new()))
}

/// The captures were taken between 21:36 and 21:43 UTC that day.
fn capture_time() -> i64 {
    apiconform::clock::parse_iso8601("2026-11-24T21:40:00Z").unwrap()
}

fn load(name: &str) -> HttpRequest {
    let path = format!("{}/tests/data/captures/{name}.http", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text.lines().filter(|l| !l.starts_with("# ")).collect::<Vec<_>>().join("\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let start: Vec<&str> = lines.next().unwrap().split(' ').collect();
    let (path, query) = start[1].split_once('?').unwrap_or((start[1], ""));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let body = body.trim_end_matches('\n').as_bytes().to_vec();
    if let Some((_, n)) = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        assert_eq!(n.parse::<usize>().unwrap(), body.len(), "{name}: body length");
    }
    HttpRequest {
        method: start[0].to_string(),
        path: path.to_string(),
        query: HttpRequest::parse_query(query),
        headers,
        body,
    }
}

const CAPTURES: &[(&str, &str, &str)] = &[
    ("A1", "aliyun", "ReplaceSystemDisk"),
    ("A2", "aliyun", "ResetDisk"),
    ("A3", "aliyun", "ReplaceSystemDisk"),
    ("A4", "aliyun", "ReplaceSystemDisk"),
    ("A5", "aliyun", "ReplaceSystemDisk"),
    ("A6", "aliyun", "ReplaceSystemDisk"),
    ("A7", "aliyun", "ReplaceSystemDisk"),
    ("V1", "volcengine", "ReplaceSystemVolume"),
    ("V2", "volcengine", "ReplaceSystemVolume"),
    ("K1", "ksyun", "ModifyInstanceImage"),
    ("K2", "ksyun", "ModifyInstanceImage"),
    ("K3", "ksyun", "ModifyInstanceImage"),
    ("K4", "ksyun", "ModifyInstanceImage"),
];

fn detect(req: &HttpRequest) -> &'static dyn protocol::Protocol {
    let found: Vec<_> = apiconform::vendor::protocols().filter(|p| p.recognizes(req)).collect();
    assert_eq!(found.len(), 1, "exactly one vendor must claim the request");
    found[0]
}

#[test]
fn every_official_sdk_capture_verifies() {
    for (name, vendor, action) in CAPTURES {
        let req = load(name);
        let p = detect(&req);
        assert_eq!(p.vendor(), *vendor, "{name}");
        let inbound = p
            .accept(&req, &keys(), capture_time())
            .unwrap_or_else(|r| panic!("{name}: rejected with {} {:?}", r.code, r.args));
        assert_eq!(inbound.action, *action, "{name}");
        assert!(inbound.params.iter().any(|(k, _)| k == "InstanceId" || k == "DiskId"), "{name}: {:?}", inbound.params);
        assert!(
            !inbound.params.iter().any(|(k, _)| k == "Signature" || k == "Action" || k == "Accesskey"),
            "{name}: protocol params leaked"
        );
    }
}

#[test]
fn decoded_values_keep_spaces_and_specials() {
    let p = load("A5");
    let inbound = apiconform::vendor::protocol_of("aliyun").unwrap().accept(&p, &keys(), capture_time()).unwrap();
    let pw = inbound.params.iter().find(|(k, _)| k == "Password").unwrap();
    assert_eq!(pw.1, "Test 123!@#");
    let v1 = load("V1");
    let inbound = apiconform::vendor::protocol_of("volcengine").unwrap().accept(&v1, &keys(), capture_time()).unwrap();
    assert!(inbound.params.contains(&("Password".into(), "Test 123!@#".into())));
}

#[test]
fn any_tampering_breaks_the_signature() {
    for (name, _, _) in CAPTURES {
        let mut req = load(name);
        if let Some(q) = req.query.iter_mut().find(|(k, _)| k == "InstanceId" || k == "DiskId") {
            q.1.push('x');
        } else {
            let body = String::from_utf8(req.body.clone()).unwrap().replacen("InstanceId=", "InstanceId=x", 1);
            req.body = body.into_bytes();
        }
        let p = detect(&req);
        let r = p.accept(&req, &keys(), capture_time()).expect_err(name);
        assert_eq!(r.code, "SignatureDoesNotMatch", "{name}");
    }
}

#[test]
fn replayed_nonce_and_stale_time_are_refused() {
    let req = load("A1");
    let p = apiconform::vendor::protocol_of("aliyun").unwrap();
    let k = keys();
    p.accept(&req, &k, capture_time()).unwrap();
    assert_eq!(p.accept(&req, &k, capture_time()).unwrap_err().code, "SignatureNonceUsed");
    assert_eq!(p.accept(&req, &keys(), capture_time() + 3600).unwrap_err().code, "InvalidTimeStamp.Expired");
    let v = load("V1");
    let pv = apiconform::vendor::protocol_of("volcengine").unwrap();
    assert_eq!(pv.accept(&v, &keys(), capture_time() + 3600).unwrap_err().code, "InvalidTimestamp");
    let k1 = load("K1");
    let pk = apiconform::vendor::protocol_of("ksyun").unwrap();
    assert_eq!(pk.accept(&k1, &keys(), capture_time() + 3600).unwrap_err().code, "RequestExpired");
}

// --- Re-signing helpers: a capture changed on purpose, then signed again the
// way a client would, so only the property under test differs.

const ALIYUN_SECRET: &str = "testsecret";

fn without(req: &mut HttpRequest, name: &str) {
    req.query.retain(|(k, _)| k != name);
}

fn set_param(req: &mut HttpRequest, name: &str, value: &str) {
    without(req, name);
    req.query.push((name.into(), value.into()));
}

/// RPC V1: signs the query again (A4 and A5 carry every parameter there).
fn resign_v1(req: &mut HttpRequest) {
    without(req, "Signature");
    let sts = signing::rpc_v1_string_to_sign(&req.method, &req.query);
    req.query.push(("Signature".into(), signing::rpc_v1_signature(ALIYUN_SECRET, &sts)));
}

fn set_header(req: &mut HttpRequest, name: &str, value: String) {
    req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    req.headers.push((name.into(), value));
}

/// The capture's own signed headers plus `extra` (a header added to the
/// request), with `extra_line` as its canonical line: the canonical headers a
/// client following the vendor's rules would write.
fn canonical_with(req: &HttpRequest, extra: &str, extra_line: &str) -> (Vec<String>, String) {
    let auth = req.header("authorization").unwrap();
    let listed = auth.split("SignedHeaders=").nth(1).unwrap().split([',', ' ']).next().unwrap();
    let mut signed: Vec<String> = listed.split(';').filter(|h| *h != extra).map(str::to_string).collect();
    let base = signing::canonical_headers(&req.headers, &signed);
    let mut lines: Vec<&str> = base.lines().collect();
    lines.push(extra_line);
    lines.sort();
    signed.push(extra.into());
    signed.sort();
    (signed, lines.iter().map(|l| format!("{l}\n")).collect())
}

/// ACS3-HMAC-SHA256 over the given canonical query and headers.
fn resign_acs3(req: &mut HttpRequest, signed: &[String], headers: &str, query: &str) {
    let payload = req.header("x-acs-content-sha256").unwrap().to_string();
    let cr = signing::canonical_request(&req.method, &req.path, query, headers, &signed.join(";"), &payload);
    let (_, sig) = signing::acs3_signature(ALIYUN_SECRET, &cr);
    let auth = format!("ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={},Signature={sig}", signed.join(";"));
    set_header(req, "Authorization", auth);
}

/// Volcengine / AWS SigV4 over the given canonical headers, scoped to `service`.
fn resign_v4(req: &mut HttpRequest, scheme: V4Scheme, secret: &str, service: &str, signed: &[String], headers: &str) {
    let auth = req.header("authorization").unwrap().to_string();
    let cred = auth.split("Credential=").nth(1).unwrap().split(',').next().unwrap();
    let scope: Vec<&str> = cred.split('/').collect();
    let (ak, region) = (scope[0].to_string(), scope[2].to_string());
    let date = req.header("x-date").or_else(|| req.header("x-amz-date")).unwrap().to_string();
    let payload =
        req.header("x-amz-content-sha256").map(str::to_string).unwrap_or_else(|| signing::sha256_hex(&req.body));
    let query = signing::canonical_query(&req.query);
    let cr = signing::canonical_request(&req.method, &req.path, &query, headers, &signed.join(";"), &payload);
    let key = signing::SigningKey { access_key_id: &ak, secret, region: &region, service };
    set_header(req, "Authorization", scheme.authorization(&key, &date, signed, &cr));
}

fn accept(req: &HttpRequest) -> Result<protocol::Inbound, protocol::Rejection> {
    detect(req).accept(req, &keys(), capture_time())
}

#[test]
fn v1_requires_a_signature_nonce_and_its_only_method_and_version() {
    let mut req = load("A4");
    without(&mut req, "SignatureNonce");
    resign_v1(&mut req);
    let r = accept(&req).unwrap_err();
    assert_eq!((r.code, r.args), ("MissingParameter", vec!["SignatureNonce".to_string()]));

    for (name, value) in [("SignatureMethod", "HMAC-SHA256"), ("SignatureVersion", "2.0")] {
        let mut req = load("A4");
        set_param(&mut req, name, value);
        resign_v1(&mut req);
        let r = accept(&req).unwrap_err();
        assert_eq!((r.code, r.args), ("InvalidParameter", vec![name.to_string()]), "{name}={value}");
        let mut req = load("A4");
        without(&mut req, name);
        resign_v1(&mut req);
        let r = accept(&req).unwrap_err();
        assert_eq!((r.code, r.args), ("MissingParameter", vec![name.to_string()]), "{name} missing");
    }
}

#[test]
fn v1_takes_action_and_version_from_signed_parameters_only() {
    for name in ["Action", "Version"] {
        let mut req = load("A5");
        without(&mut req, name);
        resign_v1(&mut req);
        let r = accept(&req).unwrap_err();
        assert_eq!((r.code, r.args), ("MissingParameter", vec![name.to_string()]), "{name}");
        // The unsigned x-acs-* headers still name the call in the reply.
        assert_eq!((r.reply.action.as_str(), r.reply.version.as_str()), ("ReplaceSystemDisk", "2014-05-26"));
    }
    // An unsigned header cannot change the action of a signed request.
    let mut req = load("A5");
    set_header(&mut req, "x-acs-action", "ResetDisk".into());
    assert_eq!(accept(&req).unwrap().action, "ReplaceSystemDisk");
}

#[test]
fn acs3_repeated_header_values_are_sorted_before_joining() {
    let mut req = load("A1");
    req.headers.push(("x-acs-zz-test".into(), "https".into()));
    req.headers.push(("x-acs-zz-test".into(), "http".into()));
    let (signed, sorted) = canonical_with(&req, "x-acs-zz-test", "x-acs-zz-test:http,https");
    let query = signing::canonical_query(&req.query);
    resign_acs3(&mut req, &signed, &sorted, &query);
    accept(&req).unwrap();
    let (signed, arrival) = canonical_with(&req, "x-acs-zz-test", "x-acs-zz-test:https,http");
    resign_acs3(&mut req, &signed, &arrival, &query);
    assert_eq!(accept(&req).unwrap_err().code, "SignatureDoesNotMatch");
}

#[test]
fn v4_repeated_header_values_keep_arrival_order_and_volcengine_collapses_whitespace() {
    let mut req = load("V1");
    req.headers.push(("X-Zz-Test".into(), "b   c".into()));
    req.headers.push(("X-Zz-Test".into(), "a".into()));
    let (signed, trimall) = canonical_with(&req, "x-zz-test", "x-zz-test:b c,a");
    resign_v4(&mut req, signing::VOLCENGINE, "testsk", "ecs", &signed, &trimall);
    accept(&req).unwrap();
    for wrong in ["x-zz-test:b   c,a", "x-zz-test:a,b c"] {
        let (signed, h) = canonical_with(&req, "x-zz-test", wrong);
        resign_v4(&mut req, signing::VOLCENGINE, "testsk", "ecs", &signed, &h);
        assert_eq!(accept(&req).unwrap_err().code, "SignatureDoesNotMatch", "{wrong}");
    }
}

#[test]
fn ksyun_accepts_aws_trimall_and_kscore_header_forms() {
    let mut req = load("K1");
    req.headers.push(("X-Zz-Test".into(), "b   c".into()));
    req.headers.push(("X-Zz-Test".into(), "a".into()));
    // AWS SigV4 (requests-aws4auth): Trimall, arrival order. kscore 1.3.65:
    // trimmed only, repeated values sorted.
    for line in ["x-zz-test:b c,a", "x-zz-test:a,b   c"] {
        let (signed, h) = canonical_with(&req, "x-zz-test", line);
        resign_v4(&mut req, signing::AWS4, "testsecretkey", "kec", &signed, &h);
        accept(&req).unwrap_or_else(|r| panic!("{line}: {}", r.code));
    }
    let (signed, h) = canonical_with(&req, "x-zz-test", "x-zz-test:a,b c");
    resign_v4(&mut req, signing::AWS4, "testsecretkey", "kec", &signed, &h);
    assert_eq!(accept(&req).unwrap_err().code, "SignatureDoesNotMatch");
}

#[test]
fn ksyun_scope_must_name_kec() {
    let mut req = load("K1");
    let (signed, h) = canonical_with(&req, "x-zz-test", "x-zz-test:1");
    req.headers.push(("X-Zz-Test".into(), "1".into()));
    resign_v4(&mut req, signing::AWS4, "testsecretkey", "kec", &signed, &h);
    accept(&req).unwrap();
    resign_v4(&mut req, signing::AWS4, "testsecretkey", "ec2", &signed, &h);
    let r = accept(&req).unwrap_err();
    assert_eq!((r.code, r.args), ("SignatureDoesNotMatch", vec![]));
}

#[test]
fn acs3_incomplete_signature_carries_no_free_text() {
    let mut req = load("A1");
    let auth = req.header("authorization").unwrap().replace("host;", "");
    set_header(&mut req, "Authorization", auth);
    let r = accept(&req).unwrap_err();
    assert_eq!((r.code, r.args), ("IncompleteSignature", vec![String::new()]));
}

#[test]
fn other_acs3_algorithms_are_refused_not_read_as_v1() {
    for algorithm in ["ACS3-HMAC-SM3", "ACS3-RSA-SHA256"] {
        let mut req = load("A1");
        let auth = req.header("authorization").unwrap().replace("ACS3-HMAC-SHA256", algorithm);
        set_header(&mut req, "Authorization", auth);
        assert_eq!(detect(&req).vendor(), "aliyun");
        let r = accept(&req).unwrap_err();
        assert_eq!((r.code, r.args), ("IncompleteSignature", vec![String::new()]), "{algorithm}");
        // Answered as ACS3 (JSON), not as a V1 request without Format (XML).
        assert_eq!((r.reply.action.as_str(), r.reply.xml), ("ReplaceSystemDisk", false));
    }
}

#[test]
fn acs3_empty_query_values_may_be_signed_as_bare_keys() {
    let signed_of = |req: &HttpRequest| -> Vec<String> {
        let auth = req.header("authorization").unwrap();
        let listed = auth.split("SignedHeaders=").nth(1).unwrap().split(',').next().unwrap();
        listed.split(';').map(str::to_string).collect()
    };
    let mut req = load("A2");
    req.query.push(("OwnerAccount".into(), String::new()));
    let signed = signed_of(&req);
    let current = signing::canonical_query(&req.query);
    assert!(current.contains("OwnerAccount=&"));
    let old = current.replace("OwnerAccount=&", "OwnerAccount&");
    let k = keys();
    for (query, nonce) in [(current, "n-current"), (old, "n-old")] {
        set_header(&mut req, "x-acs-signature-nonce", nonce.into());
        let headers = signing::canonical_headers(&req.headers, &signed);
        resign_acs3(&mut req, &signed, &headers, &query);
        let inbound = detect(&req).accept(&req, &k, capture_time()).unwrap_or_else(|r| panic!("{query}: {}", r.code));
        assert!(inbound.params.contains(&("OwnerAccount".into(), String::new())));
    }
    // Without an empty value there is no second form.
    let mut req = load("A2");
    let signed = signed_of(&req);
    let headers = signing::canonical_headers(&req.headers, &signed);
    let query = signing::canonical_query(&req.query).replace("DryRun=False", "DryRun");
    resign_acs3(&mut req, &signed, &headers, &query);
    assert_eq!(accept(&req).unwrap_err().code, "SignatureDoesNotMatch");
}
