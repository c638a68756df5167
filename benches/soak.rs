//! Sustained load: `cargo bench --bench soak -- --seconds 600 [--interval 10]`.
//!
//! One thread per vendor calls that vendor's API under test (its `success`
//! case) through the emulator's whole request path (signature, time window,
//! nonce, rule, rendering; no sockets, so the figures are the emulator's, not
//! the kernel's), as fast as it can, every request signed now with a fresh
//! nonce and carrying a fresh ClientToken where the API takes one. Every
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
}

fn args() -> Result<Args, String> {
    let mut a = Args { seconds: 60, interval: 10 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            v.parse::<u64>().ok().filter(|n| *n > 0).ok_or(format!("{name}: `{v}` is not a positive integer"))
        };
        match arg.as_str() {
            "--seconds" => a.seconds = num("--seconds")?,
            "--interval" => a.interval = num("--interval")?,
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

/// Calls one vendor's API until `stop`; counts successes and failures.
fn drive(
    emu: &Emulator,
    suite: &Suite,
    vendor: &str,
    action: &str,
    ok: &AtomicU64,
    bad: &AtomicU64,
    stop: &AtomicBool,
) {
    let api = suite.apis.iter().find(|a| a.vendor == vendor && a.action == action).expect("API under test");
    let case = api.cases.iter().find(|c| c.name == "success").expect("a `success` case");
    let step = &case.steps[0];
    let (creds, b) = emu.create_tenant(vendor, &case.world);
    let mut params: Vec<(String, String)> = step.params.iter().map(|(k, v)| (k.clone(), b.resolve(v))).collect();
    let token = api.contract.params.contains_key("ClientToken");
    let p = apiconform::vendor::protocol_of(vendor).expect("vendor");
    let wire = Wire::default();
    let run = std::process::id();
    let mut i: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let fresh = format!("{run:x}-{vendor}-{i}");
        if token {
            params.retain(|(k, _)| k != "ClientToken");
            params.push(("ClientToken".into(), fresh.clone()));
        }
        let call = Call {
            action,
            version: &step.version,
            params: &params,
            wire: &wire,
            host: "127.0.0.1:1",
            region: "cn-beijing",
            now: apiconform::clock::now_secs(),
            nonce: &fresh,
        };
        let resp = emu.handle(&p.encode(&call, &creds));
        match resp.status {
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
        "soak: {} s, {} s intervals, vendors: {}, fixed stores reserved: {:.0} MiB, RSS at start {:.1} MiB",
        a.seconds,
        a.interval,
        APIS.len(),
        reserved as f64 / (1 << 20) as f64,
        rss_mib()
    );
    println!("{:>6} {:>11} {:>11} {:>11} {:>11} {:>9}", "t(s)", "aliyun/s", "volc/s", "ksyun/s", "total/s", "RSS MiB");
    let rows = std::thread::scope(|s| {
        for ((vendor, action), (ok, bad)) in APIS.iter().zip(&counters) {
            let (emu, suite, stop) = (&emu, &suite, &stop);
            s.spawn(move || drive(emu, suite, vendor, action, ok, bad, stop));
        }
        let rows = report(&a, &counters);
        stop.store(true, Ordering::Relaxed);
        rows
    });
    summary(&rows, &counters);
}

/// (total req/s, RSS MiB) per interval.
fn report(a: &Args, counters: &[(AtomicU64, AtomicU64)]) -> Vec<(f64, f64)> {
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

fn summary(rows: &[(f64, f64)], counters: &[(AtomicU64, AtomicU64)]) {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return };
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
}
