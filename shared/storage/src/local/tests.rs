//! Unit tests of the local store.

use std::fs;
use std::io::ErrorKind;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::ops::fold_delimiter;
use super::LocalStore;
use crate::error::{Error, Result};
use crate::store::{Listing, ObjectMeta, ObjectStore, PutOptions};

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
        let names_of = |l: &Listing| l.objects.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
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
