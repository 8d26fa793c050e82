//! Audit events: one append-only stream of who touched which object or API, and when.
//!
//! Every source API call, raw write or read, sweep, erasure and key operation emits one
//! [`AuditEvent`]. Events carry identifiers, counts, classes and durations, never content:
//! the type has no field that could hold a payload, and [`AuditEvent::field`] only accepts
//! numbers, booleans and short identifier-like strings.
//!
//! Sinks: [`AuditSink::Tracing`] writes to the `audit` tracing target (in production the JSON
//! log formatter gives it its own log name, which Terraform routes to a locked bucket);
//! [`AuditSink::File`] appends JSON lines to a local file; [`AuditSink::Memory`] collects
//! events for tests.
//!
//! ```
//! use bacca_audit::{AuditEvent, AuditSink};
//! let sink = AuditSink::memory();
//! sink.emit(AuditEvent::new("sweep", "tenant-a").field("deleted", 3u64));
//! assert_eq!(sink.events()[0].action, "sweep");
//! ```

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Errors reading or writing the audit stream.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The audit file could not be opened, written or read.
    #[error("audit file i/o failed: {0}")]
    Io(#[from] std::io::Error),
    /// A line of the audit file is not an audit event.
    #[error("audit file line {line} is not a valid event")]
    Malformed {
        /// 1-based line number.
        line: usize,
    },
}

/// A value of an audit field: deliberately no free text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AuditValue {
    /// A boolean flag.
    Bool(bool),
    /// A count, size or duration.
    Int(i64),
    /// An identifier, class or status (at most 200 characters, no whitespace).
    Id(String),
}

