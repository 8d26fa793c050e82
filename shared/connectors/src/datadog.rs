//! Datadog (read-only application key): logs search v2, incidents v2 with included users,
//! monitors v1 and metrics timeseries v2, on any Datadog site.
//!
//! One [`DatadogSource`] reads its streams in order (logs when a query is given, then
//! incidents, then monitors, then the configured metrics queries), each with its own resume state inside the checkpoint. Logs are
//! read in fixed windows `[from, to)` with the cursor of `meta.page.after`; incidents and
//! monitors are listed page by page and only those modified after the previous pass are kept.

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::malformed;
use crate::http::{Api, ConnectorContext};
use crate::pass::check_cursor;
use crate::record::{attrs, parse_time, Checkpoint, Identity, Page, Record, SourceKind};
use crate::source::{decode, encode, Source};
use crate::{Error, Result};

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

    async fn logs_page(&self, s: &mut LogsState) -> Result<(Vec<Record>, bool)> {
        let (from, to) = match &s.window {
            Some(w) => w.clone(),
            None => {
                let from = s.watermark.clone().unwrap_or_else(|| {
                    rfc3339(
                        self.config
                            .since
                            .unwrap_or_else(|| Utc::now() - Duration::hours(24)),
                    )
                });
                let to = rfc3339(Utc::now() - Duration::seconds(self.config.logs_lag_secs));
                (from, to)
            }
        };
        let mut page = serde_json::Map::new();
        page.insert(
            "limit".into(),
            Value::from(self.config.logs_page_size.min(1000)),
        );
        if let Some(c) = &s.cursor {
            page.insert("cursor".into(), Value::String(c.clone()));
        }
        let body = serde_json::json!({
            "filter": { "query": self.config.logs_query.as_deref().unwrap_or("*"), "from": from, "to": to },
            "sort": "timestamp",
            "page": page,
        });
        let url = self.api.url("/api/v2/logs/events/search");
        let (records, after) = self
            .api
            .call(
                "/api/v2/logs/events/search",
                |c| self.auth(c.post(&url)).json(&body),
                |b, _| {
                    let (r, a) = parse_logs_page(b)?;
                    let n = r.len();
                    Ok(((r, a), n))
                },
            )
            .await?;
        check_cursor(
            "datadog",
            "/api/v2/logs/events/search",
            s.cursor.as_deref(),
            after.as_deref(),
        )?;
        let finished = after.is_none();
        if finished {
            s.watermark = Some(to);
            s.window = None;
            s.cursor = None;
        } else {
            s.window = Some((from, to));
            s.cursor = after;
        }
        Ok((records, finished))
    }

    async fn incidents_page(&self, s: &mut ListState) -> Result<(Vec<Record>, bool)> {
        const SIZE: u64 = 100;
        let url = self.api.url("/api/v2/incidents");
        let q = [
            ("page[size]", SIZE.to_string()),
            ("page[offset]", s.next.to_string()),
            ("include", "users".to_owned()),
        ];
        let (records, count) = self
            .api
            .call(
                "/api/v2/incidents",
                |c| self.auth(c.get(&url)).query(&q),
                |b, _| {
                    let r = parse_incidents_page(b)?;
                    let n = r.0.len();
                    Ok((r, n))
                },
            )
            .await?;
        Ok(list_step(s, records, count, SIZE))
    }

    async fn monitors_page(&self, s: &mut ListState) -> Result<(Vec<Record>, bool)> {
        const SIZE: u64 = 1000;
        let url = self.api.url("/api/v1/monitor");
        let q = [
            ("page", s.next.to_string()),
            ("page_size", SIZE.to_string()),
        ];
        let (records, count) = self
            .api
            .call(
                "/api/v1/monitor",
                |c| self.auth(c.get(&url)).query(&q),
                |b, _| {
                    let r = parse_monitors_page(b)?;
                    let n = r.0.len();
                    Ok((r, n))
                },
            )
            .await?;
        let before = s.next;
        let (records, finished) = list_step(s, records, count, SIZE);
        // Monitors are paged by page number, not offset.
        if !finished {
            s.next = before + 1;
        }
        Ok((records, finished))
    }
}

