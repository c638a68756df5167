//! No input makes the emulator or the case loader panic.
//!
//! Regressions first (each found by an audit), then property tests
//! (proptest) that feed generated input to each vendor's `accept` path
//! through [`Emulator::handle`], and generated YAML to [`Suite::load`]. Each
//! property runs `PROPTEST_CASES` inputs (default below); the count run is
//! printed (`cargo test --test no_panic -- --nocapture`).

use apiconform::case::Wire;
use apiconform::emulator::Emulator;
use apiconform::protocol::{self, Call, Credentials, HttpRequest, HttpResponse, Protocol};
use apiconform::suite::Suite;
use apiconform::world::WorldSpec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn suite() -> &'static Suite {
    static S: OnceLock<Suite> = OnceLock::new();
    S.get_or_init(|| Suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).expect("cases load"))
}

/// (vendor, default access key, secret, API under test).
const VENDORS: &[(&str, &str, &str, &str)] = &[
    ("aliyun", "testid", "testsecret", "ReplaceSystemDisk"),
    ("volcengine", "AKLTtestak", "testsk", "ReplaceSystemVolume"),
    ("ksyun", "AKLTtestak", "testsecretkey", "ModifyInstanceImage"),
];

fn signed(vendor: usize, action: &str, params: &[(String, String)], nonce: &str) -> HttpRequest {
    let (v, ak, sk, _) = VENDORS[vendor];
    let version = suite().apis.iter().find(|a| a.vendor == v && a.action == action).map_or("", |a| &a.contract.version);
    let call = Call {
        action,
        version,
        service: "",
        params,
        wire: &Wire::default(),
        host: "127.0.0.1:1",
        region: "cn-beijing",
        now: apiconform::clock::now_secs(),
        nonce,
    };
    let creds = Credentials { access_key_id: ak.into(), secret: sk.into(), session_token: None };
    apiconform::vendor::protocol_of(v).unwrap().encode(&call, &creds)
}

fn set_header(req: &mut HttpRequest, name: &str, value: &str) {
    req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    req.headers.push((name.to_string(), value.to_string()));
}

/// A well-formed answer: a vendor body with a code and a request ID for an
/// error, and never a 5xx the contracts do not document.
fn check_reply(p: Option<&dyn Protocol>, resp: &HttpResponse) -> Result<(), TestCaseError> {
    prop_assert!(!resp.body.is_empty(), "empty body, status {}", resp.status);
    prop_assert!(resp.status != 500, "500: {}", String::from_utf8_lossy(&resp.body));
    let Some(p) = p else { return Ok(()) };
    let n = p.decode(resp);
    if n.status != 200 {
        prop_assert!(n.code.is_some(), "no code: {}", String::from_utf8_lossy(&resp.body));
        prop_assert!(n.request_id.is_some(), "no request id: {}", String::from_utf8_lossy(&resp.body));
    }
    Ok(())
}

fn recognizer(req: &HttpRequest) -> Option<&'static dyn Protocol> {
    apiconform::vendor::protocols().find(|p| p.recognizes(req))
}

// ---- regressions ----

const BAD_DATES: &[&str] = &["202\u{e9}112T213624Z", "20261\u{e9}2T213624Z", "2026\u{fffd}2T213624Z"];

#[test]
fn a_multibyte_date_header_is_refused_in_the_vendors_format() {
    let emu = Emulator::from_suite(suite());
    for (vendor, header) in [(1, "x-date"), (2, "x-amz-date")] {
        for bad in BAD_DATES {
            let mut req = signed(vendor, VENDORS[vendor].3, &[], "n");
            set_header(&mut req, header, bad);
            let resp = emu.handle(&req);
            assert!((400..500).contains(&resp.status), "{header}: {bad:?} → {}", resp.status);
            check_reply(recognizer(&req), &resp).unwrap();
        }
    }
}

