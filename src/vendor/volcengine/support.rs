//! Volcengine ECS verification and set-up actions: what a user (or a live
//! run) calls to stage a state and to check the result of the APIs under
//! test, as the docs advise ("verify with DescribeDisks or
//! DescribeInstances"). They read and change the same tenant state as the
//! APIs under test. Only the fields the cases need are returned; their names
//! follow the vendor's public API reference.

use crate::model::rules::support::{instance_status_change, obj, page, paging_param};
use crate::model::rules::{fail, Outcome, Req};
use crate::model::state::State;

use serde_json::{json, Map, Value};

pub fn dispatch(action: &str, s: &mut State, r: &Req) -> Option<Outcome> {
    Some(match action {
        "DescribeInstances" => describe_instances(s, r),
        "DescribeVolumes" => describe_volumes(s, r),
        "StopInstance" | "StartInstance" => stop_or_start_instance(s, r, action),
        _ => return None,
    })
}

fn describe_instances(s: &mut State, r: &Req) -> Outcome {
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
                // Only the ID: the vendor's model of this answer
                // (VolumeForDescribeInstancesOutput in its SDKs) has no
                // other field; sizes and kinds come from DescribeVolumes.
                .map(|d| json!({ "VolumeId": d.id }))
                .collect();
            json!({ "InstanceId": i.id, "Status": i.status.to_ascii_uppercase(), "ImageId": i.image_id,
                    "OsType": i.os_type, "Volumes": vols })
        })
        .collect();
    let total = list.len();
    let next = if offset.saturating_add(size) < total { (offset + size).to_string() } else { String::new() };
    Ok(obj(json!({ "Instances": page(list, offset, size), "TotalCount": total, "NextToken": next })))
}

/// EBS (`storage_ebs`) DescribeVolumes: where a volume's size and kind are
/// read. PageNumber from 1, PageSize 1 to 100 (default 10).
fn describe_volumes(s: &mut State, r: &Req) -> Outcome {
    let size = paging_param(r, "PageSize", 1..=100, 10, |_| fail("InvalidArgument"))?;
    let number = paging_param(r, "PageNumber", 1..=u64::from(u32::MAX), 1, |_| fail("InvalidArgument"))?;
    let ids = r.list("VolumeIds");
    let instance = r.get(&["InstanceId"]);
    let kind = r.get(&["Kind"]);
    let list: Vec<Value> = s
        .disks
        .values()
        .filter(|d| ids.is_empty() || ids.contains(&d.id.as_str()))
        .filter(|d| instance.is_none_or(|i| d.instance_id.as_deref() == Some(i)))
        .filter(|d| kind.is_none_or(|k| d.role == k))
        .map(|d| {
            // The vendor's model has Size as a string of GiB.
            json!({ "VolumeId": d.id, "Kind": d.role, "Size": d.size_gib.to_string(), "Status": d.status,
                    "InstanceId": d.instance_id.clone().unwrap_or_default(), "VolumeType": d.category })
        })
        .collect();
    let total = list.len();
    let offset = (number - 1).saturating_mul(size);
    Ok(obj(json!({ "Volumes": page(list, offset, size), "TotalCount": total, "PageNumber": number, "PageSize": size })))
}

fn stop_or_start_instance(s: &mut State, r: &Req, action: &str) -> Outcome {
    let id = r.get(&["InstanceId"]).ok_or_else(|| fail("MissingParameter.InstanceId"))?;
    if !s.instances.contains_key(id) {
        return Err(fail("InvalidInstance.NotFound"));
    }
    let (from, via, to) =
        if action == "StopInstance" { ("Running", "Stopping", "Stopped") } else { ("Stopped", "Starting", "Running") };
    instance_status_change(s, id, from, via, to).map_err(|_| fail("InvalidInstanceStatus"))?;
    Ok(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rules::support::testing::{call, crowded, ids};

    #[test]
    fn volcengine_pages_with_max_results_and_next_token() {
        let mut s = crowded("volcengine", super::super::VENDOR.id_style());
        let (mut seen, mut token) = (Vec::new(), String::new());
        loop {
            let p = call(dispatch, &mut s, &[("MaxResults", "7"), ("NextToken", &token)]).unwrap();
            assert_eq!(p["TotalCount"], 25);
            seen.extend(ids(&p["Instances"], "InstanceId"));
            token = p["NextToken"].as_str().unwrap().to_string();
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen.len(), 25);
        assert_eq!(call(dispatch, &mut s, &[]).unwrap()["Instances"].as_array().unwrap().len(), 10);
        for (k, v) in [("MaxResults", "101"), ("MaxResults", "0"), ("NextToken", "not-a-token")] {
            assert_eq!(call(dispatch, &mut s, &[(k, v)]), Err("InvalidArgument []".into()), "{k}={v}");
        }
    }
}
