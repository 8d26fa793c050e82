//! PostgreSQL backend (production: Cloud SQL). One database for all tenants; isolation by
//! row-level security on `tenant_id`: every transaction first runs
//! `set_config('bacca.tenant_id', <tenant>, true)`, and the policies hide and refuse every
//! other tenant's rows. The application role must be neither superuser nor `BYPASSRLS`.
//!
//! Edges reference nodes by integer key without foreign keys (schema 3): an upsert locks the
//! stored nodes its edges point to `FOR KEY SHARE`, an erasure locks the nodes it deletes or
//! moves `FOR UPDATE` before touching their edges and terms, so no edge outlives its nodes.
//! Nodes have no foreign key to `tenants` either (schema 4): a write transaction locks its
//! tenant's row `FOR KEY SHARE` once instead of a key check per inserted node.
//!
//! Writers of one tenant serialise across processes on a session advisory lock
//! ([`GraphStore::lock_writes`]), taken on a connection of a second pool (`locks`, as large
//! as the main one) so that holders and waiters never take the connections their reads and
//! writes need: a process with `max_connections` = N opens at most 2N connections.
//!
//! A node's term hashes are an array in its row (`nodes.terms`, schema 7), and `term_bits`
//! (schema 14) holds, per term and block of 64 nids, the block's nodes holding it as the bits
//! of one integer: `similar` finds its candidates there by B-tree equality, which the
//! row-level security policies allow as an index condition (a GIN index searched by `&&`,
//! before, was not usable under them). `term_postings` counts the nodes holding each term,
//! adjusted by every write that adds or removes terms, so that `similar` skips common terms
//! with one lookup each.
//!
//! Node ids are the 16 bytes of their hex (`BYTEA`, schema 12) under a unique index on
//! `(id, tenant_id)`, read back as lowercase hex; the store refuses to write any other id.
//!
//! Every erasure adds one to its tenant's `tenants.erasures` (schema 9), in its transaction:
//! [`GraphStore::nodes_since`] compares it with a reader's cursor, and reads only the nodes
//! past the cursor's `nid` through `nodes_by_kind`, now `(tenant_id, kind, nid)`.
//!
//! Grants the application role needs (migrations run as the owner):
//! `GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, nodes, edges, term_postings, term_bits TO <app>;`
//! (DELETE for data-subject erasure; UPDATE on `tenants` for the `FOR KEY SHARE` row lock and
//! the erasure and write counts)
//! `GRANT SELECT ON _sqlx_migrations TO <app>;`

mod erasure;
mod lock;
mod postings;
mod rows;
mod writes;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Row, Transaction};

use super::migrate::{self, check_version, migrate_error, SCHEMA_VERSION};
use super::{
    Candidate, EdgeFilter, EdgeRow, Erasure, ErasureCounts, GraphStore, NodeCursor, NodeFilter,
    NodeRow, NodesSince, RowBatch, SimilarQuery, Stats, StoreOptions, WriteLock, MAX_TERM_POSTINGS,
};
use crate::model::{EdgeKind, NodeKind, TenantId};
use crate::{Error, Result};
pub use lock::write_lock_key;
pub(crate) use lock::AdvisoryLock;
use rows::{edge_from_row, node_from_row, wanted_ids};

/// The PostgreSQL graph store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Connections that hold (or wait for) tenant write locks, apart from `pool`.
    locks: PgPool,
}

impl PostgresStore {
    /// Connects, checks the schema version and migrates when allowed.
    ///
    /// # Errors
    ///
    /// [`Error::Database`], [`Error::SchemaTooOld`], [`Error::SchemaTooNew`].
    pub async fn connect(uri: &str, options: StoreOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect(uri)
            .await?;
        Self::from_pool(pool, options).await
    }

