//! The HTML report in a real browser: headless Chromium loads the file
//! `run --html` wrote (one of whose cases fails on purpose, with a stored
//! snapshot to diff against), and the test reads the DOM after the page's
//! script ran: counts, the failing case's diff, the SDK section, and the
//! filters applied from the URL fragment. A screenshot must not be blank.
//!
//! Without Chromium the browser part skips with a note, unless `CI` or
//! `APICONFORM_REQUIRE_BROWSER` is set (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SDK_DIFF: &str = r#"[{"flavour":"py-tea-ecs","from":"7.11.8","to":"7.12.0","summary":{"breaking":1,"notable":2,"noise":5,"unchanged":230,"cases":240},"changes":[{"case":"aliyun::ecs::ReplaceSystemDisk::instance-not-stopped","step":0,"section":"wire","class":"breaking","what":"signature scheme","old":"acs3","new":"rpc-v1","accepted":null}]}]"#;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the report for a run where `aliyun::ecs::ResetDisk::success` is
/// replaced by a version that fails; returns (dir, results document).
fn make_report(tag: &str) -> (Dir, serde_json::Value) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Dir(std::env::temp_dir().join(format!("apiconform-html-{tag}-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let mine = dir.0.join("mine/aliyun/ecs/ResetDisk");
    std::fs::create_dir_all(&mine).unwrap();
    let case = std::fs::read_to_string(manifest.join("cases/aliyun/ecs/ResetDisk/success.yaml")).unwrap();
    std::fs::write(mine.join("success.yaml"), case.replace("DiskId: ${system_disk.id}", "DiskId: ${absent.disk}"))
        .unwrap();
    let snaps = dir.0.join("snapshots/emulator/aliyun/ecs/ResetDisk");
    std::fs::create_dir_all(&snaps).unwrap();
    std::fs::copy(manifest.join("snapshots/emulator/aliyun/ecs/ResetDisk/success.snap"), snaps.join("success.snap"))
        .unwrap();
    std::fs::write(dir.0.join("sdk.json"), SDK_DIFF).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_apiconform"))
        .current_dir(&dir.0)
        .env_remove("APICONFORM_CASES")
        .args(["--cases", "mine", "run", "--html", "report.html", "--results", "results.json"])
        .args(["--sdk-diff", "sdk.json"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "one case fails: {}", String::from_utf8_lossy(&run.stdout));
    let doc = serde_json::from_str(&std::fs::read_to_string(dir.0.join("results.json")).unwrap()).unwrap();
    (dir, doc)
}

#[test]
fn report_from_saved_results_is_the_same_self_contained_page() {
    let (dir, _) = make_report("saved");
    let out = Command::new(env!("CARGO_BIN_EXE_apiconform"))
        .current_dir(&dir.0)
        .args(["report", "--results", "results.json", "--html", "again.html", "--sdk-diff", "sdk.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the saved run has a failure");
    let first = std::fs::read_to_string(dir.0.join("report.html")).unwrap();
    assert_eq!(first, std::fs::read_to_string(dir.0.join("again.html")).unwrap());
    for external in ["<link", " src=", "href=\"http", "url(", "@import"] {
        assert!(!first.contains(external), "the page refers to something outside itself: {external}");
    }
    // A mock run joined to it: the matrix has both targets' verdicts.
    let mock = Command::new(env!("CARGO_BIN_EXE_apiconform"))
        .current_dir(&dir.0)
        .args(["--cases", "mine", "run", "--target", "mock", "--results", "mock.json", "ReplaceSystemDisk::"])
        .output()
        .unwrap();
    assert_eq!(mock.status.code(), Some(0), "{}", String::from_utf8_lossy(&mock.stdout));
    let joined = Command::new(env!("CARGO_BIN_EXE_apiconform"))
        .current_dir(&dir.0)
        .args(["report", "--results", "results.json", "--results", "mock.json", "--format", "json"])
        .output()
        .unwrap();
    let joined: serde_json::Value = serde_json::from_slice(&joined.stdout).unwrap();
    assert_eq!(joined["targets"], serde_json::json!(["emulator", "mock"]));
    let row = joined["coverage"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["api"] == "aliyun::ecs::ReplaceSystemDisk" && r["code"] == "IncorrectInstanceStatus")
        .unwrap()
        .clone();
    assert_eq!(row["verdicts"], serde_json::json!({"emulator": "pass", "mock": "pass"}));
    let bad = Command::new(env!("CARGO_BIN_EXE_apiconform"))
        .current_dir(&dir.0)
        .args(["report", "--results", "sdk.json", "--html", "x.html"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "not a results file");
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("APICONFORM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium with the brief's flags and a fresh profile.
fn browse(chrome: &Path, dir: &Path, args: &[String]) -> Vec<u8> {
    let profile = dir.join(format!("profile-{}", args.len()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    let mut child = Command::new(chrome)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(child.wait().unwrap().success(), "chromium failed");
    out
}

/// (trial id, hidden) for every trial in a dumped DOM.
fn trials(dom: &str) -> Vec<(String, bool)> {
    let re = regex::Regex::new(r#"<details id="([^"]+)" class="trial[^>]*>"#).unwrap();
    re.captures_iter(dom).map(|c| (c[1].to_string(), c[0].contains(" hidden"))).collect()
}

fn shown(dom: &str) -> usize {
    let re = regex::Regex::new(r#"id="shown">(\d+)<"#).unwrap();
    re.captures(dom).expect("the script wrote the count")[1].parse().unwrap()
}

#[test]
fn the_report_works_in_a_real_browser() {
    let Some(chrome) = chromium() else {
        let required = std::env::var_os("CI").is_some() || std::env::var_os("APICONFORM_REQUIRE_BROWSER").is_some();
        assert!(!required, "Chromium is required here (CI or APICONFORM_REQUIRE_BROWSER) but not installed");
        eprintln!("NOTE: no Chromium (apt-get install chromium, or APICONFORM_CHROMIUM=...): browser test skipped");
        return;
    };
    let (dir, doc) = make_report("browser");
    let url = format!("file://{}", dir.0.join("report.html").display());
    let all_trials = doc["trials"].as_array().unwrap().len();
    let rows = doc["coverage"]["rows"].as_array().unwrap().len();

    let dom = String::from_utf8(browse(&chrome, &dir.0, &["--dump-dom".into(), url.clone()])).unwrap();
    assert_eq!(shown(&dom), all_trials, "no filter: every trial shown");
    assert_eq!(trials(&dom).len(), all_trials);
    assert_eq!(dom.matches("<tr class=\"row\"").count(), rows, "one matrix row per documented error");
    let failing =
        dom.split("<details id=\"t-aliyun__ecs__ResetDisk__success__emulator\"").nth(1).expect("the failing case");
    let failing = &failing[..failing.find("</details>").unwrap()];
    assert!(
        failing.contains("class=\"diff\"") && failing.contains("class=\"del\"") && failing.contains("class=\"add\"")
    );
    assert!(
        failing.contains("${absent.disk}") || failing.contains("InvalidDiskId.NotFound"),
        "the diff shows the change"
    );
    assert!(dom.contains("1 breaking") && dom.contains("py-tea-ecs") && dom.contains("signature scheme"));

    // Filters from the fragment, applied by the page's script.
    let dom =
        String::from_utf8(browse(&chrome, &dir.0, &["--dump-dom".into(), format!("{url}#verdict=fail")])).unwrap();
    assert_eq!(shown(&dom), 1);
    let visible: Vec<String> = trials(&dom).into_iter().filter(|(_, h)| !h).map(|(id, _)| id).collect();
    assert_eq!(visible, ["t-aliyun__ecs__ResetDisk__success__emulator"]);
    let expected = doc["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["api"].as_str().unwrap().starts_with("ksyun::") && t["name"].as_str().unwrap().contains("not-found")
        })
        .count();
    assert!(expected > 0);
    let filtered = format!("{url}#vendor=ksyun&q=not-found");
    let dom = String::from_utf8(browse(&chrome, &dir.0, &["--dump-dom".into(), filtered])).unwrap();
    assert_eq!(shown(&dom), expected, "vendor and search box together");

    let shot = dir.0.join("shot.png");
    let args = ["--window-size=1280,900".to_string(), format!("--screenshot={}", shot.display()), url];
    browse(&chrome, &dir.0, &args);
    let (distinct, variance) = pixel_stats(&shot);
    assert!(distinct > 16 && variance > 100.0, "blank screenshot: {distinct} colours, variance {variance}");
}

/// Script that marks the page when it runs, as markup or as an attribute.
const PAYLOAD: &str = "\"'><script>document.body.setAttribute('data-pwned','script')</script>\
<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">";

/// A results file and SDK diff whose every field holds [`PAYLOAD`], numbers
/// included (the coverage row's `status` and the SDK summary counts were
/// once written as raw JSON text, and such a file ran its script).
fn crafted(dir: &Path) {
    let p = PAYLOAD;
    let trial = serde_json::json!({"name": p, "api": p, "case": p, "target": p, "verdict": "fail", "detail": [p],
        "transcript": p, "duration_ms": 1, "condition": p, "tags": [p], "file": p, "snapshot_diff": format!("+{p}\n-{p}"),
        "assumed": p});
    let row = serde_json::json!({"api": p, "status": p, "code": p, "cases": [p], "waiver": p,
        "verdicts": {p: p, "emulator": p}, "live": {"verdict": p, "recorded_at": p}});
    let results = serde_json::json!({"format": 1, "tool_version": p, "finished_at": p, "targets": [p],
        "trials": [trial], "coverage": {"rows": [row]},
        "parity": [{"case": p, "recorded_at": p, "differences": [{"step": p, "field": p, "emulator": p, "live": p, "accepted": p}]}]});
    let counts = serde_json::json!({"breaking": p, "notable": p, "noise": p, "unchanged": p, "cases": p});
    let sdk = serde_json::json!([{"flavour": p, "from": p, "to": p, "summary": counts, "changes": [
        {"case": p, "step": p, "section": p, "class": p, "what": p, "old": p, "new": p, "accepted": p}]}]);
    std::fs::write(dir.join("crafted.json"), results.to_string()).unwrap();
    std::fs::write(dir.join("crafted-sdk.json"), sdk.to_string()).unwrap();
}

#[test]
fn a_crafted_results_file_cannot_run_script() {
    let dir = Dir(std::env::temp_dir().join(format!("apiconform-html-crafted-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    crafted(&dir.0);
    let out = Command::new(env!("CARGO_BIN_EXE_apiconform"))
        .current_dir(&dir.0)
        .args(["report", "--results", "crafted.json", "--sdk-diff", "crafted-sdk.json", "--html", "x.html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the crafted run holds a failure: {}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(dir.0.join("x.html")).unwrap();
    assert_eq!(page.matches("<script").count(), 1, "only the page's own script");
    assert!(!page.contains("<img") && !page.contains("\"'>"), "markup or an attribute got through");
    let Some(chrome) = chromium() else { return };
    let url = format!("file://{}", dir.0.join("x.html").display());
    let dom = String::from_utf8(browse(&chrome, &dir.0, &["--dump-dom".into(), url])).unwrap();
    let body = regex::Regex::new(r"<body[^>]*>").unwrap().find(&dom).expect("a body").as_str().to_string();
    assert!(!body.contains("data-pwned"), "the crafted file ran its script: {body}");
    assert!(dom.contains("id=\"shown\">1<"), "the page's own script ran");
}

/// Distinct colours and the variance of luminance of a PNG.
fn pixel_stats(path: &Path) -> (usize, f64) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let distinct: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    let lum: Vec<f64> =
        pixels.iter().map(|p| p[..3.min(p.len())].iter().map(|&c| c as f64).sum::<f64>() / 3.0).collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let variance = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    (distinct.len(), variance)
}
