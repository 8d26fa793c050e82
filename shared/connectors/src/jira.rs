//! Jira Cloud (REST v3, read-only `read:jira-work`): issues through `/rest/api/3/search/jql`
//! (`nextPageToken`), with their comments and changelog, incremental by `updated`.
//!
//! Each pass runs `(<jql>) AND updated >= "-<N>m" ORDER BY updated ASC`, where `N` covers the
//! time since the previous pass plus a margin. The relative form does not depend on the Jira
//! user's time zone; issues updated inside the margin are read again (records are keyed by
//! id and `updated_at`, so the repeat is idempotent downstream). Comments and changelog
//! entries beyond those embedded in the search response are fetched from
//! `/rest/api/3/issue/{key}/comment` and `/rest/api/3/issue/{key}/changelog` for the same page.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::malformed;
use crate::http::{Api, ConnectorContext};
use crate::record::{attrs, parse_time, Checkpoint, Identity, Page, Record, SourceKind};
use crate::source::{decode, encode, Source};
use crate::{Error, Result};

const SEARCH: &str = "/rest/api/3/search/jql";
const FIELDS: &str = "summary,description,comment,created,updated,reporter,assignee,creator,status,priority,issuetype,project,labels";
/// Re-read margin of an incremental pass, in minutes.
const MARGIN_MINUTES: i64 = 2;
/// Most extra comment or changelog pages fetched for one issue.
const MAX_SUB_PAGES: u32 = 100;

/// Configuration of the Jira connector.
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// The site (`https://<org>.atlassian.net`).
    pub base_url: String,
    /// Restricting JQL (`project = OPS`), without `ORDER BY`; everything visible when `None`.
    pub jql: Option<String>,
    /// First run only: issues updated after this time.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Start of the last completed pass.
    #[serde(default)]
    watermark: Option<DateTime<Utc>>,
    /// The pass being read: its start and JQL (fixed so the page token stays valid).
    #[serde(default)]
    pass: Option<(DateTime<Utc>, String)>,
    #[serde(default)]
    token: Option<String>,
}

/// Reads the issues of one Jira Cloud site.
#[derive(Debug)]
pub struct JiraSource {
    api: Api,
    email: SecretString,
    token: SecretString,
    config: JiraConfig,
}

impl JiraSource {
    /// A connector authenticating with `JIRA_EMAIL` and `JIRA_API_TOKEN`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad base URL or a JQL with its own `ORDER BY`.
    pub fn new(
        ctx: &ConnectorContext,
        email: SecretString,
        token: SecretString,
        config: JiraConfig,
    ) -> Result<Self> {
        if config
            .jql
            .as_deref()
            .is_some_and(|q| q.to_ascii_lowercase().contains("order by"))
        {
            return Err(Error::Config(
                "the JQL must not contain ORDER BY (the connector orders by updated)".into(),
            ));
        }
        Ok(Self {
            api: Api::new(ctx, "jira", &config.base_url)?,
            email,
            token,
            config,
        })
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.basic_auth(self.email.expose_secret(), Some(self.token.expose_secret()))
    }

    fn pass_jql(&self, from: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
        let mut clauses = Vec::new();
        if let Some(q) = self.config.jql.as_deref().filter(|q| !q.trim().is_empty()) {
            clauses.push(format!("({q})"));
        }
        if let Some(from) = from {
            let minutes = (now - from).num_minutes().max(0) + MARGIN_MINUTES;
            clauses.push(format!("updated >= \"-{minutes}m\""));
        }
        format!("{} ORDER BY updated ASC", clauses.join(" AND "))
            .trim()
            .to_owned()
    }

