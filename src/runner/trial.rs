//! One trial as a value, and what differs between targets behind one trait.
//!
//! Why: the step loop is the same for every target. What differs (how
//! fixtures are bound, what happens before the first step, what a step
//! needs before it is sent, how it is carried, what is done with its
//! answer, and what is left to do at the end) is stated once per target in
//! a [`TargetKind`] impl, so the loop has no branch on the target. A step is
//! carried by our own signer over HTTP, except on the SDK target
//! (`sdk::trial`), where an official SDK's driver carries it.

use super::transport::{Binding, Channel, Request};
use super::verdict::{check, dry_run_expectation, save};
use super::{Harness, Target, TrialOutcome};
use crate::case::Auth;
use crate::contract::RateLimit;
use crate::live;
use crate::model::state::{IdAlloc, State};
use crate::normalize::Redactor;
use crate::protocol::{Credentials, HttpResponse, Normalized, Protocol};
use crate::recording::Recording;
use crate::suite::{Api, Case, CaseStep, CheckedExpect};
use crate::template::Bindings;
use crate::world::{Kind, WorldSpec};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// One case on one target, bound: what used to travel as ten arguments.
pub(crate) struct Trial<'a> {
    pub api: &'a Api,
    pub case: &'a Case,
    pub p: &'static dyn Protocol,
    /// Unique per trial in this process (mock IDs, session tokens, names).
    pub seq: u64,
    /// The API's own step is sent with DryRun.
    pub dry_run: bool,
    /// The passing live recording the mock replays.
    pub replay: Option<Recording>,
    pub b: Binding,
    pub redactor: Redactor,
    pub out: TrialOutcome,
    /// What this trial created on a live account, to delete at its end.
    pub created: Vec<super::Created>,
}

impl Trial<'_> {
    pub(crate) fn channel(&mut self) -> Channel<'_> {
        Channel { p: self.p, b: &self.b, redactor: &mut self.redactor, out: &mut self.out }
    }
}

/// A step as it is about to be sent.
pub(crate) struct Prepared<'a> {
    pub params: Vec<(String, String)>,
    pub expect: CheckedExpect,
    pub creds: Credentials,
    pub limit: Option<&'a RateLimit>,
}

/// How a step was carried: an answer to check, or why this target cannot
/// express the step (the trial stops, unsupported: never a pass).
pub(crate) enum Carried {
    Answer(HttpResponse, Normalized),
    Unsupported(String),
}

/// What differs between targets. The emulator, the mock, the live cloud
/// and the SDK target each implement it; [`Harness::run_on`] runs any of them.
pub(crate) trait TargetKind {
    /// The transcript's second line (`target: emulator`).
    fn heading(&self) -> String;
    /// Live requests are scheduled under the documented rate and retried.
    const LIVE: bool = false;

    /// Where and as whom the trial sends, or why it cannot run here.
    async fn bind(&self, h: &Harness, api: &Api, case: &Case, seq: u64) -> Result<Binding, String>;

