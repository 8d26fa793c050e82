//! The Slack workspace export ZIP (`users.json`, `channels.json`, `<channel>/<date>.json`),
//! for historical backfill, read with the same channel allowlist as the API connector.
//!
//! The archive is hostile input: an entry name that could escape a directory (`../`,
//! absolute paths) rejects the whole archive, and the entry count, each entry's actual
//! decompressed size (counted while reading, not trusted from the header) and the total
//! decompressed size are bounded, so a zip bomb stops with a clear error.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use zip::ZipArchive;

use super::{Message, User};
use crate::record::{Checkpoint, Directory, Page, SourceKind};
use crate::source::{decode, encode, Source};
use crate::{Error, Result};

/// Bounds on the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportLimits {
    /// Most entries in the archive.
    pub max_entries: usize,
    /// Most decompressed bytes of one entry.
    pub max_entry_bytes: u64,
    /// Most decompressed bytes read in total by one source.
    pub max_total_bytes: u64,
}

impl Default for ExportLimits {
    fn default() -> Self {
        Self {
            max_entries: 200_000,
            max_entry_bytes: 256 * 1024 * 1024,
            max_total_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Channel {
    id: String,
    name: String,
}

/// One day file to read: the channel id and the entry name.
#[derive(Debug, Clone)]
struct DayFile {
    channel_id: String,
    entry: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// The last day file fully read (entries are read in name order).
    #[serde(default)]
    last: Option<String>,
}

/// Reads a Slack export archive.
pub struct SlackExportSource<R: Read + Seek + Send = File> {
    archive: ZipArchive<R>,
    files: Vec<DayFile>,
    limits: ExportLimits,
    read_bytes: u64,
}

impl<R: Read + Seek + Send> std::fmt::Debug for SlackExportSource<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackExportSource")
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

fn export_err(msg: &str) -> Error {
    Error::Export(msg.to_owned())
}

impl SlackExportSource<File> {
    /// Opens the export at `path`, keeping only the day files of `channels` (ids or names).
    ///
    /// # Errors
    /// [`Error::Export`] for an unsafe or invalid archive, [`Error::Io`] when unreadable.
    pub fn open(path: &Path, channels: &[String], limits: ExportLimits) -> Result<Self> {
        Self::new(File::open(path)?, channels, limits)
    }
}

impl<R: Read + Seek + Send> SlackExportSource<R> {
    /// Reads the archive from `reader`, keeping only the day files of `channels` (ids or names).
    ///
    /// # Errors
    /// [`Error::Export`] for an empty allowlist, path traversal, too many entries, a
    /// missing or invalid `channels.json`.
    pub fn new(reader: R, channels: &[String], limits: ExportLimits) -> Result<Self> {
        if channels.is_empty() {
            return Err(Error::Config(
                "a slack export needs a channel allowlist (--channels)".into(),
            ));
        }
        let archive = ZipArchive::new(reader).map_err(|_| export_err("not a ZIP archive"))?;
        if archive.len() > limits.max_entries {
            return Err(export_err("too many entries"));
        }
        let mut names = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let name = archive
                .name_for_index(i)
                .ok_or_else(|| export_err("unreadable entry name"))?
                .map_err(|_| export_err("unreadable entry name"))?
                .into_owned();
            if !safe_name(&name) {
                return Err(export_err(
                    "an entry name escapes the archive (path traversal)",
                ));
            }
            names.push(name);
        }
        let mut this = Self {
            archive,
            files: Vec::new(),
            limits,
            read_bytes: 0,
        };
        let listed: Vec<Channel> = serde_json::from_slice(&this.read_entry("channels.json")?)
            .map_err(|_| export_err("channels.json is not a list of channels"))?;
        let mut files = Vec::new();
        for ch in listed
            .iter()
            .filter(|c| channels.iter().any(|a| *a == c.id || *a == c.name))
        {
            let prefix = format!("{}/", ch.name);
            for n in &names {
                if let Some(day) = n.strip_prefix(&prefix) {
                    if is_day_file(day) {
                        files.push(DayFile {
                            channel_id: ch.id.clone(),
                            entry: n.clone(),
                        });
                    }
                }
            }
        }
        files.sort_by(|a, b| a.entry.cmp(&b.entry));
        this.files = files;
        Ok(this)
    }

    fn read_entry(&mut self, name: &str) -> Result<Vec<u8>> {
        let entry = self
            .archive
            .by_name(name)
            .map_err(|_| Error::Export(format!("{} is missing or unreadable", short(name))))?;
        let cap = self
            .limits
            .max_entry_bytes
            .min(self.limits.max_total_bytes.saturating_sub(self.read_bytes));
        let mut buf = Vec::new();
        entry
            .take(cap.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|_| Error::Export(format!("{} cannot be decompressed", short(name))))?;
        if buf.len() as u64 > cap {
            return Err(export_err(
                "an entry decompresses past the size limit (zip bomb?)",
            ));
        }
        self.read_bytes += buf.len() as u64;
        Ok(buf)
    }
}

fn short(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'))
        .take(80)
        .collect()
}

/// Whether a ZIP entry name stays inside the archive root.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.starts_with('\\')
        && !name.contains('\\')
        && !name.contains(':')
        && !name.contains('\0')
        && name.split('/').all(|c| c != ".." && c != ".")
}

fn is_day_file(day: &str) -> bool {
    let b = day.as_bytes();
    b.len() == 15
        && day.ends_with(".json")
        && b.iter().take(10).enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

#[async_trait]
impl<R: Read + Seek + Send> Source for SlackExportSource<R> {
    fn kind(&self) -> SourceKind {
        SourceKind::SlackExport
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: State = decode("slack-export", checkpoint)?;
        let next = self
            .files
            .iter()
            .find(|f| state.last.as_ref().is_none_or(|l| f.entry > *l))
            .cloned();
        let Some(file) = next else {
            return Ok(Page {
                records: Vec::new(),
                next_checkpoint: encode(&state),
                done: true,
            });
        };
        let body = self.read_entry(&file.entry)?;
        let messages: Vec<Message> = serde_json::from_slice(&body)
            .map_err(|e| crate::error::malformed("slack-export", "channel day file", &e))?;
        let records = messages
            .into_iter()
            .map(|m| m.into_record(SourceKind::SlackExport, &file.channel_id))
            .collect::<Result<Vec<_>>>()?;
        let done = self.files.last().is_some_and(|l| l.entry == file.entry);
        state.last = Some(file.entry);
        Ok(Page {
            records,
            next_checkpoint: encode(&state),
            done,
        })
    }

    async fn directory(&mut self) -> Result<Directory> {
        let users: Vec<User> = serde_json::from_slice(&self.read_entry("users.json")?)
            .map_err(|_| export_err("users.json is not a list of users"))?;
        let mut dir = Directory::default();
        for u in users {
            dir.add(u.into_person());
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(safe_name("general/2024-01-02.json"));
        assert!(!safe_name("../etc/passwd"));
        assert!(!safe_name("a/../../b"));
        assert!(!safe_name("/abs"));
        assert!(!safe_name("C:\\x"));
        assert!(is_day_file("2024-01-02.json"));
        assert!(!is_day_file("2024-01-02.json.bak"));
        assert!(!is_day_file("notes.json"));
    }
}
