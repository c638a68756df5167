//! The one place that turns an exchange into stable snapshot text.
//!
//! Volatile values are replaced by tokens so that snapshots only change when
//! behaviour does: fixture IDs by their symbolic name (`${instance.id}`),
//! generated IDs by numbered tokens that keep the ID's kind (`[d-1]`,
//! `[uuid-2]`, so that "the same disk ID
//! appears twice" survives), and timestamps, nonces, request IDs, hosts with
//! ephemeral ports by fixed tokens. Secrets (access keys, signatures,
//! security tokens, passwords) never reach the text, in raw or encoded form.
//! Which parameters, headers and ID shapes are volatile is each vendor's
//! (`Vendor::redaction`, `src/vendor/<name>/mod.rs`).

use crate::protocol::{HttpRequest, Normalized};
use crate::signing::pct;
use crate::template::Bindings;
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::OnceLock;

/// Headers every vendor's requests carry, and their tokens; the vendors'
/// own parameters and headers are in `Vendor::redaction`.
const HEADER_TOKENS: &[(&str, &str)] = &[("authorization", "[authorization]"), ("host", "[host]")];

/// The token for a parameter some vendor carries volatile values in.
pub(crate) fn param_token(name: &str) -> Option<&'static str> {
    let mut all = crate::vendor::ALL.iter().flat_map(|v| v.redaction.params);
    all.find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The token for a header some vendor carries volatile values in.
pub(crate) fn header_token(name: &str) -> Option<&'static str> {
    let mut all = HEADER_TOKENS.iter().chain(crate::vendor::ALL.iter().flat_map(|v| v.redaction.headers));
    all.find(|(n, _)| *n == name).map(|(_, t)| *t)
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn id_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let ids: Vec<&str> = crate::vendor::ALL.iter().map(|v| v.redaction.ids).collect();
        Regex::new(&format!(r"\b({})\b", ids.join("|"))).expect("valid regex")
    })
}

/// `%2B` → `%2b`: the percent escapes some encoders write.
fn lowercase_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex_left = 0;
    for c in s.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The first resource ID (`i-…`, `d-…`, `m-…`, a UUID…) in a text, if any:
/// the shapes the normalizer numbers, and that a case must never hard-code.
pub fn find_id(text: &str) -> Option<&str> {
    id_pattern().find(text).map(|m| m.as_str())
}

/// Redacts one trial's exchanges; tokens are numbered across the trial.
pub struct Redactor {
    /// Exact values to replace, longest first.
    values: Vec<(String, String)>,
    ids: HashMap<String, String>,
}

impl Redactor {
    pub fn new(bindings: &Bindings) -> Redactor {
        let mut r = Redactor { values: Vec::new(), ids: HashMap::new() };
        for (v, name) in bindings.symbols() {
            r.add(&v, &name);
        }
        r
    }

    /// Adds a value to replace everywhere, in every encoding it may travel
    /// in: raw, percent-encoded once and twice (a V1 string to sign),
    /// form-encoded, with lowercase hex, JSON-escaped and base64.
    pub fn add(&mut self, value: &str, token: &str) {
        if value.len() < 3 || self.values.iter().any(|(v, _)| v == value) {
            return;
        }
        use base64::Engine;
        let once = pct(value);
        let twice = pct(&once);
        let form: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let lower = lowercase_escapes(&once);
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        for v in [twice, once, form, lower, json, b64, value.to_string()] {
            if v.len() >= 3 && !self.values.iter().any(|(x, _)| *x == v) {
                self.values.push((v, token.to_string()));
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.0.len()));
    }

    /// Registers the credentials a trial signs with, so that no part of them
    /// survives in anything the trial reports, even where the vendor echoes
    /// them (a string to sign, an error message).
    pub fn add_credentials(&mut self, c: &crate::protocol::Credentials) {
        self.add(&c.secret, "[secret]");
        self.add(&c.access_key_id, "[access-key]");
        if let Some(t) = &c.session_token {
            self.add(t, "[security-token]");
        }
    }

    /// Registers the volatile values a request carries (before rendering it
    /// or anything that may echo it, like a string-to-sign).
    pub fn learn_request(&mut self, req: &HttpRequest) {
        for (k, v) in req.all_params() {
            if let Some(t) = param_token(&k) {
                self.add(&v, t);
            }
        }
        for (k, v) in &req.headers {
            let k = k.to_ascii_lowercase();
            if k == "authorization" {
                for part in v.split([',', ' ']) {
                    if let Some(c) = part.strip_prefix("Credential=") {
                        self.add(c.split('/').next().unwrap_or(c), "[access-key]");
                        if let Some((_, scope)) = c.split_once('/') {
                            if let Some(date) = scope.split('/').next() {
                                self.add(date, "[date]");
                            }
                        }
                    }
                    if let Some(s) = part.strip_prefix("Signature=") {
                        self.add(s, "[signature]");
                    }
                }
            } else if let Some(t) = header_token(&k) {
                self.add(v, t);
            }
        }
    }

