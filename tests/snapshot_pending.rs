//! A snapshot that no longer matches shows up as *pending* for
//! `cargo insta review` / `cargo insta test --review`: with
//! `INSTA_UPDATE=new` the assertion fails and writes `<case>.snap.new` beside
//! the stored snapshot, holding what the run produced. The assertion is the
//! one `tests/conformance.rs` makes (same settings, same layout), run on a
//! copy of a real emulator snapshot in a temporary tree with one line changed.

use apiconform::runner::{Harness, Target};
use apiconform::suite::Suite;
use std::path::Path;

#[test]
fn a_changed_snapshot_is_written_as_pending() {
    // Only test in this binary: insta reads INSTA_UPDATE once, at its first
    // assertion, and CI would otherwise mean "never write".
    std::env::set_var("INSTA_UPDATE", "new");
    std::env::remove_var("INSTA_FORCE_PASS");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = Suite::load(&manifest.join("cases")).expect("cases load");
    let api = suite.apis.iter().find(|a| a.path() == "aliyun::ecs::ResetDisk").unwrap();
    let case = api.cases.iter().find(|c| c.name == "success").unwrap();
    let harness = Harness::start(&suite).unwrap();
    let out = harness.run(api, case, Target::Emulator);
    assert!(out.failures.is_empty(), "{:?}", out.failures);

    let dir = std::env::temp_dir().join(format!("apiconform-pending-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let stored =
        std::fs::read_to_string(manifest.join("snapshots/emulator/aliyun/ecs/ResetDisk/success.snap")).unwrap();
    assert!(stored.contains("target: emulator"));
    std::fs::write(dir.join("success.snap"), stored.replace("target: emulator", "target: somewhere-else")).unwrap();

    let transcript = out.transcript.clone();
    let snap_dir = dir.clone();
    let result = std::panic::catch_unwind(move || {
        insta::with_settings!({
            snapshot_path => snap_dir,
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!("success", transcript);
        });
    });
    assert!(result.is_err(), "a changed snapshot fails the assertion");
    let pending =
        std::fs::read_to_string(dir.join("success.snap.new")).expect("a pending .snap.new beside the snapshot");
    assert!(pending.contains("target: emulator") && pending.contains(out.transcript.trim_end()), "{pending}");
    // The stored snapshot is left alone until review accepts the new one.
    assert!(std::fs::read_to_string(dir.join("success.snap")).unwrap().contains("somewhere-else"));
    let _ = std::fs::remove_dir_all(&dir);
}
