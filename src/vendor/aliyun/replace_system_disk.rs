//! Alibaba Cloud ECS ReplaceSystemDisk (`shared/vendor-docs/aliyun-ecs-ReplaceSystemDisk.zh.txt`,
//! and the older English page, `shared/vendor-docs/aliyun-ecs-ReplaceSystemDisk.en-legacy.md`).
//!
//! `run` reads as the doc's check order, one function per phase:
//!
//! Check order:
//! 1. parameter presence, format and relations: the contract's
//!    (`model::rules::params`, before this rule runs); then what needs the
//!    state: RegionId among the account's regions, and the deprecated DiskId
//!    path's Platform and Architecture among those of the region's images;
//! 2. idempotency replay (same ClientToken);
//! 3. existence: instance, image (or data disk), key pair, KMS key;
//! 4. locks and instance state: security lock, creation, hibernation,
//!    status, system disk (presence, status, replication, clusters);
//! 5. image compatibility: image state and market, architecture, instance
//!    type, I/O optimization, data disk snapshots, Windows key pairs,
//!    non-root login, host name, OS type changes, sizes;
//! 6. encryption and KMS; 7. capacity, quotas and stock; phase 8: billing.

use crate::model::rules::{fail, flag, ram_allows, Fail, FlagDoc, Outcome, Req};
use crate::model::state::{Disk, Flags, Image, Instance, KeyPair, KmsKey, State};
use crate::world::UnpaidOrder;
use serde_json::{json, Map, Value};

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[
    flag("instance", "login_as_non_root", "the instance logs in as a non-root user (ecs:LoginAsNonRoot)", "how the instance logs in (ecs:LoginAsNonRoot) is a condition key of the RAM table with no value the doc defines"),
    flag("image", "no_non_root_login", "The specified image does not support login as non-root.", "the doc does not say which images support non-root login"),
    flag("account", "region_no_non_root", "The specified region does not support login as non-root.", "the doc does not list the regions that support non-root login"),
    flag("image", "instance_type_conflict", "The specified image does not support the specified instance type. (400)", "the doc does not list which images run on which instance types"),
    flag("image", "instance_type_unsupported", "The specified image don not support the InstanceType instance. (403)", "the doc does not list which images run on which instance types"),
    flag("disk", "replication_status_unknown", "Disk replication status not found.", "async replication has no state the doc describes beyond this message"),
    flag("disk", "in_replication", "Disk already in replication.", "async replication pairs are outside the documented model; the doc gives only the message"),
    flag("disk", "multi_attach", "Multi attach disk does not support this operation.", "multi-attach is a disk feature the doc names only in this message"),
    flag("disk", "encryption_unsupported", "The specified diskId not support replace encrypted system disk.", "the doc does not say which disks cannot be replaced by encrypted ones (NotSupportSnapshotEncrypted.DiskCategory covers the category)"),
    flag("image", "removed_in_market", "the marketplace image (or its product code) was removed (ImageRemovedInMarket)", "marketplace product lifecycle and product codes are outside the documented model"),
    flag("image", "market_quota_exceeded", "a marketplace image not bought, or its quota used up (QuotaExceed.BuyImage)", "marketplace purchases and their quota are outside the documented model"),
    flag("image", "backing_snapshot_missing", "a resource the image needs no longer exists (NoSuchResource)", "the doc says only that 'the specified resource is not found', not which resource"),
    flag("instance", "hostname_mismatch", "The hostname of the current instance can not be applied to the image you choose.", "the doc gives no rule for which host names an image accepts"),
    flag("instance", "hibernation_configured", "the instance is configured for hibernation", "hibernation settings are not described by the doc beyond this error"),
    flag("account", "region_no_encrypted_system_disk", "The specified region not support replace encrypted system disk.", "the doc does not list the regions that support encrypted system disks"),
    flag("account", "region_no_image_type_change", "The current region does not support changing the image type.", "the doc does not list the regions that refuse an OS type change"),
    flag("account", "service_unavailable", "The requested services is not available now (InternalError, 400)", "a server-side outage; no client state causes it"),
    flag("account", "kms_data_key_failure", "Create kms data encrypted key fail.", "a KMS-side failure to create a data key; no documented state causes it"),
    flag("account", "ecs_kms_unauthorized", "ECS service have no right to access your KMS.", "the ECS service role's KMS authorisation is not described by the doc"),
    flag("account", "default_encryption", "disk default encryption is enabled for the account", "account-level default encryption is a console setting the doc mentions only in this error"),
    flag("account", "disk_sold_out", "The requested disk category is sold out in the specified zone.", "stock is the cloud's inventory, not the tenant's state"),
    flag("account", "sync_payment_unsupported", "Synchronous payment is not supported (prepaid instances pay for extra size)", "the doc states no condition for synchronous payment; the case is tagged assumed"),
];

