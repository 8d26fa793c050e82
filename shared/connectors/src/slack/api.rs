//! The Slack Web API connector: `conversations.history` and `conversations.replies` for the
//! allowlisted channels only, `users.list` for the directory.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{slack_error, Message, User};
use crate::error::malformed;
use crate::http::{Api, ConnectorContext};
use crate::pass::check_cursor;
use crate::record::{Checkpoint, Directory, Page, Record, SourceKind};
use crate::source::{decode, encode, Source};
use crate::{Error, Result};

/// Slack's rate-limit profile for the app that holds the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlackProfile {
    /// Marketplace or internal (customer-built) apps: Tier 3, about 50 calls a minute; pages
    /// of 200 messages (Slack's recommended size; the maximum is 999).
    #[default]
    Tier3,
    /// Non-Marketplace commercially distributed apps: 1 call a minute, 15 messages a page.
    NonMarketplace,
}

impl SlackProfile {
    const fn page_limit(self) -> u32 {
        match self {
            Self::Tier3 => 200,
            Self::NonMarketplace => 15,
        }
    }
    const fn min_interval_ms(self) -> u64 {
        match self {
            Self::Tier3 => 1_200,
            Self::NonMarketplace => 60_000,
        }
    }
}

/// Configuration of the Slack connector.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// API root (`https://slack.com/api`), overridable for tests and the demo.
    pub base_url: String,
    /// The channels the customer selected: the only ones ever read.
    pub channels: Vec<String>,
    /// First run only: read messages after this time (all history when `None`).
    pub since: Option<DateTime<Utc>>,
    /// The app's rate-limit profile.
    pub profile: SlackProfile,
    /// Overrides the profile's minimum interval between calls (tests use 0).
    pub min_interval_ms: Option<u64>,
}

impl SlackConfig {
    /// The default API root.
    pub const DEFAULT_BASE_URL: &'static str = "https://slack.com/api";
}

/// Resume state: per-channel watermarks plus the position inside the current pass.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Newest `ts` fully read per channel (the next pass asks for `oldest` = this).
    #[serde(default)]
    watermarks: BTreeMap<String, String>,
    /// Index of the channel being read in the allowlist.
    #[serde(default)]
    pos: usize,
    /// The channel id at `pos` (detects allowlist changes).
    #[serde(default)]
    channel: Option<String>,
    /// History cursor inside the current channel.
    #[serde(default)]
    cursor: Option<String>,
    /// Whether the history of the current channel is read (threads may remain).
    #[serde(default)]
    history_done: bool,
    /// Newest `ts` seen in the current pass.
    #[serde(default)]
    max_ts: Option<String>,
    /// Thread parents whose replies remain to read.
    #[serde(default)]
    threads: Vec<String>,
    /// Recent thread parents per channel (last 7 days, at most 200), re-polled each pass for
    /// replies newer than the watermark: a reply does not bring its thread back into history.
    #[serde(default)]
    recent: BTreeMap<String, Vec<String>>,
    /// Thread parents found in this pass (joined to `recent` when the channel is done).
    #[serde(default)]
    discovered: Vec<String>,
    /// Replies cursor inside `threads[0]`.
    #[serde(default)]
    thread_cursor: Option<String>,
}

