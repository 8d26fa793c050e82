//! One tenant's knowledge graph over a [`GraphStore`] and a [`RowCipher`]: encrypts sensitive
//! columns, derives blind-index ids, merges duplicates, and answers `similar`, `stats` and
//! `export`.
//!
//! Here: the graph, its write path and its term hashes. The edges a batch implies with the
//! stored graph are in `links`, the caches they consult in `caches`, row encryption in
//! `sealing`, erasure in `erasure`, reads and `similar` in `queries`.

use std::collections::HashMap;
use std::sync::Arc;

use bacca_audit::{AuditEvent, AuditSink};

use crate::cipher::{RowAad, RowCipher};
use crate::id_hash::IdHash;
use crate::model::{Batch, Node, NodeKind, NodeRef, TenantId};
use crate::store::{GraphStore, NodeFilter};
use crate::Result;
use caches::{KeyCaches, TERM_CACHE_MAX};

mod caches;
mod erasure;
mod links;
mod queries;
mod sealing;

pub use crate::store::ErasureCounts;
pub use queries::{Export, SimilarIncident};

const NODES: &str = "nodes";
/// What replaces an erased data subject's pseudonym in keys and labels.
pub const ERASED: &str = "<ERASED>";
/// Logs this long before an incident's first sighting still count as exhibited by it, when
/// the incident and the logs arrive in different batches (the extraction default).
pub const LOG_LEAD_MINUTES: i64 = 60;
/// Terms kept per text for similarity.
const MAX_TERMS: usize = 64;

/// The blind-index ids computed so far for one write, by node (see [`KnowledgeGraph::node_id`]).
type IdMemo = HashMap<NodeRef, String, IdHash>;

/// One tenant's graph. Writes and queries emit audit events (counts only, never content) to
/// the sink set with [`KnowledgeGraph::with_audit`] (default: the `audit` tracing target).
#[derive(Clone)]
pub struct KnowledgeGraph {
    store: Arc<dyn GraphStore>,
    cipher: Arc<dyn RowCipher>,
    tenant: TenantId,
    audit: AuditSink,
    /// Serialises this process's writes to the tenant's graph (shared by clones): the
    /// cross-batch links read the stored graph before writing, so two batches written at once
    /// would each miss the other's nodes and the graph would depend on timing. Writers in
    /// other processes are kept out by the store's write lock ([`GraphStore::lock_writes`]),
    /// taken under this mutex so that waiting tasks hold no store connection.
    writes: Arc<tokio::sync::Mutex<()>>,
    /// Term blind indexes already computed (shared by clones): titles of one tenant reuse a
    /// limited vocabulary, and each hash is an HMAC. Emptied when it reaches
    /// [`TERM_CACHE_MAX`] entries.
    term_cache: Arc<std::sync::Mutex<HashMap<String, i64, IdHash>>>,
    /// The stored signatures' and services' keys and incidents' titles (shared by clones),
    /// which the cross-batch links consult: kept current from the store under the write lock
    /// ([`StoredKeys`](caches::StoredKeys), [`IncidentTitles`](caches::IncidentTitles)), so
    /// that a batch reads and decrypts only the nodes added since the previous one instead of
    /// all of them.
    stored: Arc<tokio::sync::Mutex<KeyCaches>>,
}

impl std::fmt::Debug for KnowledgeGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeGraph")
            .field("tenant", &self.tenant)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Blind-index domain of a node kind's ids: `node:` and the kind's stored name.
const fn node_domain(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Incident => "node:incident",
        NodeKind::Service => "node:service",
        NodeKind::Signature => "node:signature",
        NodeKind::Monitor => "node:monitor",
        NodeKind::Action => "node:action",
        NodeKind::Document => "node:document",
        NodeKind::Person => "node:person",
    }
}

/// Normalised words of a text for similarity: lowercase alphanumeric words of 3+ characters
/// without digits, minus a few stop words; unique, at most 64 (`MAX_TERMS`).
#[must_use]
pub fn terms(text: &str) -> Vec<String> {
    const STOP: &[&str] = &[
        "the", "and", "for", "with", "from", "that", "this", "was", "were", "are", "has", "have",
        "not", "but", "into", "after", "before", "when", "then", "than", "our", "its",
    ];
    // At most MAX_TERMS terms: a linear search for repeats beats a set of copies.
    let mut out: Vec<String> = Vec::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !w.chars().any(|c| c.is_ascii_digit()))
    {
        let w = if w.is_ascii() {
            w.to_ascii_lowercase()
        } else {
            w.to_lowercase()
        };
        if STOP.contains(&w.as_str()) || out.contains(&w) {
            continue;
        }
        out.push(w);
        if out.len() >= MAX_TERMS {
            break;
        }
    }
    out
}

impl KnowledgeGraph {
    /// Binds a store, a tenant cipher and a tenant.
    #[must_use]
    pub fn new(store: Arc<dyn GraphStore>, cipher: Arc<dyn RowCipher>, tenant: TenantId) -> Self {
        Self {
            store,
            cipher,
            tenant,
            audit: AuditSink::Tracing,
            writes: Arc::default(),
            term_cache: Arc::default(),
            stored: Arc::default(),
        }
    }

    /// Sends audit events to `sink` instead of the tracing target.
    #[must_use]
    pub fn with_audit(mut self, sink: AuditSink) -> Self {
        self.audit = sink;
        self
    }

    /// The tenant.
    #[must_use]
    pub const fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Registers the tenant in the store (idempotent).
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn create(&self) -> Result<()> {
        self.store.create_tenant(&self.tenant).await
    }

    /// The blind-index id of a node.
    #[must_use]
    pub fn node_id(&self, node: &NodeRef) -> String {
        let bi = self
            .cipher
            .blind_index(&self.tenant, node_domain(node.kind), node.key.as_bytes());
        hex::encode(&bi[..16])
    }

