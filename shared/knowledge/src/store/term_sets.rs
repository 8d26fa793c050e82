//! Term hashes as both backends handle them: a batch's terms grouped by node, set operations
//! on sorted term lists (a node's stored list and the terms a batch brings), and the
//! `term_bits` layout both stores look terms up in (per term and block of 64 nids, the block's
//! nodes as the bits of one integer: SQLite schema 11, PostgreSQL schema 14).

use crate::store::RowBatch;
use crate::Result;

/// `terms` ascending, without repeats.
pub(crate) fn sorted_unique(terms: &[i64]) -> Vec<i64> {
    let mut out = terms.to_vec();
    out.sort_unstable();
    out.dedup();
    out
}

/// The terms of `b` not in `a` (both ascending, no repeats), ascending.
pub(crate) fn difference(b: &[i64], a: &[i64]) -> Vec<i64> {
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
pub(crate) fn union(a: &[i64], b: &[i64]) -> Vec<i64> {
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
pub(crate) struct BatchTerms {
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
    pub(crate) fn new(batch: &RowBatch) -> Result<Self> {
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

    /// The terms of a batch of one node: `terms`, ascending, without repeats.
    pub(crate) fn single(terms: &[i64]) -> Self {
        let terms = sorted_unique(terms);
        Self {
            starts: vec![0, terms.len()],
            terms,
        }
    }

    /// Node `i`'s terms (ascending, no repeats).
    pub(crate) fn of(&self, i: usize) -> &[i64] {
        &self.terms[self.starts[i]..self.starts[i + 1]]
    }
}

/// Node `nid`'s block in a `term_bits` table (both backends: per term and block of 64 nids,
/// the block's nodes as the bits of one integer) and its bit there.
pub(crate) const fn block_bit(nid: i64) -> (i64, i64) {
    (nid >> 6, 1 << (nid & 63))
}

/// `(term, nid)` pairs, sorted, as `term_bits` rows `(term, block, bits)`: one per term and
/// block, in the same order.
pub(crate) fn bitmap_rows(pairs: &[(i64, i64)]) -> Vec<(i64, i64, i64)> {
    let mut rows: Vec<(i64, i64, i64)> = Vec::new();
    for &(term, nid) in pairs {
        let (block, bit) = block_bit(nid);
        match rows.last_mut() {
            Some(r) if r.0 == term && r.1 == block => r.2 |= bit,
            _ => rows.push((term, block, bit)),
        }
    }
    rows
}

/// The nids whose bits are set in `bits`, the bitmap of `block`, ascending.
pub(crate) fn nids_of(block: i64, bits: i64) -> impl Iterator<Item = i64> {
    let mut rest = bits;
    std::iter::from_fn(move || {
        (rest != 0).then(|| {
            let k = i64::from(rest.trailing_zeros());
            rest &= rest.wrapping_sub(1); // bit 63 alone is i64::MIN
            (block << 6) | k
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(BatchTerms::single(&[9, -1, 9]).of(0), &[-1, 9]);
        assert_eq!(grouped.of(2), &[-1, 9]);
        let bad = RowBatch {
            terms: vec![term(3, 1)],
            ..batch
        };
        assert!(BatchTerms::new(&bad).is_err());
    }

    #[test]
    fn bitmaps_hold_each_pair_once_and_give_the_nids_back() {
        // sorted (term, nid) pairs, with nids at both ends of a block (bit 63 is the sign bit)
        let pairs = [
            (-3, 0),
            (-3, 63),
            (-3, 64),
            (5, 1),
            (5, 2),
            (5, 127),
            (5, 128),
        ];
        let rows = bitmap_rows(&pairs);
        assert_eq!(
            rows,
            vec![
                (-3, 0, 1 | i64::MIN),
                (-3, 1, 1),
                (5, 0, 0b110),
                (5, 1, i64::MIN),
                (5, 2, 1)
            ]
        );
        let back: Vec<(i64, i64)> = rows
            .iter()
            .flat_map(|&(term, block, bits)| nids_of(block, bits).map(move |nid| (term, nid)))
            .collect();
        assert_eq!(back, pairs);
        assert_eq!(block_bit(130), (2, 4));
    }
}
