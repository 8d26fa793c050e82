//! Fast seeded hashing for the crate's hot maps: on the write path the graph's per-write node
//! id memo and merge index, the SQLite store's id directory and per-batch id -> nid map; in
//! the signature miner its signature index and its cache of line shapes (looked up and
//! cleared, never iterated, so the seed changes no label).

use std::hash::{BuildHasher, Hasher};

/// Hashing of ids for the maps of the writer's path (see the module doc): a folded multiply
/// per eight bytes under a random per-process seed (the scheme of the foldhash crate), a few
/// instructions per id where the standard SipHash took about two hundred. The ids the store
/// sees are keyed blind indexes, which no one can choose; the graph's memo is keyed by node
/// keys from a tenant's own records, and the random seed keeps anyone from choosing keys
/// that collide, at little cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdHash {
    seed: u64,
}

impl Default for IdHash {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed = *SEED.get_or_init(|| std::hash::RandomState::new().hash_one(0u64));
        Self { seed }
    }
}

impl BuildHasher for IdHash {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            acc: self.seed,
            key: self.seed.rotate_left(32) ^ 0x243f_6a88_85a3_08d3,
        }
    }
}

/// The hasher of [`IdHash`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdHasher {
    acc: u64,
    key: u64,
}

impl IdHasher {
    fn mix(&mut self, word: u64) {
        let p = u128::from(self.acc ^ word) * u128::from(self.key);
        #[allow(clippy::cast_possible_truncation)] // the halves of the product, folded
        let folded = (p as u64) ^ ((p >> 64) as u64);
        self.acc = folded;
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.mix(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        // The length tells "ab" from "ab\0".
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        b[7] = u8::try_from(rest.len()).unwrap_or(0);
        if !rest.is_empty() {
            self.mix(u64::from_le_bytes(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i) | 0x100);
    }

    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = *self;
        h.mix(0x1f83_d9ab_fb41_bd6b);
        h.acc
    }
}
