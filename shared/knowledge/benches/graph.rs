//! Graph writes (records/s) into SQLite and PostgreSQL, and `similar` latency on a graph of
//! 100k incidents.
//!
//! A "record" here is one incident with its resolution action (2 new nodes), 3 edges (service,
//! signature, action) and its term rows, encrypted per row. PostgreSQL runs when
//! `BACCA_TEST_POSTGRES_URL` is set (in a fresh schema, dropped at the end).

// criterion_group! generates an undocumented public function; benches may unwrap.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bacca_knowledge::cipher::AesGcmRowCipher;
use bacca_knowledge::graph::KnowledgeGraph;
use bacca_knowledge::model::{Batch, Edge, EdgeKind, Node, NodeKind, NodeRef, TenantId};
use bacca_knowledge::store::postgres::PostgresStore;
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{GraphStore, StoreOptions};
use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
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

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn graph(store: Arc<dyn GraphStore>, tenant: &str) -> KnowledgeGraph {
    KnowledgeGraph::new(
        store,
        Arc::new(AesGcmRowCipher::for_tests().unwrap()),
        TenantId::new(tenant).unwrap(),
    )
    .with_audit(bacca_audit::AuditSink::Discard)
}

fn schema_name(what: &str) -> String {
    format!("bacca_kg_bench_{what}_{}", std::process::id())
}

async fn drop_schema(url: &str, schema: &str) {
    let admin = PgConnectOptions::from_str(url).unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin)
        .await
        .unwrap();
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}

async fn postgres_store(url: &str, schema: &str) -> Option<Arc<dyn GraphStore>> {
    let admin = PgConnectOptions::from_str(url).ok()?;
    let boot = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.clone())
        .await
        .ok()?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&boot)
        .await
        .ok()?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(admin.options([("search_path", schema)]))
        .await
        .ok()?;
    Some(Arc::new(
        PostgresStore::from_pool(pool, StoreOptions::default())
            .await
            .ok()?,
    ))
}

const BATCH: u64 = 1000;

fn bench_writes(c: &mut Criterion) {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let mut stores: Vec<(&str, Arc<dyn GraphStore>)> = vec![(
        "sqlite",
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap()),
    )];
    let pg_url = std::env::var("BACCA_TEST_POSTGRES_URL").ok();
    let schema = schema_name("writes");
    if let Some(url) = &pg_url {
        if let Some(pg) = rt.block_on(postgres_store(url, &schema)) {
            stores.push(("postgres", pg));
        }
    }
    let mut group = c.benchmark_group("graph_writes");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    for (name, store) in stores {
        let g = graph(store, &format!("bench-{}", std::process::id()));
        rt.block_on(async {
            g.create().await.unwrap();
            g.upsert(&base()).await.unwrap();
        });
        let next = AtomicU64::new(0);
        group.bench_function(format!("{name}_new_records"), |b| {
            b.iter_batched(
                || records(next.fetch_add(BATCH, Ordering::Relaxed), BATCH),
                |batch| rt.block_on(g.upsert(&batch)).unwrap(),
                BatchSize::LargeInput,
            );
        });
        let replay = records(0, BATCH);
        group.bench_function(format!("{name}_replayed_records"), |b| {
            b.iter(|| rt.block_on(g.upsert(&replay)).unwrap());
        });
    }
    group.finish();
    if let Some(url) = &pg_url {
        rt.block_on(drop_schema(url, &schema));
    }
}

fn bench_similar(c: &mut Criterion) {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let mut stores: Vec<(&str, Arc<dyn GraphStore>)> = vec![(
        "sqlite",
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap()),
    )];
    let pg_url = std::env::var("BACCA_TEST_POSTGRES_URL").ok();
    let schema = schema_name("similar");
    if let Some(url) = &pg_url {
        if let Some(pg) = rt.block_on(postgres_store(url, &schema)) {
            stores.push(("postgres", pg));
        }
    }
    let mut group = c.benchmark_group("similar");
    group.sample_size(30);
    for (name, store) in stores {
        let g = graph(store, "similar");
        rt.block_on(async {
            g.create().await.unwrap();
            g.upsert(&base()).await.unwrap();
            for start in (0..100_000).step_by(5_000) {
                g.upsert(&records(start, 5_000)).await.unwrap();
            }
        });
        group.bench_function(format!("{name}_100k_incidents"), |b| {
            b.iter(|| {
                rt.block_on(g.similar(
                    "svc-7: worker 12 failed calling upstream spike latency after 3000 ms",
                    10,
                ))
                .unwrap()
            });
        });
    }
    group.finish();
    if let Some(url) = &pg_url {
        rt.block_on(drop_schema(url, &schema));
    }
}

criterion_group!(benches, bench_writes, bench_similar);
criterion_main!(benches);
