//! SQLite backend: the embedded default, one database file per tenant
//! (`<directory>/<tenant>.sqlite`, WAL journal, foreign keys on).

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
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use tokio::sync::Mutex;

use super::migrate::{self, check_version, migrate_error, SCHEMA_VERSION};
use super::term_sets::{bitmap_rows, difference, union, BatchTerms};
use super::{decode_err, id_bytes, missing_node};
use super::{
    Candidate, EdgeFilter, EdgeRow, Erasure, ErasureCounts, GraphStore, NodeCursor, NodeFilter,
    NodeRow, NodesSince, RowBatch, SimilarQuery, Stats, StoreOptions, WriteLock,
};
use crate::model::{EdgeKind, NodeKind, TenantId};
use crate::{Error, Result};

mod checkpoint;
mod ids;
mod terms;

use crate::id_hash::IdHash;
use checkpoint::Checkpointer;
use ids::{refresh, refresh_rusqlite, SharedDirectory, StoredId};

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

/// A SQLite error of the direct writer connection as [`Error::Database`] (class and code
/// only: SQLite messages can quote values).
fn write_err(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => {
            let (class, retryable) = match (f.code, f.extended_code) {
                (_, 2067 | 1555) => ("unique violation", false),
                (_, 787) => ("foreign key violation (edge to an unknown node?)", false),
                (_, 1299) => ("not-null violation", false),
                (_, 275) => ("check violation", false),
                (ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked, _) => {
                    ("statement failed", true)
                }
                (ErrorCode::SystemIoFailure | ErrorCode::OutOfMemory | ErrorCode::DiskFull, _) => {
                    ("i/o", true)
                }
                _ => ("statement failed", false),
            };
            Error::Database {
                class,
                code: Some(f.extended_code.to_string()),
                retryable,
            }
        }
        _ => Error::Database {
            class: "statement failed",
            code: None,
            retryable: false,
        },
    }
}

/// Opens the tenant file's writer connection (the schema is already migrated), with the
/// pragmas of the sqlx connections except foreign keys: [`upsert_rows`] writes only edges
/// and term rows whose node keys it has just upserted or read in the same transaction (an
/// edge to a node neither in the batch nor stored fails and rolls back the batch), so the
/// checks (a lookup in `nodes` per edge end and term row) would only repeat them. Erasure,
/// on the sqlx writer, keeps them on.
fn open_writer(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(write_err)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(write_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; \
         PRAGMA cache_size = -65536; PRAGMA temp_store = memory; \
         PRAGMA mmap_size = 268435456; PRAGMA wal_autocheckpoint = 16384;",
    )
    .map_err(write_err)?;
    conn.set_prepared_statement_cache_capacity(24);
    Ok(conn)
}

/// JSON text of a row's `attrs` (`{}` without serialising for the usual empty object).
fn attrs_json(v: &serde_json::Value) -> std::borrow::Cow<'static, str> {
    match v {
        serde_json::Value::Object(m) if m.is_empty() => std::borrow::Cow::Borrowed("{}"),
        _ => std::borrow::Cow::Owned(v.to_string()),
    }
}

/// JSON texts of a batch's source lists, each list encoded once it differs from the previous
/// one (the rows of a batch usually share one list), kept for the batch so that many rows'
/// parameters can refer to them at once.
#[derive(Default)]
struct SourcesJson {
    list: Vec<String>,
    json: Vec<String>,
}

impl SourcesJson {
    /// Index (for [`Self::json`]) of the JSON text of `v`.
    fn index(&mut self, v: &[String]) -> usize {
        if self.json.is_empty() || self.list != v {
            self.list = v.to_vec();
            self.json.push(json_list(v));
        }
        self.json.len() - 1
    }

    /// The JSON text of `v` (see [`Self::index`]).
    fn get(&mut self, v: &[String]) -> &str {
        let i = self.index(v);
        &self.json[i]
    }

    /// The JSON text an [`Self::index`] names.
    fn json(&self, i: usize) -> &String {
        &self.json[i]
    }
}

