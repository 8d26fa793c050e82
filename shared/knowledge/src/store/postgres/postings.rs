//! A transaction's term changes: `term_postings` counts and `term_bits` bitmaps (schema 14),
//! collected while nodes are written or erased and applied once, in term order.

use std::collections::BTreeMap;

use sqlx::{Postgres, Transaction};

use crate::store::term_sets::bitmap_rows;
use crate::Result;

/// Changes to `term_postings` (how many nodes hold each term) made by one transaction,
/// written once per distinct term, in term order (concurrent writers lock rows in one order),
/// and the (term, nid) pairs it adds and removes, kept as `term_bits` bitmaps (schema 14).
#[derive(Debug, Default)]
pub(super) struct Postings {
    counts: BTreeMap<i64, i64>,
    added: TermRows,
    removed: TermRows,
}

/// (term, nid) pairs as two parallel arrays.
#[derive(Debug, Default)]
struct TermRows {
    terms: Vec<i64>,
    nids: Vec<i64>,
}

impl TermRows {
    fn push(&mut self, nid: i64, terms: &[i64]) {
        self.terms.extend_from_slice(terms);
        self.nids.extend(std::iter::repeat_n(nid, terms.len()));
    }

    /// The pairs as `term_bits` rows ([`bitmap_rows`], the layout SQLite's bitmaps share): one
    /// per term and block of 64 nids, in (term, block) order, as arrays to bind.
    fn bitmaps(&self) -> Bitmaps {
        let mut pairs: Vec<(i64, i64)> = self
            .terms
            .iter()
            .copied()
            .zip(self.nids.iter().copied())
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut out = Bitmaps::default();
        for (term, block, bits) in bitmap_rows(&pairs) {
            out.terms.push(term);
            out.blocks.push(block);
            out.bits.push(bits);
        }
        out
    }
}

/// `term_bits` rows (schema 14) as three parallel arrays.
#[derive(Debug, Default)]
struct Bitmaps {
    terms: Vec<i64>,
    blocks: Vec<i64>,
    bits: Vec<i64>,
}

impl Postings {
    /// Terms node `nid` gained.
    pub(super) fn add(&mut self, nid: i64, terms: &[i64]) {
        for t in terms {
            *self.counts.entry(*t).or_default() += 1;
        }
        self.added.push(nid, terms);
    }

    /// Terms node `nid` lost.
    pub(super) fn remove(&mut self, nid: i64, terms: &[i64]) {
        for t in terms {
            *self.counts.entry(*t).or_default() -= 1;
        }
        self.removed.push(nid, terms);
    }

    /// Applies the changes. The bitmaps first: the lost pairs' bits cleared (a bitmap left at
    /// 0 deleted), then the gained pairs' bits or-ed in. Then the counts: gains by upsert,
    /// losses by update (an insert path would check `nodes >= 0` on the negative candidate
    /// row first); terms no node holds any more lose their row.
    pub(super) async fn apply(
        self,
        tx: &mut Transaction<'static, Postgres>,
        t: &str,
    ) -> Result<()> {
        // Removals first: a node whose terms are replaced loses and regains the ones it keeps.
        let removed = self.removed.bitmaps();
        if !removed.terms.is_empty() {
            sqlx::query(
                "UPDATE term_bits b SET bits = b.bits & ~u.bits \
                 FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[]) AS u(term, block, bits) \
                 WHERE b.tenant_id = $1 AND b.term = u.term AND b.block = u.block",
            )
            .bind(t)
            .bind(&removed.terms)
            .bind(&removed.blocks)
            .bind(&removed.bits)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "DELETE FROM term_bits WHERE tenant_id = $1 AND bits = 0 AND (term, block) IN \
                 (SELECT * FROM UNNEST($2::bigint[], $3::bigint[]))",
            )
            .bind(t)
            .bind(&removed.terms)
            .bind(&removed.blocks)
            .execute(&mut **tx)
            .await?;
        }
        let added = self.added.bitmaps();
        if !added.terms.is_empty() {
            sqlx::query(
                "INSERT INTO term_bits (tenant_id, term, block, bits) \
                 SELECT $1, u.term, u.block, u.bits \
                 FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[]) AS u(term, block, bits) \
                 ON CONFLICT (tenant_id, term, block) DO UPDATE SET bits = term_bits.bits | EXCLUDED.bits",
            )
            .bind(t)
            .bind(&added.terms)
            .bind(&added.blocks)
            .bind(&added.bits)
            .execute(&mut **tx)
            .await?;
        }
        type Deltas = Vec<(i64, i64)>;
        let (gains, losses): (Deltas, Deltas) = self
            .counts
            .into_iter()
            .filter(|(_, d)| *d != 0)
            .partition(|(_, d)| *d > 0);
        if !gains.is_empty() {
            let (terms, deltas): (Vec<i64>, Vec<i64>) = gains.into_iter().unzip();
            sqlx::query(
                "INSERT INTO term_postings (tenant_id, term, nodes) \
                 SELECT $1, u.term, u.delta FROM UNNEST($2::bigint[], $3::bigint[]) AS u(term, delta) \
                 ON CONFLICT (tenant_id, term) DO UPDATE SET nodes = term_postings.nodes + EXCLUDED.nodes",
            )
            .bind(t)
            .bind(&terms)
            .bind(&deltas)
            .execute(&mut **tx)
            .await?;
        }
        if !losses.is_empty() {
            let (terms, deltas): (Vec<i64>, Vec<i64>) = losses.into_iter().unzip();
            sqlx::query(
                "UPDATE term_postings p SET nodes = p.nodes + u.delta \
                 FROM UNNEST($2::bigint[], $3::bigint[]) AS u(term, delta) \
                 WHERE p.tenant_id = $1 AND p.term = u.term",
            )
            .bind(t)
            .bind(&terms)
            .bind(&deltas)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "DELETE FROM term_postings WHERE tenant_id = $1 AND term = ANY($2) AND nodes = 0",
            )
            .bind(t)
            .bind(&terms)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