/// The action, as the ClientToken records and the operation lock name it.
const ACTION: &str = "ReplaceSystemDisk";

/// The request's parameters, once their presence and format are checked.
struct Params<'a> {
    instance_id: &'a str,
    image_id: Option<&'a str>,
    disk_id: Option<&'a str>,
    password: Option<&'a str>,
    /// 20..=500 when given.
    size: Option<u32>,
    token: Option<&'a str>,
    encrypted: Option<bool>,
    kms: Option<&'a str>,
}

/// The resources the request names, once they are known to exist.
struct Found {
    inst: Instance,
    /// The data disk of the deprecated DiskId path.
    source_disk: Option<Disk>,
    image: Image,
    key_pair: Option<KeyPair>,
    kms_key: Option<KmsKey>,
}

pub fn run(s: &mut State, r: &Req) -> Outcome {
    let p = parameters(s, r)?;
    // 2. Idempotency: the same token replays the first result. The fingerprint
    // of the first request is stored, but a different one is not refused:
    // neither this API's pages nor the vendor's common errors document a
    // mismatch error (no IdempotentParameterMismatch in the contract), so the
    // first result is replayed (case client-token-reused-other-parameters).
    if let Some((_, result)) = s.replay(ACTION, p.token) {
        return Ok(result);
    }
    let found = existence(s, r, &p)?;
    let old_disk = instance_state(s, &found)?;
    image_compatibility(s, r, &p, &found)?;
    encryption(s, &p, &found, &old_disk)?;
    let size = capacity_and_billing(s, r, &found, &old_disk)?;
    Ok(replace(s, r, &p, found, &old_disk, size))
}

/// Phase 1: what needs the state, once the contract's checks passed: the
/// region, and the deprecated DiskId path's Platform and Architecture.
fn parameters<'a>(s: &State, r: &Req<'a>) -> Result<Params<'a>, Fail> {
    let given = |name: &str| r.get(&[name]).filter(|v| !v.is_empty());
    if let (Some(region), Some(regions)) = (r.get(&["RegionId"]), &s.account.regions) {
        if !regions.iter().any(|x| x == region) {
            return Err(fail("InvalidRegionId.NotExists"));
        }
    }
    let disk_id = given("DiskId");
    if disk_id.is_some() {
        // The doc lists no valid values: those of the region's images are
        // taken (assumed; disk-path-*-malformed).
        let offered = |f: fn(&Image) -> &str, v: &str| s.images.values().any(|i| f(i) == v);
        if given("Architecture").is_some_and(|a| !offered(|i| &i.architecture, a)) {
            return Err(fail("InvalidArchitecture.Malformed"));
        }
        if given("Platform").is_some_and(|p| !offered(|i| &i.platform, p)) {
            return Err(fail("InvalidPlatform.Malformed"));
        }
    }
    Ok(Params {
        instance_id: given("InstanceId").unwrap_or_default(),
        image_id: given("ImageId"),
        disk_id,
        password: given("Password"),
        // 20..=500 when given (the contract's bounds).
        size: r.int(&["SystemDisk.Size"]).ok().flatten().and_then(|v| u32::try_from(v).ok()),
        token: given("ClientToken"),
        encrypted: r.bool(&["Encrypted"]).ok().flatten(),
        kms: given("KMSKeyId"),
    })
}

