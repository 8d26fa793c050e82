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

use serde::Deserialize;

mod aliases;
mod scrub;

pub use aliases::{Aliases, AuthoredContacts};
pub use scrub::{apply, Fate, Scrubber};

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

#[cfg(test)]
mod tests {
    use bacca_anonymizer::{EntityType, PseudonymKey};
    use bacca_connectors::{Directory, Identity, Record, SourceKind};
    use serde_json::Value;

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
