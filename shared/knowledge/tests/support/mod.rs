//! Shared by the knowledge-store tests: the fixture graph, the test cipher, unique names, the
//! PostgreSQL URL gate, a schema that drops itself and the application role (`app_role`).

// Each test binary uses a part of these helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod app_role;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use bacca_knowledge::cipher::{AesGcmRowCipher, RowCipher};
use bacca_knowledge::graph::{Export, KnowledgeGraph};
use bacca_knowledge::model::{Batch, Edge, EdgeKind, Node, NodeKind, NodeRef, TenantId};
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{GraphStore, RowBatch, StoreOptions};
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

pub fn src(s: &str) -> BTreeSet<String> {
    [s.to_owned()].into_iter().collect()
}

pub fn node(kind: NodeKind, key: &str, label: Option<&str>, source: &str, dt: i64) -> Node {
    Node {
        node: NodeRef::new(kind, key),
        label: label.map(str::to_owned),
        attrs: serde_json::Map::new(),
        sources: src(source),
        first_seen: t0() + Duration::minutes(dt),
        last_seen: t0() + Duration::minutes(dt + 10),
    }
}

pub fn edge(kind: EdgeKind, from: (NodeKind, &str), to: (NodeKind, &str), source: &str) -> Edge {
    Edge {
        kind,
        from: NodeRef::new(from.0, from.1),
        to: NodeRef::new(to.0, to.1),
        sources: src(source),
        first_seen: t0(),
        last_seen: t0() + Duration::minutes(5),
    }
}

pub const TEMPLATE: &str = "connection pool exhausted for db <*> after <*> ms";

/// One incident titled `title` affecting `service`, both seen by `source` from [`t0`].
pub fn incident_on(incident: &str, title: &str, service: &str, source: &str) -> Batch {
    Batch {
        nodes: vec![
            node(NodeKind::Incident, incident, Some(title), source, 0),
            node(NodeKind::Service, service, None, source, 0),
        ],
        edges: vec![edge(
            EdgeKind::Affected,
            (NodeKind::Incident, incident),
            (NodeKind::Service, service),
            source,
        )],
    }
}

pub fn fixture() -> Batch {
    use EdgeKind as E;
    use NodeKind as K;
    let mut inc = node(
        K::Incident,
        "datadog:incident:101",
        Some("Checkout latency spike: connection pool exhausted on payments database"),
        "datadog",
        0,
    );
    inc.attrs.insert("severity".into(), "SEV-2".into());
    let mut other = node(
        K::Incident,
        "jira:OPS-7",
        Some("Search index rebuild slow"),
        "jira",
        60,
    );
    other.attrs.insert("status".into(), "resolved".into());
    Batch {
        nodes: vec![
            inc,
            other,
            node(K::Service, "checkout", None, "datadog", 0),
            node(K::Service, "search", None, "jira", 0),
            node(K::Signature, "sig-1", Some(TEMPLATE), "datadog", 0),
            node(
                K::Action,
                "act-1",
                Some("rollback checkout to v41"),
                "slack",
                5,
            ),
            node(
                K::Document,
                "doc-1",
                Some("Postmortem: pool exhaustion"),
                "confluence",
                30,
            ),
            node(K::Person, "person_7f3a", None, "slack", 0),
            node(K::Monitor, "mon-9", Some("p99 latency > 2s"), "datadog", 0),
        ],
        edges: vec![
            edge(
                E::Affected,
                (K::Incident, "datadog:incident:101"),
                (K::Service, "checkout"),
                "datadog",
            ),
            edge(
                E::Exhibited,
                (K::Incident, "datadog:incident:101"),
                (K::Signature, "sig-1"),
                "datadog",
            ),
            edge(
                E::ResolvedBy,
                (K::Incident, "datadog:incident:101"),
                (K::Action, "act-1"),
                "slack",
            ),
            edge(
                E::DocumentedIn,
                (K::Incident, "datadog:incident:101"),
                (K::Document, "doc-1"),
                "confluence",
            ),
            edge(
                E::TriggeredBy,
                (K::Incident, "datadog:incident:101"),
                (K::Monitor, "mon-9"),
                "datadog",
            ),
            edge(
                E::Responded,
                (K::Person, "person_7f3a"),
                (K::Incident, "datadog:incident:101"),
                "slack",
            ),
            edge(
                E::EmittedBy,
                (K::Signature, "sig-1"),
                (K::Service, "checkout"),
                "datadog",
            ),
            edge(
                E::Affected,
                (K::Incident, "jira:OPS-7"),
                (K::Service, "search"),
                "jira",
            ),
        ],
    }
}

pub fn cipher() -> Arc<dyn RowCipher> {
    Arc::new(AesGcmRowCipher::for_tests().unwrap())
}

pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}{}", std::process::id(), n % 1_000_000_000)
}

