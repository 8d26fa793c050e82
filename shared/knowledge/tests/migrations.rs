//! Migrations of stored graphs: a graph written by an older binary (SQLite schemas 1, 8 and 9,
//! PostgreSQL schemas 1, 3, 6 and 8) is refused without migrating (`SchemaTooOld`) and migrated to the
//! current schema with every row kept, readable and, on PostgreSQL, under row-level security.
//! PostgreSQL tests need `BACCA_TEST_POSTGRES_URL` (see `store_suite.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;

use bacca_knowledge::graph::{Export, KnowledgeGraph};
use bacca_knowledge::model::TenantId;
use bacca_knowledge::store::postgres::PostgresStore;
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{GraphStore, RowBatch, StoreOptions};
use bacca_knowledge::Error;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use support::{cipher, fixture, fixture_rows, postgres_url, unique, DropSchema};

/// A graph written by a version-1 binary (blind-index keys everywhere) is migrated to the
/// current schema with every row kept and readable.
#[tokio::test]
async fn sqlite_migrates_a_version_1_graph_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::new("alpha").unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let reference: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(scratch.path(), StoreOptions::default()).unwrap());
    let g = KnowledgeGraph::new(reference, cipher(), tenant.clone());
    g.create().await.unwrap();
    g.upsert(&fixture()).await.unwrap();
    let expected = g.export().await.unwrap();
    let rows = g.encrypt_batch(&fixture()).unwrap();

    let pool = support::sqlite_alpha_at_version(dir.path(), 1).await;
    let us = |t: DateTime<Utc>| t.timestamp_micros();
    support::insert_sqlite_text_id_nodes(&pool, &rows).await;
    for e in &rows.edges {
        sqlx::query(
            "INSERT INTO edges (tenant_id, kind, src, dst, sources, first_seen, last_seen) \
             VALUES ('alpha', ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.kind.as_str())
        .bind(&e.src)
        .bind(&e.dst)
        .bind(serde_json::to_string(&e.sources).unwrap())
        .bind(us(e.first_seen))
        .bind(us(e.last_seen))
        .execute(&pool)
        .await
        .unwrap();
    }
    for t in &rows.terms {
        sqlx::query("INSERT INTO node_terms (tenant_id, term, node_id) VALUES ('alpha', ?, ?)")
            .bind(t.term)
            .bind(&rows.nodes[t.node].id)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;

    support::assert_sqlite_too_old(dir.path(), &tenant, 1).await;

    let store: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap());
    let migrated = KnowledgeGraph::new(store, cipher(), tenant);
    let mut got = migrated.export().await.unwrap();
    assert_eq!(got.schema_version, expected.schema_version);
    got.schema_version = expected.schema_version;
    assert_eq!(got, expected);
    let hits = migrated
        .similar(
            "checkout: connection pool exhausted for db payments-7 after 3000 ms",
            5,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].incident.node.key, "datadog:incident:101");
    assert_eq!(hits[0].actions.len(), 1);
    // And it takes new writes.
    migrated.upsert(&fixture()).await.unwrap();
    assert_eq!(migrated.export().await.unwrap(), expected);
}

/// PostgreSQL migrations under the descriptions the binary records, oldest first.
const PG_MIGRATIONS: [(&str, &str); 8] = [
    ("0001_graph.sql", "0001_graph_with_row-level_security.sql"),
    ("0002_integer_keys.sql", "0002_integer_surrogate_keys.sql"),
    (
        "0003_edge_row_locks.sql",
        "0003_edge_row_locks_instead_of_foreign_keys.sql",
    ),
    (
        "0004_tenant_row_lock.sql",
        "0004_tenant_row_lock_instead_of_the_nodes'_foreign_key.sql",
    ),
    (
        "0005_sqlite_blob_ids.sql",
        "0005_SQLite_node_ids_as_blobs_(no_change).sql",
    ),
    (
        "0006_node_updates_in_place.sql",
        "0006_node_updates_in_place.sql",
    ),
    ("0007_term_arrays.sql", "0007_term_arrays.sql"),
    (
        "0008_sqlite_id_directory.sql",
        "0008_SQLite_id_directory_(no_change).sql",
    ),
];

