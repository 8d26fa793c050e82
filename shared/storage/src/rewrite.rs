//! Rewriting a tenant's raw objects in place, for data-subject erasure.
//!
//! [`rewrite_raw`] lists every object under `raw/`, reads each one and hands its bytes to a
//! [`RawRewriter`] (in production: decrypt, drop or redact the subject's records, re-encrypt),
//! then applies the decision:
//!
//! - [`Rewrite::Keep`]: nothing is written;
//! - [`Rewrite::Replace`]: the new bytes are written under the same name with
//!   `ifGenerationMatch` = the generation that was read, the **same Custom-Time** (so
//!   retention is never extended: the sweep and the lifecycle backstop still delete the
//!   object on the original schedule) and the raw layout's content type and metadata;
//! - [`Rewrite::Delete`]: the object is deleted with the same generation precondition (a
//!   batch that became empty).
//!
//! A precondition failure means someone wrote the object in between: it is read again and
//! the rewriter asked again, up to [`MAX_ATTEMPTS`] times. An object that disappeared
//! (swept) counts as `gone`. Per-object failures are counted and named (object name and
//! error class, never content) in the [`RewriteReport`]; the run goes on.
//!
//! Run twice with the same rewriter, the second run finds nothing to change: the rewriter
//! answers [`Rewrite::Keep`] for every object it already cleaned.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::raw::{raw_put_options, validate_tenant, RAW_PREFIX};
use crate::retention::{failure, SweepFailure};
use crate::store::{ObjectMeta, ObjectStore};

/// Attempts per object when its generation keeps moving under us.
pub const MAX_ATTEMPTS: u32 = 4;

/// Objects rewritten at once.
const CONCURRENCY: usize = 4;

/// What becomes of one raw object.
#[derive(Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// Leave it as it is.
    Keep,
    /// Write these bytes in its place (same name, same Custom-Time).
    Replace(Bytes),
    /// Delete it.
    Delete,
}

impl std::fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keep => f.write_str("Keep"),
            Self::Replace(b) => write!(f, "Replace({} bytes)", b.len()),
            Self::Delete => f.write_str("Delete"),
        }
    }
}

/// Why a rewriter could not decide about one object: a class, never content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewriteFailure {
    /// A short stable class (`decrypt_failed`, `malformed_record`...).
    pub class: &'static str,
    /// Whether a later run may succeed.
    pub retryable: bool,
}

/// Decides, object by object, what a rewrite does.
#[async_trait]
pub trait RawRewriter: Send + Sync {
    /// The decision for `data`, the current content of the object described by `meta`.
    ///
    /// # Errors
    /// A [`RewriteFailure`] naming the class of the problem; the object is left untouched.
    async fn rewrite(
        &self,
        meta: &ObjectMeta,
        data: Bytes,
    ) -> std::result::Result<Rewrite, RewriteFailure>;
}

/// What a rewrite did: counts and the names of failed objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewriteReport {
    /// Raw objects read.
    pub scanned: u64,
    /// Objects written back with new content.
    pub rewritten: u64,
    /// Objects deleted (they became empty).
    pub deleted: u64,
    /// Objects left as they were.
    pub unchanged: u64,
    /// Objects that disappeared between the listing and the rewrite (swept).
    pub gone: u64,
    /// Precondition conflicts that were retried.
    pub conflicts: u64,
    /// Objects that could not be processed (named in `failures`).
    pub failed: u64,
    /// The failures: object name and class.
    pub failures: Vec<SweepFailure>,
}

impl RewriteReport {
    /// True when some failure may succeed on a later run.
    pub fn retryable(&self) -> bool {
        self.failures.iter().any(|f| f.retryable)
    }
}

enum Done {
    Rewritten,
    Deleted,
    Unchanged,
    Gone,
}

/// One object's outcome: what was done and how many conflicts it took, or its failure.
type ObjectOutcome = std::result::Result<(Done, u64), SweepFailure>;

