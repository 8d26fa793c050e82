//! One behavioural suite run against every `GraphStore` backend: SQLite always, PostgreSQL
//! when `BACCA_TEST_POSTGRES_URL` is set (required when `CI` is set; for example
//! `postgres://root@127.0.0.1:5432/test`; the role must be able to create schemas and roles).

// Helpers outside #[test] functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use bacca_knowledge::cipher::AesGcmRowCipher;
use bacca_knowledge::graph::{ErasureCounts, KnowledgeGraph, ERASED};
use bacca_knowledge::model::{Batch, EdgeKind, NodeKind, NodeRef, TenantId};
use bacca_knowledge::store::postgres::PostgresStore;
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{
    GraphStore, NodeFilter, NodeRow, RowBatch, SimilarQuery, StoreOptions, TermRow,
    MAX_TERM_POSTINGS,
};
use bacca_knowledge::Error;
use chrono::Duration;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::ConnectOptions;
use support::*;

/// The suite every backend must pass.
async fn suite(store: Arc<dyn GraphStore>) {
    let tenant = TenantId::new(unique("t-")).unwrap();
    let g = KnowledgeGraph::new(store.clone(), cipher(), tenant.clone());

    // Unknown tenant: clear error, nothing created.
    let err = g.upsert(&fixture()).await.unwrap_err();
    assert!(matches!(err, Error::UnknownTenant(_)), "{err}");
    assert!(matches!(g.stats().await, Err(Error::UnknownTenant(_))));

    g.create().await.unwrap();
    g.create().await.unwrap(); // idempotent
    g.upsert(&fixture()).await.unwrap();
    let first = g.export().await.unwrap();
    assert_eq!(first.nodes.len(), 9);
    assert_eq!(first.edges.len(), 8);
    let inc = first
        .nodes
        .iter()
        .find(|n| n.node.key == "datadog:incident:101")
        .unwrap();
    assert_eq!(inc.attrs["severity"], "SEV-2");
    assert_eq!(
        inc.label.as_deref().unwrap().split(':').next(),
        Some("Checkout latency spike")
    );

    // Idempotent: replaying the same batch leaves the same graph.
    g.upsert(&fixture()).await.unwrap();
    assert_eq!(g.export().await.unwrap(), first);
    let stats = g.stats().await.unwrap();
    assert_eq!(stats.nodes.iter().map(|(_, n)| n).sum::<i64>(), 9);
    assert_eq!(stats.edges.iter().map(|(_, n)| n).sum::<i64>(), 8);

    // Merge: times widen, sources and attributes union, labels update.
    let mut later = node(NodeKind::Service, "checkout", None, "slack", 100);
    later.attrs.insert("tier".into(), "1".into());
    let mut earlier = node(NodeKind::Service, "checkout", None, "datadog", -30);
    earlier.last_seen = earlier.first_seen;
    g.upsert(&Batch {
        nodes: vec![later, earlier],
        edges: vec![],
    })
    .await
    .unwrap();
    let svc = g.nodes(Some(NodeKind::Service)).await.unwrap();
    let checkout = svc.iter().find(|n| n.node.key == "checkout").unwrap();
    assert_eq!(checkout.first_seen, t0() - Duration::minutes(30));
    assert_eq!(checkout.last_seen, t0() + Duration::minutes(110));
    assert_eq!(
        checkout
            .sources
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["datadog", "slack"]
    );
    assert_eq!(checkout.attrs["tier"], "1");

    // Transactions: an edge to a node that exists nowhere fails the whole batch.
    let before = g.export().await.unwrap();
    let bad = Batch {
        nodes: vec![node(
            NodeKind::Incident,
            "new:1",
            Some("half written?"),
            "jira",
            0,
        )],
        edges: vec![edge(
            EdgeKind::Affected,
            (NodeKind::Incident, "new:1"),
            (NodeKind::Service, "does-not-exist"),
            "jira",
        )],
    };
    let err = g.upsert(&bad).await.unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err}");
    assert!(!err.to_string().contains("half written"));
    assert_eq!(g.export().await.unwrap(), before);

    // Bad input: contradictory times, huge text; clear errors, nothing written.
    let mut contradictory = node(NodeKind::Incident, "new:2", None, "jira", 0);
    contradictory.first_seen = contradictory.last_seen + Duration::seconds(1);
    let err = g
        .upsert(&Batch {
            nodes: vec![
                node(NodeKind::Incident, "new:3", None, "jira", 0),
                contradictory,
            ],
            edges: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRecord(_)), "{err}");
    let huge = "x".repeat(8 * 1024 * 1024);
    let err = g
        .upsert(&Batch {
            nodes: vec![node(NodeKind::Document, "big", Some(&huge), "drive", 0)],
            edges: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRecord(_)), "{err}");
    assert!(err.to_string().len() < 200);
    assert_eq!(g.export().await.unwrap(), before);

    // Encrypted at rest: no clear text in the stored rows.
    for row in store.nodes(&tenant, &NodeFilter::default()).await.unwrap() {
        for ct in std::iter::once(&row.key_ct).chain(row.label_ct.as_ref()) {
            let hay = String::from_utf8_lossy(ct);
            for needle in [
                "checkout",
                "Checkout",
                "rollback",
                "pool",
                "datadog:incident",
            ] {
                assert!(!hay.contains(needle), "clear text at rest");
            }
        }
        assert!(!row.id.contains("checkout"));
    }

    // Another cipher (another tenant key) cannot read the rows.
    let foreign = KnowledgeGraph::new(
        store.clone(),
        Arc::new(AesGcmRowCipher::new(&[9; 32], &[8; 32]).unwrap()),
        tenant.clone(),
    );
    assert!(matches!(foreign.export().await, Err(Error::Crypto(_))));

    // similar: the log line matches the stored signature, names the service and shares words.
    let hits = g
        .similar(
            "checkout: connection pool exhausted for db payments-7 after 3000 ms",
            5,
        )
        .await
        .unwrap();
    assert!(!hits.is_empty());
    let top = &hits[0];
    assert_eq!(top.incident.node.key, "datadog:incident:101");
    assert_eq!(top.shared_signatures, 1);
    assert_eq!(top.shared_services, 1);
    assert_eq!(top.actions.len(), 1);
    assert_eq!(
        top.actions[0].label.as_deref(),
        Some("rollback checkout to v41")
    );
    assert_eq!(top.documents.len(), 1);
    if let Some(second) = hits.get(1) {
        assert!(second.score < top.score);
    }
    let none = g.similar("completely unrelated words", 5).await.unwrap();
    assert!(none
        .iter()
        .all(|h| h.incident.node.key != "datadog:incident:101"));

    erasure(&g, &store, &tenant).await;
}

