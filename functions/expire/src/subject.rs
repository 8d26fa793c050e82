//! Who is erased: the identifiers a request names, every alias the tenant's records know for
//! that person, the pseudonym tokens the anonymizer made of them, and what happens to each
//! raw record.
//!
//! **The record rule.** A record is *attributed* to the subject when one of its identities
//! is the subject with an authoring role (`author`, `user`, `creator`, `reporter`, `owner`:
//! they wrote it, or it records their own activity); it is dropped whole. Any other record
//! that names the subject (as `mention`, `assignee`, `commander`, `reaction`...) or merely
//! mentions one of their aliases in its text or attributes is kept for the other people in
//! it: the subject's identities are removed from it and every alias occurrence (case
//! insensitive, on word boundaries) in the text and in string attribute values is replaced
//! with [`ERASED`].
//!
//! **Aliases.** The tenant's directory is the one the anonymizer uses: the people the
//! records carry in their identity fields ([`bacca_connectors::Directory`], entries merged by
//! vendor id and e-mail). Starting from the request's identifiers, every directory entry
//! sharing an id or an e-mail with what is known so far is absorbed, until nothing changes;
//! the subject's aliases are then all their ids, e-mails, handles and names, plus the parts
//! (3 characters or more) of multi-word names, which the anonymizer's directory matcher also
//! pseudonymizes on their own. Phone numbers the subject wrote in records they authored
//! (their own contact details, found by the anonymizer's detectors) are erased too: in the
//! graph (their tokens) and in the text of other records; they never decide whether an
//! identity is the subject.

use std::collections::BTreeSet;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use bacca_anonymizer::{EntityType, PseudonymKey};
use bacca_connectors::{Directory, Identity, Record, SourceKind};
use serde::Deserialize;
use serde_json::Value;

/// What replaces an alias in the text of a record that is kept.
pub const ERASED: &str = "<ERASED>";

/// Identity roles that make a record the subject's own: it is dropped, not redacted.
pub const AUTHOR_ROLES: [&str; 5] = ["author", "user", "creator", "reporter", "owner"];

/// Longest accepted identifier, in bytes.
const MAX_IDENTIFIER_BYTES: usize = 512;

/// The person to erase, as the request names them: at least one of `email`, `slack_user`,
/// `jira_account`; `name` and `handle` are optional extra aliases (for data whose raw
/// records, which would link them, have already expired). Debug prints which fields are
/// set, never their values.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// An e-mail address of the person.
    #[serde(default)]
    pub email: Option<String>,
    /// Their Slack user id (`U…`, `W…`).
    #[serde(default)]
    pub slack_user: Option<String>,
    /// Their Atlassian account id (Jira, Confluence).
    #[serde(default)]
    pub jira_account: Option<String>,
    /// A name they go by (extra alias).
    #[serde(default)]
    pub name: Option<String>,
    /// A handle they use (extra alias, without `@`).
    #[serde(default)]
    pub handle: Option<String>,
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subject {{ kinds: {:?} }}", self.kinds())
    }
}

