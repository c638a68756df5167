//! Runs one case on one target and gives a verdict and a transcript.
//!
//! The path of a trial: bind the case's fixtures to real IDs (a fresh
//! emulator tenant, or generated IDs for the mock), then for each step
//! resolve `${...}` references, encode and sign the call with the vendor's
//! protocol module, send it over real HTTP, decode the response into the
//! normalized shape, check the expectation, and save values for later steps.
//! The transcript (normalized, redacted request and response of every step)
//! is what the snapshot tests compare.

use crate::case::Auth;
use crate::emulator::{
    state::{IdAlloc, State},
    Emulator,
};
use crate::live::{self, LiveConfig};
use crate::normalize::Redactor;
use crate::protocol::Protocol;
use crate::protocol::{self, Call, Credentials, HttpRequest, HttpResponse, Normalized};
use crate::recording::{RecordedStep, Recording};
use crate::suite::{Api, Case, CaseStep, CheckedExpect, Suite};
use crate::template::Bindings;
use crate::window::SlidingWindow;
use crate::world::{Kind, WorldSpec};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// The name prefix of everything the harness creates on a live account.
pub const CREATED_PREFIX: &str = "apiconform-";

/// A resource the harness created on a live account: how to delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub vendor: String,
    pub what: String,
    pub delete: (String, Vec<(String, String)>),
}

/// Where and as whom one trial sends its requests.
struct Binding {
    creds: Credentials,
    bindings: Bindings,
    scheme: String,
    host: String,
    region: String,
    mock: Option<wiremock::MockServer>,
    staging: Vec<(String, String)>,
    /// System disks to bind by asking the cloud (live): (disk, instance).
    system_disks: Vec<(String, String)>,
}

impl Binding {
    /// An offline target on loopback: nothing to stage.
    fn loopback(
        creds: Credentials,
        bindings: Bindings,
        host: String,
        vendor: &str,
        mock: Option<wiremock::MockServer>,
    ) -> Binding {
        let region = crate::vendor::region(vendor).to_string();
        let (staging, system_disks) = (Vec::new(), Vec::new());
        Binding { creds, bindings, scheme: "http".into(), host, region, mock, staging, system_disks }
    }
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

    pub fn live_config(&self) -> Option<&LiveConfig> {
        self.live.as_ref()
    }

    pub fn emulator_addr(&self) -> SocketAddr {
        self.emulator_addr
    }

    /// Runs one case on one target. Never panics on a failing case.
    pub fn run(&self, api: &Api, case: &Case, target: Target) -> TrialOutcome {
        self.run_with(api, case, target, None)
    }