/// Insert of a new node (its id is in no stored row: see [`ids`]); erasure's.
const NODE_INSERT: &str = "INSERT INTO nodes (id, tenant_id, kind, key_ct, label_ct, attrs, \
     sources, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
/// Merge of a node into its stored row: label replaced when given, attributes patched,
/// sources union, times widen, the term list ([`terms`]) replaced when given.
const NODE_MERGE: &str = "UPDATE nodes SET \
     label_ct = COALESCE(?2, label_ct), \
     attrs = json_patch(attrs, ?3), \
     sources = CASE WHEN ?4 = sources THEN sources ELSE \
               (SELECT json_group_array(value) FROM (SELECT value FROM json_each(sources) \
                UNION SELECT value FROM json_each(?4) ORDER BY 1)) END, \
     first_seen = MIN(first_seen, ?5), \
     last_seen = MAX(last_seen, ?6), \
     terms = COALESCE(?7, terms) \
     WHERE nid = ?1";
/// New nodes per execution of the multi-row node insert (eight parameters each, and the
/// tenant). One statement per node paid, besides its start and end, `AUTOINCREMENT`'s
/// bookkeeping: a read and a rewrite of the `sqlite_sequence` row per node.
const NODE_ROWS: usize = 64;

/// `INSERT OR ROLLBACK INTO nodes` of `rows` new nodes, the tenant bound once as `?1`, and
/// with `shared` their attributes and sources too (`?2`, `?3`: each text or blob bound is a
/// copy SQLite allocates). Rows get their nids in `VALUES` order, each one past the previous
/// (see [`insert_nodes`], which checks that). A violated constraint rolls the batch back
/// either way; `OR ROLLBACK` says so to SQLite, which then keeps no statement journal for the
/// multi-row statement.
fn node_insert_sql(rows: usize, shared: bool) -> String {
    use Param::{Own, Shared};
    let (attrs, sources, first, last, terms) = if shared {
        (Shared(2), Shared(3), Own(4), Own(5), Own(6))
    } else {
        (Own(4), Own(5), Own(6), Own(7), Own(8))
    };
    numbered_rows_sql(
        "INSERT OR ROLLBACK INTO nodes (id, tenant_id, kind, key_ct, label_ct, attrs, sources, \
         first_seen, last_seen, terms) VALUES ",
        &[
            Own(0),
            Shared(1),
            Own(1),
            Own(2),
            Own(3),
            attrs,
            sources,
            first,
            last,
            terms,
        ],
        rows,
    )
}

/// SQL texts of an insert, built once per process: the multi-row statement with the values
/// of each row, the one with shared values, and the single-row one.
type InsertSql = std::sync::OnceLock<[String; 3]>;

/// The SQL of a `rows`-row insert (`many` rows, or 1) from `cache`, built by `build` (rows,
/// shared) at the first call.
fn insert_sql(
    cache: &'static InsertSql,
    build: fn(usize, bool) -> String,
    many: usize,
    rows: usize,
    shared: bool,
) -> &'static str {
    let [each, with_shared, one] =
        cache.get_or_init(|| [build(many, false), build(many, true), build(1, false)]);
    match (rows, shared) {
        (1, _) => one,
        (_, false) => each,
        (_, true) => with_shared,
    }
}

/// Which of a write's kept statements ([`prepared`]) an insert of `rows` rows is, in the
/// order of [`insert_sql`]'s texts.
fn insert_slot(rows: usize, shared: bool) -> usize {
    match (rows, shared) {
        (1, _) => 2,
        (_, false) => 0,
        (_, true) => 1,
    }
}

