//! The emulator behind hyper, with the limits a real endpoint has.
//!
//! Why limits: `apiconform serve` may face SDKs under load, fuzzers and web
//! pages, and the in-process emulator must survive a buggy test. Without
//! them one 200 MB body stayed in memory, idle and slow-header clients held
//! connections forever, and an accept loop out of file descriptors spun.
//! So: the body is capped ([`Limits::max_body_bytes`]), headers and the
//! URI too, below hyper's own limits, and refused in the vendor's error
//! format whenever the vendor can be told from the request; what hyper
//! refuses itself before any request reaches us (a malformed head, a target
//! or head over its limits) is answered the same way from a copy of the
//! head ([`super::head`]) instead of hyper's empty body; headers must arrive within
//! [`Limits::header_timeout`], which hyper restarts when a keep-alive
//! connection goes idle, so it is the idle timeout as well; a body must
//! arrive within [`Limits::body_timeout`]; connections beyond
//! [`Limits::max_connections`] get a 503 and are closed; and failed accepts
//! back off (5 ms doubling to 1 s) instead of spinning.

use super::{head, Emulator};
use crate::protocol::{ErrorReply, HttpRequest, HttpResponse, ReplyCtx};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Resource limits of one server. The defaults are what `apiconform serve`
/// and the in-process emulator use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body; a larger one gets 413. Default 1 MiB: a
    /// control-plane call is a few KiB.
    pub max_body_bytes: usize,
    /// Longest request target (path and query); longer gets 414. Default
    /// 32 KiB (hyper's own, bare 414 comes at 64 KiB).
    pub max_uri_bytes: usize,
    /// Most bytes of header names and values; more gets 431. Default 64 KiB
    /// (hyper's own, bare 431 comes past [`HYPER_MAX_HEADER_BYTES`] or 100
    /// header lines).
    pub max_header_bytes: usize,
    /// Time for a request's headers to arrive, and for the next request on
    /// an idle keep-alive connection. Default 20 s.
    pub header_timeout: Duration,
    /// Time for a request's body to arrive once its headers have. Default 60 s.
    pub body_timeout: Duration,
    /// Open connections at most; one more gets a 503 and is closed. Default 1024.
    pub max_connections: usize,
}

/// [`Limits::max_connections`] unless set (`serve --max-connections`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;

/// hyper's own limit on the request head (request line and headers).
pub const HYPER_MAX_HEADER_BYTES: usize = 256 * 1024;
/// hyper's own limit on header lines.
pub const HYPER_MAX_HEADERS: usize = 100;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_uri_bytes: 32 * 1024,
            max_header_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
        }
    }
}

