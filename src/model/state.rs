//! The emulator's state model: the resources of one tenant and nothing about
//! bytes. Built from a [`WorldSpec`] with defaults filled in; business rules
//! read and change it; protocol modules never see it.

use super::rules::{flag, FlagDoc};
use super::tokens::ClientTokens;
use crate::protocol::hex_id;
use crate::world::{Kind, RamStatement, UnpaidOrder, WorldSpec};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Hands out the numbers IDs are made from, for one emulator: a generated ID
/// (a new disk, a snapshot) is never handed out twice while the server
/// runs, across `seed` and `reset` too, and a fixture keeps its ID across
/// them (the IDs `serve` prints and an inventory lists stay valid).
#[derive(Clone, Default)]
pub struct IdAlloc(Arc<IdInner>);

#[derive(Default)]
struct IdInner {
    next: AtomicU64,
    /// (tenant, fixture name) → its number.
    named: Mutex<HashMap<(u64, String), u64>>,
}

impl IdAlloc {
    /// A number never handed out before.
    pub fn fresh(&self) -> u64 {
        self.0.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The number of a tenant's named fixture: fresh the first time, the
    /// same afterwards.
    pub fn named(&self, tenant: u64, name: &str) -> u64 {
        let mut named = self.0.named.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = named.get(&(tenant, name.to_string())) {
            return *n;
        }
        let n = self.fresh();
        named.insert((tenant, name.to_string()), n);
        n
    }
}

/// The allocator is where IDs come from, not part of a state's value.
impl PartialEq for IdAlloc {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for IdAlloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdAlloc")
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Instance {
    pub id: String,
    pub status: String,
    pub os_type: String,
    pub image_id: String,
    pub system_disk_id: Option<String>,
    pub instance_type: String,
    pub zone: String,
    pub charge_type: String,
    pub lock_reason: Option<String>,
    pub unpaid_orders: Vec<UnpaidOrder>,
    pub expired: bool,
    pub creating_image: bool,
    pub key_pair_ids: Vec<String>,
    /// The instance type's largest system disk, GiB; `None`: no limit.
    pub max_system_disk_gib: Option<u32>,
    /// The instance type's architecture, where the world states it.
    pub architecture: Option<String>,
    /// `KeepCharging` (normal stop mode) or `StopCharging` (no-fees stop mode).
    pub stopped_mode: String,
    pub io_optimized: bool,
    /// The instance type's price list of system disk types, in order.
    pub price_list_disk_types: Vec<String>,
    pub password_set: bool,
    /// Set while a long-running operation holds the instance.
    pub operation_lock: Option<String>,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Disk {
    pub id: String,
    pub status: String,
    pub role: String,
    pub category: String,
    pub size_gib: u32,
    pub instance_id: Option<String>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub creating_snapshot: bool,
    pub content: String,
    /// `PostPaid` or `PrePaid`.
    pub charge_type: String,
    /// Absent: the zone of the instance it is attached to.
    pub zone: Option<String>,
    /// Dates (`YYYY-MM-DD`) the disk was detached from an instance.
    pub detached: Vec<String>,
    /// The dedicated block storage cluster the disk lives in.
    pub storage_cluster: Option<String>,
    /// The status the disk takes when pending work on it completes.
    pub settled_status: String,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Image {
    pub id: String,
    pub status: String,
    pub os_type: String,
    pub platform: String,
    pub architecture: String,
    pub size_gib: u32,
    pub owner: String,
    pub has_data_disk_snapshot: bool,
    pub supports_resize: bool,
    pub supports_key_login: bool,
    pub has_credential: bool,
    pub subscribed: bool,
    /// Absent: available in every zone.
    pub zone: Option<String>,
    pub io_optimized: bool,
    /// IDs of the snapshots the image is built from.
    pub snapshot_ids: Vec<String>,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Snapshot {
    pub id: String,
    /// The name given at creation (empty for world fixtures).
    pub name: String,
    pub disk_id: Option<String>,
    pub status: String,
    pub content: String,
    /// Creation date, `YYYY-MM-DD`.
    pub created: String,
    pub encrypted: bool,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyPair {
    pub id: String,
    pub name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KmsKey {
    pub id: String,
    pub enabled: bool,
    pub symmetric: bool,
    /// The key lets ECS add tags to it.
    pub ecs_tag: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Account {
    pub enough_balance: bool,
    pub snapshot_service: bool,
    pub kms_enabled: bool,
    /// The caller's RAM policy; `None` is the account itself.
    pub ram_policy: Option<Vec<RamStatement>>,
    /// Disk capacity quota in GiB by `zone/category`.
    pub disk_quota_gib: BTreeMap<String, u32>,
    /// Dedicated block storage clusters: name → free capacity in GiB.
    pub storage_clusters: BTreeMap<String, u32>,
    /// The regions that exist; `None`: any.
    pub regions: Option<Vec<String>>,
    pub flags: Vec<String>,
}

/// Named conditions on a resource, set by a world's `flags:`.
pub trait Flags {
    fn flags(&self) -> &[String];
    fn has(&self, flag: &str) -> bool {
        self.flags().iter().any(|f| f == flag)
    }
}

macro_rules! impl_flags {
    ($($t:ty),*) => { $( impl Flags for $t { fn flags(&self) -> &[String] { &self.flags } } )* };
}
impl_flags!(Instance, Disk, Image, Snapshot, Account);

/// The flags the state model itself reads, for every vendor and API.
pub const FLAGS: &[FlagDoc] = &[flag(
    "account",
    "manual_time",
    "long-running work (a replacement, a reset) completes only when the control API advances time",
    "not a cloud condition: it switches the emulator's clock to the control API",
)];

/// How a vendor names resources, read from its descriptor by the caller
/// (the model does not know the vendors).
#[derive(Debug, Clone, Copy)]
pub struct IdStyle {
    /// A resource ID in the vendor's format, from 32 hex digits.
    pub format: fn(Kind, &str) -> String,
    /// Whether key pairs are known by their names (no separate ID).
    pub key_pair_ids_are_names: bool,
}

/// One tenant's resources, by ID.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct State {
    pub vendor: String,
    pub instances: BTreeMap<String, Instance>,
    pub disks: BTreeMap<String, Disk>,
    pub images: BTreeMap<String, Image>,
    pub snapshots: BTreeMap<String, Snapshot>,
    pub key_pairs: BTreeMap<String, KeyPair>,
    pub kms_keys: BTreeMap<String, KmsKey>,
    pub account: Account,
    /// Idempotency records: `Action/ClientToken` → (request fingerprint,
    /// result), bounded ([`ClientTokens`]); dumped a page at a time
    /// ([`State::dump`]).
    #[serde(skip)]
    pub client_tokens: ClientTokens,
    /// How long-running work completes: at once (the default), or when the
    /// control API advances time.
    pub manual_time: bool,
    /// Virtual seconds elapsed, advanced by the control API.
    pub clock: i64,
    /// Work still in progress, completed by [`State::advance`].
    pub pending: Vec<Pending>,
    /// The tenant this state belongs to (its fixture IDs are per tenant).
    #[serde(skip)]
    tenant: u64,
    /// Where this tenant's IDs come from (shared by the whole emulator).
    #[serde(skip)]
    ids: IdAlloc,
    /// The vendor's ID format.
    #[serde(skip)]
    style: IdStyle,
}

impl PartialEq for IdStyle {
    fn eq(&self, other: &IdStyle) -> bool {
        std::ptr::fn_addr_eq(self.format, other.format) && self.key_pair_ids_are_names == other.key_pair_ids_are_names
    }
}

/// A state change that takes time in a real cloud.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pending {
    /// Virtual second at which it completes.
    pub due: i64,
    pub work: Work,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Work {
    /// Clears an instance's operation lock and brings a new disk in use.
    ReleaseLock { instance_id: String, disk_id: Option<String> },
    /// Completes a snapshot.
    FinishSnapshot { snapshot_id: String },
    /// Moves an instance to its target status (`Stopped`, `Running`).
    SettleInstance { instance_id: String, status: String },
}

/// The date snapshots made during a trial carry (and the default of world
/// snapshots): a fixed day, so transcripts are stable.
pub const TODAY: &str = "2024-01-01";

/// Fixture name → `{name}.id` / `{name}.name` values, for `${...}` references.
pub type FixtureIds = BTreeMap<String, String>;

impl State {
    /// A new ID of `kind` in the vendor's format.
    pub fn new_id(&mut self, kind: Kind) -> String {
        make_id(self.style, kind, self.ids.fresh())
    }

    /// An ID of `kind` that is well formed and does not exist (a reserved
    /// name no fixture can have, so it is never handed out).
    pub fn absent_id(&self, kind: Kind) -> String {
        make_id(self.style, kind, self.ids.named(self.tenant, &format!("\0absent {}", kind.word())))
    }

    /// Builds the tenant's state from a world, with the vendor's defaults;
    /// IDs come from `ids`, in the vendor's `style`.
    pub fn build(vendor: &str, style: IdStyle, tenant: u64, w: &WorldSpec, alloc: &IdAlloc) -> (State, FixtureIds) {
        let mut s = State {
            vendor: vendor.to_string(),
            instances: BTreeMap::new(),
            disks: BTreeMap::new(),
            images: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            key_pairs: BTreeMap::new(),
            kms_keys: BTreeMap::new(),
            account: Account {
                enough_balance: w.account.enough_balance.unwrap_or(true),
                snapshot_service: w.account.snapshot_service.unwrap_or(true),
                kms_enabled: w.account.kms_enabled.unwrap_or(true),
                ram_policy: w.account.ram_policy.clone(),
                disk_quota_gib: w.account.disk_quota_gib.clone().unwrap_or_default(),
                storage_clusters: w.account.storage_clusters.clone().unwrap_or_default(),
                regions: w.account.regions.clone(),
                flags: w.account.flags.clone().unwrap_or_default(),
            },
            client_tokens: ClientTokens::default(),
            manual_time: w.account.flags.iter().flatten().any(|f| f == "manual_time"),
            clock: 0,
            pending: Vec::new(),
            tenant,
            ids: alloc.clone(),
            style,
        };
        let ids = fixture_ids(style, tenant, w, alloc);
        s.add_instances(w, &ids);
        s.add_disks(w, &ids);
        s.add_images(w, &ids);
        s.add_snapshots(w, &ids);
        s.add_keys(w, &ids);
        let mut out = FixtureIds::new();
        for (name, kind) in w.fixtures() {
            out.insert(format!("{name}.id"), ids[name].clone());
            if kind == Kind::KeyPair {
                let kp = &s.key_pairs[&ids[name]];
                out.insert(format!("{name}.name"), kp.name.clone());
            }
        }
        (s, out)
    }

    /// The world's instances, with their defaults.
    fn add_instances(&mut self, w: &WorldSpec, ids: &BTreeMap<String, String>) {
        let id = |n: &Option<String>| n.as_ref().and_then(|n| ids.get(n).cloned());
        for (name, i) in &w.instances {
            let inst = Instance {
                id: ids[name].clone(),
                status: i.status.clone().unwrap_or_else(|| "Stopped".into()),
                os_type: i.os_type.clone().unwrap_or_else(|| "linux".into()),
                image_id: id(&i.image).unwrap_or_default(),
                system_disk_id: id(&i.system_disk),
                instance_type: i.instance_type.clone().unwrap_or_else(|| "ecs.g7.large".into()),
                zone: i.zone.clone().unwrap_or_default(),
                charge_type: i.charge_type.clone().unwrap_or_else(|| "PostPaid".into()),
                lock_reason: i.lock_reason.clone(),
                unpaid_orders: i.unpaid_orders.clone().unwrap_or_default(),
                expired: i.expired.unwrap_or(false),
                creating_image: i.creating_image.unwrap_or(false),
                key_pair_ids: i.key_pairs.iter().flatten().filter_map(|k| ids.get(k).cloned()).collect(),
                max_system_disk_gib: i.max_system_disk_gib,
                architecture: i.architecture.clone(),
                stopped_mode: i.stopped_mode.clone().unwrap_or_else(|| "KeepCharging".into()),
                io_optimized: i.io_optimized.unwrap_or(true),
                price_list_disk_types: i.price_list_disk_types.clone().unwrap_or_default(),
                password_set: false,
                operation_lock: None,
                flags: i.flags.clone().unwrap_or_default(),
            };
            self.instances.insert(inst.id.clone(), inst);
        }
    }

    /// The world's disks, with their defaults.
    fn add_disks(&mut self, w: &WorldSpec, ids: &BTreeMap<String, String>) {
        let id = |n: &Option<String>| n.as_ref().and_then(|n| ids.get(n).cloned());
        for (name, d) in &w.disks {
            let disk = Disk {
                id: ids[name].clone(),
                status: d.status.clone().unwrap_or_else(|| "In_Use".into()),
                role: d.role.clone().unwrap_or_else(|| "data".into()),
                category: d.category.clone().unwrap_or_else(|| "cloud_essd".into()),
                size_gib: d.size_gib.unwrap_or(40),
                instance_id: id(&d.instance),
                encrypted: d.encrypted.unwrap_or(false),
                kms_key_id: id(&d.kms_key),
                creating_snapshot: d.creating_snapshot.unwrap_or(false),
                content: d.content.clone().unwrap_or_else(|| "v1".into()),
                charge_type: d.charge_type.clone().unwrap_or_else(|| "PostPaid".into()),
                zone: d.zone.clone(),
                detached: d.detached.clone().unwrap_or_default(),
                storage_cluster: d.storage_cluster.clone(),
                settled_status: d.status.clone().unwrap_or_else(|| "In_Use".into()),
                flags: d.flags.clone().unwrap_or_default(),
            };
            self.disks.insert(disk.id.clone(), disk);
        }
    }

    /// The world's images, with their defaults.
    fn add_images(&mut self, w: &WorldSpec, ids: &BTreeMap<String, String>) {
        for (name, m) in &w.images {
            let img = Image {
                id: ids[name].clone(),
                status: m.status.clone().unwrap_or_else(|| "Available".into()),
                os_type: m.os_type.clone().unwrap_or_else(|| "linux".into()),
                platform: m.platform.clone().unwrap_or_default(),
                architecture: m.architecture.clone().unwrap_or_else(|| "x86_64".into()),
                size_gib: m.size_gib.unwrap_or(20),
                owner: m.owner.clone().unwrap_or_else(|| "system".into()),
                has_data_disk_snapshot: m.has_data_disk_snapshot.unwrap_or(false),
                supports_resize: m.supports_resize.unwrap_or(true),
                supports_key_login: m.supports_key_login.unwrap_or(true),
                has_credential: m.has_credential.unwrap_or(false),
                subscribed: m.subscribed.unwrap_or(true),
                zone: m.zone.clone(),
                io_optimized: m.io_optimized.unwrap_or(true),
                snapshot_ids: m.snapshots.iter().flatten().filter_map(|n| ids.get(n).cloned()).collect(),
                flags: m.flags.clone().unwrap_or_default(),
            };
            self.images.insert(img.id.clone(), img);
        }
    }

    /// The world's snapshots, with their defaults.
    fn add_snapshots(&mut self, w: &WorldSpec, ids: &BTreeMap<String, String>) {
        let id = |n: &Option<String>| n.as_ref().and_then(|n| ids.get(n).cloned());
        for (name, sn) in &w.snapshots {
            let snap = Snapshot {
                id: ids[name].clone(),
                name: String::new(),
                disk_id: id(&sn.disk),
                status: sn.status.clone().unwrap_or_else(|| "accomplished".into()),
                content: sn.content.clone().unwrap_or_else(|| "v0".into()),
                created: sn.created.clone().unwrap_or_else(|| TODAY.into()),
                encrypted: sn.encrypted.unwrap_or(false),
                flags: sn.flags.clone().unwrap_or_default(),
            };
            self.snapshots.insert(snap.id.clone(), snap);
        }
    }

    /// The world's key pairs and KMS keys.
    fn add_keys(&mut self, w: &WorldSpec, ids: &BTreeMap<String, String>) {
        for (name, k) in &w.key_pairs {
            let kp = KeyPair {
                id: ids[name].clone(),
                name: k.name.clone().unwrap_or_else(|| name.clone()),
                key_type: k.key_type.clone().unwrap_or_else(|| "rsa-2048".into()),
            };
            self.key_pairs.insert(kp.id.clone(), kp);
        }
        // A deleted key keeps its ID (disks still name it) but is gone.
        for (name, k) in w.kms_keys.iter().filter(|(_, k)| k.deleted != Some(true)) {
            let key = KmsKey {
                id: ids[name].clone(),
                enabled: k.enabled.unwrap_or(true),
                symmetric: k.symmetric.unwrap_or(true),
                ecs_tag: k.ecs_tag.unwrap_or(true),
            };
            self.kms_keys.insert(key.id.clone(), key);
        }
    }

    /// Schedules work that takes `seconds`; done at once unless time is manual.
    pub fn schedule(&mut self, seconds: i64, work: Work) {
        if self.manual_time {
            self.pending.push(Pending { due: self.clock.saturating_add(seconds), work });
        } else {
            self.complete(work);
        }
    }

    /// Advances virtual time and completes the work that is due.
    pub fn advance(&mut self, seconds: i64) {
        self.clock = self.clock.saturating_add(seconds.max(0));
        let (due, later): (Vec<Pending>, Vec<Pending>) =
            std::mem::take(&mut self.pending).into_iter().partition(|p| p.due <= self.clock);
        self.pending = later;
        for p in due {
            self.complete(p.work);
        }
    }

    fn complete(&mut self, work: Work) {
        match work {
            Work::ReleaseLock { instance_id, disk_id } => {
                if let Some(i) = self.instances.get_mut(&instance_id) {
                    i.operation_lock = None;
                }
                if let Some(d) = disk_id.and_then(|d| self.disks.get_mut(&d)) {
                    d.status = d.settled_status.clone();
                }
            }
            Work::FinishSnapshot { snapshot_id } => {
                if let Some(s) = self.snapshots.get_mut(&snapshot_id) {
                    s.status = "accomplished".into();
                }
            }
            Work::SettleInstance { instance_id, status } => {
                if let Some(i) = self.instances.get_mut(&instance_id) {
                    i.status = status;
                }
            }
        }
    }

    /// The tenant's clock for idempotency records: wall time plus the
    /// seconds the control API advanced.
    fn token_clock(&self) -> i64 {
        crate::clock::now_secs().saturating_add(self.clock)
    }

    /// The live idempotency record of `Action/token`: (fingerprint, result).
    pub fn client_token(&self, key: &str) -> Option<(String, serde_json::Map<String, serde_json::Value>)> {
        self.client_tokens.get(key, self.token_clock()).map(|(f, r)| (f.to_string(), r.clone()))
    }

    /// The first request made with this `action` and ClientToken, if one
    /// was: its fingerprint and its result, to replay.
    pub fn replay(
        &self,
        action: &str,
        token: Option<&str>,
    ) -> Option<(String, serde_json::Map<String, serde_json::Value>)> {
        self.client_token(&format!("{action}/{token}", token = token?))
    }

    /// Stores the result of a request made with this `action` and
    /// ClientToken (nothing without a token), for [`State::replay`].
    pub fn remember(
        &mut self,
        action: &str,
        token: Option<&str>,
        fingerprint: String,
        result: &serde_json::Map<String, serde_json::Value>,
    ) {
        if let Some(t) = token {
            self.remember_client_token(format!("{action}/{t}"), fingerprint, result.clone());
        }
    }

    /// "Replace the system disk" (a reimage): `disk` (its ID allocated here)
    /// takes the place of the instance's system disk, which is released, and
    /// the instance runs `image_id`. With `lock`, the instance holds that
    /// operation lock until the work finishes (at once unless the control
    /// API drives time). The new disk's ID.
    pub fn replace_system_disk(
        &mut self,
        instance_id: &str,
        disk: Option<Disk>,
        image_id: &str,
        lock: Option<&str>,
    ) -> String {
        let new_id = self.new_id(Kind::Disk);
        let old = self.instances.get(instance_id).and_then(|i| i.system_disk_id.clone());
        if let Some(old) = old {
            self.disks.remove(&old);
        }
        if let Some(d) = disk {
            self.disks.insert(new_id.clone(), Disk { id: new_id.clone(), ..d });
        }
        if let Some(i) = self.instances.get_mut(instance_id) {
            i.system_disk_id = Some(new_id.clone());
            i.image_id = image_id.to_string();
            i.operation_lock = lock.map(str::to_string).or(i.operation_lock.take());
        }
        if lock.is_some() {
            let work = Work::ReleaseLock { instance_id: instance_id.to_string(), disk_id: Some(new_id.clone()) };
            self.schedule(60, work);
        }
        new_id
    }

    /// Records the result of a request made with `Action/token`.
    pub fn remember_client_token(
        &mut self,
        key: String,
        fingerprint: String,
        result: serde_json::Map<String, serde_json::Value>,
    ) {
        let now = self.token_clock();
        self.client_tokens.insert(key, fingerprint, result, now);
    }

    /// The state as JSON, with at most `limit` idempotency records after the
    /// key `after` (in key order), their total, and the key to ask the next
    /// page with (`client_tokens_next`, null on the last page). Written
    /// straight to bytes, without a JSON tree in between.
    pub fn dump(&self, after: Option<&str>, limit: usize) -> serde_json::Result<Vec<u8>> {
        #[derive(serde::Serialize)]
        struct Dump<'a> {
            #[serde(flatten)]
            state: &'a State,
            client_tokens: super::tokens::Page<'a>,
            client_tokens_total: usize,
            client_tokens_next: Option<&'a str>,
        }
        let (page, next) = self.client_tokens.page(after, limit);
        let total = self.client_tokens.len();
        serde_json::to_vec(&Dump {
            state: self,
            client_tokens: page,
            client_tokens_total: total,
            client_tokens_next: next,
        })
    }

    /// The key pair with this name.
    pub fn key_pair_by_name(&self, name: &str) -> Option<&KeyPair> {
        self.key_pairs.values().find(|k| k.name == name)
    }
}

/// Every fixture's ID, allocated first so that fixtures can refer to each
/// other by name.
fn fixture_ids(style: IdStyle, tenant: u64, w: &WorldSpec, alloc: &IdAlloc) -> BTreeMap<String, String> {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for (name, kind) in w.fixtures() {
        let id = match kind {
            Kind::KeyPair if style.key_pair_ids_are_names => {
                w.key_pairs[name].name.clone().unwrap_or_else(|| name.to_string())
            }
            _ => make_id(style, kind, alloc.named(tenant, name)),
        };
        ids.insert(name.to_string(), id);
    }
    ids
}

/// An ID in the vendor's format (`Vendor::id_format`), from a counter.
fn make_id(style: IdStyle, kind: Kind, seed: u64) -> String {
    (style.format)(kind, &hex_id(seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An instance on its system disk, and an image.
    fn tenant(manual_time: bool) -> State {
        let world = serde_json::from_value(json!({
            "instances": { "instance": { "system_disk": "disk", "image": "old" } },
            "disks": { "disk": { "role": "system", "instance": "instance" } },
            "images": { "old": {}, "new": { "os_type": "windows" } },
        }))
        .unwrap();
        let style = IdStyle { format: |kind, h| format!("{}-{h}", kind.word()), key_pair_ids_are_names: false };
        let mut s = State::build("test-vendor", style, 1, &world, &IdAlloc::default()).0;
        s.manual_time = manual_time;
        s
    }

    #[test]
    fn replacing_the_system_disk_releases_the_old_one_and_holds_the_lock_until_done() {
        let mut s = tenant(true);
        let inst = s.instances.values().next().unwrap().clone();
        let old = inst.system_disk_id.clone().unwrap();
        let image = s.images.values().find(|m| m.os_type == "windows").unwrap().id.clone();
        let disk = Disk { status: "Creating".into(), ..s.disks[&old].clone() };
        let new = s.replace_system_disk(&inst.id, Some(disk), &image, Some("ReplaceSystemDisk"));
        assert_ne!(new, old);
        assert!(!s.disks.contains_key(&old));
        let i = &s.instances[&inst.id];
        assert_eq!((i.system_disk_id.as_deref(), i.image_id.as_str()), (Some(new.as_str()), image.as_str()));
        assert_eq!(i.operation_lock.as_deref(), Some("ReplaceSystemDisk"));
        assert_eq!(s.disks[&new].id, new);
        s.advance(60);
        assert_eq!(s.instances[&inst.id].operation_lock, None);
        // Without a lock, the instance's own lock is left as it was.
        let again = s.replace_system_disk(&inst.id, None, &image, None);
        assert!(!s.disks.contains_key(&new) && !s.disks.contains_key(&again));
        assert_eq!(s.instances[&inst.id].operation_lock, None);
    }

    #[test]
    fn a_client_token_replays_per_action() {
        let mut s = tenant(false);
        let result: serde_json::Map<String, serde_json::Value> =
            [("DiskId".to_string(), json!("d-1"))].into_iter().collect();
        s.remember("ReplaceSystemDisk", Some("t1"), "fp".into(), &result);
        s.remember("ReplaceSystemDisk", None, "fp".into(), &result);
        assert_eq!(s.replay("ReplaceSystemDisk", Some("t1")), Some(("fp".to_string(), result)));
        assert_eq!(s.replay("ResetDisk", Some("t1")), None);
        assert_eq!(s.replay("ReplaceSystemDisk", None), None);
    }
}
