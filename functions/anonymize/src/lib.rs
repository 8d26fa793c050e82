//! Cloud Run function `bacca-anonymize`: a raw batch in, anonymized knowledge in the graph.
//!
//! On a `raw-landed` pointer `{tenant, source, object, generation}` the handler reads the
//! object, decrypts it (the associated data binds tenant, object name and purpose, so a batch
//! copied elsewhere fails authentication and is dead-lettered), anonymizes every record
//! (detectors + keyed per-tenant pseudonyms; identity fields replaced whole), extracts
//! incidents, services, log signatures, actions and documents, upserts them into the tenant's
//! graph in one transaction, and publishes `knowledge-updated` (counts, never content).
//!
//! Idempotent: node and edge ids are deterministic (blind indexes of their natural keys), so
//! the same batch delivered twice leaves the same graph. A pointer to an object that is gone
//! (swept or erased) is acknowledged as skipped.
//!
//! The same [`Pipeline`] also serves the fetch function's in-flight path for records too old
//! to be stored raw ([`bacca_fetch::InFlight`]).

#![forbid(unsafe_code)]

mod config;
pub mod pipeline;
pub mod secrets;

use async_trait::async_trait;
use bacca_anonymizer::{Anonymizer, Report};
use bacca_audit::AuditEvent;
use bacca_bus::Message;
use bacca_connectors::Record;
use bacca_crypto::associated_data;
use bacca_fetch::{RawLanded, RAW_PURPOSE};
use bacca_knowledge::extract::extract;
use bacca_runtime::{Event, Handler, HandlerError, Outcome};
use serde::{Deserialize, Serialize};

pub use config::{Deps, Pipeline};

/// Errors of the anonymize function, each mapped to ack, nack or dead-letter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pointer names a tenant this service does not serve.
    #[error("this service does not serve the requested tenant")]
    WrongTenant,
    /// Decryption or key unwrapping failed.
    #[error(transparent)]
    Crypto(#[from] bacca_crypto::Error),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] bacca_storage::Error),
    /// The graph failed.
    #[error(transparent)]
    Graph(#[from] bacca_knowledge::Error),
    /// Publishing failed.
    #[error(transparent)]
    Bus(#[from] bacca_bus::Error),
    /// A decrypted batch line is not a record.
    #[error("batch line {line} is not a record")]
    MalformedRecord {
        /// 1-based line number.
        line: usize,
    },
    /// The anonymizer refused a record (too deep, too large).
    #[error("a record could not be anonymized")]
    Anonymize,
    /// A configuration value is malformed.
    #[error("configuration {0} is malformed")]
    Config(&'static str),
}

impl Error {
    /// The one place that maps an anonymize failure to retryable (nack) or permanent.
    pub fn to_handler_error(&self) -> HandlerError {
        match self {
            Self::WrongTenant => HandlerError::permanent("wrong_tenant"),
            Self::Crypto(e) => HandlerError::classified(e.is_retryable(), e.class()),
            Self::Storage(e) => HandlerError::classified(e.is_retryable(), e.class()),
            Self::Graph(e) => HandlerError::classified(e.is_retryable(), graph_class(e)),
            Self::Bus(e) => HandlerError::classified(e.is_retryable(), e.class()),
            Self::MalformedRecord { .. } => HandlerError::permanent("malformed_record"),
            Self::Anonymize => HandlerError::permanent("anonymize_refused"),
            Self::Config(_) => HandlerError::retryable("misconfigured"),
        }
    }
}

fn graph_class(e: &bacca_knowledge::Error) -> &'static str {
    use bacca_knowledge::Error as G;
    match e {
        G::Database { .. } | G::Io(_) => "graph_unavailable",
        G::UnknownTenant(_) | G::InvalidTenant => "unknown_tenant",
        G::InvalidRecord(_) => "invalid_record",
        G::Crypto(_) => "graph_crypto",
        G::SchemaTooOld { .. } | G::SchemaTooNew { .. } => "schema_mismatch",
        G::InvalidStoreUri => "misconfigured",
    }
}

/// The `knowledge-updated` message: what changed, by counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnowledgeUpdated {
    /// Tenant id.
    pub tenant: String,
    /// The raw object processed (absent for in-flight records).
    pub object: Option<String>,
    /// Records processed.
    pub records: u64,
    /// Nodes upserted.
    pub nodes: u64,
    /// Edges upserted.
    pub edges: u64,
    /// PII and secrets found, per entity type.
    pub pii: std::collections::BTreeMap<String, u64>,
}

/// What processing a set of records did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessReport {
    /// Records processed.
    pub records: u64,
    /// Nodes upserted.
    pub nodes: u64,
    /// Edges upserted.
    pub edges: u64,
    /// Findings per entity type (counts only).
    pub pii: Report,
}

