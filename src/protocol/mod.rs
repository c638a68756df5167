//! Vendor wire protocols: one module per vendor (`src/vendor/<name>/protocol.rs`)
//! behind one small trait.
//!
//! A protocol module knows bytes and nothing else: how a call is encoded and
//! signed ([`Protocol::encode`]), how a response is read back into one
//! [`Normalized`] shape ([`Protocol::decode`]), how an incoming request is
//! authenticated and parsed ([`Protocol::accept`]), and how a result or an
//! error is rendered in the vendor's own body ([`Protocol::render_success`],
//! [`Protocol::render_error`]). It never decides a business rule, and it never
//! writes an error message: messages come from the contracts.
//!
//! The modules share only the types below and the pure algorithms in
//! [`crate::signing`].

use crate::case::Wire;
use serde_json::{Map, Value};

/// An HTTP request as bytes on the wire, vendor-neutral. Query parameters are
/// decoded (`+` and `%20` are spaces), in the order they appeared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Includes `host`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Parses a raw query string (`a=1&b=x+y`).
    pub fn parse_query(raw: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
    }

    /// The urlencoded body's parameters, when the body is a form.
    pub fn form(&self) -> Vec<(String, String)> {
        let is_form = self
            .header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        if is_form && !self.body.is_empty() {
            form_urlencoded::parse(&self.body).into_owned().collect()
        } else {
            Vec::new()
        }
    }

    /// Query then form parameters.
    pub fn all_params(&self) -> Vec<(String, String)> {
        let mut p = self.query.clone();
        p.extend(self.form());
        p
    }

    /// The query string as sent: RFC 3986 escapes, in order.
    pub fn query_string(&self) -> String {
        encode_pairs(&self.query)
    }

    /// The request as HTTP/1.1 bytes, its `content-length` set to the body's
    /// (for tests and benches that speak to a server over a raw socket).
    pub fn to_http1(&self) -> Vec<u8> {
        let q = self.query_string();
        let target = if q.is_empty() { self.path.clone() } else { format!("{}?{q}", self.path) };
        let mut head = format!("{} {target} HTTP/1.1\r\n", self.method);
        for (k, v) in self.headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("content-length")) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", self.body.len()));
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// `k=v&...` with RFC 3986 escapes, in the given order.
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", crate::signing::pct(k), crate::signing::pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(status: u16, body: &Value) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json;charset=utf-8".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

/// The credentials a client signs with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret: String,
    pub session_token: Option<String>,
}

/// Never prints the secret or the token, so a `{:?}` in a log or a panic
/// message cannot leak them.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &"[redacted]")
            .field("secret", &"[redacted]")
            .field("session_token", &self.session_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// One API call to encode.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub action: &'a str,
    pub version: &'a str,
    /// The service the action belongs to (`storage_ebs`), where the vendor
    /// signs it into the request; empty for the vendor's main one.
    pub service: &'a str,
    pub params: &'a [(String, String)],
    pub wire: &'a Wire,
    /// `host[:port]`, as it will appear in the Host header.
    pub host: &'a str,
    pub region: &'a str,
    /// Seconds since the epoch.
    pub now: i64,
    /// A fresh nonce, for the vendors that sign one.
    pub nonce: &'a str,
}

/// A response read back into one shape, whatever the vendor.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// The result fields (without the request id and error envelope).
    pub body: Value,
}

/// An authenticated, parsed incoming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub action: String,
    pub version: String,
    /// Business parameters only: protocol parameters are removed.
    pub params: Vec<(String, String)>,
    pub access_key_id: String,
    pub reply: ReplyCtx,
}

/// What a response needs to know about the request it answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyCtx {
    pub action: String,
    pub version: String,
    /// The service the request was signed for, where the vendor signs one;
    /// empty otherwise.
    pub service: String,
    pub region: String,
    pub request_id: String,
    /// Answer in XML rather than JSON.
    pub xml: bool,
}

/// A request refused by the wire layer, with a vendor common error code and
/// the values to put into its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub args: Vec<String>,
    pub reply: Box<ReplyCtx>,
}

/// An error ready to render: status, code and the final message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Milliseconds, for throttling errors.
    pub retry_after_ms: Option<u64>,
    /// Volcengine's numeric code, when documented.
    pub code_n: Option<u64>,
}

