//! Cloud Run function `bacca-expire`: the hourly retention sweep of each tenant's raw store,
//! and data-subject erasure.
//!
//! Cloud Scheduler calls it (`POST /` with `{"tenant":"<id>","action":"sweep"}`, directly or
//! through Pub/Sub); it deletes every raw object whose Custom-Time is older than the retention
//! window minus a safety margin (30 days minus 2 hours by default) and emits one `sweep` audit
//! event per run. The handler is idempotent: a second run deletes nothing.
//!
//! `{"tenant":"<id>","action":"erase","subject":{"email":"…"}}` erases one person: their
//! knowledge in the graph and their records in the raw batches ([`erase`] has the steps,
//! [`subject`] the rule), with one `erasure` audit event that never holds the identifier.
//! An erase request that cannot succeed (malformed, unknown subject fields, wrong tenant) is
//! acknowledged and audited as rejected, never dead-lettered: a dead letter would copy the
//! identifier into another topic. For the same reason a request that keeps failing with a
//! retryable error is acknowledged (given up, audited on every attempt) at delivery attempt
//! [`ERASE_MAX_DELIVERY_ATTEMPTS`], before Pub/Sub's own dead-letter policy (10 attempts in
//! `terraform/modules/tenant`) would forward it.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use bacca_expire::{Deps, ExpireRequest};
//! let deps = Deps::local(std::path::Path::new("/tmp/bacca"))?;
//! let report = deps.sweep(&ExpireRequest::sweep("acme")).await?;
//! assert_eq!(report.tenant, "acme");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod erase;
pub mod subject;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bacca_audit::{AuditEvent, AuditSink};
use bacca_runtime::env::{env_var, LocalLayout};
use bacca_runtime::{Event, Handler, HandlerError, Outcome};
use bacca_storage::{GcsConfig, RetentionPolicy, SweepReport, TenantStores};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use erase::{ErasureDeps, ErasureReport, GraphErasure, SubjectGraph};
pub use subject::Subject;

/// The delivery attempt at which a still-failing erase request is acknowledged instead of
/// retried, so the subscription's dead-letter policy (after 10 attempts) never copies the
/// identifier into the dead-letter topic.
pub const ERASE_MAX_DELIVERY_ATTEMPTS: u32 = 8;

/// What the expire function is asked to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The retention sweep (the hourly Scheduler job).
    #[default]
    Sweep,
    /// Data-subject erasure of the request's `subject`.
    Erase,
}

/// The request body: which tenant, which action. Debug never prints the subject's values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireRequest {
    /// Tenant id.
    pub tenant: String,
    /// What to do (default: sweep).
    #[serde(default)]
    pub action: Action,
    /// The person to erase (`erase` only).
    #[serde(default)]
    pub subject: Option<Subject>,
}

impl ExpireRequest {
    /// A sweep request for `tenant`.
    pub fn sweep(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            action: Action::Sweep,
            subject: None,
        }
    }

    /// An erasure request for `subject` in `tenant`.
    pub fn erase(tenant: &str, subject: Subject) -> Self {
        Self {
            tenant: tenant.to_owned(),
            action: Action::Erase,
            subject: Some(subject),
        }
    }
}