#[test]
fn a_raw_0xff_in_a_date_header_gets_an_answer_over_http() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let addr = rt.block_on(Emulator::from_suite(suite()).spawn("127.0.0.1:0")).unwrap();
    let _guard = rt.enter();
    let handle = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let mut req = b"GET /?Action=ReplaceSystemVolume HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_vec();
        req.extend_from_slice(
            b"Authorization: HMAC-SHA256 Credential=a/b/c/d/request, SignedHeaders=x-date, Signature=0\r\n",
        );
        // 14 bytes; 16 once the 0xFF is read as U+FFFD.
        req.extend_from_slice(b"X-Date: 2026\xff2T213624Z\r\n\r\n");
        s.write_all(&req).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    });
    let out = loop {
        rt.block_on(tokio::time::sleep(std::time::Duration::from_millis(5)));
        if handle.is_finished() {
            break handle.join().unwrap();
        }
    };
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    assert!(text.contains("InvalidTimestamp"), "{text}");
}

#[test]
fn a_volcengine_size_past_32_bits_is_not_truncated() {
    let emu = Emulator::from_suite(suite());
    let ids = emu.seed_default("volcengine", &WorldSpec::default());
    let params: Vec<(String, String)> = [
        ("InstanceId", ids["instance.id"].as_str()),
        ("ImageId", ids["other_image.id"].as_str()),
        ("Password", "Password@123"),
        ("Size", "4294967396"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let req = signed(1, "ReplaceSystemVolume", &params, "n");
    let n = apiconform::vendor::protocol_of("volcengine").unwrap().decode(&emu.handle(&req));
    assert_eq!((n.status, n.code.as_deref()), (400, Some("LimitExceeded.SystemVolumeSize")));
}

// ---- properties ----

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default)
}

/// Text that stresses parsers: ASCII, multibyte, U+FFFD, control bytes,
/// huge numbers, signs.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9TZ:\\-é\u{fffd}\u{0}]{0,24}",
        date_shaped(),
        "-?[0-9]{1,30}",
        Just("4294967396".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("20261124T213624Z".to_string()),
        Just(String::new()),
    ]
}

/// A compact date of the right length with `T` and `Z` where the parsers
/// look, and one wide character among the digits.
fn date_shaped() -> impl Strategy<Value = String> {
    (0..8usize, prop::sample::select(vec!["\u{e9}", "\u{fffd}", "\u{1f600}"])).prop_map(|(at, c)| {
        let digits = &"20261124"[..8 - c.len()];
        let at = at.min(digits.len());
        format!("{}{c}{}T213624Z", &digits[..at], &digits[at..])
    })
}

const HEADERS: &[&str] = &[
    "authorization",
    "x-date",
    "x-amz-date",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-action",
    "x-acs-version",
    "x-amz-content-sha256",
    "content-type",
    "accept",
    "host",
];

#[derive(Debug, Clone)]
enum Mutation {
    Header(usize, String),
    Query(String, String),
    Body(Vec<u8>),
    DropHeader(usize),
}

fn mutation(names: Vec<String>) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..HEADERS.len(), nasty()).prop_map(|(h, v)| Mutation::Header(h, v)),
        (prop::sample::select(names), nasty()).prop_map(|(k, v)| Mutation::Query(k, v)),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Mutation::Body),
        (0..HEADERS.len()).prop_map(Mutation::DropHeader),
    ]
}

