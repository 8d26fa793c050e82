//! Shared helpers of the connectors' black-box tests: the connector context, wiremock
//! responses shaped like the vendors' JSON, running a source to the end, the stored checkpoint.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bacca_audit::AuditSink;
use bacca_connectors::{
    Checkpoint, CheckpointStore, ConnectorContext, HttpConfig, MemoryCheckpointStore, Record,
    Source,
};
use wiremock::ResponseTemplate;

/// A context with fast retries and a memory audit sink.
pub fn ctx() -> (ConnectorContext, AuditSink) {
    let audit = AuditSink::memory();
    let mut c = ConnectorContext::new("tenant-a", audit.clone()).unwrap();
    c.http = HttpConfig::fast_for_tests();
    (c, audit)
}

/// Runs `source` to the end into memory; returns the parsed records, or the error.
pub async fn run(
    source: &mut dyn Source,
    store: &MemoryCheckpointStore,
) -> (Vec<Record>, Option<bacca_connectors::Error>) {
    let mut out = Vec::new();
    let res = bacca_connectors::run_to_end(source, store, "tenant-a", &mut out, 100).await;
    let records = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, res.err())
}

/// Runs `source` to the end into memory and returns the records; panics on an error.
pub async fn run_ok(source: &mut dyn Source, store: &MemoryCheckpointStore) -> Vec<Record> {
    let (records, err) = run(source, store).await;
    assert!(err.is_none(), "{err:?}");
    records
}

/// The stored checkpoint of `source`.
pub async fn stored(store: &MemoryCheckpointStore, source: &str) -> Option<Checkpoint> {
    store
        .load("tenant-a", source)
        .await
        .unwrap()
        .map(|s| s.checkpoint)
}

/// A 200 response with a JSON body (served as raw bytes: fixtures may be deliberately invalid).
pub fn json(body: &str) -> ResponseTemplate {
    json_status(200, body)
}

/// A response of `status` with a JSON body.
pub fn json_status(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}
