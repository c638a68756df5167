//! The stateful emulator: real HTTP, real signatures, the vendors' own bodies.
//!
//! One request takes this path ([`Emulator::handle`]):
//! 1. the protocol module that recognizes the request authenticates and
//!    parses it (signature, time window, nonce) or rejects it with the
//!    vendor's common error;
//! 2. the tenant is found from the access key: each access key belongs to one
//!    tenant, and each trial gets its own, so parallel trials never see each
//!    other's state;
//! 3. the action's business rule ([`rules`]) runs against the tenant's
//!    [`state::State`];
//! 4. an error code is turned into status and message from the contract
//!    (`api.yaml`, else `common-errors.yaml`), and the protocol module renders
//!    the body.
//!
//! [`Emulator::handle`] is plain synchronous code; [`server`] puts it behind
//! hyper on a TCP listener, with resource limits.

pub mod control;
pub mod head;
pub mod nonces;
pub mod server;
pub mod wiretap;

use crate::contract::{CommonErrors, Contract, DocumentedError};
use crate::model::{rules, state};
use crate::protocol::{Credentials, ErrorReply, HttpRequest, HttpResponse, Inbound, KeyStore, Protocol, ReplyCtx};
use crate::template::Bindings;
use crate::window::SlidingWindow;
use crate::world::{Kind, WorldSpec};
use rules::{Fail, Req};
use state::State;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Credentials `apiconform serve` accepts out of the box, per vendor: the
/// throw-away values the official SDK captures were made with.
pub fn default_credentials() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    crate::vendor::ALL.iter().map(|v| (v.name, v.test_credentials.0, v.test_credentials.1))
}

struct Key {
    secret: String,
    tenant: u64,
}

#[derive(Default)]
struct Inner {
    /// vendor → action → contract (nested, so lookups borrow and never allocate).
    contracts: HashMap<String, HashMap<String, Contract>>,
    /// vendor → action → the parameter checks its contract states (APIs
    /// under test only; support actions check their own).
    checks: HashMap<String, HashMap<String, ParamChecks>>,
    common: HashMap<String, CommonErrors>,
    /// vendor → access key id → key.
    keys: Mutex<HashMap<String, HashMap<String, Key>>>,
    tenants: Mutex<HashMap<u64, State>>,
    /// Signature nonces seen within the timestamp window.
    nonces: nonces::NonceStore,
    seq: AtomicU64,
    /// Documented flow control, per (tenant, action): recent request times.
    flow: Mutex<HashMap<(u64, String), SlidingWindow>>,
    /// Flow control is on unless switched off (`serve --no-flow-control`,
    /// or the control API).
    flow_off: AtomicBool,
    /// Injected faults: (vendor, action) → (documented code, remaining count).
    faults: Mutex<HashMap<(String, String), Fault>>,
    /// Per vendor: the default world and the default tenant's id.
    defaults: Mutex<HashMap<String, (WorldSpec, u64)>>,
    /// What clients sent with watched access keys (SDK trials, `serve`).
    wiretap: wiretap::Wiretap,
    /// Where every tenant's IDs come from: unique for the server's life.
    ids: state::IdAlloc,
    /// Who may use the control API (`serve --control-token`, `--control-host`).
    control: Mutex<control::Access>,
}

/// (code, remaining count) of an injected fault.
type Fault = (&'static str, u32);

use rules::params::{intern, ParamChecks};

/// A cheap handle; clones share the same emulator.
#[derive(Clone, Default)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl KeyStore for Inner {
    fn secret(&self, vendor: &str, ak: &str) -> Option<String> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(vendor).and_then(|v| v.get(ak)).map(|k| k.secret.clone())
    }
    fn fresh_nonce(&self, vendor: &str, ak: &str, nonce: &str, now: i64) -> bool {
        self.nonces.fresh(vendor, ak, nonce, now)
    }
}

