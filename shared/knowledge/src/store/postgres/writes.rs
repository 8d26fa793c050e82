//! [`GraphStore::upsert`](crate::store::GraphStore::upsert): a batch's nodes looked up, inserted or
//! merged, its term changes applied, its edges written, in one transaction under the policies'
//! tenant.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};

use super::postings::Postings;
use super::rows::{joined, stored_ids};
use super::{Access, PostgresStore};
use crate::model::{EdgeKind, TenantId};
use crate::store::term_sets::{difference, BatchTerms};
use crate::store::{missing_node, EdgeRow, NodeRow, RowBatch};
use crate::{Error, Result};

/// The stored nodes among a batch's ids (`$2`, as [`stored_ids`]), locked for the merge: one
/// probe of the `(id, tenant_id)` index per id (`LATERAL`). The plain `id = ANY($2)` form is
/// planned from the tenant's estimated row count: without statistics, an index scan of the
/// tenant's every row with the ids as a filter, which no planner setting rules out.
pub(super) const NODE_LOOKUP: &str = "SELECT encode(n.id, 'hex') AS id, n.nid, n.terms \
     FROM unnest($2::bytea[]) AS u(id) \
     CROSS JOIN LATERAL (SELECT id, nid, terms FROM nodes \
       WHERE tenant_id = $1 AND nodes.id = u.id FOR NO KEY UPDATE) n";

/// The integer keys of stored edge ends (`$2`), locked so that the nodes stay until commit;
/// one index probe per id, as [`NODE_LOOKUP`].
pub(super) const NID_LOOKUP: &str = "SELECT encode(n.id, 'hex') AS id, n.nid \
     FROM unnest($2::bytea[]) AS u(id) \
     CROSS JOIN LATERAL (SELECT id, nid FROM nodes \
       WHERE tenant_id = $1 AND nodes.id = u.id FOR KEY SHARE) n";

/// Per-node term lists as one flat array and each node's 1-based `[lo:hi]` slice of it (an
/// empty list is `hi < lo`, written as NULL): PostgreSQL has no arrays of ragged arrays.
struct TermSlices {
    flat: Vec<i64>,
    lo: Vec<i32>,
    hi: Vec<i32>,
}

impl TermSlices {
    fn new<'a>(lists: impl Iterator<Item = &'a [i64]>) -> Result<Self> {
        let mut out = Self {
            flat: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
        };
        for terms in lists {
            let lo = i32::try_from(out.flat.len() + 1).map_err(|_| too_many_terms())?;
            out.flat.extend_from_slice(terms);
            out.lo.push(lo);
            out.hi
                .push(i32::try_from(out.flat.len()).map_err(|_| too_many_terms())?);
        }
        Ok(out)
    }
}

fn too_many_terms() -> Error {
    Error::InvalidRecord("too many term hashes in one batch".into())
}

/// The SQL expression of one node's term array from [`TermSlices`] bound as `$flat` and
/// unnested as `u.lo`, `u.hi`: NULL when the node has no terms.
fn term_slice_sql(flat: &str) -> String {
    format!("CASE WHEN u.hi >= u.lo THEN ({flat}::bigint[])[u.lo:u.hi] END")
}

/// A unique violation of the plain node insert means a concurrent writer stored the node after
/// the lookup: retryable, unlike other unique violations.
fn raced_insert(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            Error::Database {
                class: "node stored concurrently (retry the batch)",
                code: db.code().map(std::borrow::Cow::into_owned),
                retryable: true,
            }
        }
        _ => e.into(),
    }
}

