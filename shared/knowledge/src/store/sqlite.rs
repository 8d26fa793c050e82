//! SQLite backend: the embedded default, one database file per tenant
//! (`<directory>/<tenant>.sqlite`, WAL journal, foreign keys on).
//!
//! Here: the store, its connections and its reads. Upserts go through `writer` (statements
//! in `statements`), erasure through `erasure`; `ids` keeps the id -> nid directory,
//! `terms` the term bitmaps, `checkpoint` the WAL checkpoints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::Mutex;

use super::migrate::{self, check_version, migrate_error, SCHEMA_VERSION};
use super::{decode_err, id_bytes};
use super::{
    Candidate, EdgeFilter, EdgeRow, Erasure, ErasureCounts, GraphStore, NodeCursor, NodeFilter,
    NodeRow, NodesSince, RowBatch, SimilarQuery, Stats, StoreOptions, WriteLock,
};
use crate::model::{EdgeKind, NodeKind, TenantId};
use crate::{Error, Result};

mod checkpoint;
mod erasure;
mod ids;
mod statements;
mod terms;
mod writer;

use checkpoint::Checkpointer;
use ids::{refresh, SharedDirectory};
use writer::{open_writer, upsert_rows, write_err};

// Keys per `IN` list of a read.
const IN_CHUNK: usize = 500;

/// The SQLite graph store: a directory holding one file per tenant.
#[derive(Debug)]
pub struct SqliteStore {
    dir: PathBuf,
    options: StoreOptions,
    pools: Mutex<HashMap<TenantId, Pools>>,
}

/// A tenant file's connections: one writer (SQLite writes one transaction at a time anyway,
/// and one connection keeps its page cache valid from batch to batch: a cache is dropped
/// whenever another connection changed the file) and readers.
///
/// Upserts go through `writer`, a plain SQLite connection with cached prepared statements
/// (new rows many per execution, merges one: no SQL text to parse per batch, no channel hop
/// per statement), run on the calling worker thread (or a blocking thread, see `upsert`);
/// migrations, erasure and reads stay on sqlx.
/// All of them map node ids to nids through `ids` (the file has no index on ids).
#[derive(Debug, Clone)]
struct Pools {
    write: SqlitePool,
    read: SqlitePool,
    writer: Arc<std::sync::Mutex<rusqlite::Connection>>,
    ids: Arc<SharedDirectory>,
    checkpoint: Arc<Checkpointer>,
}

impl Pools {
    /// The nids of `ids` that the directory has (brought up to date on a reader first), in
    /// order, without repeats. A deleted node's nid names no row.
    async fn nids_of(&self, ids: &[String]) -> Result<Vec<i64>> {
        refresh(&self.read, &self.ids).await?;
        Ok(self.ids.read().nids_of(ids))
    }

    /// The nids a reader's id filter selects: `None` without a filter, else
    /// [`Self::nids_of`] (empty when none of the ids is stored).
    async fn nid_filter(&self, ids: Option<&[String]>) -> Result<Option<Vec<i64>>> {
        match ids {
            Some(ids) => self.nids_of(ids).await.map(Some),
            None => Ok(None),
        }
    }
}

