//! Black box: records -> extraction -> encrypted SQLite graph -> `similar`, replay-safe.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use bacca_knowledge::cipher::AesGcmRowCipher;
use bacca_knowledge::extract::{extract, ExtractConfig};
use bacca_knowledge::graph::KnowledgeGraph;
use bacca_knowledge::model::TenantId;
use bacca_knowledge::store::{open_store, StoreOptions};
use serde_json::json;

/// A created SQLite graph of tenant `acme` in `dir`, auditing to `audit`.
async fn sqlite_graph(dir: &std::path::Path, audit: bacca_audit::AuditSink) -> KnowledgeGraph {
    let store = open_store(
        &format!("sqlite://{}", dir.display()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let g = KnowledgeGraph::new(
        store,
        Arc::new(AesGcmRowCipher::for_tests().unwrap()),
        TenantId::new("acme").unwrap(),
    )
    .with_audit(audit);
    g.create().await.unwrap();
    g
}

#[tokio::test]
async fn records_to_similar_incidents_with_resolutions() {
    let records = vec![
        json!({"source": "jira", "kind": "issue", "id": "20001",
               "occurred_at": "2026-01-06T08:00:00Z", "text": "Search indexer lagging, queries time out",
               "attributes": {"key": "OPS-7", "title": "Search indexer lagging and queries timing out",
                              "service": "search", "resolution": "Scaled the indexer to 6 replicas"}}),
        json!({"source": "datadog", "kind": "log", "id": "l1", "occurred_at": "2026-01-06T07:58:00Z",
               "text": "indexer queue depth 91234 exceeds threshold 50000", "attributes": {"service": "search"}}),
        json!({"source": "datadog", "kind": "log", "id": "l2", "occurred_at": "2026-01-06T08:02:00Z",
               "text": "indexer queue depth 99876 exceeds threshold 50000", "attributes": {"service": "search"}}),
        json!({"source": "confluence", "kind": "page", "id": "p-1", "occurred_at": "2026-01-07T12:00:00Z",
               "text": "Postmortem for OPS-7.", "attributes": {"title": "Postmortem: search indexer"}}),
        json!({"source": "jira", "kind": "issue", "id": "20002",
               "occurred_at": "2026-01-08T08:00:00Z", "text": "Billing emails delayed",
               "attributes": {"key": "OPS-8", "title": "Billing emails delayed", "service": "billing"}}),
    ];
    let dir = tempfile::tempdir().unwrap();
    let audit = bacca_audit::AuditSink::memory();
    let g = sqlite_graph(dir.path(), audit.clone()).await;
    let batch = extract(&records, &ExtractConfig::default()).unwrap();
    g.upsert(&batch).await.unwrap();
    let once = g.export().await.unwrap();
    g.upsert(&extract(&records, &ExtractConfig::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(g.export().await.unwrap(), once, "replay changed the graph");

    let hits = g
        .similar(
            "ALERT search: indexer queue depth 120000 exceeds threshold 50000",
            3,
        )
        .await
        .unwrap();
    let top = &hits[0];
    assert_eq!(top.incident.node.key, "jira:issue:20001");
    assert_eq!(top.shared_signatures, 1);
    assert_eq!(top.shared_services, 1);
    assert_eq!(top.actions.len(), 1);
    assert_eq!(top.actions[0].attrs["type"], "scale");
    assert_eq!(top.documents.len(), 1);
    assert!(hits
        .iter()
        .all(|h| h.incident.node.key != "jira:issue:20002" || h.score < top.score));
    let events = serde_json::to_string(&audit.events()).unwrap();
    assert!(events.contains("kg.upsert") && events.contains("kg.similar"));
    assert!(
        !events.contains("indexer"),
        "audit events must not carry content"
    );
    let json = serde_json::to_value(g.export().await.unwrap()).unwrap();
    assert_eq!(json["tenant"], "acme");
    assert!(json["nodes"].as_array().unwrap().len() >= 7);
}

/// An incident and the logs of the service it affected, landed in different batches (as
/// Datadog incidents and logs do), are still linked: the incident's title names the service
/// its logs carry, the log line's signature counts as shared, whichever batch comes first, and
/// both orders build the same graph.
#[tokio::test]
async fn incidents_and_logs_in_different_batches_share_signatures() {
    let incident = vec![json!({"source": "datadog", "kind": "incident", "id": "i7",
        "occurred_at": "2026-01-06T08:00:00Z", "updated_at": "2026-01-06T08:30:00Z",
        "text": "Deploy broke calls to payments",
        "attributes": {"title": "checkout-api 502s after deploy"}})];
    let logs: Vec<_> = (0..6)
        .map(|i| {
            json!({"source": "datadog", "kind": "log", "id": format!("l{i}"),
                "occurred_at": format!("2026-01-06T08:0{i}:00Z"),
                "text": format!("upstream timeout calling payments-api after {}ms", 4000 + i * 37),
                "attributes": {"tags": ["service:checkout-api", "env:prod"]}})
        })
        .collect();
    // Logs of the same service a day later belong to no incident.
    let unrelated: Vec<_> = (0..3)
        .map(|i| {
            json!({"source": "datadog", "kind": "log", "id": format!("late{i}"),
                "occurred_at": format!("2026-01-07T12:0{i}:00Z"),
                "text": format!("cache warmup finished in {}ms", 100 + i),
                "attributes": {"tags": ["service:checkout-api"]}})
        })
        .collect();
    let mut exports = Vec::new();
    for order in [
        [&incident, &logs, &unrelated],
        [&unrelated, &logs, &incident],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let g = sqlite_graph(dir.path(), bacca_audit::AuditSink::Discard).await;
        for records in order {
            g.upsert(&extract(records, &ExtractConfig::default()).unwrap())
                .await
                .unwrap();
        }
        let hits = g
            .similar(
                "checkout-api upstream timeout calling payments-api after 5120ms",
                1,
            )
            .await
            .unwrap();
        assert_eq!(hits[0].incident.node.key, "datadog:incident:i7");
        assert_eq!(hits[0].shared_signatures, 1);
        assert_eq!(hits[0].shared_services, 1);
        let export = g.export().await.unwrap();
        let exhibited: Vec<_> = export
            .edges
            .iter()
            .filter(|e| e.kind == bacca_knowledge::model::EdgeKind::Exhibited)
            .map(|e| e.to.key.clone())
            .collect();
        assert_eq!(
            exhibited,
            ["upstream timeout calling payments-api after <*>"],
            "only the logs inside the incident's window are exhibited"
        );
        exports.push(export);
    }
    assert_eq!(exports[0], exports[1], "batch order changed the graph");
}

/// A batch whose miner saw one upstream keeps it in the template; the stored template already
/// generalised it to `<*>`: the batch's lines join the stored signature instead of a second one.
#[tokio::test]
async fn a_narrower_template_joins_the_stored_signature() {
    let lines = |upstreams: &[&str], hour: u32| -> Vec<serde_json::Value> {
        upstreams
            .iter()
            .enumerate()
            .map(|(i, u)| {
                json!({"source": "datadog", "kind": "log", "id": format!("h{hour}-{i}"),
                    "occurred_at": format!("2026-01-06T{hour:02}:0{i}:00Z"),
                    "text": format!("upstream timeout calling {u} after {}ms", 4000 + i),
                    "attributes": {"tags": ["service:checkout-api"]}})
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let g = sqlite_graph(dir.path(), bacca_audit::AuditSink::Discard).await;
    let first = lines(&["payments-api", "ledger-api", "search-api", "auth-api"], 8);
    g.upsert(&extract(&first, &ExtractConfig::default()).unwrap())
        .await
        .unwrap();
    let second = extract(
        &lines(&["payments-api", "payments-api"], 9),
        &ExtractConfig::default(),
    )
    .unwrap();
    assert!(second
        .nodes
        .iter()
        .any(|n| n.node.key == "upstream timeout calling payments-api after <*>"));
    g.upsert(&second).await.unwrap();
    g.upsert(&second).await.unwrap();
    let sigs = g
        .nodes(Some(bacca_knowledge::model::NodeKind::Signature))
        .await
        .unwrap();
    let keys: Vec<&str> = sigs.iter().map(|n| n.node.key.as_str()).collect();
    assert_eq!(keys, ["upstream timeout calling <*> after <*>"]);
    assert_eq!(
        sigs[0].last_seen.to_rfc3339(),
        "2026-01-06T09:01:00+00:00",
        "the later batch's sightings joined the stored signature"
    );
}

/// An incident title naming services links the incident to them (`affected`), once per
/// service however often or in whatever case the title names it: a service of the same batch
/// (taking precedence over a stored one named alike) and a stored one.
#[tokio::test]
async fn incident_titles_link_the_services_they_name() {
    use bacca_knowledge::model::{Batch, EdgeKind, NodeKind};
    let node = |kind, key: &str, label: Option<&str>| support::node(kind, key, label, "jira", 0);
    let dir = tempfile::tempdir().unwrap();
    let g = sqlite_graph(dir.path(), bacca_audit::AuditSink::Discard).await;
    g.upsert(&Batch {
        nodes: vec![node(NodeKind::Service, "ledger-api", None)],
        edges: vec![],
    })
    .await
    .unwrap();
    g.upsert(&Batch {
        nodes: vec![
            node(
                NodeKind::Incident,
                "jira:OPS-1",
                Some("Checkout-API down, checkout-api 502s; LEDGER-API slow"),
            ),
            node(NodeKind::Service, "checkout-api", None),
        ],
        edges: vec![],
    })
    .await
    .unwrap();
    let export = g.export().await.unwrap();
    let mut affected: Vec<(&str, &str)> = export
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Affected)
        .map(|e| (e.from.key.as_str(), e.to.key.as_str()))
        .collect();
    affected.sort_unstable();
    assert_eq!(
        affected,
        [("jira:OPS-1", "checkout-api"), ("jira:OPS-1", "ledger-api")]
    );
}