/// Writes node rows with their term hashes (`terms[i]` for `nodes[i]`, sorted and unique).
/// One lookup finds the stored ones and locks them `FOR NO KEY UPDATE`; the others are
/// inserted with plain INSERTs, the stored ones merged (label replaced when given,
/// attributes merged, sources union, times widen, terms union). Records each blind id's
/// integer key in `nids`, the keys of inserted nodes in `fresh`, and the terms each node
/// gained in `postings`.
///
/// A fresh node has no edges yet (its `nid` was never used), so theirs are written without
/// conflict handling. Were a node inserted by a concurrent writer that does not hold the
/// tenant's write lock between the lookup and the insert, the insert fails with a unique
/// violation and the batch rolls back (never a duplicate), as a retryable error: the retry
/// finds the node stored and merges into it.
pub(super) async fn write_nodes(
    tx: &mut Transaction<'static, Postgres>,
    t: &str,
    nodes: &[NodeRow],
    terms: &BatchTerms,
    nids: &mut HashMap<String, i64>,
    fresh: &mut HashSet<i64>,
    postings: &mut Postings,
) -> Result<()> {
    if nodes.is_empty() {
        return Ok(());
    }
    let ids = stored_ids(nodes.iter().map(|x| x.id.as_str()))?;
    let rows = sqlx::query(NODE_LOOKUP)
        .bind(t)
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?;
    let mut stored: HashMap<String, (i64, Vec<i64>)> = HashMap::with_capacity(rows.len());
    for r in rows {
        let old: Option<Vec<i64>> = r.try_get("terms")?;
        stored.insert(
            r.try_get("id")?,
            (r.try_get("nid")?, old.unwrap_or_default()),
        );
    }
    let (mut new, mut old) = (Vec::with_capacity(nodes.len()), Vec::new());
    for (i, n) in nodes.iter().enumerate() {
        let terms = terms.of(i);
        match stored.get(&n.id) {
            Some((nid, had)) => {
                postings.add(*nid, &difference(terms, had));
                nids.insert(n.id.clone(), *nid);
                old.push((n, terms));
            }
            None => new.push((n, terms)),
        }
    }
    for (rows, insert) in [(new, true), (old, false)] {
        if rows.is_empty() {
            continue;
        }
        let n: Vec<&NodeRow> = rows.iter().map(|x| x.0).collect();
        let slices = TermSlices::new(rows.iter().map(|x| x.1))?;
        let ids = stored_ids(n.iter().map(|x| x.id.as_str()))?;
        let kinds: Vec<&str> = n.iter().map(|x| x.kind.as_str()).collect();
        let keys: Vec<&[u8]> = n.iter().map(|x| x.key_ct.as_slice()).collect();
        let labels: Vec<Option<&[u8]>> = n.iter().map(|x| x.label_ct.as_deref()).collect();
        let attrs: Vec<&serde_json::Value> = n.iter().map(|x| &x.attrs).collect();
        let sources: Vec<String> = n
            .iter()
            .map(|x| joined(&x.sources))
            .collect::<Result<_>>()?;
        let first: Vec<DateTime<Utc>> = n.iter().map(|x| x.first_seen).collect();
        let last: Vec<DateTime<Utc>> = n.iter().map(|x| x.last_seen).collect();
        let sql = node_write_sql(insert);
        let query = sqlx::query(&sql)
            .bind(t)
            .bind(&ids)
            .bind(&kinds)
            .bind(&keys)
            .bind(&labels)
            .bind(&attrs)
            .bind(&sources)
            .bind(&first)
            .bind(&last)
            .bind(&slices.flat)
            .bind(&slices.lo)
            .bind(&slices.hi);
        if insert {
            let terms_of: HashMap<&str, &[i64]> = rows
                .iter()
                .map(|(n, terms)| (n.id.as_str(), *terms))
                .collect();
            for r in query.fetch_all(&mut **tx).await.map_err(raced_insert)? {
                let nid: i64 = r.try_get("nid")?;
                let id: String = r.try_get("id")?;
                postings.add(nid, terms_of.get(id.as_str()).copied().unwrap_or_default());
                fresh.insert(nid);
                nids.insert(id, nid);
            }
        } else {
            query.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// The statement that writes a batch's new nodes (`insert`, returning their ids and nids) or
/// merges its stored ones: `$1` the tenant, `$2`.. the columns as arrays (see
/// [`write_nodes`]).
pub(super) fn node_write_sql(insert: bool) -> String {
    let unnest = "UNNEST($2::bytea[], $3::text[], $4::bytea[], $5::bytea[], $6::jsonb[], \
                  $7::text[], $8::timestamptz[], $9::timestamptz[], $11::int[], $12::int[]) \
                  AS u(id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen, lo, hi)";
    let terms = term_slice_sql("$10");
    let insert_rows = format!(
        "INSERT INTO nodes (tenant_id, id, kind, key_ct, label_ct, attrs, sources, first_seen, \
                            last_seen, terms) \
         SELECT $1, u.id, u.kind, u.key_ct, u.label_ct, u.attrs, \
                string_to_array(u.sources, chr(31)), u.first_seen, u.last_seen, {terms} \
         FROM {unnest}"
    );
    if insert {
        format!("{insert_rows} RETURNING encode(id, 'hex') AS id, nid")
    } else {
        // The merge goes through the insert's conflict check, a probe of the
        // `(id, tenant_id)` index per row whatever the statistics say: an `UPDATE ... FROM
        // UNNEST` join was planned from the tenant's estimated row count, and without
        // statistics it scanned the tenant's every node (a hash join), or did so once per
        // merged row (a nested loop over the scan). Every row conflicts (the lookup found
        // and locked it); the unused nid it draws from the sequence leaves a gap.
        format!(
            "{insert_rows} ON CONFLICT (id, tenant_id) DO UPDATE SET \
               label_ct = COALESCE(EXCLUDED.label_ct, nodes.label_ct), \
               attrs = nodes.attrs || EXCLUDED.attrs, \
               sources = CASE WHEN nodes.sources = EXCLUDED.sources \
                         THEN nodes.sources ELSE ARRAY(SELECT DISTINCT s FROM \
                         unnest(nodes.sources || EXCLUDED.sources) s ORDER BY s) END, \
               first_seen = LEAST(nodes.first_seen, EXCLUDED.first_seen), \
               last_seen = GREATEST(nodes.last_seen, EXCLUDED.last_seen), \
               terms = CASE WHEN EXCLUDED.terms IS NULL OR EXCLUDED.terms <@ nodes.terms \
                       THEN nodes.terms \
                       ELSE ARRAY(SELECT DISTINCT x FROM unnest(nodes.terms || EXCLUDED.terms) x \
                       ORDER BY x) END"
        )
    }
}

/// Adds the integer keys of `ids` (already in the graph) to `nids`, locking their rows
/// `FOR KEY SHARE`: they stay until commit (edges have no foreign keys: see migration 0003).
async fn lookup_nids(
    tx: &mut Transaction<'static, Postgres>,
    t: &str,
    ids: &[String],
    nids: &mut HashMap<String, i64>,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query(NID_LOOKUP)
        .bind(t)
        .bind(stored_ids(ids.iter().map(String::as_str))?)
        .fetch_all(&mut **tx)
        .await?;
    for r in rows {
        nids.insert(r.try_get("id")?, r.try_get("nid")?);
    }
    Ok(())
}

/// Filter of a batch's edges that may be stored already, ahead of [`EDGE_CONFLICT`]: an edge
/// whose stored row holds its sources and times already is left alone, without the row lock
/// and conflict check of the merge (a replayed batch). Stored edges are only deleted by an
/// erasure, which first locks their nodes `FOR UPDATE`, and the upsert holds locks on the
/// nodes of all of its edges: a skipped edge stays.
pub(super) const EDGE_UNCHANGED: &str = " WHERE NOT EXISTS (SELECT 1 FROM edges e \
   WHERE e.src = u.src AND e.kind = u.kind AND e.dst = u.dst \
     AND e.sources @> string_to_array(u.sources, chr(31)) \
     AND e.first_seen <= u.first_seen AND e.last_seen >= u.last_seen)";

/// The statement that writes a batch's edges: `$1` the tenant, `$2`.. the columns as arrays
/// (src, kind, dst, joined sources, first and last seen); `unchanged` and `merge` are "" for
/// edges of fresh nodes, [`EDGE_UNCHANGED`] and [`EDGE_CONFLICT`] for the others.
pub(super) fn edge_write_sql(unchanged: &str, merge: &str) -> String {
    format!(
        "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, last_seen) \
         SELECT u.src, u.kind, u.dst, $1, string_to_array(u.sources, chr(31)), \
                u.first_seen, u.last_seen \
         FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[], \
                     $7::timestamptz[]) AS u(src, kind, dst, sources, first_seen, last_seen)\
         {unchanged}{merge}"
    )
}

/// Merge rule of an edge upsert: sources union, times widen. A replayed edge that changes
/// nothing is not rewritten (no new tuple version, no index entries).
pub(super) const EDGE_CONFLICT: &str = " ON CONFLICT (src, kind, dst) DO UPDATE SET \
   sources = CASE WHEN edges.sources = EXCLUDED.sources THEN edges.sources ELSE \
             ARRAY(SELECT DISTINCT s FROM unnest(edges.sources || EXCLUDED.sources) s ORDER BY s) END, \
   first_seen = LEAST(edges.first_seen, EXCLUDED.first_seen), \
   last_seen = GREATEST(edges.last_seen, EXCLUDED.last_seen) \
   WHERE EXCLUDED.sources <> edges.sources OR EXCLUDED.first_seen < edges.first_seen \
      OR EXCLUDED.last_seen > edges.last_seen";

impl PostgresStore {
    /// [`GraphStore::upsert`](crate::store::GraphStore::upsert).
    pub(super) async fn write_batch(&self, tenant: &TenantId, batch: &RowBatch) -> Result<()> {
        let mut tx = self.begin(tenant, Access::Upsert).await?;
        let t = tenant.as_str();
        let mut nids: HashMap<String, i64> = HashMap::with_capacity(batch.nodes.len());
        let mut fresh: HashSet<i64> = HashSet::with_capacity(batch.nodes.len());
        let mut postings = Postings::default();
        let terms = BatchTerms::new(batch)?;
        write_nodes(
            &mut tx,
            t,
            &batch.nodes,
            &terms,
            &mut nids,
            &mut fresh,
            &mut postings,
        )
        .await?;
        postings.apply(&mut tx, t).await?;
        let outside = batch.edge_ends_outside(&nids);
        lookup_nids(&mut tx, t, &outside, &mut nids).await?;
        // Edges touching a fresh node cannot exist yet (each edge once: a repeated one goes
        // through the merge).
        let mut new_edges: Vec<(i64, &EdgeRow, i64)> = Vec::with_capacity(batch.edges.len());
        let mut old_edges: Vec<(i64, &EdgeRow, i64)> = Vec::new();
        let mut seen: HashSet<(i64, EdgeKind, i64)> = HashSet::with_capacity(batch.edges.len());
        for e in &batch.edges {
            let (Some(&s), Some(&d)) = (nids.get(&e.src), nids.get(&e.dst)) else {
                return Err(missing_node());
            };
            if (fresh.contains(&s) || fresh.contains(&d)) && seen.insert((s, e.kind, d)) {
                new_edges.push((s, e, d));
            } else {
                old_edges.push((s, e, d));
            }
        }
        for (rows, unchanged, merge) in [
            (new_edges, "", ""),
            (old_edges, EDGE_UNCHANGED, EDGE_CONFLICT),
        ] {
            if rows.is_empty() {
                continue;
            }
            let src: Vec<i64> = rows.iter().map(|x| x.0).collect();
            let dst: Vec<i64> = rows.iter().map(|x| x.2).collect();
            let kinds: Vec<&str> = rows.iter().map(|x| x.1.kind.as_str()).collect();
            let sources: Vec<String> = rows
                .iter()
                .map(|x| joined(&x.1.sources))
                .collect::<Result<_>>()?;
            let first: Vec<DateTime<Utc>> = rows.iter().map(|x| x.1.first_seen).collect();
            let last: Vec<DateTime<Utc>> = rows.iter().map(|x| x.1.last_seen).collect();
            sqlx::query(&edge_write_sql(unchanged, merge))
                .bind(t)
                .bind(&src)
                .bind(&kinds)
                .bind(&dst)
                .bind(&sources)
                .bind(&first)
                .bind(&last)
                .execute(&mut *tx)
                .await?;
        }
        // Last, so that the tenant's row is locked for the commit only.
        sqlx::query("UPDATE tenants SET writes = writes + 1 WHERE tenant_id = $1")
            .bind(t)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
