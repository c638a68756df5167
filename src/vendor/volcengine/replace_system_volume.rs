//! Volcengine ECS ReplaceSystemVolume (`shared/vendor-docs/volcengine-ecs-ReplaceSystemVolume.zh.txt`).
//!
//! Check order: presence (InstanceId, ImageId) → format (ClientToken,
//! booleans and integers, password, credential combination, size limit) →
//! idempotency (replay, mismatch, still processing) → existence (instance,
//! image, key pair) → instance state (locks, image creation, owning service,
//! status, system volume, size limit) → billing (expiry) → image
//! compatibility (instance type, volume type, Windows key pairs, preset
//! credentials, host name, size) → DryRun (ARCHITECTURE.md "Error
//! precedence"; the doc states no order). `run` reads as these phases.
//!
//! `MissingParameter.VolumeType` ("The required parameter VolumeType is not
//! supplied." / 云盘类型不能为空): no request parameter of the doc or the
//! SDK's request model carries a volume type, so the replacement takes the
//! old system volume's; a volume without one leaves it empty.

use crate::model::rules::{client_token, fail, flag, password_ok, Fail, FlagDoc, Outcome, Req};
use crate::model::state::{Disk, Flags, Image, Instance, KeyPair, State};
use serde_json::{Map, Value};

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

/// The action, as the ClientToken records and the operation lock name it.
const ACTION: &str = "ReplaceSystemVolume";

/// The request's parameters, once their presence and format are checked.
struct Params<'a> {
    instance_id: &'a str,
    image_id: &'a str,
    token: Option<&'a str>,
    keep: bool,
    dry_run: bool,
    size: Option<i64>,
    key_name: Option<&'a str>,
}

pub fn run(s: &mut State, r: &Req) -> Outcome {
    let p = parameters(r)?;
    // Phase 3: idempotency. A different request under the same token is
    // refused; a replacement still running is reported as such.
    let fingerprint = r.fingerprint(&["ClientToken", "DryRun"]);
    if let Some((fp, result)) = s.replay(ACTION, p.token) {
        if fp != fingerprint {
            return Err(fail("IdempotentParameterMismatch"));
        }
        if s.instances.get(p.instance_id).is_some_and(|i| i.operation_lock.is_some()) {
            return Err(fail("IdempotentProcessing"));
        }
        return Ok(result);
    }
    // Phase 4: existence.
    let Some(inst) = s.instances.get(p.instance_id).cloned() else {
        return Err(fail("InvalidInstance.NotFound"));
    };
    let Some(image) = s.images.get(p.image_id).cloned() else {
        return Err(fail("InvalidImage.NotFound"));
    };
    let key_pair = match p.key_name {
        Some(n) => Some(s.key_pair_by_name(n).cloned().ok_or_else(|| fail("InvalidKeyPair.NotFound"))?),
        None => None,
    };
    let old = instance_state(s, &p, &inst)?;
    if inst.expired {
        // Phase 6: billing.
        return Err(fail("InvalidInstance.Expired"));
    }
    image_compatibility(&p, &inst, &image, key_pair.is_some())?;
    if p.dry_run {
        return Err(fail("DryRunOperation"));
    }
    Ok(replace(s, &p, old, &image, key_pair, fingerprint))
}

/// Phases 1 and 2: presence, then format and how the credentials combine.
fn parameters<'a>(r: &Req<'a>) -> Result<Params<'a>, Fail> {
    let Some(instance_id) = r.get(&["InstanceId"]).filter(|v| !v.is_empty()) else {
        return Err(fail("MissingParameter.InstanceId"));
    };
    let Some(image_id) = r.get(&["ImageId"]).filter(|v| !v.is_empty()) else {
        return Err(fail("MissingParameter.ImageId"));
    };
    let token = client_token(r, || fail("InvalidClientToken.Malformed"))?;
    let keep = r.bool(&["KeepImageCredential"]).map_err(|_| fail("InvalidArgument"))?.unwrap_or(false);
    let dry_run = r.bool(&["DryRun"]).map_err(|_| fail("InvalidArgument"))?.unwrap_or(false);
    let size = r.int(&["Size"]).map_err(|_| fail("InvalidArgument"))?;
    let password = r.get(&["Password"]).filter(|v| !v.is_empty());
    let key_name = r.get(&["KeyPairName"]).filter(|v| !v.is_empty());
    if password.is_some_and(|pw| !password_ok(pw, 8..=30, PASSWORD_SPECIALS, 3)) {
        return Err(fail("InvalidPassword.Malformed"));
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
    Ok(Params { instance_id, image_id, token, keep, dry_run, size, key_name })
}

/// Phase 5: instance state, locks first, then the system volume: the
/// instance's current system volume.
fn instance_state(s: &State, p: &Params, inst: &Instance) -> Result<Disk, Fail> {
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
    if p.size.is_some_and(|v| v < 1 || v > i64::from(inst.max_system_disk_gib)) {
        return Err(fail("LimitExceeded.SystemVolumeSize"));
    }
    Ok(old)
}

/// Phase 7: image compatibility.
fn image_compatibility(p: &Params, inst: &Instance, image: &Image, key_pair: bool) -> Result<(), Fail> {
    if image.has("instance_type_unsupported") {
        return Err(fail("InvalidImage.InstanceTypeMismatch"));
    }
    if image.has("volume_type_unsupported") {
        return Err(fail("InvalidVolumeType.ImageMismatch"));
    }
    if key_pair && (inst.os_type == "windows" || image.os_type == "windows") {
        return Err(fail("InvalidKeyPairForWindows.Unsupported"));
    }
    if p.keep && !image.has_credential {
        return Err(fail("InvalidImageId.KeepImageCredentialMismatch"));
    }
    if inst.has("hostname_mismatch") {
        return Err(fail("InvalidImage.HostnameMismatch"));
    }
    if p.size.is_some_and(|v| v < i64::from(image.size_gib)) {
        return Err(fail("InvalidVolumeSize.ImageSizeMismatch"));
    }
    Ok(())
}

/// Success: a new system volume from the image; the old one is released.
fn replace(
    s: &mut State,
    p: &Params,
    old: Disk,
    image: &Image,
    key_pair: Option<KeyPair>,
    fingerprint: String,
) -> Map<String, Value> {
    let status = if s.manual_time { "creating" } else { "attached" };
    let disk = Disk {
        status: status.into(),
        settled_status: "attached".into(),
        // 1..=max_system_disk_gib (checked above): the conversion is exact.
        size_gib: p.size.and_then(|v| u32::try_from(v).ok()).unwrap_or(old.size_gib.max(image.size_gib)),
        content: format!("image:{}", image.id),
        ..old
    };
    s.replace_system_disk(p.instance_id, Some(disk), &image.id, Some(ACTION));
    let i = s.instances.get_mut(p.instance_id).expect("checked above");
    i.os_type = image.os_type.clone();
    i.key_pair_ids = key_pair.map(|k| vec![k.id]).unwrap_or_default();
    let out = Map::new();
    s.remember(ACTION, p.token, fingerprint, &out);
    out
}
