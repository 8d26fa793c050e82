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

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row, Transaction};

use super::migrate::{self, check_version, migrate_error, SCHEMA_VERSION};
use super::term_sets::{bitmap_rows, difference, sorted_unique, BatchTerms};
use super::{decode_err, id_bytes, missing_node};
use super::{
    Candidate, EdgeFilter, EdgeRow, Erasure, ErasureCounts, GraphStore, NodeCursor, NodeFilter,
    NodeRow, NodesSince, RowBatch, SimilarQuery, Stats, StoreOptions, WriteLock, MAX_TERM_POSTINGS,
};
use crate::model::{EdgeKind, NodeKind, TenantId};
use crate::{Error, Result};

/// The PostgreSQL graph store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Connections that hold (or wait for) tenant write locks, apart from `pool`.
    locks: PgPool,
}

/// Domain prefix of the advisory-lock key of a tenant's graph writes.
const WRITE_LOCK_DOMAIN: &[u8] = b"bacca-kg-writes\0";

/// The advisory-lock key of a tenant's graph writes: the first 8 bytes of
/// SHA-256(`"bacca-kg-writes\0"` + tenant id), big-endian.
#[must_use]
pub fn write_lock_key(tenant: &TenantId) -> i64 {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(WRITE_LOCK_DOMAIN);
    ctx.update(tenant.as_str().as_bytes());
    let digest = ctx.finish();
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest.as_ref()[..8]);
    i64::from_be_bytes(key)
}

/// A session advisory lock held on its own pooled connection. Released by
/// [`Self::unlock`] (`pg_advisory_unlock`, then the connection goes back to its pool); when
/// dropped while held or while still waiting (a cancelled future), the connection is detached
/// from its pool and closed, and the server releases the lock when it sees the session end.
#[derive(Debug)]
pub(crate) struct AdvisoryLock {
    conn: Option<PoolConnection<Postgres>>,
    key: i64,
}

impl AdvisoryLock {
    /// Waits for the lock `key` on `conn`. If this future is dropped before it completes, the
    /// connection is closed (the pending lock can never be left on a pooled connection).
    async fn acquire(conn: PoolConnection<Postgres>, key: i64) -> Result<Self> {
        let mut lock = Self {
            conn: Some(conn),
            key,
        };
        if let Some(conn) = lock.conn.as_mut() {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(key)
                .execute(&mut **conn)
                .await?;
        }
        Ok(lock)
    }

    /// Releases the lock; on failure the connection is closed, which releases it as well.
    pub(crate) async fn unlock(mut self) -> Result<()> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        let released: Result<bool> = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::from);
        match released {
            Ok(true) => Ok(()),
            Ok(false) => {
                drop(conn.detach());
                Err(decode_err("write lock was not held"))
            }
            Err(e) => {
                drop(conn.detach());
                Err(e)
            }
        }
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Never back to the pool: closing the session releases its advisory locks.
            drop(conn.detach());
        }
    }
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

/// The stored nodes among a batch's ids (`$2`, as [`stored_ids`]), locked for the merge: one
/// probe of the `(id, tenant_id)` index per id (`LATERAL`). The plain `id = ANY($2)` form is
/// planned from the tenant's estimated row count: without statistics, an index scan of the
/// tenant's every row with the ids as a filter, which no planner setting rules out.
const NODE_LOOKUP: &str = "SELECT encode(n.id, 'hex') AS id, n.nid, n.terms \
     FROM unnest($2::bytea[]) AS u(id) \
     CROSS JOIN LATERAL (SELECT id, nid, terms FROM nodes \
       WHERE tenant_id = $1 AND nodes.id = u.id FOR NO KEY UPDATE) n";

