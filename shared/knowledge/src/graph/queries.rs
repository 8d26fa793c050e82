//! Reads: nodes, `stats`, `export` and `similar` (past incidents ranked by shared signatures,
//! services and terms, each with its resolutions and documents).

use std::collections::{BTreeSet, HashMap, HashSet};

use bacca_audit::AuditEvent;
use serde::Serialize;

use super::{terms, KnowledgeGraph};
use crate::model::{Edge, EdgeKind, Node, NodeKind, TenantId};
use crate::signature::mask::template_matches;
use crate::store::{EdgeFilter, NodeFilter, SimilarQuery, Stats};
use crate::Result;

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

impl KnowledgeGraph {
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

    pub(super) async fn nodes_by_id(&self, ids: Vec<String>) -> Result<HashMap<String, Node>> {
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
