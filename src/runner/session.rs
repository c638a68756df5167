//! The live session: what running against a real account needs beyond
//! sending requests. Binding the inventory, staging instance status,
//! binding system disks, the documented rate limit, retries with backoff,
//! deleting what a trial created, and sweeping what earlier runs left.
//!
//! Why apart: these are the safety rules of the live target (no request
//! above the documented rate, no retry that could act twice, nothing left
//! behind on an account); the offline targets never reach this code.

use super::transport::{Binding, Channel, Request};
use super::trial::Trial;
use super::verdict::lookup;
use super::{Harness, TrialOutcome};
use crate::case::Auth;
use crate::contract::RateLimit;
use crate::live;
use crate::normalize::Redactor;
use crate::protocol::{HttpResponse, Normalized};
use crate::recording::Recording;
use crate::suite::{CaseStep, CheckedExpect};
use crate::template::Bindings;
use crate::vendor::Sweep;
use crate::window::SlidingWindow;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The name prefix of everything the harness creates on a live account.
pub const CREATED_PREFIX: &str = "apiconform-";

/// A resource the harness created on a live account: how to delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub vendor: String,
    pub what: String,
    pub delete: (String, Vec<(String, String)>),
}

/// A support call: (action, parameters).
type SupportCall = (String, Vec<(String, String)>);

impl Harness {
    pub(super) fn backoff(&self, resp: &HttpResponse, attempt: u64) -> Duration {
        if let Some(ms) = resp.header("x-acs-retry-after").and_then(|v| v.parse::<u64>().ok()) {
            return Duration::from_millis(ms.min(30_000));
        }
        let base = self.live.as_ref().map(|c| c.backoff_ms).unwrap_or(1000);
        Duration::from_millis(base.saturating_mul(1 << (attempt - 1).min(6)))
    }

    /// Waits until the documented rate limit admits one more request.
    pub(super) async fn admit(&self, key: &str, l: &RateLimit) {
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

    /// Stages every fixture the case needs in a status, then binds the
    /// system disks the case names. False when the trial cannot go on.
    pub(super) async fn stage_all(&self, t: &mut Trial<'_>) -> bool {
        for (fixture, status) in t.b.staging.clone() {
            if let Err(e) = self.stage(t, &fixture, &status).await {
                t.out.failures.push(format!("staging `{fixture}` to {status}: {e}"));
                return false;
            }
        }
        for (disk, instance) in t.b.system_disks.clone() {
            if let Err(e) = self.bind_system_disk(t, &disk, &instance).await {
                t.out.failures.push(e);
                return false;
            }
        }
        true
    }

    /// Brings an instance to `status` with the vendor's set-up calls, then
    /// polls its Describe call until it is there (bounded).
    async fn stage(&self, t: &mut Trial<'_>, fixture: &str, status: &str) -> Result<(), String> {
        let id = t.b.bindings.resolve(&format!("${{{fixture}.id}}"));
        let calls = live::staging_calls(&t.api.vendor, &id, status);
        let mut redactor = Redactor::new(&t.b.bindings);
        let mut ch = Channel { p: t.p, b: &t.b, redactor: &mut redactor, out: &mut t.out };
        let poll_ms = self.live.as_ref().map(|c| c.poll_ms).unwrap_or(5000);
        let describe = self.call(&mut ch, &calls.describe).await?;
        if calls.is_there(&describe) {
            return Ok(());
        }
        let changed = self.call(&mut ch, &calls.change).await?;
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
            let d = self.call(&mut ch, &calls.describe).await?;
            if calls.is_there(&d) {
                return Ok(());
            }
        }
        Err(format!("still not {status} after {} polls", live::MAX_POLLS))
    }

