//! What clients put on the wire, kept per access key.
//!
//! The SDK target needs to see exactly what an official SDK sent (method,
//! raw query string, headers as received, body) without a proxy in between.
//! The emulator keeps a short record of the requests signed with a
//! *watched* access key: each SDK trial watches its own tenant's keys, and
//! `apiconform serve` watches the default keys and shows their record at
//! `GET /_apiconform/requests?vendor=V`.
//!
//! Nothing is recorded for a key nobody watches, so the ordinary request
//! path pays one relaxed atomic load. A watched key keeps at most
//! [`PER_KEY`] requests and [`PER_KEY_BYTES`] of them (the oldest go first),
//! so a long-running server stays bounded even when a client sends the
//! largest requests the limits let through.

use crate::protocol::HttpRequest;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// At most this many requests are kept per watched key.
pub const PER_KEY: usize = 1000;
/// At most this many bytes of requests (target, headers, body) are kept per
/// watched key: a thousand SDK requests of a few KiB fit.
pub const PER_KEY_BYTES: usize = 8 << 20;
/// Bodies longer than this are kept truncated (the SDK requests under test
/// are a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// One request as it arrived, and the status it was answered with.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WireRecord {
    pub method: String,
    pub path: String,
    /// The query string exactly as sent (percent-encoding style included).
    pub raw_query: String,
    /// Header names lowercased (HTTP/1 does not keep their case), in the
    /// order they arrived.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: u16,
}

impl WireRecord {
    /// Back to the emulator's request shape (query decoded).
    pub fn as_request(&self) -> HttpRequest {
        HttpRequest {
            method: self.method.clone(),
            path: self.path.clone(),
            query: HttpRequest::parse_query(&self.raw_query),
            headers: self.headers.clone(),
            body: self.body.clone().into_bytes(),
        }
    }
}

#[derive(Default)]
pub struct Wiretap {
    watched: AtomicUsize,
    records: Mutex<HashMap<String, Kept>>,
}

/// One watched key's requests and their size.
#[derive(Default)]
struct Kept {
    list: VecDeque<WireRecord>,
    bytes: usize,
}

impl WireRecord {
    fn bytes(&self) -> usize {
        self.method.len()
            + self.path.len()
            + self.raw_query.len()
            + self.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + self.body.len()
    }
}

impl Wiretap {
    /// Starts keeping requests signed with `access_key_id`.
    pub fn watch(&self, access_key_id: &str) {
        let mut r = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if !r.contains_key(access_key_id) {
            r.insert(access_key_id.to_string(), Kept::default());
            self.watched.store(r.len(), Ordering::Relaxed);
        }
    }

    /// Stops watching `access_key_id` and forgets its record.
    pub fn unwatch(&self, access_key_id: &str) {
        let mut r = self.records.lock().unwrap_or_else(|e| e.into_inner());
        r.remove(access_key_id);
        self.watched.store(r.len(), Ordering::Relaxed);
    }

    /// True when some key is watched (cheap; checked on every request).
    pub fn active(&self) -> bool {
        self.watched.load(Ordering::Relaxed) > 0
    }

    /// Keeps `req` if its access key is watched.
    pub fn keep(&self, req: &HttpRequest, raw_query: &str, status: u16) {
        let Some(ak) = access_key_of(req) else { return };
        let mut r = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let Some(kept) = r.get_mut(&ak) else { return };
        let body = &req.body[..req.body.len().min(MAX_BODY)];
        let record = WireRecord {
            method: req.method.clone(),
            path: req.path.clone(),
            raw_query: raw_query.to_string(),
            headers: req.headers.clone(),
            body: String::from_utf8_lossy(body).into_owned(),
            status,
        };
        kept.bytes += record.bytes();
        kept.list.push_back(record);
        while kept.list.len() > PER_KEY || (kept.bytes > PER_KEY_BYTES && kept.list.len() > 1) {
            if let Some(old) = kept.list.pop_front() {
                kept.bytes -= old.bytes();
            }
        }
    }

