//! Sustained load: `cargo bench --bench soak -- --seconds 600 [--interval 10] [--http] [--check]`.
//!
//! One thread per vendor calls that vendor's API under test (its `success`
//! case) through the emulator's whole request path (signature, time window,
//! nonce, rule, rendering; no sockets, so the figures are the emulator's, not
//! the kernel's), as fast as it can, every request signed now with a fresh
//! nonce and carrying a fresh ClientToken where the API takes one. With
//! `--http`, the requests go over loopback instead, to the server `apiconform
//! serve` runs (its limits, hyper, the head copy), four keep-alive
//! connections per vendor; the client side is a few KiB in the same process.
//! With `--check` it exits 1 when a goal is missed (the last interval's
//! throughput or any interval's RSS more than 20% from the first interval's,
//! or a request not answered 200), for the nightly soak. Every
//! interval it prints each vendor's throughput and the process's resident
//! memory (`VmRSS` of /proc/self/status); at the end, the first interval
//! against the last. A long run shows whether the nonce store or the
//! idempotency records slow the server down or grow it.

use apiconform::case::Wire;
use apiconform::emulator::Emulator;
use apiconform::protocol::Call;
use apiconform::suite::Suite;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The same allocator as the `apiconform` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APIS: &[(&str, &str)] =
    &[("aliyun", "ReplaceSystemDisk"), ("volcengine", "ReplaceSystemVolume"), ("ksyun", "ModifyInstanceImage")];

struct Args {
    seconds: u64,
    interval: u64,
    http: bool,
    check: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args { seconds: 60, interval: 10, http: false, check: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            v.parse::<u64>().ok().filter(|n| *n > 0).ok_or(format!("{name}: `{v}` is not a positive integer"))
        };
        match arg.as_str() {
            "--seconds" => a.seconds = num("--seconds")?,
            "--interval" => a.interval = num("--interval")?,
            "--http" => a.http = true,
            "--check" => a.check = true,
            // cargo bench passes `--bench`; ignore what is not ours.
            _ => {}
        }
    }
    Ok(a)
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Signed requests for one vendor's API under test, each with a fresh nonce
/// and ClientToken.
struct Requests {
    params: Vec<(String, String)>,
    token: bool,
    creds: apiconform::protocol::Credentials,
    version: String,
    action: &'static str,
    vendor: &'static str,
    i: u64,
}

impl Requests {
    fn new(emu: &Emulator, suite: &Suite, vendor: &'static str, action: &'static str) -> Requests {
        let api = suite.apis.iter().find(|a| a.vendor == vendor && a.action == action).expect("API under test");
        let case = api.cases.iter().find(|c| c.name == "success").expect("a `success` case");
        let step = &case.steps[0];
        let (creds, b) = emu.create_tenant(vendor, &case.world);
        let params = step.params.iter().map(|(k, v)| (k.clone(), b.resolve(v))).collect();
        let token = api.contract.params.contains_key("ClientToken");
        Requests { params, token, creds, version: step.version.clone(), action, vendor, i: 0 }
    }

    fn next(&mut self, host: &str) -> apiconform::protocol::HttpRequest {
        self.i += 1;
        let fresh = format!("{:x}-{}-{}", std::process::id(), self.vendor, self.i);
        if self.token {
            self.params.retain(|(k, _)| k != "ClientToken");
            self.params.push(("ClientToken".into(), fresh.clone()));
        }
        let call = Call {
            action: self.action,
            version: &self.version,
            service: "",
            params: &self.params,
            wire: &Wire::default(),
            host,
            region: "cn-beijing",
            now: apiconform::clock::now_secs(),
            nonce: &fresh,
        };
        apiconform::vendor::protocol_of(self.vendor).expect("vendor").encode(&call, &self.creds)
    }
}

