//! Fault injection on the embedded pipeline (local keyring, `file://` raw store, SQLite graph,
//! in-process bus with Pub/Sub semantics), each scenario compared with a clean run of the same
//! replayed data: a crash after the raw write and before the publish, duplicate deliveries, the
//! graph store failing mid-batch, and poison messages. In every case no record is lost (the
//! same raw objects reach the graph with the same record counts), no graph entry is
//! duplicated (the same node and edge counts), and poison messages end in the dead-letter
//! topic with their `error_class`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use bacca_bus::{Message, Publisher};
use bacca_fetch::RawLanded;
use bacca_knowledge::store::GraphStore;
use bacca_tests::faults::{DuplicatingPublisher, FlakyGraphStore, FlakyPublisher};
use bacca_tests::{graph_counts, replay, RAW_LANDED_TOPIC};
use chrono::{DateTime, Utc};

type Counts = (Vec<(String, i64)>, Vec<(String, i64)>);

/// What a run left behind. Object names are not compared across runs: the Datadog and Jira
/// batch ids derive from checkpoints that hold the wall-clock time of the fetch.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Graph nodes and edges per kind.
    counts: Counts,
    /// (source, records) of every distinct raw batch that reached the graph, sorted.
    processed: Vec<(String, u64)>,
    /// Raw objects in the tenant's store.
    raw_objects: usize,
}

/// The shared world; the scenarios' helpers are methods of this wrapper.
struct World(bacca_tests::World);

impl std::ops::Deref for World {
    type Target = bacca_tests::World;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// One tenant's pipeline under `dir`, its connectors reading a replay made at `now`; the
/// graph store and the fetch function's publisher pass through the given wrappers.
async fn world(
    dir: &Path,
    now: DateTime<Utc>,
    wrap_graph: impl FnOnce(Arc<dyn GraphStore>) -> Arc<dyn GraphStore>,
    wrap_fetch_publisher: impl Fn(Arc<dyn Publisher>) -> Arc<dyn Publisher>,
) -> World {
    let data = replay::tenants()[0].clone();
    let configure = |p: &mut bacca_anonymize::Pipeline, _: &mut bacca_fetch::Deps| {
        p.graph = wrap_graph(p.graph.clone());
    };
    World(
        bacca_tests::world(dir, data, now, configure, wrap_fetch_publisher)
            .await
            .unwrap(),
    )
}

impl World {
    async fn fetch_all(&self) {
        self.harness
            .request_fetch(self.data.tenant, &["slack", "datadog", "jira"])
            .await
            .unwrap();
        self.harness.bus.drain().await;
    }

