//! The logs stream: logs search v2 in fixed windows `[from, to)`, page by page on the cursor
//! of `meta.page.after`.

use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{malformed_field, rfc3339, DatadogSource, LogsState};
use crate::error::malformed;
use crate::pass::check_cursor;
use crate::record::{attrs, parse_time, Identity, Record, SourceKind};
use crate::Result;

impl DatadogSource {
    pub(super) async fn logs_page(&self, s: &mut LogsState) -> Result<(Vec<Record>, bool)> {
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

/// Parses and normalizes one logs search page; returns the records and `meta.page.after`.
///
/// # Errors
/// [`Error::Malformed`](crate::Error::Malformed) when the body is not a logs search response.
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
