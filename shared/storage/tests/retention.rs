//! Raw writer and retention sweep, with an injected clock, on both backends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bacca_audit::{AuditSink, AuditValue};
use bacca_storage::{
    sweep, BatchId, Error, GcsConfig, GcsStore, Listing, LocalStore, ObjectMeta, ObjectStore,
    PutOptions, RawWriter, RetentionPolicy, SweepProgress, TenantStores,
};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use common::t;

/// Wraps a store and records every list call, to prove what the sweep lists.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ObjectStore>,
    lists: Mutex<Vec<(String, Option<String>)>>,
}

#[async_trait]
impl ObjectStore for Counting {
    fn uri(&self) -> String {
        self.inner.uri()
    }
    async fn put(&self, n: &str, d: Bytes, o: PutOptions) -> bacca_storage::Result<ObjectMeta> {
        self.inner.put(n, d, o).await
    }
    async fn get(&self, n: &str) -> bacca_storage::Result<(Bytes, ObjectMeta)> {
        self.inner.get(n).await
    }
    async fn head(&self, n: &str) -> bacca_storage::Result<ObjectMeta> {
        self.inner.head(n).await
    }
    async fn list(&self, p: &str, d: Option<&str>) -> bacca_storage::Result<Listing> {
        self.lists
            .lock()
            .unwrap()
            .push((p.to_owned(), d.map(str::to_owned)));
        self.inner.list(p, d).await
    }
    async fn delete(&self, n: &str, g: Option<i64>) -> bacca_storage::Result<()> {
        self.inner.delete(n, g).await
    }
    async fn create_bucket(&self) -> bacca_storage::Result<()> {
        self.inner.create_bucket().await
    }
}

const NOW: &str = "2026-11-24T12:00:00Z";

async fn put_raw(s: &dyn ObjectStore, name: &str, ct: Option<DateTime<Utc>>) -> ObjectMeta {
    let mut o = PutOptions::create_only();
    o.custom_time = ct;
    s.put(name, Bytes::from_static(b"ciphertext"), o)
        .await
        .unwrap()
}