/// Why a subject was refused (a class; never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid erasure subject: {0}")]
pub struct InvalidSubject(pub &'static str);

impl Subject {
    /// The kinds of identifier given (`email`, `slack_user`...), for the audit event.
    pub fn kinds(&self) -> Vec<&'static str> {
        [
            ("email", &self.email),
            ("slack_user", &self.slack_user),
            ("jira_account", &self.jira_account),
            ("name", &self.name),
            ("handle", &self.handle),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .collect()
    }

    /// Checks the subject: a unique identifier is present, every value is non-empty, short
    /// and free of control characters, the e-mail has an `@`.
    ///
    /// # Errors
    /// [`InvalidSubject`] with the rule that failed.
    pub fn validate(&self) -> Result<(), InvalidSubject> {
        if self.email.is_none() && self.slack_user.is_none() && self.jira_account.is_none() {
            return Err(InvalidSubject(
                "one of email, slack_user, jira_account is required",
            ));
        }
        for v in [
            &self.email,
            &self.slack_user,
            &self.jira_account,
            &self.name,
            &self.handle,
        ]
        .into_iter()
        .flatten()
        {
            let t = v.trim();
            if t.chars().count() < 2 || t.len() > MAX_IDENTIFIER_BYTES {
                return Err(InvalidSubject("identifier length"));
            }
            if t.chars().any(char::is_control) {
                return Err(InvalidSubject("identifier contains a control character"));
            }
        }
        if self.email.as_deref().is_some_and(|e| !e.contains('@')) {
            return Err(InvalidSubject("email without @"));
        }
        Ok(())
    }
}

/// Every alias of the subject. Debug prints counts only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    /// Vendor ids prefixed by their source (`slack:U123`, `jira:5b10…`), as in the directory.
    pub ids: BTreeSet<String>,
    /// E-mail addresses, lower case.
    pub emails: BTreeSet<String>,
    /// Handles, lower case, without `@`.
    pub handles: BTreeSet<String>,
    /// Names, lower case, whitespace collapsed.
    pub names: BTreeSet<String>,
    /// Phone numbers from records the subject authored, as written.
    pub phones: BTreeSet<String>,
}

impl std::fmt::Debug for Aliases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Aliases {{ count: {} }}", self.count())
    }
}

