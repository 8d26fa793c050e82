//! A node's term hashes in SQLite (schema 10): a list in the node's row (`nodes.terms`, each
//! term as 8 big-endian bytes, ascending, no repeats; NULL for none) beside the `node_terms`
//! rows `(term, nid)` that `similar` looks terms up in. The list is what a node's terms are
//! read from: its count for `similar`'s text score, and the rows to delete on erasure.

use sqlx::{Sqlite, Transaction};

use super::TERM_CHUNK;
use crate::store::decode_err;
use crate::store::term_sets::{difference, sorted_unique, union};
use crate::Result;

/// The stored form of `terms` (ascending, no repeats): `None` when empty.
pub(super) fn encode(terms: &[i64]) -> Option<Vec<u8>> {
    (!terms.is_empty()).then(|| terms.iter().flat_map(|t| t.to_be_bytes()).collect())
}

/// The terms of a stored list (`None`: no terms).
///
/// # Errors
///
/// [`crate::Error::Database`] when the column is not a list of 8-byte terms.
pub(super) fn decode(list: Option<&[u8]>) -> Result<Vec<i64>> {
    let Some(bytes) = list else {
        return Ok(Vec::new());
    };
    let chunks = bytes.chunks_exact(8);
    if !chunks.remainder().is_empty() {
        return Err(decode_err("node term list not a multiple of 8 bytes"));
    }
    Ok(chunks
        .map(|c| i64::from_be_bytes(c.try_into().unwrap_or_default()))
        .collect())
}

/// Sets node `nid`'s terms in erasure's transaction: its stored list and rows replaced by
/// `terms` when `clear`, else `terms` added to them.
pub(super) async fn replace(
    tx: &mut Transaction<'_, Sqlite>,
    nid: i64,
    terms: &[i64],
    clear: bool,
) -> Result<()> {
    let stored: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT terms FROM nodes WHERE nid = ?")
            .bind(nid)
            .fetch_optional(&mut **tx)
            .await?;
    let old = decode(stored.flatten().as_deref())?;
    let want = sorted_unique(terms);
    let (gone, added, list) = if clear {
        (difference(&old, &want), difference(&want, &old), want)
    } else {
        let added = difference(&want, &old);
        let list = union(&old, &added);
        (Vec::new(), added, list)
    };
    for chunk in gone.chunks(TERM_CHUNK) {
        let mut qb = sqlx::QueryBuilder::<Sqlite>::new("DELETE FROM node_terms WHERE nid = ");
        qb.push_bind(nid).push(" AND term IN (");
        let mut sep = qb.separated(", ");
        for term in chunk {
            sep.push_bind(*term);
        }
        qb.push(")");
        qb.build().execute(&mut **tx).await?;
    }
    for chunk in added.chunks(TERM_CHUNK) {
        let mut qb = sqlx::QueryBuilder::<Sqlite>::new("INSERT INTO node_terms (term, nid) ");
        qb.push_values(chunk, |mut b, term| {
            b.push_bind(*term).push_bind(nid);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut **tx).await?;
    }
    if !gone.is_empty() || !added.is_empty() {
        sqlx::query("UPDATE nodes SET terms = ? WHERE nid = ?")
            .bind(encode(&list))
            .bind(nid)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_in_order() {
        let terms = [i64::MIN, -5, 0, 7, i64::MAX];
        let bytes = encode(&terms).unwrap();
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[8..16], &(-5_i64).to_be_bytes());
        assert_eq!(decode(Some(&bytes)).unwrap(), terms);
        assert_eq!(encode(&[]), None);
        assert!(decode(None).unwrap().is_empty());
        assert!(decode(Some(&bytes[..12])).is_err());
    }
}
