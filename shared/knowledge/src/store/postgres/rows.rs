//! Rows between Rust and PostgreSQL: node and edge rows read back, node ids in their stored
//! form (schema 12), source lists joined for binding.

use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::model::{EdgeKind, NodeKind};
use crate::store::{decode_err, id_bytes, EdgeRow, NodeRow};
use crate::{Error, Result};

pub(super) fn node_from_row(r: &PgRow) -> Result<NodeRow> {
    let kind: String = r.try_get("kind")?;
    Ok(NodeRow {
        id: r.try_get("id")?,
        kind: NodeKind::parse(&kind).ok_or_else(|| decode_err("unknown node kind"))?,
        key_ct: r.try_get("key_ct")?,
        label_ct: r.try_get("label_ct")?,
        attrs: r.try_get("attrs")?,
        sources: r.try_get("sources")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
    })
}

pub(super) fn edge_from_row(r: &PgRow) -> Result<EdgeRow> {
    let kind: String = r.try_get("kind")?;
    Ok(EdgeRow {
        kind: EdgeKind::parse(&kind).ok_or_else(|| decode_err("unknown edge kind"))?,
        src: r.try_get("src")?,
        dst: r.try_get("dst")?,
        sources: r.try_get("sources")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
    })
}

/// A node id as stored since schema 12: the bytes of its lowercase hex, read back by
/// `encode(id, 'hex')`. Every id the graph writes is the hex of a 16-byte blind index; any
/// other id is refused before it reaches the database.
pub(super) fn stored_id(id: &str) -> Result<Vec<u8>> {
    id_bytes(id).ok_or_else(|| Error::InvalidRecord("node id is not lowercase hex".into()))
}

/// [`stored_id`] of each of `ids`, for a write.
pub(super) fn stored_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<Vec<Vec<u8>>> {
    ids.into_iter().map(stored_id).collect()
}

/// The stored forms of the ids a read asks for: an id that cannot be stored matches nothing.
pub(super) fn wanted_ids(ids: &[String]) -> Vec<Vec<u8>> {
    ids.iter().filter_map(|id| id_bytes(id)).collect()
}

/// Sources travel as one string per row, joined by the unit separator (source names are
/// identifiers; a separator inside one is refused).
const SEP: char = '\u{1f}';

pub(super) fn joined(v: &[String]) -> Result<String> {
    if v.iter().any(|s| s.contains(SEP)) {
        return Err(Error::InvalidRecord(
            "source name contains a control character".into(),
        ));
    }
    Ok(v.join("\u{1f}"))
}
