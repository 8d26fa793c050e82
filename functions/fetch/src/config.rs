//! The fetch function's dependencies, built once at start-up from the environment.
//!
//! | variable | meaning | local-mode default |
//! |---|---|---|
//! | `BACCA_STORE` | the tenant's raw bucket (`gs://<bucket>`, with `BACCA_TENANT`) or a template with `{tenant}` | `file://<data>/objects/{tenant}` |
//! | `BACCA_KMS` | base key URI (`gcp-kms://.../cryptoKeys/bacca-{tenant}`) | `local-kms://<data>/keyring.json` |
//! | `BACCA_TENANT` | the only tenant this service serves | any |
//! | `BACCA_RAW_LANDED_TOPIC` | topic of the `raw-landed` pointers | `raw-landed` |
//! | `BACCA_MAX_PAGES_PER_REQUEST` | bounded work per request | 50 |
//! | `BACCA_<SOURCE>_BASE_URL` | vendor API root override (`SLACK`, `DATADOG`, `JIRA`, ...) | vendor default |
//! | `BACCA_SLACK_CHANNELS` | the Slack channel allowlist (comma-separated ids) | none: nothing is read |
//! | `BACCA_DATADOG_QUERY`, `BACCA_JIRA_JQL` | source queries | connector default |
//! | `BACCA_FETCH_SINCE` | first run: fetch from this RFC 3339 time | connector default |
//! | `BACCA_SLACK_EXPORT_INPUT` | path of a Slack export ZIP | none |
//!
//! Connector credentials use the vendors' names (`SLACK_BOT_TOKEN`, `DD_API_KEY`, ...), each
//! with a `<NAME>_FILE` variant for files mounted from Secret Manager. With
//! `GOOGLE_CLOUD_PROJECT` set, pointers go to Cloud Pub/Sub and audit events to the `audit`
//! log target; otherwise (local mode) to files under `BACCA_DATA_DIR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bacca_audit::AuditSink;
use bacca_bus::{FilePublisher, PubSubPublisher, Publisher};
use bacca_connectors::{ConnectorArgs, Env, ProcessEnv, SourceKind};
use bacca_crypto::TenantKeys;
use bacca_runtime::env::{env_var, LocalLayout};
use bacca_storage::{GcsConfig, RetentionPolicy, TenantStores};
use chrono::{DateTime, Utc};

use crate::{Clock, Error, InFlight};

/// Per-source connector options that are deployment settings, not request fields.
#[derive(Debug, Clone, Default)]
pub struct ConnectorSettings {
    /// API root overrides by source name (`slack`, `datadog`, ...).
    pub base_urls: BTreeMap<String, String>,
    /// The Slack channel allowlist.
    pub slack_channels: Vec<String>,
    /// The Datadog logs query.
    pub datadog_query: Option<String>,
    /// The JQL for Jira.
    pub jira_jql: Option<String>,
    /// First run: fetch from this time.
    pub since: Option<DateTime<Utc>>,
    /// A Slack export ZIP.
    pub slack_export_input: Option<PathBuf>,
}

impl ConnectorSettings {
    /// Reads the `BACCA_*` connector variables of the module docs.
    ///
    /// # Errors
    /// [`Error::Config`] naming a malformed variable.
    pub fn from_env() -> Result<Self, Error> {
        let mut s = Self::default();
        for kind in [
            "slack",
            "datadog",
            "jira",
            "linear",
            "confluence",
            "notion",
            "gdrive",
        ] {
            if let Some(url) = env_var(&format!("BACCA_{}_BASE_URL", kind.to_uppercase())) {
                s.base_urls.insert(kind.to_owned(), url);
            }
        }
        if let Some(c) = env_var("BACCA_SLACK_CHANNELS") {
            s.slack_channels = c.split(',').map(|c| c.trim().to_owned()).collect();
        }
        s.datadog_query = env_var("BACCA_DATADOG_QUERY");
        s.jira_jql = env_var("BACCA_JIRA_JQL");
        s.slack_export_input = env_var("BACCA_SLACK_EXPORT_INPUT").map(PathBuf::from);
        if let Some(since) = env_var("BACCA_FETCH_SINCE") {
            s.since = Some(
                since
                    .parse()
                    .map_err(|_| Error::Config("BACCA_FETCH_SINCE"))?,
            );
        }
        Ok(s)
    }

    /// The connector arguments for `kind` and `tenant`.
    pub fn args(&self, kind: SourceKind, tenant: &str) -> ConnectorArgs {
        let mut args = ConnectorArgs::new(kind, tenant);
        args.base_url = self.base_urls.get(kind.as_str()).cloned();
        args.since = self.since;
        match kind {
            SourceKind::Slack | SourceKind::SlackExport => {
                args.channels.clone_from(&self.slack_channels);
                args.input.clone_from(&self.slack_export_input);
            }
            SourceKind::Datadog => args.query.clone_from(&self.datadog_query),
            SourceKind::Jira => args.query.clone_from(&self.jira_jql),
            _ => {}
        }
        args
    }
}

