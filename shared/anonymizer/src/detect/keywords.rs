//! One case-insensitive Aho-Corasick scan for every keyword-triggered detector (credential key
//! names, identity key names, address unit words, street-name endings, licence cues): the
//! text is scanned once and each detector reads its own matches.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Which detector a keyword belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    SecretKey,
    IdentityKey,
    Unit,
    Ending,
    Licence,
}

/// A keyword match: byte range and the index of the pattern within its group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KwMatch {
    start: usize,
    end: usize,
    local: usize,
    group: Group,
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

struct Automaton {
    ac: Option<AhoCorasick>,
    /// (group, local index) per global pattern id
    ids: Vec<(Group, usize)>,
}

fn automaton() -> &'static Automaton {
    static A: OnceLock<Automaton> = OnceLock::new();
    A.get_or_init(|| {
        let groups: [(Group, &[&str]); 5] = [
            (Group::SecretKey, super::secret::SECRET_KEYS),
            (Group::IdentityKey, super::handle::IDENTITY_KEYS),
            (Group::Unit, super::address::UNITS),
            (Group::Ending, super::address::STREET_ENDINGS),
            (Group::Licence, super::numbers::LICENCE_CUES),
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
        Automaton { ac, ids }
    })
}

/// All keyword matches of one text, and where its words start.
#[derive(Debug, Default)]
pub(crate) struct Keywords {
    matches: Vec<KwMatch>,
    /// Offsets of the first byte of every run of word bytes (`super::is_word_byte`).
    word_starts: Vec<usize>,
}

/// Bytes that continue a word (`super::is_word_byte`) and bytes after which a keyword can
/// matter (digits, `=`, `:`), as tables.
const WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0usize;
    while b < 256 {
        t[b] = super::is_word_byte(b as u8);
        b += 1;
    }
    t
};
const TRIGGER: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_digit() || c == b'=' || c == b':';
        b += 1;
    }
    t
};

/// Offsets where a run of word bytes starts (shared by the digit-run detectors, so each
/// visits words instead of bytes), and whether any keyword could matter: every keyword
/// group needs a digit or a `=`/`:` after the keyword. Branch-free per byte, by chunks.
fn word_starts(bytes: &[u8]) -> (Vec<usize>, bool) {
    const CHUNK: usize = 64;
    let mut out = Vec::with_capacity(bytes.len() / 6 + 1);
    // a chunk has at most CHUNK / 2 + 1 word starts
    let mut buf = [0usize; CHUNK / 2 + 2];
    let mut prev = false;
    let mut trigger = false;
    for (ci, chunk) in bytes.chunks(CHUNK).enumerate() {
        let base = ci * CHUNK;
        let mut n = 0usize;
        for (k, &b) in chunk.iter().enumerate() {
            let w = WORD[usize::from(b)];
            if let Some(slot) = buf.get_mut(n) {
                *slot = base + k;
            }
            n += usize::from(w & !prev);
            prev = w;
            trigger |= TRIGGER[usize::from(b)];
        }
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    (out, trigger)
}

impl Keywords {
    /// Scan `text` once (overlapping matches, so no group hides another's keyword).
    pub(crate) fn scan(text: &str) -> Self {
        let (word_starts, trigger) = word_starts(text.as_bytes());
        let a = automaton();
        let (Some(ac), true) = (&a.ac, trigger) else {
            return Self {
                matches: Vec::new(),
                word_starts,
            };
        };
        let matches = ac
            .find_overlapping_iter(text)
            .filter_map(|m| {
                let &(group, local) = a.ids.get(m.pattern().as_usize())?;
                Some(KwMatch {
                    start: m.start(),
                    end: m.end(),
                    local,
                    group,
                })
            })
            .collect();
        Self {
            matches,
            word_starts,
        }
    }

    /// Offsets where words start, ascending.
    pub(crate) fn word_starts(&self) -> &[usize] {
        &self.word_starts
    }

    /// The matches of one group, in text order.
    pub(crate) fn of(&self, g: Group) -> impl Iterator<Item = &KwMatch> {
        self.matches.iter().filter(move |m| m.group == g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_starts_match_a_byte_by_byte_scan_across_chunks() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(if i % 3 == 0 { "ab-1 " } else { "é_x9," });
        }
        let bytes = text.as_bytes();
        let want: Vec<usize> = (0..bytes.len())
            .filter(|&i| {
                super::super::is_word_byte(bytes[i])
                    && (i == 0 || !super::super::is_word_byte(bytes[i - 1]))
            })
            .collect();
        let (got, trigger) = word_starts(bytes);
        assert_eq!(got, want);
        assert!(trigger);
        assert!(!word_starts(b"no keys here").1);
    }
}
