//! A vendor that signs the service into each request (Volcengine's
//! credential scope) is routed on it: the EBS actions answer under
//! `storage_ebs`, an ECS action signed for EBS is not found there, and a
//! service no contract has is unknown.

use apiconform::case::Wire;
use apiconform::emulator::Emulator;
use apiconform::protocol::{Call, Credentials};
use apiconform::suite::Suite;
use serde_json::Value;

fn call(emu: &Emulator, action: &str, service: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let call = Call {
        action,
        version: "2020-04-01",
        service,
        params: &params,
        wire: &Wire::default(),
        host: "127.0.0.1:1",
        region: "cn-beijing",
        now: apiconform::clock::now_secs(),
        nonce: "n",
    };
    let creds = Credentials { access_key_id: "AKLTtestak".into(), secret: "testsk".into(), session_token: None };
    let req = apiconform::vendor::protocol_of("volcengine").unwrap().encode(&call, &creds);
    let resp = emu.handle(&req);
    (resp.status, serde_json::from_slice(&resp.body).unwrap())
}

#[test]
fn volcengine_routes_on_the_signed_service() {
    let suite = Suite::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).expect("cases load");
    let emu = Emulator::from_suite(&suite);
    let (status, body) = call(&emu, "DescribeVolumes", "storage_ebs", &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ResponseMetadata"]["Service"], "storage_ebs");
    let volumes = body["Result"]["Volumes"].as_array().unwrap();
    assert!(!volumes.is_empty() && volumes[0]["Size"].is_string(), "{body}");

    let (status, body) = call(&emu, "DescribeVolumes", "ecs", &[]);
    assert_eq!((status, &body["ResponseMetadata"]["Error"]["Code"]), (404, &Value::from("InvalidActionOrVersion")));
    let (status, body) = call(&emu, "DescribeInstances", "storage_ebs", &[]);
    assert_eq!((status, &body["ResponseMetadata"]["Error"]["Code"]), (404, &Value::from("InvalidActionOrVersion")));

    let (status, body) = call(&emu, "DescribeInstances", "nosuch", &[]);
    let err = &body["ResponseMetadata"]["Error"];
    assert_eq!((status, &err["Code"]), (404, &Value::from("ServiceNotFound")), "{body}");
    assert_eq!(err["Message"], "This service[nosuch] not found.");
    assert_eq!(body["ResponseMetadata"]["Service"], "nosuch");

    // The ECS actions still answer under `ecs`.
    let (status, body) = call(&emu, "DescribeInstances", "", &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ResponseMetadata"]["Service"], "ecs");
}