    /// Wraps an existing pool, checking the schema version and migrating when allowed.
    ///
    /// # Errors
    ///
    /// As [`Self::connect`].
    pub async fn from_pool(pool: PgPool, options: StoreOptions) -> Result<Self> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&pool)
            .await?;
        let found: Option<i64> = if exists {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await?
        } else {
            None
        };
        let fresh = found.is_none();
        if check_version(found, options.migrate || fresh)? {
            if !options.migrate {
                return Err(Error::SchemaTooOld {
                    found: 0,
                    expected: SCHEMA_VERSION,
                });
            }
            migrate::migrator(migrate::POSTGRES)
                .await?
                .run(&pool)
                .await
                .map_err(migrate_error)?;
        }
        let locks = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_lazy_with((*pool.connect_options()).clone());
        Ok(Self { pool, locks })
    }

    /// The underlying pool.
    #[must_use]
    pub const fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a transaction scoped to `tenant` by row-level security. Unless `access` is
    /// [`Access::Create`], an unregistered tenant is [`Error::UnknownTenant`].
    async fn begin(
        &self,
        tenant: &TenantId,
        access: Access,
    ) -> Result<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        // Custom plans only, in the same round trip: every statement names its tenant by a
        // parameter, and a generic plan (chosen after five executions) is costed for an
        // average tenant. Once one tenant dominates a table, the generic plans of another
        // tenant's lookups scanned its rows: a graph_ingest stream fell from 11.5k to 1.7k
        // records/s after another tenant's stream (6.2k with custom plans; planning is
        // microseconds against batch statements of milliseconds).
        sqlx::query(SETTINGS)
            .bind(tenant.as_str())
            .bind(matches!(access, Access::Upsert))
            .bind(matches!(access, Access::Upsert | Access::Write))
            .execute(&mut *tx)
            .await?;
        let check = match access {
            Access::Create => None,
            Access::Read => Some("SELECT 1 FROM tenants WHERE tenant_id = $1"),
            Access::Write | Access::Upsert => {
                Some("SELECT 1 FROM tenants WHERE tenant_id = $1 FOR KEY SHARE")
            }
        };
        if let Some(check) = check {
            let found: Option<i32> = sqlx::query_scalar(check)
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(Error::UnknownTenant(tenant.to_string()));
            }
        }
        Ok(tx)
    }
}

/// The tenant and planner settings of a transaction, in one round trip: `$1` is the tenant,
/// `$2` whether bitmap scans are off ([`Access::Upsert`]), `$3` whether hash and merge joins
/// are off (every write).
/// Without JIT compilation: the statements here touch a batch's rows or answer one query, and
/// a plan costed past `jit_above_cost` (the lookup of a 10,000-node batch) spent ~6.5 ms
/// compiling expressions it then evaluated in a few milliseconds.
const SETTINGS: &str = "SELECT set_config('bacca.tenant_id', $1, true), \
       set_config('plan_cache_mode', 'force_custom_plan', true), \
       set_config('jit', 'off', true), \
       set_config('enable_bitmapscan', \
                  CASE WHEN $2 THEN 'off' ELSE current_setting('enable_bitmapscan') END, true), \
       set_config('enable_hashjoin', \
                  CASE WHEN $3 THEN 'off' ELSE current_setting('enable_hashjoin') END, true), \
       set_config('enable_mergejoin', \
                  CASE WHEN $3 THEN 'off' ELSE current_setting('enable_mergejoin') END, true)";

/// The stored nodes among an erasure's ids (`$2`), locked for the delete: one index probe per
/// distinct id (each node's terms counted off once), as [`NODE_LOOKUP`](writes::NODE_LOOKUP).
const ERASED_LOOKUP: &str = "SELECT n.nid, n.terms \
     FROM (SELECT DISTINCT id FROM unnest($2::bytea[]) AS u(id)) u \
     CROSS JOIN LATERAL (SELECT nid, terms FROM nodes \
       WHERE tenant_id = $1 AND nodes.id = u.id FOR UPDATE) n";

/// What a transaction does with its tenant's row.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Registers the tenant: no check.
    Create,
    /// Reads: the tenant must exist.
    Read,
    /// Writes nodes, edges or terms: the tenant must exist, and its row is locked
    /// `FOR KEY SHARE` until commit. Nodes have no foreign key to `tenants` (migration 0004):
    /// this one lock per transaction replaces the key check per inserted node. Without hash
    /// or merge joins (see [`Access::Upsert`]): a write's joins (the term bitmaps' and
    /// postings' updates) are one index probe per row.
    Write,
    /// Writes a batch ([`GraphStore::upsert`]): as [`Access::Write`], and without bitmap
    /// scans: every statement of an upsert joins a batch's rows to stored ones by index
    /// probes, one per row, whatever the statistics say.
    ///
    /// Joins: the stored-edge filter ([`EDGE_UNCHANGED`](writes::EDGE_UNCHANGED)) as the
    /// application role, on tables never analyzed, was planned as a hash anti join over a scan of
    /// the tenant's every edge (the policy's tenant condition, estimated at 0.5% of the table, made
    /// the scan look small): 290 ms for a replayed batch of 3000 edges on a graph of 549k edges,
    /// against ~5 ms as index probes. A superuser (no policy) got the probes, so the bench ran as
    /// one did not show it.
    ///
    /// Bitmaps: its lookups probe the `(id, tenant_id)` index once per id (`LATERAL`); on tables
    /// not analyzed yet the planner expects ~20 rows per probe and chose a bitmap scan for
    /// each, which built and freed a bitmap per id: 2000 lookups of stored ids took 32 ms that
    /// way and 9.8 ms as plain index scans on a 770k-node graph of schema 11 (13.7 and 7.5 ms
    /// for new ids).
    /// No statement of the upsert needs a bitmap (erasure's `src = ANY(..) OR dst = ANY(..)`
    /// does: it keeps them).
    Upsert,
}

