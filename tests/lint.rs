//! Bad case files give `file:line:column` errors with a description and a
//! hint, and never a panic. Each test writes a small cases tree (one valid
//! API plus the case files under test) to a temporary directory and loads it.

use apiconform::diag::Diagnostic;
use apiconform::suite::Suite;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

const COMMON: &str = r#"vendor: aliyun
source: test
common_params: [RegionId]
errors:
  - { status: 400, code: SignatureDoesNotMatch, message: "Specified signature is not matched with our calculation. server string to sign is:" }
"#;

const API: &str = r#"vendor: aliyun
service: ecs
action: ReplaceSystemDisk
version: "2014-05-26"
docs: [{ file: x.md, authority: current }]
params:
  InstanceId: { type: string, required: true }
  ImageId: { type: string, required: true }
  SystemDisk.Size: { type: integer }
  KeyId.N: { type: string }
errors:
  - { status: 403, code: IncorrectInstanceStatus, message: "The current status of the resource does not support this operation." }
  - { status: 404, code: InvalidImageId.NotFound, message: "The specified ImageId does not exist." }
"#;

const WORLD: &str = r#"instances:
  instance: { status: Stopped, image: image, system_disk: system_disk }
disks:
  system_disk: { instance: instance }
images:
  image: { size_gib: 20 }
"#;

/// Writes the scaffolding plus `cases` (file name, text) and loads it.
fn load(cases: &[(&str, &str)]) -> (PathBuf, Result<Suite, Vec<Diagnostic>>) {
    static N: AtomicU32 = AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "apiconform-lint-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let api = root.join("aliyun/ecs/ReplaceSystemDisk");
    std::fs::create_dir_all(&api).unwrap();
    std::fs::write(root.join("aliyun/common-errors.yaml"), COMMON).unwrap();
    std::fs::write(api.join("api.yaml"), API).unwrap();
    std::fs::write(api.join("world.yaml"), WORLD).unwrap();
    for (name, text) in cases {
        std::fs::write(api.join(name), text).unwrap();
    }
    let r = Suite::load(&root).map_err(|d| d.0);
    (api, r)
}

/// Loads one bad case and returns its only diagnostic.
fn one_error(text: &str) -> Diagnostic {
    let (dir, r) = load(&[("bad.yaml", text)]);
    let diags = r.expect_err("the case must not load");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = diags.into_iter().next().unwrap();
    assert_eq!(d.file, dir.join("bad.yaml"));
    d
}

fn at(d: &Diagnostic) -> (u32, u32) {
    (d.pos.line, d.pos.column)
}

const GOOD: &str = "name: good\ncondition: \"the instance must be Stopped\"\ngiven:\n  instances:\n    instance: { status: Running }\nrequest:\n  InstanceId: ${instance.id}\n  ImageId: ${image.id}\nexpect:\n  status: 403\n  code: IncorrectInstanceStatus\n";

#[test]
fn a_valid_tree_loads() {
    let (_, r) = load(&[("good.yaml", GOOD)]);
    let suite = r.unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(suite.case_count(), 1);
}

#[test]
fn unknown_parameter_suggests_the_documented_name() {
    let d = one_error("name: a\ncondition: c\nrequest:\n  InstanceId: ${instance.id}\n  ImageID: ${image.id}\nexpect:\n  status: 200\n");
    assert_eq!(at(&d), (5, 3));
    assert!(d.message.contains("unknown request parameter `ImageID`"), "{}", d.message);
    assert_eq!(d.hint.as_deref(), Some("did you mean `ImageId`?"));
    let shown = d.to_string();
    assert!(shown.contains("bad.yaml:5:3"), "{shown}");
    assert!(shown.contains("5 |   ImageID: ${image.id}"), "{shown}");
    assert!(shown.contains("  |   ^"), "{shown}");
    assert!(shown.contains("= hint: did you mean `ImageId`?"), "{shown}");
}

#[test]
fn unknown_field_suggests_the_right_one() {
    let d = one_error("name: a\ncondition: c\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 403\n  cdoe: IncorrectInstanceStatus\n");
    assert_eq!(at(&d), (8, 3));
    assert_eq!(d.message, "unknown field `cdoe`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `code`?"));
}

#[test]
fn duplicate_case_names_are_refused() {
    let (dir, r) = load(&[("a.yaml", GOOD), ("b.yaml", GOOD)]);
    let d = r.expect_err("duplicates");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].file, dir.join("b.yaml"));
    assert_eq!(at(&d[0]), (1, 7));
    assert!(d[0].message.contains("duplicate case name `good`"));
    assert!(d[0].hint.as_deref().unwrap().contains("a.yaml"));
}

#[test]
fn missing_fixture_names_the_close_one() {
    let d = one_error("name: a\ncondition: c\nrequest:\n  InstanceId: ${instnace.id}\n  ImageId: ${image.id}\nexpect:\n  status: 200\n");
    assert_eq!(at(&d), (4, 15));
    assert!(d.message.contains("not in the world"), "{}", d.message);
    assert_eq!(d.hint.as_deref(), Some("did you mean `instance`?"));
}