async fn sweep_scenario(store: Arc<dyn ObjectStore>) {
    let now = t(NOW);
    let counting = Arc::new(Counting {
        inner: store.clone(),
        lists: Mutex::default(),
    });
    let at = |d: i64, h: i64| now - Duration::days(d) - Duration::hours(h);
    let survivor = at(29, 21);
    let expired = at(29, 23);
    let old = at(45, 0);
    let n_survivor = format!("raw/slack/{}/b-survivor", survivor.date_naive());
    let n_expired = format!("raw/slack/{}/b-expired", expired.date_naive());
    let n_old = format!("raw/datadog/{}/b-old", old.date_naive());
    let n_nocustom = format!("raw/datadog/{}/b-nocustom", old.date_naive());
    let n_recent = format!("raw/slack/{}/b-recent", at(1, 0).date_naive());
    put_raw(&*store, &n_survivor, Some(survivor)).await;
    put_raw(&*store, &n_expired, Some(expired)).await;
    put_raw(&*store, &n_old, Some(old)).await;
    put_raw(&*store, &n_nocustom, None).await;
    put_raw(&*store, &n_recent, Some(at(1, 0))).await;
    put_raw(&*store, "raw/slack/not-a-date/x", Some(old)).await;

    let audit = AuditSink::memory();
    let policy = RetentionPolicy::default();
    let seen = Mutex::new(Vec::<SweepProgress>::new());
    let progress = |p: SweepProgress| seen.lock().unwrap().push(p);

    // Dry run deletes nothing.
    let dry = sweep(&*counting, "acme", policy, now, true, &audit, &progress)
        .await
        .unwrap();
    assert_eq!((dry.expired, dry.deleted), (2, 0));
    for n in [&n_survivor, &n_expired, &n_old, &n_nocustom, &n_recent] {
        store.head(n).await.unwrap();
    }

    counting.lists.lock().unwrap().clear();
    let r = sweep(&*counting, "acme", policy, now, false, &audit, &progress)
        .await
        .unwrap();
    assert_eq!(r.deleted, 2, "{r:?}");
    assert_eq!(r.failed, 0, "{r:?}");
    assert_eq!(r.missing_custom_time, 1);
    assert_eq!(r.missing_custom_time_names, vec![n_nocustom.clone()]);
    assert_eq!(
        r.unrecognized_prefixes,
        vec!["raw/slack/not-a-date/".to_owned()]
    );
    assert!(matches!(
        store.head(&n_expired).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.head(&n_old).await,
        Err(Error::NotFound { .. })
    ));
    store.head(&n_survivor).await.unwrap();
    store.head(&n_nocustom).await.unwrap();
    store.head(&n_recent).await.unwrap();
    assert_eq!(r.oldest_surviving_custom_time, Some(survivor));
    // Recent date prefixes are never listed; only raw/, the sources, and expired dates.
    let lists = counting.lists.lock().unwrap().clone();
    let recent_prefix = format!("raw/slack/{}/", at(1, 0).date_naive());
    assert!(
        lists.iter().all(|(p, _)| !p.starts_with(&recent_prefix)),
        "{lists:?}"
    );
    assert!(
        lists.iter().all(|(p, _)| !p.contains("not-a-date")),
        "{lists:?}"
    );
    for (p, d) in &lists {
        if d.is_none() {
            let date = p.trim_end_matches('/').rsplit('/').next().unwrap();
            assert!(
                date <= r.cutoff.date_naive().to_string().as_str(),
                "listed {p}"
            );
        }
    }
    assert_eq!(r.list_calls as usize, lists.len());

    // Second run: a no-op.
    let again = sweep(&*counting, "acme", policy, now, false, &audit, &progress)
        .await
        .unwrap();
    assert_eq!((again.deleted, again.failed, again.expired), (0, 0, 0));
    assert_eq!(again.missing_custom_time, 1);

    // One audit event per run, with counts and never names of objects' content.
    let events = audit.events();
    assert_eq!(events.iter().filter(|e| e.action == "sweep").count(), 3);
    let e = &events[1];
    assert_eq!(e.tenant, "acme");
    assert_eq!(e.fields.get("deleted"), Some(&AuditValue::Int(2)));
    assert_eq!(
        e.fields.get("missing_custom_time"),
        Some(&AuditValue::Int(1))
    );
    assert_eq!(e.fields.get("dry_run"), Some(&AuditValue::Bool(false)));
    assert!(e.fields.contains_key("oldest_surviving_custom_time"));
    assert!(e.fields.contains_key("duration_ms"));
    assert!(e.fields.contains_key("scanned"));
    let json = serde_json::to_string(&events).unwrap();
    assert!(!json.contains("ciphertext"));
    // The report is serializable, and progress was reported through to Done.
    let _ = serde_json::to_string(&r).unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen
        .iter()
        .any(|p| p.phase == bacca_storage::SweepPhase::Done && p.deleted == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_with_injected_clock_local() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    sweep_scenario(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_with_injected_clock_gcs() {
    let Some(store) = emulator_bucket().await else {
        return;
    };
    sweep_scenario(store).await;
}

async fn emulator_bucket() -> Option<Arc<dyn ObjectStore>> {
    let host = common::emulator_host()?;
    let bucket = format!("bacca-ret-{}", uuid::Uuid::new_v4().simple());
    let cfg = GcsConfig {
        endpoint: Some(host),
        ..GcsConfig::new()
    };
    let s = GcsStore::new(&bucket, cfg).unwrap();
    s.create_bucket().await.unwrap();
    Some(Arc::new(s))
}

#[tokio::test]
async fn sweep_of_a_missing_bucket_is_a_typed_error_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("missing"));
    let err = sweep(
        &store,
        "acme",
        RetentionPolicy::default(),
        t(NOW),
        false,
        &AuditSink::Discard,
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::BucketNotFound { .. }), "{err:?}");
    let err = sweep(
        &store,
        "../x",
        RetentionPolicy::default(),
        t(NOW),
        false,
        &AuditSink::Discard,
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidTenant { .. }), "{err:?}");
    let bad = RetentionPolicy {
        retention_days: 0,
        safety_margin_hours: 2,
    };
    let err = sweep(
        &store,
        "acme",
        bad,
        t(NOW),
        false,
        &AuditSink::Discard,
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
}

