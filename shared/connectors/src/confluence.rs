//! Confluence Cloud (REST v2, `read:page:confluence`): pages with their storage-format body,
//! newest modification first, cursor pagination through `_links.next`.
//!
//! A pass lists pages by `-modified-date` and stops at the first page whose current version
//! is not newer than the previous pass's newest (the watermark), so later passes read only
//! what changed. The storage body (XHTML) becomes plain text; `<ri:user ri:account-id>`
//! mentions become identities.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use crate::error::malformed;
use crate::http::{Api, ConnectorContext};
use crate::pass::PassState;
use crate::record::{attrs, Checkpoint, Identity, Page, Record, SourceKind};
use crate::source::{decode, Source};
use crate::{Error, Result};

const EP: &str = "/wiki/api/v2/pages";

/// Configuration of the Confluence connector.
#[derive(Debug, Clone)]
pub struct ConfluenceConfig {
    /// The site (`https://<org>.atlassian.net`).
    pub base_url: String,
    /// Restrict to these space ids (all readable spaces when empty).
    pub space_ids: Vec<String>,
    /// Pages per request (at most 250).
    pub page_size: u32,
}

/// Reads the pages of one Confluence Cloud site.
#[derive(Debug)]
pub struct ConfluenceSource {
    api: Api,
    email: SecretString,
    token: SecretString,
    config: ConfluenceConfig,
}

impl ConfluenceSource {
    /// A connector authenticating with `CONFLUENCE_EMAIL` and `CONFLUENCE_API_TOKEN`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad base URL or space id.
    pub fn new(
        ctx: &ConnectorContext,
        email: SecretString,
        token: SecretString,
        config: ConfluenceConfig,
    ) -> Result<Self> {
        if !config
            .space_ids
            .iter()
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(Error::Config("confluence space ids are numeric".into()));
        }
        Ok(Self {
            api: Api::new(ctx, "confluence", &config.base_url)?,
            email,
            token,
            config,
        })
    }
}

#[derive(Deserialize)]
struct Response {
    results: Vec<PageItem>,
    #[serde(default, rename = "_links")]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct PageItem {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default, rename = "spaceId")]
    space_id: Option<String>,
    #[serde(default, rename = "parentId")]
    parent_id: Option<String>,
    #[serde(default, rename = "authorId")]
    author_id: Option<String>,
    #[serde(default, rename = "ownerId")]
    owner_id: Option<String>,
    #[serde(rename = "createdAt")]
    created_at: DateTime<Utc>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    version: Option<Version>,
    #[serde(default)]
    body: Option<Body>,
}

#[derive(Deserialize)]
struct Version {
    #[serde(rename = "createdAt")]
    created_at: DateTime<Utc>,
    #[serde(default)]
    number: Option<u64>,
    #[serde(default, rename = "authorId")]
    author_id: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    storage: Option<Storage>,
}

#[derive(Deserialize)]
struct Storage {
    #[serde(default)]
    value: String,
}

/// Plain text of Confluence storage format, and the account ids it mentions.
pub fn storage_text(xhtml: &str) -> (String, Vec<String>) {
    let mut text = String::with_capacity(xhtml.len());
    let mut ids = Vec::new();
    let mut rest = xhtml;
    while let Some((before, after)) = rest.split_once('<') {
        text.push_str(before);
        let Some((tag, after_tag)) = after.split_once('>') else {
            rest = "";
            break;
        };
        if let Some((_, v)) = tag.split_once("ri:account-id=\"") {
            if let Some((id, _)) = v.split_once('"') {
                ids.push(id.to_owned());
            }
        }
        let name = tag.trim_start_matches('/');
        let block = ["p", "br", "h", "li", "tr"]
            .iter()
            .any(|b| name.starts_with(b));
        if block && !text.ends_with('\n') && !text.is_empty() {
            text.push('\n');
        }
        rest = after_tag;
    }
    text.push_str(rest);
    let text = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    (text.trim().to_owned(), ids)
}

fn cursor_of(next: &str) -> Option<String> {
    let url = url::Url::parse("https://x.invalid").ok()?.join(next).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.into_owned())
        .filter(|c| !c.is_empty())
}

