//! The keyword automaton, built once: every keyword of every group in one case-insensitive
//! Aho-Corasick automaton, with the tail and trigram tables that let the scan skip it.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::super::{bit_contains, bit_insert, folded_trigram};
use super::Group;

/// A keyword match: byte range and the index of the pattern within its group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KwMatch {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) local: usize,
    pub(super) group: Group,
}

impl KwMatch {
    pub(crate) const fn start(&self) -> usize {
        self.start
    }

    pub(crate) const fn end(&self) -> usize {
        self.end
    }

    /// Index of the pattern within its group's list.
    pub(crate) const fn local(&self) -> usize {
        self.local
    }
}

pub(super) struct Automaton {
    pub(super) ac: Option<AhoCorasick>,
    /// ASCII-lowercased last two bytes of every identity key (a 64 Ki-bit set).
    pub(super) id_tails: Vec<u64>,
    /// ASCII-lowercased last [`ID_END`] bytes (or all, if fewer) of every identity key,
    /// hashed with their length by [`id_end`] (a 64 Ki-bit set).
    pub(super) id_ends: Vec<u64>,
    /// Bit `n` set: some identity key's [`id_end`] is `n` bytes long.
    pub(super) id_end_lens: u8,
    /// ASCII-lowercased last two bytes before the final space of every unit word and street
    /// ending (a 64 Ki-bit set).
    pub(super) place_tails: Vec<u64>,
    /// The first three bytes of every credential key ([`super::folded_trigram`] of
    /// [`KEY_GRAM_BITS`] bits).
    pub(super) secret_heads: Vec<u64>,
    /// (group, local index) per global pattern id
    pub(super) ids: Vec<(Group, usize)>,
    /// Longest pattern, in bytes.
    pub(super) max_len: usize,
}

pub(super) fn automaton() -> &'static Automaton {
    static A: OnceLock<Automaton> = OnceLock::new();
    A.get_or_init(|| {
        let groups: [(Group, &[&str]); 5] = [
            (Group::SecretKey, super::super::secret::SECRET_KEYS),
            (Group::IdentityKey, super::super::handle::IDENTITY_KEYS),
            (Group::Unit, super::super::address::UNITS),
            (Group::Ending, super::super::address::STREET_ENDINGS),
            (Group::Licence, super::super::numbers::LICENCE_CUES),
        ];
        let mut pats: Vec<&str> = Vec::new();
        let mut ids = Vec::new();
        for (g, list) in groups {
            for (k, p) in list.iter().enumerate() {
                pats.push(p);
                ids.push((g, k));
            }
        }
        let ac = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&pats)
            .ok();
        let max_len = pats.iter().map(|p| p.len()).max().unwrap_or(0);
        let mut id_tails = vec![0u64; 1024];
        for k in super::super::handle::IDENTITY_KEYS {
            if let [.., a, b] = k.as_bytes() {
                set_tail(&mut id_tails, *a, *b);
            }
        }
        let mut id_ends = vec![0u64; 1024];
        let mut id_end_lens = 0u8;
        for k in super::super::handle::IDENTITY_KEYS {
            let b = k.as_bytes();
            let end = b.get(b.len().saturating_sub(ID_END)..).unwrap_or(b);
            bit_insert(&mut id_ends, id_end(end));
            id_end_lens |= 1 << end.len();
        }
        let mut secret_heads = vec![0u64; 1024];
        for k in super::super::secret::SECRET_KEYS {
            if let [a, b, c, ..] = k.as_bytes() {
                bit_insert(&mut secret_heads, folded_trigram(*a, *b, *c, KEY_GRAM_BITS));
            }
        }
        let mut place_tails = vec![0u64; 1024];
        for k in super::super::address::UNITS
            .iter()
            .chain(super::super::address::STREET_ENDINGS)
        {
            if let [.., a, b, b' '] = k.as_bytes() {
                set_tail(&mut place_tails, *a, *b);
            }
        }
        Automaton {
            ac,
            id_tails,
            id_ends,
            id_end_lens,
            place_tails,
            secret_heads,
            ids,
            max_len,
        }
    })
}

/// Index of two bytes, ASCII-lowercased, in a 64 Ki-bit set.
pub(super) fn tail(a: u8, b: u8) -> usize {
    usize::from(a.to_ascii_lowercase()) << 8 | usize::from(b.to_ascii_lowercase())
}

/// Bits of the credential keys' trigram set ([`Automaton::secret_heads`]): 64 Ki.
pub(super) const KEY_GRAM_BITS: u32 = 16;

/// Most bytes at the end of an identity key that [`Automaton::id_ends`] holds.
pub(super) const ID_END: usize = 5;

/// Where the bytes `end` (at most [`ID_END`]), ASCII-lowercased, fall in a 64 Ki-bit set.
pub(super) fn id_end(end: &[u8]) -> usize {
    let v = end.iter().fold(end.len() as u64, |v, &b| {
        v << 8 | u64::from(b.to_ascii_lowercase())
    });
    (v.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// Whether an identity key (any ASCII case) may end at `q`: the last [`ID_END`] bytes of
/// one (all of a shorter one) end there, up to a collision in [`Automaton::id_ends`].
pub(super) fn may_end_identity_key(a: &Automaton, bytes: &[u8], q: usize) -> bool {
    (1..=ID_END).any(|n| {
        a.id_end_lens & (1 << n) != 0
            && q.checked_sub(n)
                .and_then(|s| bytes.get(s..q))
                .is_some_and(|end| bit_contains(&a.id_ends, id_end(end)))
    })
}

/// Add the two bytes `a`, `b` (any ASCII case) to the 64 Ki-bit set `set`.
pub(super) fn set_tail(set: &mut [u64], a: u8, b: u8) {
    bit_insert(set, tail(a, b));
}

/// Whether the two bytes `a`, `b` (any ASCII case) are in the 64 Ki-bit set `set`.
pub(super) fn has_tail(set: &[u64], a: u8, b: u8) -> bool {
    bit_contains(set, tail(a, b))
}