    fn label_terms(&self, kind: NodeKind, label: Option<&str>) -> Vec<i64> {
        let (NodeKind::Incident, Some(l)) = (kind, label) else {
            return Vec::new();
        };
        let mut hs = self.term_hashes(&terms(l));
        hs.sort_unstable();
        hs.dedup();
        hs
    }

    /// Hashes of `terms`, through the graph's cache.
    fn term_hashes(&self, terms: &[String]) -> Vec<i64> {
        let mut cache = self
            .term_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        terms
            .iter()
            .map(|t| {
                if let Some(h) = cache.get(t.as_str()) {
                    return *h;
                }
                let h = self.term_hash(t);
                if cache.len() >= TERM_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(t.clone(), h);
                h
            })
            .collect()
    }

    /// [`Self::node_id`] through `ids`, the ids computed so far for one write.
    fn memo_id(&self, ids: &mut IdMemo, node: &NodeRef) -> String {
        if let Some(id) = ids.get(node) {
            return id.clone();
        }
        let id = self.node_id(node);
        ids.insert(node.clone(), id.clone());
        id
    }

    fn term_hash(&self, term: &str) -> i64 {
        let bi = self
            .cipher
            .blind_index(&self.tenant, "term", term.as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&bi[..8]);
        i64::from_le_bytes(b)
    }

    fn aad<'a>(&'a self, row: &'a str, column: &'a str) -> RowAad<'a> {
        RowAad {
            tenant: &self.tenant,
            table: NODES,
            row_id: row,
            column,
        }
    }

    /// Validates, merges duplicates, encrypts and writes a batch in one transaction.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRecord`](crate::Error::InvalidRecord) for a bad batch (nothing written),
    /// store errors (rolled back).
    pub async fn upsert(&self, batch: &Batch) -> Result<()> {
        batch.validate()?;
        self.locked(self.upsert_locked(batch)).await
    }

    /// Runs `write` (not started yet) under the in-process mutex and the store's write lock.
    /// A failed release of the store's lock closes the lock's connection, which releases it
    /// too, so that failure is only logged (the write itself stands).
    async fn locked<T>(&self, write: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let _writing = self.writes.lock().await;
        let lock = self.store.lock_writes(&self.tenant).await?;
        let result = write.await;
        if let Err(e) = lock.unlock().await {
            tracing::warn!(tenant = %self.tenant, error = %e, "graph write lock release failed");
        }
        result
    }

    /// [`Self::upsert`] under the in-process mutex and the store's write lock.
    async fn upsert_locked(&self, batch: &Batch) -> Result<()> {
        let generalised = self.generalise_signatures(batch).await?;
        let mentions = self.link_service_mentions(&generalised).await?;
        let with_mentions;
        let batch: &Batch = if mentions.is_empty() {
            &generalised
        } else {
            let mut b = (*generalised).clone();
            b.edges.extend(mentions);
            with_mentions = b;
            &with_mentions
        };
        let mut ids = IdMemo::with_capacity_and_hasher(batch.nodes.len(), IdHash::default());
        let linked = self.link_across_batches(batch, &mut ids).await?;
        let extended;
        let batch = if linked.is_empty() {
            batch
        } else {
            let mut b = batch.clone();
            b.edges.extend(linked);
            extended = b;
            &extended
        };
        let rows = self.encrypt_batch_with(batch, &mut ids)?;
        let result = self.store.upsert(&self.tenant, &rows).await;
        self.note_titles(batch, &mut ids, result.is_ok()).await;
        tracing::debug!(
            tenant = %self.tenant,
            nodes = rows.nodes.len(),
            edges = rows.edges.len(),
            ok = result.is_ok(),
            "graph batch upserted"
        );
        self.audit.emit(
            AuditEvent::new("kg.upsert", self.tenant.as_str())
                .field("nodes", rows.nodes.len())
                .field("edges", rows.edges.len())
                .field("terms", rows.terms.len())
                .field("ok", result.is_ok()),
        );
        result
    }

    /// Stored nodes of the tenant, optionally of one kind, each as (row id, decrypted node).
    async fn stored_of_kind(&self, kind: Option<NodeKind>) -> Result<Vec<(String, Node)>> {
        self.store
            .nodes(&self.tenant, &NodeFilter { kind, ids: None })
            .await?
            .into_iter()
            .map(|r| {
                let n = self.decrypt_node(&r)?;
                Ok((r.id, n))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_unique_lowercase_words_without_digits_or_stop_words() {
        assert_eq!(
            terms("The Checkout API: checkout TIMEOUTS after v2 deploy; api ok"),
            ["checkout", "api", "timeouts", "deploy"]
        );
        // Non-ASCII words lower-case by Unicode rules, ASCII ones as before.
        assert_eq!(
            terms("ZÜRICH Gateway zürich ÉTÉ"),
            ["zürich", "gateway", "été"]
        );
        assert!(terms("db1 x2y to is").is_empty());
        // 50 distinct words, each twice
        let many: String = (0..100)
            .map(|i| format!("w{} ", "ab".repeat(i % 50 + 1)))
            .collect();
        assert_eq!(terms(&many).len(), 50.min(MAX_TERMS));
        let words: Vec<String> = (0..80)
            .map(|i| format!("word{}", "q".repeat(i + 1)))
            .collect();
        assert_eq!(terms(&words.join(" ")).len(), MAX_TERMS);
    }

    #[test]
    fn node_domains_are_node_and_the_kind_name() {
        for kind in NodeKind::ALL {
            assert_eq!(node_domain(*kind), format!("node:{kind}"));
        }
    }
}