/// The `IN` lists of a nid filter: one unfiltered pass without a filter, else chunks of
/// [`IN_CHUNK`] nids (none at all, so no query, when the filter selects no node).
fn nid_chunks(nids: Option<&[i64]>) -> Vec<&[i64]> {
    match nids {
        Some(nids) => nids.chunks(IN_CHUNK).collect(),
        None => vec![&[]],
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(v: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(v).ok_or(Error::Database {
        class: "timestamp out of range",
        code: None,
        retryable: false,
    })
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned())
}

fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// SQL reading a stored id column back as the id string (inverse of [`id_bytes`]: a blob
/// is a lowercase hex id, anything else is stored as text since schema 5).
fn id_text(col: &str) -> String {
    format!("(CASE WHEN typeof({col}) = 'blob' THEN lower(hex({col})) ELSE {col} END)")
}

impl SqliteStore {
    /// Opens (creating if needed) the directory that holds the tenant files.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be created.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(Error::Io)?;
        Ok(Self {
            dir,
            options,
            pools: Mutex::new(HashMap::new()),
        })
    }

    /// Path of a tenant's database file.
    #[must_use]
    pub fn tenant_path(&self, tenant: &TenantId) -> PathBuf {
        self.dir.join(format!("{tenant}.sqlite"))
    }

    async fn pool(&self, tenant: &TenantId, create: bool) -> Result<Pools> {
        let mut pools = self.pools.lock().await;
        if let Some(p) = pools.get(tenant) {
            return Ok(p.clone());
        }
        let path = self.tenant_path(tenant);
        if !create && !path.exists() {
            return Err(Error::UnknownTenant(tenant.to_string()));
        }
        let opts = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Up to 64 MiB of page cache per connection (grown on use), temp tables in memory.
            // WAL with synchronous=NORMAL: a commit is atomic and survives a process crash;
            // after a power loss the last commits may be lost, never half-applied.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Reads map the file instead of copying pages. Upserts are checkpointed in the
            // background ([`checkpoint`]); the auto-checkpoint at ~64 MiB of WAL is the
            // backstop for when those lag (and checkpoints erasure's writes).
            .pragma("mmap_size", "268435456")
            .pragma("wal_autocheckpoint", "16384");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        let has_table: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&pool)
        .await?;
        let found: Option<i64> = if has_table > 0 {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&pool)
                .await?
        } else {
            None
        };
        let fresh = found.is_none();
        if check_version(found, self.options.migrate || fresh)? {
            migrate::migrator(migrate::SQLITE)
                .await?
                .run(&pool)
                .await
                .map_err(migrate_error)?;
        }
        let owner: Option<String> = sqlx::query_scalar("SELECT tenant_id FROM bacca_tenant")
            .fetch_optional(&pool)
            .await?;
        match owner {
            Some(o) if o == tenant.as_str() => {}
            Some(_) => return Err(Error::UnknownTenant(tenant.to_string())),
            None if create => {
                sqlx::query("INSERT INTO bacca_tenant (tenant_id) VALUES (?)")
                    .bind(tenant.as_str())
                    .execute(&pool)
                    .await?;
            }
            None => return Err(Error::UnknownTenant(tenant.to_string())),
        }
        let read = SqlitePoolOptions::new()
            .max_connections(self.options.max_connections.max(1))
            .connect_with(opts.create_if_missing(false))
            .await?;
        let writer = open_writer(&path)?;
        let p = Pools {
            write: pool,
            read,
            writer: Arc::new(std::sync::Mutex::new(writer)),
            ids: Arc::default(),
            checkpoint: Arc::new(Checkpointer::new(path.clone())),
        };
        pools.insert(tenant.clone(), p.clone());
        Ok(p)
    }
}

fn node_from_row(r: &SqliteRow) -> Result<NodeRow> {
    let kind: String = r.try_get("kind")?;
    let attrs: String = r.try_get("attrs")?;
    let sources: String = r.try_get("sources")?;
    Ok(NodeRow {
        id: r.try_get("id")?,
        kind: NodeKind::parse(&kind).ok_or_else(|| decode_err("unknown node kind"))?,
        key_ct: r.try_get("key_ct")?,
        label_ct: r.try_get("label_ct")?,
        attrs: serde_json::from_str(&attrs).map_err(|_| decode_err("attrs not JSON"))?,
        sources: parse_list(&sources),
        first_seen: from_micros(r.try_get("first_seen")?)?,
        last_seen: from_micros(r.try_get("last_seen")?)?,
    })
}

fn edge_from_row(r: &SqliteRow) -> Result<EdgeRow> {
    let kind: String = r.try_get("kind")?;
    let sources: String = r.try_get("sources")?;
    Ok(EdgeRow {
        kind: EdgeKind::parse(&kind).ok_or_else(|| decode_err("unknown edge kind"))?,
        src: r.try_get("src")?,
        dst: r.try_get("dst")?,
        sources: parse_list(&sources),
        first_seen: from_micros(r.try_get("first_seen")?)?,
        last_seen: from_micros(r.try_get("last_seen")?)?,
    })
}

