//! The metrics stream: each configured metrics query as a timeseries v2 query over the
//! window since the previous pass.

use chrono::{Duration, Utc};
use serde_json::Value;

use super::{malformed_field, DatadogSource, MetricsState};
use crate::error::malformed;
use crate::record::{attrs, Record, SourceKind};
use crate::Result;

impl DatadogSource {
    pub(super) async fn metrics_page(&self, s: &mut MetricsState) -> Result<(Vec<Record>, bool)> {
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
/// [`Error::Malformed`](crate::Error::Malformed) when the body is not a timeseries response.
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
