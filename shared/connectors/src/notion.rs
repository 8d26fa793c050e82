//! Notion (internal integration with "read content"; user information without e-mail):
//! `POST /v1/search` for pages, newest edit first, then `GET /v1/blocks/{id}/children`
//! recursively (Notion returns one level at a time) for each page's text.
//!
//! A pass stops at the first page not edited since the previous pass (the watermark). Block
//! recursion is bounded in depth and count per page. Every request carries `Notion-Version`.

use async_trait::async_trait;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::malformed;
use crate::http::{Api, ConnectorContext};
use crate::pass::{check_cursor, PassState};
use crate::record::{attrs, Checkpoint, Identity, Page, Record, SourceKind};
use crate::source::{decode, Source};
use crate::{Error, Result};

/// The API version the connector is written against.
pub const NOTION_VERSION: &str = "2022-06-28";
/// The default API root.
pub const DEFAULT_BASE_URL: &str = "https://api.notion.com";
const SEARCH: &str = "/v1/search";
const CHILDREN: &str = "/v1/blocks/{id}/children";
/// Deepest nesting of blocks read.
const MAX_DEPTH: usize = 8;
/// Most blocks read for one page.
const MAX_BLOCKS: usize = 5_000;

/// Configuration of the Notion connector.
#[derive(Debug, Clone)]
pub struct NotionConfig {
    /// API root (`https://api.notion.com`).
    pub base_url: String,
    /// Pages per search request (their blocks are read in the same call to `fetch_page`).
    pub page_size: u32,
}

/// Reads the pages shared with one Notion integration.
#[derive(Debug)]
pub struct NotionSource {
    api: Api,
    token: SecretString,
    config: NotionConfig,
}

#[derive(Deserialize)]
struct List {
    results: Vec<Value>,
    #[serde(default)]
    next_cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
}

fn bad(endpoint: &str, detail: &str) -> Error {
    Error::Malformed {
        source_name: "notion",
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}

/// Appends the plain text of a rich-text array; user mentions become identities.
fn rich_text(items: Option<&Value>, out: &mut String, ids: &mut Vec<Identity>) {
    for rt in items.and_then(Value::as_array).into_iter().flatten() {
        if let Some(t) = rt.get("plain_text").and_then(Value::as_str) {
            out.push_str(t);
        }
        if let Some(user) = rt.pointer("/mention/user") {
            if let Some(id) = user.get("id").and_then(Value::as_str) {
                let mut i = Identity::with_id("mention", id);
                i.name = user.get("name").and_then(Value::as_str).map(str::to_owned);
                i.email = user
                    .pointer("/person/email")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                ids.push(i);
            }
        }
    }
}

fn person(v: Option<&Value>, role: &str) -> Option<Identity> {
    let id = v?.get("id")?.as_str()?;
    Some(Identity::with_id(role, id))
}

/// A page of a search response, with the text of its title property (the connector then
/// appends the text of its blocks).
fn page_record(p: &Value) -> Result<Record> {
    let id = p
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(SEARCH, "page without id"))?;
    let time = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .and_then(crate::record::parse_time)
            .ok_or_else(|| bad(SEARCH, "page without times"))
    };
    let created = time("created_time")?;
    let edited = time("last_edited_time")?;
    let mut identities = Vec::new();
    identities.extend(person(p.get("created_by"), "author"));
    identities.extend(person(p.get("last_edited_by"), "editor"));
    let mut text = String::new();
    for prop in p
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        if prop.get("type").and_then(Value::as_str) == Some("title") {
            rich_text(prop.get("title"), &mut text, &mut identities);
            text.push('\n');
        }
    }
    let parent = p
        .get("parent")
        .and_then(|par| {
            ["database_id", "page_id", "workspace"]
                .iter()
                .find_map(|k| par.get(*k))
        })
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Record {
        source: SourceKind::Notion,
        kind: "page".into(),
        id: id.to_owned(),
        container: None,
        parent_id: parent,
        occurred_at: created,
        updated_at: Some(edited),
        text,
        identities,
        attributes: attrs([(
            "archived",
            p.get("archived").cloned().unwrap_or(Value::Null),
        )]),
    })
}

