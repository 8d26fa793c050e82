//! Extraction: anonymized records (JSON, as produced by the connectors and the anonymizer)
//! into a [`Batch`] of nodes and edges.
//!
//! Fields read from each record (a JSON object):
//! - `source` (string, required): `datadog`, `slack`, `slack-export`, `jira`, `linear`,
//!   `confluence`, `notion`, `gdrive`;
//! - `kind` (string, required): `incident`, `issue`, `monitor`, `log`, `message`, `reply`,
//!   `comment`, `page`, `file` (others are ignored);
//! - `id` (string, required), `container` (channel, project, space), `parent_id` (thread root,
//!   issue of a comment);
//! - `occurred_at` (RFC 3339, required), `updated_at` (RFC 3339, not before `occurred_at`);
//! - `text` (string, at most [`MAX_RECORD_TEXT_BYTES`]);
//! - `identities[]` (`role`, `id` or `handle`: pseudonyms after anonymization);
//! - `attributes`: `title`/`name`, `status`, `severity`, `priority`, `key` (ticket key such as
//!   `OPS-7`), `service`, `services[]`, `host`, `tags[]` (`service:x`, `host:y`),
//!   `monitor_id`, `incident_id`, `resolution`.
//!
//! Rules: tickets and Datadog incidents are incidents; Slack messages are grouped into one
//! incident per thread (replies join their root), unthreaded messages of a channel join the
//! previous one within [`ExtractConfig::slack_gap_minutes`]; a message or comment that names a
//! ticket key joins that ticket's incident. Services come from `service` tags and attributes,
//! hosts, and mentions of known service names; log lines become signatures (online miner) that
//! an incident exhibits when the log's service is affected by the incident within its time
//! window; actions are sentences with a remediation verb; documents are pages that name an
//! incident (key, id or title); people are the pseudonymous identities that responded.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::model::{Batch, Edge, EdgeKind, Node, NodeKind, NodeRef};
use crate::signature::{MinerConfig, SignatureMiner};
use crate::Result;

mod mentions;
mod record;

use mentions::{actions_in, contains_word, services_of, ticket_keys};
use record::{attr_str, clip, parse, Rec};

/// Largest record text accepted, in bytes.
pub const MAX_RECORD_TEXT_BYTES: usize = 1024 * 1024;
/// Longest label kept for titles, action sentences and excerpts, in characters.
const LABEL_CHARS: usize = 500;

/// Extraction settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractConfig {
    /// Unthreaded Slack messages of one channel closer than this join the same incident.
    pub slack_gap_minutes: i64,
    /// Logs this long before an incident's first sighting still count as exhibited by it.
    pub log_lead_minutes: i64,
}

impl ExtractConfig {
    const fn default_const() -> Self {
        Self {
            slack_gap_minutes: 30,
            log_lead_minutes: 60,
        }
    }
}

impl Default for ExtractConfig {
    fn default() -> Self {
        Self::default_const()
    }
}

#[derive(Default)]
struct Acc {
    nodes: BTreeMap<NodeRef, Node>,
    edges: BTreeMap<(EdgeKind, NodeRef, NodeRef), Edge>,
}

impl Acc {
    fn node(&mut self, r: NodeRef, source: &str, at: DateTime<Utc>) -> &mut Node {
        let n = self.nodes.entry(r.clone()).or_insert_with(|| Node {
            node: r,
            label: None,
            attrs: serde_json::Map::new(),
            sources: BTreeSet::new(),
            first_seen: at,
            last_seen: at,
        });
        n.sources.insert(source.to_owned());
        n.first_seen = n.first_seen.min(at);
        n.last_seen = n.last_seen.max(at);
        n
    }

    fn edge(
        &mut self,
        kind: EdgeKind,
        from: &NodeRef,
        to: &NodeRef,
        source: &str,
        at: DateTime<Utc>,
    ) {
        let e = self
            .edges
            .entry((kind, from.clone(), to.clone()))
            .or_insert_with(|| Edge {
                kind,
                from: from.clone(),
                to: to.clone(),
                sources: BTreeSet::new(),
                first_seen: at,
                last_seen: at,
            });
        e.sources.insert(source.to_owned());
        e.first_seen = e.first_seen.min(at);
        e.last_seen = e.last_seen.max(at);
    }
}