/// Everything the handler needs, built once and shared by reference.
#[derive(Clone)]
pub struct Deps {
    /// Each tenant's raw store.
    pub stores: TenantStores,
    /// Each tenant's envelope key.
    pub keys: TenantKeys,
    /// Retention window and margin.
    pub policy: RetentionPolicy,
    /// The audit stream.
    pub audit: AuditSink,
    /// Where `raw-landed` pointers go.
    pub publisher: Arc<dyn Publisher>,
    /// The `raw-landed` topic.
    pub raw_landed_topic: String,
    /// The only tenant this service serves (`None`: any, for local development).
    pub tenant: Option<String>,
    /// Connector options.
    pub connectors: ConnectorSettings,
    /// Where credentials come from.
    pub env: Arc<dyn Env>,
    /// Processing of records too old to store raw.
    pub in_flight: Option<Arc<dyn InFlight>>,
    /// Pages per request at most (bounded work; the next request resumes).
    pub max_pages_per_request: u64,
    /// The clock.
    pub clock: Clock,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("tenant", &self.tenant)
            .field("raw_landed_topic", &self.raw_landed_topic)
            .field("max_pages_per_request", &self.max_pages_per_request)
            .finish_non_exhaustive()
    }
}

/// Default pages per request.
pub const DEFAULT_MAX_PAGES_PER_REQUEST: u64 = 50;

impl Deps {
    /// Deps over explicit backends, with default settings for the rest.
    pub fn new(
        stores: TenantStores,
        keys: TenantKeys,
        publisher: Arc<dyn Publisher>,
        audit: AuditSink,
    ) -> Self {
        Self {
            stores,
            keys,
            policy: RetentionPolicy::new(),
            audit,
            publisher,
            raw_landed_topic: "raw-landed".into(),
            tenant: None,
            connectors: ConnectorSettings::default(),
            env: Arc::new(ProcessEnv),
            in_flight: None,
            max_pages_per_request: DEFAULT_MAX_PAGES_PER_REQUEST,
            clock: Arc::new(Utc::now),
        }
    }

    /// Local mode under `dir` ([`LocalLayout`]): stores in `objects/<tenant>`, keys in
    /// `keyring.json`, pointers appended to `topics/raw-landed.jsonl`, audit to `audit.jsonl`.
    ///
    /// # Errors
    /// When the audit file cannot be opened.
    pub fn local(dir: &Path) -> Result<Self, Error> {
        let l = LocalLayout::new(dir);
        Ok(Self::new(
            TenantStores::from_template(&l.store_template(), GcsConfig::new())?,
            TenantKeys::new(l.kms_uri()),
            Arc::new(FilePublisher::new(l.topic_file("raw-landed"))),
            AuditSink::file(l.audit_file()).map_err(|_| Error::Config("BACCA_DATA_DIR"))?,
        ))
    }

    /// From the environment (see the module docs). Only what is not configured falls back
    /// to the local layout under `BACCA_DATA_DIR`.
    ///
    /// # Errors
    /// [`Error::Config`] naming a malformed variable.
    pub fn from_env() -> Result<Self, Error> {
        let local = || LocalLayout::from_env().map_err(|_| Error::Config("BACCA_DATA_DIR"));
        let tenant = env_var("BACCA_TENANT");
        let store = match env_var("BACCA_STORE") {
            Some(uri) => uri,
            None => local()?.store_template(),
        };
        let kms = match env_var("BACCA_KMS") {
            Some(uri) => uri,
            None => local()?.kms_uri(),
        };
        let (publisher, audit): (Arc<dyn Publisher>, AuditSink) =
            match env_var("GOOGLE_CLOUD_PROJECT") {
                Some(project) => (
                    Arc::new(
                        PubSubPublisher::new(&project)
                            .map_err(|_| Error::Config("GOOGLE_CLOUD_PROJECT"))?,
                    ),
                    AuditSink::Tracing,
                ),
                None => {
                    let l = local()?;
                    (
                        Arc::new(FilePublisher::new(l.topic_file("raw-landed"))),
                        AuditSink::file(l.audit_file())
                            .map_err(|_| Error::Config("BACCA_DATA_DIR"))?,
                    )
                }
            };
        let stores = TenantStores::for_service(&store, tenant.as_deref(), GcsConfig::new())?;
        let mut deps = Self::new(stores, TenantKeys::new(kms), publisher, audit);
        if let Some(topic) = env_var("BACCA_RAW_LANDED_TOPIC") {
            deps.raw_landed_topic = topic;
        }
        deps.tenant = tenant;
        if let Some(n) = env_var("BACCA_MAX_PAGES_PER_REQUEST") {
            deps.max_pages_per_request = n
                .parse()
                .map_err(|_| Error::Config("BACCA_MAX_PAGES_PER_REQUEST"))?;
        }
        deps.connectors = ConnectorSettings::from_env()?;
        Ok(deps)
    }
}
