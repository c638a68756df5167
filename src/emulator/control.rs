//! The control API of `apiconform serve`, under the reserved path
//! `/_apiconform/`. It acts on the default tenant of a vendor (the one the
//! default test credentials reach):
//!
//! | request | effect |
//! |---|---|
//! | `GET /_apiconform/state?vendor=V[&limit=N&after=K]` | the tenant's state as JSON, idempotency records a page at a time |
//! | `GET /_apiconform/requests?vendor=V` | the requests signed with the default keys, as they arrived (method, raw query, headers, body, status; the last 1000 per key) |
//! | `POST /_apiconform/reset[?vendor=V]` | back to the vendor's default world and default keys; faults cleared |
//! | `POST /_apiconform/seed?vendor=V` + JSON world patch | default world with the patch applied; returns the fixture IDs |
//! | `POST /_apiconform/time?vendor=V&mode=manual\|immediate` | long-running work waits for `advance`, or completes at once |
//! | `POST /_apiconform/advance?vendor=V&seconds=N` | advances virtual time (at most [`MAX_ADVANCE_SECONDS`]); due work completes |
//! | `POST /_apiconform/flow-control?enabled=false` | switches the documented rate limits off (or on) |
//! | `POST /_apiconform/credentials?vendor=V` + `{"access_key_id": .., "secret": ..}` | that key also reaches the default tenant (your own test keys); a key id in use is refused |
//! | `POST /_apiconform/faults?vendor=V&action=A&code=C&count=N` | the next N (≥ 1) calls of A answer the vendor's error C (e.g. `Throttling.User`, `ServiceUnavailable`), to rehearse retries |
//!
//! Answers are JSON; errors are `{"error": "..."}` with a 4xx status, and a
//! refused parameter is named in `"parameter"`.
//!
//! Why a guard ([`Access::check`]): the control API can reseed state, inject
//! faults and add keys, and a web page the user visits can reach a loopback
//! port. A browser "simple" request (`POST`, `text/plain`) needs no CORS
//! preflight, so the server itself must refuse it: a foreign `Origin` is
//! refused (and a `Sec-Fetch-Site` other than `same-origin`), and so is a
//! `Host` that is not a loopback name (DNS rebinding makes a foreign page
//! same-origin with a name that resolves to 127.0.0.1, but its `Host` header
//! still carries the foreign name). A server reachable from other machines
//! also needs a token, which only the operator knows.

use super::Emulator;
use crate::protocol::{HttpRequest, HttpResponse};
use crate::world::WorldSpec;
use serde_json::json;

pub const PREFIX: &str = "/_apiconform/";

/// `advance` moves virtual time by at most ten years per call, so the clock
/// cannot overflow and a typo cannot make every pending job due at once by
/// accident of wrapping.
pub const MAX_ADVANCE_SECONDS: i64 = 10 * 365 * 24 * 3600;

/// Who may use the control API.
#[derive(Clone, Default)]
pub struct Access {
    /// When set, every control request must carry it
    /// (`Authorization: Bearer <token>` or `X-Apiconform-Token: <token>`).
    pub token: Option<String>,
    /// Host names (without port) accepted besides the loopback ones.
    pub hosts: Vec<String>,
}

/// Never prints the token.
impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("hosts", &self.hosts)
            .finish()
    }
}

/// `host[:port]` of an authority (`[::1]:8080`, `localhost`), host lowercased
/// without a trailing dot.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let a = authority.trim();
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return None,
            None => (a, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some((host, port))
}

/// `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback_name(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Compares without an early exit, so a wrong token's timing says nothing
/// about how much of it was right.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refused(status: u16, msg: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "error": format!("apiconform control API: {msg}") }))
}

