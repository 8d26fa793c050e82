//! The writer's statements: multi-row INSERTs numbered for shared values, the node merge,
//! the bitmap and edge upserts, and the row parameters bound to them.

use super::ids::StoredId;
use super::writer::write_err;
use super::{json_list, terms};
use crate::store::NodeRow;
use crate::{Error, Result};

/// JSON text of a row's `attrs` (`{}` without serialising for the usual empty object).
pub(super) fn attrs_json(v: &serde_json::Value) -> std::borrow::Cow<'static, str> {
    match v {
        serde_json::Value::Object(m) if m.is_empty() => std::borrow::Cow::Borrowed("{}"),
        _ => std::borrow::Cow::Owned(v.to_string()),
    }
}

/// JSON texts of a batch's source lists, each list encoded once it differs from the previous
/// one (the rows of a batch usually share one list), kept for the batch so that many rows'
/// parameters can refer to them at once.
#[derive(Default)]
pub(super) struct SourcesJson {
    pub(super) list: Vec<String>,
    pub(super) json: Vec<String>,
}

impl SourcesJson {
    /// Index (for [`Self::json`]) of the JSON text of `v`.
    pub(super) fn index(&mut self, v: &[String]) -> usize {
        if self.json.is_empty() || self.list != v {
            self.list = v.to_vec();
            self.json.push(json_list(v));
        }
        self.json.len() - 1
    }

    /// The JSON text of `v` (see [`Self::index`]).
    pub(super) fn get(&mut self, v: &[String]) -> &str {
        let i = self.index(v);
        &self.json[i]
    }

    /// The JSON text an [`Self::index`] names.
    pub(super) fn json(&self, i: usize) -> &String {
        &self.json[i]
    }
}

/// Insert of a new node (its id is in no stored row: see [`ids`](super::ids)); erasure's.
pub(super) const NODE_INSERT: &str =
    "INSERT INTO nodes (id, tenant_id, kind, key_ct, label_ct, attrs, \
     sources, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
/// Merge of a node into its stored row: label replaced when given, attributes patched,
/// sources union, times widen, the term list ([`terms`]) replaced when given.
pub(super) const NODE_MERGE: &str = "UPDATE nodes SET \
     label_ct = COALESCE(?2, label_ct), \
     attrs = json_patch(attrs, ?3), \
     sources = CASE WHEN ?4 = sources THEN sources ELSE \
               (SELECT json_group_array(value) FROM (SELECT value FROM json_each(sources) \
                UNION SELECT value FROM json_each(?4) ORDER BY 1)) END, \
     first_seen = MIN(first_seen, ?5), \
     last_seen = MAX(last_seen, ?6), \
     terms = COALESCE(?7, terms) \
     WHERE nid = ?1";
/// New nodes per execution of the multi-row node insert (eight parameters each, and the
/// tenant). One statement per node paid, besides its start and end, `AUTOINCREMENT`'s
/// bookkeeping: a read and a rewrite of the `sqlite_sequence` row per node.
pub(super) const NODE_ROWS: usize = 64;

/// `INSERT OR ROLLBACK INTO nodes` of `rows` new nodes, the tenant bound once as `?1`, and
/// with `shared` their attributes and sources too (`?2`, `?3`: each text or blob bound is a copy
/// SQLite allocates). Rows get their nids in `VALUES` order, each one past the previous (see
/// [`insert_nodes`](super::writer::insert_nodes), which checks that). A violated constraint rolls
/// the batch back either way; `OR ROLLBACK` says so to SQLite, which then keeps no statement
/// journal for the multi-row statement.
pub(super) fn node_insert_sql(rows: usize, shared: bool) -> String {
    use Param::{Own, Shared};
    let (attrs, sources, first, last, terms) = if shared {
        (Shared(2), Shared(3), Own(4), Own(5), Own(6))
    } else {
        (Own(4), Own(5), Own(6), Own(7), Own(8))
    };
    numbered_rows_sql(
        "INSERT OR ROLLBACK INTO nodes (id, tenant_id, kind, key_ct, label_ct, attrs, sources, \
         first_seen, last_seen, terms) VALUES ",
        &[
            Own(0),
            Shared(1),
            Own(1),
            Own(2),
            Own(3),
            attrs,
            sources,
            first,
            last,
            terms,
        ],
        rows,
    )
}

/// SQL texts of an insert, built once per process: the multi-row statement with the values
/// of each row, the one with shared values, and the single-row one.
pub(super) type InsertSql = std::sync::OnceLock<[String; 3]>;

/// The SQL of a `rows`-row insert (`many` rows, or 1) from `cache`, built by `build` (rows,
/// shared) at the first call.
pub(super) fn insert_sql(
    cache: &'static InsertSql,
    build: fn(usize, bool) -> String,
    many: usize,
    rows: usize,
    shared: bool,
) -> &'static str {
    let [each, with_shared, one] =
        cache.get_or_init(|| [build(many, false), build(many, true), build(1, false)]);
    match (rows, shared) {
        (1, _) => one,
        (_, false) => each,
        (_, true) => with_shared,
    }
}

