//! Tenant object storage (GCS, local directory), raw layout and retention rules.
//!
//! - [`ObjectStore`]: put (Custom-Time, generation preconditions), get, head, list (prefix,
//!   delimiter, pagination inside), delete (generation precondition). Backends, chosen by URI
//!   with [`open`]: `gs://<bucket>` ([`GcsStore`], a thin JSON-API client; honours
//!   `STORAGE_EMULATOR_HOST`) and `file://<dir>` ([`LocalStore`]). Both pass one conformance
//!   suite (`tests/conformance.rs`).
//! - [`raw`]: one bucket per tenant, `raw/<source>/<occurrence-date>/<batch-id>`,
//!   [`RawWriter`] writes with Custom-Time and `if_generation_match = 0`, refuses data older
//!   than the retention window.
//! - [`retention`]: the hourly [`sweep`].
//! - [`rewrite`]: [`rewrite_raw`], the in-place rewrite of raw objects for data-subject
//!   erasure (same Custom-Time, generation preconditions).
//!
//! Tests: `cargo test -p bacca-storage` runs everything against `file://`; with
//! `STORAGE_EMULATOR_HOST=127.0.0.1:<port>` pointing at a running fake-gcs-server
//! (`fake-gcs-server -scheme http -host 127.0.0.1 -port <port> -backend memory`), the same
//! conformance, raw-writer and sweep tests also run against `gs://`, each in its own bucket.
//! fake-gcs-server ignores generation preconditions on deletes and resumable uploads (GCS and
//! the local store honour them); the suite accounts for that where noted.
//!
//! ```no_run
//! # async fn demo() -> bacca_storage::Result<()> {
//! use bacca_storage::{open, PutOptions};
//! let store = open("file:///tmp/bacca-demo")?;
//! store.create_bucket().await?;
//! let meta = store
//!     .put("raw/slack/2026-01-02/x", bytes::Bytes::from_static(b"ciphertext"), PutOptions::create_only())
//!     .await?;
//! let (data, _) = store.get(&meta.name).await?;
//! assert_eq!(&data[..], b"ciphertext");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod config;
mod error;
pub mod gcs;
pub mod local;
pub mod raw;
pub mod retention;
pub mod rewrite;
mod store;

use std::sync::Arc;

pub use config::{GcsConfig, RetentionPolicy};
pub use error::{Error, Result};
pub use gcs::GcsStore;
pub use local::LocalStore;
pub use raw::{BatchId, RawWrite, RawWriter, TenantStores};
pub use retention::{sweep, SweepFailure, SweepPhase, SweepProgress, SweepReport};
pub use rewrite::{rewrite_raw, RawRewriter, Rewrite, RewriteFailure, RewriteReport};
pub use store::{
    validate_name, ByteStream, Listing, ObjectMeta, ObjectStore, PutOptions, SharedStore,
    MAX_NAME_BYTES,
};

/// Opens the store named by `uri` with the default GCS settings.
///
/// `file://<dir>` (absolute or relative path) or `gs://<bucket>`.
///
/// # Errors
/// [`Error::InvalidUri`] for another scheme or a bad bucket name; [`Error::Auth`] when ADC
/// cannot be set up for `gs://` outside an emulator.
pub fn open(uri: &str) -> Result<SharedStore> {
    open_with(uri, GcsConfig::new())
}

/// Opens the store named by `uri` with explicit GCS settings.
///
/// # Errors
/// As [`open`].
pub fn open_with(uri: &str, gcs: GcsConfig) -> Result<SharedStore> {
    if let Some(path) = uri.strip_prefix("file://") {
        if path.is_empty() || path.contains('\0') {
            return Err(Error::InvalidUri {
                reason: "file:// needs a directory".into(),
            });
        }
        return Ok(Arc::new(LocalStore::new(path)));
    }
    if let Some(bucket) = uri.strip_prefix("gs://") {
        let bucket = bucket.trim_end_matches('/');
        if bucket.contains('/') {
            return Err(Error::InvalidUri {
                reason: "gs:// takes a bucket, not a path".into(),
            });
        }
        return Ok(Arc::new(GcsStore::new(bucket, gcs)?));
    }
    Err(Error::InvalidUri {
        reason: "expected file://<dir> or gs://<bucket>".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() -> Result<()> {
        assert!(open("file:///tmp/x")?.uri().starts_with("file:///tmp/x"));
        assert!(matches!(open("s3://x"), Err(Error::InvalidUri { .. })));
        assert!(matches!(open("file://"), Err(Error::InvalidUri { .. })));
        assert!(matches!(open("gs://a/b"), Err(Error::InvalidUri { .. })));
        assert!(matches!(open("gs://A"), Err(Error::InvalidUri { .. })));
        let cfg = GcsConfig {
            endpoint: Some("127.0.0.1:1".into()),
            ..GcsConfig::new()
        };
        assert_eq!(open_with("gs://bucket-a", cfg)?.uri(), "gs://bucket-a");
        Ok(())
    }
}
