//! The store of signature nonces a server has seen.
//!
//! A nonce only has to be unique within the timestamp window
//! (`shared/reference/vendor-protocols.md` §2.4 step 6, [`protocol::TIME_WINDOW`]): one seen
//! longer ago is accepted again. A long-running server must also forget old
//! nonces without ever scanning the whole store under load, and one vendor's
//! traffic must not wait on another's lock.
//!
//! So the store is split into shards by a hash of (vendor, access key,
//! nonce), each behind its own lock, and each shard keeps two generations: a
//! shard's `current` map takes new nonces for one window; at the first request
//! after that window it becomes `previous` and the old `previous`, whose
//! nonces are all older than the window by then, is dropped whole. Every
//! nonce is dropped once, so expiry costs O(1) amortized per request, and a
//! shard holds at most the nonces of the last two windows.
//!
//! Memory is bounded too: the store keeps at most [`MAX_NONCES`] (a shard's
//! generation also turns over when it holds its share), so a nonce is
//! guaranteed unique within the window as long as the server sees fewer than
//! `MAX_NONCES / 2` signed requests per window (about 580 per second); above
//! that rate the oldest nonces are forgotten early. A nonce is kept as a
//! 64-bit keyed hash of (vendor, access key, nonce), not its text: a
//! client-chosen nonce cannot grow the store, and with a per-server random
//! key two nonces collide with odds of about 2^-44 per request at the cap.

use crate::protocol;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

const SHARDS: usize = 16;
/// The most nonces the store remembers (about 40 MiB).
pub const MAX_NONCES: usize = 1 << 20;

#[derive(Default)]
struct Shard {
    /// Nonces first seen since `started` (seconds): key hash → when.
    current: HashMap<u64, i64>,
    /// Nonces of the generation before `started`.
    previous: HashMap<u64, i64>,
    started: i64,
}

impl Shard {
    /// `generation`: a generation turns over at this many nonces.
    fn fresh(&mut self, key: u64, now: i64, generation: usize) -> bool {
        let w = protocol::TIME_WINDOW;
        let age = now.saturating_sub(self.started);
        if self.current.len() >= generation {
            self.turn_over(false);
            self.started = now;
        } else if age > w {
            // `current` only took nonces up to `started + w` (this is the
            // first request after), and `previous` only up to `started`:
            // `previous` is all expired, and `current` too after two windows.
            self.turn_over(age > 2 * w);
            self.started = now;
        }
        let recent = |seen: Option<&i64>| seen.is_some_and(|s| now.saturating_sub(*s) <= w);
        if recent(self.current.get(&key)) || recent(self.previous.get(&key)) {
            return false;
        }
        self.previous.remove(&key);
        self.current.insert(key, now);
        true
    }

    /// `previous` is forgotten and `current` becomes it (or is forgotten
    /// too). The emptied map keeps its allocation and takes the next
    /// generation, so a busy server does not reallocate (or grow and shrink
    /// its memory) at every turn.
    fn turn_over(&mut self, both: bool) {
        let mut spare = std::mem::take(&mut self.previous);
        spare.clear();
        if both {
            self.current.clear();
        }
        self.previous = std::mem::replace(&mut self.current, spare);
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// Signature nonces seen within the timestamp window, per vendor and key.
pub struct NonceStore {
    shards: Vec<Mutex<Shard>>,
    /// Keyed per server, so clients cannot choose colliding nonces.
    hasher: RandomState,
    /// Nonces per shard generation.
    generation: usize,
}

impl Default for NonceStore {
    fn default() -> NonceStore {
        NonceStore::with_capacity(MAX_NONCES)
    }
}

impl NonceStore {
    /// A store that remembers at most `max` nonces.
    pub fn with_capacity(max: usize) -> NonceStore {
        NonceStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            generation: (max / SHARDS / 2).max(1),
        }
    }

    /// Records `nonce` of (`vendor`, `ak`) at `now` (seconds); false when it
    /// was already seen within the window.
    pub fn fresh(&self, vendor: &str, ak: &str, nonce: &str, now: i64) -> bool {
        let key = self.hasher.hash_one((vendor, ak, nonce));
        // The shard from the high bits; the map hashes the key again.
        let shard = &self.shards[(key >> 60) as usize % SHARDS];
        shard.lock().unwrap_or_else(|e| e.into_inner()).fresh(key, now, self.generation)
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_unique_only_within_the_window() {
        let s = NonceStore::default();
        let w = protocol::TIME_WINDOW;
        assert!(s.fresh("vendor-a", "ak", "n1", 1000));
        assert!(!s.fresh("vendor-a", "ak", "n1", 1000 + w));
        assert!(s.fresh("vendor-a", "other", "n1", 1000 + w));
        assert!(s.fresh("vendor-b", "ak", "n1", 1000 + w));
        assert!(s.fresh("vendor-a", "ak", "n1", 1000 + w + 1));
        assert!(!s.fresh("vendor-a", "ak", "n1", 1000 + w + 2));
        // Seen late in one window, replayed early in the next: still refused.
        assert!(s.fresh("vendor-a", "ak", "late", 1000 + 2 * w - 1));
        assert!(!s.fresh("vendor-a", "ak", "late", 1000 + 2 * w + 5));
    }

    #[test]
    fn old_nonces_are_forgotten_without_a_size_threshold() {
        let s = NonceStore::default();
        for i in 0..1000 {
            assert!(s.fresh("vendor-a", "ak", &format!("old{i}"), 0));
        }
        let later = 2 * protocol::TIME_WINDOW + 1;
        for i in 0..10 {
            assert!(s.fresh("vendor-a", "ak", &format!("new{i}"), later));
        }
        // A shard that saw none of the new ones still holds its old nonces
        // (it is swept at its next request), but at most its last two windows.
        for i in 0..200 {
            s.fresh("vendor-a", "ak", &format!("sweep{i}"), later);
        }
        assert!(s.len() <= 210, "{} nonces remembered", s.len());
    }

    #[test]
    fn memory_is_bounded_at_any_rate() {
        let max = 4096;
        let s = NonceStore::with_capacity(max);
        for i in 0..3 * max {
            s.fresh("vendor-a", "ak", &i.to_string(), 0);
        }
        assert!(s.len() <= max, "{} nonces remembered", s.len());
        // The most recent ones are still refused.
        assert!(!s.fresh("vendor-a", "ak", &(3 * max - 1).to_string(), 0));
    }
}
