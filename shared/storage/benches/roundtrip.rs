//! Put + get round trip of one object: `file://` always, `gs://` against fake-gcs-server when
//! `STORAGE_EMULATOR_HOST` is set.
//!
//! `STORAGE_EMULATOR_HOST=127.0.0.1:4443 cargo bench -p bacca-storage --bench roundtrip`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bacca_storage::{GcsConfig, GcsStore, LocalStore, ObjectStore, PutOptions};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn roundtrip(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut stores: Vec<(&str, Arc<dyn ObjectStore>)> =
        vec![("file", Arc::new(LocalStore::new(dir.path())))];
    if let Some(host) = std::env::var("STORAGE_EMULATOR_HOST")
        .ok()
        .filter(|h| !h.is_empty())
    {
        let cfg = GcsConfig {
            endpoint: Some(host),
            ..GcsConfig::new()
        };
        let bucket = format!("bacca-bench-{}", uuid::Uuid::new_v4().simple());
        let s = GcsStore::new(&bucket, cfg).unwrap();
        rt.block_on(s.create_bucket()).unwrap();
        stores.push(("gcs-emulator", Arc::new(s)));
    }
    let mut group = c.benchmark_group("put_get_roundtrip");
    for size in [1024usize, 64 * 1024, 1024 * 1024] {
        let data = Bytes::from(vec![7u8; size]);
        group.throughput(Throughput::Bytes(size as u64));
        for (label, store) in &stores {
            let mut i = 0u64;
            group.bench_with_input(BenchmarkId::new(*label, size), &data, |b, data| {
                b.iter(|| {
                    i += 1;
                    let name = format!("raw/bench/2026-01-01/{size}-{i}");
                    rt.block_on(async {
                        let opts = PutOptions::create_only().with_custom_time(chrono::Utc::now());
                        store.put(&name, data.clone(), opts).await.unwrap();
                        let (got, _) = store.get(&name).await.unwrap();
                        assert_eq!(got.len(), size);
                    });
                });
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = roundtrip
}
criterion_main!(benches);
