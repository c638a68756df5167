//! `apiconform explore` on the emulator: every boundary of every constrained
//! parameter is generated, nothing is found, and a contract the emulator
//! does not meet is found.

use apiconform::explore::{explore, generate};
use apiconform::runner::{Harness, Target};
use apiconform::suite::Suite;
use std::path::Path;

fn suite() -> Suite {
    Suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn the_emulator_meets_every_generated_request() {
    let s = suite();
    let h = Harness::start(&s).expect("emulator");
    let report = explore(&s, &h, Target::Emulator, &[]);
    let found: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{} {} {}: {}", f.probe.api, f.probe.param, f.probe.what, f.why))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
    assert!(report.skipped.is_empty(), "{:#?}", report.skipped);
    for api in s.apis.iter().filter(|a| !a.contract.support) {
        let n = report.generated.get(&api.path()).copied().unwrap_or(0);
        assert!(n > 0, "{} generated nothing", api.path());
        println!("{:<40} {n:>4} requests", api.path());
    }
}

#[test]
fn every_boundary_of_every_constrained_parameter_is_generated() {
    let s = suite();
    let mut boundaries = 0;
    for api in s.apis.iter().filter(|a| !a.contract.support) {
        let probes = generate(api).expect("a success case to build on");
        assert_eq!(probes, generate(api).unwrap(), "generation is deterministic");
        let has = |param: &str, what: &str| probes.iter().any(|p| p.param == param && p.what == what);
        for (name, p) in &api.contract.params {
            let bounds = [
                p.min.map(|v| format!("min {v}")),
                p.max.map(|v| format!("max {v}")),
                p.min_length.filter(|v| *v > 0).map(|v| format!("min_length {v}")),
                p.max_length.map(|v| format!("max_length {v} (too long)")),
            ];
            for b in bounds.into_iter().flatten() {
                assert!(has(name, &format!("{b} (at)")), "{} {name}: {b} (at) not generated", api.path());
                assert!(has(name, &format!("{b} (one past)")), "{} {name}: {b} (one past) not generated", api.path());
                boundaries += 1;
            }
            for v in p.enum_values.iter().flatten() {
                assert!(has(name, &format!("enum value {v}")), "{} {name}: {v}", api.path());
            }
        }
    }
    assert_eq!(boundaries, 8, "Size min/max, ClientToken, Password min/max, KMSKeyId, Ksyun InstancePassword min/max");
}

#[test]
fn a_contract_the_emulator_does_not_meet_is_found() {
    let s = suite();
    // The emulator derives its checks from the contract: an emulator built
    // from a contract that allows 40 characters accepts 31, which the
    // shipped contract (at most 30) refuses.
    let mut broken = suite();
    let api = broken.apis.iter_mut().find(|a| a.path() == "aliyun::ecs::ReplaceSystemDisk").expect("api");
    api.contract.params.get_mut("Password").expect("Password").max_length = Some(40);
    let h = Harness::start(&broken).expect("emulator");
    let report = explore(&s, &h, Target::Emulator, &["ReplaceSystemDisk".to_string()]);
    let found: Vec<(&str, &str)> = report.findings.iter().map(|f| (f.probe.what.as_str(), f.why.as_str())).collect();
    assert_eq!(
        found,
        vec![("max_length 30 (too long) (one past)", "the contract refuses this value, the target accepted it")]
    );
    let yaml = apiconform::explore::candidate_yaml(&report.findings[0]);
    assert!(yaml.contains("name: explore-password-max-length-30-too-long-one-past"), "{yaml}");
    assert!(yaml.contains("status: 200"), "{yaml}");
}

#[test]
fn the_live_path_goes_through_the_live_gates() {
    let s = suite();
    // Without the opt-in, every live probe is refused by the runner's gate,
    // or, for an API without DryRun, a valid probe is not even sent.
    let cfg = apiconform::live::LiveConfig::from_process_env();
    assert!(!cfg.enabled, "this test expects no APICONFORM_LIVE in the environment");
    let h = Harness::start(&s).expect("emulator").with_live(cfg);
    let report = explore(&s, &h, Target::Live, &[]);
    assert!(report.findings.is_empty());
    assert_eq!(report.skipped.len(), report.probes.len());
    assert!(
        report.skipped.iter().all(|(_, why)| why.contains("APICONFORM_LIVE=1") || why.starts_with("no DryRun")),
        "{:#?}",
        report.skipped
    );
}
