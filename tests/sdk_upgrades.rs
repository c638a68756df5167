//! `apiconform sdk diff`, the command a team gates an SDK upgrade on,
//! driven as a user runs it (the built binary, in an empty directory): its
//! exit code and its text, Markdown and JSON reports, on real upgrades with
//! the real old and new versions installed:
//!
//! - the five of `sdk/upgrades/` (tea-ecs 2.1.0 → 2.1.1, volcengine
//!   1.0.130 → 4.0.45 → 5.0.54, tea-openapi 0.3.16 → 0.4.6, aliyun core
//!   2.13.36 → 2.16.1, pop-core 1.7.10 → 1.8.0, with and without a list
//!   inside a repeated item);
//! - aliyun core 2.12.0 → 2.13.36, which adds the Action and Version
//!   headers beside the query (notable) and rewrites a wrong secret's code
//!   (breaking);
//! - ksc-sdk-python 1.3.57, which cannot be imported on Python 3 ≥ 3.10
//!   (exit 2, the ImportError first);
//! - aliyun core moved to 2.3.5 under aliyun-python-sdk-ecs 4.24.83, a
//!   dependency conflict (exit 2, pip check's line first);
//! - packages the SDK does not load: `@alicloud/openapi-client` (the Node
//!   SDK sends through `@alicloud/openapi-core`), `alibabacloud-openapi-util`
//!   (tea-openapi 0.4 no longer uses it), and `axios` 1.x (the Volcengine
//!   SDK keeps its own nested 0.21 copy); exit 2, said at the top.
//!
//! Environments take minutes to build the first time (CI keeps the cache),
//! so this runs only with `APICONFORM_SDK_UPGRADES=1` (`.ci/run` sets it).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn enabled() -> bool {
    if std::env::var_os("APICONFORM_SDK_UPGRADES").is_some() {
        return true;
    }
    eprintln!("note: SDK upgrade diffs skipped (set APICONFORM_SDK_UPGRADES=1)");
    false
}

/// A fresh empty directory: the command runs there, as a user's would.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apiconform-upgrade-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `apiconform sdk diff ARGS` in an empty directory.
fn sdk_diff(name: &str, args: &[&str]) -> Run {
    let dir = scratch(name);
    let out = Command::new(env!("CARGO_BIN_EXE_apiconform"))
        .arg("sdk")
        .arg("diff")
        .args(args)
        .current_dir(&dir)
        .env_remove("APICONFORM_CASES")
        .output()
        .expect("the binary runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("sdk diff {}: exit {}\n{}\n{}", args.join(" "), run.code, run.stdout, run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// The JSON report (one flavour) and the exit code.
fn json(name: &str, args: &[&str]) -> (i32, Value) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--format", "json"]);
    let r = sdk_diff(name, &all);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout));
    (r.code, v[0].clone())
}

/// The one row whose `what` is `what`, with its class.
fn row<'a>(d: &'a Value, what: &str) -> &'a Value {
    let rows = d["changes"].as_array().expect("changes");
    let found: Vec<&Value> = rows.iter().filter(|r| r["what"] == what).collect();
    assert_eq!(found.len(), 1, "one row for {what:?} in {rows:#?}");
    found[0]
}

fn class_count(d: &Value, class: &str) -> u64 {
    d["changes"].as_array().unwrap().iter().filter(|r| r["class"] == class).count() as u64
}

/// Counts in the summary are distinct changes: one per row.
fn summary_counts_rows(d: &Value) {
    for class in ["breaking", "notable", "noise"] {
        assert_eq!(d["summary"][class], class_count(d, class), "{class} in {:#}", d["summary"]);
    }
}

#[test]
fn tea_ecs_2_1_0_to_2_1_1_moves_from_rpc_v1_form_to_acs3_query_one_row_per_change() {
    if !enabled() {
        return;
    }
    let r = sdk_diff("tea-2.1.1", &["--flavour", "py-tea-ecs", "--from", "2.1.0", "--to", "2.1.1"]);
    assert_eq!(r.code, 1, "an unaccepted breaking change fails the gate");
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(first.starts_with("flavour") && first.contains("breaking"), "the summary comes first: {first}");
    let summary = r.stdout.lines().nth(1).unwrap_or("");
    assert!(summary.starts_with("py-tea-ecs") && summary.contains("breaking"), "{summary}");
    for line in [
        "wire: signature scheme: rpc-v1 -> acs3",
        "wire: parameter location: form -> query",
        "wire: Action no longer sent where it was: query+header -> header",
    ] {
        // Once, whatever the number of cases it touches.
        assert_eq!(r.stdout.matches(line).count(), 1, "{line} once in\n{}", r.stdout);
    }
    let scheme = r.stdout.lines().skip_while(|l| !l.contains("signature scheme")).nth(1).unwrap_or("");
    assert!(scheme.contains("requests,") && scheme.contains("cases:") && scheme.contains("more"), "{scheme}");
}

