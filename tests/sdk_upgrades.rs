//! The real SDK upgrades the diff must detect and class correctly, each
//! with the real old and new versions installed (pinned as exact sets
//! under `sdk/upgrades/`). Environments take minutes to build the first
//! time, so this runs only with `APICONFORM_SDK_UPGRADES=1` (`.ci/run`
//! sets it).

use apiconform::sdk::diff::{compare, Change, Class};
use apiconform::sdk::driver::Pool;
use apiconform::sdk::env::{self, Pin};
use apiconform::sdk::trial::SdkHarness;
use apiconform::sdk::{self, flavour};
use apiconform::suite::Suite;
use std::path::Path;
use std::sync::Arc;

fn enabled() -> bool {
    if std::env::var_os("APICONFORM_SDK_UPGRADES").is_some() {
        return true;
    }
    eprintln!("note: SDK upgrade demonstrations skipped (set APICONFORM_SDK_UPGRADES=1)");
    false
}

fn harness() -> SdkHarness {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = Suite::load(&root.join("cases")).expect("cases load");
    SdkHarness::start(Arc::new(suite)).expect("emulator starts")
}

fn pin(package: &str, version: Option<&str>) -> Pin {
    match version {
        Some(v) => Pin::Version { package: package.into(), version: v.into() },
        None => Pin::Locked,
    }
}

/// Runs `case` through `from` and `to` of `flavour` and returns the changes.
/// `before` runs before each of the two calls (a fault to inject, say).
fn upgrade(
    flavour_name: &str,
    from: Option<&str>,
    to: Option<&str>,
    case: &str,
    before: &dyn Fn(&SdkHarness),
) -> Vec<Change> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sdk_root = sdk::root_for(&root.join("cases"));
    let f = flavour(flavour_name).unwrap();
    let h = harness();
    let (api, c) = h
        .suite()
        .apis
        .iter()
        .flat_map(|a| a.cases.iter().map(move |c| (a, c)))
        .find(|(a, c)| format!("{}::{}", a.path(), c.name) == case)
        .unwrap_or_else(|| panic!("no case {case}"));
    let run = |v: Option<&str>| {
        let e = env::build(&sdk_root, f, &pin(f.package, v)).unwrap_or_else(|e| panic!("{flavour_name} {v:?}: {e}"));
        before(&h);
        h.run(&Pool::new(&sdk_root, f, e), api, c)
    };
    let (old, new) = (run(from), run(to));
    let changes = compare(case, &old, &new);
    eprintln!("{flavour_name} {from:?} -> {to:?} on {case}:");
    for ch in &changes {
        eprintln!("  [{}] {}: {} -> {}", ch.class.name(), ch.what, ch.old, ch.new);
    }
    changes
}

fn has(changes: &[Change], class: Class, what: &str, old: &str, new: &str) -> bool {
    changes.iter().any(|c| c.class == class && c.what.contains(what) && c.old.contains(old) && c.new.contains(new))
}

#[test]
fn tea_ecs_2_1_0_to_2_1_1_moves_from_rpc_v1_form_to_acs3_query() {
    if !enabled() {
        return;
    }
    let c = upgrade(
        "py-tea-ecs",
        Some("2.1.0"),
        Some("2.1.1"),
        "aliyun::ecs::ReplaceSystemDisk::instance-not-stopped",
        &|_| {},
    );
    assert!(has(&c, Class::Breaking, "signature scheme", "rpc-v1", "acs3"), "{c:#?}");
    assert!(has(&c, Class::Breaking, "parameter location", "form", "query"), "{c:#?}");
    assert!(has(&c, Class::Breaking, "Action moved", "query", "header"), "{c:#?}");
}

#[test]
fn volcengine_1_0_130_to_4_0_45_sends_lowercase_booleans() {
    if !enabled() {
        return;
    }
    let c = upgrade(
        "py-volcengine",
        Some("1.0.130"),
        Some("4.0.45"),
        "volcengine::ecs::ReplaceSystemVolume::keep-credential-success",
        &|_| {},
    );
    assert!(has(&c, Class::Breaking, "encoded value of KeepImageCredential", "True", "true"), "{c:#?}");
}

