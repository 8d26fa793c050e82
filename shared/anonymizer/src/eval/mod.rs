//! In-project evaluation: a seeded generator of labelled operational text ([`corpus`]) and
//! the scorer ([`score`]): per-type recall, precision, operational-token damage, leak rate.
//!
//! Scoring follows `shared/tools/pii_eval.py`: a gold span is caught when predictions cover
//! at least half of its characters, whatever the predicted type; a prediction is correct when
//! it overlaps a PII label, wrong when it overlaps only operational tokens or nothing
//! labelled. Damage is stricter than the Python tool: any overlap with an operational token
//! counts as damage.

pub mod corpus;

use std::collections::BTreeMap;
use std::fmt;

use crate::span::{EntityType, Span};
use crate::Anonymizer;

/// What a labelled span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Personal data or a secret that must be removed.
    Pii(EntityType),
    /// An operational token that must survive (`KEEP_HOST`, `KEEP_TRACE`, ...).
    Keep(&'static str),
    /// Neither rewarded nor punished (private IPs: kept or not by policy).
    Neutral,
}

/// A labelled byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labelled {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The label.
    pub label: Label,
}

/// One labelled document.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    /// The text.
    pub text: String,
    /// Its labels.
    pub labels: Vec<Labelled>,
}

/// Evaluation figures.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    /// Per entity type: (caught, total).
    pub recall: BTreeMap<EntityType, (u64, u64)>,
    /// Predictions overlapping a PII label.
    pub true_positives: u64,
    /// Predictions overlapping only operational tokens or nothing labelled.
    pub false_positives: u64,
    /// Operational tokens touched by any prediction.
    pub keep_damaged: u64,
    /// Operational tokens.
    pub keep_total: u64,
    /// PII bytes left uncovered.
    pub leaked_bytes: u64,
    /// PII bytes.
    pub pii_bytes: u64,
    /// Bytes analysed.
    pub bytes: u64,
}

impl Scores {
    /// Recall of one type (1.0 when absent).
    #[must_use]
    pub fn recall_of(&self, t: EntityType) -> f64 {
        self.recall.get(&t).map_or(1.0, |&(c, n)| ratio(c, n))
    }

    /// Overall recall.
    #[must_use]
    pub fn recall(&self) -> f64 {
        let (c, n) = self
            .recall
            .values()
            .fold((0, 0), |(a, b), &(c, n)| (a + c, b + n));
        ratio(c, n)
    }

    /// Precision.
    #[must_use]
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Share of operational tokens damaged.
    #[must_use]
    pub fn keep_damage(&self) -> f64 {
        if self.keep_total == 0 {
            0.0
        } else {
            ratio(self.keep_damaged, self.keep_total)
        }
    }

    /// Share of PII bytes left in the output.
    #[must_use]
    pub fn leak_rate(&self) -> f64 {
        if self.pii_bytes == 0 {
            0.0
        } else {
            ratio(self.leaked_bytes, self.pii_bytes)
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for Scores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (t, &(c, n)) in &self.recall {
            writeln!(f, "  {:18} recall {:.4} ({c}/{n})", t.name(), ratio(c, n))?;
        }
        writeln!(
            f,
            "recall {:.4} precision {:.4} ({} fp) keep_damage {:.4} ({}/{}) leak_rate_bytes {:.4}",
            self.recall(),
            self.precision(),
            self.false_positives,
            self.keep_damage(),
            self.keep_damaged,
            self.keep_total,
            self.leak_rate()
        )
    }
}

fn overlap(a: (usize, usize), b: (usize, usize)) -> usize {
    a.1.min(b.1).saturating_sub(a.0.max(b.0))
}

/// Score predictions for one document into `scores`.
pub fn score_doc(doc: &Doc, preds: &[Span], scores: &mut Scores) {
    scores.bytes += doc.text.len() as u64;
    for l in &doc.labels {
        let r = (l.start, l.end);
        let covered: usize = preds.iter().map(|p| overlap(r, (p.start, p.end))).sum();
        match l.label {
            Label::Pii(t) => {
                let len = l.end - l.start;
                let e = scores.recall.entry(t).or_default();
                e.1 += 1;
                if covered * 2 >= len {
                    e.0 += 1;
                }
                scores.pii_bytes += len as u64;
                scores.leaked_bytes += len.saturating_sub(covered) as u64;
            }
            Label::Keep(_) => {
                scores.keep_total += 1;
                if covered > 0 {
                    scores.keep_damaged += 1;
                }
            }
            Label::Neutral => {}
        }
    }
    for p in preds {
        let r = (p.start, p.end);
        let hits = |want: fn(&Label) -> bool| {
            doc.labels
                .iter()
                .any(|l| want(&l.label) && overlap(r, (l.start, l.end)) > 0)
        };
        if hits(|l| matches!(l, Label::Pii(_))) {
            scores.true_positives += 1;
        } else if hits(|l| matches!(l, Label::Keep(_))) || !hits(|l| matches!(l, Label::Neutral)) {
            scores.false_positives += 1;
        }
    }
}

/// Run the anonymizer's detectors over `docs` and score them.
#[must_use]
pub fn score(anon: &Anonymizer, docs: &[Doc]) -> Scores {
    let mut scores = Scores::default();
    for d in docs {
        let preds = anon.spans(&d.text);
        score_doc(d, &preds, &mut scores);
    }
    scores
}