/// The statement in `slot`, prepared from `sql` (through the connection's cache) at its first
/// use in a write and then kept for the rest of it: each cache lookup hashes and compares the
/// SQL text, kilobytes for the multi-row inserts, and putting a statement back hashes it again.
fn prepared<'s, 'c>(
    slot: &'s mut Option<rusqlite::CachedStatement<'c>>,
    conn: &'c rusqlite::Connection,
    sql: &str,
) -> Result<&'s mut rusqlite::CachedStatement<'c>> {
    if slot.is_none() {
        *slot = Some(conn.prepare_cached(sql).map_err(write_err)?);
    }
    slot.as_mut().ok_or(Error::Database {
        class: "statement not prepared",
        code: None,
        retryable: false,
    })
}

/// [`insert_sql`] of the node insert ([`NODE_ROWS`] or 1 rows).
fn node_sql(rows: usize, shared: bool) -> &'static str {
    static SQL: InsertSql = std::sync::OnceLock::new();
    insert_sql(&SQL, node_insert_sql, NODE_ROWS, rows, shared)
}

/// [`insert_sql`] of the edge insert ([`EDGE_ROWS`] or 1 rows).
fn edge_sql(rows: usize, shared: bool) -> &'static str {
    static SQL: InsertSql = std::sync::OnceLock::new();
    insert_sql(&SQL, edge_insert_sql, EDGE_ROWS, rows, shared)
}

/// A parameter of a row of [`numbered_rows_sql`].
#[derive(Clone, Copy)]
enum Param {
    /// `?n`, bound once per statement (numbered from 1).
    Shared(usize),
    /// The row's own k-th parameter (numbered after the shared ones, in row order).
    Own(usize),
}

/// `head` followed by `rows` tuples of numbered parameters (see [`Param`]), comma-separated.
fn numbered_rows_sql(head: &str, row: &[Param], rows: usize) -> String {
    use std::fmt::Write as _;
    let (mut shared, mut per_row) = (0, 0);
    for p in row {
        match *p {
            Param::Shared(n) => shared = shared.max(n),
            Param::Own(k) => per_row = per_row.max(k + 1),
        }
    }
    let mut sql = String::with_capacity(head.len() + rows * row.len() * 7);
    sql.push_str(head);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for (i, p) in row.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let n = match *p {
                Param::Shared(n) => n,
                Param::Own(k) => shared + 1 + r * per_row + k,
            };
            let _ = write!(sql, "?{n}");
        }
        sql.push(')');
    }
    sql
}

/// The values of one new node, in [`node_insert_sql`]'s column order (the tenant aside).
struct NodeParams<'a> {
    /// Index of the node in the batch.
    index: usize,
    id: StoredId,
    kind: &'static str,
    row: &'a NodeRow,
    attrs: std::borrow::Cow<'static, str>,
    sources: usize,
    first_seen: i64,
    last_seen: i64,
    /// The stored form of its term list ([`terms::encode`]).
    terms: Option<Vec<u8>>,
}

impl NodeParams<'_> {
    /// Pushes the row's own parameters (with `shared`, not its attributes and sources).
    fn push_to<'s>(
        &'s self,
        values: &mut Vec<&'s dyn rusqlite::ToSql>,
        sources: &'s SourcesJson,
        shared: bool,
    ) {
        values.extend_from_slice(&[
            &self.id as &dyn rusqlite::ToSql,
            &self.kind,
            &self.row.key_ct,
            &self.row.label_ct,
        ]);
        if !shared {
            values.extend_from_slice(&[
                &self.attrs as &dyn rusqlite::ToSql,
                sources.json(self.sources),
            ]);
        }
        values.extend_from_slice(&[
            &self.first_seen as &dyn rusqlite::ToSql,
            &self.last_seen,
            &self.terms,
        ]);
    }
}

/// Bitmap rows per execution of the multi-row bitmap upsert (three parameters each).
const BITMAP_ROWS: usize = 64;

/// Single-row edge insert (with [`EDGE_CONFLICT`]: the merge of one edge).
const EDGE_INSERT: &str = "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, \
     last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// The upsert of `rows` `term_bits` rows `(term, block, bits)`: each row's bits or-ed into a
