//! Raw requests captured from the vendors' official SDKs
//! (`shared/reference/vendor-protocols.md` Appendix B, copied to
//! `tests/data/captures/`) must pass the emulator's signature verification
//! as they are, and fail it after any change.

use apiconform::protocol::{self, HttpRequest, KeyStore};
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
    let found: Vec<_> = protocol::all().into_iter().filter(|p| p.recognizes(req)).collect();
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
    let inbound = protocol::for_vendor("aliyun").unwrap().accept(&p, &keys(), capture_time()).unwrap();
    let pw = inbound.params.iter().find(|(k, _)| k == "Password").unwrap();
    assert_eq!(pw.1, "Test 123!@#");
    let v1 = load("V1");
    let inbound = protocol::for_vendor("volcengine").unwrap().accept(&v1, &keys(), capture_time()).unwrap();
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
    let p = protocol::for_vendor("aliyun").unwrap();
    let k = keys();
    p.accept(&req, &k, capture_time()).unwrap();
    assert_eq!(p.accept(&req, &k, capture_time()).unwrap_err().code, "SignatureNonceUsed");
    assert_eq!(p.accept(&req, &keys(), capture_time() + 3600).unwrap_err().code, "InvalidTimeStamp.Expired");
    let v = load("V1");
    let pv = protocol::for_vendor("volcengine").unwrap();
    assert_eq!(pv.accept(&v, &keys(), capture_time() + 3600).unwrap_err().code, "InvalidTimestamp");
    let k1 = load("K1");
    let pk = protocol::for_vendor("ksyun").unwrap();
    assert_eq!(pk.accept(&k1, &keys(), capture_time() + 3600).unwrap_err().code, "RequestExpired");
}
