//! Storage of the per-tenant graph: the [`GraphStore`] trait, its row types and the two
//! backends, chosen by URI scheme ([`open_store`]).
//!
//! Rows arrive here already encrypted: sensitive columns are ciphertext ([`crate::cipher`]),
//! ids are keyed blind indexes. Every write is one transaction; every upsert is idempotent.

mod migrate;
pub mod postgres;
pub mod sqlite;
pub(crate) mod term_sets;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{EdgeKind, NodeKind, TenantId};
use crate::{Error, Result};

pub use migrate::SCHEMA_VERSION;

/// A node as stored: blind-index id, ciphertext columns, clear non-sensitive columns.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    /// Keyed blind index of kind and natural key (hex).
    pub id: String,
    /// Node kind.
    pub kind: NodeKind,
    /// Encrypted natural key.
    pub key_ct: Vec<u8>,
    /// Encrypted label (title, action text, template, excerpt).
    pub label_ct: Option<Vec<u8>>,
    /// Non-sensitive attributes (a JSON object).
    pub attrs: serde_json::Value,
    /// Contributing sources, sorted and unique.
    pub sources: Vec<String>,
    /// First seen.
    pub first_seen: DateTime<Utc>,
    /// Last seen.
    pub last_seen: DateTime<Utc>,
}

/// An edge as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeRow {
    /// Edge kind.
    pub kind: EdgeKind,
    /// Source node id.
    pub src: String,
    /// Target node id.
    pub dst: String,
    /// Contributing sources, sorted and unique.
    pub sources: Vec<String>,
    /// First seen.
    pub first_seen: DateTime<Utc>,
    /// Last seen.
    pub last_seen: DateTime<Utc>,
}

/// A keyed hash of one normalised word of a node's text, for text similarity without clear
/// text in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TermRow {
    /// Index of the node in [`RowBatch::nodes`].
    pub node: usize,
    /// First 8 bytes of the term's blind index.
    pub term: i64,
}

/// Rows written in one transaction. Node ids are unique within a batch, and so are edges and
/// terms (the graph layer merges duplicates first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowBatch {
    /// Nodes.
    pub nodes: Vec<NodeRow>,
    /// Edges (after the nodes they reference).
    pub edges: Vec<EdgeRow>,
    /// Term hashes of node texts.
    pub terms: Vec<TermRow>,
}

/// Which nodes to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFilter {
    /// Only this kind.
    pub kind: Option<NodeKind>,
    /// Only these ids.
    pub ids: Option<Vec<String>>,
}

/// Which edges to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeFilter {
    /// Only this kind.
    pub kind: Option<EdgeKind>,
    /// Only edges leaving these node ids.
    pub src_ids: Option<Vec<String>>,
    /// Only edges entering these node ids.
    pub dst_ids: Option<Vec<String>>,
}

/// Counts of one tenant's graph.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Nodes per kind.
    pub nodes: Vec<(NodeKind, i64)>,
    /// Edges per kind.
    pub edges: Vec<(EdgeKind, i64)>,
    /// Schema version of the store.
    pub schema_version: i64,
}

/// What `similar` looks for: the blind-index ids of signatures and services, and term hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimilarQuery {
    /// Signature node ids the new event exhibits.
    pub signatures: Vec<String>,
    /// Service node ids it concerns.
    pub services: Vec<String>,
    /// Term hashes of its text.
    pub terms: Vec<i64>,
    /// Maximum number of candidates returned.
    pub limit: usize,
}

/// Terms found in more incident texts than this are ignored by `similar` (too common to tell
/// incidents apart, and expensive to scan).
pub const MAX_TERM_POSTINGS: i64 = 2000;

/// A past incident sharing something with a [`SimilarQuery`].
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Incident node id.
    pub id: String,
    /// Shared signatures.
    pub shared_signatures: i64,
    /// Shared services.
    pub shared_services: i64,
    /// Shared terms.
    pub shared_terms: i64,
    /// Number of terms of the incident's own text.
    pub incident_terms: i64,
}