/// Phase 3: Existence: instance, data disk or image, key pair, KMS key; then the
/// doc's authorisation table.
fn existence(s: &State, r: &Req, p: &Params) -> Result<Found, Fail> {
    let Some(inst) = s.instances.get(p.instance_id).cloned() else {
        return Err(fail("InvalidInstanceId.NotFound"));
    };
    let source_disk = match p.disk_id {
        Some(d) => Some(s.disks.get(d).cloned().ok_or_else(|| fail("InvalidDiskId.NotFound"))?),
        None => None,
    };
    let image_id = p.image_id.unwrap_or(&inst.image_id);
    let image = s.images.get(image_id).cloned().ok_or_else(|| fail("InvalidImageId.NotFound"))?;
    let key_pair = match r.get(&["KeyPairName"]).filter(|v| !v.is_empty()) {
        Some(name) => Some(s.key_pair_by_name(name).cloned().ok_or_else(|| fail("InvalidKeyPairName.NotFound"))?),
        None => None,
    };
    let kms_key = match p.kms {
        Some(k) => Some(s.kms_keys.get(k).cloned().ok_or_else(|| fail("InvalidParameter.KMSKeyId.NotFound"))?),
        None => None,
    };
    if image.has("backing_snapshot_missing") {
        return Err(fail("NoSuchResource"));
    }
    // ecs:ReplaceSystemDisk on the instance, its disk and the image.
    let disk_arn = inst.system_disk_id.as_deref().unwrap_or("*");
    let arns = [format!("instance/{}", inst.id), format!("disk/{disk_arn}"), format!("image/{}", image.id)];
    ram_allows(s, r, "ecs:ReplaceSystemDisk", &arns)?;
    Ok(Found { inst, source_disk, image, key_pair, kms_key })
}

/// Phase 4: Locks and instance state, then the system disk and the data disk:
/// the instance's current system disk.
fn instance_state(s: &State, f: &Found) -> Result<Disk, Fail> {
    let inst = &f.inst;
    if inst.lock_reason.as_deref() == Some("security") {
        return Err(fail("InstanceLockedForSecurity"));
    }
    if inst.status == "Pending" {
        return Err(fail("OperationDenied.InstanceCreating"));
    }
    if inst.has("hibernation_configured") {
        return Err(fail("HibernationConfigured.InstanceOperationForbidden"));
    }
    if inst.status != "Stopped" || inst.operation_lock.is_some() {
        return Err(fail("IncorrectInstanceStatus"));
    }
    if inst.charge_type == "PostPaid" && inst.stopped_mode == "StopCharging" {
        // "您需要在停止该实例时设置为普通停机模式": no code is documented;
        // the status error is assumed (case stopped-in-no-fees-mode).
        return Err(fail("IncorrectInstanceStatus"));
    }
    let Some(old_disk) = inst.system_disk_id.as_ref().and_then(|d| s.disks.get(d)).cloned() else {
        return Err(fail("InvalidInstance.NotFoundSystemDisk"));
    };
    system_disk_state(&old_disk)?;
    if let Some(d) = &f.source_disk {
        data_disk_state(d, inst)?;
    }
    if inst.charge_type == "Spot" {
        return Err(fail("ChargeTypeViolation"));
    }
    Ok(old_disk)
}

