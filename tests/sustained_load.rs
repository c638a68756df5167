//! What a long-running `apiconform serve` keeps: idempotency records live a
//! bounded time, and the state dump comes a page at a time. (The nonce store
//! and the per-tenant caps are unit-tested in `emulator::nonces` and `model::tokens`;
//! `benches/soak.rs` measures the whole under load.)

use apiconform::case::Wire;
use apiconform::emulator::Emulator;
use apiconform::model::tokens;
use apiconform::protocol::{self, Call, Credentials, HttpRequest};
use apiconform::suite::Suite;
use apiconform::world::WorldSpec;
use serde_json::Value;

fn emulator() -> Emulator {
    let suite = Suite::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).expect("cases load");
    Emulator::from_suite(&suite)
}

/// Volcengine ReplaceSystemVolume on the default tenant: (status, code).
fn replace(emu: &Emulator, instance: &str, image: &str, token: &str, nonce: u64) -> (u16, Option<String>) {
    let p = apiconform::vendor::protocol_of("volcengine").unwrap();
    let params: Vec<(String, String)> =
        [("InstanceId", instance), ("ImageId", image), ("Password", "Password@123"), ("ClientToken", token)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let call = Call {
        action: "ReplaceSystemVolume",
        version: "2020-04-01",
        service: "",
        params: &params,
        wire: &Wire::default(),
        host: "127.0.0.1:1",
        region: "cn-beijing",
        now: apiconform::clock::now_secs(),
        nonce: &protocol::hex_id(nonce),
    };
    let creds = Credentials { access_key_id: "AKLTtestak".into(), secret: "testsk".into(), session_token: None };
    let n = p.decode(&emu.handle(&p.encode(&call, &creds)));
    (n.status, n.code)
}

#[test]
fn an_idempotency_record_is_forgotten_after_its_lifetime() {
    let emu = emulator();
    let ids = emu.seed_default("volcengine", &WorldSpec::default());
    let (instance, image, other) = (&ids["instance.id"], &ids["image.id"], &ids["other_image.id"]);
    assert_eq!(replace(&emu, instance, other, "ct-life", 1), (200, None));
    assert_eq!(replace(&emu, instance, image, "ct-life", 2), (400, Some("IdempotentParameterMismatch".into())));
    emu.with_default_state("volcengine", |s| s.advance(tokens::LIFETIME - 1)).unwrap();
    assert_eq!(replace(&emu, instance, image, "ct-life", 3), (400, Some("IdempotentParameterMismatch".into())));
    emu.with_default_state("volcengine", |s| s.advance(1)).unwrap();
    // A day later the token is new again: this request runs.
    assert_eq!(replace(&emu, instance, image, "ct-life", 4), (200, None));
}

fn state_page(emu: &Emulator, after: Option<&str>) -> Value {
    let mut query = vec![("vendor".to_string(), "volcengine".to_string()), ("limit".to_string(), "100".to_string())];
    if let Some(a) = after {
        query.push(("after".into(), a.into()));
    }
    let req = HttpRequest {
        method: "GET".into(),
        path: "/_apiconform/state".into(),
        query,
        headers: vec![("host".into(), "127.0.0.1:1".into())],
        body: Vec::new(),
    };
    let resp = emu.handle(&req);
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    serde_json::from_slice(&resp.body).unwrap()
}

#[test]
fn the_state_dump_pages_idempotency_records() {
    let emu = emulator();
    emu.with_default_state("volcengine", |s| {
        for i in 0..250 {
            s.remember_client_token(format!("ReplaceSystemVolume/t{i:03}"), "fp".into(), Default::default());
        }
    })
    .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = state_page(&emu, after.as_deref());
        assert_eq!(page["client_tokens_total"], 250, "{page}");
        assert!(page["instances"].is_object(), "the page carries the state too");
        let records = page["client_tokens"].as_object().unwrap();
        assert!(records.len() <= 100);
        seen.extend(records.keys().cloned());
        match page["client_tokens_next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..250).map(|i| format!("ReplaceSystemVolume/t{i:03}")).collect();
    assert_eq!(seen, expected);
}