/// stored row of its term and block ([`terms::BITS_CONFLICT`]). The rows of one statement
/// are distinct (a batch's bitmaps hold one row per term and block).
fn bitmap_upsert_sql(rows: usize) -> String {
    let mut sql = multi_row_sql(
        "INSERT INTO term_bits (term, block, bits) VALUES ",
        "(?, ?, ?)",
        rows,
    );
    sql.push_str(terms::BITS_CONFLICT);
    sql
}

/// Edges per execution of the multi-row edge insert (six parameters each, and the tenant).
const EDGE_ROWS: usize = 64;

/// `INSERT OR ROLLBACK INTO edges` of `rows` new edges, the tenant bound once as `?1`, and
/// with `shared` their sources too (`?2`). A violated constraint fails the whole transaction
/// either way (the batch is rolled back); `OR ROLLBACK` says so to SQLite, which then keeps no
/// statement journal for the multi-row statement.
fn edge_insert_sql(rows: usize, shared: bool) -> String {
    use Param::{Own, Shared};
    let (sources, first, last) = if shared {
        (Shared(2), Own(3), Own(4))
    } else {
        (Own(3), Own(4), Own(5))
    };
    numbered_rows_sql(
        "INSERT OR ROLLBACK INTO edges (src, kind, dst, tenant_id, sources, first_seen, \
         last_seen) VALUES ",
        &[Own(0), Own(1), Own(2), Shared(1), sources, first, last],
        rows,
    )
}

/// `head` followed by `rows` copies of the placeholder tuple `row`, comma-separated.
fn multi_row_sql(head: &str, row: &str, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + rows * (row.len() + 2));
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    sql
}

/// The values of one new edge, in [`edge_insert_sql`]'s column order (the tenant aside).
struct EdgeParams<'a> {
    src: i64,
    kind: &'a str,
    dst: i64,
    sources: usize,
    first_seen: i64,
    last_seen: i64,
}

impl EdgeParams<'_> {
    /// Pushes the row's own parameters (with `shared`, not its sources).
    fn push_to<'s>(
        &'s self,
        values: &mut Vec<&'s dyn rusqlite::ToSql>,
        sources: &'s SourcesJson,
        shared: bool,
    ) {
        values.extend_from_slice(&[&self.src as &dyn rusqlite::ToSql, &self.kind, &self.dst]);
        if !shared {
            values.push(sources.json(self.sources));
        }
        values.extend_from_slice(&[&self.first_seen as &dyn rusqlite::ToSql, &self.last_seen]);
    }
}

