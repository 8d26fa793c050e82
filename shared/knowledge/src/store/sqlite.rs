//! SQLite backend: the embedded default, one database file per tenant
//! (`<directory>/<tenant>.sqlite`, WAL journal, foreign keys on).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use tokio::sync::Mutex;

use super::migrate::{self, check_version, migrate_error, SCHEMA_VERSION};
use super::{decode_err, missing_node};
use super::{
    Candidate, EdgeFilter, EdgeRow, Erasure, ErasureCounts, GraphStore, NodeFilter, NodeRow,
    RowBatch, SimilarQuery, Stats, StoreOptions, WriteLock, MAX_TERM_POSTINGS,
};
use crate::model::{EdgeKind, NodeKind, TenantId};
use crate::{Error, Result};

// Rows per multi-row INSERT (bound parameters per statement stay well under SQLite's 32766).
const NODE_CHUNK: usize = 500;
const EDGE_CHUNK: usize = 1000;
const TERM_CHUNK: usize = 2000;
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
#[derive(Debug, Clone)]
struct Pools {
    write: SqlitePool,
    read: SqlitePool,
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
            // Reads map the file instead of copying pages; checkpoints every ~32 MiB of WAL
            // (fewer, larger checkpoints write each hot page once).
            .pragma("mmap_size", "268435456")
            .pragma("wal_autocheckpoint", "8192");
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
        let p = Pools { write: pool, read };
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

fn push_in_list<'a>(qb: &mut QueryBuilder<'a, Sqlite>, items: &'a [String]) {
    qb.push("(");
    if items.is_empty() {
        qb.push("NULL");
    }
    let mut sep = qb.separated(", ");
    for i in items {
        sep.push_bind(i.as_str());
    }
    qb.push(")");
}

/// Merge rule of a node upsert: label replaced when given, attributes patched, sources union,
/// times widen.
const NODE_CONFLICT: &str = " ON CONFLICT (id) DO UPDATE SET \
     label_ct = COALESCE(excluded.label_ct, nodes.label_ct), \
     attrs = json_patch(nodes.attrs, excluded.attrs), \
     sources = CASE WHEN excluded.sources = nodes.sources THEN nodes.sources ELSE \
               (SELECT json_group_array(value) FROM (SELECT value FROM json_each(nodes.sources) \
                UNION SELECT value FROM json_each(excluded.sources) ORDER BY 1)) END, \
     first_seen = MIN(nodes.first_seen, excluded.first_seen), \
     last_seen = MAX(nodes.last_seen, excluded.last_seen)";

/// Merge rule of an edge upsert: sources union, times widen. A replayed edge that changes
/// nothing is not rewritten (no page dirtied).
const EDGE_CONFLICT: &str = " ON CONFLICT (src, kind, dst) DO UPDATE SET \
     sources = CASE WHEN excluded.sources = edges.sources THEN edges.sources ELSE \
               (SELECT json_group_array(value) FROM (SELECT value FROM json_each(edges.sources) \
                UNION SELECT value FROM json_each(excluded.sources) ORDER BY 1)) END, \
     first_seen = MIN(edges.first_seen, excluded.first_seen), \
     last_seen = MAX(edges.last_seen, excluded.last_seen) \
     WHERE excluded.sources <> edges.sources OR excluded.first_seen < edges.first_seen \
        OR excluded.last_seen > edges.last_seen";

/// Upserts node rows; returns each blind id's integer key.
async fn upsert_nodes(
    tx: &mut Transaction<'_, Sqlite>,
    t: &str,
    nodes: &[NodeRow],
    nids: &mut HashMap<String, i64>,
) -> Result<()> {
    for chunk in nodes.chunks(NODE_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO nodes (id, tenant_id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen) ",
        );
        qb.push_values(chunk, |mut b, n| {
            b.push_bind(n.id.as_str())
                .push_bind(t)
                .push_bind(n.kind.as_str())
                .push_bind(n.key_ct.as_slice())
                .push_bind(n.label_ct.as_deref())
                .push_bind(n.attrs.to_string())
                .push_bind(json_list(&n.sources))
                .push_bind(micros(n.first_seen))
                .push_bind(micros(n.last_seen));
        });
        qb.push(NODE_CONFLICT);
        qb.push(" RETURNING id, nid");
        for r in qb.build().fetch_all(&mut **tx).await? {
            nids.insert(r.try_get("id")?, r.try_get("nid")?);
        }
    }
    Ok(())
}

