//! Alibaba Cloud ECS verification and set-up actions: what a user (or a live
//! run) calls to stage a state and to check the result of the APIs under
//! test, as the docs advise ("verify with DescribeDisks or
//! DescribeInstances"). They read and change the same tenant state as the
//! APIs under test. Only the fields the cases need are returned; their names
//! follow the vendor's public API reference.

use crate::model::rules::support::{batch_status, instance_status_change, obj, page, paging_param};
use crate::model::rules::{fail, Fail, Outcome, Req};
use crate::model::state::{State, Work};
use crate::world::Kind;
use serde_json::{json, Map, Value};

/// Alibaba list parameters are JSON arrays in one string: `["i-1","i-2"]`.
fn json_list(r: &Req, name: &str) -> Result<Option<Vec<String>>, Fail> {
    match r.get(&[name]) {
        None => Ok(None),
        Some(v) => {
            serde_json::from_str::<Vec<String>>(v).map(Some).map_err(|_| fail("InvalidParameter").common().arg(name))
        }
    }
}

/// Alibaba's PageNumber (from 1, default 1) and PageSize (1 to 100, default
/// 10): the page and the body fields that describe it.
fn aliyun_page(r: &Req, items: Vec<Value>) -> Result<(Vec<Value>, Map<String, Value>), Fail> {
    let refuse = |name: &str| fail("InvalidParameter").common().arg(name);
    let number = paging_param(r, "PageNumber", 1..=u32::MAX as u64, 1, refuse)?;
    let size = paging_param(r, "PageSize", 1..=100, 10, refuse)?;
    let total = items.len();
    let list = page(items, (number - 1).saturating_mul(size), size);
    Ok((list, obj(json!({ "TotalCount": total, "PageNumber": number, "PageSize": size }))))
}

pub fn dispatch(action: &str, s: &mut State, r: &Req) -> Option<Outcome> {
    Some(match action {
        "DescribeInstances" => describe_instances(s, r),
        "DescribeDisks" => describe_disks(s, r),
        "StopInstance" => stop_instance(s, r),
        "StartInstance" => start_instance(s, r),
        "StopInstances" | "StartInstances" => stop_or_start_instances(s, r, action),
        "CreateSnapshot" => create_snapshot(s, r),
        "DescribeSnapshots" => describe_snapshots(s, r),
        "DeleteSnapshot" => delete_snapshot(s, r),
        "DescribeImages" => describe_images(s, r),
        "DescribeKeyPairs" => describe_key_pairs(s, r),
        _ => return None,
    })
}

fn describe_instances(s: &mut State, r: &Req) -> Outcome {
    let ids = json_list(r, "InstanceIds")?;
    let list: Vec<Value> = s
        .instances
        .values()
        .filter(|i| ids.as_ref().is_none_or(|ids| ids.contains(&i.id)))
        .map(|i| {
            let mut locks: Vec<Value> = Vec::new();
            if let Some(l) = &i.lock_reason {
                locks.push(json!({ "LockReason": l }));
            }
            if let Some(l) = &i.operation_lock {
                locks.push(json!({ "LockReason": l }));
            }
            // Alibaba key pair IDs are their names; "" when none is bound.
            let key_pair = i.key_pair_ids.first().and_then(|k| s.key_pairs.get(k)).map(|k| k.name.clone());
            json!({
                "InstanceId": i.id, "Status": i.status, "ImageId": i.image_id,
                "OSType": i.os_type, "InstanceType": i.instance_type,
                "KeyPairName": key_pair.unwrap_or_default(),
                "OperationLocks": { "LockReason": locks },
            })
        })
        .collect();
    let (list, mut out) = aliyun_page(r, list)?;
    out.insert("Instances".into(), json!({ "Instance": list }));
    Ok(out)
}

