//! The process killed between steps: the real `bacca-fetch` and `bacca-anonymize` binaries in
//! local mode on one shared `BACCA_DATA_DIR`, SIGKILLed at named points of their handlers,
//! restarted, and the message redelivered as Pub/Sub would (at least once). The outcome must
//! equal a clean run of the same replayed data: no record lost, no graph entry duplicated, no
//! raw batch orphaned.
//!
//! The kill points are the debug-build fault hooks of `bacca_runtime::fault`: with
//! `BACCA_FAULT_POINT=<name>` a function parks at that point (after writing the marker file
//! `<data>/fault-<name>`) and the test SIGKILLs it there, so nothing after the point runs:
//!
//! | point | where | what the kill leaves |
//! |---|---|---|
//! | `fetch.raw_written` | after the raw batch write, before the `raw-landed` publish | a raw object nobody was told about |
//! | `fetch.published` | after the publish, before the checkpoint advances | a pointer whose page will be fetched again |
//! | `anonymize.extracted` | records anonymized and extracted, before the graph commit | nothing in the graph |
//! | `anonymize.committed` | after the graph commit, before `knowledge-updated` and the ack | a batch in the graph that will be processed again |
//!
//! Needs the debug binaries (`cargo nextest run --workspace` builds them; with `cargo test -p
//! bacca-tests` run `cargo build -p bacca-fetch -p bacca-anonymize` first). Release builds
//! compile the fault points out, so `BACCA_FUNCTION_BIN_DIR=<target>/release` cannot run it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod hostile_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bacca_connectors::replay::{self, TenantData};
use bacca_runtime::env::LocalLayout;
use bacca_tests::{create_keys, graph_counts, replay_credentials};
use chrono::{DateTime, Utc};
use hostile_support::{post_request, send_raw, start_process, Response};

/// The sources the replay server serves.
const SOURCES: [&str; 3] = ["slack", "datadog", "jira"];

/// A generous bound on waiting for a fault point; only a hang fails.
const DEADLINE: Duration = Duration::from_secs(120);

/// Graph nodes and edges per kind.
type Counts = (Vec<(String, i64)>, Vec<(String, i64)>);

/// What a run left behind (object names differ between runs: some batch ids derive from
/// checkpoints holding the fetch time; counts and record totals do not).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Graph nodes and edges per kind.
    counts: Counts,
    /// (source, records) of every distinct raw batch that reached the graph, sorted.
    processed: Vec<(String, u64)>,
    /// Raw objects in the tenant's store.
    raw_objects: usize,
}

/// One data directory with the tenant's key and bucket, and the replay server's address.
struct World {
    dir: tempfile::TempDir,
    data: TenantData,
    replay_url: String,
}

