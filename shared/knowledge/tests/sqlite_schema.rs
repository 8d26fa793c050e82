//! SQLite schema 5 (node ids stored as 16-byte BLOBs): a graph written with schema 4 (hex
//! TEXT ids, as the previous binaries wrote it) migrates with its data, and ids that are not
//! lowercase hex still round-trip as text. And the writer's multi-row statements: large
//! batches write each row once and roll back whole.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use bacca_knowledge::cipher::AesGcmRowCipher;
use bacca_knowledge::graph::KnowledgeGraph;
use bacca_knowledge::model::{Batch, Edge, EdgeKind, Node, NodeKind, NodeRef, TenantId};
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{
    EdgeFilter, EdgeRow, GraphStore, NodeFilter, NodeRow, RowBatch, StoreOptions, TermRow,
};
use bacca_knowledge::Error;
use chrono::{DateTime, Duration, Utc};

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn node(kind: NodeKind, key: &str, label: Option<&str>, dt: i64) -> Node {
    Node {
        node: NodeRef::new(kind, key),
        label: label.map(str::to_owned),
        attrs: serde_json::Map::new(),
        sources: ["datadog".to_owned()].into_iter().collect::<BTreeSet<_>>(),
        first_seen: t0() + Duration::minutes(dt),
        last_seen: t0() + Duration::minutes(dt + 10),
    }
}

fn edge(kind: EdgeKind, from: (NodeKind, &str), to: (NodeKind, &str)) -> Edge {
    Edge {
        kind,
        from: NodeRef::new(from.0, from.1),
        to: NodeRef::new(to.0, to.1),
        sources: ["datadog".to_owned()].into_iter().collect(),
        first_seen: t0(),
        last_seen: t0() + Duration::minutes(5),
    }
}

fn fixture() -> Batch {
    use EdgeKind as E;
    use NodeKind as K;
    Batch {
        nodes: vec![
            node(
                K::Incident,
                "datadog:incident:101",
                Some("Checkout latency spike: connection pool exhausted on payments database"),
                0,
            ),
            node(K::Service, "checkout", None, 0),
            node(
                K::Signature,
                "sig-1",
                Some("connection pool exhausted for db <*> after <*> ms"),
                0,
            ),
            node(K::Action, "act-1", Some("rollback checkout to v41"), 5),
        ],
        edges: vec![
            edge(
                E::Affected,
                (K::Incident, "datadog:incident:101"),
                (K::Service, "checkout"),
            ),
            edge(
                E::Exhibited,
                (K::Incident, "datadog:incident:101"),
                (K::Signature, "sig-1"),
            ),
            edge(
                E::ResolvedBy,
                (K::Incident, "datadog:incident:101"),
                (K::Action, "act-1"),
            ),
            edge(
                E::EmittedBy,
                (K::Signature, "sig-1"),
                (K::Service, "checkout"),
            ),
        ],
    }
}

fn graph(store: Arc<dyn GraphStore>, tenant: &TenantId) -> KnowledgeGraph {
    KnowledgeGraph::new(
        store,
        Arc::new(AesGcmRowCipher::for_tests().unwrap()),
        tenant.clone(),
    )
    .with_audit(bacca_audit::AuditSink::Discard)
}

