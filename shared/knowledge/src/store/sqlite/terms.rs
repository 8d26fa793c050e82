//! A node's term hashes in SQLite (schema 10): a list in the node's row (`nodes.terms`, each
//! term as 8 big-endian bytes, ascending, no repeats; NULL for none) beside the `node_terms`
//! rows `(term, nid)` that `similar` looks terms up in. The list is what a node's terms are
//! read from: its count for `similar`'s text score, and the rows to delete on erasure.

use sqlx::{Sqlite, Transaction};

use super::TERM_CHUNK;
use crate::store::{decode_err, RowBatch};
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

/// The terms of `b` not in `a` (both ascending, no repeats), ascending.
pub(super) fn difference(b: &[i64], a: &[i64]) -> Vec<i64> {
    let mut out = Vec::new();
    let mut i = 0;
    for &t in b {
        while i < a.len() && a[i] < t {
            i += 1;
        }
        if a.get(i) != Some(&t) {
            out.push(t);
        }
    }
    out
}

/// The union of `a` and `b` (both ascending, no repeats), ascending.
pub(super) fn union(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// A batch's term hashes grouped by node: [`Self::of`] gives node `i`'s, ascending, without
/// repeats.
pub(super) struct BatchTerms {
    terms: Vec<i64>,
    /// `terms[starts[i]..starts[i + 1]]` are node `i`'s.
    starts: Vec<usize>,
}

impl BatchTerms {
    /// Groups `batch.terms`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidRecord`] when a term row names no node of the batch.
    pub(super) fn new(batch: &RowBatch) -> Result<Self> {
        let n = batch.nodes.len();
        if batch.terms.iter().any(|r| r.node >= n) {
            return Err(crate::Error::InvalidRecord(
                "term refers to no node of the batch".into(),
            ));
        }
        let mut pairs: Vec<(usize, i64)> = batch.terms.iter().map(|r| (r.node, r.term)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut starts = Vec::with_capacity(n + 1);
        let mut at = 0;
        for i in 0..n {
            starts.push(at);
            while at < pairs.len() && pairs[at].0 == i {
                at += 1;
            }
        }
        starts.push(at);
        Ok(Self {
            terms: pairs.into_iter().map(|(_, t)| t).collect(),
            starts,
        })
    }

    /// Node `i`'s terms (ascending, no repeats).
    pub(super) fn of(&self, i: usize) -> &[i64] {
        &self.terms[self.starts[i]..self.starts[i + 1]]
    }
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
    let mut want = terms.to_vec();
    want.sort_unstable();
    want.dedup();
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

    #[test]
    fn set_operations_on_sorted_lists() {
        assert_eq!(difference(&[1, 3, 5, 7], &[3, 4, 7]), vec![1, 5]);
        assert_eq!(difference(&[1, 2], &[]), vec![1, 2]);
        assert!(difference(&[], &[1]).is_empty());
        assert_eq!(union(&[1, 3, 7], &[2, 3, 9]), vec![1, 2, 3, 7, 9]);
        assert_eq!(union(&[], &[4]), vec![4]);
    }

    #[test]
    fn batch_terms_group_by_node_sorted_without_repeats() {
        use crate::store::{NodeRow, TermRow};
        let node = NodeRow {
            id: "x".into(),
            kind: crate::model::NodeKind::Incident,
            key_ct: Vec::new(),
            label_ct: None,
            attrs: serde_json::Value::Null,
            sources: Vec::new(),
            first_seen: chrono::DateTime::UNIX_EPOCH,
            last_seen: chrono::DateTime::UNIX_EPOCH,
        };
        let term = |node, term| TermRow { node, term };
        let batch = RowBatch {
            nodes: vec![node.clone(), node.clone(), node],
            edges: Vec::new(),
            terms: vec![term(2, 9), term(0, 5), term(2, -1), term(0, 5), term(0, 1)],
        };
        let grouped = BatchTerms::new(&batch).unwrap();
        assert_eq!(grouped.of(0), &[1, 5]);
        assert!(grouped.of(1).is_empty());
        assert_eq!(grouped.of(2), &[-1, 9]);
        let bad = RowBatch {
            terms: vec![term(3, 1)],
            ..batch
        };
        assert!(BatchTerms::new(&bad).is_err());
    }
}
