//! Verification and set-up actions: what a user (or a live run) calls to
//! stage a state and to check the result of the APIs under test, as the docs
//! advise ("verify with DescribeDisks or DescribeInstances"). They read and
//! change the same [`State`] as the APIs under test.
//!
//! Only the fields the cases need are returned; their names follow each
//! vendor's public API reference.

use super::{fail, Outcome, Req};
use crate::emulator::state::{State, Work};
use crate::world::Kind;
use serde_json::{json, Map, Value};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Alibaba list parameters are JSON arrays in one string: `["i-1","i-2"]`.
fn json_list(r: &Req, name: &str) -> Result<Option<Vec<String>>, super::Fail> {
    match r.get(&[name]) {
        None => Ok(None),
        Some(v) => {
            serde_json::from_str::<Vec<String>>(v).map(Some).map_err(|_| fail("InvalidParameter").common().arg(name))
        }
    }
}

fn instance_status_change(s: &mut State, id: &str, from: &str, via: &str, to: &str) -> Result<(), super::Fail> {
    let Some(i) = s.instances.get_mut(id) else { return Err(fail("InvalidInstanceId.NotFound")) };
    if i.status != from {
        return Err(fail("IncorrectInstanceStatus"));
    }
    i.status = via.to_string();
    s.schedule(10, Work::SettleInstance { instance_id: id.to_string(), status: to.to_string() });
    Ok(())
}

/// Stops or starts each instance of a batch call: (id, the failure, if any).
fn batch_status<'a>(s: &mut State, ids: Vec<&'a str>, stop: bool) -> Vec<(&'a str, Option<super::Fail>)> {
    let (from, via, to) = if stop { ("Running", "Stopping", "Stopped") } else { ("Stopped", "Starting", "Running") };
    ids.into_iter().map(|id| (id, instance_status_change(s, id, from, via, to).err())).collect()
}

pub fn aliyun(action: &str, s: &mut State, r: &Req) -> Option<Outcome> {
    Some(match action {
        "DescribeInstances" => (|| {
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
            Ok(obj(
                json!({ "TotalCount": list.len(), "PageNumber": 1, "PageSize": 10, "Instances": { "Instance": list } }),
            ))
        })(),
        "DescribeDisks" => (|| {
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
            Ok(obj(json!({ "TotalCount": list.len(), "PageNumber": 1, "PageSize": 10, "Disks": { "Disk": list } })))
        })(),
        "StopInstance" => (|| {
            let id = r.get(&["InstanceId"]).ok_or_else(|| fail("MissingParameter").common().arg("InstanceId"))?;
            instance_status_change(s, id, "Running", "Stopping", "Stopped")?;
            Ok(Map::new())
        })(),
        "StartInstance" => (|| {
            let id = r.get(&["InstanceId"]).ok_or_else(|| fail("MissingParameter").common().arg("InstanceId"))?;
            instance_status_change(s, id, "Stopped", "Starting", "Running")?;
            Ok(Map::new())
        })(),
        "StopInstances" | "StartInstances" => (|| {
            let ids = r.list("InstanceId");
            if ids.is_empty() {
                return Err(fail("MissingParameter").common().arg("InstanceId.N"));
            }
            let set: Vec<Value> = batch_status(s, ids, action == "StopInstances")
                .into_iter()
                .map(|(id, f)| match f {
                    None => json!({ "InstanceId": id, "Code": "200", "Message": "success" }),
                    Some(f) => json!({ "InstanceId": id, "Code": f.code, "Message": "" }),
                })
                .collect();
            Ok(obj(json!({ "InstanceResponses": { "InstanceResponse": set } })))
        })(),
        "CreateSnapshot" => (|| {
            let disk = r.get(&["DiskId"]).ok_or_else(|| fail("MissingParameter").common().arg("DiskId"))?;
            let Some(d) = s.disks.get(disk) else { return Err(fail("InvalidDiskId.NotFound")) };
            let (content, encrypted) = (d.content.clone(), d.encrypted);
            let id = s.new_id(Kind::Snapshot);
            s.snapshots.insert(
                id.clone(),
                crate::emulator::state::Snapshot {
                    id: id.clone(),
                    name: r.get(&["SnapshotName"]).unwrap_or_default().to_string(),
                    disk_id: Some(disk.to_string()),
                    status: "progressing".into(),
                    content,
                    created: crate::emulator::state::TODAY.into(),
                    encrypted,
                    flags: Vec::new(),
                },
            );
            s.schedule(30, Work::FinishSnapshot { snapshot_id: id.clone() });
            Ok(obj(json!({ "SnapshotId": id })))
        })(),
        "DescribeSnapshots" => (|| {
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
            Ok(obj(
                json!({ "TotalCount": list.len(), "PageNumber": 1, "PageSize": 10, "Snapshots": { "Snapshot": list } }),
            ))
        })(),
        "DeleteSnapshot" => (|| {
            let id = r.get(&["SnapshotId"]).ok_or_else(|| fail("MissingParameter").common().arg("SnapshotId"))?;
            s.snapshots.remove(id).ok_or_else(|| fail("InvalidSnapshotId.NotFound"))?;
            Ok(Map::new())
        })(),
        "DescribeImages" => {
            let id = r.get(&["ImageId"]);
            let list: Vec<Value> = s
                .images
                .values()
                .filter(|m| id.is_none_or(|i| m.id == i))
                .map(|m| json!({ "ImageId": m.id, "Status": m.status, "OSType": m.os_type, "Size": m.size_gib }))
                .collect();
            Ok(obj(json!({ "TotalCount": list.len(), "PageNumber": 1, "PageSize": 10, "Images": { "Image": list } })))
        }
        "DescribeKeyPairs" => {
            let name = r.get(&["KeyPairName"]);
            let list: Vec<Value> = s
                .key_pairs
                .values()
                .filter(|k| name.is_none_or(|n| k.name == n))
                .map(|k| json!({ "KeyPairName": k.name }))
                .collect();
            Ok(obj(
                json!({ "TotalCount": list.len(), "PageNumber": 1, "PageSize": 10, "KeyPairs": { "KeyPair": list } }),
            ))
        }
        _ => return None,
    })
}