/// Data-subject erasure: the subject's Person node and its edges go, their token disappears
/// from every other key and label, a node whose key held it moves with its edges; idempotent.
async fn erasure(g: &KnowledgeGraph, store: &Arc<dyn GraphStore>, tenant: &TenantId) {
    use EdgeKind as E;
    use NodeKind as K;
    const ALICE: &str = "<PERSON_aaaa1111>";
    const BOB: &str = "<PERSON_bbbb2222>";
    let doc_key = format!("gdrive:notes-{ALICE}");
    let batch = Batch {
        nodes: vec![
            node(K::Person, ALICE, None, "slack", 0),
            node(K::Person, BOB, None, "slack", 0),
            node(
                K::Incident,
                "slack:thread:C1:1",
                Some(&format!("Paged {ALICE} about checkout queue backlog")),
                "slack",
                0,
            ),
            node(
                K::Action,
                "slack:thread:C1:1#restart",
                Some(&format!("{ALICE} restarted the checkout workers")),
                "slack",
                0,
            ),
            node(
                K::Document,
                &doc_key,
                Some("Queue backlog notes"),
                "gdrive",
                0,
            ),
        ],
        edges: vec![
            edge(
                E::Responded,
                (K::Person, ALICE),
                (K::Incident, "slack:thread:C1:1"),
                "slack",
            ),
            edge(
                E::Responded,
                (K::Person, BOB),
                (K::Incident, "slack:thread:C1:1"),
                "slack",
            ),
            edge(
                E::ResolvedBy,
                (K::Incident, "slack:thread:C1:1"),
                (K::Action, "slack:thread:C1:1#restart"),
                "slack",
            ),
            edge(
                E::DocumentedIn,
                (K::Incident, "slack:thread:C1:1"),
                (K::Document, &doc_key),
                "gdrive",
            ),
            edge(
                E::Affected,
                (K::Incident, "slack:thread:C1:1"),
                (K::Service, "checkout"),
                "slack",
            ),
        ],
    };
    g.upsert(&batch).await.unwrap();
    let before = g.export().await.unwrap();

    let other = TenantId::new("someone-else").unwrap();
    let err = g
        .erase_subject(&other, &[ALICE.to_owned()])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownTenant(_)), "{err}");

    let counts = g.erase_subject(tenant, &[ALICE.to_owned()]).await.unwrap();
    assert_eq!(counts.nodes_deleted, 1);
    assert_eq!(counts.edges_deleted, 1);
    assert_eq!(counts.labels_rewritten, 3);
    let after = g.export().await.unwrap();
    assert_eq!(after.nodes.len(), before.nodes.len() - 1);
    assert_eq!(after.edges.len(), before.edges.len() - 1);
    let dump = serde_json::to_string(&after).unwrap();
    assert!(!dump.contains("aaaa1111"), "token survived erasure");
    assert!(dump.contains(BOB));
    let inc = after
        .nodes
        .iter()
        .find(|n| n.node.key == "slack:thread:C1:1")
        .unwrap();
    assert_eq!(
        inc.label.as_deref(),
        Some("Paged <ERASED> about checkout queue backlog")
    );
    // The document moved to its new key and kept its edge and label.
    assert!(after.edges.iter().any(|e| e.kind == E::DocumentedIn
        && e.from.key == "slack:thread:C1:1"
        && e.to.key == "gdrive:notes-<ERASED>"));
    let doc = after
        .nodes
        .iter()
        .find(|n| n.node.key == "gdrive:notes-<ERASED>")
        .unwrap();
    assert_eq!(doc.label.as_deref(), Some("Queue backlog notes"));
    // Terms were recomputed: the incident is still found by its words.
    let hits = g.similar("checkout queue backlog", 10).await.unwrap();
    assert!(hits
        .iter()
        .any(|h| h.incident.node.key == "slack:thread:C1:1"));
    // No stored row is still bound to the old ids.
    let ids: BTreeSet<String> = store
        .nodes(tenant, &NodeFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(!ids.contains(&g.node_id(&NodeRef::new(K::Person, ALICE))));
    assert!(!ids.contains(&g.node_id(&NodeRef::new(K::Document, doc_key.as_str()))));

    // Idempotent.
    let again = g.erase_subject(tenant, &[ALICE.to_owned()]).await.unwrap();
    assert_eq!(again, ErasureCounts::default());
    assert_eq!(g.export().await.unwrap(), after);
}