/// Parameter names of every contract of every vendor, and the wire's own.
fn param_names() -> Vec<String> {
    let mut names: Vec<String> = suite().apis.iter().flat_map(|a| a.contract.params.keys().cloned()).collect();
    for w in ["Action", "Version", "Timestamp", "SignatureNonce", "Signature", "AccessKeyId", "Format", "PageSize"] {
        names.push(w.to_string());
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn signed_requests_with_any_parameters_get_a_vendor_answer() {
    let emu = Emulator::from_suite(suite());
    emu.set_flow_control(false);
    let actions: Vec<(usize, String)> = suite()
        .apis
        .iter()
        .map(|a| (VENDORS.iter().position(|v| v.0 == a.vendor).unwrap(), a.action.clone()))
        .collect();
    let params = prop::collection::vec((prop::sample::select(param_names()), nasty()), 0..8);
    let mut runner = TestRunner::new(Config { cases: cases(300), failure_persistence: None, ..Config::default() });
    let n = std::sync::atomic::AtomicU64::new(0);
    let strategy = (prop::sample::select(actions), params, any::<u64>());
    let r = runner.run(&strategy, |((vendor, action), params, nonce)| {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let req = signed(vendor, &action, &params, &protocol::hex_id(nonce));
        check_reply(recognizer(&req), &emu.handle(&req))
    });
    eprintln!("signed requests with generated parameters: {} inputs", n.into_inner());
    r.unwrap();
}

#[test]
fn mutated_requests_get_a_vendor_answer() {
    let emu = Emulator::from_suite(suite());
    let mut runner = TestRunner::new(Config { cases: cases(600), failure_persistence: None, ..Config::default() });
    let n = std::sync::atomic::AtomicU64::new(0);
    let strategy = (0..VENDORS.len(), prop::collection::vec(mutation(param_names()), 1..4), any::<u64>());
    let r = runner.run(&strategy, |(vendor, mutations, nonce)| {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut req = signed(vendor, VENDORS[vendor].3, &[], &protocol::hex_id(nonce));
        for m in mutations {
            match m {
                Mutation::Header(h, v) => set_header(&mut req, HEADERS[h], &v),
                Mutation::Query(k, v) => req.query.push((k, v)),
                Mutation::Body(b) => req.body = b,
                Mutation::DropHeader(h) => req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(HEADERS[h])),
            }
        }
        check_reply(recognizer(&req), &emu.handle(&req))
    });
    eprintln!("mutated signed requests: {} inputs", n.into_inner());
    r.unwrap();
}

#[test]
fn arbitrary_requests_get_an_answer() {
    let emu = Emulator::from_suite(suite());
    let mut runner = TestRunner::new(Config { cases: cases(300), failure_persistence: None, ..Config::default() });
    let n = std::sync::atomic::AtomicU64::new(0);
    let header = (prop::sample::select(HEADERS.to_vec()), nasty());
    let strategy = (
        "(GET|POST|PUT|[A-Z]{0,8})",
        "/[ -~]{0,16}",
        prop::collection::vec((nasty(), nasty()), 0..6),
        prop::collection::vec(header, 0..6),
        prop::collection::vec(any::<u8>(), 0..64),
    );
    let r = runner.run(&strategy, |(method, path, query, headers, body)| {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let headers = headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let req = HttpRequest { method, path, query, headers, body };
        if req.path.starts_with("/_apiconform/") {
            return Ok(());
        }
        check_reply(recognizer(&req), &emu.handle(&req))
    });
    eprintln!("arbitrary requests: {} inputs", n.into_inner());
    r.unwrap();
}

// ---- request bytes over HTTP ----

/// One edit of a request's bytes on the wire.
#[derive(Debug, Clone)]
enum ByteEdit {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let idx = any::<prop::sample::Index>;
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..8),
        prop::sample::select(vec![
            b"\r\n".to_vec(),
            b"\r\n\r\n".to_vec(),
            b"\n".to_vec(),
            b" ".to_vec(),
            b":".to_vec(),
            b"\xc3\xa9".to_vec(),
            b"\xff".to_vec(),
            b"\r\nTransfer-Encoding: chunked".to_vec(),
            b"\r\nContent-Length: 99999999999999999999".to_vec(),
            b"\r\nExpect: 100-continue".to_vec(),
            b"%".to_vec(),
            b"%zz".to_vec(),
        ]),
        (1..70_000usize).prop_map(|n| vec![b'x'; n]),
    ];
    prop_oneof![
        (idx(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Set(i, b)),
        (idx(), piece).prop_map(|(i, p)| ByteEdit::Insert(i, p)),
        (idx(), 1..16usize).prop_map(|(i, n)| ByteEdit::Delete(i, n)),
        idx().prop_map(ByteEdit::Truncate),
    ]
}

/// `req` on the wire, closing the connection after its answer.
fn wire_bytes(req: &HttpRequest) -> Vec<u8> {
    let mut req = req.clone();
    req.headers.push(("connection".into(), "close".into()));
    req.to_http1()
}