    /// Asks the cloud for the system disk of `instance` and binds it as
    /// `${disk.id}` (a replacement releases it, so no inventory lists it).
    async fn bind_system_disk(&self, t: &mut Trial<'_>, disk: &str, instance: &str) -> Result<(), String> {
        let id = t.b.bindings.resolve(&format!("${{{instance}.id}}"));
        let (describe, path) = live::system_disk_call(&id);
        // Its own redactor: the disk's ID is about to become a fixture
        // (`${system_disk.id}`), not a numbered token of this trial.
        let mut scratch = Redactor::new(&t.b.bindings);
        scratch.add_credentials(&t.b.creds);
        let mut ch = Channel { p: t.p, b: &t.b, redactor: &mut scratch, out: &mut t.out };
        let found = match self.call(&mut ch, &describe).await {
            Ok(n) => lookup(&n.body, path).and_then(|v| v.as_str().map(str::to_string)),
            Err(e) => return Err(format!("finding the system disk of `{instance}`: {e}")),
        };
        let Some(disk_id) = found else {
            return Err(format!("`{instance}` has no system disk to bind `{disk}` to"));
        };
        t.redactor.add(&disk_id, &format!("${{{disk}.id}}"));
        t.b.bindings.fixtures.insert(format!("{disk}.id"), disk_id);
        Ok(())
    }

    /// The parameters a live step gets beyond the case's: the vendor's
    /// implicit ones, a ClientToken where the API takes one (so a retried
    /// 5xx cannot apply twice) and a name for what it creates.
    pub(super) fn live_params(&self, t: &Trial<'_>, i: usize, step: &CaseStep, params: &mut Vec<(String, String)>) {
        for (k, v) in live::implicit_params(&t.api.vendor, &t.b.region) {
            if !params.iter().any(|(n, _)| *n == k) {
                params.push((k, v));
            }
        }
        let name = format!("{CREATED_PREFIX}{}-{}-{i}", self.run_tag, t.seq);
        let takes_token = t.api.contract.params.contains_key("ClientToken") && step.action == t.api.action;
        if takes_token && !params.iter().any(|(k, _)| k == "ClientToken") {
            params.push(("ClientToken".into(), name.clone()));
        }
        if step.action == "CreateSnapshot" && !params.iter().any(|(k, _)| k == "SnapshotName") {
            params.push(("SnapshotName".into(), name));
        }
    }

    /// Notes what a live step created, to delete it at the end of the trial
    /// (or of the run, or on Ctrl-C).
    pub(super) fn track_created(&self, t: &mut Trial<'_>, step: &CaseStep, n: &Normalized) {
        if step.action != "CreateSnapshot" || n.status >= 300 {
            return;
        }
        if let Some(id) = n.body.get("SnapshotId").and_then(|v| v.as_str()) {
            let c = Created {
                vendor: t.api.vendor.clone(),
                what: format!("snapshot {id}"),
                delete: ("DeleteSnapshot".into(), vec![("SnapshotId".into(), id.to_string())]),
            };
            self.created.lock().unwrap_or_else(|e| e.into_inner()).push(c.clone());
            t.created.push(c);
        }
    }

    /// Deletes whatever the trial created, pass or fail.
    pub(super) async fn clean_up(&self, t: &mut Trial<'_>) {
        for c in std::mem::take(&mut t.created) {
            let mut ch = Channel { p: t.p, b: &t.b, redactor: &mut t.redactor, out: &mut t.out };
            match self.call(&mut ch, &c.delete).await {
                Ok(n) if n.status < 300 || n.status == 404 => self.forget(&c),
                Ok(n) => t.out.failures.push(format!(
                    "cleanup of {}: HTTP {} {}",
                    c.what,
                    n.status,
                    n.code.unwrap_or_default()
                )),
                Err(e) => t.out.failures.push(format!("cleanup of {}: {e}", c.what)),
            }
        }
    }

    /// With `--record`, writes what the cloud answered beside the cases.
    pub(super) fn record(&self, t: &mut Trial<'_>) {
        if !self.record || t.out.skipped.is_some() || t.out.recorded.is_empty() {
            return;
        }
        let rec = Recording {
            recorded_at: crate::clock::iso8601(crate::clock::now_secs()),
            case: format!("{}::{}", t.api.path(), t.case.name),
            dry_run: t.case.targets.live_dry_run(),
            passed: t.out.failures.is_empty(),
            steps: t.out.recorded.clone(),
        };
        if let Err(e) = crate::recording::save(&self.recordings, t.api, &rec) {
            t.out.failures.push(format!("cannot write the recording: {e}"));
        }
    }

