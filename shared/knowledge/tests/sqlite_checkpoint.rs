//! The SQLite store checkpoints its WAL in the background after upserts: a committed batch
//! reaches the database file itself soon after, well before the writer's auto-checkpoint
//! threshold (~64 MiB of WAL) would copy it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bacca_knowledge::model::{NodeKind, TenantId};
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{GraphStore, NodeFilter, NodeRow, RowBatch, StoreOptions};
use chrono::DateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_committed_batches_into_the_file_in_the_background() {
    let tenant = TenantId::new("alpha").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    store.create_tenant(&tenant).await.unwrap();
    let file = store.tenant_path(&tenant);
    let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let nodes: Vec<NodeRow> = (0..5000u32)
        .map(|i| NodeRow {
            id: format!("{i:032x}"),
            kind: NodeKind::Service,
            key_ct: vec![7; 64],
            label_ct: None,
            attrs: serde_json::json!({}),
            sources: vec!["jira".to_owned()],
            first_seen: at,
            last_seen: at,
        })
        .collect();
    let before = std::fs::metadata(&file).unwrap().len();
    store
        .upsert(
            &tenant,
            &RowBatch {
                nodes,
                ..RowBatch::default()
            },
        )
        .await
        .unwrap();
    // 5000 rows of ~100 bytes: ~500 KB of pages, in the WAL at commit.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let len = std::fs::metadata(&file).unwrap().len();
        if len >= before + 400_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "database file still {len} bytes (was {before}): batch not checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = store.nodes(&tenant, &NodeFilter::default()).await.unwrap();
    assert_eq!(stored.len(), 5000);
}
