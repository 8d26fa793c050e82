//! The graph model: node and edge kinds, tenants, and the batch a writer upserts.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Largest sensitive text (title, action text, template, excerpt) accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Largest natural key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A tenant identifier: 1 to 63 characters of `a-z`, `0-9`, `-`, `_`, starting with a letter
/// or digit. Not secret; it names the tenant's file, rows and keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// Validates and wraps a tenant id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTenant`] when the id is empty, too long or has other characters.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let ok = (1..=63).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(Self(id))
        } else {
            Err(Error::InvalidTenant)
        }
    }

    /// The id as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TenantId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$var),+];

            /// The stored (snake_case) name.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$var => $s),+ }
            }

            /// Parses a stored name.
            #[must_use]
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$var),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Kinds of node in the knowledge graph.
    NodeKind {
        /// An incident (Datadog incident, ticket, Slack incident thread).
        Incident => "incident",
        /// A service or host.
        Service => "service",
        /// A log signature (template).
        Signature => "signature",
        /// A monitor or alert rule.
        Monitor => "monitor",
        /// A remediation step: rollback, restart, scale, failover, config change, flag, hotfix.
        Action => "action",
        /// A postmortem or runbook page.
        Document => "document",
        /// A person, by pseudonym only.
        Person => "person",
    }
}

string_enum! {
    /// Kinds of edge in the knowledge graph.
    EdgeKind {
        /// incident -> service it affected.
        Affected => "affected",
        /// incident -> signature it exhibited.
        Exhibited => "exhibited",
        /// incident -> monitor that triggered it.
        TriggeredBy => "triggered_by",
        /// incident -> action that resolved it.
        ResolvedBy => "resolved_by",
        /// incident -> document describing it.
        DocumentedIn => "documented_in",
        /// person -> incident they responded to.
        Responded => "responded",
        /// signature -> service that emitted it.
        EmittedBy => "emitted_by",
        /// incident -> similar incident.
        SimilarTo => "similar_to",
    }
}

/// A reference to a node by kind and natural key. Debug shows the kind and key length only.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeRef {
    /// Node kind.
    pub kind: NodeKind,
    /// Natural key, unique within the kind (for example `datadog:incident:42`).
    pub key: String,
}

impl NodeRef {
    /// Builds a reference.
    #[must_use]
    pub fn new(kind: NodeKind, key: impl Into<String>) -> Self {
        Self {
            kind,
            key: key.into(),
        }
    }
}

/// A node with its provenance. Debug shows no key or label text.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Kind and natural key (the key is stored encrypted, found by a blind index).
    #[serde(flatten)]
    pub node: NodeRef,
    /// Sensitive text (incident title, action text, template, document excerpt), encrypted per
    /// row before it reaches the database.
    pub label: Option<String>,
    /// Non-sensitive attributes (status, severity, action type...), stored as JSON and merged
    /// key by key on upsert.
    #[serde(default)]
    pub attrs: serde_json::Map<String, serde_json::Value>,
    /// Sources that contributed the node (`datadog`, `slack`, `jira`...).
    pub sources: BTreeSet<String>,
    /// First time the node was seen.
    pub first_seen: DateTime<Utc>,
    /// Last time the node was seen.
    pub last_seen: DateTime<Utc>,
}

impl fmt::Debug for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeRef")
            .field("kind", &self.kind)
            .field("key_len", &self.key.len())
            .finish()
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("node", &self.node)
            .field("label_len", &self.label.as_ref().map(String::len))
            .field("attrs", &self.attrs.len())
            .field("sources", &self.sources)
            .field("first_seen", &self.first_seen)
            .field("last_seen", &self.last_seen)
            .finish()
    }
}

/// An edge with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// Edge kind.
    pub kind: EdgeKind,
    /// Source node.
    pub from: NodeRef,
    /// Target node.
    pub to: NodeRef,
    /// Sources that contributed the edge.
    pub sources: BTreeSet<String>,
    /// First time the edge was seen.
    pub first_seen: DateTime<Utc>,
    /// Last time the edge was seen.
    pub last_seen: DateTime<Utc>,
}

/// Nodes and edges written in one transaction: all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Nodes to upsert.
    pub nodes: Vec<Node>,
    /// Edges to upsert; both ends must be in this batch or already in the graph.
    pub edges: Vec<Edge>,
}

impl Batch {
    /// Checks sizes and time ranges.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRecord`] naming the node or edge index and the rule broken (never the
    /// content).
    pub fn validate(&self) -> Result<()> {
        for (i, n) in self.nodes.iter().enumerate() {
            let what = || format!("node {i} ({})", n.node.kind);
            if n.node.key.is_empty() || n.node.key.len() > MAX_KEY_BYTES {
                return Err(Error::InvalidRecord(format!(
                    "{}: key empty or too long",
                    what()
                )));
            }
            if n.label.as_ref().is_some_and(|l| l.len() > MAX_TEXT_BYTES) {
                return Err(Error::InvalidRecord(format!("{}: text too long", what())));
            }
            if n.first_seen > n.last_seen {
                return Err(Error::InvalidRecord(format!(
                    "{}: first_seen after last_seen",
                    what()
                )));
            }
        }
        for (i, e) in self.edges.iter().enumerate() {
            if e.first_seen > e.last_seen {
                return Err(Error::InvalidRecord(format!(
                    "edge {i} ({}): first_seen after last_seen",
                    e.kind
                )));
            }
            if e.from.key.is_empty() || e.to.key.is_empty() {
                return Err(Error::InvalidRecord(format!(
                    "edge {i} ({}): empty endpoint",
                    e.kind
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_validated() {
        assert!(TenantId::new("acme-1").is_ok());
        for bad in ["", "Acme", "-x", "a/b", &"x".repeat(64)] {
            assert!(TenantId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_redacts_keys_and_labels() {
        let n = Node {
            node: NodeRef::new(NodeKind::Incident, "secret-key"),
            label: Some("secret title".into()),
            attrs: serde_json::Map::new(),
            sources: BTreeSet::new(),
            first_seen: DateTime::<Utc>::UNIX_EPOCH,
            last_seen: DateTime::<Utc>::UNIX_EPOCH,
        };
        let d = format!(
            "{n:?} {:?}",
            Batch {
                nodes: vec![n.clone()],
                edges: vec![]
            }
        );
        assert!(!d.contains("secret"), "{d}");
    }

    #[test]
    fn kinds_round_trip() {
        for k in NodeKind::ALL {
            assert_eq!(NodeKind::parse(k.as_str()), Some(*k));
        }
        for k in EdgeKind::ALL {
            assert_eq!(EdgeKind::parse(k.as_str()), Some(*k));
        }
    }
}
