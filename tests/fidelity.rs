//! Fidelity to the doc's own words: the current page's message is the
//! default, a legacy one is accepted only where a case asks for it.

use apiconform::protocol::Normalized;
use apiconform::runner::check;
use apiconform::suite::Suite;
use apiconform::template::Bindings;
use serde_json::Value;
use std::path::Path;

fn suite() -> Suite {
    Suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).unwrap_or_else(|d| panic!("{d}"))
}

fn answer(status: u16, code: &str, message: &str) -> Normalized {
    Normalized { status, code: Some(code.into()), message: Some(message.into()), request_id: None, body: Value::Null }
}

/// Checks the case's only step of `action` against `n`; the failures.
fn failures_of(suite: &Suite, api: &str, case: &str, n: &Normalized) -> Vec<String> {
    let api = suite.apis.iter().find(|a| a.path() == api).expect("api");
    let case = api.cases.iter().find(|c| c.name == case).unwrap_or_else(|| panic!("case {case}"));
    let step = case.steps.iter().find(|s| s.action == api.action).expect("a step of the API");
    let mut failures = Vec::new();
    check(&step.name, &step.expect, n, &Bindings::default(), &mut failures);
    failures
}

#[test]
fn the_current_wording_is_the_default_and_the_legacy_one_fails() {
    let s = suite();
    let api = "aliyun::ecs::ReplaceSystemDisk";
    let password = [
        "password-malformed",
        "password-two-classes",
        "password-too-long",
        "password-too-short",
        "password-disallowed-special",
        "password-with-space",
        "precedence-format-before-existence",
    ];
    let current = "The specified parameter \"Password\" is not valid.";
    let legacy = "The specified parameter \u{201c}Password\u{201d} is not valid.";
    for case in password {
        let ok = failures_of(&s, api, case, &answer(400, "InvalidPassword.Malformed", current));
        assert!(ok.is_empty(), "{case}: {ok:?}");
        let bad = failures_of(&s, api, case, &answer(400, "InvalidPassword.Malformed", legacy));
        assert_eq!(bad.len(), 1, "{case} must refuse the legacy wording: {bad:?}");
    }
    let current =
        "The specified image is from the image market,You have not bought it or your quota has been exceeded.";
    let legacy =
        "The specified image is from the image market. You have not bought it or your quota has been exceeded.";
    let ok = failures_of(&s, api, "market-image-quota", &answer(403, "QuotaExceed.BuyImage", current));
    assert!(ok.is_empty(), "{ok:?}");
    let bad = failures_of(&s, api, "market-image-quota", &answer(403, "QuotaExceed.BuyImage", legacy));
    assert_eq!(bad.len(), 1, "market-image-quota must refuse the legacy wording: {bad:?}");
}

/// A minimal tree whose API documents one code on both pages.
fn two_pages(case: &str) -> Result<Suite, String> {
    tree(&[case])
}

fn tree(cases: &[&str]) -> Result<Suite, String> {
    tree_with(cases, "", "instances:\n  instance: { status: Stopped }\n")
}

fn tree_with(cases: &[&str], api_extra: &str, world: &str) -> Result<Suite, String> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("apiconform-fidelity-{}-{n}", std::process::id()));
    let dir = root.join("aliyun/ecs/ReplaceSystemDisk");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(root.join("aliyun/common-errors.yaml"), "vendor: aliyun\nsource: t\nerrors: []\n").unwrap();
    std::fs::write(
        dir.join("api.yaml"),
        r#"vendor: aliyun
service: ecs
action: ReplaceSystemDisk
version: "2014-05-26"
docs: [{ file: x.md, authority: current }, { file: y.md, authority: legacy }]
params:
  InstanceId: { type: string, required: true }
errors:
  - { status: 400, code: Bad, message: "current words" }
  - { status: 400, code: Bad, message: "legacy words", source: legacy }
  - { status: 400, code: OnlyOld, message: "old words", source: legacy }
"#
        .to_string()
            + api_extra,
    )
    .unwrap();
    std::fs::write(dir.join("world.yaml"), world).unwrap();
    for (i, case) in cases.iter().enumerate() {
        std::fs::write(dir.join(format!("c{i}.yaml")), case).unwrap();
    }
    let r = Suite::load(&root).map_err(|d| d.to_string());
    let _ = std::fs::remove_dir_all(&root);
    r
}

#[test]
fn a_legacy_message_is_accepted_only_where_the_case_asks_for_it() {
    let asks = "name: c\ncondition: c\nrequest: { InstanceId: x }\nexpect: { status: 400, code: Bad, message_source: legacy }\n";
    let s = two_pages(asks).expect("loads");
    let step = &s.apis[0].cases[0].steps[0];
    let run = |m: &str| {
        let mut f = Vec::new();
        check("s", &step.expect, &answer(400, "Bad", m), &Bindings::default(), &mut f);
        f
    };
    assert!(run("legacy words").is_empty());
    assert_eq!(run("current words").len(), 1);
    let only_old = "name: c\ncondition: c\nrequest: { InstanceId: x }\nexpect: { status: 400, code: OnlyOld }\n";
    let err = two_pages(only_old).expect_err("a legacy-only code needs message_source");
    assert!(err.contains("message_source: legacy"), "{err}");
    let explicit = "name: c\ncondition: c\nrequest: { InstanceId: x }\nexpect: { status: 400, code: Bad, message: legacy words }\n";
    let err = two_pages(explicit).expect_err("the legacy wording is not the default");
    assert!(err.contains("not the documented message"), "{err}");
}

