//! Linear (GraphQL, `read` scope): issues and their comments, cursor pagination
//! (`pageInfo { hasNextPage endCursor }`), incremental by `updatedAt`.
//!
//! Each pass reads issues with `updatedAt > <previous pass start - 2 min>`; the page cursor
//! and the pass's filter are kept in the checkpoint. Comments come embedded (first 50 per
//! issue). Personal API keys go in `Authorization` without `Bearer` (OAuth tokens would use it).

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::malformed;
use crate::http::{Api, ConnectorContext};
use crate::pass::PassState;
use crate::record::{attrs, Checkpoint, Identity, Page, Record, SourceKind};
use crate::source::{decode, Source};
use crate::{Error, Result};

const EP: &str = "/graphql";
/// The default API root.
pub const DEFAULT_BASE_URL: &str = "https://api.linear.app";

const QUERY: &str = "query Issues($first: Int!, $after: String, $filter: IssueFilter) {
  issues(first: $first, after: $after, filter: $filter, orderBy: updatedAt) {
    nodes {
      id identifier title description url createdAt updatedAt completedAt priorityLabel
      state { name } team { key }
      creator { id name displayName email }
      assignee { id name displayName email }
      comments(first: 50) { nodes { id body createdAt updatedAt user { id name displayName email } } }
    }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Configuration of the Linear connector.
#[derive(Debug, Clone)]
pub struct LinearConfig {
    /// API root (`https://api.linear.app`).
    pub base_url: String,
    /// First run only: issues updated after this time.
    pub since: Option<DateTime<Utc>>,
    /// Issues per page (Linear's default is 50).
    pub page_size: u32,
}

/// Reads the issues of one Linear workspace.
#[derive(Debug)]
pub struct LinearSource {
    api: Api,
    key: SecretString,
    config: LinearConfig,
}

impl LinearSource {
    /// A connector authenticating with `LINEAR_API_KEY`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad base URL.
    pub fn new(ctx: &ConnectorContext, key: SecretString, config: LinearConfig) -> Result<Self> {
        Ok(Self {
            api: Api::new(ctx, "linear", &config.base_url)?,
            key,
            config,
        })
    }
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    errors: Vec<GqlError>,
}

#[derive(Deserialize)]
struct GqlError {
    #[serde(default)]
    extensions: Option<Value>,
}

#[derive(Deserialize)]
struct Data {
    issues: Connection<Issue>,
}

#[derive(Deserialize)]
struct Connection<T> {
    nodes: Vec<T>,
    #[serde(default, rename = "pageInfo")]
    page_info: Option<PageInfo>,
}

#[derive(Deserialize)]
struct PageInfo {
    #[serde(rename = "hasNextPage")]
    has_next_page: bool,
    #[serde(default, rename = "endCursor")]
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "displayName")]
    display_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl User {
    fn identity(self, role: &str) -> Identity {
        Identity {
            role: role.to_owned(),
            id: Some(self.id),
            name: self.name,
            handle: self.display_name,
            email: self.email,
        }
    }
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

#[derive(Deserialize)]
struct Issue {
    id: String,
    identifier: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(rename = "createdAt")]
    created_at: DateTime<Utc>,
    #[serde(rename = "updatedAt")]
    updated_at: DateTime<Utc>,
    #[serde(default, rename = "completedAt")]
    completed_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "priorityLabel")]
    priority_label: Option<String>,
    #[serde(default)]
    state: Option<Named>,
    #[serde(default)]
    team: Option<Named>,
    #[serde(default)]
    creator: Option<User>,
    #[serde(default)]
    assignee: Option<User>,
    #[serde(default)]
    comments: Option<Connection<Comment>>,
}

#[derive(Deserialize)]
struct Comment {
    id: String,
    #[serde(default)]
    body: String,
    #[serde(rename = "createdAt")]
    created_at: DateTime<Utc>,
    #[serde(default, rename = "updatedAt")]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    user: Option<User>,
}

fn gql_error(errors: &[GqlError]) -> Error {
    let code = errors
        .iter()
        .find_map(|e| e.extensions.as_ref()?.get("code")?.as_str())
        .unwrap_or("graphql_error")
        .to_ascii_uppercase();
    match code.as_str() {
        "RATELIMITED" => Error::RateLimited {
            source_name: "linear",
            endpoint: EP.into(),
            retry_after: None,
        },
        "AUTHENTICATION_ERROR" | "FORBIDDEN" => Error::Auth {
            source_name: "linear",
            endpoint: EP.into(),
            status: 200,
        },
        _ => Error::Http {
            source_name: "linear",
            endpoint: EP.into(),
            class: code
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect(),
        },
    }
}

