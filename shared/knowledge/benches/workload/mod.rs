//! The graph bench's workload, shared by `benches/graph.rs` and `examples/graph_phases.rs`:
//! synthetic incident records (2 nodes, 3 edges and their term rows each), a graph over a test
//! cipher, and a PostgreSQL store in its own schema, used through an unprivileged role (row-level
//! security applied, as in production).

// Each user takes what it needs.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use bacca_knowledge::cipher::AesGcmRowCipher;
use bacca_knowledge::graph::KnowledgeGraph;
use bacca_knowledge::model::{Batch, Edge, EdgeKind, Node, NodeKind, NodeRef, TenantId};
use bacca_knowledge::store::postgres::PostgresStore;
use bacca_knowledge::store::{GraphStore, StoreOptions};
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub const WORDS: &[&str] = &[
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
pub const ACTIONS: &[&str] = &[
    "rollback",
    "restart",
    "scale",
    "failover",
    "config_change",
    "hotfix",
];

pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

pub fn set(s: &str) -> BTreeSet<String> {
    [s.to_owned()].into_iter().collect()
}

pub fn node(kind: NodeKind, key: String, label: Option<String>, at: DateTime<Utc>) -> Node {
    Node {
        node: NodeRef::new(kind, key),
        label,
        attrs: serde_json::Map::new(),
        sources: set("datadog"),
        first_seen: at,
        last_seen: at,
    }
}

pub fn edge(kind: EdgeKind, from: &NodeRef, to: &NodeRef, at: DateTime<Utc>) -> Edge {
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
pub fn base() -> Batch {
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
pub fn records(from: u64, n: u64) -> Batch {
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

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn graph(store: Arc<dyn GraphStore>, tenant: &str) -> KnowledgeGraph {
    KnowledgeGraph::new(
        store,
        Arc::new(AesGcmRowCipher::for_tests().unwrap()),
        TenantId::new(tenant).unwrap(),
    )
    .with_audit(bacca_audit::AuditSink::Discard)
}

pub fn schema_name(what: &str) -> String {
    format!("bacca_kg_bench_{what}_{}", std::process::id())
}

pub async fn drop_schema(url: &str, schema: &str) {
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

#[path = "../../tests/support/app_role.rs"]
mod app_role;

pub use app_role::APP_ROLE;

/// A PostgreSQL store in `schema`: migrated by the URL's (admin) role, then opened as
/// [`APP_ROLE`].
pub async fn postgres_store(url: &str, schema: &str) -> Option<Arc<dyn GraphStore>> {
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
    let migrating = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.clone().options([("search_path", schema)]))
        .await
        .ok()?;
    PostgresStore::from_pool(migrating.clone(), StoreOptions::default())
        .await
        .ok()?;
    migrating.close().await;
    app_role::grant_app_role(&boot, schema).await.ok()?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(admin.username(APP_ROLE).options([("search_path", schema)]))
        .await
        .ok()?;
    let options = StoreOptions {
        migrate: false,
        ..StoreOptions::default()
    };
    Some(Arc::new(
        PostgresStore::from_pool(pool, options).await.ok()?,
    ))
}

/// The stores a bench runs on: SQLite in a temporary directory, and PostgreSQL in a fresh
/// schema when `BACCA_TEST_POSTGRES_URL` is set (dropped by [`Stores::finish`]).
pub struct Stores {
    /// Backend name and store.
    pub list: Vec<(&'static str, Arc<dyn GraphStore>)>,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Stores {
    pub fn open(rt: &tokio::runtime::Runtime, what: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut list: Vec<(&'static str, Arc<dyn GraphStore>)> = vec![(
            "sqlite",
            Arc::new(
                bacca_knowledge::store::sqlite::SqliteStore::open(
                    dir.path(),
                    StoreOptions::default(),
                )
                .unwrap(),
            ),
        )];
        let mut postgres = None;
        if let Ok(url) = std::env::var("BACCA_TEST_POSTGRES_URL") {
            let schema = schema_name(what);
            if let Some(pg) = rt.block_on(postgres_store(&url, &schema)) {
                list.push(("postgres", pg));
            }
            postgres = Some((url, schema));
        }
        Self {
            list,
            _dir: dir,
            postgres,
        }
    }

    /// Drops the PostgreSQL schema.
    pub fn finish(self, rt: &tokio::runtime::Runtime) {
        if let Some((url, schema)) = &self.postgres {
            rt.block_on(drop_schema(url, schema));
        }
    }
}
