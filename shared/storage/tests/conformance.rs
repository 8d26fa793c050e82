//! One conformance suite, run against both backends: `file://` always, `gs://` against
//! fake-gcs-server when `STORAGE_EMULATOR_HOST` is set (scripts/test.sh starts it; required when
//! `CI` is set: see `common::emulator_host`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::sync::Arc;

use bacca_storage::{GcsConfig, GcsStore, LocalStore, ObjectStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("bucket"));
    store.create_bucket().await.unwrap();
    let missing = LocalStore::new(dir.path().join("no-such-bucket"));
    common::conformance(Arc::new(store), Arc::new(missing)).await;
}

/// The local store never writes outside its directory, whatever the name.
#[tokio::test]
async fn local_store_stays_in_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bucket");
    let store = LocalStore::new(&root);
    store.create_bucket().await.unwrap();
    for bad in [
        "../x",
        "a/../../x",
        "/tmp/x",
        "..",
        ".bacca-lock",
        "a/.bacca-meta",
    ] {
        assert!(store
            .put(bad, bytes::Bytes::from_static(b"x"), Default::default())
            .await
            .is_err());
    }
    let outside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(outside.len(), 1, "only the bucket directory exists");
}

fn emulator_store(host: String, bucket: &str) -> GcsStore {
    let cfg = GcsConfig {
        endpoint: Some(host),
        list_page_size: 7,
        ..GcsConfig::new()
    };
    GcsStore::new(bucket, cfg).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_store_conformance_against_fake_gcs_server() {
    let Some(host) = common::emulator_host() else {
        return;
    };
    let bucket = format!("bacca-conf-{}", uuid::Uuid::new_v4().simple());
    let store = emulator_store(host.clone(), &bucket);
    store.create_bucket().await.unwrap();
    let missing = emulator_store(
        host,
        &format!("bacca-missing-{}", uuid::Uuid::new_v4().simple()),
    );
    common::conformance(Arc::new(store), Arc::new(missing)).await;
}

/// `open("gs://...")` alone reaches the emulator through `STORAGE_EMULATOR_HOST`, like
/// Google's client libraries, so every `gs://` command can be pointed at it.
#[tokio::test]
async fn open_honours_storage_emulator_host() {
    if common::emulator_host().is_none() {
        return;
    }
    let uri = format!("gs://bacca-open-{}", uuid::Uuid::new_v4().simple());
    let store = bacca_storage::open(&uri).unwrap();
    assert_eq!(store.uri(), uri);
    store.create_bucket().await.unwrap();
    let m = store
        .put("a", bytes::Bytes::from_static(b"x"), Default::default())
        .await
        .unwrap();
    assert_eq!(store.head("a").await.unwrap(), m);
}