fn apply(mut bytes: Vec<u8>, edits: &[ByteEdit]) -> Vec<u8> {
    for e in edits {
        let at = |i: &prop::sample::Index| if bytes.is_empty() { 0 } else { i.index(bytes.len()) };
        match e {
            ByteEdit::Set(i, b) if !bytes.is_empty() => {
                let i = at(i);
                bytes[i] = *b;
            }
            ByteEdit::Set(..) => {}
            ByteEdit::Insert(i, p) => {
                let i = at(i);
                bytes.splice(i..i, p.iter().copied());
            }
            ByteEdit::Delete(i, n) => {
                let i = at(i);
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
            ByteEdit::Truncate(i) => {
                let i = at(i);
                bytes.truncate(i);
            }
        }
    }
    bytes
}

/// Sends `bytes`, half-closes, and reads everything until the server closes.
fn send_raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut c = std::net::TcpStream::connect(addr).expect("the server still accepts");
    c.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let _ = c.write_all(bytes);
    let _ = c.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    out
}

/// The first final answer in `out`: (status, body length), skipping 100s.
fn first_answer(out: &[u8]) -> Option<(u16, usize)> {
    let mut rest = out;
    loop {
        let text = String::from_utf8_lossy(rest);
        let head_end = text.find("\r\n\r\n")?;
        let status: u16 =
            text.strip_prefix("HTTP/1.1 ").or_else(|| text.strip_prefix("HTTP/1.0 "))?.get(..3)?.parse().ok()?;
        let len = text[..head_end]
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if status >= 200 {
            return Some((status, len));
        }
        rest = &rest[head_end + 4..];
    }
}

#[test]
fn request_bytes_over_http_get_an_answer_with_a_body() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let limits = apiconform::emulator::server::Limits {
        header_timeout: std::time::Duration::from_secs(2),
        body_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let emu = Emulator::from_suite(suite());
    emu.set_flow_control(false);
    let addr = rt.block_on(emu.spawn_with("127.0.0.1:0", limits)).unwrap();
    let mut runner = TestRunner::new(Config { cases: cases(300), failure_persistence: None, ..Config::default() });
    let n = std::sync::atomic::AtomicU64::new(0);
    let strategy = (0..VENDORS.len(), prop::collection::vec(byte_edit(), 1..4), any::<u64>());
    let r = runner.run(&strategy, |(vendor, edits, nonce)| {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let req = signed(vendor, VENDORS[vendor].3, &[], &protocol::hex_id(nonce));
        let bytes = apply(wire_bytes(&req), &edits);
        let out = send_raw(addr, &bytes);
        // Empty lines before a request line are skipped (RFC 9112 2.2).
        let start = bytes.iter().position(|b| *b != b'\r' && *b != b'\n').unwrap_or(bytes.len());
        let rest = &bytes[start..];
        let complete_head = rest.windows(4).any(|w| w == b"\r\n\r\n") || rest.windows(2).any(|w| w == b"\n\n");
        let Some((status, body)) = first_answer(&out) else {
            // Only a head that never ended may be dropped without an answer.
            prop_assert!(
                !complete_head,
                "no answer to {:?}: {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)]),
                String::from_utf8_lossy(&out)
            );
            return Ok(());
        };
        prop_assert!(status < 500 || status == 503, "status {status}: {}", String::from_utf8_lossy(&out));
        let head_only = bytes.starts_with(b"HEAD ");
        prop_assert!(body > 0 || head_only, "status {status} with an empty body: {}", String::from_utf8_lossy(&out));
        Ok(())
    });
    eprintln!("request bytes over HTTP: {} inputs", n.into_inner());
    r.unwrap();
    // The server is still there and still right.
    let good = signed(0, VENDORS[0].3, &[], "after-the-fuzz");
    let out = send_raw(addr, &wire_bytes(&good));
    let (status, body) = first_answer(&out).expect("an answer after the fuzz");
    assert!(body > 0 && status < 500, "{}", String::from_utf8_lossy(&out));
}

// ---- the case loader ----

