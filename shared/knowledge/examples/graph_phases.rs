//! Where a graph write's time goes: per batch of 1000 bench records (the `graph` bench's
//! generator), the rows written and the time of the graph layer's reads (signature
//! generalisation, service mentions, cross-batch links), of encryption (ids, ciphertexts, term
//! hashes) and of the store transaction, on SQLite (and PostgreSQL when
//! `BACCA_TEST_POSTGRES_URL` is set, in a fresh schema dropped at the end).
//!
//! `cargo run --release -p bacca-knowledge --example graph_phases`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use bacca_knowledge::cipher::AesGcmRowCipher;
use bacca_knowledge::graph::KnowledgeGraph;
use bacca_knowledge::model::{Batch, Edge, EdgeKind, Node, NodeKind, NodeRef, TenantId};
use bacca_knowledge::store::postgres::PostgresStore;
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{GraphStore, StoreOptions};
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const WORDS: &[&str] = &[
    "latency",
    "spike",
    "database",
    "pool",
    "exhausted",
    "timeout",
    "checkout",
    "payments",
    "queue",
    "backlog",
    "memory",
    "leak",
    "disk",
    "full",
    "certificate",
    "expired",
    "dns",
    "resolution",
    "failing",
    "deploy",
    "regression",
    "cache",
    "eviction",
    "storm",
    "replica",
    "lag",
    "throttled",
    "quota",
    "kafka",
    "consumer",
    "rebalance",
    "oom",
    "killed",
    "pods",
];
const ACTIONS: &[&str] = &[
    "rollback",
    "restart",
    "scale",
    "failover",
    "config_change",
    "hotfix",
];

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn set(s: &str) -> BTreeSet<String> {
    [s.to_owned()].into_iter().collect()
}

fn node(kind: NodeKind, key: String, label: Option<String>, at: DateTime<Utc>) -> Node {
    Node {
        node: NodeRef::new(kind, key),
        label,
        attrs: serde_json::Map::new(),
        sources: set("datadog"),
        first_seen: at,
        last_seen: at,
    }
}

fn edge(kind: EdgeKind, from: &NodeRef, to: &NodeRef, at: DateTime<Utc>) -> Edge {
    Edge {
        kind,
        from: from.clone(),
        to: to.clone(),
        sources: set("datadog"),
        first_seen: at,
        last_seen: at,
    }
}

/// Services and signatures shared by all incidents.
fn base() -> Batch {
    let mut b = Batch::default();
    for s in 0..50 {
        b.nodes
            .push(node(NodeKind::Service, format!("svc-{s}"), None, t0()));
    }
    for s in 0..200 {
        b.nodes.push(node(
            NodeKind::Signature,
            format!("sig-{s}"),
            Some(format!(
                "worker <*> failed calling upstream {} {} after <*> ms",
                WORDS[s % WORDS.len()],
                WORDS[(s / WORDS.len()) % WORDS.len()]
            )),
            t0(),
        ));
    }
    b
}

/// Records `from..from+n` (see the module doc).
fn records(from: u64, n: u64) -> Batch {
    let mut b = Batch::default();
    for i in from..from + n {
        let at = t0() + Duration::seconds(i64::try_from(i).unwrap());
        let w = |k: u64| WORDS[usize::try_from((i * 7 + k * 13) % WORDS.len() as u64).unwrap()];
        let title = format!("{} {} {} in {} {}", w(0), w(1), w(2), w(3), w(4));
        let inc = node(
            NodeKind::Incident,
            format!("datadog:incident:{i}"),
            Some(title),
            at,
        );
        let kind = ACTIONS[usize::try_from(i % ACTIONS.len() as u64).unwrap()];
        let act = node(
            NodeKind::Action,
            format!("datadog:incident:{i}#{kind}"),
            Some(format!("{kind} of svc-{} after {}", i % 50, w(5))),
            at,
        );
        let svc = NodeRef::new(NodeKind::Service, format!("svc-{}", i % 50));
        let sig = NodeRef::new(NodeKind::Signature, format!("sig-{}", i % 200));
        b.edges.push(edge(EdgeKind::Affected, &inc.node, &svc, at));
        b.edges.push(edge(EdgeKind::Exhibited, &inc.node, &sig, at));
        b.edges
            .push(edge(EdgeKind::ResolvedBy, &inc.node, &act.node, at));
        b.nodes.push(inc);
        b.nodes.push(act);
    }
    b
}

const BATCH: u64 = 1000;
const BATCHES: u64 = 30;

async fn run(name: &str, store: Arc<dyn GraphStore>) {
    let tenant = TenantId::new(format!("phases-{}", std::process::id())).unwrap();
    let g = KnowledgeGraph::new(
        Arc::clone(&store),
        Arc::new(AesGcmRowCipher::for_tests().unwrap()),
        tenant.clone(),
    )
    .with_audit(bacca_audit::AuditSink::Discard);
    g.create().await.unwrap();
    g.upsert(&base()).await.unwrap();
    let (mut full, mut enc, mut write) = (StdDuration::ZERO, StdDuration::ZERO, StdDuration::ZERO);
    let (mut nodes, mut edges, mut terms) = (0, 0, 0);
    for i in 0..BATCHES {
        // Whole graph-layer upsert of one batch...
        let b = records(2 * i * BATCH, BATCH);
        let t = Instant::now();
        g.upsert(&b).await.unwrap();
        full += t.elapsed();
        // ...and, for a fresh batch of the same shape, encryption and the store write alone.
        let b = records((2 * i + 1) * BATCH, BATCH);
        let t = Instant::now();
        let rows = g.encrypt_batch(&b).unwrap();
        enc += t.elapsed();
        nodes += rows.nodes.len();
        edges += rows.edges.len();
        terms += rows.terms.len();
        let t = Instant::now();
        store.upsert(&tenant, &rows).await.unwrap();
        write += t.elapsed();
    }
    let per = |d: StdDuration| d.as_secs_f64() * 1e6 / (BATCH * BATCHES) as f64;
    let recs = (BATCH * BATCHES) as f64;
    println!(
        "{name}: per record {:.2} nodes, {:.2} edges, {:.2} term rows; \
         full upsert {:.1} us = graph reads {:.1} us + encryption {:.1} us + store {:.1} us",
        nodes as f64 / recs,
        edges as f64 / recs,
        terms as f64 / recs,
        per(full),
        per(full.saturating_sub(enc + write)),
        per(enc),
        per(write),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    run(
        "sqlite",
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap()),
    )
    .await;
    if let Ok(url) = std::env::var("BACCA_TEST_POSTGRES_URL") {
        let schema = format!("bacca_kg_phases_{}", std::process::id());
        let admin = PgConnectOptions::from_str(&url).unwrap();
        let boot = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(admin.clone())
            .await
            .unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&boot)
            .await
            .unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(admin.options([("search_path", schema.as_str())]))
            .await
            .unwrap();
        let store = PostgresStore::from_pool(pool, StoreOptions::default())
            .await
            .unwrap();
        run("postgres", Arc::new(store)).await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&boot)
            .await
            .unwrap();
    }
}