fn lower(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn vendor_id(prefixed: &str) -> &str {
    prefixed.split_once(':').map_or(prefixed, |(_, id)| id)
}

/// The sources whose ids a Slack user id or an Atlassian account id names.
const SLACK_SOURCES: [SourceKind; 2] = [SourceKind::Slack, SourceKind::SlackExport];
const ATLASSIAN_SOURCES: [SourceKind; 2] = [SourceKind::Jira, SourceKind::Confluence];

/// `id` and the same account's id in the sibling sources: a Slack user id is the same in
/// the API and in an export, an Atlassian account id the same in Jira and Confluence.
fn same_account(prefixed: &str) -> Vec<String> {
    let Some((source, id)) = prefixed.split_once(':') else {
        return vec![prefixed.to_owned()];
    };
    for family in [SLACK_SOURCES, ATLASSIAN_SOURCES] {
        if family.iter().any(|s| s.as_str() == source) {
            return family
                .iter()
                .map(|s| format!("{}:{id}", s.as_str()))
                .collect();
        }
    }
    vec![prefixed.to_owned()]
}

impl Aliases {
    /// The subject's identifiers alone.
    pub fn seeds(subject: &Subject) -> Self {
        let mut a = Self::default();
        let trimmed = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_owned);
        if let Some(e) = trimmed(&subject.email) {
            a.emails.insert(e.to_lowercase());
        }
        if let Some(u) = trimmed(&subject.slack_user) {
            for s in SLACK_SOURCES {
                a.ids.insert(format!("{}:{u}", s.as_str()));
            }
        }
        if let Some(j) = trimmed(&subject.jira_account) {
            for s in ATLASSIAN_SOURCES {
                a.ids.insert(format!("{}:{j}", s.as_str()));
            }
        }
        if let Some(n) = trimmed(&subject.name) {
            a.names.insert(lower(&n));
        }
        if let Some(h) = trimmed(&subject.handle) {
            a.handles.insert(h.trim_start_matches('@').to_lowercase());
        }
        a
    }

    /// Resolves `subject` to every alias `directory` links to it (by id and e-mail, to a
    /// fixed point).
    pub fn resolve(subject: &Subject, directory: &Directory) -> Self {
        let mut a = Self::seeds(subject);
        let mut absorbed = vec![false; directory.people.len()];
        loop {
            let mut grew = false;
            for (p, done) in directory.people.iter().zip(absorbed.iter_mut()) {
                if *done {
                    continue;
                }
                let linked = p.ids.iter().any(|i| a.ids.contains(i))
                    || p.emails
                        .iter()
                        .any(|e| a.emails.contains(&e.to_lowercase()));
                if !linked {
                    continue;
                }
                *done = true;
                grew = true;
                for id in &p.ids {
                    a.ids.extend(same_account(id));
                }
                a.emails
                    .extend(p.emails.iter().map(|e| e.trim().to_lowercase()));
                a.handles.extend(
                    p.handles
                        .iter()
                        .map(|h| h.trim().trim_start_matches('@').to_lowercase()),
                );
                a.names.extend(p.names.iter().map(|n| lower(n)));
            }
            if !grew {
                break;
            }
        }
        a.emails.retain(|v| !v.is_empty());
        a.handles.retain(|v| !v.is_empty());
        a.names.retain(|v| !v.is_empty());
        a
    }

    /// How many aliases (ids, e-mails, handles, names, phone numbers).
    pub fn count(&self) -> usize {
        self.ids.len()
            + self.emails.len()
            + self.handles.len()
            + self.names.len()
            + self.phones.len()
    }

    /// Adds the phone numbers of `authored` records whose author is the subject.
    pub fn absorb_contacts(&mut self, authored: &[AuthoredContacts]) {
        for a in authored {
            if a.authors.iter().any(|i| self.is_subject(a.source, i)) {
                self.phones.extend(a.phones.iter().cloned());
            }
        }
    }

    /// Every alias as it may appear in text: vendor ids, e-mails, handles, names and the
    /// parts of multi-word names (3 characters or more); longest first.
    pub fn patterns(&self) -> Vec<String> {
        let mut set: BTreeSet<String> = BTreeSet::new();
        set.extend(self.ids.iter().map(|i| vendor_id(i).to_owned()));
        set.extend(self.emails.iter().cloned());
        set.extend(self.handles.iter().cloned());
        for n in &self.names {
            set.insert(n.clone());
            if n.split_whitespace().count() > 1 {
                set.extend(
                    n.split_whitespace()
                        .filter(|p| p.chars().count() >= 3)
                        .map(str::to_owned),
                );
            }
        }
        set.extend(self.phones.iter().cloned());
        set.retain(|p| p.chars().count() >= 2);
        let mut v: Vec<String> = set.into_iter().collect();
        v.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        v
    }

    /// The pseudonym tokens the anonymizer produced for these aliases under `key`: each
    /// alias as a person, a user handle and an e-mail address (the identity fields map
    /// values to those three types), name parts as persons. Sorted, distinct.
    pub fn tokens(&self, key: &PseudonymKey) -> Vec<String> {
        let full: BTreeSet<String> = self
            .ids
            .iter()
            .map(|i| vendor_id(i).to_owned())
            .chain(self.emails.iter().cloned())
            .chain(self.handles.iter().cloned())
            .chain(self.names.iter().cloned())
            .collect();
        let mut out = BTreeSet::new();
        for v in &full {
            for t in [
                EntityType::Person,
                EntityType::UserHandle,
                EntityType::EmailAddress,
            ] {
                out.insert(key.token(t, v));
            }
        }
        for p in &self.phones {
            out.insert(key.token(EntityType::PhoneNumber, p));
        }
        for p in self.patterns() {
            if !full.contains(&p) && !self.phones.contains(&p) {
                out.insert(key.token(EntityType::Person, &p));
            }
        }
        out.into_iter().collect()
    }

    /// Whether `identity`, carried by a record of `source`, is the subject: same vendor id,
    /// e-mail or handle, or the same multi-word name.
    pub fn is_subject(&self, source: SourceKind, identity: &Identity) -> bool {
        let norm = |v: &Option<String>| v.as_deref().map(|s| s.trim().to_lowercase());
        identity.id.as_deref().is_some_and(|id| {
            self.ids
                .contains(&format!("{}:{}", source.as_str(), id.trim()))
        }) || norm(&identity.email).is_some_and(|e| self.emails.contains(&e))
            || norm(&identity.handle)
                .is_some_and(|h| self.handles.contains(h.trim_start_matches('@')))
            || identity
                .name
                .as_deref()
                .map(lower)
                .is_some_and(|n| n.split_whitespace().count() > 1 && self.names.contains(&n))
    }
}

