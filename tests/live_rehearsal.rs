//! Rehearsal of the live target: its real code path (credentials from the
//! vendors' variables, inventory binding, staging, rate limits, retries)
//! against the emulator serving as `apiconform serve` does, through endpoint
//! overrides and the emulator's test credentials. Faults are injected with
//! the emulator's control API.

use apiconform::live::LiveConfig;
use apiconform::runner::{Harness, Target, TrialOutcome};
use apiconform::suite::Suite;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

const CANARY: &str = "CANARY-SESSION-TOKEN-7f3a";

struct Rehearsal {
    suite: Suite,
    harness: Harness,
    addr: String,
    rt: tokio::runtime::Runtime,
}

fn suite() -> Suite {
    Suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).expect("cases load")
}

impl Rehearsal {
    /// `inventory` maps vendor → roles; `extra` adds or overrides variables.
    fn new(inventory: &str, extra: &[(&str, &str)]) -> Rehearsal {
        let suite = suite();
        let probe = Harness::start(&suite).unwrap();
        let addr = probe.emulator_addr().to_string();
        let dir = std::env::temp_dir().join(format!("apiconform-live-{}-{}", std::process::id(), rand()));
        std::fs::create_dir_all(&dir).unwrap();
        let inv_path = dir.join("live-inventory.yaml");
        std::fs::write(&inv_path, inventory).unwrap();
        let endpoint = format!("http://{addr}");
        let mut env: HashMap<String, String> = [
            ("APICONFORM_LIVE", "1"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "testid"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testsecret"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", CANARY),
            ("VOLCENGINE_ACCESS_KEY", "AKLTtestak"),
            ("VOLCENGINE_SECRET_KEY", "testsk"),
            ("KSYUN_ACCESS_KEY", "AKLTtestak"),
            ("KSYUN_SECRET_KEY", "testsecretkey"),
            ("APICONFORM_LIVE_POLL_MS", "5"),
            ("APICONFORM_LIVE_BACKOFF_MS", "5"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for v in ["ALIYUN", "VOLCENGINE", "KSYUN"] {
            env.insert(format!("APICONFORM_{v}_ENDPOINT"), endpoint.clone());
        }
        env.insert("APICONFORM_INVENTORY".into(), inv_path.display().to_string());
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        let cfg = LiveConfig::from_env(&|k| env.get(k).cloned());
        let harness = probe.with_live(cfg);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Rehearsal { suite, harness, addr, rt }
    }

    fn control(&self, method: &str, path: &str, body: &str) -> Value {
        self.rt.block_on(async {
            let c = reqwest::Client::builder().no_proxy().build().unwrap();
            let url = format!("http://{}/_apiconform/{path}", self.addr);
            let r = if method == "GET" { c.get(url) } else { c.post(url).body(body.to_string()) };
            let bytes = r.send().await.unwrap().bytes().await.unwrap();
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        })
    }

    fn run(&self, api_path: &str, case: &str) -> TrialOutcome {
        let api = self.suite.apis.iter().find(|a| a.path() == api_path).unwrap();
        let case = api.cases.iter().find(|c| c.name == case).unwrap();
        self.harness.run(api, case, Target::Live)
    }
}

fn rand() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The default tenant's fixture IDs, as an inventory an operator would write.
fn inventory_from(r: &Rehearsal, vendor: &str, roles: &[&str]) -> String {
    let ids = r.control("POST", &format!("seed?vendor={vendor}"), "{}");
    let mut s = format!("{vendor}:\n  roles:\n");
    for role in roles {
        let key = if role.ends_with(".name") { role.to_string() } else { format!("{role}.id") };
        s.push_str(&format!("    {key}: \"{}\"\n", ids["fixtures"][&key].as_str().unwrap()));
    }
    s
}

/// A rehearsal whose inventory binds `roles` of the default Alibaba world.
fn aliyun(roles: &[&str], extra: &[(&str, &str)]) -> Rehearsal {
    let r = Rehearsal::new("{}", extra);
    let inv = inventory_from(&r, "aliyun", roles);
    // Same emulator, now with the real inventory.
    let path = std::env::temp_dir().join(format!("apiconform-inv-{}-{}.yaml", std::process::id(), rand()));
    std::fs::write(&path, inv).unwrap();
    let mut extra: Vec<(&str, &str)> = extra.to_vec();
    let p = path.display().to_string();
    extra.push(("APICONFORM_INVENTORY", &p));
    let env: HashMap<String, String> =
        base_env(&r.addr).into_iter().chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    let cfg = LiveConfig::from_env(&|k| env.get(k).cloned());
    let Rehearsal { suite, harness, addr, rt } = r;
    Rehearsal { suite, harness: harness.with_live(cfg), addr, rt }
}

fn base_env(addr: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("APICONFORM_LIVE", "1"),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "testid"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testsecret"),
        ("ALIBABA_CLOUD_SECURITY_TOKEN", CANARY),
        ("APICONFORM_LIVE_POLL_MS", "5"),
        ("APICONFORM_LIVE_BACKOFF_MS", "5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    v.push(("APICONFORM_ALIYUN_ENDPOINT".into(), format!("http://{addr}")));
    v
}

const ROLES: &[&str] = &["instance", "system_disk", "image", "other_image", "windows_image", "key_pair.name"];

#[test]
fn inventory_binding_runs_a_case_for_real() {
    let r = aliyun(ROLES, &[]);
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "success");
    assert_eq!(out.skipped, None);
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    // The replacement really happened on the served account: the instance's
    // system disk is the one the response named.
    let state = r.control("GET", "state?vendor=aliyun", "");
    let ids = r.control("POST", "seed?vendor=aliyun", "{}");
    let instance = ids["fixtures"]["instance.id"].as_str().unwrap();
    let old_disk = ids["fixtures"]["system_disk.id"].as_str().unwrap();
    let new_disk = state["instances"][instance]["system_disk_id"].as_str().unwrap();
    assert_ne!(new_disk, old_disk);
    assert!(state["disks"].get(old_disk).is_none(), "the old disk is released");
}

#[test]
fn a_resource_outside_the_inventory_is_refused_before_any_request() {
    let r = aliyun(&["instance", "system_disk"], &[]);
    let before = r.control("GET", "state?vendor=aliyun", "");
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "success");
    let reason = out.skipped.expect("refused");
    assert!(reason.starts_with("refused: `other_image` is not in the live inventory"), "{reason}");
    assert!(out.transcript.is_empty(), "no request may be sent: {}", out.transcript);
    assert_eq!(r.control("GET", "state?vendor=aliyun", ""), before);
}

#[test]
fn a_state_is_staged_with_set_up_calls_and_waited_for() {
    let r = aliyun(ROLES, &[]);
    // Stopping and starting take time on the served account too.
    r.control("POST", "time?vendor=aliyun&mode=manual", "");
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "instance-not-stopped");
    // Manual time never advances here: the staging times out after its polls.
    assert!(out.failures.iter().any(|f| f.contains("still not Running")), "{:?}", out.failures);
    // The instance is left Starting; a reset brings back the default world
    // (same IDs, so the inventory still holds), where work is immediate.
    r.control("POST", "reset?vendor=aliyun", "");
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "instance-not-stopped");
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert!(out.transcript.contains("StartInstance"), "{}", out.transcript);
    assert!(out.transcript.contains("DescribeInstances"), "{}", out.transcript);
}