/// `(n1, n2, ...)`: a list of integer keys for `IN` (`(NULL)` when empty).
fn push_nids(qb: &mut QueryBuilder<'_, Sqlite>, nids: &[i64]) {
    qb.push("(");
    if nids.is_empty() {
        qb.push("NULL");
    }
    let mut sep = qb.separated(", ");
    for nid in nids {
        sep.push_bind(*nid);
    }
    qb.push(")");
}

#[async_trait]
impl GraphStore for SqliteStore {
    async fn create_tenant(&self, tenant: &TenantId) -> Result<()> {
        self.pool(tenant, true).await.map(|_| ())
    }

    /// A no-op lock: a SQLite store serves one process (its directory is local), the file
    /// admits one writer at a time, and the graph's in-process mutex already serialises that
    /// process's writers, reads included.
    async fn lock_writes(&self, _tenant: &TenantId) -> Result<WriteLock> {
        Ok(WriteLock::none())
    }

    async fn upsert(&self, tenant: &TenantId, batch: &RowBatch) -> Result<()> {
        let pools = self.pool(tenant, false).await?;
        let checkpoint = Arc::clone(&pools.checkpoint);
        let write = move |batch: &RowBatch, t: &str| {
            let mut conn = pools
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            upsert_rows(&mut conn, &pools.ids, t, batch)
        };
        // On a multi-threaded runtime the write runs in place (`block_in_place` hands this
        // worker's other tasks to another worker): no copy of the batch, no hop to a blocking
        // thread. A current-thread runtime cannot do that, so the batch goes to one.
        let flavor = tokio::runtime::Handle::current().runtime_flavor();
        let written = if flavor == tokio::runtime::RuntimeFlavor::MultiThread {
            tokio::task::block_in_place(|| write(batch, tenant.as_str()))
        } else {
            let t = tenant.as_str().to_owned();
            let batch = batch.clone();
            tokio::task::spawn_blocking(move || write(&batch, &t))
                .await
                .map_err(|_| Error::Database {
                    class: "writer thread failed",
                    code: None,
                    retryable: true,
                })?
        };
        if written.is_ok() {
            checkpoint.kick(batch.nodes.len() + batch.edges.len() + batch.terms.len());
        }
        written
    }

