//! Alibaba Cloud ECS ReplaceSystemDisk (`aliyun-ecs-ReplaceSystemDisk.zh.txt`,
//! and the older English page).

use super::{fail, password_classes, Fail, FlagDoc, Outcome, Req};
use crate::emulator::state::{Disk, State, Work};
use crate::world::Kind;
use serde_json::{json, Map};

/// Specials allowed in a password (the legacy doc's list).
const PASSWORD_SPECIALS: &str = "()`~!@#$%^&*-+=|{}[]:;'<>,.?/ ‘";

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[];

/// The vendor-wide MissingParameter, naming the parameter.
fn missing(name: &str) -> Fail {
    fail("MissingParameter").common().arg(name)
}

pub fn run(s: &mut State, r: &Req) -> Outcome {
    // 1. Presence and format.
    let Some(instance_id) = r.get(&["InstanceId"]).filter(|v| !v.is_empty()) else {
        return Err(missing("InstanceId"));
    };
    let image_id = r.get(&["ImageId"]).filter(|v| !v.is_empty());
    let disk_id = r.get(&["DiskId"]).filter(|v| !v.is_empty());
    match (image_id, disk_id) {
        (None, None) => return Err(fail("MissingParameter").status(400)),
        (Some(_), Some(_)) => return Err(fail("InvalidParameter.Conflict").status(403)),
        _ => {}
    }
    let password = r.get(&["Password"]);
    let inherit = r.bool(&["PasswordInherit"]).map_err(|_| fail("InvalidParameter").common().arg("PasswordInherit"))?;
    if let Some(pw) = password {
        if inherit == Some(true) {
            return Err(fail("InvalidPasswordParam.Mismatch"));
        }
        let n = pw.chars().count();
        let ok = (8..=30).contains(&n) && password_classes(pw, PASSWORD_SPECIALS).is_some_and(|c| c >= 3);
        if !ok {
            return Err(fail("InvalidPassword.Malformed").status(400));
        }
    }
    let size = r.int(&["SystemDisk.Size"]).map_err(|_| fail("InvalidSystemDiskSize.ValueNotSupported"))?;
    if let Some(sz) = size {
        if sz > 500 {
            return Err(fail("InvalidSystemDiskSize.MoreThanMaxSize"));
        }
        if sz < 20 {
            return Err(fail("InvalidSystemDiskSize.LessThanMinSize"));
        }
    }
    let encrypted = r.bool(&["Encrypted"]).map_err(|_| fail("InvalidParameter").common().arg("Encrypted"))?;
    let kms = r.get(&["KMSKeyId"]).filter(|v| !v.is_empty());
    if kms.is_some() && encrypted != Some(true) {
        return Err(fail("InvalidEncrypted.NotMatchKmsKeyId"));
    }
    if r.has(&["EncryptAlgorithm"]) && encrypted != Some(true) {
        return Err(fail("InvalidEncrypted.NotMatchEncryptAlgorithm"));
    }
    // Idempotency: the same token replays the first result.
    let token = r.get(&["ClientToken"]).filter(|t| !t.is_empty());
    if let Some(t) = token {
        if let Some((_, result)) = s.client_tokens.get(&format!("ReplaceSystemDisk/{t}")) {
            return Ok(result.clone());
        }
    }
    // 2. Existence.
    let Some(inst) = s.instances.get(instance_id).cloned() else {
        return Err(fail("InvalidInstanceId.NotFound"));
    };
    let image = match image_id {
        Some(id) => match s.images.get(id) {
            Some(i) => i.clone(),
            None => return Err(fail("InvalidImageId.NotFound")),
        },
        None => match disk_id.and_then(|d| s.disks.get(d)) {
            Some(_) => s.images.get(&inst.image_id).cloned().ok_or_else(|| fail("InvalidImageId.NotFound"))?,
            None => return Err(fail("InvalidDiskId.NotFound")),
        },
    };
    let key_pair = match r.get(&["KeyPairName"]).filter(|v| !v.is_empty()) {
        Some(name) => Some(s.key_pair_by_name(name).cloned().ok_or_else(|| fail("InvalidKeyPairName.NotFound"))?),
        None => None,
    };
    if let Some(k) = kms {
        if !s.kms_keys.contains_key(k) {
            return Err(fail("InvalidParameter.KMSKeyId.NotFound"));
        }
    }
    // 3. Resource state.
    if inst.lock_reason.as_deref() == Some("security") {
        return Err(fail("InstanceLockedForSecurity"));
    }
    if inst.status != "Stopped" || inst.operation_lock.is_some() {
        return Err(fail("IncorrectInstanceStatus"));
    }
    let Some(old_disk) = inst.system_disk_id.as_ref().and_then(|d| s.disks.get(d)).cloned() else {
        return Err(fail("InvalidInstance.NotFoundSystemDisk"));
    };
    if old_disk.creating_snapshot {
        return Err(fail("DiskCreatingSnapshot"));
    }
    if image.status != "Available" {
        return Err(fail("OperationDenied.ImageNotValid"));
    }
    if image.has_data_disk_snapshot {
        return Err(fail("OperationDenied").status(400));
    }
    if !image.subscribed {
        return Err(fail("ImageNotSubscribed"));
    }
    if key_pair.is_some() && (image.os_type == "windows" || inst.os_type == "windows") {
        return Err(fail("DependencyViolation.WindowsInstance"));
    }
    if let Some(sz) = size {
        if (sz as u32) < image.size_gib {
            return Err(fail("InvalidSystemDiskSize.LessThanImageSize"));
        }
        if sz as u32 > image.size_gib && !image.supports_resize {
            return Err(fail("InvalidSystemDiskSize.ImageNotSupportResize"));
        }
    }
    if let Some(k) = kms {
        if !s.account.kms_enabled {
            return Err(fail("InvalidParameter.KmsNotEnabled"));
        }
        if !s.kms_keys[k].enabled {
            return Err(fail("InvalidParameter.KMSKeyId.CMKNotEnabled"));
        }
        if !s.kms_keys[k].symmetric {
            return Err(fail("InvalidKMSKeyId.NotSymmetric"));
        }
    }
    // 4. Account and billing.
    if inst.unpaid_order {
        return Err(fail("INST_HAS_UNPAID_ORDER"));
    }
    if inst.expired {
        return Err(fail("InstanceExpiredOrInArrears"));
    }
    // Success: a new system disk from the image; the old one is released.
    let new_id = s.new_id(Kind::Disk);
    let size = size.map(|v| v as u32).unwrap_or_else(|| image.size_gib.max(40));
    s.disks.remove(&old_disk.id);
    s.disks.insert(
        new_id.clone(),
        Disk {
            id: new_id.clone(),
            status: "In_Use".into(),
            role: "system".into(),
            category: old_disk.category.clone(),
            size_gib: size,
            instance_id: Some(inst.id.clone()),
            encrypted: encrypted == Some(true),
            kms_key_id: kms.map(str::to_string),
            creating_snapshot: false,
            content: format!("image:{}", image.id),
            settled_status: "In_Use".into(),
            flags: Vec::new(),
        },
    );
    let i = s.instances.get_mut(instance_id).expect("checked above");
    i.system_disk_id = Some(new_id.clone());
    i.image_id = image.id.clone();
    i.key_pair_ids = key_pair.map(|k| vec![k.id]).unwrap_or_default();
    i.password_set = password.is_some();
    // The replacement holds an operation lock until it finishes; the new disk
    // is Creating meanwhile (immediate unless the control API drives time).
    i.operation_lock = Some("ReplaceSystemDisk".into());
    if s.manual_time {
        s.disks.get_mut(&new_id).expect("inserted above").status = "Creating".into();
    }
    s.schedule(60, Work::ReleaseLock { instance_id: instance_id.to_string(), disk_id: Some(new_id.clone()) });
    let mut out = Map::new();
    out.insert("DiskId".into(), json!(new_id));
    if let Some(t) = token {
        s.client_tokens.insert(format!("ReplaceSystemDisk/{t}"), (r.fingerprint(&[]), out.clone()));
    }
    Ok(out)
}