impl World {
    async fn new(now: DateTime<Utc>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = replay::tenants()[0].clone();
        create_keys(dir.path(), &[data.tenant]).unwrap();
        bacca_fetch::Deps::local(dir.path())
            .unwrap()
            .stores
            .store(data.tenant)
            .unwrap()
            .create_bucket()
            .await
            .unwrap();
        let replay_url = replay::start(&data, now).await.unwrap();
        Self {
            dir,
            data,
            replay_url,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the functions keep their files under the shared data directory.
    fn layout(&self) -> LocalLayout {
        LocalLayout::new(self.path())
    }

    /// The fetch function's settings: the tenant's channel and query, every API root at the
    /// replay server, the replay's placeholder credentials.
    fn fetch_env(&self) -> Vec<(&'static str, String)> {
        let creds = replay_credentials();
        let mut env = vec![
            ("BACCA_TENANT", self.data.tenant.to_owned()),
            ("BACCA_SLACK_CHANNELS", self.data.channel.to_owned()),
            (
                "BACCA_DATADOG_QUERY",
                format!("service:{} status:error", self.data.service),
            ),
            ("BACCA_SLACK_BASE_URL", self.replay_url.clone()),
            ("BACCA_DATADOG_BASE_URL", self.replay_url.clone()),
            ("BACCA_JIRA_BASE_URL", self.replay_url.clone()),
        ];
        for k in [
            "SLACK_BOT_TOKEN",
            "DD_API_KEY",
            "DD_APP_KEY",
            "JIRA_EMAIL",
            "JIRA_API_TOKEN",
        ] {
            env.push((k, creds.var(k).unwrap()));
        }
        env
    }

    fn anonymize_env(&self) -> Vec<(&'static str, String)> {
        vec![("BACCA_TENANT", self.data.tenant.to_owned())]
    }

    /// Starts `name`; with `fault`, parked at that point when it reaches it.
    async fn start(&self, name: &'static str, fault: Option<&str>) -> Proc {
        let mut env = if name == "bacca-fetch" {
            self.fetch_env()
        } else {
            self.anonymize_env()
        };
        if let Some(point) = fault {
            env.push((bacca_runtime::fault::FAULT_POINT_VAR, point.to_owned()));
        }
        let log = self.path().join(format!("{name}.log"));
        let (child, port) = start_process(name, self.path(), &env, Some(&log)).await;
        Proc {
            name,
            child,
            addr: format!("127.0.0.1:{port}"),
            marker: fault.map(|p| self.path().join(format!("fault-{p}"))),
        }
    }

    /// The fetch request for `source` as Cloud Scheduler publishes it; the same message id on
    /// every delivery.
    fn fetch_request(&self, source: &str, attempt: u32) -> Vec<u8> {
        let data = serde_json::json!({"tenant": self.data.tenant, "source": source});
        push(
            &hostile_support::b64(data.to_string().as_bytes()),
            &format!("fetch-{source}"),
            attempt,
        )
    }

    /// Lines of the local topic file `topic` as (message id, base64 data).
    fn topic(&self, topic: &str) -> Vec<(String, String)> {
        std::fs::read_to_string(self.layout().topic_file(topic))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["message_id"].as_str().unwrap().to_owned(),
                    v["data"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The `raw-landed` pointers published so far, duplicates included, as push bodies.
    fn raw_landed(&self, attempt: u32) -> Vec<Vec<u8>> {
        self.topic("raw-landed")
            .iter()
            .map(|(id, data)| push(data, id, attempt))
            .collect()
    }

    async fn raw_objects(&self) -> BTreeSet<String> {
        let stores = bacca_fetch::Deps::local(self.path()).unwrap().stores;
        let store = stores.store(self.data.tenant).unwrap();
        store
            .list("raw/", None)
            .await
            .unwrap()
            .objects
            .into_iter()
            .map(|o| o.name)
            .collect()
    }

    /// The run's outcome; also checks that every raw object reached the graph.
    async fn outcome(&self) -> Outcome {
        let raw = self.raw_objects().await;
        let mut seen = BTreeSet::new();
        for (_, data) in self.topic("knowledge-updated") {
            let bytes = hostile_support::unb64(&data);
            let u: bacca_anonymize::KnowledgeUpdated = serde_json::from_slice(&bytes).unwrap();
            seen.insert((u.object.unwrap(), u.records));
        }
        let names: BTreeSet<String> = seen.iter().map(|(o, _)| o.clone()).collect();
        assert_eq!(
            names, raw,
            "every raw object reached the graph, once per name"
        );
        let mut processed: Vec<(String, u64)> = seen
            .into_iter()
            .map(|(o, n)| (o.split('/').nth(1).unwrap_or_default().to_owned(), n))
            .collect();
        processed.sort();
        let pipeline = bacca_anonymize::Pipeline::local(self.path()).await.unwrap();
        Outcome {
            counts: graph_counts(&pipeline, self.data.tenant).await.unwrap(),
            processed,
            raw_objects: raw.len(),
        }
    }
}

/// A Pub/Sub push body carrying `data`, already base64, without attributes.
fn push(data: &str, message_id: &str, attempt: u32) -> Vec<u8> {
    hostile_support::push_body_b64(data, serde_json::json!({}), message_id, attempt)
}

/// A running function binary.
struct Proc {
    name: &'static str,
    child: tokio::process::Child,
    addr: String,
    marker: Option<PathBuf>,
}

impl Proc {
    /// Delivers `body` and returns the response.
    async fn deliver(&self, body: &[u8]) -> std::io::Result<Response> {
        send_raw(
            &self.addr,
            &post_request(body, None, "application/json"),
            DEADLINE,
        )
        .await
    }

    /// Delivers `body`, which must be acknowledged (204).
    async fn deliver_ok(&self, body: &[u8], what: &str) {
        let r = self.deliver(body).await.unwrap();
        assert_eq!(r.status, 204, "{}: {what}", self.name);
    }

    /// Delivers `body`, waits until the process is parked at its fault point, SIGKILLs it and
    /// checks that the delivery was not acknowledged.
    async fn deliver_and_kill_at_fault(mut self, body: Vec<u8>, what: &str) {
        let marker = self.marker.clone().expect("started with a fault point");
        let addr = self.addr.clone();
        let delivery = tokio::spawn(async move {
            send_raw(
                &addr,
                &post_request(&body, None, "application/json"),
                DEADLINE,
            )
            .await
        });
        let started = Instant::now();
        while !marker.exists() {
            assert!(
                !delivery.is_finished(),
                "{}: {what}: the delivery ended before the fault point {} (release build?)",
                self.name,
                marker.display()
            );
            assert!(
                started.elapsed() < DEADLINE,
                "{}: {what}: fault point never reached",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.child.start_kill().unwrap(); // SIGKILL
        let status = self.child.wait().await.unwrap();
        assert!(!status.success(), "{}: killed", self.name);
        match delivery.await.unwrap() {
            Err(_) => {} // connection closed without an answer: Pub/Sub redelivers
            Ok(r) => panic!("{}: {what}: answered {} before dying", self.name, r.status),
        }
    }

    async fn stop(mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }
}

async fn clean_run(now: DateTime<Utc>) -> Outcome {
    let w = World::new(now).await;
    let fetch = w.start("bacca-fetch", None).await;
    for s in SOURCES {
        fetch.deliver_ok(&w.fetch_request(s, 1), s).await;
    }
    fetch.stop().await;
    let anonymize = w.start("bacca-anonymize", None).await;
    for body in w.raw_landed(1) {
        anonymize.deliver_ok(&body, "raw-landed").await;
    }
    anonymize.stop().await;
    assert!(
        !w.layout().topic_file("dead-letter").exists(),
        "nothing dead-lettered"
    );
    let out = w.outcome().await;
    assert!(out.raw_objects > 0 && out.counts.0.len() > 3, "{out:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_steps_then_redelivered_equals_a_clean_run() {
    let now = Utc::now();
    let expected = clean_run(now).await;
    let w = World::new(now).await;

    // fetch killed after the raw write, before the publish.
    let fetch = w.start("bacca-fetch", Some("fetch.raw_written")).await;
    fetch
        .deliver_and_kill_at_fault(w.fetch_request("slack", 1), "slack, attempt 1")
        .await;
    let orphan = w.raw_objects().await;
    assert_eq!(orphan.len(), 1, "one raw batch written before the kill");
    assert!(
        w.raw_landed(1).is_empty(),
        "nothing published before the kill"
    );

    // Redelivered to a restarted fetch, killed again after the publish, before the checkpoint.
    let fetch = w.start("bacca-fetch", Some("fetch.published")).await;
    fetch
        .deliver_and_kill_at_fault(w.fetch_request("slack", 2), "slack, attempt 2")
        .await;
    assert_eq!(
        w.raw_objects().await,
        orphan,
        "the redelivery reused the batch written before the kill"
    );
    assert_eq!(w.raw_landed(1).len(), 1, "its pointer was published");

    // Redelivered again to a healthy fetch; the other sources fetched normally.
    let fetch = w.start("bacca-fetch", None).await;
    fetch
        .deliver_ok(&w.fetch_request("slack", 3), "slack, attempt 3")
        .await;
    for s in ["datadog", "jira"] {
        fetch.deliver_ok(&w.fetch_request(s, 1), s).await;
    }
    fetch.stop().await;
    assert!(
        w.raw_objects().await.is_superset(&orphan),
        "the first batch is still the one in the store"
    );
    let pointers = w.raw_landed(1);
    assert!(
        pointers.len() > expected.raw_objects,
        "the first pointer was published twice (at least once): {} pointers, {} objects",
        pointers.len(),
        expected.raw_objects
    );

    // anonymize killed with the first batch anonymized and extracted, before the graph commit.
    let anonymize = w
        .start("bacca-anonymize", Some("anonymize.extracted"))
        .await;
    anonymize
        .deliver_and_kill_at_fault(w.raw_landed(1)[0].clone(), "first batch, attempt 1")
        .await;
    // Redelivered, killed again after the commit, before knowledge-updated and the ack.
    let anonymize = w
        .start("bacca-anonymize", Some("anonymize.committed"))
        .await;
    anonymize
        .deliver_and_kill_at_fault(w.raw_landed(2)[0].clone(), "first batch, attempt 2")
        .await;
    assert!(
        w.topic("knowledge-updated").is_empty(),
        "nothing announced before the kills"
    );

    // A healthy anonymize receives every pointer, duplicates and the first one a third time.
    let anonymize = w.start("bacca-anonymize", None).await;
    for body in w.raw_landed(3) {
        anonymize.deliver_ok(&body, "raw-landed redelivery").await;
    }
    anonymize.stop().await;

    assert!(
        !w.layout().topic_file("dead-letter").exists(),
        "nothing dead-lettered"
    );
    assert_eq!(w.outcome().await, expected, "same as the clean run");
}