/// Calls one vendor's API in process until `stop`; counts successes and failures.
fn drive(mut reqs: Requests, emu: &Emulator, ok: &AtomicU64, bad: &AtomicU64, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let resp = emu.handle(&reqs.next("127.0.0.1:1"));
        match resp.status {
            200 => ok.fetch_add(1, Ordering::Relaxed),
            _ => bad.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Calls one vendor's API over one keep-alive connection until `stop`.
async fn drive_http(
    mut reqs: Requests,
    addr: std::net::SocketAddr,
    ok: &AtomicU64,
    bad: &AtomicU64,
    stop: &AtomicBool,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let host = addr.to_string();
    let conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.set_nodelay(true).expect("nodelay");
    let mut conn = tokio::io::BufReader::new(conn);
    let mut line = String::new();
    let mut body = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        conn.get_mut().write_all(&reqs.next(&host).to_http1()).await.expect("send");
        let (mut status, mut len) = (0u16, 0usize);
        loop {
            line.clear();
            if conn.read_line(&mut line).await.expect("answer") == 0 {
                panic!("the server closed the connection");
            }
            if line == "\r\n" {
                break;
            }
            if let Some(s) = line.strip_prefix("HTTP/1.1 ") {
                status = s.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
            } else if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        body.resize(len, 0);
        conn.read_exact(&mut body).await.expect("body");
        match status {
            200 => ok.fetch_add(1, Ordering::Relaxed),
            _ => bad.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    };
    let suite = Suite::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/cases"))).expect("cases load");
    let emu = Emulator::from_suite(&suite);
    emu.set_flow_control(false);
    // As `apiconform serve` does at start.
    let reserved = emu.reserve_memory();
    let counters: Vec<(AtomicU64, AtomicU64)> = APIS.iter().map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect();
    let stop = AtomicBool::new(false);
    println!(
        "soak{}: {} s, {} s intervals, vendors: {}, fixed stores reserved: {:.0} MiB, RSS at start {:.1} MiB",
        if a.http { " over HTTP" } else { "" },
        a.seconds,
        a.interval,
        APIS.len(),
        reserved as f64 / (1 << 20) as f64,
        rss_mib()
    );
    println!("{:>6} {:>11} {:>11} {:>11} {:>11} {:>9}", "t(s)", "aliyun/s", "volc/s", "ksyun/s", "total/s", "RSS MiB");
    let rows = if a.http {
        over_http(&a, &emu, &suite, &counters, &stop)
    } else {
        in_process(&a, &emu, &suite, &counters, &stop)
    };
    let met = summary(&rows, &counters);
    if a.check && !met {
        std::process::exit(1);
    }
}

type Counters = [(AtomicU64, AtomicU64)];

fn in_process(a: &Args, emu: &Emulator, suite: &Suite, counters: &Counters, stop: &AtomicBool) -> Vec<(f64, f64)> {
    std::thread::scope(|s| {
        for ((vendor, action), (ok, bad)) in APIS.iter().zip(counters) {
            let reqs = Requests::new(emu, suite, vendor, action);
            s.spawn(move || drive(reqs, emu, ok, bad, stop));
        }
        let rows = report(a, counters);
        stop.store(true, Ordering::Relaxed);
        rows
    })
}

/// Four connections per vendor (one client thread each) to the server
/// `serve` runs (two worker threads).
fn over_http(a: &Args, emu: &Emulator, suite: &Suite, counters: &Counters, stop: &AtomicBool) -> Vec<(f64, f64)> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let addr = rt
        .block_on(emu.clone().spawn_with("127.0.0.1:0", apiconform::emulator::server::Limits::default()))
        .expect("listen");
    std::thread::scope(|s| {
        for ((vendor, action), (ok, bad)) in APIS.iter().zip(counters) {
            let conns: Vec<Requests> = (0..4).map(|_| Requests::new(emu, suite, vendor, action)).collect();
            s.spawn(move || {
                let client = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                let [c1, c2, c3, c4] = <[Requests; 4]>::try_from(conns).ok().expect("four");
                client.block_on(async {
                    tokio::join!(
                        drive_http(c1, addr, ok, bad, stop),
                        drive_http(c2, addr, ok, bad, stop),
                        drive_http(c3, addr, ok, bad, stop),
                        drive_http(c4, addr, ok, bad, stop),
                    )
                });
            });
        }
        let rows = report(a, counters);
        stop.store(true, Ordering::Relaxed);
        rows
    })
}

/// (total req/s, RSS MiB) per interval.
fn report(a: &Args, counters: &Counters) -> Vec<(f64, f64)> {
    let start = Instant::now();
    let mut last: Vec<u64> = vec![0; counters.len()];
    let mut rows = Vec::new();
    let mut t = 0;
    while t < a.seconds {
        let step = a.interval.min(a.seconds - t);
        t += step;
        let due = start + Duration::from_secs(t);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let now: Vec<u64> = counters.iter().map(|(ok, _)| ok.load(Ordering::Relaxed)).collect();
        let rates: Vec<f64> = now.iter().zip(&last).map(|(n, l)| (n - l) as f64 / step as f64).collect();
        let total: f64 = rates.iter().sum();
        let rss = rss_mib();
        println!("{t:>6} {:>11.0} {:>11.0} {:>11.0} {total:>11.0} {rss:>9.1}", rates[0], rates[1], rates[2]);
        rows.push((total, rss));
        last = now;
    }
    rows
}

/// Prints the figures; true when every goal is met.
fn summary(rows: &[(f64, f64)], counters: &Counters) -> bool {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return false };
    let ok: u64 = counters.iter().map(|(o, _)| o.load(Ordering::Relaxed)).sum();
    let bad: u64 = counters.iter().map(|(_, b)| b.load(Ordering::Relaxed)).sum();
    let (lo, hi) = rows.iter().fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(r.1), hi.max(r.1)));
    println!("requests: {ok} answered 200, {bad} not");
    println!(
        "throughput: first interval {:.0} req/s, last {:.0} req/s ({:+.1}%)",
        first.0,
        last.0,
        (last.0 / first.0 - 1.0) * 100.0
    );
    println!("RSS: first {:.1} MiB, last {:.1} MiB, min {lo:.1}, max {hi:.1}", first.1, last.1);
    // The goals of the hardening issue: the last interval's throughput, and
    // every interval's RSS, within 20% of the first interval's.
    let within = |v: f64, of: f64| (v / of - 1.0).abs() <= 0.2;
    let verdict = |ok: bool| if ok { "within" } else { "OUTSIDE" };
    let (throughput, rss) = (within(last.0, first.0), within(lo, first.1) && within(hi, first.1));
    println!("goals (±20% of the first interval): throughput {}, RSS {}", verdict(throughput), verdict(rss));
    throughput && rss && bad == 0
}