#[test]
fn undocumented_code_is_an_error_unless_marked() {
    let d = one_error("name: a\ncondition: c\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 403\n  code: IncorrectInstanceStatu\n");
    assert_eq!(at(&d), (8, 9));
    assert!(d.message.contains("is not a documented error"));
    assert!(d.hint.as_deref().unwrap().contains("did you mean `IncorrectInstanceStatus`"));
    let ok = "name: a\ncondition: c\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 400\n  code: Seen.Live\n  undocumented: \"seen live, not in the doc\"\n";
    assert!(load(&[("ok.yaml", ok)]).1.is_ok());
}

#[test]
fn undocumented_marker_on_a_documented_code_is_an_error() {
    let d = one_error("name: a\ncondition: c\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 403\n  code: IncorrectInstanceStatus\n  undocumented: why\n");
    assert!(d.message.contains("marks it `undocumented`"));
    assert_eq!(d.hint.as_deref(), Some("remove `undocumented`"));
}

#[test]
fn documented_code_with_the_wrong_status() {
    let d = one_error("name: a\ncondition: c\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 400\n  code: IncorrectInstanceStatus\n");
    assert!(d.message.contains("documented with HTTP 403, not 400"), "{}", d.message);
    assert_eq!(d.hint.as_deref(), Some("set `status: 403`"));
}

#[test]
fn yaml_syntax_and_type_errors_have_positions() {
    let d = one_error("name: a\ncondition: c\nrequest: { InstanceId: [x\nexpect:\n  status: 200\n");
    assert!(d.pos.line >= 3, "{d:?}");
    let d = one_error("name: a\ncondition: c\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: abc\n");
    assert_eq!(at(&d), (7, 11));
    let d = one_error("name: a\ncondition: c\nrequest: { InstanceId: ${instance.id} }\nexpect:\n  status: 200\n");
    assert!(d.hint.as_deref().unwrap().contains("quote"), "{d:?}");
}

#[test]
fn saved_values_must_be_saved_first() {
    let d = one_error("name: a\ncondition: c\nsteps:\n  - request:\n      InstanceId: ${saved.disk}\n      ImageId: y\n    expect:\n      status: 200\n");
    assert_eq!(at(&d), (5, 19));
    assert!(d.message.contains("is not saved by an earlier step"));
}

#[test]
fn request_and_steps_together_are_refused() {
    let d = one_error("name: a\ncondition: c\nrequest:\n  InstanceId: x\nexpect:\n  status: 200\nsteps:\n  - request: { InstanceId: x }\n    expect: { status: 200 }\n");
    assert!(d.message.contains("either `request` and `expect`, or `steps`"));
}

#[test]
fn a_flag_only_another_api_reads_is_refused() {
    // `local_image` is Ksyun ModifyInstanceImage's flag: ReplaceSystemDisk never reads it.
    let d = one_error("name: a\ncondition: c\ngiven:\n  images:\n    image: { flags: [local_image] }\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 200\n");
    assert!(d.message.contains("unknown image flag `local_image`"), "{}", d.message);
    // The state model's own flag is valid for every API.
    let (_, r) = load(&[("ok.yaml", "name: a\ncondition: c\ngiven:\n  account: { flags: [manual_time] }\nrequest:\n  InstanceId: ${instance.id}\n  ImageId: ${image.id}\nexpect:\n  status: 200\n")]);
    r.unwrap_or_else(|d| panic!("{d:#?}"));
}

#[test]
fn unknown_flags_and_bad_names_are_refused() {
    let d = one_error("name: a\ncondition: c\ngiven:\n  images:\n    image: { flags: [no_such_flag] }\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 200\n");
    assert_eq!(at(&d), (5, 22));
    assert!(d.message.contains("unknown image flag `no_such_flag`"), "{}", d.message);
    let d =
        one_error("name: Bad Name\ncondition: c\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 200\n");
    assert_eq!(d.hint.as_deref(), Some("try `bad-name`"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let (_, r) = load(&[
        ("a.yaml", "name: a\ncondition: c\nrequest:\n  ImageID: x\nexpect:\n  status: 200\n"),
        ("b.yaml", "name: b\ncondition: c\nrequest:\n  InstanceId: x\nexpect:\n  status: 200\n  colde: X\n"),
    ]);
    assert_eq!(r.expect_err("two bad files").len(), 2);
}

#[test]
fn a_message_that_is_not_the_documented_one_is_refused() {
    let bad = GOOD.replace(
        "code: IncorrectInstanceStatus\n",
        "code: IncorrectInstanceStatus\n  message: \"The current status of the resource does not support this operatoin.\"\n",
    );
    let d = one_error(&bad);
    assert_eq!(at(&d), (12, 12));
    assert!(d.message.contains("not the documented message of `IncorrectInstanceStatus`"), "{d}");
    assert!(d.hint.as_deref().unwrap().contains("does not support this operation."), "{d}");
    // The exact documented text loads.
    let good = bad.replace("operatoin", "operation");
    let (_, r) = load(&[("good.yaml", good.as_str())]);
    r.unwrap_or_else(|d| panic!("{d:#?}"));
}

#[test]
fn a_hard_coded_resource_id_is_refused() {
    let bad = GOOD.replace("ImageId: ${image.id}", "ImageId: m-bp67acfmxazb4ph1234");
    let d = one_error(&bad);
    assert_eq!(at(&d), (8, 12));
    assert!(d.message.contains("`m-bp67acfmxazb4ph1234` is a hard-coded resource ID"), "{d}");
    assert!(d.hint.as_deref().unwrap().contains("${instance.id}"), "{d}");
}
