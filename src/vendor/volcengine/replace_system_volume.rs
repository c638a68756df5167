//! Volcengine ECS ReplaceSystemVolume (`shared/vendor-docs/volcengine-ecs-ReplaceSystemVolume.zh.txt`).
//!
//! Check order: presence, format and how the credentials combine (the
//! contract's: `model::rules::params`, before this rule runs) → idempotency
//! (replay, mismatch, still processing) → existence (instance, image, key
//! pair) → instance state (locks, image creation, owning service, status,
//! system volume) → billing (expiry) → image compatibility (instance type,
//! volume type, Windows key pairs, preset credentials, host name, the size
//! against the image and the instance type's limit) → DryRun
//! (ARCHITECTURE.md "Error precedence"; the doc states no order). `run`
//! reads as these phases.
//!
//! The page collapses the password and ClientToken rules (密码规则如下: 说明;
//! 取值:), so neither is checked: their errors are waived in `api.yaml`.
//!
//! `MissingParameter.VolumeType` ("The required parameter VolumeType is not
//! supplied." / 云盘类型不能为空): no request parameter of the doc or the
//! SDK's request model carries a volume type, so the replacement takes the
//! old system volume's; a volume without one leaves it empty.

use crate::model::rules::{fail, flag, Fail, FlagDoc, Outcome, Req};
use crate::model::state::{Disk, Flags, Image, Instance, KeyPair, State};
use serde_json::{Map, Value};

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
    let old = instance_state(s, &inst)?;
    if inst.expired {
        // Phase 6: billing.
        return Err(fail("InvalidInstance.Expired"));
    }
    image_compatibility(r, &p, &inst, &image, key_pair.is_some())?;
    if p.dry_run {
        return Err(fail("DryRunOperation"));
    }
    Ok(replace(s, &p, old, &image, key_pair, fingerprint))
}

/// The request's parameters: their presence, format and how the
/// credentials combine are the contract's checks, passed before this runs.
fn parameters<'a>(r: &Req<'a>) -> Result<Params<'a>, Fail> {
    let given = |name: &str| r.get(&[name]).filter(|v| !v.is_empty());
    let flag = |name: &str| r.bool(&[name]).ok().flatten().unwrap_or(false);
    Ok(Params {
        instance_id: given("InstanceId").unwrap_or_default(),
        image_id: given("ImageId").unwrap_or_default(),
        token: given("ClientToken"),
        keep: flag("KeepImageCredential"),
        dry_run: flag("DryRun"),
        size: r.int(&["Size"]).ok().flatten(),
        key_name: given("KeyPairName"),
    })
}

/// Phase 5: instance state, locks first, then the system volume: the
/// instance's current system volume.
fn instance_state(s: &State, inst: &Instance) -> Result<Disk, Fail> {
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
    Ok(old)
}

/// Phase 7: image compatibility.
fn image_compatibility(r: &Req, p: &Params, inst: &Instance, image: &Image, key_pair: bool) -> Result<(), Fail> {
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
    // The contract's bounds from the state: not below the image file
    // (ImageSizeMismatch), not above the instance type's limit.
    let state = |name: &str| match name {
        "image.size_gib" => Some(i64::from(image.size_gib)),
        "instance.max_system_disk_gib" => inst.max_system_disk_gib.map(i64::from),
        _ => None,
    };
    r.state_bounds("Size", &state)
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
        // At least the image's size (checked above), so positive.
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
