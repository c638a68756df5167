//! The binary as people install and script it: a copy of the built binary,
//! run from an empty temporary directory (so nothing of the source tree is
//! in reach), must find its shipped cases; exit codes, `--format json`,
//! colour, completions, `init` and `new` behave as the README says.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh directory with a copy of the binary in `bin/` and an empty `work/`.
struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    fn new(tag: &str) -> Sandbox {
        let root = std::env::temp_dir().join(format!("apiconform-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("work")).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_apiconform"), root.join("bin/apiconform")).unwrap();
        Sandbox { root }
    }
    fn work(&self) -> PathBuf {
        self.root.join("work")
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(self.root.join("bin/apiconform"));
        c.current_dir(self.work()).env_remove("APICONFORM_CASES").env_remove("NO_COLOR").env_remove("CI");
        c.stdin(Stdio::null());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        output(self.cmd().args(args))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs `cmd`, retrying while the copied binary is busy: another test's
/// fork may briefly hold the copy's write descriptor (ETXTBSY).
fn output(cmd: &mut Command) -> Output {
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(std::time::Duration::from_millis(20)),
            r => return r.unwrap(),
        }
    }
    panic!("the binary stayed busy")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn shipped_case_count() -> usize {
    fn walk(dir: &Path, n: &mut usize) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                walk(&p, n);
            } else if name.ends_with(".yaml") && !["api.yaml", "world.yaml", "common-errors.yaml"].contains(&&*name) {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), &mut n);
    n
}

#[test]
fn the_installed_binary_lints_runs_and_reports_from_an_empty_directory() {
    let sb = Sandbox::new("anywhere");
    let lint = sb.run(&["lint", "--format", "json"]);
    assert_eq!(code(&lint), 0, "{}", text(&lint));
    let doc: serde_json::Value = serde_json::from_slice(&lint.stdout).unwrap();
    assert_eq!(doc["cases"].as_u64(), Some(shipped_case_count() as u64), "every shipped case is embedded");
    let run = sb.run(&["run", "aliyun::ecs::ReplaceSystemDisk::instance-not-found"]);
    assert_eq!(code(&run), 0, "{}", text(&run));
    assert!(text(&run).contains("1 passed, 0 failed"), "{}", text(&run));
    let cov = sb.run(&["coverage", "--format", "json"]);
    assert_eq!(code(&cov), 0, "{}", text(&cov));
    let cov: serde_json::Value = serde_json::from_slice(&cov.stdout).unwrap();
    assert!(!cov["rows"].as_array().unwrap().is_empty());
    // Nothing was written into the working directory.
    assert_eq!(std::fs::read_dir(sb.work()).unwrap().count(), 0);
}

#[test]
fn the_installed_binary_serves_from_an_empty_directory() {
    let sb = Sandbox::new("serve");
    let mut cmd = sb.cmd();
    cmd.args(["serve", "--addr", "127.0.0.1:0"]).stdout(Stdio::piped());
    let mut child = (0..100)
        .find_map(|_| match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                None
            }
            r => Some(r.unwrap()),
        })
        .expect("the binary stayed busy");
    let mut first = String::new();
    let out = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut first).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("listening on http://127.0.0.1:"), "{first}");
}

