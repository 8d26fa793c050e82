//! SQLite schema 8 has no index on node ids: each store maps ids to nids in memory and its
//! writer keeps ids unique. Two stores on one directory (as two processes would be) each keep
//! their own map: rows one writes are found, merged into and linked to by the other, and rows
//! one erases are gone for the other too, even when the other's map still names them and the
//! erased node had the largest nid (nids are never handed out again).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bacca_knowledge::model::{EdgeKind, NodeKind, TenantId};
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{
    EdgeFilter, EdgeRow, Erasure, ErasureCounts, GraphStore, NodeFilter, NodeRow, RowBatch,
    StoreOptions,
};
use chrono::{DateTime, Duration, Utc};

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn id(byte: &str) -> String {
    byte.repeat(16)
}

fn row(id: &str, kind: NodeKind, at: DateTime<Utc>) -> NodeRow {
    NodeRow {
        id: id.to_owned(),
        kind,
        key_ct: vec![1, 2, 3],
        label_ct: None,
        attrs: serde_json::json!({}),
        sources: vec!["jira".to_owned()],
        first_seen: at,
        last_seen: at,
    }
}

fn edge(kind: EdgeKind, src: &str, dst: &str) -> EdgeRow {
    EdgeRow {
        kind,
        src: src.to_owned(),
        dst: dst.to_owned(),
        sources: vec!["jira".to_owned()],
        first_seen: t0(),
        last_seen: t0(),
    }
}

fn batch(nodes: Vec<NodeRow>, edges: Vec<EdgeRow>) -> RowBatch {
    RowBatch {
        nodes,
        edges,
        terms: Vec::new(),
    }
}

async fn by_id(store: &SqliteStore, tenant: &TenantId, id: &str) -> Vec<NodeRow> {
    let filter = NodeFilter {
        kind: None,
        ids: Some(vec![id.to_owned()]),
    };
    store.nodes(tenant, &filter).await.unwrap()
}

async fn all_ids(store: &SqliteStore, tenant: &TenantId) -> Vec<String> {
    let mut ids: Vec<String> = store
        .nodes(tenant, &NodeFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    ids.sort();
    ids
}

async fn edges_into(store: &SqliteStore, tenant: &TenantId, dst: &str) -> Vec<(String, String)> {
    let filter = EdgeFilter {
        kind: None,
        src_ids: None,
        dst_ids: Some(vec![dst.to_owned()]),
    };
    store
        .edges(tenant, &filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.src, e.dst))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_id_maps_of_two_stores_stay_exact_through_writes_and_erasure() {
    let tenant = TenantId::new("alpha").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    let b = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    a.create_tenant(&tenant).await.unwrap();
    let (inc, svc, act, doc) = (id("11"), id("22"), id("33"), id("44"));
    // b loads its map before a writes anything.
    assert!(by_id(&b, &tenant, &inc).await.is_empty());
    a.upsert(
        &tenant,
        &batch(
            vec![
                row(&inc, NodeKind::Incident, t0()),
                row(&svc, NodeKind::Service, t0()),
            ],
            vec![edge(EdgeKind::Affected, &inc, &svc)],
        ),
    )
    .await
    .unwrap();
    // b finds a's rows, merges into them (no second row for an id) and links to them.
    assert_eq!(by_id(&b, &tenant, &inc).await.len(), 1);
    let later = t0() + Duration::hours(1);
    let second = batch(
        vec![
            row(&inc, NodeKind::Incident, later),
            row(&act, NodeKind::Action, later),
        ],
        vec![
            edge(EdgeKind::ResolvedBy, &inc, &act),
            edge(EdgeKind::Affected, &inc, &svc),
        ],
    );
    b.upsert(&tenant, &second).await.unwrap();
    b.upsert(&tenant, &second).await.unwrap();
    assert_eq!(
        all_ids(&a, &tenant).await,
        [inc.as_str(), svc.as_str(), act.as_str()]
    );
    let merged = by_id(&a, &tenant, &inc).await;
    assert_eq!((merged[0].first_seen, merged[0].last_seen), (t0(), later));
    assert_eq!(
        edges_into(&a, &tenant, &act).await,
        [(inc.clone(), act.clone())]
    );

    // a erases the service and the action (the node with the largest nid); b's map still
    // names both.
    let counts = a
        .erase(
            &tenant,
            &Erasure {
                delete: vec![svc.clone(), act.clone()],
                rewrite: Vec::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        counts,
        ErasureCounts {
            nodes_deleted: 2,
            edges_deleted: 2,
            labels_rewritten: 0,
        }
    );
    assert!(by_id(&b, &tenant, &svc).await.is_empty());
    assert!(edges_into(&b, &tenant, &svc).await.is_empty());
    // An edge to an erased node fails the batch, whole.
    let dangling = batch(
        vec![row(&doc, NodeKind::Document, t0())],
        vec![edge(EdgeKind::Affected, &inc, &svc)],
    );
    assert!(b.upsert(&tenant, &dangling).await.is_err());
    assert_eq!(all_ids(&a, &tenant).await, [inc.as_str()]);
    // A new node takes a nid past every earlier one: the action's stale entry in b's map
    // names no row (it would name the document if the action's nid were handed out again).
    b.upsert(
        &tenant,
        &batch(vec![row(&doc, NodeKind::Document, t0())], Vec::new()),
    )
    .await
    .unwrap();
    assert!(by_id(&b, &tenant, &act).await.is_empty());
    assert_eq!(by_id(&b, &tenant, &doc).await[0].id, doc);
    // b writes the erased service again: one new row, which a finds and links to.
    b.upsert(
        &tenant,
        &batch(
            vec![row(&svc, NodeKind::Service, t0())],
            vec![edge(EdgeKind::Affected, &inc, &svc)],
        ),
    )
    .await
    .unwrap();
    for store in [&a, &b] {
        assert_eq!(
            all_ids(store, &tenant).await,
            [inc.as_str(), svc.as_str(), doc.as_str()]
        );
        assert_eq!(
            edges_into(store, &tenant, &svc).await,
            [(inc.clone(), svc.clone())]
        );
    }
}