#[test]
fn volcengine_1_0_130_to_4_0_45_sends_lowercase_booleans() {
    if !enabled() {
        return;
    }
    let (code, d) = json("volc-4", &["--flavour", "py-volcengine", "--from", "1.0.130", "--to", "4.0.45"]);
    assert_eq!(code, 1);
    let r = row(&d, "encoded value of KeepImageCredential");
    assert_eq!(
        (r["class"].as_str(), r["old"].as_str(), r["new"].as_str()),
        (Some("breaking"), Some("True"), Some("true"))
    );
    assert!(r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "volcengine::ecs::ReplaceSystemVolume::keep-credential-success"));
    assert!(r["requests"].as_u64() >= Some(r["cases"].as_array().unwrap().len() as u64));
    // 1.0.130 never sent the session token: the trial ran only on the new side.
    let token = row(&d, "the case now passes");
    assert_eq!(token["class"], "notable");
    summary_counts_rows(&d);
    assert_eq!((d["from"]["version"].as_str(), d["to"]["version"].as_str()), (Some("1.0.130"), Some("4.0.45")));
}

/// Only additions: two new headers, signed, and a new User-Agent.
#[test]
fn volcengine_4_0_45_to_5_0_54_only_adds_headers_notable_exit_0() {
    if !enabled() {
        return;
    }
    let r = sdk_diff(
        "volc-5",
        &["--flavour", "py-volcengine", "--from", "4.0.45", "--to", "5.0.54", "--format", "markdown"],
    );
    assert_eq!(r.code, 0, "additions never fail the gate");
    assert!(r.stdout.starts_with("# SDK upgrade diff\n"), "{}", r.stdout);
    let table = r.stdout.lines().find(|l| l.starts_with("| `py-volcengine`")).expect("the summary row");
    assert!(table.contains("| notable | 0 |"), "{table}");
    for what in ["header newly signed: x-sdk-invocation-id", "new header: x-sdk-request", "User-Agent"] {
        let line = r.stdout.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("{what}"));
        assert!(line.starts_with("| notable |") && line.contains("<details><summary>"), "{line}");
    }
    assert!(!r.stdout.lines().any(|l| l.starts_with("| breaking |")), "{}", r.stdout);
}

#[test]
fn tea_openapi_0_3_16_to_0_4_6_raises_throttling_exception_with_retry_after() {
    if !enabled() {
        return;
    }
    let (code, d) = json(
        "tea-openapi",
        &[
            "--flavour",
            "py-tea-ecs",
            "--from",
            "7.3.0+tea-openapi-0.3.16",
            "--to",
            "7.3.0+tea-openapi-0.4.6",
            "flow-control",
        ],
    );
    let sub = row(&d, "new exception subclass");
    assert_eq!(sub["class"], "notable", "{sub:#}");
    assert!(
        sub["old"].as_str().unwrap().ends_with("TeaException")
            && sub["new"].as_str().unwrap().ends_with("ThrottlingException")
    );
    assert_eq!(row(&d, "new exception attribute: retry_after")["class"], "notable");
    let hint = row(&d, "retry hint (retry_after)");
    assert_eq!((hint["class"].as_str(), hint["old"].as_str()), (Some("notable"), Some("-")));
    summary_counts_rows(&d);
    assert_eq!(code, if d["summary"]["breaking"] == d["summary"]["accepted"] { 0 } else { 1 });
}

#[test]
fn aliyun_core_2_13_36_to_2_16_1_changes_nonce_format_and_accept_encoding() {
    if !enabled() {
        return;
    }
    let (code, d) = json("core-2.16", &["--flavour", "py-aliyun-core", "--from", "2.13.36", "--to", "2.16.1"]);
    let nonce = row(&d, "format of SignatureNonce");
    assert_eq!(
        (nonce["class"].as_str(), nonce["old"].as_str(), nonce["new"].as_str()),
        (Some("notable"), Some("[nonce:uuid]"), Some("[nonce:hex32]"))
    );
    assert_eq!(row(&d, "header value: accept-encoding")["class"], "notable");
    assert_eq!(d["summary"]["breaking"], 0);
    assert_eq!(code, 0);
}

