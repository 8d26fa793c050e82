//! The edges a batch implies with what is stored: new signatures generalised into stored
//! templates, service mentions in incident text, and incidents linked to logs and tickets of
//! other batches.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{IdMemo, KnowledgeGraph, LOG_LEAD_MINUTES};
use crate::id_hash::IdHash;
use crate::model::{Batch, Edge, EdgeKind, Node, NodeKind, NodeRef};
use crate::signature::mask::WILDCARD;
use crate::store::{EdgeFilter, EdgeRow};
use crate::Result;

/// The services a title names, each once, sorted: `name` maps each of its words (as
/// extraction splits them, lower-cased into `buf` as [`str::to_lowercase`] does) to a service
/// key, or to none. Written into `out`.
pub(super) fn services_named<'k>(
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
pub(super) fn lowercase_in<'a>(word: &'a str, buf: &'a mut String) -> &'a str {
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
pub(super) fn mention_word_slices(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .filter(|w| !w.is_empty())
}

/// `general` covers `specific`: as many words, each equal or a wildcard in `general`.
pub(super) fn generalises(general: &str, specific: &str) -> bool {
    let (mut g, mut s) = (general.split(' '), specific.split(' '));
    loop {
        match (g.next(), s.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == WILDCARD || a == b => {}
            _ => return false,
        }
    }
}

impl KnowledgeGraph {
    /// Maps each signature of the batch that is not stored yet onto the most specific stored
    /// signature whose template covers it (same words, wildcards where they differ): a miner
    /// that saw fewer variants in this batch keeps a word the stored template already turned
    /// into `<*>`, and the event would otherwise become a second signature. A batch template
    /// more general than the stored ones stays a new signature.
    pub(super) async fn generalise_signatures<'a>(
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
    pub(super) async fn link_service_mentions(&self, batch: &Batch) -> Result<Vec<Edge>> {
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
    pub(super) async fn link_across_batches(
        &self,
        batch: &Batch,
        ids: &mut IdMemo,
    ) -> Result<Vec<Edge>> {
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
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

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
}
