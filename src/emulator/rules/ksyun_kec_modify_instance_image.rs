//! Kingsoft Cloud KEC: ModifyInstanceImage.

use super::{fail, is_uuid, FlagDoc, Outcome, Req};
use crate::emulator::state::{Disk, State};
use crate::world::Kind;
use serde_json::{json, Map};

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[];

pub fn run(s: &mut State, r: &Req) -> Outcome {
    // 1. Presence and format.
    let Some(instance_id) = r.get(&["InstanceId"]).filter(|v| !v.is_empty()) else {
        return Err(fail("MissingParameter").common());
    };
    let image_id = r.get(&["ImageId"]).filter(|v| !v.is_empty());
    if image_id.is_some_and(|i| !is_uuid(i)) {
        return Err(fail("ImageIdInvalidParameterValue"));
    }
    let keys = r.list("KeyId");
    if keys.len() > 10 {
        return Err(fail("InvalidParameter.InstanceKeyLimitExceeded"));
    }
    let size =
        r.int(&["SystemDisk.DiskSize", "SystemDisk_DiskSize"]).map_err(|_| fail("RootDiskGbInvalidParameterValue"))?;
    if size.is_some_and(|v| !(20..=500).contains(&v)) {
        return Err(fail("RootDiskGbInvalidParameterValue"));
    }
    // 2. Existence.
    let Some(inst) = s.instances.get(instance_id).cloned() else {
        return Err(fail("InstanceNotFound"));
    };
    let image = match image_id {
        Some(id) => s.images.get(id).cloned().ok_or_else(|| fail("ImageIdInvalidParameterValue"))?,
        None => s.images.get(&inst.image_id).cloned().ok_or_else(|| fail("ImageIdInvalidParameterValue"))?,
    };
    let mut key_ids = Vec::new();
    for k in &keys {
        if !s.key_pairs.contains_key(*k) {
            return Err(fail("KeyIdInvalidParameterValue"));
        }
        key_ids.push(k.to_string());
    }
    // 3. Resource state.
    if inst.charge_type == "Spot" {
        return Err(fail("OperationDenied.SpotInstance"));
    }
    if inst.status != "Stopped" {
        return Err(fail("InstanceStateNotSupported"));
    }
    if image.has_data_disk_snapshot {
        return Err(fail("AssembledImageNotSupportReinstallSystem"));
    }
    if !key_ids.is_empty() && !image.supports_key_login {
        return Err(fail("ImageTypeNotSupportedKeyLogin"));
    }
    if size.is_some_and(|v| (v as u32) < image.size_gib) {
        return Err(fail("RootDiskGbInvalidParameterValue"));
    }
    // Success: the system disk is re-created from the (new or same) image.
    let new_id = s.new_id(Kind::Disk);
    if let Some(old) = inst.system_disk_id.as_ref().and_then(|d| s.disks.remove(d)) {
        s.disks.insert(
            new_id.clone(),
            Disk {
                id: new_id.clone(),
                size_gib: size.map(|v| v as u32).unwrap_or(old.size_gib),
                category: r
                    .get(&["SystemDisk.DiskType", "SystemDisk_DiskType"])
                    .map(str::to_string)
                    .unwrap_or(old.category.clone()),
                content: format!("image:{}", image.id),
                ..old
            },
        );
    }
    let i = s.instances.get_mut(instance_id).expect("checked above");
    i.system_disk_id = Some(new_id);
    i.image_id = image.id.clone();
    if !key_ids.is_empty() {
        i.key_pair_ids = key_ids;
    }
    let mut out = Map::new();
    out.insert("Return".into(), json!(true));
    Ok(out)
}
