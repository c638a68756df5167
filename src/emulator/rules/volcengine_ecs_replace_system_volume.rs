//! Volcengine ECS: ReplaceSystemVolume.

use super::{fail, password_classes, FlagDoc, Outcome, Req};
use crate::emulator::state::{Disk, State};
use crate::world::Kind;
use serde_json::Map;

const PASSWORD_SPECIALS: &str = "()`~!@#$%^&*-+=|{}[]:;'<>,.?/";

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[];

pub fn run(s: &mut State, r: &Req) -> Outcome {
    // 1. Presence and format.
    let Some(instance_id) = r.get(&["InstanceId"]).filter(|v| !v.is_empty()) else {
        return Err(fail("MissingParameter.InstanceId"));
    };
    let Some(image_id) = r.get(&["ImageId"]).filter(|v| !v.is_empty()) else {
        return Err(fail("MissingParameter.ImageId"));
    };
    let token = r.get(&["ClientToken"]).filter(|v| !v.is_empty());
    if token.is_some_and(|t| t.len() > 64 || !t.is_ascii()) {
        return Err(fail("InvalidClientToken.Malformed"));
    }
    let keep = r.bool(&["KeepImageCredential"]).map_err(|_| fail("InvalidArgument"))?.unwrap_or(false);
    let dry_run = r.bool(&["DryRun"]).map_err(|_| fail("InvalidArgument"))?.unwrap_or(false);
    let password = r.get(&["Password"]).filter(|v| !v.is_empty());
    let key_name = r.get(&["KeyPairName"]).filter(|v| !v.is_empty());
    if let Some(pw) = password {
        let n = pw.chars().count();
        if !((8..=30).contains(&n) && password_classes(pw, PASSWORD_SPECIALS).is_some_and(|c| c >= 3)) {
            return Err(fail("InvalidPassword.Malformed"));
        }
    }
    if keep && password.is_some() {
        return Err(fail("InvalidPassword.KeepImageCredentialMismatch"));
    }
    if keep && key_name.is_some() {
        return Err(fail("InvalidKeyPairName.KeepImageCredentialMismatch"));
    }
    if !keep && password.is_none() && key_name.is_none() {
        return Err(fail("MissingParameter.PasswordAndKeyPair"));
    }
    let size = r.int(&["Size"]).map_err(|_| fail("InvalidArgument"))?;
    if size.is_some_and(|v| !(1..=2048).contains(&v)) {
        return Err(fail("LimitExceeded.SystemVolumeSize"));
    }
    // Idempotency.
    let fingerprint = r.fingerprint(&["ClientToken", "DryRun"]);
    if let Some(t) = token {
        if let Some((fp, result)) = s.client_tokens.get(&format!("ReplaceSystemVolume/{t}")) {
            if *fp != fingerprint {
                return Err(fail("IdempotentParameterMismatch"));
            }
            return Ok(result.clone());
        }
    }
    // 2. Existence.
    let Some(inst) = s.instances.get(instance_id).cloned() else {
        return Err(fail("InvalidInstance.NotFound"));
    };
    let Some(image) = s.images.get(image_id).cloned() else {
        return Err(fail("InvalidImage.NotFound"));
    };
    let key_pair = match key_name {
        Some(n) => Some(s.key_pair_by_name(n).cloned().ok_or_else(|| fail("InvalidKeyPair.NotFound"))?),
        None => None,
    };
    // 3. Resource state.
    if inst.expired {
        return Err(fail("InvalidInstance.Expired"));
    }
    if inst.lock_reason.is_some() {
        return Err(fail("OperationDenied.ResourceLocked"));
    }
    if inst.creating_image {
        return Err(fail("OperationDenied.InstanceIsCreatingImage"));
    }
    if inst.status != "Stopped" {
        return Err(fail("InvalidInstanceStatus"));
    }
    let Some(old) = inst.system_disk_id.as_ref().and_then(|d| s.disks.get(d)).cloned() else {
        return Err(fail("InvalidVolumeStatus"));
    };
    if old.status != "attached" {
        return Err(fail("InvalidVolumeStatus"));
    }
    if key_pair.is_some() && (inst.os_type == "windows" || image.os_type == "windows") {
        return Err(fail("InvalidKeyPairForWindows.Unsupported"));
    }
    if keep && !image.has_credential {
        return Err(fail("InvalidImageId.KeepImageCredentialMismatch"));
    }
    if size.is_some_and(|v| (v as u32) < image.size_gib) {
        return Err(fail("InvalidVolumeSize.ImageSizeMismatch"));
    }
    if dry_run {
        return Err(fail("DryRunOperation"));
    }
    // Success: a new system volume from the image; the old one is released.
    let new_id = s.new_id(Kind::Disk);
    s.disks.remove(&old.id);
    s.disks.insert(
        new_id.clone(),
        Disk {
            id: new_id.clone(),
            size_gib: size.map(|v| v as u32).unwrap_or(old.size_gib.max(image.size_gib)),
            content: format!("image:{}", image.id),
            ..old
        },
    );
    let i = s.instances.get_mut(instance_id).expect("checked above");
    i.system_disk_id = Some(new_id);
    i.image_id = image.id.clone();
    i.os_type = image.os_type.clone();
    i.key_pair_ids = key_pair.map(|k| vec![k.id]).unwrap_or_default();
    let out = Map::new();
    if let Some(t) = token {
        s.client_tokens.insert(format!("ReplaceSystemVolume/{t}"), (fingerprint, out.clone()));
    }
    Ok(out)
}