    /// Runs one case; `dry_run` forces the live target's DryRun treatment
    /// (parity runs the emulator the way a dry-run recording was made).
    pub fn run_with(&self, api: &Api, case: &Case, target: Target, dry_run: Option<bool>) -> TrialOutcome {
        let turn = (target == Target::Live).then(|| {
            let mut turns = self.live_turns.lock().unwrap_or_else(|e| e.into_inner());
            turns.entry(api.vendor.clone()).or_default().clone()
        });
        let _turn = turn.as_ref().map(|t| t.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = self.rt.block_on(self.run_async(api, case, target, dry_run));
        if target == Target::Live && self.record && out.skipped.is_none() && !out.recorded.is_empty() {
            let rec = Recording {
                recorded_at: crate::clock::iso8601(crate::clock::now_secs()),
                case: format!("{}::{}", api.path(), case.name),
                dry_run: case.targets.live_dry_run(),
                passed: out.failures.is_empty(),
                steps: out.recorded.clone(),
            };
            if let Err(e) = crate::recording::save(&self.recordings, api, &rec) {
                out.failures.push(format!("cannot write the recording: {e}"));
            }
        }
        out
    }

    async fn bind(&self, api: &Api, case: &Case, target: Target, seq: u64) -> Result<Binding, String> {
        let absent = |vendor: &str, seed: u64| {
            let state = State::build(vendor, seed, &WorldSpec::default(), &IdAlloc::default()).0;
            Kind::ALL.iter().map(|k| (k.word().to_string(), state.absent_id(*k))).collect()
        };
        Ok(match target {
            Target::Emulator => {
                let (creds, bindings) = self.emulator.create_tenant(&api.vendor, &case.world);
                Binding::loopback(creds, bindings, self.emulator_addr.to_string(), &api.vendor, None)
            }
            Target::Mock => {
                let (state, fixtures) = State::build(&api.vendor, 1_000_000 + seq, &case.world, &IdAlloc::default());
                let mut bindings = Bindings { fixtures, ..Default::default() };
                for k in Kind::ALL {
                    bindings.absent.insert(k.word().to_string(), state.absent_id(k));
                }
                let server = wiremock::MockServer::start().await;
                let host = server.address().to_string();
                Binding::loopback(crate::mock::credentials(), bindings, host, &api.vendor, Some(server))
            }
            Target::Live => {
                let cfg = self.live.as_ref().ok_or("the live target is not configured")?;
                let plan = live::plan(api, case, cfg)?;
                let v = &cfg.vendors[&api.vendor];
                let creds = v.credentials.clone().ok_or("no credentials")?;
                let (scheme, host) = v.scheme_and_host();
                let bindings =
                    Bindings { fixtures: plan.bindings, absent: absent(&api.vendor, 7), ..Default::default() };
                Binding {
                    creds,
                    bindings,
                    scheme: scheme.to_string(),
                    host: host.to_string(),
                    region: v.region.clone(),
                    mock: None,
                    staging: plan.staging,
                    system_disks: plan.system_disks,
                }
            }
        })
    }

    async fn run_async(&self, api: &Api, case: &Case, target: Target, dry_run: Option<bool>) -> TrialOutcome {
        let Some(p) = protocol::for_vendor(&api.vendor) else {
            return TrialOutcome {
                failures: vec![format!("no protocol module for vendor `{}`", api.vendor)],
                ..Default::default()
            };
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut out = TrialOutcome::default();
        let mut b = match self.bind(api, case, target, seq).await {
            Ok(b) => b,
            Err(reason) => {
                out.skipped = Some(reason);
                return out;
            }
        };
        let mut redactor = Redactor::new(&b.bindings);
        redactor.add_credentials(&b.creds);
        let _ = writeln!(out.transcript, "case: {}::{}\ntarget: {}", api.path(), case.name, target.name());
        let mut replay = None;
        if target == Target::Mock {
            match crate::recording::load(&self.recordings, api, &case.name) {
                Some(r) if r.passed => {
                    let _ = writeln!(out.transcript, "replaying: live recording of {}", r.recorded_at);
                    replay = Some(r);
                }
                Some(r) => {
                    let _ = writeln!(
                        out.transcript,
                        "not replaying: the live recording of {} failed the case (see `apiconform parity`)",
                        r.recorded_at
                    );
                }
                None => {}
            }
        }
        // DryRun is how the live target ran (or recorded) this case; the
        // mock replaying that recording, and parity, run it the same way.
        let dry_run = match target {
            Target::Live => case.targets.live_dry_run(),
            Target::Mock => replay.as_ref().is_some_and(|r| r.dry_run),
            Target::Emulator => dry_run.unwrap_or(false),
        };
        self.run_steps(p, api, case, target, seq, dry_run, replay.as_ref(), &mut b, &mut redactor, &mut out).await;
        // Failure lines quote what the server said (a string to sign, say)
        // and what was sent: they pass through the same redaction as the
        // transcript, so no credential reaches a report.
        for line in out.failures.iter_mut().chain(out.retries.iter_mut()) {
            *line = redactor.text(line);
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_steps(
        &self,
        p: &'static dyn Protocol,
        api: &Api,
        case: &Case,
        target: Target,
        seq: u64,
        trial_dry_run: bool,
        replay: Option<&Recording>,
        b: &mut Binding,
        redactor: &mut Redactor,
        out: &mut TrialOutcome,
    ) {
        for (fixture, status) in b.staging.clone() {
            if let Err(e) = self.stage(p, api, b, &fixture, &status, out).await {
                out.failures.push(format!("staging `{fixture}` to {status}: {e}"));
                return;
            }
        }
        for (disk, instance) in b.system_disks.clone() {
            let id = b.bindings.resolve(&format!("${{{instance}.id}}"));
            let (describe, path) = live::system_disk_call(&id);
            // Its own redactor: the disk's ID is about to become a fixture
            // (`${system_disk.id}`), not a numbered token of this trial.
            let mut scratch = Redactor::new(&b.bindings);
            scratch.add_credentials(&b.creds);
            let found = match self.call(p, b, &describe, &mut scratch, out).await {
                Ok(n) => lookup(&n.body, path).and_then(|v| v.as_str().map(str::to_string)),
                Err(e) => {
                    out.failures.push(format!("finding the system disk of `{instance}`: {e}"));
                    return;
                }
            };
            let Some(disk_id) = found else {
                out.failures.push(format!("`{instance}` has no system disk to bind `{disk}` to"));
                return;
            };
            redactor.add(&disk_id, &format!("${{{disk}.id}}"));
            b.bindings.fixtures.insert(format!("{disk}.id"), disk_id);
        }
        let mut created: Vec<Created> = Vec::new();
        for (i, step) in case.steps.iter().enumerate() {
            let mut params: Vec<(String, String)> =
                step.params.iter().map(|(k, v)| (k.clone(), b.bindings.resolve(v))).collect();
            let dry_run = trial_dry_run && step.action == api.action;
            if dry_run && !params.iter().any(|(k, _)| k == "DryRun") {
                params.push(("DryRun".into(), "true".into()));
            }
            let expect = if dry_run { dry_run_expectation(api, &step.expect) } else { step.expect.clone() };
            if let Some(s) = &b.mock {
                let replay = replay.and_then(|r| r.steps.get(i)).filter(|r| r.action == step.action);
                let mocked = CaseStep { expect: expect.clone(), ..step.clone() };
                let m = crate::mock::MockStep {
                    api,
                    protocol: p,
                    step: &mocked,
                    params: params.clone(),
                    bindings: &b.bindings,
                    replay,
                    seq: seq * 100 + i as u64,
                };
                crate::mock::mount_step(s, m).await;
            }
            let creds = match step.auth {
                Auth::Valid => b.creds.clone(),
                Auth::BadSignature => Credentials { secret: format!("{}-wrong", b.creds.secret), ..b.creds.clone() },
                Auth::UnknownAccessKey => {
                    Credentials { access_key_id: "APICONFORMUNKNOWNKEY".into(), ..b.creds.clone() }
                }
                Auth::SessionToken => {
                    Credentials { session_token: Some(format!("apiconform-sts-{seq}")), ..b.creds.clone() }
                }
            };
            let limit = if step.action == api.action { api.contract.rate_limit.as_ref() } else { None };
            let live = target == Target::Live;
            if live {
                for (k, v) in live::implicit_params(&api.vendor, &b.region) {
                    if !params.iter().any(|(n, _)| *n == k) {
                        params.push((k, v));
                    }
                }
            }
            // Live retries must be safe: a mutating call that takes a
            // ClientToken gets one when the case sets none, so a retried 5xx
            // cannot apply twice.
            let takes_token = api.contract.params.contains_key("ClientToken") && step.action == api.action;
            if live && takes_token && !params.iter().any(|(k, _)| k == "ClientToken") {
                params.push(("ClientToken".into(), format!("{CREATED_PREFIX}{}-{seq}-{i}", self.run_tag)));
            }
            if live && step.action == "CreateSnapshot" && !params.iter().any(|(k, _)| k == "SnapshotName") {
                params.push(("SnapshotName".into(), format!("{CREATED_PREFIX}{}-{seq}-{i}", self.run_tag)));
            }
            // A `repeat: N` step is sent N times, each answer checked; only
            // the last exchange stays in the transcript.
            let before_repeats = out.failures.len();
            for k in 1..step.repeat {
                let mark = (out.transcript.len(), out.recorded.len(), out.observed.len());
                match self.exchange(p, b, &creds, step, &params, limit, live, redactor, out).await {
                    Ok((_, n)) => check(&format!("{} (#{k})", step.name), &expect, &n, &b.bindings, &mut out.failures),
                    Err(e) => out.failures.push(format!("{} (#{k}): request failed: {e}", step.name)),
                }
                out.transcript.truncate(mark.0);
                out.recorded.truncate(mark.1);
                out.observed.truncate(mark.2);
                if out.failures.len() > before_repeats {
                    break;
                }
            }
            if out.failures.len() > before_repeats {
                break;
            }
            if step.repeat > 1 {
                let _ = writeln!(out.transcript, "\n({} sent {} times; the last is shown)", step.name, step.repeat);
            }
            let sent = self.exchange(p, b, &creds, step, &params, limit, live, redactor, out).await;
            let (resp, n) = match sent {
                Ok(x) => x,
                Err(e) => {
                    out.failures.push(format!("{}: request failed: {e}", step.name));
                    break;
                }
            };
            if live && step.action == "CreateSnapshot" && n.status < 300 {
                if let Some(id) = n.body.get("SnapshotId").and_then(|v| v.as_str()) {
                    let c = Created {
                        vendor: api.vendor.clone(),
                        what: format!("snapshot {id}"),
                        delete: ("DeleteSnapshot".into(), vec![("SnapshotId".into(), id.to_string())]),
                    };
                    self.created.lock().unwrap_or_else(|e| e.into_inner()).push(c.clone());
                    created.push(c);
                }
            }
            let before = out.failures.len();
            check(&step.name, &expect, &n, &b.bindings, &mut out.failures);
            if target == Target::Mock && resp.status == 404 && resp.body.is_empty() && out.failures.len() > before {
                out.failures.push(format!(
                    "{}: the mock had no response for this request: its action, version, parameters or signature did not match the case",
                    step.name
                ));
            }
            save(step, &n, &mut b.bindings, &mut out.failures);
            if out.failures.len() > before {
                break;
            }
        }
        // Whatever the trial created is deleted, pass or fail.
        for c in created {
            match self.call(p, b, &c.delete, redactor, out).await {
                Ok(n) if n.status < 300 || n.status == 404 => self.forget(&c),
                Ok(n) => out.failures.push(format!(
                    "cleanup of {}: HTTP {} {}",
                    c.what,
                    n.status,
                    n.code.unwrap_or_default()
                )),
                Err(e) => out.failures.push(format!("cleanup of {}: {e}", c.what)),
            }
        }
    }

    fn forget(&self, c: &Created) {
        self.created.lock().unwrap_or_else(|e| e.into_inner()).retain(|x| x != c);
    }

    /// The live binding of a vendor for set-up and clean-up calls.
    fn live_binding(&self, vendor: &str) -> Option<Binding> {
        let v = self.live.as_ref()?.vendors.get(vendor)?;
        let (scheme, host) = v.scheme_and_host();
        Some(Binding {
            creds: v.credentials.clone()?,
            bindings: Bindings::default(),
            scheme: scheme.into(),
            host: host.into(),
            region: v.region.clone(),
            mock: None,
            staging: Vec::new(),
            system_disks: Vec::new(),
        })
    }

    /// Deletes everything this run created and has not deleted yet (on
    /// Ctrl-C, or at the end of a run). Returns what it did.
    pub fn cleanup_all(&self) -> Vec<String> {
        let pending: Vec<Created> = self.created.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut log = Vec::new();
        for c in pending {
            let (Some(p), Some(b)) = (protocol::for_vendor(&c.vendor), self.live_binding(&c.vendor)) else { continue };
            let mut out = TrialOutcome::default();
            let mut r = Redactor::new(&b.bindings);
            match self.rt.block_on(self.call(p, &b, &c.delete, &mut r, &mut out)) {
                Ok(n) if n.status < 300 || n.status == 404 => {
                    self.forget(&c);
                    log.push(format!("deleted {} {}", c.vendor, c.what));
                }
                Ok(n) => log.push(format!("could not delete {} {}: HTTP {}", c.vendor, c.what, n.status)),
                Err(e) => log.push(format!("could not delete {} {}: {e}", c.vendor, c.what)),
            }
        }
        log
    }

    /// On Ctrl-C, deletes what the run created, then exits with status 130.
    pub fn cleanup_on_interrupt(self: &std::sync::Arc<Harness>) {
        let h = self.clone();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
                h.interrupted.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupted: deleting what this run created");
                for line in h.cleanup_all() {
                    eprintln!("  {line}");
                }
                std::process::exit(130);
            }
        });
    }

    /// Finds what earlier runs left behind (resources named
    /// `apiconform-...`) on every configured live account and deletes it,
    /// or with `dry_run` only lists it.
    pub fn sweep(&self, dry_run: bool) -> Vec<String> {
        let mut log = Vec::new();
        let Some(cfg) = &self.live else { return log };
        for (vendor, v) in &cfg.vendors {
            if let Some(reason) = &v.skip {
                log.push(format!("{vendor}: skipped ({reason})"));
                continue;
            }
            let Some(sw) = crate::vendor::get(vendor).and_then(|v| v.sweep.as_ref()) else {
                log.push(format!("{vendor}: nothing to sweep (the harness creates no resources there)"));
                continue;
            };
            let (Some(p), Some(b)) = (protocol::for_vendor(vendor), self.live_binding(vendor)) else { continue };
            let mut out = TrialOutcome::default();
            let mut r = Redactor::new(&b.bindings);
            // Every page: a long-lived account may hold many snapshots.
            let mut snaps = Vec::new();
            for page in 1.. {
                let list = (
                    sw.list_action.to_string(),
                    vec![
                        (sw.page_size_param.to_string(), "100".to_string()),
                        (sw.page_number_param.to_string(), page.to_string()),
                    ],
                );
                let n = match self.rt.block_on(self.call(p, &b, &list, &mut r, &mut out)) {
                    Ok(n) if n.status < 300 => n,
                    Ok(n) => {
                        log.push(format!("{vendor}: {} answered HTTP {}", sw.list_action, n.status));
                        break;
                    }
                    Err(e) => {
                        log.push(format!("{vendor}: {e}"));
                        break;
                    }
                };
                let got = n.body.pointer(sw.items).and_then(|v| v.as_array()).cloned().unwrap_or_default();
                let total = n.body.get(sw.total).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
                let last = got.len() < 100 || snaps.len() + got.len() >= total || page >= 1000;
                snaps.extend(got);
                if last {
                    break;
                }
            }
            for snap in snaps {
                let (Some(id), Some(name)) = (snap[sw.id_field].as_str(), snap[sw.name_field].as_str()) else {
                    continue;
                };
                if !name.starts_with(CREATED_PREFIX) {
                    continue;
                }
                if dry_run {
                    log.push(format!("would delete {vendor} {} {id} ({name})", sw.noun));
                    continue;
                }
                let del = (sw.delete_action.to_string(), vec![(sw.id_param.to_string(), id.to_string())]);
                match self.rt.block_on(self.call(p, &b, &del, &mut r, &mut out)) {
                    Ok(n) if n.status < 300 => log.push(format!("deleted {vendor} {} {id} ({name})", sw.noun)),
                    Ok(n) => log.push(format!("could not delete {vendor} {} {id}: HTTP {}", sw.noun, n.status)),
                    Err(e) => log.push(format!("could not delete {vendor} {} {id}: {e}", sw.noun)),
                }
            }
        }
        log
    }

    /// Signs, schedules, sends and decodes one step; live requests are held
    /// to the documented rate and retried on throttling and 5xx answers
    /// with backoff, with the same parameters (and so the same ClientToken).
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        p: &'static dyn Protocol,
        b: &Binding,
        creds: &Credentials,
        step: &CaseStep,
        params: &[(String, String)],
        limit: Option<&crate::contract::RateLimit>,
        live: bool,
        redactor: &mut Redactor,
        out: &mut TrialOutcome,
    ) -> Result<(HttpResponse, Normalized), String> {
        let attempts = if live { 4 } else { 1 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            if live && self.interrupted.load(Ordering::SeqCst) && step.action != "DeleteSnapshot" {
                return Err("interrupted (Ctrl-C): no further live requests".into());
            }
            if let (true, Some(l)) = (live, limit) {
                self.admit(&format!("{}/{}", p.vendor(), step.action), l).await;
            }
            let nonce = self.fresh_nonce();
            let call = Call {
                action: &step.action,
                version: &step.version,
                params,
                wire: &step.wire,
                host: &b.host,
                region: &b.region,
                now: crate::clock::now_secs(),
                nonce: &nonce,
            };
            let req = p.encode(&call, creds);
            redactor.learn_request(&req);
            let resp = match self.send(&req, &b.scheme).await {
                Ok(r) => r,
                Err(e) if attempt < attempts && (e.unsent || !creates_twice(&step.action, params)) => {
                    let wait = self.backoff(&HttpResponse::default(), attempt);
                    retry_later(out, step, attempt, format!("failed: {}", e.message), "", wait).await;
                    continue;
                }
                Err(e) if attempt > 1 => return Err(format!("{} (attempt {attempt} of {attempts})", e.message)),
                Err(e) => return Err(e.message),
            };
            let n = p.decode(&resp);
            if attempt < attempts && retryable(&n, &step.action, params) {
                let wait = self.backoff(&resp, attempt);
                let token = params.iter().find(|(k, _)| k == "ClientToken").map(|(_, v)| v.as_str());
                let what = format!("got HTTP {} {}", n.status, n.code.as_deref().unwrap_or("(no code)"));
                let same = token.map(|t| format!(" with the same ClientToken {t}")).unwrap_or_default();
                retry_later(out, step, attempt, what, &same, wait).await;
                continue;
            }
            let _ = writeln!(
                out.transcript,
                "\n{} {}\nrequest:\n{}",
                step.name,
                step.action,
                redactor.request(&req).trim_end()
            );
            let _ = writeln!(out.transcript, "response:\n{}", redactor.response(&n).trim_end());
            out.recorded.push(RecordedStep {
                name: step.name.clone(),
                action: step.action.clone(),
                request: redactor.request(&req),
                status: n.status,
                code: n.code.clone(),
                message: n.message.as_deref().map(|m| redactor.text(m)),
                body: redactor.value(&n.body),
            });
            out.observed.push(Observed {
                action: step.action.clone(),
                status: n.status,
                code: n.code.clone(),
                message: n.message.clone(),
            });
            return Ok((resp, n));
        }
    }

