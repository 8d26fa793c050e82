//! The monitors stream: monitors v1, listed page by page, only those modified after the
//! previous pass kept.

use serde::Deserialize;
use serde_json::Value;

use super::incidents::UserAttributes;
use super::{list_step, malformed_field, DatadogSource, ListState};
use crate::error::malformed;
use crate::record::{attrs, parse_time, Identity, Record, SourceKind};
use crate::Result;

impl DatadogSource {
    pub(super) async fn monitors_page(&self, s: &mut ListState) -> Result<(Vec<Record>, bool)> {
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
/// [`Error::Malformed`](crate::Error::Malformed) when the body is not a list of monitors.
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
