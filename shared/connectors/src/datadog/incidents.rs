//! The incidents stream: incidents v2 with their included users, listed page by page, only
//! those modified after the previous pass kept.

use serde::Deserialize;
use serde_json::Value;

use super::{list_step, malformed_field, rfc3339, DatadogSource, ListState};
use crate::error::malformed;
use crate::record::{attrs, parse_time, Identity, Record, SourceKind};
use crate::Result;

impl DatadogSource {
    pub(super) async fn incidents_page(&self, s: &mut ListState) -> Result<(Vec<Record>, bool)> {
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
pub(super) struct UserAttributes {
    #[serde(default)]
    pub(super) email: Option<String>,
    #[serde(default)]
    pub(super) handle: Option<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
}

fn field_value(fields: Option<&serde_json::Map<String, Value>>, k: &str) -> Option<String> {
    fields?.get(k)?.get("value")?.as_str().map(str::to_owned)
}

/// Parses one incidents page; returns the records and how many incidents the page listed.
///
/// # Errors
/// [`Error::Malformed`](crate::Error::Malformed) when the body is not an incidents list.
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