    async fn nodes(&self, tenant: &TenantId, filter: &NodeFilter) -> Result<Vec<NodeRow>> {
        let pools = self.pool(tenant, false).await?;
        let nids = pools.nid_filter(filter.ids.as_deref()).await?;
        let mut out = Vec::new();
        for chunk in nid_chunks(nids.as_deref()) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {} AS id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen \
                 FROM nodes WHERE 1 = 1",
                id_text("id")
            ));
            if let Some(k) = filter.kind {
                qb.push(" AND kind = ").push_bind(k.as_str());
            }
            if nids.is_some() {
                qb.push(" AND nid IN ");
                push_nids(&mut qb, chunk);
            }
            for r in qb.build().fetch_all(&pools.read).await? {
                out.push(node_from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// One read transaction (one snapshot) for the erasure count and the rows; `nodes_by_kind`
    /// is `(kind)`, and so `(kind, nid)` (an index ends with the rowid).
    async fn nodes_since(
        &self,
        tenant: &TenantId,
        kind: NodeKind,
        since: Option<NodeCursor>,
    ) -> Result<NodesSince> {
        let pools = self.pool(tenant, false).await?;
        let mut tx = pools.read.begin().await?;
        let (erasures, writes): (i64, i64) =
            sqlx::query_as("SELECT erasures, writes FROM bacca_tenant")
                .fetch_one(&mut *tx)
                .await?;
        let after = NodeCursor::resume_after(since, erasures);
        let rows = sqlx::query(&format!(
            "SELECT nid, {} AS id, key_ct, label_ct FROM nodes WHERE kind = ? AND nid > ? ORDER BY nid",
            id_text("id")
        ))
        .bind(kind.as_str())
        .bind(after.unwrap_or(0))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        NodesSince::from_rows(&rows, erasures, writes, after)
    }

    async fn edges(&self, tenant: &TenantId, filter: &EdgeFilter) -> Result<Vec<EdgeRow>> {
        let pools = self.pool(tenant, false).await?;
        if filter.dst_ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        // Chunk the source list, or else the target list; with both, targets filter here.
        let (ids, by_dst) = match (&filter.src_ids, &filter.dst_ids) {
            (Some(s), _) => (Some(s), false),
            (None, Some(d)) => (Some(d), true),
            (None, None) => (None, false),
        };
        let keep: Option<std::collections::HashSet<&str>> = match (&filter.src_ids, &filter.dst_ids)
        {
            (Some(_), Some(d)) => Some(d.iter().map(String::as_str).collect()),
            _ => None,
        };
        let nids = pools.nid_filter(ids.map(Vec::as_slice)).await?;
        let mut out = Vec::new();
        for chunk in nid_chunks(nids.as_deref()) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT e.kind AS kind, {} AS src, {} AS dst, e.sources AS sources, \
                 e.first_seen AS first_seen, e.last_seen AS last_seen \
                 FROM edges e JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst WHERE 1 = 1",
                id_text("s.id"),
                id_text("d.id")
            ));
            if let Some(k) = filter.kind {
                qb.push(" AND e.kind = ").push_bind(k.as_str());
            }
            if nids.is_some() {
                qb.push(if by_dst {
                    " AND e.dst IN "
                } else {
                    " AND e.src IN "
                });
                push_nids(&mut qb, chunk);
            }
            qb.push(" ORDER BY s.id, e.kind, d.id");
            for r in qb.build().fetch_all(&pools.read).await? {
                let e = edge_from_row(&r)?;
                if keep.as_ref().is_none_or(|k| k.contains(e.dst.as_str())) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    async fn stats(&self, tenant: &TenantId) -> Result<Stats> {
        let pool = self.pool(tenant, false).await?.read;
        let mut stats = Stats {
            schema_version: sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1",
            )
            .fetch_one(&pool)
            .await?
            .unwrap_or(SCHEMA_VERSION),
            ..Stats::default()
        };
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT kind, COUNT(*) FROM nodes GROUP BY kind ORDER BY kind")
                .fetch_all(&pool)
                .await?;
        stats.nodes = rows
            .into_iter()
            .filter_map(|(k, n)| NodeKind::parse(&k).map(|k| (k, n)))
            .collect();
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT kind, COUNT(*) FROM edges GROUP BY kind ORDER BY kind")
                .fetch_all(&pool)
                .await?;
        stats.edges = rows
            .into_iter()
            .filter_map(|(k, n)| EdgeKind::parse(&k).map(|k| (k, n)))
            .collect();
        Ok(stats)
    }

    async fn similar(&self, tenant: &TenantId, query: &SimilarQuery) -> Result<Vec<Candidate>> {
        let pools = self.pool(tenant, false).await?;
        refresh(&pools.read, &pools.ids).await?;
        let (signatures, services) = {
            let dir = pools.ids.read();
            (dir.nids_of(&query.signatures), dir.nids_of(&query.services))
        };
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let mut qb = QueryBuilder::<Sqlite>::new(
            "WITH hits AS (SELECT src AS nid, 4 AS w, 1 AS s, 0 AS v, 0 AS m FROM edges \
             WHERE kind = 'exhibited' AND dst IN ",
        );
        push_nids(&mut qb, &signatures);
        qb.push(
            " UNION ALL SELECT src, 2, 0, 1, 0 FROM edges \
             WHERE kind = 'affected' AND dst IN ",
        );
        push_nids(&mut qb, &services);
        // the term hits come from the bitmaps, read in the same snapshot as the edges
        let mut tx = pools.read.begin().await?;
        let term_hits = terms::hits(&mut tx, &query.terms).await?;
        qb.push(" UNION ALL SELECT value, 1, 0, 0, 1 FROM json_each(");
        qb.push_bind(term_hits);
        qb.push(
            ")), top AS (SELECT nid, SUM(s) AS s, SUM(v) AS v, SUM(m) AS m, SUM(w) AS w FROM hits \
             GROUP BY nid ORDER BY w DESC, nid LIMIT ",
        );
        qb.push_bind(limit);
        qb.push(format!(
            ") SELECT {} AS id, s, v, m, \
             IFNULL(length(n.terms), 0) / 8 AS total \
             FROM top JOIN nodes n ON n.nid = top.nid ORDER BY w DESC, n.id",
            id_text("n.id")
        ));
        let rows = qb.build().fetch_all(&mut *tx).await?;
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
