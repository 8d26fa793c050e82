//! Blocking file-system operations of the local store, each run under `.bacca-lock`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DATA_PREFIX, LOCK, META, TMP};
use crate::error::{Error, Result};
use crate::store::{validate_name, Listing, ObjectMeta, PutOptions};

/// The sidecar file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Sidecar {
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

pub(super) fn bucket_missing(root: &Path) -> Error {
    Error::BucketNotFound {
        bucket: root.display().to_string(),
    }
}

/// Opens and locks `.bacca-lock`; the lock is released when the file is dropped.
pub(super) fn lock(root: &Path, exclusive: bool) -> Result<File> {
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

pub(super) fn read_sidecar(root: &Path, name: &str) -> Result<Option<Sidecar>> {
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

pub(super) fn data_path(root: &Path, name: &str, generation: i64) -> PathBuf {
    root.join(name).join(format!("{DATA_PREFIX}{generation}"))
}

/// Writes `bytes` to a fresh temporary file, syncs it and renames it to `dest`.
pub(super) fn write_atomic(root: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
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

pub(super) fn sync_dir(dir: &Path) {
    // Best effort: durability of the rename; not all platforms allow opening directories.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

pub(super) fn check_precondition(
    name: &str,
    current: Option<i64>,
    want: Option<i64>,
) -> Result<()> {
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
pub(super) enum Content<'a> {
    Bytes(&'a [u8]),
    TempFile { path: PathBuf, size: u64 },
}

pub(super) fn put_blocking(
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

pub(super) fn put_locked(
    root: &Path,
    name: &str,
    data: &Content<'_>,
    opts: PutOptions,
) -> Result<ObjectMeta> {
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
pub(super) fn remove_stale_data(obj_dir: &Path, keep: Option<i64>) {
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

pub(super) fn get_blocking(
    root: &Path,
    name: &str,
    with_data: bool,
) -> Result<(Bytes, ObjectMeta)> {
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
pub(super) fn open_blocking(root: &Path, name: &str) -> Result<(File, ObjectMeta)> {
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

pub(super) fn delete_blocking(
    root: &Path,
    name: &str,
    if_generation_match: Option<i64>,
) -> Result<()> {
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
pub(super) fn holds_object(dir: &Path) -> bool {
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
pub(super) fn child_segments(dir: &Path) -> Result<Vec<String>> {
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
pub(super) fn collect_all(root: &Path, rel: &str, out: &mut Vec<ObjectMeta>) -> Result<()> {
    if let Some(s) = read_sidecar(root, rel)? {
        out.push(s.meta(rel));
    }
    for seg in child_segments(&root.join(rel))? {
        collect_all(root, &format!("{rel}/{seg}"), out)?;
    }
    Ok(())
}

pub(super) fn list_blocking(root: &Path, prefix: &str, delimiter: Option<&str>) -> Result<Listing> {
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
