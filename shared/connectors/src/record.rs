//! The normalized record every connector produces, and the tenant's directory of people.

use std::fmt;
use std::io::Write;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Which connector produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Slack Web API.
    Slack,
    /// Slack workspace export ZIP.
    SlackExport,
    /// Datadog API.
    Datadog,
    /// Jira Cloud REST API v3.
    Jira,
    /// Linear GraphQL API.
    Linear,
    /// Confluence Cloud REST API v2.
    Confluence,
    /// Notion API.
    Notion,
    /// Google Drive API v3.
    Gdrive,
}

impl SourceKind {
    /// The CLI and storage name (`slack`, `slack-export`, `datadog`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::SlackExport => "slack-export",
            Self::Datadog => "datadog",
            Self::Jira => "jira",
            Self::Linear => "linear",
            Self::Confluence => "confluence",
            Self::Notion => "notion",
            Self::Gdrive => "gdrive",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SourceKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        Ok(match s {
            "slack" => Self::Slack,
            "slack-export" => Self::SlackExport,
            "datadog" => Self::Datadog,
            "jira" => Self::Jira,
            "linear" => Self::Linear,
            "confluence" => Self::Confluence,
            "notion" => Self::Notion,
            "gdrive" => Self::Gdrive,
            _ => return Err(crate::Error::Config("unknown source kind".into())),
        })
    }
}

/// One person mentioned by a record, kept apart from the text so the anonymizer can replace
/// every occurrence exactly. Debug redacts everything but the role.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Why this person is attached: `author`, `assignee`, `mention`, `reaction`...
    pub role: String,
    /// The vendor's stable user id (Slack `U…`, Jira `accountId`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display or real name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Handle or user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Identity {
    /// An identity with only a role and an id.
    pub fn with_id(role: &str, id: impl Into<String>) -> Self {
        Self {
            role: role.to_owned(),
            id: Some(id.into()),
            ..Self::default()
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// One normalized record: a message, log event, incident, issue, comment, page or file.
///
/// Serialized as one JSON line. Debug shows ids and sizes only, never the text or identities.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The connector that produced it.
    pub source: SourceKind,
    /// `message`, `reply`, `log`, `incident`, `monitor`, `issue`, `comment`, `change`, `page`, `file`.
    pub kind: String,
    /// The vendor's id, unique within `source` and `container` (Slack `ts`, Jira issue id...).
    pub id: String,
    /// The channel, project, space or database the record belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The parent record's id (thread, issue, page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// When the described event occurred (drives the 30-day retention).
    pub occurred_at: DateTime<Utc>,
    /// When the vendor object was last modified, when different.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// The text, as the vendor gave it (mentions such as `<@U123>` left in place).
    pub text: String,
    /// People attached to the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<Identity>,
    /// Structured fields (status, severity, tags, service...).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub attributes: serde_json::Value,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("source", &self.source)
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("occurred_at", &self.occurred_at)
            .field("text_len", &self.text.len())
            .field("identities", &self.identities.len())
            .finish_non_exhaustive()
    }
}

impl Record {
    /// Writes the record as one JSON line.
    ///
    /// # Errors
    /// [`crate::Error::Io`] when the writer fails.
    pub fn write_json_line(&self, out: &mut dyn Write) -> crate::Result<()> {
        serde_json::to_writer(&mut *out, self).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

/// One person of the tenant's directory. Debug redacts everything but counts.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Vendor ids (`slack:U123`, `jira:5b10…`, `datadog:…`), prefixed by source.
    pub ids: Vec<String>,
    /// Real and display names.
    pub names: Vec<String>,
    /// Handles and user names.
    pub handles: Vec<String>,
    /// E-mail addresses.
    pub emails: Vec<String>,
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("ids", &self.ids.len())
            .field("names", &self.names.len())
            .finish_non_exhaustive()
    }
}

impl Person {
    fn absorb(&mut self, other: Person) {
        for (dst, src) in [
            (&mut self.ids, other.ids),
            (&mut self.names, other.names),
            (&mut self.handles, other.handles),
            (&mut self.emails, other.emails),
        ] {
            for v in src {
                if !v.is_empty() && !dst.contains(&v) {
                    dst.push(v);
                }
            }
        }
    }
}

/// The tenant's directory of people, consumed by the anonymizer. Entries are merged by id and
/// by e-mail address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// The people.
    pub people: Vec<Person>,
}