/// Waits for the next accepted connection; a failed accept (out of file
/// descriptors, most often) is retried after a pause that doubles from 5 ms
/// to 1 s, so the loop waits for descriptors to free instead of spinning.
/// `sleep` is how it pauses (tokio's in practice).
pub async fn accept_with_backoff<T, A, AF, S, SF>(mut accept: A, mut sleep: S) -> T
where
    A: FnMut() -> AF,
    AF: Future<Output = std::io::Result<T>>,
    S: FnMut(Duration) -> SF,
    SF: Future<Output = ()>,
{
    let first = Duration::from_millis(5);
    let mut delay = first;
    loop {
        match accept().await {
            Ok(c) => return c,
            Err(e) => {
                if delay == first {
                    eprintln!("apiconform emulator: accept failed ({e}); backing off");
                }
                sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// What a connection over the cap gets, before it is closed. The vendor is
/// unknown (nothing is read), so the body is plain JSON.
fn over_capacity(max: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "Code": "ServiceUnavailable",
        "Message": format!("apiconform emulator: too many open connections (at most {max}); try again later"),
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Writes the 503, then reads and discards what the client sent until it
/// closes (closing with unread bytes would reset the connection and could
/// destroy the answer before the client reads it). Bounded: a client that
/// neither reads nor closes cannot hold the task.
async fn refuse_connection(stream: tokio::net::TcpStream, max: usize) {
    let reply = over_capacity(max);
    let exchange = async {
        let mut sent = 0;
        while sent < reply.len() && stream.writable().await.is_ok() {
            match stream.try_write(&reply[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
        // End of the answer for the client (a half close), so it can stop
        // reading; tokio offers this only through its io-util feature.
        let Ok(std) = stream.into_std() else { return };
        let _ = std.shutdown(std::net::Shutdown::Write);
        let Ok(stream) = tokio::net::TcpStream::from_std(std) else { return };
        let mut sink = [0u8; 4096];
        while stream.readable().await.is_ok() {
            match stream.try_read(&mut sink) {
                Ok(0) => return,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), exchange).await;
}

impl Emulator {
    /// Serves HTTP/1.1 on `listener` with the default [`Limits`] until the
    /// task is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) {
        self.serve_with(listener, Limits::default()).await
    }

    /// Serves HTTP/1.1 on `listener` with `limits` until the task is dropped.
    pub async fn serve_with(self, listener: tokio::net::TcpListener, limits: Limits) {
        let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
        loop {
            let (stream, _) = accept_with_backoff(|| listener.accept(), tokio::time::sleep).await;
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tokio::spawn(refuse_connection(stream, limits.max_connections));
                continue;
            };
            let _ = stream.set_nodelay(true);
            let emu = self.clone();
            tokio::spawn(async move {
                let svc_emu = emu.clone();
                let svc = hyper::service::service_fn(move |req| {
                    let emu = svc_emu.clone();
                    async move { Ok::<_, std::convert::Infallible>(emu.handle_hyper(req, &limits).await) }
                });
                let answer: head::Answer = {
                    let emu = emu.clone();
                    Box::new(move |seen, status| emu.refused_head(seen, status, &limits))
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    // A client that shuts down its side after sending (as
                    // `nc -N` and many fuzzers do) still gets its answer;
                    // without this hyper may drop it when it reads the EOF
                    // while the request is being handled.
                    .half_close(true)
                    .max_header_size(HYPER_MAX_HEADER_BYTES)
                    .max_buf_size(HYPER_MAX_HEADER_BYTES.max(limits.max_uri_bytes * 2))
                    .serve_connection(hyper_util::rt::TokioIo::new(head::HeadTap::new(stream, answer)), svc)
                    .await;
                drop(permit);
            });
        }
    }

    /// Binds `addr` and serves in the background on the current runtime.
    pub async fn spawn(self, addr: &str) -> std::io::Result<std::net::SocketAddr> {
        self.spawn_with(addr, Limits::default()).await
    }

    /// Binds `addr` and serves with `limits` in the background.
    pub async fn spawn_with(self, addr: &str, limits: Limits) -> std::io::Result<std::net::SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        tokio::spawn(self.serve_with(listener, limits));
        Ok(local)
    }

    async fn handle_hyper(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
        limits: &Limits,
    ) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let mut headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        if !headers.iter().any(|(k, _)| k == "host") {
            if let Some(a) = parts.uri.authority() {
                headers.push(("host".into(), a.to_string()));
            }
        }
        let mut req = HttpRequest {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query: HttpRequest::parse_query(parts.uri.query().unwrap_or("")),
            headers,
            body: Vec::new(),
        };
        let resp = match self.read_body(&mut req, &parts, body, limits).await {
            Ok(()) => self.handle(&req),
            Err(refusal) => refusal,
        };
        // What an SDK put on the wire, for the keys someone watches.
        if self.inner.wiretap.active() && !req.path.starts_with(super::control::PREFIX) {
            self.inner.wiretap.keep(&req, parts.uri.query().unwrap_or(""), resp.status);
        }
        to_hyper(resp)
    }

    /// Checks the head against `limits` and reads the body into `req`, or
    /// answers the refusal.
    async fn read_body(
        &self,
        req: &mut HttpRequest,
        parts: &hyper::http::request::Parts,
        body: hyper::body::Incoming,
        limits: &Limits,
    ) -> Result<(), HttpResponse> {
        let uri_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
        if uri_len > limits.max_uri_bytes {
            let msg =
                format!("the request target has {uri_len} bytes; the emulator takes at most {}", limits.max_uri_bytes);
            return Err(self.limit_error(req, 414, "RequestURITooLong", msg));
        }
        let header_len: usize = parts.headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
        if header_len > limits.max_header_bytes {
            let msg =
                format!("the headers have {header_len} bytes; the emulator takes at most {}", limits.max_header_bytes);
            return Err(self.limit_error(req, 431, "RequestHeaderFieldsTooLarge", msg));
        }
        let too_large = |r: &HttpRequest| {
            let msg = format!("the request body is larger than {} bytes, the emulator's limit", limits.max_body_bytes);
            self.limit_error(r, 413, "RequestEntityTooLarge", msg)
        };
        let declared = req.header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
            return Err(too_large(req));
        }
        let collected = tokio::time::timeout(limits.body_timeout, Limited::new(body, limits.max_body_bytes).collect());
        match collected.await {
            Ok(Ok(b)) => {
                req.body = b.to_bytes().to_vec();
                Ok(())
            }
            Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large(req)),
            // The client went away or sent a broken chunk: whatever is
            // answered, nobody reads it.
            Ok(Err(_)) => Err(self.limit_error(req, 400, "MalformedBody", "the request body could not be read".into())),
            Err(_) => {
                let msg = format!("the request body did not arrive within {} s", limits.body_timeout.as_secs());
                Err(self.limit_error(req, 408, "RequestTimeout", msg))
            }
        }
    }

    /// The answer to a head hyper refused itself (see [`head`]): the same
    /// codes as the emulator's own limits, as raw HTTP/1.1.
    fn refused_head(&self, seen: &head::SeenHead, status: u16, limits: &Limits) -> Vec<u8> {
        let (code, message) = match status {
            414 => (
                "RequestURITooLong",
                format!(
                    "the request line has {} bytes; the emulator takes a request target of at most {}",
                    seen.request_line_bytes(),
                    limits.max_uri_bytes
                ),
            ),
            431 => (
                "RequestHeaderFieldsTooLarge",
                format!(
                    "the request head is over {HYPER_MAX_HEADER_BYTES} bytes or {HYPER_MAX_HEADERS} header lines; the emulator takes at most {} bytes of headers",
                    limits.max_header_bytes
                ),
            ),
            _ => ("MalformedRequest", "the request head is not valid HTTP/1.1".to_string()),
        };
        let resp = self.limit_error(&seen.request(), status, code, message);
        let reason = hyper::StatusCode::from_u16(resp.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", resp.status);
        for (k, v) in &resp.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("content-length: {}\r\n\r\n", resp.body.len()));
        let mut out = out.into_bytes();
        out.extend_from_slice(&resp.body);
        out
    }

    /// A limit's refusal, in the vendor's error format when the request's
    /// headers or query name the vendor (the body is not read), else plain
    /// JSON. The connection is closed after it: the rest of the request may
    /// still be on the wire.
    fn limit_error(&self, req: &HttpRequest, status: u16, code: &str, message: String) -> HttpResponse {
        let message = format!("apiconform emulator: {message}");
        let mut resp = match crate::vendor::protocols().find(|p| p.recognizes(req)) {
            Some(p) => {
                let q = |k: &str| req.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                let v1_xml = p.errors_in_xml(req);
                let ctx = ReplyCtx {
                    action: q("Action").or_else(|| req.header("x-acs-action").map(str::to_string)).unwrap_or_default(),
                    version: q("Version")
                        .or_else(|| req.header("x-acs-version").map(str::to_string))
                        .unwrap_or_default(),
                    region: String::new(),
                    service: String::new(),
                    request_id: p.request_id(self.next_seq()),
                    xml: v1_xml,
                };
                let err = ErrorReply { status, code: code.to_string(), message, retry_after_ms: None, code_n: None };
                p.render_error(&ctx, &err)
            }
            None => HttpResponse::json(status, &serde_json::json!({ "Code": code, "Message": message })),
        };
        resp.headers.push(("connection".into(), "close".into()));
        resp
    }
}

fn to_hyper(resp: HttpResponse) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(resp.body))).unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn failed_accepts_back_off_instead_of_spinning() {
        let waits = RefCell::new(Vec::new());
        let mut failures = 9;
        let accept = || {
            let r = if failures == 0 {
                Ok("connection")
            } else {
                failures -= 1;
                Err(std::io::Error::from_raw_os_error(24)) // EMFILE
            };
            std::future::ready(r)
        };
        let sleep = |d: Duration| {
            waits.borrow_mut().push(d.as_millis());
            std::future::ready(())
        };
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(rt.block_on(accept_with_backoff(accept, sleep)), "connection");
        assert_eq!(*waits.borrow(), vec![5, 10, 20, 40, 80, 160, 320, 640, 1000]);
    }
}