/// `BACCA_TEST_POSTGRES_URL`, through [`bacca_testenv::service_env`]: a missing value fails the
/// test in CI and skips it, saying so, elsewhere.
pub fn postgres_url() -> Option<String> {
    bacca_testenv::service_env(
        "BACCA_TEST_POSTGRES_URL",
        "scripts/test.sh starts PostgreSQL",
    )
}

/// Drops a test schema when dropped (also when the test panics).
pub struct DropSchema {
    pub url: String,
    pub schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // A runtime of its own on another thread: Drop may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let opts = PgConnectOptions::from_str(&url).unwrap();
                if let Ok(pool) = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await
                {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

/// The fixture written by the current binary (into a scratch SQLite store): its export, and
/// the encrypted rows an older binary would have stored for it.
pub async fn fixture_rows(tenant: &TenantId) -> (Export, RowBatch) {
    let scratch = tempfile::tempdir().unwrap();
    let reference: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(scratch.path(), StoreOptions::default()).unwrap());
    let g = KnowledgeGraph::new(reference, cipher(), tenant.clone());
    g.create().await.unwrap();
    g.upsert(&fixture()).await.unwrap();
    (
        g.export().await.unwrap(),
        g.encrypt_batch(&fixture()).unwrap(),
    )
}

/// SQLite migrations, oldest first, under their file names.
const SQLITE_MIGRATIONS: [&str; 9] = [
    "0001_graph.sql",
    "0002_integer_keys.sql",
    "0003_edge_row_locks.sql",
    "0004_tenant_row_lock.sql",
    "0005_blob_ids.sql",
    "0006_node_updates_in_place.sql",
    "0007_term_arrays.sql",
    "0008_id_directory.sql",
    "0009_node_cursors.sql",
];

/// `<dir>/alpha.sqlite` holding the first `version` SQLite migrations, as a binary of that
/// version left it, with tenant `alpha` registered; a pool on it.
pub async fn sqlite_alpha_at_version(dir: &std::path::Path, version: usize) -> sqlx::SqlitePool {
    let old = tempfile::tempdir().unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for f in &SQLITE_MIGRATIONS[..version] {
        std::fs::copy(migrations.join(f), old.path().join(f)).unwrap();
    }
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("alpha.sqlite"))
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO bacca_tenant (tenant_id) VALUES ('alpha')")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

/// Inserts the nodes of `rows` into tenant `alpha`'s SQLite file as the binaries of schemas 1
/// to 4 wrote them: TEXT hex ids, JSON text columns, times in microseconds.
pub async fn insert_sqlite_text_id_nodes(pool: &sqlx::SqlitePool, rows: &RowBatch) {
    for n in &rows.nodes {
        sqlx::query(
            "INSERT INTO nodes (tenant_id, id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen) \
             VALUES ('alpha', ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&n.id)
        .bind(n.kind.as_str())
        .bind(&n.key_ct)
        .bind(&n.label_ct)
        .bind(n.attrs.to_string())
        .bind(serde_json::to_string(&n.sources).unwrap())
        .bind(n.first_seen.timestamp_micros())
        .bind(n.last_seen.timestamp_micros())
        .execute(pool)
        .await
        .unwrap();
    }
}

/// Opening the SQLite graph in `dir` without migrating fails for `tenant` with
/// `SchemaTooOld { found }`.
pub async fn assert_sqlite_too_old(dir: &std::path::Path, tenant: &TenantId, found: i64) {
    let frozen = SqliteStore::open(
        dir,
        StoreOptions {
            migrate: false,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let err = frozen.stats(tenant).await.unwrap_err();
    assert!(
        matches!(err, bacca_knowledge::Error::SchemaTooOld { found: f, .. } if f == found),
        "{err}"
    );
}

/// The (term, nid) pairs a SQLite tenant file's term bitmaps hold (schema 11: one row per
/// term and block of 64 nids, bit `nid & 63`); a stored empty bitmap fails the test.
pub async fn sqlite_term_bit_pairs(pool: &sqlx::SqlitePool) -> BTreeSet<(i64, i64)> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as("SELECT term, block, bits FROM term_bits")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut pairs = BTreeSet::new();
    for (term, block, bits) in rows {
        assert_ne!(bits, 0, "no empty bitmap is kept");
        for k in 0..64 {
            if bits & (1_i64 << k) != 0 {
                pairs.insert((term, (block << 6) | k));
            }
        }
    }
    pairs
}

/// The (term, nid) pairs a SQLite tenant file's node term lists call for (`nodes.terms`, 8
/// big-endian bytes per term).
pub async fn sqlite_term_list_pairs(pool: &sqlx::SqlitePool) -> BTreeSet<(i64, i64)> {
    let lists: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT nid, terms FROM nodes WHERE terms IS NOT NULL")
            .fetch_all(pool)
            .await
            .unwrap();
    lists
        .into_iter()
        .flat_map(|(nid, list)| {
            list.chunks(8)
                .map(|c| (i64::from_be_bytes(c.try_into().unwrap()), nid))
                .collect::<Vec<_>>()
        })
        .collect()
}
