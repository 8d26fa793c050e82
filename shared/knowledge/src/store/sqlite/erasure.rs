//! [`GraphStore::erase`](crate::store::GraphStore::erase): data-subject erasure on the sqlx
//! write pool, deleting or re-keying nodes with their edges and term bitmaps.

use std::collections::HashMap;

use sqlx::{Sqlite, Transaction};

use super::ids::{refresh, SharedDirectory, StoredId};
use super::statements::{EDGE_CONFLICT, NODE_INSERT, NODE_MERGE};
use super::{json_list, micros, terms, SqliteStore};
use crate::model::TenantId;
use crate::store::{id_bytes, Erasure, ErasureCounts, NodeRow};
use crate::Result;

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

impl SqliteStore {
    /// [`GraphStore::erase`](crate::store::GraphStore::erase).
    pub(super) async fn erase_nodes(
        &self,
        tenant: &TenantId,
        erasure: &Erasure,
    ) -> Result<ErasureCounts> {
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
