//! Datadog (read-only application key): logs search v2, incidents v2 with included users,
//! monitors v1 and metrics timeseries v2, on any Datadog site.
//!
//! One [`DatadogSource`] reads its streams in order (logs when a query is given, then incidents,
//! then monitors, then the configured metrics queries), each with its own resume state inside the
//! checkpoint. Logs are read in fixed windows `[from, to)` with the cursor of `meta.page.after`;
//! incidents and monitors are listed page by page and only those modified after the previous pass
//! are kept.

mod incidents;
mod logs;
mod metrics;
mod monitors;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::http::{Api, ConnectorContext};
use crate::record::{Checkpoint, Page, Record, SourceKind};
use crate::source::{decode, encode, Source};
use crate::{Error, Result};
pub use incidents::parse_incidents_page;
pub use logs::parse_logs_page;
pub use metrics::parse_timeseries;
pub use monitors::parse_monitors_page;

/// The Datadog sites: `DD_SITE` must be one of them.
pub const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
];

/// The API root of a Datadog site (`https://api.<site>`).
///
/// # Errors
/// [`Error::Config`] for a site that is not a Datadog site.
pub fn site_base_url(site: &str) -> Result<String> {
    if SITES.contains(&site) {
        Ok(format!("https://api.{site}"))
    } else {
        Err(Error::Config(format!(
            "DD_SITE must be one of {}",
            SITES.join(", ")
        )))
    }
}

/// Configuration of the Datadog connector.
#[derive(Debug, Clone)]
pub struct DatadogConfig {
    /// API root (`https://api.datadoghq.com`; see [`site_base_url`]).
    pub base_url: String,
    /// The logs search query (`service:web status:error`); logs are not read when `None`.
    pub logs_query: Option<String>,
    /// Read incidents.
    pub incidents: bool,
    /// Read monitors.
    pub monitors: bool,
    /// Metrics queries (`avg:trace.http.request.duration{service:web} by {resource_name}`),
    /// read through the v2 timeseries API in windows like logs.
    pub metric_queries: Vec<String>,
    /// Rollup interval of metrics points, in milliseconds.
    pub metric_interval_ms: i64,
    /// First run only: read logs after this time (default: 24 hours ago).
    pub since: Option<DateTime<Utc>>,
    /// Logs page size (at most 1000).
    pub logs_page_size: u32,
    /// How far behind now a logs window ends, in seconds (indexing lag).
    pub logs_lag_secs: i64,
}

impl DatadogConfig {
    /// Defaults: incidents and monitors on, logs only with a query, pages of 1000.
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            logs_query: None,
            incidents: true,
            monitors: true,
            metric_queries: Vec::new(),
            metric_interval_ms: 60_000,
            since: None,
            logs_page_size: 1000,
            logs_lag_secs: 60,
        }
    }
}

