//! The live target's configuration and safety gates: nothing touches a real
//! account unless the user asked for it.
//!
//! - **Opt-in:** `APICONFORM_LIVE=1` (in the style of Terraform's `TF_ACC`).
//!   Without it, live trials are listed as ignored, with the reason.
//! - **Credentials:** each vendor's standard variables, as its SDKs and CLI
//!   read them (see `Vendor::live` in `src/vendor/<name>/mod.rs`). A vendor without credentials is skipped,
//!   with the reason; that is not a failure.
//! - **Region and endpoint:** per vendor, overridable
//!   (`APICONFORM_<VENDOR>_ENDPOINT=http://127.0.0.1:8080` points a live run
//!   at `apiconform serve`, which is how the live path is rehearsed).
//! - **Inventory:** a YAML file (`APICONFORM_INVENTORY`, default
//!   `live-inventory.yaml`) binds each fixture role a case names (`instance`,
//!   `other_image`, `key_pair`, ...) to a real resource the user allows the
//!   harness to use. A case whose fixtures are not all bound is refused
//!   before any request is sent.
//! - **Staging:** a case's `given:` is realised live only where set-up calls
//!   can do it (an instance's `Stopped`/`Running` status); any other state
//!   skips the trial with the reason.

use crate::protocol::Credentials;
use crate::suite::{Api, Case};
use crate::template::{self, Token};
pub use crate::vendor::{vars, CredentialVars, LiveEnv, StagingCalls};
use crate::world::{InstanceSpec, WorldSpec};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The opt-in variable.
pub const OPT_IN: &str = "APICONFORM_LIVE";

/// One vendor's live settings. `Debug` never prints the secret or token.
#[derive(Clone)]
pub struct LiveVendor {
    pub vendor: String,
    /// `None` when credentials are missing; `skip` says which.
    pub credentials: Option<Credentials>,
    pub skip: Option<String>,
    pub region: String,
    /// `http://127.0.0.1:8080` or `https://...`.
    pub endpoint: String,
}

impl std::fmt::Debug for LiveVendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveVendor")
            .field("vendor", &self.vendor)
            .field("credentials", &self.credentials.as_ref().map(|_| "[redacted]"))
            .field("skip", &self.skip)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl LiveVendor {
    /// (scheme, host[:port]) of the endpoint.
    pub fn scheme_and_host(&self) -> (&str, &str) {
        match self.endpoint.split_once("://") {
            Some((s, h)) => (s, h.trim_end_matches('/')),
            None => ("https", self.endpoint.trim_end_matches('/')),
        }
    }
}

/// `live-inventory.yaml`: the resources a live run may use, per vendor
/// (keyed by vendor name; any other key is refused when read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Inventory(pub BTreeMap<String, VendorInventory>);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorInventory {
    /// Fixture role → real resource ID (a key pair's name for `*.name`).
    pub roles: BTreeMap<String, String>,
}

impl Inventory {
    pub fn vendor(&self, v: &str) -> Option<&VendorInventory> {
        self.0.get(v)
    }

    /// The inventory, or why a key names no vendor.
    fn checked(self, path: &std::path::Path) -> Result<Inventory, String> {
        match self.0.keys().find(|k| crate::vendor::get(k).is_none()) {
            None => Ok(self),
            Some(k) => {
                let known: Vec<&str> = crate::vendor::ALL.iter().map(|v| v.name).collect();
                Err(format!("{}: unknown vendor `{k}` (expected one of {})", path.display(), known.join(", ")))
            }
        }
    }
}

