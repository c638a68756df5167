//! End to end, as a nightly job runs it: `apiconform serve` stands in for the
//! clouds, and `apiconform run --target live --record --junit --markdown`
//! runs against it with a canary value in every credential variable. The
//! canary must not appear in anything the run writes: recordings, JUnit,
//! Markdown, standard output or standard error.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const CANARY: &str = "CANARY-9f8e7d6c5b4a";

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apiconform"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn serve() -> (Serve, String) {
    let mut child = bin()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("apiconform serve starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().rsplit("http://").next().unwrap().to_string();
    (Serve(child), addr)
}

fn seed(addr: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c.post(format!("http://{addr}/_apiconform/seed?vendor=aliyun")).body("{}").send().await.unwrap();
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    })
}

#[test]
fn a_canary_in_every_credential_variable_reaches_no_output() {
    let (_serve, addr) = serve();
    let ids = seed(&addr);
    let dir = std::env::temp_dir().join(format!("apiconform-cli-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut inv = String::from("aliyun:\n  roles:\n");
    for role in ["instance.id", "system_disk.id", "image.id", "other_image.id", "key_pair.name"] {
        inv.push_str(&format!("    {role}: \"{}\"\n", ids["fixtures"][role].as_str().unwrap()));
    }
    std::fs::write(dir.join("inventory.yaml"), inv).unwrap();
    let mut cmd = bin();
    cmd.args(["run", "--target", "live", "--record", "-v"])
        .arg("--recordings")
        .arg(dir.join("recordings"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--markdown")
        .arg(dir.join("summary.md"))
        .args(["ReplaceSystemDisk::success", "ReplaceSystemDisk::instance-not-stopped"])
        .env("APICONFORM_LIVE", "1")
        .env("APICONFORM_INVENTORY", dir.join("inventory.yaml"))
        .env("APICONFORM_LIVE_POLL_MS", "5")
        .env("APICONFORM_LIVE_BACKOFF_MS", "5")
        .env("CI", "true");
    for v in ["ALIYUN", "VOLCENGINE", "KSYUN"] {
        cmd.env(format!("APICONFORM_{v}_ENDPOINT"), format!("http://{addr}"));
    }
    for var in [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        "ALIYUN_ACCESS_KEY_ID",
        "ALIYUN_ACCESS_KEY_SECRET",
        "VOLCENGINE_ACCESS_KEY",
        "VOLCENGINE_SECRET_KEY",
        "VOLCENGINE_SESSION_TOKEN",
        "KSYUN_ACCESS_KEY",
        "KSYUN_SECRET_KEY",
        "KS_ACCESS_KEY_ID",
        "KS_SECRET_ACCESS_KEY",
        "KS_SESSION_TOKEN",
    ] {
        cmd.env(var, CANARY);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // The canary credentials are refused by the served account, so the run
    // fails, and still writes every report.
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("InvalidAccessKeyId.NotFound"), "{stdout}");
    let mut written = String::new();
    for f in ["junit.xml", "summary.md"] {
        written.push_str(&std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")));
    }
    // Staging fails on the refused credentials before any case step, so no
    // recording may exist; any that does is checked too.
    if let Ok(recs) = std::fs::read_dir(dir.join("recordings/aliyun/ecs/ReplaceSystemDisk")) {
        for r in recs {
            written.push_str(&std::fs::read_to_string(r.unwrap().path()).unwrap());
        }
    }
    assert!(written.contains("testcase"), "JUnit was written");
    for (name, text) in [("files", &written), ("stdout", &stdout), ("stderr", &stderr)] {
        assert!(!text.contains(CANARY), "the canary leaked into {name}");
        assert!(!text.contains(&CANARY.to_ascii_lowercase()), "the canary leaked into {name} (lower case)");
    }
}
