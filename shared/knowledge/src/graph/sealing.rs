//! Rows sealed for the store and opened from it: blind-index ids, encrypted columns bound to
//! their row and column, term hashes.

use std::collections::HashMap;

use super::{IdMemo, KnowledgeGraph};
use crate::cipher::RowAad;
use crate::id_hash::IdHash;
use crate::model::{Batch, Edge, EdgeKind, Node, NodeRef};
use crate::store::{EdgeRow, NodeRow, RowBatch, TermRow};
use crate::{Error, Result};

/// Batches with at least this many distinct nodes are encrypted on two threads.
pub(super) const PARALLEL_NODES: usize = 512;

impl KnowledgeGraph {
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
    pub(super) fn encrypt_batch_with(&self, batch: &Batch, ids: &mut IdMemo) -> Result<RowBatch> {
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

    /// Rows (ciphertexts bound to their ids) and term hashes of merged nodes: every key and label
    /// of the slice in one [`RowCipher::encrypt_many`](crate::cipher::RowCipher::encrypt_many).
    pub(super) fn encrypt_nodes(
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

    /// The text of node `id`'s encrypted `column` (`key` or `label`).
    pub(super) fn decrypt_text(&self, id: &str, column: &str, ct: &[u8]) -> Result<String> {
        let plain = self.cipher.decrypt(&self.aad(id, column), ct)?;
        String::from_utf8(plain).map_err(|_| Error::Crypto("row not UTF-8"))
    }

    pub(super) fn decrypt_node(&self, r: &NodeRow) -> Result<Node> {
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
}