/// Which of a write's kept statements ([`prepared`]) an insert of `rows` rows is, in the
/// order of [`insert_sql`]'s texts.
pub(super) fn insert_slot(rows: usize, shared: bool) -> usize {
    match (rows, shared) {
        (1, _) => 2,
        (_, false) => 0,
        (_, true) => 1,
    }
}

/// The statement in `slot`, prepared from `sql` (through the connection's cache) at its first
/// use in a write and then kept for the rest of it: each cache lookup hashes and compares the
/// SQL text, kilobytes for the multi-row inserts, and putting a statement back hashes it again.
pub(super) fn prepared<'s, 'c>(
    slot: &'s mut Option<rusqlite::CachedStatement<'c>>,
    conn: &'c rusqlite::Connection,
    sql: &str,
) -> Result<&'s mut rusqlite::CachedStatement<'c>> {
    if slot.is_none() {
        *slot = Some(conn.prepare_cached(sql).map_err(write_err)?);
    }
    slot.as_mut().ok_or(Error::Database {
        class: "statement not prepared",
        code: None,
        retryable: false,
    })
}

/// [`insert_sql`] of the node insert ([`NODE_ROWS`] or 1 rows).
pub(super) fn node_sql(rows: usize, shared: bool) -> &'static str {
    static SQL: InsertSql = std::sync::OnceLock::new();
    insert_sql(&SQL, node_insert_sql, NODE_ROWS, rows, shared)
}

/// [`insert_sql`] of the edge insert ([`EDGE_ROWS`] or 1 rows).
pub(super) fn edge_sql(rows: usize, shared: bool) -> &'static str {
    static SQL: InsertSql = std::sync::OnceLock::new();
    insert_sql(&SQL, edge_insert_sql, EDGE_ROWS, rows, shared)
}

/// A parameter of a row of [`numbered_rows_sql`].
#[derive(Clone, Copy)]
pub(super) enum Param {
    /// `?n`, bound once per statement (numbered from 1).
    Shared(usize),
    /// The row's own k-th parameter (numbered after the shared ones, in row order).
    Own(usize),
}

/// `head` followed by `rows` tuples of numbered parameters (see [`Param`]), comma-separated.
pub(super) fn numbered_rows_sql(head: &str, row: &[Param], rows: usize) -> String {
    use std::fmt::Write as _;
    let (mut shared, mut per_row) = (0, 0);
    for p in row {
        match *p {
            Param::Shared(n) => shared = shared.max(n),
            Param::Own(k) => per_row = per_row.max(k + 1),
        }
    }
    let mut sql = String::with_capacity(head.len() + rows * row.len() * 7);
    sql.push_str(head);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for (i, p) in row.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let n = match *p {
                Param::Shared(n) => n,
                Param::Own(k) => shared + 1 + r * per_row + k,
            };
            let _ = write!(sql, "?{n}");
        }
        sql.push(')');
    }
    sql
}

/// The values of one new node, in [`node_insert_sql`]'s column order (the tenant aside).
pub(super) struct NodeParams<'a> {
    /// Index of the node in the batch.
    pub(super) index: usize,
    pub(super) id: StoredId,
    pub(super) kind: &'static str,
    pub(super) row: &'a NodeRow,
    pub(super) attrs: std::borrow::Cow<'static, str>,
    pub(super) sources: usize,
    pub(super) first_seen: i64,
    pub(super) last_seen: i64,
    /// The stored form of its term list ([`terms::encode`]).
    pub(super) terms: Option<Vec<u8>>,
}

impl NodeParams<'_> {
    /// Pushes the row's own parameters (with `shared`, not its attributes and sources).
    pub(super) fn push_to<'s>(
        &'s self,
        values: &mut Vec<&'s dyn rusqlite::ToSql>,
        sources: &'s SourcesJson,
        shared: bool,
    ) {
        values.extend_from_slice(&[
            &self.id as &dyn rusqlite::ToSql,
            &self.kind,
            &self.row.key_ct,
            &self.row.label_ct,
        ]);
        if !shared {
            values.extend_from_slice(&[
                &self.attrs as &dyn rusqlite::ToSql,
                sources.json(self.sources),
            ]);
        }
        values.extend_from_slice(&[
            &self.first_seen as &dyn rusqlite::ToSql,
            &self.last_seen,
            &self.terms,
        ]);
    }
}

/// Bitmap rows per execution of the multi-row bitmap upsert (three parameters each).
pub(super) const BITMAP_ROWS: usize = 64;