    async fn sub_pages(
        &self,
        key: &str,
        kind: SubKind,
        mut have: usize,
        total: usize,
    ) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let (template, path) = match kind {
            SubKind::Comments => (
                "/rest/api/3/issue/{key}/comment",
                format!("/rest/api/3/issue/{key}/comment"),
            ),
            SubKind::Changelog => (
                "/rest/api/3/issue/{key}/changelog",
                format!("/rest/api/3/issue/{key}/changelog"),
            ),
        };
        let url = self.api.url(&path);
        for _ in 0..MAX_SUB_PAGES {
            if have >= total {
                break;
            }
            let q = [
                ("startAt", have.to_string()),
                ("maxResults", "100".to_owned()),
            ];
            let values: Vec<Value> = self
                .api
                .call(
                    template,
                    |c| self.auth(c.get(&url)).query(&q),
                    |b, _| {
                        let v: Value = serde_json::from_slice(b)
                            .map_err(|e| malformed("jira", template, &e))?;
                        let list = v
                            .get(kind.list_field())
                            .and_then(Value::as_array)
                            .cloned()
                            .ok_or_else(|| Error::Malformed {
                                source_name: "jira",
                                endpoint: template.to_owned(),
                                detail: format!("no {} array", kind.list_field()),
                            })?;
                        let n = list.len();
                        Ok((list, n))
                    },
                )
                .await?;
            if values.is_empty() {
                break;
            }
            have += values.len();
            out.extend(values);
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy)]
enum SubKind {
    Comments,
    Changelog,
}

impl SubKind {
    const fn list_field(self) -> &'static str {
        match self {
            Self::Comments => "comments",
            Self::Changelog => "values",
        }
    }
}

#[derive(Deserialize)]
struct SearchResponse {
    #[serde(default)]
    issues: Vec<Issue>,
    #[serde(default, rename = "nextPageToken")]
    next_page_token: Option<String>,
    #[serde(default, rename = "isLast")]
    is_last: Option<bool>,
}

#[derive(Deserialize)]
struct Issue {
    id: String,
    key: String,
    fields: Fields,
    #[serde(default)]
    changelog: Option<Listing>,
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    total: Option<usize>,
    #[serde(default, alias = "histories", alias = "comments")]
    items: Vec<Value>,
}

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: Option<Value>,
    #[serde(default)]
    comment: Option<Listing>,
    created: String,
    updated: String,
    #[serde(default)]
    reporter: Option<User>,
    #[serde(default)]
    assignee: Option<User>,
    #[serde(default)]
    creator: Option<User>,
    #[serde(default)]
    status: Option<Named>,
    #[serde(default)]
    priority: Option<Named>,
    #[serde(default)]
    issuetype: Option<Named>,
    #[serde(default)]
    project: Option<Project>,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Project {
    key: String,
}

#[derive(Deserialize)]
struct User {
    #[serde(rename = "accountId")]
    account_id: String,
    #[serde(default, rename = "displayName")]
    display_name: Option<String>,
    #[serde(default, rename = "emailAddress")]
    email_address: Option<String>,
}

impl User {
    fn identity(self, role: &str) -> Identity {
        Identity {
            role: role.to_owned(),
            id: Some(self.account_id),
            name: self.display_name,
            handle: None,
            email: self.email_address,
        }
    }
}

fn user_from(v: Option<&Value>, role: &str) -> Option<Identity> {
    serde_json::from_value::<User>(v?.clone())
        .ok()
        .map(|u| u.identity(role))
}

/// Plain text of an Atlassian Document Format node; mention nodes keep their `@Name` text
/// and add an identity.
pub fn adf_text(node: &Value, out: &mut String, ids: &mut Vec<Identity>) {
    match node.get("type").and_then(Value::as_str) {
        Some("text") => {
            if let Some(t) = node.get("text").and_then(Value::as_str) {
                out.push_str(t);
            }
        }
        Some("mention") => {
            let a = node.get("attrs");
            let text = a.and_then(|a| a.get("text")).and_then(Value::as_str);
            if let Some(t) = text {
                out.push_str(t);
            }
            if let Some(id) = a.and_then(|a| a.get("id")).and_then(Value::as_str) {
                let mut i = Identity::with_id("mention", id);
                i.name = text.map(|t| t.trim_start_matches('@').to_owned());
                ids.push(i);
            }
        }
        Some("hardBreak") => out.push('\n'),
        Some("emoji") => {
            if let Some(t) = node.pointer("/attrs/text").and_then(Value::as_str) {
                out.push_str(t);
            }
        }
        Some("inlineCard") => {
            if let Some(t) = node.pointer("/attrs/url").and_then(Value::as_str) {
                out.push_str(t);
            }
        }
        _ => {}
    }
    if let Some(children) = node.get("content").and_then(Value::as_array) {
        for c in children {
            adf_text(c, out, ids);
        }
        let block = matches!(
            node.get("type").and_then(Value::as_str),
            Some(
                "paragraph"
                    | "heading"
                    | "codeBlock"
                    | "blockquote"
                    | "listItem"
                    | "tableRow"
                    | "panel"
            )
        );
        if block && !out.ends_with('\n') {
            out.push('\n');
        }
    }
}

