//! A node's term hashes in SQLite (schema 11): a list in the node's row (`nodes.terms`, each
//! term as 8 big-endian bytes, ascending, no repeats; NULL for none) beside the `term_bits`
//! bitmaps that `similar` looks terms up in: per term and block of 64 nids
//! (`block = nid >> 6`), the block's nodes that hold the term as the bits of one integer (bit
//! `nid & 63`). The list is what a node's terms are read from: its count for `similar`'s text
//! score, and the bits to clear on erasure.

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};

use super::IN_CHUNK;
use crate::store::term_sets::{block_bit, difference, nids_of, sorted_unique, union};
use crate::store::{decode_err, MAX_TERM_POSTINGS};
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

/// The merge of one bitmap row into `term_bits`: the bits are or-ed into a stored row.
pub(super) const BITS_CONFLICT: &str =
    " ON CONFLICT (term, block) DO UPDATE SET bits = bits | excluded.bits";

/// The nodes that hold each of `terms` (the query's term hashes), once per term they hold, as
/// a JSON array of nids for `similar`'s `json_each`. A term held by more than
/// [`MAX_TERM_POSTINGS`] nodes says little about any of them and is left out. Repeats in
/// `terms` count once.
pub(super) async fn hits(conn: &mut SqliteConnection, terms: &[i64]) -> Result<String> {
    let mut nids: Vec<i64> = Vec::new();
    // unique first: a term repeated in two chunks would count twice
    for chunk in sorted_unique(terms).chunks(IN_CHUNK) {
        // a term's rows are at most its nodes (each has a bit set), so a term with more
        // than MAX_TERM_POSTINGS rows is left out by an index count, without reading them
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT term, block, bits FROM term_bits WHERE term IN \
             (SELECT term FROM term_bits WHERE term IN (",
        );
        let mut sep = qb.separated(", ");
        for term in chunk {
            sep.push_bind(*term);
        }
        qb.push(") GROUP BY term HAVING COUNT(*) <= ");
        qb.push_bind(MAX_TERM_POSTINGS);
        qb.push(") ORDER BY term, block");
        let rows = qb.build().fetch_all(&mut *conn).await?;
        // one term's rows at a time: counted, then expanded when the term is rare enough
        let mut start = 0usize;
        while start < rows.len() {
            let term: i64 = rows[start].try_get(0)?;
            let mut end = start;
            let mut count = 0i64;
            while end < rows.len() && rows[end].try_get::<i64, _>(0)? == term {
                count += i64::from(rows[end].try_get::<i64, _>(2)?.count_ones());
                end += 1;
            }
            if count <= MAX_TERM_POSTINGS {
                for r in &rows[start..end] {
                    nids.extend(nids_of(r.try_get(1)?, r.try_get(2)?));
                }
            }
            start = end;
        }
    }
    Ok(serde_json::Value::from(nids).to_string())
}

/// Sets node `nid`'s terms in erasure's transaction: its stored list and its bits replaced by
/// `terms` when `clear`, else `terms` added to them (a bitmap left empty is deleted).
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
    let (block, bit) = block_bit(nid);
    for &term in &gone {
        sqlx::query("UPDATE term_bits SET bits = bits & ? WHERE term = ? AND block = ?")
            .bind(!bit)
            .bind(term)
            .bind(block)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM term_bits WHERE term = ? AND block = ? AND bits = 0")
            .bind(term)
            .bind(block)
            .execute(&mut **tx)
            .await?;
    }
    for &term in &added {
        sqlx::query(&super::statements::bitmap_upsert_sql(1))
            .bind(term)
            .bind(block)
            .bind(bit)
            .execute(&mut **tx)
            .await?;
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
