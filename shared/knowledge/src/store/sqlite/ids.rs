//! The SQLite store's id directory: a tenant file's node id -> nid map, held in memory.
//!
//! Node ids are keyed blind indexes, in random order. An index on them (schema 7 and before)
//! took a random insert per new node, and every batch dirtied most of its leaf pages, each
//! written to the WAL and later checkpointed once per batch. Since schema 8 the file has no
//! such index: the store maps ids to nids itself and its single writer keeps ids unique.
//!
//! Invariants the map relies on (schema 8): `nodes.nid` is `AUTOINCREMENT`, so a nid is never
//! handed out twice, and no statement changes the id of a stored row. A map entry is thus
//! either the id's current row or a row deleted since (erasure, possibly in another
//! process), which every reader finds absent; and the rows written since the map last read
//! the table are exactly those past the largest nid it has read ([`IdDirectory::loaded_to`]).
//! Readers and the writer bring the map up to date with [`refresh`] / [`refresh_rusqlite`]
//! before using it (the writer inside its write transaction, so nothing is written between).
//!
//! Memory: one entry per stored node (32 bytes, plus the hash map's control bytes and spare
//! capacity: up to about twice that just after it grows), loaded in one scan of `nodes` at
//! the tenant's first read or write in the process.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use sqlx::{Row, Sqlite};

use super::{id_bytes, write_err};
use crate::id_hash::IdHash;
use crate::Result;

/// A node id as stored in `nodes.id` (see [`id_bytes`]): the 16 bytes of the usual 32-character
/// lowercase hex id, the bytes of another lowercase hex id, or any other id as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StoredId {
    /// A 32-character lowercase hex id.
    Fixed([u8; 16]),
    /// Another lowercase hex id.
    Bytes(Box<[u8]>),
    /// Any other id, stored as text.
    Text(Box<str>),
}

impl StoredId {
    /// The stored form of `id` (no allocation for the usual 32-character hex id).
    pub(super) fn of(id: &str) -> Self {
        let mut fixed = [0u8; 16];
        if id.len() == 32
            && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && hex::decode_to_slice(id, &mut fixed).is_ok()
        {
            return Self::Fixed(fixed);
        }
        match id_bytes(id) {
            Some(b) => Self::Bytes(b.into_boxed_slice()),
            None => Self::Text(id.into()),
        }
    }

    /// The stored form of a `nodes.id` value read back: a blob, or text.
    fn from_blob(b: &[u8]) -> Self {
        match <[u8; 16]>::try_from(b) {
            Ok(fixed) => Self::Fixed(fixed),
            Err(_) => Self::Bytes(b.into()),
        }
    }
}

impl Hash for StoredId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // A `Bytes` id is never 16 bytes long (those are `Fixed`); the tags keep a `Bytes` and
        // a `Text` id of the same bytes apart.
        match self {
            Self::Fixed(b) => state.write(b),
            Self::Bytes(b) => {
                state.write(b);
                state.write_u8(1);
            }
            Self::Text(s) => {
                state.write(s.as_bytes());
                state.write_u8(2);
            }
        }
    }
}

impl rusqlite::ToSql for StoredId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Fixed(b) => ValueRef::Blob(b),
            Self::Bytes(b) => ValueRef::Blob(b),
            Self::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// Which nid each stored node id has (see the module doc).
#[derive(Debug, Default)]
pub(super) struct IdDirectory {
    nids: HashMap<StoredId, i64, IdHash>,
    loaded_to: i64,
}

impl IdDirectory {
    /// Largest nid read from the table (every row up to it is in the map).
    pub(super) const fn loaded_to(&self) -> i64 {
        self.loaded_to
    }

    /// The nid of `id`, if the map has it (the row may have been deleted since).
    pub(super) fn get(&self, id: &StoredId) -> Option<i64> {
        self.nids.get(id).copied()
    }