#[derive(Deserialize)]
struct MessagesResponse {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    response_metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct UsersResponse {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    members: Vec<User>,
    #[serde(default)]
    response_metadata: Option<Metadata>,
}

fn next_cursor(meta: Option<Metadata>) -> Option<String> {
    meta.and_then(|m| m.next_cursor).filter(|c| !c.is_empty())
}

/// Parses a `conversations.history` / `conversations.replies` page.
pub(crate) fn parse_messages(
    endpoint: &str,
    body: &[u8],
) -> Result<(Vec<Message>, Option<String>)> {
    let r: MessagesResponse =
        serde_json::from_slice(body).map_err(|e| malformed("slack", endpoint, &e))?;
    if !r.ok {
        return Err(slack_error(
            endpoint,
            r.error.as_deref().unwrap_or("unknown"),
        ));
    }
    let cursor = if r.has_more {
        next_cursor(r.response_metadata)
    } else {
        None
    };
    Ok((r.messages, cursor))
}

/// Parses and normalizes one history page (used by the benchmark).
///
/// # Errors
/// [`Error::Malformed`] for bodies that are not a Slack messages page; Slack error codes.
pub fn parse_history_page(channel: &str, body: &[u8]) -> Result<(Vec<Record>, Option<String>)> {
    let (messages, cursor) = parse_messages("conversations.history", body)?;
    let records = messages
        .into_iter()
        .map(|m| m.into_record(SourceKind::Slack, channel))
        .collect::<Result<Vec<_>>>()?;
    Ok((records, cursor))
}

/// Reads the allowlisted channels of one workspace.
#[derive(Debug)]
pub struct SlackSource {
    api: Api,
    token: SecretString,
    config: SlackConfig,
}

fn valid_channel_id(c: &str) -> bool {
    !c.is_empty() && c.len() <= 32 && c.chars().all(|ch| ch.is_ascii_alphanumeric())
}

impl SlackSource {
    /// A connector reading `config.channels` with the bot token `token` (`SLACK_BOT_TOKEN`).
    ///
    /// # Errors
    /// [`Error::Config`] for an empty allowlist, a channel id that is not one, or a bad base URL.
    pub fn new(ctx: &ConnectorContext, token: SecretString, config: SlackConfig) -> Result<Self> {
        if config.channels.is_empty() {
            return Err(Error::Config(
                "slack needs a channel allowlist (--channels C1,C2)".into(),
            ));
        }
        if !config.channels.iter().all(|c| valid_channel_id(c)) {
            return Err(Error::Config(
                "slack channel ids are alphanumeric (C…, G…)".into(),
            ));
        }
        let mut ctx = ctx.clone();
        ctx.http.min_interval_ms = config
            .min_interval_ms
            .unwrap_or_else(|| config.profile.min_interval_ms());
        Ok(Self {
            api: Api::new(&ctx, "slack", &config.base_url)?,
            token,
            config,
        })
    }

    async fn get_messages(
        &self,
        endpoint: &'static str,
        query: &[(&str, String)],
    ) -> Result<(Vec<Message>, Option<String>)> {
        let url = self.api.url(&format!("/{endpoint}"));
        self.api
            .call(
                endpoint,
                |c| {
                    c.get(&url)
                        .bearer_auth(self.token.expose_secret())
                        .query(query)
                },
                |body, _| {
                    let (m, cur) = parse_messages(endpoint, body)?;
                    let n = m.len();
                    Ok(((m, cur), n))
                },
            )
            .await
    }

