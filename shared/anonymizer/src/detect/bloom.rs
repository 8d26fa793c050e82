//! A Bloom filter over ASCII-lowercased words: a cache-resident "certainly not in the list"
//! answer before a lookup in a lexicon table (150k entries, several MiB: each lookup there
//! is a few cache misses).

use super::swar::{in_range, HIGHS};

/// Bit set with two probes per word, both taken from one 64-bit hash.
#[derive(Debug)]
pub(crate) struct Bloom {
    bits: Vec<u64>,
    /// Bit count minus one (a power of two minus one).
    mask: u64,
}

/// 64-bit hash of `w` with ASCII letters lower-cased, or `None` when `w` holds a non-ASCII
/// byte (callers then skip the filter). Eight bytes per multiply.
#[inline]
pub(crate) fn ascii_lower_hash(w: &[u8]) -> Option<u64> {
    let mut h: u64 = 0x243f_6a88_85a3_08d3 ^ (w.len() as u64);
    for chunk in w.chunks(8) {
        // the chunk as one little-endian word, zero-padded (the bytes of a short last chunk
        // fill its low end), lower-cased eight bytes at a time (SWAR)
        let mut a = [0u8; 8];
        a.get_mut(..chunk.len())?.copy_from_slice(chunk);
        let x = u64::from_le_bytes(a);
        if x & HIGHS != 0 {
            return None;
        }
        // `A`-`Z` gain 0x20: the high bit of each such byte, moved down two places
        let v = x | (in_range(x, b'A', b'Z') >> 2);
        h = mix(h, v);
    }
    Some(finish(h))
}

/// One chunk (as a little-endian word) into the running hash.
fn mix(h: u64, v: u64) -> u64 {
    let h = (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

/// murmur3's finaliser: every input bit reaches both probes.
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Bloom {
    /// An empty filter of `1 << log2_bits` bits.
    pub(crate) fn new(log2_bits: u32) -> Self {
        let n = 1usize << log2_bits;
        Self {
            bits: vec![0; n.div_ceil(64)],
            mask: (n as u64) - 1,
        }
    }

    fn probes(&self, h: u64) -> [u64; 2] {
        [h & self.mask, (h >> 32) & self.mask]
    }

    /// Add a word (any case; ASCII letters are folded). Words with non-ASCII bytes are not
    /// added: [`Self::may_contain`] answers `true` for every such word.
    pub(crate) fn insert(&mut self, w: &str) {
        let Some(h) = ascii_lower_hash(w.as_bytes()) else {
            return;
        };
        for p in self.probes(h) {
            if let Some(slot) = self.bits.get_mut((p / 64) as usize) {
                *slot |= 1 << (p % 64);
            }
        }
    }

    /// `false` only when no inserted word equals `w` up to ASCII case; `true` for every word
    /// holding a non-ASCII byte.
    #[inline]
    pub(crate) fn may_contain(&self, w: &[u8]) -> bool {
        let Some(h) = ascii_lower_hash(w) else {
            return true;
        };
        self.probes(h).iter().all(|&p| {
            self.bits
                .get((p / 64) as usize)
                .is_some_and(|s| s & (1 << (p % 64)) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_words_are_found_in_any_case_and_most_others_are_not() {
        let mut b = Bloom::new(16);
        let words: Vec<String> = (0..2000).map(|i| format!("name{i}x")).collect();
        for w in &words {
            b.insert(w);
        }
        for w in &words {
            assert!(b.may_contain(w.as_bytes()));
            assert!(b.may_contain(w.to_uppercase().as_bytes()));
        }
        let false_pos = (0..2000)
            .filter(|i| b.may_contain(format!("other{i}y").as_bytes()))
            .count();
        assert!(false_pos < 100, "{false_pos}");
        // non-ASCII words are never rejected
        assert!(b.may_contain("søren".as_bytes()));
    }

    #[test]
    fn hash_matches_a_byte_by_byte_fold() {
        // the hash as defined: each chunk of up to eight bytes, lower-cased byte by byte, into
        // the low end of a zeroed word (mixing and finaliser shared: the SWAR fold is tested)
        fn reference(w: &[u8]) -> Option<u64> {
            let mut h: u64 = 0x243f_6a88_85a3_08d3 ^ (w.len() as u64);
            for chunk in w.chunks(8) {
                let mut v = 0u64;
                for (k, &b) in chunk.iter().enumerate() {
                    if b >= 0x80 {
                        return None;
                    }
                    v |= u64::from(b.to_ascii_lowercase()) << (8 * k);
                }
                h = mix(h, v);
            }
            Some(finish(h))
        }
        // every ASCII byte (letters next to `@`, `[`, `` ` ``, `{`), and bytes from 0x80 up
        let mut rng = crate::detect::Xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let x = rng.next();
            let len = (x % 20) as usize;
            let w: Vec<u8> = (0..len)
                .map(|k| {
                    let b = (x >> (3 * k % 56)) as u8;
                    if x.is_multiple_of(7) {
                        b
                    } else {
                        b & 0x7F
                    }
                })
                .collect();
            assert_eq!(ascii_lower_hash(&w), reference(&w), "{w:?}");
        }
    }

    #[test]
    fn hash_distinguishes_lengths_and_chunks() {
        assert_ne!(
            ascii_lower_hash(b"abcdefgh"),
            ascii_lower_hash(b"abcdefgh\0")
        );
        assert_ne!(ascii_lower_hash(b"a"), ascii_lower_hash(b"b"));
        assert_eq!(ascii_lower_hash(b"KeViN"), ascii_lower_hash(b"kevin"));
        assert_eq!(ascii_lower_hash("é".as_bytes()), None);
    }
}
