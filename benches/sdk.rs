//! The SDK suite's speed: every case through every pinned flavour against
//! the in-process emulator, environment creation excluded, with each
//! flavour's cost per call next to our own signer's cost per call (the
//! emulator target, same cases, same run).
//!
//! `cargo bench --bench sdk` (builds the environments first if needed).

use apiconform::runner::{Harness, Target};
use apiconform::sdk::bundle;
use apiconform::sdk::commands::{cases_for, run_all, Job};
use apiconform::sdk::driver::Pool;
use apiconform::sdk::env::{self, Pin};
use apiconform::suite::Suite;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = Arc::new(Suite::load(&root.join("cases")).expect("cases load"));
    let b = bundle::get().expect("the SDK files");
    let drivers = b.drivers_dir(&env::cache_root()).expect("drivers");
    let pools: Vec<Pool> = b
        .flavours()
        .iter()
        .map(|f| {
            let plan = env::plan(b, f, &Pin::Locked, &|_| {}).expect("the lock resolves");
            Pool::new(&drivers, f, env::build(&plan, &|_| {}).expect("environment builds"))
        })
        .collect();
    // Start one driver per flavour outside the timing: the first import of
    // an SDK is a one-off cost, not a per-call one.
    for p in &pools {
        p.packages().expect("driver starts");
    }
    let h = Harness::start(&suite).expect("emulator starts");
    let own = Harness::start(&suite).expect("emulator starts");
    println!(
        "{:<20} {:>6} {:>7} {:>10} {:>14} {:>14} {:>7}",
        "flavour", "cases", "calls", "wall s", "SDK us/call", "own us/call", "ratio"
    );
    let all = Instant::now();
    for p in &pools {
        let f = p.flavour();
        let cases = cases_for(&suite, f, &[]);
        let jobs: Vec<Job> = cases.iter().map(|(a, c)| (p, &[][..], *a, *c)).collect();
        let t = Instant::now();
        let outs = run_all(&h, &suite, &jobs, &|_, _| {});
        let wall = t.elapsed().as_secs_f64();
        let calls: usize = outs.iter().flat_map(|o| &o.steps).map(|s| s.wire.len().max(1)).sum();
        // Our own signer: the same cases on the emulator target, serially,
        // as many workers as run_all uses.
        let t = Instant::now();
        let own_calls: usize = std::thread::scope(|s| {
            let chunks: Vec<_> = cases.chunks(cases.len().div_ceil(2).max(1)).collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let own = &own;
                    s.spawn(move || {
                        chunk.iter().map(|(a, c)| own.run(a, c, Target::Emulator).observed.len()).sum::<usize>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        let own_wall = t.elapsed().as_secs_f64();
        let per = |w: f64, n: usize| w * 1e6 / n.max(1) as f64;
        println!(
            "{:<20} {:>6} {:>7} {:>10.2} {:>14.0} {:>14.0} {:>7.1}",
            f.name,
            cases.len(),
            calls,
            wall,
            per(wall, calls),
            per(own_wall, own_calls),
            per(wall, calls) / per(own_wall, own_calls)
        );
    }
    println!(
        "\nwhole SDK suite (all cases x all pinned flavours): {:.1} s wall (environments excluded)",
        all.elapsed().as_secs_f64()
    );
}
