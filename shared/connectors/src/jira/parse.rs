//! Jira's responses as records: search pages with their issues, comments and changelog
//! entries, users as pseudonymisable identities, Atlassian Document Format as plain text.

use serde::Deserialize;
use serde_json::Value;

use super::SEARCH;
use crate::error::malformed;
use crate::record::{attrs, parse_time, Identity, Record, SourceKind};
use crate::{Error, Result};

#[derive(Deserialize)]
pub(super) struct SearchResponse {
    #[serde(default)]
    issues: Vec<Issue>,
    #[serde(default, rename = "nextPageToken")]
    next_page_token: Option<String>,
    #[serde(default, rename = "isLast")]
    is_last: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct Issue {
    id: String,
    key: String,
    fields: Fields,
    #[serde(default)]
    changelog: Option<Listing>,
}

#[derive(Deserialize)]
pub(super) struct Listing {
    #[serde(default)]
    total: Option<usize>,
    #[serde(default, alias = "histories", alias = "comments")]
    items: Vec<Value>,
}

impl Listing {
    /// The items and the total Jira reports (the item count when it reports none).
    fn split(self) -> (Vec<Value>, usize) {
        let total = self.total.unwrap_or(self.items.len());
        (self.items, total)
    }
}

#[derive(Deserialize)]
pub(super) struct Fields {
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
pub(super) struct Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Project {
    key: String,
}

#[derive(Deserialize)]
pub(super) struct User {
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

pub(super) fn user_from(v: Option<&Value>, role: &str) -> Option<Identity> {
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

pub(super) fn bad(detail: &str) -> Error {
    Error::Malformed {
        source_name: "jira",
        endpoint: SEARCH.to_owned(),
        detail: detail.to_owned(),
    }
}

pub(super) fn comment_record(key: &str, project: Option<&str>, c: &Value) -> Result<Record> {
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

pub(super) fn change_record(key: &str, project: Option<&str>, h: &Value) -> Result<Record> {
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

/// One issue of a search page: its record, and the comments and changelog entries embedded
/// in the response with the totals Jira reports (more may need fetching).
pub(super) struct ParsedIssue {
    pub(super) record: Record,
    pub(super) key: String,
    pub(super) project: Option<String>,
    pub(super) comments: Vec<Value>,
    pub(super) comments_total: usize,
    pub(super) histories: Vec<Value>,
    pub(super) histories_total: usize,
}

impl ParsedIssue {
    /// Appends the issue record, then one record per comment and changelog entry (the
    /// embedded ones followed by `more_comments` and `more_histories`).
    pub(super) fn into_records(
        self,
        more_comments: Vec<Value>,
        more_histories: Vec<Value>,
        out: &mut Vec<Record>,
    ) -> Result<()> {
        let project = self.project.as_deref();
        out.push(self.record);
        for c in self.comments.iter().chain(&more_comments) {
            out.push(comment_record(&self.key, project, c)?);
        }
        for h in self.histories.iter().chain(&more_histories) {
            out.push(change_record(&self.key, project, h)?);
        }
        Ok(())
    }
}

/// Parses a `/rest/api/3/search/jql` response: the issues, and the next page token (`None`
/// on the last page).
pub(super) fn parse_search(body: &[u8]) -> Result<(Vec<ParsedIssue>, Option<String>)> {
    let resp: SearchResponse =
        serde_json::from_slice(body).map_err(|e| malformed("jira", SEARCH, &e))?;
    let mut issues = Vec::with_capacity(resp.issues.len());
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
        let record = Record {
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
        };
        let (comments, comments_total) = f.comment.map_or((Vec::new(), 0), Listing::split);
        let (histories, histories_total) = issue.changelog.map_or((Vec::new(), 0), Listing::split);
        issues.push(ParsedIssue {
            record,
            key: issue.key,
            project,
            comments,
            comments_total,
            histories,
            histories_total,
        });
    }
    let next = resp
        .next_page_token
        .filter(|t| !t.is_empty() && resp.is_last != Some(true));
    Ok((issues, next))
}

/// Parses and normalizes one `/rest/api/3/search/jql` page: a record per issue, then per
/// comment and changelog entry embedded in the response; and the next page token (`None` on
/// the last page). The connector also fetches the comments and changelog entries beyond the
/// embedded ones; this entry point (for fuzzing and benchmarks) does not.
///
/// ```
/// let page = br#"{"issues":[],"isLast":true}"#;
/// let (records, next) = bacca_connectors::jira::parse_search_page(page)?;
/// assert!(records.is_empty() && next.is_none());
/// # Ok::<(), bacca_connectors::Error>(())
/// ```
///
/// # Errors
/// [`Error::Malformed`] when the body is not a search response or an issue, comment or
/// changelog entry lacks its id or times.
pub fn parse_search_page(body: &[u8]) -> Result<(Vec<Record>, Option<String>)> {
    let (issues, next) = parse_search(body)?;
    let mut records = Vec::new();
    for issue in issues {
        issue.into_records(Vec::new(), Vec::new(), &mut records)?;
    }
    Ok((records, next))
}
