//! The `bacca run` configuration file: ports of the three servers, the in-process bus's
//! delivery policy, the fetch function's sources and connector settings, with defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use bacca_bus::SubscriptionConfig;
use serde::Deserialize;

/// The topic fetch requests are published on.
pub const FETCH_REQUESTS_TOPIC: &str = "fetch-requests";

const fn default_fetch_port() -> u16 {
    8081
}
const fn default_anonymize_port() -> u16 {
    8082
}
const fn default_expire_port() -> u16 {
    8083
}
const fn default_max_delivery_attempts() -> u32 {
    5
}
const fn default_min_backoff_ms() -> u64 {
    100
}
const fn default_max_backoff_ms() -> u64 {
    10_000
}
const fn default_max_pages_per_request() -> u64 {
    50
}
fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_dead_letter_topic() -> String {
    "dead-letter".into()
}

/// The configuration of `bacca run`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory of the embedded backends: keyring, objects, graph, secrets, audit, topics.
    /// Relative paths are resolved against the config file's directory.
    pub data_dir: PathBuf,
    /// Tenants whose keys and raw buckets are created at start when missing.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Address the servers listen on.
    #[serde(default = "default_host")]
    pub host: String,
    /// Raw store URI template with `{tenant}` (default `file://<data_dir>/objects/{tenant}`).
    #[serde(default)]
    pub store: Option<String>,
    /// Base key URI (default `local-kms://<data_dir>/keyring.json`).
    #[serde(default)]
    pub kms: Option<String>,
    /// Graph store URI (default `sqlite://<data_dir>/graph`).
    #[serde(default)]
    pub graph: Option<String>,
    /// The fetch function.
    #[serde(default)]
    pub fetch: FetchConfig,
    /// The anonymize function.
    #[serde(default)]
    pub anonymize: ServerConfig<AnonymizePort>,
    /// The expire function.
    #[serde(default)]
    pub expire: ServerConfig<ExpirePort>,
    /// Delivery semantics of the in-process bus.
    #[serde(default)]
    pub bus: BusConfig,
    /// Connector settings (credentials come from the environment).
    #[serde(default)]
    pub connectors: ConnectorsConfig,
}

/// The fetch server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    /// TCP port (0: any free port).
    #[serde(default = "default_fetch_port")]
    pub port: u16,
    /// Pages per request at most.
    #[serde(default = "default_max_pages_per_request")]
    pub max_pages_per_request: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            port: default_fetch_port(),
            max_pages_per_request: default_max_pages_per_request(),
        }
    }
}

/// Default port of a server, by marker type.
pub trait DefaultPort {
    /// The port.
    const PORT: u16;
}
/// Marker: the anonymize server (8082).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnonymizePort;
impl DefaultPort for AnonymizePort {
    const PORT: u16 = default_anonymize_port();
}
/// Marker: the expire server (8083).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExpirePort;
impl DefaultPort for ExpirePort {
    const PORT: u16 = default_expire_port();
}

/// A server with only a port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig<P: DefaultPort> {
    /// TCP port (0: any free port).
    #[serde(default = "ServerConfig::<P>::default_port")]
    pub port: u16,
    #[serde(skip)]
    marker: std::marker::PhantomData<P>,
}

impl<P: DefaultPort> ServerConfig<P> {
    const fn default_port() -> u16 {
        P::PORT
    }
}

impl<P: DefaultPort> Default for ServerConfig<P> {
    fn default() -> Self {
        Self {
            port: P::PORT,
            marker: std::marker::PhantomData,
        }
    }
}

/// Delivery semantics of the in-process bus.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    /// Where permanently failing messages go.
    #[serde(default = "default_dead_letter_topic")]
    pub dead_letter_topic: String,
    /// Attempts before a message is dead-lettered.
    #[serde(default = "default_max_delivery_attempts")]
    pub max_delivery_attempts: u32,
    /// First retry back-off, in milliseconds.
    #[serde(default = "default_min_backoff_ms")]
    pub min_backoff_ms: u64,
    /// Largest retry back-off, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            dead_letter_topic: default_dead_letter_topic(),
            max_delivery_attempts: default_max_delivery_attempts(),
            min_backoff_ms: default_min_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

/// Connector settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorsConfig {
    /// The Slack channel allowlist (channel ids); nothing is read without it.
    #[serde(default)]
    pub slack_channels: Vec<String>,
    /// The Datadog logs query.
    #[serde(default)]
    pub datadog_query: Option<String>,
    /// The JQL for Jira.
    #[serde(default)]
    pub jira_jql: Option<String>,
    /// First run: fetch from this RFC 3339 time.
    #[serde(default)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// API root overrides by source name (`slack`, `datadog`, `jira`, ...).
    #[serde(default)]
    pub base_urls: BTreeMap<String, String>,
}

impl Config {
    /// Reads and validates a config file; a relative `data_dir` is resolved against the
    /// file's directory.
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid configuration.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut config: Self =
            toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
        if config.data_dir.is_relative() {
            let base = path.parent().unwrap_or_else(|| Path::new("."));
            config.data_dir = base.join(&config.data_dir);
        }
        Ok(config)
    }

    pub(super) fn subscription(&self) -> SubscriptionConfig {
        SubscriptionConfig::new()
            .dead_letter(
                self.bus.dead_letter_topic.clone(),
                self.bus.max_delivery_attempts,
            )
            .backoff(
                Duration::from_millis(self.bus.min_backoff_ms),
                Duration::from_millis(self.bus.max_backoff_ms),
            )
    }
}
