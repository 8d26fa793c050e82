//! PostgreSQL plans the store depends on, checked with EXPLAIN on schemas never analyzed.

use chrono::{DateTime, Utc};

use super::writes::{
    edge_write_sql, node_write_sql, EDGE_CONFLICT, EDGE_UNCHANGED, NID_LOOKUP, NODE_LOOKUP,
};
use super::*;

/// The store suite's application role (a file of the integration tests' support).
#[path = "../../../tests/support/app_role.rs"]
mod app_role;

/// The plan (EXPLAIN text) of `sql` for tenant `$1` and the ids `$2`, in a transaction that
/// first runs [`SETTINGS`] (as [`Access::Upsert`] does when `upsert`).
async fn plan(pool: &PgPool, sql: &str, ids: &[Vec<u8>], upsert: bool) -> String {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(SETTINGS)
        .bind("big")
        .bind(upsert)
        .bind(upsert)
        .execute(&mut *tx)
        .await
        .unwrap();
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .bind("big")
        .bind(ids)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    lines.join("\n")
}

/// A schema of its own named `prefix`_..., migrated and never analyzed, on the server of
/// `BACCA_TEST_POSTGRES_URL`: (a pool of the URL's role, a pool on the schema, its name).
/// `None` when the variable is unset outside CI.
async fn migrated_schema(prefix: &str) -> Option<(PgPool, PgPool, String)> {
    let url = bacca_testenv::service_env(
        "BACCA_TEST_POSTGRES_URL",
        "scripts/test.sh starts PostgreSQL",
    )?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let schema = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let options = url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    PostgresStore::from_pool(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    Some((admin, pool, schema))
}

/// A batch's lookups (and an erasure's) probe the `(id, tenant_id)` index once per id, and
/// its merge once per row, on the migrated schema never analyzed: the `id = ANY($2)`
/// lookups and the `UPDATE ... FROM UNNEST` merge they replace were planned as scans of the
/// tenant's every row (PostgreSQL 15), each batch slower than the one before as the graph
/// grew. An upsert's lookups are plain index scans: at this size the planner, expecting
/// several rows per id without statistics, chose a bitmap scan per id unless told not to
/// (it did not at 20k nodes per tenant, so the test's graph is this large).
#[tokio::test]
async fn batch_lookups_and_merges_probe_the_id_index_without_statistics() {
    // The migrated schema (in a schema of its own), never analyzed: 200k nodes each for two
    // tenants.
    let Some((admin, pool, schema)) = migrated_schema("plans").await else {
        return;
    };
    sqlx::raw_sql(
        "INSERT INTO nodes (tenant_id, id, kind, key_ct, first_seen, last_seen) \
           SELECT t, decode(md5(g::text), 'hex'), 'incident', '\\x00', now(), now() \
           FROM unnest(ARRAY['big', 'other']) t, generate_series(1, 200000) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    // The unique constraint on (id, tenant_id) read from the catalogs alone: `pg_indexes`
    // filtered on `indexdef` ran `pg_get_indexdef` on every index of the database, and one
    // dropped meanwhile by a concurrent test failed the query ("could not open relation").
    let arbiter: String = sqlx::query_scalar(
        "SELECT i.relname::text FROM pg_constraint c \
           JOIN pg_class t ON t.oid = c.conrelid \
           JOIN pg_namespace n ON n.oid = t.relnamespace \
           JOIN pg_class i ON i.oid = c.conindid \
         WHERE n.nspname = $1 AND t.relname = 'nodes' AND c.contype = 'u' \
           AND c.conkey = ARRAY( \
             SELECT a.attnum FROM unnest(ARRAY['id', 'tenant_id']) WITH ORDINALITY k(name, o) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = k.name ORDER BY k.o)",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .unwrap();
    let ids: Vec<Vec<u8>> = (19_000u128..21_000)
        .map(|i| i.to_be_bytes().to_vec())
        .collect();
    let mut failures = Vec::new();
    for (sql, upsert) in [
        (NODE_LOOKUP, true),
        (NID_LOOKUP, true),
        (ERASED_LOOKUP, false),
    ] {
        let plan = plan(&pool, sql, &ids, upsert).await;
        // an index condition on the id, never on the tenant alone, and no scan; in an
        // upsert, a plain index scan per id (no bitmap built and freed for each)
        let probes = |p: &str| {
            p.contains("Index Cond: ((id = u.id) AND (tenant_id = 'big'::text))")
                && !p.contains("Index Cond: (tenant_id = 'big'::text)")
                && !p.contains("Seq Scan")
                && (!upsert || !p.contains("Bitmap"))
        };
        if !probes(&plan) {
            // the plan without the ids' list (thousands of characters)
            let short: Vec<&str> = plan.lines().map(|l| l.get(..120).unwrap_or(l)).collect();
            failures.push(format!("lookup plan scans:\n{}", short.join("\n")));
        }
    }
    // The merge: the insert's conflict check on `(id, tenant_id)`, no join with a scan.
    let mut tx = pool.begin().await.unwrap();
    let none: Vec<String> = Vec::new();
    let ints: Vec<i32> = Vec::new();
    let bigints: Vec<i64> = Vec::new();
    let bytes: Vec<Vec<u8>> = Vec::new();
    let json: Vec<serde_json::Value> = Vec::new();
    let times: Vec<DateTime<Utc>> = Vec::new();
    let merge: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {}", node_write_sql(false)))
        .bind("big")
        .bind(&bytes)
        .bind(&none)
        .bind(&bytes)
        .bind(&bytes)
        .bind(&json)
        .bind(&none)
        .bind(&times)
        .bind(&times)
        .bind(&bigints)
        .bind(&ints)
        .bind(&ints)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    drop(tx);
    let merge = merge.join("\n");
    if !merge.contains(&format!("Conflict Arbiter Indexes: {arbiter}"))
        || merge.contains("Scan on nodes")
    {
        failures.push(format!("merge plan scans:\n{merge}"));
    }
    pool.close().await;
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A replayed batch's edges are checked against the stored ones by one probe of the edge key
/// per edge, also as the application role (row-level security applied) on tables never
/// analyzed: there the policy's tenant condition made a scan of the tenant's every edge look
/// small, and the filter was planned as a hash anti join over it (290 ms for 3000 edges on
/// 549k) unless the upsert turns hash joins off.
#[tokio::test]
async fn stored_edge_filter_probes_the_edge_key_as_the_application_role() {
    let Some((admin, pool, schema)) = migrated_schema("edge_plans").await else {
        return;
    };
    app_role::grant_app_role(&admin, &schema).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO edges (src, kind, dst, tenant_id, first_seen, last_seen) \
           SELECT g, 'affected', g % 50, 'big', now(), now() \
           FROM generate_series(1, 400000) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    let n = 3000i64;
    let src: Vec<i64> = (1..=n).collect();
    let dst: Vec<i64> = src.iter().map(|s| s % 50).collect();
    let kinds = vec!["affected"; 3000];
    let sources = vec![String::new(); 3000];
    let times = vec![Utc::now(); 3000];
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(&format!("SET LOCAL ROLE {}", app_role::APP_ROLE))
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(SETTINGS)
        .bind("big")
        .bind(true)
        .bind(true)
        .execute(&mut *tx)
        .await
        .unwrap();
    let sql = edge_write_sql(EDGE_UNCHANGED, EDGE_CONFLICT);
    let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .bind("big")
        .bind(&src)
        .bind(&kinds)
        .bind(&dst)
        .bind(&sources)
        .bind(&times)
        .bind(&times)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    drop(tx);
    let plan = plan.join("\n");
    pool.close().await;
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    assert!(
        plan.contains("Nested Loop Anti Join")
            && plan.contains("Index Cond: ((src = u.src) AND (kind = u.kind) AND (dst = u.dst))")
            && !plan.contains("Seq Scan on edges"),
        "{plan}"
    );
}
