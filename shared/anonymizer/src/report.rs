//! Per-record report: counts per entity type, never values.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::span::{EntityType, Span};

/// Counts of findings per entity type, for audit events and the demo. Holds no values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Findings per entity type.
    pub counts: BTreeMap<EntityType, u64>,
}

impl Report {
    /// Count the given spans.
    #[must_use]
    pub fn from_spans(spans: &[Span]) -> Self {
        let mut r = Self::default();
        r.add_spans(spans);
        r
    }

    pub(crate) fn add_spans(&mut self, spans: &[Span]) {
        for s in spans {
            self.add(s.entity_type, 1);
        }
    }

    pub(crate) fn add(&mut self, t: EntityType, n: u64) {
        *self.counts.entry(t).or_default() += n;
    }

    /// Add another report's counts to this one.
    pub fn merge(&mut self, other: &Self) {
        for (t, n) in &other.counts {
            self.add(*t, *n);
        }
    }

    /// Total number of findings.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}