/// Parses and normalizes one `POST /v1/search` page: a record per page with the text of its
/// title (the connector appends the text of the page's blocks, read with
/// [`parse_block_children`]); and the next cursor (`None` on the last page).
///
/// ```
/// let page = br#"{"object":"list","results":[],"next_cursor":null,"has_more":false}"#;
/// let (records, next) = bacca_connectors::notion::parse_search_page(page)?;
/// assert!(records.is_empty() && next.is_none());
/// # Ok::<(), bacca_connectors::Error>(())
/// ```
///
/// # Errors
/// [`Error::Malformed`] when the body is not a list or a page lacks its id or times.
pub fn parse_search_page(body: &[u8]) -> Result<(Vec<Record>, Option<String>)> {
    let list: List = serde_json::from_slice(body).map_err(|e| malformed("notion", SEARCH, &e))?;
    let records = list
        .results
        .iter()
        .map(page_record)
        .collect::<Result<Vec<_>>>()?;
    let next = list.next_cursor.filter(|c| list.has_more && !c.is_empty());
    Ok((records, next))
}

/// One page of a block's children (`GET /v1/blocks/{id}/children`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockChildren {
    /// The plain text of the blocks, one line per block with text.
    pub text: String,
    /// The users the text mentions.
    pub identities: Vec<Identity>,
    /// The ids of the blocks whose own children are to be read (not child pages or databases).
    pub children: Vec<String>,
    /// The cursor of the next page of children (`None` on the last page).
    pub next_cursor: Option<String>,
    /// How many blocks were read.
    pub blocks: usize,
    /// Whether the page held more blocks than the budget (the rest were not read).
    pub truncated: bool,
}

/// Parses one page of a block's children, reading at most `budget` blocks.
fn parse_children(body: &[u8], budget: usize) -> Result<BlockChildren> {
    let list: List = serde_json::from_slice(body).map_err(|e| malformed("notion", CHILDREN, &e))?;
    let mut out = BlockChildren {
        next_cursor: list.next_cursor.filter(|c| list.has_more && !c.is_empty()),
        truncated: list.results.len() > budget,
        ..BlockChildren::default()
    };
    for block in list.results.iter().take(budget) {
        out.blocks += 1;
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let before = out.text.len();
        rich_text(
            block.get(kind).and_then(|b| b.get("rich_text")),
            &mut out.text,
            &mut out.identities,
        );
        if out.text.len() > before {
            out.text.push('\n');
        }
        let has_children = block.get("has_children").and_then(Value::as_bool) == Some(true);
        if has_children && kind != "child_page" && kind != "child_database" {
            if let Some(cid) = block.get("id").and_then(Value::as_str) {
                out.children.push(cid.to_owned());
            }
        }
    }
    Ok(out)
}

/// Parses one `GET /v1/blocks/{id}/children` page (at most 5,000 blocks, the connector's
/// per-page bound): the blocks' text and mentions, the children to read next, the next cursor.
///
/// ```
/// let page = br#"{"object":"list","results":[],"next_cursor":null,"has_more":false}"#;
/// let blocks = bacca_connectors::notion::parse_block_children(page)?;
/// assert!(blocks.text.is_empty() && blocks.children.is_empty());
/// # Ok::<(), bacca_connectors::Error>(())
/// ```
///
/// # Errors
/// [`Error::Malformed`] when the body is not a list.
pub fn parse_block_children(body: &[u8]) -> Result<BlockChildren> {
    parse_children(body, MAX_BLOCKS)
}

impl NotionSource {
    /// A connector authenticating with `NOTION_TOKEN`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad base URL.
    pub fn new(ctx: &ConnectorContext, token: SecretString, config: NotionConfig) -> Result<Self> {
        Ok(Self {
            api: Api::new(ctx, "notion", &config.base_url)?,
            token,
            config,
        })
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.bearer_auth(self.token.expose_secret())
            .header("Notion-Version", NOTION_VERSION)
    }