#[test]
fn init_and_new_write_cases_that_lint_and_run_over_the_shipped_ones() {
    let sb = Sandbox::new("init");
    let init = sb.run(&["init", "mine"]);
    assert_eq!(code(&init), 0, "{}", text(&init));
    let example = sb.work().join("mine/aliyun/ecs/ReplaceSystemDisk/my-instance-not-found.yaml");
    let first = std::fs::read_to_string(&example).unwrap();
    assert!(first.starts_with("# yaml-language-server: $schema=../../../.schema/case.schema.json"), "{first}");
    assert!(sb.work().join("mine/.schema/case.schema.json").exists());
    // Refuses to overwrite.
    assert_eq!(code(&sb.run(&["init", "mine"])), 2);

    let new = sb.run(&["--cases", "mine", "new", "aliyun::ecs::ResetDisk::my-rollback"]);
    assert_eq!(code(&new), 0, "{}", text(&new));
    let written = std::fs::read_to_string(sb.work().join("mine/aliyun/ecs/ResetDisk/my-rollback.yaml")).unwrap();
    assert!(written.contains("DiskId: ${") && written.contains("SnapshotId: ${"), "{written}");
    assert_eq!(code(&sb.run(&["--cases", "mine", "new", "aliyun::ecs::NoSuchAction::x"])), 2);

    // Added to the shipped cases, not instead of them.
    let lint = sb.run(&["--cases", "mine", "lint", "--format", "json"]);
    assert_eq!(code(&lint), 0, "{}", text(&lint));
    let doc: serde_json::Value = serde_json::from_slice(&lint.stdout).unwrap();
    assert_eq!(doc["cases"].as_u64(), Some(shipped_case_count() as u64 + 2));
    let run = sb.run(&["--cases", "mine", "run", "-v", "::my-"]);
    assert!(code(&run) == 0 || code(&run) == 1, "the cases run: {}", text(&run));
    assert!(text(&run).contains("my-instance-not-found"), "{}", text(&run));
    let run = sb.run(&["--cases", "mine", "run", "::my-instance-not-found"]);
    assert_eq!(code(&run), 0, "{}", text(&run));

    // `new` starts from the API's own success, so its case passes as written.
    for api in
        ["aliyun::ecs::ReplaceSystemDisk", "volcengine::ecs::ReplaceSystemVolume", "ksyun::kec::ModifyInstanceImage"]
    {
        let new = sb.run(&["--cases", "mine", "new", &format!("{api}::my-success")]);
        assert_eq!(code(&new), 0, "{}", text(&new));
    }
    let run = sb.run(&["--cases", "mine", "run", "::my-success"]);
    assert_eq!(code(&run), 0, "{}", text(&run));
    assert!(text(&run).contains("3 passed"), "{}", text(&run));
    // A failing expectation of the user's names the user's file, not the
    // directory the layers were staged in.
    let wrong = sb.work().join("mine/volcengine/ecs/ReplaceSystemVolume/my-wrong.yaml");
    let text_of = std::fs::read_to_string(sb.work().join("mine/volcengine/ecs/ReplaceSystemVolume/my-success.yaml"))
        .unwrap()
        .replace("name: my-success", "name: my-wrong")
        .replace("status: 200", "status: 404\n  code: InvalidInstance.NotFound");
    std::fs::write(&wrong, text_of).unwrap();
    let run = sb.run(&["--cases", "mine", "run", "::my-wrong"]);
    assert_eq!(code(&run), 1, "{}", text(&run));
    assert!(text(&run).contains("mine/volcengine/ecs/ReplaceSystemVolume/my-wrong.yaml:"), "{}", text(&run));
    assert!(!text(&run).contains("apiconform-cases-"), "a staging path: {}", text(&run));
    std::fs::remove_file(&wrong).unwrap();

    // A file at a shipped path replaces the shipped one.
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/aliyun/ecs/ReplaceSystemDisk/instance-not-found.yaml");
    let replaced = std::fs::read_to_string(shipped).unwrap().replace("status: 404", "status: 400");
    std::fs::write(sb.work().join("mine/aliyun/ecs/ReplaceSystemDisk/instance-not-found.yaml"), replaced).unwrap();
    let lint = sb.run(&["--cases", "mine", "lint"]);
    assert_eq!(code(&lint), 2, "a documented code with the wrong status: {}", text(&lint));
    assert!(text(&lint).contains("mine/aliyun/ecs/ReplaceSystemDisk/instance-not-found.yaml"), "{}", text(&lint));
    // Alone, the user's directory lacks the contracts.
    assert_eq!(code(&sb.run(&["--cases", "mine", "--no-shipped", "lint"])), 2);
}