/// Single-row edge insert (with [`EDGE_CONFLICT`]: the merge of one edge).
pub(super) const EDGE_INSERT: &str =
    "INSERT INTO edges (src, kind, dst, tenant_id, sources, first_seen, \
     last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// The upsert of `rows` `term_bits` rows `(term, block, bits)`: each row's bits or-ed into a
/// stored row of its term and block ([`terms::BITS_CONFLICT`]). The rows of one statement
/// are distinct (a batch's bitmaps hold one row per term and block).
pub(super) fn bitmap_upsert_sql(rows: usize) -> String {
    let mut sql = multi_row_sql(
        "INSERT INTO term_bits (term, block, bits) VALUES ",
        "(?, ?, ?)",
        rows,
    );
    sql.push_str(terms::BITS_CONFLICT);
    sql
}

/// Edges per execution of the multi-row edge insert (six parameters each, and the tenant).
pub(super) const EDGE_ROWS: usize = 64;

/// `INSERT OR ROLLBACK INTO edges` of `rows` new edges, the tenant bound once as `?1`, and
/// with `shared` their sources too (`?2`). A violated constraint fails the whole transaction
/// either way (the batch is rolled back); `OR ROLLBACK` says so to SQLite, which then keeps no
/// statement journal for the multi-row statement.
pub(super) fn edge_insert_sql(rows: usize, shared: bool) -> String {
    use Param::{Own, Shared};
    let (sources, first, last) = if shared {
        (Shared(2), Own(3), Own(4))
    } else {
        (Own(3), Own(4), Own(5))
    };
    numbered_rows_sql(
        "INSERT OR ROLLBACK INTO edges (src, kind, dst, tenant_id, sources, first_seen, \
         last_seen) VALUES ",
        &[Own(0), Own(1), Own(2), Shared(1), sources, first, last],
        rows,
    )
}

/// `head` followed by `rows` copies of the placeholder tuple `row`, comma-separated.
pub(super) fn multi_row_sql(head: &str, row: &str, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + rows * (row.len() + 2));
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    sql
}

/// The values of one new edge, in [`edge_insert_sql`]'s column order (the tenant aside).
pub(super) struct EdgeParams<'a> {
    pub(super) src: i64,
    pub(super) kind: &'a str,
    pub(super) dst: i64,
    pub(super) sources: usize,
    pub(super) first_seen: i64,
    pub(super) last_seen: i64,
}

impl EdgeParams<'_> {
    /// Pushes the row's own parameters (with `shared`, not its sources).
    pub(super) fn push_to<'s>(
        &'s self,
        values: &mut Vec<&'s dyn rusqlite::ToSql>,
        sources: &'s SourcesJson,
        shared: bool,
    ) {
        values.extend_from_slice(&[&self.src as &dyn rusqlite::ToSql, &self.kind, &self.dst]);
        if !shared {
            values.push(sources.json(self.sources));
        }
        values.extend_from_slice(&[&self.first_seen as &dyn rusqlite::ToSql, &self.last_seen]);
    }
}

/// Merge rule of an edge upsert: sources union, times widen. A replayed edge that changes
/// nothing is not rewritten (no page dirtied).
pub(super) const EDGE_CONFLICT: &str = " ON CONFLICT (src, kind, dst) DO UPDATE SET \
     sources = CASE WHEN excluded.sources = edges.sources THEN edges.sources ELSE \
               (SELECT json_group_array(value) FROM (SELECT value FROM json_each(edges.sources) \
                UNION SELECT value FROM json_each(excluded.sources) ORDER BY 1)) END, \
     first_seen = MIN(edges.first_seen, excluded.first_seen), \
     last_seen = MAX(edges.last_seen, excluded.last_seen) \
     WHERE excluded.sources <> edges.sources OR excluded.first_seen < edges.first_seen \
        OR excluded.last_seen > edges.last_seen";

#[cfg(test)]
mod tests {
    use super::{edge_insert_sql, node_insert_sql};

    #[test]
    fn multi_row_inserts_number_shared_values_once() {
        let values = |sql: String| sql.split_once(" VALUES ").unwrap().1.to_owned();
        assert_eq!(
            values(edge_insert_sql(2, true)),
            "(?3, ?4, ?5, ?1, ?2, ?6, ?7), (?8, ?9, ?10, ?1, ?2, ?11, ?12)"
        );
        assert_eq!(
            values(edge_insert_sql(1, false)),
            "(?2, ?3, ?4, ?1, ?5, ?6, ?7)"
        );
        assert_eq!(
            values(node_insert_sql(2, true)),
            "(?4, ?1, ?5, ?6, ?7, ?2, ?3, ?8, ?9, ?10), (?11, ?1, ?12, ?13, ?14, ?2, ?3, ?15, ?16, ?17)"
        );
        assert_eq!(
            values(node_insert_sql(1, false)),
            "(?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        );
    }
}