pub fn volcengine(action: &str, s: &mut State, r: &Req) -> Option<Outcome> {
    Some(match action {
        "DescribeInstances" => {
            let ids = r.list("InstanceIds");
            let list: Vec<Value> = s
                .instances
                .values()
                .filter(|i| ids.is_empty() || ids.contains(&i.id.as_str()))
                .map(|i| {
                    let vols: Vec<Value> = s
                        .disks
                        .values()
                        .filter(|d| d.instance_id.as_deref() == Some(&i.id))
                        .map(|d| json!({ "VolumeId": d.id, "Kind": d.role, "Size": d.size_gib, "Status": d.status }))
                        .collect();
                    json!({ "InstanceId": i.id, "Status": i.status.to_ascii_uppercase(), "ImageId": i.image_id,
                            "OsType": i.os_type, "Volumes": vols })
                })
                .collect();
            Ok(obj(json!({ "Instances": list, "TotalCount": list.len() })))
        }
        "StopInstance" | "StartInstance" => (|| {
            let id = r.get(&["InstanceId"]).ok_or_else(|| fail("MissingParameter.InstanceId"))?;
            if !s.instances.contains_key(id) {
                return Err(fail("InvalidInstance.NotFound"));
            }
            let (from, via, to) = if action == "StopInstance" {
                ("Running", "Stopping", "Stopped")
            } else {
                ("Stopped", "Starting", "Running")
            };
            instance_status_change(s, id, from, via, to).map_err(|_| fail("InvalidInstanceStatus"))?;
            Ok(Map::new())
        })(),
        _ => return None,
    })
}

pub fn ksyun(action: &str, s: &mut State, r: &Req) -> Option<Outcome> {
    Some(match action {
        "DescribeInstances" => {
            let ids = r.list("InstanceId");
            let list: Vec<Value> = s
                .instances
                .values()
                .filter(|i| ids.is_empty() || ids.contains(&i.id.as_str()))
                .map(|i| {
                    let disk = i.system_disk_id.as_ref().and_then(|d| s.disks.get(d));
                    json!({
                        "InstanceId": i.id, "ImageId": i.image_id,
                        "InstanceState": { "Name": i.status.to_ascii_lowercase() },
                        "SystemDisk": { "DiskType": disk.map(|d| d.category.clone()), "DiskSize": disk.map(|d| d.size_gib) },
                    })
                })
                .collect();
            Ok(obj(json!({ "InstanceCount": list.len(), "InstancesSet": list })))
        }
        "StopInstances" | "StartInstances" => (|| {
            let ids = r.list("InstanceId");
            if ids.iter().any(|id| !s.instances.contains_key(*id)) {
                return Err(fail("InstanceNotFound"));
            }
            let set: Vec<Value> = batch_status(s, ids, action == "StopInstances")
                .into_iter()
                .map(|(id, f)| json!({ "InstanceId": id, "Return": f.is_none() }))
                .collect();
            Ok(obj(json!({ "InstancesSet": set })))
        })(),
        _ => return None,
    })
}
