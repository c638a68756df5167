//! Kingsoft Cloud KEC verification and set-up actions: what a user (or a live
//! run) calls to stage a state and to check the result of the APIs under
//! test, as the docs advise ("verify with DescribeDisks or
//! DescribeInstances"). They read and change the same tenant state as the
//! APIs under test. Only the fields the cases need are returned; their names
//! follow the vendor's public API reference.

use crate::model::rules::support::{batch_status, obj, page, paging_param};
use crate::model::rules::{fail, Outcome, Req};
use crate::model::state::State;

use serde_json::{json, Value};

pub fn dispatch(action: &str, s: &mut State, r: &Req) -> Option<Outcome> {
    Some(match action {
        "DescribeInstances" => describe_instances(s, r),
        "StopInstances" | "StartInstances" => stop_or_start_instances(s, r, action),
        _ => return None,
    })
}

fn describe_instances(s: &mut State, r: &Req) -> Outcome {
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
}

fn stop_or_start_instances(s: &mut State, r: &Req, action: &str) -> Outcome {
    let ids = r.list("InstanceId");
    if ids.iter().any(|id| !s.instances.contains_key(*id)) {
        return Err(fail("InstanceNotFound"));
    }
    let set: Vec<Value> = batch_status(s, ids, action == "StopInstances")
        .into_iter()
        .map(|(id, f)| json!({ "InstanceId": id, "Return": f.is_none() }))
        .collect();
    Ok(obj(json!({ "InstancesSet": set })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rules::support::testing::{call, crowded, ids};

    #[test]
    fn ksyun_pages_with_max_results_and_marker() {
        let mut s = crowded("ksyun", super::super::VENDOR.id_style());
        let (mut seen, mut marker) = (Vec::new(), 0);
        loop {
            let p = call(dispatch, &mut s, &[("MaxResults", "5"), ("Marker", &marker.to_string())]).unwrap();
            assert_eq!(p["InstanceCount"], 25);
            seen.extend(ids(&p["InstancesSet"], "InstanceId"));
            marker = p["Marker"].as_u64().unwrap();
            if marker == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 25);
        assert_eq!(call(dispatch, &mut s, &[]).unwrap()["InstancesSet"].as_array().unwrap().len(), 10);
        for (k, v) in [("MaxResults", "4"), ("MaxResults", "1001"), ("Marker", "-1")] {
            assert_eq!(call(dispatch, &mut s, &[(k, v)]), Err(format!("InvalidParameterValue [\"{k}\"]")), "{k}={v}");
        }
    }
}