/// Rewrites every raw object of `tenant` in `store` as `rewriter` decides.
///
/// # Errors
/// [`Error::InvalidTenant`]; errors listing `raw/` (nothing was changed then). Per-object
/// failures are in the report, not errors.
pub async fn rewrite_raw(
    store: &dyn ObjectStore,
    tenant: &str,
    rewriter: &dyn RawRewriter,
) -> Result<RewriteReport> {
    validate_tenant(tenant)?;
    let listing = store.list(RAW_PREFIX, None).await?;
    let results: Vec<(String, ObjectOutcome)> = stream::iter(listing.objects)
        .map(|obj| async move {
            let res = rewrite_one(store, tenant, &obj.name, rewriter).await;
            (obj.name, res)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut r = RewriteReport::default();
    for (name, res) in results {
        r.scanned += 1;
        match res {
            Ok((done, conflicts)) => {
                r.conflicts += conflicts;
                match done {
                    Done::Rewritten => r.rewritten += 1,
                    Done::Deleted => r.deleted += 1,
                    Done::Unchanged => r.unchanged += 1,
                    Done::Gone => r.gone += 1,
                }
            }
            Err(f) => {
                tracing::warn!(tenant, object = %name, class = %f.class, "raw rewrite failed for one object");
                r.failed += 1;
                r.failures.push(f);
            }
        }
    }
    r.failures.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(r)
}

/// Reads, decides and applies for one object, retrying on generation conflicts.
async fn rewrite_one(
    store: &dyn ObjectStore,
    tenant: &str,
    name: &str,
    rewriter: &dyn RawRewriter,
) -> ObjectOutcome {
    let mut conflicts = 0u64;
    for _ in 0..MAX_ATTEMPTS {
        let (data, meta) = match store.get(name).await {
            Ok(x) => x,
            Err(Error::NotFound { .. }) => return Ok((Done::Gone, conflicts)),
            Err(e) => return Err(failure(name, &e)),
        };
        let decision = rewriter
            .rewrite(&meta, data)
            .await
            .map_err(|f| SweepFailure {
                name: name.to_owned(),
                class: f.class.to_owned(),
                retryable: f.retryable,
            })?;
        let applied = match decision {
            Rewrite::Keep => return Ok((Done::Unchanged, conflicts)),
            Rewrite::Replace(bytes) => {
                let source = name
                    .strip_prefix(RAW_PREFIX)
                    .and_then(|rest| rest.split('/').next())
                    .unwrap_or_default();
                let mut opts = raw_put_options(tenant, source, meta.custom_time);
                opts.if_generation_match = Some(meta.generation);
                store.put(name, bytes, opts).await.map(|_| Done::Rewritten)
            }
            Rewrite::Delete => store
                .delete(name, Some(meta.generation))
                .await
                .map(|()| Done::Deleted),
        };
        match applied {
            Ok(done) => return Ok((done, conflicts)),
            Err(Error::PreconditionFailed { .. }) => conflicts += 1,
            Err(Error::NotFound { .. }) => return Ok((Done::Gone, conflicts)),
            Err(e) => return Err(failure(name, &e)),
        }
    }
    Err(SweepFailure {
        name: name.to_owned(),
        class: "precondition_failed".to_owned(),
        retryable: true,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::local::LocalStore;
    use crate::store::PutOptions;
    use chrono::{DateTime, Utc};

    /// Drops the lines equal to `x`; deletes batches left empty.
    struct DropX;

    #[async_trait]
    impl RawRewriter for DropX {
        async fn rewrite(
            &self,
            _meta: &ObjectMeta,
            data: Bytes,
        ) -> std::result::Result<Rewrite, RewriteFailure> {
            if data.starts_with(b"bad") {
                return Err(RewriteFailure {
                    class: "decrypt_failed",
                    retryable: false,
                });
            }
            let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
            let kept: Vec<&[u8]> = lines.iter().copied().filter(|l| *l != b"x").collect();
            Ok(if kept.len() == lines.len() {
                Rewrite::Keep
            } else if kept.iter().all(|l| l.is_empty()) {
                Rewrite::Delete
            } else {
                Rewrite::Replace(Bytes::from(kept.join(&b'\n')))
            })
        }
    }

    async fn put(store: &LocalStore, name: &str, data: &'static [u8], t: DateTime<Utc>) {
        store
            .put(
                name,
                Bytes::from_static(data),
                PutOptions::create_only().with_custom_time(t),
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn rewrites_keeps_deletes_preserves_custom_time_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.create_bucket().await.unwrap();
        let t: DateTime<Utc> = "2026-01-02T03:04:05Z".parse().unwrap();
        put(&store, "raw/slack/2026-01-02/a", b"x\ny", t).await;
        put(&store, "raw/slack/2026-01-02/b", b"y\nz", t).await;
        put(&store, "raw/jira/2026-01-02/c", b"x", t).await;
        put(&store, "raw/jira/2026-01-02/d", b"bad", t).await;
        put(&store, "checkpoints/slack", b"x", t).await;
        let r = rewrite_raw(&store, "acme", &DropX).await.unwrap();
        assert_eq!(
            (r.scanned, r.rewritten, r.deleted, r.unchanged, r.failed),
            (4, 1, 1, 1, 1)
        );
        assert_eq!(r.failures[0].name, "raw/jira/2026-01-02/d");
        assert_eq!(r.failures[0].class, "decrypt_failed");
        assert!(!r.retryable());
        let (data, meta) = store.get("raw/slack/2026-01-02/a").await.unwrap();
        assert_eq!(&data[..], b"y");
        assert_eq!(meta.custom_time, Some(t), "retention is not extended");
        assert!(matches!(
            store.head("raw/jira/2026-01-02/c").await,
            Err(Error::NotFound { .. })
        ));
        // Outside raw/: untouched.
        assert_eq!(&store.get("checkpoints/slack").await.unwrap().0[..], b"x");
        let again = rewrite_raw(&store, "acme", &DropX).await.unwrap();
        assert_eq!((again.rewritten, again.deleted, again.unchanged), (0, 0, 2));
    }

    /// Writes a new generation of the object the first time it is asked, as a concurrent
    /// writer would, then behaves like [`DropX`].
    struct Racing {
        store: Arc<LocalStore>,
        calls: AtomicU32,
    }

    #[async_trait]
    impl RawRewriter for Racing {
        async fn rewrite(
            &self,
            meta: &ObjectMeta,
            data: Bytes,
        ) -> std::result::Result<Rewrite, RewriteFailure> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                let opts = PutOptions {
                    custom_time: meta.custom_time,
                    ..PutOptions::default()
                };
                self.store
                    .put(&meta.name, Bytes::from_static(b"x\nw"), opts)
                    .await
                    .unwrap();
            }
            DropX.rewrite(meta, data).await
        }
    }

    #[tokio::test]
    async fn a_concurrent_write_is_read_again_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()));
        store.create_bucket().await.unwrap();
        let t: DateTime<Utc> = "2026-01-02T03:04:05Z".parse().unwrap();
        put(&store, "raw/slack/2026-01-02/a", b"x\ny", t).await;
        let racing = Racing {
            store: store.clone(),
            calls: AtomicU32::new(0),
        };
        let r = rewrite_raw(store.as_ref(), "acme", &racing).await.unwrap();
        assert_eq!((r.rewritten, r.conflicts), (1, 1));
        // The concurrent writer's content, cleaned; not the stale first read.
        let (data, meta) = store.get("raw/slack/2026-01-02/a").await.unwrap();
        assert_eq!(&data[..], b"w");
        assert_eq!(meta.custom_time, Some(t));
    }
}
