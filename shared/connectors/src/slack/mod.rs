//! Slack: the Web API connector (allowlisted channels only) and the workspace export import.
//!
//! Both share the message model: a Slack message becomes one [`Record`] whose id is its `ts`,
//! container its channel id, parent its `thread_ts` (for replies), and whose identities are
//! the author, parent author, reply users, reacting users, editor and every `<@U…>` mention.

mod api;
mod export;

pub use api::{parse_history_page, SlackConfig, SlackProfile, SlackSource};
pub use export::{ExportLimits, SlackExportSource};

use serde::Deserialize;

use crate::record::{attrs, parse_slack_ts, Identity, Person, Record, SourceKind};
use crate::{Error, Result};

/// A Slack message as `conversations.history`, `conversations.replies` and the export give it.
#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    ts: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
    #[serde(default)]
    reply_count: Option<u64>,
    #[serde(default)]
    parent_user_id: Option<String>,
    #[serde(default)]
    reply_users: Vec<String>,
    #[serde(default)]
    reactions: Vec<Reaction>,
    #[serde(default)]
    edited: Option<Edited>,
    #[serde(default)]
    user_profile: Option<Profile>,
}

#[derive(Debug, Deserialize)]
struct Reaction {
    #[serde(default)]
    name: String,
    #[serde(default)]
    users: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Edited {
    #[serde(default)]
    user: Option<String>,
}

/// `profile` of users.list / `user_profile` of export messages.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Profile {
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// A member of `users.list` / `users.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    profile: Profile,
}

impl User {
    pub(crate) fn into_person(self) -> Person {
        let mut p = Person {
            ids: vec![format!("slack:{}", self.id)],
            ..Person::default()
        };
        for n in [
            self.real_name,
            self.profile.real_name,
            self.profile.display_name,
        ]
        .into_iter()
        .flatten()
        {
            if !n.is_empty() && !p.names.contains(&n) {
                p.names.push(n);
            }
        }
        p.handles.extend(self.name.filter(|n| !n.is_empty()));
        p.emails
            .extend(self.profile.email.filter(|e| !e.is_empty()));
        p
    }
}

impl Message {
    /// Whether this is a thread parent with replies to fetch.
    pub(crate) fn has_replies(&self) -> bool {
        self.reply_count.unwrap_or(0) > 0 && self.thread_ts.as_deref() == Some(self.ts.as_str())
    }

    /// The message's `ts`.
    pub(crate) fn ts(&self) -> &str {
        &self.ts
    }

    /// Normalizes the message of `channel`.
    pub(crate) fn into_record(self, source: SourceKind, channel: &str) -> Result<Record> {
        let occurred_at = parse_slack_ts(&self.ts).ok_or_else(|| Error::Malformed {
            source_name: source.as_str(),
            endpoint: "message.ts".into(),
            detail: "ts is not epoch seconds".into(),
        })?;
        let mut identities = Vec::new();
        if let Some(u) = &self.user {
            let mut author = Identity::with_id("author", u.clone());
            if let Some(p) = self.user_profile {
                author.name = p.real_name.or(p.display_name);
                author.handle = p.name;
            }
            identities.push(author);
        }
        if let Some(b) = &self.bot_id {
            identities.push(Identity::with_id("bot", b.clone()));
        }
        if let Some(u) = self
            .parent_user_id
            .filter(|u| Some(u) != self.user.as_ref())
        {
            identities.push(Identity::with_id("parent_author", u));
        }
        for u in self.reply_users {
            identities.push(Identity::with_id("reply_user", u));
        }
        let mut reaction_names = Vec::new();
        for r in self.reactions {
            for u in r.users {
                identities.push(Identity::with_id("reaction", u));
            }
            reaction_names.push(serde_json::Value::String(r.name));
        }
        if let Some(u) = self.edited.and_then(|e| e.user) {
            identities.push(Identity::with_id("editor", u));
        }
        for id in mentions(&self.text) {
            identities.push(Identity::with_id("mention", id));
        }
        let is_reply = self
            .thread_ts
            .as_deref()
            .is_some_and(|t| t != self.ts.as_str());
        Ok(Record {
            source,
            kind: if is_reply { "reply" } else { "message" }.to_owned(),
            id: self.ts,
            container: Some(channel.to_owned()),
            parent_id: if is_reply { self.thread_ts } else { None },
            occurred_at,
            updated_at: None,
            text: self.text,
            identities,
            attributes: attrs([
                (
                    "subtype",
                    self.subtype
                        .map_or(serde_json::Value::Null, serde_json::Value::String),
                ),
                (
                    "reply_count",
                    self.reply_count
                        .map_or(serde_json::Value::Null, serde_json::Value::from),
                ),
                (
                    "reactions",
                    if reaction_names.is_empty() {
                        serde_json::Value::Null
                    } else {
                        serde_json::Value::Array(reaction_names)
                    },
                ),
            ]),
        })
    }
}

/// The user ids of `<@U…>` / `<@U…|name>` mentions in Slack mrkdwn.
pub(crate) fn mentions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let id = &rest[..end];
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
        rest = &rest[end..];
    }
    out
}

/// Maps Slack's `ok: false` error codes to errors.
pub(crate) fn slack_error(endpoint: &str, code: &str) -> Error {
    let class: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    match class.as_str() {
        "invalid_auth"
        | "not_authed"
        | "account_inactive"
        | "token_revoked"
        | "token_expired"
        | "missing_scope"
        | "not_allowed_token_type"
        | "no_permission"
        | "ekm_access_denied" => Error::Auth {
            source_name: "slack",
            endpoint: endpoint.to_owned(),
            status: 200,
        },
        "ratelimited" => Error::RateLimited {
            source_name: "slack",
            endpoint: endpoint.to_owned(),
            retry_after: None,
        },
        _ => Error::Http {
            source_name: "slack",
            endpoint: endpoint.to_owned(),
            class,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found() {
        assert_eq!(
            mentions("hi <@U1ABC> and <@W2|bob>, not <!here> <@"),
            vec!["U1ABC", "W2"]
        );
        assert!(mentions("none").is_empty());
    }

    #[test]
    fn message_identities_are_apart_from_text() {
        let m: Message = serde_json::from_str(
            r#"{"type":"message","user":"U1","text":"ping <@U2>","ts":"1700000000.000100",
                "thread_ts":"1700000000.000001","parent_user_id":"U3",
                "reactions":[{"name":"eyes","users":["U4"],"count":1}],"edited":{"user":"U1","ts":"1"}}"#,
        )
        .unwrap();
        let r = m.into_record(SourceKind::Slack, "C1").unwrap();
        assert_eq!(r.kind, "reply");
        assert_eq!(r.parent_id.as_deref(), Some("1700000000.000001"));
        let roles: Vec<_> = r.identities.iter().map(|i| i.role.as_str()).collect();
        assert_eq!(
            roles,
            ["author", "parent_author", "reaction", "editor", "mention"]
        );
        assert!(r
            .identities
            .iter()
            .all(|i| !r.text.contains("U1") || i.id.is_some()));
    }

    #[test]
    fn bad_ts_is_malformed() {
        let m: Message = serde_json::from_str(r#"{"ts":"yesterday","text":"x"}"#).unwrap();
        assert!(matches!(
            m.into_record(SourceKind::Slack, "C1"),
            Err(Error::Malformed { .. })
        ));
    }
}
