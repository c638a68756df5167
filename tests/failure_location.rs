//! A failed expectation names where it is written, `file:line:column`, the
//! way a loading error does: the spans of the case file reach run time.

use apiconform::protocol::Normalized;
use apiconform::runner::check;
use apiconform::suite::Suite;
use apiconform::template::Bindings;
use serde_json::Value;
use std::path::Path;

#[test]
fn a_failed_expectation_names_its_file_line_and_column() {
    let suite = Suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).unwrap_or_else(|d| panic!("{d}"));
    let api = suite.apis.iter().find(|a| a.path() == "aliyun::ecs::ReplaceSystemDisk").expect("api");
    let case = api.cases.iter().find(|c| c.name == "password-malformed").expect("case");
    let text = std::fs::read_to_string(&case.file).expect("case file");
    // The expectation's mapping starts on the line after `expect:`, indented by two.
    let line = text.lines().position(|l| l == "expect:").expect("a one-step case") + 2;
    let success = Normalized { status: 200, code: None, message: None, request_id: None, body: Value::Null };
    let step = &case.steps[0];
    let mut failures = Vec::new();
    check(&step.name, &step.expect, &success, &Bindings::default(), &mut failures);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let want = format!("the expectation is at {}:{line}:3", case.file.display());
    assert!(failures[0].ends_with(&want), "{:?} should end with {want:?}", failures[0]);
    // A passing answer reports nothing, and so no location.
    let mut none = Vec::new();
    let message = step.expect.documented[0].message.clone();
    let right =
        Normalized { status: 400, code: Some("InvalidPassword.Malformed".into()), message: Some(message), ..success };
    check(&step.name, &step.expect, &right, &Bindings::default(), &mut none);
    assert!(none.is_empty(), "{none:?}");
}