/// A batch mixing new nodes with stored ones: the rows of new nodes are inserted outright, those
/// of stored nodes merge; rows repeated in a batch handed straight to the store are written
/// once; a replay changes nothing.
async fn new_and_stored_rows(store: Arc<dyn GraphStore>) {
    use EdgeKind as E;
    use NodeKind as K;
    let tenant = TenantId::new(unique("mix-")).unwrap();
    let g = KnowledgeGraph::new(store.clone(), cipher(), tenant.clone());
    g.create().await.unwrap();
    g.upsert(&incident_on(
        "inc:1",
        "disk full on primary",
        "billing",
        "jira",
    ))
    .await
    .unwrap();
    // The stored incident gets a new title (new terms), its stored edge a new source and a new
    // edge to a new action; a new incident joins the stored service.
    let second = Batch {
        nodes: vec![
            node(
                K::Incident,
                "inc:1",
                Some("disk full on primary, replica lag"),
                "slack",
                5,
            ),
            node(
                K::Incident,
                "inc:2",
                Some("replica lag after failover"),
                "slack",
                20,
            ),
            node(K::Action, "inc:1#failover", Some("failover"), "slack", 5),
        ],
        edges: vec![
            edge(
                E::Affected,
                (K::Incident, "inc:1"),
                (K::Service, "billing"),
                "slack",
            ),
            edge(
                E::ResolvedBy,
                (K::Incident, "inc:1"),
                (K::Action, "inc:1#failover"),
                "slack",
            ),
            edge(
                E::Affected,
                (K::Incident, "inc:2"),
                (K::Service, "billing"),
                "slack",
            ),
        ],
    };
    g.upsert(&second).await.unwrap();
    let after = g.export().await.unwrap();
    assert_eq!(after.nodes.len(), 4);
    assert_eq!(after.edges.len(), 3);
    let stored_edge = after
        .edges
        .iter()
        .find(|e| e.kind == E::Affected && e.from.key == "inc:1")
        .unwrap();
    assert_eq!(
        stored_edge
            .sources
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["jira", "slack"]
    );
    // Both titles' new words are indexed: the stored incident's too.
    let hits = g.similar("replica lag", 5).await.unwrap();
    let keys: BTreeSet<&str> = hits.iter().map(|h| h.incident.node.key.as_str()).collect();
    assert_eq!(keys, ["inc:1", "inc:2"].into_iter().collect());
    assert!(hits.iter().all(|h| h.text_similarity > 0.0));
    g.upsert(&second).await.unwrap();
    assert_eq!(g.export().await.unwrap(), after);

    // Straight to the store, a new node's term row and edge given twice: written once.
    let third = Batch {
        nodes: vec![node(
            K::Incident,
            "inc:3",
            Some("primary disk full again"),
            "jira",
            30,
        )],
        edges: vec![edge(
            E::Affected,
            (K::Incident, "inc:3"),
            (K::Service, "billing"),
            "jira",
        )],
    };
    let mut rows = g.encrypt_batch(&third).unwrap();
    rows.terms.push(rows.terms[0]);
    rows.edges.push(rows.edges[0].clone());
    store.upsert(&tenant, &rows).await.unwrap();
    store.upsert(&tenant, &rows).await.unwrap();
    let last = g.export().await.unwrap();
    assert_eq!(last.nodes.len(), 5);
    assert_eq!(last.edges.len(), 4);
    let hit = g.similar("primary disk full again", 1).await.unwrap();
    assert_eq!(hit[0].incident.node.key, "inc:3");
    assert!(
        (hit[0].text_similarity - 1.0).abs() < 1e-9,
        "{}",
        hit[0].text_similarity
    );
}

