//! The tenant's directory of people (Slack, Jira, Linear, Datadog users supplied by the
//! connectors), matched with one Aho-Corasick automaton.

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};
use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::keywords::Keywords;
use super::lexicon::Lexicon;
use super::{before, bit_contains, bit_insert, folded_trigram, is_word_byte};
use crate::span::{EntityType, Span};

/// One person known to the tenant.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DirectoryPerson {
    /// Names: real name, display name (`Jane Doe`, `Jane`).
    #[serde(default)]
    pub names: Vec<String>,
    /// Handles without `@` (`jdoe`, `jane.doe`).
    #[serde(default)]
    pub handles: Vec<String>,
    /// E-mail addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Vendor user ids (`U024BE7LH`, Atlassian account ids).
    #[serde(default)]
    pub ids: Vec<String>,
}

impl std::fmt::Debug for DirectoryPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryPerson")
            .field("names", &self.names.len())
            .field("handles", &self.handles.len())
            .field("emails", &self.emails.len())
            .field("ids", &self.ids.len())
            .finish()
    }
}

/// The tenant's people. Debug output shows counts only.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// The people.
    #[serde(default)]
    pub people: Vec<DirectoryPerson>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Directory {{ people: {} }}", self.people.len())
    }
}

/// Compiled directory.
pub(crate) struct DirectoryMatcher {
    ac: Option<AhoCorasick>,
    types: Vec<EntityType>,
    /// The first three bytes of every pattern ([`super::folded_trigram`] of [`TRIGRAM_BITS`]
    /// bits; every pattern has at least three bytes): a word start whose trigram is absent
    /// cannot start a match, so the automaton only runs where one can.
    trigrams: Vec<u64>,
    /// Every pattern starts with a word byte (otherwise: scan the whole text).
    word_start_only: bool,
}

/// Bits in the trigram set.
const TRIGRAM_BITS: u32 = 17;

impl std::fmt::Debug for DirectoryMatcher {
    // patterns are personal data: counts only
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DirectoryMatcher {{ patterns: {} }}", self.types.len())
    }
}

impl DirectoryMatcher {
    pub(crate) fn new(dir: &Directory) -> Self {
        let lex = Lexicon::get();
        let mut pats: Vec<String> = Vec::new();
        let mut types = Vec::new();
        let mut add = |p: &str, t: EntityType| {
            let p = p.trim();
            if p.chars().count() >= 3 {
                pats.push(p.to_string());
                types.push(t);
            }
        };
        for person in &dir.people {
            for n in &person.names {
                add(n, EntityType::Person);
                // single name parts, when they cannot be mistaken for ordinary words
                if n.split_whitespace().count() > 1 {
                    for part in n.split_whitespace() {
                        let l = part.to_lowercase();
                        if l.chars().count() >= 3 && !lex.is_word(&l) {
                            add(part, EntityType::Person);
                        }
                    }
                }
            }
            for h in &person.handles {
                let h = h.trim_start_matches('@');
                if !lex.is_word(&h.to_lowercase()) {
                    add(h, EntityType::UserHandle);
                }
            }
            for e in &person.emails {
                add(e, EntityType::EmailAddress);
            }
            for i in &person.ids {
                add(i, EntityType::UserHandle);
            }
        }
        let ac = if pats.is_empty() {
            None
        } else {
            // a contiguous NFA rather than a DFA: the searches here are short (a few bytes
            // from a word start), and with the much larger DFA they ran few instructions but
            // took about a tenth of the CPU time of the ops corpus (perf), memory-bound
            AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .start_kind(StartKind::Both)
                .build(&pats)
                .ok()
        };
        let mut trigrams = vec![0u64; (1 << TRIGRAM_BITS) / 64];
        for p in &pats {
            if let [a, b, c, ..] = p.as_bytes() {
                bit_insert(&mut trigrams, folded_trigram(*a, *b, *c, TRIGRAM_BITS));
            }
        }
        let word_start_only = pats
            .iter()
            .all(|p| p.as_bytes().first().is_some_and(|&b| is_word_byte(b)));
        Self {
            ac,
            types,
            trigrams,
            word_start_only,
        }
    }

    /// Directory entries in `text`: whole words only (patterns start with a letter, digit or
    /// `_` since they are names, handles, e-mails and ids at least 3 characters long, so
    /// every match starts at a word start).
    #[cfg(test)]
    pub(crate) fn find(&self, text: &str, kw: &Keywords, out: &mut Vec<Span>) {
        let mut starts = Vec::new();
        if self.at_word_starts() {
            self.push_starts(text.as_bytes(), kw.word_starts(), &mut starts);
        }
        self.find_from(text, &starts, out);
    }