#[test]
fn exit_codes_are_0_passed_1_failed_2_usage_or_case_file_error() {
    let sb = Sandbox::new("exit");
    assert_eq!(code(&sb.run(&["run", "ResetDisk::success"])), 0);
    let mine = sb.work().join("mine/aliyun/ecs/ReplaceSystemDisk");
    std::fs::create_dir_all(&mine).unwrap();
    // A case that loads but whose expectation the emulator does not meet.
    std::fs::write(
        mine.join("wrong-expectation.yaml"),
        "name: wrong-expectation\ncondition: \"x\"\nrequest:\n  InstanceId: ${instance.id}\n  ImageId: ${other_image.id}\nexpect:\n  status: 404\n  code: InvalidInstanceId.NotFound\n",
    )
    .unwrap();
    let failed = sb.run(&["--cases", "mine", "run", "::wrong-expectation"]);
    assert_eq!(code(&failed), 1, "{}", text(&failed));
    std::fs::write(mine.join("broken.yaml"), "name: broken\nrequets: {}\n").unwrap();
    assert_eq!(code(&sb.run(&["--cases", "mine", "run"])), 2);
    assert_eq!(code(&sb.run(&["--cases", "mine", "lint"])), 2);
    assert_eq!(code(&sb.run(&["run", "--target", "nowhere"])), 2);
    assert_eq!(code(&sb.run(&["run", "--no-such-flag"])), 2);
    assert_eq!(code(&sb.run(&["coverage", "--format", "xml"])), 2);
    let shard = sb.run(&["run", "--shard", "3/2"]);
    assert_eq!(code(&shard), 2);
    assert!(text(&shard).contains("K must be between 1 and N"), "{}", text(&shard));
    assert_eq!(code(&sb.run(&["--cases", "/nonexistent/apiconform", "lint"])), 2);
}

#[test]
fn every_reporting_command_has_a_json_format() {
    let sb = Sandbox::new("json");
    for args in [
        &["lint", "--format", "json"][..],
        &["run", "--format", "json", "ResetDisk::success"],
        &["coverage", "--format", "json"],
        &["parity", "--format", "json"],
    ] {
        let o = sb.run(args);
        assert!(code(&o) == 0, "{args:?}: {}", text(&o));
        let v: Result<serde_json::Value, _> = serde_json::from_slice(&o.stdout);
        assert!(v.is_ok(), "{args:?} prints JSON only on stdout: {}", String::from_utf8_lossy(&o.stdout));
    }
    let run: serde_json::Value =
        serde_json::from_slice(&sb.run(&["run", "--format", "json", "ResetDisk::success"]).stdout).unwrap();
    assert_eq!(run["trials"][0]["verdict"], "pass");
    assert!(run["trials"][0]["condition"].as_str().is_some_and(|c| !c.is_empty()));
}

#[test]
fn colour_follows_the_flag_no_color_and_the_terminal() {
    let sb = Sandbox::new("color");
    let mine = sb.work().join("mine/aliyun/ecs/ResetDisk");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(
        mine.join("wrong.yaml"),
        "name: wrong\ncondition: \"x\"\nrequest:\n  DiskId: ${absent.disk}\n  SnapshotId: ${absent.snapshot}\nexpect:\n  status: 403\n  code: IncorrectDiskStatus\n",
    )
    .unwrap();
    let esc = |o: &Output| o.stdout.contains(&0x1b) || o.stderr.contains(&0x1b);
    let always = sb.run(&["--cases", "mine", "--color", "always", "run", "::wrong"]);
    assert_eq!(code(&always), 1, "{}", text(&always));
    assert!(esc(&always), "--color always colours a pipe: {}", text(&always));
    // Not a terminal: plain, and no progress bar either.
    assert!(!esc(&sb.run(&["--cases", "mine", "run", "::wrong"])));
    assert!(!esc(&sb.run(&["--cases", "mine", "--color", "never", "run", "::wrong"])));
    let no_color = output(sb.cmd().args(["--cases", "mine", "run", "::wrong"]).env("NO_COLOR", "1"));
    assert!(!esc(&no_color) && !no_color.stderr.contains(&b'\r'));
}

