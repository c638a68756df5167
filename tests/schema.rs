//! The JSON Schemas in `schema/` (draft-07, for yaml-language-server) must
//! describe exactly the fields the loader accepts. The field lists are read
//! from the Rust types themselves, through serde, so a field added on either
//! side without the other fails here.

use apiconform::case::{
    AcceptedDifference, Applies, BodyCheck, CaseFile, Expect, LiveApplies, Parity, Step, Targets, Wire,
};
use apiconform::contract::{
    Classes, CommonErrors, Contract, DocumentedError, OneOf, Param, ParamCodes, ParamErrors, ProseCondition,
    StateBound, StateDefault, Waiver,
};
use apiconform::world::{
    AccountSpec, DiskSpec, ImageSpec, InstanceSpec, KeyPairSpec, KmsKeySpec, SnapshotSpec, WorldSpec,
};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::Value;
use std::collections::BTreeSet;

/// A deserializer that only records the field names a struct asks for.
struct FieldNames(Vec<&'static str>);

#[derive(Debug)]
struct Stop;
impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("stop")
    }
}
impl std::error::Error for Stop {}
impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = Stop;
    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.extend(fields);
        Err(Stop)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

fn fields<'de, T: Deserialize<'de>>() -> BTreeSet<String> {
    let mut f = FieldNames(Vec::new());
    let _ = T::deserialize(&mut f);
    assert!(!f.0.is_empty(), "{} is not a struct", std::any::type_name::<T>());
    f.0.iter().map(|s| s.to_string()).collect()
}

fn schema(name: &str) -> Value {
    let path = format!("{}/schema/{name}.schema.json", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#", "{name}");
    v
}

fn props(v: &Value, at: &str) -> BTreeSet<String> {
    let o = v.pointer(at).unwrap_or_else(|| panic!("no {at}"));
    assert_eq!(o["additionalProperties"], Value::Bool(false), "{at} must refuse unknown fields");
    o["properties"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn case_schema_matches_the_case_types() {
    let s = schema("case");
    assert_eq!(props(&s, ""), fields::<CaseFile>());
    assert_eq!(props(&s, "/properties/steps/items"), fields::<Step>());
    assert_eq!(props(&s, "/properties/expect"), fields::<Expect>());
    assert_eq!(props(&s, "/properties/expect/properties/body/additionalProperties"), fields::<BodyCheck>());
    assert_eq!(props(&s, "/properties/wire"), fields::<Wire>());
    assert_eq!(props(&s, "/properties/targets"), fields::<Targets>());
    assert_eq!(props(&s, "/properties/parity"), fields::<Parity>());
    assert_eq!(props(&s, "/properties/targets/properties/live"), fields::<LiveApplies>());
    assert_eq!(props(&s, "/properties/targets/properties/mock"), fields::<Applies>());
    assert_eq!(props(&s, "/properties/parity/properties/accept/items"), fields::<AcceptedDifference>());
    assert_eq!(s.pointer("/properties/given/$ref"), Some(&Value::String("world.schema.json".into())));
}

#[test]
fn world_schema_matches_the_world_types() {
    let s = schema("world");
    assert_eq!(props(&s, ""), fields::<WorldSpec>());
    let m = "/additionalProperties";
    assert_eq!(props(&s, &format!("/properties/instances{m}")), fields::<InstanceSpec>());
    assert_eq!(props(&s, &format!("/properties/disks{m}")), fields::<DiskSpec>());
    assert_eq!(props(&s, &format!("/properties/images{m}")), fields::<ImageSpec>());
    assert_eq!(props(&s, &format!("/properties/snapshots{m}")), fields::<SnapshotSpec>());
    assert_eq!(props(&s, &format!("/properties/key_pairs{m}")), fields::<KeyPairSpec>());
    assert_eq!(props(&s, &format!("/properties/kms_keys{m}")), fields::<KmsKeySpec>());
    assert_eq!(props(&s, "/properties/account"), fields::<AccountSpec>());
}

#[test]
fn contract_schemas_match_the_contract_types() {
    let s = schema("api");
    assert_eq!(props(&s, ""), fields::<Contract>());
    assert_eq!(props(&s, "/properties/params/additionalProperties"), fields::<Param>());
    assert_eq!(props(&s, "/properties/errors/items"), fields::<DocumentedError>());
    assert_eq!(props(&s, "/properties/waivers/items"), fields::<Waiver>());
    assert_eq!(props(&s, "/properties/prose/items"), fields::<ProseCondition>());
    assert_eq!(props(&s, "/properties/at_least_one_of/items"), fields::<OneOf>());
    let param = "/properties/params/additionalProperties/properties";
    assert_eq!(props(&s, &format!("{param}/codes")), fields::<ParamCodes>());
    assert_eq!(props(&s, &format!("{param}/classes")), fields::<Classes>());
    assert_eq!(props(&s, &format!("{param}/default_from")), fields::<StateDefault>());
    assert_eq!(props(&s, "/definitions/stateBound"), fields::<StateBound>());
    // The state names a bound may read are the ones the rules give.
    let states: Vec<&str> = s["definitions"]["stateBound"]["properties"]["state"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(states, apiconform::contract::STATE_NAMES);
    let c = schema("common-errors");
    assert_eq!(props(&c, ""), fields::<CommonErrors>());
    assert_eq!(props(&c, "/properties/param_errors"), fields::<ParamErrors>());
    assert_eq!(props(&c, "/properties/errors/items"), fields::<DocumentedError>());
}

#[test]
fn every_case_file_points_its_editor_at_the_schema() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut n = 0;
    for vendor in std::fs::read_dir(&root).unwrap().flatten() {
        for service in std::fs::read_dir(vendor.path()).unwrap().flatten().filter(|e| e.path().is_dir()) {
            for api in std::fs::read_dir(service.path()).unwrap().flatten() {
                for f in std::fs::read_dir(api.path()).unwrap().flatten() {
                    let text = std::fs::read_to_string(f.path()).unwrap();
                    let first = text.lines().next().unwrap_or("");
                    assert!(
                        first.starts_with("# yaml-language-server: $schema=../../../../schema/"),
                        "{}: first line must be the yaml-language-server schema comment",
                        f.path().display()
                    );
                    n += 1;
                }
            }
        }
    }
    assert!(n > 20);
}
