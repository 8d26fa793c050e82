//! What happens to one raw record: dropped when the subject authored it, else scrubbed of the
//! subject's identities and of every alias occurrence (on word boundaries) in text and string
//! attributes.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use bacca_connectors::Record;

use super::{Aliases, AUTHOR_ROLES, ERASED};
use serde_json::Value;

/// What the rule did to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Nothing of the subject in it.
    Untouched,
    /// Kept, with the subject's identities removed and aliases replaced.
    Redacted,
    /// Attributed to the subject: dropped.
    Dropped,
}

/// Replaces alias occurrences in text: one case-insensitive automaton over the patterns,
/// matches only on word boundaries.
pub struct Scrubber {
    ac: Option<AhoCorasick>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrubber")
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl Scrubber {
    /// A scrubber for `aliases`.
    pub fn new(aliases: &Aliases) -> Self {
        let pats = aliases.patterns();
        let ac = if pats.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&pats)
                .ok()
        };
        Self { ac }
    }

    /// `text` with every alias replaced by [`ERASED`]; `None` when nothing matched.
    pub fn scrub(&self, text: &str) -> Option<String> {
        let ac = self.ac.as_ref()?;
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut last = 0usize;
        for m in ac.find_iter(text) {
            let before = m.start().checked_sub(1).and_then(|i| bytes.get(i));
            if before.is_some_and(|&b| is_word_byte(b))
                || bytes.get(m.end()).is_some_and(|&b| is_word_byte(b))
            {
                continue;
            }
            out.push_str(text.get(last..m.start()).unwrap_or_default());
            out.push_str(ERASED);
            last = m.end();
        }
        if last == 0 {
            return None;
        }
        out.push_str(text.get(last..).unwrap_or_default());
        Some(out)
    }

    fn scrub_json(&self, v: &mut Value) -> bool {
        match v {
            Value::String(s) => match self.scrub(s) {
                Some(new) => {
                    *s = new;
                    true
                }
                None => false,
            },
            Value::Array(items) => {
                // Every element is scrubbed (no short circuit).
                let mut changed = false;
                for x in items {
                    changed |= self.scrub_json(x);
                }
                changed
            }
            Value::Object(map) => {
                let mut changed = false;
                for x in map.values_mut() {
                    changed |= self.scrub_json(x);
                }
                changed
            }
            _ => false,
        }
    }
}

/// Applies the record rule to `record` in place.
pub fn apply(record: &mut Record, aliases: &Aliases, scrubber: &Scrubber) -> Fate {
    let source = record.source;
    let mine: Vec<bool> = record
        .identities
        .iter()
        .map(|i| aliases.is_subject(source, i))
        .collect();
    let authored = record
        .identities
        .iter()
        .zip(&mine)
        .any(|(i, m)| *m && AUTHOR_ROLES.contains(&i.role.as_str()));
    if authored {
        return Fate::Dropped;
    }
    let mut changed = mine.iter().any(|m| *m);
    if changed {
        let mut keep = mine.iter().map(|m| !m);
        record.identities.retain(|_| keep.next().unwrap_or(true));
    }
    if let Some(text) = scrubber.scrub(&record.text) {
        record.text = text;
        changed = true;
    }
    changed |= scrubber.scrub_json(&mut record.attributes);
    if changed {
        Fate::Redacted
    } else {
        Fate::Untouched
    }
}
