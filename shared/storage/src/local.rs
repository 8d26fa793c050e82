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

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{validate_name, ByteStream, Listing, ObjectMeta, ObjectStore, PutOptions};

const META: &str = ".bacca-meta";
const DATA_PREFIX: &str = ".bacca-data-";
const LOCK: &str = ".bacca-lock";
const TMP: &str = ".bacca-tmp";

/// A bucket backed by a local directory. See the module docs for the layout.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

/// The sidecar file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    generation: i64,
    size: u64,
    custom_time: Option<DateTime<Utc>>,
    updated: DateTime<Utc>,
    content_type: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

impl Sidecar {
    fn meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: name.to_owned(),
            generation: self.generation,
            size: self.size,
            custom_time: self.custom_time,
            updated: self.updated,
        }
    }
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

fn bucket_missing(root: &Path) -> Error {
    Error::BucketNotFound {
        bucket: root.display().to_string(),
    }
}

/// Opens and locks `.bacca-lock`; the lock is released when the file is dropped.
fn lock(root: &Path, exclusive: bool) -> Result<File> {
    if !root.is_dir() {
        return Err(bucket_missing(root));
    }
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(root.join(LOCK))
        .map_err(|e| Error::io("lock open", &e))?;
    let r = if exclusive { f.lock() } else { f.lock_shared() };
    r.map_err(|e| Error::io("lock", &e))?;
    Ok(f)
}

fn read_sidecar(root: &Path, name: &str) -> Result<Option<Sidecar>> {
    match fs::read(root.join(name).join(META)) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|_| Error::CorruptMetadata {
                name: name.to_owned(),
            }),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
        Err(e) => Err(Error::io("read metadata", &e)),
    }
}

fn data_path(root: &Path, name: &str, generation: i64) -> PathBuf {
    root.join(name).join(format!("{DATA_PREFIX}{generation}"))
}

/// Writes `bytes` to a fresh temporary file, syncs it and renames it to `dest`.
fn write_atomic(root: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
    let tmp_dir = root.join(TMP);
    fs::create_dir_all(&tmp_dir).map_err(|e| Error::io("create tmp dir", &e))?;
    let tmp = tmp_dir.join(uuid::Uuid::new_v4().simple().to_string());
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io("write", &e));
    }
    Ok(())
}

fn sync_dir(dir: &Path) {
    // Best effort: durability of the rename; not all platforms allow opening directories.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn check_precondition(name: &str, current: Option<i64>, want: Option<i64>) -> Result<()> {
    match (want, current) {
        (None, _) => Ok(()),
        (Some(0), None) => Ok(()),
        (Some(w), Some(c)) if w == c => Ok(()),
        _ => Err(Error::PreconditionFailed {
            name: name.to_owned(),
        }),
    }
}

/// The bytes of a write: in memory, or already streamed into a synced temporary file.
enum Content<'a> {
    Bytes(&'a [u8]),
    TempFile { path: PathBuf, size: u64 },
}

fn put_blocking(
    root: &Path,
    name: &str,
    data: Content<'_>,
    opts: PutOptions,
) -> Result<ObjectMeta> {
    let res = put_locked(root, name, &data, opts);
    if let (Err(_), Content::TempFile { path, .. }) = (&res, &data) {
        let _ = fs::remove_file(path);
    }
    res
}

fn put_locked(root: &Path, name: &str, data: &Content<'_>, opts: PutOptions) -> Result<ObjectMeta> {
    let _lock = lock(root, true)?;
    let existing = read_sidecar(root, name)?;
    check_precondition(
        name,
        existing.as_ref().map(|s| s.generation),
        opts.if_generation_match,
    )?;
    let now = Utc::now();
    let mut generation = now.timestamp_micros();
    if let Some(prev) = &existing {
        generation = generation.max(prev.generation.saturating_add(1));
    }
    let obj_dir = root.join(name);
    fs::create_dir_all(&obj_dir).map_err(|e| Error::io("create object dir", &e))?;
    let dest = data_path(root, name, generation);
    let size = match data {
        Content::Bytes(b) => {
            write_atomic(root, &dest, b)?;
            b.len() as u64
        }
        Content::TempFile { path, size } => {
            fs::rename(path, &dest).map_err(|e| Error::io("write", &e))?;
            *size
        }
    };
    let sidecar = Sidecar {
        generation,
        size,
        custom_time: opts.custom_time,
        updated: now,
        content_type: opts
            .content_type
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
        metadata: opts.metadata,
    };
    let json = serde_json::to_vec(&sidecar).map_err(|_| Error::CorruptMetadata {
        name: name.to_owned(),
    })?;
    write_atomic(root, &obj_dir.join(META), &json)?;
    sync_dir(&obj_dir);
    remove_stale_data(&obj_dir, Some(generation));
    Ok(sidecar.meta(name))
}