    /// Takes (and clears) what was kept for these keys, in arrival order
    /// per key.
    pub fn take(&self, keys: &[&str]) -> Vec<WireRecord> {
        let mut r = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for k in keys {
            if let Some(kept) = r.get_mut(*k) {
                out.extend(kept.list.drain(..));
                kept.bytes = 0;
            }
        }
        out
    }

    /// A copy of what was kept for these keys.
    pub fn peek(&self, keys: &[&str]) -> Vec<WireRecord> {
        let r = self.records.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter().filter_map(|k| r.get(*k)).flat_map(|kept| kept.list.iter().cloned()).collect()
    }
}

/// The access key a request is signed with, wherever its scheme puts it:
/// `Credential=AK/...` (ACS3, Volcengine, AWS SigV4) in `Authorization`,
/// else the `AccessKeyId` parameter (Alibaba RPC V1, in the query or, from
/// pop-core's POST, in the form body).
pub fn access_key_of(req: &HttpRequest) -> Option<String> {
    if let Some(auth) = req.header("authorization") {
        if let Some(i) = auth.find("Credential=") {
            let rest = &auth[i + "Credential=".len()..];
            let end = rest.find(['/', ',', ' ']).unwrap_or(rest.len());
            return Some(rest[..end].to_string());
        }
    }
    req.all_params().into_iter().find(|(k, _)| k == "AccessKeyId").map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)], query: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: "/".into(),
            query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn the_access_key_is_found_in_every_scheme() {
        let acs3 = req(&[("authorization", "ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host,Signature=x")], &[]);
        assert_eq!(access_key_of(&acs3).as_deref(), Some("AK1"));
        let v4 = req(&[("authorization", "HMAC-SHA256 Credential=AK2/20240101/cn-beijing/ecs/request, S=1")], &[]);
        assert_eq!(access_key_of(&v4).as_deref(), Some("AK2"));
        let v1 = req(&[], &[("AccessKeyId", "AK3")]);
        assert_eq!(access_key_of(&v1).as_deref(), Some("AK3"));
        assert_eq!(access_key_of(&req(&[], &[])), None);
    }

    #[test]
    fn only_watched_keys_are_kept_and_bounded() {
        let tap = Wiretap::default();
        let r = req(&[], &[("AccessKeyId", "AK")]);
        tap.keep(&r, "AccessKeyId=AK", 200);
        assert!(!tap.active());
        tap.watch("AK");
        for _ in 0..PER_KEY + 5 {
            tap.keep(&r, "AccessKeyId=AK", 200);
        }
        assert_eq!(tap.peek(&["AK"]).len(), PER_KEY);
        assert_eq!(tap.take(&["AK"]).len(), PER_KEY);
        assert!(tap.take(&["AK"]).is_empty());
        tap.unwatch("AK");
        assert!(!tap.active());
    }

    #[test]
    fn the_largest_requests_are_bounded_in_bytes_too() {
        let tap = Wiretap::default();
        tap.watch("AK");
        let mut big = req(&[("x-pad", &"p".repeat(60_000))], &[("AccessKeyId", "AK")]);
        big.body = vec![b'b'; 2 * MAX_BODY];
        for i in 0..300 {
            tap.keep(&big, &format!("AccessKeyId=AK&n={i}"), 200);
        }
        let kept = tap.peek(&["AK"]);
        let bytes: usize = kept.iter().map(WireRecord::bytes).sum();
        assert!(bytes <= PER_KEY_BYTES, "{bytes} bytes kept");
        assert!(kept.len() > 10 && kept.len() < 300, "{} kept", kept.len());
        assert!(kept.last().unwrap().raw_query.ends_with("n=299"), "the newest is kept");
        assert_eq!(kept[0].body.len(), MAX_BODY);
    }
}
