//! Kingsoft Cloud KEC ModifyInstanceImage (`shared/vendor-docs/ksyun-kec-ModifyInstanceImage.zh.txt`).
//!
//! Check order (ARCHITECTURE.md "Error precedence"; the doc states none):
//! parameter presence, format and relations (the contract's:
//! `model::rules::params`, before this rule runs: the UUID patterns,
//! KeepImageLogin / InstancePassword, at most 10 keys, the disk size's type,
//! the resize type, base64 user data, the password, ignored when
//! KeepImageLogin is true) → existence (instance, image, key pairs) →
//! instance state (migration, status) → billing and order (spot charge type,
//! order, sub-order) → image and instance compatibility (KeepImageLogin on a
//! custom image, disk size on N2/N3, local image rules, data disk snapshots,
//! key login, OS version, region) → capacity → upstream availability. `run`
//! reads as these phases.
//!
//! Where the doc states a condition but gives it no code, the contract's
//! checks answer with the common `MissingParameter` / `InvalidParameterValue`
//! (naming the parameter), Ksyun's only verified parameter error.

use crate::model::rules::{fail, flag, Fail, FlagDoc, Outcome, Req};
use crate::model::state::{Disk, Flags, Image, Instance, KeyPair, State};
use serde_json::{json, Map, Value};

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[
    flag(
        "account",
        "product_sold_out",
        "此商品在该机房已售罄 (ProductSellOutInvalid)",
        "stock is the cloud's inventory, not the tenant's state",
    ),
    flag(
        "account",
        "overseas_region",
        "an overseas region, where a reinstall cannot change the image type (ImageTypeMismatching)",
        "the doc does not list which regions are overseas",
    ),
    flag(
        "account",
        "upstream_unavailable",
        "the upstream resource check times out (the documented ServiceUnavailable dump)",
        "an upstream timeout; no client state causes it",
    ),
    flag(
        "image",
        "local_image",
        "a local image, usable only with an SSD3.0 system disk (LocalImageOnlySupportSSD3ForModifyImage)",
        "the doc names local images only in these errors, without a type field to model",
    ),
    flag(
        "image",
        "from_system_disk_snapshot",
        "made from a system disk snapshot, which cannot roll back across OS versions",
        "the doc does not say how an image records its source snapshot",
    ),
    flag(
        "instance",
        "sub_order_bound",
        "子订单已经绑定实例 (SubOrderBindedInstance)",
        "sub-orders are Ksyun billing internals the doc names only in this error",
    ),
    flag(
        "instance",
        "order_missing",
        "实例对应的订单不存在 (Payment.OrderNotFound)",
        "the instance's order is billing-side state the doc names only in this error",
    ),
    flag(
        "instance",
        "invalid_hostname",
        "the instance's host name is not valid for the new image (HostNameInvalidParameterValue)",
        "the doc gives no rule for which host names are valid for an image",
    ),
];

/// `SystemDisk.DiskSize`: "通用型N2、N3主机支持更换操作系统时指定系统盘大小".
fn sizes_system_disk(instance_type: &str) -> bool {
    ["N2.", "N3."].iter().any(|p| instance_type.starts_with(p))
}

/// The request's parameters, once their presence and format are checked.
struct Params<'a> {
    instance_id: &'a str,
    image_id: Option<&'a str>,
    keep_login: bool,
    keys: Vec<&'a str>,
    size: Option<u32>,
}

pub fn run(s: &mut State, r: &Req) -> Outcome {
    let p = parameters(r)?;
    // Phase 2: existence.
    let Some(inst) = s.instances.get(p.instance_id).cloned() else {
        return Err(fail("InstanceNotFound"));
    };
    let current_image = s.images.get(&inst.image_id).cloned();
    let image = match p.image_id {
        Some(id) => s.images.get(id).cloned().ok_or_else(|| fail("ImageIdInvalidParameterValue"))?,
        None => current_image.clone().ok_or_else(|| fail("ImageIdInvalidParameterValue"))?,
    };
    let mut key_pairs = Vec::new();
    for k in &p.keys {
        match s.key_pairs.get(*k) {
            Some(kp) => key_pairs.push(kp.clone()),
            None => return Err(fail("KeyIdInvalidParameterValue")),
        }
    }
    instance_and_order(&inst)?;
    let system_disk = inst.system_disk_id.as_ref().and_then(|d| s.disks.get(d)).cloned();
    let platform_changes = current_image.as_ref().is_some_and(|c| c.platform != image.platform);
    compatibility(s, &p, &inst, &image, platform_changes, &key_pairs)?;
    // Phase 6: capacity and upstream availability.
    if s.account.has("product_sold_out") {
        return Err(fail("ProductSellOutInvalid"));
    }
    if s.account.has("upstream_unavailable") {
        return Err(fail("ServiceUnavailable"));
    }
    Ok(reinstall(s, r, &p, &inst, &image, system_disk))
}

