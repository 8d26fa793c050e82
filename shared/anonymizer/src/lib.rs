//! PII and secret detectors, keyed per-tenant pseudonyms, and a JSON walker.
//!
//! The anonymizer finds personal data and credentials in operational text (Slack threads,
//! logs, tickets, runbooks), replaces each finding according to a [`Policy`] (a keyed
//! deterministic pseudonym such as `<PERSON_7f3a9c2e>`, a redaction tag, or a mask), and
//! leaves operational tokens (hosts, pods, UUIDs, trace ids, SHAs, versions, paths) intact.
//!
//! ```
//! use bacca_anonymizer::{Anonymizer, Directory, Policy};
//! use zeroize::Zeroizing;
//!
//! let anon = Anonymizer::new(&Zeroizing::new([7u8; 32]), &Policy::default(), &Directory::default())?;
//! let (text, report) = anon.anonymize_text("paging jane@example.com about pod api-7d9f8c6b5-x2x9z");
//! assert!(text.contains("<EMAIL_ADDRESS_") && text.contains("api-7d9f8c6b5-x2x9z"));
//! assert_eq!(report.total(), 1);
//! # Ok::<(), bacca_anonymizer::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod cli;
mod detect;
mod error;
pub mod eval;
mod json;
mod operator;
mod report;
mod span;

use std::sync::OnceLock;

use zeroize::Zeroizing;

pub use detect::{Detector, DetectorConfig, Directory, DirectoryPerson};
pub use error::{Error, Result};
pub use json::MAX_DEPTH;
pub use operator::{normalise, Operator, Policy, PseudonymKey};
pub use report::Report;
pub use span::{to_char_offsets, EntityType, Span};

use operator::CompiledPolicy;

/// Detectors + operators + policy for one tenant. Build once, share by reference.
#[derive(Debug)]
pub struct Anonymizer {
    detector: Detector,
    key: PseudonymKey,
    policy: CompiledPolicy,
}

impl Anonymizer {
    /// Build an anonymizer for a tenant from its 32-byte pseudonym key, policy and directory.
    ///
    /// # Errors
    /// [`Error::UnknownEntityType`] when the policy names an unknown entity type.
    pub fn new(key: &Zeroizing<[u8; 32]>, policy: &Policy, directory: &Directory) -> Result<Self> {
        let compiled = policy.compile()?;
        let config = DetectorConfig {
            keep_private_ips: policy.keep_private_ips,
        };
        Ok(Self {
            detector: Detector::new(config, directory),
            key: PseudonymKey::new(key),
            policy: compiled,
        })
    }

    /// The detectors in use.
    #[must_use]
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Findings in `text` as byte spans (sorted, non-overlapping).
    #[must_use]
    pub fn spans(&self, text: &str) -> Vec<Span> {
        self.detector.spans(text)
    }

    fn operator(&self, t: EntityType) -> Operator {
        self.policy
            .operators
            .get(&t)
            .copied()
            .unwrap_or(self.policy.default_operator)
    }

    /// The replacement for one value of type `t` under this tenant's policy.
    #[must_use]
    pub fn replacement(&self, t: EntityType, value: &str) -> String {
        operator::apply(self.operator(t), &self.key, t, value)
    }

    /// Anonymize free text: every finding replaced; returns the text and the counts.
    #[must_use]
    pub fn anonymize_text(&self, text: &str) -> (String, Report) {
        let spans = self.spans(text);
        let report = Report::from_spans(&spans);
        (self.apply_spans(text, &spans), report)
    }

    fn apply_spans(&self, text: &str, spans: &[Span]) -> String {
        let mut out = String::with_capacity(text.len() + spans.len() * 8);
        let mut last = 0usize;
        for s in spans {
            let (Some(before), Some(value)) = (text.get(last..s.start), text.get(s.start..s.end))
            else {
                continue;
            };
            out.push_str(before);
            out.push_str(&self.replacement(s.entity_type, value));
            last = s.end;
        }
        out.push_str(text.get(last..).unwrap_or_default());
        out
    }

    /// Anonymize a JSON document: spans inside string values, whole values of identity
    /// fields (by key path); keys untouched, arrays element by element.
    ///
    /// # Errors
    /// [`Error::TooDeep`] when the document nests deeper than [`MAX_DEPTH`].
    pub fn anonymize_json(&self, value: &mut serde_json::Value) -> Result<Report> {
        json::walk(self, value)
    }

    pub(crate) fn identity_type(&self, path: &str) -> Option<EntityType> {
        self.policy.identity_fields.get(path).copied()
    }
}

/// Findings in `text` with the default detectors and an empty directory (the fuzz entry
/// point): never panics, sorted, non-overlapping byte spans.
#[must_use]
pub fn spans(text: &str) -> Vec<Span> {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR
        .get_or_init(|| Detector::new(DetectorConfig::default(), &Directory::default()))
        .spans(text)
}
