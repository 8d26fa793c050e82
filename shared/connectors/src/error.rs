//! The crate's error type and its retry classification.

use std::time::Duration;

/// Errors of the connectors. Messages carry endpoints, statuses and classes, never content,
/// tokens or identities.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The vendor refused the credentials (401/403, Slack `invalid_auth`...): permanent.
    #[error("{source_name}: authentication or permission refused at {endpoint} (status {status}); check the token and its scopes")]
    Auth {
        /// Connector name.
        source_name: &'static str,
        /// Endpoint path template.
        endpoint: String,
        /// HTTP status, or 200 for Slack's `ok: false` errors.
        status: u16,
    },
    /// Still rate limited after the bounded retries, or the vendor asked for a wait longer
    /// than the configured cap: retry later.
    #[error("{source_name}: rate limited at {endpoint}; retry after {retry_after:?}")]
    RateLimited {
        /// Connector name.
        source_name: &'static str,
        /// Endpoint path template.
        endpoint: String,
        /// How long the vendor asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// A 5xx, a timeout or a connection failure that persisted through the retries.
    #[error("{source_name}: transient failure at {endpoint} after {attempts} attempts ({class})")]
    Transient {
        /// Connector name.
        source_name: &'static str,
        /// Endpoint path template.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// `timeout`, `connect`, `status_503`...
        class: String,
    },
    /// Any other HTTP status or vendor error code: permanent.
    #[error("{source_name}: request to {endpoint} failed permanently ({class})")]
    Http {
        /// Connector name.
        source_name: &'static str,
        /// Endpoint path template.
        endpoint: String,
        /// `status_404`, Slack error code such as `channel_not_found`...
        class: String,
    },
    /// The body is not the documented JSON shape (truncated, wrong types, missing fields).
    #[error("{source_name}: malformed response from {endpoint}: {detail}")]
    Malformed {
        /// Connector name.
        source_name: &'static str,
        /// Endpoint path template.
        endpoint: String,
        /// Where the parser stopped (line/column, never the body).
        detail: String,
    },
    /// The vendor returned the cursor it was just given: pagination would never end.
    #[error(
        "{source_name}: {endpoint} returned the same cursor again; stopping to bound the work"
    )]
    CursorLoop {
        /// Connector name.
        source_name: &'static str,
        /// Endpoint path template.
        endpoint: String,
    },
    /// The run hit its configured page limit before the source was done.
    #[error("stopped after {pages} pages (page limit); the checkpoint covers what was written")]
    PageLimit {
        /// Pages fetched.
        pages: u64,
    },
    /// A credential is missing or unreadable.
    #[error("credential {name} is missing or unreadable: {reason}")]
    Credential {
        /// Environment variable name (never its value).
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Invalid configuration (base URL, arguments, checkpoint from another connector).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A Slack export archive is unsafe or invalid (path traversal, zip bomb, bad JSON).
    #[error("slack export rejected: {0}")]
    Export(String),
    /// The checkpoint store refused a write whose generation precondition failed.
    #[error("checkpoint for {tenant}/{source_name} changed concurrently (expected generation {expected:?})")]
    CheckpointConflict {
        /// Tenant id.
        tenant: String,
        /// Source name.
        source_name: String,
        /// The generation the writer expected.
        expected: Option<u64>,
    },
    /// Writing the records failed.
    #[error("writing records failed: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether trying again later may succeed (nack) rather than needing a person (dead letter).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Transient { .. }
                | Self::CheckpointConflict { .. }
                | Self::PageLimit { .. }
                | Self::Io(_)
        )
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Converts a serde_json error to a content-free [`Error::Malformed`].
pub(crate) fn malformed(source_name: &'static str, endpoint: &str, e: &serde_json::Error) -> Error {
    Error::Malformed {
        source_name,
        endpoint: endpoint.to_owned(),
        detail: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    }
}