/// "Action/Version moved" was wrong: the SDK starts sending them as
/// headers too, alongside the query, which every server accepts (notable).
/// The same upgrade does break something real: on a wrong secret 2.13
/// raises InvalidAccessKeySecret with its own message, where 2.12 passed
/// the server's SignatureDoesNotMatch through; that, and only that, fails
/// the gate.
#[test]
fn aliyun_core_2_12_0_to_2_13_36_adds_action_and_version_headers_as_notable() {
    if !enabled() {
        return;
    }
    let (code, d) = json(
        "core-headers",
        &["--flavour", "py-aliyun-core", "--from", "2.12.0", "--to", "2.13.36", "ReplaceSystemDisk"],
    );
    for what in [
        "Action also sent in header",
        "Version also sent in header",
        "new header: x-acs-action",
        "new header: x-acs-version",
    ] {
        assert_eq!(row(&d, what)["class"], "notable", "{what}");
    }
    let code_row = row(&d, "code");
    assert_eq!(
        (code_row["old"].as_str(), code_row["new"].as_str()),
        (Some("SignatureDoesNotMatch"), Some("InvalidAccessKeySecret"))
    );
    for r in d["changes"].as_array().unwrap().iter().filter(|r| r["class"] == "breaking") {
        let cases = r["cases"].as_array().unwrap();
        assert!(
            cases.iter().all(|c| c.as_str().unwrap().contains("signature")),
            "only the wrong-secret cases break: {r:#}"
        );
    }
    assert_eq!(code, 1);
}

#[test]
fn pop_core_1_7_10_to_1_8_0_changes_only_its_client_header_on_these_apis() {
    if !enabled() {
        return;
    }
    let (code, d) = json("pop-core", &["--flavour", "node-pop-core", "--from", "1.7.10", "--to", "1.8.0"]);
    let client = row(&d, "header value: x-sdk-client");
    assert!(client["old"].as_str().unwrap().contains("1.7.10") && client["new"].as_str().unwrap().contains("1.8.0"));
    assert_eq!(client["class"], "notable");
    assert_eq!(row(&d, "User-Agent")["class"], "notable");
    assert_eq!((d["summary"]["breaking"].as_u64(), code), (Some(0), 0));
}

/// The same upgrade with a list inside the repeated `Arn` item, a shape
/// the ECS doc does not give `Arn`: added in a case directory of one's own
/// (`--cases`), with the parameter in its contract.
#[test]
fn pop_core_1_7_10_to_1_8_0_flattens_a_list_inside_a_repeated_item_differently() {
    if !enabled() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let own = scratch("arn-cases");
    let api_dir = own.join("aliyun/ecs/ReplaceSystemDisk");
    std::fs::create_dir_all(&api_dir).unwrap();
    let api = std::fs::read_to_string(root.join("cases/aliyun/ecs/ReplaceSystemDisk/api.yaml")).unwrap();
    let api = api.replacen(
        "  Arn.N.AssumeRoleFor: { type: integer, not_open: true }\n",
        "  Arn.N.AssumeRoleFor: { type: integer, not_open: true }\n  Arn.N.Tag.N: { type: string, not_open: true }\n",
        1,
    );
    assert!(api.contains("Arn.N.Tag.N"), "the contract gains the parameter");
    std::fs::write(api_dir.join("api.yaml"), api).unwrap();
    let case = std::fs::read_to_string(root.join("cases/aliyun/ecs/ReplaceSystemDisk/arn-not-open.yaml")).unwrap();
    let case = case
        .replace("name: arn-not-open", "name: arn-with-a-nested-list")
        .replace("  Arn.1.AssumeRoleFor: 1\n", "  Arn.1.AssumeRoleFor: 1\n  Arn.1.Tag.1: x\n  Arn.1.Tag.2: y\n");
    std::fs::write(api_dir.join("arn-with-a-nested-list.yaml"), case).unwrap();
    let cases = own.to_string_lossy().into_owned();
    let (_, d) = json(
        "arn",
        &[
            "--cases",
            &cases,
            "--flavour",
            "node-pop-core",
            "--from",
            "1.7.10",
            "--to",
            "1.8.0",
            "arn-with-a-nested-list",
        ],
    );
    let _ = std::fs::remove_dir_all(&own);
    // 1.7.10 joins the inner list (`Arn.1.Tag=x,y`): the case's parameters
    // never went out, so the case could not run there; 1.8.0 numbers it.
    let now = row(&d, "the case now passes");
    assert_eq!(now["class"], "notable");
    assert!(now["details"]["aliyun::ecs::ReplaceSystemDisk::arn-with-a-nested-list"]
        .as_str()
        .unwrap()
        .contains("Arn.1.Tag"));
    let gone = row(&d, "parameter no longer sent: Arn.1.Tag");
    assert_eq!((gone["class"].as_str(), gone["old"].as_str()), (Some("breaking"), Some("x%2Cy")));
    assert_eq!(row(&d, "new parameter: Arn.1.Tag.1")["class"], "notable");
}