/// Adds the integer keys of `ids` (already in the graph) to `nids`.
async fn lookup_nids(
    tx: &mut Transaction<'_, Sqlite>,
    ids: &[String],
    nids: &mut HashMap<String, i64>,
) -> Result<()> {
    for chunk in ids.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT id, nid FROM nodes WHERE id IN ");
        push_in_list(&mut qb, chunk);
        for r in qb.build().fetch_all(&mut **tx).await? {
            nids.insert(r.try_get("id")?, r.try_get("nid")?);
        }
    }
    Ok(())
}

/// Adds term rows to a node, first removing its old ones when `clear`.
async fn replace_terms(
    tx: &mut Transaction<'_, Sqlite>,
    nid: i64,
    terms: &[i64],
    clear: bool,
) -> Result<()> {
    if clear {
        sqlx::query("DELETE FROM node_terms WHERE nid = ?")
            .bind(nid)
            .execute(&mut **tx)
            .await?;
    }
    for chunk in terms.chunks(TERM_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO node_terms (term, nid) ");
        qb.push_values(chunk, |mut b, term| {
            b.push_bind(*term).push_bind(nid);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
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
        let mut tx = pools.write.begin().await?;
        let t = tenant.as_str();
        let mut nids: HashMap<String, i64> = HashMap::with_capacity(batch.nodes.len());
        upsert_nodes(&mut tx, t, &batch.nodes, &mut nids).await?;
        let mut outside: Vec<String> = batch
            .edges
            .iter()
            .flat_map(|e| [&e.src, &e.dst])
            .filter(|id| !nids.contains_key(id.as_str()))
            .cloned()
            .collect();
        outside.sort_unstable();
        outside.dedup();
        lookup_nids(&mut tx, &outside, &mut nids).await?;
        let mut terms: Vec<(i64, i64)> = Vec::with_capacity(batch.terms.len());
        for term in &batch.terms {
            let nid = batch
                .nodes
                .get(term.node)
                .and_then(|n| nids.get(&n.id))
                .ok_or_else(|| {
                    Error::InvalidRecord("term refers to no node of the batch".into())
                })?;
            terms.push((term.term, *nid));
        }
        for chunk in terms.chunks(TERM_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO node_terms (term, nid) ");
            qb.push_values(chunk, |mut b, (term, nid)| {
                b.push_bind(*term).push_bind(*nid);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *tx).await?;
        }
        let mut edges: Vec<(i64, &str, i64, &EdgeRow)> = Vec::with_capacity(batch.edges.len());
        for e in &batch.edges {
            let (Some(src), Some(dst)) = (nids.get(&e.src), nids.get(&e.dst)) else {
                return Err(missing_node());
            };
            edges.push((*src, e.kind.as_str(), *dst, e));
        }
        for chunk in edges.chunks(EDGE_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) ",
            );
            qb.push_values(chunk, |mut b, (src, kind, dst, e)| {
                b.push_bind(*src)
                    .push_bind(*kind)
                    .push_bind(*dst)
                    .push_bind(t)
                    .push_bind(json_list(&e.sources))
                    .push_bind(micros(e.first_seen))
                    .push_bind(micros(e.last_seen));
            });
            qb.push(EDGE_CONFLICT);
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn nodes(&self, tenant: &TenantId, filter: &NodeFilter) -> Result<Vec<NodeRow>> {
        let pool = self.pool(tenant, false).await?.read;
        let all: Vec<String> = Vec::new();
        let ids = filter.ids.as_ref();
        let chunks: Vec<&[String]> = match ids {
            Some(ids) if ids.is_empty() => return Ok(Vec::new()),
            Some(ids) => ids.chunks(IN_CHUNK).collect(),
            None => vec![all.as_slice()],
        };
        let mut out = Vec::new();
        for chunk in chunks {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen FROM nodes WHERE 1 = 1",
            );
            if let Some(k) = filter.kind {
                qb.push(" AND kind = ").push_bind(k.as_str());
            }
            if ids.is_some() {
                qb.push(" AND id IN ");
                push_in_list(&mut qb, chunk);
            }
            for r in qb.build().fetch_all(&pool).await? {
                out.push(node_from_row(&r)?);
            }
        }
        Ok(out)
    }

    async fn edges(&self, tenant: &TenantId, filter: &EdgeFilter) -> Result<Vec<EdgeRow>> {
        let pool = self.pool(tenant, false).await?.read;
        let all: Vec<String> = Vec::new();
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
        let chunks: Vec<&[String]> = match ids {
            Some(ids) if ids.is_empty() => return Ok(Vec::new()),
            Some(ids) => ids.chunks(IN_CHUNK).collect(),
            None => vec![all.as_slice()],
        };
        let mut out = Vec::new();
        for chunk in chunks {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT e.kind AS kind, s.id AS src, d.id AS dst, e.sources AS sources, \
                 e.first_seen AS first_seen, e.last_seen AS last_seen \
                 FROM edges e JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst WHERE 1 = 1",
            );
            if let Some(k) = filter.kind {
                qb.push(" AND e.kind = ").push_bind(k.as_str());
            }
            if ids.is_some() {
                qb.push(if by_dst {
                    " AND d.id IN "
                } else {
                    " AND s.id IN "
                });
                push_in_list(&mut qb, chunk);
            }
            qb.push(" ORDER BY s.id, e.kind, d.id");
            for r in qb.build().fetch_all(&pool).await? {
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
        let pool = self.pool(tenant, false).await?.read;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let mut qb = QueryBuilder::<Sqlite>::new(
            "WITH hits AS (SELECT src AS nid, 4 AS w, 1 AS s, 0 AS v, 0 AS m FROM edges \
             WHERE kind = 'exhibited' AND dst IN (SELECT nid FROM nodes WHERE id IN ",
        );
        push_in_list(&mut qb, &query.signatures);
        qb.push(
            ") UNION ALL SELECT src, 2, 0, 1, 0 FROM edges \
             WHERE kind = 'affected' AND dst IN (SELECT nid FROM nodes WHERE id IN ",
        );
        push_in_list(&mut qb, &query.services);
        qb.push(
            ") UNION ALL SELECT nid, 1, 0, 0, 1 FROM node_terms \
             WHERE term IN (SELECT term FROM node_terms WHERE term IN (",
        );
        if query.terms.is_empty() {
            qb.push("NULL");
        }
        {
            let mut sep = qb.separated(", ");
            for term in &query.terms {
                sep.push_bind(*term);
            }
        }
        qb.push(") GROUP BY term HAVING COUNT(*) <= ");
        qb.push_bind(MAX_TERM_POSTINGS);
        qb.push(
            ")), top AS (SELECT nid, SUM(s) AS s, SUM(v) AS v, SUM(m) AS m, SUM(w) AS w FROM hits \
             GROUP BY nid ORDER BY w DESC, nid LIMIT ",
        );
        qb.push_bind(limit);
        qb.push(
            ") SELECT n.id AS id, s, v, m, \
             (SELECT COUNT(*) FROM node_terms x WHERE x.nid = top.nid) AS total \
             FROM top JOIN nodes n ON n.nid = top.nid ORDER BY w DESC, n.id",
        );
        let rows = qb.build().fetch_all(&pool).await?;
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
        let pools = self.pool(tenant, false).await?;
        let mut tx = pools.write.begin().await?;
        let t = tenant.as_str();
        let mut counts = ErasureCounts::default();
        for chunk in erasure.delete.chunks(IN_CHUNK) {
            let mut nids: HashMap<String, i64> = HashMap::new();
            lookup_nids(&mut tx, chunk, &mut nids).await?;
            for nid in nids.into_values() {
                counts.edges_deleted += sqlx::query("DELETE FROM edges WHERE src = ? OR dst = ?")
                    .bind(nid)
                    .bind(nid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                replace_terms(&mut tx, nid, &[], true).await?;
                counts.nodes_deleted += sqlx::query("DELETE FROM nodes WHERE nid = ?")
                    .bind(nid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
        }
        for rw in &erasure.rewrite {
            let old: Option<i64> = sqlx::query_scalar("SELECT nid FROM nodes WHERE id = ?")
                .bind(rw.old_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(old) = old else { continue };
            let new = if rw.row.id == rw.old_id {
                sqlx::query("UPDATE nodes SET key_ct = ?, label_ct = ? WHERE nid = ?")
                    .bind(rw.row.key_ct.as_slice())
                    .bind(rw.row.label_ct.as_deref())
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                old
            } else {
                let mut nids = HashMap::new();
                upsert_nodes(&mut tx, t, std::slice::from_ref(&rw.row), &mut nids).await?;
                let new = *nids.get(&rw.row.id).ok_or_else(missing_node)?;
                sqlx::query(&format!(
                    "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) \
                     SELECT CASE WHEN src = ?1 THEN ?2 ELSE src END, kind, \
                            CASE WHEN dst = ?1 THEN ?2 ELSE dst END, tenant_id, sources, \
                            first_seen, last_seen \
                     FROM edges WHERE src = ?1 OR dst = ?1{EDGE_CONFLICT}"
                ))
                .bind(old)
                .bind(new)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM edges WHERE src = ? OR dst = ?")
                    .bind(old)
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                replace_terms(&mut tx, old, &[], true).await?;
                sqlx::query("DELETE FROM nodes WHERE nid = ?")
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                new
            };
            // A node moved onto an existing one keeps that node's terms and adds its own.
            replace_terms(&mut tx, new, &rw.terms, new == old).await?;
            counts.labels_rewritten += 1;
        }
        tx.commit().await?;
        Ok(counts)
    }
}
