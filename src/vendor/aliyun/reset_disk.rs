//! Alibaba Cloud ECS ResetDisk (`shared/vendor-docs/aliyun-ecs-ResetDisk.zh.txt`).
//!
//! Check order: parameter presence and format (DiskId, SnapshotId and DryRun
//! are the contract's checks, `model::rules::params`, before this rule runs;
//! then RegionId, a common parameter) → existence (disk, snapshot, the disk's instance) → the
//! snapshot belongs to the disk → locks (security lock, a conflicting
//! operation, a reset in progress) → disk state (category, status, unfinished
//! snapshot) → instance status → snapshot state (ready, restorable) →
//! encryption (KMS) → account (arrears, balance, snapshot service, white
//! list, service availability) → DryRun. `run` reads as these phases.

use crate::model::rules::{fail, flag, ram_allows, Fail, FlagDoc, Outcome, Req};
use crate::model::state::{Disk, Flags, Instance, Snapshot, State, Work};
use serde_json::Map;

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[
    flag(
        "snapshot",
        "reset_unsupported",
        "The specified snapshot dees not support ResetDisk (OperationDenied)",
        "the doc does not say which snapshots cannot be used for ResetDisk",
    ),
    flag(
        "account",
        "ecs_kms_unauthorized",
        "ECS service have no right to access your KMS (InvalidParameter.KMSKeyId.KMSUnauthorized)",
        "the ECS service role's KMS authorisation is not described by the doc",
    ),
    flag(
        "account",
        "not_in_disk_whitelist",
        "The user is not in disk white list.",
        "white lists are granted by the vendor; the doc does not say for what",
    ),
    flag(
        "account",
        "service_unavailable",
        "The requested services is not available now (InternalError, 400)",
        "a server-side outage; no client state causes it",
    ),
];

pub fn run(s: &mut State, r: &Req) -> Outcome {
    // Phase 1: presence and format (the contract's checks passed), then
    // RegionId: "malformed" is not defined by the doc; anything but lowercase
    // letters, digits and hyphens is assumed (case region-id-malformed).
    let disk_id = r.get(&["DiskId"]).unwrap_or_default();
    let snapshot_id = r.get(&["SnapshotId"]).unwrap_or_default();
    let dry_run = r.bool(&["DryRun"]).ok().flatten();
    if let Some(region) = r.get(&["RegionId"]) {
        let ok =
            !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(fail("InvalidRegionId.MalFormed"));
        }
    }
    let (disk, snap, inst) = existence(s, r, disk_id, snapshot_id)?;
    locks_and_state(&disk, &snap, inst.as_ref())?;
    encryption(s, &disk)?;
    account(s, inst.as_ref())?;
    if dry_run == Some(true) {
        return Err(fail("DryRunOperation"));
    }
    reset(s, disk_id, &snap);
    Ok(Map::new())
}

/// Phase 2: existence (disk, snapshot, the disk's instance), the snapshot
/// belongs to the disk, and the doc's authorisation table (ecs:ResetDisk on
/// the disk and the snapshot).
fn existence(s: &State, r: &Req, disk_id: &str, snapshot_id: &str) -> Result<(Disk, Snapshot, Option<Instance>), Fail> {
    let Some(disk) = s.disks.get(disk_id).cloned() else {
        return Err(fail("InvalidDiskId.NotFound"));
    };
    if disk.status == "Released" {
        return Err(fail("Disk.NotFound"));
    }
    let Some(snap) = s.snapshots.get(snapshot_id).cloned() else {
        return Err(fail("InvalidSnapshotId.NotFound"));
    };
    let inst = match &disk.instance_id {
        Some(i) => Some(s.instances.get(i).cloned().ok_or_else(|| fail("InvalidInstanceId.NotFound"))?),
        None if disk.status == "In_Use" => return Err(fail("InvalidInstanceId.NotFound")),
        None => None,
    };
    if snap.disk_id.as_deref() != Some(disk_id) {
        return Err(fail("InvalidParameter.Mismatch"));
    }
    let arns = [format!("disk/{disk_id}"), format!("snapshot/{snapshot_id}")];
    ram_allows(s, r, "ecs:ResetDisk", &arns)?;
    Ok((disk, snap, inst))
}

