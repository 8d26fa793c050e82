//! A subject's aliases: every identifier the tenant's records know for the person (handles,
//! e-mails, vendor account ids linked across Slack and Atlassian), and the contacts found in
//! records they authored.

use std::collections::BTreeSet;

use bacca_anonymizer::{EntityType, PseudonymKey};
use bacca_connectors::{Directory, Identity, Record, SourceKind};

use super::{Subject, AUTHOR_ROLES};

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