fn describe_disks(s: &mut State, r: &Req) -> Outcome {
    let ids = json_list(r, "DiskIds")?;
    let inst = r.get(&["InstanceId"]);
    // DiskType: all (default), system or data.
    let kind = r.get(&["DiskType"]).filter(|t| *t != "all");
    let list: Vec<Value> = s
        .disks
        .values()
        .filter(|d| ids.as_ref().is_none_or(|ids| ids.contains(&d.id)))
        .filter(|d| inst.is_none_or(|i| d.instance_id.as_deref() == Some(i)))
        .filter(|d| kind.is_none_or(|k| d.role == k))
        .map(|d| {
            json!({
                "DiskId": d.id, "Status": d.status, "Type": d.role, "Category": d.category,
                "Size": d.size_gib, "InstanceId": d.instance_id.clone().unwrap_or_default(),
                "Encrypted": d.encrypted, "KMSKeyId": d.kms_key_id.clone().unwrap_or_default(),
                "DiskChargeType": d.charge_type,
            })
        })
        .collect();
    let (list, mut out) = aliyun_page(r, list)?;
    out.insert("Disks".into(), json!({ "Disk": list }));
    Ok(out)
}

fn stop_instance(s: &mut State, r: &Req) -> Outcome {
    let id = r.get(&["InstanceId"]).ok_or_else(|| fail("MissingParameter").common().arg("InstanceId"))?;
    let mode = stopped_mode(r)?;
    instance_status_change(s, id, "Running", "Stopping", "Stopped")?;
    set_stopped_mode(s, id, mode);
    Ok(Map::new())
}

/// `StoppedMode`: `StopCharging` (no-fees stop) or `KeepCharging`; absent,
/// the normal mode (the world models no account-wide no-fees default).
fn stopped_mode<'a>(r: &Req<'a>) -> Result<&'a str, Fail> {
    match r.get(&["StoppedMode"]) {
        None => Ok("KeepCharging"),
        Some(m @ ("StopCharging" | "KeepCharging")) => Ok(m),
        Some(_) => Err(fail("InvalidParameter").common().arg("StoppedMode")),
    }
}

/// The stopped instance keeps the mode it was stopped in, as a world's
/// `stopped_mode` states it: the API under test reads it the same way.
fn set_stopped_mode(s: &mut State, id: &str, mode: &str) {
    if let Some(i) = s.instances.get_mut(id) {
        i.stopped_mode = mode.to_string();
    }
}

fn start_instance(s: &mut State, r: &Req) -> Outcome {
    let id = r.get(&["InstanceId"]).ok_or_else(|| fail("MissingParameter").common().arg("InstanceId"))?;
    instance_status_change(s, id, "Stopped", "Starting", "Running")?;
    Ok(Map::new())
}

fn stop_or_start_instances(s: &mut State, r: &Req, action: &str) -> Outcome {
    let ids = r.list("InstanceId");
    if ids.is_empty() {
        return Err(fail("MissingParameter").common().arg("InstanceId.N"));
    }
    let stop = action == "StopInstances";
    let mode = if stop { stopped_mode(r)? } else { "KeepCharging" };
    let results = batch_status(s, ids, stop);
    for (id, _) in results.iter().filter(|(_, f)| stop && f.is_none()) {
        set_stopped_mode(s, id, mode);
    }
    let set: Vec<Value> = results
        .into_iter()
        .map(|(id, f)| match f {
            None => json!({ "InstanceId": id, "Code": "200", "Message": "success" }),
            Some(f) => json!({ "InstanceId": id, "Code": f.code, "Message": "" }),
        })
        .collect();
    Ok(obj(json!({ "InstanceResponses": { "InstanceResponse": set } })))
}

fn create_snapshot(s: &mut State, r: &Req) -> Outcome {
    let disk = r.get(&["DiskId"]).ok_or_else(|| fail("MissingParameter").common().arg("DiskId"))?;
    let Some(d) = s.disks.get(disk) else { return Err(fail("InvalidDiskId.NotFound")) };
    let (content, encrypted) = (d.content.clone(), d.encrypted);
    let id = s.new_id(Kind::Snapshot);
    s.snapshots.insert(
        id.clone(),
        crate::model::state::Snapshot {
            id: id.clone(),
            name: r.get(&["SnapshotName"]).unwrap_or_default().to_string(),
            disk_id: Some(disk.to_string()),
            status: "progressing".into(),
            content,
            created: crate::model::state::TODAY.into(),
            encrypted,
            flags: Vec::new(),
        },
    );
    s.schedule(30, Work::FinishSnapshot { snapshot_id: id.clone() });
    Ok(obj(json!({ "SnapshotId": id })))
}

