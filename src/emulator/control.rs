//! The control API of `apiconform serve`, under the reserved path
//! `/_apiconform/`. It acts on the default tenant of a vendor (the one the
//! default test credentials reach):
//!
//! | request | effect |
//! |---|---|
//! | `GET /_apiconform/state?vendor=V[&limit=N&after=K]` | the tenant's state as JSON, idempotency records a page at a time |
//! | `POST /_apiconform/reset[?vendor=V]` | back to the vendor's default world |
//! | `POST /_apiconform/seed?vendor=V` + JSON world patch | default world with the patch applied; returns the fixture IDs |
//! | `POST /_apiconform/time?vendor=V&mode=manual\|immediate` | long-running work waits for `advance`, or completes at once |
//! | `POST /_apiconform/advance?vendor=V&seconds=N` | advances virtual time; due work completes |
//! | `POST /_apiconform/flow-control?enabled=false` | switches the documented rate limits off (or on) |
//! | `POST /_apiconform/credentials?vendor=V` + `{"access_key_id": .., "secret": ..}` | that key also reaches the default tenant (your own test keys) |
//! | `POST /_apiconform/faults?vendor=V&action=A&code=C&count=N` | the next N calls of A answer the vendor's error C (e.g. `Throttling.User`, `ServiceUnavailable`), to rehearse retries |
//!
//! Answers are JSON; errors are `{"error": "..."}` with a 4xx status.

use super::Emulator;
use crate::protocol::{HttpRequest, HttpResponse};
use crate::world::WorldSpec;
use serde_json::json;

pub const PREFIX: &str = "/_apiconform/";

fn bad(status: u16, msg: impl Into<String>) -> HttpResponse {
    HttpResponse::json(status, &json!({ "error": msg.into() }))
}

pub fn handle(emu: &Emulator, req: &HttpRequest) -> HttpResponse {
    let op = req.path.trim_start_matches(PREFIX);
    let q = |k: &str| req.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let vendors: Vec<String> = match q("vendor") {
        Some(v) if emu.default_tenant(v).is_some() => vec![v.to_string()],
        Some(v) => return bad(404, format!("unknown vendor `{v}`; known: aliyun, volcengine, ksyun")),
        None if op == "reset" || op == "advance" || op == "flow-control" => emu.vendors(),
        None if op == "faults" => return bad(400, "add `?vendor=aliyun|volcengine|ksyun`"),
        None => return bad(400, "add `?vendor=aliyun|volcengine|ksyun`"),
    };
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
        ("POST", "reset") => {
            for v in &vendors {
                emu.seed_default(v, &WorldSpec::default());
            }
            HttpResponse::json(200, &json!({ "reset": vendors }))
        }
        ("POST", "seed") => {
            let patch: WorldSpec = if req.body.is_empty() {
                WorldSpec::default()
            } else {
                match serde_json::from_slice(&req.body) {
                    Ok(p) => p,
                    Err(e) => return bad(400, format!("the body is not a world patch: {e}")),
                }
            };
            let ids = emu.seed_default(&vendors[0], &patch);
            HttpResponse::json(200, &json!({ "fixtures": ids }))
        }
        ("POST", "time") => {
            let manual = match q("mode") {
                Some("manual") => true,
                Some("immediate") => false,
                _ => return bad(400, "add `&mode=manual` or `&mode=immediate`"),
            };
            emu.with_default_state(&vendors[0], |s| s.manual_time = manual);
            HttpResponse::json(200, &json!({ "manual_time": manual }))
        }
        ("POST", "advance") => {
            let Some(secs) = q("seconds").and_then(|s| s.parse::<i64>().ok()).filter(|s| *s >= 0) else {
                return bad(400, "add `&seconds=N` (a non-negative integer)");
            };
            for v in &vendors {
                emu.with_default_state(v, |s| s.advance(secs));
            }
            HttpResponse::json(200, &json!({ "advanced": secs }))
        }
        ("POST", "flow-control") => {
            let on = match q("enabled") {
                Some("true") => true,
                Some("false") => false,
                _ => return bad(400, "add `?enabled=true` or `?enabled=false`"),
            };
            emu.set_flow_control(on);
            HttpResponse::json(200, &json!({ "flow_control": on }))
        }
        ("POST", "credentials") => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct NewKey {
                access_key_id: String,
                secret: String,
            }
            match serde_json::from_slice::<NewKey>(&req.body) {
                Ok(k) if !k.access_key_id.is_empty() && !k.secret.is_empty() => {
                    emu.add_default_key(&vendors[0], &k.access_key_id, &k.secret);
                    // The answer names the vendor only: never echo a secret.
                    HttpResponse::json(200, &json!({ "credentials_added": vendors[0] }))
                }
                _ => bad(400, "the body must be {\"access_key_id\": \"..\", \"secret\": \"..\"}, both non-empty"),
            }
        }
        ("POST", "faults") => {
            let (Some(action), Some(code)) = (q("action"), q("code")) else {
                return bad(400, "add `&action=ReplaceSystemDisk&code=Throttling.User` (and `&count=N`)");
            };
            let count = q("count").and_then(|c| c.parse::<u32>().ok()).unwrap_or(1);
            match emu.inject_fault(&vendors[0], action, code, count) {
                Ok(()) => HttpResponse::json(200, &json!({ "fault": code, "action": action, "count": count })),
                Err(e) => bad(400, e),
            }
        }
        _ => bad(404, format!("no control operation `{} {}`", req.method, req.path)),
    }
}