    fn oldest(&self, state: &State, channel: &str) -> Option<String> {
        state.watermarks.get(channel).cloned().or_else(|| {
            self.config
                .since
                .map(|t| format!("{}.{:06}", t.timestamp(), t.timestamp_subsec_micros()))
        })
    }
}

/// Keeps the threads of the last 7 days, at most 200 per channel.
fn prune_recent(recent: &mut BTreeMap<String, Vec<String>>, channel: &str) {
    let Some(list) = recent.get_mut(channel) else {
        return;
    };
    let cutoff = Utc::now() - chrono::Duration::days(7);
    list.retain(|t| crate::record::parse_slack_ts(t).is_some_and(|at| at >= cutoff));
    list.sort_by_key(|t| ts_key(t));
    let excess = list.len().saturating_sub(200);
    list.drain(..excess);
    if list.is_empty() {
        recent.remove(channel);
    }
}

fn ts_max(a: Option<String>, b: &str) -> Option<String> {
    match a {
        Some(a) if ts_key(&a) >= ts_key(b) => Some(a),
        _ => Some(b.to_owned()),
    }
}

fn ts_key(ts: &str) -> (u64, u64) {
    let (s, f) = ts.split_once('.').unwrap_or((ts, "0"));
    (s.parse().unwrap_or(0), f.parse().unwrap_or(0))
}

#[async_trait]
impl Source for SlackSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Slack
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: State = decode("slack", checkpoint)?;
        let channels = &self.config.channels;
        let current = channels.get(state.pos).map(String::as_str);
        if current.is_none() || state.channel.as_deref() != current {
            // First run, or the allowlist changed: restart the pass (watermarks are kept).
            let watermarks = std::mem::take(&mut state.watermarks);
            let recent = std::mem::take(&mut state.recent);
            state = State {
                watermarks,
                recent,
                channel: channels.first().cloned(),
                ..State::default()
            };
        }
        let channel = channels
            .get(state.pos)
            .cloned()
            .ok_or_else(|| Error::Config("the slack channel allowlist is empty".into()))?;
        let limit = self.config.profile.page_limit();
        let mut records = Vec::new();
        if let Some(thread) = state.threads.first().cloned() {
            let mut q = vec![
                ("channel", channel.clone()),
                ("ts", thread.clone()),
                ("limit", limit.to_string()),
            ];
            if let Some(o) = self.oldest(&state, &channel) {
                q.push(("oldest", o));
            }
            if let Some(c) = &state.thread_cursor {
                q.push(("cursor", c.clone()));
            }
            let (messages, cursor) = self.get_messages("conversations.replies", &q).await?;
            for m in messages {
                if m.ts() != thread {
                    records.push(m.into_record(SourceKind::Slack, &channel)?);
                }
            }
            check_cursor(
                "slack",
                "conversations.replies",
                state.thread_cursor.as_deref(),
                cursor.as_deref(),
            )?;
            if cursor.is_some() {
                state.thread_cursor = cursor;
            } else {
                state.threads.remove(0);
                state.thread_cursor = None;
            }
        } else if !state.history_done {
            let mut q = vec![("channel", channel.clone()), ("limit", limit.to_string())];
            if let Some(o) = self.oldest(&state, &channel) {
                q.push(("oldest", o));
            }
            if let Some(c) = &state.cursor {
                q.push(("cursor", c.clone()));
            }
            let (messages, cursor) = self.get_messages("conversations.history", &q).await?;
            check_cursor(
                "slack",
                "conversations.history",
                state.cursor.as_deref(),
                cursor.as_deref(),
            )?;
            for m in messages {
                state.max_ts = ts_max(state.max_ts.take(), m.ts());
                if m.has_replies() {
                    state.threads.push(m.ts().to_owned());
                    state.discovered.push(m.ts().to_owned());
                }
                records.push(m.into_record(SourceKind::Slack, &channel)?);
            }
            state.history_done = cursor.is_none();
            state.cursor = cursor;
            if state.history_done {
                // Threads of earlier passes may have new replies: poll them too.
                for t in state.recent.get(&channel).into_iter().flatten() {
                    if !state.discovered.contains(t) && !state.threads.contains(t) {
                        state.threads.push(t.clone());
                    }
                }
            }
        }
        let mut done = false;
        if state.history_done && state.threads.is_empty() {
            if let Some(max) = state.max_ts.take() {
                state.watermarks.insert(channel.clone(), max);
            }
            let recent = state.recent.entry(channel.clone()).or_default();
            for t in std::mem::take(&mut state.discovered) {
                if !recent.contains(&t) {
                    recent.push(t);
                }
            }
            prune_recent(&mut state.recent, &channel);
            let next = state.pos + 1;
            let watermarks = std::mem::take(&mut state.watermarks);
            let recent = std::mem::take(&mut state.recent);
            done = next >= channels.len();
            let pos = if done { 0 } else { next };
            state = State {
                watermarks,
                recent,
                pos,
                channel: channels.get(pos).cloned(),
                ..State::default()
            };
        }
        Ok(Page {
            records,
            next_checkpoint: encode(&state),
            done,
        })
    }

    async fn directory(&mut self) -> Result<Directory> {
        let url = self.api.url("/users.list");
        let mut dir = Directory::default();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let mut q = vec![("limit", "200".to_owned())];
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let (members, next) = self
                .api
                .call(
                    "users.list",
                    |c| {
                        c.get(&url)
                            .bearer_auth(self.token.expose_secret())
                            .query(&q)
                    },
                    |body, _| {
                        let r: UsersResponse = serde_json::from_slice(body)
                            .map_err(|e| malformed("slack", "users.list", &e))?;
                        if !r.ok {
                            return Err(slack_error(
                                "users.list",
                                r.error.as_deref().unwrap_or("unknown"),
                            ));
                        }
                        let n = r.members.len();
                        Ok(((r.members, next_cursor(r.response_metadata)), n))
                    },
                )
                .await?;
            for m in members {
                dir.add(m.into_person());
            }
            check_cursor("slack", "users.list", cursor.as_deref(), next.as_deref())?;
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(dir),
            }
        }
        Err(Error::PageLimit { pages: 10_000 })
    }
}
