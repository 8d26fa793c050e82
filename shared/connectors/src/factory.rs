//! Builds a connector from CLI-style arguments and credentials from the environment.

use std::path::PathBuf;

use bacca_audit::AuditSink;
use chrono::{DateTime, Utc};

use crate::confluence::{ConfluenceConfig, ConfluenceSource};
use crate::credentials::{required_secret, Env};
use crate::datadog::{site_base_url, DatadogConfig, DatadogKeys, DatadogSource};
use crate::gdrive::{
    DriveConfig, DriveSource, ServiceAccountKey, DEFAULT_BASE_URL as DRIVE_BASE_URL,
};
use crate::http::{ConnectorContext, HttpConfig};
use crate::jira::{JiraConfig, JiraSource};
use crate::linear::{LinearConfig, LinearSource, DEFAULT_BASE_URL as LINEAR_BASE_URL};
use crate::notion::{NotionConfig, NotionSource, DEFAULT_BASE_URL as NOTION_BASE_URL};
use crate::record::SourceKind;
use crate::slack::{ExportLimits, SlackConfig, SlackExportSource, SlackProfile, SlackSource};
use crate::source::Source;
use crate::{Error, Result};

/// What `bacca fetch` passes: one tenant, one source, and its options.
#[derive(Debug, Clone)]
pub struct ConnectorArgs {
    /// Which connector.
    pub kind: SourceKind,
    /// The tenant id.
    pub tenant: String,
    /// Overrides the vendor's API root (tests, demo).
    pub base_url: Option<String>,
    /// First run only: fetch from this time.
    pub since: Option<DateTime<Utc>>,
    /// Slack allowlist (ids, or names for exports).
    pub channels: Vec<String>,
    /// Datadog logs query, or JQL.
    pub query: Option<String>,
    /// Slack export ZIP path.
    pub input: Option<PathBuf>,
    /// Slack rate-limit profile.
    pub slack_profile: SlackProfile,
    /// Timeouts, retries and pacing.
    pub http: HttpConfig,
}

impl ConnectorArgs {
    /// Arguments with defaults for `kind` and `tenant`.
    pub fn new(kind: SourceKind, tenant: &str) -> Self {
        Self {
            kind,
            tenant: tenant.to_owned(),
            base_url: None,
            since: None,
            channels: Vec::new(),
            query: None,
            input: None,
            slack_profile: SlackProfile::default(),
            http: HttpConfig::default(),
        }
    }

    /// Sets the Slack allowlist.
    #[must_use]
    pub fn channels(mut self, channels: Vec<String>) -> Self {
        self.channels = channels;
        self
    }

    /// Sets the base URL override.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the source query (Datadog logs query, JQL).
    #[must_use]
    pub fn query(mut self, q: impl Into<String>) -> Self {
        self.query = Some(q.into());
        self
    }

    /// Sets the first-run start time.
    #[must_use]
    pub const fn since(mut self, t: DateTime<Utc>) -> Self {
        self.since = Some(t);
        self
    }

    /// Sets the export path.
    #[must_use]
    pub fn input(mut self, p: impl Into<PathBuf>) -> Self {
        self.input = Some(p.into());
        self
    }

    /// Sets the HTTP configuration.
    #[must_use]
    pub fn http(mut self, h: HttpConfig) -> Self {
        self.http = h;
        self
    }
}

fn required_var(env: &dyn Env, name: &str) -> Result<String> {
    env.var(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Error::Credential {
            name: name.to_owned(),
            reason: "not set",
        })
}

/// Builds the connector `args.kind` with credentials from `env` (the vendors' variable names,
/// each with a `<NAME>_FILE` variant) and audit events to `audit`.
///
/// # Errors
/// [`Error::Credential`] for missing credentials, [`Error::Config`] for invalid arguments,
/// [`Error::Export`] for an unsafe export archive.
pub fn connector_from_args(
    args: &ConnectorArgs,
    env: &dyn Env,
    audit: AuditSink,
) -> Result<Box<dyn Source>> {
    let mut ctx = ConnectorContext::new(&args.tenant, audit)?;
    ctx.http = args.http.clone();
    let base = |default: String| args.base_url.clone().unwrap_or(default);
    Ok(match args.kind {
        SourceKind::Slack => Box::new(SlackSource::new(
            &ctx,
            required_secret(env, "SLACK_BOT_TOKEN")?,
            SlackConfig {
                base_url: base(SlackConfig::DEFAULT_BASE_URL.to_owned()),
                channels: args.channels.clone(),
                since: args.since,
                profile: args.slack_profile,
                min_interval_ms: None,
            },
        )?),
        SourceKind::SlackExport => {
            let path = args
                .input
                .as_ref()
                .ok_or_else(|| Error::Config("slack-export needs --input <export.zip>".into()))?;
            Box::new(SlackExportSource::open(
                path,
                &args.channels,
                ExportLimits::default(),
            )?)
        }
        SourceKind::Datadog => {
            let site = env.var("DD_SITE").unwrap_or_else(|| "datadoghq.com".into());
            let mut config = DatadogConfig::new(&base(site_base_url(&site)?));
            config.logs_query.clone_from(&args.query);
            config.since = args.since;
            Box::new(DatadogSource::new(
                &ctx,
                DatadogKeys {
                    api_key: required_secret(env, "DD_API_KEY")?,
                    app_key: required_secret(env, "DD_APP_KEY")?,
                },
                config,
            )?)
        }
        SourceKind::Jira => {
            let base_url = match &args.base_url {
                Some(b) => b.clone(),
                None => required_var(env, "JIRA_BASE_URL")?,
            };
            Box::new(JiraSource::new(
                &ctx,
                required_secret(env, "JIRA_EMAIL")?,
                required_secret(env, "JIRA_API_TOKEN")?,
                JiraConfig {
                    base_url,
                    jql: args.query.clone(),
                    since: args.since,
                },
            )?)
        }
        SourceKind::Linear => Box::new(LinearSource::new(
            &ctx,
            required_secret(env, "LINEAR_API_KEY")?,
            LinearConfig {
                base_url: base(LINEAR_BASE_URL.to_owned()),
                since: args.since,
                page_size: 50,
            },
        )?),
        SourceKind::Confluence => {
            let base_url = match &args.base_url {
                Some(b) => b.clone(),
                None => required_var(env, "CONFLUENCE_BASE_URL")?,
            };
            let space_ids = args
                .query
                .as_deref()
                .map(|q| {
                    q.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            Box::new(ConfluenceSource::new(
                &ctx,
                required_secret(env, "CONFLUENCE_EMAIL")?,
                required_secret(env, "CONFLUENCE_API_TOKEN")?,
                ConfluenceConfig {
                    base_url,
                    space_ids,
                    page_size: 100,
                },
            )?)
        }
        SourceKind::Notion => Box::new(NotionSource::new(
            &ctx,
            required_secret(env, "NOTION_TOKEN")?,
            NotionConfig {
                base_url: base(NOTION_BASE_URL.to_owned()),
                page_size: 10,
            },
        )?),
        SourceKind::Gdrive => {
            let path = required_var(env, "GOOGLE_APPLICATION_CREDENTIALS")?;
            let json = std::fs::read_to_string(&path).map_err(|_| Error::Credential {
                name: "GOOGLE_APPLICATION_CREDENTIALS".into(),
                reason: "the key file cannot be read",
            })?;
            Box::new(DriveSource::new(
                &ctx,
                ServiceAccountKey::from_json(&json)?,
                DriveConfig {
                    base_url: base(DRIVE_BASE_URL.to_owned()),
                    since: args.since,
                    page_size: 100,
                },
            )?)
        }
    })
}