/// Extracts a batch from records. All or nothing: a malformed record fails the whole call with
/// an error naming the record index and the rule broken.
///
/// ```
/// use bacca_knowledge::extract::{extract, ExtractConfig};
/// let records = vec![serde_json::json!({
///     "source": "jira", "kind": "issue", "id": "10001", "occurred_at": "2026-01-05T10:00:00Z",
///     "text": "Checkout errors. We rolled back the deploy.",
///     "attributes": {"key": "OPS-7", "title": "Checkout 500s", "service": "checkout"}
/// })];
/// let batch = extract(&records, &ExtractConfig::default())?;
/// assert_eq!(batch.nodes.len(), 3); // incident, service, action
/// # Ok::<(), bacca_knowledge::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidRecord`](crate::Error::InvalidRecord).
pub fn extract(records: &[Value], config: &ExtractConfig) -> Result<Batch> {
    let recs = records
        .iter()
        .enumerate()
        .map(|(i, v)| parse(v, i))
        .collect::<Result<Vec<_>>>()?;
    let mut acc = Acc::default();
    let mut by_ticket: HashMap<String, NodeRef> = HashMap::new();
    let mut by_record: HashMap<(String, String), NodeRef> = HashMap::new();
    let mut known_services: BTreeSet<String> = BTreeSet::new();
    for r in &recs {
        known_services.extend(services_of(r));
    }

    // Pass 1: explicit incidents (Datadog incidents, tickets) and monitors.
    for r in &recs {
        match r.kind {
            "incident" | "issue" => {
                let key = NodeRef::new(
                    NodeKind::Incident,
                    format!("{}:{}:{}", r.source, r.kind, r.id),
                );
                let title = attr_str(r, "title")
                    .or_else(|| attr_str(r, "name"))
                    .or_else(|| r.text.lines().next());
                let n = acc.node(key.clone(), r.source, r.at);
                if let Some(t) = title {
                    n.label = Some(clip(t));
                }
                for a in ["status", "severity", "priority", "state"] {
                    if let Some(v) = r.attrs.get(a).filter(|v| v.is_string() || v.is_number()) {
                        n.attrs.insert(a.to_owned(), v.clone());
                    }
                }
                if let Some(k) = attr_str(r, "key") {
                    by_ticket.insert(k.to_owned(), key.clone());
                }
                if let Some(k) = attr_str(r, "incident_id") {
                    by_ticket.insert(k.to_owned(), key.clone());
                }
                by_ticket.insert(r.id.to_owned(), key.clone());
                by_record.insert((r.source.to_owned(), r.id.to_owned()), key);
            }
            "monitor" => {
                let key = NodeRef::new(NodeKind::Monitor, format!("{}:monitor:{}", r.source, r.id));
                let n = acc.node(key, r.source, r.at);
                n.label = attr_str(r, "name")
                    .or_else(|| attr_str(r, "title"))
                    .map(clip);
            }
            _ => {}
        }
    }

    // Pass 2: conversations (Slack messages, ticket comments) join or form incidents.
    let mut ordered: Vec<&Rec<'_>> = recs
        .iter()
        .filter(|r| matches!(r.kind, "message" | "reply" | "comment"))
        .collect();
    ordered.sort_by_key(|r| r.at);
    let mut last_in_channel: HashMap<String, (DateTime<Utc>, NodeRef)> = HashMap::new();
    let mut thread_incident: HashMap<String, NodeRef> = HashMap::new();
    let gap = Duration::minutes(config.slack_gap_minutes);
    let mut conversation: Vec<(&Rec<'_>, NodeRef)> = Vec::new();
    for r in ordered {
        let channel = r.container.unwrap_or("");
        let explicit = ticket_keys(r.text)
            .into_iter()
            .find_map(|k| by_ticket.get(k).cloned())
            .or_else(|| attr_str(r, "incident_id").and_then(|k| by_ticket.get(k).cloned()))
            .or_else(|| {
                (r.kind == "comment")
                    .then(|| {
                        r.parent.and_then(|p| {
                            by_record.get(&(r.source.to_owned(), p.to_owned())).cloned()
                        })
                    })
                    .flatten()
            });
        let thread_key = format!("{}:{}:{}", r.source, channel, r.parent.unwrap_or(r.id));
        let incident = if let Some(i) = explicit {
            i
        } else if let Some(i) = thread_incident.get(&thread_key) {
            i.clone()
        } else if let Some((_, i)) = last_in_channel
            .get(channel)
            .filter(|(t, _)| r.parent.is_none() && r.at - *t <= gap)
        {
            i.clone()
        } else {
            let key = NodeRef::new(
                NodeKind::Incident,
                format!(
                    "{}:thread:{}:{}",
                    r.source,
                    channel,
                    r.parent.unwrap_or(r.id)
                ),
            );
            let n = acc.node(key.clone(), r.source, r.at);
            if n.label.is_none() {
                n.label = r.text.lines().next().map(clip).filter(|s| !s.is_empty());
            }
            key
        };
        thread_incident.insert(thread_key, incident.clone());
        if r.parent.is_none() {
            last_in_channel.insert(channel.to_owned(), (r.at, incident.clone()));
        } else if let Some(e) = last_in_channel.get_mut(channel) {
            e.0 = e.0.max(r.at);
        }
        acc.node(incident.clone(), r.source, r.at);
        conversation.push((r, incident));
    }

    // Pass 3: services, actions, people for incidents and conversation records.
    let mut incident_records: Vec<(&Rec<'_>, NodeRef)> = recs
        .iter()
        .filter(|r| matches!(r.kind, "incident" | "issue"))
        .map(|r| {
            (
                r,
                NodeRef::new(
                    NodeKind::Incident,
                    format!("{}:{}:{}", r.source, r.kind, r.id),
                ),
            )
        })
        .collect();
    incident_records.extend(conversation);
    for (r, inc) in &incident_records {
        let mut svcs = services_of(r);
        let lower = r.text.to_lowercase();
        for w in lower.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.')) {
            if known_services.contains(w) {
                svcs.insert(w.to_owned());
            }
        }
        for s in svcs {
            let sref = NodeRef::new(NodeKind::Service, s);
            acc.node(sref.clone(), r.source, r.at);
            acc.edge(EdgeKind::Affected, inc, &sref, r.source, r.at);
        }
        let resolution = attr_str(r, "resolution").unwrap_or("");
        for (kind, sentence) in actions_in(r.text).into_iter().chain(actions_in(resolution)) {
            let aref = NodeRef::new(NodeKind::Action, format!("{}#{kind}", inc.key));
            let a = acc.node(aref.clone(), r.source, r.at);
            a.attrs.insert("type".into(), kind.into());
            if a.label.is_none() {
                a.label = Some(sentence);
            }
            acc.edge(EdgeKind::ResolvedBy, inc, &aref, r.source, r.at);
        }
        for p in &r.people {
            let pref = NodeRef::new(NodeKind::Person, p.clone());
            acc.node(pref.clone(), r.source, r.at);
            acc.edge(EdgeKind::Responded, &pref, inc, r.source, r.at);
        }
        if let Some(m) = r.attrs.get("monitor_id").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }) {
            let mref = NodeRef::new(NodeKind::Monitor, format!("{}:monitor:{m}", r.source));
            acc.node(mref.clone(), r.source, r.at);
            acc.edge(EdgeKind::TriggeredBy, inc, &mref, r.source, r.at);
        }
    }

    // Pass 4: logs to signatures; exhibited by incidents affecting the log's service in time.
    let mut miner = SignatureMiner::new(MinerConfig::default());
    let logs: Vec<(&Rec<'_>, crate::signature::SignatureId)> = recs
        .iter()
        .filter(|r| r.kind == "log")
        .map(|r| (r, miner.observe(r.text)))
        .collect();
    let affected: Vec<(NodeRef, NodeRef)> = acc
        .edges
        .keys()
        .filter(|(k, _, _)| *k == EdgeKind::Affected)
        .map(|(_, i, s)| (i.clone(), s.clone()))
        .collect();
    let lead = Duration::minutes(config.log_lead_minutes);
    for (r, id) in logs {
        let template = miner.template(id).unwrap_or_default().to_owned();
        let sref = NodeRef::new(NodeKind::Signature, template.clone());
        acc.node(sref.clone(), r.source, r.at).label = Some(template);
        for svc in services_of(r) {
            let svref = NodeRef::new(NodeKind::Service, svc);
            acc.node(svref.clone(), r.source, r.at);
            acc.edge(EdgeKind::EmittedBy, &sref, &svref, r.source, r.at);
            for (inc, _) in affected.iter().filter(|(_, s)| *s == svref) {
                let Some(i) = acc.nodes.get(inc) else {
                    continue;
                };
                if r.at >= i.first_seen - lead && r.at <= i.last_seen {
                    let inc = inc.clone();
                    acc.edge(EdgeKind::Exhibited, &inc, &sref, r.source, r.at);
                }
            }
        }
    }

    // Pass 5: documents naming an incident.
    let incidents: Vec<(NodeRef, Vec<String>)> = acc
        .nodes
        .values()
        .filter(|n| n.node.kind == NodeKind::Incident)
        .map(|n| {
            let mut names: Vec<String> = by_ticket
                .iter()
                .filter(|(k, v)| **v == n.node && k.len() >= 3)
                .map(|(k, _)| k.clone())
                .collect();
            if let Some(l) = n.label.as_ref().filter(|l| l.len() >= 12) {
                names.push(l.clone());
            }
            (n.node.clone(), names)
        })
        .collect();
    for r in recs.iter().filter(|r| matches!(r.kind, "page" | "file")) {
        let title = attr_str(r, "title")
            .or_else(|| attr_str(r, "name"))
            .unwrap_or("");
        let hay = format!("{title}\n{}", r.text);
        let mentioned: Vec<&NodeRef> = incidents
            .iter()
            .filter(|(_, names)| names.iter().any(|k| contains_word(&hay, k)))
            .map(|(i, _)| i)
            .collect();
        if mentioned.is_empty() {
            continue;
        }
        let dref = NodeRef::new(NodeKind::Document, format!("{}:{}", r.source, r.id));
        let lower = hay.to_lowercase();
        let doc_type = if [
            "postmortem",
            "post-mortem",
            "retrospective",
            "incident review",
        ]
        .iter()
        .any(|w| lower.contains(w))
        {
            "postmortem"
        } else if ["runbook", "playbook"].iter().any(|w| lower.contains(w)) {
            "runbook"
        } else {
            "page"
        };
        let d = acc.node(dref.clone(), r.source, r.at);
        d.attrs.insert("type".into(), doc_type.into());
        d.label = Some(clip(if title.is_empty() { r.text } else { title }));
        for inc in mentioned {
            acc.edge(EdgeKind::DocumentedIn, inc, &dref, r.source, r.at);
        }
    }

    Ok(Batch {
        nodes: acc.nodes.into_values().collect(),
        edges: acc.edges.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use serde_json::json;

    fn records() -> Vec<Value> {
        vec![
            json!({"source": "datadog", "kind": "incident", "id": "101",
                   "occurred_at": "2026-01-05T10:00:00Z",
                   "text": "Checkout latency spike",
                   "identities": [{"role": "commander", "id": "person_1a2b"}],
                   "attributes": {"title": "Checkout latency spike", "severity": "SEV-2",
                                  "tags": ["service:checkout", "env:prod"], "monitor_id": 77}}),
            json!({"source": "datadog", "kind": "log", "id": "l1",
                   "occurred_at": "2026-01-05T09:55:00Z",
                   "text": "connection pool exhausted for db payments after 3000 ms",
                   "attributes": {"service": "checkout"}}),
            json!({"source": "datadog", "kind": "log", "id": "l2",
                   "occurred_at": "2026-01-05T10:01:00Z",
                   "text": "connection pool exhausted for db payments after 4100 ms",
                   "attributes": {"service": "checkout"}}),
            json!({"source": "slack", "kind": "message", "id": "1736071300.0001",
                   "container": "C-inc", "occurred_at": "2026-01-05T10:05:00Z",
                   "text": "payments db pool is exhausted, checkout is slow",
                   "identities": [{"role": "author", "id": "person_9f8e"}]}),
            json!({"source": "slack", "kind": "reply", "id": "1736071900.0002",
                   "container": "C-inc", "parent_id": "1736071300.0001",
                   "occurred_at": "2026-01-05T10:15:00Z",
                   "text": "We rolled back checkout to v41. Latency is back to normal.",
                   "identities": [{"role": "author", "id": "person_1a2b"}]}),
            json!({"source": "jira", "kind": "issue", "id": "20001",
                   "occurred_at": "2026-01-06T08:00:00Z", "text": "Search index slow",
                   "attributes": {"key": "OPS-7", "title": "Search index rebuild slow",
                                  "service": "search", "status": "Done",
                                  "resolution": "Scaled the indexer to 6 replicas"}}),
            json!({"source": "slack", "kind": "message", "id": "1736150000.0003",
                   "container": "C-ops", "occurred_at": "2026-01-06T08:10:00Z",
                   "text": "OPS-7: restarted the indexer pods"}),
            json!({"source": "confluence", "kind": "page", "id": "p-1",
                   "occurred_at": "2026-01-07T12:00:00Z",
                   "text": "Postmortem for OPS-7. Root cause: indexer memory.",
                   "attributes": {"title": "Postmortem: search indexing"}}),
        ]
    }

    fn has_edge(b: &Batch, kind: EdgeKind, from: &str, to: &str) -> bool {
        b.edges
            .iter()
            .any(|e| e.kind == kind && e.from.key.contains(from) && e.to.key.contains(to))
    }

    #[test]
    fn extracts_incidents_services_signatures_actions_documents_people() {
        let b = extract(&records(), &ExtractConfig::default()).unwrap();
        b.validate().unwrap();
        let count = |k: NodeKind| b.nodes.iter().filter(|n| n.node.kind == k).count();
        // datadog incident, jira issue, slack thread in C-inc (C-ops message joins OPS-7)
        assert_eq!(count(NodeKind::Incident), 3, "{:#?}", b.nodes);
        assert_eq!(count(NodeKind::Signature), 1);
        assert!(has_edge(
            &b,
            EdgeKind::Affected,
            "datadog:incident:101",
            "checkout"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::Exhibited,
            "datadog:incident:101",
            "connection pool"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::EmittedBy,
            "connection pool",
            "checkout"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::TriggeredBy,
            "datadog:incident:101",
            "datadog:monitor:77"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::ResolvedBy,
            "slack:thread:C-inc",
            "#rollback"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::ResolvedBy,
            "jira:issue:20001",
            "#scale"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::ResolvedBy,
            "jira:issue:20001",
            "#restart"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::DocumentedIn,
            "jira:issue:20001",
            "confluence:p-1"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::Responded,
            "person_1a2b",
            "datadog:incident:101"
        ));
        assert!(has_edge(
            &b,
            EdgeKind::Affected,
            "slack:thread:C-inc",
            "checkout"
        ));
        let doc = b
            .nodes
            .iter()
            .find(|n| n.node.kind == NodeKind::Document)
            .unwrap();
        assert_eq!(doc.attrs["type"], "postmortem");
        // Deterministic: same input, same batch.
        assert_eq!(b, extract(&records(), &ExtractConfig::default()).unwrap());
    }

    #[test]
    fn bad_records_are_clear_errors_without_content() {
        let cases = [
            json!({"kind": "issue", "id": "1", "occurred_at": "2026-01-01T00:00:00Z"}),
            json!({"source": "jira", "kind": "issue", "id": "1"}),
            json!({"source": "jira", "kind": "issue", "id": "1", "occurred_at": "yesterday"}),
            json!({"source": "jira", "kind": "issue", "id": "1", "occurred_at": "2026-01-02T00:00:00Z",
                   "updated_at": "2026-01-01T00:00:00Z"}),
            json!({"source": "jira", "kind": "issue", "id": "1", "occurred_at": "2026-01-01T00:00:00Z",
                   "text": "secret ".repeat(400_000)}),
            json!({"source": "jira", "kind": "issue", "id": "1", "occurred_at": "2026-01-01T00:00:00Z",
                   "attributes": "secret"}),
            json!("secret"),
        ];
        for c in cases {
            let mut recs = records();
            recs.push(c);
            let err = extract(&recs, &ExtractConfig::default()).unwrap_err();
            assert!(matches!(err, Error::InvalidRecord(_)), "{err}");
            let msg = err.to_string();
            assert!(msg.contains("record 8"), "{msg}");
            assert!(!msg.contains("secret"), "{msg}");
        }
    }

    #[test]
    fn ticket_keys_and_actions() {
        assert_eq!(
            ticket_keys("see OPS-7, and INC-1234; not ops-7 or A-1"),
            ["OPS-7", "INC-1234"]
        );
        let a = actions_in("Paged oncall. Rolled back to v2! Then restarted api.");
        let kinds: Vec<_> = a.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, ["rollback", "restart"]);
    }
}
