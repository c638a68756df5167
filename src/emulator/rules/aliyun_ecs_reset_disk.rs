//! Alibaba Cloud ECS ResetDisk (`aliyun-ecs-ResetDisk.zh.txt`).

use super::{fail, Fail, FlagDoc, Outcome, Req};
use crate::emulator::state::State;
use serde_json::Map;

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[];

/// The vendor-wide MissingParameter, naming the parameter.
fn missing(name: &str) -> Fail {
    fail("MissingParameter").common().arg(name)
}

pub fn run(s: &mut State, r: &Req) -> Outcome {
    let Some(disk_id) = r.get(&["DiskId"]).filter(|v| !v.is_empty()) else {
        return Err(missing("DiskId"));
    };
    let Some(snapshot_id) = r.get(&["SnapshotId"]).filter(|v| !v.is_empty()) else {
        return Err(missing("SnapshotId"));
    };
    let dry_run = r.bool(&["DryRun"]).map_err(|_| fail("InvalidParameter").common().arg("DryRun"))?;
    let Some(disk) = s.disks.get(disk_id).cloned() else {
        return Err(fail("InvalidDiskId.NotFound"));
    };
    let Some(snap) = s.snapshots.get(snapshot_id).cloned() else {
        return Err(fail("InvalidSnapshotId.NotFound"));
    };
    let inst = disk.instance_id.as_ref().and_then(|i| s.instances.get(i)).cloned();
    if let Some(i) = &inst {
        if i.lock_reason.as_deref() == Some("security") {
            return Err(fail("InstanceLockedForSecurity"));
        }
    }
    if snap.disk_id.as_deref() != Some(disk_id) {
        return Err(fail("InvalidParameter.Mismatch"));
    }
    if disk.status != "In_Use" && disk.status != "Available" {
        return Err(fail("IncorrectDiskStatus"));
    }
    if let Some(i) = &inst {
        if i.status != "Stopped" {
            return Err(fail("IncorrectInstanceStatus"));
        }
    }
    if snap.status != "accomplished" {
        return Err(fail("InvalidSnapshotId.NotReady"));
    }
    if snap.legacy {
        return Err(fail("InvalidSnapshot.TooOld"));
    }
    if disk.creating_snapshot {
        return Err(fail("IncorrectDiskStatus.HasUnfinishedSnapshot"));
    }
    if inst.as_ref().is_some_and(|i| i.expired) {
        return Err(fail("InstanceExpiredOrInArrears"));
    }
    if !s.account.enough_balance {
        return Err(fail("InvalidAccountStatus.NotEnoughBalance"));
    }
    if !s.account.snapshot_service {
        return Err(fail("InvalidAccountStatus.SnapshotServiceUnavailable"));
    }
    if dry_run == Some(true) {
        return Err(fail("DryRunOperation"));
    }
    s.disks.get_mut(disk_id).expect("checked above").content = snap.content.clone();
    Ok(Map::new())
}