#[tokio::test]
async fn sqlite_migrates_a_version_4_graph_with_hex_ids() {
    let tenant = TenantId::new("alpha").unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let reference: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(scratch.path(), StoreOptions::default()).unwrap());
    let g = graph(reference, &tenant);
    g.create().await.unwrap();
    g.upsert(&fixture()).await.unwrap();
    let expected = g.export().await.unwrap();
    let rows = g.encrypt_batch(&fixture()).unwrap();

    // A schema 4 file, written as the binaries before schema 5 did: hex TEXT ids.
    let dir = tempfile::tempdir().unwrap();
    let pool = support::sqlite_alpha_at_version(dir.path(), 4).await;
    let us = |t: DateTime<Utc>| t.timestamp_micros();
    support::insert_sqlite_text_id_nodes(&pool, &rows).await;
    let nid = |id: &str| {
        let pool = pool.clone();
        let id = id.to_owned();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT nid FROM nodes WHERE id = ?")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    for e in &rows.edges {
        sqlx::query(
            "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) \
             VALUES (?, ?, ?, 'alpha', ?, ?, ?)",
        )
        .bind(nid(&e.src).await)
        .bind(e.kind.as_str())
        .bind(nid(&e.dst).await)
        .bind(serde_json::to_string(&e.sources).unwrap())
        .bind(us(e.first_seen))
        .bind(us(e.last_seen))
        .execute(&pool)
        .await
        .unwrap();
    }
    for t in &rows.terms {
        sqlx::query("INSERT INTO node_terms (term, nid) VALUES (?, ?)")
            .bind(t.term)
            .bind(nid(&rows.nodes[t.node].id).await)
            .execute(&pool)
            .await
            .unwrap();
    }
    let text_ids: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE typeof(id) = 'text'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(text_ids, i64::try_from(rows.nodes.len()).unwrap());
    pool.close().await;

    support::assert_sqlite_too_old(dir.path(), &tenant, 4).await;

    let store: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap());
    let migrated = graph(Arc::clone(&store), &tenant);
    assert_eq!(migrated.export().await.unwrap(), expected);
    let hits = migrated
        .similar(
            "checkout: connection pool exhausted for db payments-7 after 3000 ms",
            5,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].incident.node.key, "datadog:incident:101");
    assert_eq!(hits[0].actions.len(), 1);
    assert_eq!(hits[0].shared_signatures, 1);
    assert_eq!(hits[0].shared_services, 1);
    // Stored as blobs now, and a replay through the new write path changes nothing.
    migrated.upsert(&fixture()).await.unwrap();
    assert_eq!(migrated.export().await.unwrap(), expected);
    let check = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("alpha.sqlite")),
    )
    .await
    .unwrap();
    let blob_ids: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM nodes WHERE typeof(id) = 'blob' AND length(id) = 16",
    )
    .fetch_one(&check)
    .await
    .unwrap();
    assert_eq!(blob_ids, i64::try_from(rows.nodes.len()).unwrap());
}

