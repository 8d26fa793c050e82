//! Graph writes (records/s) into SQLite and PostgreSQL, and `similar` latency on a graph of
//! 100k incidents.
//!
//! A "record" here is one incident with its resolution action (2 new nodes), 3 edges (service,
//! signature, action) and its term rows, encrypted per row. PostgreSQL runs when
//! `BACCA_TEST_POSTGRES_URL` is set (in a fresh schema, dropped at the end), as an unprivileged
//! role: row-level security applies, as in production.

// criterion_group! generates an undocumented public function; benches may unwrap.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

mod workload;

use workload::*;

// The production binaries' allocator, so that the figures measure what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: u64 = 1000;

fn bench_writes(c: &mut Criterion) {
    let rt = rt();
    let stores = Stores::open(&rt, "writes");
    let mut group = c.benchmark_group("graph_writes");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    for (name, store) in &stores.list {
        let g = graph(Arc::clone(store), &format!("bench-{}", std::process::id()));
        rt.block_on(async {
            g.create().await.unwrap();
            g.upsert(&base()).await.unwrap();
        });
        let next = AtomicU64::new(0);
        group.bench_function(format!("{name}_new_records"), |b| {
            b.iter_batched(
                || records(next.fetch_add(BATCH, Ordering::Relaxed), BATCH),
                |batch| rt.block_on(g.upsert(&batch)).unwrap(),
                BatchSize::LargeInput,
            );
        });
        let replay = records(0, BATCH);
        group.bench_function(format!("{name}_replayed_records"), |b| {
            b.iter(|| rt.block_on(g.upsert(&replay)).unwrap());
        });
    }
    group.finish();
    stores.finish(&rt);
}

fn bench_similar(c: &mut Criterion) {
    let rt = rt();
    let stores = Stores::open(&rt, "similar");
    let mut group = c.benchmark_group("similar");
    group.sample_size(30);
    for (name, store) in &stores.list {
        // Loaded when criterion first runs the benchmark: not at all when a filter leaves it
        // out (a `graph_writes` run).
        let loaded = std::cell::OnceCell::new();
        group.bench_function(format!("{name}_100k_incidents"), |b| {
            let g = loaded.get_or_init(|| {
                let g = graph(Arc::clone(store), "similar");
                rt.block_on(async {
                    g.create().await.unwrap();
                    g.upsert(&base()).await.unwrap();
                    for start in (0..100_000).step_by(5_000) {
                        g.upsert(&records(start, 5_000)).await.unwrap();
                    }
                });
                g
            });
            b.iter(|| {
                rt.block_on(g.similar(
                    "svc-7: worker 12 failed calling upstream spike latency after 3000 ms",
                    10,
                ))
                .unwrap()
            });
        });
    }
    group.finish();
    stores.finish(&rt);
}

criterion_group!(benches, bench_writes, bench_similar);
criterion_main!(benches);
