//! The case loader stays linear and safe on hostile trees: each file read
//! once, only regular files of bounded size, a capped number of diagnostics
//! per file, read errors with the file, and the `lint` gaps an audit found.
//! Each test writes a small cases tree to a temporary directory (as
//! `tests/lint.rs` does) and loads it.

use apiconform::diag::{Diagnostic, Pos, MAX_PER_FILE};
use apiconform::suite::{Suite, MAX_FILE_BYTES};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const COMMON: &str = "vendor: aliyun\nsource: test\ncommon_params: [RegionId]\nerrors:\n  - { status: 400, code: SignatureDoesNotMatch, message: \"m\" }\n";

fn api_yaml(action: &str, version: &str) -> String {
    format!(
        "vendor: aliyun\nservice: ecs\naction: {action}\nversion: \"{version}\"\ndocs: [{{ file: x.md, authority: current }}]\nparams:\n  InstanceId: {{ type: string, required: true }}\n  ImageId: {{ type: string, required: true }}\n  SystemDisk.Size: {{ type: integer }}\nresponse:\n  DiskId: \"d-1\"\nerrors:\n  - {{ status: 403, code: IncorrectInstanceStatus, message: \"The current status of the resource does not support this operation.\" }}\n"
    )
}

const WORLD: &str = "instances:\n  instance: { status: Stopped, image: image, system_disk: system_disk }\ndisks:\n  system_disk: { instance: instance }\nimages:\n  image: { size_gib: 20 }\n";

const GOOD: &str = "name: good\ncondition: c\nrequest:\n  InstanceId: ${instance.id}\n  ImageId: ${image.id}\nexpect:\n  status: 403\n  code: IncorrectInstanceStatus\n";

/// A fresh tree with one valid API; returns (root, API directory).
fn tree() -> (PathBuf, PathBuf) {
    static N: AtomicU32 = AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "apiconform-loader-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let api = root.join("aliyun/ecs/ReplaceSystemDisk");
    std::fs::create_dir_all(&api).unwrap();
    std::fs::write(root.join("aliyun/common-errors.yaml"), COMMON).unwrap();
    std::fs::write(api.join("api.yaml"), api_yaml("ReplaceSystemDisk", "2014-05-26")).unwrap();
    std::fs::write(api.join("world.yaml"), WORLD).unwrap();
    (root, api)
}

fn diags(root: &Path) -> Vec<Diagnostic> {
    Suite::load(root).expect_err("the tree must not load").0
}

/// The only diagnostic of a tree whose one case file is `text`.
fn one_error(text: &str) -> Diagnostic {
    let (root, api) = tree();
    std::fs::write(api.join("bad.yaml"), text).unwrap();
    let d = diags(&root);
    assert_eq!(d.len(), 1, "{d:#?}");
    d.into_iter().next().unwrap()
}

fn case_with(request: &str) -> String {
    format!("name: a\ncondition: c\nrequest:\n{request}expect:\n  status: 403\n  code: IncorrectInstanceStatus\n")
}

#[test]
fn a_diagnostic_never_reads_its_file() {
    let (_, api) = tree();
    let d = Diagnostic::new(&api.join("world.yaml"), Pos::new(1, 1), "m");
    assert_eq!(d.source_line, None);
}

#[test]
fn diagnostics_per_file_are_capped_with_a_count() {
    let (root, api) = tree();
    let flags: Vec<String> = (0..40_000).map(|i| format!("f{i}")).collect();
    let text = format!(
        "name: a\ncondition: c\ngiven:\n  images:\n    image: {{ flags: [{}] }}\nrequest:\n  InstanceId: x\n  ImageId: y\nexpect:\n  status: 200\n",
        flags.join(", ")
    );
    std::fs::write(api.join("many.yaml"), text).unwrap();
    let d = diags(&root);
    assert_eq!(d.len(), MAX_PER_FILE + 1, "{:#?}", &d[..3]);
    let last = d.last().unwrap();
    assert_eq!(last.message, format!("and {} more problems in this file", 40_000 - MAX_PER_FILE));
    assert_eq!(last.file, api.join("many.yaml"));
}

