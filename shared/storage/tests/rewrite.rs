//! The raw rewrite of data-subject erasure on both backends: content replaced under the same
//! name and Custom-Time with the raw layout's metadata, empty batches deleted, objects outside
//! `raw/` never touched, a second run changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use bacca_storage::{
    rewrite_raw, GcsConfig, GcsStore, LocalStore, ObjectMeta, ObjectStore, PutOptions, RawRewriter,
    Rewrite, RewriteFailure,
};
use bytes::Bytes;
use common::t;

/// Removes the lines `secret`; deletes what is left empty.
struct DropSecret;

#[async_trait]
impl RawRewriter for DropSecret {
    async fn rewrite(&self, _m: &ObjectMeta, data: Bytes) -> Result<Rewrite, RewriteFailure> {
        let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
        let kept: Vec<&[u8]> = lines.iter().copied().filter(|l| *l != b"secret").collect();
        Ok(if kept.len() == lines.len() {
            Rewrite::Keep
        } else if kept.is_empty() {
            Rewrite::Delete
        } else {
            Rewrite::Replace(Bytes::from(kept.join(&b'\n')))
        })
    }
}

async fn scenario(store: Arc<dyn ObjectStore>) {
    let ct = t("2026-11-20T08:00:00Z");
    for (name, body) in [
        ("raw/slack/2026-11-20/a", &b"secret\nkept"[..]),
        ("raw/slack/2026-11-20/b", b"secret"),
        ("raw/jira/2026-11-20/c", b"other"),
        ("checkpoints/slack", b"secret"),
    ] {
        store
            .put(
                name,
                Bytes::from_static(body),
                PutOptions::create_only().with_custom_time(ct),
            )
            .await
            .unwrap();
    }
    let before = store.head("raw/slack/2026-11-20/a").await.unwrap();
    let r = rewrite_raw(store.as_ref(), "acme", &DropSecret)
        .await
        .unwrap();
    assert_eq!(
        (r.scanned, r.rewritten, r.deleted, r.unchanged, r.failed),
        (3, 1, 1, 1, 0),
        "{r:?}"
    );
    let (data, meta) = store.get("raw/slack/2026-11-20/a").await.unwrap();
    assert_eq!(&data[..], b"kept");
    assert_eq!(meta.custom_time, Some(ct), "retention is not extended");
    assert!(meta.generation > before.generation);
    assert!(store.head("raw/slack/2026-11-20/b").await.is_err());
    assert_eq!(
        &store.get("checkpoints/slack").await.unwrap().0[..],
        b"secret"
    );
    let again = rewrite_raw(store.as_ref(), "acme", &DropSecret)
        .await
        .unwrap();
    assert_eq!((again.rewritten, again.deleted, again.unchanged), (0, 0, 2));
}

#[tokio::test]
async fn rewrite_local() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    store.create_bucket().await.unwrap();
    scenario(Arc::new(store)).await;
}

#[tokio::test]
async fn rewrite_gcs() {
    let Some(host) = common::emulator_host() else {
        return;
    };
    let cfg = GcsConfig {
        endpoint: Some(host),
        ..GcsConfig::new()
    };
    let bucket = format!("bacca-rw-{}", uuid::Uuid::new_v4().simple());
    let store = GcsStore::new(&bucket, cfg).unwrap();
    store.create_bucket().await.unwrap();
    scenario(Arc::new(store)).await;
}