/// The integer keys of stored edge ends (`$2`), locked so that the nodes stay until commit;
/// one index probe per id, as [`NODE_LOOKUP`].
const NID_LOOKUP: &str = "SELECT encode(n.id, 'hex') AS id, n.nid \
     FROM unnest($2::bytea[]) AS u(id) \
     CROSS JOIN LATERAL (SELECT id, nid FROM nodes \
       WHERE tenant_id = $1 AND nodes.id = u.id FOR KEY SHARE) n";

/// The stored nodes among an erasure's ids (`$2`), locked for the delete: one index probe per
/// distinct id (each node's terms counted off once), as [`NODE_LOOKUP`].
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
    /// Joins: the stored-edge filter ([`EDGE_UNCHANGED`]) as the application role, on tables
    /// never analyzed, was planned as a hash anti join over a scan of the tenant's every edge
    /// (the policy's tenant condition, estimated at 0.5% of the table, made the scan look
    /// small): 290 ms for a replayed batch of 3000 edges on a graph of 549k edges, against
    /// ~5 ms as index probes. A superuser (no policy) got the probes, so the bench ran as one
    /// did not show it.
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

fn node_from_row(r: &PgRow) -> Result<NodeRow> {
    let kind: String = r.try_get("kind")?;
    Ok(NodeRow {
        id: r.try_get("id")?,
        kind: NodeKind::parse(&kind).ok_or_else(|| decode_err("unknown node kind"))?,
        key_ct: r.try_get("key_ct")?,
        label_ct: r.try_get("label_ct")?,
        attrs: r.try_get("attrs")?,
        sources: r.try_get("sources")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
    })
}

fn edge_from_row(r: &PgRow) -> Result<EdgeRow> {
    let kind: String = r.try_get("kind")?;
    Ok(EdgeRow {
        kind: EdgeKind::parse(&kind).ok_or_else(|| decode_err("unknown edge kind"))?,
        src: r.try_get("src")?,
        dst: r.try_get("dst")?,
        sources: r.try_get("sources")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
    })
}

/// A node id as stored since schema 12: the bytes of its lowercase hex, read back by
/// `encode(id, 'hex')`. Every id the graph writes is the hex of a 16-byte blind index; any
/// other id is refused before it reaches the database.
fn stored_id(id: &str) -> Result<Vec<u8>> {
    id_bytes(id).ok_or_else(|| Error::InvalidRecord("node id is not lowercase hex".into()))
}

/// [`stored_id`] of each of `ids`, for a write.
fn stored_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<Vec<Vec<u8>>> {
    ids.into_iter().map(stored_id).collect()
}

/// The stored forms of the ids a read asks for: an id that cannot be stored matches nothing.
fn wanted_ids(ids: &[String]) -> Vec<Vec<u8>> {
    ids.iter().filter_map(|id| id_bytes(id)).collect()
}

/// Sources travel as one string per row, joined by the unit separator (source names are
/// identifiers; a separator inside one is refused).
const SEP: char = '\u{1f}';

fn joined(v: &[String]) -> Result<String> {
    if v.iter().any(|s| s.contains(SEP)) {
        return Err(Error::InvalidRecord(
            "source name contains a control character".into(),
        ));
    }
    Ok(v.join("\u{1f}"))
}

/// Per-node term lists as one flat array and each node's 1-based `[lo:hi]` slice of it (an
/// empty list is `hi < lo`, written as NULL): PostgreSQL has no arrays of ragged arrays.
struct TermSlices {
    flat: Vec<i64>,
    lo: Vec<i32>,
    hi: Vec<i32>,
}

impl TermSlices {
    fn new<'a>(lists: impl Iterator<Item = &'a [i64]>) -> Result<Self> {
        let mut out = Self {
            flat: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
        };
        for terms in lists {
            let lo = i32::try_from(out.flat.len() + 1).map_err(|_| too_many_terms())?;
            out.flat.extend_from_slice(terms);
            out.lo.push(lo);
            out.hi
                .push(i32::try_from(out.flat.len()).map_err(|_| too_many_terms())?);
        }
        Ok(out)
    }
}

fn too_many_terms() -> Error {
    Error::InvalidRecord("too many term hashes in one batch".into())
}