/// The request's parameters: their presence, format and relations are the
/// contract's checks, passed before this runs.
fn parameters<'a>(r: &Req<'a>) -> Result<Params<'a>, Fail> {
    let size = r.int(&["SystemDisk.DiskSize", "SystemDisk_DiskSize"]).ok().flatten();
    Ok(Params {
        instance_id: r.get(&["InstanceId"]).unwrap_or_default(),
        image_id: r.get(&["ImageId"]).filter(|v| !v.is_empty()),
        keep_login: r.bool(&["KeepImageLogin"]).ok().flatten().unwrap_or(false),
        keys: r.list("KeyId"),
        // Positive (the contract's check); beyond 32 bits, the largest.
        size: size.map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
    })
}

/// Phases 3 and 4: instance state, billing and order.
fn instance_and_order(inst: &Instance) -> Result<(), Fail> {
    if inst.status == "Migrating" {
        return Err(fail("InstanceStateNotSupportedMigrate"));
    }
    if inst.status != "Stopped" {
        return Err(fail("InstanceStateNotSupported"));
    }
    if inst.charge_type == "Spot" {
        return Err(fail("OperationDenied.SpotInstance"));
    }
    if inst.has("order_missing") {
        return Err(fail("Payment.OrderNotFound"));
    }
    if inst.has("sub_order_bound") {
        return Err(fail("SubOrderBindedInstance"));
    }
    Ok(())
}

/// Phase 5: image and instance compatibility.
fn compatibility(
    s: &State,
    p: &Params,
    inst: &Instance,
    image: &Image,
    platform_changes: bool,
    key_pairs: &[KeyPair],
) -> Result<(), Fail> {
    // "该参数只对使用自定义镜像有效": KeepImageLogin on a public image.
    if p.keep_login && image.owner != "self" {
        return Err(fail("InvalidParameterValue").common().arg("KeepImageLogin"));
    }
    if p.size.is_some() && !sizes_system_disk(&inst.instance_type) {
        return Err(fail("RootDiskGbInvalidParameterValue"));
    }
    let system_disk = inst.system_disk_id.as_ref().and_then(|d| s.disks.get(d));
    if image.has("local_image") {
        if image.zone.as_ref().is_some_and(|z| *z != inst.zone) {
            return Err(fail("ImageHaveInvalidZone"));
        }
        if system_disk.is_some_and(|d| d.category != "SSD3.0") {
            return Err(fail("LocalImageOnlySupportSSD3ForModifyImage"));
        }
    }
    if image.has_data_disk_snapshot {
        return Err(fail("AssembledImageNotSupportReinstallSystem"));
    }
    if image.has("from_system_disk_snapshot") && platform_changes {
        return Err(fail("LocalVolumeRollBackImageTypeMismatching"));
    }
    if s.account.has("overseas_region") && platform_changes {
        return Err(fail("ImageTypeMismatching"));
    }
    if !key_pairs.is_empty() && !image.supports_key_login {
        return Err(fail("ImageTypeNotSupportedKeyLogin"));
    }
    if image.platform.starts_with("Rocky") && key_pairs.iter().any(|k| k.key_type != "rsa-2048") {
        return Err(fail("RockyLinuxOnlySupport2048ForRsaKey"));
    }
    if inst.has("invalid_hostname") {
        return Err(fail("HostNameInvalidParameterValue"));
    }
    // The doc gives no lower bound; the image's size is assumed
    // (disk-size-below-image).
    if p.size.is_some_and(|v| v < image.size_gib) {
        return Err(fail("RootDiskGbInvalidParameterValue"));
    }
    Ok(())
}

/// Success: the system disk is re-created from the (new or same) image.
fn reinstall(
    s: &mut State,
    r: &Req,
    p: &Params,
    inst: &Instance,
    image: &Image,
    system_disk: Option<Disk>,
) -> Map<String, Value> {
    let disk = system_disk.map(|old| Disk {
        // "若不指定该参数,则按照系统默认值进行分配": the image's size
        // is taken as the system default (the doc gives no number).
        size_gib: p.size.unwrap_or(image.size_gib),
        // "不传默认按价格体系配置systemDisk属性中第一个创建": the first
        // type of the instance type's price list (the old disk's
        // type when a world gives no price list).
        category: r
            .get(&["SystemDisk.DiskType", "SystemDisk_DiskType"])
            .map(str::to_string)
            .or_else(|| inst.price_list_disk_types.first().cloned())
            .unwrap_or(old.category.clone()),
        content: format!("image:{}", image.id),
        ..old
    });
    s.replace_system_disk(p.instance_id, disk, &image.id, None);
    if !p.keys.is_empty() {
        let i = s.instances.get_mut(p.instance_id).expect("checked above");
        i.key_pair_ids = p.keys.iter().map(|k| k.to_string()).collect();
    }
    let mut out = Map::new();
    out.insert("Return".into(), json!(true));
    out
}