impl Directory {
    /// Adds a person, merging it with an entry sharing an id or an e-mail address.
    pub fn add(&mut self, person: Person) {
        let found = self.people.iter_mut().find(|p| {
            p.ids.iter().any(|i| person.ids.contains(i))
                || p.emails
                    .iter()
                    .any(|e| person.emails.iter().any(|o| o.eq_ignore_ascii_case(e)))
        });
        match found {
            Some(p) => p.absorb(person),
            None => {
                let mut p = Person::default();
                p.absorb(person);
                if !p.ids.is_empty() || !p.emails.is_empty() {
                    self.people.push(p);
                }
            }
        }
    }

    /// Adds every identity carried by `records`, ids prefixed by the record's source.
    pub fn add_records(&mut self, records: &[Record]) {
        for r in records {
            for i in &r.identities {
                self.add(Person {
                    ids: i
                        .id
                        .iter()
                        .map(|id| format!("{}:{id}", r.source.as_str()))
                        .collect(),
                    names: i.name.iter().cloned().collect(),
                    handles: i.handle.iter().cloned().collect(),
                    emails: i.email.iter().cloned().collect(),
                });
            }
        }
    }

    /// Merges another directory into this one.
    pub fn merge(&mut self, other: Directory) {
        for p in other.people {
            self.add(p);
        }
    }
}

/// An opaque, connector-defined resume point, stored per tenant and source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Checkpoint(pub String);

/// One page of records and the checkpoint that resumes after it.
#[derive(Debug, Clone)]
pub struct Page {
    /// The records of the page (possibly empty).
    pub records: Vec<Record>,
    /// Where to resume once `records` are safely written.
    pub next_checkpoint: Checkpoint,
    /// Whether the source has nothing more for now (the next run resumes from `next_checkpoint`).
    pub done: bool,
}

/// Parses a Slack-style `ts` (`"1712345678.123456"`) into a time.
pub fn parse_slack_ts(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let digits = frac.len().min(9);
    let frac = frac.get(..digits)?;
    let mut nanos: u32 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in digits..9 {
        nanos = nanos.checked_mul(10)?;
    }
    Utc.timestamp_opt(secs, nanos).single()
}

/// Parses RFC 3339 and the Atlassian variant without a colon in the offset
/// (`2024-01-02T03:04:05.678+0000`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Builds an attributes object from `pairs`, leaving out nulls (values are moved, not cloned).
pub(crate) fn attrs<const N: usize>(pairs: [(&str, serde_json::Value); N]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if !v.is_null() {
            map.insert(k.to_owned(), v);
        }
    }
    if map.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_ts_parses_micros() {
        let t = parse_slack_ts("1712345678.123456").unwrap();
        assert_eq!(t.timestamp(), 1_712_345_678);
        assert_eq!(t.timestamp_subsec_micros(), 123_456);
        assert!(parse_slack_ts("x.1").is_none());
        assert!(parse_slack_ts("12.").is_some());
    }

    #[test]
    fn atlassian_times_parse() {
        assert!(parse_time("2024-01-02T03:04:05.678+0000").is_some());
        assert!(parse_time("2024-01-02T03:04:05Z").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn debug_never_shows_content() {
        let r = Record {
            source: SourceKind::Slack,
            kind: "message".into(),
            id: "1.2".into(),
            container: None,
            parent_id: None,
            occurred_at: Utc::now(),
            updated_at: None,
            text: "the database password is hunter2".into(),
            identities: vec![Identity {
                role: "author".into(),
                id: Some("U1".into()),
                name: Some("Alice Example".into()),
                handle: None,
                email: Some("alice@example.com".into()),
            }],
            attributes: serde_json::Value::Null,
        };
        let d = format!("{r:?} {:?}", r.identities);
        assert!(!d.contains("hunter2") && !d.contains("Alice") && !d.contains("alice@"));
        let p = Person {
            ids: vec!["slack:U1".into()],
            names: vec!["Alice Example".into()],
            handles: vec![],
            emails: vec!["alice@example.com".into()],
        };
        assert!(!format!("{p:?}").contains("Alice"));
    }

    #[test]
    fn directory_merges_by_id_and_email() {
        let mut d = Directory::default();
        d.add(Person {
            ids: vec!["slack:U1".into()],
            names: vec!["A".into()],
            handles: vec![],
            emails: vec!["a@x.io".into()],
        });
        d.add(Person {
            ids: vec!["jira:9".into()],
            names: vec![],
            handles: vec![],
            emails: vec!["A@X.io".into()],
        });
        d.add(Person {
            ids: vec!["slack:U2".into()],
            ..Person::default()
        });
        assert_eq!(d.people.len(), 2);
        assert_eq!(d.people[0].ids, vec!["slack:U1", "jira:9"]);
    }
}