/// The SQL expression of one node's term array from [`TermSlices`] bound as `$flat` and
/// unnested as `u.lo`, `u.hi`: NULL when the node has no terms.
fn term_slice_sql(flat: &str) -> String {
    format!("CASE WHEN u.hi >= u.lo THEN ({flat}::bigint[])[u.lo:u.hi] END")
}

/// Changes to `term_postings` (how many nodes hold each term) made by one transaction,
/// written once per distinct term, in term order (concurrent writers lock rows in one order),
/// and the (term, nid) pairs it adds and removes, kept as `term_bits` bitmaps (schema 14).
#[derive(Debug, Default)]
struct Postings {
    counts: BTreeMap<i64, i64>,
    added: TermRows,
    removed: TermRows,
}

/// (term, nid) pairs as two parallel arrays.
#[derive(Debug, Default)]
struct TermRows {
    terms: Vec<i64>,
    nids: Vec<i64>,
}

impl TermRows {
    fn push(&mut self, nid: i64, terms: &[i64]) {
        self.terms.extend_from_slice(terms);
        self.nids.extend(std::iter::repeat_n(nid, terms.len()));
    }

    /// The pairs as `term_bits` rows ([`bitmap_rows`], the layout SQLite's bitmaps share): one
    /// per term and block of 64 nids, in (term, block) order, as arrays to bind.
    fn bitmaps(&self) -> Bitmaps {
        let mut pairs: Vec<(i64, i64)> = self
            .terms
            .iter()
            .copied()
            .zip(self.nids.iter().copied())
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut out = Bitmaps::default();
        for (term, block, bits) in bitmap_rows(&pairs) {
            out.terms.push(term);
            out.blocks.push(block);
            out.bits.push(bits);
        }
        out
    }
}

/// `term_bits` rows (schema 14) as three parallel arrays.
#[derive(Debug, Default)]
struct Bitmaps {
    terms: Vec<i64>,
    blocks: Vec<i64>,
    bits: Vec<i64>,
}

impl Postings {
    /// Terms node `nid` gained.
    fn add(&mut self, nid: i64, terms: &[i64]) {
        for t in terms {
            *self.counts.entry(*t).or_default() += 1;
        }
        self.added.push(nid, terms);
    }

    /// Terms node `nid` lost.
    fn remove(&mut self, nid: i64, terms: &[i64]) {
        for t in terms {
            *self.counts.entry(*t).or_default() -= 1;
        }
        self.removed.push(nid, terms);
    }

