//! `apiconform serve`'s control API, over real HTTP: seed, inspect, reset,
//! and drive time for long-running work.

use apiconform::case::Wire;
use apiconform::emulator::Emulator;
use apiconform::protocol::{self, Call, Credentials, HttpResponse};
use apiconform::suite::Suite;
use serde_json::Value;

fn suite() -> Suite {
    Suite::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).expect("cases load")
}

struct Server {
    addr: String,
    client: reqwest::Client,
}

impl Server {
    async fn control(&self, method: &str, path_and_query: &str, body: &str) -> (u16, Value) {
        let url = format!("http://{}/_apiconform/{path_and_query}", self.addr);
        let r = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url).body(body.to_string()),
        };
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// ReplaceSystemDisk signed with the default Alibaba test credentials.
    async fn replace(&self, instance: &str, image: &str) -> (u16, Option<String>) {
        let p = protocol::for_vendor("aliyun").unwrap();
        let params = vec![("InstanceId".to_string(), instance.to_string()), ("ImageId".to_string(), image.to_string())];
        let nonce = protocol::hex_id(rand_seed());
        let call = Call {
            action: "ReplaceSystemDisk",
            version: "2014-05-26",
            params: &params,
            wire: &Wire::default(),
            host: &self.addr,
            region: "cn-hangzhou",
            now: apiconform::clock::now_secs(),
            nonce: &nonce,
        };
        let creds = Credentials { access_key_id: "testid".into(), secret: "testsecret".into(), session_token: None };
        let req = p.encode(&call, &creds);
        let mut b = self.client.post(format!("http://{}/?{}", self.addr, req.query_string()));
        for (k, v) in &req.headers {
            if k != "host" {
                b = b.header(k.as_str(), v.as_str());
            }
        }
        let r = b.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
        let body = r.bytes().await.unwrap().to_vec();
        let n = p.decode(&HttpResponse { status, headers, body });
        (n.status, n.code)
    }
}

fn rand_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed) ^ (apiconform::clock::now_secs() as u64) << 20
}

async fn start() -> Server {
    let emu = Emulator::from_suite(&suite());
    let addr = emu.spawn("127.0.0.1:0").await.unwrap().to_string();
    Server { addr, client: reqwest::Client::builder().no_proxy().build().unwrap() }
}

#[tokio::test]
async fn seed_inspect_reset_and_time() {
    let s = start().await;
    // Seed: the instance is running.
    let (st, v) = s.control("POST", "seed?vendor=aliyun", r#"{"instances":{"instance":{"status":"Running"}}}"#).await;
    assert_eq!(st, 200, "{v}");
    let instance = v["fixtures"]["instance.id"].as_str().unwrap().to_string();
    let image = v["fixtures"]["other_image.id"].as_str().unwrap().to_string();
    assert_eq!(s.replace(&instance, &image).await, (403, Some("IncorrectInstanceStatus".into())));

    // Reset: back to the stopped instance of the default world.
    let (st, _) = s.control("POST", "reset?vendor=aliyun", "").await;
    assert_eq!(st, 200);
    let (_, state) = s.control("GET", "state?vendor=aliyun", "").await;
    let inst = &state["instances"][&instance];
    assert_eq!(inst["status"], "Stopped", "{state}");

    // Manual time: the replacement holds an operation lock until time advances.
    assert_eq!(s.control("POST", "time?vendor=aliyun&mode=manual", "").await.0, 200);
    assert_eq!(s.replace(&instance, &image).await, (200, None));
    let (_, state) = s.control("GET", "state?vendor=aliyun", "").await;
    assert_eq!(state["instances"][&instance]["operation_lock"], "ReplaceSystemDisk");
    let new_disk = state["instances"][&instance]["system_disk_id"].as_str().unwrap().to_string();
    assert_eq!(state["disks"][&new_disk]["status"], "Creating");
    assert_eq!(s.replace(&instance, &image).await, (403, Some("IncorrectInstanceStatus".into())));

    assert_eq!(s.control("POST", "advance?vendor=aliyun&seconds=60", "").await.0, 200);
    let (_, state) = s.control("GET", "state?vendor=aliyun", "").await;
    assert_eq!(state["instances"][&instance]["operation_lock"], Value::Null);
    assert_eq!(state["disks"][&new_disk]["status"], "In_Use");
    assert_eq!(s.replace(&instance, &image).await, (200, None));
}

#[tokio::test]
async fn control_errors_are_clear() {
    let s = start().await;
    let (st, v) = s.control("POST", "seed?vendor=nope", "{}").await;
    assert_eq!(st, 404);
    assert!(v["error"].as_str().unwrap().contains("unknown vendor"));
    let (st, v) = s.control("POST", "seed?vendor=aliyun", r#"{"instances":{"instance":{"stauts":"Running"}}}"#).await;
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("stauts"), "{v}");
    let (st, _) = s.control("POST", "advance?seconds=-1", "").await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn documented_flow_control_throttles_with_a_retry_hint_and_can_be_switched_off() {
    let s = start().await;
    let (_, v) = s.control("POST", "seed?vendor=aliyun", "{}").await;
    let instance = v["fixtures"]["instance.id"].as_str().unwrap().to_string();
    // 200 per 60 s for ReplaceSystemDisk (api.yaml); an absent image fails
    // fast without changing state, and still counts against the limit.
    for i in 0..200 {
        let (st, code) = s.replace(&instance, "m-absent").await;
        assert_eq!((st, code.as_deref()), (404, Some("InvalidImageId.NotFound")), "request {i}");
    }
    let (st, code) = s.replace(&instance, "m-absent").await;
    assert_eq!((st, code.as_deref()), (400, Some("Throttling.User")));
    assert_eq!(s.control("POST", "flow-control?enabled=false", "").await.0, 200);
    let (st, code) = s.replace(&instance, "m-absent").await;
    assert_eq!((st, code.as_deref()), (404, Some("InvalidImageId.NotFound")));
}
