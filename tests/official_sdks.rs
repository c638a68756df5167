//! The vendors' official Python SDKs against the emulator, serving as
//! `apiconform serve` does, with nothing changed but the endpoint:
//! alibabacloud_ecs20140526 (ACS3 and RPC V1), the legacy aliyun-python-sdk
//! (including its string-to-sign check on SignatureDoesNotMatch),
//! volcengine-python-sdk and ksc-sdk-python, each on a success and an error.
//!
//! The SDKs come from `tests/sdk/requirements.txt`; `.ci/run` installs them
//! and sets `APICONFORM_REQUIRE_SDKS=1`, which makes their absence a
//! failure. Without that variable, a machine without them skips this test
//! with a note.

use apiconform::emulator::Emulator;
use apiconform::suite::Suite;
use std::path::Path;
use std::process::Command;

const MODULES: &str =
    "import alibabacloud_ecs20140526, aliyunsdkcore, aliyunsdkecs, volcenginesdkcore, volcenginesdkecs, kscore";

#[test]
fn official_sdks_work_against_the_emulator_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let have = Command::new("python3").args(["-c", MODULES]).output().is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("APICONFORM_REQUIRE_SDKS").is_none(),
            "the official SDKs are required here: python3 -m pip install -r tests/sdk/requirements.txt"
        );
        eprintln!("note: official SDK check skipped (python3 -m pip install -r tests/sdk/requirements.txt)");
        return;
    }
    let suite = Suite::load(&root.join("cases")).expect("cases load");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let addr = rt.block_on(Emulator::from_suite(&suite).spawn("127.0.0.1:0")).unwrap();
    let out = Command::new("python3")
        .arg(root.join("tests/sdk/official_sdks.py"))
        .arg(addr.to_string())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("all official SDK checks passed"), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 10, "{stdout}");
}