impl Access {
    fn host_allowed(&self, host: &str) -> bool {
        is_loopback_name(host) || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Refuses a request from a foreign origin, to a foreign host name, or
    /// without the token when one is configured.
    pub fn check(&self, req: &HttpRequest) -> Result<(), HttpResponse> {
        let Some((host, port)) = req.header("host").and_then(split_authority) else {
            return Err(refused(403, "the request has no valid Host header"));
        };
        if !self.host_allowed(&host) {
            return Err(refused(
                403,
                &format!(
                    "Host `{host}` is not a loopback name; the control API answers only to localhost, 127.0.0.0/8, [::1] and the names given with `serve --control-host`"
                ),
            ));
        }
        if let Some(origin) = req.header("origin") {
            if !same_origin(origin, &host, port.unwrap_or(80)) {
                return Err(refused(
                    403,
                    "cross-origin requests are refused (the Origin header is not this server's own loopback origin)",
                ));
            }
        }
        // Browsers that send it say where a request comes from even when
        // they leave `Origin` out (some form posts of older versions).
        if req.header("sec-fetch-site").is_some_and(|v| !matches!(v.trim(), "same-origin" | "none")) {
            return Err(refused(403, "cross-origin requests are refused (Sec-Fetch-Site is not same-origin)"));
        }
        if let Some(token) = &self.token {
            let sent = req
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .or_else(|| req.header("x-apiconform-token"))
                .map(str::trim);
            if !sent.is_some_and(|s| same_secret(s, token)) {
                return Err(refused(
                    401,
                    "this server requires its control token: send `Authorization: Bearer <token>` or `X-Apiconform-Token: <token>`",
                ));
            }
        }
        Ok(())
    }
}

/// An `Origin` (`http://127.0.0.1:8080`) naming this very server: the same
/// host and port as the `Host` header. `null` and anything else are foreign.
fn same_origin(origin: &str, host: &str, port: u16) -> bool {
    let Some((scheme, authority)) = origin.trim().split_once("://") else { return false };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    match split_authority(authority) {
        Some((h, p)) => h == host && p.unwrap_or(default) == port,
        None => false,
    }
}

fn bad(status: u16, msg: impl Into<String>) -> HttpResponse {
    HttpResponse::json(status, &json!({ "error": msg.into() }))
}

/// A 400 that names the refused parameter.
fn bad_param(name: &str, msg: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::json(400, &json!({ "error": format!("parameter `{name}`: {msg}"), "parameter": name }))
}

fn query<'a>(req: &'a HttpRequest, k: &str) -> Option<&'a str> {
    req.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// The vendors a request acts on: the named one, or all for the operations
/// that make sense without one.
fn vendors(emu: &Emulator, req: &HttpRequest, op: &str) -> Result<Vec<String>, HttpResponse> {
    let known = emu.vendors();
    match query(req, "vendor") {
        Some(v) if known.iter().any(|k| k == v) => Ok(vec![v.to_string()]),
        Some(v) => Err(bad_param("vendor", format!("unknown vendor `{v}`; known: {}", known.join(", ")))),
        None if matches!(op, "reset" | "advance" | "flow-control") => Ok(known),
        None => Err(bad_param("vendor", format!("missing; add `?vendor=` one of {}", known.join(", ")))),
    }
}

/// The operations, for a clear 404 before any parameter is looked at.
const OPERATIONS: &[&str] =
    &["state", "requests", "reset", "seed", "time", "advance", "flow-control", "credentials", "faults"];

pub fn handle(emu: &Emulator, req: &HttpRequest) -> HttpResponse {
    if let Err(refusal) = emu.control_access().check(req) {
        return refusal;
    }
    let op = req.path.trim_start_matches(PREFIX);
    if !OPERATIONS.contains(&op) {
        return bad(404, format!("no control operation `{op}`; known: {}", OPERATIONS.join(", ")));
    }
    let vendors = match vendors(emu, req, op) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let q = |k: &str| query(req, k);
    match (req.method.as_str(), op) {
        ("GET", "state") => {
            // Idempotency records come a page at a time: `&limit=N` (at most
            // 1000, default 100) after `&after=<key>` from `client_tokens_next`.
            let limit = match q("limit").map(str::parse::<usize>) {
                None => 100,
                Some(Ok(n)) if (1..=1000).contains(&n) => n,
                Some(_) => return bad(400, "`limit` must be an integer from 1 to 1000"),
            };
            match emu.with_default_state(&vendors[0], |s| s.dump(q("after"), limit)) {
                Some(Ok(body)) => HttpResponse {
                    status: 200,
                    headers: vec![("content-type".into(), "application/json;charset=utf-8".into())],
                    body,
                },
                _ => bad(500, "state is not available"),
            }
        }
        ("GET", "requests") => HttpResponse::json(200, &json!({ "requests": emu.default_wire(&vendors[0]) })),
        ("POST", "reset") => {
            for v in &vendors {
                emu.reset_default(v);
            }
            HttpResponse::json(200, &json!({ "reset": vendors }))
        }
        ("POST", "seed") => seed(emu, &vendors[0], &req.body),
        ("POST", "time") => {
            let manual = match q("mode") {
                Some("manual") => true,
                Some("immediate") => false,
                _ => return bad_param("mode", "add `&mode=manual` or `&mode=immediate`"),
            };
            emu.with_default_state(&vendors[0], |s| s.manual_time = manual);
            HttpResponse::json(200, &json!({ "manual_time": manual }))
        }
        ("POST", "advance") => advance(emu, &vendors, q("seconds")),
        ("POST", "flow-control") => {
            let on = match q("enabled") {
                Some("true") => true,
                Some("false") => false,
                _ => return bad_param("enabled", "add `?enabled=true` or `?enabled=false`"),
            };
            emu.set_flow_control(on);
            HttpResponse::json(200, &json!({ "flow_control": on }))
        }
        ("POST", "credentials") => credentials(emu, &vendors[0], &req.body),
        ("POST", "faults") => faults(emu, &vendors[0], q("action"), q("code"), q("count")),
        _ => bad(404, format!("no control operation `{} {}`", req.method, req.path)),
    }
}

