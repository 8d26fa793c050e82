//! Read-only, least-privilege source connectors: Slack (API and export), Datadog, Jira,
//! Linear, Confluence, Notion, Google Drive.
//!
//! Implemented: Slack, Slack export, Datadog, Jira, Linear, Confluence, Notion, Google Drive.
//!
//! Every connector implements [`Source`]: `fetch_page(checkpoint)` returns a [`Page`] of
//! normalized [`Record`]s and the [`Checkpoint`] after them. A caller writes the records and
//! only then stores the checkpoint (see [`CheckpointStore`] and [`run_to_end`]), so a failure
//! never advances it and a retry fetches the same page again.
//!
//! All HTTP goes through [`http::Api`]: rustls with TLS 1.2 minimum, per-request timeouts,
//! bounded jittered exponential back-off honouring `Retry-After` / `X-RateLimit-Reset`, and
//! one [`bacca_audit::AuditEvent`] (`source_api_call`) per call with tenant, source, endpoint
//! template, status, record count and duration, never content or query strings.
//!
//! ```no_run
//! # async fn demo() -> bacca_connectors::Result<()> {
//! use bacca_connectors::{connector_from_args, run_to_end, ConnectorArgs, MemoryCheckpointStore, ProcessEnv};
//! let args = ConnectorArgs::new("slack".parse()?, "tenant-a")
//!     .channels(vec!["C0123456".into()]);
//! let mut source = connector_from_args(&args, &ProcessEnv, bacca_audit::AuditSink::Tracing)?;
//! let store = MemoryCheckpointStore::new();
//! let mut out = std::io::stdout();
//! run_to_end(source.as_mut(), &store, "tenant-a", &mut out, 10_000).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
// Vendor responses are hostile input: no indexing or slicing that could panic (tests exempt).
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod confluence;
pub mod credentials;
pub mod datadog;
mod error;
mod factory;
pub mod gdrive;
pub mod http;
pub mod jira;
pub mod linear;
pub mod notion;
mod pass;
mod record;
pub mod replay;
pub mod slack;
mod source;

pub use credentials::{Env, ProcessEnv};
pub use error::{Error, Result};
pub use factory::{connector_from_args, ConnectorArgs};
pub use http::{ConnectorContext, HttpConfig};
pub use record::{
    parse_slack_ts, parse_time, Checkpoint, Directory, Identity, Page, Person, Record, SourceKind,
};
pub use source::{
    run_to_end, CheckpointStore, MemoryCheckpointStore, RunStats, Source, StoredCheckpoint,
};