#[test]
fn a_precedence_case_must_say_what_it_assumes_and_coverage_counts_it() {
    let order =
        "name: p\ncondition: c\ntags: [precedence]\nrequest: { InstanceId: x }\nexpect: { status: 400, code: Bad }\n";
    let err = tree(&[order]).expect_err("an untagged precedence case is refused");
    assert!(err.contains("check order the docs do not state"), "{err}");
    let assumed = order.replace("tags: [precedence]\n", "tags: [precedence]\nassumed: the doc states no order\n");
    let stated = "name: s\ncondition: c\nrequest: { InstanceId: x }\nexpect: { status: 400, code: Bad }\n";
    let on_step = "name: t\ncondition: c\nrequest: { InstanceId: x }\nexpect: { status: 400, code: Bad, assumed: no trigger in the doc }\n";
    let s = tree(&[&assumed, stated, on_step]).expect("loads");
    let m = apiconform::coverage::Matrix::build(&s, &Default::default(), Path::new("/nonexistent"));
    let t = &m.totals["aliyun::ecs::ReplaceSystemDisk"];
    assert_eq!((t.stated, t.assumed), (1, 2));
    assert!(m.render().contains("stated  assumed"), "{}", m.render());
}

#[test]
fn the_precedence_cases_and_invented_triggers_are_tagged_assumed() {
    let s = suite();
    let assumed = |api: &str, case: &str| {
        let a = s.apis.iter().find(|a| a.path() == api).expect("api");
        let c = a.cases.iter().find(|c| c.name == case).unwrap_or_else(|| panic!("{case}"));
        c.assumed.is_some() || c.steps.iter().any(|st| st.expect.assumed.is_some())
    };
    let precedence: Vec<_> = s
        .apis
        .iter()
        .flat_map(|a| a.cases.iter().map(move |c| (a.path(), c)))
        .filter(|(_, c)| c.name.starts_with("precedence-"))
        .collect();
    assert_eq!(precedence.len(), 17);
    assert!(precedence.iter().all(|(a, c)| assumed(a, &c.name)));
    for (api, case) in [
        ("aliyun::ecs::ResetDisk", "instance-not-found"),
        ("volcengine::ecs::ReplaceSystemVolume", "volume-type-unknown"),
        ("aliyun::ecs::ReplaceSystemDisk", "basic-disk-category"),
        ("aliyun::ecs::ReplaceSystemDisk", "encryption-unsupported-category"),
        ("aliyun::ecs::ReplaceSystemDisk", "sync-payment-unsupported"),
        ("ksyun::kec::ModifyInstanceImage", "keep-image-login-public-image"),
        ("aliyun::ecs::ReplaceSystemDisk", "client-token-reused-other-parameters"),
        ("volcengine::ecs::ReplaceSystemVolume", "client-token-mismatch"),
        // Code splits between rows whose messages say the same thing.
        ("aliyun::ecs::ReplaceSystemDisk", "size-not-an-integer"),
        ("aliyun::ecs::ReplaceSystemDisk", "size-not-positive"),
        ("aliyun::ecs::ReplaceSystemDisk", "unpaid-order"),
        ("aliyun::ecs::ReplaceSystemDisk", "unpaid-upgrade-order"),
        ("aliyun::ecs::ReplaceSystemDisk", "image-id-missing"),
        ("aliyun::ecs::ReplaceSystemDisk", "image-and-disk-both-empty"),
        ("aliyun::ecs::ResetDisk", "disk-not-found"),
        ("aliyun::ecs::ResetDisk", "disk-released"),
        // Trigger values the docs never name.
        ("aliyun::ecs::ReplaceSystemDisk", "spot-instance"),
        ("aliyun::ecs::ReplaceSystemDisk", "disk-path-disk-category"),
        ("aliyun::ecs::ReplaceSystemDisk", "disk-path-disk-charge-type"),
        ("aliyun::ecs::ReplaceSystemDisk", "disk-path-disk-in-use"),
        ("aliyun::ecs::ReplaceSystemDisk", "disk-path-platform-malformed"),
        ("aliyun::ecs::ReplaceSystemDisk", "disk-path-architecture-malformed"),
        ("aliyun::ecs::ReplaceSystemDisk", "image-not-valid"),
        ("aliyun::ecs::ReplaceSystemDisk", "system-disk-status"),
        ("aliyun::ecs::ReplaceSystemDisk", "password-with-space"),
        ("aliyun::ecs::ResetDisk", "local-disk-category"),
        ("aliyun::ecs::ResetDisk", "operation-conflict"),
        ("aliyun::ecs::ResetDisk", "region-id-malformed"),
        ("ksyun::kec::ModifyInstanceImage", "invalid-hostname"),
        ("ksyun::kec::ModifyInstanceImage", "disk-size-out-of-range"),
        ("ksyun::kec::ModifyInstanceImage", "overseas-image-type-mismatch"),
        ("ksyun::kec::ModifyInstanceImage", "snapshot-image-across-os-versions"),
        ("volcengine::ecs::ReplaceSystemVolume", "resource-locked"),
        ("volcengine::ecs::ReplaceSystemVolume", "size-above-limit"),
        ("volcengine::ecs::ReplaceSystemVolume", "system-volume-not-attached"),
    ] {
        assert!(assumed(api, case), "{api} {case}");
    }
}