    /// Before the first step; sets `t.dry_run`. False when the trial
    /// cannot go on (its failures say why).
    async fn prepare(&self, h: &Harness, t: &mut Trial<'_>, forced_dry_run: Option<bool>) -> bool;

    /// What a step needs on this target before it is sent.
    async fn before_send(&self, _h: &Harness, _t: &mut Trial<'_>, _i: usize, _step: &CaseStep, _s: &mut Prepared<'_>) {}

    /// Carries step `i` (each of a `repeat:`): by default our own signer,
    /// over HTTP, writing the exchange into the transcript.
    async fn carry(&self, h: &Harness, t: &mut Trial<'_>, _i: usize, r: &Request<'_>) -> Result<Carried, String> {
        h.exchange(&mut t.channel(), r).await.map(|(resp, n)| Carried::Answer(resp, n))
    }

    /// After a step's answer was checked (`failed`: the check failed).
    fn after_check(
        &self,
        _h: &Harness,
        _t: &mut Trial<'_>,
        _step: &CaseStep,
        _answer: (&HttpResponse, &Normalized),
        _failed: bool,
    ) {
    }

    /// After the last step, pass or fail.
    async fn finish(&self, _h: &Harness, _t: &mut Trial<'_>) {}

    /// A lock the trial holds while it runs, when trials on this target
    /// must not overlap.
    fn turn(&self, _h: &Harness, _vendor: &str) -> Option<Arc<Mutex<()>>> {
        None
    }
}

/// The in-process emulator: a fresh tenant per trial.
pub(crate) struct OnEmulator;
/// The wiremock mock: generated IDs, one mounted response per step.
pub(crate) struct OnMock;
/// The real cloud (or `apiconform serve` behind an endpoint override).
pub(crate) struct OnLive;

impl TargetKind for OnEmulator {
    fn heading(&self) -> String {
        format!("target: {}", Target::Emulator.name())
    }

    async fn bind(&self, h: &Harness, api: &Api, case: &Case, _seq: u64) -> Result<Binding, String> {
        let (creds, bindings) = h.emulator.create_tenant(&api.vendor, &case.world);
        Ok(Binding::loopback(creds, bindings, h.emulator_addr.to_string(), &api.vendor))
    }

    async fn prepare(&self, _h: &Harness, t: &mut Trial<'_>, forced_dry_run: Option<bool>) -> bool {
        // Parity runs the emulator the way a dry-run recording was made.
        t.dry_run = forced_dry_run.unwrap_or(false);
        true
    }
}

impl TargetKind for OnMock {
    fn heading(&self) -> String {
        format!("target: {}", Target::Mock.name())
    }

    async fn bind(&self, _h: &Harness, api: &Api, case: &Case, seq: u64) -> Result<Binding, String> {
        let (state, fixtures) = State::build(
            &api.vendor,
            crate::vendor::id_style(&api.vendor),
            1_000_000 + seq,
            &case.world,
            &IdAlloc::default(),
        );
        let mut bindings = Bindings { fixtures, ..Default::default() };
        for k in Kind::ALL {
            bindings.absent.insert(k.word().to_string(), state.absent_id(k));
        }
        let server = wiremock::MockServer::start().await;
        let host = server.address().to_string();
        let mut b = Binding::loopback(crate::mock::credentials(), bindings, host, &api.vendor);
        b.mock = Some(server);
        Ok(b)
    }

    /// Replays the case's live recording when it passed; the mock then
    /// runs DryRun the way the live target recorded it.
    async fn prepare(&self, h: &Harness, t: &mut Trial<'_>, _forced_dry_run: Option<bool>) -> bool {
        match crate::recording::load(&h.recordings, t.api, &t.case.name) {
            Some(r) if r.passed => {
                let _ = writeln!(t.out.transcript, "replaying: live recording of {}", r.recorded_at);
                t.replay = Some(r);
            }
            Some(r) => {
                let _ = writeln!(
                    t.out.transcript,
                    "not replaying: the live recording of {} failed the case (see `apiconform parity`)",
                    r.recorded_at
                );
            }
            None => {}
        }
        t.dry_run = t.replay.as_ref().is_some_and(|r| r.dry_run);
        true
    }

    async fn before_send(&self, _h: &Harness, t: &mut Trial<'_>, i: usize, step: &CaseStep, s: &mut Prepared<'_>) {
        let Some(server) = &t.b.mock else { return };
        let replay = t.replay.as_ref().and_then(|r| r.steps.get(i)).filter(|r| r.action == step.action);
        let mocked = CaseStep { expect: s.expect.clone(), ..step.clone() };
        let m = crate::mock::MockStep {
            api: t.api,
            protocol: t.p,
            step: &mocked,
            params: s.params.clone(),
            bindings: &t.b.bindings,
            region: &t.b.region,
            replay,
            seq: t.seq * 100 + i as u64,
        };
        crate::mock::mount_step(server, m).await;
    }

    fn after_check(
        &self,
        _h: &Harness,
        t: &mut Trial<'_>,
        step: &CaseStep,
        (resp, _): (&HttpResponse, &Normalized),
        failed: bool,
    ) {
        if failed && resp.status == 404 && resp.body.is_empty() {
            t.out.failures.push(format!(
                "{}: the mock had no response for this request: its action, version, parameters or signature did not match the case",
                step.name
            ));
        }
    }
}

impl TargetKind for OnLive {
    fn heading(&self) -> String {
        format!("target: {}", Target::Live.name())
    }
    const LIVE: bool = true;

    async fn bind(&self, h: &Harness, api: &Api, case: &Case, _seq: u64) -> Result<Binding, String> {
        let cfg = h.live.as_ref().ok_or("the live target is not configured")?;
        let plan = live::plan(api, case, cfg)?;
        let v = &cfg.vendors[&api.vendor];
        let creds = v.credentials.clone().ok_or("no credentials")?;
        let (scheme, host) = v.scheme_and_host();
        let state = State::build(
            &api.vendor,
            crate::vendor::id_style(&api.vendor),
            7,
            &WorldSpec::default(),
            &IdAlloc::default(),
        )
        .0;
        let absent = Kind::ALL.iter().map(|k| (k.word().to_string(), state.absent_id(*k))).collect();
        Ok(Binding {
            creds,
            bindings: Bindings { fixtures: plan.bindings, absent, ..Default::default() },
            scheme: scheme.to_string(),
            host: host.to_string(),
            region: v.region.clone(),
            mock: None,
            staging: plan.staging,
            system_disks: plan.system_disks,
        })
    }

    async fn prepare(&self, h: &Harness, t: &mut Trial<'_>, _forced_dry_run: Option<bool>) -> bool {
        t.dry_run = t.case.targets.live_dry_run();
        h.stage_all(t).await
    }

    async fn before_send(&self, h: &Harness, t: &mut Trial<'_>, i: usize, step: &CaseStep, s: &mut Prepared<'_>) {
        h.live_params(t, i, step, &mut s.params);
    }

    fn after_check(
        &self,
        h: &Harness,
        t: &mut Trial<'_>,
        step: &CaseStep,
        (_, n): (&HttpResponse, &Normalized),
        _failed: bool,
    ) {
        h.track_created(t, step, n);
    }

    async fn finish(&self, h: &Harness, t: &mut Trial<'_>) {
        h.clean_up(t).await;
        h.record(t);
    }

    /// One live trial at a time per vendor: its trials share the
    /// inventory's resources.
    fn turn(&self, h: &Harness, vendor: &str) -> Option<Arc<Mutex<()>>> {
        let mut turns = h.live_turns.lock().unwrap_or_else(|e| e.into_inner());
        Some(turns.entry(vendor.to_string()).or_default().clone())
    }
}

impl Harness {
    /// Runs one case on the target `k`. Never panics on a failing case.
    pub(crate) fn run_on<K: TargetKind>(&self, k: &K, api: &Api, case: &Case, dry_run: Option<bool>) -> TrialOutcome {
        let turn = k.turn(self, &api.vendor);
        let _turn = turn.as_ref().map(|t| t.lock().unwrap_or_else(|e| e.into_inner()));
        self.rt.block_on(self.run_trial(k, api, case, dry_run))
    }

    async fn run_trial<K: TargetKind>(&self, k: &K, api: &Api, case: &Case, dry_run: Option<bool>) -> TrialOutcome {
        let Some(p) = crate::vendor::protocol_of(&api.vendor) else {
            return TrialOutcome {
                failures: vec![format!("no protocol module for vendor `{}`", api.vendor)],
                ..Default::default()
            };
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let b = match k.bind(self, api, case, seq).await {
            Ok(b) => b,
            Err(reason) => return TrialOutcome { skipped: Some(reason), ..Default::default() },
        };
        let mut redactor = Redactor::new(&b.bindings);
        redactor.add_credentials(&b.creds);
        let out = TrialOutcome::default();
        let mut t = Trial { api, case, p, seq, dry_run: false, replay: None, b, redactor, out, created: Vec::new() };
        let _ = writeln!(t.out.transcript, "case: {}::{}\n{}", api.path(), case.name, k.heading());
        if k.prepare(self, &mut t, dry_run).await {
            for (i, step) in case.steps.iter().enumerate() {
                if !self.run_step(k, &mut t, i, step).await {
                    break;
                }
            }
        }
        k.finish(self, &mut t).await;
        // Failure lines quote what the server said (a string to sign, say)
        // and what was sent: they pass through the same redaction as the
        // transcript, so no credential reaches a report.
        let Trial { mut out, mut redactor, .. } = t;
        for line in out.failures.iter_mut().chain(out.retries.iter_mut()) {
            *line = redactor.text(line);
        }
        out
    }

    /// Sends one step (`repeat` times), checks its answer and saves its
    /// values. False when the trial stops here.
    async fn run_step<K: TargetKind>(&self, k: &K, t: &mut Trial<'_>, i: usize, step: &CaseStep) -> bool {
        let mut s = prepare_step(t, step);
        k.before_send(self, t, i, step, &mut s).await;
        let r = Request { step, creds: &s.creds, params: &s.params, limit: s.limit, live: K::LIVE };
        if !self.repeats(k, t, i, &r, &s.expect).await {
            return false;
        }
        if step.repeat > 1 {
            let _ = writeln!(t.out.transcript, "\n({} sent {} times; the last is shown)", step.name, step.repeat);
        }
        let (resp, n) = match k.carry(self, t, i, &r).await {
            Ok(Carried::Answer(resp, n)) => (resp, n),
            Ok(Carried::Unsupported(reason)) => {
                t.out.skipped = Some(reason);
                return false;
            }
            Err(e) => {
                t.out.failures.push(format!("{}: request failed: {e}", step.name));
                return false;
            }
        };
        let before = t.out.failures.len();
        check(&step.name, &s.expect, &n, &t.b.bindings, &mut t.out.failures);
        k.after_check(self, t, step, (&resp, &n), t.out.failures.len() > before);
        save(step, &n, &mut t.b.bindings, &mut t.out.failures);
        t.out.failures.len() == before
    }

    /// A `repeat: N` step is sent N times, each answer checked; only the
    /// last exchange (sent by the caller) stays in the transcript. False
    /// when one of the first N-1 failed.
    async fn repeats<K: TargetKind>(
        &self,
        kind: &K,
        t: &mut Trial<'_>,
        i: usize,
        r: &Request<'_>,
        expect: &CheckedExpect,
    ) -> bool {
        let before = t.out.failures.len();
        for k in 1..r.step.repeat {
            let mark = (t.out.transcript.len(), t.out.recorded.len(), t.out.observed.len());
            let name = format!("{} (#{k})", r.step.name);
            match kind.carry(self, t, i, r).await {
                Ok(Carried::Answer(_, n)) => check(&name, expect, &n, &t.b.bindings, &mut t.out.failures),
                Ok(Carried::Unsupported(reason)) => {
                    t.out.skipped = Some(reason);
                    return false;
                }
                Err(e) => t.out.failures.push(format!("{name}: request failed: {e}")),
            }
            t.out.transcript.truncate(mark.0);
            t.out.recorded.truncate(mark.1);
            t.out.observed.truncate(mark.2);
            if t.out.failures.len() > before {
                return false;
            }
        }
        true
    }
}

/// The step's parameters resolved against the trial's bindings, with DryRun
/// where the trial runs dry, its expectation, and the credentials its
/// `auth:` asks for.
fn prepare_step<'a>(t: &Trial<'a>, step: &CaseStep) -> Prepared<'a> {
    let mut params: Vec<(String, String)> =
        step.params.iter().map(|(k, v)| (k.clone(), t.b.bindings.resolve(v))).collect();
    let dry_run = t.dry_run && step.action == t.api.action;
    if dry_run && !params.iter().any(|(k, _)| k == "DryRun") {
        params.push(("DryRun".into(), "true".into()));
    }
    let expect = if dry_run { dry_run_expectation(t.api, &step.expect) } else { step.expect.clone() };
    let base = &t.b.creds;
    let creds = match step.auth {
        Auth::Valid => base.clone(),
        Auth::BadSignature => Credentials { secret: format!("{}-wrong", base.secret), ..base.clone() },
        Auth::UnknownAccessKey => Credentials { access_key_id: "APICONFORMUNKNOWNKEY".into(), ..base.clone() },
        Auth::SessionToken => Credentials { session_token: Some(format!("apiconform-sts-{}", t.seq)), ..base.clone() },
    };
    let limit = if step.action == t.api.action { t.api.contract.rate_limit.as_ref() } else { None };
    Prepared { params, expect, creds, limit }
}
