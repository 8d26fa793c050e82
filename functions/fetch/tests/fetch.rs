//! The fetch function against a local Slack API replay: batches are encrypted, stamped with
//! Custom-Time, written once, pointed to, and the checkpoint only advances after the write.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::HashMap;
use std::sync::Arc;

use axum::{routing::get, Json, Router};
use bacca_audit::AuditSink;
use bacca_bus::MemoryPublisher;
use bacca_crypto::{associated_data, Keyring};
use bacca_fetch::{fetch, load_checkpoint, Deps, FetchRequest, RawLanded, RAW_PURPOSE};
use bacca_runtime::env::LocalLayout;
use chrono::{DateTime, Duration, Utc};

const T0: &str = "2023-11-14T22:15:00Z";

async fn slack_replay() -> String {
    let history = serde_json::json!({
        "ok": true,
        "messages": [
            {"type": "message", "user": "U01AAA", "text": "checkout-api 500s, paging <@U01BBB>", "ts": "1700000200.000200"},
            {"type": "message", "user": "U01BBB", "text": "rolled back deploy 4f2a9c1", "ts": "1700000100.000100"}
        ],
        "has_more": false,
        "response_metadata": {"next_cursor": ""}
    });
    let app = Router::new().route(
        "/conversations.history",
        get(move || {
            let h = history.clone();
            async move { Json(h) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn deps(dir: &std::path::Path, publisher: Arc<MemoryPublisher>) -> Deps {
    let mut deps = Deps::local(dir).unwrap();
    deps.audit = AuditSink::memory();
    deps.publisher = publisher;
    deps.connectors.slack_channels = vec!["C01INC".into()];
    deps.connectors
        .base_urls
        .insert("slack".into(), slack_replay().await);
    let env: HashMap<String, String> =
        HashMap::from([("SLACK_BOT_TOKEN".to_owned(), "xoxb-test".to_owned())]);
    deps.env = Arc::new(env);
    let t0: DateTime<Utc> = T0.parse().unwrap();
    deps.clock = Arc::new(move || t0 + Duration::days(1));
    Keyring::new(LocalLayout::new(dir).keyring_file(), AuditSink::Discard)
        .create("acme")
        .unwrap();
    deps.stores
        .store("acme")
        .unwrap()
        .create_bucket()
        .await
        .unwrap();
    deps
}

fn req() -> FetchRequest {
    FetchRequest {
        tenant: "acme".into(),
        source: "slack".into(),
    }
}

#[tokio::test]
async fn writes_encrypted_batch_with_custom_time_then_pointer_then_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let publisher = Arc::new(MemoryPublisher::new());
    let deps = deps(dir.path(), publisher.clone()).await;
    let report = fetch(&req(), &deps).await.unwrap();
    assert_eq!(report.records, 2);
    assert_eq!(report.batches_written, 1);
    assert!(report.done);

    let published = publisher.messages();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].topic, "raw-landed");
    assert_eq!(published[0].message.attributes["tenant"], "acme");
    let pointer: RawLanded = serde_json::from_slice(&published[0].message.data).unwrap();
    assert!(pointer.object.starts_with("raw/slack/2023-11-14/"));

    let store = deps.stores.store("acme").unwrap();
    let (ciphertext, meta) = store.get(&pointer.object).await.unwrap();
    assert_eq!(meta.generation, pointer.generation);
    let earliest: DateTime<Utc> = "2023-11-14T22:15:00Z".parse().unwrap();
    assert_eq!(meta.custom_time.unwrap().timestamp(), earliest.timestamp());
    // The batch is ciphertext: the message text does not appear in it.
    assert!(!String::from_utf8_lossy(&ciphertext).contains("checkout-api"));
    let aead = deps.keys.envelope("acme").await.unwrap();
    let aad = associated_data("acme", &pointer.object, RAW_PURPOSE);
    let plain = aead.decrypt(&ciphertext, &aad).await.unwrap();
    let text = String::from_utf8(plain).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.contains("rolled back deploy 4f2a9c1"));
    // Bound to its object: the same bytes under another name do not decrypt.
    let other = associated_data("acme", "raw/slack/2023-11-14/other", RAW_PURPOSE);
    assert!(aead.decrypt(&ciphertext, &other).await.is_err());

    assert!(load_checkpoint(store.as_ref(), "slack")
        .await
        .unwrap()
        .is_some());
    let fetch_events = deps
        .audit
        .events()
        .into_iter()
        .filter(|e| e.action == "fetch")
        .count();
    assert_eq!(fetch_events, 1);
}

#[tokio::test]
async fn crash_before_publish_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let publisher = Arc::new(MemoryPublisher::new());
    let deps = deps(dir.path(), publisher.clone()).await;
    publisher.fail_with(Some(bacca_bus::Error::Backend {
        class: "unavailable",
        retryable: true,
    }));
    let err = fetch(&req(), &deps).await.unwrap_err();
    assert!(err.to_handler_error().is_retryable());
    let store = deps.stores.store("acme").unwrap();
    assert!(
        load_checkpoint(store.as_ref(), "slack")
            .await
            .unwrap()
            .is_none(),
        "checkpoint must not advance past an unpublished batch"
    );
    publisher.fail_with(None);
    let report = fetch(&req(), &deps).await.unwrap();
    assert_eq!(report.batches_written, 0, "redelivery rewrites nothing");
    assert_eq!(publisher.messages().len(), 1, "the pointer is published");
    let objects = store.list("raw/", None).await.unwrap().objects;
    assert_eq!(objects.len(), 1, "exactly one batch");
}

#[tokio::test]
async fn records_older_than_retention_are_never_written_raw() {
    let dir = tempfile::tempdir().unwrap();
    let publisher = Arc::new(MemoryPublisher::new());
    let mut deps = deps(dir.path(), publisher.clone()).await;
    let t0: DateTime<Utc> = T0.parse().unwrap();
    deps.clock = Arc::new(move || t0 + Duration::days(31));
    let report = fetch(&req(), &deps).await.unwrap();
    assert_eq!(report.too_old, 2);
    assert_eq!(report.batches_written, 0);
    assert!(publisher.messages().is_empty());
    let store = deps.stores.store("acme").unwrap();
    assert!(store.list("raw/", None).await.unwrap().objects.is_empty());
}

#[tokio::test]
async fn wrong_tenant_and_unknown_source_are_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let mut deps = deps(dir.path(), Arc::new(MemoryPublisher::new())).await;
    deps.tenant = Some("globex".into());
    let e = fetch(&req(), &deps).await.unwrap_err();
    assert!(!e.to_handler_error().is_retryable());
    deps.tenant = None;
    let bad = FetchRequest {
        tenant: "acme".into(),
        source: "myspace".into(),
    };
    let e = fetch(&bad, &deps).await.unwrap_err();
    assert!(!e.to_handler_error().is_retryable());
}