fn bad(detail: &str) -> Error {
    Error::Malformed {
        source_name: "jira",
        endpoint: SEARCH.to_owned(),
        detail: detail.to_owned(),
    }
}

fn comment_record(key: &str, project: Option<&str>, c: &Value) -> Result<Record> {
    let id = c
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("comment without id"))?;
    let created = c
        .get("created")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or_else(|| bad("comment without created"))?;
    let mut identities = Vec::new();
    identities.extend(user_from(c.get("author"), "author"));
    identities.extend(user_from(c.get("updateAuthor"), "editor"));
    let mut text = String::new();
    if let Some(body) = c.get("body") {
        adf_text(body, &mut text, &mut identities);
    }
    Ok(Record {
        source: SourceKind::Jira,
        kind: "comment".into(),
        id: id.to_owned(),
        container: project.map(str::to_owned),
        parent_id: Some(key.to_owned()),
        occurred_at: created,
        updated_at: c
            .get("updated")
            .and_then(Value::as_str)
            .and_then(parse_time),
        text: text.trim_end().to_owned(),
        identities,
        attributes: Value::Null,
    })
}

fn change_record(key: &str, project: Option<&str>, h: &Value) -> Result<Record> {
    let id = h
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("history without id"))?;
    let created = h
        .get("created")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or_else(|| bad("history without created"))?;
    let mut identities: Vec<Identity> = user_from(h.get("author"), "author").into_iter().collect();
    let mut lines = Vec::new();
    let mut fields = Vec::new();
    for item in h
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
        let field = s("field");
        fields.push(Value::String(field.to_owned()));
        lines.push(format!("{field}: {} -> {}", s("fromString"), s("toString")));
        if matches!(field, "assignee" | "reporter") {
            for (idk, namek) in [("from", "fromString"), ("to", "toString")] {
                if !s(idk).is_empty() {
                    let mut i = Identity::with_id(field, s(idk));
                    i.name = Some(s(namek).to_owned()).filter(|n| !n.is_empty());
                    identities.push(i);
                }
            }
        }
    }
    Ok(Record {
        source: SourceKind::Jira,
        kind: "change".into(),
        id: id.to_owned(),
        container: project.map(str::to_owned),
        parent_id: Some(key.to_owned()),
        occurred_at: created,
        updated_at: None,
        text: lines.join("\n"),
        identities,
        attributes: attrs([("fields", Value::Array(fields))]),
    })
}

