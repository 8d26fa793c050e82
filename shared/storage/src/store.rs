//! The [`ObjectStore`] trait, its value types, and object-name validation shared by backends.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest accepted object name in bytes (the GCS limit).
pub const MAX_NAME_BYTES: usize = 1024;

/// Options for [`ObjectStore::put`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// GCS Custom-Time: for raw objects, the earliest occurrence in the batch.
    pub custom_time: Option<DateTime<Utc>>,
    /// Write only if the live generation equals this; `Some(0)` means "must not exist".
    pub if_generation_match: Option<i64>,
    /// Content type; `application/octet-stream` when `None`.
    pub content_type: Option<String>,
    /// User metadata (identifiers only: it is visible in listings).
    pub metadata: BTreeMap<String, String>,
}

impl PutOptions {
    /// Options that create the object only if it does not exist yet.
    pub fn create_only() -> Self {
        Self {
            if_generation_match: Some(0),
            ..Self::default()
        }
    }

    /// Sets the Custom-Time.
    #[must_use]
    pub fn with_custom_time(mut self, t: DateTime<Utc>) -> Self {
        self.custom_time = Some(t);
        self
    }
}

/// What a store knows about one object version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Object name inside the bucket.
    pub name: String,
    /// Generation of this version (GCS generation; monotonic per name in the local store).
    pub generation: i64,
    /// Size in bytes.
    pub size: u64,
    /// Custom-Time, if set.
    pub custom_time: Option<DateTime<Utc>>,
    /// When this version was written.
    pub updated: DateTime<Utc>,
}

/// An object's bytes as a stream of chunks, for objects too large to hold in memory.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// One page-free listing result: objects directly matched and, with a delimiter, the common
/// prefixes ("directories").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Objects whose names start with the prefix (and contain no delimiter after it).
    pub objects: Vec<ObjectMeta>,
    /// Distinct prefixes up to and including the first delimiter after the prefix, sorted.
    pub prefixes: Vec<String>,
}

/// A bucket of objects: `gs://<bucket>` in production, `file://<dir>` locally.
///
/// Chosen by URI with [`crate::open`]; both backends pass the same conformance suite.
/// Implementations are cheap to clone behind an `Arc` and safe to share between tasks.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// The store's URI (`gs://bucket` or `file:///dir`), for logs and audit events.
    fn uri(&self) -> String;

    /// Writes `data` as `name`, honouring `opts.if_generation_match`.
    ///
    /// # Errors
    /// [`Error::PreconditionFailed`] when the precondition does not hold (the existing object
    /// is untouched), [`Error::BucketNotFound`], [`Error::InvalidName`], transport errors.
    async fn put(&self, name: &str, data: Bytes, opts: PutOptions) -> Result<ObjectMeta>;

    /// Writes an object from a stream of chunks, with the same semantics as
    /// [`ObjectStore::put`], in bounded memory. The default collects the stream first.
    ///
    /// # Errors
    /// As [`ObjectStore::put`], plus any error the stream yields (nothing is written then).
    async fn put_stream(
        &self,
        name: &str,
        data: ByteStream,
        opts: PutOptions,
    ) -> Result<ObjectMeta> {
        use futures::TryStreamExt;
        let chunks: Vec<Bytes> = data.try_collect().await?;
        self.put(name, Bytes::from(chunks.concat()), opts).await
    }

    /// Reads a whole object and its metadata.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::BucketNotFound`], transport errors.
    async fn get(&self, name: &str) -> Result<(Bytes, ObjectMeta)>;

    /// Reads an object as a stream of chunks (bounded memory), with the metadata of the
    /// exact generation streamed. The default reads the whole object.
    ///
    /// # Errors
    /// As [`ObjectStore::get`]; the stream yields transport errors mid-way.
    async fn get_stream(&self, name: &str) -> Result<(ByteStream, ObjectMeta)> {
        let (data, meta) = self.get(name).await?;
        let one: ByteStream = Box::pin(futures::stream::once(async move { Ok(data) }));
        Ok((one, meta))
    }

    /// Reads an object's metadata.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::BucketNotFound`], transport errors.
    async fn head(&self, name: &str) -> Result<ObjectMeta>;

    /// Lists objects under `prefix`; with a delimiter, names containing it after the prefix
    /// are folded into [`Listing::prefixes`]. Pagination is handled inside.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`], transport errors.
    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> Result<Listing>;

    /// Deletes `name`, only if its live generation equals `if_generation_match` when given.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist, [`Error::PreconditionFailed`] when the
    /// generation moved, [`Error::BucketNotFound`], transport errors.
    async fn delete(&self, name: &str, if_generation_match: Option<i64>) -> Result<()>;

    /// Creates the bucket (or local directory) if it does not exist. For development, tests
    /// and emulators: production buckets are created by Terraform with their lifecycle rules.
    ///
    /// # Errors
    /// Transport or permission errors.
    async fn create_bucket(&self) -> Result<()>;
}

/// A shared, dynamically chosen store.
pub type SharedStore = Arc<dyn ObjectStore>;

/// Checks an object name against the rules both backends enforce: non-empty, at most
/// [`MAX_NAME_BYTES`], no NUL or other control character, not absolute, no empty, `.` or `..`
/// segment, no backslash, and not under the local store's reserved `.bacca` prefix.
///
/// # Errors
/// [`Error::InvalidName`] with the rule that failed.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidName { reason });
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("longer than 1024 bytes");
    }
    if name.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if name.contains('\\') {
        return bad("contains a backslash");
    }
    if name.starts_with('/') {
        return bad("absolute");
    }
    for seg in name.split('/') {
        match seg {
            "" => return bad("empty path segment"),
            "." | ".." => return bad("dot segment"),
            s if s.starts_with(".bacca") => return bad("reserved .bacca segment"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "raw/slack/2026-01-01/b1", "a.b/c-d_e", "x/..y"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(1025);
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "a\0b",
            "a\nb",
            "a\\b",
            ".bacca/meta",
            "x/.bacca-tmp/y",
            long.as_str(),
        ] {
            assert!(
                matches!(validate_name(bad), Err(Error::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }
}
