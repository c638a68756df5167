//! Helpers shared by the vendors' verification and set-up actions
//! (`src/vendor/<name>/support.rs`): paging, and the instance status
//! changes Stop/Start make. They read and change the tenant's [`State`].

use super::{fail, Fail, Req};
use crate::model::state::{State, Work};
use serde_json::{Map, Value};

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// An integer paging parameter within the documented range, or its default
/// when absent. Anything else is the `refuse`d value.
pub fn paging_param(
    r: &Req,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
    refuse: impl Fn(&str) -> Fail,
) -> Result<usize, Fail> {
    match r.get(&[name]) {
        None => Ok(default as usize),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if range.contains(&n) => usize::try_from(n).map_err(|_| refuse(name)),
            _ => Err(refuse(name)),
        },
    }
}

/// Items `offset..offset + size` of a listing (empty past its end).
pub fn page(items: Vec<Value>, offset: usize, size: usize) -> Vec<Value> {
    items.into_iter().skip(offset).take(size).collect()
}

pub fn instance_status_change(s: &mut State, id: &str, from: &str, via: &str, to: &str) -> Result<(), Fail> {
    let Some(i) = s.instances.get_mut(id) else { return Err(fail("InvalidInstanceId.NotFound")) };
    if i.status != from {
        return Err(fail("IncorrectInstanceStatus"));
    }
    i.status = via.to_string();
    s.schedule(10, Work::SettleInstance { instance_id: id.to_string(), status: to.to_string() });
    Ok(())
}

/// Stops or starts each instance of a batch call: (id, the failure, if any).
pub fn batch_status<'a>(s: &mut State, ids: Vec<&'a str>, stop: bool) -> Vec<(&'a str, Option<Fail>)> {
    let (from, via, to) = if stop { ("Running", "Stopping", "Stopped") } else { ("Stopped", "Starting", "Running") };
    ids.into_iter().map(|id| (id, instance_status_change(s, id, from, via, to).err())).collect()
}

/// Shared test fixtures of the support actions.
#[cfg(test)]
pub mod testing {
    use super::super::{Outcome, Req};
    use crate::model::state::{IdAlloc, IdStyle, State};
    use serde_json::{json, Map, Value};

    /// A tenant with 25 instances.
    pub fn crowded(vendor: &str, style: IdStyle) -> State {
        let instances: Map<String, Value> = (0..25).map(|i| (format!("i{i}"), json!({}))).collect();
        let world = serde_json::from_value(json!({ "instances": instances })).unwrap();
        State::build(vendor, style, 1, &world, &IdAlloc::default()).0
    }

    /// DescribeInstances through a vendor's dispatch: the body, or `code [args]`.
    pub fn call(
        f: fn(&str, &mut State, &Req) -> Option<Outcome>,
        s: &mut State,
        params: &[(&str, &str)],
    ) -> Result<Map<String, Value>, String> {
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        f("DescribeInstances", s, &Req { params: &params, checks: None })
            .unwrap()
            .map_err(|e| format!("{} {:?}", e.code, e.args))
    }

    pub fn ids(list: &Value, field: &str) -> Vec<String> {
        list.as_array().unwrap().iter().map(|i| i[field].as_str().unwrap().to_string()).collect()
    }
}