#[test]
fn every_prose_condition_names_existing_cases_or_a_waiver() {
    let case = "name: stated\ncondition: c\nrequest: { InstanceId: x }\nexpect: { status: 400, code: Bad }\n";
    let world = "instances:\n  instance: { status: Stopped }\n";
    let ok = "prose:\n  - { text: \"the doc's words\", cases: [stated], about: [InstanceId] }\n  - { text: other, waiver: no code }\n";
    tree_with(&[case], ok, world).expect("loads");
    let no_about = "prose:\n  - { text: \"the doc's words\", cases: [stated] }\n";
    let err = tree_with(&[case], no_about, world).expect_err("cases without what they are about");
    assert!(err.contains("names cases but not what its words are about"), "{err}");
    let bare = "prose:\n  - { text: \"the doc's words\" }\n";
    let err = tree_with(&[case], bare, world).expect_err("a bare prose condition is refused");
    assert!(err.contains("neither a case, a waiver nor a conflict"), "{err}");
    let conflict = "prose:\n  - { text: \"the doc's words\", conflict: the other page says otherwise }\n";
    tree_with(&[case], conflict, world).expect("a conflict between the pages is an answer");
    // A named case must touch what the words are about.
    let about = |a: &str| format!("prose:\n  - {{ text: \"the doc's words\", cases: [stated], about: [{a}] }}\n");
    tree_with(&[case], &about("InstanceId"), world).expect("the case sends InstanceId");
    let err = tree_with(&[case], &about("ImageId"), world).expect_err("the case does not send ImageId");
    assert!(err.contains("case `stated` does not touch what this prose condition is about (ImageId)"), "{err}");
    let err = tree_with(&[case], &about("given.instances.status"), world).expect_err("the case sets no state");
    assert!(err.contains("does not touch"), "{err}");
    let given = case.replace("request:", "given: { instances: { instance: { status: Running } } }\nrequest:");
    tree_with(&[&given], &about("given.instances.status"), world).expect("the case sets an instance's status");
    tree_with(&[&given], &about("given.instances"), world).expect("the case sets an instance");
    let err = tree_with(&[&given], &about("given.disks"), world).expect_err("the case sets no disk");
    assert!(err.contains("does not touch"), "{err}");
    let typo = "prose:\n  - { text: x, cases: [stater], about: [InstanceId] }\n";
    let err = tree_with(&[case], typo, world).expect_err("a missing case is refused");
    assert!(err.contains("`stater` that does not exist") && err.contains("stated"), "{err}");
}

#[test]
fn a_date_must_be_a_date() {
    let world = "instances:\n  instance: { status: Stopped }\nsnapshots:\n  s: { created: 2013-13-01 }\n";
    let err = tree_with(&[], "", world).expect_err("a bad date is refused");
    assert!(err.contains("is not a date"), "{err}");
}

#[test]
fn a_burst_is_bounded() {
    let case = "name: b\ncondition: c\nsteps:\n  - request: { InstanceId: x }\n    repeat: 0\n    expect: { status: 400, code: Bad }\n";
    let err = tree(&[case]).expect_err("repeat: 0 is refused");
    assert!(err.contains("`repeat: 0` is out of range"), "{err}");
    let ok = case.replace("repeat: 0", "repeat: 3");
    let s = tree(&[&ok]).expect("loads");
    assert_eq!(s.apis[0].cases[0].steps[0].repeat, 3);
}

#[test]
fn a_relation_names_known_parameters_and_documented_codes() {
    let case = "name: stated\ncondition: c\nrequest: { InstanceId: x }\nexpect: { status: 400, code: Bad }\n";
    let world = "instances:\n  instance: { status: Stopped }\n";
    let ok = "at_least_one_of:\n  - { params: [InstanceId, \"InstanceId=x\"], code: Bad }\n";
    tree_with(&[case], ok, world).expect("loads");
    let bad = "at_least_one_of:\n  - { params: [InstanceID], code: Nope }\n";
    let err = tree_with(&[case], bad, world).expect_err("refused");
    assert!(err.contains("`InstanceID` names no parameter of this contract"), "{err}");
    assert!(err.contains("did you mean `InstanceId`"), "{err}");
    assert!(err.contains("`Nope` is documented neither by this API nor by the vendor"), "{err}");
    let status = "at_least_one_of:\n  - { params: [InstanceId], code: { code: Bad, status: 403 } }\n";
    let err = tree_with(&[case], status, world).expect_err("Bad is documented with 400 only");
    assert!(err.contains("`Bad` with status 403 is documented neither"), "{err}");
}