/// A rejection with the vendor common error `code`.
pub(crate) fn reject(code: &'static str, args: Vec<String>, reply: &ReplyCtx) -> Rejection {
    Rejection { code, args, reply: Box::new(reply.clone()) }
}

/// What the server side needs from the credential store.
pub trait KeyStore {
    /// The secret for an access key of this vendor, if it exists.
    fn secret(&self, vendor: &str, access_key_id: &str) -> Option<String>;
    /// Records a nonce; false when it was already used within the window.
    fn fresh_nonce(&self, vendor: &str, access_key_id: &str, nonce: &str, now: i64) -> bool;
}

/// Allowed clock skew for signed timestamps, seconds (15 minutes).
pub const TIME_WINDOW: i64 = 15 * 60;

pub trait Protocol: Send + Sync {
    fn vendor(&self) -> &'static str;
    /// True when the request is shaped like this vendor's.
    fn recognizes(&self, req: &HttpRequest) -> bool;
    /// Encodes and signs a call.
    fn encode(&self, call: &Call, creds: &Credentials) -> HttpRequest;
    /// Reads a response.
    fn decode(&self, resp: &HttpResponse) -> Normalized;
    /// Authenticates and parses a request.
    fn accept(&self, req: &HttpRequest, keys: &dyn KeyStore, now: i64) -> Result<Inbound, Rejection>;
    fn render_success(&self, ctx: &ReplyCtx, result: &Map<String, Value>) -> HttpResponse;
    fn render_error(&self, ctx: &ReplyCtx, err: &ErrorReply) -> HttpResponse;
    /// A request id in the vendor's format, from a counter.
    fn request_id(&self, seq: u64) -> String;
    /// The parameters the signing scheme adds to a call's own (`Action`,
    /// `Version`, and for a signature in the query, its fields).
    fn protocol_params(&self) -> &'static [&'static str] {
        &["Action", "Version"]
    }
    /// Whether an error answered from the request line and headers alone
    /// (the body unread) is XML rather than JSON.
    fn errors_in_xml(&self, req: &HttpRequest) -> bool {
        let _ = req;
        false
    }
}

/// Parses `Key=value` items out of an Authorization header's parameter list
/// (`Credential=..., SignedHeaders=..., Signature=...`), separated by commas
/// with or without spaces.
pub(crate) fn auth_fields(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `{"RequestId": ..., <result fields>}`: the success body of the vendors
/// that put the request id at the top level (Alibaba, Ksyun).
pub(crate) fn json_with_request_id(ctx: &ReplyCtx, result: &Map<String, Value>) -> HttpResponse {
    let mut m = Map::new();
    m.insert("RequestId".into(), Value::String(ctx.request_id.clone()));
    m.extend(result.clone());
    HttpResponse::json(200, &Value::Object(m))
}

/// Signs every header in `headers` (sorted, lowercase): the signed-header
/// list and the canonical request, for clients that sign all they send.
pub(crate) fn canonical_over_all_headers(
    method: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    payload: &str,
) -> (Vec<String>, String) {
    let mut signed: Vec<String> = headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    signed.sort();
    let cr = crate::signing::canonical_request(
        method,
        "/",
        &crate::signing::canonical_query(query),
        &crate::signing::canonical_headers(headers, &signed),
        &signed.join(";"),
        payload,
    );
    (signed, cr)
}

/// Reads a JSON body, or `Null` when the body is not JSON.
pub(crate) fn json_body(resp: &HttpResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
}

/// Escapes text for an XML element.
pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The text of the first `<tag>…</tag>`.
pub(crate) fn xml_tag(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&"))
}

/// Result fields as XML elements, scalars only (nested values as JSON text).
pub(crate) fn xml_fields(result: &Map<String, Value>) -> String {
    let mut s = String::new();
    for (k, v) in result {
        let text = match v {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        s.push_str(&format!("<{k}>{}</{k}>", xml_escape(&text)));
    }
    s
}

/// A 32-hex-digit pseudo-random value from a counter (not for security).
pub fn hex_id(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = String::new();
    for _ in 0..2 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        out.push_str(&format!("{x:016x}"));
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    }
    out
}
