//! The conformance suite every `ObjectStore` backend must pass, and helpers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bacca_storage::{Error, ObjectStore, PutOptions};
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// `STORAGE_EMULATOR_HOST`, the fake-gcs-server the `*_gcs` tests run against, through
/// [`bacca_testenv::service_env`]: a missing value fails the test in CI and skips it, saying
/// so, elsewhere.
pub fn emulator_host() -> Option<String> {
    bacca_testenv::service_env(
        bacca_storage::gcs::EMULATOR_ENV,
        "scripts/test.sh starts fake-gcs-server",
    )
}

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Runs every conformance check against `store` (an existing, empty bucket) and
/// `missing` (a store whose bucket does not exist).
pub async fn conformance(store: Arc<dyn ObjectStore>, missing: Arc<dyn ObjectStore>) {
    round_trip_with_custom_time(&*store).await;
    streaming_put(&*store).await;
    precondition_conflict(&*store).await;
    list_prefix_and_delimiter(&*store).await;
    delete_and_missing(&*store).await;
    missing_bucket(&*missing).await;
    invalid_names(&*store).await;
}

async fn round_trip_with_custom_time(s: &dyn ObjectStore) {
    let ct = t("2026-01-02T03:04:05.250Z");
    let mut opts = PutOptions::create_only().with_custom_time(ct);
    opts.metadata.insert("bacca-tenant".into(), "acme".into());
    let body = Bytes::from((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>());
    let m = s.put("rt/a b/ü+%.bin", body.clone(), opts).await.unwrap();
    assert_eq!(m.name, "rt/a b/ü+%.bin");
    assert_eq!(m.size, 70_000);
    assert_eq!(m.custom_time, Some(ct));
    assert!(m.generation > 0);
    let (data, got) = s.get("rt/a b/ü+%.bin").await.unwrap();
    assert_eq!(data, body);
    assert_eq!(got, m);
    assert_eq!(s.head("rt/a b/ü+%.bin").await.unwrap(), m);
    let (stream, sm) = s.get_stream("rt/a b/ü+%.bin").await.unwrap();
    assert_eq!(sm, m);
    let chunks: Vec<Bytes> = futures::TryStreamExt::try_collect(stream).await.unwrap();
    assert_eq!(chunks.concat(), body.to_vec());
    assert!(matches!(
        s.get_stream("rt/none").await,
        Err(Error::NotFound { .. })
    ));
    // Empty objects and no Custom-Time.
    let e = s
        .put("rt/empty", Bytes::new(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!((e.size, e.custom_time), (0, None));
    assert!(s.get("rt/empty").await.unwrap().0.is_empty());
    // Unconditional overwrite moves the generation.
    let e2 = s
        .put("rt/empty", Bytes::from_static(b"x"), PutOptions::default())
        .await
        .unwrap();
    assert_ne!(e2.generation, e.generation);
    // Overwrite conditioned on the current generation succeeds, on a stale one fails.
    let opts = PutOptions {
        if_generation_match: Some(e2.generation),
        ..PutOptions::default()
    };
    let e3 = s
        .put("rt/empty", Bytes::from_static(b"y"), opts)
        .await
        .unwrap();
    let stale = PutOptions {
        if_generation_match: Some(e2.generation),
        ..PutOptions::default()
    };
    let err = s
        .put("rt/empty", Bytes::from_static(b"z"), stale)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed { .. }), "{err:?}");
    assert_eq!(s.get("rt/empty").await.unwrap().0, Bytes::from_static(b"y"));
    assert_eq!(s.head("rt/empty").await.unwrap().generation, e3.generation);
}

/// A multi-chunk streamed write (larger than one 8 MiB upload chunk, not a multiple of it).
async fn streaming_put(s: &dyn ObjectStore) {
    let part = Bytes::from((0..=250u8).cycle().take(1_000_003).collect::<Vec<u8>>());
    let chunks: Vec<Result<Bytes, Error>> = (0..9).map(|_| Ok(part.clone())).collect();
    let ct = t("2026-02-03T04:05:06Z");
    let m = s
        .put_stream(
            "st/big",
            Box::pin(futures::stream::iter(chunks)),
            PutOptions::create_only().with_custom_time(ct),
        )
        .await
        .unwrap();
    assert_eq!(m.size, 9_000_027);
    assert_eq!(m.custom_time, Some(ct));
    let (data, got) = s.get("st/big").await.unwrap();
    assert_eq!(got, m);
    assert_eq!(data.len(), 9_000_027);
    assert!(data.chunks(1_000_003).all(|c| c == &part[..]));
    // Exact chunk-size and empty streams.
    let exact = Bytes::from(vec![1u8; 8 * 1024 * 1024]);
    let m = s
        .put_stream(
            "st/exact",
            Box::pin(futures::stream::iter([Ok(exact.clone())])),
            PutOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(m.size, exact.len() as u64);
    assert_eq!(s.get("st/exact").await.unwrap().0, exact);
    let m = s
        .put_stream(
            "st/empty",
            Box::pin(futures::stream::iter(Vec::<Result<Bytes, Error>>::new())),
            PutOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(m.size, 0);
    // A stream that fails leaves nothing behind.
    let failing: Vec<Result<Bytes, Error>> = vec![
        Ok(part.clone()),
        Err(Error::Unavailable {
            what: "test".into(),
        }),
    ];
    assert!(s
        .put_stream(
            "st/failed",
            Box::pin(futures::stream::iter(failing)),
            PutOptions::create_only()
        )
        .await
        .is_err());
    assert!(matches!(
        s.head("st/failed").await,
        Err(Error::NotFound { .. })
    ));
    for n in ["st/big", "st/exact", "st/empty"] {
        s.delete(n, None).await.unwrap();
    }
}

async fn precondition_conflict(s: &dyn ObjectStore) {
    let ct = t("2026-03-01T00:00:00Z");
    let first = s
        .put(
            "pc/batch",
            Bytes::from_static(b"first"),
            PutOptions::create_only().with_custom_time(ct),
        )
        .await
        .unwrap();
    let err = s
        .put(
            "pc/batch",
            Bytes::from_static(b"second"),
            PutOptions::create_only(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PreconditionFailed { ref name } if name == "pc/batch"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let (data, meta) = s.get("pc/batch").await.unwrap();
    assert_eq!(&data[..], b"first", "the first content is untouched");
    assert_eq!(meta, first);
    // Concurrent creates: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        tasks.push(s.put("pc/race", Bytes::from(vec![i]), PutOptions::create_only()));
    }
    let results = futures::future::join_all(tasks).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one concurrent create wins");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(matches!(r, Err(Error::PreconditionFailed { .. })), "{r:?}");
    }
}

async fn list_prefix_and_delimiter(s: &dyn ObjectStore) {
    let names = [
        "ls/raw/slack/2026-01-01/b1",
        "ls/raw/slack/2026-01-01/b2",
        "ls/raw/slack/2026-01-02/b3",
        "ls/raw/datadog/2026-01-01/b4",
        "ls/raw/top",
        "ls/rawish",
    ];
    for n in names {
        s.put(n, Bytes::from_static(b"."), PutOptions::default())
            .await
            .unwrap();
    }
    let l = s.list("ls/raw/", Some("/")).await.unwrap();
    assert_eq!(l.prefixes, vec!["ls/raw/datadog/", "ls/raw/slack/"]);
    assert_eq!(
        l.objects
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["ls/raw/top"]
    );
    let l = s.list("ls/raw/slack/", Some("/")).await.unwrap();
    assert_eq!(
        l.prefixes,
        vec!["ls/raw/slack/2026-01-01/", "ls/raw/slack/2026-01-02/"]
    );
    assert!(l.objects.is_empty());
    let mut all: Vec<_> = s
        .list("ls/raw/slack/2026-01-01/", None)
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.name)
        .collect();
    all.sort();
    assert_eq!(
        all,
        ["ls/raw/slack/2026-01-01/b1", "ls/raw/slack/2026-01-01/b2"]
    );
    // A prefix that is not a directory boundary.
    let l = s.list("ls/raw", None).await.unwrap();
    assert_eq!(l.objects.len(), 6);
    let l = s.list("ls/raw", Some("/")).await.unwrap();
    assert_eq!(l.prefixes, vec!["ls/raw/"]);
    assert_eq!(
        l.objects
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["ls/rawish"]
    );
    assert!(s
        .list("ls/none/", Some("/"))
        .await
        .unwrap()
        .objects
        .is_empty());
    // Pagination is handled inside: more objects than one page (the GCS run uses 7 per page).
    for i in 0..25 {
        s.put(&format!("pg/{i:05}"), Bytes::new(), PutOptions::default())
            .await
            .unwrap();
    }
    let l = s.list("pg/", None).await.unwrap();
    assert_eq!(l.objects.len(), 25);
    let names: Vec<_> = l.objects.iter().map(|o| o.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names.len(), sorted.len(), "no duplicates across pages");
}

async fn delete_and_missing(s: &dyn ObjectStore) {
    let m = s
        .put("del/x", Bytes::from_static(b"x"), PutOptions::default())
        .await
        .unwrap();
    let err = s.delete("del/x", Some(m.generation + 1)).await;
    // fake-gcs-server ignores delete preconditions; GCS and the local store honour them.
    if let Err(e) = err {
        assert!(matches!(e, Error::PreconditionFailed { .. }), "{e:?}");
        s.delete("del/x", Some(m.generation)).await.unwrap();
    }
    assert!(matches!(s.get("del/x").await, Err(Error::NotFound { .. })));
    assert!(matches!(s.head("del/x").await, Err(Error::NotFound { .. })));
    assert!(matches!(
        s.delete("del/x", None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(s.list("del/", None).await.unwrap().objects.is_empty());
    assert!(
        matches!(s.get("never/was").await, Err(Error::NotFound { ref name }) if name == "never/was")
    );
}

async fn missing_bucket(m: &dyn ObjectStore) {
    let bnf = |r: &Result<_, Error>| matches!(r, Err(Error::BucketNotFound { .. }));
    assert!(bnf(&m
        .put("a", Bytes::from_static(b"x"), PutOptions::create_only())
        .await
        .map(|_| ())));
    assert!(bnf(&m.get("a").await.map(|_| ())));
    assert!(bnf(&m.head("a").await.map(|_| ())));
    assert!(bnf(&m.list("", None).await.map(|_| ())));
    assert!(bnf(&m.delete("a", None).await));
}

async fn invalid_names(s: &dyn ObjectStore) {
    for bad in ["../escape", "/abs", "a/../../b", "nul\0x", ""] {
        let r = s
            .put(bad, Bytes::from_static(b"x"), PutOptions::default())
            .await;
        assert!(
            matches!(r, Err(Error::InvalidName { .. })),
            "{bad:?}: {r:?}"
        );
        assert!(matches!(s.get(bad).await, Err(Error::InvalidName { .. })));
        assert!(matches!(
            s.delete(bad, None).await,
            Err(Error::InvalidName { .. })
        ));
    }
}
