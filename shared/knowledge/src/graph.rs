//! One tenant's knowledge graph over a [`GraphStore`] and a [`RowCipher`]: encrypts sensitive
//! columns, derives blind-index ids, merges duplicates, and answers `similar`, `stats` and
//! `export`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use bacca_audit::{AuditEvent, AuditSink};
use serde::Serialize;

use crate::cipher::{RowAad, RowCipher};
use crate::id_hash::IdHash;
use crate::model::{Batch, Edge, EdgeKind, Node, NodeKind, NodeRef, TenantId};
use crate::signature::mask::{template_matches, WILDCARD};
use crate::store::{
    EdgeFilter, EdgeRow, Erasure, GraphStore, NodeCursor, NodeFilter, NodeRewrite, NodeRow,
    RowBatch, SimilarQuery, Stats, TermRow,
};

pub use crate::store::ErasureCounts;
use crate::{Error, Result};

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
    /// ([`StoredKeys`], [`IncidentTitles`]), so that a batch reads and decrypts only the nodes
    /// added since the previous one instead of all of them.
    stored: Arc<tokio::sync::Mutex<KeyCaches>>,
}

/// The natural keys of the stored nodes of one kind, as of `cursor`.
///
/// Filled and topped up by [`GraphStore::nodes_since`], only while the graph holds its
/// in-process mutex and the store's write lock, so no other writer of the tenant runs between
/// the top-up and the write that follows it. Why a cursor suffices: keys are all these
/// caches hold, and a stored node's key changes only through erasure (which moves the node to
/// its new key's id, or deletes it). Every erasure, by any process, adds one to the tenant's
/// erasure count in its own transaction, and a count that differs from the cursor's makes the
/// store return every node of the kind again (`reset`): a key erased elsewhere is dropped
/// before the next batch is mapped onto it, so a batch never re-creates an erased key. Without
/// an erasure, nodes are only added (each with a `nid` past every one read before) or updated
/// in place, which changes no key. Labels do change in place: the incident titles need more
/// ([`IncidentTitles`]).
///
/// Memory per node: its key once (an `Arc<str>`: the key's bytes plus 16), a hash-set slot
/// (16 bytes plus slack) and, for a signature, a `(wildcards, key)` entry of a B-tree (24
/// bytes plus node overhead); for a service, its lowercase name (a `String`: bytes plus 24)
/// in a hash map. About the key's length plus 100 bytes for a signature, twice its length
/// plus 100 for a service.
#[derive(Debug, Default)]
struct StoredKeys {
    /// Where the keys were read up to; `None` before the first read or after a failed one.
    cursor: Option<NodeCursor>,
    /// The keys.
    known: HashSet<Arc<str>>,
    /// Signatures: by word count, `(wildcards, key)` ascending, so that the first template
    /// covering a batch signature is the most specific one.
    by_words: HashMap<usize, BTreeSet<(usize, Arc<str>)>>,
    /// Services: by lowercase name; of names equal but for case, the least key.
    by_name: HashMap<String, Arc<str>>,
}

impl StoredKeys {
    fn clear(&mut self) {
        *self = Self::default();
    }

    fn add(&mut self, kind: NodeKind, key: String) {
        let key: Arc<str> = key.into();
        if !self.known.insert(Arc::clone(&key)) {
            return;
        }
        match kind {
            NodeKind::Signature => {
                self.by_words
                    .entry(key.split(' ').count())
                    .or_default()
                    .insert((key.matches(WILDCARD).count(), key));
            }
            NodeKind::Service => {
                let name = key.to_lowercase();
                match self.by_name.get(&name) {
                    Some(had) if **had <= *key => {}
                    _ => {
                        self.by_name.insert(name, key);
                    }
                }
            }
            _ => {}
        }
    }

    /// The most specific stored template covering `key` (same words, `<*>` where they
    /// differ), least key first among equally specific ones.
    fn covering(&self, key: &str) -> Option<&Arc<str>> {
        self.by_words
            .get(&key.split(' ').count())?
            .iter()
            .find(|(_, general)| generalises(general, key))
            .map(|(_, general)| general)
    }
}

/// The stored incidents' titles, as the words [`mention_word_slices`] finds in them: a service new
/// in a batch is linked to the stored incidents whose titles name it.
///
/// Titles (labels) are updated in place, so a node cursor alone cannot keep this current:
/// besides the erasure count and the incidents past its `nid`, it relies on the tenant's write
/// count. Each of this graph's own writes adds one, and the titles that write stored are
/// applied here (the last title of each incident replaces its words); a count that moved by
/// any other amount means another process wrote, possibly changing titles, and the titles
/// are all read again. A failed write voids the index (whether it committed is unknown).
/// Only incidents with this binary's ids (32 lowercase hex digits) are indexed.
///
/// Words are kept as 64-bit hashes of their lower-case bytes ([`word_hash`]), computed
/// without allocating: every batch's titles pass through here, so a vocabulary of strings cost
/// the incident streams ~15% of their write rate. Two words sharing a hash only make
/// [`Self::naming`] return an incident whose current title is then read and does not match.
///
/// Memory per incident: its id (16 bytes) and the hashes of its title's distinct words (8
/// bytes each) in a hash map (about 50 bytes plus 8 per word, plus slack).
#[derive(Debug, Default)]
struct IncidentTitles {
    /// Where the titles were read up to, with `writes` counting this graph's own writes since;
    /// `None` when not loaded (or voided).
    cursor: Option<NodeCursor>,
    /// Incident id -> hashes of its title's distinct words, sorted.
    titles: HashMap<u128, Box<[u64]>>,
    /// This graph's writes since the index was last asked (see [`TITLES_IDLE_WRITES`]).
    idle_writes: u32,
}

