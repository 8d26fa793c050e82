//! Data-subject erasure: every node and edge that names a pseudonym deleted or re-keyed with
//! the pseudonym replaced by [`ERASED`], audited by counts.

use bacca_audit::AuditEvent;

use super::{KnowledgeGraph, ERASED};
use crate::model::{NodeKind, NodeRef, TenantId};
use crate::store::{Erasure, ErasureCounts, NodeFilter, NodeRewrite, NodeRow};
use crate::{Error, Result};

/// `text` with every token replaced by [`ERASED`], or `None` when it holds none. A token cut
/// off at the end of the text (labels are clipped) is erased too, once the cut keeps at least
/// one character after the token's last `_` (or half the token when it has none).
pub(super) fn erase_tokens(text: &str, tokens: &[&str]) -> Option<String> {
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

impl KnowledgeGraph {
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
    pub(super) async fn erase_locked(&self, tokens: &[String]) -> Result<ErasureCounts> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