#[test]
fn throttling_and_server_errors_are_retried_with_the_same_client_token() {
    let r = aliyun(ROLES, &[]);
    r.control("POST", "faults?vendor=aliyun&action=ReplaceSystemDisk&code=Throttling.User&count=2", "");
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "success");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(out.retries.len(), 2, "{:?}", out.retries);
    assert!(out.retries[0].contains("Throttling.User"));
    // Every attempt carried the ClientToken of the request that finally went through.
    let sent = out.transcript.lines().find_map(|l| l.trim().strip_prefix("query ClientToken: ")).expect("a token");
    for r in &out.retries {
        assert!(r.ends_with(&format!("with the same ClientToken {sent}")), "{r} / {sent}");
    }
    r.control("POST", "faults?vendor=aliyun&action=ReplaceSystemDisk&code=ServiceUnavailable&count=1", "");
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "client-token-replay");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(out.retries.len(), 1);
    assert!(out.retries[0].contains("HTTP 503"), "{:?}", out.retries);
}

#[test]
fn other_errors_are_never_retried() {
    let r = aliyun(ROLES, &[]);
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "image-not-found");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert!(out.retries.is_empty());
}

#[test]
fn without_opt_in_or_credentials_trials_are_skipped_with_the_reason() {
    let r = aliyun(ROLES, &[("APICONFORM_LIVE", "0")]);
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "success");
    assert_eq!(out.skipped.as_deref(), Some("live trials need APICONFORM_LIVE=1"));
    let r = aliyun(ROLES, &[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")]);
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "success");
    assert!(out.skipped.unwrap().contains("no aliyun credentials"));
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "unpaid-order");
    assert!(out.skipped.is_some());
}

