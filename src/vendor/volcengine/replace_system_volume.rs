//! Volcengine ECS ReplaceSystemVolume (`volcengine-ecs-ReplaceSystemVolume.zh.txt`).
//!
//! Check order: presence (InstanceId, ImageId) → format (ClientToken,
//! booleans and integers, password, credential combination, size limit) →
//! idempotency (replay, mismatch, still processing) → existence (instance,
//! image, key pair) → instance state (locks, image creation, owning service,
//! status, system volume, size limit) → billing (expiry) → image
//! compatibility (instance type, volume type, Windows key pairs, preset
//! credentials, host name, size) → DryRun (ARCHITECTURE.md "Error
//! precedence"; the doc states no order).
//!
//! `MissingParameter.VolumeType` ("The required parameter VolumeType is not
//! supplied." / 云盘类型不能为空): no request parameter of the doc or the
//! SDK's request model carries a volume type, so the replacement takes the
//! old system volume's; a volume without one leaves it empty.

use crate::emulator::rules::{fail, flag, password_classes, FlagDoc, Outcome, Req};
use crate::emulator::state::{Disk, Flags, State, Work};
use crate::world::Kind;
use serde_json::Map;

const PASSWORD_SPECIALS: &str = "()`~!@#$%^&*-+=|{}[]:;'<>,.?/";

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[
    flag(
        "image",
        "instance_type_unsupported",
        "指定的镜像不支持指定的实例规格 (InvalidImage.InstanceTypeMismatch)",
        "the doc does not list which images run on which instance types",
    ),
    flag(
        "image",
        "volume_type_unsupported",
        "指定的云盘类型和镜像不匹配: the image cannot boot from the instance's system volume type",
        "the doc does not list which images boot from which volume types",
    ),
    flag(
        "instance",
        "created_by_other_service",
        "您的资源被其他服务创建 (OperationDenied.ResourceCreatedByOtherService)",
        "which service created an instance is not otherwise part of the documented model",
    ),
    flag(
        "instance",
        "hostname_mismatch",
        "实例的主机名不适用于您选择的镜像 (InvalidImage.HostnameMismatch)",
        "the doc gives no rule for which host names an image accepts",
    ),
];

pub fn run(s: &mut State, r: &Req) -> Outcome {
    // 1. Presence.
    let Some(instance_id) = r.get(&["InstanceId"]).filter(|v| !v.is_empty()) else {
        return Err(fail("MissingParameter.InstanceId"));
    };
    let Some(image_id) = r.get(&["ImageId"]).filter(|v| !v.is_empty()) else {
        return Err(fail("MissingParameter.ImageId"));
    };
    // 2. Format.
    let token = r.get(&["ClientToken"]).filter(|v| !v.is_empty());
    if token.is_some_and(|t| t.len() > 64 || !t.is_ascii()) {
        return Err(fail("InvalidClientToken.Malformed"));
    }
    let keep = r.bool(&["KeepImageCredential"]).map_err(|_| fail("InvalidArgument"))?.unwrap_or(false);
    let dry_run = r.bool(&["DryRun"]).map_err(|_| fail("InvalidArgument"))?.unwrap_or(false);
    let size = r.int(&["Size"]).map_err(|_| fail("InvalidArgument"))?;
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
    // 3. Idempotency.
    let fingerprint = r.fingerprint(&["ClientToken", "DryRun"]);
    if let Some(t) = token {
        if let Some((fp, result)) = s.client_token(&format!("ReplaceSystemVolume/{t}")) {
            if fp != fingerprint {
                return Err(fail("IdempotentParameterMismatch"));
            }
            let busy = s.instances.get(instance_id).is_some_and(|i| i.operation_lock.is_some());
            if busy {
                return Err(fail("IdempotentProcessing"));
            }
            return Ok(result);
        }
    }
    // 4. Existence.
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
    // 5. Instance state, locks first.
    if inst.lock_reason.is_some() || inst.operation_lock.is_some() {
        return Err(fail("OperationDenied.ResourceLocked"));
    }
    if inst.creating_image {
        return Err(fail("OperationDenied.InstanceIsCreatingImage"));
    }
    if inst.has("created_by_other_service") {
        return Err(fail("OperationDenied.ResourceCreatedByOtherService"));
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
    if old.category.is_empty() {
        return Err(fail("MissingParameter.VolumeType"));
    }
    if size.is_some_and(|v| v < 1 || v > i64::from(inst.max_system_disk_gib)) {
        return Err(fail("LimitExceeded.SystemVolumeSize"));
    }
    // 6. Billing.
    if inst.expired {
        return Err(fail("InvalidInstance.Expired"));
    }
    // 7. Image compatibility.
    if image.has("instance_type_unsupported") {
        return Err(fail("InvalidImage.InstanceTypeMismatch"));
    }
    if image.has("volume_type_unsupported") {
        return Err(fail("InvalidVolumeType.ImageMismatch"));
    }
    if key_pair.is_some() && (inst.os_type == "windows" || image.os_type == "windows") {
        return Err(fail("InvalidKeyPairForWindows.Unsupported"));
    }
    if keep && !image.has_credential {
        return Err(fail("InvalidImageId.KeepImageCredentialMismatch"));
    }
    if inst.has("hostname_mismatch") {
        return Err(fail("InvalidImage.HostnameMismatch"));
    }
    if size.is_some_and(|v| v < i64::from(image.size_gib)) {
        return Err(fail("InvalidVolumeSize.ImageSizeMismatch"));
    }
    if dry_run {
        return Err(fail("DryRunOperation"));
    }
    // Success: a new system volume from the image; the old one is released.
    let new_id = s.new_id(Kind::Disk);
    s.disks.remove(&old.id);
    let status = if s.manual_time { "creating" } else { "attached" };
    s.disks.insert(
        new_id.clone(),
        Disk {
            id: new_id.clone(),
            status: status.into(),
            settled_status: "attached".into(),
            // 1..=max_system_disk_gib (checked above): the conversion is exact.
            size_gib: size.and_then(|v| u32::try_from(v).ok()).unwrap_or(old.size_gib.max(image.size_gib)),
            content: format!("image:{}", image.id),
            ..old
        },
    );
    let i = s.instances.get_mut(instance_id).expect("checked above");
    i.system_disk_id = Some(new_id.clone());
    i.image_id = image.id.clone();
    i.os_type = image.os_type.clone();
    i.key_pair_ids = key_pair.map(|k| vec![k.id]).unwrap_or_default();
    i.operation_lock = Some("ReplaceSystemVolume".into());
    s.schedule(60, Work::ReleaseLock { instance_id: instance_id.to_string(), disk_id: Some(new_id) });
    let out = Map::new();
    if let Some(t) = token {
        s.remember_client_token(format!("ReplaceSystemVolume/{t}"), fingerprint, out.clone());
    }
    Ok(out)
}