/// Own writes after which an unused title index is dropped (memory freed, the next use reads
/// the titles again): keeping it costs every incident of every batch a hash and an insert,
/// which a stream of incidents pays for nothing while no new service arrives.
const TITLES_IDLE_WRITES: u32 = 32;

/// FNV-1a over `bytes`, lower-cased as ASCII: the in-memory word hash of [`IncidentTitles`]
/// (not keyed: it never leaves the process and only narrows a lookup).
fn word_hash(bytes: &[u8]) -> u64 {
    crate::signature::hash::fnv1a64_of(bytes.iter().map(u8::to_ascii_lowercase))
}

/// The distinct [`mention_word_slices`] of `text` as [`word_hash`]es, sorted, allocating only for
/// words with non-ASCII letters (lower-cased as [`str::to_lowercase`] does).
fn mention_word_hashes(text: &str) -> Box<[u64]> {
    let mut out: Vec<u64> = mention_word_slices(text)
        .map(|w| {
            if w.is_ascii() {
                word_hash(w.as_bytes())
            } else {
                word_hash(w.to_lowercase().as_bytes())
            }
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out.into_boxed_slice()
}

impl IncidentTitles {
    fn clear(&mut self) {
        *self = Self::default();
    }

    /// Sets the title of the incident `id`.
    fn set(&mut self, id: &str, title: &str) {
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if id.len() != 32 || !id.bytes().all(lower_hex) {
            return;
        }
        let Ok(id) = u128::from_str_radix(id, 16) else {
            return;
        };
        self.titles.insert(id, mention_word_hashes(title));
    }

    /// Ids of the incidents whose titles may hold one of `names` (lower case), sorted.
    fn naming<'a>(&self, names: impl Iterator<Item = &'a str>) -> Vec<String> {
        let wanted: Vec<u64> = names.map(|n| word_hash(n.as_bytes())).collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut ids: Vec<u128> = self
            .titles
            .iter()
            .filter(|(_, words)| words.iter().any(|w| wanted.contains(w)))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.into_iter().map(|id| format!("{id:032x}")).collect()
    }
}

/// The graph's caches of stored keys and titles.
#[derive(Debug, Default)]
struct KeyCaches {
    signatures: StoredKeys,
    services: StoredKeys,
    incidents: IncidentTitles,
}

/// Most term hashes kept by one graph's cache (a few MiB at most).
const TERM_CACHE_MAX: usize = 1 << 16;
/// Batches with at least this many distinct nodes are encrypted on two threads.
const PARALLEL_NODES: usize = 512;

impl std::fmt::Debug for KnowledgeGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeGraph")
            .field("tenant", &self.tenant)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A past incident returned by [`KnowledgeGraph::similar`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarIncident {
    /// The incident.
    pub incident: Node,
    /// Combined score (higher is more similar).
    pub score: f64,
    /// Signatures shared with the query.
    pub shared_signatures: i64,
    /// Services shared with the query.
    pub shared_services: i64,
    /// Text similarity (Jaccard over keyed term hashes), 0 to 1.
    pub text_similarity: f64,
    /// Actions that resolved it.
    pub actions: Vec<Node>,
    /// Documents about it.
    pub documents: Vec<Node>,
}

/// The export of a tenant's graph (`bacca kg export --format json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Export {
    /// Tenant.
    pub tenant: TenantId,
    /// Schema version.
    pub schema_version: i64,
    /// Nodes, sorted by kind and key.
    pub nodes: Vec<Node>,
    /// Edges, sorted.
    pub edges: Vec<Edge>,
}

/// `text` with every token replaced by [`ERASED`], or `None` when it holds none. A token cut
/// off at the end of the text (labels are clipped) is erased too, once the cut keeps at least
/// one character after the token's last `_` (or half the token when it has none).
fn erase_tokens(text: &str, tokens: &[&str]) -> Option<String> {
    let mut out = std::borrow::Cow::Borrowed(text);
    for t in tokens {
        if out.contains(t) {
            out = std::borrow::Cow::Owned(out.replace(t, ERASED));
        }
    }
    for t in tokens {
        let min = t.rfind('_').map_or(t.len() / 2, |i| i + 2).max(2);
        let cut = (min..t.len())
            .rev()
            .filter(|&k| t.is_char_boundary(k))
            .find(|&k| out.ends_with(&t[..k]));
        if let Some(k) = cut {
            let keep = out.len() - k;
            let mut s = out[..keep].to_owned();
            s.push_str(ERASED);
            out = std::borrow::Cow::Owned(s);
        }
    }
    match out {
        std::borrow::Cow::Owned(s) => Some(s),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// The services a title names, each once, sorted: `name` maps each of its words (as
/// extraction splits them, lower-cased into `buf` as [`str::to_lowercase`] does) to a service
/// key, or to none. Written into `out`.
fn services_named<'k>(
    text: &str,
    buf: &mut String,
    out: &mut Vec<&'k str>,
    mut name: impl FnMut(&str) -> Option<&'k str>,
) {
    out.clear();
    for w in mention_word_slices(text) {
        if let Some(key) = name(lowercase_in(w, buf)) {
            out.push(key);
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// `word` in lower case as [`str::to_lowercase`] gives it: `word` itself when it has no upper
/// case letter, else written into `buf`.
fn lowercase_in<'a>(word: &'a str, buf: &'a mut String) -> &'a str {
    if word.is_ascii() {
        if !word.bytes().any(|b| b.is_ascii_uppercase()) {
            return word;
        }
        buf.clear();
        buf.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        *buf = word.to_lowercase();
    }
    buf
}

/// The words of `text` as written: runs of letters, digits, `-`, `_` and `.`.
fn mention_word_slices(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .filter(|w| !w.is_empty())
}

/// `general` covers `specific`: as many words, each equal or a wildcard in `general`.
fn generalises(general: &str, specific: &str) -> bool {
    let (mut g, mut s) = (general.split(' '), specific.split(' '));
    loop {
        match (g.next(), s.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == WILDCARD || a == b => {}
            _ => return false,
        }
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
    /// [`Error::InvalidRecord`] for a bad batch (nothing written), store errors (rolled back).
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

    /// Maps each signature of the batch that is not stored yet onto the most specific stored
    /// signature whose template covers it (same words, wildcards where they differ): a miner
    /// that saw fewer variants in this batch keeps a word the stored template already turned
    /// into `<*>`, and the event would otherwise become a second signature. A batch template
    /// more general than the stored ones stays a new signature.
    async fn generalise_signatures<'a>(
        &self,
        batch: &'a Batch,
    ) -> Result<std::borrow::Cow<'a, Batch>> {
        use std::borrow::Cow;
        if !batch
            .nodes
            .iter()
            .any(|n| n.node.kind == NodeKind::Signature)
        {
            return Ok(Cow::Borrowed(batch));
        }
        let mut caches = self.stored.lock().await;
        let stored = &mut caches.signatures;
        self.top_up(stored, NodeKind::Signature).await?;
        let mut remap: HashMap<NodeRef, NodeRef> = HashMap::new();
        for n in batch
            .nodes
            .iter()
            .filter(|n| n.node.kind == NodeKind::Signature)
        {
            if stored.known.contains(n.node.key.as_str()) || remap.contains_key(&n.node) {
                continue;
            }
            if let Some(general) = stored.covering(&n.node.key) {
                remap.insert(
                    n.node.clone(),
                    NodeRef {
                        kind: NodeKind::Signature,
                        key: general.to_string(),
                    },
                );
            }
        }
        drop(caches);
        if remap.is_empty() {
            return Ok(Cow::Borrowed(batch));
        }
        let mut b = batch.clone();
        for n in &mut b.nodes {
            if let Some(to) = remap.get(&n.node) {
                n.node = to.clone();
                n.label = Some(to.key.clone());
            }
        }
        for e in &mut b.edges {
            for end in [&mut e.from, &mut e.to] {
                if let Some(to) = remap.get(end) {
                    *end = to.clone();
                }
            }
        }
        Ok(Cow::Owned(b))
    }

    /// `affected` edges from incident titles naming a service of another batch: extraction
    /// only knows the services named in its own batch, and an incident (a Datadog incident, a
    /// Slack thread) usually arrives without the logs that name its service. A batch incident
    /// whose title names a stored service is linked to it; a service new in this batch is
    /// linked to the stored incidents whose titles name it (so the order batches arrive in
    /// does not matter).
    async fn link_service_mentions(&self, batch: &Batch) -> Result<Vec<Edge>> {
        let incidents: Vec<&Node> = batch
            .nodes
            .iter()
            .filter(|n| n.node.kind == NodeKind::Incident && n.label.is_some())
            .collect();
        let batch_services: Vec<&NodeRef> = batch
            .nodes
            .iter()
            .filter(|n| n.node.kind == NodeKind::Service)
            .map(|n| &n.node)
            .collect();
        if incidents.is_empty() && batch_services.is_empty() {
            return Ok(Vec::new());
        }
        let mut caches = self.stored.lock().await;
        let stored = &mut caches.services;
        self.top_up(stored, NodeKind::Service).await?;
        let affected = |inc: &Node, svc: &NodeRef| Edge {
            kind: EdgeKind::Affected,
            from: inc.node.clone(),
            to: svc.clone(),
            sources: inc.sources.clone(),
            first_seen: inc.first_seen,
            last_seen: inc.last_seen,
        };
        let mut out = Vec::new();
        // The batch's services take precedence over stored ones named alike.
        let batch_by_name: HashMap<String, &NodeRef> = batch_services
            .iter()
            .map(|s| (s.key.to_lowercase(), *s))
            .collect();
        let service = |key: &str| NodeRef {
            kind: NodeKind::Service,
            key: key.to_owned(),
        };
        // A title's words are looked up as they are when already lower case (no allocation).
        let (mut lower, mut named) = (String::new(), Vec::new());
        for inc in &incidents {
            services_named(
                inc.label.as_deref().unwrap_or_default(),
                &mut lower,
                &mut named,
                |w| match batch_by_name.get(w) {
                    Some(svc) => Some(svc.key.as_str()),
                    None => stored.by_name.get(w).map(|k| &**k),
                },
            );
            for key in &named {
                out.push(affected(inc, &service(key)));
            }
        }
        let new: HashMap<String, &NodeRef> = batch_services
            .iter()
            .filter(|s| !stored.known.contains(s.key.as_str()))
            .map(|s| (s.key.to_lowercase(), *s))
            .collect();
        drop(caches);
        if !new.is_empty() {
            let in_batch: HashSet<&NodeRef, IdHash> = incidents.iter().map(|n| &n.node).collect();
            // Candidates from the title index; their current rows decide (the index can hold
            // words a title no longer has, never lack one it has).
            let mut caches = self.stored.lock().await;
            self.top_up_titles(&mut caches.incidents).await?;
            caches.incidents.idle_writes = 0;
            let ids = caches.incidents.naming(new.keys().map(String::as_str));
            drop(caches);
            let mut stored: Vec<(String, Node)> =
                self.nodes_by_id(ids).await?.into_iter().collect();
            stored.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let mut named_new = Vec::new();
            for (_, inc) in stored {
                if inc.node.kind != NodeKind::Incident || in_batch.contains(&inc.node) {
                    continue;
                }
                services_named(
                    inc.label.as_deref().unwrap_or_default(),
                    &mut lower,
                    &mut named_new,
                    |w| new.get(w).map(|svc| svc.key.as_str()),
                );
                for key in &named_new {
                    out.push(affected(&inc, &service(key)));
                }
            }
        }
        // Links extraction already made keep its times.
        let have: HashSet<(&NodeRef, &NodeRef)> = batch
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Affected)
            .map(|e| (&e.from, &e.to))
            .collect();
        out.retain(|e| !have.contains(&(&e.from, &e.to)));
        Ok(out)
    }

    /// `exhibited` edges between this batch and the stored graph: extraction links an incident
    /// to the log signatures of the services it affected only within one batch, but incidents
    /// and logs often land in different batches (different sources, pages or days). A
    /// signature of this batch emitted by service S joins every stored incident affecting S
    /// whose window (from [`LOG_LEAD_MINUTES`] before its first sighting to its last) overlaps
    /// the signature's sightings; an incident of this batch affecting S joins S's stored
    /// signatures the same way. Pairs with both ends in the batch are left to extraction, so
    /// a replayed batch adds nothing. Which pairs are linked does not depend on the order the
    /// batches arrive in.
    async fn link_across_batches(&self, batch: &Batch, ids: &mut IdMemo) -> Result<Vec<Edge>> {
        let by_ref: HashMap<&NodeRef, &Node, IdHash> =
            batch.nodes.iter().map(|n| (&n.node, n)).collect();
        let mut sigs: HashMap<String, Vec<&Node>> = HashMap::new();
        let mut incs: HashMap<String, Vec<&Node>> = HashMap::new();
        for e in &batch.edges {
            let (into, kind) = match e.kind {
                EdgeKind::EmittedBy => (&mut sigs, NodeKind::Signature),
                EdgeKind::Affected => (&mut incs, NodeKind::Incident),
                _ => continue,
            };
            if let Some(n) = by_ref.get(&e.from).filter(|n| n.node.kind == kind) {
                into.entry(self.memo_id(ids, &e.to)).or_default().push(n);
            }
        }
        if sigs.is_empty() && incs.is_empty() {
            return Ok(Vec::new());
        }
        // Only the edges that can pair with this batch: stored incidents affecting the services
        // of its signatures, stored signatures emitted by the services of its incidents.
        let mut stored = Vec::new();
        for (kind, by_service) in [(EdgeKind::Affected, &sigs), (EdgeKind::EmittedBy, &incs)] {
            if by_service.is_empty() {
                continue;
            }
            let mut services: Vec<String> = by_service.keys().cloned().collect();
            services.sort_unstable();
            stored.extend(
                self.store
                    .edges(
                        &self.tenant,
                        &EdgeFilter {
                            kind: Some(kind),
                            src_ids: None,
                            dst_ids: Some(services),
                        },
                    )
                    .await?,
            );
        }
        // Affected edges this batch adds to stored incidents (service mentions) count as stored.
        let batch_ids: HashSet<&NodeRef, IdHash> = batch.nodes.iter().map(|n| &n.node).collect();
        for e in &batch.edges {
            if e.kind == EdgeKind::Affected && !batch_ids.contains(&e.from) {
                stored.push(EdgeRow {
                    kind: e.kind,
                    src: self.memo_id(ids, &e.from),
                    dst: self.memo_id(ids, &e.to),
                    sources: Vec::new(),
                    first_seen: e.first_seen,
                    last_seen: e.last_seen,
                });
            }
        }
        // Pairs inside the batch were decided by extraction (with each log's own time).
        let in_batch: HashSet<String, IdHash> = batch
            .nodes
            .iter()
            .filter(|n| matches!(n.node.kind, NodeKind::Incident | NodeKind::Signature))
            .map(|n| self.memo_id(ids, &n.node))
            .collect();
        let wanted: Vec<(String, String, NodeKind)> = stored
            .iter()
            .filter(|e| !in_batch.contains(&e.src))
            .filter_map(|e| match e.kind {
                EdgeKind::Affected if sigs.contains_key(&e.dst) => {
                    Some((e.src.clone(), e.dst.clone(), NodeKind::Incident))
                }
                EdgeKind::EmittedBy if incs.contains_key(&e.dst) => {
                    Some((e.src.clone(), e.dst.clone(), NodeKind::Signature))
                }
                _ => None,
            })
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let nodes = self
            .nodes_by_id(
                wanted
                    .iter()
                    .map(|w| w.0.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            )
            .await?;
        let lead = chrono::Duration::minutes(LOG_LEAD_MINUTES);
        let overlaps = |inc: &Node, sig: &Node| {
            sig.last_seen >= inc.first_seen - lead && sig.first_seen <= inc.last_seen
        };
        let mut out = Vec::new();
        let mut link = |inc: &Node, sig: &Node| {
            if overlaps(inc, sig) {
                out.push(Edge {
                    kind: EdgeKind::Exhibited,
                    from: inc.node.clone(),
                    to: sig.node.clone(),
                    sources: sig.sources.clone(),
                    first_seen: sig.first_seen,
                    last_seen: sig.last_seen,
                });
            }
        };
        for (id, svc, kind) in &wanted {
            let Some(stored) = nodes.get(id).filter(|n| n.node.kind == *kind) else {
                continue;
            };
            if *kind == NodeKind::Incident {
                for sig in sigs.get(svc).into_iter().flatten() {
                    link(stored, sig);
                }
            } else {
                for inc in incs.get(svc).into_iter().flatten() {
                    link(inc, stored);
                }
            }
        }
        Ok(out)
    }

    /// Turns a batch into rows: ids, ciphertexts, terms; duplicate nodes and edges merged.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`].
    pub fn encrypt_batch(&self, batch: &Batch) -> Result<RowBatch> {
        self.encrypt_batch_with(batch, &mut IdMemo::default())
    }

    /// [`Self::encrypt_batch`] with the ids already computed for this write (`ids`, extended).
    /// Large batches encrypt their nodes on two threads.
    fn encrypt_batch_with(&self, batch: &Batch, ids: &mut IdMemo) -> Result<RowBatch> {
        // A node is copied only when a duplicate is merged into it.
        let mut merged: Vec<(std::borrow::Cow<'_, Node>, String)> =
            Vec::with_capacity(batch.nodes.len());
        let mut index: HashMap<String, usize, IdHash> =
            HashMap::with_capacity_and_hasher(batch.nodes.len(), IdHash::default());
        for n in &batch.nodes {
            let id = self.memo_id(ids, &n.node);
            if let Some(&i) = index.get(&id) {
                let m = merged[i].0.to_mut();
                m.first_seen = m.first_seen.min(n.first_seen);
                m.last_seen = m.last_seen.max(n.last_seen);
                m.sources.extend(n.sources.iter().cloned());
                m.attrs.extend(n.attrs.clone());
                if n.label.is_some() {
                    m.label.clone_from(&n.label);
                }
            } else {
                index.insert(id.clone(), merged.len());
                merged.push((std::borrow::Cow::Borrowed(n), id));
            }
        }
        let encrypted = if merged.len() >= PARALLEL_NODES {
            let (a, b) = merged.split_at(merged.len() / 2);
            std::thread::scope(|scope| {
                let second = scope.spawn(|| self.encrypt_nodes(b));
                let mut first = self.encrypt_nodes(a)?;
                let second = second
                    .join()
                    .map_err(|_| Error::Crypto("row encryption thread failed"))??;
                first.extend(second);
                Ok::<_, Error>(first)
            })?
        } else {
            self.encrypt_nodes(&merged)?
        };
        let mut rows = RowBatch::default();
        rows.nodes.reserve(encrypted.len());
        for (i, (row, terms)) in encrypted.into_iter().enumerate() {
            rows.terms
                .extend(terms.into_iter().map(|term| TermRow { node: i, term }));
            rows.nodes.push(row);
        }
        // Sorted by (kind, src, dst), duplicates merged: sort, then fold neighbours.
        let mut keyed: Vec<((EdgeKind, String, String), &Edge)> = batch
            .edges
            .iter()
            .map(|e| {
                let src = self.memo_id(ids, &e.from);
                let dst = self.memo_id(ids, &e.to);
                ((e.kind, src, dst), e)
            })
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut edges: Vec<EdgeRow> = Vec::with_capacity(keyed.len());
        for ((kind, src, dst), e) in keyed {
            match edges.last_mut() {
                Some(last) if last.kind == kind && last.src == src && last.dst == dst => {
                    last.first_seen = last.first_seen.min(e.first_seen);
                    last.last_seen = last.last_seen.max(e.last_seen);
                    if !e.sources.iter().eq(last.sources.iter()) {
                        last.sources = crate::store::merge_sources(
                            &last.sources,
                            &e.sources.iter().cloned().collect::<Vec<_>>(),
                        );
                    }
                }
                _ => edges.push(EdgeRow {
                    kind,
                    src,
                    dst,
                    sources: e.sources.iter().cloned().collect(),
                    first_seen: e.first_seen,
                    last_seen: e.last_seen,
                }),
            }
        }
        rows.edges = edges;
        Ok(rows)
    }

    /// Rows (ciphertexts bound to their ids) and term hashes of merged nodes: every key and
    /// label of the slice in one [`RowCipher::encrypt_many`].
    fn encrypt_nodes(
        &self,
        nodes: &[(std::borrow::Cow<'_, Node>, String)],
    ) -> Result<Vec<(NodeRow, Vec<i64>)>> {
        let mut plain: Vec<(RowAad<'_>, &[u8])> = Vec::with_capacity(2 * nodes.len());
        for (n, id) in nodes {
            plain.push((self.aad(id, "key"), n.node.key.as_bytes()));
            if let Some(l) = &n.label {
                plain.push((self.aad(id, "label"), l.as_bytes()));
            }
        }
        let mut sealed = self.cipher.encrypt_many(&plain)?.into_iter();
        let mut next = || sealed.next().ok_or(Error::Crypto("row encryption failed"));
        nodes
            .iter()
            .map(|(n, id)| {
                let key_ct = next()?;
                let label_ct = match &n.label {
                    Some(_) => Some(next()?),
                    None => None,
                };
                let row = NodeRow {
                    id: id.clone(),
                    kind: n.node.kind,
                    key_ct,
                    label_ct,
                    attrs: serde_json::Value::Object(n.attrs.clone()),
                    sources: n.sources.iter().cloned().collect(),
                    first_seen: n.first_seen,
                    last_seen: n.last_seen,
                };
                Ok((row, self.label_terms(n.node.kind, n.label.as_deref())))
            })
            .collect()
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

    /// Brings `cache` (the keys of the stored nodes of `kind`) up to date: the nodes added
    /// since its cursor, or all of them after an erasure (see [`StoredKeys`]). Only under the
    /// write lock. On error the cache is left without a cursor, so the next call reads it all.
    async fn top_up(&self, cache: &mut StoredKeys, kind: NodeKind) -> Result<()> {
        let since = cache.cursor.take();
        let read = self.store.nodes_since(&self.tenant, kind, since).await?;
        if read.reset {
            cache.clear();
        }
        for r in &read.rows {
            cache.add(kind, self.decrypt_text(&r.id, "key", &r.key_ct)?);
        }
        cache.cursor = Some(read.cursor);
        Ok(())
    }

    /// Brings `titles` up to date (see [`IncidentTitles`]): the incidents added since its
    /// cursor, or all of them after an erasure or another process's write. Only under the
    /// write lock.
    async fn top_up_titles(&self, titles: &mut IncidentTitles) -> Result<()> {
        let since = titles.cursor.take();
        let mut read = self
            .store
            .nodes_since(&self.tenant, NodeKind::Incident, since)
            .await?;
        if !read.reset && since.is_some_and(|c| c.writes != read.cursor.writes) {
            read = self
                .store
                .nodes_since(&self.tenant, NodeKind::Incident, None)
                .await?;
        }
        if read.reset {
            titles.clear();
        }
        for r in &read.rows {
            if let Some(ct) = &r.label_ct {
                titles.set(&r.id, &self.decrypt_text(&r.id, "label", ct)?);
            }
        }
        titles.cursor = Some(read.cursor);
        Ok(())
    }

    /// After this graph's write of `batch`: its incident titles go into the title index,
    /// counted as one write, or the index is voided when the write failed (whether it
    /// committed is unknown) or the index went unused for [`TITLES_IDLE_WRITES`] writes.
    async fn note_titles(&self, batch: &Batch, ids: &mut IdMemo, ok: bool) {
        let mut caches = self.stored.lock().await;
        let titles = &mut caches.incidents;
        titles.idle_writes += 1;
        let keep = ok && titles.idle_writes <= TITLES_IDLE_WRITES;
        let Some(cursor) = titles.cursor.as_mut().filter(|_| keep) else {
            titles.clear();
            return;
        };
        cursor.writes += 1;
        for n in &batch.nodes {
            if let (NodeKind::Incident, Some(title)) = (n.node.kind, &n.label) {
                match ids.get(&n.node) {
                    Some(id) => titles.set(id, title),
                    None => titles.set(&self.memo_id(ids, &n.node), title),
                }
            }
        }
    }

    /// The text of node `id`'s encrypted `column` (`key` or `label`).
    fn decrypt_text(&self, id: &str, column: &str, ct: &[u8]) -> Result<String> {
        let plain = self.cipher.decrypt(&self.aad(id, column), ct)?;
        String::from_utf8(plain).map_err(|_| Error::Crypto("row not UTF-8"))
    }

    fn decrypt_node(&self, r: &NodeRow) -> Result<Node> {
        Ok(Node {
            node: NodeRef {
                kind: r.kind,
                key: self.decrypt_text(&r.id, "key", &r.key_ct)?,
            },
            label: match &r.label_ct {
                Some(ct) => Some(self.decrypt_text(&r.id, "label", ct)?),
                None => None,
            },
            attrs: match &r.attrs {
                serde_json::Value::Object(m) => m.clone(),
                _ => serde_json::Map::new(),
            },
            sources: r.sources.iter().cloned().collect(),
            first_seen: r.first_seen,
            last_seen: r.last_seen,
        })
    }

    /// Removes everything derived from one data subject, given the pseudonym tokens the
    /// anonymizer produced for them (e.g. `<PERSON_1a2b3c4d>`, `<EMAIL_ADDRESS_…>`,
    /// `<USER_HANDLE_…>`).
    ///
    /// Deletes the Person nodes whose natural key holds one of the tokens, with every edge
    /// touching them and their term rows; in every other node's key and label each token
    /// becomes [`ERASED`] (decrypted, replaced, re-encrypted, terms recomputed; a node whose
    /// key changed moves to the key's new id, merging with a node already there). One
    /// transaction; idempotent (a second call returns zero counts). The audit event carries
    /// counts only.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTenant`] when `tenant` is not this graph's tenant or not in the store;
    /// store and crypto errors (nothing applied).
    pub async fn erase_subject(
        &self,
        tenant: &TenantId,
        tokens: &[String],
    ) -> Result<ErasureCounts> {
        if tenant != &self.tenant {
            return Err(Error::UnknownTenant(tenant.to_string()));
        }
        self.locked(self.erase_locked(tokens)).await
    }

    /// [`Self::erase_subject`] under the in-process mutex and the store's write lock.
    async fn erase_locked(&self, tokens: &[String]) -> Result<ErasureCounts> {
        let tokens: Vec<&str> = tokens
            .iter()
            .map(String::as_str)
            .filter(|t| t.len() >= 3)
            .collect();
        let mut erasure = Erasure::default();
        if !tokens.is_empty() {
            let rows = self
                .store
                .nodes(&self.tenant, &NodeFilter::default())
                .await?;
            for r in &rows {
                let n = self.decrypt_node(r)?;
                let key = erase_tokens(&n.node.key, &tokens);
                if n.node.kind == NodeKind::Person && key.is_some() {
                    erasure.delete.push(r.id.clone());
                    continue;
                }
                let label = n.label.as_deref().and_then(|l| erase_tokens(l, &tokens));
                if key.is_none() && label.is_none() {
                    continue;
                }
                let node = NodeRef {
                    kind: n.node.kind,
                    key: key.unwrap_or(n.node.key),
                };
                let label = label.or(n.label);
                let id = self.node_id(&node);
                let key_ct = self
                    .cipher
                    .encrypt(&self.aad(&id, "key"), node.key.as_bytes())?;
                let label_ct = match &label {
                    Some(l) => Some(self.cipher.encrypt(&self.aad(&id, "label"), l.as_bytes())?),
                    None => None,
                };
                erasure.rewrite.push(NodeRewrite {
                    old_id: r.id.clone(),
                    terms: self.label_terms(node.kind, label.as_deref()),
                    row: NodeRow {
                        id,
                        kind: node.kind,
                        key_ct,
                        label_ct,
                        attrs: r.attrs.clone(),
                        sources: r.sources.clone(),
                        first_seen: r.first_seen,
                        last_seen: r.last_seen,
                    },
                });
            }
        }
        let result = if erasure == Erasure::default() {
            Ok(ErasureCounts::default())
        } else {
            // The store's erasure count voids the caches anyway (for every process); dropping
            // this graph's own copies now costs one read of them at the next batch.
            let mut caches = self.stored.lock().await;
            caches.signatures.clear();
            caches.services.clear();
            caches.incidents.clear();
            drop(caches);
            self.store.erase(&self.tenant, &erasure).await
        };
        let counts = result.as_ref().copied().unwrap_or_default();
        self.audit.emit(
            AuditEvent::new("kg.erase_subject", self.tenant.as_str())
                .field("tokens", tokens.len())
                .field("nodes_deleted", counts.nodes_deleted)
                .field("edges_deleted", counts.edges_deleted)
                .field("labels_rewritten", counts.labels_rewritten)
                .field("ok", result.is_ok()),
        );
        result
    }

    /// Nodes (decrypted), optionally of one kind, sorted by kind and key.
    ///
    /// # Errors
    ///
    /// Store and crypto errors.
    pub async fn nodes(&self, kind: Option<NodeKind>) -> Result<Vec<Node>> {
        let mut out: Vec<Node> = self
            .stored_of_kind(kind)
            .await?
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        out.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(out)
    }

    async fn nodes_by_id(&self, ids: Vec<String>) -> Result<HashMap<String, Node>> {
        let rows = self
            .store
            .nodes(
                &self.tenant,
                &NodeFilter {
                    kind: None,
                    ids: Some(ids),
                },
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.id.clone(), self.decrypt_node(r)?)))
            .collect()
    }

    /// Counts.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn stats(&self) -> Result<Stats> {
        self.store.stats(&self.tenant).await
    }

    /// The whole graph, decrypted and sorted (`bacca kg export --format json`).
    ///
    /// # Errors
    ///
    /// Store and crypto errors.
    pub async fn export(&self) -> Result<Export> {
        let rows = self
            .store
            .nodes(&self.tenant, &NodeFilter::default())
            .await?;
        let mut by_id = HashMap::with_capacity(rows.len());
        let mut nodes = Vec::with_capacity(rows.len());
        for r in &rows {
            let n = self.decrypt_node(r)?;
            by_id.insert(r.id.clone(), n.node.clone());
            nodes.push(n);
        }
        nodes.sort_by(|a, b| a.node.cmp(&b.node));
        let mut edges = Vec::new();
        for e in self
            .store
            .edges(&self.tenant, &EdgeFilter::default())
            .await?
        {
            let (Some(from), Some(to)) = (by_id.get(&e.src), by_id.get(&e.dst)) else {
                continue;
            };
            edges.push(Edge {
                kind: e.kind,
                from: from.clone(),
                to: to.clone(),
                sources: e.sources.into_iter().collect(),
                first_seen: e.first_seen,
                last_seen: e.last_seen,
            });
        }
        edges.sort_by(|a, b| (a.kind, &a.from, &a.to).cmp(&(b.kind, &b.from, &b.to)));
        Ok(Export {
            tenant: self.tenant.clone(),
            schema_version: self.stats().await?.schema_version,
            nodes,
            edges,
        })
    }

    /// Past incidents like `text` (an alert or a log line), best first, each with the actions
    /// that resolved it and its documents. Ranking: shared log signatures (the line matches a
    /// stored template), shared services (a service name appears in the text), then text
    /// similarity over keyed term hashes.
    ///
    /// # Errors
    ///
    /// Store and crypto errors.
    pub async fn similar(&self, text: &str, limit: usize) -> Result<Vec<SimilarIncident>> {
        let mut query = SimilarQuery {
            limit: limit.saturating_mul(4).max(20),
            ..SimilarQuery::default()
        };
        for (id, n) in self.stored_of_kind(Some(NodeKind::Signature)).await? {
            if n.label
                .as_deref()
                .is_some_and(|t| template_matches(t, text))
            {
                query.signatures.push(id);
            }
        }
        let words: HashSet<String> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        for (id, n) in self.stored_of_kind(Some(NodeKind::Service)).await? {
            if words.contains(&n.node.key.to_lowercase()) {
                query.services.push(id);
            }
        }
        let qterms = terms(text);
        query.terms = self.term_hashes(&qterms);
        let cands = self.store.similar(&self.tenant, &query).await?;
        self.audit.emit(
            AuditEvent::new("kg.similar", self.tenant.as_str())
                .field("signatures", query.signatures.len())
                .field("services", query.services.len())
                .field("terms", query.terms.len())
                .field("candidates", cands.len()),
        );
        #[allow(clippy::cast_precision_loss)]
        let mut scored: Vec<(f64, f64, crate::store::Candidate)> = cands
            .into_iter()
            .map(|c| {
                let union = (qterms.len() as i64 + c.incident_terms - c.shared_terms).max(1);
                let jac = c.shared_terms as f64 / union as f64;
                let sig = if query.signatures.is_empty() {
                    0.0
                } else {
                    c.shared_signatures as f64 / query.signatures.len() as f64
                };
                let svc = if query.services.is_empty() {
                    0.0
                } else {
                    c.shared_services as f64 / query.services.len() as f64
                };
                (3.0 * sig + 2.0 * svc + jac, jac, c)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.id.cmp(&b.2.id)));
        scored.truncate(limit);
        let ids: Vec<String> = scored.iter().map(|s| s.2.id.clone()).collect();
        let edges = self
            .store
            .edges(
                &self.tenant,
                &EdgeFilter {
                    kind: None,
                    src_ids: Some(ids.clone()),
                    dst_ids: None,
                },
            )
            .await?;
        let wanted: Vec<String> = edges
            .iter()
            .filter(|e| matches!(e.kind, EdgeKind::ResolvedBy | EdgeKind::DocumentedIn))
            .map(|e| e.dst.clone())
            .chain(ids)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let nodes = self.nodes_by_id(wanted).await?;
        let mut out = Vec::with_capacity(scored.len());
        for (score, jac, c) in scored {
            let Some(incident) = nodes.get(&c.id).cloned() else {
                continue;
            };
            let pick = |kind: EdgeKind| -> Vec<Node> {
                edges
                    .iter()
                    .filter(|e| e.src == c.id && e.kind == kind)
                    .filter_map(|e| nodes.get(&e.dst).cloned())
                    .collect()
            };
            out.push(SimilarIncident {
                incident,
                score,
                shared_signatures: c.shared_signatures,
                shared_services: c.shared_services,
                text_similarity: jac,
                actions: pick(EdgeKind::ResolvedBy),
                documents: pick(EdgeKind::DocumentedIn),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_index_finds_the_incidents_whose_mention_words_hold_a_name() {
        let mut t = IncidentTitles::default();
        let a = format!("{:032x}", 1);
        let b = format!("{:032x}", 2);
        t.set(&a, "Checkout-API timeouts after deploy of Zürich-Gateway");
        t.set(&b, "payments.db replica lag");
        t.set("not-an-id", "checkout-api down");
        let title = "Checkout-API timeouts after deploy of Zürich-Gateway";
        for name in mention_word_slices(title).map(str::to_lowercase) {
            assert_eq!(
                t.naming([name.as_str()].into_iter()),
                vec![a.clone()],
                "{name}"
            );
        }
        assert_eq!(t.naming(["payments.db"].into_iter()), vec![b.clone()]);
        assert_eq!(
            t.naming(["checkout-api", "lag"].into_iter()),
            [a.clone(), b]
        );
        assert!(t.naming(["checkout"].into_iter()).is_empty());
        // A new title replaces the incident's words.
        t.set(&a, "disk full");
        assert!(t.naming(["checkout-api"].into_iter()).is_empty());
    }

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

    #[test]
    fn mention_words_are_lowered_as_to_lowercase_does() {
        let mut buf = String::from("left over");
        for w in [
            "checkout",
            "Checkout",
            "API-GW_2.x",
            "ÜBER-svc",
            "İstanbul",
            "ΣΟΦΙΑ",
            "",
        ] {
            assert_eq!(lowercase_in(w, &mut buf), w.to_lowercase(), "{w}");
        }
        let text = "Paging: Checkout-API (eu) down; checkout-api ok";
        let words: Vec<String> = mention_word_slices(text)
            .map(|w| lowercase_in(w, &mut buf).to_owned())
            .collect();
        let set: BTreeSet<String> = words.into_iter().collect();
        let lowered: BTreeSet<String> = mention_word_slices(text).map(str::to_lowercase).collect();
        assert_eq!(set, lowered);
    }

    #[test]
    fn erase_tokens_replaces_whole_and_clipped_tokens() {
        let t = ["<PERSON_1a2b3c4d>", "<EMAIL_ADDRESS_99ff>"];
        assert_eq!(erase_tokens("nothing here", &t), None);
        assert_eq!(
            erase_tokens("paged <PERSON_1a2b3c4d> and <PERSON_1a2b3c4d>", &t).as_deref(),
            Some("paged <ERASED> and <ERASED>")
        );
        assert_eq!(
            erase_tokens("mail <EMAIL_ADDRESS_99ff>: <PERSON_1a2b", &t).as_deref(),
            Some("mail <ERASED>: <ERASED>")
        );
        // A cut before any character of the token's hash names no one.
        assert_eq!(erase_tokens("ends with <PERSON_", &t), None);
        assert_eq!(erase_tokens("<PERSON_1a2b3c4e>", &t), None);
    }
}