#[cfg(unix)]
#[test]
fn only_regular_files_are_read() {
    let (root, api) = tree();
    let fifo = api.join("fifo.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    std::os::unix::fs::symlink("/dev/zero", api.join("zero.yaml")).unwrap();
    std::os::unix::fs::symlink(api.join("loop-b.yaml"), api.join("loop-a.yaml")).unwrap();
    std::os::unix::fs::symlink(api.join("loop-a.yaml"), api.join("loop-b.yaml")).unwrap();
    let d = diags(&root);
    let of = |name: &str| d.iter().find(|x| x.file == api.join(name)).unwrap_or_else(|| panic!("{name}: {d:#?}"));
    if made {
        assert!(of("fifo.yaml").message.contains("not a regular file (a FIFO)"), "{d:#?}");
    }
    assert!(of("zero.yaml").message.contains("a symlink to a file outside the case directory"), "{d:#?}");
    assert!(of("loop-a.yaml").message.starts_with("cannot read file:"), "{d:#?}");
    assert!(of("loop-b.yaml").message.starts_with("cannot read file:"), "{d:#?}");
}

#[test]
fn a_file_over_the_size_limit_is_refused_unread() {
    // A 1 MiB string, and a file of comment lines.
    let big = format!("name: a\ncondition: \"{}\"\n", "x".repeat(MAX_FILE_BYTES as usize));
    let d = one_error(&big);
    assert!(d.message.contains("the limit is 1048576 (1 MiB)"), "{d}");
    let comments = "#\n".repeat(MAX_FILE_BYTES as usize / 2 + 1) + GOOD;
    let d = one_error(&comments);
    assert!(d.message.contains("the limit is"), "{d}");
}

#[test]
fn missing_and_non_utf8_files_name_the_file_and_position() {
    let (root, api) = tree();
    std::fs::remove_file(api.join("world.yaml")).unwrap();
    let d = diags(&root);
    assert_eq!(d[0].file, api.join("world.yaml"));
    assert!(d[0].message.starts_with("cannot read file:"), "{}", d[0]);

    let (root, api) = tree();
    std::fs::write(api.join("latin1.yaml"), b"name: a\ncondition: caf\xe9\n").unwrap();
    let d = diags(&root);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].file, api.join("latin1.yaml"));
    assert_eq!((d[0].pos.line, d[0].pos.column), (2, 15));
    assert!(d[0].message.contains("not UTF-8: byte 0xE9"), "{}", d[0]);
}