/// Everything the live target needs, read once.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub enabled: bool,
    pub vendors: BTreeMap<String, LiveVendor>,
    pub inventory: Option<Inventory>,
    pub inventory_path: PathBuf,
    /// Why the inventory could not be read, if it could not.
    pub inventory_error: Option<String>,
    /// Interval between polls while waiting for a staged state.
    pub poll_ms: u64,
    /// First retry delay; doubles per retry.
    pub backoff_ms: u64,
    /// How long a TCP (and TLS) connection may take to open.
    pub connect_timeout: std::time::Duration,
    /// How long one request may take, from sending to the last byte of the
    /// answer. Past either, the attempt is a transport error.
    pub request_timeout: std::time::Duration,
}

/// `APICONFORM_LIVE_CONNECT_TIMEOUT_MS`: 10 s unless set.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// `APICONFORM_LIVE_REQUEST_TIMEOUT_MS`: 60 s unless set (a replacement
/// call answers in seconds; a minute leaves room for a slow region).
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 60_000;

fn first(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()))
}

impl LiveConfig {
    /// Reads the configuration from `env` (the process environment in
    /// practice; a map in tests).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> LiveConfig {
        let enabled = env(OPT_IN).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        let mut vendors = BTreeMap::new();
        for vendor in crate::vendor::ALL {
            let v = &vendor.live;
            let region = first(env, v.region).unwrap_or_else(|| vendor.region.to_string());
            let endpoint = env(v.endpoint).filter(|e| !e.is_empty()).unwrap_or_else(|| (v.default_endpoint)(&region));
            // The first set whose key and secret are both there.
            let credentials = v.credentials.iter().find_map(|c| {
                Some(Credentials {
                    access_key_id: first(env, &[c.access_key_id])?,
                    secret: first(env, &[c.secret])?,
                    session_token: first(env, c.session_token),
                })
            });
            let skip = credentials.is_none().then(|| {
                let c = &v.credentials[0];
                format!("no {} credentials: set {} and {}", vendor.name, c.access_key_id, c.secret)
            });
            vendors.insert(
                vendor.name.to_string(),
                LiveVendor { vendor: vendor.name.into(), credentials, skip, region, endpoint },
            );
        }
        let inventory_path = PathBuf::from(env("APICONFORM_INVENTORY").unwrap_or_else(|| "live-inventory.yaml".into()));
        let (inventory, inventory_error) = match std::fs::read_to_string(&inventory_path) {
            Ok(text) => match crate::yaml::parse::<Inventory>(&inventory_path, &text) {
                Ok(i) => match i.checked(&inventory_path) {
                    Ok(i) => (Some(i), None),
                    Err(e) => (None, Some(e)),
                },
                Err(d) => (None, Some(d.to_string())),
            },
            Err(e) => (None, Some(format!("cannot read the live inventory {}: {e}", inventory_path.display()))),
        };
        let num = |k: &str, d: u64| env(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        LiveConfig {
            enabled,
            vendors,
            inventory,
            inventory_path,
            inventory_error,
            poll_ms: num("APICONFORM_LIVE_POLL_MS", 5000),
            backoff_ms: num("APICONFORM_LIVE_BACKOFF_MS", 1000),
            // Zero would make every request fail at once: at least 1 ms.
            connect_timeout: std::time::Duration::from_millis(
                num("APICONFORM_LIVE_CONNECT_TIMEOUT_MS", DEFAULT_CONNECT_TIMEOUT_MS).max(1),
            ),
            request_timeout: std::time::Duration::from_millis(
                num("APICONFORM_LIVE_REQUEST_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT_MS).max(1),
            ),
        }
    }

    pub fn from_process_env() -> LiveConfig {
        LiveConfig::from_env(&|k| std::env::var(k).ok())
    }
}

/// How a case is realised on a live account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// `fixture.attr` → real value from the inventory.
    pub bindings: BTreeMap<String, String>,
    /// Instances to bring to a status first: (fixture, Stopped|Running).
    pub staging: Vec<(String, String)>,
    /// System disks bound by asking the cloud, after staging: (disk
    /// fixture, its instance's fixture). A replacement releases the old
    /// system disk, so an inventory entry for it would be stale by the next
    /// case.
    pub system_disks: Vec<(String, String)>,
}