/// Parses and normalizes one `/wiki/api/v2/pages` page (storage body format): a record per
/// page, newest modification first as listed, with `updated_at` the current version's time;
/// and the cursor of the next page from `_links.next` (`None` on the last page).
///
/// ```
/// let page = br#"{"results":[],"_links":{}}"#;
/// let (records, next) = bacca_connectors::confluence::parse_pages_page(page)?;
/// assert!(records.is_empty() && next.is_none());
/// # Ok::<(), bacca_connectors::Error>(())
/// ```
///
/// # Errors
/// [`Error::Malformed`] when the body is not a pages response.
pub fn parse_pages_page(body: &[u8]) -> Result<(Vec<Record>, Option<String>)> {
    let resp: Response =
        serde_json::from_slice(body).map_err(|e| malformed("confluence", EP, &e))?;
    let records = resp.results.into_iter().map(page_record).collect();
    let next = resp.links.and_then(|l| l.next).and_then(|n| cursor_of(&n));
    Ok((records, next))
}

fn page_record(p: PageItem) -> Record {
    let modified = p.version.as_ref().map_or(p.created_at, |v| v.created_at);
    let (body, mentions) = p
        .body
        .and_then(|b| b.storage)
        .map(|s| storage_text(&s.value))
        .unwrap_or_default();
    let mut identities = Vec::new();
    identities.extend(p.author_id.map(|i| Identity::with_id("author", i)));
    identities.extend(p.owner_id.map(|i| Identity::with_id("owner", i)));
    identities.extend(
        p.version
            .as_ref()
            .and_then(|v| v.author_id.clone())
            .map(|i| Identity::with_id("editor", i)),
    );
    identities.extend(
        mentions
            .into_iter()
            .map(|i| Identity::with_id("mention", i)),
    );
    Record {
        source: SourceKind::Confluence,
        kind: "page".into(),
        id: p.id,
        container: p.space_id,
        parent_id: p.parent_id,
        occurred_at: p.created_at,
        updated_at: Some(modified),
        text: format!("{}\n{body}", p.title),
        identities,
        attributes: attrs([
            ("status", p.status.map_or(Value::Null, Value::String)),
            (
                "version",
                p.version
                    .and_then(|v| v.number)
                    .map_or(Value::Null, Value::from),
            ),
        ]),
    }
}

#[async_trait]
impl Source for ConfluenceSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Confluence
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: PassState<()> = decode("confluence", checkpoint)?;
        let mut q = vec![
            ("body-format", "storage".to_owned()),
            ("sort", "-modified-date".to_owned()),
            ("limit", self.config.page_size.clamp(1, 250).to_string()),
        ];
        if !self.config.space_ids.is_empty() {
            q.push(("space-id", self.config.space_ids.join(",")));
        }
        if let Some(c) = &state.cursor {
            q.push(("cursor", c.clone()));
        }
        let url = self.api.url(EP);
        let (listed, next) = self
            .api
            .call(
                EP,
                |c| {
                    c.get(&url)
                        .basic_auth(self.email.expose_secret(), Some(self.token.expose_secret()))
                        .query(&q)
                },
                |b, _| {
                    let page = parse_pages_page(b)?;
                    let n = page.0.len();
                    Ok((page, n))
                },
            )
            .await?;
        let mut records = Vec::with_capacity(listed.len());
        let mut reached_watermark = false;
        for r in listed {
            let modified = r.updated_at.unwrap_or(r.occurred_at);
            if state.is_old(modified) {
                reached_watermark = true;
                break;
            }
            state.saw(modified);
            records.push(r);
        }
        let next = next.filter(|_| !reached_watermark);
        state.end_page("confluence", EP, records, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_to_text() {
        let (t, ids) = storage_text(
            "<h1>Postmortem</h1><p>Paged <ac:link><ri:user ri:account-id=\"5b10ac8d\" /></ac:link> at 22:12 &amp; rolled back.</p><p>Done</p>",
        );
        assert_eq!(t, "Postmortem\nPaged  at 22:12 & rolled back.\nDone");
        assert_eq!(ids, ["5b10ac8d"]);
        assert_eq!(storage_text("a <b").0, "a");
    }

    #[test]
    fn cursor_from_next_link() {
        assert_eq!(
            cursor_of("/wiki/api/v2/pages?cursor=abc%3D&limit=25").as_deref(),
            Some("abc=")
        );
        assert_eq!(cursor_of("/wiki/api/v2/pages?limit=25"), None);
    }
}