#[test]
fn one_unreadable_case_file_does_not_drop_its_api() {
    let (root, api) = tree();
    std::fs::write(api.join("a-latin1.yaml"), b"name: a\ncondition: caf\xe9\n").unwrap();
    std::fs::write(api.join("b.yaml"), "name: b\ncondition: c\nrequest:\n  ImageID: x\nexpect:\n  status: 200\n")
        .unwrap();
    std::fs::write(api.join("c.yml"), GOOD).unwrap();
    let d = diags(&root);
    let files: Vec<String> = d.iter().map(|x| x.file.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(files, ["a-latin1.yaml", "c.yml", "b.yaml"], "{d:#?}");
    assert!(d[2].message.contains("unknown request parameter `ImageID`"), "{}", d[2]);
}

#[test]
fn a_name_must_start_with_a_letter() {
    let d = one_error(&GOOD.replace("name: good", "name: 123"));
    assert!(d.message.contains("must start with a lowercase letter"), "{d}");
    assert_eq!(d.hint.as_deref(), Some("try `case-123`"));
}

#[test]
fn integer_parameters_must_fit_32_bits() {
    for v in ["99999999999999999999999", "4294967396", "-2147483649"] {
        let d = one_error(&case_with(&format!(
            "  InstanceId: ${{instance.id}}\n  ImageId: ${{image.id}}\n  SystemDisk.Size: {v}\n"
        )));
        assert!(d.message.contains("outside the 32-bit range"), "{d}");
        assert_eq!((d.pos.line, d.pos.column), (6, 20));
    }
    // In range, and malformed text (cases test malformed values), load.
    for v in ["2147483647", "-1", "abc"] {
        let (root, api) = tree();
        let text =
            case_with(&format!("  InstanceId: ${{instance.id}}\n  ImageId: ${{image.id}}\n  SystemDisk.Size: {v}\n"));
        std::fs::write(api.join("ok.yaml"), text).unwrap();
        Suite::load(&root).unwrap_or_else(|d| panic!("{v}: {d}"));
    }
}

#[test]
fn escaped_and_run_together_references_are_refused() {
    let d = one_error(&case_with("  InstanceId: $${instance.id}\n  ImageId: ${image.id}\n"));
    assert!(d.message.contains("sends the text `${` itself"), "{d}");
    let d = one_error(&case_with("  InstanceId: ${instance.id}${absent.image}\n  ImageId: ${image.id}\n"));
    assert!(d.message.contains("runs two references together"), "{d}");
    assert_eq!((d.pos.line, d.pos.column), (4, 15));
}

#[test]
fn stray_files_in_the_layout_are_refused() {
    let (root, _) = tree();
    std::fs::write(root.join("notes.txt"), "x").unwrap();
    std::fs::write(root.join("aliyun/ecs/Stray"), "x").unwrap();
    std::fs::write(root.join("README.md"), "x").unwrap();
    let d = diags(&root);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(d.iter().any(|x| x.file == root.join("notes.txt") && x.message.contains("a vendor directory")));
    assert!(d.iter().any(|x| x.file == root.join("aliyun/ecs/Stray") && x.message.contains("an action directory")));
}

#[test]
fn an_api_version_that_disagrees_with_its_service_is_refused() {
    let (root, _) = tree();
    for (action, version) in [("StopInstance", "2014-05-26"), ("StartInstance", "2099-01-01")] {
        let dir = root.join("aliyun/ecs").join(action);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("api.yaml"), api_yaml(action, version)).unwrap();
        std::fs::write(dir.join("world.yaml"), WORLD).unwrap();
    }
    let d = diags(&root);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].file, root.join("aliyun/ecs/StartInstance/api.yaml"));
    assert_eq!(d[0].pos.line, 4);
    assert!(
        d[0].message.contains("`2099-01-01` disagrees with aliyun/ecs: its other APIs use `2014-05-26`"),
        "{}",
        d[0]
    );
}

#[test]
fn an_oversized_pattern_is_refused_by_lint_and_run_alike() {
    let long = "a".repeat(2000);
    for re in [long.as_str(), "\\w{200}\\w{200}\\w{200}"] {
        let text = format!("{GOOD}  body:\n    DiskId: {{ matches: \"{}\" }}\n", re.replace('\\', "\\\\"));
        let d = one_error(&text);
        assert!(d.message.contains("is not a valid regular expression"), "{d}");
        assert!(apiconform::case::body_regex(re).is_err());
    }
}

#[test]
fn saving_a_field_the_response_never_has_is_refused() {
    let text = "name: a\ncondition: c\nsteps:\n  - request: { InstanceId: \"${instance.id}\", ImageId: \"${image.id}\" }\n    expect: { status: 200 }\n    save: { disk: DiskID }\n  - request: { InstanceId: \"${saved.disk}\", ImageId: \"${image.id}\" }\n    expect: { status: 200 }\n";
    let d = one_error(text);
    assert!(d.message.contains("ReplaceSystemDisk has no response field `DiskID`"), "{d}");
    assert_eq!(d.hint.as_deref(), Some("did you mean `DiskId`?"));
    assert_eq!(d.pos.line, 6);
}