/// Why a case cannot run live, or how it runs. Checked before any request.
pub fn plan(api: &Api, case: &Case, cfg: &LiveConfig) -> Result<Plan, String> {
    gates(api, case, cfg)?;
    // Only an instance's status can be staged; everything else in `given`
    // makes the case unstageable.
    let mut staging = stageable(&case.given)?;
    let inv = match (&cfg.inventory, &cfg.inventory_error) {
        (Some(i), _) => i,
        (None, Some(e)) => return Err(e.clone()),
        (None, None) => return Err("no live inventory".into()),
    };
    let roles = inv.vendor(&api.vendor).map(|v| &v.roles);
    let mut bindings = BTreeMap::new();
    let mut system_disks: Vec<(String, String)> = Vec::new();
    for step in &case.steps {
        let texts =
            step.params.iter().map(|(_, v)| v.as_str()).chain(
                step.expect.body.values().flat_map(|c| [c.equals.as_deref(), c.not_equals.as_deref()]).flatten(),
            );
        for text in texts {
            for t in template::parse(text).unwrap_or_default() {
                if let Token::Fixture { name, attr } = t {
                    let key = format!("{name}.{attr}");
                    if let Some(instance) = system_disk_of(api, case, &name, &attr) {
                        if !system_disks.iter().any(|(d, _)| *d == name) {
                            system_disks.push((name.clone(), instance));
                        }
                        continue;
                    }
                    // `instance.id` may be listed as `instance`; any other
                    // attribute (`key_pair.name`) only by its full role.
                    let bound =
                        roles.and_then(|r| r.get(&key).or_else(|| (attr == "id").then(|| r.get(&name)).flatten()));
                    match bound {
                        Some(id) => {
                            bindings.insert(key, id.clone());
                        }
                        None => {
                            return Err(format!(
                                "refused: `{name}` is not in the live inventory ({}); no request was sent",
                                cfg.inventory_path.display()
                            ))
                        }
                    }
                }
            }
        }
    }
    // Every bound instance is brought to its status in the case's world
    // (the default world with `given` applied): a previous case may have
    // left it otherwise.
    for (name, spec) in &case.world.instances {
        let status = spec.status.as_deref().unwrap_or("Stopped");
        let bound = bindings.contains_key(&format!("{name}.id"));
        if bound && (status == "Stopped" || status == "Running") && !staging.iter().any(|(n, _)| n == name) {
            staging.push((name.clone(), status.to_string()));
        }
    }
    for (_, instance) in &system_disks {
        if !staging.iter().any(|(n, _)| n == instance) {
            let status = case.world.instances.get(instance).and_then(|i| i.status.clone());
            staging.push((instance.clone(), status.unwrap_or_else(|| "Stopped".into())));
        }
    }
    for (fixture, _) in &staging {
        if let std::collections::btree_map::Entry::Vacant(e) = bindings.entry(format!("{fixture}.id")) {
            match roles.and_then(|r| r.get(&format!("{fixture}.id")).or_else(|| r.get(fixture))) {
                Some(id) => {
                    e.insert(id.clone());
                }
                None => return Err(format!("refused: `{fixture}` is not in the live inventory; no request was sent")),
            }
        }
    }
    Ok(Plan { bindings, staging, system_disks })
}

/// Opt-in, the case's own skip, the vendor's credentials, TLS support.
fn gates(api: &Api, case: &Case, cfg: &LiveConfig) -> Result<(), String> {
    if !cfg.enabled {
        return Err(format!("live trials need {OPT_IN}=1"));
    }
    if let Some(reason) = case.targets.skip_reason("live") {
        return Err(reason.to_string());
    }
    let v = cfg.vendors.get(&api.vendor).ok_or_else(|| format!("no live support for vendor {}", api.vendor))?;
    if let Some(reason) = &v.skip {
        return Err(reason.clone());
    }
    if v.scheme_and_host().0 == "https" && !cfg!(feature = "tls") {
        return Err(format!("{} is HTTPS and this build has no TLS: build with `--features tls`", v.endpoint));
    }
    Ok(())
}

