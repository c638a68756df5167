//! Idempotency records (`ClientToken`), bounded in time and in memory.
//!
//! The vendors say a token makes a request idempotent, but none of the docs
//! under `shared/vendor-docs/` says for how long. A server that kept every record
//! would grow without bound under fresh tokens, so the emulator defines it:
//! a record lives [`LIFETIME`] seconds of the tenant's clock (wall time plus
//! what the control API advanced), and a tenant keeps at most [`MAX_RECORDS`]
//! records and [`MAX_BYTES`] of them; past either cap the oldest record is
//! forgotten first. A replay of a forgotten token runs as a new request.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, VecDeque};

/// How long a record is kept: 24 hours.
pub const LIFETIME: i64 = 24 * 3600;
/// Records per tenant.
pub const MAX_RECORDS: usize = 10_000;
/// Approximate bytes of records per tenant (keys, fingerprints, results).
pub const MAX_BYTES: usize = 8 << 20;

#[derive(Debug, Clone, PartialEq)]
struct Record {
    fingerprint: String,
    result: Map<String, Value>,
    at: i64,
    bytes: usize,
    /// Insertion number, to tell a stale entry of `order` from a live one.
    seq: u64,
}

/// `Action/ClientToken` → (request fingerprint, result).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientTokens {
    records: BTreeMap<String, Record>,
    /// Insertion order: (seq, key); entries whose seq no longer matches the
    /// record were replaced and are skipped.
    order: VecDeque<(u64, String)>,
    bytes: usize,
    seq: u64,
}

impl ClientTokens {
    /// The live record of `key` at `now`: (fingerprint, result).
    pub fn get(&self, key: &str, now: i64) -> Option<(&str, &Map<String, Value>)> {
        let r = self.records.get(key)?;
        (now.saturating_sub(r.at) < LIFETIME).then_some((r.fingerprint.as_str(), &r.result))
    }

    /// Records the result of `key` at `now`, then forgets what is expired or
    /// over the caps, oldest first.
    pub fn insert(&mut self, key: String, fingerprint: String, result: Map<String, Value>, now: i64) {
        let bytes = key.len() + fingerprint.len() + Value::Object(result.clone()).to_string().len();
        self.seq += 1;
        let rec = Record { fingerprint, result, at: now, bytes, seq: self.seq };
        if let Some(old) = self.records.insert(key.clone(), rec) {
            self.bytes -= old.bytes;
        }
        self.bytes += bytes;
        self.order.push_back((self.seq, key));
        self.evict(now);
    }

    fn evict(&mut self, now: i64) {
        while let Some((seq, key)) = self.order.front() {
            let Some(r) = self.records.get(key) else {
                self.order.pop_front();
                continue;
            };
            let over = self.records.len() > MAX_RECORDS || self.bytes > MAX_BYTES;
            if r.seq == *seq && !over && now.saturating_sub(r.at) < LIFETIME {
                break;
            }
            if r.seq == *seq {
                self.bytes -= r.bytes;
                self.records.remove(key);
            }
            self.order.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// At most `limit` records with keys after `after`, in key order, and the
    /// key to continue after (None on the last page).
    pub fn page(&self, after: Option<&str>, limit: usize) -> (Page<'_>, Option<&str>) {
        use std::ops::Bound;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut it = self.records.range::<str, _>((from, Bound::Unbounded));
        let items: Vec<(&str, &Record)> = it.by_ref().take(limit).map(|(k, r)| (k.as_str(), r)).collect();
        let next = match it.next() {
            Some(_) => items.last().map(|(k, _)| *k),
            None => None,
        };
        (Page(items), next)
    }
}

/// Records as JSON: `{"Action/token": [fingerprint, result], ...}`.
pub struct Page<'a>(Vec<(&'a str, &'a Record)>);

impl Serialize for Page<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, r) in &self.0 {
            m.serialize_entry(k, &(&r.fingerprint, &r.result))?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(t: &mut ClientTokens, key: &str, now: i64) {
        t.insert(key.to_string(), "fp".into(), Map::new(), now);
    }

    #[test]
    fn a_record_lives_its_lifetime() {
        let mut t = ClientTokens::default();
        insert(&mut t, "A/t1", 100);
        assert!(t.get("A/t1", 100 + LIFETIME - 1).is_some());
        assert!(t.get("A/t1", 100 + LIFETIME).is_none());
        insert(&mut t, "A/t2", 100 + LIFETIME);
        assert_eq!(t.len(), 1, "the expired record is forgotten");
    }

    #[test]
    fn the_oldest_record_goes_first_past_the_cap() {
        let mut t = ClientTokens::default();
        for i in 0..MAX_RECORDS + 5 {
            insert(&mut t, &format!("A/{i:06}"), 0);
        }
        assert_eq!(t.len(), MAX_RECORDS);
        assert!(t.get("A/000004", 0).is_none());
        assert!(t.get("A/000005", 0).is_some());
        // Re-recording a key moves it to the back without leaking bytes.
        insert(&mut t, "A/000005", 0);
        insert(&mut t, "A/new", 0);
        assert!(t.get("A/000005", 0).is_some());
        assert!(t.get("A/000006", 0).is_none());
        assert!(t.bytes <= MAX_BYTES);
    }

    #[test]
    fn records_are_capped_in_bytes() {
        let mut t = ClientTokens::default();
        let fp = "x".repeat(1 << 20);
        for i in 0..20 {
            t.insert(format!("A/{i}"), fp.clone(), Map::new(), 0);
        }
        assert!(t.bytes <= MAX_BYTES && t.len() < 20, "{} bytes", t.bytes);
    }

    #[test]
    fn pages_follow_key_order() {
        let mut t = ClientTokens::default();
        for k in ["A/c", "A/a", "A/b"] {
            insert(&mut t, k, 0);
        }
        let (p, next) = t.page(None, 2);
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"A/a":["fp",{}],"A/b":["fp",{}]}"#);
        assert_eq!(next, Some("A/b"));
        let (p, next) = t.page(next, 2);
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"A/c":["fp",{}]}"#);
        assert_eq!(next, None);
    }
}