fn system_disk_state(old_disk: &Disk) -> Result<(), Fail> {
    if old_disk.status == "Transferring" {
        return Err(fail("InvalidSystemDiskStatus.IsTransfering"));
    }
    if old_disk.status != "In_Use" {
        return Err(fail("IncorrectDiskStatus"));
    }
    if old_disk.has("replication_status_unknown") {
        return Err(fail("IncorrectDiskStatus.ReplicationStatusNotFound"));
    }
    if old_disk.has("in_replication") {
        return Err(fail("IncorrectDiskStatus.InReplication"));
    }
    if old_disk.has("multi_attach") {
        return Err(fail("InvalidOperation.MultiAttachDisk"));
    }
    if old_disk.creating_snapshot {
        return Err(fail("DiskCreatingSnapshot"));
    }
    if old_disk.category == "cloud" {
        return Err(fail("InvalidDiskCategory.ValueNotSupported"));
    }
    Ok(())
}

/// The data disk of the deprecated DiskId path.
fn data_disk_state(d: &Disk, inst: &Instance) -> Result<(), Fail> {
    if d.storage_cluster.is_some() {
        return Err(fail("DISK_IN_DEDICATED_BLOCK_STORAGE_CLUSTER"));
    }
    if d.zone.as_ref().is_some_and(|z| *z != inst.zone) {
        return Err(fail("ResourcesNotInSameZone"));
    }
    if d.status != "Available" {
        return Err(fail("InvalidDatadisk.DiskStatusViolation"));
    }
    if d.category == "cloud" || d.category.starts_with("ephemeral") {
        return Err(fail("InvalidDatadisk.DiskCategoryViolation"));
    }
    if d.charge_type == "PrePaid" {
        return Err(fail("InvalidDatadisk.ChargeTypeViolation"));
    }
    if d.kms_key_id.is_some() {
        return Err(fail("InvalidParameter.DiskType"));
    }
    Ok(())
}

/// Phase 5: Image compatibility: state and market, architecture, instance type,
/// I/O optimization, data disk snapshots, Windows key pairs, non-root
/// login, host name, OS type changes, sizes.
fn image_compatibility(s: &State, r: &Req, p: &Params, f: &Found) -> Result<(), Fail> {
    let (inst, image) = (&f.inst, &f.image);
    image_market(image)?;
    if inst.architecture.as_ref().is_some_and(|a| *a != image.architecture) {
        return Err(fail("InvalidInstanceType.NotSupported"));
    }
    if image.has("instance_type_conflict") {
        return Err(fail("InvalidParameter.Conflict").status(400));
    }
    if image.has("instance_type_unsupported") {
        return Err(fail("ImageNotSupportInstanceType"));
    }
    match (inst.io_optimized, image.io_optimized) {
        (false, true) => return Err(fail("DependencyViolation.IoOptimize")),
        (true, false) => return Err(fail("IoOptimized.NotSupported")),
        _ => {}
    }
    if image.has_data_disk_snapshot {
        return Err(fail("OperationDenied").status(400));
    }
    if f.key_pair.is_some() && (image.os_type == "windows" || inst.os_type == "windows") {
        return Err(fail("DependencyViolation.WindowsInstance"));
    }
    if inst.has("login_as_non_root") {
        if s.account.has("region_no_non_root") {
            return Err(fail("LoginAsNonRoot.RegionNotSupport"));
        }
        if image.has("no_non_root_login") {
            return Err(fail("LoginAsNonRoot.ImageNotSupport"));
        }
    }
    if inst.has("hostname_mismatch") {
        return Err(fail("InvalidHostname.MismatchImage"));
    }
    let current_os = s.images.get(&inst.image_id).map(|i| i.os_type.clone()).unwrap_or_else(|| inst.os_type.clone());
    if s.account.has("region_no_image_type_change") && current_os != image.os_type {
        return Err(fail("OperationDenied").status(403));
    }
    // [Max{20, [the size of the specified image file]}, 500]: the contract's
    // min_from; "You cannot specify the SystemDisk.Size for the specified
    // ImageId": a size above the image's when it cannot resize.
    r.state_bounds("SystemDisk.Size", &sizes(image, None))?;
    if p.size.is_some_and(|sz| sz > image.size_gib) && !image.supports_resize {
        return Err(fail("InvalidSystemDiskSize.ImageNotSupportResize"));
    }
    Ok(())
}