/// The instance whose system disk `disk` is, where the cloud can be asked
/// for it (`LiveEnv::system_disk_lookup`).
fn system_disk_of(api: &Api, case: &Case, disk: &str, attr: &str) -> Option<String> {
    let spec = case.world.disks.get(disk)?;
    let lookup = crate::vendor::get(&api.vendor).is_some_and(|v| v.live.system_disk_lookup);
    (lookup && attr == "id" && spec.role.as_deref() == Some("system")).then_some(())?;
    spec.instance.clone()
}

/// A support call: the action and its parameters.
pub type SupportCall = (String, Vec<(String, String)>);

/// The call that finds an instance's system disk, and where its ID is.
pub fn system_disk_call(id: &str) -> (SupportCall, &'static str) {
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    (("DescribeDisks".into(), vec![p("InstanceId", id), p("DiskType", "system")]), "Disks.Disk.0.DiskId")
}

/// Parameters every live request of a vendor carries (`LiveEnv::implicit_params`).
pub fn implicit_params(vendor: &str, region: &str) -> Vec<(String, String)> {
    crate::vendor::get(vendor).map_or_else(Vec::new, |v| (v.live.implicit_params)(region))
}

/// The parts of `given:` that set-up calls can realise: instance status.
fn stageable(given: &WorldSpec) -> Result<Vec<(String, String)>, String> {
    let mut staging = Vec::new();
    let only_status = WorldSpec { instances: given.instances.clone(), ..Default::default() };
    if *given != only_status {
        return Err(
            "its starting state (`given:` beyond an instance's status) cannot be staged on a real account".into()
        );
    }
    for (name, spec) in &given.instances {
        let status = spec.status.clone().unwrap_or_default();
        let expected = InstanceSpec { status: Some(status.clone()), ..Default::default() };
        if *spec != expected || !(status == "Stopped" || status == "Running") {
            return Err(format!(
                "`given.instances.{name}` cannot be staged on a real account (only status Stopped or Running can)"
            ));
        }
        staging.push((name.clone(), status));
    }
    Ok(staging)
}

/// How many times a staged state is polled before giving up.
pub const MAX_POLLS: usize = 60;

/// The set-up calls that bring instance `id` to `status` on `vendor`.
pub fn staging_calls(vendor: &str, id: &str, status: &str) -> StagingCalls {
    let v = crate::vendor::get(vendor).unwrap_or(crate::vendor::ALL[0]);
    (v.live.staging)(id, status)
}

#[cfg(test)]
mod inventory_tests {
    use super::*;

    fn read(text: &str) -> LiveConfig {
        let path =
            std::env::temp_dir().join(format!("apiconform-inventory-{}-{}.yaml", std::process::id(), text.len()));
        std::fs::write(&path, text).unwrap();
        let p = path.to_string_lossy().into_owned();
        let c = LiveConfig::from_env(&|k| (k == "APICONFORM_INVENTORY").then(|| p.clone()));
        std::fs::remove_file(&path).ok();
        c
    }

    #[test]
    fn the_inventory_is_keyed_by_registered_vendors_only() {
        let name = crate::vendor::ALL[0].name;
        let c = read(&format!("{name}:\n  roles:\n    instance: i-1\n"));
        let inv = c.inventory.unwrap_or_else(|| panic!("{:?}", c.inventory_error));
        assert_eq!(inv.vendor(name).unwrap().roles["instance"], "i-1");
        let c = read("no_such_vendor:\n  roles: {}\n");
        assert!(c.inventory.is_none());
        assert!(c.inventory_error.unwrap().contains("unknown vendor `no_such_vendor`"));
    }
}