impl DatadogSource {
    async fn metrics_page(&self, s: &mut MetricsState) -> Result<(Vec<Record>, bool)> {
        const EP: &str = "/api/v2/query/timeseries";
        let (from, to) = match s.window {
            Some(w) => w,
            None => {
                let from = s.watermark_ms.unwrap_or_else(|| {
                    self.config
                        .since
                        .unwrap_or_else(|| Utc::now() - Duration::hours(24))
                        .timestamp_millis()
                });
                let to =
                    (Utc::now() - Duration::seconds(self.config.logs_lag_secs)).timestamp_millis();
                (from, to.max(from))
            }
        };
        let query = self
            .config
            .metric_queries
            .get(s.query)
            .cloned()
            .unwrap_or_default();
        let body = serde_json::json!({
            "data": {
                "type": "timeseries_request",
                "attributes": {
                    "from": from,
                    "to": to,
                    "interval": self.config.metric_interval_ms,
                    "queries": [{ "data_source": "metrics", "query": query, "name": "q" }],
                    "formulas": [{ "formula": "q" }]
                }
            }
        });
        let url = self.api.url(EP);
        let records = self
            .api
            .call(
                EP,
                |c| self.auth(c.post(&url)).json(&body),
                |b, _| {
                    let r = parse_timeseries(b, &query, from)?;
                    let n = r.len();
                    Ok((r, n))
                },
            )
            .await?;
        s.query += 1;
        let finished = s.query >= self.config.metric_queries.len();
        if finished {
            s.watermark_ms = Some(to);
            s.window = None;
            s.query = 0;
        } else {
            s.window = Some((from, to));
        }
        Ok((records, finished))
    }
}

/// Parses a v2 timeseries response: one record per series (tags only, no people).
///
/// # Errors
/// [`Error::Malformed`] when the body is not a timeseries response.
pub fn parse_timeseries(body: &[u8], query: &str, from_ms: i64) -> Result<Vec<Record>> {
    const EP: &str = "/api/v2/query/timeseries";
    let v: Value = serde_json::from_slice(body).map_err(|e| malformed("datadog", EP, &e))?;
    let a = v
        .pointer("/data/attributes")
        .ok_or_else(|| malformed_field(EP, "no data.attributes"))?;
    let series = a
        .get("series")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let times = a.get("times").cloned().unwrap_or(Value::Null);
    let values = a
        .get("values")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let first = times
        .as_array()
        .and_then(|t| t.first())
        .and_then(Value::as_i64)
        .unwrap_or(from_ms);
    let occurred_at = chrono::TimeZone::timestamp_millis_opt(&Utc, first)
        .single()
        .ok_or_else(|| malformed_field(EP, "bad time"))?;
    let mut out = Vec::with_capacity(series.len());
    for (i, s) in series.into_iter().enumerate() {
        let tags = s.get("group_tags").cloned().unwrap_or(Value::Null);
        let tag_key = tags
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        out.push(Record {
            source: SourceKind::Datadog,
            kind: "metric".into(),
            id: format!("{query}|{tag_key}|{first}"),
            container: None,
            parent_id: None,
            occurred_at,
            updated_at: None,
            text: String::new(),
            identities: Vec::new(),
            attributes: attrs([
                ("query", Value::String(query.to_owned())),
                ("group_tags", tags),
                ("times", times.clone()),
                ("values", values.get(i).cloned().unwrap_or(Value::Null)),
            ]),
        });
    }
    Ok(out)
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

#[derive(Deserialize)]
struct LogsResponse {
    data: Vec<LogEvent>,
    #[serde(default)]
    meta: Option<LogsMeta>,
}

#[derive(Deserialize)]
struct LogsMeta {
    #[serde(default)]
    page: Option<LogsMetaPage>,
}

#[derive(Deserialize)]
struct LogsMetaPage {
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize)]
struct LogEvent {
    id: String,
    attributes: LogAttributes,
}