#[test]
fn completions_come_from_clap_for_bash_zsh_and_fish() {
    let sb = Sandbox::new("completions");
    for shell in ["bash", "zsh", "fish"] {
        let o = sb.run(&["completions", shell]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        let s = String::from_utf8_lossy(&o.stdout);
        for word in ["apiconform", "coverage", "format", "cases", "no-shipped"] {
            assert!(s.contains(word), "{shell} completions lack {word}");
        }
    }
    assert_eq!(code(&sb.run(&["completions", "tcsh"])), 2);
}

/// `apiconform sdk ...` from a copy of the binary: the flavour table,
/// drivers and lock files travel inside it.
#[test]
fn sdk_list_comes_from_the_binary_in_an_empty_directory() {
    let sb = Sandbox::new("sdk-list");
    let o = sb.run(&["sdk", "list", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    let mut dirs: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/flavours"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(names, dirs, "one flavour per sdk/flavours/<flavour>/flavour.json");
    for f in list.as_array().unwrap() {
        for k in ["vendor", "language", "driver", "package"] {
            assert!(f[k].as_str().is_some_and(|v| !v.is_empty()), "{k} of {f}");
        }
        assert!(f["wire"]["signature"].is_string() && f["wire"]["method"].is_string(), "{f}");
    }
}

/// Nothing but a registry name and an exact version (or `latest`) reaches
/// pip or npm: the rest is refused with exit 2 before any environment is
/// resolved or built (the cache stays untouched).
#[test]
fn sdk_diff_refuses_urls_options_and_non_versions_before_any_installer_runs() {
    let sb = Sandbox::new("sdk-refuse");
    let cache = sb.root.join("cache");
    let refused = [
        vec!["--flavour", "py-tea-ecs", "--package", "x @ https://example.com/x.whl", "--to", "1.0"],
        vec!["--flavour", "py-tea-ecs", "--package=-e.", "--to", "1.0"],
        vec!["--flavour", "py-tea-ecs", "--to=-e."],
        vec!["--flavour", "py-tea-ecs", "--to", "--index-url=http://example.com"],
        vec!["--flavour", "py-tea-ecs", "--to", ">=1.0"],
        vec!["--flavour", "py-tea-ecs", "--from", "git+https://example.com/x", "--to", "1.0"],
        vec!["--flavour", "node-pop-core", "--to", "github:user/repo"],
        vec!["--flavour", "node-pop-core", "--package", "../local", "--to", "1.0.0"],
        vec!["--flavour", "node-pop-core", "--to", "^1.8.0"],
        vec!["--flavour", "no-such-flavour", "--to", "1.0.0"],
        vec!["--flavour", "py-tea-ecs", "--to", "1.0", "--output", "/nonexistent/dir/report.md"],
    ];
    for args in refused {
        let o = output(sb.cmd().arg("sdk").arg("diff").args(&args).env("APICONFORM_SDK_CACHE", &cache));
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(text(&o).contains("error"), "{args:?}: {}", text(&o));
    }
    assert!(!cache.exists(), "nothing was resolved or built");
}

/// `--cases DIR` is the cases the SDK runs: an `init` directory (with its
/// `.schema/`) loads, and a filter that selects nothing exits 4 before any
/// environment is touched.
#[test]
fn sdk_diff_honours_cases_and_an_empty_selection_exits_4() {
    let sb = Sandbox::new("sdk-cases");
    assert_eq!(code(&sb.run(&["init", "mine"])), 0);
    assert!(sb.work().join("mine/.schema").is_dir());
    let cache = sb.root.join("cache");
    let o = output(
        sb.cmd()
            .args(["--cases", "mine", "sdk", "diff", "--flavour", "py-tea-ecs", "--to", "1.0", "no-such-case"])
            .env("APICONFORM_SDK_CACHE", &cache),
    );
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("nothing to run"), "{}", text(&o));
    assert!(!cache.exists());
}

/// `sdk gc` keeps the locked environments and removes the rest (here: an
/// old environment, an unfinished build's scratch, a resolution memo).
#[test]
fn sdk_gc_removes_all_but_the_locked_environments() {
    let sb = Sandbox::new("sdk-gc");
    let cache = sb.root.join("cache");
    for d in ["py-00000000000000aa", "tmp-resolve-1-0", "resolutions/x"] {
        std::fs::create_dir_all(cache.join(d)).unwrap();
        std::fs::write(cache.join(d).join("f"), "x").unwrap();
    }
    let o = output(sb.cmd().args(["sdk", "gc"]).env("APICONFORM_SDK_CACHE", &cache));
    assert_eq!(code(&o), 0, "{}", text(&o));
    for d in ["py-00000000000000aa", "tmp-resolve-1-0", "resolutions"] {
        assert!(!cache.join(d).exists(), "{d} removed: {}", text(&o));
        assert!(text(&o).contains(&format!("removed {d}")), "{}", text(&o));
    }
    assert!(text(&o).contains("freed"), "{}", text(&o));
}

/// `sdk setup` from the copy, against the SDK cache the test run uses:
/// with the environment built it reuses it and says so (CI builds them
/// first); otherwise this is skipped with a note, offline.
#[test]
fn sdk_setup_runs_from_the_binary_in_an_empty_directory() {
    let sb = Sandbox::new("sdk-setup");
    let mut probe = sb.cmd();
    probe.args(["sdk", "setup", "--flavour", "node-pop-core"]);
    if std::env::var_os("APICONFORM_REQUIRE_SDKS").is_none() {
        let cache = std::env::var_os("APICONFORM_SDK_CACHE").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/apiconform/sdk")
        });
        let built = std::fs::read_dir(&cache).into_iter().flatten().flatten().any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("node-") && e.path().join(".apiconform-ready").is_file()
        });
        if !built {
            eprintln!("note: skipped: no Node SDK environment in {} (`apiconform sdk setup`)", cache.display());
            return;
        }
    }
    let o = output(&mut probe);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("1 environment for 1 flavour"), "{out}");
    assert!(out.contains("node-pop-core") && out.contains("@alicloud/pop-core"), "{out}");
    assert!(out.contains("sdk setup: 1 environment ready"), "{out}");
}

