//! End to end, as a nightly job runs it: `apiconform serve` stands in for the
//! clouds, and `apiconform run --target live --record --junit --markdown`
//! runs against it with a canary value in every credential variable. The
//! canary must not appear in anything the run writes: recordings, JUnit,
//! Markdown, standard output or standard error, in any encoding.
//!
//! The canary keys are registered with the served emulator, so they sign
//! valid requests and reach every path: staging, passing and failing case
//! steps, a failure that quotes the server's string to sign (which carries
//! the access key and the token), and a transport error (whose URL carries
//! a V1 request's signature).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const CANARY_KEY: &str = "CANARYAK9f8e7d6c5b4a";
/// Secrets and tokens may hold `+/=~`, which every encoding changes.
const CANARY_SECRET: &str = "CANARY+sec/ret=9f8e~7d";
const CANARY_TOKEN: &str = "CANARY+tok/en=5b4a~3c";

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

fn control(addr: &str, op: &str, body: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c.post(format!("http://{addr}/_apiconform/{op}")).body(body.to_string()).send().await.unwrap();
        assert!(r.status().is_success(), "{op}: HTTP {}", r.status());
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    })
}

/// Every form a value may take on its way into a file: raw, percent-encoded
/// once and twice (upper and lower hex), form-encoded, JSON-escaped, base64.
fn encodings(v: &str) -> Vec<String> {
    use base64::Engine;
    let once = apiconform::signing::pct(v);
    let lower = once.replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d");
    let form: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
    vec![
        v.to_string(),
        v.to_ascii_lowercase(),
        apiconform::signing::pct(&once),
        once,
        lower,
        form,
        serde_json::to_string(v).unwrap().trim_matches('"').to_string(),
        base64::engine::general_purpose::STANDARD.encode(v),
    ]
}

#[test]
fn a_canary_in_every_credential_variable_reaches_no_output() {
    let (_serve, addr) = serve();
    let ids = control(&addr, "seed?vendor=aliyun", "{}");
    let keys = format!("{{\"access_key_id\": \"{CANARY_KEY}\", \"secret\": {}}}", serde_json::json!(CANARY_SECRET));
    control(&addr, "credentials?vendor=aliyun", &keys);
    let vids = control(&addr, "seed?vendor=volcengine", "{}");
    let dir = std::env::temp_dir().join(format!("apiconform-cli-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // The real cases, plus one whose expectation is wrong on purpose: its
    // failure line quotes the server's V1 string to sign.
    let cases = dir.join("cases");
    copy_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), &cases);
    std::fs::write(
        cases.join("aliyun/ecs/ReplaceSystemDisk/canary-echo.yaml"),
        "name: canary-echo\ncondition: \"a failure that quotes the string to sign\"\nauth: bad_signature\nwire: { signature: rpc-v1, method: GET }\nrequest:\n  InstanceId: ${instance.id}\n  ImageId: ${other_image.id}\nexpect:\n  status: 400\n  code: SignatureDoesNotMatch\n  message_contains: \"not in any string to sign\"\n",
    )
    .unwrap();
    let mut inv = String::new();
    for (vendor, ids) in [("aliyun", &ids), ("volcengine", &vids)] {
        inv.push_str(&format!("{vendor}:\n  roles:\n"));
        for (role, id) in ids["fixtures"].as_object().unwrap() {
            inv.push_str(&format!("    {role}: \"{}\"\n", id.as_str().unwrap()));
        }
    }
    std::fs::write(dir.join("inventory.yaml"), inv).unwrap();
    // Nothing listens on the Volcengine endpoint: a transport error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut cmd = bin();
    cmd.args(["run", "--target", "live", "--record", "-v"])
        .arg("--cases")
        .arg(&cases)
        .arg("--recordings")
        .arg(dir.join("recordings"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--markdown")
        .arg(dir.join("summary.md"))
        .args([
            "ReplaceSystemDisk::success",
            "ReplaceSystemDisk::instance-not-stopped",
            "ReplaceSystemDisk::bad-signature-rpc-v1",
            "ReplaceSystemDisk::canary-echo",
            "ReplaceSystemVolume::instance-not-found",
        ])
        .env("APICONFORM_LIVE", "1")
        .env("APICONFORM_INVENTORY", dir.join("inventory.yaml"))
        .env("APICONFORM_LIVE_POLL_MS", "5")
        .env("APICONFORM_LIVE_BACKOFF_MS", "5")
        .env("APICONFORM_ALIYUN_ENDPOINT", format!("http://{addr}"))
        .env("APICONFORM_KSYUN_ENDPOINT", format!("http://{addr}"))
        .env("APICONFORM_VOLCENGINE_ENDPOINT", format!("http://{closed}"))
        .env("CI", "true");
    for var in [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIYUN_ACCESS_KEY_ID",
        "VOLCENGINE_ACCESS_KEY",
        "KSYUN_ACCESS_KEY",
        "KS_ACCESS_KEY_ID",
    ] {
        cmd.env(var, CANARY_KEY);
    }
    for var in apiconform::vendor::ALL.iter().flat_map(|v| v.live.credentials.iter().map(|c| c.secret)) {
        cmd.env(var, CANARY_SECRET);
    }
    for var in apiconform::vendor::ALL
        .iter()
        .flat_map(|v| v.live.credentials.iter().flat_map(|c| c.session_token.iter().copied()))
    {
        cmd.env(var, CANARY_TOKEN);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // The canary keys work: the passing cases pass and are recorded; the
    // wrong expectation and the closed port fail the run.
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("canary-echo"), "{stdout}");
    assert!(stdout.contains("server string to sign is:GET&%2F&"), "the failure quotes the string to sign: {stdout}");
    assert!(stdout.contains("request failed"), "the transport error is reported: {stdout}");
    let mut written = String::new();
    for f in ["junit.xml", "summary.md"] {
        written.push_str(&std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")));
    }
    let recs = dir.join("recordings/aliyun/ecs/ReplaceSystemDisk");
    for case in ["success", "instance-not-stopped", "bad-signature-rpc-v1", "canary-echo"] {
        let r = std::fs::read_to_string(recs.join(format!("{case}.json")))
            .unwrap_or_else(|e| panic!("{case}: {e}\n{stdout}"));
        written.push_str(&r);
    }
    assert!(written.contains("testcase"), "JUnit was written");
    assert!(written.contains("[security-token]"), "the token was sent, and redacted");
    for canary in [CANARY_KEY, CANARY_SECRET, CANARY_TOKEN] {
        for form in encodings(canary) {
            for (name, text) in [("files", &written), ("stdout", &stdout), ("stderr", &stderr)] {
                assert!(!text.contains(&form), "the canary leaked into {name} as {form:?}");
            }
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
