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
//! shard's `current` table takes new nonces for one window; at the first
//! request after that window it becomes `previous` and the old `previous`,
//! whose nonces are all older than the window by then, is emptied whole.
//! Every nonce is dropped once, so expiry costs O(1) amortized per request,
//! and a shard holds at most the nonces of the last two windows.
//!
//! Memory is fixed, not just bounded: each generation is an open-addressed
//! table of a fixed size (half full at most, so a probe stays short), never
//! grown, shrunk or reallocated, and an emptied table is reused. The store
//! remembers at most [`MAX_NONCES`] in [`STORE_BYTES`], so a nonce is
//! guaranteed unique within the window as long as the server sees fewer
//! than `MAX_NONCES / 2` signed requests per window (about 580 per second);
//! above that rate the oldest nonces are forgotten early. The tables are
//! zeroed pages the kernel maps on first touch, so an in-process emulator
//! pays only for what its requests touch; a long-running server calls
//! [`NonceStore::reserve`] at start and takes the whole budget at once, so its
//! resident memory does not climb while the store fills under load.
//!
//! A nonce is kept as a 64-bit keyed hash of (vendor, access key, nonce), not
//! its text: a client-chosen nonce cannot grow the store, and with a
//! per-server random key two nonces collide with odds of about 2^-44 per
//! request at the cap.

use crate::protocol;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;

const SHARDS: usize = 16;
/// The most nonces the store remembers.
pub const MAX_NONCES: usize = 1 << 20;
/// The store's memory at [`MAX_NONCES`]: 16 bytes a slot, twice as many
/// slots as nonces (32 MiB).
pub const STORE_BYTES: usize = MAX_NONCES * 2 * 16;

/// One generation: nonce key hashes and when each was seen, in a table that
/// is never more than half full. A key of 0 marks an empty slot (a hash of 0
/// is stored as 1).
struct Table {
    keys: Box<[u64]>,
    seen: Box<[i64]>,
    len: usize,
}

impl Table {
    /// A table for `nonces` nonces. The slices are zeroed allocations: the
    /// kernel maps their pages when they are first written.
    fn new(nonces: usize) -> Table {
        let slots = (2 * nonces).next_power_of_two();
        Table { keys: vec![0u64; slots].into_boxed_slice(), seen: vec![0i64; slots].into_boxed_slice(), len: 0 }
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn slot(&self, key: u64) -> usize {
        let mask = self.keys.len() - 1;
        // The low bits: the shard was chosen by the high ones.
        let mut i = key as usize & mask;
        while self.keys[i] != 0 && self.keys[i] != key {
            i = (i + 1) & mask;
        }
        i
    }

    fn seen(&self, key: u64) -> Option<i64> {
        let i = self.slot(key);
        (self.keys[i] == key).then(|| self.seen[i])
    }

    fn insert(&mut self, key: u64, at: i64) {
        let i = self.slot(key);
        if self.keys[i] == 0 {
            self.keys[i] = key;
            self.len += 1;
        }
        self.seen[i] = at;
    }

    fn clear(&mut self) {
        if self.len > 0 {
            self.keys.fill(0);
            self.len = 0;
        }
    }

    /// Writes a word of every page now (the word it holds), so the memory is
    /// resident from the start and nothing is forgotten.
    fn touch(&mut self) {
        touch_pages(&mut self.keys);
        touch_pages(&mut self.seen);
    }
}

fn touch_pages<T: Copy>(words: &mut [T]) {
    let per_page = (4096 / std::mem::size_of::<T>()).max(1);
    for i in (0..words.len()).step_by(per_page) {
        // The optimizer cannot see through `black_box`, so it must store the
        // value, which changes nothing but maps the page.
        words[i] = std::hint::black_box(words[i]);
    }
}

struct Shard {
    /// Nonces first seen since `started` (seconds).
    current: Table,
    /// Nonces of the generation before `started`.
    previous: Table,
    started: i64,
    /// A generation turns over at this many nonces.
    generation: usize,
}

impl Shard {
    fn new(generation: usize) -> Shard {
        Shard { current: Table::new(generation), previous: Table::new(generation), started: 0, generation }
    }