    /// Replaces every known volatile value, then numbers remaining IDs.
    pub fn text(&mut self, s: &str) -> String {
        let mut out = s.to_string();
        for (v, t) in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), t);
            }
        }
        let re = id_pattern();
        let mut result = String::new();
        let mut last = 0;
        for m in re.find_iter(&out) {
            result.push_str(&out[last..m.start()]);
            let n = self.ids.len() + 1;
            let kind = match m.as_str().split_once('-') {
                Some((p, _)) if m.as_str().len() != 36 => p,
                _ => "uuid",
            };
            let tok = self.ids.entry(m.as_str().to_string()).or_insert_with(|| format!("[{kind}-{n}]"));
            result.push_str(tok);
            last = m.end();
        }
        result.push_str(&out[last..]);
        result
    }

    fn json(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), self.json(x))).collect()),
            other => other.clone(),
        }
    }

    /// A redacted JSON value (for recordings).
    pub fn value(&mut self, v: &Value) -> Value {
        self.json(v)
    }

    /// The request as snapshot text: method, sorted parameters, headers.
    pub fn request(&mut self, req: &HttpRequest) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "  {} {}", req.method, req.path);
        let mut params: Vec<(String, String, &str)> =
            req.query.iter().map(|(k, v)| (k.clone(), v.clone(), "query")).collect();
        params.extend(req.form().into_iter().map(|(k, v)| (k, v, "form")));
        params.sort();
        for (k, v, place) in params {
            let v = param_token(&k).map(str::to_string).unwrap_or_else(|| self.text(&v));
            let _ = writeln!(s, "  {place} {k}: {v}");
        }
        let mut headers: Vec<(String, String)> =
            req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
        headers.sort();
        for (k, v) in headers {
            let v = if k == "authorization" {
                authorization_shape(&v)
            } else if let Some(t) = header_token(&k) {
                t.to_string()
            } else if k.ends_with("content-sha256") && v != EMPTY_SHA256 {
                "[sha256]".into()
            } else {
                self.text(&v)
            };
            let _ = writeln!(s, "  header {k}: {v}");
        }
        s
    }

    pub fn response(&mut self, n: &Normalized) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "  status: {}", n.status);
        let _ = writeln!(s, "  code: {}", n.code.as_deref().unwrap_or("~"));
        if let Some(m) = &n.message {
            let _ = writeln!(s, "  message: {}", self.text(m));
        }
        let _ = writeln!(s, "  request_id: {}", if n.request_id.is_some() { "[request-id]" } else { "~" });
        let body = self.json(&n.body);
        let _ = writeln!(s, "  body: {}", serde_json::to_string(&body).unwrap_or_default());
        s
    }
}

/// The algorithm and signed header list of an Authorization header, without
/// the credential or signature.
fn authorization_shape(v: &str) -> String {
    let algo = v.split_whitespace().next().unwrap_or("");
    let signed = v.split("SignedHeaders=").nth(1).map(|s| s.split([',', ' ']).next().unwrap_or("")).unwrap_or("");
    format!("{algo} Credential=[access-key] SignedHeaders={signed} Signature=[signature]")
}

/// Turns the numbered ID tokens of a recording back into well-formed IDs of
/// the same kind (`[d-3]` → `d-replay000003`), for replay by the mock.
pub fn unredact_ids(text: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"\[([a-z]+)-([0-9]+)\]").expect("valid regex"));
    re.replace_all(text, |c: &regex::Captures| {
        let n: u64 = c[2].parse().unwrap_or(0);
        match &c[1] {
            "uuid" => format!("00000000-0000-4000-8000-{n:012}"),
            kind => format!("{kind}-replay{n:06}"),
        }
    })
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numbered_and_fixtures_named() {
        let mut b = Bindings::default();
        b.fixtures.insert("instance.id".into(), "i-bp1aaaaaaaaaaaaaaaaa".into());
        let mut r = Redactor::new(&b);
        let t = r.text("i-bp1aaaaaaaaaaaaaaaaa d-bp1xyzxyzxyzxyz d-bp1qqqqqqqqqqqq d-bp1xyzxyzxyzxyz");
        assert_eq!(t, "${instance.id} [d-1] [d-2] [d-1]");
    }

    #[test]
    fn percent_escapes_lowercased_only() {
        assert_eq!(lowercase_escapes("CANARY%2Bsec%2Fret%3D9F"), "CANARY%2bsec%2fret%3d9F");
    }

    #[test]
    fn secrets_never_survive() {
        let req = HttpRequest {
            method: "POST".into(),
            path: "/".into(),
            query: vec![("AccessKeyId".into(), "AKSECRETID".into()), ("Signature".into(), "c2lnbmF0dXJl+/=".into())],
            headers: vec![("Authorization".into(), "AWS4-HMAC-SHA256 Credential=AKSECRETID/20261124/r/kec/aws4_request, SignedHeaders=host, Signature=deadbeef00".into())],
            body: Vec::new(),
        };
        let mut r = Redactor::new(&Bindings::default());
        r.learn_request(&req);
        let text = r.request(&req) + &r.text("string to sign had AKSECRETID and c2lnbmF0dXJl%2B%2F%3D");
        assert!(!text.contains("AKSECRETID"), "{text}");
        assert!(!text.contains("deadbeef00"), "{text}");
        assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
        assert!(text.contains("SignedHeaders=host"), "{text}");
    }
}