const COMMON: &str = "vendor: aliyun\nsource: test\ncommon_params: [RegionId]\nerrors:\n  - { status: 400, code: SignatureDoesNotMatch, message: \"m\" }\n";
const API: &str = "vendor: aliyun\nservice: ecs\naction: ReplaceSystemDisk\nversion: \"2014-05-26\"\ndocs: [{ file: x.md, authority: current }]\nparams:\n  InstanceId: { type: string, required: true }\n  ImageId: { type: string, required: true }\n  SystemDisk.Size: { type: integer }\nresponse:\n  DiskId: \"d-1\"\nerrors:\n  - { status: 403, code: IncorrectInstanceStatus, message: \"The current status of the resource does not support this operation.\" }\n";
const WORLD: &str = "instances:\n  instance: { status: Stopped, image: image, system_disk: system_disk }\ndisks:\n  system_disk: { instance: instance }\nimages:\n  image: { size_gib: 20 }\n";
const GOOD: &str = "name: good\ncondition: \"c\"\nrequest:\n  InstanceId: ${instance.id}\n  ImageId: ${image.id}\n  SystemDisk.Size: 40\nexpect:\n  status: 403\n  code: IncorrectInstanceStatus\n  body:\n    DiskId: { matches: \"^d-\" }\n";

/// Pieces a case file is made of, to generate text the parser gets far into.
fn yaml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name: ".to_string()),
        Just("condition: ".to_string()),
        Just("request:\n  ".to_string()),
        Just("expect:\n  status: ".to_string()),
        Just("steps:\n  - ".to_string()),
        Just("save: { x: ".to_string()),
        Just("${instance.id}".to_string()),
        Just("${saved.x}".to_string()),
        Just("$${".to_string()),
        Just("given:\n  instances:\n    instance: { flags: [".to_string()),
        Just("body:\n    A: { matches: \"".to_string()),
        Just("&a [*a, *a]".to_string()),
        Just("\n".to_string()),
        Just(": ".to_string()),
        Just("{".to_string()),
        Just("- ".to_string()),
        Just("# c\n".to_string()),
        "[ -~]{0,12}",
        "-?[0-9]{1,25}",
        any::<String>(),
    ]
}

fn case_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(yaml_piece(), 0..24).prop_map(|v| v.concat()),
        (0..GOOD.len(), yaml_piece()).prop_map(|(at, piece)| {
            let at = (0..=at).rev().find(|i| GOOD.is_char_boundary(*i)).unwrap_or(0);
            format!("{}{piece}{}", &GOOD[..at], &GOOD[at..])
        }),
        any::<String>(),
    ]
}

fn scaffold() -> PathBuf {
    let root = std::env::temp_dir().join(format!("apiconform-fuzz-{}", std::process::id()));
    let api = root.join("aliyun/ecs/ReplaceSystemDisk");
    std::fs::create_dir_all(&api).unwrap();
    std::fs::write(root.join("aliyun/common-errors.yaml"), COMMON).unwrap();
    std::fs::write(api.join("api.yaml"), API).unwrap();
    root
}

#[test]
fn the_case_loader_answers_any_text_with_diagnostics() {
    let root = scaffold();
    let api = root.join("aliyun/ecs/ReplaceSystemDisk");
    let mut runner = TestRunner::new(Config { cases: cases(400), failure_persistence: None, ..Config::default() });
    let n = std::sync::atomic::AtomicU64::new(0);
    let r = runner.run(&(case_text(), prop::option::of(case_text())), |(case, world)| {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::fs::write(api.join("c.yaml"), &case).unwrap();
        std::fs::write(api.join("world.yaml"), world.as_deref().unwrap_or(WORLD)).unwrap();
        if let Err(d) = Suite::load(&root) {
            prop_assert!(!d.0.is_empty());
            for x in &d.0 {
                prop_assert!(!x.message.is_empty() && x.file.starts_with(&root), "{x}");
                let _ = x.to_string();
            }
        }
        Ok(())
    });
    eprintln!("case files: {} inputs", n.into_inner());
    let _ = std::fs::remove_dir_all(&root);
    r.unwrap();
}