/// Removes data files other than `keep` (previous generations, leftovers of a crash).
fn remove_stale_data(obj_dir: &Path, keep: Option<i64>) {
    let keep = keep.map(|g| format!("{DATA_PREFIX}{g}"));
    if let Ok(rd) = fs::read_dir(obj_dir) {
        for e in rd.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with(DATA_PREFIX) && keep.as_deref() != Some(&*n) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

fn get_blocking(root: &Path, name: &str, with_data: bool) -> Result<(Bytes, ObjectMeta)> {
    let _lock = lock(root, false)?;
    let side = read_sidecar(root, name)?.ok_or_else(|| Error::NotFound {
        name: name.to_owned(),
    })?;
    let data = if with_data {
        let b = fs::read(data_path(root, name, side.generation)).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                Error::CorruptMetadata {
                    name: name.to_owned(),
                }
            } else {
                Error::io("read", &e)
            }
        })?;
        Bytes::from(b)
    } else {
        Bytes::new()
    };
    Ok((data, side.meta(name)))
}

/// Opens the current data file under the shared lock; the open handle stays valid after the
/// lock is released even if a later write replaces or deletes the object (POSIX semantics).
fn open_blocking(root: &Path, name: &str) -> Result<(File, ObjectMeta)> {
    let _lock = lock(root, false)?;
    let side = read_sidecar(root, name)?.ok_or_else(|| Error::NotFound {
        name: name.to_owned(),
    })?;
    let f = File::open(data_path(root, name, side.generation)).map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            Error::CorruptMetadata {
                name: name.to_owned(),
            }
        } else {
            Error::io("open", &e)
        }
    })?;
    Ok((f, side.meta(name)))
}

fn delete_blocking(root: &Path, name: &str, if_generation_match: Option<i64>) -> Result<()> {
    let _lock = lock(root, true)?;
    let side = read_sidecar(root, name)?.ok_or_else(|| Error::NotFound {
        name: name.to_owned(),
    })?;
    if let Some(want) = if_generation_match {
        if want != side.generation {
            return Err(Error::PreconditionFailed {
                name: name.to_owned(),
            });
        }
    }
    let obj_dir = root.join(name);
    fs::remove_file(obj_dir.join(META)).map_err(|e| Error::io("delete", &e))?;
    sync_dir(&obj_dir);
    remove_stale_data(&obj_dir, None);
    // Prune now-empty directories up to (not including) the root, so listings with a
    // delimiter never report a prefix that holds no object.
    let mut dir = Some(obj_dir.as_path());
    while let Some(d) = dir {
        if d == root || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// True when `dir` (an object-name directory) holds an object at any depth.
fn holds_object(dir: &Path) -> bool {
    if dir.join(META).is_file() {
        return true;
    }
    fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            !e.file_name().to_string_lossy().starts_with(".bacca")
                && e.file_type().is_ok_and(|t| t.is_dir())
                && holds_object(&e.path())
        })
    })
}

/// Child object-name segments of `dir` (directories not reserved), sorted.
fn child_segments(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(Error::io("list", &e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io("list", &e))?;
        let n = e.file_name().to_string_lossy().into_owned();
        if !n.starts_with(".bacca") && e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(n);
        }
    }
    out.sort();
    Ok(out)
}

/// Every object at or under the object-name directory `rel` (recursively).
fn collect_all(root: &Path, rel: &str, out: &mut Vec<ObjectMeta>) -> Result<()> {
    if let Some(s) = read_sidecar(root, rel)? {
        out.push(s.meta(rel));
    }
    for seg in child_segments(&root.join(rel))? {
        collect_all(root, &format!("{rel}/{seg}"), out)?;
    }
    Ok(())
}