#[async_trait]
impl Source for JiraSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Jira
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: State = decode("jira", checkpoint)?;
        let (start, jql) = match state.pass.clone() {
            Some(p) => p,
            None => {
                let now = Utc::now();
                (
                    now,
                    self.pass_jql(state.watermark.or(self.config.since), now),
                )
            }
        };
        let mut q = vec![
            ("jql", jql.clone()),
            ("maxResults", "50".to_owned()),
            ("fields", FIELDS.to_owned()),
            ("expand", "changelog".to_owned()),
        ];
        if let Some(t) = &state.token {
            q.push(("nextPageToken", t.clone()));
        }
        let url = self.api.url(SEARCH);
        let resp: SearchResponse = self
            .api
            .call(
                SEARCH,
                |c| self.auth(c.get(&url)).query(&q),
                |b, _| {
                    let r: SearchResponse =
                        serde_json::from_slice(b).map_err(|e| malformed("jira", SEARCH, &e))?;
                    let n = r.issues.len();
                    Ok((r, n))
                },
            )
            .await?;
        let mut records = Vec::new();
        for issue in resp.issues {
            let f = issue.fields;
            let project = f.project.map(|p| p.key);
            let created = parse_time(&f.created).ok_or_else(|| bad("bad created"))?;
            let updated = parse_time(&f.updated).ok_or_else(|| bad("bad updated"))?;
            let mut identities = Vec::new();
            identities.extend(f.reporter.map(|u| u.identity("reporter")));
            identities.extend(f.assignee.map(|u| u.identity("assignee")));
            identities.extend(f.creator.map(|u| u.identity("creator")));
            let mut text = f.summary;
            if let Some(d) = &f.description {
                text.push('\n');
                adf_text(d, &mut text, &mut identities);
            }
            let name = |n: Option<Named>| n.and_then(|n| n.name).map_or(Value::Null, Value::String);
            records.push(Record {
                source: SourceKind::Jira,
                kind: "issue".into(),
                id: issue.id,
                container: project.clone(),
                parent_id: None,
                occurred_at: created,
                updated_at: Some(updated),
                text: text.trim_end().to_owned(),
                identities,
                attributes: attrs([
                    ("key", Value::String(issue.key.clone())),
                    ("status", name(f.status)),
                    ("priority", name(f.priority)),
                    ("issuetype", name(f.issuetype)),
                    (
                        "labels",
                        if f.labels.is_empty() {
                            Value::Null
                        } else {
                            Value::from(f.labels)
                        },
                    ),
                ]),
            });
            let mut comments = Vec::new();
            if let Some(c) = f.comment {
                let total = c.total.unwrap_or(c.items.len());
                let have = c.items.len();
                comments = c.items;
                comments.extend(
                    self.sub_pages(&issue.key, SubKind::Comments, have, total)
                        .await?,
                );
            }
            for c in &comments {
                records.push(comment_record(&issue.key, project.as_deref(), c)?);
            }
            let mut histories = Vec::new();
            if let Some(c) = issue.changelog {
                let total = c.total.unwrap_or(c.items.len());
                let have = c.items.len();
                histories = c.items;
                histories.extend(
                    self.sub_pages(&issue.key, SubKind::Changelog, have, total)
                        .await?,
                );
            }
            for h in &histories {
                records.push(change_record(&issue.key, project.as_deref(), h)?);
            }
        }
        let next = resp.next_page_token.filter(|t| !t.is_empty());
        if next.is_some() && next == state.token {
            return Err(Error::CursorLoop {
                source_name: "jira",
                endpoint: SEARCH.into(),
            });
        }
        let done = resp.is_last.unwrap_or(next.is_none()) || next.is_none();
        if done {
            state = State {
                watermark: Some(start),
                pass: None,
                token: None,
            };
        } else {
            state.pass = Some((start, jql));
            state.token = next;
        }
        Ok(Page {
            records,
            next_checkpoint: encode(&state),
            done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adf_mentions_become_identities() {
        let doc: Value = serde_json::from_str(
            r#"{"type":"doc","version":1,"content":[{"type":"paragraph","content":[
                {"type":"text","text":"Paged "},
                {"type":"mention","attrs":{"id":"5b10ac8d82e05b22cc7d4ef5","text":"@Ada Lovelace"}},
                {"type":"hardBreak"},{"type":"text","text":"db down"}]}]}"#,
        )
        .unwrap();
        let mut text = String::new();
        let mut ids = Vec::new();
        adf_text(&doc, &mut text, &mut ids);
        assert_eq!(text, "Paged @Ada Lovelace\ndb down\n");
        assert_eq!(ids[0].id.as_deref(), Some("5b10ac8d82e05b22cc7d4ef5"));
        assert_eq!(ids[0].name.as_deref(), Some("Ada Lovelace"));
    }
}
