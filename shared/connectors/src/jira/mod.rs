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
use serde_json::Value;

use crate::error::malformed;
use crate::http::{Api, ConnectorContext};
use crate::pass::PassState;
use crate::record::{Checkpoint, Page, SourceKind};
use crate::source::{decode, Source};
use crate::{Error, Result};

mod parse;

use parse::parse_search;
pub use parse::{adf_text, parse_search_page};

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

#[async_trait]
impl Source for JiraSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Jira
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: PassState<String> = decode("jira", checkpoint)?;
        let (since, now) = (self.config.since, Utc::now());
        let (_, jql) = state.pass(now, |w| self.pass_jql(w.or(since), now));
        let mut q = vec![
            ("jql", jql),
            ("maxResults", "50".to_owned()),
            ("fields", FIELDS.to_owned()),
            ("expand", "changelog".to_owned()),
        ];
        if let Some(t) = &state.cursor {
            q.push(("nextPageToken", t.clone()));
        }
        let url = self.api.url(SEARCH);
        let (issues, next) = self
            .api
            .call(
                SEARCH,
                |c| self.auth(c.get(&url)).query(&q),
                |b, _| {
                    let page = parse_search(b)?;
                    let n = page.0.len();
                    Ok((page, n))
                },
            )
            .await?;
        let mut records = Vec::new();
        for issue in issues {
            let comments = self
                .sub_pages(
                    &issue.key,
                    SubKind::Comments,
                    issue.comments.len(),
                    issue.comments_total,
                )
                .await?;
            let histories = self
                .sub_pages(
                    &issue.key,
                    SubKind::Changelog,
                    issue.histories.len(),
                    issue.histories_total,
                )
                .await?;
            issue.into_records(comments, histories, &mut records)?;
        }
        state.end_page("jira", SEARCH, records, next)
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