/// A new schema (dropped with the guard) holding the first `version` PostgreSQL migrations,
/// as a binary of that version left it, and a pool whose `search_path` is that schema.
async fn pg_schema_at_version(url: &str, version: usize) -> (PgPool, String, DropSchema) {
    let schema = unique("bacca_kg_");
    let guard = DropSchema {
        url: url.to_owned(),
        schema: schema.clone(),
    };
    let admin = PgConnectOptions::from_str(url).unwrap();
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
        .max_connections(2)
        .connect_with(admin.options([("search_path", schema.as_str())]))
        .await
        .unwrap();
    pg_migrate_to(&pool, version).await;
    (pool, schema, guard)
}

/// Applies the PostgreSQL migrations up to `version` that `pool`'s schema lacks, as the
/// binary of that version did.
async fn pg_migrate_to(pool: &PgPool, version: usize) {
    let old = tempfile::tempdir().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    for (file, as_name) in &PG_MIGRATIONS[..version] {
        std::fs::copy(dir.join(file), old.path().join(as_name)).unwrap();
    }
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(pool)
        .await
        .unwrap();
}

/// Opening the old schema without migrating is `SchemaTooOld { found }`; migrating keeps
/// every row (export equals `expected`), `similar` still finds the incident, and row-level
/// security is still forced on every table. Returns the migrated graph.
async fn assert_migrates(
    pool: &PgPool,
    schema: &str,
    tenant: TenantId,
    expected: &Export,
    found: i64,
) -> KnowledgeGraph {
    let err = PostgresStore::from_pool(
        pool.clone(),
        StoreOptions {
            migrate: false,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::SchemaTooOld { found: f, .. } if f == found),
        "{err}"
    );
    let store = PostgresStore::from_pool(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    let migrated = KnowledgeGraph::new(Arc::new(store), cipher(), tenant);
    assert_eq!(&migrated.export().await.unwrap(), expected);
    let hits = migrated
        .similar(
            "checkout: connection pool exhausted for db payments-7 after 3000 ms",
            5,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].incident.node.key, "datadog:incident:101");
    let forced: Vec<bool> = sqlx::query_scalar(
        "SELECT relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 \
           AND c.relname IN ('tenants', 'nodes', 'edges', 'term_postings', 'term_bits')",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(forced, [true; 5]);
    migrated
}

/// A PostgreSQL graph written by a version-1 binary is migrated to the current schema with
/// every row kept and readable, and row-level security still in force afterwards.
#[tokio::test]
async fn postgres_migrates_a_version_1_graph_with_its_data() {
    let Some(url) = postgres_url() else { return };
    let (pool, schema, _guard) = pg_schema_at_version(&url, 1).await;
    let tenant = TenantId::new(unique("m-")).unwrap();
    let (expected, rows) = fixture_rows(&tenant).await;
    let t = tenant.as_str();
    sqlx::query("INSERT INTO tenants (tenant_id) VALUES ($1)")
        .bind(t)
        .execute(&pool)
        .await
        .unwrap();
    for n in &rows.nodes {
        sqlx::query(
            "INSERT INTO nodes (tenant_id, id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(t)
        .bind(&n.id)
        .bind(n.kind.as_str())
        .bind(&n.key_ct)
        .bind(&n.label_ct)
        .bind(&n.attrs)
        .bind(&n.sources)
        .bind(n.first_seen)
        .bind(n.last_seen)
        .execute(&pool)
        .await
        .unwrap();
    }
    for e in &rows.edges {
        sqlx::query(
            "INSERT INTO edges (tenant_id, kind, src, dst, sources, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t)
        .bind(e.kind.as_str())
        .bind(&e.src)
        .bind(&e.dst)
        .bind(&e.sources)
        .bind(e.first_seen)
        .bind(e.last_seen)
        .execute(&pool)
        .await
        .unwrap();
    }
    for term in &rows.terms {
        sqlx::query("INSERT INTO node_terms (tenant_id, term, node_id) VALUES ($1, $2, $3)")
            .bind(t)
            .bind(term.term)
            .bind(&rows.nodes[term.node].id)
            .execute(&pool)
            .await
            .unwrap();
    }
    assert_migrates(&pool, &schema, tenant, &expected, 1).await;
}

/// Foreign keys from `nodes` to `tenants` in `schema` (schema 4 has none).
async fn node_tenant_fks(pool: &PgPool, schema: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid \
         JOIN pg_class f ON f.oid = c.confrelid JOIN pg_namespace n ON n.oid = r.relnamespace \
         WHERE n.nspname = $1 AND r.relname = 'nodes' AND f.relname = 'tenants' AND c.contype = 'f'",
    )
    .bind(schema)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Writes `rows` of `tenant` (registered here) as the store of schemas 2 to 6 did: integer node
/// keys, edges and `node_terms` rows referencing them. Returns the node keys by blind id.
async fn insert_integer_key_rows(
    pool: &PgPool,
    tenant: &TenantId,
    rows: &RowBatch,
) -> std::collections::HashMap<String, i64> {
    let t = tenant.as_str();
    sqlx::query("INSERT INTO tenants (tenant_id) VALUES ($1)")
        .bind(t)
        .execute(pool)
        .await
        .unwrap();
    let mut nids = std::collections::HashMap::new();
    for n in &rows.nodes {
        let nid: i64 = sqlx::query_scalar(
            "INSERT INTO nodes (tenant_id, id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING nid",
        )
        .bind(t)
        .bind(&n.id)
        .bind(n.kind.as_str())
        .bind(&n.key_ct)
        .bind(&n.label_ct)
        .bind(&n.attrs)
        .bind(&n.sources)
        .bind(n.first_seen)
        .bind(n.last_seen)
        .fetch_one(pool)
        .await
        .unwrap();
        nids.insert(n.id.clone(), nid);
    }
    for e in &rows.edges {
        sqlx::query(
            "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(nids[&e.src])
        .bind(e.kind.as_str())
        .bind(nids[&e.dst])
        .bind(t)
        .bind(&e.sources)
        .bind(e.first_seen)
        .bind(e.last_seen)
        .execute(pool)
        .await
        .unwrap();
    }
    for term in &rows.terms {
        sqlx::query("INSERT INTO node_terms (tenant_id, term, nid) VALUES ($1, $2, $3)")
            .bind(t)
            .bind(term.term)
            .bind(nids[&rows.nodes[term.node].id])
            .execute(pool)
            .await
            .unwrap();
    }
    nids
}

/// A PostgreSQL graph at schema 3 (rows as the version-3 store wrote them) is migrated to the
/// current schema with every row kept, the nodes' foreign key to tenants dropped (4), node
/// pages with room for updates in place (6), and row-level security still in force; upserts
/// on the migrated graph stay idempotent.
#[tokio::test]
async fn postgres_migrates_a_version_3_graph_with_its_data() {
    let Some(url) = postgres_url() else { return };
    let (pool, schema, _guard) = pg_schema_at_version(&url, 3).await;
    assert_eq!(node_tenant_fks(&pool, &schema).await, 1);
    let tenant = TenantId::new(unique("m-")).unwrap();
    let (expected, rows) = fixture_rows(&tenant).await;
    insert_integer_key_rows(&pool, &tenant, &rows).await;

    let migrated = assert_migrates(&pool, &schema, tenant, &expected, 3).await;
    assert_eq!(node_tenant_fks(&pool, &schema).await, 0);
    // Migration 6: node pages keep room for merged versions, nodes_by_kind has no last_seen
    // (7: and covers the few-node kinds only; 9: and ends with nid).
    let options: Option<Vec<String>> = sqlx::query_scalar(
        "SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = 'nodes'",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(options, Some(vec!["fillfactor=90".to_owned()]));
    let by_kind: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'nodes_by_kind'",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        by_kind.contains("(tenant_id, kind, nid) WHERE (kind = ANY (ARRAY['service'"),
        "{by_kind}"
    );
    migrated.upsert(&fixture()).await.unwrap();
    assert_eq!(migrated.export().await.unwrap(), expected);
}

/// A PostgreSQL graph at schema 6 (one `node_terms` row per term, two tenants) is migrated to
/// term arrays (7): each node's terms are in its row, sorted and unique, `term_postings` counts
/// the nodes holding each term per tenant, `node_terms` is gone; the migrated graph answers
/// `similar` and takes upserts idempotently (replaying the fixture changes no count).
#[tokio::test]
async fn postgres_migrates_a_version_6_graph_with_its_terms() {
    let Some(url) = postgres_url() else { return };
    let (pool, schema, _guard) = pg_schema_at_version(&url, 6).await;
    let tenant = TenantId::new(unique("m-")).unwrap();
    let (expected, rows) = fixture_rows(&tenant).await;
    let nids = insert_integer_key_rows(&pool, &tenant, &rows).await;
    let other = TenantId::new(unique("o-")).unwrap();
    let (_, other_rows) = fixture_rows(&other).await;
    insert_integer_key_rows(&pool, &other, &other_rows).await;
    // What the migration must carry over for `tenant`: terms per node, nodes per term.
    let mut by_node: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for term in &rows.terms {
        by_node
            .entry(nids[&rows.nodes[term.node].id])
            .or_default()
            .insert(term.term);
    }
    let mut per_term: BTreeMap<i64, i64> = BTreeMap::new();
    for term in by_node.values().flatten() {
        *per_term.entry(*term).or_default() += 1;
    }
    assert!(by_node.len() > 1, "the fixture has several texts");
    let by_node: Vec<(i64, Vec<i64>)> = by_node
        .into_iter()
        .map(|(nid, terms)| (nid, terms.into_iter().collect()))
        .collect();
    let per_term: Vec<(i64, i64)> = per_term.into_iter().collect();

    let migrated = assert_migrates(&pool, &schema, tenant.clone(), &expected, 6).await;
    let stored: Vec<(i64, Vec<i64>)> = sqlx::query_as(
        "SELECT nid, terms FROM nodes WHERE tenant_id = $1 AND terms IS NOT NULL ORDER BY nid",
    )
    .bind(tenant.as_str())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(stored, by_node);
    let postings = |t: TenantId| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT term, nodes FROM term_postings WHERE tenant_id = $1 ORDER BY term",
            )
            .bind(t.as_str())
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(postings(tenant.clone()).await, per_term);
    assert_eq!(
        postings(other.clone()).await.len(),
        other_rows
            .terms
            .iter()
            .map(|t| t.term)
            .collect::<BTreeSet<_>>()
            .len()
    );
    // Schema 7 moved the terms into node rows; schema 14 also keeps them as per-block term
    // bitmaps (the candidates' lookup), built from those node rows.
    let from_bits: Vec<(i64, Vec<i64>)> = sqlx::query_as(
        "SELECT b.block * 64 + i, array_agg(b.term ORDER BY b.term) \
         FROM term_bits b, generate_series(0, 63) i \
         WHERE b.tenant_id = $1 AND b.bits & (1::bigint << i) <> 0 \
         GROUP BY 1 ORDER BY 1",
    )
    .bind(tenant.as_str())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(from_bits, by_node);
    migrated.upsert(&fixture()).await.unwrap();
    assert_eq!(migrated.export().await.unwrap(), expected);
    assert_eq!(postings(tenant).await, per_term);
}

/// A PostgreSQL graph at schema 8 (rows written at schema 6, then migrated to 8 as its
/// binaries did) is migrated to node cursors (9): each tenant's erasure and write counts
/// start at 0, nodes_by_kind ends with nid, every row is kept; an upsert adds one write, an
/// erasure one erasure, to the counts of its own tenant only.
#[tokio::test]
async fn postgres_migrates_a_version_8_graph_to_node_cursors() {
    let Some(url) = postgres_url() else { return };
    let (pool, schema, _guard) = pg_schema_at_version(&url, 6).await;
    let tenant = TenantId::new(unique("m-")).unwrap();
    let (expected, rows) = fixture_rows(&tenant).await;
    insert_integer_key_rows(&pool, &tenant, &rows).await;
    let other = TenantId::new(unique("o-")).unwrap();
    let (_, other_rows) = fixture_rows(&other).await;
    insert_integer_key_rows(&pool, &other, &other_rows).await;
    pg_migrate_to(&pool, 8).await;

    let migrated = assert_migrates(&pool, &schema, tenant.clone(), &expected, 8).await;
    let erasures = |t: TenantId| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT erasures FROM tenants WHERE tenant_id = $1")
                .bind(t.as_str())
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(erasures(tenant.clone()).await, 0);
    assert_eq!(erasures(other.clone()).await, 0);
    let by_kind: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'nodes_by_kind'",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        by_kind.contains("(tenant_id, kind, nid) WHERE (kind = ANY (ARRAY['service'"),
        "{by_kind}"
    );
    migrated.upsert(&fixture()).await.unwrap();
    assert_eq!(migrated.export().await.unwrap(), expected);
    let writes: Vec<i64> = sqlx::query_scalar(
        "SELECT writes FROM tenants WHERE tenant_id IN ($1, $2) ORDER BY tenant_id",
    )
    .bind(tenant.as_str())
    .bind(other.as_str())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(writes, [1, 0], "an upsert counts one write of its tenant");
    let counts = migrated
        .erase_subject(&tenant, &["person_7f3a".to_owned()])
        .await
        .unwrap();
    assert_eq!(counts.nodes_deleted, 1);
    assert_eq!(erasures(tenant).await, 1);
    assert_eq!(erasures(other).await, 0);
}

/// A SQLite file at schema 8 (blob ids, nids from AUTOINCREMENT) is migrated to node cursors
/// (9): the erasure and write counts start at 0, every row is kept, an upsert adds one write
/// and an erasure one erasure.
#[tokio::test]
async fn sqlite_migrates_a_version_8_graph_to_node_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::new("alpha").unwrap();
    let (expected, rows) = fixture_rows(&tenant).await;
    let pool = support::sqlite_alpha_at_version(dir.path(), 8).await;
    insert_blob_id_rows(&pool, &rows).await;
    pool.close().await;

    let (migrated, check) = open_migrated_sqlite(dir.path(), &tenant, 8, &expected).await;
    let erasures = || async {
        sqlx::query_scalar::<_, i64>("SELECT erasures FROM bacca_tenant")
            .fetch_one(&check)
            .await
            .unwrap()
    };
    assert_eq!(erasures().await, 0);
    migrated.upsert(&fixture()).await.unwrap();
    assert_eq!(migrated.export().await.unwrap(), expected);
    let writes: i64 = sqlx::query_scalar("SELECT writes FROM bacca_tenant")
        .fetch_one(&check)
        .await
        .unwrap();
    assert_eq!(writes, 1, "an upsert counts one write");
    let counts = migrated
        .erase_subject(&tenant, &["person_7f3a".to_owned()])
        .await
        .unwrap();
    assert_eq!(counts.nodes_deleted, 1);
    assert_eq!(erasures().await, 1);
}

/// Inserts `rows` into tenant `alpha`'s SQLite file as the binaries of schemas 8 and 9 wrote
/// them (blob ids, nids from `AUTOINCREMENT`, one `node_terms` row per term); returns the nids
/// by node id.
async fn insert_blob_id_rows(
    pool: &sqlx::SqlitePool,
    rows: &RowBatch,
) -> std::collections::HashMap<String, i64> {
    let us = |t: DateTime<Utc>| t.timestamp_micros();
    let mut nids = std::collections::HashMap::new();
    for n in &rows.nodes {
        let nid: i64 = sqlx::query_scalar(
            "INSERT INTO nodes (id, tenant_id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen) \
             VALUES (?, 'alpha', ?, ?, ?, ?, ?, ?, ?) RETURNING nid",
        )
        .bind(hex::decode(&n.id).unwrap())
        .bind(n.kind.as_str())
        .bind(&n.key_ct)
        .bind(&n.label_ct)
        .bind(n.attrs.to_string())
        .bind(serde_json::to_string(&n.sources).unwrap())
        .bind(us(n.first_seen))
        .bind(us(n.last_seen))
        .fetch_one(pool)
        .await
        .unwrap();
        nids.insert(n.id.clone(), nid);
    }
    for e in &rows.edges {
        sqlx::query(
            "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) \
             VALUES (?, ?, ?, 'alpha', ?, ?, ?)",
        )
        .bind(nids[&e.src])
        .bind(e.kind.as_str())
        .bind(nids[&e.dst])
        .bind(serde_json::to_string(&e.sources).unwrap())
        .bind(us(e.first_seen))
        .bind(us(e.last_seen))
        .execute(pool)
        .await
        .unwrap();
    }
    for t in &rows.terms {
        sqlx::query("INSERT INTO node_terms (term, nid) VALUES (?, ?)")
            .bind(t.term)
            .bind(nids[&rows.nodes[t.node].id])
            .execute(pool)
            .await
            .unwrap();
    }
    nids
}

/// A SQLite file at schema 9 (one `node_terms` row per term, indexed by node) is migrated to
/// term lists in node rows (10) and term bitmaps (11): each node's list holds its terms in
/// order, the bitmaps hold every (term, node) pair of the old rows and no other, `node_terms`
/// and its by-node index are gone; `similar` still ranks the incident first, replaying the
/// fixture changes nothing, and erasure clears a deleted node's bits.
#[tokio::test]
async fn sqlite_migrates_a_version_9_graph_to_term_lists_and_bitmaps() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::new("alpha").unwrap();
    let (expected, rows) = fixture_rows(&tenant).await;
    let pool = support::sqlite_alpha_at_version(dir.path(), 9).await;
    let nids = insert_blob_id_rows(&pool, &rows).await;
    let mut want: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for t in &rows.terms {
        want.entry(nids[&rows.nodes[t.node].id])
            .or_default()
            .insert(t.term);
    }
    pool.close().await;

    let (migrated, check) = open_migrated_sqlite(dir.path(), &tenant, 9, &expected).await;
    let lists = || async {
        let rows: Vec<(i64, Option<Vec<u8>>)> = sqlx::query_as("SELECT nid, terms FROM nodes")
            .fetch_all(&check)
            .await
            .unwrap();
        rows.into_iter()
            .filter_map(|(nid, list)| {
                let list = list?;
                assert_eq!(list.len() % 8, 0);
                let terms: Vec<i64> = list
                    .chunks(8)
                    .map(|c| i64::from_be_bytes(c.try_into().unwrap()))
                    .collect();
                assert!(
                    terms.windows(2).all(|w| w[0] < w[1]),
                    "ascending, no repeats"
                );
                Some((nid, terms.into_iter().collect::<BTreeSet<i64>>()))
            })
            .collect::<BTreeMap<i64, BTreeSet<i64>>>()
    };
    assert_eq!(lists().await, want);
    // the bitmaps read back as (term, nid) pairs, and the pairs the node lists call for
    let pairs = || support::sqlite_term_bit_pairs(&check);
    let listed_pairs = |lists: &BTreeMap<i64, BTreeSet<i64>>| {
        lists
            .iter()
            .flat_map(|(nid, terms)| terms.iter().map(move |t| (*t, *nid)))
            .collect::<BTreeSet<(i64, i64)>>()
    };
    assert_eq!(pairs().await, listed_pairs(&want));
    let old_tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE name IN ('node_terms', 'node_terms_by_node')",
    )
    .fetch_all(&check)
    .await
    .unwrap();
    assert!(old_tables.is_empty(), "{old_tables:?}");
    let hits = migrated
        .similar(
            "checkout: connection pool exhausted for db payments-7 after 3000 ms",
            5,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].incident.node.key, "datadog:incident:101");
    migrated.upsert(&fixture()).await.unwrap();
    assert_eq!(migrated.export().await.unwrap(), expected);
    assert_eq!(lists().await, want, "a replay adds no term");
    assert_eq!(pairs().await, listed_pairs(&want));
    let counts = migrated
        .erase_subject(&tenant, &["person_7f3a".to_owned()])
        .await
        .unwrap();
    assert_eq!(counts.nodes_deleted, 1);
    // the bitmaps hold exactly the lists erasure left (no bit outlives its node or term)
    assert_eq!(pairs().await, support::sqlite_term_list_pairs(&check).await);
}

/// Tenant `alpha`'s SQLite file in `dir`, written at schema `version`: refused without
/// migrating, then opened (migrated) by a store; its export must equal `expected` but for the
/// schema version. Returns the graph and a pool on the file for checks.
async fn open_migrated_sqlite(
    dir: &std::path::Path,
    tenant: &TenantId,
    version: i64,
    expected: &Export,
) -> (KnowledgeGraph, sqlx::SqlitePool) {
    support::assert_sqlite_too_old(dir, tenant, version).await;
    let store: Arc<dyn GraphStore> =
        Arc::new(SqliteStore::open(dir, StoreOptions::default()).unwrap());
    let migrated = KnowledgeGraph::new(store, cipher(), tenant.clone());
    let mut got = migrated.export().await.unwrap();
    assert_eq!(got.schema_version, expected.schema_version);
    got.schema_version = expected.schema_version;
    assert_eq!(&got, expected);
    let check = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.join("alpha.sqlite")),
    )
    .await
    .unwrap();
    (migrated, check)
}
