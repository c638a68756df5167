//! What the trial-running test binaries share: one way to compare a
//! transcript with its snapshot file.

use libtest_mimic::Failed;
use std::path::Path;

/// Compares `transcript` with `<dir>/<name>.snap` through insta, so
/// `cargo insta review` and `INSTA_UPDATE` work on every snapshot kind.
pub fn snapshot(dir: &Path, name: &str, transcript: &str) -> Result<(), Failed> {
    let dir = dir.to_path_buf();
    let name = name.to_string();
    let transcript = transcript.to_string();
    std::panic::catch_unwind(move || {
        insta::with_settings!({
            snapshot_path => dir,
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, transcript);
        });
    })
    .map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "snapshot assertion failed".into());
        Failed::from(format!("snapshot mismatch (see the diff above; `cargo insta review` to accept): {msg}"))
    })
}