#[test]
fn volcengine_4_0_45_to_5_0_54_signs_new_sdk_headers() {
    if !enabled() {
        return;
    }
    let c = upgrade(
        "py-volcengine",
        Some("4.0.45"),
        None,
        "volcengine::ecs::ReplaceSystemVolume::keep-credential-success",
        &|_| {},
    );
    assert!(has(&c, Class::Notable, "signed headers grew", "", "x-sdk-invocation-id"), "{c:#?}");
    assert!(has(&c, Class::Notable, "signed headers grew", "", "x-sdk-request"), "{c:#?}");
    assert!(!c.iter().any(|x| x.class == Class::Breaking), "{c:#?}");
}

#[test]
fn tea_openapi_0_3_16_to_0_4_6_raises_throttling_exception_with_retry_after() {
    if !enabled() {
        return;
    }
    let throttle =
        |h: &SdkHarness| h.emulator().inject_fault("aliyun", "ReplaceSystemDisk", "Throttling.User", 1).unwrap();
    let c = upgrade(
        "py-tea-ecs",
        Some("7.3.0+tea-openapi-0.3.16"),
        Some("7.3.0+tea-openapi-0.4.6"),
        "aliyun::ecs::ReplaceSystemDisk::instance-not-stopped",
        &throttle,
    );
    // ThrottlingException subclasses the old TeaException: notable, not breaking.
    assert!(has(&c, Class::Notable, "new exception subclass", "TeaException", "ThrottlingException"), "{c:#?}");
    assert!(has(&c, Class::Notable, "new exception attribute: retry_after", "", "retry_after"), "{c:#?}");
    assert!(has(&c, Class::Notable, "retry_after", "-", "200"), "{c:#?}");
}

/// pop-core 1.8.0 flattens a list inside a repeated item differently, but
/// no parameter of the four APIs is such a list (`Arn.N.*` holds scalars):
/// on the real cases the upgrade changes only the SDK's own headers. The
/// flattening class itself is shown by `diff::tests`.
#[test]
fn pop_core_1_7_10_to_1_8_0_changes_only_its_client_header_on_these_apis() {
    if !enabled() {
        return;
    }
    let c = upgrade("node-pop-core", Some("1.7.10"), None, "aliyun::ecs::ReplaceSystemDisk::arn-not-open", &|_| {});
    assert!(has(&c, Class::Notable, "header value: x-sdk-client", "1.7.10", "1.8.0"), "{c:#?}");
    assert!(has(&c, Class::Noise, "User-Agent", "1.7.10", "1.8.0"), "{c:#?}");
    assert!(!c.iter().any(|x| x.class == Class::Breaking), "{c:#?}");
}

/// The same upgrade with a list inside the repeated `Arn` item (a shape the
/// ECS doc does not give `Arn`, added to the case here only): 1.7.10 joins
/// it (`Arn.1.Tag=x,y`), 1.8.0 numbers it (`Arn.1.Tag.1`, `Arn.1.Tag.2`).
#[test]
fn pop_core_1_7_10_to_1_8_0_flattens_a_list_inside_a_repeated_item_differently() {
    if !enabled() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sdk_root = sdk::root_for(&root.join("cases"));
    let f = flavour("node-pop-core").unwrap();
    let h = harness();
    let api = h.suite().apis.iter().find(|a| a.path() == "aliyun::ecs::ReplaceSystemDisk").unwrap();
    let mut case = api.cases.iter().find(|c| c.name == "arn-not-open").unwrap().clone();
    case.steps[0].params.push(("Arn.1.Tag.1".into(), "x".into()));
    case.steps[0].params.push(("Arn.1.Tag.2".into(), "y".into()));
    let run = |v: Option<&str>| {
        let e = env::build(&sdk_root, f, &pin(f.package, v)).unwrap();
        h.run(&Pool::new(&sdk_root, f, e), api, &case)
    };
    let c = compare("arn-with-a-nested-list", &run(Some("1.7.10")), &run(None));
    assert!(has(&c, Class::Breaking, "parameter name or flattening: Arn.1.Tag", "Arn.1.Tag", "Arn.1.Tag.1"), "{c:#?}");
}

#[test]
fn aliyun_core_2_13_36_to_2_16_1_changes_nonce_format_and_accept_encoding() {
    if !enabled() {
        return;
    }
    let c = upgrade(
        "py-aliyun-core",
        Some("2.13.36"),
        None,
        "aliyun::ecs::ReplaceSystemDisk::instance-not-stopped",
        &|_| {},
    );
    assert!(has(&c, Class::Notable, "format of SignatureNonce", "", ""), "{c:#?}");
    assert!(c.iter().any(|x| x.class == Class::Notable && x.what.contains("accept-encoding")), "{c:#?}");
}