fn normalize(issues: Vec<Issue>) -> Vec<Record> {
    let mut out = Vec::new();
    for i in issues {
        let team = i.team.and_then(|t| t.key);
        let mut identities = Vec::new();
        identities.extend(i.creator.map(|u| u.identity("creator")));
        identities.extend(i.assignee.map(|u| u.identity("assignee")));
        let mut text = i.title;
        if let Some(d) = i.description.filter(|d| !d.is_empty()) {
            text.push('\n');
            text.push_str(&d);
        }
        let opt = |s: Option<String>| s.map_or(Value::Null, Value::String);
        out.push(Record {
            source: SourceKind::Linear,
            kind: "issue".into(),
            id: i.id,
            container: team.clone(),
            parent_id: None,
            occurred_at: i.created_at,
            updated_at: Some(i.updated_at),
            text,
            identities,
            attributes: attrs([
                ("identifier", Value::String(i.identifier.clone())),
                ("state", opt(i.state.and_then(|s| s.name))),
                ("priority", opt(i.priority_label)),
                (
                    "completed_at",
                    i.completed_at
                        .map_or(Value::Null, |t| Value::String(t.to_rfc3339())),
                ),
            ]),
        });
        for c in i.comments.map(|c| c.nodes).unwrap_or_default() {
            out.push(Record {
                source: SourceKind::Linear,
                kind: "comment".into(),
                id: c.id,
                container: team.clone(),
                parent_id: Some(i.identifier.clone()),
                occurred_at: c.created_at,
                updated_at: c.updated_at,
                text: c.body,
                identities: c.user.map(|u| u.identity("author")).into_iter().collect(),
                attributes: Value::Null,
            });
        }
    }
    out
}

/// Parses and normalizes one page of the connector's `issues` GraphQL query: a record per
/// issue followed by one per embedded comment, and the cursor of the next page (`None` on the
/// last page).
///
/// ```
/// let page = br#"{"data":{"issues":{"nodes":[],"pageInfo":{"hasNextPage":false}}}}"#;
/// let (records, next) = bacca_connectors::linear::parse_issues_page(page)?;
/// assert!(records.is_empty() && next.is_none());
/// # Ok::<(), bacca_connectors::Error>(())
/// ```
///
/// # Errors
/// [`Error::Malformed`] when the body is not such a response; GraphQL errors as
/// [`Error::RateLimited`] (`RATELIMITED`), [`Error::Auth`] (`AUTHENTICATION_ERROR`,
/// `FORBIDDEN`) or [`Error::Http`] (any other code).
pub fn parse_issues_page(body: &[u8]) -> Result<(Vec<Record>, Option<String>)> {
    let r: Response = serde_json::from_slice(body).map_err(|e| malformed("linear", EP, &e))?;
    if !r.errors.is_empty() {
        return Err(gql_error(&r.errors));
    }
    let data = r.data.ok_or_else(|| Error::Malformed {
        source_name: "linear",
        endpoint: EP.into(),
        detail: "no data".into(),
    })?;
    let next = data
        .issues
        .page_info
        .filter(|p| p.has_next_page)
        .and_then(|p| p.end_cursor)
        .filter(|c| !c.is_empty());
    Ok((normalize(data.issues.nodes), next))
}

#[async_trait]
impl Source for LinearSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Linear
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: PassState<Option<String>> = decode("linear", checkpoint)?;
        let since = self.config.since;
        let (_, gt) = state.pass(Utc::now(), |w| {
            w.map(|w| w - Duration::minutes(2))
                .or(since)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        });
        let filter = gt.as_ref().map(|g| json!({ "updatedAt": { "gt": g } }));
        let body = json!({
            "query": QUERY,
            "variables": { "first": self.config.page_size.clamp(1, 250), "after": state.cursor, "filter": filter },
        });
        let url = self.api.url(EP);
        let (records, next) = self
            .api
            .call(
                EP,
                |c| {
                    c.post(&url)
                        .header("Authorization", self.key.expose_secret())
                        .json(&body)
                },
                |b, _| {
                    let page = parse_issues_page(b)?;
                    let n = page.0.len();
                    Ok((page, n))
                },
            )
            .await?;
        state.end_page("linear", EP, records, next)
    }
}
