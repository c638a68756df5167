//! `apiconform serve`'s control API, over real HTTP: seed, inspect, reset,
//! and drive time for long-running work.

use apiconform::case::Wire;
use apiconform::emulator::control::Access;
use apiconform::emulator::Emulator;
use apiconform::protocol::{self, Call, Credentials, HttpResponse, Normalized};
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
        let n = self.replace_n(instance, image).await;
        (n.status, n.code)
    }

    async fn replace_n(&self, instance: &str, image: &str) -> Normalized {
        let params = [("InstanceId", instance), ("ImageId", image)];
        self.signed("aliyun", "ReplaceSystemDisk", "2014-05-26", &params).await
    }

    /// A call signed with the vendor's default test credentials, sent as
    /// the vendor's SDK sends it.
    async fn signed(&self, vendor: &str, action: &str, version: &str, params: &[(&str, &str)]) -> Normalized {
        let p = apiconform::vendor::protocol_of(vendor).unwrap();
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let nonce = protocol::hex_id(rand_seed());
        let call = Call {
            action,
            version,
            service: "",
            params: &params,
            wire: &Wire::default(),
            host: &self.addr,
            region: if vendor == "aliyun" { "cn-hangzhou" } else { "cn-beijing" },
            now: apiconform::clock::now_secs(),
            nonce: &nonce,
        };
        let (_, ak, sk) = apiconform::emulator::default_credentials().find(|(v, _, _)| *v == vendor).unwrap();
        let creds = Credentials { access_key_id: ak.to_string(), secret: sk.to_string(), session_token: None };
        let req = p.encode(&call, &creds);
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut b = self.client.request(method, format!("http://{}/?{}", self.addr, req.query_string()));
        for (k, v) in &req.headers {
            if k != "host" {
                b = b.header(k.as_str(), v.as_str());
            }
        }
        let r = b.body(req.body.clone()).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
        let body = r.bytes().await.unwrap().to_vec();
        p.decode(&HttpResponse { status, headers, body })
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
    assert_eq!((st, &v["parameter"]), (400, &Value::from("vendor")), "{v}");
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

/// One request written by hand, so that Host and Origin are exactly what a
/// browser (or a DNS-rebinding page) would send.
async fn raw(addr: &str, head: &str, body: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_cross_origin_simple_post_is_refused() {
    let s = start().await;
    let patch = r#"{"instances":{"instance":{"status":"Running"}}}"#;
    // What a web page's `fetch(.., {method: "POST", body})` sends: no preflight.
    let head = format!(
        "POST /_apiconform/seed?vendor=aliyun HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain;charset=UTF-8\r\nOrigin: https://evil.example",
        s.addr
    );
    let (st, v) = raw(&s.addr, &head, patch).await;
    assert_eq!(st, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("cross-origin"), "{v}");
    let (_, state) = s.control("GET", "state?vendor=aliyun", "").await;
    let statuses: Vec<&Value> = state["instances"].as_object().unwrap().values().map(|i| &i["status"]).collect();
    assert!(!statuses.contains(&&Value::from("Running")), "the seed went through: {state}");
    for origin in ["null", "http://localhost", "http://127.0.0.1:1"] {
        let head = format!("POST /_apiconform/reset HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}", s.addr);
        assert_eq!(raw(&s.addr, &head, "").await.0, 403, "Origin: {origin}");
    }
    let head = format!("POST /_apiconform/reset HTTP/1.1\r\nHost: {}\r\nSec-Fetch-Site: cross-site", s.addr);
    assert_eq!(raw(&s.addr, &head, "").await.0, 403, "Sec-Fetch-Site: cross-site, no Origin");
    assert_eq!(s.control("POST", "nonsense", "").await.0, 404);
    // The server's own origin is not foreign.
    let head = format!("POST /_apiconform/reset HTTP/1.1\r\nHost: {0}\r\nOrigin: http://{0}", s.addr);
    assert_eq!(raw(&s.addr, &head, "").await.0, 200);
}

#[tokio::test]
async fn the_control_api_answers_only_loopback_host_names() {
    let s = start().await;
    let port = s.addr.rsplit(':').next().unwrap();
    // DNS rebinding: a foreign name that resolves to 127.0.0.1.
    let head = "POST /_apiconform/reset HTTP/1.1\r\nHost: rebind.evil.example";
    let (st, v) = raw(&s.addr, head, "").await;
    assert_eq!(st, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("rebind.evil.example"), "{v}");
    for host in [format!("localhost:{port}"), format!("127.0.0.2:{port}"), format!("[::1]:{port}")] {
        let head = format!("POST /_apiconform/reset HTTP/1.1\r\nHost: {host}");
        assert_eq!(raw(&s.addr, &head, "").await.0, 200, "Host: {host}");
    }
    // Configured names are accepted too.
    let emu = Emulator::from_suite(&suite());
    emu.set_control_access(Access { token: None, hosts: vec!["emulator.test".into()] });
    let addr = emu.spawn("127.0.0.1:0").await.unwrap().to_string();
    let head = "POST /_apiconform/reset HTTP/1.1\r\nHost: emulator.test:8080";
    assert_eq!(raw(&addr, head, "").await.0, 200);
}

#[tokio::test]
async fn a_configured_token_is_required() {
    let emu = Emulator::from_suite(&suite());
    let token = "0123456789abcdef-token";
    emu.set_control_access(Access { token: Some(token.into()), hosts: Vec::new() });
    let addr = emu.spawn("127.0.0.1:0").await.unwrap().to_string();
    let base = format!("POST /_apiconform/reset HTTP/1.1\r\nHost: {addr}");
    let (st, v) = raw(&addr, &base, "").await;
    assert_eq!(st, 401, "{v}");
    assert!(!v.to_string().contains(token));
    assert_eq!(raw(&addr, &format!("{base}\r\nAuthorization: Bearer wrong-token-0123456"), "").await.0, 401);
    assert_eq!(raw(&addr, &format!("{base}\r\nAuthorization: Bearer {token}"), "").await.0, 200);
    assert_eq!(raw(&addr, &format!("{base}\r\nX-Apiconform-Token: {token}"), "").await.0, 200);
}

#[tokio::test]
async fn credentials_add_a_key_and_never_replace_one() {
    let s = start().await;
    let (_, v) = s.control("POST", "seed?vendor=aliyun", "{}").await;
    let instance = v["fixtures"]["instance.id"].as_str().unwrap().to_string();
    let image = v["fixtures"]["other_image.id"].as_str().unwrap().to_string();
    let (st, v) = s.control("POST", "credentials?vendor=aliyun", r#"{"access_key_id":"testid","secret":"evil"}"#).await;
    assert_eq!(st, 409, "{v}");
    assert!(!v.to_string().contains("evil"), "the answer echoes a secret: {v}");
    // The default key still signs.
    assert_eq!(s.replace(&instance, &image).await, (200, None));
    let (st, _) =
        s.control("POST", "credentials?vendor=aliyun", r#"{"access_key_id":"mykey","secret":"mysecret"}"#).await;
    assert_eq!(st, 200);
    let (st, _) = s.control("POST", "credentials?vendor=aliyun", r#"{"access_key_id":"mykey","secret":"other"}"#).await;
    assert_eq!(st, 409);
}

#[tokio::test]
async fn reset_clears_faults() {
    let s = start().await;
    let (_, v) = s.control("POST", "seed?vendor=aliyun", "{}").await;
    let instance = v["fixtures"]["instance.id"].as_str().unwrap().to_string();
    let image = v["fixtures"]["other_image.id"].as_str().unwrap().to_string();
    let (st, _) =
        s.control("POST", "faults?vendor=aliyun&action=ReplaceSystemDisk&code=ServiceUnavailable&count=5", "").await;
    assert_eq!(st, 200);
    assert_eq!(s.replace(&instance, &image).await.1.as_deref(), Some("ServiceUnavailable"));
    assert_eq!(s.control("POST", "reset?vendor=aliyun", "").await.0, 200);
    assert_eq!(s.replace(&instance, &image).await, (200, None));
}

#[tokio::test]
async fn control_parameters_are_validated_and_named() {
    let s = start().await;
    for (q, param) in [
        ("faults?vendor=aliyun&action=ReplaceSystemDisk&code=Throttling.User&count=0", "count"),
        ("faults?vendor=aliyun&action=ReplaceSystemDisk&code=Throttling.User&count=many", "count"),
        ("faults?vendor=aliyun&action=ReplaceSystemDisk&code=NoSuchCode", "code"),
        ("faults?vendor=aliyun&code=Throttling.User", "action"),
        ("advance?seconds=9223372036854775807", "seconds"),
        ("advance?seconds=315360001", "seconds"),
        ("advance?seconds=-1", "seconds"),
        ("advance", "seconds"),
        ("time?vendor=aliyun&mode=fast", "mode"),
        ("flow-control?enabled=yes", "enabled"),
        ("seed", "vendor"),
    ] {
        let (st, v) = s.control("POST", q, "").await;
        assert_eq!((st, v["parameter"].as_str()), (400, Some(param)), "{q}: {v}");
        assert!(v["error"].as_str().unwrap().contains(param), "{q}: {v}");
    }
    let (_, state) = s.control("GET", "state?vendor=aliyun", "").await;
    assert_eq!(state["clock"], 0, "a refused advance moved the clock");
    assert_eq!(s.control("POST", "advance?seconds=315360000", "").await.0, 200);
}

#[tokio::test]
async fn ids_are_never_handed_out_twice_across_seed_and_reset() {
    let s = start().await;
    let mut disks = Vec::new();
    let mut instances = Vec::new();
    for op in ["seed?vendor=aliyun", "reset?vendor=aliyun", "seed?vendor=aliyun"] {
        s.control("POST", op, "{}").await;
        let (_, v) = s.control("POST", "seed?vendor=aliyun", "{}").await;
        let instance = v["fixtures"]["instance.id"].as_str().unwrap().to_string();
        let image = v["fixtures"]["other_image.id"].as_str().unwrap().to_string();
        let n = s.replace_n(&instance, &image).await;
        assert_eq!(n.status, 200, "{n:?}");
        disks.push(n.body["DiskId"].as_str().unwrap().to_string());
        instances.push(instance);
    }
    let mut unique = disks.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), disks.len(), "a DiskId was handed out twice: {disks:?}");
    // A fixture keeps its ID: what `serve` printed stays valid.
    assert!(instances.windows(2).all(|w| w[0] == w[1]), "{instances:?}");
}

#[test]
fn tenant_secrets_are_random() {
    let world = apiconform::world::WorldSpec::default();
    // Two servers, each with its first tenant: the same id, never the same secret.
    let a = Emulator::default().create_tenant("aliyun", &world).0;
    let b = Emulator::default().create_tenant("aliyun", &world).0;
    assert_eq!(a.access_key_id, b.access_key_id);
    assert_ne!(a.secret, b.secret);
}

fn serve_cmd(addr: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_apiconform"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).args(["serve", "--addr", addr]).env_remove("APICONFORM_CONTROL_TOKEN");
    c
}

#[test]
fn serve_refuses_a_non_loopback_address_without_a_token() {
    let out = serve_cmd("0.0.0.0:0").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reachable from other machines") && err.contains("APICONFORM_CONTROL_TOKEN"), "{err}");
    let out = serve_cmd("0.0.0.0:0").args(["--control-token", "short"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16"));
}

#[test]
fn serve_warns_when_reachable_from_other_machines() {
    use std::io::{BufRead, BufReader};
    let token = "a-long-enough-control-token";
    let mut child = serve_cmd("0.0.0.0:0")
        .env("APICONFORM_CONTROL_TOKEN", token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("warning:") && line.contains("requires the token"), "{line}");
    assert!(!line.contains(token));
    assert!(first.contains("listening on"), "{first}");
}

#[tokio::test]
async fn describe_instances_pages_over_http_with_the_vendors_errors() {
    let s = start().await;
    let (st, _) = s.control("POST", "seed?vendor=volcengine", r#"{"instances":{"second":{},"third":{}}}"#).await;
    assert_eq!(st, 200);
    let first = s.signed("volcengine", "DescribeInstances", "2020-04-01", &[("MaxResults", "1")]).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["Instances"].as_array().unwrap().len(), 1);
    let token = first.body["NextToken"].as_str().unwrap().to_string();
    assert!(!token.is_empty(), "{first:?}");
    let next =
        s.signed("volcengine", "DescribeInstances", "2020-04-01", &[("MaxResults", "1"), ("NextToken", &token)]).await;
    assert_ne!(next.body["Instances"][0]["InstanceId"], first.body["Instances"][0]["InstanceId"]);
    let bad = s.signed("volcengine", "DescribeInstances", "2020-04-01", &[("MaxResults", "101")]).await;
    assert_eq!((bad.status, bad.code.as_deref()), (400, Some("InvalidArgument")), "{bad:?}");
    assert_eq!(bad.message.as_deref(), Some("The specified argument is invalid."));
    let bad = s.signed("ksyun", "DescribeInstances", "2016-03-04", &[("MaxResults", "1")]).await;
    assert_eq!((bad.status, bad.code.as_deref()), (400, Some("InvalidParameterValue")), "{bad:?}");
    assert!(bad.message.unwrap().contains("MaxResults"));
    let bad = s.signed("aliyun", "DescribeInstances", "2014-05-26", &[("PageSize", "500")]).await;
    assert_eq!((bad.status, bad.code.as_deref()), (400, Some("InvalidParameter")), "{bad:?}");
    assert!(bad.message.unwrap().contains("PageSize"));
}

/// `serve` keeps what clients sent with the default keys, as it arrived:
/// the SDK target and users read exactly what an SDK put on the wire.
#[tokio::test]
async fn requests_shows_what_the_default_keys_sent_as_it_arrived() {
    let emu = Emulator::from_suite(&suite());
    let (st, v) = {
        let addr = emu.clone().spawn("127.0.0.1:0").await.unwrap().to_string();
        let s = Server { addr, client: reqwest::Client::builder().no_proxy().build().unwrap() };
        // Nothing is kept until someone watches.
        s.replace("i-notwatched", "m-x").await;
        let (_, before) = s.control("GET", "requests?vendor=aliyun", "").await;
        assert_eq!(before["requests"].as_array().map(Vec::len), Some(0), "{before}");
        emu.watch_default_keys();
        let (status, _) = s.replace("i-watched", "m-y").await;
        assert_eq!(status, 404);
        s.control("GET", "requests?vendor=aliyun", "").await
    };
    assert_eq!(st, 200, "{v}");
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1, "{v}");
    let r = &reqs[0];
    assert_eq!(r["method"], "POST");
    assert!(r["raw_query"].as_str().unwrap().contains("InstanceId=i-watched"), "{r}");
    assert_eq!(r["status"], 404);
    let headers: Vec<&str> = r["headers"].as_array().unwrap().iter().map(|h| h[0].as_str().unwrap()).collect();
    assert!(headers.contains(&"authorization") && headers.contains(&"x-acs-signature-nonce"), "{headers:?}");
}