#[test]
fn a_driver_that_cannot_import_its_sdk_is_an_environment_error_exit_2_with_the_cause() {
    if !enabled() {
        return;
    }
    let r = sdk_diff("kscore-import", &["--flavour", "py-kscore", "--from", "1.3.57", "--to", "1.3.65"]);
    assert_eq!(r.code, 2, "never \"unchanged\"");
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(first.starts_with("NO RESULT for py-kscore"), "the cause comes first: {first}");
    assert!(r.stdout.contains("the py-kscore driver did not start"), "{}", r.stdout);
    assert!(r.stdout.contains("ImportError: cannot import name 'Mapping' from 'collections'"), "{}", r.stdout);
    assert!(r.stdout.contains("no result"), "{}", r.stdout);
}

#[test]
fn a_dependency_conflict_is_an_environment_error_exit_2_with_the_conflict() {
    if !enabled() {
        return;
    }
    let (code, d) =
        json("conflict", &["--flavour", "py-aliyun-core", "--package", "aliyun-python-sdk-core", "--to", "2.3.5"]);
    assert_eq!(code, 2);
    let problem = d["problems"][0].as_str().unwrap_or_default();
    assert!(problem.contains("dependency conflict"), "{problem}");
    assert!(
        problem.contains("aliyun-python-sdk-ecs 4.24.83 has requirement aliyun-python-sdk-core>=2.11.5, but you have aliyun-python-sdk-core 2.3.5"),
        "{problem}"
    );
    assert_eq!(d["changes"].as_array().map(Vec::len), Some(0), "no result is claimed");
}

#[test]
fn a_package_the_sdk_does_not_load_is_said_first_and_claims_nothing() {
    if !enabled() {
        return;
    }
    // The Node SDK sends through @alicloud/openapi-core.
    let r = sdk_diff(
        "openapi-client",
        &[
            "--flavour",
            "node-tea-ecs",
            "--package",
            "@alicloud/openapi-client",
            "--to",
            "0.4.14",
            "--format",
            "markdown",
        ],
    );
    assert_eq!(r.code, 2);
    let top: Vec<&str> = r.stdout.lines().take(6).collect();
    assert!(top.join("\n").contains("No result for `node-tea-ecs`"), "{top:#?}");
    assert!(r.stdout.contains("the SDK does not load @alicloud/openapi-client"), "{}", r.stdout);
    // tea-openapi 0.4 dropped alibabacloud-openapi-util.
    let (code, d) = json(
        "openapi-util",
        &["--flavour", "py-tea-ecs", "--package", "alibabacloud-openapi-util", "--to", "0.2.4", "instance-not-stopped"],
    );
    assert_eq!(code, 2);
    assert!(d["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().contains("does not load alibabacloud-openapi-util")));
    // @volcengine/openapi keeps its own nested axios 0.21.
    let (code, d) = json(
        "axios",
        &["--flavour", "node-volcengine", "--package", "axios", "--to", "1.7.9", "ReplaceSystemVolume::success"],
    );
    assert_eq!(code, 2);
    let problem = d["problems"][0].as_str().unwrap_or_default();
    assert!(
        problem.contains("loads another copy of axios (0.21.4")
            && problem.contains("@volcengine/openapi/node_modules/axios"),
        "{problem}"
    );
}

/// `--to latest` is looked up at each run (npm's own answer, asked here
/// too) and the environment is keyed by what it resolved to: the newest
/// release being the locked one, both sides are one environment.
#[test]
fn latest_is_the_newest_published_version_now_and_keys_by_content() {
    if !enabled() {
        return;
    }
    let npm = Command::new("npm").args(["view", "--silent", "--", "@alicloud/pop-core", "version"]).output().unwrap();
    let newest = String::from_utf8_lossy(&npm.stdout).trim().to_string();
    let (_, d) = json("latest", &["--flavour", "node-pop-core", "--to", "latest", "instance-not-stopped"]);
    assert_eq!((d["to"]["label"].as_str(), d["to"]["version"].as_str()), (Some("latest"), Some(newest.as_str())));
    let same = d["from"]["version"] == d["to"]["version"];
    assert_eq!(d["from"]["env"] == d["to"]["env"], same, "identical sets share one environment: {d:#}");
}