impl Pipeline {
    /// Anonymizes `records` of `tenant`, extracts knowledge and upserts it in one transaction.
    ///
    /// # Errors
    /// Key, anonymizer and graph errors; on error nothing of the batch is in the graph.
    pub async fn process(
        &self,
        tenant: &str,
        records: Vec<Record>,
    ) -> Result<ProcessReport, Error> {
        let tenant_ctx = self.tenant(tenant).await?;
        let directory = pipeline::batch_directory(&records);
        let anonymizer = Anonymizer::new(&tenant_ctx.secrets.pseudonym, &self.policy, &directory)
            .map_err(|_| Error::Config("anonymizer policy"))?;
        let mut report = ProcessReport {
            records: records.len() as u64,
            ..ProcessReport::default()
        };
        let mut values = Vec::with_capacity(records.len());
        for r in records {
            values.push(pipeline::anonymize_record(&anonymizer, r, &mut report.pii)?);
        }
        let batch = extract(&values, &self.extract)?;
        report.nodes = batch.nodes.len() as u64;
        report.edges = batch.edges.len() as u64;
        bacca_runtime::fault::point("anonymize.extracted").await;
        tenant_ctx.graph.upsert(&batch).await?;
        Ok(report)
    }
}

/// Reads, decrypts and parses one raw batch; `None` when the object is gone.
async fn read_batch(pointer: &RawLanded, deps: &Deps) -> Result<Option<Vec<Record>>, Error> {
    let store = deps.pipeline.stores.store(&pointer.tenant)?;
    let (ciphertext, meta) = match store.get(&pointer.object).await {
        Ok(x) => x,
        Err(bacca_storage::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let records = deps
        .pipeline
        .open_batch(&pointer.tenant, &pointer.object, &ciphertext)
        .await?;
    deps.pipeline.audit.emit(
        AuditEvent::new("raw_read", &pointer.tenant)
            .field("object", pointer.object.as_str())
            .field("generation", meta.generation)
            .field("bytes", ciphertext.len()),
    );
    Ok(Some(records))
}

/// Parses a decrypted raw batch: one JSON record per line, blank lines skipped.
///
/// # Errors
/// [`Error::MalformedRecord`] naming the first line that is not a record.
pub fn parse_batch(plain: &[u8]) -> Result<Vec<Record>, Error> {
    let mut records = Vec::new();
    for (i, line) in plain.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let r: Record =
            serde_json::from_slice(line).map_err(|_| Error::MalformedRecord { line: i + 1 })?;
        records.push(r);
    }
    Ok(records)
}

impl Pipeline {
    /// Decrypts and parses the raw batch `object` of `tenant` (associated data: tenant,
    /// object, `raw-batch`; the plaintext is zeroized once parsed).
    ///
    /// # Errors
    /// Key and authentication errors; [`Error::MalformedRecord`].
    pub async fn open_batch(
        &self,
        tenant: &str,
        object: &str,
        ciphertext: &[u8],
    ) -> Result<Vec<Record>, Error> {
        let aead = self.keys.envelope(tenant).await?;
        let aad = associated_data(tenant, object, RAW_PURPOSE);
        let plain = zeroize::Zeroizing::new(aead.decrypt(ciphertext, &aad).await?);
        parse_batch(&plain)
    }
}

/// Processes one `raw-landed` pointer.
///
/// # Errors
/// See [`Error`].
pub async fn process_pointer(
    pointer: &RawLanded,
    deps: &Deps,
) -> Result<Option<ProcessReport>, Error> {
    if deps.tenant.as_deref().is_some_and(|t| t != pointer.tenant) {
        return Err(Error::WrongTenant);
    }
    let Some(records) = read_batch(pointer, deps).await? else {
        return Ok(None);
    };
    let report = deps.pipeline.process(&pointer.tenant, records).await?;
    bacca_runtime::fault::point("anonymize.committed").await;
    let counts = report
        .pii
        .counts
        .iter()
        .map(|(t, n)| (t.name().to_owned(), *n))
        .collect();
    let update = KnowledgeUpdated {
        tenant: pointer.tenant.clone(),
        object: Some(pointer.object.clone()),
        records: report.records,
        nodes: report.nodes,
        edges: report.edges,
        pii: counts,
    };
    let mut event = AuditEvent::new("anonymize", &pointer.tenant)
        .field("object", pointer.object.as_str())
        .field("records", report.records)
        .field("nodes", report.nodes)
        .field("edges", report.edges);
    for (t, n) in &update.pii {
        event = event.field(&format!("pii_{t}"), *n);
    }
    deps.pipeline.audit.emit(event);
    let mut msg = Message::new(serde_json::to_vec(&update).map_err(|_| Error::Anonymize)?);
    msg.attributes
        .insert("tenant".into(), pointer.tenant.clone());
    deps.publisher
        .publish(&deps.knowledge_updated_topic, msg)
        .await?;
    Ok(Some(report))
}

/// Handles one event.
///
/// # Errors
/// A classified [`HandlerError`].
pub async fn handle(event: Event, deps: &Deps) -> Result<Outcome, HandlerError> {
    let pointer: RawLanded = event.json()?;
    match process_pointer(&pointer, deps).await {
        Ok(Some(r)) => {
            tracing::info!(records = r.records, nodes = r.nodes, "batch anonymized");
            Ok(Outcome::Done)
        }
        Ok(None) => Ok(Outcome::Skipped("object_gone")),
        Err(e) => Err(e.to_handler_error()),
    }
}

#[async_trait]
impl Handler for Deps {
    async fn handle(&self, event: Event) -> Result<Outcome, HandlerError> {
        handle(event, self).await
    }
}

#[async_trait]
impl bacca_fetch::InFlight for Pipeline {
    async fn process(&self, tenant: &str, records: Vec<Record>) -> Result<(), HandlerError> {
        Pipeline::process(self, tenant, records)
            .await
            .map(|_| ())
            .map_err(|e| e.to_handler_error())
    }
}