fn seed(emu: &Emulator, vendor: &str, body: &[u8]) -> HttpResponse {
    let patch: WorldSpec = if body.is_empty() {
        WorldSpec::default()
    } else {
        match serde_json::from_slice(body) {
            Ok(p) => p,
            Err(e) => return bad_param("body", format!("not a world patch: {e}")),
        }
    };
    let ids = emu.seed_default(vendor, &patch);
    HttpResponse::json(200, &json!({ "fixtures": ids }))
}

fn advance(emu: &Emulator, vendors: &[String], seconds: Option<&str>) -> HttpResponse {
    let secs = match seconds.map(|s| s.parse::<i64>()) {
        Some(Ok(s)) if (0..=MAX_ADVANCE_SECONDS).contains(&s) => s,
        Some(Ok(s)) => {
            return bad_param("seconds", format!("{s} is out of range: 0 to {MAX_ADVANCE_SECONDS} (ten years)"))
        }
        Some(Err(_)) => return bad_param("seconds", format!("not an integer from 0 to {MAX_ADVANCE_SECONDS}")),
        None => return bad_param("seconds", "missing; add `&seconds=N`"),
    };
    for v in vendors {
        emu.with_default_state(v, |s| s.advance(secs));
    }
    HttpResponse::json(200, &json!({ "advanced": secs }))
}

fn credentials(emu: &Emulator, vendor: &str, body: &[u8]) -> HttpResponse {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NewKey {
        access_key_id: String,
        secret: String,
    }
    match serde_json::from_slice::<NewKey>(body) {
        Ok(k) if !k.access_key_id.is_empty() && !k.secret.is_empty() => {
            match emu.add_default_key(vendor, &k.access_key_id, &k.secret) {
                // The answers name the vendor and the key id only: never a secret.
                Ok(()) => HttpResponse::json(200, &json!({ "credentials_added": vendor })),
                Err(e) => bad(409, e),
            }
        }
        _ => bad_param("body", "must be {\"access_key_id\": \"..\", \"secret\": \"..\"}, both non-empty"),
    }
}

fn faults(emu: &Emulator, vendor: &str, action: Option<&str>, code: Option<&str>, count: Option<&str>) -> HttpResponse {
    let Some(action) = action else {
        return bad_param("action", "missing; add `&action=ReplaceSystemDisk&code=Throttling.User` (and `&count=N`)");
    };
    let Some(code) = code else {
        return bad_param("code", "missing; add `&code=` a common error of the vendor, e.g. `Throttling.User`");
    };
    let count = match count.map(|c| c.parse::<u32>()) {
        None => 1,
        Some(Ok(0)) => return bad_param("count", "must be at least 1 (`reset` clears faults)"),
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad_param("count", format!("not an integer from 1 to {}", u32::MAX)),
    };
    match emu.inject_fault(vendor, action, code, count) {
        Ok(()) => HttpResponse::json(200, &json!({ "fault": code, "action": action, "count": count })),
        Err(e) => bad_param("code", e),
    }
}