#[tokio::test]
async fn sqlite_mixes_new_and_stored_rows() {
    let dir = tempfile::tempdir().unwrap();
    new_and_stored_rows(Arc::new(
        SqliteStore::open(dir.path(), StoreOptions::default()).unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn postgres_mixes_new_and_stored_rows() {
    let Some(url) = postgres_url() else { return };
    let (_admin, app, _schema) = postgres_setup(&url).await;
    let (_pool, store) = app_store(app, 4).await;
    new_and_stored_rows(Arc::new(store)).await;
}

/// `similar` leaves out a term held by more than [`MAX_TERM_POSTINGS`] incidents and keeps
/// one held by exactly that many: 2001 incidents share term 1 and 2000 of them term 4;
/// incident 0 also holds term 2, incident `x` terms 2 and 3.
async fn common_terms_are_left_out(store: Arc<dyn GraphStore>) {
    let tenant = TenantId::new(support::unique("terms")).unwrap();
    store.create_tenant(&tenant).await.unwrap();
    let id = |k: usize| format!("{k:032x}");
    let row = |k: usize| NodeRow {
        id: id(k),
        kind: NodeKind::Incident,
        key_ct: vec![1, 2, 3],
        label_ct: None,
        attrs: serde_json::json!({}),
        sources: vec!["jira".to_owned()],
        first_seen: support::t0(),
        last_seen: support::t0(),
    };
    let common = usize::try_from(MAX_TERM_POSTINGS).unwrap() + 1;
    let x = common;
    let mut batch = RowBatch::default();
    for k in 0..=x {
        batch.nodes.push(row(k));
    }
    let mut term = |node: usize, term: i64| batch.terms.push(TermRow { node, term });
    for k in 0..common {
        term(k, 1);
        if k > 0 {
            term(k, 4);
        }
    }
    term(0, 2);
    term(x, 2);
    term(x, 3);
    store.upsert(&tenant, &batch).await.unwrap();
    let similar = |terms: Vec<i64>, limit: usize| {
        let store = Arc::clone(&store);
        let tenant = tenant.clone();
        async move {
            let query = SimilarQuery {
                signatures: Vec::new(),
                services: Vec::new(),
                terms,
                limit,
            };
            let mut hits: Vec<(String, i64, i64)> = store
                .similar(&tenant, &query)
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.id, c.shared_terms, c.incident_terms))
                .collect();
            hits.sort();
            hits
        }
    };
    assert_eq!(
        similar(vec![1, 2, 3, 3], 10).await,
        vec![(id(0), 1, 2), (id(x), 2, 2)],
        "term 1 is too common to count; a repeated query term counts once"
    );
    assert!(similar(vec![1], 10).await.is_empty());
    // a long query: a term repeated far apart (SQLite reads the terms in chunks) counts once
    let mut long = vec![2];
    long.extend(1000..1600);
    long.push(2);
    assert_eq!(similar(long, 10).await, vec![(id(0), 1, 2), (id(x), 1, 2)]);
    let kept = similar(vec![4], 3).await;
    assert_eq!(
        kept.len(),
        3,
        "a term of exactly {MAX_TERM_POSTINGS} incidents counts"
    );
    assert!(kept.iter().all(|h| h.1 == 1 && h.2 == 2 && h.0 != id(0)));
}

#[tokio::test]
async fn sqlite_leaves_out_common_terms() {
    let dir = tempfile::tempdir().unwrap();
    common_terms_are_left_out(Arc::new(
        SqliteStore::open(dir.path(), StoreOptions::default()).unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn postgres_leaves_out_common_terms() {
    let Some(url) = postgres_url() else { return };
    let (_admin, app, _schema) = postgres_setup(&url).await;
    let (_pool, store) = app_store(app, 4).await;
    common_terms_are_left_out(Arc::new(store)).await;
}

/// Two graphs (two processes' worth: each its own caches and mutex) write one tenant. What
/// one adds or erases is seen by the other's next batch: a signature the second stored is
/// the template the first maps a new variant onto, a service the second stored is linked from
/// the first's incident titles, and a template the second erased (moved to its `<ERASED>` key)
/// is never re-created by the first, whose cache held it.
async fn two_graphs_share_a_tenant(store: Arc<dyn GraphStore>) {
    use EdgeKind as E;
    use NodeKind as K;
    const BOB: &str = "<PERSON_b0b0b0b0>";
    let tenant = TenantId::new(unique("t-")).unwrap();
    let first = KnowledgeGraph::new(store.clone(), cipher(), tenant.clone());
    let second = KnowledgeGraph::new(store.clone(), cipher(), tenant.clone());
    first.create().await.unwrap();
    let sig = |key: &str, dt: i64| node(K::Signature, key, Some(key), "datadog", dt);
    let signatures = |keys: &[&str], dt: i64| Batch {
        nodes: keys.iter().map(|k| sig(k, dt)).collect(),
        edges: Vec::new(),
    };
    let keys = |g: &KnowledgeGraph, kind: NodeKind| {
        let g = g.clone();
        async move {
            g.nodes(Some(kind))
                .await
                .unwrap()
                .into_iter()
                .map(|n| n.node.key)
                .collect::<BTreeSet<String>>()
        }
    };
    let held = format!("token refused for <*> by {BOB}");
    let erased = format!("token refused for <*> by {ERASED}");
    let service = |key: &str, dt: i64| node(K::Service, key, None, "datadog", dt);
    let incident = |key: &str, title: &str, dt: i64| node(K::Incident, key, Some(title), "pd", dt);
    let affected = |g: &KnowledgeGraph| {
        let g = g.clone();
        async move {
            g.export()
                .await
                .unwrap()
                .edges
                .into_iter()
                .filter(|e| e.kind == E::Affected)
                .map(|e| (e.from.key, e.to.key))
                .collect::<BTreeSet<(String, String)>>()
        }
    };
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    // Two batches: the second fills the first graph's caches with the first's template and
    // (a new service) its incident titles.
    first.upsert(&signatures(&[&held], 0)).await.unwrap();
    let mut batch = signatures(&["disk full on <*>"], 1);
    batch.nodes.push(service("search-api", 1));
    first.upsert(&batch).await.unwrap();

    let titled = |key: &str, title: &str| Batch {
        nodes: vec![incident(key, title, 1)],
        edges: Vec::new(),
    };
    let services = |keys: &[&str]| Batch {
        nodes: keys.iter().map(|k| service(k, 1)).collect(),
        edges: Vec::new(),
    };
    // An incident of each graph, then a new service named by both titles: both are linked
    // (the first graph's index takes the second's incident from the store).
    first
        .upsert(&titled("pd:2", "cart-api slow"))
        .await
        .unwrap();
    second
        .upsert(&titled("pd:1", "cart-api and payments-api errors"))
        .await
        .unwrap();
    first.upsert(&services(&["cart-api"])).await.unwrap();
    let links = affected(&first).await;
    assert!(links.contains(&pair("pd:2", "cart-api")), "{links:?}");
    assert!(links.contains(&pair("pd:1", "cart-api")), "{links:?}");

    // The first graph retitles its incident in place: its index follows its own write.
    first
        .upsert(&titled("pd:2", "media-api slow"))
        .await
        .unwrap();
    first.upsert(&services(&["media-api"])).await.unwrap();
    assert!(affected(&first).await.contains(&pair("pd:2", "media-api")));

    // The second graph retitles its incident in place: the first graph's next batch sees the
    // new title (a service only it names is linked), not the old one.
    second
        .upsert(&titled("pd:1", "ledger-worker down"))
        .await
        .unwrap();
    first.upsert(&services(&["ledger-worker"])).await.unwrap();
    first.upsert(&services(&["payments-api"])).await.unwrap();
    let links = affected(&first).await;
    assert!(links.contains(&pair("pd:1", "ledger-worker")), "{links:?}");
    assert!(!links.contains(&pair("pd:1", "payments-api")), "{links:?}");

    // The second graph stores a template and a service, and erases Bob.
    second
        .upsert(&signatures(&["retry <*> of 5"], 2))
        .await
        .unwrap();
    second
        .upsert(&Batch {
            nodes: vec![node(K::Service, "ledger-api", None, "datadog", 2)],
            edges: Vec::new(),
        })
        .await
        .unwrap();
    let counts = second
        .erase_subject(&tenant, &[BOB.to_owned()])
        .await
        .unwrap();
    assert_eq!(counts.labels_rewritten, 1);
    let stored = keys(&first, K::Signature).await;
    assert!(
        stored.contains(&erased) && !stored.contains(&held),
        "{stored:?}"
    );

    // The first graph's next batch: a variant of the second's template is mapped onto it; a
    // variant the erased template covered stays itself (the template it would have been
    // mapped onto is gone); an incident naming the second's service is linked to it.
    let variant = format!("token refused for alice by {BOB}");
    let mut batch = signatures(&["retry 3 of 5", &variant], 3);
    batch.nodes.push(node(
        K::Incident,
        "jira:OPS-9",
        Some("ledger-api timeouts"),
        "jira",
        3,
    ));
    first.upsert(&batch).await.unwrap();
    let stored = keys(&first, K::Signature).await;
    let want: BTreeSet<String> = [
        erased.as_str(),
        "disk full on <*>",
        "retry <*> of 5",
        variant.as_str(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(stored, want);
    let export = first.export().await.unwrap();
    assert!(export
        .edges
        .iter()
        .any(|e| e.kind == E::Affected && e.from.key == "jira:OPS-9" && e.to.key == "ledger-api"));
}

#[tokio::test]
async fn sqlite_two_graphs_share_a_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap());
    two_graphs_share_a_tenant(store).await;
}

#[tokio::test]
async fn postgres_two_graphs_share_a_tenant() {
    let Some(url) = postgres_url() else { return };
    let (_admin, app, _schema) = postgres_setup(&url).await;
    let (_pool, store) = app_store(app, 4).await;
    two_graphs_share_a_tenant(Arc::new(store)).await;
}

#[tokio::test]
async fn sqlite_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap());
    suite(store).await;
}

#[tokio::test]
async fn sqlite_file_per_tenant_and_schema_version_checks() {
    let dir = tempfile::tempdir().unwrap();
    let a = TenantId::new("alpha").unwrap();
    let b = TenantId::new("beta").unwrap();
    {
        let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
        store.create_tenant(&a).await.unwrap();
        store.create_tenant(&b).await.unwrap();
        assert!(store.tenant_path(&a).exists());
        assert_ne!(store.tenant_path(&a), store.tenant_path(&b));
    }
    // A file renamed to another tenant's name is refused.
    std::fs::copy(
        dir.path().join("alpha.sqlite"),
        dir.path().join("gamma.sqlite"),
    )
    .unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    let g = TenantId::new("gamma").unwrap();
    assert!(matches!(
        store.stats(&g).await,
        Err(Error::UnknownTenant(_))
    ));

    // Newer schema than the binary.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("beta.sqlite").display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET version = 999 WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    let err = store.stats(&b).await.unwrap_err();
    assert!(
        matches!(err, Error::SchemaTooNew { found: 999, .. }),
        "{err}"
    );

    // Older schema than the binary, migration not allowed.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("alpha.sqlite").display()
    ))
    .await
    .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version > 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    support::assert_sqlite_too_old(dir.path(), &a, 1).await;
}