fn list_blocking(root: &Path, prefix: &str, delimiter: Option<&str>) -> Result<Listing> {
    let _lock = lock(root, false)?;
    // The directory that holds every candidate, and the start of the next segment.
    let (base, leaf) = match prefix.rfind('/') {
        Some(i) => (&prefix[..i], &prefix[i + 1..]),
        None => ("", prefix),
    };
    if !base.is_empty() && validate_name(base).is_err() {
        return Ok(Listing::default());
    }
    let base_dir = if base.is_empty() {
        root.to_path_buf()
    } else {
        root.join(base)
    };
    let join = |seg: &str| {
        if base.is_empty() {
            seg.to_owned()
        } else {
            format!("{base}/{seg}")
        }
    };
    let mut listing = Listing::default();
    let segments: Vec<String> = child_segments(&base_dir)?
        .into_iter()
        .filter(|s| s.starts_with(leaf))
        .collect();
    if delimiter == Some("/") {
        // Fast path: one directory level, as GCS does it.
        for seg in segments {
            let name = join(&seg);
            if let Some(s) = read_sidecar(root, &name)? {
                listing.objects.push(s.meta(&name));
            }
            let dir = root.join(&name);
            if child_segments(&dir)?
                .iter()
                .any(|c| holds_object(&dir.join(c)))
            {
                listing.prefixes.push(format!("{name}/"));
            }
        }
        return Ok(listing);
    }
    let mut all = Vec::new();
    for seg in segments {
        collect_all(root, &join(&seg), &mut all)?;
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(fold_delimiter(prefix, delimiter, all))
}

/// Applies GCS delimiter semantics to a sorted list of objects under `prefix`.
pub(crate) fn fold_delimiter(
    prefix: &str,
    delimiter: Option<&str>,
    all: Vec<ObjectMeta>,
) -> Listing {
    let mut listing = Listing::default();
    for m in all {
        if !m.name.starts_with(prefix) {
            continue;
        }
        let rest = &m.name[prefix.len()..];
        match delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            rest.find(d)
                .map(|i| format!("{prefix}{}", &rest[..i + d.len()]))
        }) {
            Some(p) => {
                if listing.prefixes.last() != Some(&p) && !listing.prefixes.contains(&p) {
                    listing.prefixes.push(p);
                }
            }
            None => listing.objects.push(m),
        }
    }
    listing.prefixes.sort();
    listing
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: name.into(),
            generation: 1,
            size: 0,
            custom_time: None,
            updated: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn folding() {
        let all = ["a/1", "a/b/2", "a/b/3", "a/c/4", "b/5"].map(meta).to_vec();
        let l = fold_delimiter("a/", Some("/"), all.clone());
        assert_eq!(l.prefixes, vec!["a/b/", "a/c/"]);
        assert_eq!(l.objects.len(), 1);
        let l = fold_delimiter("", None, all);
        assert_eq!(l.objects.len(), 5);
    }

    #[tokio::test]
    async fn concurrent_creates_one_winner() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tmp", &e))?;
        let store = std::sync::Arc::new(LocalStore::new(dir.path()));
        let mut tasks = Vec::new();
        for i in 0..16u8 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.put("x/y", Bytes::from(vec![i]), PutOptions::create_only())
                    .await
            }));
        }
        let mut wins = Vec::new();
        for t in tasks {
            match t.await.map_err(|_| Error::Io {
                op: "join",
                kind: ErrorKind::Other,
            })? {
                Ok(m) => wins.push(m),
                Err(Error::PreconditionFailed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        assert_eq!(wins.len(), 1);
        let (data, m) = store.get("x/y").await?;
        assert_eq!(m.generation, wins[0].generation);
        assert_eq!(data.len(), 1);
        Ok(())
    }

    /// The one-level fast path for `/` agrees with folding the full recursive listing.
    #[tokio::test]
    async fn delimiter_fast_path_matches_generic_folding() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tmp", &e))?;
        let store = LocalStore::new(dir.path());
        // Deterministic pseudo-random names over a small alphabet, so prefixes collide.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let segs = ["a", "ab", "b", "raw", "2026-01-01", "x.y"];
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..60 {
            let depth = 1 + (next() % 4) as usize;
            let n: Vec<&str> = (0..depth)
                .map(|_| segs[(next() % segs.len() as u64) as usize])
                .collect();
            names.insert(n.join("/"));
        }
        for n in &names {
            store.put(n, Bytes::new(), PutOptions::default()).await?;
        }
        let mut prefixes = vec![String::new()];
        for n in &names {
            for (i, _) in n.char_indices() {
                prefixes.push(n[..i].to_owned());
            }
        }
        prefixes.sort();
        prefixes.dedup();
        for p in &prefixes {
            let fast = store.list(p, Some("/")).await?;
            let full = store.list(p, None).await?;
            assert_eq!(
                full.objects
                    .iter()
                    .filter(|o| !o.name.starts_with(p.as_str()))
                    .count(),
                0
            );
            let expect = names.iter().filter(|n| n.starts_with(p.as_str())).count();
            assert_eq!(full.objects.len(), expect, "prefix {p:?}");
            let generic = fold_delimiter(p, Some("/"), full.objects);
            let names_of =
                |l: &Listing| l.objects.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
            assert_eq!(
                names_of(&fast),
                names_of(&generic),
                "objects for prefix {p:?}"
            );
            assert_eq!(fast.prefixes, generic.prefixes, "prefixes for prefix {p:?}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn object_and_children_coexist_and_delete_prunes() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tmp", &e))?;
        let store = LocalStore::new(dir.path());
        store
            .put("a", Bytes::from_static(b"1"), PutOptions::default())
            .await?;
        store
            .put("a/b", Bytes::from_static(b"2"), PutOptions::default())
            .await?;
        let l = store.list("", Some("/")).await?;
        assert_eq!(l.objects.len(), 1);
        assert_eq!(l.prefixes, vec!["a/"]);
        store.delete("a/b", None).await?;
        let l = store.list("", Some("/")).await?;
        assert!(l.prefixes.is_empty());
        assert_eq!(store.get("a").await?.0, Bytes::from_static(b"1"));
        // Overwrite keeps exactly one data file.
        let m = store
            .put("a", Bytes::from_static(b"3"), PutOptions::default())
            .await?;
        let files = fs::read_dir(dir.path().join("a"))
            .map_err(|e| Error::io("t", &e))?
            .count();
        assert_eq!(files, 2, "sidecar + one data file");
        assert!(m.generation > 0);
        Ok(())
    }
}
