//! The crate's error type. Messages name records and kinds, never content.

/// Errors of the anonymizer. Display output never contains payload, PII or key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A policy names an entity type this crate does not know.
    #[error("unknown entity type in policy: {0:?} is not one of the supported entity type names")]
    UnknownEntityType(String),
    /// A policy or directory could not be parsed.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A JSON document nests deeper than the walker's limit.
    #[error("JSON nesting deeper than {limit} levels")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// A record was not valid UTF-8.
    #[error("record is not valid UTF-8")]
    InvalidUtf8,
    /// A record exceeded the size limit.
    #[error("record longer than {limit} bytes")]
    TooLong {
        /// The size limit in bytes.
        limit: usize,
    },
    /// A record was not valid JSON (the position only, never the content).
    #[error("record is not valid JSON (line {line}, column {column})")]
    InvalidJson {
        /// Line inside the record.
        line: usize,
        /// Column inside the record.
        column: usize,
    },
    /// A JSON-lines span record lacked a string `text` field.
    #[error("record has no string \"text\" field")]
    MissingText,
    /// Reading input or writing output failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether retrying the same operation may succeed (only i/o failures are transient).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Io(_))
    }

    /// A short machine-readable class for error records and metrics.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnknownEntityType(_) => "unknown_entity_type",
            Self::Config(_) => "config",
            Self::TooDeep { .. } => "too_deep",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::TooLong { .. } => "too_long",
            Self::InvalidJson { .. } => "invalid_json",
            Self::MissingText => "missing_text",
            Self::Io(_) => "io",
        }
    }

    pub(crate) fn json(e: &serde_json::Error) -> Self {
        Self::InvalidJson {
            line: e.line(),
            column: e.column(),
        }
    }
}

/// The crate's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
