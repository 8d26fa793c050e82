//! What a graph keeps between writes: the stored signatures' and services' keys and the
//! incidents' title words (each topped up from the store, cleared when an erasure voids them).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::links::{generalises, mention_word_slices};
use super::{IdMemo, KnowledgeGraph};
use crate::model::{Batch, NodeKind};
use crate::signature::mask::WILDCARD;
use crate::store::NodeCursor;
use crate::Result;

/// The natural keys of the stored nodes of one kind, as of `cursor`.
///
/// Filled and topped up by [`GraphStore::nodes_since`](crate::store::GraphStore::nodes_since), only
/// while the graph holds its in-process mutex and the store's write lock, so no other writer of the
/// tenant runs between the top-up and the write that follows it. Why a cursor suffices: keys are
/// all these caches hold, and a stored node's key changes only through erasure (which moves the
/// node to its new key's id, or deletes it). Every erasure, by any process, adds one to the
/// tenant's erasure count in its own transaction, and a count that differs from the cursor's makes
/// the store return every node of the kind again (`reset`): a key erased elsewhere is dropped
/// before the next batch is mapped onto it, so a batch never re-creates an erased key. Without an
/// erasure, nodes are only added (each with a `nid` past every one read before) or updated in
/// place, which changes no key. Labels do change in place: the incident titles need more
/// ([`IncidentTitles`]).
///
/// Memory per node: its key once (an `Arc<str>`: the key's bytes plus 16), a hash-set slot
/// (16 bytes plus slack) and, for a signature, a `(wildcards, key)` entry of a B-tree (24
/// bytes plus node overhead); for a service, its lowercase name (a `String`: bytes plus 24)
/// in a hash map. About the key's length plus 100 bytes for a signature, twice its length
/// plus 100 for a service.
#[derive(Debug, Default)]
pub(super) struct StoredKeys {
    /// Where the keys were read up to; `None` before the first read or after a failed one.
    pub(super) cursor: Option<NodeCursor>,
    /// The keys.
    pub(super) known: HashSet<Arc<str>>,
    /// Signatures: by word count, `(wildcards, key)` ascending, so that the first template
    /// covering a batch signature is the most specific one.
    pub(super) by_words: HashMap<usize, BTreeSet<(usize, Arc<str>)>>,
    /// Services: by lowercase name; of names equal but for case, the least key.
    pub(super) by_name: HashMap<String, Arc<str>>,
}

impl StoredKeys {
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    pub(super) fn add(&mut self, kind: NodeKind, key: String) {
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
    pub(super) fn covering(&self, key: &str) -> Option<&Arc<str>> {
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
pub(super) struct IncidentTitles {
    /// Where the titles were read up to, with `writes` counting this graph's own writes since;
    /// `None` when not loaded (or voided).
    pub(super) cursor: Option<NodeCursor>,
    /// Incident id -> hashes of its title's distinct words, sorted.
    pub(super) titles: HashMap<u128, Box<[u64]>>,
    /// This graph's writes since the index was last asked (see [`TITLES_IDLE_WRITES`]).
    pub(super) idle_writes: u32,
}

/// Own writes after which an unused title index is dropped (memory freed, the next use reads
/// the titles again): keeping it costs every incident of every batch a hash and an insert,
/// which a stream of incidents pays for nothing while no new service arrives.
pub(super) const TITLES_IDLE_WRITES: u32 = 32;

/// FNV-1a over `bytes`, lower-cased as ASCII: the in-memory word hash of [`IncidentTitles`]
/// (not keyed: it never leaves the process and only narrows a lookup).
pub(super) fn word_hash(bytes: &[u8]) -> u64 {
    crate::signature::hash::fnv1a64_of(bytes.iter().map(u8::to_ascii_lowercase))
}

/// The distinct [`mention_word_slices`] of `text` as [`word_hash`]es, sorted, allocating only for
/// words with non-ASCII letters (lower-cased as [`str::to_lowercase`] does).
pub(super) fn mention_word_hashes(text: &str) -> Box<[u64]> {
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
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Sets the title of the incident `id`.
    pub(super) fn set(&mut self, id: &str, title: &str) {
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
    pub(super) fn naming<'a>(&self, names: impl Iterator<Item = &'a str>) -> Vec<String> {
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
pub(super) struct KeyCaches {
    pub(super) signatures: StoredKeys,
    pub(super) services: StoredKeys,
    pub(super) incidents: IncidentTitles,
}

/// Most term hashes kept by one graph's cache (a few MiB at most).
pub(super) const TERM_CACHE_MAX: usize = 1 << 16;

impl KnowledgeGraph {
    /// Brings `cache` (the keys of the stored nodes of `kind`) up to date: the nodes added
    /// since its cursor, or all of them after an erasure (see [`StoredKeys`]). Only under the
    /// write lock. On error the cache is left without a cursor, so the next call reads it all.
    pub(super) async fn top_up(&self, cache: &mut StoredKeys, kind: NodeKind) -> Result<()> {
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
    pub(super) async fn top_up_titles(&self, titles: &mut IncidentTitles) -> Result<()> {
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
    pub(super) async fn note_titles(&self, batch: &Batch, ids: &mut IdMemo, ok: bool) {
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
}