    /// Applies the changes. The bitmaps first: the lost pairs' bits cleared (a bitmap left at
    /// 0 deleted), then the gained pairs' bits or-ed in. Then the counts: gains by upsert,
    /// losses by update (an insert path would check `nodes >= 0` on the negative candidate
    /// row first); terms no node holds any more lose their row.
    async fn apply(self, tx: &mut Transaction<'static, Postgres>, t: &str) -> Result<()> {
        // Removals first: a node whose terms are replaced loses and regains the ones it keeps.
        let removed = self.removed.bitmaps();
        if !removed.terms.is_empty() {
            sqlx::query(
                "UPDATE term_bits b SET bits = b.bits & ~u.bits \
                 FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[]) AS u(term, block, bits) \
                 WHERE b.tenant_id = $1 AND b.term = u.term AND b.block = u.block",
            )
            .bind(t)
            .bind(&removed.terms)
            .bind(&removed.blocks)
            .bind(&removed.bits)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "DELETE FROM term_bits WHERE tenant_id = $1 AND bits = 0 AND (term, block) IN \
                 (SELECT * FROM UNNEST($2::bigint[], $3::bigint[]))",
            )
            .bind(t)
            .bind(&removed.terms)
            .bind(&removed.blocks)
            .execute(&mut **tx)
            .await?;
        }
        let added = self.added.bitmaps();
        if !added.terms.is_empty() {
            sqlx::query(
                "INSERT INTO term_bits (tenant_id, term, block, bits) \
                 SELECT $1, u.term, u.block, u.bits \
                 FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[]) AS u(term, block, bits) \
                 ON CONFLICT (tenant_id, term, block) DO UPDATE SET bits = term_bits.bits | EXCLUDED.bits",
            )
            .bind(t)
            .bind(&added.terms)
            .bind(&added.blocks)
            .bind(&added.bits)
            .execute(&mut **tx)
            .await?;
        }
        type Deltas = Vec<(i64, i64)>;
        let (gains, losses): (Deltas, Deltas) = self
            .counts
            .into_iter()
            .filter(|(_, d)| *d != 0)
            .partition(|(_, d)| *d > 0);
        if !gains.is_empty() {
            let (terms, deltas): (Vec<i64>, Vec<i64>) = gains.into_iter().unzip();
            sqlx::query(
                "INSERT INTO term_postings (tenant_id, term, nodes) \
                 SELECT $1, u.term, u.delta FROM UNNEST($2::bigint[], $3::bigint[]) AS u(term, delta) \
                 ON CONFLICT (tenant_id, term) DO UPDATE SET nodes = term_postings.nodes + EXCLUDED.nodes",
            )
            .bind(t)
            .bind(&terms)
            .bind(&deltas)
            .execute(&mut **tx)
            .await?;
        }
        if !losses.is_empty() {
            let (terms, deltas): (Vec<i64>, Vec<i64>) = losses.into_iter().unzip();
            sqlx::query(
                "UPDATE term_postings p SET nodes = p.nodes + u.delta \
                 FROM UNNEST($2::bigint[], $3::bigint[]) AS u(term, delta) \
                 WHERE p.tenant_id = $1 AND p.term = u.term",
            )
            .bind(t)
            .bind(&terms)
            .bind(&deltas)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "DELETE FROM term_postings WHERE tenant_id = $1 AND term = ANY($2) AND nodes = 0",
            )
            .bind(t)
            .bind(&terms)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

/// A unique violation of the plain node insert means a concurrent writer stored the node after
/// the lookup: retryable, unlike other unique violations.
fn raced_insert(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            Error::Database {
                class: "node stored concurrently (retry the batch)",
                code: db.code().map(std::borrow::Cow::into_owned),
                retryable: true,
            }
        }
        _ => e.into(),
    }
}

