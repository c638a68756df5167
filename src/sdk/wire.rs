//! What an SDK put on the wire, as facts that can be compared.
//!
//! A [`WireView`] is one recorded request ([`WireRecord`]) read the way the
//! upgrade diff needs it: the signature scheme, the method, where the
//! parameters and the Action travel, the signed headers, every parameter's
//! name with its value as encoded, and the headers. Volatile values are
//! redacted where each vendor's own redaction (`Vendor::redaction`, through
//! [`crate::normalize`]) says, but their **shape** is kept:
//! `[nonce:hex32]` differs from `[nonce:uuid]`, so a format change shows up
//! instead of hiding. What no vendor names is HTTP's own (host, length,
//! user agent, body hashes) or shaped like a request-scoped identifier (a
//! UUID, a long hex string). Fixture IDs and credentials go through the
//! trial's [`Redactor`], like every other transcript.

use crate::emulator::wiretap::WireRecord;
use crate::normalize::Redactor;

/// A parameter some vendor's signing scheme adds (each protocol lists its
/// own); everything else is the call's own.
fn is_protocol_param(name: &str) -> bool {
    crate::vendor::protocols().any(|p| p.protocol_params().contains(&name))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    /// The value as sent (percent-encoded as the SDK encoded it), redacted.
    pub encoded: String,
    /// The decoded value, redacted: what the server reads.
    pub value: String,
    /// Where it travelled: `query`, `form` or `json`.
    pub location: &'static str,
    /// A signing scheme's parameter, not the call's.
    pub protocol: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireView {
    pub scheme: String,
    pub method: String,
    pub path: String,
    pub params_in: String,
    pub content_type: String,
    pub action_in: String,
    pub version_in: String,
    pub signed_headers: Vec<String>,
    /// Sorted by name, then location.
    pub params: Vec<Param>,
    /// Lowercase names, sorted, values redacted (volatile ones by shape).
    pub headers: Vec<(String, String)>,
    /// Header names in the order they were sent (noise in a diff).
    pub header_order: Vec<String>,
    /// Parameter names in the order they were sent (noise in a diff).
    pub param_order: Vec<String>,
    /// The User-Agent as sent (noise in a diff; `[user-agent]` in snapshots).
    pub user_agent: String,
    /// The status the emulator answered with.
    pub status: u16,
}

impl WireView {
    pub fn read(r: &WireRecord, case_params: &[(String, String)], redactor: &mut Redactor) -> WireView {
        let mut params = Vec::new();
        collect(&r.raw_query, "query", case_params, redactor, &mut params);
        let ct = header(r, "content-type").unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("application/x-www-form-urlencoded") {
            collect(&r.body, "form", case_params, redactor, &mut params);
        } else if ct.starts_with("application/json") && !r.body.is_empty() {
            collect_json(&r.body, case_params, redactor, &mut params);
        }
        let param_order: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
        params.sort_by(|a, b| (&a.name, a.location).cmp(&(&b.name, b.location)));
        let own: Vec<&str> = params.iter().filter(|p| !p.protocol).map(|p| p.location).collect();
        let mut params_in: Vec<&str> = own.clone();
        params_in.dedup();
        params_in.sort();
        params_in.dedup();
        let auth = header(r, "authorization").unwrap_or("");
        let mut headers: Vec<(String, String)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), header_value(&k.to_ascii_lowercase(), v, redactor)))
            .collect();
        headers.sort();
        WireView {
            scheme: scheme(auth, &params),
            method: r.method.clone(),
            path: redactor.text(&r.path),
            params_in: if params_in.is_empty() { "none".into() } else { params_in.join("+") },
            content_type: if ct.is_empty() { "-".into() } else { ct },
            action_in: travels(r, &params, "Action"),
            version_in: travels(r, &params, "Version"),
            signed_headers: signed_headers(auth, &params),
            params,
            headers,
            header_order: r.headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect(),
            param_order,
            user_agent: header(r, "user-agent").unwrap_or("").to_string(),
            status: r.status,
        }
    }

    /// The snapshot text of this request.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "  facts: signature={} method={} params_in={} content_type={} action_in={} version_in={}",
            self.scheme, self.method, self.params_in, self.content_type, self.action_in, self.version_in
        );
        let _ = writeln!(out, "  signed_headers: {}", self.signed_headers.join(";"));
        let _ = writeln!(out, "  path: {}", self.path);
        for p in &self.params {
            let _ = writeln!(out, "  {} {} = {}", p.location, p.name, p.encoded);
        }
        for (k, v) in &self.headers {
            let _ = writeln!(out, "  header {k}: {v}");
        }
        let _ = writeln!(out, "  answered: HTTP {}", self.status);
    }
}