    /// One support call (action, params) with the trial's credentials.
    pub(super) async fn call(
        &self,
        ch: &mut Channel<'_>,
        (action, params): &SupportCall,
    ) -> Result<Normalized, String> {
        let version = crate::vendor::get(ch.p.vendor()).map_or("2014-05-26", |v| v.version_of(action));
        let mut params = params.clone();
        for (k, v) in live::implicit_params(ch.p.vendor(), &ch.b.region) {
            if !params.iter().any(|(n, _)| *n == k) {
                params.push((k, v));
            }
        }
        let step = support_step(action, version, &params);
        let creds = ch.b.creds.clone();
        let r = Request { step: &step, creds: &creds, params: &params, limit: None, live: true };
        let n = self.exchange(ch, &r).await.map(|(_, n)| n);
        // Set-up calls are not the case's steps: they are not recorded.
        ch.out.recorded.pop();
        n
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
            let (Some(p), Some(b)) = (crate::vendor::protocol_of(&c.vendor), self.live_binding(&c.vendor)) else {
                continue;
            };
            let mut out = TrialOutcome::default();
            let mut r = Redactor::new(&b.bindings);
            let mut ch = Channel { p, b: &b, redactor: &mut r, out: &mut out };
            match self.rt.block_on(self.call(&mut ch, &c.delete)) {
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
                    eprintln!("  {}", crate::term::clean(&line));
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
            let (Some(p), Some(b)) = (crate::vendor::protocol_of(vendor), self.live_binding(vendor)) else { continue };
            let mut out = TrialOutcome::default();
            let mut r = Redactor::new(&b.bindings);
            let mut ch = Channel { p, b: &b, redactor: &mut r, out: &mut out };
            self.sweep_account(&mut ch, vendor, sw, dry_run, &mut log);
        }
        log
    }

    fn sweep_account(&self, ch: &mut Channel<'_>, vendor: &str, sw: &Sweep, dry_run: bool, log: &mut Vec<String>) {
        for item in self.list_created(ch, vendor, sw, log) {
            let (Some(id), Some(name)) = (item[sw.id_field].as_str(), item[sw.name_field].as_str()) else {
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
            match self.rt.block_on(self.call(ch, &del)) {
                Ok(n) if n.status < 300 => log.push(format!("deleted {vendor} {} {id} ({name})", sw.noun)),
                Ok(n) => log.push(format!("could not delete {vendor} {} {id}: HTTP {}", sw.noun, n.status)),
                Err(e) => log.push(format!("could not delete {vendor} {} {id}: {e}", sw.noun)),
            }
        }
    }

    /// Every resource of the swept kind on the account, every page: a
    /// long-lived account may hold many.
    fn list_created(
        &self,
        ch: &mut Channel<'_>,
        vendor: &str,
        sw: &Sweep,
        log: &mut Vec<String>,
    ) -> Vec<serde_json::Value> {
        let mut items = Vec::new();
        for page in 1.. {
            let list = (
                sw.list_action.to_string(),
                vec![
                    (sw.page_size_param.to_string(), "100".to_string()),
                    (sw.page_number_param.to_string(), page.to_string()),
                ],
            );
            let n = match self.rt.block_on(self.call(ch, &list)) {
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
            let last = got.len() < 100 || items.len() + got.len() >= total || page >= 1000;
            items.extend(got);
            if last {
                break;
            }
        }
        items
    }
}

/// A set-up or clean-up call as a step that expects a success.
fn support_step(action: &str, version: &str, params: &[(String, String)]) -> CaseStep {
    CaseStep {
        name: "stage".into(),
        action: action.to_string(),
        version: version.into(),
        // The vendor's main service: staging calls are its actions.
        service: String::new(),
        params: params.to_vec(),
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
            at: None,
        },
        save: Default::default(),
    }
}

/// The window the live scheduler keeps to: the documented one plus a
/// margin (a tenth, and 200 ms), because requests reach the cloud with
/// jitter and the cloud counts arrivals, not departures.
fn scheduling_window(l: &RateLimit) -> Duration {
    let documented = Duration::from_secs(l.per_seconds as u64);
    documented + documented / 10 + Duration::from_millis(200)
}
