//! `file://<dir>`: a local directory that behaves like a GCS bucket.
//!
//! Development, demo and test backend; it enforces the same rules as GCS so code tested
//! against it behaves the same in production.
//!
//! # On-disk layout (version 1)
//!
//! ```text
//! <dir>/                               the "bucket": must exist (BucketNotFound otherwise)
//! <dir>/.bacca-lock                    flock(2) lock file: exclusive for writes, shared for reads
//! <dir>/.bacca-tmp/<uuid>              temporary files, renamed into place
//! <dir>/<name>/.bacca-meta             sidecar JSON: generation, size, custom_time, updated,
//!                                      content_type, metadata; its rename is the commit point
//! <dir>/<name>/.bacca-data-<generation> the object's bytes for that generation
//! ```
//!
//! Every object is a directory named after the object, so `a` and `a/b` can coexist exactly as
//! in GCS, and a name can never collide with the store's own files (segments starting with
//! `.bacca` are refused by [`crate::validate_name`]). A write lands the data file, then
//! atomically renames the sidecar over the old one, then removes the previous data file: a
//! crash at any point leaves either the old or the new object, never a mix. Preconditions are
//! checked and applied under an exclusive lock on `.bacca-lock` (held across processes and
//! threads), so two concurrent creates with `if_generation_match = 0` cannot both win.
//! Generations are microseconds since the epoch, strictly increasing per name.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Result};
use crate::store::{validate_name, ByteStream, Listing, ObjectMeta, ObjectStore, PutOptions};

mod ops;
#[cfg(test)]
mod tests;

use ops::{
    bucket_missing, delete_blocking, get_blocking, list_blocking, open_blocking, put_blocking,
    Content,
};

const META: &str = ".bacca-meta";
const DATA_PREFIX: &str = ".bacca-data-";
const LOCK: &str = ".bacca-lock";
const TMP: &str = ".bacca-tmp";

/// A bucket backed by a local directory. See the module docs for the layout.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root`. The directory is not created: use
    /// [`ObjectStore::create_bucket`] for that; operations on a missing directory fail with
    /// [`Error::BucketNotFound`].
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Path) -> Result<T> + Send + 'static,
    {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || f(&root))
            .await
            .map_err(|_| Error::Io {
                op: "join",
                kind: ErrorKind::Other,
            })?
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn uri(&self) -> String {
        format!("file://{}", self.root.display())
    }

    async fn put(&self, name: &str, data: Bytes, opts: PutOptions) -> Result<ObjectMeta> {
        validate_name(name)?;
        let name = name.to_owned();
        self.blocking(move |root| put_blocking(root, &name, Content::Bytes(&data), opts))
            .await
    }

    /// Streams into a synced temporary file (bounded memory), then commits it under the
    /// lock like [`ObjectStore::put`].
    async fn put_stream(
        &self,
        name: &str,
        mut data: ByteStream,
        opts: PutOptions,
    ) -> Result<ObjectMeta> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        validate_name(name)?;
        if !self.root.is_dir() {
            return Err(bucket_missing(&self.root));
        }
        let tmp_dir = self.root.join(TMP);
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| Error::io("create tmp dir", &e))?;
        let tmp = tmp_dir.join(uuid::Uuid::new_v4().simple().to_string());
        let written: Result<u64> = async {
            let mut f = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| Error::io("write", &e))?;
            let mut size = 0u64;
            while let Some(chunk) = data.next().await {
                let chunk = chunk?;
                f.write_all(&chunk)
                    .await
                    .map_err(|e| Error::io("write", &e))?;
                size += chunk.len() as u64;
            }
            f.sync_all().await.map_err(|e| Error::io("write", &e))?;
            Ok(size)
        }
        .await;
        let size = match written {
            Ok(s) => s,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let name = name.to_owned();
        self.blocking(move |root| {
            put_blocking(root, &name, Content::TempFile { path: tmp, size }, opts)
        })
        .await
    }

    async fn get(&self, name: &str) -> Result<(Bytes, ObjectMeta)> {
        validate_name(name)?;
        let name = name.to_owned();
        self.blocking(move |root| get_blocking(root, &name, true))
            .await
    }

    async fn get_stream(&self, name: &str) -> Result<(ByteStream, ObjectMeta)> {
        use futures::StreamExt;
        validate_name(name)?;
        let name = name.to_owned();
        let (file, meta) = self
            .blocking(move |root| open_blocking(root, &name))
            .await?;
        let reader =
            tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 64 * 1024);
        let s = reader.map(|r| r.map_err(|e| Error::io("read", &e)));
        Ok((Box::pin(s), meta))
    }

    async fn head(&self, name: &str) -> Result<ObjectMeta> {
        validate_name(name)?;
        let name = name.to_owned();
        self.blocking(move |root| get_blocking(root, &name, false).map(|(_, m)| m))
            .await
    }

    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> Result<Listing> {
        if prefix.contains('\0') || prefix.starts_with('/') {
            return Err(Error::InvalidName {
                reason: "invalid prefix",
            });
        }
        let prefix = prefix.to_owned();
        let delimiter = delimiter.map(str::to_owned);
        self.blocking(move |root| list_blocking(root, &prefix, delimiter.as_deref()))
            .await
    }

    async fn delete(&self, name: &str, if_generation_match: Option<i64>) -> Result<()> {
        validate_name(name)?;
        let name = name.to_owned();
        self.blocking(move |root| delete_blocking(root, &name, if_generation_match))
            .await
    }

    async fn create_bucket(&self) -> Result<()> {
        self.blocking(|root| fs::create_dir_all(root).map_err(|e| Error::io("create bucket", &e)))
            .await
    }
}