fn header<'a>(r: &'a WireRecord, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn collect(
    raw: &str,
    location: &'static str,
    case_params: &[(String, String)],
    redactor: &mut Redactor,
    out: &mut Vec<Param>,
) {
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(k);
        let value = decode(v);
        let volatile = volatile_param(&name, &value, case_params);
        let (encoded, value) = match volatile {
            Some(token) => (token.clone(), token),
            None => (redactor.text(v), redactor.text(&value)),
        };
        let protocol = is_protocol_param(&name);
        out.push(Param { name, encoded, value, location, protocol });
    }
}

fn collect_json(body: &str, case_params: &[(String, String)], redactor: &mut Redactor, out: &mut Vec<Param>) {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(body) else { return };
    for (k, v) in m {
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let value = volatile_param(&k, &text, case_params).unwrap_or_else(|| redactor.text(&text));
        out.push(Param { name: k, encoded: redactor.text(&v.to_string()), value, location: "json", protocol: false });
    }
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// A redaction token whose value is a secret: no shape is kept.
fn secret(token: &str) -> bool {
    ["signature", "access-key", "security-token", "session-token", "password", "secret"]
        .iter()
        .any(|s| token.contains(s))
}

/// The vendor's token for a volatile value, with the value's shape unless
/// it is a secret (`[timestamp:iso8601]`, `[signature]`).
fn shaped(token: &str, value: &str) -> String {
    if secret(token) {
        return token.to_string();
    }
    format!("[{}:{}]", token.trim_matches(['[', ']']), shape(value))
}

/// A value that changes on every request, as the token of its shape: a
/// parameter the vendor redacts, or one the SDK added itself whose value is
/// a request-scoped identifier (a `ClientToken` it generates). A value the
/// case gave, under any name, is the case's.
fn volatile_param(name: &str, value: &str, case_params: &[(String, String)]) -> Option<String> {
    if let Some(token) = crate::normalize::param_token(name) {
        return Some(shaped(token, value));
    }
    let ours = case_params.iter().any(|(k, v)| k == name || v == value);
    (!ours && !is_protocol_param(name) && looks_random(value)).then(|| format!("[id:{}]", shape(value)))
}

fn header_value(name: &str, v: &str, redactor: &mut Redactor) -> String {
    match name {
        "authorization" => return authorization(v),
        "host" => return "[host]".into(),
        "content-length" => return "[length]".into(),
        "user-agent" => return "[user-agent]".into(),
        n if n.ends_with("content-sha256") => {
            const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
            return if v == EMPTY { v.to_string() } else { "[sha256]".into() };
        }
        _ => {}
    }
    if let Some(token) = crate::normalize::header_token(name) {
        return shaped(token, v);
    }
    if looks_random(v) {
        return format!("[id:{}]", shape(v));
    }
    redactor.text(v)
}

/// Whether a recorded request carries `value` anywhere (a session token).
pub fn carries(r: &WireRecord, value: &str) -> bool {
    let forms = [value.to_string(), crate::signing::pct(value)];
    forms.iter().any(|f| r.raw_query.contains(f.as_str()) || r.body.contains(f.as_str()))
        || r.headers.iter().any(|(_, v)| v.contains(value))
}

/// A request-scoped identifier (a UUID, a long hex string).
fn looks_random(v: &str) -> bool {
    let s = shape(v);
    s == "uuid" || (s.starts_with("hex") && v.len() >= 16)
}

/// The shape of a volatile value: `hex32`, `uuid`, `digits13`, `iso8601`...
pub fn shape(v: &str) -> String {
    let b = v.as_bytes();
    let is_uuid = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if is_uuid {
        return "uuid".into();
    }
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return format!("digits{}", b.len());
    }
    if !b.is_empty() && b.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)) {
        return format!("hex{}", b.len());
    }
    if !b.is_empty() && b.iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c)) {
        return format!("HEX{}", b.len());
    }
    let digits_at = |idx: &[usize]| idx.iter().all(|i| b.get(*i).is_some_and(u8::is_ascii_digit));
    if b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z' && digits_at(&[0, 5, 8, 11, 14, 17]) {
        return "iso8601".into();
    }
    if b.len() == 16 && b[8] == b'T' && b[15] == b'Z' && digits_at(&[0, 7, 9, 14]) {
        return "compact".into();
    }
    if v.ends_with(" GMT") {
        return "http-date".into();
    }
    format!("text{}", b.len())
}

/// `ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=x` with the
/// key, scope date and signature redacted and the structure kept.
fn authorization(v: &str) -> String {
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    let parts: Vec<String> = rest
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some(("Credential", c)) => {
                let mut scope: Vec<&str> = c.split('/').collect();
                scope[0] = "[access-key]";
                if scope.len() > 1 {
                    scope[1] = "[date]";
                }
                format!("Credential={}", scope.join("/"))
            }
            Some(("Signature", _)) => "Signature=[signature]".into(),
            _ => p.to_string(),
        })
        .collect();
    format!("{scheme} {}", parts.join(","))
}

