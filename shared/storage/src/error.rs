//! The crate's one error type and its retry classification.

use chrono::{DateTime, Utc};

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to an object store or applying the raw rules.
///
/// Messages carry object names, bucket names, status codes and classes, never object content,
/// response bodies or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist (or the requested generation does not).
    #[error("object {name} not found")]
    NotFound {
        /// Object name.
        name: String,
    },
    /// A generation precondition did not hold (HTTP 412).
    #[error("precondition failed for object {name}")]
    PreconditionFailed {
        /// Object name.
        name: String,
    },
    /// The bucket (or local store directory) does not exist.
    #[error("bucket {bucket} not found")]
    BucketNotFound {
        /// Bucket name or local directory.
        bucket: String,
    },
    /// The object name is not acceptable (empty, `..`, absolute, NUL, too long, reserved).
    #[error("invalid object name: {reason}")]
    InvalidName {
        /// Why the name was refused.
        reason: &'static str,
    },
    /// The store URI is not `file://<dir>` or `gs://<bucket>`, or is malformed.
    #[error("invalid store uri: {reason}")]
    InvalidUri {
        /// Why the URI was refused.
        reason: String,
    },
    /// A configuration value out of its allowed range.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// Which rule failed.
        reason: &'static str,
    },
    /// A tenant id that cannot name a bucket.
    #[error("invalid tenant id: {reason}")]
    InvalidTenant {
        /// Why the tenant id was refused.
        reason: &'static str,
    },
    /// The batch's earliest occurrence is older than the retention window: it must never be
    /// written raw.
    #[error("batch occurrence {earliest_occurrence} is older than the retention cutoff {cutoff}")]
    OutsideRetention {
        /// Earliest occurrence in the batch.
        earliest_occurrence: DateTime<Utc>,
        /// Oldest occurrence that may still be written.
        cutoff: DateTime<Utc>,
    },
    /// The service answered 429 or 5xx, or the request timed out or could not connect, after
    /// all retries: try again later.
    #[error("object store unavailable ({what})")]
    Unavailable {
        /// Status code or transport class, e.g. `http 503` or `timeout`.
        what: String,
    },
    /// Credentials could not be obtained or were refused (401/403).
    #[error("object store authentication failed ({what})")]
    Auth {
        /// Status code or credential error class.
        what: String,
        /// Whether a retry may succeed (e.g. the metadata server was briefly unreachable).
        transient: bool,
    },
    /// The service answered with an unexpected status or a body that does not parse.
    #[error("object store protocol error ({what})")]
    Protocol {
        /// Status code or parse failure class.
        what: String,
    },
    /// Local file system error.
    #[error("local store i/o error on {op}: {kind}")]
    Io {
        /// Which operation failed.
        op: &'static str,
        /// The I/O error kind (never a path with content).
        kind: std::io::ErrorKind,
    },
    /// A local store sidecar file is not valid.
    #[error("local store metadata for {name} is corrupt")]
    CorruptMetadata {
        /// Object name.
        name: String,
    },
}

impl Error {
    /// True when the same call may succeed later (nack and let Pub/Sub redeliver); false when
    /// retrying cannot help (dead-letter).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            Self::Auth { transient, .. } => *transient,
            Self::Io { kind, .. } => matches!(
                kind,
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::ResourceBusy
            ),
            _ => false,
        }
    }

    /// A short stable class name for logs, audit events and dead-letter attributes.
    pub fn class(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::PreconditionFailed { .. } => "precondition_failed",
            Self::BucketNotFound { .. } => "bucket_not_found",
            Self::InvalidName { .. } => "invalid_name",
            Self::InvalidUri { .. } => "invalid_uri",
            Self::InvalidTenant { .. } => "invalid_tenant",
            Self::InvalidConfig { .. } => "invalid_config",
            Self::OutsideRetention { .. } => "outside_retention",
            Self::Unavailable { .. } => "unavailable",
            Self::Auth { .. } => "auth",
            Self::Protocol { .. } => "protocol",
            Self::Io { .. } => "io",
            Self::CorruptMetadata { .. } => "corrupt_metadata",
        }
    }

    pub(crate) fn io(op: &'static str, e: &std::io::Error) -> Self {
        Self::Io { op, kind: e.kind() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(Error::Unavailable {
            what: "http 503".into()
        }
        .is_retryable());
        assert!(!Error::NotFound { name: "a".into() }.is_retryable());
        assert!(!Error::PreconditionFailed { name: "a".into() }.is_retryable());
        assert!(!Error::BucketNotFound { bucket: "b".into() }.is_retryable());
        assert_eq!(Error::InvalidName { reason: "x" }.class(), "invalid_name");
    }
}
