//! The upsert's writer: a plain SQLite connection (rusqlite) with cached prepared statements,
//! writing a batch in one immediate transaction.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::ids::{refresh_rusqlite, SharedDirectory, StoredId};
use super::statements::{
    attrs_json, bitmap_upsert_sql, edge_sql, insert_slot, node_sql, prepared, EdgeParams,
    NodeParams, SourcesJson, BITMAP_ROWS, EDGE_CONFLICT, EDGE_INSERT, EDGE_ROWS, NODE_MERGE,
    NODE_ROWS,
};
use super::{micros, terms};
use crate::id_hash::IdHash;
use crate::store::term_sets::{bitmap_rows, difference, union, BatchTerms};
use crate::store::{missing_node, EdgeRow, NodeRow, RowBatch};
use crate::{Error, Result};

/// A SQLite error of the direct writer connection as [`Error::Database`] (class and code
/// only: SQLite messages can quote values).
pub(super) fn write_err(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => {
            let (class, retryable) = match (f.code, f.extended_code) {
                (_, 2067 | 1555) => ("unique violation", false),
                (_, 787) => ("foreign key violation (edge to an unknown node?)", false),
                (_, 1299) => ("not-null violation", false),
                (_, 275) => ("check violation", false),
                (ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked, _) => {
                    ("statement failed", true)
                }
                (ErrorCode::SystemIoFailure | ErrorCode::OutOfMemory | ErrorCode::DiskFull, _) => {
                    ("i/o", true)
                }
                _ => ("statement failed", false),
            };
            Error::Database {
                class,
                code: Some(f.extended_code.to_string()),
                retryable,
            }
        }
        _ => Error::Database {
            class: "statement failed",
            code: None,
            retryable: false,
        },
    }
}

/// Opens the tenant file's writer connection (the schema is already migrated), with the
/// pragmas of the sqlx connections except foreign keys: [`upsert_rows`] writes only edges
/// and term rows whose node keys it has just upserted or read in the same transaction (an
/// edge to a node neither in the batch nor stored fails and rolls back the batch), so the
/// checks (a lookup in `nodes` per edge end and term row) would only repeat them. Erasure,
/// on the sqlx writer, keeps them on.
pub(super) fn open_writer(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(write_err)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(write_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; \
         PRAGMA cache_size = -65536; PRAGMA temp_store = memory; \
         PRAGMA mmap_size = 268435456; PRAGMA wal_autocheckpoint = 16384;",
    )
    .map_err(write_err)?;
    conn.set_prepared_statement_cache_capacity(24);
    Ok(conn)
}

