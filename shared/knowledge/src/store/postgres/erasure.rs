//! [`GraphStore::erase`](crate::store::GraphStore::erase): data-subject erasure, deleting or
//! re-keying nodes with their edges and term entries under row locks, counted in the tenant's
//! erasure count.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::postings::Postings;
use super::rows::wanted_ids;
use super::writes::{write_nodes, EDGE_CONFLICT};
use super::{Access, PostgresStore, ERASED_LOOKUP};
use crate::model::TenantId;
use crate::store::term_sets::{sorted_unique, BatchTerms};
use crate::store::{id_bytes, missing_node, Erasure, ErasureCounts};
use crate::Result;

impl PostgresStore {
    /// [`GraphStore::erase`](crate::store::GraphStore::erase).
    pub(super) async fn erase_nodes(
        &self,
        tenant: &TenantId,
        erasure: &Erasure,
    ) -> Result<ErasureCounts> {
        let mut tx = self.begin(tenant, Access::Write).await?;
        let t = tenant.as_str();
        let mut counts = ErasureCounts::default();
        let mut postings = Postings::default();
        if !erasure.delete.is_empty() {
            let rows = sqlx::query(ERASED_LOOKUP)
                .bind(t)
                .bind(wanted_ids(&erasure.delete))
                .fetch_all(&mut *tx)
                .await?;
            let mut nids: Vec<i64> = Vec::with_capacity(rows.len());
            for r in rows {
                let nid: i64 = r.try_get("nid")?;
                nids.push(nid);
                postings.remove(
                    nid,
                    &r.try_get::<Option<Vec<i64>>, _>("terms")?
                        .unwrap_or_default(),
                );
            }
            counts.edges_deleted =
                sqlx::query("DELETE FROM edges WHERE src = ANY($1) OR dst = ANY($1)")
                    .bind(&nids)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            counts.nodes_deleted = sqlx::query("DELETE FROM nodes WHERE nid = ANY($1)")
                .bind(&nids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        for rw in &erasure.rewrite {
            // An id that cannot be stored names no node.
            let Some(old_id) = id_bytes(&rw.old_id) else {
                continue;
            };
            let old = sqlx::query(
                "SELECT nid, terms FROM nodes WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            )
            .bind(t)
            .bind(old_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(old) = old else { continue };
            let old_nid: i64 = old.try_get("nid")?;
            let old_terms: Vec<i64> = old
                .try_get::<Option<Vec<i64>>, _>("terms")?
                .unwrap_or_default();
            let terms = sorted_unique(&rw.terms);
            postings.remove(old_nid, &old_terms);
            if rw.row.id == rw.old_id {
                // The node's terms are replaced.
                postings.add(old_nid, &terms);
                sqlx::query(
                    "UPDATE nodes SET key_ct = $1, label_ct = $2, terms = $3 WHERE nid = $4",
                )
                .bind(rw.row.key_ct.as_slice())
                .bind(rw.row.label_ct.as_deref())
                .bind((!terms.is_empty()).then_some(&terms))
                .bind(old_nid)
                .execute(&mut *tx)
                .await?;
            } else {
                // A node moved onto an existing one keeps that node's terms and adds its own.
                let mut nids = HashMap::new();
                write_nodes(
                    &mut tx,
                    t,
                    std::slice::from_ref(&rw.row),
                    &BatchTerms::single(&terms),
                    &mut nids,
                    &mut HashSet::new(),
                    &mut postings,
                )
                .await?;
                let new = *nids.get(&rw.row.id).ok_or_else(missing_node)?;
                sqlx::query(&format!(
                    "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) \
                     SELECT CASE WHEN src = $1 THEN $2 ELSE src END, kind, \
                            CASE WHEN dst = $1 THEN $2 ELSE dst END, tenant_id, sources, \
                            first_seen, last_seen \
                     FROM edges WHERE src = $1 OR dst = $1{EDGE_CONFLICT}"
                ))
                .bind(old_nid)
                .bind(new)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM edges WHERE src = $1 OR dst = $1")
                    .bind(old_nid)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM nodes WHERE nid = $1")
                    .bind(old_nid)
                    .execute(&mut *tx)
                    .await?;
            }
            counts.labels_rewritten += 1;
        }
        postings.apply(&mut tx, t).await?;
        // Readers' node cursors ([`GraphStore::nodes_since`]) are void from this commit on.
        sqlx::query("UPDATE tenants SET erasures = erasures + 1 WHERE tenant_id = $1")
            .bind(t)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(counts)
    }
}