fn describe_snapshots(s: &mut State, r: &Req) -> Outcome {
    let ids = json_list(r, "SnapshotIds")?;
    let disk = r.get(&["DiskId"]);
    let list: Vec<Value> = s
        .snapshots
        .values()
        .filter(|x| ids.as_ref().is_none_or(|ids| ids.contains(&x.id)))
        .filter(|x| disk.is_none_or(|d| x.disk_id.as_deref() == Some(d)))
        .map(|x| {
            let done = x.status == "accomplished";
            json!({
                "SnapshotId": x.id, "SnapshotName": x.name, "SourceDiskId": x.disk_id.clone().unwrap_or_default(),
                "Status": x.status, "Progress": if done { "100%" } else { "50%" },
            })
        })
        .collect();
    Ok(obj(json!({ "TotalCount": list.len(), "PageNumber": 1, "PageSize": 10, "Snapshots": { "Snapshot": list } })))
}

fn delete_snapshot(s: &mut State, r: &Req) -> Outcome {
    let id = r.get(&["SnapshotId"]).ok_or_else(|| fail("MissingParameter").common().arg("SnapshotId"))?;
    s.snapshots.remove(id).ok_or_else(|| fail("InvalidSnapshotId.NotFound"))?;
    Ok(Map::new())
}

fn describe_images(s: &mut State, r: &Req) -> Outcome {
    let id = r.get(&["ImageId"]);
    let list: Vec<Value> = s
        .images
        .values()
        .filter(|m| id.is_none_or(|i| m.id == i))
        .map(|m| json!({ "ImageId": m.id, "Status": m.status, "OSType": m.os_type, "Size": m.size_gib }))
        .collect();
    Ok(obj(json!({ "TotalCount": list.len(), "PageNumber": 1, "PageSize": 10, "Images": { "Image": list } })))
}

fn describe_key_pairs(s: &mut State, r: &Req) -> Outcome {
    let name = r.get(&["KeyPairName"]);
    let list: Vec<Value> = s
        .key_pairs
        .values()
        .filter(|k| name.is_none_or(|n| k.name == n))
        .map(|k| json!({ "KeyPairName": k.name }))
        .collect();
    Ok(obj(json!({ "TotalCount": list.len(), "PageNumber": 1, "PageSize": 10, "KeyPairs": { "KeyPair": list } })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rules::support::testing::{call, crowded, ids};

    #[test]
    fn aliyun_pages_with_page_number_and_page_size() {
        let mut s = crowded("aliyun", super::super::VENDOR.id_style());
        let first = call(dispatch, &mut s, &[]).unwrap();
        assert_eq!(
            (&first["TotalCount"], &first["PageNumber"], &first["PageSize"]),
            (&json!(25), &json!(1), &json!(10))
        );
        assert_eq!(first["Instances"]["Instance"].as_array().unwrap().len(), 10);
        let mut seen = Vec::new();
        for n in 1..=3 {
            let p = call(dispatch, &mut s, &[("PageNumber", &n.to_string()), ("PageSize", "10")]).unwrap();
            seen.extend(ids(&p["Instances"]["Instance"], "InstanceId"));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 25);
        let last = call(dispatch, &mut s, &[("PageNumber", "4294967295"), ("PageSize", "100")]).unwrap();
        assert_eq!(last["Instances"]["Instance"], json!([]));
        for (k, v) in [("PageSize", "101"), ("PageSize", "0"), ("PageNumber", "0"), ("PageSize", "ten")] {
            assert_eq!(call(dispatch, &mut s, &[(k, v)]), Err(format!("InvalidParameter [\"{k}\"]")), "{k}={v}");
        }
    }
}