/// The state the contract's size bounds and default read.
fn sizes<'a>(image: &'a Image, old_disk: Option<&'a Disk>) -> impl Fn(&str) -> Option<i64> + 'a {
    move |name| match name {
        "image.size_gib" => Some(i64::from(image.size_gib)),
        "system_disk.size_gib" => old_disk.map(|d| i64::from(d.size_gib)),
        _ => None,
    }
}

/// The image's state and its marketplace standing.
fn image_market(image: &Image) -> Result<(), Fail> {
    if image.status != "Available" {
        return Err(fail("OperationDenied.ImageNotValid"));
    }
    if image.has("removed_in_market") {
        return Err(fail("ImageRemovedInMarket"));
    }
    if !image.subscribed {
        return Err(fail("ImageNotSubscribed"));
    }
    if image.has("market_quota_exceeded") {
        return Err(fail("QuotaExceed.BuyImage").status(403));
    }
    Ok(())
}

/// Phase 6: Encryption and KMS.
fn encryption(s: &State, p: &Params, f: &Found, old_disk: &Disk) -> Result<(), Fail> {
    let encrypted_snapshots = f.image.snapshot_ids.iter().any(|id| s.snapshots.get(id).is_some_and(|x| x.encrypted));
    if encrypted_snapshots && p.encrypted != Some(true) {
        return Err(fail("InvalidEncrypted.NotMatchSnapshot"));
    }
    if s.account.has("default_encryption") && p.encrypted == Some(false) {
        return Err(fail("InvalidEncrypted.NotMatchDiskDefaultEncryption"));
    }
    if p.encrypted != Some(true) {
        return Ok(());
    }
    if s.account.has("region_no_encrypted_system_disk") {
        return Err(fail("InvalidRegionId.NotSupportReplaceEncryptedSystemDisk"));
    }
    if old_disk.has("encryption_unsupported") {
        return Err(fail("InvalidDiskId.NotSupportReplaceEncryptedSystemDisk"));
    }
    if old_disk.category == "cloud_efficiency" {
        return Err(fail("NotSupportSnapshotEncrypted.DiskCategory"));
    }
    if !s.account.kms_enabled {
        return Err(fail("InvalidParameter.KmsNotEnabled"));
    }
    if s.account.has("ecs_kms_unauthorized") {
        return Err(fail("InvalidParameter.KMSKeyId.KMSUnauthorized"));
    }
    if let Some(k) = &f.kms_key {
        if !k.enabled {
            return Err(fail("InvalidParameter.KMSKeyId.CMKNotEnabled"));
        }
        if !k.symmetric {
            return Err(fail("InvalidKMSKeyId.NotSymmetric"));
        }
        if !k.ecs_tag {
            return Err(fail("InvalidParameter.KMSKeyId.CMKUnauthorized"));
        }
    }
    if s.account.has("kms_data_key_failure") {
        return Err(fail("InvalidParameter.DataEncryptedKeyCreateFailed"));
    }
    Ok(())
}

/// Phase 7: Capacity, quotas and stock; phase 8: billing. The new disk's size.
fn capacity_and_billing(s: &State, r: &Req, f: &Found, old_disk: &Disk) -> Result<u32, Fail> {
    let (inst, image) = (&f.inst, &f.image);
    if s.account.has("disk_sold_out") {
        return Err(fail("OperationDenied.DiskNoStock"));
    }
    // The given size, else the contract's default: Max{40, image size}.
    let new_size = r.int_or_default("SystemDisk.Size", &sizes(image, Some(old_disk)));
    let new_size = new_size.and_then(|v| u32::try_from(v).ok()).unwrap_or_else(|| image.size_gib.max(40));
    capacity(s, inst, old_disk, new_size)?;
    if image.owner == "marketplace" && inst.charge_type != "PostPaid" {
        // "The commodity must be officially operated by Aliyun and in
        // pay-as-you-go billing method."
        return Err(fail("AccountForbidden.ProductCreationLimited"));
    }
    if s.account.has("service_unavailable") {
        return Err(fail("InternalError").status(400));
    }
    if inst.unpaid_orders.contains(&UnpaidOrder::Purchase) {
        return Err(fail("INST_HAS_UNPAID_ORDER"));
    }
    if inst.unpaid_orders.contains(&UnpaidOrder::Upgrade) {
        return Err(fail("OperationDenied.UnpaidOrder"));
    }
    if inst.expired {
        return Err(fail("InstanceExpiredOrInArrears"));
    }
    if inst.charge_type == "PrePaid" && new_size > old_disk.size_gib && s.account.has("sync_payment_unsupported") {
        return Err(fail("InvalidPayMethod.SyncPaymentNotSupport"));
    }
    Ok(new_size)
}