    async fn list(
        &self,
        template: &'static str,
        rb: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync,
    ) -> Result<List> {
        self.api
            .call(
                template,
                |c| self.auth(rb(c)),
                |b, _| {
                    let l: List =
                        serde_json::from_slice(b).map_err(|e| malformed("notion", template, &e))?;
                    let n = l.results.len();
                    Ok((l, n))
                },
            )
            .await
    }

    /// The text of the blocks under `root`, depth first, bounded.
    async fn blocks_text(
        &self,
        root: &str,
        text: &mut String,
        ids: &mut Vec<Identity>,
    ) -> Result<()> {
        // (block id, depth, cursor)
        let mut stack: Vec<(String, usize, Option<String>)> = vec![(root.to_owned(), 0, None)];
        let mut seen = 0usize;
        while let Some((id, depth, cursor)) = stack.pop() {
            if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return Err(bad(CHILDREN, "block id is not a UUID"));
            }
            let url = self.api.url(&format!("/v1/blocks/{id}/children"));
            let mut q = vec![("page_size", "100".to_owned())];
            if let Some(c) = &cursor {
                q.push(("start_cursor", c.clone()));
            }
            let blocks = self
                .api
                .call(
                    CHILDREN,
                    |c| self.auth(c.get(&url).query(&q)),
                    |b, _| {
                        let page = parse_children(b, MAX_BLOCKS.saturating_sub(seen))?;
                        let n = page.blocks;
                        Ok((page, n))
                    },
                )
                .await?;
            check_cursor(
                "notion",
                CHILDREN,
                cursor.as_deref(),
                blocks.next_cursor.as_deref(),
            )?;
            if let Some(n) = blocks.next_cursor {
                stack.push((id.clone(), depth, Some(n)));
            }
            seen += blocks.blocks;
            text.push_str(&blocks.text);
            ids.extend(blocks.identities);
            if blocks.truncated {
                return Ok(());
            }
            let children: Vec<_> = if depth + 1 < MAX_DEPTH {
                blocks
                    .children
                    .into_iter()
                    .map(|c| (c, depth + 1, None))
                    .collect()
            } else {
                Vec::new()
            };
            // Depth first, in document order.
            stack.extend(children.into_iter().rev());
        }
        Ok(())
    }
}

#[async_trait]
impl Source for NotionSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Notion
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: PassState<()> = decode("notion", checkpoint)?;
        let mut body = json!({
            "filter": {"property": "object", "value": "page"},
            "sort": {"direction": "descending", "timestamp": "last_edited_time"},
            "page_size": self.config.page_size.clamp(1, 100),
        });
        if let (Some(c), Some(b)) = (&state.cursor, body.as_object_mut()) {
            b.insert("start_cursor".into(), Value::String(c.clone()));
        }
        let url = self.api.url(SEARCH);
        let list = self.list(SEARCH, |c| c.post(&url).json(&body)).await?;
        let mut records = Vec::new();
        let mut reached = false;
        for p in &list.results {
            let mut record = page_record(p)?;
            let edited = record.updated_at.unwrap_or(record.occurred_at);
            if state.is_old(edited) {
                reached = true;
                break;
            }
            state.saw(edited);
            self.blocks_text(&record.id, &mut record.text, &mut record.identities)
                .await?;
            record.text = record.text.trim_end().to_owned();
            records.push(record);
        }
        let next = list
            .next_cursor
            .filter(|c| list.has_more && !reached && !c.is_empty());
        state.end_page("notion", SEARCH, records, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = include_str!("../testdata/notion/children_root.json");

    #[test]
    fn block_budget_truncates_the_page() {
        let all = parse_children(ROOT.as_bytes(), MAX_BLOCKS).unwrap();
        assert!(all.blocks >= 2 && !all.truncated);
        let one = parse_children(ROOT.as_bytes(), 1).unwrap();
        assert_eq!(one.blocks, 1);
        assert!(one.truncated);
        assert!(all.text.starts_with(&one.text));
        let none = parse_children(ROOT.as_bytes(), 0).unwrap();
        assert!(none.truncated && none.text.is_empty() && none.children.is_empty());
    }
}