    async fn outcome(&self) -> Outcome {
        let store = self.fetch.stores.store(self.data.tenant).unwrap();
        let raw_objects: BTreeSet<String> = store
            .list("raw/", None)
            .await
            .unwrap()
            .objects
            .into_iter()
            .map(|o| o.name)
            .collect();
        let processed = self.harness.processed_objects().unwrap();
        let names: BTreeSet<String> = processed.iter().map(|(_, o, _)| o.clone()).collect();
        assert_eq!(names, raw_objects, "every raw object reached the graph");
        let mut processed: Vec<(String, u64)> = processed
            .into_iter()
            .map(|(_, o, n)| (o.split('/').nth(1).unwrap_or_default().to_owned(), n))
            .collect();
        processed.sort();
        Outcome {
            counts: graph_counts(&self.pipeline, self.data.tenant)
                .await
                .unwrap(),
            processed,
            raw_objects: raw_objects.len(),
        }
    }
}

fn same_bus(p: Arc<dyn Publisher>) -> Arc<dyn Publisher> {
    p
}

async fn baseline(now: DateTime<Utc>) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), now, |g| g, same_bus).await;
    w.fetch_all().await;
    assert!(w.harness.dead_letters.messages().is_empty());
    let out = w.outcome().await;
    assert!(out.raw_objects > 0 && out.counts.0.len() > 3, "{out:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_raw_write_before_publish_loses_nothing() {
    let now = Utc::now();
    let expected = baseline(now).await;
    let dir = tempfile::tempdir().unwrap();
    let flaky: Arc<std::sync::OnceLock<Arc<FlakyPublisher>>> = Arc::default();
    let slot = flaky.clone();
    let w = world(
        dir.path(),
        now,
        |g| g,
        move |bus| {
            let f = slot
                .get_or_init(|| Arc::new(FlakyPublisher::new(bus, 1)))
                .clone();
            f as Arc<dyn Publisher>
        },
    )
    .await;
    w.fetch_all().await;
    assert_eq!(flaky.get().unwrap().failed(), 1, "the crash was injected");
    assert!(w.harness.dead_letters.messages().is_empty());
    assert_eq!(w.outcome().await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_change_nothing() {
    let now = Utc::now();
    let expected = baseline(now).await;
    let dir = tempfile::tempdir().unwrap();
    let w = world(
        dir.path(),
        now,
        |g| g,
        |bus| Arc::new(DuplicatingPublisher::new(bus)) as Arc<dyn Publisher>,
    )
    .await;
    // Every raw-landed pointer delivered twice.
    w.fetch_all().await;
    let updates = w.harness.knowledge_updated.messages().len();
    assert_eq!(
        updates,
        2 * expected.processed.len(),
        "every pointer was processed twice"
    );
    assert!(w.harness.dead_letters.messages().is_empty());
    assert_eq!(w.outcome().await, expected);
    // The same fetch requests delivered again: the replay serves the same records again
    // (it ignores the checkpoint), new batches are written, and the graph still holds each
    // entry once.
    w.fetch_all().await;
    assert!(w.harness.dead_letters.messages().is_empty());
    assert_eq!(w.outcome().await.counts, expected.counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_store_failing_mid_batch_is_retried_without_loss() {
    let now = Utc::now();
    let expected = baseline(now).await;
    let dir = tempfile::tempdir().unwrap();
    let flaky: Arc<std::sync::OnceLock<Arc<FlakyGraphStore>>> = Arc::default();
    let slot = flaky.clone();
    let w = world(
        dir.path(),
        now,
        move |g| {
            let f = slot
                .get_or_init(|| Arc::new(FlakyGraphStore::new(g, 0)))
                .clone();
            f as Arc<dyn GraphStore>
        },
        same_bus,
    )
    .await;
    // Open the tenant's graph first, then make the next three upserts fail: the in-flight
    // path of fetch and the anonymize handler both meet the outage and are redelivered.
    let _ = w.pipeline.graph_of(w.data.tenant).await.unwrap();
    let store = flaky.get().unwrap().clone();
    store.fail_next(3);
    w.fetch_all().await;
    assert!(w.harness.dead_letters.messages().is_empty());
    assert_eq!(w.outcome().await, expected);
    assert!(store.upserts() >= expected.processed.len() as u64);
    assert_eq!(store.upserts_failed(), 3, "the outage was injected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_with_their_class() {
    let now = Utc::now();
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), now, |g| g, same_bus).await;
    w.fetch_all().await;
    let before = w.outcome().await;

    // 1. Not JSON at all.
    let garbage = Message::new(&b"{not json"[..]);
    w.harness
        .bus
        .publish(RAW_LANDED_TOPIC, garbage)
        .await
        .unwrap();
    // 2. A genuine ciphertext under another object name: its associated data binds the
    //    original name, so authentication fails.
    let store = w.fetch.stores.store(w.data.tenant).unwrap();
    let listing = store.list("raw/slack/", None).await.unwrap();
    let original = listing.objects[0].name.clone();
    let (bytes, _) = store.get(&original).await.unwrap();
    let copy = "raw/slack/2020-01-01/copied-batch";
    let meta = store.put(copy, bytes, Default::default()).await.unwrap();
    let pointer = RawLanded {
        tenant: w.data.tenant.into(),
        source: "slack".into(),
        object: copy.into(),
        generation: meta.generation,
    };
    w.harness
        .bus
        .publish(RAW_LANDED_TOPIC, pointer.to_message().unwrap())
        .await
        .unwrap();
    w.harness.bus.drain().await;

    let dead = w.harness.dead_letters.messages();
    assert_eq!(dead.len(), 2, "both poison messages dead-lettered");
    let by_data = |needle: &[u8]| {
        dead.iter()
            .find(|m| m.data.windows(needle.len()).any(|w| w == needle))
            .unwrap()
    };
    let bad_json = by_data(b"{not json");
    assert_eq!(&bad_json.data[..], b"{not json", "original data kept");
    let wrong_name = by_data(copy.as_bytes());
    let classes = [
        bad_json.attributes["error_class"].clone(),
        wrong_name.attributes["error_class"].clone(),
    ];
    println!("dead-letter classes: {classes:?}");
    assert_eq!(classes[0], "malformed_message");
    assert_eq!(classes[1], "wrong_associated_data");
    for m in &dead {
        assert!(m.attributes.contains_key("original_message_id"));
        assert_eq!(m.attributes["subscription"], "anonymize");
    }
    // Nothing of the poison reached the graph.
    assert_eq!(
        graph_counts(&w.pipeline, w.data.tenant).await.unwrap(),
        before.counts
    );
    assert_eq!(
        w.harness.processed_objects().unwrap().len(),
        before.raw_objects,
        "no knowledge-updated for the poison"
    );
}