#[tokio::test]
async fn sqlite_keeps_ids_that_are_not_lowercase_hex_as_text() {
    let tenant = TenantId::new("alpha").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    store.create_tenant(&tenant).await.unwrap();
    let row = |id: &str, kind: NodeKind| NodeRow {
        id: id.to_owned(),
        kind,
        key_ct: vec![1, 2, 3],
        label_ct: None,
        attrs: serde_json::json!({}),
        sources: vec!["jira".to_owned()],
        first_seen: t0(),
        last_seen: t0(),
    };
    // Upper-case hex, odd length, not hex, lower-case hex: each comes back as written.
    let ids = ["ABCDEF", "abc", "n-1", "00ff"];
    let batch = RowBatch {
        nodes: vec![
            row(ids[0], NodeKind::Incident),
            row(ids[1], NodeKind::Service),
            row(ids[2], NodeKind::Action),
            row(ids[3], NodeKind::Service),
        ],
        edges: vec![
            EdgeRow {
                kind: EdgeKind::Affected,
                src: ids[0].to_owned(),
                dst: ids[1].to_owned(),
                sources: vec!["jira".to_owned()],
                first_seen: t0(),
                last_seen: t0(),
            },
            EdgeRow {
                kind: EdgeKind::ResolvedBy,
                src: ids[0].to_owned(),
                dst: ids[2].to_owned(),
                sources: vec!["jira".to_owned()],
                first_seen: t0(),
                last_seen: t0(),
            },
        ],
        terms: vec![TermRow { node: 0, term: 7 }],
    };
    store.upsert(&tenant, &batch).await.unwrap();
    store.upsert(&tenant, &batch).await.unwrap();
    let mut got: Vec<String> = store
        .nodes(&tenant, &NodeFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    got.sort();
    let mut want: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(got, want);
    for id in ids {
        let one = store
            .nodes(
                &tenant,
                &NodeFilter {
                    kind: None,
                    ids: Some(vec![id.to_owned()]),
                },
            )
            .await
            .unwrap();
        assert_eq!(one.len(), 1, "{id}");
        assert_eq!(one[0].id, id);
    }
    let edges = store
        .edges(
            &tenant,
            &EdgeFilter {
                kind: None,
                src_ids: Some(vec![ids[0].to_owned()]),
                dst_ids: None,
            },
        )
        .await
        .unwrap();
    let ends: Vec<(&str, &str)> = edges
        .iter()
        .map(|e| (e.src.as_str(), e.dst.as_str()))
        .collect();
    assert_eq!(ends, vec![(ids[0], ids[1]), (ids[0], ids[2])]);
}

/// Batches past the writer's multi-row statement sizes (128 term rows, 64 edges per
/// statement): every row lands once, a replay changes nothing, a repeated edge merges, and a
/// row breaking a constraint inside a multi-row statement rolls the whole batch back.
#[tokio::test]
async fn sqlite_large_batches_write_each_row_once_and_roll_back_whole() {
    let tenant = TenantId::new("alpha").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    store.create_tenant(&tenant).await.unwrap();
    let id = |k: usize| format!("{k:032x}");
    let row = |k: usize, kind: NodeKind| NodeRow {
        id: id(k),
        kind,
        key_ct: vec![1, 2, 3],
        label_ct: None,
        attrs: serde_json::json!({}),
        sources: vec!["jira".to_owned()],
        first_seen: t0(),
        last_seen: t0(),
    };
    let edge_row = |src: usize, dst: usize, source: &str| EdgeRow {
        kind: EdgeKind::Affected,
        src: id(src),
        dst: id(dst),
        sources: vec![source.to_owned()],
        first_seen: t0(),
        last_seen: t0() + Duration::minutes(1),
    };
    // 10 services, 300 incidents with 3 edges and 2 terms each.
    let mut batch = RowBatch::default();
    for s in 0..10 {
        batch.nodes.push(row(s, NodeKind::Service));
    }
    for i in 10..310 {
        batch.nodes.push(row(i, NodeKind::Incident));
        for s in [i % 10, (i + 3) % 10, (i + 7) % 10] {
            batch.edges.push(edge_row(i, s, "jira"));
        }
        batch.terms.push(TermRow {
            node: i,
            term: i64::try_from(i % 7).unwrap(),
        });
        batch.terms.push(TermRow {
            node: i,
            term: i64::try_from(i).unwrap(),
        });
    }
    // One edge repeated with another source: merged into the first.
    batch.edges.push(edge_row(10, 0, "slack"));
    store.upsert(&tenant, &batch).await.unwrap();
    store.upsert(&tenant, &batch).await.unwrap();
    let stats = store.stats(&tenant).await.unwrap();
    assert_eq!(
        stats.nodes,
        vec![(NodeKind::Incident, 300), (NodeKind::Service, 10)]
    );
    assert_eq!(stats.edges, vec![(EdgeKind::Affected, 900)]);
    let merged = store
        .edges(
            &tenant,
            &EdgeFilter {
                kind: None,
                src_ids: Some(vec![id(10)]),
                dst_ids: Some(vec![id(0)]),
            },
        )
        .await
        .unwrap();
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].sources, ["jira", "slack"]);
    // Every edge reads back between the ids it was written with: the new nodes' nids (64
    // per statement, then one by one) are the ones their edges were written with.
    let written: BTreeSet<(String, String)> = batch
        .edges
        .iter()
        .map(|e| (e.src.clone(), e.dst.clone()))
        .collect();
    let read: BTreeSet<(String, String)> = store
        .edges(&tenant, &EdgeFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.src, e.dst))
        .collect();
    assert_eq!(read, written);

    // 100 new incidents whose 31st edge (inside the first 64-row statement) breaks the CHECK
    // rule (first_seen <= last_seen): nothing of the batch is written.
    let mut bad = RowBatch::default();
    for i in 400..500 {
        bad.nodes.push(row(i, NodeKind::Incident));
        let mut e = edge_row(i, i % 10, "jira");
        if i == 430 {
            e.first_seen = t0() + Duration::minutes(5);
        }
        bad.edges.push(e);
        bad.terms.push(TermRow {
            node: i - 400,
            term: 1,
        });
    }
    let err = store.upsert(&tenant, &bad).await.unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err}");
    assert_eq!(store.stats(&tenant).await.unwrap(), stats);
}

