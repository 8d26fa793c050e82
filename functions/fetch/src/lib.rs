//! Cloud Run function `bacca-fetch`: one tenant and one source in, encrypted raw batches out.
//!
//! Triggered by Cloud Scheduler through Pub/Sub with `{"tenant":"<id>","source":"<kind>"}`.
//! For each page after the stored checkpoint, the handler:
//!
//! 1. runs the connector (read-only, least-privilege, one audit event per API call);
//! 2. serializes the page's records as JSON lines, encrypts them with the tenant's envelope
//!    key (Tink `KmsEnvelopeAead`; associated data binds tenant, object name and purpose);
//! 3. writes `raw/<source>/<earliest occurrence date>/<batch id>` with Custom-Time = the
//!    earliest occurrence and `ifGenerationMatch=0` (the batch id is derived from the stored
//!    checkpoint and a SHA-256 of the batch's plaintext, so a redelivered request re-reading
//!    the same page maps to the same object and never duplicates, orphans or overwrites it);
//! 4. publishes a `raw-landed` pointer `{tenant, source, object, generation}` (never content);
//! 5. only then advances the checkpoint, with a generation precondition.
//!
//! A crash between any two steps loses nothing: the request is redelivered, the write is a
//! no-op returning the existing object, the pointer is published again (the anonymize
//! function is idempotent), and the checkpoint advances.
//!
//! Records whose occurrence is already older than the retention window are never written raw:
//! they are handed to an [`InFlight`] processor (anonymized and extracted in memory) when one
//! is configured; without one they are counted in the `fetch` audit event as `too_old` and
//! skipped on purpose, because persisting them raw would break the 30-day promise.

#![forbid(unsafe_code)]

mod checkpoint;
mod config;

use std::sync::Arc;

use async_trait::async_trait;
use bacca_audit::AuditEvent;
use bacca_bus::Message;
use bacca_connectors::{connector_from_args, Page, Record, SourceKind};
use bacca_crypto::associated_data;
use bacca_runtime::{Event, Handler, HandlerError, Outcome};
use bacca_storage::{raw::raw_object_name, BatchId, RawWriter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use checkpoint::{load_checkpoint, save_checkpoint, CHECKPOINT_PREFIX};
pub use config::{ConnectorSettings, Deps};

/// The purpose bound into every raw batch's associated data.
pub const RAW_PURPOSE: &str = "raw-batch";

/// A clock, injected so tests and the demo can move time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The request published by Cloud Scheduler on `fetch-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchRequest {
    /// Tenant id.
    pub tenant: String,
    /// Source: `slack`, `slack-export`, `datadog`, `jira`, ...
    pub source: String,
}

/// The pointer published on `raw-landed`: where a batch is, never what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLanded {
    /// Tenant id.
    pub tenant: String,
    /// Source of the batch.
    pub source: String,
    /// Object name in the tenant's raw bucket.
    pub object: String,
    /// Object generation (the anonymize function reads exactly this version).
    pub generation: i64,
}

impl RawLanded {
    /// The Pub/Sub message: JSON data plus the `tenant` attribute the subscriptions filter on.
    ///
    /// # Errors
    /// Never in practice (serializing plain strings).
    pub fn to_message(&self) -> Result<Message, serde_json::Error> {
        let mut msg = Message::new(serde_json::to_vec(self)?);
        msg.attributes.insert("tenant".into(), self.tenant.clone());
        msg.attributes.insert("source".into(), self.source.clone());
        Ok(msg)
    }
}

/// Processes records that are too old to be stored raw: anonymize and extract in memory.
#[async_trait]
pub trait InFlight: Send + Sync {
    /// Anonymizes and extracts `records` of `tenant` without persisting them raw.
    ///
    /// # Errors
    /// A classified handler error; the checkpoint is then not advanced.
    async fn process(&self, tenant: &str, records: Vec<Record>) -> Result<(), HandlerError>;
}