/// A store on the application role's connection (`app` from [`postgres_setup`]: no DDL, row
/// level security applies) with `connections` connections (and as many for write locks), with
/// the pool it uses.
async fn app_store(app: PgConnectOptions, connections: u32) -> (PgPool, PostgresStore) {
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(app)
        .await
        .unwrap();
    let store = PostgresStore::from_pool(
        pool.clone(),
        StoreOptions {
            migrate: false,
            max_connections: connections,
        },
    )
    .await
    .unwrap();
    (pool, store)
}

/// A fresh schema with the graph migrated by the admin, and an unprivileged application role
/// (LOGIN, no superuser, no BYPASSRLS) granted DML on it. Returns (admin store, app options).
async fn postgres_setup(url: &str) -> (PostgresStore, PgConnectOptions, DropSchema) {
    let schema = unique("bacca_kg_");
    let admin = PgConnectOptions::from_str(url).unwrap();
    let boot = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.clone())
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&boot)
        .await
        .unwrap();
    let admin_opts = admin.clone().options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(admin_opts)
        .await
        .unwrap();
    let store = PostgresStore::from_pool(pool, StoreOptions::default())
        .await
        .unwrap();
    support::app_role::grant_app_role(&boot, &schema)
        .await
        .unwrap();
    let app = admin
        .username(support::app_role::APP_ROLE)
        .options([("search_path", schema.as_str())])
        .disable_statement_logging();
    let guard = DropSchema {
        url: url.to_owned(),
        schema,
    };
    (store, app, guard)
}

