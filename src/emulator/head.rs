//! The request heads hyper refuses itself, answered in the vendor's format.
//!
//! hyper parses each request head before anything reaches the emulator, and
//! a head it cannot take (a target over 64 KiB, a head over its buffer or
//! over 100 header lines, a malformed line or version) gets hyper's own 400,
//! 414 or 431 with an empty body: an SDK then reports an unknown error where
//! the vendor's endpoint would have sent its error body. So the server wraps
//! each connection in a [`HeadTap`]: while a head arrives, it keeps a bounded
//! copy of it ([`SeenHead`]: each line cut to a few KiB, 64 KiB in all, which
//! is enough to tell the vendor by its headers and to name the action), and
//! when hyper writes one of its bare refusals, the tap writes the server's
//! answer instead, rendered from that copy (in the vendor's format when the
//! vendor can be told, plain JSON otherwise). Every other byte passes
//! through untouched; the cost on the hot path is one bounded copy of each
//! head.
//!
//! Known limit: when a client pipelines a request before reading the answer
//! to the previous one, the next head may be read before that answer is
//! written; its copy then starts late, the vendor is not found, and a
//! refusal of that head comes as plain JSON.

use crate::protocol::HttpRequest;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes kept of the request line (a long query is cut at a pair).
const FIRST_LINE_BYTES: usize = 16 * 1024;
/// Bytes kept of each header line: enough for any header a vendor is told by.
const LINE_BYTES: usize = 4 * 1024;
/// Bytes kept of a head in all.
const KEPT_BYTES: usize = 64 * 1024;

/// A bounded copy of the request head being read.
#[derive(Debug, Default)]
pub struct SeenHead {
    kept: Vec<u8>,
    /// Bytes of the current line so far, kept or not.
    line: usize,
    /// Lines ended so far.
    lines: usize,
    /// Bytes of the request line, all of it.
    request_line: usize,
    /// The empty line that ends the head was read.
    done: bool,
}

impl SeenHead {
    /// Takes the next bytes read from the connection.
    fn take(&mut self, mut chunk: &[u8]) {
        while !self.done && !chunk.is_empty() {
            let end = memchr::memchr(b'\n', chunk).map_or(chunk.len(), |i| i + 1);
            let (piece, rest) = chunk.split_at(end);
            chunk = rest;
            let cap = if self.lines == 0 { FIRST_LINE_BYTES } else { LINE_BYTES };
            let room = cap.saturating_sub(self.line).min(KEPT_BYTES.saturating_sub(self.kept.len()));
            let n = piece.len().min(room);
            self.kept.extend_from_slice(&piece[..n]);
            self.line += piece.len();
            if piece.ends_with(b"\n") {
                if n < piece.len() {
                    // A cut line still ends, so the lines after it parse.
                    self.kept.push(b'\n');
                }
                if self.lines == 0 {
                    self.request_line = self.line;
                } else if self.line <= 2 {
                    self.done = true;
                }
                self.lines += 1;
                self.line = 0;
            }
        }
    }

    /// Bytes of the request line (method, target, version), all of it, or
    /// of what arrived of it.
    pub fn request_line_bytes(&self) -> usize {
        if self.lines == 0 {
            self.line
        } else {
            self.request_line
        }
    }

    /// The head as a request without a body: the method, the path and the
    /// query pairs that were kept whole, and the header lines that parse.
    pub fn request(&self) -> HttpRequest {
        let text = String::from_utf8_lossy(&self.kept);
        let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let mut target = first.next().unwrap_or("");
        if let Some(after) = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://")) {
            target = after.find('/').map_or("/", |i| &after[i..]);
        }
        let (path, mut query) = target.split_once('?').unwrap_or((target, ""));
        if self.request_line_bytes() > FIRST_LINE_BYTES {
            // The last pair kept may be cut short: drop it.
            query = query.rsplit_once('&').map_or("", |(whole, _)| whole);
        }
        let headers = lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        HttpRequest {
            method,
            path: path.to_string(),
            query: HttpRequest::parse_query(query),
            headers,
            body: Vec::new(),
        }
    }
}

/// The status of hyper's own refusal of a head, when `bytes` (the start of
/// a write) is one: 400, 414 or 431 with no body. Every answer the emulator
/// itself gives has a body.
fn hypers_refusal(bytes: &[u8]) -> Option<u16> {
    let status = match status_of(bytes)? {
        b"400 " => 400,
        b"414 " => 414,
        b"431 " => 431,
        _ => return None,
    };
    let head_end = memchr::memmem::find(bytes, b"\r\n\r\n")?;
    memchr::memmem::find(&bytes[..head_end + 2], b"\r\ncontent-length: 0\r\n").map(|_| status)
}