    fn fresh(&mut self, key: u64, now: i64) -> bool {
        let w = protocol::TIME_WINDOW;
        let age = now.saturating_sub(self.started);
        if self.current.len >= self.generation {
            self.turn_over(false);
            self.started = now;
        } else if age > w {
            // `current` only took nonces up to `started + w` (this is the
            // first request after), and `previous` only up to `started`:
            // `previous` is all expired, and `current` too after two windows.
            self.turn_over(age > 2 * w);
            self.started = now;
        }
        let recent = |seen: Option<i64>| seen.is_some_and(|s| now.saturating_sub(s) <= w);
        if recent(self.current.seen(key)) || recent(self.previous.seen(key)) {
            return false;
        }
        self.current.insert(key, now);
        true
    }

    /// `previous` is emptied and `current` becomes it (or is emptied too);
    /// the emptied table takes the next generation.
    fn turn_over(&mut self, both: bool) {
        self.previous.clear();
        if both {
            self.current.clear();
        }
        std::mem::swap(&mut self.previous, &mut self.current);
    }

    fn len(&self) -> usize {
        self.current.len + self.previous.len
    }
}

/// Signature nonces seen within the timestamp window, per vendor and key.
pub struct NonceStore {
    shards: Vec<Mutex<Shard>>,
    /// Keyed per server, so clients cannot choose colliding nonces.
    hasher: RandomState,
}

impl Default for NonceStore {
    fn default() -> NonceStore {
        NonceStore::with_capacity(MAX_NONCES)
    }
}

impl NonceStore {
    /// A store that remembers at most `max` nonces.
    pub fn with_capacity(max: usize) -> NonceStore {
        let generation = (max / SHARDS / 2).max(1);
        NonceStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new(generation))).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Records `nonce` of (`vendor`, `ak`) at `now` (seconds); false when it
    /// was already seen within the window.
    pub fn fresh(&self, vendor: &str, ak: &str, nonce: &str, now: i64) -> bool {
        let key = self.hasher.hash_one((vendor, ak, nonce)).max(1);
        let shard = &self.shards[(key >> 60) as usize % SHARDS];
        shard.lock().unwrap_or_else(|e| e.into_inner()).fresh(key, now)
    }

    /// Makes the store's whole memory resident now (a long-running server
    /// does this at start); what it holds is kept.
    pub fn reserve(&self) {
        for s in &self.shards {
            let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
            s.current.touch();
            s.previous.touch();
        }
    }

    /// The store's memory once every page is touched, in bytes.
    pub fn bytes(&self) -> usize {
        let table = |t: &Table| t.keys.len() * 8 + t.seen.len() * 8;
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(|e| e.into_inner());
                table(&s.current) + table(&s.previous)
            })
            .sum()
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
    fn memory_is_fixed_and_reserving_it_forgets_nothing() {
        let s = NonceStore::with_capacity(4096);
        let ptrs = |s: &NonceStore| -> Vec<*const u64> {
            s.shards
                .iter()
                .flat_map(|sh| {
                    let sh = sh.lock().unwrap();
                    [sh.current.keys.as_ptr(), sh.previous.keys.as_ptr()]
                })
                .collect()
        };
        let (bytes, mut before) = (s.bytes(), ptrs(&s));
        assert_eq!(bytes, 4096 * 2 * 16);
        assert!(s.fresh("vendor-a", "ak", "kept", 0));
        s.reserve();
        assert!(!s.fresh("vendor-a", "ak", "kept", 1), "reserve forgot a nonce");
        for i in 0..20 * 4096 {
            s.fresh("vendor-a", "ak", &i.to_string(), i / 1000);
        }
        // Generations turned over many times; the same tables were reused.
        let mut after = ptrs(&s);
        before.sort();
        after.sort();
        assert_eq!(before, after);
        assert_eq!(s.bytes(), bytes);
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