#[tokio::test]
async fn postgres_passes_the_suite_as_unprivileged_role() {
    let Some(url) = postgres_url() else { return };
    let (_admin, app, _schema) = postgres_setup(&url).await;
    let (_pool, store) = app_store(app, 4).await;
    suite(Arc::new(store)).await;
}

/// A batch racing a writer that stores one of its new nodes between the batch's lookup and
/// its insert (a writer without the tenant's write lock: straight to the store) fails with a
/// retryable error and writes nothing; the retry merges into the stored node.
#[tokio::test]
async fn postgres_node_stored_concurrently_is_a_retryable_error() {
    let Some(url) = postgres_url() else { return };
    let (_admin, app, _schema) = postgres_setup(&url).await;
    let (pool, store) = app_store(app, 4).await;
    let store = Arc::new(store);
    let tenant = TenantId::new(unique("race-")).unwrap();
    store.create_tenant(&tenant).await.unwrap();
    let (_, rows) = fixture_rows(&tenant).await;
    let first = &rows.nodes[0];
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('bacca.tenant_id', $1, true)")
        .bind(tenant.as_str())
        .execute(&mut *other)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO nodes (tenant_id, id, kind, key_ct, first_seen, last_seen) \
         VALUES ($1, decode($2, 'hex'), $3, $4, $5, $5)",
    )
    .bind(tenant.as_str())
    .bind(&first.id)
    .bind(first.kind.as_str())
    .bind(&first.key_ct)
    .bind(first.first_seen)
    .execute(&mut *other)
    .await
    .unwrap();
    let racing = tokio::spawn({
        let (store, tenant, rows) = (store.clone(), tenant.clone(), rows.clone());
        async move { store.upsert(&tenant, &rows).await }
    });
    // The batch looked the node up (not committed: absent) and waits on its insert.
    let mut waiting = false;
    for _ in 0..200 {
        waiting = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
             AND usename = current_user AND wait_event = 'transactionid' \
             AND query LIKE 'INSERT INTO nodes%')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(waiting, "the batch never waited on the concurrent insert");
    other.commit().await.unwrap();
    let err = racing.await.unwrap().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let stored = store.nodes(&tenant, &NodeFilter::default()).await.unwrap();
    assert_eq!(stored.len(), 1, "the failed batch wrote nothing");
    store.upsert(&tenant, &rows).await.unwrap();
    let stored = store.nodes(&tenant, &NodeFilter::default()).await.unwrap();
    assert_eq!(stored.len(), rows.nodes.len());
    let merged = stored.iter().find(|n| n.id == first.id).unwrap();
    assert_eq!(merged.label_ct, first.label_ct);
}