/// How erasure rewrites one node: its new content (the key or label had a data subject's
/// pseudonym replaced). When `row.id` differs from `old_id` (the natural key changed, so its
/// blind index did), the node is moved: merged into `row.id` like an upsert, its edges
/// re-pointed (and merged with existing ones), its old row and term rows removed.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRewrite {
    /// The node's current id.
    pub old_id: String,
    /// The rewritten node (ciphertexts bound to `row.id`).
    pub row: NodeRow,
    /// The node's new term hashes (replacing all of its old ones).
    pub terms: Vec<i64>,
}

/// What one erasure changes, applied in one transaction by [`GraphStore::erase`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Erasure {
    /// Nodes to delete, with every edge touching them and their term rows.
    pub delete: Vec<String>,
    /// Nodes whose key or label is rewritten.
    pub rewrite: Vec<NodeRewrite>,
}

/// Counts of what an erasure changed (all zero when there was nothing left to erase).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErasureCounts {
    /// Nodes deleted.
    pub nodes_deleted: u64,
    /// Edges deleted (those touching deleted nodes).
    pub edges_deleted: u64,
    /// Nodes whose key or label was rewritten.
    pub labels_rewritten: u64,
}

/// Where a reader of one kind of a tenant's nodes stands, for [`GraphStore::nodes_since`]:
/// the tenant's erasure and write counts when it read, and the largest `nid` (the store's
/// integer key of a node) of that kind it has read.
///
/// Sound because of three properties of both backends: a node's `nid` never changes while
/// its row exists and is never handed out again (PostgreSQL identity, SQLite
/// `AUTOINCREMENT`), so every row written after a read, under the tenant's write lock, has a
/// larger `nid` than every row read; a node's natural key (hence its id) only changes through
/// erasure; and every [`GraphStore::erase`] adds one to the tenant's erasure count in its own
/// transaction. Labels, attributes, sources and times are updated in place (same `nid`): a
/// reader of labels also needs `writes`, which every [`GraphStore::upsert`] adds one to in its
/// transaction (the store itself only compares erasure counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCursor {
    /// The tenant's erasure count.
    pub erasures: i64,
    /// The tenant's write count (upserts).
    pub writes: i64,
    /// Largest `nid` read (0: none).
    pub nid: i64,
}

impl NodeCursor {
    /// The nid a read goes on from: `since`'s while the tenant's erasure count is still the
    /// one it saw (`erasures`), else none (read everything again).
    pub(crate) fn resume_after(since: Option<Self>, erasures: i64) -> Option<i64> {
        since.filter(|c| c.erasures == erasures).map(|c| c.nid)
    }
}

/// A node's id, encrypted natural key and encrypted label, as [`GraphStore::nodes_since`]
/// returns them (all its readers need; the other columns would be decoded for nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeKeyRow {
    /// Keyed blind index of kind and natural key (hex).
    pub id: String,
    /// Encrypted natural key.
    pub key_ct: Vec<u8>,
    /// Encrypted label.
    pub label_ct: Option<Vec<u8>>,
}

/// The answer of [`GraphStore::nodes_since`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodesSince {
    /// True when `rows` are all the nodes of the kind (no cursor was given, or an erasure
    /// ran since it was taken): the reader must drop what it had.
    pub reset: bool,
    /// The nodes of the kind written since the cursor (or all of them, on a reset).
    pub rows: Vec<NodeKeyRow>,
    /// The cursor to give next time.
    pub cursor: NodeCursor,
}