    /// The nids of `ids` that the map has, in order, without repeats.
    pub(super) fn nids_of(&self, ids: &[String]) -> Vec<i64> {
        let mut out: Vec<i64> = ids
            .iter()
            .filter_map(|id| self.get(&StoredId::of(id)))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Adds rows of `nodes` (read from the table, or committed by the writer), all rows up to
    /// nid `upto` being among them or known already. An id keeps its largest nid: rows read
    /// from an older snapshot never replace the row that succeeded a deleted one.
    pub(super) fn absorb(&mut self, rows: impl IntoIterator<Item = (i64, StoredId)>, upto: i64) {
        for (nid, id) in rows {
            let e = self.nids.entry(id).or_insert(nid);
            *e = (*e).max(nid);
        }
        self.loaded_to = self.loaded_to.max(upto);
    }

    /// Drops the entry of a deleted node (when it still names that nid).
    pub(super) fn forget(&mut self, id: &StoredId, nid: i64) {
        if self.nids.get(id) == Some(&nid) {
            self.nids.remove(id);
        }
    }
}

/// A tenant file's directory, shared by its readers and its writer.
#[derive(Debug, Default)]
pub(super) struct SharedDirectory(RwLock<IdDirectory>);

impl SharedDirectory {
    /// Shared access (lookups).
    pub(super) fn read(&self) -> RwLockReadGuard<'_, IdDirectory> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive access (adding rows).
    pub(super) fn write(&self) -> RwLockWriteGuard<'_, IdDirectory> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Rows of `nodes` past the directory's largest nid, in nid order.
const NEW_ROWS: &str = "SELECT nid, id FROM nodes WHERE nid > ?1 ORDER BY nid";

/// Brings `dir` up to date on an sqlx connection (a reader, or erasure's transaction).
pub(super) async fn refresh<'e, E>(exec: E, dir: &SharedDirectory) -> Result<()>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let from = dir.read().loaded_to();
    let rows = sqlx::query(
        "SELECT nid, CAST(id AS BLOB) AS id, typeof(id) = 'text' AS text FROM nodes \
         WHERE nid > ?1 ORDER BY nid",
    )
    .bind(from)
    .fetch_all(exec)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut read = Vec::with_capacity(rows.len());
    let mut upto = from;
    for r in &rows {
        let nid: i64 = r.try_get("nid")?;
        let id: Vec<u8> = r.try_get("id")?;
        let text: bool = r.try_get("text")?;
        let id = if text {
            StoredId::Text(
                String::from_utf8(id)
                    .map_err(|_| super::decode_err("node id not UTF-8"))?
                    .into(),
            )
        } else {
            StoredId::from_blob(&id)
        };
        upto = upto.max(nid);
        read.push((nid, id));
    }
    dir.write().absorb(read, upto);
    Ok(())
}

/// [`refresh`] on the writer connection.
pub(super) fn refresh_rusqlite(conn: &rusqlite::Connection, dir: &SharedDirectory) -> Result<()> {
    use rusqlite::types::ValueRef;
    let from = dir.read().loaded_to();
    let mut stmt = conn.prepare_cached(NEW_ROWS).map_err(write_err)?;
    let mut rows = stmt.query([from]).map_err(write_err)?;
    let mut read = Vec::new();
    let mut upto = from;
    while let Some(r) = rows.next().map_err(write_err)? {
        let nid: i64 = r.get(0).map_err(write_err)?;
        let id = match r.get_ref(1).map_err(write_err)? {
            ValueRef::Blob(b) => StoredId::from_blob(b),
            ValueRef::Text(t) => StoredId::Text(
                std::str::from_utf8(t)
                    .map_err(|_| super::decode_err("node id not UTF-8"))?
                    .into(),
            ),
            _ => return Err(super::decode_err("node id neither blob nor text")),
        };
        upto = upto.max(nid);
        read.push((nid, id));
    }
    if !read.is_empty() {
        dir.write().absorb(read, upto);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn stored_forms_and_absorb_keep_the_newest_row() {
        let hex = "00112233445566778899aabbccddeeff";
        assert!(matches!(StoredId::of(hex), StoredId::Fixed(_)));
        assert_eq!(
            StoredId::of("abcd"),
            StoredId::Bytes(vec![0xab, 0xcd].into())
        );
        assert_eq!(StoredId::of("svc:A"), StoredId::Text("svc:A".into()));
        let mut d = IdDirectory::default();
        d.absorb([(7, StoredId::of(hex)), (3, StoredId::of("x"))], 7);
        assert_eq!(d.loaded_to(), 7);
        // An older snapshot's row (nid 2, since deleted) does not replace the current one.
        d.absorb([(2, StoredId::of(hex))], 2);
        assert_eq!((d.get(&StoredId::of(hex)), d.loaded_to()), (Some(7), 7));
        assert_eq!(
            d.nids_of(&["x".into(), hex.into(), "x".into(), "y".into()]),
            [3, 7]
        );
        d.forget(&StoredId::of(hex), 6);
        assert_eq!(d.get(&StoredId::of(hex)), Some(7));
        d.forget(&StoredId::of(hex), 7);
        assert_eq!(d.get(&StoredId::of(hex)), None);
    }

    #[test]
    fn id_hash_is_stable_per_id_and_spreads_ids() {
        let h = IdHash::default();
        let ids: Vec<String> = (0..10_000u64)
            .map(|k| format!("{:032x}", u128::from(k) << 64 | u128::from(k)))
            .collect();
        let hashes: std::collections::HashSet<u64> =
            ids.iter().map(|id| h.hash_one(StoredId::of(id))).collect();
        assert_eq!(hashes.len(), ids.len());
        assert_eq!(
            h.hash_one(StoredId::of(&ids[7])),
            IdHash::default().hash_one(StoredId::of(&ids[7]))
        );
        // The low bits (the bucket of a small table) take many values too.
        let low: std::collections::HashSet<u64> = hashes.iter().map(|v| v & 1023).collect();
        assert!(low.len() > 900, "{}", low.len());
        let strs: std::collections::HashSet<u64> =
            ids.iter().map(|id| h.hash_one(id.as_str())).collect();
        assert_eq!(strs.len(), ids.len());
    }
}
