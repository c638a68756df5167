//! Runs one case on one target and gives a verdict and a transcript.
//!
//! The path of a trial: bind the case's fixtures to real IDs (a fresh
//! emulator tenant, or generated IDs for the mock), then for each step
//! resolve `${...}` references, encode and sign the call with the vendor's
//! protocol module, send it over real HTTP, decode the response into the
//! normalized shape, check the expectation, and save values for later steps.
//! The transcript (normalized, redacted request and response of every step)
//! is what the snapshot tests compare.
//!
//! The pipeline's stages are modules: [`trial`] (a trial as a value, and
//! what differs between targets behind one trait), [`transport`] (sign,
//! schedule, send, decode), [`session`] (what the live target needs beyond
//! that), [`verdict`] (pure checks) and [`executor`] (a trial to a verdict,
//! for `cargo test` and `apiconform run` alike).

mod executor;
mod session;
mod transport;
mod trial;
pub mod verdict;

pub use executor::{Skips, TrialResult, Verdict};
pub use session::{Created, CREATED_PREFIX};
pub(crate) use transport::{Binding, Request};
pub(crate) use trial::{Carried, Prepared, TargetKind, Trial};
pub use verdict::{check, save};

use crate::emulator::Emulator;
use crate::live::LiveConfig;
use crate::recording::RecordedStep;
use crate::suite::{Api, Case, Suite};
use crate::window::SlidingWindow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a trial sends its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Emulator,
    Mock,
    /// The real cloud (or `apiconform serve` behind an endpoint override).
    Live,
}

impl Target {
    pub const OFFLINE: [Target; 2] = [Target::Emulator, Target::Mock];

    pub fn name(self) -> &'static str {
        match self {
            Target::Emulator => "emulator",
            Target::Mock => "mock",
            Target::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        match s {
            "emulator" => Some(Target::Emulator),
            "mock" => Some(Target::Mock),
            "live" => Some(Target::Live),
            _ => None,
        }
    }
}

/// The loaded suite is what the in-process emulator serves.
impl crate::emulator::Catalog for Suite {
    fn api_specs<'a>(&'a self) -> Vec<crate::emulator::ApiSpec<'a>> {
        let spec = |a: &'a Api| crate::emulator::ApiSpec {
            vendor: &a.vendor,
            action: &a.action,
            contract: &a.contract,
            common: &a.common,
            world: &a.world,
        };
        self.apis.iter().map(spec).collect()
    }
}

/// The verdict of one trial.
#[derive(Debug, Clone, Default)]
pub struct TrialOutcome {
    /// Empty when the trial passed.
    pub failures: Vec<String>,
    /// Normalized, redacted exchanges, for snapshots.
    pub transcript: String,
    /// (action, status, code, message) of each response, for coverage.
    pub observed: Vec<Observed>,
    /// Set when the trial did not run, with the reason (never a pass).
    pub skipped: Option<String>,
    /// Retries made (live): step, attempt, what was retried.
    pub retries: Vec<String>,
    /// Each step's normalized exchange (recordings, parity).
    pub recorded: Vec<RecordedStep>,
}

/// What one step got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub action: String,
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Shared machinery for all trials: a runtime, the in-process emulator and
/// an HTTP client.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    emulator: Emulator,
    emulator_addr: SocketAddr,
    client: reqwest::Client,
    seq: AtomicU64,
    nonces: AtomicU64,
    live: Option<LiveConfig>,
    /// `snapshots/live`: where live runs record and the mock replays.
    recordings: PathBuf,
    /// Live runs write recordings.
    record: bool,
    /// Resources this run created on live accounts and has not deleted yet.
    created: Mutex<Vec<Created>>,
    /// Names the resources this run creates: `apiconform-<tag>-<n>`.
    run_tag: String,
    /// Live requests are scheduled under each API's documented rate limit.
    limits: Mutex<HashMap<String, SlidingWindow>>,
    /// One live trial at a time per vendor: its trials share the
    /// inventory's resources (one case stages the instance Stopped, the next
    /// Running). Vendors still run in parallel.
    live_turns: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Set on Ctrl-C: no new live request is sent, so cleanup has the last word.
    interrupted: AtomicBool,
    /// How many runs share each account's rate limit (shards).
    rate_share: u32,
}

impl Harness {
    /// Starts the emulator on `127.0.0.1:<ephemeral>`.
    pub fn start(suite: &Suite) -> std::io::Result<Harness> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let emulator = Emulator::from_suite(suite);
        let emulator_addr = rt.block_on(emulator.clone().spawn("127.0.0.1:0"))?;
        // Pooled connections are dropped before the emulator's idle timeout
        // (`server::Limits::header_timeout`) would close them under a request.
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Harness {
            rt,
            emulator,
            emulator_addr,
            client,
            seq: AtomicU64::new(1),
            nonces: AtomicU64::new(1),
            live: None,
            recordings: crate::recording::root_for(&suite.root),
            record: false,
            created: Mutex::new(Vec::new()),
            run_tag: std::env::var("APICONFORM_RUN_TAG").unwrap_or_else(|_| {
                format!("{}-{}", crate::clock::compact(crate::clock::now_secs()), std::process::id())
            }),
            limits: Mutex::new(HashMap::new()),
            live_turns: Mutex::new(HashMap::new()),
            interrupted: AtomicBool::new(false),
            rate_share: 1,
        })
    }

    /// Enables the live target with this configuration. Its requests get
    /// the configured connect and request timeouts: an endpoint that
    /// accepts and never answers costs a bounded time, never a hung run.
    pub fn with_live(mut self, cfg: LiveConfig) -> Harness {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(10))
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .build();
        // Building fails only when the TLS backend cannot start; the old
        // client still gets the request timeout, per request, in `send`.
        if let Ok(c) = client {
            self.client = c;
        }
        self.live = Some(cfg);
        self
    }

    /// Where recordings are written and replayed from (default
    /// `snapshots/live` beside the cases).
    pub fn with_recordings(mut self, dir: PathBuf) -> Harness {
        self.recordings = dir;
        self
    }

    /// Live runs record what the cloud answered (`--record`).
    pub fn recording(mut self, on: bool) -> Harness {
        self.record = on;
        self
    }

    /// This run is one of `n` that share each account's documented rate
    /// (`--shard K/N`): it schedules live requests at 1/n of it.
    pub fn rate_share(mut self, n: u32) -> Harness {
        self.rate_share = n.max(1);
        self
    }

    pub fn emulator_addr(&self) -> SocketAddr {
        self.emulator_addr
    }

    /// The in-process emulator (to inject a fault, or watch what an SDK sent).
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Runs one case on one target. Never panics on a failing case.
    pub fn run(&self, api: &Api, case: &Case, target: Target) -> TrialOutcome {
        self.run_with(api, case, target, None)
    }

    /// Runs one case; `dry_run` forces the emulator's DryRun treatment
    /// (parity runs the emulator the way a dry-run recording was made).
    pub fn run_with(&self, api: &Api, case: &Case, target: Target, dry_run: Option<bool>) -> TrialOutcome {
        match target {
            Target::Emulator => self.run_on(&trial::OnEmulator, api, case, dry_run),
            Target::Mock => self.run_on(&trial::OnMock, api, case, dry_run),
            Target::Live => self.run_on(&trial::OnLive, api, case, dry_run),
        }
    }
}