/// `apiconform ARGS` in `cwd` with the user's cases in `cases` laid over
/// the shipped ones, a secret in its environment, and `TMPDIR` under a
/// plain file, where no directory can be made: loading needs none. Killed if it has not
/// ended after two minutes (a FIFO once hung it).
fn cli(cwd: &Path, args: &[&str]) -> (Option<i32>, String) {
    use std::process::{Command, Stdio};
    std::fs::write(cwd.join("not-a-dir"), "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apiconform"))
        .current_dir(cwd)
        .env("APICONFORM_CASES", "mine")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env("TMPDIR", cwd.join("not-a-dir/tmp"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("`apiconform {}` did not end", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

const SECRET: &str = "canary-secret-7f3a";

/// A user directory `mine/` beside nothing else, with one API directory.
fn user_dir(tag: &str) -> (PathBuf, PathBuf) {
    let cwd = std::env::temp_dir().join(format!("apiconform-loader-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cwd);
    let api = cwd.join("mine/aliyun/ecs/ResetDisk");
    std::fs::create_dir_all(&api).unwrap();
    (cwd, api)
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_case_directory_is_never_read() {
    let (cwd, api) = user_dir("symlink");
    let outside = cwd.join("outside.yaml");
    std::fs::write(&outside, format!("name: x\ncondition: {SECRET}\nnot-a-field: {SECRET}\n")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", api.join("environ.yaml")).unwrap();
    std::os::unix::fs::symlink(&outside, api.join("outside.yaml")).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/aliyun");
    std::fs::copy(shipped.join("common-errors.yaml"), cwd.join("mine/aliyun/common-errors.yaml")).unwrap();
    for f in ["api.yaml", "world.yaml"] {
        std::fs::copy(shipped.join("ecs/ResetDisk").join(f), api.join(f)).unwrap();
    }
    for args in [&["lint"][..], &["run", "ResetDisk::"], &["--no-shipped", "lint"]] {
        let (code, out) = cli(&cwd, args);
        assert_eq!(code, Some(2), "{args:?}: {out}");
        assert!(!out.contains(SECRET), "{args:?} printed what a symlink points at: {out}");
        assert!(
            out.contains("mine/aliyun/ecs/ResetDisk/environ.yaml") && out.contains("outside the case directory"),
            "{out}"
        );
    }
    // Loaded directly, the same; a link to a file inside the root is read,
    // named by the link.
    let (root, api) = tree();
    std::fs::write(api.join("good.txt"), GOOD).unwrap();
    std::os::unix::fs::symlink(api.join("good.txt"), api.join("linked.yaml")).unwrap();
    let suite = Suite::load(&root).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(suite.apis[0].cases[0].file, api.join("linked.yaml"));
    std::os::unix::fs::symlink("/proc/self/environ", api.join("environ.yaml")).unwrap();
    let d = diags(&root);
    assert_eq!((d.len(), d[0].source_line.as_deref()), (1, None), "{d:#?}");
    let _ = std::fs::remove_dir_all(&cwd);
}

#[cfg(unix)]
#[test]
fn fifos_and_huge_sparse_files_are_refused_before_reading_without_a_copy() {
    let (cwd, api) = user_dir("fifo");
    let made = std::process::Command::new("mkfifo").arg(api.join("fifo.yaml")).status().is_ok_and(|s| s.success());
    assert!(made, "mkfifo");
    let sparse = std::fs::File::create(api.join("sparse.yaml")).unwrap();
    sparse.set_len(3 << 30).unwrap();
    let (code, out) = cli(&cwd, &["lint"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("fifo.yaml") && out.contains("not a regular file (a FIFO)"), "{out}");
    assert!(out.contains("sparse.yaml") && out.contains("the file is 3221225472 bytes; the limit is"), "{out}");
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn the_overlay_needs_no_temporary_directory() {
    let (cwd, api) = user_dir("notmp");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let case = std::fs::read_to_string(manifest.join("cases/aliyun/ecs/ResetDisk/success.yaml")).unwrap();
    std::fs::write(api.join("mine.yaml"), case.replace("name: success", "name: mine")).unwrap();
    let (code, out) = cli(&cwd, &["run", "ResetDisk::mine"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 passed"), "{out}");
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn a_diagnostic_quotes_only_text_and_only_its_line() {
    // Not UTF-8: the position, no quote.
    let (root, api) = tree();
    std::fs::write(api.join("latin1.yaml"), b"name: a\ncondition: caf\xe9 secret\n").unwrap();
    let d = diags(&root);
    assert_eq!((d[0].pos.line, d[0].source_line.as_deref()), (2, None), "{d:#?}");
    // A control character (a terminal escape): refused, no quote.
    let d = one_error("name: a\ncondition: \"\x1b]0;pwned\x07\"\n");
    assert_eq!((d.pos.line, d.pos.column, d.source_line.as_deref()), (2, 13, None), "{d}");
    // Lines that end in a lone CR: the line at fault, not the file.
    let d = one_error("name: a\rcondition: c\rnot-a-field: 1\rrequest: {}\rexpect: { status: 200 }\r");
    assert_eq!((d.pos.line, d.source_line.as_deref()), (3, Some("not-a-field: 1")), "{d}");
}