#[test]
fn unstageable_states_are_skipped_not_passed() {
    let r = aliyun(ROLES, &[]);
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "size-below-image");
    assert!(out.skipped.unwrap().contains("cannot be staged"));
}

#[test]
fn no_credential_or_token_reaches_the_transcript() {
    let r = aliyun(ROLES, &[]);
    let mut all = String::new();
    for case in ["success", "bad-signature", "client-token-replay", "success-rpc-v1-form"] {
        let out = r.run("aliyun::ecs::ReplaceSystemDisk", case);
        assert!(out.failures.is_empty(), "{case}: {:?}", out.failures);
        all.push_str(&out.transcript);
        all.push_str(&out.retries.join("\n"));
    }
    assert!(all.contains("[security-token]"), "the token was sent and redacted");
    for secret in [CANARY, "testsecret", "testid"] {
        assert!(!all.contains(secret), "`{secret}` leaked into a transcript");
    }
}

#[test]
fn a_live_recording_is_sanitized_and_replayed_by_the_mock() {
    let dir = std::env::temp_dir().join(format!("apiconform-rec-{}-{}", std::process::id(), rand()));
    let r = aliyun(ROLES, &[]);
    let Rehearsal { suite, harness, addr, rt } = r;
    let r = Rehearsal { suite, harness: harness.with_recordings(dir.clone()).recording(true), addr, rt };
    for case in ["instance-not-stopped", "success", "bad-signature"] {
        let out = r.run("aliyun::ecs::ReplaceSystemDisk", case);
        assert!(out.failures.is_empty(), "{case}: {:?}", out.failures);
    }
    // Every file the run wrote is free of credentials and tokens.
    let mut written = String::new();
    for case in ["instance-not-stopped", "success", "bad-signature"] {
        let path = dir.join(format!("aliyun/ecs/ReplaceSystemDisk/{case}.json"));
        written.push_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    }
    for secret in [CANARY, "testsecret", "testid"] {
        assert!(!written.contains(secret), "`{secret}` leaked into a recording");
    }
    assert!(written.contains("\"recorded_at\""));
    assert!(written.contains("${instance.id}"), "fixture IDs are named");
    // The mock replays the recording instead of the documented response.
    let replayer = Harness::start(&r.suite).unwrap().with_recordings(dir.clone());
    let api = r.suite.apis.iter().find(|a| a.path() == "aliyun::ecs::ReplaceSystemDisk").unwrap();
    for case in ["instance-not-stopped", "success"] {
        let c = api.cases.iter().find(|c| c.name == case).unwrap();
        let out = replayer.run(api, c, Target::Mock);
        assert!(out.failures.is_empty(), "{case}: {:?}\n{}", out.failures, out.transcript);
        assert!(out.transcript.contains("replaying: live recording of"), "{}", out.transcript);
    }
}

#[test]
fn recordings_are_never_written_by_offline_targets() {
    let dir = std::env::temp_dir().join(format!("apiconform-norec-{}-{}", std::process::id(), rand()));
    let suite = suite();
    let h = Harness::start(&suite).unwrap().with_recordings(dir.clone()).recording(true);
    let api = suite.apis.iter().find(|a| a.path() == "aliyun::ecs::ReplaceSystemDisk").unwrap();
    let case = api.cases.iter().find(|c| c.name == "success").unwrap();
    assert!(h.run(api, case, Target::Emulator).failures.is_empty());
    assert!(h.run(api, case, Target::Mock).failures.is_empty());
    assert!(!dir.exists());
}