impl NodesSince {
    /// The answer to a reader whose cursor's `nid` part is `after` (`None`: read everything),
    /// from the tenant's counts and the rows read (columns `nid`, `id`, `key_ct`,
    /// `label_ct`), as both backends' [`GraphStore::nodes_since`] build it.
    pub(crate) fn from_rows<R>(
        rows: &[R],
        erasures: i64,
        writes: i64,
        after: Option<i64>,
    ) -> Result<Self>
    where
        R: sqlx::Row,
        &'static str: sqlx::ColumnIndex<R>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let mut cursor = NodeCursor {
            erasures,
            writes,
            nid: after.unwrap_or(0),
        };
        let rows = rows
            .iter()
            .map(|r| {
                cursor.nid = cursor.nid.max(r.try_get("nid")?);
                Ok(NodeKeyRow {
                    id: r.try_get("id")?,
                    key_ct: r.try_get("key_ct")?,
                    label_ct: r.try_get("label_ct")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            reset: after.is_none(),
            rows,
            cursor,
        })
    }
}

/// Persistent storage of tenant graphs. Implementations pass the same test suite
/// (`tests/store_suite.rs`).
#[async_trait]
pub trait GraphStore: Send + Sync + std::fmt::Debug {
    /// Registers a tenant (creates its file or row). Idempotent.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] on storage failure.
    async fn create_tenant(&self, tenant: &TenantId) -> Result<()>;

    /// Upserts a batch in one transaction: on error nothing of it is written. Replaying a batch
    /// leaves the graph unchanged (times widen to min/max, sources and attributes merge). Adds
    /// one to the tenant's write count ([`NodeCursor::writes`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTenant`], [`Error::Database`] (for example an edge to a missing node).
    async fn upsert(&self, tenant: &TenantId, batch: &RowBatch) -> Result<()>;

    /// Reads nodes.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTenant`], [`Error::Database`].
    async fn nodes(&self, tenant: &TenantId, filter: &NodeFilter) -> Result<Vec<NodeRow>>;

    /// Reads edges.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTenant`], [`Error::Database`].
    async fn edges(&self, tenant: &TenantId, filter: &EdgeFilter) -> Result<Vec<EdgeRow>>;

    /// Counts nodes and edges.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTenant`], [`Error::Database`].
    async fn stats(&self, tenant: &TenantId) -> Result<Stats>;

    /// Incidents sharing signatures, services or terms with the query, best first by a rough
    /// score (the caller re-ranks).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTenant`], [`Error::Database`].
    async fn similar(&self, tenant: &TenantId, query: &SimilarQuery) -> Result<Vec<Candidate>>;

    /// Deletes and rewrites nodes for a data-subject erasure, in one transaction: on error
    /// nothing of it is applied. Ids that no longer exist are skipped, so a replay changes
    /// nothing and counts nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTenant`], [`Error::Database`].
    async fn erase(&self, tenant: &TenantId, erasure: &Erasure) -> Result<ErasureCounts>;

    /// Ids, keys and labels of the nodes of one kind added since `since` (a cursor from an earlier
    /// answer), to keep a reader's copy of them current without reading them all again: when `since` is `None` or
    /// the tenant had an erasure after it was taken, every node of the kind (`reset`). Rows of
    /// nodes updated in place (labels, times) are not returned again. The erasure count is read
    /// before the nodes, so an erasure committed in between shows at the next call. Meant
    /// for callers holding [`GraphStore::lock_writes`], which orders every write of the tenant
    /// before or after the read. Wrappers of a store must delegate this.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTenant`], [`Error::Database`].
    async fn nodes_since(
        &self,
        tenant: &TenantId,
        kind: NodeKind,
        since: Option<NodeCursor>,
    ) -> Result<NodesSince>;

    /// Takes the tenant's graph write lock, held across processes until
    /// [`WriteLock::unlock`] (or until the lock is dropped). Writers that read the stored
    /// graph before writing (cross-batch links, erasure) hold it from before the reads to
    /// after the commit, so two writers of one tenant never miss each other's rows. Waits while
    /// another holder has it. Wrappers of a store must delegate this.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    async fn lock_writes(&self, tenant: &TenantId) -> Result<WriteLock>;
}