/// [`GraphStore::upsert`] on the writer connection: one immediate transaction, one cached
/// statement per row kind; node ids mapped to nids through `dir` (brought up to date inside
/// the transaction, extended with the new nodes after the commit).
fn upsert_rows(
    conn: &mut rusqlite::Connection,
    dir: &SharedDirectory,
    t: &str,
    batch: &RowBatch,
) -> Result<()> {
    use rusqlite::{params, OptionalExtension};
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(write_err)?;
    // The file has one writer at a time and the transaction keeps one snapshot from here to
    // the commit: after the refresh the directory knows every stored row, and every nid past
    // `last` is one this upsert inserts (nids are never reused). A fresh node has no edges
    // yet (those of a deleted node went before it), so its edges are written without
    // conflict handling.
    refresh_rusqlite(&tx, dir)?;
    let last = dir.read().loaded_to();
    let fresh = |nid: i64| nid > last;
    let mut nids: HashMap<&str, i64, IdHash> =
        HashMap::with_capacity_and_hasher(batch.nodes.len() + 64, IdHash::default());
    let mut inserted: Vec<(i64, StoredId)> = Vec::new();
    let mut sources = SourcesJson::default();
    let by_node = BatchTerms::new(batch)?;
    // The term rows to write, (term, nid): a new node's every term, a stored node's terms
    // that its list lacks.
    let mut term_rows: Vec<(i64, i64)> = Vec::with_capacity(batch.terms.len());
    {
        let known = dir.read();
        // A node the directory knows is merged into its row (a rowid update; with terms, after
        // a read of its list by rowid); a node it does not know, or whose row was deleted
        // since (erasure: no row to read or merge into), is inserted, at the end of the rowid
        // order.
        let mut merge = tx.prepare_cached(NODE_MERGE).map_err(write_err)?;
        let mut stored_terms = tx
            .prepare_cached("SELECT terms FROM nodes WHERE nid = ?1")
            .map_err(write_err)?;
        let mut new: Vec<NodeParams<'_>> = Vec::new();
        for (index, n) in batch.nodes.iter().enumerate() {
            let attrs = attrs_json(&n.attrs);
            let id = StoredId::of(&n.id);
            let mine = by_node.of(index);
            if let Some(nid) = known.get(&id) {
                // The terms this merge adds, and the new list (`None`: unchanged); `None` when
                // the row is gone.
                let added = if mine.is_empty() {
                    Some((Vec::new(), None))
                } else {
                    let stored: Option<Option<Vec<u8>>> = stored_terms
                        .query_row([nid], |r| r.get(0))
                        .optional()
                        .map_err(write_err)?;
                    match stored {
                        Some(list) => {
                            let had = terms::decode(list.as_deref())?;
                            let added = difference(mine, &had);
                            let list = if added.is_empty() {
                                None
                            } else {
                                terms::encode(&union(&had, &added))
                            };
                            Some((added, list))
                        }
                        None => None,
                    }
                };
                if let Some((added, list)) = added {
                    let merged = merge
                        .execute(params![
                            nid,
                            n.label_ct,
                            attrs,
                            sources.get(&n.sources),
                            micros(n.first_seen),
                            micros(n.last_seen),
                            list,
                        ])
                        .map_err(write_err)?;
                    if merged == 1 {
                        nids.insert(&n.id, nid);
                        term_rows.extend(added.into_iter().map(|term| (term, nid)));
                        continue;
                    }
                }
            }
            new.push(NodeParams {
                index,
                id,
                kind: n.kind.as_str(),
                row: n,
                attrs,
                sources: sources.index(&n.sources),
                first_seen: micros(n.first_seen),
                last_seen: micros(n.last_seen),
                terms: terms::encode(mine),
            });
        }
        let first = insert_nodes(&tx, t, &new, &sources)?;
        inserted.reserve(new.len());
        for (p, nid) in new.into_iter().zip(first..) {
            let row: &NodeRow = p.row;
            nids.insert(&row.id, nid);
            term_rows.extend(by_node.of(p.index).iter().map(|&term| (term, nid)));
            inserted.push((nid, p.id));
        }
        // Edge ends outside the batch (services, signatures): the directory's nid, once its
        // row is checked to exist (a rowid probe each).
        let mut exists = tx
            .prepare_cached("SELECT 1 FROM nodes WHERE nid = ?1")
            .map_err(write_err)?;
        for e in &batch.edges {
            for id in [&e.src, &e.dst] {
                if nids.contains_key(id.as_str()) {
                    continue;
                }
                if let Some(nid) = known.get(&StoredId::of(id)) {
                    if exists.exists([nid]).map_err(write_err)? {
                        nids.insert(id, nid);
                    }
                }
            }
        }
    }
    {
        // Term rows in (term, nid) order, without repeats (a node of the batch given
        // twice), then as bitmaps: one row per term and block of 64 nids, its bits
        // or-ed into a stored row of the same term and block.
        term_rows.sort_unstable();
        term_rows.dedup();
        let bitmaps = bitmap_rows(&term_rows);
        let mut chunks = bitmaps.chunks_exact(BITMAP_ROWS);
        if chunks.len() > 0 {
            let mut many = tx
                .prepare_cached(&bitmap_upsert_sql(BITMAP_ROWS))
                .map_err(write_err)?;
            for chunk in &mut chunks {
                many.execute(rusqlite::params_from_iter(
                    chunk
                        .iter()
                        .flat_map(|&(term, block, bits)| [term, block, bits]),
                ))
                .map_err(write_err)?;
            }
        }
        let mut one = tx
            .prepare_cached(&bitmap_upsert_sql(1))
            .map_err(write_err)?;
        for &(term, block, bits) in chunks.remainder() {
            one.execute(params![term, block, bits]).map_err(write_err)?;
        }
    }
    {
        // In primary key order (src, kind, dst).
        let mut edges: Vec<(i64, &str, i64, &EdgeRow)> = Vec::with_capacity(batch.edges.len());
        for e in &batch.edges {
            let (Some(&src), Some(&dst)) = (nids.get(e.src.as_str()), nids.get(e.dst.as_str()))
            else {
                return Err(missing_node());
            };
            edges.push((src, e.kind.as_str(), dst, e));
        }
        edges.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        // An edge touching a fresh node is new: the first of each key goes through the plain
        // multi-row insert, every other edge (stored ends, or a key repeated) through the merge.
        // The merges run after the inserts (a repeated key merges into its inserted first).
        let mut new: Vec<EdgeParams<'_>> = Vec::with_capacity(edges.len());
        let mut merged: Vec<(i64, &str, i64, &EdgeRow)> = Vec::new();
        let mut prev: Option<(i64, &str, i64)> = None;
        for (src, kind, dst, e) in edges {
            let repeated = prev == Some((src, kind, dst));
            prev = Some((src, kind, dst));
            if (fresh(src) || fresh(dst)) && !repeated {
                new.push(EdgeParams {
                    src,
                    kind,
                    dst,
                    sources: sources.index(&e.sources),
                    first_seen: micros(e.first_seen),
                    last_seen: micros(e.last_seen),
                });
            } else {
                merged.push((src, kind, dst, e));
            }
        }
        let mut statements: [Option<rusqlite::CachedStatement<'_>>; 2] = [None, None];
        let mut chunks = new.chunks_exact(EDGE_ROWS);
        for chunk in &mut chunks {
            // The sources bound once when the chunk's edges share them (the usual case).
            let shared = chunk.iter().all(|p| p.sources == chunk[0].sources);
            let slot = &mut statements[insert_slot(EDGE_ROWS, shared)];
            let many = prepared(slot, &tx, edge_sql(EDGE_ROWS, shared))?;
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(2 + 6 * chunk.len());
            values.push(&t);
            if shared {
                values.push(sources.json(chunk[0].sources));
            }
            for p in chunk {
                p.push_to(&mut values, &sources, shared);
            }
            many.execute(&*values).map_err(write_err)?;
        }
        let mut one = tx.prepare_cached(edge_sql(1, false)).map_err(write_err)?;
        for p in chunks.remainder() {
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(7);
            values.push(&t);
            p.push_to(&mut values, &sources, false);
            one.execute(&*values).map_err(write_err)?;
        }
        let mut merge = tx
            .prepare_cached(&format!("{EDGE_INSERT}{EDGE_CONFLICT}"))
            .map_err(write_err)?;
        for (src, kind, dst, e) in merged {
            merge
                .execute(params![
                    src,
                    kind,
                    dst,
                    t,
                    sources.get(&e.sources),
                    micros(e.first_seen),
                    micros(e.last_seen),
                ])
                .map_err(write_err)?;
        }
    }
    // The write count of node cursors (GraphStore::nodes_since).
    tx.prepare_cached("UPDATE bacca_tenant SET writes = writes + 1")
        .and_then(|mut bump| bump.execute([]))
        .map_err(write_err)?;
    tx.commit().map_err(write_err)?;
    let upto = inserted.last().map_or(last, |(nid, _)| *nid);
    dir.write().absorb(inserted, upto);
    Ok(())
}

/// Inserts the `new` nodes ([`NODE_ROWS`] per statement, the rest one by one) and returns the
/// nid of the first: the others follow it, one apart, in order.
///
/// `AUTOINCREMENT` gives each row one past the largest nid ever handed out (the larger of the
/// `sqlite_sequence` row and the largest stored nid, read first), in `VALUES` order. After
/// each statement the nid of its last row is checked to be as many past the previous
/// statement's as it inserted rows, so its rows hold exactly the nids in between; anything
/// else fails the batch.
fn insert_nodes(
    tx: &rusqlite::Transaction<'_>,
    t: &str,
    new: &[NodeParams<'_>],
    sources: &SourcesJson,
) -> Result<i64> {
    if new.is_empty() {
        return Ok(0);
    }
    let mut prev: i64 = tx
        .prepare_cached(
            "SELECT MAX(IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'nodes'), 0), \
             IFNULL((SELECT MAX(nid) FROM nodes), 0))",
        )
        .map_err(write_err)?
        .query_row([], |r| r.get(0))
        .map_err(write_err)?;
    let first = prev + 1;
    let mut statements: [Option<rusqlite::CachedStatement<'_>>; 3] = [None, None, None];
    let mut run = |chunk: &[NodeParams<'_>]| {
        // Attributes and sources bound once when the chunk's nodes share them (the usual
        // case: no attributes, one source).
        let shared = chunk.len() > 1
            && chunk
                .iter()
                .all(|p| p.sources == chunk[0].sources && p.attrs == chunk[0].attrs);
        let slot = &mut statements[insert_slot(chunk.len(), shared)];
        let stmt = prepared(slot, tx, node_sql(chunk.len(), shared))?;
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(3 + 8 * chunk.len());
        values.push(&t);
        if shared {
            values.push(&chunk[0].attrs);
            values.push(sources.json(chunk[0].sources));
        }
        for p in chunk {
            p.push_to(&mut values, sources, shared);
        }
        stmt.execute(&*values).map_err(write_err)?;
        let last = tx.last_insert_rowid();
        if i64::try_from(chunk.len()).ok() != last.checked_sub(prev) {
            return Err(Error::Database {
                class: "new node ids out of sequence",
                code: None,
                retryable: false,
            });
        }
        prev = last;
        Ok(())
    };
    let mut chunks = new.chunks_exact(NODE_ROWS);
    for chunk in &mut chunks {
        run(chunk)?;
    }
    for p in chunks.remainder() {
        run(std::slice::from_ref(p))?;
    }
    Ok(first)
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

/// The nid of a stored node id in erasure's transaction (the node inserted by this erasure,
/// else the directory's), once its row is checked to exist (a deleted row leaves its entry).
async fn stored_nid(
    tx: &mut Transaction<'_, Sqlite>,
    dir: &SharedDirectory,
    added: &HashMap<String, i64>,
    id: &str,
) -> Result<Option<i64>> {
    let known = match added.get(id) {
        Some(nid) => Some(*nid),
        None => dir.read().get(&StoredId::of(id)),
    };
    let Some(nid) = known else {
        return Ok(None);
    };
    Ok(sqlx::query_scalar("SELECT nid FROM nodes WHERE nid = ?")
        .bind(nid)
        .fetch_optional(&mut **tx)
        .await?)
}

/// Inserts a new node (its id in no stored row) in erasure's transaction; returns its nid.
async fn insert_node(tx: &mut Transaction<'_, Sqlite>, t: &str, n: &NodeRow) -> Result<i64> {
    let q = sqlx::query(NODE_INSERT);
    let q = match id_bytes(&n.id) {
        Some(b) => q.bind(b),
        None => q.bind(n.id.as_str()),
    };
    Ok(q.bind(t)
        .bind(n.kind.as_str())
        .bind(n.key_ct.as_slice())
        .bind(n.label_ct.as_deref())
        .bind(n.attrs.to_string())
        .bind(json_list(&n.sources))
        .bind(micros(n.first_seen))
        .bind(micros(n.last_seen))
        .execute(&mut **tx)
        .await?
        .last_insert_rowid())
}

/// Merges a node into its stored row `nid` in erasure's transaction ([`NODE_MERGE`]).
async fn merge_node(tx: &mut Transaction<'_, Sqlite>, nid: i64, n: &NodeRow) -> Result<()> {
    sqlx::query(NODE_MERGE)
        .bind(nid)
        .bind(n.label_ct.as_deref())
        .bind(n.attrs.to_string())
        .bind(json_list(&n.sources))
        .bind(micros(n.first_seen))
        .bind(micros(n.last_seen))
        .bind(None::<Vec<u8>>)
        .execute(&mut **tx)
        .await?;
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
        let pools = self.pool(tenant, false).await?;
        let mut tx = pools.write.begin().await?;
        refresh(&mut *tx, &pools.ids).await?;
        let t = tenant.as_str();
        let mut counts = ErasureCounts::default();
        // Nodes this erasure inserts (moves onto an id not stored): the directory learns them
        // from the table at its next refresh. Nodes it deletes: their entries go after commit.
        let mut added: HashMap<String, i64> = HashMap::new();
        let mut gone: Vec<(&str, i64)> = Vec::new();
        for id in &erasure.delete {
            let Some(nid) = stored_nid(&mut tx, &pools.ids, &added, id).await? else {
                continue;
            };
            counts.edges_deleted += sqlx::query("DELETE FROM edges WHERE src = ? OR dst = ?")
                .bind(nid)
                .bind(nid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            terms::replace(&mut tx, nid, &[], true).await?;
            counts.nodes_deleted += sqlx::query("DELETE FROM nodes WHERE nid = ?")
                .bind(nid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            gone.push((id, nid));
        }
        for rw in &erasure.rewrite {
            let Some(old) = stored_nid(&mut tx, &pools.ids, &added, &rw.old_id).await? else {
                continue;
            };
            let new = if rw.row.id == rw.old_id {
                sqlx::query("UPDATE nodes SET key_ct = ?, label_ct = ? WHERE nid = ?")
                    .bind(rw.row.key_ct.as_slice())
                    .bind(rw.row.label_ct.as_deref())
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                old
            } else {
                let new = match stored_nid(&mut tx, &pools.ids, &added, &rw.row.id).await? {
                    Some(nid) => {
                        merge_node(&mut tx, nid, &rw.row).await?;
                        nid
                    }
                    None => {
                        let nid = insert_node(&mut tx, t, &rw.row).await?;
                        added.insert(rw.row.id.clone(), nid);
                        nid
                    }
                };
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
                terms::replace(&mut tx, old, &[], true).await?;
                sqlx::query("DELETE FROM nodes WHERE nid = ?")
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                gone.push((&rw.old_id, old));
                new
            };
            // A node moved onto an existing one keeps that node's terms and adds its own.
            terms::replace(&mut tx, new, &rw.terms, new == old).await?;
            counts.labels_rewritten += 1;
        }
        // Readers' node cursors ([`GraphStore::nodes_since`]) are void from this commit on.
        sqlx::query("UPDATE bacca_tenant SET erasures = erasures + 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut dir = pools.ids.write();
        for (id, nid) in gone {
            dir.forget(&StoredId::of(id), nid);
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::{edge_insert_sql, node_insert_sql};

    #[test]
    fn multi_row_inserts_number_shared_values_once() {
        let values = |sql: String| sql.split_once(" VALUES ").unwrap().1.to_owned();
        assert_eq!(
            values(edge_insert_sql(2, true)),
            "(?3, ?4, ?5, ?1, ?2, ?6, ?7), (?8, ?9, ?10, ?1, ?2, ?11, ?12)"
        );
        assert_eq!(
            values(edge_insert_sql(1, false)),
            "(?2, ?3, ?4, ?1, ?5, ?6, ?7)"
        );
        assert_eq!(
            values(node_insert_sql(2, true)),
            "(?4, ?1, ?5, ?6, ?7, ?2, ?3, ?8, ?9, ?10), (?11, ?1, ?12, ?13, ?14, ?2, ?3, ?15, ?16, ?17)"
        );
        assert_eq!(
            values(node_insert_sql(1, false)),
            "(?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        );
    }
}