/// Phases 3 and 4: locks, then disk, instance and snapshot state.
fn locks_and_state(disk: &Disk, snap: &Snapshot, inst: Option<&Instance>) -> Result<(), Fail> {
    if let Some(i) = inst {
        if i.lock_reason.as_deref() == Some("security") {
            return Err(fail("InstanceLockedForSecurity"));
        }
        if i.operation_lock.is_some() {
            return Err(fail("Operation.Conflict"));
        }
    }
    if disk.status == "ReIniting" {
        return Err(fail("InvalidOperation.DiskResetInProgress"));
    }
    if disk.category.starts_with("ephemeral") || disk.category.starts_with("local") {
        return Err(fail("DiskCategory.OperationNotSupported"));
    }
    if disk.status != "In_Use" && disk.status != "Available" {
        return Err(fail("IncorrectDiskStatus"));
    }
    if disk.creating_snapshot {
        return Err(fail("IncorrectDiskStatus.HasUnfinishedSnapshot"));
    }
    if inst.is_some_and(|i| i.status != "Stopped") {
        return Err(fail("IncorrectInstanceStatus"));
    }
    if snap.status != "accomplished" {
        return Err(fail("InvalidSnapshotId.NotReady"));
    }
    if too_old(&snap.created, &disk.detached) {
        return Err(fail("InvalidSnapshot.TooOld"));
    }
    if snap.has("reset_unsupported") {
        return Err(fail("OperationDenied"));
    }
    Ok(())
}

/// Phase 5: encryption (the disk's KMS key).
fn encryption(s: &State, disk: &Disk) -> Result<(), Fail> {
    if !disk.encrypted {
        return Ok(());
    }
    let key = disk.kms_key_id.as_ref().map(|k| s.kms_keys.get(k));
    if matches!(key, Some(None)) {
        return Err(fail("InvalidParameter.KMSKeyId.NotFound"));
    }
    if s.account.has("ecs_kms_unauthorized") {
        return Err(fail("InvalidParameter.KMSKeyId.KMSUnauthorized"));
    }
    if key.flatten().is_some_and(|k| !k.ecs_tag) {
        return Err(fail("InvalidParameter.KMSKeyId.CMKUnauthorized"));
    }
    if key.flatten().is_some_and(|k| !k.enabled) {
        return Err(fail("InvalidParameter.KMSKeyId.CMKNotEnabled"));
    }
    Ok(())
}

/// Phase 6: the account (arrears, balance, snapshot service, white list,
/// service availability).
fn account(s: &State, inst: Option<&Instance>) -> Result<(), Fail> {
    if inst.is_some_and(|i| i.expired) {
        return Err(fail("InstanceExpiredOrInArrears"));
    }
    if !s.account.enough_balance {
        return Err(fail("InvalidAccountStatus.NotEnoughBalance"));
    }
    if !s.account.snapshot_service {
        return Err(fail("InvalidAccountStatus.SnapshotServiceUnavailable"));
    }
    if s.account.has("not_in_disk_whitelist") {
        return Err(fail("UserNotInTheWhiteList"));
    }
    if s.account.has("service_unavailable") {
        return Err(fail("InternalError").status(400));
    }
    Ok(())
}

/// Success: the disk takes the snapshot's content; it is ReIniting until
/// the work completes (at once unless time is manual).
///
/// How a case sees the rollback: no DescribeDisks field of the real API
/// reflects a disk's data, and SourceSnapshotId names the snapshot a disk
/// was *created* from, which a rollback does not change, so it is not
/// repurposed here. The observable the real API has is the disk's Status,
/// ReIniting while the rollback runs (case rollback-observed-with-describe,
/// under manual time); `content` stays internal to the emulator.
fn reset(s: &mut State, disk_id: &str, snap: &Snapshot) {
    let manual = s.manual_time;
    let d = s.disks.get_mut(disk_id).expect("checked above");
    d.content = snap.content.clone();
    d.settled_status = d.status.clone();
    if manual {
        d.status = "ReIniting".into();
    }
    s.schedule(30, Work::ReleaseLock { instance_id: String::new(), disk_id: Some(disk_id.to_string()) });
}

/// "The snapshotId is created before 2013-07-15, it cannot be restored since
/// the first time the disk detached": a snapshot from before that day, of a
/// disk that has been detached. The sentence orders nothing: a detach
/// before the snapshot was made counts as well. Dates are `YYYY-MM-DD`, so
/// they compare as text.
fn too_old(created: &str, detached: &[String]) -> bool {
    created < "2013-07-15" && !detached.is_empty()
}

#[cfg(test)]
mod tests {
    use super::too_old;

    #[test]
    fn too_old_needs_an_old_snapshot_of_a_disk_once_detached() {
        let detached = vec!["2014-01-01".to_string()];
        assert!(too_old("2013-07-14", &detached));
        assert!(!too_old("2013-07-15", &detached));
        assert!(!too_old("2013-07-14", &[]));
        // A detach before the snapshot was made counts too: the doc orders nothing.
        assert!(too_old("2013-07-14", &["2013-07-01".to_string()]));
    }
}