impl From<bool> for AuditValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<u64> for AuditValue {
    fn from(v: u64) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<usize> for AuditValue {
    fn from(v: usize) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<i64> for AuditValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<u32> for AuditValue {
    fn from(v: u32) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<u16> for AuditValue {
    fn from(v: u16) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<&str> for AuditValue {
    fn from(v: &str) -> Self {
        Self::Id(sanitize_id(v))
    }
}
impl From<String> for AuditValue {
    fn from(v: String) -> Self {
        Self::Id(sanitize_id(&v))
    }
}

/// Keeps identifiers identifier-like: whitespace and control characters become `_`, and the
/// value is cut at 200 characters, so a sentence of content cannot pass as an identifier.
fn sanitize_id(v: &str) -> String {
    v.chars()
        .take(200)
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// What happened: `source_api_call`, `raw_write`, `raw_read`, `sweep`, `erasure`, `key_create`...
    pub action: String,
    /// The tenant it happened for.
    pub tenant: String,
    /// Identifiers, counts, classes and durations.
    #[serde(default)]
    pub fields: BTreeMap<String, AuditValue>,
}

impl AuditEvent {
    /// A new event for `tenant`, stamped now.
    pub fn new(action: &str, tenant: &str) -> Self {
        Self {
            time: Utc::now(),
            action: sanitize_id(action),
            tenant: sanitize_id(tenant),
            fields: BTreeMap::new(),
        }
    }

    /// Overrides the time stamp (for injected clocks).
    #[must_use]
    pub fn at(mut self, time: DateTime<Utc>) -> Self {
        self.time = time;
        self
    }

    /// Adds an identifier, count, class or flag.
    #[must_use]
    pub fn field(mut self, key: &str, value: impl Into<AuditValue>) -> Self {
        self.fields.insert(sanitize_id(key), value.into());
        self
    }
}

/// Where audit events go. Cheap to clone; clones share the destination.
#[derive(Debug, Clone)]
pub enum AuditSink {
    /// The `audit` tracing target (Cloud Logging in production).
    Tracing,
    /// An append-only JSON-lines file.
    File(Arc<FileSink>),
    /// Collected in memory (tests, demo summaries).
    Memory(Arc<Mutex<Vec<AuditEvent>>>),
    /// Discarded (only where a caller explicitly opts out, e.g. benchmarks).
    Discard,
}

/// An append-only JSON-lines audit file.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditSink {
    /// A sink appending to `path` (created with its parent directories if missing).
    ///
    /// # Errors
    /// [`AuditError::Io`] when the file cannot be opened for appending.
    pub fn file(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self::File(Arc::new(FileSink {
            path,
            file: Mutex::new(file),
        })))
    }

    /// A sink collecting events in memory.
    pub fn memory() -> Self {
        Self::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// Records one event. Never fails the caller: a sink that cannot write reports the
    /// failure at ERROR level (an operator must act), without the event's fields.
    pub fn emit(&self, event: AuditEvent) {
        match self {
            Self::Tracing => {
                let fields = serde_json::to_string(&event.fields).unwrap_or_default();
                tracing::info!(target: "audit", action = %event.action, tenant = %event.tenant, fields = %fields, "audit event");
            }
            Self::File(sink) => {
                let mut line = match serde_json::to_vec(&event) {
                    Ok(l) => l,
                    Err(_) => return,
                };
                line.push(b'\n');
                let mut file = match sink.file.lock() {
                    Ok(f) => f,
                    Err(poisoned) => poisoned.into_inner(),
                };
                // One write of the whole line: with O_APPEND, lines from several sinks (or
                // processes) sharing the file never interleave.
                if file.write_all(&line).is_err() {
                    tracing::error!(path = %sink.path.display(), action = %event.action, "could not append to the audit file");
                }
            }
            Self::Memory(events) => match events.lock() {
                Ok(mut v) => v.push(event),
                Err(poisoned) => poisoned.into_inner().push(event),
            },
            Self::Discard => {}
        }
    }

    /// The events collected so far by a memory sink (empty for other sinks).
    pub fn events(&self) -> Vec<AuditEvent> {
        match self {
            Self::Memory(events) => match events.lock() {
                Ok(v) => v.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            },
            _ => Vec::new(),
        }
    }
}

/// Reads an audit file back, keeping the events of `tenant` (all when `None`) at or after
/// `since` (all when `None`).
///
/// # Errors
/// [`AuditError::Io`] when the file cannot be read, [`AuditError::Malformed`] naming the first
/// line that is not an event.
pub fn read_file(
    path: impl AsRef<Path>,
    tenant: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<AuditEvent>, AuditError> {
    let file = File::open(path)?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event: AuditEvent =
            serde_json::from_str(&line).map_err(|_| AuditError::Malformed { line: i + 1 })?;
        if tenant.is_some_and(|t| t != event.tenant) || since.is_some_and(|s| event.time < s) {
            continue;
        }
        out.push(event);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_carry_sentences() {
        let e = AuditEvent::new("raw write", "t").field("object", "a b\nc");
        assert_eq!(e.action, "raw_write");
        assert_eq!(e.fields["object"], AuditValue::Id("a_b_c".into()));
        let long = "x".repeat(500);
        let e = AuditEvent::new("a", "t").field("id", long.as_str());
        assert_eq!(e.fields["id"], AuditValue::Id("x".repeat(200)));
    }

    #[test]
    fn file_round_trip_filters_by_tenant_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit/events.jsonl");
        let sink = AuditSink::file(&path).unwrap();
        let t0 = Utc::now() - chrono::Duration::hours(2);
        sink.emit(AuditEvent::new("sweep", "a").at(t0).field("deleted", 2u64));
        sink.emit(AuditEvent::new("sweep", "b").field("deleted", 1u64));
        sink.emit(AuditEvent::new("raw_write", "a").field("bytes", 10u64));
        assert_eq!(read_file(&path, None, None).unwrap().len(), 3);
        let a = read_file(&path, Some("a"), None).unwrap();
        assert_eq!(a.len(), 2);
        let recent = read_file(&path, Some("a"), Some(t0 + chrono::Duration::hours(1))).unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].action, "raw_write");
    }

    #[test]
    fn concurrent_sinks_on_one_file_never_interleave_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = AuditSink::file(&path).unwrap();
                std::thread::spawn(move || {
                    for i in 0..200u64 {
                        sink.emit(
                            AuditEvent::new("raw_write", "tenant-a")
                                .field("object", format!("raw/slack/2026-01-01/{t}-{i}"))
                                .field("bytes", i),
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read_file(&path, None, None).unwrap().len(), 800);
    }

    #[test]
    fn malformed_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, "{\"nope\":1}\n").unwrap();
        assert!(matches!(
            read_file(&path, None, None),
            Err(AuditError::Malformed { line: 1 })
        ));
    }
}
