//! Emulator throughput against a minimal hyper server, on loopback, in the
//! same run: `cargo bench --bench emulator`.
//!
//! Both servers get the same pre-signed requests (ReplaceSystemDisk with
//! ACS3-HMAC-SHA256, each with its own nonce) from the same client, at the
//! same concurrency. The baseline answers a fixed JSON body without reading
//! the request; the emulator verifies the signature, runs the rule on a
//! tenant's state and renders the vendor's body. The ratio is what matters.

use apiconform::case::Wire;
use apiconform::emulator::Emulator;
use apiconform::protocol::{self, Call, Credentials, HttpRequest};
use apiconform::suite::Suite;
use std::sync::Arc;
use std::time::Instant;

/// The same allocator as the `apiconform` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 32;

async fn baseline(listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(
                    hyper::Response::builder()
                        .header("content-type", "application/json;charset=utf-8")
                        .body(http_body_util::Full::new(bytes::Bytes::from_static(
                            br#"{"RequestId":"473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E","DiskId":"d-bp67acfmxazb4ph0000"}"#,
                        )))
                        .unwrap(),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn drive(client: &reqwest::Client, addr: &str, reqs: Arc<Vec<HttpRequest>>) -> (f64, usize) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let (client, reqs, addr) = (client.clone(), reqs.clone(), addr.to_string());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for r in reqs.iter().skip(w).step_by(CONCURRENCY) {
                let url = format!("http://{addr}/?{}", r.query_string());
                let mut b = client.post(url);
                for (k, v) in &r.headers {
                    if k != "host" {
                        b = b.header(k.as_str(), v.as_str());
                    }
                }
                if let Ok(resp) = b.send().await {
                    if resp.status().is_success() && resp.bytes().await.is_ok() {
                        ok += 1;
                    }
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap_or(0);
    }
    (REQUESTS as f64 / start.elapsed().as_secs_f64(), ok)
}

fn main() {
    let suite = Suite::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/cases"))).expect("cases load");
    let api = suite.apis.iter().find(|a| a.action == "ReplaceSystemDisk").expect("ReplaceSystemDisk");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let emu = Emulator::from_suite(&suite);
        // Measure the request path, not the documented 200/60 s limit.
        emu.set_flow_control(false);
        let (creds, b): (Credentials, _) = emu.create_tenant("aliyun", &api.world);
        let emu_addr = emu.clone().spawn("127.0.0.1:0").await.unwrap().to_string();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_addr = l.local_addr().unwrap().to_string();
        tokio::spawn(baseline(l));

        let params = vec![
            ("InstanceId".to_string(), b.resolve("${instance.id}")),
            ("ImageId".to_string(), b.resolve("${other_image.id}")),
        ];
        let p = apiconform::vendor::protocol_of("aliyun").unwrap();
        let wire = Wire::default();
        let now = apiconform::clock::now_secs();
        // Each request signed with its own nonce (replays are refused).
        let sign = |i: usize| {
            let nonce = protocol::hex_id(i as u64 + 1);
            let call = Call {
                action: "ReplaceSystemDisk",
                version: "2014-05-26",
                service: "",
                params: &params,
                wire: &wire,
                host: &emu_addr,
                region: "cn-hangzhou",
                now,
                nonce: &nonce,
            };
            p.encode(&call, &creds)
        };
        let reqs: Arc<Vec<HttpRequest>> = Arc::new((0..REQUESTS).map(sign).collect());
        let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(CONCURRENCY).build().unwrap();
        let (base_rps, base_ok) = drive(&client, &base_addr, reqs.clone()).await;
        let (emu_rps, emu_ok) = drive(&client, &emu_addr, reqs.clone()).await;
        // The same path without sockets, on fresh nonces (the ones above are used).
        let fresh: Vec<HttpRequest> = (REQUESTS..2 * REQUESTS).map(sign).collect();
        let us = handle_only(&emu, &fresh);
        println!("requests: {REQUESTS}, concurrency: {CONCURRENCY}");
        println!("emulator request path without sockets: {us:.1} µs/request");
        println!("baseline hyper server: {base_rps:>10.0} req/s ({base_ok} ok)");
        println!("apiconform emulator:   {emu_rps:>10.0} req/s ({emu_ok} ok)");
        println!("ratio emulator/baseline: {:.2}", emu_rps / base_rps);
        assert_eq!(emu_ok, REQUESTS, "every emulator request must succeed, or the rate measures errors");
    });
}

/// Per-request CPU time of the emulator's request path alone (no sockets).
fn handle_only(emu: &Emulator, reqs: &[HttpRequest]) -> f64 {
    let start = Instant::now();
    for r in reqs {
        let resp = emu.handle(r);
        assert_eq!(resp.status, 200);
    }
    start.elapsed().as_secs_f64() * 1e6 / reqs.len() as f64
}