#[async_trait]
impl GraphStore for PostgresStore {
    async fn create_tenant(&self, tenant: &TenantId) -> Result<()> {
        let mut tx = self.begin(tenant, Access::Create).await?;
        sqlx::query("INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn lock_writes(&self, tenant: &TenantId) -> Result<WriteLock> {
        let conn = self.locks.acquire().await?;
        let lock = AdvisoryLock::acquire(conn, write_lock_key(tenant)).await?;
        Ok(WriteLock::postgres(lock))
    }

    async fn upsert(&self, tenant: &TenantId, batch: &RowBatch) -> Result<()> {
        self.write_batch(tenant, batch).await
    }

    async fn nodes(&self, tenant: &TenantId, filter: &NodeFilter) -> Result<Vec<NodeRow>> {
        if filter.ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let mut tx = self.begin(tenant, Access::Read).await?;
        // One statement per filter shape (not `$2 IS NULL OR kind = $2`): a generic plan for
        // the catch-all form cannot use the indexes and scans every node.
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT encode(id, 'hex') AS id, kind, key_ct, label_ct, attrs, sources, first_seen, \
                    last_seen FROM nodes WHERE tenant_id = ",
        );
        qb.push_bind(tenant.as_str());
        if let Some(k) = filter.kind {
            // A literal, not a parameter: nodes_by_kind covers the listed kinds only
            // (migration 7), and a generic plan for `kind = $2` could not use it. Kinds are
            // fixed identifiers (`NodeKind::as_str`), never input.
            qb.push(format_args!(" AND kind = '{}'", k.as_str()));
        }
        if let Some(ids) = &filter.ids {
            qb.push(" AND id = ANY(")
                .push_bind(wanted_ids(ids))
                .push(")");
        }
        // The stored bytes, in the order of their hex.
        qb.push(" ORDER BY kind, nodes.id");
        let rows = qb.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(node_from_row).collect()
    }

    async fn nodes_since(
        &self,
        tenant: &TenantId,
        kind: NodeKind,
        since: Option<NodeCursor>,
    ) -> Result<NodesSince> {
        // The tenant check is the erasure count's read (no `SELECT 1` first). Read committed:
        // each statement sees what was committed when it started, so an erasure committed
        // between the two reads is counted at the next call, never hidden by this one.
        let mut tx = self.begin(tenant, Access::Create).await?;
        let (erasures, writes): (i64, i64) =
            sqlx::query_as("SELECT erasures, writes FROM tenants WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::UnknownTenant(tenant.to_string()))?;
        let after = NodeCursor::resume_after(since, erasures);
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT nid, encode(id, 'hex') AS id, key_ct, label_ct FROM nodes WHERE tenant_id = ",
        );
        qb.push_bind(tenant.as_str());
        // A literal kind, as in `nodes`: the partial nodes_by_kind (tenant_id, kind, nid)
        // answers `nid > $2` with a range of its entries for the kinds it covers.
        qb.push(format_args!(" AND kind = '{}'", kind.as_str()));
        if let Some(nid) = after {
            qb.push(" AND nid > ").push_bind(nid);
        }
        qb.push(" ORDER BY nid");
        let rows = qb.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        NodesSince::from_rows(&rows, erasures, writes, after)
    }

