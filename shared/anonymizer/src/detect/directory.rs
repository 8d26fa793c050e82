//! The tenant's directory of people (Slack, Jira, Linear, Datadog users supplied by the
//! connectors), matched with one Aho-Corasick automaton.

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

use super::lexicon::Lexicon;
use super::{before, is_word_byte};
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
}

impl std::fmt::Debug for DirectoryMatcher {
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
            AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&pats)
                .ok()
        };
        Self { ac, types }
    }

    pub(crate) fn find(&self, text: &str, out: &mut Vec<Span>) {
        let Some(ac) = &self.ac else { return };
        let bytes = text.as_bytes();
        for m in ac.find_iter(text) {
            if before(bytes, m.start()).is_some_and(is_word_byte)
                || bytes.get(m.end()).is_some_and(|&b| is_word_byte(b))
            {
                continue;
            }
            let t = self
                .types
                .get(m.pattern().as_usize())
                .copied()
                .unwrap_or(EntityType::Person);
            let s = if t == EntityType::UserHandle && before(bytes, m.start()) == Some(b'@') {
                m.start() - 1
            } else {
                m.start()
            };
            out.push(Span::new(s, m.end(), t));
        }
    }
}