fn scheme(auth: &str, params: &[Param]) -> String {
    if let Some(s) = auth.split(' ').next().filter(|s| !s.is_empty()) {
        return match s {
            s if s.starts_with("ACS3-") => "acs3".into(),
            "HMAC-SHA256" => "volc-v4".into(),
            "AWS4-HMAC-SHA256" => "aws-v4".into(),
            other => other.to_ascii_lowercase(),
        };
    }
    if params.iter().any(|p| p.name == "Signature") {
        return "rpc-v1".into();
    }
    "unsigned".into()
}

fn signed_headers(auth: &str, params: &[Param]) -> Vec<String> {
    if let Some(i) = auth.find("SignedHeaders=") {
        let rest = &auth[i + "SignedHeaders=".len()..];
        let end = rest.find([',', ' ']).unwrap_or(rest.len());
        let mut v: Vec<String> = rest[..end].split(';').map(str::to_string).collect();
        v.sort();
        return v;
    }
    // RPC V1 signs every parameter and no header.
    if params.iter().any(|p| p.name == "Signature") {
        return vec!["(parameters only)".into()];
    }
    Vec::new()
}

/// Where `name` (Action, Version) travels: parameter locations, and
/// `header` when a header named for it (`x-acs-action`, `x-action`) carries
/// it (the same value as the parameter, when there is one: `x-sdk-core-version`
/// is not the API's version).
fn travels(r: &WireRecord, params: &[Param], name: &str) -> String {
    let mut at: Vec<&str> = params.iter().filter(|p| p.name == name).map(|p| p.location).collect();
    let value = params.iter().find(|p| p.name == name).map(|p| p.value.as_str());
    let suffix = name.to_ascii_lowercase();
    if r.headers.iter().any(|(k, v)| {
        let k = k.to_ascii_lowercase();
        (k == suffix || k.ends_with(&format!("-{suffix}"))) && value.is_none_or(|p| p == v)
    }) {
        at.push("header");
    }
    if at.is_empty() {
        "-".into()
    } else {
        at.join("+")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_tell_formats_apart() {
        assert_eq!(shape("0123456789abcdef0123456789abcdef"), "hex32");
        assert_eq!(shape("5a0c4b6e-1d2f-4c3b-9a8e-7f6d5c4b3a21"), "uuid");
        assert_eq!(shape("2024-01-02T03:04:05Z"), "iso8601");
        assert_eq!(shape("20240102T030405Z"), "compact");
        assert_eq!(shape("1700000000123"), "digits13");
        assert_ne!(shape("abc-def"), shape("0123"));
    }

    #[test]
    fn authorization_keeps_structure_and_hides_secrets() {
        let a = authorization("ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host;x-acs-date,Signature=abcdef");
        assert_eq!(a, "ACS3-HMAC-SHA256 Credential=[access-key],SignedHeaders=host;x-acs-date,Signature=[signature]");
        let v = authorization(
            "HMAC-SHA256 Credential=AK/20240101/cn-beijing/ecs/request, SignedHeaders=host, Signature=ff",
        );
        assert_eq!(
            v,
            "HMAC-SHA256 Credential=[access-key]/[date]/cn-beijing/ecs/request,SignedHeaders=host,Signature=[signature]"
        );
    }

    #[test]
    fn facts_are_read_from_a_v1_form_request() {
        let r = WireRecord {
            method: "POST".into(),
            path: "/".into(),
            raw_query: String::new(),
            headers: vec![
                ("content-type".into(), "application/x-www-form-urlencoded".into()),
                ("x-acs-action".into(), "ResetDisk".into()),
            ],
            body: "Action=ResetDisk&DiskId=d-1&Signature=zz&SignatureNonce=0123456789abcdef&Timestamp=2024-01-02T03%3A04%3A05Z&Note=a+b".into(),
            status: 200,
        };
        let mut red = Redactor::new(&Default::default());
        let w = WireView::read(&r, &[("DiskId".into(), "d-1".into())], &mut red);
        assert_eq!((w.scheme.as_str(), w.params_in.as_str(), w.action_in.as_str()), ("rpc-v1", "form", "form+header"));
        let by = |n: &str| w.params.iter().find(|p| p.name == n).unwrap().clone();
        assert_eq!(by("SignatureNonce").encoded, "[nonce:hex16]");
        assert_eq!(by("Timestamp").encoded, "[timestamp:iso8601]");
        assert_eq!(by("Signature").encoded, "[signature]");
        assert_eq!((by("Note").encoded.as_str(), by("Note").value.as_str()), ("a+b", "a b"));
    }
}