/// The phone numbers written in one record, with its authors: collected while resolving,
/// kept only for the subject's own records. Debug prints counts only.
#[derive(Clone)]
pub struct AuthoredContacts {
    /// The record's source.
    pub source: SourceKind,
    /// Its identities with an authoring role.
    pub authors: Vec<Identity>,
    /// Phone numbers in its text, as written.
    pub phones: Vec<String>,
}

impl std::fmt::Debug for AuthoredContacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthoredContacts {{ phones: {} }}", self.phones.len())
    }
}

impl AuthoredContacts {
    /// The phone numbers of `record` and its authors; `None` when it has neither.
    pub fn of(record: &Record) -> Option<Self> {
        let authors: Vec<Identity> = record
            .identities
            .iter()
            .filter(|i| AUTHOR_ROLES.contains(&i.role.as_str()))
            .cloned()
            .collect();
        if authors.is_empty() {
            return None;
        }
        let phones: Vec<String> = bacca_anonymizer::spans(&record.text)
            .into_iter()
            .filter(|s| s.entity_type == EntityType::PhoneNumber)
            .filter_map(|s| record.text.get(s.start..s.end).map(str::to_owned))
            .collect();
        (!phones.is_empty()).then_some(Self {
            source: record.source,
            authors,
            phones,
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use bacca_connectors::Person;
    use zeroize::Zeroizing;

    fn dana() -> Subject {
        Subject {
            email: Some("Dana.Whitfield@Acme.example".into()),
            ..Subject::default()
        }
    }

    fn directory() -> Directory {
        let mut d = Directory::default();
        d.add(Person {
            ids: vec!["jira:5b10".into()],
            names: vec!["Dana Whitfield".into()],
            handles: vec![],
            emails: vec!["dana.whitfield@acme.example".into()],
        });
        // Linked to the Jira entry only through the Jira id (added later, no e-mail).
        d.add(Person {
            ids: vec!["confluence:5b10".into(), "slack:U0DW".into()],
            names: vec![],
            handles: vec!["dwhitfield".into()],
            emails: vec![],
        });
        d.add(Person {
            ids: vec!["slack:U0RC".into()],
            names: vec!["Ravi Chandrasekar".into()],
            handles: vec!["ravic".into()],
            emails: vec!["ravi@acme.example".into()],
        });
        d
    }

    fn record(role: &str, id: &str, text: &str) -> Record {
        Record {
            source: SourceKind::Slack,
            kind: "message".into(),
            id: "1.2".into(),
            container: Some("C1".into()),
            parent_id: None,
            occurred_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            updated_at: None,
            text: text.into(),
            identities: vec![Identity {
                role: role.into(),
                id: Some(id.into()),
                ..Identity::default()
            }],
            attributes: serde_json::json!({"usr": {"email": "dana.whitfield@acme.example"}, "n": 1}),
        }
    }

    #[test]
    fn resolution_follows_ids_and_emails_to_a_fixed_point() {
        let a = Aliases::resolve(&dana(), &directory());
        assert!(a.ids.contains("slack:U0DW") && a.ids.contains("jira:5b10"));
        assert!(a.handles.contains("dwhitfield"));
        assert!(a.names.contains("dana whitfield"));
        assert!(
            !a.ids.contains("slack:U0RC"),
            "another person is not absorbed"
        );
        assert!(!a.emails.contains("ravi@acme.example"));
        assert_eq!(
            format!("{a:?}"),
            format!("Aliases {{ count: {} }}", a.count())
        );
    }

    #[test]
    fn tokens_match_what_the_anonymizer_writes() {
        let bytes = Zeroizing::new([5u8; 32]);
        let key = PseudonymKey::new(&bytes);
        let a = Aliases::resolve(&dana(), &directory());
        let tokens = a.tokens(&key);
        let anon = bacca_anonymizer::Anonymizer::new(
            &bytes,
            &bacca_anonymizer::Policy::default(),
            &bacca_anonymizer::Directory::default(),
        )
        .unwrap();
        for (t, v) in [
            (EntityType::UserHandle, "<@U0DW>"),
            (EntityType::UserHandle, "U0DW"),
            (EntityType::EmailAddress, "DANA.WHITFIELD@acme.example"),
            (EntityType::Person, "Dana Whitfield"),
            (EntityType::Person, "Whitfield"),
            (EntityType::UserHandle, "@dwhitfield"),
        ] {
            assert!(tokens.contains(&anon.replacement(t, v)), "{t:?}");
        }
        let ravi = anon.replacement(EntityType::UserHandle, "U0RC");
        assert!(!tokens.contains(&ravi));
    }

    #[test]
    fn authored_records_are_dropped_mentions_redacted_others_untouched() {
        let a = Aliases::resolve(&dana(), &directory());
        let s = Scrubber::new(&a);
        let mut own = record("author", "U0DW", "rolled back");
        assert_eq!(apply(&mut own, &a, &s), Fate::Dropped);

        let mut mention = record(
            "author",
            "U0RC",
            "thanks Dana Whitfield (@dwhitfield) and <@U0DW>; Dana's fix, ping DANA.WHITFIELD@acme.example. Danaher ok",
        );
        mention
            .identities
            .push(Identity::with_id("mention", "U0DW"));
        assert_eq!(apply(&mut mention, &a, &s), Fate::Redacted);
        assert_eq!(
            mention.text,
            "thanks <ERASED> (@<ERASED>) and <@<ERASED>>; <ERASED>'s fix, ping <ERASED>. Danaher ok"
        );
        assert_eq!(
            mention.identities.len(),
            1,
            "the subject's mention identity removed"
        );
        assert_eq!(mention.attributes["usr"]["email"], ERASED);
        assert_eq!(mention.attributes["n"], 1);
        // Idempotent: applied again, nothing left to change.
        assert_eq!(apply(&mut mention, &a, &s), Fate::Untouched);

        let mut other = record("author", "U0RC", "ravic restarted pods");
        other.attributes = Value::Null;
        assert_eq!(apply(&mut other, &a, &s), Fate::Untouched);
    }

    #[test]
    fn subjects_are_validated_and_never_printed() {
        assert!(Subject::default().validate().is_err());
        let only_name = Subject {
            name: Some("Dana Whitfield".into()),
            ..Subject::default()
        };
        assert!(only_name.validate().is_err(), "a name alone is ambiguous");
        let bad = Subject {
            email: Some("no-at-sign".into()),
            ..Subject::default()
        };
        assert!(bad.validate().is_err());
        let ctl = Subject {
            slack_user: Some("U1\n".into()),
            ..Subject::default()
        };
        assert!(ctl.validate().is_ok(), "trailing newline trimmed");
        let ctl = Subject {
            slack_user: Some("U1\u{0}x".into()),
            ..Subject::default()
        };
        assert!(ctl.validate().is_err());
        assert!(dana().validate().is_ok());
        let dbg = format!("{:?}", dana());
        assert_eq!(dbg, "Subject { kinds: [\"email\"] }");
        let s: Subject = serde_json::from_str(r#"{"slack_user":"U0DW","handle":"@dw"}"#).unwrap();
        assert_eq!(s.kinds(), ["slack_user", "handle"]);
        assert!(serde_json::from_str::<Subject>(r#"{"phone":"1"}"#).is_err());
    }
}