#[derive(Deserialize)]
struct LogAttributes {
    timestamp: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    attributes: Value,
}

fn malformed_field(endpoint: &str, detail: &str) -> Error {
    Error::Malformed {
        source_name: "datadog",
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}

/// Parses and normalizes one logs search page; returns the records and `meta.page.after`.
///
/// # Errors
/// [`Error::Malformed`] when the body is not a logs search response.
pub fn parse_logs_page(body: &[u8]) -> Result<(Vec<Record>, Option<String>)> {
    const EP: &str = "/api/v2/logs/events/search";
    let r: LogsResponse = serde_json::from_slice(body).map_err(|e| malformed("datadog", EP, &e))?;
    let mut out = Vec::with_capacity(r.data.len());
    for e in r.data {
        let a = e.attributes;
        let occurred_at =
            parse_time(&a.timestamp).ok_or_else(|| malformed_field(EP, "bad timestamp"))?;
        let mut identities = Vec::new();
        if let Some(usr) = a.attributes.get("usr") {
            let s = |k: &str| usr.get(k).and_then(Value::as_str).map(str::to_owned);
            let i = Identity {
                role: "user".into(),
                id: s("id"),
                name: s("name"),
                handle: None,
                email: s("email"),
            };
            if i.id.is_some() || i.name.is_some() || i.email.is_some() {
                identities.push(i);
            }
        }
        out.push(Record {
            source: SourceKind::Datadog,
            kind: "log".into(),
            id: e.id,
            container: a.service.clone(),
            parent_id: None,
            occurred_at,
            updated_at: None,
            text: a.message.unwrap_or_default(),
            identities,
            attributes: attrs([
                ("host", a.host.map_or(Value::Null, Value::String)),
                ("service", a.service.map_or(Value::Null, Value::String)),
                ("status", a.status.map_or(Value::Null, Value::String)),
                (
                    "tags",
                    if a.tags.is_empty() {
                        Value::Null
                    } else {
                        Value::from(a.tags)
                    },
                ),
                ("attributes", a.attributes),
            ]),
        });
    }
    let after = r
        .meta
        .and_then(|m| m.page)
        .and_then(|p| p.after)
        .filter(|a| !a.is_empty());
    Ok((out, after))
}

#[derive(Deserialize)]
struct IncidentsResponse {
    data: Vec<Incident>,
    #[serde(default)]
    included: Vec<Included>,
}

#[derive(Deserialize)]
struct Incident {
    id: String,
    attributes: IncidentAttributes,
    #[serde(default)]
    relationships: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct IncidentAttributes {
    #[serde(default)]
    public_id: Option<u64>,
    #[serde(default)]
    title: String,
    created: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    detected: Option<String>,
    #[serde(default)]
    customer_impact_start: Option<String>,
    #[serde(default)]
    customer_impact_end: Option<String>,
    #[serde(default)]
    customer_impact_scope: Option<String>,
    #[serde(default)]
    resolved: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    fields: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct Included {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(default)]
    attributes: Option<UserAttributes>,
}

#[derive(Deserialize)]
struct UserAttributes {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

fn field_value(fields: Option<&serde_json::Map<String, Value>>, k: &str) -> Option<String> {
    fields?.get(k)?.get("value")?.as_str().map(str::to_owned)
}

/// Parses one incidents page; returns the records and how many incidents the page listed.
///
/// # Errors
/// [`Error::Malformed`] when the body is not an incidents list.
pub fn parse_incidents_page(body: &[u8]) -> Result<(Vec<Record>, u64)> {
    const EP: &str = "/api/v2/incidents";
    let r: IncidentsResponse =
        serde_json::from_slice(body).map_err(|e| malformed("datadog", EP, &e))?;
    let users: Vec<&Included> = r.included.iter().filter(|i| i.kind == "users").collect();
    let count = r.data.len() as u64;
    let mut out = Vec::with_capacity(r.data.len());
    for inc in r.data {
        let a = inc.attributes;
        let t = |s: &Option<String>| s.as_deref().and_then(parse_time);
        let created = parse_time(&a.created).ok_or_else(|| malformed_field(EP, "bad created"))?;
        let occurred_at = t(&a.detected)
            .or_else(|| t(&a.customer_impact_start))
            .unwrap_or(created);
        let mut identities = Vec::new();
        for (rel, data) in inc.relationships.iter().flatten() {
            let Some(id) = data.pointer("/data/id").and_then(Value::as_str) else {
                continue;
            };
            if data.pointer("/data/type").and_then(Value::as_str) != Some("users") {
                continue;
            }
            let mut i = Identity::with_id(rel.trim_end_matches("_user"), id);
            if let Some(u) = users.iter().find(|u| u.id == id) {
                if let Some(ua) = &u.attributes {
                    i.name.clone_from(&ua.name);
                    i.handle.clone_from(&ua.handle);
                    i.email.clone_from(&ua.email);
                }
            }
            identities.push(i);
        }
        let summary = field_value(a.fields.as_ref(), "summary");
        let mut text = a.title;
        for extra in [summary, a.customer_impact_scope].into_iter().flatten() {
            text.push('\n');
            text.push_str(&extra);
        }
        let severity = a
            .severity
            .or_else(|| field_value(a.fields.as_ref(), "severity"));
        let state = a.state.or_else(|| field_value(a.fields.as_ref(), "state"));
        let opt = |s: Option<String>| s.map_or(Value::Null, Value::String);
        out.push(Record {
            source: SourceKind::Datadog,
            kind: "incident".into(),
            id: inc.id,
            container: None,
            parent_id: None,
            occurred_at,
            updated_at: t(&a.modified),
            text,
            identities,
            attributes: attrs([
                ("public_id", a.public_id.map_or(Value::Null, Value::from)),
                ("severity", opt(severity)),
                ("state", opt(state)),
                ("created", Value::String(rfc3339(created))),
                ("resolved", opt(a.resolved)),
                ("customer_impact_end", opt(a.customer_impact_end)),
            ]),
        });
    }
    Ok((out, count))
}

#[derive(Deserialize)]
struct Monitor {
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
    created: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    creator: Option<UserAttributes>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    overall_state: Option<String>,
}

/// Parses one monitors page (a JSON array); returns the records and the count listed.
///
/// # Errors
/// [`Error::Malformed`] when the body is not a list of monitors.
pub fn parse_monitors_page(body: &[u8]) -> Result<(Vec<Record>, u64)> {
    const EP: &str = "/api/v1/monitor";
    let monitors: Vec<Monitor> =
        serde_json::from_slice(body).map_err(|e| malformed("datadog", EP, &e))?;
    let count = monitors.len() as u64;
    let mut out = Vec::with_capacity(monitors.len());
    for m in monitors {
        let created = parse_time(&m.created).ok_or_else(|| malformed_field(EP, "bad created"))?;
        let mut identities = Vec::new();
        if let Some(c) = m.creator {
            identities.push(Identity {
                role: "creator".into(),
                id: None,
                name: c.name,
                handle: c.handle,
                email: c.email,
            });
        }
        let opt = |s: Option<String>| s.map_or(Value::Null, Value::String);
        out.push(Record {
            source: SourceKind::Datadog,
            kind: "monitor".into(),
            id: m.id.to_string(),
            container: None,
            parent_id: None,
            occurred_at: created,
            updated_at: m.modified.as_deref().and_then(parse_time),
            text: format!("{}\n{}", m.name, m.message),
            identities,
            attributes: attrs([
                ("type", opt(m.kind)),
                ("query", opt(m.query)),
                ("overall_state", opt(m.overall_state)),
                (
                    "tags",
                    if m.tags.is_empty() {
                        Value::Null
                    } else {
                        Value::from(m.tags)
                    },
                ),
            ]),
        });
    }
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;

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