/// A tenant's graph write lock, from [`GraphStore::lock_writes`]. Release it with
/// [`WriteLock::unlock`]; dropping it instead (panic, cancelled future) still releases it:
/// the PostgreSQL lock connection is then closed, never returned to its pool.
#[derive(Debug)]
#[must_use = "the lock is released when dropped"]
pub struct WriteLock {
    held: Option<postgres::AdvisoryLock>,
}

impl WriteLock {
    /// A lock that holds nothing (for stores whose writes need no lock across processes).
    pub const fn none() -> Self {
        Self { held: None }
    }

    pub(crate) const fn postgres(lock: postgres::AdvisoryLock) -> Self {
        Self { held: Some(lock) }
    }

    /// Releases the lock.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] when the release failed; the lock connection is then closed,
    /// which releases the lock too.
    pub async fn unlock(mut self) -> Result<()> {
        match self.held.take() {
            Some(lock) => lock.unlock().await,
            None => Ok(()),
        }
    }
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Apply pending migrations when the schema is older than the binary; when false an older
    /// schema is [`Error::SchemaTooOld`]. A newer schema is always [`Error::SchemaTooNew`].
    pub migrate: bool,
    /// Connection pool size.
    pub max_connections: u32,
}

impl StoreOptions {
    const fn default_const() -> Self {
        Self {
            migrate: true,
            max_connections: 4,
        }
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self::default_const()
    }
}

/// Opens a store by URI: `sqlite://<directory>` (a file per tenant, created as needed) or
/// `postgres://...` / `postgresql://...`.
///
/// # Errors
///
/// [`Error::InvalidStoreUri`], [`Error::Database`], schema version errors.
pub async fn open_store(uri: &str, options: StoreOptions) -> Result<Arc<dyn GraphStore>> {
    if let Some(dir) = uri.strip_prefix("sqlite://") {
        if dir.is_empty() {
            return Err(Error::InvalidStoreUri);
        }
        Ok(Arc::new(sqlite::SqliteStore::open(dir, options)?))
    } else if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PostgresStore::connect(uri, options).await?,
        ))
    } else {
        Err(Error::InvalidStoreUri)
    }
}

impl RowBatch {
    /// Ids of edge ends that are not among the batch's own nodes (`nids` holds those after the
    /// node upsert): sorted and de-duplicated, for one lookup of their surrogate keys.
    pub(crate) fn edge_ends_outside(&self, nids: &HashMap<String, i64>) -> Vec<String> {
        let mut outside: Vec<String> = self
            .edges
            .iter()
            .flat_map(|e| [&e.src, &e.dst])
            .filter(|id| !nids.contains_key(id.as_str()))
            .cloned()
            .collect();
        outside.sort_unstable();
        outside.dedup();
        outside
    }
}

/// The bytes of a node id that is lowercase hex of even length (every id the graph writes is
/// the hex of a 16-byte blind index), or `None` for any other id. SQLite stores the bytes
/// (schema 5) and any other id as text; PostgreSQL stores only such ids (schema 12).
pub(crate) fn id_bytes(id: &str) -> Option<Vec<u8>> {
    let hex = !id.is_empty()
        && id.len().is_multiple_of(2)
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    hex.then(|| hex::decode(id).ok()).flatten()
}

/// Sorted, de-duplicated union of two source lists.
pub(crate) fn merge_sources(a: &[String], b: &[String]) -> Vec<String> {
    let mut v: Vec<String> = a.iter().chain(b).cloned().collect();
    v.sort();
    v.dedup();
    v
}

/// A stored row the backend cannot decode (unknown kind, malformed column).
pub(crate) fn decode_err(class: &'static str) -> Error {
    Error::Database {
        class,
        code: None,
        retryable: false,
    }
}

/// An edge or rewrite names a node that is not stored.
pub(crate) fn missing_node() -> Error {
    Error::Database {
        class: "foreign key violation (edge to an unknown node?)",
        code: None,
        retryable: false,
    }
}