/// Sends one signed Alibaba call with the served account's credentials.
fn aliyun_call(r: &Rehearsal, action: &str, params: &[(&str, &str)]) -> Value {
    use apiconform::case::Wire;
    use apiconform::protocol::{self, Call, Credentials, HttpResponse};
    let p = apiconform::vendor::protocol_of("aliyun").unwrap();
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let nonce = protocol::hex_id(rand() + 1_000_000);
    let call = Call {
        action,
        version: "2014-05-26",
        service: "",
        params: &params,
        wire: &Wire::default(),
        host: &r.addr,
        region: "cn-hangzhou",
        now: apiconform::clock::now_secs(),
        nonce: &nonce,
    };
    let creds = Credentials { access_key_id: "testid".into(), secret: "testsecret".into(), session_token: None };
    let req = p.encode(&call, &creds);
    r.rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut b = c.post(format!("http://{}/?{}", r.addr, req.query_string()));
        for (k, v) in &req.headers {
            if k != "host" {
                b = b.header(k.as_str(), v.as_str());
            }
        }
        let resp = b.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap().to_vec();
        p.decode(&HttpResponse { status, headers: vec![("content-type".into(), "application/json".into())], body }).body
    })
}

fn snapshot_names(r: &Rehearsal) -> Vec<String> {
    let state = r.control("GET", "state?vendor=aliyun", "");
    state["snapshots"].as_object().unwrap().values().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn what_a_failed_trial_created_is_deleted() {
    let r = aliyun(ROLES, &[]);
    // The rollback fails whatever the retries: the snapshot made for it must still go.
    r.control("POST", "faults?vendor=aliyun&action=ResetDisk&code=ServiceUnavailable&count=10", "");
    let out = r.run("aliyun::ecs::ResetDisk", "staged-with-setup-calls");
    assert!(!out.failures.is_empty(), "the trial must fail");
    assert_eq!(out.retries.len(), 3, "{:?}", out.retries);
    assert!(out.transcript.contains("DeleteSnapshot"), "{}", out.transcript);
    assert!(snapshot_names(&r).iter().all(|n| !n.starts_with("apiconform-")), "{:?}", snapshot_names(&r));
    assert!(r.harness.cleanup_all().is_empty(), "nothing is left to clean up");
}

#[test]
fn the_sweeper_finds_and_removes_leftovers_and_has_a_dry_run() {
    let r = aliyun(ROLES, &[]);
    let ids = r.control("POST", "seed?vendor=aliyun", "{}");
    let disk = ids["fixtures"]["system_disk.id"].as_str().unwrap().to_string();
    let left = aliyun_call(&r, "CreateSnapshot", &[("DiskId", &disk), ("SnapshotName", "apiconform-20260101-1-0-3")]);
    assert!(left["SnapshotId"].is_string(), "{left}");
    aliyun_call(&r, "CreateSnapshot", &[("DiskId", &disk), ("SnapshotName", "users-own-backup")]);
    let dry = r.harness.sweep(true);
    assert!(
        dry.iter().any(|l| l.starts_with("would delete aliyun snapshot") && l.contains("apiconform-20260101")),
        "{dry:?}"
    );
    assert!(!dry.iter().any(|l| l.contains("users-own-backup")));
    assert!(snapshot_names(&r).contains(&"apiconform-20260101-1-0-3".to_string()), "a dry run deletes nothing");
    let done = r.harness.sweep(false);
    assert!(done.iter().any(|l| l.starts_with("deleted aliyun snapshot")), "{done:?}");
    let names = snapshot_names(&r);
    assert!(!names.iter().any(|n| n.starts_with("apiconform-")), "{names:?}");
    assert!(names.contains(&"users-own-backup".to_string()), "only the harness's resources are swept");
}

#[test]
fn parity_compares_the_emulator_with_live_recordings() {
    let dir = std::env::temp_dir().join(format!("apiconform-parity-{}-{}", std::process::id(), rand()));
    let r = aliyun(ROLES, &[]);
    let Rehearsal { suite, harness, addr, rt } = r;
    let r = Rehearsal { suite, harness: harness.with_recordings(dir.clone()).recording(true), addr, rt };
    for case in ["success", "image-not-found", "instance-not-stopped"] {
        assert!(r.run("aliyun::ecs::ReplaceSystemDisk", case).failures.is_empty());
    }
    let sel = apiconform::report::Selection { filters: vec!["ReplaceSystemDisk::".into()], shard: None };
    let fresh = Harness::start(&r.suite).unwrap();
    let results = apiconform::parity::check(&r.suite, &fresh, &dir, &sel);
    assert_eq!(results.len(), 3, "one per recording");
    for p in &results {
        assert!(p.differences.is_empty(), "{}: {:?}", p.case, p.differences);
    }
    // The cloud says something else: parity shows it.
    let path = dir.join("aliyun/ecs/ReplaceSystemDisk/image-not-found.json");
    let text = std::fs::read_to_string(&path).unwrap().replace("does not exist", "was not found");
    std::fs::write(&path, text).unwrap();
    let results = apiconform::parity::check(&r.suite, &fresh, &dir, &sel);
    let p = results.iter().find(|p| p.case.ends_with("image-not-found")).unwrap();
    assert_eq!(p.unaccepted(), 1, "{:?}", p.differences);
    assert_eq!(p.differences[0].field, "message");
    assert!(apiconform::parity::render(&results).contains("1 DIFFERENCE(S)"));
}

#[test]
fn the_coverage_row_shows_the_last_live_verdict_and_its_date() {
    use apiconform::coverage::{Matrix, Results, Verdict};
    let dir = std::env::temp_dir().join(format!("apiconform-covlive-{}-{}", std::process::id(), rand()));
    let r = aliyun(ROLES, &[]);
    let Rehearsal { suite, harness, addr, rt } = r;
    let r = Rehearsal { suite, harness: harness.with_recordings(dir.clone()).recording(true), addr, rt };
    assert!(r.run("aliyun::ecs::ReplaceSystemDisk", "image-not-found").failures.is_empty());
    let m = Matrix::build(&r.suite, &Results::new(), &dir);
    let row = m.rows.iter().find(|x| x.error.code == "InvalidImageId.NotFound").unwrap();
    let live = row.live.as_ref().expect("a live verdict");
    assert_eq!(live.verdict, Verdict::Pass);
    assert_eq!(live.recorded_at.get(..4), Some(&apiconform::clock::iso8601(apiconform::clock::now_secs())[..4]));
    assert!(m.render().contains("pass 20"), "the table shows the verdict and the date");
    let other = m.rows.iter().find(|x| x.error.code == "IncorrectInstanceStatus").unwrap();
    assert_eq!(other.live, None, "no recording, no live verdict");
}

#[test]
fn a_case_that_allows_it_runs_with_dry_run_and_changes_nothing() {
    let r = Rehearsal::new("{}", &[]);
    let ids = r.control("POST", "seed?vendor=aliyun", "{}");
    let mut inv = String::from("aliyun:\n  roles:\n");
    for role in ["instance.id", "system_disk.id", "snapshot.id"] {
        inv.push_str(&format!("    {role}: \"{}\"\n", ids["fixtures"][role].as_str().unwrap()));
    }
    let path = std::env::temp_dir().join(format!("apiconform-dry-{}-{}.yaml", std::process::id(), rand()));
    std::fs::write(&path, inv).unwrap();
    let p = path.display().to_string();
    let env: HashMap<String, String> =
        base_env(&r.addr).into_iter().chain([("APICONFORM_INVENTORY".to_string(), p)]).collect();
    let Rehearsal { suite, harness, addr, rt } = r;
    let r = Rehearsal { suite, harness: harness.with_live(LiveConfig::from_env(&|k| env.get(k).cloned())), addr, rt };
    let before = r.control("GET", "state?vendor=aliyun", "");
    let out = r.run("aliyun::ecs::ResetDisk", "success");
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert!(out.transcript.contains("query DryRun: true"), "{}", out.transcript);
    assert!(out.transcript.contains("code: DryRunOperation"), "{}", out.transcript);
    assert_eq!(r.control("GET", "state?vendor=aliyun", "")["disks"], before["disks"], "nothing changed");
}

#[test]
fn the_live_scheduler_never_exceeds_the_documented_rate() {
    // A tight limit, enforced by the served emulator as the cloud would: had
    // the client sent faster, it would have been throttled (and retried).
    let mut suite = suite();
    for api in suite.apis.iter_mut().filter(|a| a.action == "ReplaceSystemDisk") {
        api.contract.rate_limit = Some(apiconform::contract::RateLimit { requests: 3, per_seconds: 1 });
    }
    let probe = Harness::start(&suite).unwrap();
    let addr = probe.emulator_addr().to_string();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let r = Rehearsal { suite, harness: probe, addr, rt };
    let inv = inventory_from(&r, "aliyun", ROLES);
    let path = std::env::temp_dir().join(format!("apiconform-rate-{}-{}.yaml", std::process::id(), rand()));
    std::fs::write(&path, inv).unwrap();
    let env: HashMap<String, String> = base_env(&r.addr)
        .into_iter()
        .chain([("APICONFORM_INVENTORY".to_string(), path.display().to_string())])
        .collect();
    let Rehearsal { suite, harness, addr, rt } = r;
    let r = Rehearsal { suite, harness: harness.with_live(LiveConfig::from_env(&|k| env.get(k).cloned())), addr, rt };
    for i in 0..7 {
        let out = r.run("aliyun::ecs::ReplaceSystemDisk", "image-not-found");
        assert!(out.failures.is_empty(), "run {i}: {:?}", out.failures);
        assert!(out.retries.is_empty(), "run {i} was throttled: {:?}", out.retries);
    }
}

/// A rehearsal for any vendor, its inventory taken from the served account.
fn vendor_rehearsal(vendor: &str, roles: &[&str]) -> Rehearsal {
    let r = Rehearsal::new("{}", &[]);
    let inv = inventory_from(&r, vendor, roles);
    let path = std::env::temp_dir().join(format!("apiconform-{vendor}-{}-{}.yaml", std::process::id(), rand()));
    std::fs::write(&path, inv).unwrap();
    let endpoint = format!("http://{}", r.addr);
    let env: HashMap<String, String> = [
        ("APICONFORM_LIVE", "1"),
        ("VOLCENGINE_ACCESS_KEY", "AKLTtestak"),
        ("VOLCENGINE_SECRET_KEY", "testsk"),
        ("VOLCENGINE_SESSION_TOKEN", CANARY),
        ("KSYUN_ACCESS_KEY", "AKLTtestak"),
        ("KSYUN_SECRET_KEY", "testsecretkey"),
        ("KS_SESSION_TOKEN", CANARY),
        ("APICONFORM_LIVE_POLL_MS", "5"),
        ("APICONFORM_LIVE_BACKOFF_MS", "5"),
        ("APICONFORM_VOLCENGINE_ENDPOINT", &endpoint),
        ("APICONFORM_KSYUN_ENDPOINT", &endpoint),
        ("APICONFORM_INVENTORY", &path.display().to_string()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let Rehearsal { suite, harness, addr, rt } = r;
    Rehearsal { suite, harness: harness.with_live(LiveConfig::from_env(&|k| env.get(k).cloned())), addr, rt }
}

#[test]
fn volcengine_live_path_binds_stages_retries_and_keeps_secrets() {
    let r = vendor_rehearsal("volcengine", &["instance", "system_disk", "image", "other_image", "key_pair.name"]);
    let api = "volcengine::ecs::ReplaceSystemVolume";
    let out = r.run(api, "instance-not-stopped");
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert!(out.transcript.contains("StartInstance"), "staged with StartInstance: {}", out.transcript);
    r.control("POST", "faults?vendor=volcengine&action=ReplaceSystemVolume&code=AccountFlowLimitExceeded&count=1", "");
    let out = r.run(api, "success");
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert!(out.transcript.contains("StopInstance"), "the previous case left it Running: {}", out.transcript);
    assert_eq!(out.retries.len(), 1, "{:?}", out.retries);
    assert!(out.retries[0].contains("HTTP 429"), "{:?}", out.retries);
    for s in [CANARY, "testsk", "AKLTtestak"] {
        assert!(!out.transcript.contains(s), "`{s}` leaked");
    }
}

#[test]
fn ksyun_live_path_binds_stages_retries_and_keeps_secrets() {
    let r = vendor_rehearsal("ksyun", &["instance", "system_disk", "image", "other_image", "key_pair"]);
    let api = "ksyun::kec::ModifyInstanceImage";
    let out = r.run(api, "instance-not-stopped");
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert!(out.transcript.contains("StartInstances"), "{}", out.transcript);
    r.control("POST", "faults?vendor=ksyun&action=ModifyInstanceImage&code=RequestLimitExceeded&count=2", "");
    let out = r.run(api, "success");
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert_eq!(out.retries.len(), 2, "{:?}", out.retries);
    assert!(out.retries[0].contains("HTTP 503 RequestLimitExceeded"), "{:?}", out.retries);
    let out = r.run(api, "sdk-form-aliases");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    for s in [CANARY, "testsecretkey", "AKLTtestak"] {
        assert!(!out.transcript.contains(s), "`{s}` leaked");
    }
}

#[test]
fn a_dry_run_recording_is_replayed_and_compared_as_it_was_made_and_a_failing_one_is_not_replayed() {
    let dir = std::env::temp_dir().join(format!("apiconform-dryrec-{}-{}", std::process::id(), rand()));
    let Rehearsal { suite, harness, addr, rt } = aliyun(&["instance", "system_disk", "snapshot"], &[]);
    let r = Rehearsal { suite, harness: harness.with_recordings(dir.clone()).recording(true), addr, rt };
    let out = r.run("aliyun::ecs::ResetDisk", "success");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    let api = r.suite.apis.iter().find(|a| a.path() == "aliyun::ecs::ResetDisk").unwrap();
    let rec = apiconform::recording::load(&dir, api, "success").expect("recorded");
    assert!(rec.dry_run && rec.passed, "{rec:?}");
    // The mock replays the DryRun answer for the DryRun request it was
    // recorded for, and passes; parity runs the emulator the same way.
    let replayer = Harness::start(&r.suite).unwrap().with_recordings(dir.clone());
    let case = api.cases.iter().find(|c| c.name == "success").unwrap();
    let out = replayer.run(api, case, Target::Mock);
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert!(out.transcript.contains("replaying: live recording of"), "{}", out.transcript);
    assert!(out.transcript.contains("query DryRun: true"), "{}", out.transcript);
    let sel = apiconform::report::Selection { filters: vec!["ResetDisk::success".into()], shard: None };
    let parity = apiconform::parity::check(&r.suite, &replayer, &dir, &sel);
    let one = parity.iter().find(|p| p.case == "aliyun::ecs::ResetDisk::success").expect("compared");
    assert_eq!(one.unaccepted(), 0, "{:?}", one.differences);
    // A recording whose live answers failed the case is kept (for parity
    // and the coverage matrix) but never replayed by the mock.
    let mut failed = rec.clone();
    failed.passed = false;
    failed.steps[0].code = Some("InvalidSnapshotId.NotFound".into());
    apiconform::recording::save(&dir, api, &failed).unwrap();
    let out = replayer.run(api, case, Target::Mock);
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert!(out.transcript.contains("not replaying: the live recording of"), "{}", out.transcript);
    let parity = apiconform::parity::check(&r.suite, &replayer, &dir, &sel);
    assert!(parity[0].unaccepted() > 0, "parity shows the failing recording's difference");
}

#[test]
fn the_system_disk_is_bound_by_asking_the_cloud_so_a_replacement_does_not_strand_later_cases() {
    // The inventory names the instance only; its system disk changes with
    // every replacement, so the harness asks for it (DescribeDisks).
    let r = aliyun(&["instance", "image", "other_image", "windows_image", "key_pair.name"], &[]);
    let before = r.control("GET", "state?vendor=aliyun", "")["instances"].clone();
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "success-verified-with-describe");
    assert_eq!(out.skipped, None);
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    let after = r.control("GET", "state?vendor=aliyun", "")["instances"].clone();
    assert_ne!(before, after, "the replacement really happened");
    // The next case snapshots and rolls back the *new* system disk.
    let out = r.run("aliyun::ecs::ResetDisk", "staged-with-setup-calls");
    assert_eq!(out.skipped, None);
    assert!(out.failures.is_empty(), "{:?}\n{}", out.failures, out.transcript);
    assert!(out.transcript.contains("DiskType: system"), "{}", out.transcript);
    assert!(
        out.transcript.contains("query RegionId: cn-hangzhou"),
        "live Alibaba calls name the region: {}",
        out.transcript
    );
}

#[test]
fn explore_on_live_runs_through_the_inventory_dry_run_and_rate_gates() {
    let mut roles = ROLES.to_vec();
    roles.push("snapshot");
    let r = aliyun(&roles, &[]);
    let filters = ["aliyun::".to_string()];
    let report = apiconform::explore::explore(&r.suite, &r.harness, Target::Live, &filters);
    let found: Vec<String> =
        report.findings.iter().map(|f| format!("{} {}: {}", f.probe.param, f.probe.what, f.why)).collect();
    assert!(found.is_empty(), "{found:#?}");
    // ReplaceSystemDisk has no DryRun: its valid probes are not sent; every
    // other probe ran (ResetDisk's with DryRun, as its success case runs live).
    assert!(!report.skipped.is_empty());
    assert!(report.skipped.iter().all(|(_, why)| why.starts_with("no DryRun")), "{:#?}", report.skipped);
    let sent = report.probes.len() - report.skipped.len();
    assert!(sent >= 20, "{sent} probes went through the live path");
}

/// An endpoint that accepts the connection and never answers (the kernel
/// completes the handshake; nothing reads or writes). The run must not
/// hang: each attempt times out, is retried like a 5xx, and the last
/// timeout is reported with its cause and without the URL.
#[test]
fn an_endpoint_that_never_answers_times_out_is_retried_then_reported() {
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_addr = hole.local_addr().unwrap().to_string();
    let endpoint = format!("http://{hole_addr}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = aliyun(
            ROLES,
            &[
                ("APICONFORM_ALIYUN_ENDPOINT", &endpoint),
                ("APICONFORM_LIVE_REQUEST_TIMEOUT_MS", "200"),
                ("APICONFORM_LIVE_CONNECT_TIMEOUT_MS", "200"),
            ],
        );
        let _ = tx.send(r.run("aliyun::ecs::ReplaceSystemDisk", "image-not-found"));
    });
    // A generous bound on a run that, fixed, takes under a second.
    let out = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the live run hung on a silent endpoint");
    drop(hole);
    let failures = out.failures.join("\n");
    assert!(failures.contains("timed out after 200 ms"), "{failures}");
    assert!(failures.contains("attempt 4 of 4"), "{failures}");
    assert_eq!(out.retries.len(), 3, "{:?}", out.retries);
    assert!(out.retries.iter().all(|r| r.contains("timed out after 200 ms")), "{:?}", out.retries);
    let everything = format!("{failures}\n{}\n{}", out.retries.join("\n"), out.transcript);
    assert!(!everything.contains(&hole_addr) && !everything.contains("http://"), "{everything}");
}

/// A refused connection keeps its cause.
#[test]
fn a_refused_connection_is_reported_with_its_cause() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let endpoint = format!("http://{closed}");
    let r = aliyun(ROLES, &[("APICONFORM_ALIYUN_ENDPOINT", &endpoint)]);
    let out = r.run("aliyun::ecs::ReplaceSystemDisk", "image-not-found");
    let failures = out.failures.join("\n");
    assert!(failures.to_ascii_lowercase().contains("connection refused"), "{failures}");
    assert!(!failures.contains(&closed), "{failures}");
    assert_eq!(out.retries.len(), 3, "a refused connection was never sent: safe to retry: {:?}", out.retries);
}