/// 128 random bits from the operating system's CSPRNG, as hex. Should the
/// OS refuse (it does not on supported platforms), std's randomly keyed
/// SipHash over a counter still gives a value no one can derive.
fn random_hex() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        use std::hash::{BuildHasher, Hasher};
        static N: AtomicU64 = AtomicU64::new(0);
        for half in b.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(N.fetch_add(1, Ordering::Relaxed));
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Substitutes `%s` placeholders in order; a message ending in `:` (Alibaba's
/// `server string to sign is:`) gets the first value appended.
pub fn fill_message(template: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut rest = template;
    let mut it = args.iter();
    while let Some(i) = rest.find("%s") {
        out.push_str(&rest[..i]);
        match it.next() {
            Some(a) => out.push_str(a),
            None => out.push_str("%s"),
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    if !template.contains("%s") && template.ends_with(':') {
        if let Some(a) = args.first() {
            out.push_str(a);
        }
    }
    out
}

/// What the emulator needs of one API: its contract, the vendor's common
/// errors and the API's default world. The emulator takes these, not the
/// loaded suite, so it depends on the contract and not on the loader.
pub struct ApiSpec<'a> {
    pub vendor: &'a str,
    pub action: &'a str,
    pub contract: &'a Contract,
    pub common: &'a CommonErrors,
    pub world: &'a WorldSpec,
}

/// A set of APIs to emulate (the loaded suite is one).
pub trait Catalog {
    fn api_specs(&self) -> Vec<ApiSpec<'_>>;
}

impl Emulator {
    /// An emulator that knows every contract of the catalog, with one
    /// default tenant per vendor (the union of that vendor's worlds) behind
    /// [`default_credentials`].
    pub fn from_suite(suite: &impl Catalog) -> Emulator {
        let specs = suite.api_specs();
        let mut inner = Inner::default();
        for api in &specs {
            inner
                .contracts
                .entry(api.vendor.to_string())
                .or_default()
                .insert(api.action.to_string(), api.contract.clone());
            inner.common.entry(api.vendor.to_string()).or_insert_with(|| api.common.clone());
            if !api.contract.support {
                let checks = ParamChecks::new(api.contract, api.common);
                inner.checks.entry(api.vendor.to_string()).or_default().insert(api.action.to_string(), checks);
            }
        }
        let emu = Emulator { inner: Arc::new(inner) };
        for (vendor, ak, sk) in default_credentials() {
            let world =
                specs.iter().filter(|a| a.vendor == vendor).fold(WorldSpec::default(), |w, a| w.patched(a.world));
            let tenant = emu.add_tenant(vendor, &world).0;
            emu.add_key(vendor, ak, sk, tenant);
            emu.inner.defaults.lock().unwrap_or_else(|e| e.into_inner()).insert(vendor.to_string(), (world, tenant));
        }
        emu
    }

    fn add_key(&self, vendor: &str, ak: &str, secret: &str, tenant: u64) {
        let mut keys = self.inner.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.entry(vendor.to_string()).or_default().insert(ak.to_string(), Key { secret: secret.to_string(), tenant });
    }

    fn add_tenant(&self, vendor: &str, world: &WorldSpec) -> (u64, Bindings) {
        let id = self.inner.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let (state, fixtures) = State::build(vendor, crate::vendor::id_style(vendor), id, world, &self.inner.ids);
        let mut b = Bindings { fixtures, ..Default::default() };
        for k in Kind::ALL {
            b.absent.insert(k.word().to_string(), state.absent_id(k));
        }
        self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner()).insert(id, state);
        (id, b)
    }

    /// A fresh tenant seeded with `world`, and credentials that reach it.
    /// The secret is random: a tenant's key cannot be derived from its id.
    pub fn create_tenant(&self, vendor: &str, world: &WorldSpec) -> (Credentials, Bindings) {
        let (id, b) = self.add_tenant(vendor, world);
        let creds = Credentials {
            access_key_id: format!("APICONFORM{id:08}"),
            secret: format!("emulator-secret-{}", random_hex()),
            session_token: None,
        };
        self.add_key(vendor, &creds.access_key_id, &creds.secret, id);
        (creds, b)
    }

    /// Lets another access key reach the default tenant of `vendor` (the
    /// control API's `credentials`: your own test keys, or a rehearsal's
    /// canary). It adds a key and never replaces one: an access key id that
    /// is already in use (a default one included) is refused, unless it is
    /// the same key for the same tenant.
    pub fn add_default_key(&self, vendor: &str, ak: &str, secret: &str) -> Result<(), String> {
        let Some(t) = self.default_tenant(vendor) else { return Err(format!("unknown vendor `{vendor}`")) };
        let mut keys = self.inner.keys.lock().unwrap_or_else(|e| e.into_inner());
        let vendor_keys = keys.entry(vendor.to_string()).or_default();
        match vendor_keys.get(ak) {
            Some(k) if k.tenant == t && k.secret == secret => Ok(()),
            Some(_) => {
                Err(format!("access key id `{ak}` is already in use for {vendor}; keys are added, never replaced"))
            }
            None => {
                vendor_keys.insert(ak.to_string(), Key { secret: secret.to_string(), tenant: t });
                Ok(())
            }
        }
    }

    /// The control API's `reset`: the default world, the default keys
    /// (restored, should anything have changed them), no injected faults and
    /// fresh flow-control windows for the vendor's default tenant.
    pub fn reset_default(&self, vendor: &str) {
        self.seed_default(vendor, &WorldSpec::default());
        let Some(t) = self.default_tenant(vendor) else { return };
        for (v, ak, sk) in default_credentials().filter(|(v, _, _)| *v == vendor) {
            self.add_key(v, ak, sk, t);
        }
        self.inner.faults.lock().unwrap_or_else(|e| e.into_inner()).retain(|(v, _), _| v != vendor);
        self.inner.flow.lock().unwrap_or_else(|e| e.into_inner()).retain(|(tenant, _), _| *tenant != t);
    }

    /// Sets who may use the control API (see [`control::Access`]).
    pub fn set_control_access(&self, access: control::Access) {
        *self.inner.control.lock().unwrap_or_else(|e| e.into_inner()) = access;
    }

    pub(crate) fn control_access(&self) -> control::Access {
        self.inner.control.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What clients send with these keys is kept from now on
    /// ([`wiretap`]), until [`Emulator::unwatch`].
    pub fn watch(&self, access_key_ids: &[&str]) {
        for k in access_key_ids {
            self.inner.wiretap.watch(k);
        }
    }

    pub fn unwatch(&self, access_key_ids: &[&str]) {
        for k in access_key_ids {
            self.inner.wiretap.unwatch(k);
        }
    }

    /// Takes what was sent with these keys since the last call.
    pub fn take_wire(&self, access_key_ids: &[&str]) -> Vec<wiretap::WireRecord> {
        self.inner.wiretap.take(access_key_ids)
    }

    /// The default access keys of `vendor` (the ones `serve` watches).
    pub fn default_keys(&self, vendor: &str) -> Vec<String> {
        let Some(t) = self.default_tenant(vendor) else { return Vec::new() };
        let keys = self.inner.keys.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<String> = keys
            .get(vendor)
            .map(|m| m.iter().filter(|(_, k)| k.tenant == t).map(|(ak, _)| ak.clone()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Keeps what clients send with the default keys of every vendor, for
    /// `GET /_apiconform/requests?vendor=V` (`serve` does this).
    pub fn watch_default_keys(&self) {
        for v in self.vendors() {
            for k in self.default_keys(&v) {
                self.inner.wiretap.watch(&k);
            }
        }
    }

    /// What was sent with the default keys of `vendor`, oldest first.
    pub fn default_wire(&self, vendor: &str) -> Vec<wiretap::WireRecord> {
        let keys = self.default_keys(vendor);
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.inner.wiretap.peek(&refs)
    }

    /// Vendors with a default tenant.
    pub fn vendors(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.inner.defaults.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        v.sort();
        v
    }

    pub(crate) fn default_tenant(&self, vendor: &str) -> Option<u64> {
        self.inner.defaults.lock().unwrap_or_else(|e| e.into_inner()).get(vendor).map(|d| d.1)
    }

    /// Runs `f` on the default tenant's state of `vendor`.
    pub fn with_default_state<R>(&self, vendor: &str, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let t = self.default_tenant(vendor)?;
        let mut tenants = self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get_mut(&t).map(f)
    }

    /// Rebuilds the default tenant of `vendor` from its world with `patch`
    /// applied; returns the fixture IDs.
    pub fn seed_default(&self, vendor: &str, patch: &WorldSpec) -> std::collections::BTreeMap<String, String> {
        let Some((world, t)) = self.inner.defaults.lock().unwrap_or_else(|e| e.into_inner()).get(vendor).cloned()
        else {
            return Default::default();
        };
        let (state, ids) =
            State::build(vendor, crate::vendor::id_style(vendor), t, &world.patched(patch), &self.inner.ids);
        self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner()).insert(t, state);
        ids
    }

    /// A copy of the state of the tenant behind `vendor`'s access key `ak`
    /// (`serve` prints the default tenant's fixture IDs from it).
    pub fn default_tenant_state(&self, vendor: &str, ak: &str) -> Option<State> {
        let tenant = {
            let keys = self.inner.keys.lock().unwrap_or_else(|e| e.into_inner());
            keys.get(vendor)?.get(ak)?.tenant
        };
        self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner()).get(&tenant).cloned()
    }

    /// Status and message of a documented error.
    fn error_reply(&self, vendor: &str, action: &str, f: &Fail) -> ErrorReply {
        let contract = match f.common {
            true => None,
            false => self.inner.contracts.get(vendor).and_then(|c| c.get(action)),
        };
        let from_contract = contract.and_then(|c| {
            let mut entries: Vec<&DocumentedError> =
                c.errors_for(f.code).filter(|e| f.status.is_none_or(|s| e.status == s)).collect();
            entries.sort_by_key(|e| e.source.is_some());
            entries.first().copied()
        });
        let entry = from_contract.or_else(|| {
            self.inner
                .common
                .get(vendor)
                .and_then(|c| c.errors.iter().find(|e| e.code == f.code && f.status.is_none_or(|s| e.status == s)))
        });
        match entry {
            Some(e) => ErrorReply {
                status: e.status,
                code: e.code.clone(),
                message: fill_message(&e.message, &f.args),
                retry_after_ms: f.retry_after_ms,
                code_n: e
                    .description
                    .as_deref()
                    .and_then(|d| d.split("CodeN ").nth(1))
                    .and_then(|n| n.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok()),
            },
            None => ErrorReply {
                status: 500,
                code: f.code.to_string(),
                message: format!("apiconform emulator: `{}` has no documented message for {vendor} {action}", f.code),
                retry_after_ms: None,
                code_n: None,
            },
        }
    }

    /// Answers one request.
    pub fn handle(&self, req: &HttpRequest) -> HttpResponse {
        if req.path.starts_with(control::PREFIX) {
            return control::handle(self, req);
        }
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let Some(p) = crate::vendor::protocols().find(|p| p.recognizes(req)) else {
            return HttpResponse::json(
                400,
                &serde_json::json!({"Code": "MissingAuthentication", "Message": "apiconform emulator: the request is not signed in any known vendor's scheme"}),
            );
        };
        let now = crate::clock::now_secs();
        let inbound = match p.accept(req, &*self.inner, now) {
            Ok(i) => i,
            Err(rej) => {
                let mut ctx = *rej.reply;
                ctx.request_id = p.request_id(seq);
                let f = Fail { args: rej.args, ..rules::fail(rej.code).common() };
                return p.render_error(&ctx, &self.error_reply(p.vendor(), &ctx.action, &f));
            }
        };
        let mut ctx: ReplyCtx = inbound.reply.clone();
        ctx.request_id = p.request_id(seq);
        let vendor = p.vendor();
        let outcome = self.run_rule(p, &inbound);
        match outcome {
            Ok(result) => p.render_success(&ctx, &result),
            Err(f) => p.render_error(&ctx, &self.error_reply(vendor, &inbound.action, &f)),
        }
    }

    fn run_rule(&self, p: &dyn Protocol, inbound: &Inbound) -> rules::Outcome {
        let (ak, action, version, params) =
            (inbound.access_key_id.as_str(), inbound.action.as_str(), inbound.version.as_str(), &inbound.params);
        let vendor = p.vendor();
        let contracts = self.inner.contracts.get(vendor);
        // A vendor that signs the service into the request (Volcengine)
        // routes on it: a service no contract has is unknown, and an action
        // of another service is not found in this one (assumed: the
        // gateway answers as for an unknown action).
        // The action's contract is looked up first, so that a request that
        // names both rightly pays for no scan of the services.
        let service = inbound.reply.service.as_str();
        let contract = contracts.and_then(|c| c.get(action)).filter(|c| service.is_empty() || c.service == service);
        let Some(contract) = contract else {
            if !service.is_empty() && !contracts.is_some_and(|c| c.values().any(|k| k.service == service)) {
                return Err(rules::fail("ServiceNotFound").common().arg(service));
            }
            return Err(crate::vendor::get(vendor)
                .map_or(rules::fail("InvalidAction"), |v| v.unknown_action.fail(action, version)));
        };
        if contract.version != version {
            return Err(crate::vendor::get(vendor)
                .map_or(rules::fail("InvalidAction"), |v| v.wrong_version.fail(action, version)));
        }
        let tenant = {
            let keys = self.inner.keys.lock().unwrap_or_else(|e| e.into_inner());
            keys.get(vendor).and_then(|v| v.get(ak)).map(|k| k.tenant)
        };
        let Some(tenant) = tenant else {
            return Err(rules::fail("InternalError"));
        };
        if let Some(f) = self.take_fault(vendor, action) {
            return Err(f);
        }
        if let Some(rl) = &contract.rate_limit {
            self.admit(vendor, tenant, action, rl.requests, rl.per_seconds)?;
        }
        let mut tenants = self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = tenants.get_mut(&tenant) else {
            return Err(rules::fail("InternalError"));
        };
        let checks = self.inner.checks.get(vendor).and_then(|c| c.get(action));
        let req = Req { params, checks };
        if let Some(c) = checks {
            c.check(&req)?;
        }
        crate::vendor::dispatch(vendor, action, state, &req).unwrap_or_else(|| Err(rules::fail("InternalError")))
    }

    /// The next `count` calls of `action` answer the vendor's common error
    /// `code` (throttling or 5xx), to rehearse a client's retries.
    pub fn inject_fault(&self, vendor: &str, action: &str, code: &str, count: u32) -> Result<(), String> {
        let common = self.inner.common.get(vendor).ok_or_else(|| format!("unknown vendor `{vendor}`"))?;
        let Some(e) = common.errors.iter().find(|e| e.code == code) else {
            let codes: Vec<&str> = common.errors.iter().map(|e| e.code.as_str()).collect();
            return Err(format!("`{code}` is not a common error of {vendor}; one of: {}", codes.join(", ")));
        };
        // Rule codes are `&'static str`; a common error's code is leaked once
        // per distinct code (a handful), never per call.
        let code = intern(&e.code);
        self.inner
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((vendor.into(), action.into()), (code, count));
        Ok(())
    }

    fn take_fault(&self, vendor: &str, action: &str) -> Option<Fail> {
        let mut faults = self.inner.faults.lock().unwrap_or_else(|e| e.into_inner());
        if faults.is_empty() {
            return None;
        }
        let key = (vendor.to_string(), action.to_string());
        let (code, left) = faults.get_mut(&key)?;
        let code = *code;
        *left = left.saturating_sub(1);
        if *left == 0 {
            faults.remove(&key);
        }
        let retry = code.starts_with("Throttling").then_some(200);
        Some(Fail { retry_after_ms: retry, ..rules::fail(code).common() })
    }

    /// Takes the memory of the fixed-size stores (the nonce store) now, as a
    /// long-running server does at start, so that its resident memory does
    /// not climb while they fill under load. The in-process emulator of a
    /// test run skips this and pays only for the pages its requests touch.
    /// Returns the bytes reserved.
    pub fn reserve_memory(&self) -> usize {
        self.inner.nonces.reserve();
        self.inner.nonces.bytes()
    }

    /// Switches the documented flow control on or off.
    pub fn set_flow_control(&self, on: bool) {
        self.inner.flow_off.store(!on, Ordering::Relaxed);
    }

    /// The documented flow control: at most `requests` per `per_seconds` per
    /// account and action, in a sliding window.
    fn admit(&self, vendor: &str, tenant: u64, action: &str, requests: u32, per_seconds: u32) -> Result<(), Fail> {
        if self.inner.flow_off.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut flow = self.inner.flow.lock().unwrap_or_else(|e| e.into_inner());
        let w = flow
            .entry((tenant, action.to_string()))
            .or_insert_with(|| SlidingWindow::new(requests, Duration::from_secs(per_seconds as u64)));
        w.try_admit(Instant::now())
            .map_err(|wait| rules::throttled(crate::vendor::throttling_code(vendor), wait.as_millis().max(1) as u64))?;
        Ok(())
    }

    /// A number for request ids.
    pub(crate) fn next_seq(&self) -> u64 {
        self.inner.seq.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_unique_only_within_the_window() {
        let keys = Inner::default();
        let w = crate::protocol::TIME_WINDOW;
        assert!(keys.fresh_nonce("vendor-a", "ak", "n1", 1000));
        assert!(!keys.fresh_nonce("vendor-a", "ak", "n1", 1000 + w));
        assert!(keys.fresh_nonce("vendor-a", "other", "n1", 1000 + w));
        assert!(keys.fresh_nonce("vendor-a", "ak", "n1", 1000 + w + 1));
        assert!(!keys.fresh_nonce("vendor-a", "ak", "n1", 1000 + w + 2));
    }

    #[test]
    fn messages_fill_placeholders() {
        assert_eq!(fill_message("a %s b %s", &["1".into(), "2".into()]), "a 1 b 2");
        assert_eq!(fill_message("is:", &["X".into()]), "is:X");
        assert_eq!(fill_message("plain.", &["X".into()]), "plain.");
        assert_eq!(fill_message("%s", &[]), "%s");
    }
}