#[tokio::test]
async fn postgres_row_level_security_isolates_tenants() {
    let Some(url) = postgres_url() else { return };
    let (_admin, app, _schema) = postgres_setup(&url).await;
    let (pool, store) = app_store(app, 2).await;
    let store = Arc::new(store);
    let a = TenantId::new(unique("a-")).unwrap();
    let b = TenantId::new(unique("b-")).unwrap();
    let ga = KnowledgeGraph::new(store.clone(), cipher(), a.clone());
    let gb = KnowledgeGraph::new(store.clone(), cipher(), b.clone());
    ga.create().await.unwrap();
    gb.create().await.unwrap();
    ga.upsert(&fixture()).await.unwrap();
    assert_eq!(ga.export().await.unwrap().nodes.len(), 9);
    assert!(gb.export().await.unwrap().nodes.is_empty());

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('bacca.tenant_id', $1, true)")
        .bind(b.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    // Tenant b's session sees none of a's rows, even when asking for them by tenant id.
    for table in ["nodes", "edges", "term_postings", "term_bits", "tenants"] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"
        ))
        .bind(a.as_str())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table} leaks across tenants");
    }
    // ... and cannot write into a's rows.
    let err = sqlx::query(
        "INSERT INTO nodes (tenant_id, id, kind, key_ct, first_seen, last_seen) VALUES ($1, 'x', 'service', '\\x00', now(), now())",
    )
    .bind(a.as_str())
    .execute(&mut *tx)
    .await;
    assert!(
        err.is_err(),
        "RLS WITH CHECK must refuse another tenant's row"
    );
    tx.rollback().await.unwrap();

    // A session that sets no tenant sees nothing.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

/// PostgreSQL stores node ids as the bytes of their lowercase hex (schema 12): a batch with
/// any other id is refused whole, before anything is written, and a read asking for such an
/// id finds nothing (no error). Stored ids read back as the same hex.
#[tokio::test]
async fn postgres_refuses_node_ids_it_cannot_store() {
    let Some(url) = postgres_url() else { return };
    let (_admin, app, _schema) = postgres_setup(&url).await;
    let (_pool, store) = app_store(app, 2).await;
    let tenant = TenantId::new(unique("ids-")).unwrap();
    store.create_tenant(&tenant).await.unwrap();
    let row = |id: &str| NodeRow {
        id: id.to_owned(),
        kind: NodeKind::Service,
        key_ct: vec![1, 2, 3],
        label_ct: None,
        attrs: serde_json::json!({}),
        sources: vec!["datadog".to_owned()],
        first_seen: t0(),
        last_seen: t0(),
    };
    let good = "00ff".repeat(8);
    for bad in ["checkout", "00FF00FF", "abc", ""] {
        let batch = RowBatch {
            nodes: vec![row(&good), row(bad)],
            ..RowBatch::default()
        };
        let err = store.upsert(&tenant, &batch).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRecord(_)), "{bad:?}: {err}");
        let found = store
            .nodes(
                &tenant,
                &NodeFilter {
                    ids: Some(vec![bad.to_owned()]),
                    ..NodeFilter::default()
                },
            )
            .await
            .unwrap();
        assert!(found.is_empty(), "{bad:?}");
    }
    assert!(store
        .nodes(&tenant, &NodeFilter::default())
        .await
        .unwrap()
        .is_empty());
    store
        .upsert(
            &tenant,
            &RowBatch {
                nodes: vec![row(&good)],
                ..RowBatch::default()
            },
        )
        .await
        .unwrap();
    let stored = store.nodes(&tenant, &NodeFilter::default()).await.unwrap();
    assert_eq!(stored, vec![row(&good)]);
}

#[tokio::test]
async fn postgres_schema_version_checks() {
    let Some(url) = postgres_url() else { return };
    let (admin, app, _schema) = postgres_setup(&url).await;
    sqlx::query("UPDATE _sqlx_migrations SET version = 999 WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(admin.pool())
        .await
        .unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(app)
        .await
        .unwrap();
    let err = PostgresStore::from_pool(pool, StoreOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SchemaTooNew { found: 999, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn postgres_edges_have_no_foreign_keys_and_none_dangles_after_the_suite() {
    let Some(url) = postgres_url() else { return };
    let (admin, _app, _schema) = postgres_setup(&url).await;
    let fks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_constraint \
         WHERE conrelid = 'edges'::regclass AND confrelid = 'nodes'::regclass AND contype = 'f'",
    )
    .fetch_one(admin.pool())
    .await
    .unwrap();
    assert_eq!(fks, 0);
    // Upserts, replays and erasures (deletions and moved nodes) of the whole suite.
    suite(Arc::new(admin.clone())).await;
    let dangling: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM edges e WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.nid = e.src) \
         OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.nid = e.dst)",
    )
    .fetch_one(admin.pool())
    .await
    .unwrap();
    assert_eq!(dangling, 0);
    // `similar`'s term bitmaps (schema 14) hold exactly the terms of the stored nodes: as
    // (tenant, term, nid) sets, both differences are empty and no bitmap is left at 0.
    let (extra, missing, empty): (i64, i64, i64) = sqlx::query_as(
        "WITH bits AS (SELECT b.tenant_id, b.term, b.block * 64 + i AS nid \
                         FROM term_bits b, generate_series(0, 63) i \
                        WHERE b.bits & (1::bigint << i) <> 0), \
              terms AS (SELECT n.tenant_id, t AS term, n.nid FROM nodes n, unnest(n.terms) t) \
         SELECT (SELECT COUNT(*) FROM (SELECT * FROM bits EXCEPT SELECT * FROM terms) x), \
                (SELECT COUNT(*) FROM (SELECT * FROM terms EXCEPT SELECT * FROM bits) x), \
                (SELECT COUNT(*) FROM term_bits WHERE bits = 0)",
    )
    .fetch_one(admin.pool())
    .await
    .unwrap();
    let terms: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM term_bits")
        .fetch_one(admin.pool())
        .await
        .unwrap();
    assert!(terms > 0);
    assert_eq!((extra, missing, empty), (0, 0, 0));
    let edges: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM edges")
        .fetch_one(admin.pool())
        .await
        .unwrap();
    assert!(edges > 0);
}

