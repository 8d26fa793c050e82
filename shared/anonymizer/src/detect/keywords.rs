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

/// Offsets where a run of word bytes starts (shared by the digit-run detectors, so each
/// visits words instead of bytes), and whether any keyword could matter: every keyword
/// group needs a digit or a `=`/`:` after the keyword.
fn word_starts(bytes: &[u8]) -> (Vec<usize>, bool) {
    let mut out = Vec::with_capacity(bytes.len() / 6 + 1);
    let mut prev = false;
    let mut trigger = false;
    for (i, &b) in bytes.iter().enumerate() {
        let w = super::is_word_byte(b);
        if w && !prev {
            out.push(i);
        }
        trigger |= b.is_ascii_digit() || b == b'=' || b == b':';
        prev = w;
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