    async fn edges(&self, tenant: &TenantId, filter: &EdgeFilter) -> Result<Vec<EdgeRow>> {
        if filter.src_ids.as_ref().is_some_and(Vec::is_empty)
            || filter.dst_ids.as_ref().is_some_and(Vec::is_empty)
        {
            return Ok(Vec::new());
        }
        let mut tx = self.begin(tenant, Access::Read).await?;
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT e.kind, encode(s.id, 'hex') AS src, encode(d.id, 'hex') AS dst, e.sources, \
                    e.first_seen, e.last_seen \
             FROM edges e JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst \
             WHERE e.tenant_id = ",
        );
        qb.push_bind(tenant.as_str());
        if let Some(k) = filter.kind {
            qb.push(" AND e.kind = ").push_bind(k.as_str());
        }
        // The ends' integer keys first, as an array the planner sees the size of: joined on
        // `s.id = ANY(..)` instead, a graph whose tables were not analyzed yet (right after a
        // bulk load, before autovacuum) got a hash join over a scan of every edge of the
        // tenant: 50 ms instead of 0.4 ms for 10 incidents of a 100k-incident graph.
        for (col, ids) in [("src", &filter.src_ids), ("dst", &filter.dst_ids)] {
            if let Some(ids) = ids {
                qb.push(format_args!(
                    " AND e.{col} = ANY(ARRAY(SELECT nid FROM nodes WHERE tenant_id = "
                ))
                .push_bind(tenant.as_str())
                .push(" AND id = ANY(")
                .push_bind(wanted_ids(ids))
                .push(")))");
            }
        }
        qb.push(" ORDER BY s.id, e.kind, d.id");
        let rows = qb.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(edge_from_row).collect()
    }

    async fn stats(&self, tenant: &TenantId) -> Result<Stats> {
        let mut tx = self.begin(tenant, Access::Read).await?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut *tx)
                .await?;
        let nodes: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, COUNT(*) FROM nodes WHERE tenant_id = $1 GROUP BY kind ORDER BY kind",
        )
        .bind(tenant.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let edges: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, COUNT(*) FROM edges WHERE tenant_id = $1 GROUP BY kind ORDER BY kind",
        )
        .bind(tenant.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Stats {
            nodes: nodes
                .into_iter()
                .filter_map(|(k, n)| NodeKind::parse(&k).map(|k| (k, n)))
                .collect(),
            edges: edges
                .into_iter()
                .filter_map(|(k, n)| EdgeKind::parse(&k).map(|k| (k, n)))
                .collect(),
            schema_version: version.unwrap_or(SCHEMA_VERSION),
        })
    }

    async fn similar(&self, tenant: &TenantId, query: &SimilarQuery) -> Result<Vec<Candidate>> {
        let mut tx = self.begin(tenant, Access::Read).await?;
        // `cand` finds the nodes sharing a usable term through `term_bits` (schema 14): B-tree
        // equality on the tenant and the terms, leakproof operators, so index conditions under
        // the row-level security policies too; each row's bits are the nodes of its block of 64
        // nids. The GIN index over `nodes.terms` it replaces was searched by `&&`, which is not
        // leakproof: as the application role the tenant's every node was scanned (62.5 ms at
        // 100k incidents against 15.0 ms as a superuser). The nodes are then read by nid, from
        // an array (no join planned from estimates).
        let rows = sqlx::query(
            "WITH q AS (SELECT nid, id FROM nodes WHERE tenant_id = $1 AND id = ANY($2 || $3)), \
                  qt AS (SELECT ARRAY(SELECT DISTINCT qt FROM unnest($4::bigint[]) AS qt \
                                      WHERE NOT EXISTS (SELECT 1 FROM term_postings p \
                                            WHERE p.tenant_id = $1 AND p.term = qt AND p.nodes > $6)) \
                         AS terms), \
                  cand AS MATERIALIZED (SELECT nid, tenant_id, terms FROM nodes \
                                        WHERE nid = ANY(ARRAY(SELECT DISTINCT b.block * 64 + i \
                                              FROM term_bits b, generate_series(0, 63) i \
                                              WHERE b.tenant_id = $1 \
                                                AND b.term = ANY((SELECT terms FROM qt)::bigint[]) \
                                                AND b.bits & (1::bigint << i) <> 0))), \
                  hits AS (SELECT e.src AS nid, 4 AS w, 1 AS s, 0 AS v, 0 AS m FROM edges e \
                           WHERE e.kind = 'exhibited' AND e.dst IN (SELECT nid FROM q WHERE id = ANY($2)) \
                           UNION ALL SELECT e.src, 2, 0, 1, 0 FROM edges e \
                           WHERE e.kind = 'affected' AND e.dst IN (SELECT nid FROM q WHERE id = ANY($3)) \
                           UNION ALL SELECT c.nid, k.m, 0, 0, k.m FROM cand c, LATERAL \
                                 (SELECT COUNT(*)::int AS m FROM unnest(c.terms) x \
                                  WHERE x = ANY((SELECT terms FROM qt)::bigint[])) k \
                           WHERE c.tenant_id = $1), \
                  top AS (SELECT nid, SUM(s) AS s, SUM(v) AS v, SUM(m) AS m, SUM(w) AS w FROM hits \
                          GROUP BY nid ORDER BY SUM(w) DESC, nid LIMIT $5) \
             SELECT encode(n.id, 'hex') AS id, s, v, m, \
                    COALESCE(cardinality(n.terms), 0)::bigint AS total \
             FROM top JOIN nodes n ON n.nid = top.nid ORDER BY w DESC, n.id",
        )
        .bind(tenant.as_str())
        .bind(wanted_ids(&query.signatures))
        .bind(wanted_ids(&query.services))
        .bind(&query.terms)
        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .bind(MAX_TERM_POSTINGS)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(Candidate {
                    id: r.try_get("id")?,
                    shared_signatures: r.try_get("s")?,
                    shared_services: r.try_get("v")?,
                    shared_terms: r.try_get("m")?,
                    incident_terms: r.try_get("total")?,
                })
            })
            .collect()
    }

    async fn erase(&self, tenant: &TenantId, erasure: &Erasure) -> Result<ErasureCounts> {
        self.erase_nodes(tenant, erasure).await
    }
}