/// Two stores on one database, each with a pool of its own: two processes, as far as the
/// server can tell.
async fn two_postgres_processes(url: &str) -> (Arc<PostgresStore>, Arc<PostgresStore>, DropSchema) {
    let (_admin, app, schema) = postgres_setup(url).await;
    let (_pool, first) = app_store(app.clone(), 2).await;
    let (_pool, second) = app_store(app, 2).await;
    (Arc::new(first), Arc::new(second), schema)
}

/// Not ready within a moment: only ever used as "still blocked", never as a success.
const STILL_BLOCKED: std::time::Duration = std::time::Duration::from_millis(200);

#[tokio::test]
async fn postgres_write_lock_holds_across_processes() {
    let Some(url) = postgres_url() else { return };
    let (first, second, _schema) = two_postgres_processes(&url).await;
    let tenant = TenantId::new(unique("t-lock-")).unwrap();

    // Held by the first process: the second waits until it is unlocked.
    let held = first.lock_writes(&tenant).await.unwrap();
    let mut waiting = {
        let (second, tenant) = (second.clone(), tenant.clone());
        tokio::spawn(async move { second.lock_writes(&tenant).await })
    };
    assert!(tokio::time::timeout(STILL_BLOCKED, &mut waiting)
        .await
        .is_err());
    // Another tenant's lock is independent.
    let other = TenantId::new(unique("t-other-")).unwrap();
    second
        .lock_writes(&other)
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
    held.unlock().await.unwrap();
    let acquired = waiting.await.unwrap().unwrap();

    // Now the first process waits; a lock dropped without unlock (panic, cancel) releases.
    let mut waiting = {
        let (first, tenant) = (first.clone(), tenant.clone());
        tokio::spawn(async move { first.lock_writes(&tenant).await })
    };
    assert!(tokio::time::timeout(STILL_BLOCKED, &mut waiting)
        .await
        .is_err());
    drop(acquired);
    let acquired = waiting.await.unwrap().unwrap();

    // A waiter cancelled while waiting leaves no lock behind either.
    assert!(
        tokio::time::timeout(STILL_BLOCKED, second.lock_writes(&tenant))
            .await
            .is_err()
    );
    acquired.unlock().await.unwrap();
    second
        .lock_writes(&tenant)
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
    first
        .lock_writes(&tenant)
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
}

/// An incident affecting `checkout` and, in the other batch, a log signature it emitted: the
/// `exhibited` link between them only exists if the later writer reads the earlier's rows.
fn split_batches() -> (Batch, Batch) {
    use EdgeKind as E;
    use NodeKind as K;
    let incident = incident_on("pd:incident:9", "Checkout errors", "checkout", "pagerduty");
    let logs = Batch {
        nodes: vec![
            node(K::Signature, "sig-9", Some(TEMPLATE), "gcp-logging", 1),
            node(K::Service, "checkout", None, "gcp-logging", 1),
        ],
        edges: vec![edge(
            E::EmittedBy,
            (K::Signature, "sig-9"),
            (K::Service, "checkout"),
            "gcp-logging",
        )],
    };
    (incident, logs)
}

#[tokio::test]
async fn postgres_concurrent_writers_in_two_processes_give_the_sequential_graph() {
    let Some(url) = postgres_url() else { return };
    let (first, second, _schema) = two_postgres_processes(&url).await;
    let (incident, logs) = split_batches();

    let sequential = TenantId::new(unique("t-seq-")).unwrap();
    let g = KnowledgeGraph::new(first.clone(), cipher(), sequential.clone());
    g.create().await.unwrap();
    g.upsert(&incident).await.unwrap();
    g.upsert(&logs).await.unwrap();
    let mut expected = g.export().await.unwrap();
    assert!(
        expected.edges.iter().any(|e| e.kind == EdgeKind::Exhibited),
        "the batches link across"
    );

    for round in 0..5 {
        let tenant = TenantId::new(unique(&format!("t-con{round}-"))).unwrap();
        let a = KnowledgeGraph::new(first.clone(), cipher(), tenant.clone());
        let b = KnowledgeGraph::new(second.clone(), cipher(), tenant.clone());
        a.create().await.unwrap();
        let (ra, rb) = tokio::join!(
            tokio::spawn({
                let (a, incident) = (a.clone(), incident.clone());
                async move { a.upsert(&incident).await }
            }),
            tokio::spawn({
                let (b, logs) = (b.clone(), logs.clone());
                async move { b.upsert(&logs).await }
            }),
        );
        ra.unwrap().unwrap();
        rb.unwrap().unwrap();
        let got = b.export().await.unwrap();
        expected.tenant = tenant;
        assert_eq!(got, expected, "round {round}");
    }
}