/// A clock, injected so tests and the demo can move time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Errors of the expire function.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request names a tenant this service does not serve.
    #[error("this service does not serve the requested tenant")]
    WrongTenant,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] bacca_storage::Error),
    /// A configuration variable is malformed.
    #[error("environment variable {0} is malformed")]
    Config(&'static str),
    /// The audit file cannot be opened.
    #[error(transparent)]
    Audit(#[from] bacca_audit::AuditError),
    /// The erasure subject is missing or malformed (the message names the rule, never a value).
    #[error(transparent)]
    InvalidSubject(#[from] subject::InvalidSubject),
    /// This service has no graph or keys configured for erasure.
    #[error("erasure is not configured in this service")]
    ErasureNotConfigured,
    /// Keys, decryption, records or the graph failed during an erasure.
    #[error(transparent)]
    Pipeline(#[from] bacca_anonymize::Error),
    /// Some raw objects could not be rewritten; a retry finishes them.
    #[error("erasure incomplete: {failed} raw objects could not be processed")]
    ErasureIncomplete {
        /// Objects that failed.
        failed: u64,
        /// Whether a retry may succeed.
        retryable: bool,
    },
}

impl Error {
    /// The ack/nack/dead-letter mapping of this error.
    pub fn to_handler_error(&self) -> HandlerError {
        match self {
            Self::WrongTenant => HandlerError::permanent("wrong_tenant"),
            Self::Storage(e) => HandlerError::classified(e.is_retryable(), e.class()),
            Self::Config(_) | Self::Audit(_) | Self::ErasureNotConfigured => {
                HandlerError::retryable("misconfigured")
            }
            Self::InvalidSubject(_) => HandlerError::permanent("invalid_subject"),
            Self::Pipeline(e) => e.to_handler_error(),
            Self::ErasureIncomplete { retryable, .. } => {
                HandlerError::classified(*retryable, "erasure_incomplete")
            }
        }
    }
}

/// Everything the handler needs, built once at start-up and shared.
#[derive(Clone)]
pub struct Deps {
    /// Each tenant's raw store.
    pub stores: TenantStores,
    /// Retention window and margin.
    pub policy: RetentionPolicy,
    /// The audit stream.
    pub audit: AuditSink,
    /// The only tenant this service serves (`None`: any, for local development).
    pub tenant: Option<String>,
    /// The clock.
    pub clock: Clock,
    /// What erasure needs (`None`: erase requests fail as misconfigured).
    pub erasure: Option<ErasureDeps>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("policy", &self.policy)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl Deps {
    /// Local mode ([`LocalLayout`]): every tenant's store under `<dir>/objects/<tenant>`,
    /// audit events appended to `<dir>/audit.jsonl`, the real clock.
    ///
    /// # Errors
    /// When the audit file cannot be opened.
    pub fn local(dir: &Path) -> Result<Self, Error> {
        let l = LocalLayout::new(dir);
        Ok(Self {
            stores: TenantStores::from_template(&l.store_template(), GcsConfig::new())?,
            policy: RetentionPolicy::new(),
            audit: AuditSink::file(l.audit_file())?,
            tenant: None,
            clock: Arc::new(Utc::now),
            erasure: None,
        })
    }

    /// [`Deps::local`] with erasure over the anonymize function's local layout in the same
    /// directory (keys, pseudonym keys, SQLite graph).
    ///
    /// # Errors
    /// When the audit file or the graph cannot be opened.
    pub async fn local_with_erasure(dir: &Path) -> Result<Self, Error> {
        let mut deps = Self::local(dir)?;
        let mut pipeline = bacca_anonymize::Pipeline::local(dir).await?;
        pipeline.stores = deps.stores.clone();
        deps.erasure = Some(ErasureDeps::new(pipeline));
        Ok(deps)
    }

    /// From the environment: `BACCA_STORE` (the tenant's bucket, or a template with
    /// `{tenant}`), `BACCA_TENANT` (the tenant this service serves), `BACCA_RETENTION_DAYS`,
    /// `BACCA_SAFETY_MARGIN_HOURS`; audit to the `audit` log target when
    /// `GOOGLE_CLOUD_PROJECT` is set. What is not configured falls back to the local layout
    /// under `BACCA_DATA_DIR`.
    ///
    /// # Errors
    /// When a variable is malformed.
    pub fn from_env() -> Result<Self, Error> {
        let local = || LocalLayout::from_env().map_err(|_| Error::Config("BACCA_DATA_DIR"));
        let tenant = env_var("BACCA_TENANT");
        let store = match env_var("BACCA_STORE") {
            Some(uri) => uri,
            None => local()?.store_template(),
        };
        let audit = match env_var("GOOGLE_CLOUD_PROJECT") {
            Some(_) => AuditSink::Tracing,
            None => AuditSink::file(local()?.audit_file())?,
        };
        let mut policy = RetentionPolicy::new();
        if let Some(v) = env_var("BACCA_RETENTION_DAYS") {
            policy.retention_days = v
                .trim()
                .parse()
                .map_err(|_| Error::Config("BACCA_RETENTION_DAYS"))?;
        }
        if let Some(v) = env_var("BACCA_SAFETY_MARGIN_HOURS") {
            policy.safety_margin_hours = v
                .trim()
                .parse()
                .map_err(|_| Error::Config("BACCA_SAFETY_MARGIN_HOURS"))?;
        }
        Ok(Self {
            stores: TenantStores::for_service(&store, tenant.as_deref(), GcsConfig::new())?,
            policy,
            audit,
            tenant,
            clock: Arc::new(Utc::now),
            erasure: None,
        })
    }

    /// Runs the sweep for the request's tenant at the injected clock's time.
    ///
    /// # Errors
    /// [`Error::WrongTenant`], or the store's error listing the tenant's raw prefix.
    pub async fn sweep(&self, req: &ExpireRequest) -> Result<SweepReport, Error> {
        if self.tenant.as_deref().is_some_and(|t| t != req.tenant) {
            return Err(Error::WrongTenant);
        }
        let store = self.stores.store(&req.tenant)?;
        let now = (self.clock)();
        let report = bacca_storage::sweep(
            store.as_ref(),
            &req.tenant,
            self.policy,
            now,
            false,
            &self.audit,
            &|_| {},
        )
        .await?;
        Ok(report)
    }
}

/// Handles one event: parse the request, sweep, classify failures.
///
/// Per-object delete failures do not fail the request: they are in the audit event and the
/// next hourly run retries them. Failing to list the tenant's store is retryable.
///
/// # Errors
/// A permanent error for a malformed request or a wrong tenant; retryable for store outages.
pub async fn handle(event: Event, deps: &Deps) -> Result<Outcome, HandlerError> {
    let req: ExpireRequest = match event.json() {
        Ok(r) => r,
        Err(e) if mentions_erase(event.data()) => {
            deps.audit
                .emit(AuditEvent::new("erasure", "unknown").field("outcome", "malformed_message"));
            tracing::warn!(class = e.class(), "erase request rejected; acknowledged");
            return Ok(Outcome::Skipped("malformed_message"));
        }
        Err(e) => return Err(e),
    };
    match req.action {
        Action::Erase => match deps.erase(&req).await {
            Ok(report) => {
                tracing::info!(
                    erasure_id = %report.erasure_id,
                    objects_rewritten = report.raw.rewritten,
                    objects_deleted = report.raw.deleted,
                    records_removed = report.records_removed,
                    nodes_deleted = report.graph.nodes_deleted,
                    "erasure done"
                );
                Ok(Outcome::Done)
            }
            Err(e) => {
                let h = e.to_handler_error();
                let attempt = event.delivery_attempt().unwrap_or(0);
                if h.is_retryable() && attempt >= ERASE_MAX_DELIVERY_ATTEMPTS {
                    tracing::error!(
                        class = h.class(),
                        attempt,
                        "erase request still failing; acknowledged so that it is not \
                         dead-lettered (each attempt is in the audit trail): send it again \
                         once the cause is fixed"
                    );
                    Ok(Outcome::Skipped("erasure_given_up"))
                } else if h.is_retryable() {
                    Err(h)
                } else {
                    // Acknowledged, not dead-lettered: the dead letter would carry the
                    // identifier. The audit event already records the rejection.
                    tracing::warn!(class = h.class(), "erase request rejected; acknowledged");
                    Ok(Outcome::Skipped("erasure_rejected"))
                }
            }
        },
        Action::Sweep if req.subject.is_some() => {
            deps.audit
                .emit(AuditEvent::new("erasure", "unknown").field("outcome", "malformed_message"));
            tracing::warn!("sweep request with a subject rejected; acknowledged");
            Ok(Outcome::Skipped("malformed_message"))
        }
        Action::Sweep => {
            let report = deps.sweep(&req).await.map_err(|e| e.to_handler_error())?;
            if report.failed > 0 {
                tracing::warn!(
                    deleted = report.deleted,
                    failed = report.failed,
                    "sweep left failures for the next run"
                );
            } else {
                tracing::info!(
                    deleted = report.deleted,
                    scanned = report.scanned,
                    "sweep done"
                );
            }
            Ok(Outcome::Done)
        }
    }
}

/// Whether a body that did not parse as a request asks for an erasure (then it may hold an
/// identifier and must not be dead-lettered).
fn mentions_erase(body: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => {
            v.get("action").and_then(serde_json::Value::as_str) == Some("erase")
                || v.get("subject").is_some()
        }
        Err(_) => {
            body.windows(5).any(|w| w == b"erase") || body.windows(7).any(|w| w == b"subject")
        }
    }
}

#[async_trait]
impl Handler for Deps {
    async fn handle(&self, event: Event) -> Result<Outcome, HandlerError> {
        handle(event, self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bacca_runtime::{PubSubEvent, SchedulerEvent};
    use bacca_storage::{BatchId, RawWriter};
    use chrono::Duration;

    /// Local deps under `dir` whose audit events are kept in memory.
    fn memory_audited(dir: &Path) -> Deps {
        let mut deps = Deps::local(dir).unwrap();
        deps.audit = AuditSink::memory();
        deps
    }

    fn scheduler(body: &str) -> Event {
        Event::Scheduler(SchedulerEvent {
            body: body.to_owned().into(),
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn sweeps_expired_batches_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let mut deps = memory_audited(dir.path());
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        // Provisioning (Terraform in production) creates the tenant's bucket.
        deps.stores
            .store("acme")
            .unwrap()
            .create_bucket()
            .await
            .unwrap();
        let writer = RawWriter::new(deps.stores.clone(), deps.policy, AuditSink::Discard);
        for i in 0..2 {
            let id = BatchId::derive("acme", "slack", &i.to_string(), "x");
            let early = bytes::Bytes::from_static(b"c");
            writer
                .write_batch("acme", "slack", &id, t0, early, t0 + Duration::hours(1))
                .await
                .unwrap();
        }
        // At 29 d 21 h both survive; at 29 d 23 h both are deleted.
        deps.clock = Arc::new(move || t0 + Duration::hours(29 * 24 + 21));
        handle(scheduler(r#"{"tenant":"acme"}"#), &deps)
            .await
            .unwrap();
        let store = deps.stores.store("acme").unwrap();
        assert_eq!(store.list("raw/", None).await.unwrap().objects.len(), 2);
        deps.clock = Arc::new(move || t0 + Duration::hours(29 * 24 + 23));
        handle(scheduler(r#"{"tenant":"acme","action":"sweep"}"#), &deps)
            .await
            .unwrap();
        assert!(store.list("raw/", None).await.unwrap().objects.is_empty());
        handle(scheduler(r#"{"tenant":"acme"}"#), &deps)
            .await
            .unwrap();
        let sweeps: Vec<_> = deps
            .audit
            .events()
            .into_iter()
            .filter(|e| e.action == "sweep")
            .collect();
        assert_eq!(sweeps.len(), 3, "one audit event per run");
    }

    #[tokio::test]
    async fn wrong_tenant_and_malformed_requests_are_permanent() {
        let dir = tempfile::tempdir().unwrap();
        let mut deps = Deps::local(dir.path()).unwrap();
        deps.tenant = Some("acme".into());
        let e = handle(scheduler(r#"{"tenant":"globex"}"#), &deps)
            .await
            .unwrap_err();
        assert_eq!(e.class(), "wrong_tenant");
        assert!(!e.is_retryable());
        let e = handle(scheduler(r#"{"tenant":"acme","extra":1}"#), &deps)
            .await
            .unwrap_err();
        assert_eq!(e.class(), "malformed_message");
        let e = handle(scheduler(r#"{"tenant":"../x"}"#), &deps)
            .await
            .unwrap_err();
        assert!(!e.is_retryable());
        deps.tenant = None;
        let e = handle(scheduler(r#"{"tenant":"nobucket"}"#), &deps)
            .await
            .unwrap_err();
        assert_eq!(e.class(), "bucket_not_found");
    }

    fn push(attempt: u32) -> Event {
        Event::PubSub(PubSubEvent {
            data: r#"{"tenant":"acme","action":"erase","subject":{"email":"a@b.example"}}"#.into(),
            delivery_attempt: Some(attempt),
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn a_still_failing_erasure_is_given_up_before_the_dead_letter_policy() {
        let dir = tempfile::tempdir().unwrap();
        let deps = memory_audited(dir.path());
        // Not configured for erasure: retryable.
        let e = handle(push(1), &deps).await.unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(e.class(), "misconfigured");
        let out = handle(push(ERASE_MAX_DELIVERY_ATTEMPTS), &deps)
            .await
            .unwrap();
        assert_eq!(out, Outcome::Skipped("erasure_given_up"));
        let outcomes: Vec<_> = deps
            .audit
            .events()
            .into_iter()
            .filter(|e| e.action == "erasure")
            .map(|e| e.fields["outcome"].clone())
            .collect();
        assert_eq!(
            outcomes,
            vec!["misconfigured".into(), "misconfigured".into()]
        );
    }
}
