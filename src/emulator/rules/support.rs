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

/// An integer paging parameter within the documented range, or its default
/// when absent. Anything else is the `refuse`d value.
fn paging_param(
    r: &Req,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
    refuse: impl Fn(&str) -> super::Fail,
) -> Result<usize, super::Fail> {
    match r.get(&[name]) {
        None => Ok(default as usize),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if range.contains(&n) => usize::try_from(n).map_err(|_| refuse(name)),
            _ => Err(refuse(name)),
        },
    }
}

/// Items `offset..offset + size` of a listing (empty past its end).
fn page(items: Vec<Value>, offset: usize, size: usize) -> Vec<Value> {
    items.into_iter().skip(offset).take(size).collect()
}

/// Alibaba's PageNumber (from 1, default 1) and PageSize (1 to 100, default
/// 10): the page and the body fields that describe it.
fn aliyun_page(r: &Req, items: Vec<Value>) -> Result<(Vec<Value>, Map<String, Value>), super::Fail> {
    let refuse = |name: &str| fail("InvalidParameter").common().arg(name);
    let number = paging_param(r, "PageNumber", 1..=u32::MAX as u64, 1, refuse)?;
    let size = paging_param(r, "PageSize", 1..=100, 10, refuse)?;
    let total = items.len();
    let list = page(items, (number - 1).saturating_mul(size), size);
    Ok((list, obj(json!({ "TotalCount": total, "PageNumber": number, "PageSize": size }))))
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
            let (list, mut out) = aliyun_page(r, list)?;
            out.insert("Instances".into(), json!({ "Instance": list }));
            Ok(out)
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
            let (list, mut out) = aliyun_page(r, list)?;
            out.insert("Disks".into(), json!({ "Disk": list }));
            Ok(out)
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
        "DescribeInstances" => (|| {
            // MaxResults 1 to 100 (default 10); NextToken is where the
            // previous page stopped ("" once there is no more).
            let size = paging_param(r, "MaxResults", 1..=100, 10, |_| fail("InvalidArgument"))?;
            let offset = match r.get(&["NextToken"]).filter(|t| !t.is_empty()) {
                None => 0,
                Some(t) => t.parse::<usize>().map_err(|_| fail("InvalidArgument"))?,
            };
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
            let total = list.len();
            let next = if offset.saturating_add(size) < total { (offset + size).to_string() } else { String::new() };
            Ok(obj(json!({ "Instances": page(list, offset, size), "TotalCount": total, "NextToken": next })))
        })(),
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
        "DescribeInstances" => (|| {
            // MaxResults 5 to 1000 (default 10); Marker is the offset to
            // start from, and the answer's Marker where the next page starts
            // (0 once everything was returned).
            let refuse = |name: &str| fail("InvalidParameterValue").common().arg(name);
            let size = paging_param(r, "MaxResults", 5..=1000, 10, refuse)?;
            let offset = paging_param(r, "Marker", 0..=u32::MAX as u64, 0, refuse)?;
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
            let total = list.len();
            let next = if offset.saturating_add(size) < total { offset + size } else { 0 };
            Ok(obj(json!({ "InstanceCount": total, "InstancesSet": page(list, offset, size), "Marker": next })))
        })(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::state::IdAlloc;

    /// A tenant with 25 instances.
    fn crowded(vendor: &str) -> State {
        let instances: Map<String, Value> = (0..25).map(|i| (format!("i{i}"), json!({}))).collect();
        let world = serde_json::from_value(json!({ "instances": instances })).unwrap();
        State::build(vendor, 1, &world, &IdAlloc::default()).0
    }

    fn call(
        f: fn(&str, &mut State, &Req) -> Option<Outcome>,
        s: &mut State,
        params: &[(&str, &str)],
    ) -> Result<Map<String, Value>, String> {
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        f("DescribeInstances", s, &Req { params: &params }).unwrap().map_err(|e| format!("{} {:?}", e.code, e.args))
    }

    fn ids(list: &Value, field: &str) -> Vec<String> {
        list.as_array().unwrap().iter().map(|i| i[field].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn aliyun_pages_with_page_number_and_page_size() {
        let mut s = crowded("aliyun");
        let first = call(aliyun, &mut s, &[]).unwrap();
        assert_eq!(
            (&first["TotalCount"], &first["PageNumber"], &first["PageSize"]),
            (&json!(25), &json!(1), &json!(10))
        );
        assert_eq!(first["Instances"]["Instance"].as_array().unwrap().len(), 10);
        let mut seen = Vec::new();
        for n in 1..=3 {
            let p = call(aliyun, &mut s, &[("PageNumber", &n.to_string()), ("PageSize", "10")]).unwrap();
            seen.extend(ids(&p["Instances"]["Instance"], "InstanceId"));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 25);
        let last = call(aliyun, &mut s, &[("PageNumber", "4294967295"), ("PageSize", "100")]).unwrap();
        assert_eq!(last["Instances"]["Instance"], json!([]));
        for (k, v) in [("PageSize", "101"), ("PageSize", "0"), ("PageNumber", "0"), ("PageSize", "ten")] {
            assert_eq!(call(aliyun, &mut s, &[(k, v)]), Err(format!("InvalidParameter [\"{k}\"]")), "{k}={v}");
        }
    }

    #[test]
    fn volcengine_pages_with_max_results_and_next_token() {
        let mut s = crowded("volcengine");
        let (mut seen, mut token) = (Vec::new(), String::new());
        loop {
            let p = call(volcengine, &mut s, &[("MaxResults", "7"), ("NextToken", &token)]).unwrap();
            assert_eq!(p["TotalCount"], 25);
            seen.extend(ids(&p["Instances"], "InstanceId"));
            token = p["NextToken"].as_str().unwrap().to_string();
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen.len(), 25);
        assert_eq!(call(volcengine, &mut s, &[]).unwrap()["Instances"].as_array().unwrap().len(), 10);
        for (k, v) in [("MaxResults", "101"), ("MaxResults", "0"), ("NextToken", "not-a-token")] {
            assert_eq!(call(volcengine, &mut s, &[(k, v)]), Err("InvalidArgument []".into()), "{k}={v}");
        }
    }

    #[test]
    fn ksyun_pages_with_max_results_and_marker() {
        let mut s = crowded("ksyun");
        let (mut seen, mut marker) = (Vec::new(), 0);
        loop {
            let p = call(ksyun, &mut s, &[("MaxResults", "5"), ("Marker", &marker.to_string())]).unwrap();
            assert_eq!(p["InstanceCount"], 25);
            seen.extend(ids(&p["InstancesSet"], "InstanceId"));
            marker = p["Marker"].as_u64().unwrap();
            if marker == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 25);
        assert_eq!(call(ksyun, &mut s, &[]).unwrap()["InstancesSet"].as_array().unwrap().len(), 10);
        for (k, v) in [("MaxResults", "4"), ("MaxResults", "1001"), ("Marker", "-1")] {
            assert_eq!(call(ksyun, &mut s, &[(k, v)]), Err(format!("InvalidParameterValue [\"{k}\"]")), "{k}={v}");
        }
    }
}