/// What a pull request could name things to take over a CI log or a
/// terminal: an OSC sequence that sets the title, and a line break before a
/// forged `error:` line.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\nerror: forged";

/// No control character but line breaks, and no forged line.
fn assert_inert(out: &str) {
    assert!(!out.contains(['\u{1b}', '\u{7}', '\r']), "a control character was printed: {out:?}");
    assert!(!out.lines().any(|l| l.starts_with("error: forged")), "a line was forged: {out}");
}

#[cfg(unix)]
#[test]
fn names_and_paths_are_printed_with_their_control_characters_escaped() {
    let sb = Sandbox::new("escape");
    // A case file name and a case name holding escapes: lint quotes both.
    let api = sb.work().join("mine/aliyun/ecs/ResetDisk");
    std::fs::create_dir_all(&api).unwrap();
    let case = "name: \"a\\e]0;pwned\\a\\nerror: forged\"\ncondition: c\nrequest: {}\nexpect: { status: 200 }\n";
    std::fs::write(api.join(format!("x{HOSTILE}.yaml")), case).unwrap();
    let out = sb.run(&["--cases", "mine", "lint"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert_inert(&text(&out));
    assert!(text(&out).contains("x\\u{1b}]0;pwned\\u{7}\\nerror: forged.yaml"), "{}", text(&out));
    // An API whose action (directory and contract) holds them: run prints
    // its trial names and the table.
    let dir = sb.work().join(format!("theirs/aliyun/ecs/X{HOSTILE}"));
    std::fs::create_dir_all(&dir).unwrap();
    let api_yaml = "vendor: aliyun\nservice: ecs\naction: \"X\\e]0;pwned\\a\\nerror: forged\"\nversion: \"2014-05-26\"\ndocs: [{ file: x.md, authority: current }]\nparams:\n  InstanceId: { type: string, required: true }\nerrors:\n  - { status: 403, code: IncorrectInstanceStatus, message: \"m\" }\n";
    std::fs::write(dir.join("api.yaml"), api_yaml).unwrap();
    std::fs::write(dir.join("world.yaml"), "instances:\n  instance: { status: Stopped }\n").unwrap();
    let case = "name: a\ncondition: c\nrequest:\n  InstanceId: ${instance.id}\nexpect:\n  status: 403\n  code: IncorrectInstanceStatus\n";
    std::fs::write(dir.join("a.yaml"), case).unwrap();
    for args in [&["--cases", "theirs", "run", "pwned"][..], &["--cases", "theirs", "run", "pwned", "-v"]] {
        let out = sb.run(args);
        assert_eq!(code(&out), 1, "{}", text(&out));
        assert_inert(&text(&out));
        assert!(text(&out).contains("FAIL aliyun::ecs::X\\u{1b}]0;pwned\\u{7}\\nerror: forged::a::emulator"));
    }
}