async fn writer_scenario(store: Arc<dyn ObjectStore>) {
    let now = t(NOW);
    let stores = TenantStores::explicit();
    stores.insert("acme", store.clone()).unwrap();
    let audit = AuditSink::memory();
    let w = RawWriter::new(stores, RetentionPolicy::default(), audit.clone());
    let batch = BatchId::derive("acme", "slack", "1700000000.000100", "1700000500.000900");
    let earliest = now - Duration::days(3);
    let first = w
        .write_batch(
            "acme",
            "slack",
            &batch,
            earliest,
            Bytes::from_static(b"CT-1"),
            now,
        )
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(
        first.meta.name,
        format!("raw/slack/{}/{batch}", earliest.date_naive())
    );
    assert_eq!(first.meta.custom_time, Some(earliest));
    // Redelivery: same batch id, nothing duplicated or overwritten, same metadata back.
    let again = w
        .write_batch(
            "acme",
            "slack",
            &batch,
            earliest,
            Bytes::from_static(b"CT-2"),
            now,
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.meta, first.meta);
    assert_eq!(&store.get(&first.meta.name).await.unwrap().0[..], b"CT-1");
    assert_eq!(store.list("raw/", None).await.unwrap().objects.len(), 1);
    // Older than the window: refused with a typed error, nothing written.
    let too_old = now - Duration::days(29) - Duration::hours(23);
    let b2 = BatchId::derive("acme", "slack", "1", "2");
    let err = w
        .write_batch(
            "acme",
            "slack",
            &b2,
            too_old,
            Bytes::from_static(b"CT"),
            now,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutsideRetention { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(store.list("raw/", None).await.unwrap().objects.len(), 1);
    // 29 d 21 h is still inside the window.
    let ok = now - Duration::days(29) - Duration::hours(21);
    w.write_batch("acme", "slack", &b2, ok, Bytes::from_static(b"CT"), now)
        .await
        .unwrap();
    // Unknown tenant / bad source: typed errors.
    assert!(matches!(
        w.write_batch("other", "slack", &b2, ok, Bytes::new(), now)
            .await,
        Err(Error::InvalidTenant { .. })
    ));
    assert!(matches!(
        w.write_batch("acme", "../x", &b2, ok, Bytes::new(), now)
            .await,
        Err(Error::InvalidName { .. })
    ));
    // Audit: one raw_write per accepted write, ids and sizes only.
    let ev = audit.events();
    assert_eq!(ev.len(), 3);
    assert!(ev
        .iter()
        .all(|e| e.action == "raw_write" && e.tenant == "acme"));
    assert_eq!(ev[0].fields.get("bytes"), Some(&AuditValue::Int(4)));
    assert_eq!(ev[1].fields.get("created"), Some(&AuditValue::Bool(false)));
    assert!(!serde_json::to_string(&ev).unwrap().contains("CT-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_writer_local() {
    let dir = tempfile::tempdir().unwrap();
    writer_scenario(Arc::new(LocalStore::new(dir.path()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_writer_gcs() {
    let Some(store) = emulator_bucket().await else {
        return;
    };
    writer_scenario(store).await;
}

#[tokio::test]
async fn tenant_stores_from_template_are_separate() {
    let dir = tempfile::tempdir().unwrap();
    let template = format!("file://{}/{{tenant}}", dir.path().display());
    let stores = TenantStores::from_template(&template, GcsConfig::new()).unwrap();
    let a = stores.store("tenant-a").unwrap();
    let b = stores.store("tenant-b").unwrap();
    assert_ne!(a.uri(), b.uri());
    assert!(a.uri().ends_with("/tenant-a"));
    assert!(stores.store("../etc").is_err());
}

/// Fails deletes of names containing "flaky" (once) and rewrites names containing "racy"
/// just before deleting them, as a concurrent writer would.
#[derive(Debug)]
struct Faulty {
    inner: Arc<dyn ObjectStore>,
    flaky_failed: Mutex<bool>,
}

#[async_trait]
impl ObjectStore for Faulty {
    fn uri(&self) -> String {
        self.inner.uri()
    }
    async fn put(&self, n: &str, d: Bytes, o: PutOptions) -> bacca_storage::Result<ObjectMeta> {
        self.inner.put(n, d, o).await
    }
    async fn get(&self, n: &str) -> bacca_storage::Result<(Bytes, ObjectMeta)> {
        self.inner.get(n).await
    }
    async fn head(&self, n: &str) -> bacca_storage::Result<ObjectMeta> {
        self.inner.head(n).await
    }
    async fn list(&self, p: &str, d: Option<&str>) -> bacca_storage::Result<Listing> {
        self.inner.list(p, d).await
    }
    async fn delete(&self, n: &str, g: Option<i64>) -> bacca_storage::Result<()> {
        if n.contains("flaky") && !std::mem::replace(&mut *self.flaky_failed.lock().unwrap(), true)
        {
            return Err(Error::Unavailable {
                what: "http 503".into(),
            });
        }
        if n.contains("gone") {
            // Deleted by someone else (the lifecycle rule, another sweep) in between.
            self.inner.delete(n, None).await?;
        }
        if n.contains("racy") {
            let ct = self.inner.head(n).await?.custom_time;
            let o = PutOptions {
                custom_time: ct,
                ..PutOptions::default()
            };
            self.inner
                .put(n, Bytes::from_static(b"rewritten"), o)
                .await?;
        }
        self.inner.delete(n, g).await
    }
    async fn create_bucket(&self) -> bacca_storage::Result<()> {
        self.inner.create_bucket().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_continues_past_failures_and_retries_them_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()));
    let store = Faulty {
        inner: inner.clone(),
        flaky_failed: Mutex::new(false),
    };
    let now = t(NOW);
    let old = now - Duration::days(40);
    let day = old.date_naive();
    for n in ["a-flaky", "b-ok", "c-racy", "d-ok", "e-gone"] {
        put_raw(&*inner, &format!("raw/slack/{day}/{n}"), Some(old)).await;
    }
    let audit = AuditSink::memory();
    let policy = RetentionPolicy::default();
    let r = sweep(&store, "acme", policy, now, false, &audit, &|_| {})
        .await
        .unwrap();
    assert_eq!((r.expired, r.deleted, r.failed), (5, 2, 2), "{r:?}");
    assert_eq!(r.already_gone, 1, "an object already gone is not an error");
    let failed: Vec<_> = r
        .failures
        .iter()
        .map(|f| (f.name.as_str(), f.class.as_str(), f.retryable))
        .collect();
    assert_eq!(
        failed,
        [
            (
                format!("raw/slack/{day}/a-flaky").as_str(),
                "unavailable",
                true
            ),
            (
                format!("raw/slack/{day}/c-racy").as_str(),
                "precondition_failed",
                false
            ),
        ]
    );
    // The rewritten object was not deleted blindly: its new generation is still there.
    assert_eq!(
        &inner
            .get(&format!("raw/slack/{day}/c-racy"))
            .await
            .unwrap()
            .0[..],
        b"rewritten"
    );
    assert_eq!(r.oldest_surviving_custom_time, Some(old));
    let ev = &audit.events()[0];
    assert_eq!(ev.fields.get("failed"), Some(&AuditValue::Int(2)));
    // Next run picks up the flaky one; the racy one is expired again and now deleted.
    let r2 = sweep(&*inner, "acme", policy, now, false, &audit, &|_| {})
        .await
        .unwrap();
    assert_eq!((r2.deleted, r2.failed), (2, 0), "{r2:?}");
    assert!(inner.list("raw/", None).await.unwrap().objects.is_empty());
}
