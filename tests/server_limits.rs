//! The emulator's HTTP server holds up under hostile clients: bodies,
//! URIs and headers are capped (refused in the vendor's format when the
//! vendor can be told), silent and idle connections are closed, and
//! connections are capped. Every wait in these tests is a generous bound on
//! something that, fixed, happens at once: none asserts a duration.

use apiconform::emulator::server::Limits;
use apiconform::emulator::Emulator;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(30);

fn small() -> Limits {
    Limits {
        max_body_bytes: 1024,
        max_uri_bytes: 2048,
        max_header_bytes: 4096,
        header_timeout: Duration::from_millis(200),
        body_timeout: Duration::from_millis(500),
        max_connections: 2,
    }
}

async fn server(limits: Limits) -> String {
    Emulator::default().spawn_with("127.0.0.1:0", limits).await.unwrap().to_string()
}

/// Everything the server sends until it closes the connection.
async fn until_closed(c: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, c.read_to_end(&mut out))
        .await
        .expect("the server never closed the connection")
        .unwrap_or_default();
    String::from_utf8_lossy(&out).into_owned()
}

fn status_and_body(resp: &str) -> (u16, Value) {
    let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn exchange(addr: &str, head: &str) -> (u16, Value) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(head.as_bytes()).await.unwrap();
    status_and_body(&until_closed(&mut c).await)
}

const VOLCENGINE: &str = "X-Date: 20260101T000000Z\r\nAuthorization: HMAC-SHA256 Credential=AKLTtestak/20260101/cn-beijing/ecs/request, SignedHeaders=x-date, Signature=00";

#[tokio::test]
async fn a_body_over_the_cap_is_refused_before_it_is_read_in_the_vendors_format() {
    // The default limit (1 MiB): the 200 MB body is announced, never sent.
    let addr = server(Limits::default()).await;
    let head = format!(
        "POST /?Action=ReplaceSystemVolume&Version=2020-04-01 HTTP/1.1\r\nHost: {addr}\r\n{VOLCENGINE}\r\nContent-Length: 200000000\r\n\r\n"
    );
    let (status, body) = exchange(&addr, &head).await;
    assert_eq!(status, 413, "{body}");
    let err = &body["ResponseMetadata"]["Error"];
    assert_eq!(err["Code"], "RequestEntityTooLarge", "{body}");
    assert!(err["Message"].as_str().unwrap().contains("1048576"), "{body}");
    assert_eq!(body["ResponseMetadata"]["Action"], "ReplaceSystemVolume");
}

#[tokio::test]
async fn a_chunked_body_over_the_cap_is_refused_with_plain_json_when_the_vendor_is_unknown() {
    let addr = server(small()).await;
    let mut c = TcpStream::connect(&addr).await.unwrap();
    let head = format!("POST / HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("400\r\n{}\r\n", "a".repeat(0x400));
    for _ in 0..4 {
        if c.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let (status, body) = status_and_body(&until_closed(&mut c).await);
    assert_eq!((status, &body["Code"]), (413, &Value::from("RequestEntityTooLarge")), "{body}");
}

#[tokio::test]
async fn a_long_uri_and_large_headers_are_refused_in_the_vendors_format() {
    let addr = server(small()).await;
    let head = format!(
        "GET /?Action=DescribeInstances&Pad={} HTTP/1.1\r\nHost: {addr}\r\nx-acs-action: DescribeInstances\r\nConnection: close\r\n\r\n",
        "x".repeat(3000)
    );
    let (status, body) = exchange(&addr, &head).await;
    assert_eq!((status, &body["Code"]), (414, &Value::from("RequestURITooLong")), "{body}");
    assert!(body["RequestId"].is_string(), "Alibaba's error body: {body}");
    let head = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Date: 20260101T000000Z\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "y".repeat(5000)
    );
    let (status, body) = exchange(&addr, &head).await;
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["Error"]["Code"], "RequestHeaderFieldsTooLarge", "Ksyun's error body: {body}");
}

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed() {
    let addr = server(small()).await;
    // Connects and sends nothing.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    // Starts a request and never finishes its headers.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    assert_eq!(until_closed(&mut silent).await, "");
    assert_eq!(until_closed(&mut slow).await, "");
    // One request answered, then the keep-alive connection idles.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let seen = until_closed(&mut idle).await;
    assert!(seen.starts_with("HTTP/1.1 400"), "{seen}");
    // A body that stops arriving.
    let mut stalled = TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\r\nabc").as_bytes())
        .await
        .unwrap();
    let (status, _) = status_and_body(&until_closed(&mut stalled).await);
    assert_eq!(status, 408);
}

#[tokio::test]
async fn connections_over_the_cap_get_a_503_and_are_closed() {
    let limits = Limits { header_timeout: Duration::from_secs(60), ..small() };
    let addr = server(limits).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        // A completed exchange proves the server has accepted this one.
        c.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
        let mut buf = [0u8; 12];
        tokio::time::timeout(BOUND, c.read_exact(&mut buf)).await.unwrap().unwrap();
        held.push(c);
    }
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let (status, body) = status_and_body(&until_closed(&mut third).await);
    assert_eq!(status, 503, "{body}");
    assert!(body["Message"].as_str().unwrap().contains("at most 2"), "{body}");
    // A slot frees when a connection closes.
    drop(held.pop());
    let mut fourth = None;
    for _ in 0..500 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
        let (status, _) = status_and_body(&until_closed(&mut c).await);
        if status == 400 {
            fourth = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fourth, Some(400), "no slot was freed");
}