    /// The `word_starts` where an entry may start ([`DirectoryMatcher::may_start`]), in order,
    /// onto `out`.
    pub(crate) fn push_starts(&self, bytes: &[u8], word_starts: &[usize], out: &mut Vec<usize>) {
        out.extend(
            word_starts
                .iter()
                .copied()
                .filter(|&s| self.may_start(bytes, s)),
        );
    }

    /// Whether the entries are looked for at word starts only: then [`DirectoryMatcher::find_from`]
    /// reads the word starts [`DirectoryMatcher::may_start`] lets through (an empty directory
    /// has none, and one with an entry that starts with another byte scans the whole text).
    pub(crate) fn at_word_starts(&self) -> bool {
        self.ac.is_some() && self.word_start_only
    }

    /// Whether an entry can start at the word start `s`: its first three bytes are in the
    /// trigram set (every pattern has at least three bytes).
    #[inline]
    pub(crate) fn may_start(&self, bytes: &[u8], s: usize) -> bool {
        let Some(&[a, b, c]) = bytes.get(s..s + 3) else {
            return false;
        };
        bit_contains(&self.trigrams, folded_trigram(a, b, c, TRIGRAM_BITS))
    }

    /// The directory entries in `text` (whole words) given `starts`: the word starts of `text` that
    /// [`DirectoryMatcher::may_start`] lets through, ascending (read only when
    /// [`DirectoryMatcher::at_word_starts`]), so a caller that visits the word starts anyway
    /// (`numbers::ibans`) collects them on the way.
    pub(crate) fn find_from(&self, text: &str, starts: &[usize], out: &mut Vec<Span>) {
        let Some(ac) = &self.ac else { return };
        let bytes = text.as_bytes();
        if !self.word_start_only {
            for m in ac.find_iter(text) {
                if before(bytes, m.start()).is_some_and(is_word_byte)
                    || bytes.get(m.end()).is_some_and(|&b| is_word_byte(b))
                {
                    continue;
                }
                self.push(bytes, m.start(), m.end(), m.pattern().as_usize(), out);
            }
            return;
        }
        let mut after = 0usize;
        for &s in starts {
            if s < after {
                continue;
            }
            let input = Input::new(text).range(s..).anchored(Anchored::Yes);
            let Some(m) = ac.find(input) else {
                continue;
            };
            if bytes.get(m.end()).is_some_and(|&b| is_word_byte(b)) {
                continue;
            }
            self.push(bytes, m.start(), m.end(), m.pattern().as_usize(), out);
            after = m.end();
        }
    }

    fn push(&self, bytes: &[u8], start: usize, end: usize, pattern: usize, out: &mut Vec<Span>) {
        let t = self
            .types
            .get(pattern)
            .copied()
            .unwrap_or(EntityType::Person);
        let s = if t == EntityType::UserHandle && before(bytes, start) == Some(b'@') {
            start - 1
        } else {
            start
        };
        out.push(Span::new(s, end, t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(dir: &Directory, t: &str) -> Vec<(String, EntityType)> {
        let mut v = Vec::new();
        DirectoryMatcher::new(dir).find(t, &Keywords::scan(t), &mut v);
        v.iter()
            .map(|s| (t[s.start..s.end].to_string(), s.entity_type))
            .collect()
    }

    #[test]
    fn whole_words_only_and_longest_entry() {
        let dir = Directory {
            people: vec![DirectoryPerson {
                names: vec!["Zygmunt Okafor".into()],
                handles: vec!["zokafor".into()],
                emails: vec!["z.okafor@example.com".into()],
                ids: vec!["U024BE7LH".into()],
            }],
        };
        use EntityType::*;
        assert_eq!(
            found(
                &dir,
                "ZYGMUNT OKAFOR and @zokafor (U024BE7LH) mail z.okafor@example.com"
            ),
            vec![
                ("ZYGMUNT OKAFOR".to_string(), Person),
                ("@zokafor".to_string(), UserHandle),
                ("U024BE7LH".to_string(), UserHandle),
                ("z.okafor@example.com".to_string(), EmailAddress),
            ]
        );
        assert!(found(&dir, "xzokafor okaforx U024BE7LH2").is_empty());
        assert_eq!(
            found(&dir, "by Okafor."),
            vec![("Okafor".to_string(), Person)]
        );
    }

    #[test]
    fn entries_starting_with_punctuation_fall_back_to_a_full_scan() {
        let dir = Directory {
            people: vec![DirectoryPerson {
                ids: vec!["+4915112345".into()],
                ..DirectoryPerson::default()
            }],
        };
        assert_eq!(
            found(&dir, "sms +4915112345 now"),
            vec![("+4915112345".to_string(), EntityType::UserHandle)]
        );
    }
}