/// Writes node rows with their term hashes (`terms[i]` for `nodes[i]`, sorted and unique).
/// One lookup finds the stored ones and locks them `FOR NO KEY UPDATE`; the others are
/// inserted with plain INSERTs, the stored ones merged (label replaced when given,
/// attributes merged, sources union, times widen, terms union). Records each blind id's
/// integer key in `nids`, the keys of inserted nodes in `fresh`, and the terms each node
/// gained in `postings`.
///
/// A fresh node has no edges yet (its `nid` was never used), so theirs are written without
/// conflict handling. Were a node inserted by a concurrent writer that does not hold the
/// tenant's write lock between the lookup and the insert, the insert fails with a unique
/// violation and the batch rolls back (never a duplicate), as a retryable error: the retry
/// finds the node stored and merges into it.
async fn write_nodes(
    tx: &mut Transaction<'static, Postgres>,
    t: &str,
    nodes: &[NodeRow],
    terms: &BatchTerms,
    nids: &mut HashMap<String, i64>,
    fresh: &mut HashSet<i64>,
    postings: &mut Postings,
) -> Result<()> {
    if nodes.is_empty() {
        return Ok(());
    }
    let ids = stored_ids(nodes.iter().map(|x| x.id.as_str()))?;
    let rows = sqlx::query(NODE_LOOKUP)
        .bind(t)
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?;
    let mut stored: HashMap<String, (i64, Vec<i64>)> = HashMap::with_capacity(rows.len());
    for r in rows {
        let old: Option<Vec<i64>> = r.try_get("terms")?;
        stored.insert(
            r.try_get("id")?,
            (r.try_get("nid")?, old.unwrap_or_default()),
        );
    }
    let (mut new, mut old) = (Vec::with_capacity(nodes.len()), Vec::new());
    for (i, n) in nodes.iter().enumerate() {
        let terms = terms.of(i);
        match stored.get(&n.id) {
            Some((nid, had)) => {
                postings.add(*nid, &difference(terms, had));
                nids.insert(n.id.clone(), *nid);
                old.push((n, terms));
            }
            None => new.push((n, terms)),
        }
    }
    for (rows, insert) in [(new, true), (old, false)] {
        if rows.is_empty() {
            continue;
        }
        let n: Vec<&NodeRow> = rows.iter().map(|x| x.0).collect();
        let slices = TermSlices::new(rows.iter().map(|x| x.1))?;
        let ids = stored_ids(n.iter().map(|x| x.id.as_str()))?;
        let kinds: Vec<&str> = n.iter().map(|x| x.kind.as_str()).collect();
        let keys: Vec<&[u8]> = n.iter().map(|x| x.key_ct.as_slice()).collect();
        let labels: Vec<Option<&[u8]>> = n.iter().map(|x| x.label_ct.as_deref()).collect();
        let attrs: Vec<&serde_json::Value> = n.iter().map(|x| &x.attrs).collect();
        let sources: Vec<String> = n
            .iter()
            .map(|x| joined(&x.sources))
            .collect::<Result<_>>()?;
        let first: Vec<DateTime<Utc>> = n.iter().map(|x| x.first_seen).collect();
        let last: Vec<DateTime<Utc>> = n.iter().map(|x| x.last_seen).collect();
        let sql = node_write_sql(insert);
        let query = sqlx::query(&sql)
            .bind(t)
            .bind(&ids)
            .bind(&kinds)
            .bind(&keys)
            .bind(&labels)
            .bind(&attrs)
            .bind(&sources)
            .bind(&first)
            .bind(&last)
            .bind(&slices.flat)
            .bind(&slices.lo)
            .bind(&slices.hi);
        if insert {
            let terms_of: HashMap<&str, &[i64]> = rows
                .iter()
                .map(|(n, terms)| (n.id.as_str(), *terms))
                .collect();
            for r in query.fetch_all(&mut **tx).await.map_err(raced_insert)? {
                let nid: i64 = r.try_get("nid")?;
                let id: String = r.try_get("id")?;
                postings.add(nid, terms_of.get(id.as_str()).copied().unwrap_or_default());
                fresh.insert(nid);
                nids.insert(id, nid);
            }
        } else {
            query.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// The statement that writes a batch's new nodes (`insert`, returning their ids and nids) or
/// merges its stored ones: `$1` the tenant, `$2`.. the columns as arrays (see
/// [`write_nodes`]).
fn node_write_sql(insert: bool) -> String {
    let unnest = "UNNEST($2::bytea[], $3::text[], $4::bytea[], $5::bytea[], $6::jsonb[], \
                  $7::text[], $8::timestamptz[], $9::timestamptz[], $11::int[], $12::int[]) \
                  AS u(id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen, lo, hi)";
    let terms = term_slice_sql("$10");
    let insert_rows = format!(
        "INSERT INTO nodes (tenant_id, id, kind, key_ct, label_ct, attrs, sources, first_seen, \
                            last_seen, terms) \
         SELECT $1, u.id, u.kind, u.key_ct, u.label_ct, u.attrs, \
                string_to_array(u.sources, chr(31)), u.first_seen, u.last_seen, {terms} \
         FROM {unnest}"
    );
    if insert {
        format!("{insert_rows} RETURNING encode(id, 'hex') AS id, nid")
    } else {
        // The merge goes through the insert's conflict check, a probe of the
        // `(id, tenant_id)` index per row whatever the statistics say: an `UPDATE ... FROM
        // UNNEST` join was planned from the tenant's estimated row count, and without
        // statistics it scanned the tenant's every node (a hash join), or did so once per
        // merged row (a nested loop over the scan). Every row conflicts (the lookup found
        // and locked it); the unused nid it draws from the sequence leaves a gap.
        format!(
            "{insert_rows} ON CONFLICT (id, tenant_id) DO UPDATE SET \
               label_ct = COALESCE(EXCLUDED.label_ct, nodes.label_ct), \
               attrs = nodes.attrs || EXCLUDED.attrs, \
               sources = CASE WHEN nodes.sources = EXCLUDED.sources \
                         THEN nodes.sources ELSE ARRAY(SELECT DISTINCT s FROM \
                         unnest(nodes.sources || EXCLUDED.sources) s ORDER BY s) END, \
               first_seen = LEAST(nodes.first_seen, EXCLUDED.first_seen), \
               last_seen = GREATEST(nodes.last_seen, EXCLUDED.last_seen), \
               terms = CASE WHEN EXCLUDED.terms IS NULL OR EXCLUDED.terms <@ nodes.terms \
                       THEN nodes.terms \
                       ELSE ARRAY(SELECT DISTINCT x FROM unnest(nodes.terms || EXCLUDED.terms) x \
                       ORDER BY x) END"
        )
    }
}

/// Adds the integer keys of `ids` (already in the graph) to `nids`, locking their rows
/// `FOR KEY SHARE`: they stay until commit (edges have no foreign keys: see migration 0003).
async fn lookup_nids(
    tx: &mut Transaction<'static, Postgres>,
    t: &str,
    ids: &[String],
    nids: &mut HashMap<String, i64>,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query(NID_LOOKUP)
        .bind(t)
        .bind(stored_ids(ids.iter().map(String::as_str))?)
        .fetch_all(&mut **tx)
        .await?;
    for r in rows {
        nids.insert(r.try_get("id")?, r.try_get("nid")?);
    }
    Ok(())
}

/// Filter of a batch's edges that may be stored already, ahead of [`EDGE_CONFLICT`]: an edge
/// whose stored row holds its sources and times already is left alone, without the row lock
/// and conflict check of the merge (a replayed batch). Stored edges are only deleted by an
/// erasure, which first locks their nodes `FOR UPDATE`, and the upsert holds locks on the
/// nodes of all of its edges: a skipped edge stays.
const EDGE_UNCHANGED: &str = " WHERE NOT EXISTS (SELECT 1 FROM edges e \
   WHERE e.src = u.src AND e.kind = u.kind AND e.dst = u.dst \
     AND e.sources @> string_to_array(u.sources, chr(31)) \
     AND e.first_seen <= u.first_seen AND e.last_seen >= u.last_seen)";

/// The statement that writes a batch's edges: `$1` the tenant, `$2`.. the columns as arrays
/// (src, kind, dst, joined sources, first and last seen); `unchanged` and `merge` are "" for
/// edges of fresh nodes, [`EDGE_UNCHANGED`] and [`EDGE_CONFLICT`] for the others.
fn edge_write_sql(unchanged: &str, merge: &str) -> String {
    format!(
        "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) \
         SELECT u.src, u.kind, u.dst, $1, string_to_array(u.sources, chr(31)), \
                u.first_seen, u.last_seen \
         FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[], \
                     $7::timestamptz[]) AS u(src, kind, dst, sources, first_seen, last_seen)\
         {unchanged}{merge}"
    )
}

/// Merge rule of an edge upsert: sources union, times widen. A replayed edge that changes
/// nothing is not rewritten (no new tuple version, no index entries).
const EDGE_CONFLICT: &str = " ON CONFLICT (src, kind, dst) DO UPDATE SET \
   sources = CASE WHEN edges.sources = EXCLUDED.sources THEN edges.sources ELSE \
             ARRAY(SELECT DISTINCT s FROM unnest(edges.sources || EXCLUDED.sources) s ORDER BY s) END, \
   first_seen = LEAST(edges.first_seen, EXCLUDED.first_seen), \
   last_seen = GREATEST(edges.last_seen, EXCLUDED.last_seen) \
   WHERE EXCLUDED.sources <> edges.sources OR EXCLUDED.first_seen < edges.first_seen \
      OR EXCLUDED.last_seen > edges.last_seen";

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
        let mut tx = self.begin(tenant, Access::Upsert).await?;
        let t = tenant.as_str();
        let mut nids: HashMap<String, i64> = HashMap::with_capacity(batch.nodes.len());
        let mut fresh: HashSet<i64> = HashSet::with_capacity(batch.nodes.len());
        let mut postings = Postings::default();
        let terms = BatchTerms::new(batch)?;
        write_nodes(
            &mut tx,
            t,
            &batch.nodes,
            &terms,
            &mut nids,
            &mut fresh,
            &mut postings,
        )
        .await?;
        postings.apply(&mut tx, t).await?;
        let outside = batch.edge_ends_outside(&nids);
        lookup_nids(&mut tx, t, &outside, &mut nids).await?;
        // Edges touching a fresh node cannot exist yet (each edge once: a repeated one goes
        // through the merge).
        let mut new_edges: Vec<(i64, &EdgeRow, i64)> = Vec::with_capacity(batch.edges.len());
        let mut old_edges: Vec<(i64, &EdgeRow, i64)> = Vec::new();
        let mut seen: HashSet<(i64, EdgeKind, i64)> = HashSet::with_capacity(batch.edges.len());
        for e in &batch.edges {
            let (Some(&s), Some(&d)) = (nids.get(&e.src), nids.get(&e.dst)) else {
                return Err(missing_node());
            };
            if (fresh.contains(&s) || fresh.contains(&d)) && seen.insert((s, e.kind, d)) {
                new_edges.push((s, e, d));
            } else {
                old_edges.push((s, e, d));
            }
        }
        for (rows, unchanged, merge) in [
            (new_edges, "", ""),
            (old_edges, EDGE_UNCHANGED, EDGE_CONFLICT),
        ] {
            if rows.is_empty() {
                continue;
            }
            let src: Vec<i64> = rows.iter().map(|x| x.0).collect();
            let dst: Vec<i64> = rows.iter().map(|x| x.2).collect();
            let kinds: Vec<&str> = rows.iter().map(|x| x.1.kind.as_str()).collect();
            let sources: Vec<String> = rows
                .iter()
                .map(|x| joined(&x.1.sources))
                .collect::<Result<_>>()?;
            let first: Vec<DateTime<Utc>> = rows.iter().map(|x| x.1.first_seen).collect();
            let last: Vec<DateTime<Utc>> = rows.iter().map(|x| x.1.last_seen).collect();
            sqlx::query(&edge_write_sql(unchanged, merge))
                .bind(t)
                .bind(&src)
                .bind(&kinds)
                .bind(&dst)
                .bind(&sources)
                .bind(&first)
                .bind(&last)
                .execute(&mut *tx)
                .await?;
        }
        // Last, so that the tenant's row is locked for the commit only.
        sqlx::query("UPDATE tenants SET writes = writes + 1 WHERE tenant_id = $1")
            .bind(t)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
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
        let mut tx = self.begin(tenant, Access::Write).await?;
        let t = tenant.as_str();
        let mut counts = ErasureCounts::default();
        let mut postings = Postings::default();
        if !erasure.delete.is_empty() {
            let rows = sqlx::query(ERASED_LOOKUP)
                .bind(t)
                .bind(wanted_ids(&erasure.delete))
                .fetch_all(&mut *tx)
                .await?;
            let mut nids: Vec<i64> = Vec::with_capacity(rows.len());
            for r in rows {
                let nid: i64 = r.try_get("nid")?;
                nids.push(nid);
                postings.remove(
                    nid,
                    &r.try_get::<Option<Vec<i64>>, _>("terms")?
                        .unwrap_or_default(),
                );
            }
            counts.edges_deleted =
                sqlx::query("DELETE FROM edges WHERE src = ANY($1) OR dst = ANY($1)")
                    .bind(&nids)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            counts.nodes_deleted = sqlx::query("DELETE FROM nodes WHERE nid = ANY($1)")
                .bind(&nids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        for rw in &erasure.rewrite {
            // An id that cannot be stored names no node.
            let Some(old_id) = id_bytes(&rw.old_id) else {
                continue;
            };
            let old = sqlx::query(
                "SELECT nid, terms FROM nodes WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            )
            .bind(t)
            .bind(old_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(old) = old else { continue };
            let old_nid: i64 = old.try_get("nid")?;
            let old_terms: Vec<i64> = old
                .try_get::<Option<Vec<i64>>, _>("terms")?
                .unwrap_or_default();
            let terms = sorted_unique(&rw.terms);
            postings.remove(old_nid, &old_terms);
            if rw.row.id == rw.old_id {
                // The node's terms are replaced.
                postings.add(old_nid, &terms);
                sqlx::query(
                    "UPDATE nodes SET key_ct = $1, label_ct = $2, terms = $3 WHERE nid = $4",
                )
                .bind(rw.row.key_ct.as_slice())
                .bind(rw.row.label_ct.as_deref())
                .bind((!terms.is_empty()).then_some(&terms))
                .bind(old_nid)
                .execute(&mut *tx)
                .await?;
            } else {
                // A node moved onto an existing one keeps that node's terms and adds its own.
                let mut nids = HashMap::new();
                write_nodes(
                    &mut tx,
                    t,
                    std::slice::from_ref(&rw.row),
                    &BatchTerms::single(&terms),
                    &mut nids,
                    &mut HashSet::new(),
                    &mut postings,
                )
                .await?;
                let new = *nids.get(&rw.row.id).ok_or_else(missing_node)?;
                sqlx::query(&format!(
                    "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) \
                     SELECT CASE WHEN src = $1 THEN $2 ELSE src END, kind, \
                            CASE WHEN dst = $1 THEN $2 ELSE dst END, tenant_id, sources, \
                            first_seen, last_seen \
                     FROM edges WHERE src = $1 OR dst = $1{EDGE_CONFLICT}"
                ))
                .bind(old_nid)
                .bind(new)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM edges WHERE src = $1 OR dst = $1")
                    .bind(old_nid)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM nodes WHERE nid = $1")
                    .bind(old_nid)
                    .execute(&mut *tx)
                    .await?;
            }
            counts.labels_rewritten += 1;
        }
        postings.apply(&mut tx, t).await?;
        // Readers' node cursors ([`GraphStore::nodes_since`]) are void from this commit on.
        sqlx::query("UPDATE tenants SET erasures = erasures + 1 WHERE tenant_id = $1")
            .bind(t)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let arbiter: String = sqlx::query_scalar(
            "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'nodes' \
               AND indexdef LIKE '%UNIQUE%(id, tenant_id)'",
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
        // The application role of the store suite (a concurrent test may create it too).
        let _ = sqlx::query("CREATE ROLE bacca_kg_app LOGIN NOSUPERUSER NOBYPASSRLS")
            .execute(&admin)
            .await;
        for grant in [
            format!("GRANT USAGE ON SCHEMA {schema} TO bacca_kg_app"),
            format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO bacca_kg_app"),
        ] {
            sqlx::query(&grant).execute(&admin).await.unwrap();
        }
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
        sqlx::query("SET LOCAL ROLE bacca_kg_app")
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
                && plan
                    .contains("Index Cond: ((src = u.src) AND (kind = u.kind) AND (dst = u.dst))")
                && !plan.contains("Seq Scan on edges"),
            "{plan}"
        );
    }
}