/// [`GraphStore::upsert`](crate::store::GraphStore::upsert) on the writer connection: one immediate
/// transaction, one cached statement per row kind; node ids mapped to nids through `dir` (brought
/// up to date inside the transaction, extended with the new nodes after the commit).
pub(super) fn upsert_rows(
    conn: &mut rusqlite::Connection,
    dir: &SharedDirectory,
    t: &str,
    batch: &RowBatch,
) -> Result<()> {
    use rusqlite::{params, OptionalExtension};
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(write_err)?;
    // The file has one writer at a time and the transaction keeps one snapshot from here to
    // the commit: after the refresh the directory knows every stored row, and every nid past
    // `last` is one this upsert inserts (nids are never reused). A fresh node has no edges
    // yet (those of a deleted node went before it), so its edges are written without
    // conflict handling.
    refresh_rusqlite(&tx, dir)?;
    let last = dir.read().loaded_to();
    let fresh = |nid: i64| nid > last;
    let mut nids: HashMap<&str, i64, IdHash> =
        HashMap::with_capacity_and_hasher(batch.nodes.len() + 64, IdHash::default());
    let mut inserted: Vec<(i64, StoredId)> = Vec::new();
    let mut sources = SourcesJson::default();
    let by_node = BatchTerms::new(batch)?;
    // The term rows to write, (term, nid): a new node's every term, a stored node's terms
    // that its list lacks.
    let mut term_rows: Vec<(i64, i64)> = Vec::with_capacity(batch.terms.len());
    {
        let known = dir.read();
        // A node the directory knows is merged into its row (a rowid update; with terms, after
        // a read of its list by rowid); a node it does not know, or whose row was deleted
        // since (erasure: no row to read or merge into), is inserted, at the end of the rowid
        // order.
        let mut merge = tx.prepare_cached(NODE_MERGE).map_err(write_err)?;
        let mut stored_terms = tx
            .prepare_cached("SELECT terms FROM nodes WHERE nid = ?1")
            .map_err(write_err)?;
        let mut new: Vec<NodeParams<'_>> = Vec::new();
        for (index, n) in batch.nodes.iter().enumerate() {
            let attrs = attrs_json(&n.attrs);
            let id = StoredId::of(&n.id);
            let mine = by_node.of(index);
            if let Some(nid) = known.get(&id) {
                // The terms this merge adds, and the new list (`None`: unchanged); `None` when
                // the row is gone.
                let added = if mine.is_empty() {
                    Some((Vec::new(), None))
                } else {
                    let stored: Option<Option<Vec<u8>>> = stored_terms
                        .query_row([nid], |r| r.get(0))
                        .optional()
                        .map_err(write_err)?;
                    match stored {
                        Some(list) => {
                            let had = terms::decode(list.as_deref())?;
                            let added = difference(mine, &had);
                            let list = if added.is_empty() {
                                None
                            } else {
                                terms::encode(&union(&had, &added))
                            };
                            Some((added, list))
                        }
                        None => None,
                    }
                };
                if let Some((added, list)) = added {
                    let merged = merge
                        .execute(params![
                            nid,
                            n.label_ct,
                            attrs,
                            sources.get(&n.sources),
                            micros(n.first_seen),
                            micros(n.last_seen),
                            list,
                        ])
                        .map_err(write_err)?;
                    if merged == 1 {
                        nids.insert(&n.id, nid);
                        term_rows.extend(added.into_iter().map(|term| (term, nid)));
                        continue;
                    }
                }
            }
            new.push(NodeParams {
                index,
                id,
                kind: n.kind.as_str(),
                row: n,
                attrs,
                sources: sources.index(&n.sources),
                first_seen: micros(n.first_seen),
                last_seen: micros(n.last_seen),
                terms: terms::encode(mine),
            });
        }
        let first = insert_nodes(&tx, t, &new, &sources)?;
        inserted.reserve(new.len());
        for (p, nid) in new.into_iter().zip(first..) {
            let row: &NodeRow = p.row;
            nids.insert(&row.id, nid);
            term_rows.extend(by_node.of(p.index).iter().map(|&term| (term, nid)));
            inserted.push((nid, p.id));
        }
        // Edge ends outside the batch (services, signatures): the directory's nid, once its
        // row is checked to exist (a rowid probe each).
        let mut exists = tx
            .prepare_cached("SELECT 1 FROM nodes WHERE nid = ?1")
            .map_err(write_err)?;
        for e in &batch.edges {
            for id in [&e.src, &e.dst] {
                if nids.contains_key(id.as_str()) {
                    continue;
                }
                if let Some(nid) = known.get(&StoredId::of(id)) {
                    if exists.exists([nid]).map_err(write_err)? {
                        nids.insert(id, nid);
                    }
                }
            }
        }
    }
    {
        // Term rows in (term, nid) order, without repeats (a node of the batch given
        // twice), then as bitmaps: one row per term and block of 64 nids, its bits
        // or-ed into a stored row of the same term and block.
        term_rows.sort_unstable();
        term_rows.dedup();
        let bitmaps = bitmap_rows(&term_rows);
        let mut chunks = bitmaps.chunks_exact(BITMAP_ROWS);
        if chunks.len() > 0 {
            let mut many = tx
                .prepare_cached(&bitmap_upsert_sql(BITMAP_ROWS))
                .map_err(write_err)?;
            for chunk in &mut chunks {
                many.execute(rusqlite::params_from_iter(
                    chunk
                        .iter()
                        .flat_map(|&(term, block, bits)| [term, block, bits]),
                ))
                .map_err(write_err)?;
            }
        }
        let mut one = tx
            .prepare_cached(&bitmap_upsert_sql(1))
            .map_err(write_err)?;
        for &(term, block, bits) in chunks.remainder() {
            one.execute(params![term, block, bits]).map_err(write_err)?;
        }
    }
    {
        // In primary key order (src, kind, dst).
        let mut edges: Vec<(i64, &str, i64, &EdgeRow)> = Vec::with_capacity(batch.edges.len());
        for e in &batch.edges {
            let (Some(&src), Some(&dst)) = (nids.get(e.src.as_str()), nids.get(e.dst.as_str()))
            else {
                return Err(missing_node());
            };
            edges.push((src, e.kind.as_str(), dst, e));
        }
        edges.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        // An edge touching a fresh node is new: the first of each key goes through the plain
        // multi-row insert, every other edge (stored ends, or a key repeated) through the merge.
        // The merges run after the inserts (a repeated key merges into its inserted first).
        let mut new: Vec<EdgeParams<'_>> = Vec::with_capacity(edges.len());
        let mut merged: Vec<(i64, &str, i64, &EdgeRow)> = Vec::new();
        let mut prev: Option<(i64, &str, i64)> = None;
        for (src, kind, dst, e) in edges {
            let repeated = prev == Some((src, kind, dst));
            prev = Some((src, kind, dst));
            if (fresh(src) || fresh(dst)) && !repeated {
                new.push(EdgeParams {
                    src,
                    kind,
                    dst,
                    sources: sources.index(&e.sources),
                    first_seen: micros(e.first_seen),
                    last_seen: micros(e.last_seen),
                });
            } else {
                merged.push((src, kind, dst, e));
            }
        }
        let mut statements: [Option<rusqlite::CachedStatement<'_>>; 2] = [None, None];
        let mut chunks = new.chunks_exact(EDGE_ROWS);
        for chunk in &mut chunks {
            // The sources bound once when the chunk's edges share them (the usual case).
            let shared = chunk.iter().all(|p| p.sources == chunk[0].sources);
            let slot = &mut statements[insert_slot(EDGE_ROWS, shared)];
            let many = prepared(slot, &tx, edge_sql(EDGE_ROWS, shared))?;
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(2 + 6 * chunk.len());
            values.push(&t);
            if shared {
                values.push(sources.json(chunk[0].sources));
            }
            for p in chunk {
                p.push_to(&mut values, &sources, shared);
            }
            many.execute(&*values).map_err(write_err)?;
        }
        let mut one = tx.prepare_cached(edge_sql(1, false)).map_err(write_err)?;
        for p in chunks.remainder() {
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(7);
            values.push(&t);
            p.push_to(&mut values, &sources, false);
            one.execute(&*values).map_err(write_err)?;
        }
        let mut merge = tx
            .prepare_cached(&format!("{EDGE_INSERT}{EDGE_CONFLICT}"))
            .map_err(write_err)?;
        for (src, kind, dst, e) in merged {
            merge
                .execute(params![
                    src,
                    kind,
                    dst,
                    t,
                    sources.get(&e.sources),
                    micros(e.first_seen),
                    micros(e.last_seen),
                ])
                .map_err(write_err)?;
        }
    }
    // The write count of node cursors (GraphStore::nodes_since).
    tx.prepare_cached("UPDATE bacca_tenant SET writes = writes + 1")
        .and_then(|mut bump| bump.execute([]))
        .map_err(write_err)?;
    tx.commit().map_err(write_err)?;
    let upto = inserted.last().map_or(last, |(nid, _)| *nid);
    dir.write().absorb(inserted, upto);
    Ok(())
}

/// Inserts the `new` nodes ([`NODE_ROWS`] per statement, the rest one by one) and returns the
/// nid of the first: the others follow it, one apart, in order.
///
/// `AUTOINCREMENT` gives each row one past the largest nid ever handed out (the larger of the
/// `sqlite_sequence` row and the largest stored nid, read first), in `VALUES` order. After
/// each statement the nid of its last row is checked to be as many past the previous
/// statement's as it inserted rows, so its rows hold exactly the nids in between; anything
/// else fails the batch.
pub(super) fn insert_nodes(
    tx: &rusqlite::Transaction<'_>,
    t: &str,
    new: &[NodeParams<'_>],
    sources: &SourcesJson,
) -> Result<i64> {
    if new.is_empty() {
        return Ok(0);
    }
    let mut prev: i64 = tx
        .prepare_cached(
            "SELECT MAX(IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'nodes'), 0), \
             IFNULL((SELECT MAX(nid) FROM nodes), 0))",
        )
        .map_err(write_err)?
        .query_row([], |r| r.get(0))
        .map_err(write_err)?;
    let first = prev + 1;
    let mut statements: [Option<rusqlite::CachedStatement<'_>>; 3] = [None, None, None];
    let mut run = |chunk: &[NodeParams<'_>]| {
        // Attributes and sources bound once when the chunk's nodes share them (the usual
        // case: no attributes, one source).
        let shared = chunk.len() > 1
            && chunk
                .iter()
                .all(|p| p.sources == chunk[0].sources && p.attrs == chunk[0].attrs);
        let slot = &mut statements[insert_slot(chunk.len(), shared)];
        let stmt = prepared(slot, tx, node_sql(chunk.len(), shared))?;
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(3 + 8 * chunk.len());
        values.push(&t);
        if shared {
            values.push(&chunk[0].attrs);
            values.push(sources.json(chunk[0].sources));
        }
        for p in chunk {
            p.push_to(&mut values, sources, shared);
        }
        stmt.execute(&*values).map_err(write_err)?;
        let last = tx.last_insert_rowid();
        if i64::try_from(chunk.len()).ok() != last.checked_sub(prev) {
            return Err(Error::Database {
                class: "new node ids out of sequence",
                code: None,
                retryable: false,
            });
        }
        prev = last;
        Ok(())
    };
    let mut chunks = new.chunks_exact(NODE_ROWS);
    for chunk in &mut chunks {
        run(chunk)?;
    }
    for p in chunks.remainder() {
        run(std::slice::from_ref(p))?;
    }
    Ok(first)
}