/// Success: a new system disk from the image; the old one (and the data
/// disk of the DiskId path) is released; the instance holds an operation
/// lock until the replacement finishes.
fn replace(s: &mut State, r: &Req, p: &Params, f: Found, old_disk: &Disk, size: u32) -> Map<String, Value> {
    if let Some(d) = &f.source_disk {
        s.disks.remove(&d.id);
    }
    let disk = Disk {
        id: String::new(),
        status: if s.manual_time { "Creating" } else { "In_Use" }.into(),
        role: "system".into(),
        category: old_disk.category.clone(),
        size_gib: size,
        instance_id: Some(f.inst.id.clone()),
        encrypted: p.encrypted == Some(true),
        kms_key_id: p.kms.map(str::to_string),
        creating_snapshot: false,
        content: format!("image:{}", f.image.id),
        // "不支持变更系统盘计费方式": the new disk keeps the old one's.
        charge_type: old_disk.charge_type.clone(),
        zone: old_disk.zone.clone(),
        detached: Vec::new(),
        storage_cluster: old_disk.storage_cluster.clone(),
        settled_status: "In_Use".into(),
        flags: Vec::new(),
    };
    let new_id = s.replace_system_disk(p.instance_id, Some(disk), &f.image.id, Some(ACTION));
    let i = s.instances.get_mut(p.instance_id).expect("checked above");
    // Replacing with an image of another OS family changes the instance's OS.
    i.os_type = f.image.os_type.clone();
    i.key_pair_ids = f.key_pair.map(|k| vec![k.id]).unwrap_or_default();
    i.password_set = p.password.is_some();
    let mut out = Map::new();
    out.insert("DiskId".into(), json!(new_id));
    s.remember(ACTION, p.token, r.fingerprint(&[]), &out);
    out
}

/// The new disk must fit its dedicated cluster's free capacity and the
/// account's quota for its category in the instance's zone (the old system
/// disk is released, so it does not count).
fn capacity(s: &State, inst: &Instance, old: &Disk, new_size: u32) -> Result<(), Fail> {
    if let Some(c) = &old.storage_cluster {
        if s.account.storage_clusters.get(c).is_some_and(|free| *free < new_size) {
            return Err(fail("InvalidStorageClusterId.CapacityNotEnough"));
        }
    }
    let key = format!("{}/{}", inst.zone, old.category);
    if let Some(quota) = s.account.disk_quota_gib.get(&key) {
        let zone_of = |d: &Disk| {
            d.zone.clone().or_else(|| d.instance_id.as_ref().and_then(|i| s.instances.get(i)).map(|i| i.zone.clone()))
        };
        let used: u32 = s
            .disks
            .values()
            .filter(|d| d.id != old.id && d.category == old.category && zone_of(d).as_deref() == Some(&inst.zone))
            .map(|d| d.size_gib)
            .sum();
        if used + new_size > *quota {
            let arg = format!("zone: {}, category: {}", inst.zone, old.category);
            return Err(fail("QuotaExceed.DiskCapacity").arg(arg));
        }
    }
    Ok(())
}
