//! Kingsoft Cloud KEC ModifyInstanceImage (`ksyun-kec-ModifyInstanceImage.zh.txt`).
//!
//! Check order: parameter presence and format (InstanceId, ImageId format,
//! key count, disk size, password) → existence (instance, image, key pairs) →
//! instance and order state (billing, status, migration, order) → image
//! compatibility (local image rules, data disk snapshots, key login, OS
//! version, region) → capacity → upstream availability.

use super::{fail, is_uuid, FlagDoc, Outcome, Req};
use crate::emulator::state::{Disk, Flags, State};
use crate::world::Kind;
use serde_json::{json, Map};

/// Conditions a world can set for this API.
pub const FLAGS: &[FlagDoc] = &[
    FlagDoc {
        kind: "account", name: "product_sold_out", meaning: "此商品在该机房已售罄 (ProductSellOutInvalid)"
    },
    FlagDoc {
        kind: "account",
        name: "overseas_region",
        meaning: "an overseas region, where a reinstall cannot change the image type (ImageTypeMismatching)",
    },
    FlagDoc {
        kind: "account",
        name: "upstream_unavailable",
        meaning: "the upstream resource check times out (the documented ServiceUnavailable dump)",
    },
    FlagDoc {
        kind: "image",
        name: "local_image",
        meaning: "a local image, usable only with an SSD3.0 system disk (LocalImageOnlySupportSSD3ForModifyImage)",
    },
    FlagDoc {
        kind: "image",
        name: "other_zone",
        meaning: "the local image is not in the instance's zone (ImageHaveInvalidZone)",
    },
    FlagDoc {
        kind: "image",
        name: "from_system_disk_snapshot",
        meaning: "made from a system disk snapshot, which cannot roll back across OS versions",
    },
    FlagDoc {
        kind: "instance", name: "sub_order_bound", meaning: "子订单已经绑定实例 (SubOrderBindedInstance)"
    },
    FlagDoc {
        kind: "instance", name: "order_missing", meaning: "实例对应的订单不存在 (Payment.OrderNotFound)"
    },
    FlagDoc {
        kind: "instance",
        name: "invalid_hostname",
        meaning: "the instance's host name is not valid for the new image (HostNameInvalidParameterValue)",
    },
];

/// At most 32 characters, at least 8, with upper case, lower case and digits.
fn password_ok(pw: &str) -> bool {
    let n = pw.chars().count();
    (8..=32).contains(&n)
        && pw.chars().any(|c| c.is_ascii_uppercase())
        && pw.chars().any(|c| c.is_ascii_lowercase())
        && pw.chars().any(|c| c.is_ascii_digit())
        && pw.chars().all(|c| c.is_ascii_graphic())
}

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
    if let Some(pw) = r.get(&["InstancePassword"]) {
        if !password_ok(pw) {
            return Err(fail("InvalidParameterValue").common().arg("InstancePassword"));
        }
    }
    // 2. Existence.
    let Some(inst) = s.instances.get(instance_id).cloned() else {
        return Err(fail("InstanceNotFound"));
    };
    let current_image = s.images.get(&inst.image_id).cloned();
    let image = match image_id {
        Some(id) => s.images.get(id).cloned().ok_or_else(|| fail("ImageIdInvalidParameterValue"))?,
        None => current_image.clone().ok_or_else(|| fail("ImageIdInvalidParameterValue"))?,
    };
    let mut key_pairs = Vec::new();
    for k in &keys {
        match s.key_pairs.get(*k) {
            Some(kp) => key_pairs.push(kp.clone()),
            None => return Err(fail("KeyIdInvalidParameterValue")),
        }
    }
    // 3. Instance and order state.
    if inst.charge_type == "Spot" {
        return Err(fail("OperationDenied.SpotInstance"));
    }
    if inst.status == "Migrating" {
        return Err(fail("InstanceStateNotSupportedMigrate"));
    }
    if inst.status != "Stopped" {
        return Err(fail("InstanceStateNotSupported"));
    }
    if inst.has("order_missing") {
        return Err(fail("Payment.OrderNotFound"));
    }
    if inst.has("sub_order_bound") {
        return Err(fail("SubOrderBindedInstance"));
    }
    // 4. Image compatibility.
    let system_disk = inst.system_disk_id.as_ref().and_then(|d| s.disks.get(d)).cloned();
    if image.has("local_image") {
        if image.has("other_zone") {
            return Err(fail("ImageHaveInvalidZone"));
        }
        if system_disk.as_ref().is_some_and(|d| d.category != "SSD3.0") {
            return Err(fail("LocalImageOnlySupportSSD3ForModifyImage"));
        }
    }
    if image.has_data_disk_snapshot {
        return Err(fail("AssembledImageNotSupportReinstallSystem"));
    }
    let platform_changes = current_image.as_ref().is_some_and(|c| c.platform != image.platform);
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
    if size.is_some_and(|v| (v as u32) < image.size_gib) {
        return Err(fail("RootDiskGbInvalidParameterValue"));
    }
    // 5. Capacity and upstream availability.
    if s.account.has("product_sold_out") {
        return Err(fail("ProductSellOutInvalid"));
    }
    if s.account.has("upstream_unavailable") {
        return Err(fail("ServiceUnavailable"));
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
    if !keys.is_empty() {
        i.key_pair_ids = keys.iter().map(|k| k.to_string()).collect();
    }
    let mut out = Map::new();
    out.insert("Return".into(), json!(true));
    Ok(out)
}