#[tokio::test]
async fn sqlite_new_nodes_take_nids_past_the_largest_without_a_sequence_row() {
    let tenant = TenantId::new("alpha").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    store.create_tenant(&tenant).await.unwrap();
    let id = |k: usize| format!("{k:032x}");
    let batch = |from: usize| {
        let mut b = RowBatch::default();
        for k in from..from + 100 {
            b.nodes.push(NodeRow {
                id: id(k),
                kind: NodeKind::Incident,
                key_ct: vec![1],
                label_ct: None,
                attrs: serde_json::json!({}),
                sources: vec!["jira".to_owned()],
                first_seen: t0(),
                last_seen: t0(),
            });
            if k > 0 {
                b.edges.push(EdgeRow {
                    kind: EdgeKind::Affected,
                    src: id(k),
                    dst: id(k - 1),
                    sources: vec!["jira".to_owned()],
                    first_seen: t0(),
                    last_seen: t0(),
                });
            }
        }
        b
    };
    store.upsert(&tenant, &batch(0)).await.unwrap();
    // A file whose AUTOINCREMENT counter row is gone: SQLite then numbers from the largest nid.
    rusqlite::Connection::open(store.tenant_path(&tenant))
        .unwrap()
        .execute("DELETE FROM sqlite_sequence", [])
        .unwrap();
    store.upsert(&tenant, &batch(100)).await.unwrap();
    let read: BTreeSet<(String, String)> = store
        .edges(&tenant, &EdgeFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.src, e.dst))
        .collect();
    let written: BTreeSet<(String, String)> = (1..200).map(|k| (id(k), id(k - 1))).collect();
    assert_eq!(read, written);
}

/// The (term, nid) pairs of the tenant file's term bitmaps, and the pairs its node lists call
/// for (each node's `terms`, 8 bytes per term).
async fn bitmap_and_list_pairs(
    pool: &sqlx::SqlitePool,
) -> (BTreeSet<(i64, i64)>, BTreeSet<(i64, i64)>) {
    (
        support::sqlite_term_bit_pairs(pool).await,
        support::sqlite_term_list_pairs(pool).await,
    )
}

/// The term bitmaps (schema 11) hold exactly the (term, node) pairs of the node lists through
/// new incidents spread over several blocks of 64 nids, a replay, a stored incident whose
/// title gains words (bits or-ed into stored bitmaps) and an erasure that moves an incident
/// (the old node's bits cleared, the new node's set); `similar` finds the moved incident by
/// its words.
#[tokio::test]
async fn sqlite_term_bitmaps_follow_the_node_lists_through_merges_and_erasure() {
    use NodeKind as K;
    const ALICE: &str = "<PERSON_aaaa1111>";
    let tenant = TenantId::new("alpha").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap());
    let g = graph(Arc::clone(&store), &tenant);
    g.create().await.unwrap();
    let words = [
        "checkout", "queue", "backlog", "payments", "latency", "replica",
    ];
    let moved_key = format!("slack:thread:D1:{ALICE}");
    let mut batch = Batch::default();
    batch.nodes.push(node(K::Person, ALICE, None, 0));
    batch.nodes.push(node(
        K::Incident,
        &moved_key,
        Some("checkout queue backlog"),
        0,
    ));
    for i in 0..150 {
        let title = format!("{} {} spike", words[i % 6], words[(i / 6) % 6]);
        batch.nodes.push(node(
            K::Incident,
            &format!("datadog:incident:{i}"),
            Some(&title),
            0,
        ));
    }
    g.upsert(&batch).await.unwrap();
    let file = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("alpha.sqlite")),
    )
    .await
    .unwrap();
    let (bits, lists) = bitmap_and_list_pairs(&file).await;
    assert!(lists.len() > 300, "{}", lists.len());
    assert!(lists.iter().any(|p| p.1 >= 128), "nids span three blocks");
    assert_eq!(bits, lists);

    g.upsert(&batch).await.unwrap();
    assert_eq!(bitmap_and_list_pairs(&file).await, (bits.clone(), lists));

    // a stored incident's title gains words: its new terms are or-ed into stored bitmaps
    let mut longer = Batch::default();
    longer.nodes.push(node(
        K::Incident,
        "datadog:incident:7",
        Some("queue backlog spike on payments replica after deploy"),
        1,
    ));
    g.upsert(&longer).await.unwrap();
    let (bits, lists) = bitmap_and_list_pairs(&file).await;
    assert_eq!(bits, lists);

    // erasure moves the incident keyed by the subject: its old node's bits go
    let counts = g.erase_subject(&tenant, &[ALICE.to_owned()]).await.unwrap();
    assert_eq!(counts.nodes_deleted, 1);
    let (after_bits, after_lists) = bitmap_and_list_pairs(&file).await;
    assert_eq!(after_bits, after_lists);
    assert_ne!(after_bits, bits, "the moved incident's pairs changed nids");
    let hits = g.similar("checkout queue backlog", 3).await.unwrap();
    assert_eq!(hits[0].incident.node.key, "slack:thread:D1:<ERASED>");
}
