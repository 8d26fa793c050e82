//! Retention sweep cost on a `file://` store holding 2 sources x 60 days x 20 objects: a dry
//! run when nothing is expired versus when 30 days are, showing that the cost follows the
//! expired date prefixes, not the total object count.
//!
//! `cargo bench -p bacca-storage --bench sweep`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bacca_audit::AuditSink;
use bacca_storage::{sweep, LocalStore, ObjectStore, PutOptions, RetentionPolicy};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let start: DateTime<Utc> = "2026-01-01T12:00:00Z".parse().unwrap();
    rt.block_on(async {
        for source in ["slack", "datadog"] {
            for day in 0..60 {
                let t = start + Duration::days(day);
                for i in 0..20 {
                    let name = format!("raw/{source}/{}/b{i:02}", t.date_naive());
                    let opts = PutOptions::create_only().with_custom_time(t);
                    store
                        .put(&name, Bytes::from_static(b"x"), opts)
                        .await
                        .unwrap();
                }
            }
        }
    });
    let policy = RetentionPolicy::default();
    let mut group = c.benchmark_group("sweep_dry_run_2400_objects");
    for (label, now) in [
        ("0_days_expired", start + Duration::days(29)),
        ("30_days_expired", start + Duration::days(59)),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                rt.block_on(sweep(
                    &store,
                    "acme",
                    policy,
                    now,
                    true,
                    &AuditSink::Discard,
                    &|_| {},
                ))
                .unwrap()
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