    /// A nonce unique across trials, runs and processes (it must not repeat
    /// within the vendor's 15-minute window, even from parallel CI shards).
    fn fresh_nonce(&self) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let n = self.nonces.fetch_add(1, Ordering::Relaxed);
        protocol::hex_id(nanos.rotate_left(17) ^ n ^ ((std::process::id() as u64) << 40))
    }

    /// Waits until the documented rate limit admits one more request.
    async fn admit(&self, key: &str, l: &crate::contract::RateLimit) {
        loop {
            let wait = {
                let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
                let w = limits
                    .entry(key.to_string())
                    .or_insert_with(|| SlidingWindow::new((l.requests / self.rate_share).max(1), scheduling_window(l)));
                match w.try_admit(std::time::Instant::now()) {
                    Ok(()) => return,
                    Err(wait) => wait,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff(&self, resp: &HttpResponse, attempt: u64) -> Duration {
        if let Some(ms) = resp.header("x-acs-retry-after").and_then(|v| v.parse::<u64>().ok()) {
            return Duration::from_millis(ms.min(30_000));
        }
        let base = self.live.as_ref().map(|c| c.backoff_ms).unwrap_or(1000);
        Duration::from_millis(base.saturating_mul(1 << (attempt - 1).min(6)))
    }

    /// Brings an instance to `status` with the vendor's set-up calls, then
    /// polls its Describe call until it is there (bounded).
    async fn stage(
        &self,
        p: &'static dyn Protocol,
        api: &Api,
        b: &Binding,
        fixture: &str,
        status: &str,
        out: &mut TrialOutcome,
    ) -> Result<(), String> {
        let id = b.bindings.resolve(&format!("${{{fixture}.id}}"));
        let calls = live::staging_calls(&api.vendor, &id, status);
        let mut redactor = Redactor::new(&b.bindings);
        let poll_ms = self.live.as_ref().map(|c| c.poll_ms).unwrap_or(5000);
        let describe = self.call(p, b, &calls.describe, &mut redactor, out).await?;
        if calls.is_there(&describe) {
            return Ok(());
        }
        let changed = self.call(p, b, &calls.change, &mut redactor, out).await?;
        if changed.status >= 300 {
            return Err(format!(
                "{} answered HTTP {} {}",
                calls.change.0,
                changed.status,
                changed.code.unwrap_or_default()
            ));
        }
        for _ in 0..live::MAX_POLLS {
            tokio::time::sleep(Duration::from_millis(poll_ms)).await;
            let d = self.call(p, b, &calls.describe, &mut redactor, out).await?;
            if calls.is_there(&d) {
                return Ok(());
            }
        }
        Err(format!("still not {status} after {} polls", live::MAX_POLLS))
    }

    /// One support call (action, params) with the trial's credentials.
    async fn call(
        &self,
        p: &'static dyn Protocol,
        b: &Binding,
        (action, params): &(String, Vec<(String, String)>),
        redactor: &mut Redactor,
        out: &mut TrialOutcome,
    ) -> Result<Normalized, String> {
        let version = crate::vendor::get(p.vendor()).map_or("2014-05-26", |v| v.version_of(action));
        let mut params = params.clone();
        for (k, v) in live::implicit_params(p.vendor(), &b.region) {
            if !params.iter().any(|(n, _)| *n == k) {
                params.push((k, v));
            }
        }
        let step = CaseStep {
            name: "stage".into(),
            action: action.clone(),
            version: version.into(),
            params: params.clone(),
            wire: Default::default(),
            auth: Auth::Valid,
            repeat: 1,
            expect: CheckedExpect {
                status: 200,
                code: None,
                message: None,
                message_contains: None,
                assumed: None,
                body: Default::default(),
                documented: Vec::new(),
            },
            save: Default::default(),
        };
        let creds = b.creds.clone();
        let n = self.exchange(p, b, &creds, &step, &params, None, true, redactor, out).await.map(|(_, n)| n);
        // Set-up calls are not the case's steps: they are not recorded.
        out.recorded.pop();
        n
    }

    async fn send(&self, req: &HttpRequest, scheme: &str) -> Result<HttpResponse, SendError> {
        let host = req.header("host").unwrap_or("127.0.0.1");
        let q = req.query_string();
        let url = if q.is_empty() {
            format!("{scheme}://{host}{}", req.path)
        } else {
            format!("{scheme}://{host}{}?{q}", req.path)
        };
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| SendError { message: e.to_string(), unsent: true })?;
        let mut b = self.client.request(method, url);
        if let Some(cfg) = &self.live {
            b = b.timeout(cfg.request_timeout);
        }
        for (k, v) in &req.headers {
            if !k.eq_ignore_ascii_case("host") {
                b = b.header(k.as_str(), v.as_str());
            }
        }
        // Without the URL: a V1 request carries its signature and access key
        // in the query string.
        let r = b.body(req.body.clone()).send().await.map_err(|e| self.transport_error(e))?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = r.bytes().await.map_err(|e| self.transport_error(e))?.to_vec();
        Ok(HttpResponse { status, headers, body })
    }

    /// A transport error with its cause ("Connection refused", "timed out
    /// after 30 s") and without the URL: a V1 request carries its signature
    /// and access key in the query string.
    fn transport_error(&self, e: reqwest::Error) -> SendError {
        let unsent = e.is_connect();
        let e = e.without_url();
        let timeouts = self.live.as_ref().map(|c| (c.connect_timeout, c.request_timeout));
        let message = match timeouts {
            Some((connect, _)) if e.is_timeout() && unsent => {
                format!("could not connect: timed out after {}", human(connect))
            }
            Some((_, request)) if e.is_timeout() => format!("timed out after {} (no complete answer)", human(request)),
            _ => {
                let mut parts = vec![e.to_string()];
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    let text = s.to_string();
                    if !parts.iter().any(|p| p.contains(&text)) {
                        parts.push(text);
                    }
                    source = s.source();
                }
                parts.join(": ")
            }
        };
        SendError { message, unsent }
    }
}

/// Reports a retry (in the trial's retries and transcript), then waits.
async fn retry_later(out: &mut TrialOutcome, step: &CaseStep, attempt: u64, what: String, note: &str, wait: Duration) {
    out.retries.push(format!(
        "{} {}: attempt {attempt} {what}; retrying in {} ms{note}",
        step.name,
        step.action,
        wait.as_millis()
    ));
    let _ = writeln!(out.transcript, "\n{} {} (attempt {attempt}, retried)", step.name, step.action);
    tokio::time::sleep(wait).await;
}

/// Why a request got no answer.
struct SendError {
    message: String,
    /// The request never left (the connection could not be opened), so
    /// sending it again cannot do anything twice.
    unsent: bool,
}

/// `30 s`, `1.5 s`, `200 ms`.
fn human(d: Duration) -> String {
    match d.as_millis() {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        _ => format!("{:.1} s", d.as_secs_f64()),
    }
}

/// A call that creates a resource without a ClientToken: if it reached the
/// cloud, running it again would leave a second, untracked resource.
fn creates_twice(action: &str, params: &[(String, String)]) -> bool {
    action.starts_with("Create") && !params.iter().any(|(k, _)| k == "ClientToken")
}

/// The window the live scheduler keeps to: the documented one plus a
/// margin (a tenth, and 200 ms), because requests reach the cloud with
/// jitter and the cloud counts arrivals, not departures.
fn scheduling_window(l: &crate::contract::RateLimit) -> Duration {
    let documented = Duration::from_secs(l.per_seconds as u64);
    documented + documented / 10 + Duration::from_millis(200)
}

/// With DryRun, an expected success becomes the API's documented DryRun
/// answer; an expected error stays (the checks run before DryRun answers).
fn dry_run_expectation(api: &Api, e: &CheckedExpect) -> CheckedExpect {
    if e.status >= 300 {
        return e.clone();
    }
    let documented: Vec<_> = api.contract.errors_for("DryRunOperation").cloned().collect();
    match documented.first() {
        Some(d) => CheckedExpect {
            status: d.status,
            code: Some(d.code.clone()),
            message: None,
            message_contains: None,
            assumed: e.assumed.clone(),
            body: Default::default(),
            documented: documented.clone(),
        },
        None => e.clone(),
    }
}

/// Throttling is retried (live only): the call was refused, not run. A 5xx
/// is retried unless running the call twice could do something twice: a
/// call that creates a resource (`Create*`) without a ClientToken would
/// leave a second, untracked one. Nothing else is retried.
fn retryable(n: &Normalized, action: &str, params: &[(String, String)]) -> bool {
    if n.status == 429 || n.code.as_deref().is_some_and(crate::vendor::is_throttling) {
        return true;
    }
    n.status >= 500 && !creates_twice(action, params)
}

/// A documented message with `%s` placeholders as a matcher.
/// A message ending in `:` without placeholders (Alibaba's `server string to
/// sign is:`) is a prefix, as the emulator appends to it.
pub fn message_matches(template: &str, got: &str) -> bool {
    if !template.contains("%s") && template.ends_with(':') {
        return got.starts_with(template);
    }
    let parts: Vec<String> = template.split("%s").map(regex::escape).collect();
    regex::Regex::new(&format!("^{}$", parts.join("(?s:.*)"))).is_ok_and(|re| re.is_match(got))
}

/// A dotted path into a body; numeric parts index arrays (`Disks.Disk.0.Status`).
fn lookup<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |v, k| match (v, k.parse::<usize>()) {
        (Value::Array(a), Ok(i)) => a.get(i),
        _ => v.get(k),
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares a response with an expectation; appends readable failures.
pub fn check(step: &str, e: &CheckedExpect, n: &Normalized, b: &Bindings, failures: &mut Vec<String>) {
    let got = format!(
        "got HTTP {} code {} message {:?}",
        n.status,
        n.code.as_deref().unwrap_or("(none)"),
        n.message.as_deref().unwrap_or("")
    );
    if n.status != e.status || n.code != e.code {
        failures.push(format!(
            "{step}: expected HTTP {} code {}\n{:>w$}{got}",
            e.status,
            e.code.as_deref().unwrap_or("(none: a success)"),
            "",
            w = step.len() + 2
        ));
    }
    let msg = n.message.as_deref().unwrap_or("");
    if let Some(m) = &e.message {
        if msg != m {
            failures.push(format!(
                "{step}: expected message {m:?}\n{:>width$}got message {msg:?}",
                "",
                width = step.len() + 2
            ));
        }
    } else if e.code.is_some()
        && e.code == n.code
        && !e.documented.is_empty()
        && !e.documented.iter().any(|d| message_matches(&d.message, msg))
    {
        let docs: Vec<&str> = e.documented.iter().map(|d| d.message.as_str()).collect();
        failures.push(format!("{step}: message {msg:?} is not the documented {docs:?}"));
    }
    if let Some(c) = &e.message_contains {
        if !msg.contains(c.as_str()) {
            failures.push(format!("{step}: expected the message to contain {c:?}, {got}"));
        }
    }
    for (path, c) in &e.body {
        let v = lookup(&n.body, path);
        let txt = v.map(text_of);
        if let Some(want) = c.exists {
            if v.is_some() != want {
                failures.push(format!(
                    "{step}: body.{path}: expected {}, body is {}",
                    if want { "present" } else { "absent" },
                    n.body
                ));
            }
        }
        if let Some(eq) = &c.equals {
            let want = b.resolve(eq);
            if txt.as_deref() != Some(want.as_str()) {
                failures.push(format!("{step}: body.{path}: expected {want:?}, got {txt:?}"));
            }
        }
        if let Some(ne) = &c.not_equals {
            let other = b.resolve(ne);
            if txt.as_deref() == Some(other.as_str()) {
                failures.push(format!("{step}: body.{path}: expected a value other than {other:?}"));
            }
        }
        if let Some(re) = &c.matches {
            let ok = crate::case::body_regex(re).is_ok_and(|r| txt.as_deref().is_some_and(|t| r.is_match(t)));
            if !ok {
                failures.push(format!("{step}: body.{path}: {txt:?} does not match /{re}/"));
            }
        }
    }
}

pub fn save(step: &CaseStep, n: &Normalized, b: &mut Bindings, failures: &mut Vec<String>) {
    for (var, path) in &step.save {
        match lookup(&n.body, path) {
            Some(v) => {
                b.saved.insert(var.clone(), text_of(v));
            }
            None => failures.push(format!("{}: cannot save `{var}`: the response has no `{path}`", step.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_calls_are_retried() {
        let answer = |status: u16, code: &str| Normalized {
            status,
            code: Some(code.to_string()),
            message: None,
            request_id: None,
            body: Value::Null,
        };
        let token = vec![("ClientToken".to_string(), "t".to_string())];
        assert!(retryable(&answer(400, "Throttling.User"), "CreateSnapshot", &[]));
        assert!(retryable(&answer(400, "ThrottlingException"), "ModifyInstanceImage", &[]));
        assert!(retryable(&answer(503, "ServiceUnavailable"), "ResetDisk", &[]));
        assert!(retryable(&answer(503, "ServiceUnavailable"), "CreateSnapshot", &token));
        assert!(!retryable(&answer(503, "ServiceUnavailable"), "CreateSnapshot", &[]));
        assert!(!retryable(&answer(403, "IncorrectInstanceStatus"), "ReplaceSystemDisk", &token));
    }

    #[test]
    fn documented_placeholders_match_anything() {
        assert!(message_matches("The accesskey [%s] included", "The accesskey [AK1] included"));
        assert!(!message_matches("The accesskey [%s] included", "The accesskey [AK1] excluded"));
        assert!(message_matches("a.b", "a.b"));
        assert!(!message_matches("a.b", "axb"));
        assert!(message_matches("sign is:", "sign is:GET&"));
        assert!(!message_matches("sign is:", "sign was:GET&"));
    }
}