/// Datadog credentials: `DD_API_KEY` and `DD_APP_KEY`.
#[derive(Debug, Clone)]
pub struct DatadogKeys {
    /// `DD-API-KEY`.
    pub api_key: SecretString,
    /// `DD-APPLICATION-KEY` (scoped read-only: `logs_read_data`, `incident_read`, `monitors_read`).
    pub app_key: SecretString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Stream {
    Logs,
    Incidents,
    Monitors,
    Metrics,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LogsState {
    /// End of the last completed window (the next window starts here).
    #[serde(default)]
    watermark: Option<String>,
    /// The window being read.
    #[serde(default)]
    window: Option<(String, String)>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ListState {
    /// Newest `modified` of the last completed pass.
    #[serde(default)]
    watermark: Option<DateTime<Utc>>,
    /// Newest `modified` seen in the current pass.
    #[serde(default)]
    pass_max: Option<DateTime<Utc>>,
    /// Offset (incidents) or page number (monitors) of the next page.
    #[serde(default)]
    next: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct MetricsState {
    /// End (epoch ms) of the last completed window.
    #[serde(default)]
    watermark_ms: Option<i64>,
    /// The window being read (epoch ms) and the index of the next query in it.
    #[serde(default)]
    window: Option<(i64, i64)>,
    #[serde(default)]
    query: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    #[serde(default)]
    stream: usize,
    #[serde(default)]
    logs: LogsState,
    #[serde(default)]
    incidents: ListState,
    #[serde(default)]
    monitors: ListState,
    #[serde(default)]
    metrics: MetricsState,
}

/// Reads logs, incidents and monitors of one Datadog organization.
#[derive(Debug)]
pub struct DatadogSource {
    api: Api,
    keys: DatadogKeys,
    config: DatadogConfig,
    streams: Vec<Stream>,
}

impl DatadogSource {
    /// A connector with `keys` and `config`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad base URL or nothing to read.
    pub fn new(ctx: &ConnectorContext, keys: DatadogKeys, config: DatadogConfig) -> Result<Self> {
        let mut streams = Vec::new();
        if config.logs_query.is_some() {
            streams.push(Stream::Logs);
        }
        if config.incidents {
            streams.push(Stream::Incidents);
        }
        if config.monitors {
            streams.push(Stream::Monitors);
        }
        if !config.metric_queries.is_empty() {
            streams.push(Stream::Metrics);
        }
        if streams.is_empty() {
            return Err(Error::Config("datadog: nothing to read".into()));
        }
        Ok(Self {
            api: Api::new(ctx, "datadog", &config.base_url)?,
            keys,
            config,
            streams,
        })
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.header("DD-API-KEY", self.keys.api_key.expose_secret())
            .header("DD-APPLICATION-KEY", self.keys.app_key.expose_secret())
    }
}

/// Keeps the records modified after the watermark and advances the listing.
fn list_step(
    s: &mut ListState,
    records: Vec<Record>,
    count: u64,
    size: u64,
) -> (Vec<Record>, bool) {
    for r in &records {
        let m = r.updated_at.unwrap_or(r.occurred_at);
        if s.pass_max.is_none_or(|p| m > p) {
            s.pass_max = Some(m);
        }
    }
    let watermark = s.watermark;
    let kept: Vec<Record> = records
        .into_iter()
        .filter(|r| watermark.is_none_or(|w| r.updated_at.unwrap_or(r.occurred_at) > w))
        .collect();
    let finished = count < size;
    if finished {
        s.watermark = s.pass_max.or(s.watermark);
        s.pass_max = None;
        s.next = 0;
    } else {
        s.next += count;
    }
    (kept, finished)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[async_trait]
impl Source for DatadogSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Datadog
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: State = decode("datadog", checkpoint)?;
        if state.stream >= self.streams.len() {
            state.stream = 0;
        }
        let (records, finished) = match self.streams[state.stream] {
            Stream::Logs => self.logs_page(&mut state.logs).await?,
            Stream::Incidents => self.incidents_page(&mut state.incidents).await?,
            Stream::Monitors => self.monitors_page(&mut state.monitors).await?,
            Stream::Metrics => self.metrics_page(&mut state.metrics).await?,
        };
        let mut done = false;
        if finished {
            state.stream += 1;
            if state.stream >= self.streams.len() {
                state.stream = 0;
                done = true;
            }
        }
        Ok(Page {
            records,
            next_checkpoint: encode(&state),
            done,
        })
    }
}

fn malformed_field(endpoint: &str, detail: &str) -> Error {
    Error::Malformed {
        source_name: "datadog",
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_time;

    #[test]
    fn sites() {
        assert_eq!(
            site_base_url("datadoghq.eu").unwrap(),
            "https://api.datadoghq.eu"
        );
        assert!(site_base_url("evil.example").is_err());
    }

    #[test]
    fn list_step_filters_and_advances() {
        let mut s = ListState::default();
        let (mut recs, _) = parse_monitors_page(
            br#"[{"id":1,"name":"a","message":"m","created":"2024-01-01T00:00:00Z","modified":"2024-01-02T00:00:00Z"}]"#,
        )
        .unwrap();
        let (kept, done) = list_step(&mut s, recs.clone(), 1, 1000);
        assert!(done);
        assert_eq!(kept.len(), 1);
        recs[0].updated_at = parse_time("2024-01-02T00:00:00Z");
        let (kept, _) = list_step(&mut s, recs, 1, 1000);
        assert!(kept.is_empty(), "unchanged monitor is not read again");
    }
}