/// Writes `head` (the server may close before it is all read) and returns
/// what came back.
async fn exchange_lenient(addr: &str, head: &[u8]) -> (u16, Value, String) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let _ = c.write_all(head).await;
    let raw = until_closed(&mut c).await;
    let (status, body) = status_and_body(&raw);
    (status, body, raw)
}

// What hyper refuses before the emulator sees a request (its own limits and
// parse errors) used to come back as a bare status with an empty body.

#[tokio::test]
async fn a_target_over_hypers_limit_is_refused_in_the_vendors_format() {
    let addr = server(Limits::default()).await;
    let head = format!(
        "GET /?Action=DescribeInstances&Version=2014-05-26&Pad={} HTTP/1.1\r\nHost: {addr}\r\nx-acs-action: DescribeInstances\r\nAuthorization: ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host,Signature=00\r\n\r\n",
        "x".repeat(70_000)
    );
    let (status, body, raw) = exchange_lenient(&addr, head.as_bytes()).await;
    assert_eq!((status, &body["Code"]), (414, &Value::from("RequestURITooLong")), "{raw:.300}");
    assert!(body["RequestId"].is_string(), "Alibaba's error body: {body}");
    assert!(body["Message"].as_str().unwrap().contains("32768"), "{body}");
    assert!(raw.to_ascii_lowercase().contains("connection: close"), "{raw:.300}");
}

#[tokio::test]
async fn a_head_over_hypers_buffer_or_header_count_is_refused_in_the_vendors_format() {
    let addr = server(Limits::default()).await;
    // Over 256 KiB of head, the vendor's headers first.
    let junk = format!("X-Junk: {}\r\n", "y".repeat(30_000)).repeat(10);
    let head = format!(
        "GET /?Action=ReplaceSystemVolume&Version=2020-04-01 HTTP/1.1\r\nHost: {addr}\r\n{VOLCENGINE}\r\n{junk}\r\n"
    );
    let (status, body, raw) = exchange_lenient(&addr, head.as_bytes()).await;
    assert_eq!(status, 431, "{raw:.300}");
    let err = &body["ResponseMetadata"]["Error"];
    assert_eq!(err["Code"], "RequestHeaderFieldsTooLarge", "Volcengine's error body: {body}");
    assert_eq!(body["ResponseMetadata"]["Action"], "ReplaceSystemVolume", "{body}");
    // More than 100 header lines, the vendor's header last.
    let many: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    let head = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n{many}X-Amz-Date: 20260101T000000Z\r\n\r\n");
    let (status, body, raw) = exchange_lenient(&addr, head.as_bytes()).await;
    assert_eq!(status, 431, "{raw:.300}");
    assert_eq!(body["Error"]["Code"], "RequestHeaderFieldsTooLarge", "Ksyun's error body: {body}");
}

#[tokio::test]
async fn a_malformed_head_is_refused_in_the_vendors_format_or_plain_json() {
    let addr = server(Limits::default()).await;
    let head =
        format!("GET /?Action=A&Version=2016-03-04 HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Date: 20260101T000000Z\r\nBad Name: v\r\n\r\n");
    let (status, body, raw) = exchange_lenient(&addr, head.as_bytes()).await;
    assert_eq!(status, 400, "{raw:.300}");
    assert_eq!(body["Error"]["Code"], "MalformedRequest", "Ksyun's error body: {body}");
    // Nothing tells the vendor: plain JSON, never an empty body.
    let (status, body, raw) = exchange_lenient(&addr, b"GET / HTTP/1.1\r\nHost: h\r\n\x01\x02: v\r\n\r\n").await;
    assert_eq!((status, &body["Code"]), (400, &Value::from("MalformedRequest")), "{raw:.300}");
}

#[tokio::test]
async fn the_head_copy_starts_again_for_each_request_of_a_keep_alive_connection() {
    let addr = server(Limits::default()).await;
    let mut c = TcpStream::connect(&addr).await.unwrap();
    // First a request the emulator answers (an unsigned one: a 400 with a body).
    c.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-First: 1\r\n\r\n").as_bytes()).await.unwrap();
    let mut first = vec![0u8; 4096];
    let n = tokio::time::timeout(BOUND, c.read(&mut first)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 400"));
    let head = format!(
        "GET /?Action=ReplaceSystemVolume&Version=2020-04-01&Pad={} HTTP/1.1\r\nHost: {addr}\r\n{VOLCENGINE}\r\n\r\n",
        "p".repeat(70_000)
    );
    let _ = c.write_all(head.as_bytes()).await;
    let raw = until_closed(&mut c).await;
    let (status, body) = status_and_body(&raw);
    assert_eq!(status, 414, "{raw:.300}");
    assert_eq!(body["ResponseMetadata"]["Error"]["Code"], "RequestURITooLong", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_after_sending_still_gets_its_answer() {
    let addr = server(Limits::default()).await;
    // hyper drops the answer if it reads the EOF while the request is being
    // handled, unless told to support half-closed connections: a race, so
    // many tries (each is fast).
    let head =
        format!("GET /?Action=A&Version=2016-03-04 HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Date: 20260101T000000Z\r\n\r\n");
    let mut unanswered = 0;
    for _ in 0..300 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(head.as_bytes()).await.unwrap();
        c.shutdown().await.unwrap();
        let (status, _) = status_and_body(&until_closed(&mut c).await);
        if status == 0 {
            unanswered += 1;
        }
    }
    assert_eq!(unanswered, 0, "{unanswered} of 300 half-closed requests got no answer");
}