/// The start of a final answer (not a `100 Continue`): the next bytes read
/// are the next request's head.
fn starts_an_answer(bytes: &[u8]) -> bool {
    status_of(bytes).is_some_and(|s| s[0] != b'1')
}

/// The status code and the space after it, when `bytes` starts a response
/// (HTTP/1.1, or HTTP/1.0 to an HTTP/1.0 client).
fn status_of(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(b"HTTP/1.1 ").or_else(|| bytes.strip_prefix(b"HTTP/1.0 "))?;
    rest.get(..4)
}

/// What the server answers instead of hyper's refusal of `head` with `status`:
/// a whole HTTP/1.1 response.
pub type Answer = Box<dyn Fn(&SeenHead, u16) -> Vec<u8> + Send + Sync>;

/// A connection's stream, seen through: see the module docs.
pub struct HeadTap<S> {
    io: S,
    head: SeenHead,
    answer: Answer,
    /// The answer being written in place of hyper's, and how much is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> HeadTap<S> {
    pub fn new(io: S, answer: Answer) -> HeadTap<S> {
        HeadTap { io, head: SeenHead::default(), answer, pending: None }
    }
}

impl<S: AsyncWrite + Unpin> HeadTap<S> {
    /// Writes what is left of the answer that replaced hyper's.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, sent)) = &mut self.pending {
            if *sent == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Replaces hyper's refusal when `first` (the start of a write) is one;
    /// true when it did.
    fn replaced(&mut self, cx: &mut Context<'_>, first: &[u8]) -> io::Result<bool> {
        if let Some(status) = hypers_refusal(first) {
            let answer = (self.answer)(&self.head, status);
            self.head = SeenHead::default();
            self.pending = Some((answer, 0));
            // What does not go out now goes out at the flush hyper makes next.
            if let Poll::Ready(Err(e)) = self.drain(cx) {
                return Err(e);
            }
            return Ok(true);
        }
        if starts_an_answer(first) {
            self.head = SeenHead::default();
        }
        Ok(false)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadTap<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        this.head.take(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadTap<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        if this.replaced(cx, buf)? {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
        if this.replaced(cx, first)? {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(chunks: &[&[u8]]) -> SeenHead {
        let mut h = SeenHead::default();
        for c in chunks {
            h.take(c);
        }
        h
    }

    #[test]
    fn a_head_read_in_pieces_gives_its_request() {
        let head = b"GET /path?Action=RunInstances&Version=2020-04-01 HTTP/1.1\r\nHost: h\r\nX-Date: 20260101T000000Z\r\n\r\nbody";
        let whole = seen(&[head]);
        let pieces = seen(&head.chunks(3).collect::<Vec<_>>());
        for h in [whole, pieces] {
            let r = h.request();
            assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/path"));
            assert_eq!(
                r.query,
                vec![("Action".into(), "RunInstances".into()), ("Version".into(), "2020-04-01".into())]
            );
            assert_eq!(r.header("x-date"), Some("20260101T000000Z"));
            assert!(h.done);
            assert!(!String::from_utf8_lossy(&h.kept).contains("body"));
        }
    }

    #[test]
    fn a_huge_head_is_kept_bounded_and_still_names_the_vendor() {
        let target = format!("/?Action=A&Pad={}&Tail=cut", "x".repeat(100_000));
        let junk = format!("X-Junk: {}\r\n", "y".repeat(50_000)).repeat(4);
        let head = format!("GET {target} HTTP/1.1\r\n{junk}Authorization: ACS3-HMAC-SHA256 Credential=k\r\n\r\n");
        let h = seen(&head.as_bytes().chunks(8192).collect::<Vec<_>>());
        assert!(h.kept.len() <= KEPT_BYTES + 8, "{} bytes kept", h.kept.len());
        assert_eq!(h.request_line_bytes(), target.len() + "GET  HTTP/1.1\r\n".len());
        let r = h.request();
        assert_eq!(r.query, vec![("Action".into(), "A".into())], "the cut pair is dropped");
        assert_eq!(r.header("authorization"), Some("ACS3-HMAC-SHA256 Credential=k"));
    }

    #[test]
    fn only_hypers_bare_refusals_are_replaced() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(hypers_refusal(bare), Some(431));
        assert_eq!(
            hypers_refusal(b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"),
            Some(414)
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 54\r\n\r\n{}";
        assert_eq!(hypers_refusal(ours), None);
        assert_eq!(hypers_refusal(b"HTTP/1.0 400 Bad Request\r\ncontent-length: 0\r\n\r\n"), Some(400));
        assert_eq!(hypers_refusal(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
        assert!(starts_an_answer(b"HTTP/1.1 200 OK\r\n"));
        assert!(!starts_an_answer(b"HTTP/1.1 100 Continue\r\n\r\n"));
        assert!(!starts_an_answer(b"{\"body\": 1}"));
    }
}