/// Errors of the fetch function, each mapped to ack, nack or dead-letter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request names a tenant this service does not serve.
    #[error("this service does not serve the requested tenant")]
    WrongTenant,
    /// The connector failed.
    #[error(transparent)]
    Connector(#[from] bacca_connectors::Error),
    /// Encryption failed (KMS unavailable, throttled, key destroyed...).
    #[error(transparent)]
    Crypto(#[from] bacca_crypto::Error),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] bacca_storage::Error),
    /// Publishing the pointer failed.
    #[error(transparent)]
    Bus(#[from] bacca_bus::Error),
    /// Another fetch advanced the checkpoint concurrently.
    #[error("the checkpoint changed concurrently")]
    CheckpointConflict,
    /// A configuration variable is malformed.
    #[error("configuration {0} is malformed")]
    Config(&'static str),
    /// Serializing a batch failed.
    #[error("serializing a batch failed")]
    Serialize,
    /// Processing records too old to store raw failed.
    #[error("in-flight processing failed: {}", .0.class())]
    InFlight(HandlerError),
}

impl Error {
    /// The one place that maps a fetch failure to retryable (nack) or permanent (dead letter).
    pub fn to_handler_error(&self) -> HandlerError {
        match self {
            Self::WrongTenant => HandlerError::permanent("wrong_tenant"),
            Self::Connector(e) => match e {
                bacca_connectors::Error::RateLimited { .. } => {
                    HandlerError::throttled("source_rate_limited")
                }
                e if e.is_retryable() => HandlerError::retryable("source_unavailable"),
                bacca_connectors::Error::Auth { .. } => HandlerError::permanent("source_auth"),
                bacca_connectors::Error::Credential { .. } => {
                    HandlerError::permanent("missing_credential")
                }
                _ => HandlerError::permanent("source_failed"),
            },
            Self::Crypto(e) => HandlerError::classified(e.is_retryable(), e.class()),
            Self::Storage(e) => HandlerError::classified(e.is_retryable(), e.class()),
            Self::Bus(e) => HandlerError::classified(e.is_retryable(), e.class()),
            Self::CheckpointConflict => HandlerError::retryable("checkpoint_conflict"),
            Self::Config(_) => HandlerError::permanent("misconfigured"),
            Self::Serialize => HandlerError::permanent("serialize_failed"),
            Self::InFlight(e) => *e,
        }
    }
}

/// What one request did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FetchReport {
    /// Pages fetched.
    pub pages: u64,
    /// Records fetched.
    pub records: u64,
    /// Raw batches written by this request (a redelivery writes none).
    pub batches_written: u64,
    /// Pointers published.
    pub published: u64,
    /// Records too old to store raw.
    pub too_old: u64,
    /// Whether the source has nothing more for now.
    pub done: bool,
}

/// Handles one fetch request.
///
/// # Errors
/// A classified [`HandlerError`]: permanent for malformed requests, wrong tenants, refused
/// credentials; retryable for outages, throttling and checkpoint races.
pub async fn handle(event: Event, deps: &Deps) -> Result<Outcome, HandlerError> {
    let req: FetchRequest = event.json()?;
    let report = fetch(&req, deps).await.map_err(|e| e.to_handler_error())?;
    tracing::info!(
        pages = report.pages,
        records = report.records,
        batches = report.batches_written,
        done = report.done,
        "fetch done"
    );
    Ok(Outcome::Done)
}

/// Runs one fetch request: up to `deps.max_pages_per_request` pages, each written, published
/// and checkpointed before the next is fetched.
///
/// # Errors
/// See [`Error`]; the checkpoint is never advanced past a page that was not written.
pub async fn fetch(req: &FetchRequest, deps: &Deps) -> Result<FetchReport, Error> {
    if deps.tenant.as_deref().is_some_and(|t| t != req.tenant) {
        return Err(Error::WrongTenant);
    }
    let kind: SourceKind = req.source.parse()?;
    let source_name = kind.as_str();
    let store = deps.stores.store(&req.tenant)?;
    let args = deps.connectors.args(kind, &req.tenant);
    let mut connector = connector_from_args(&args, deps.env.as_ref(), deps.audit.clone())?;
    let aead = deps.keys.envelope(&req.tenant).await?;
    let writer = RawWriter::new(deps.stores.clone(), deps.policy, deps.audit.clone());
    let mut report = FetchReport::default();
    let started = std::time::Instant::now();
    let mut stored = load_checkpoint(store.as_ref(), source_name).await?;
    while report.pages < deps.max_pages_per_request {
        let from = stored.as_ref().map(|s| s.checkpoint.0.clone());
        let page: Page = connector
            .fetch_page(stored.as_ref().map(|s| &s.checkpoint))
            .await?;
        report.pages += 1;
        report.records += page.records.len() as u64;
        if !page.done && from.as_deref() == Some(page.next_checkpoint.0.as_str()) {
            return Err(Error::Connector(bacca_connectors::Error::CursorLoop {
                source_name,
                endpoint: "checkpoint".into(),
            }));
        }
        let now = (deps.clock)();
        let cutoff = deps.policy.cutoff(now);
        let (fresh, old): (Vec<Record>, Vec<Record>) = page
            .records
            .into_iter()
            .partition(|r| r.occurred_at > cutoff);
        if !old.is_empty() {
            report.too_old += old.len() as u64;
            if let Some(inflight) = &deps.in_flight {
                inflight
                    .process(&req.tenant, old)
                    .await
                    .map_err(Error::InFlight)?;
            }
        }
        if let Some(earliest) = fresh.iter().map(|r| r.occurred_at).min() {
            let mut plain = Vec::with_capacity(fresh.len() * 256);
            for r in &fresh {
                r.write_json_line(&mut plain)
                    .map_err(|_| Error::Serialize)?;
            }
            // The batch id is derived from where the page starts and what it holds, not from
            // the next checkpoint: some connectors' checkpoints carry the fetch time, so a
            // redelivered request re-reading the same page must still map to the same object
            // (create-only write = no duplicate, no orphan).
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &plain);
            let batch = BatchId::derive(
                &req.tenant,
                source_name,
                from.as_deref().unwrap_or(""),
                &hex::encode(digest.as_ref()),
            );
            let object = raw_object_name(source_name, earliest.date_naive(), &batch)?;
            let aad = associated_data(&req.tenant, &object, RAW_PURPOSE);
            let ciphertext = aead.encrypt(&plain, &aad).await?;
            let written = writer
                .write_batch(
                    &req.tenant,
                    source_name,
                    &batch,
                    earliest,
                    ciphertext.into(),
                    now,
                )
                .await?;
            if written.created {
                report.batches_written += 1;
            }
            bacca_runtime::fault::point("fetch.raw_written").await;
            let pointer = RawLanded {
                tenant: req.tenant.clone(),
                source: source_name.to_owned(),
                object: written.meta.name,
                generation: written.meta.generation,
            };
            let msg = pointer.to_message().map_err(|_| Error::Serialize)?;
            deps.publisher.publish(&deps.raw_landed_topic, msg).await?;
            report.published += 1;
            bacca_runtime::fault::point("fetch.published").await;
        }
        stored = Some(
            save_checkpoint(
                store.as_ref(),
                source_name,
                &page.next_checkpoint,
                stored.as_ref().map(|s| s.generation),
            )
            .await?,
        );
        if page.done {
            report.done = true;
            break;
        }
    }
    deps.audit.emit(
        AuditEvent::new("fetch", &req.tenant)
            .field("source", source_name)
            .field("pages", report.pages)
            .field("records", report.records)
            .field("batches_written", report.batches_written)
            .field("too_old", report.too_old)
            .field("done", report.done)
            .field("duration_ms", started.elapsed().as_millis() as u64),
    );
    Ok(report)
}

#[async_trait]
impl Handler for Deps {
    async fn handle(&self, event: Event) -> Result<Outcome, HandlerError> {
        handle(event, self).await
    }
}
