//! Throughput of the template miner (lines/s) over the shared loghub samples.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use bacca_knowledge::signature::{MinerConfig, SignatureMiner};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

// The production binaries' allocator, so that the figures measure what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn lines() -> Vec<String> {
    let dir = PathBuf::from(
        &*std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../../shared/bench/loghub");
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            // Whole CSV rows (id, date, level, component, content, template): longer than the
            // raw log lines, so a conservative throughput figure.
            for line in text.lines().skip(1) {
                out.push(line.to_owned());
            }
        }
    }
    if out.is_empty() {
        for i in 0..16_000 {
            out.push(format!(
                "Receiving block blk_{i} src: /10.0.{}.{}:50010 dest: /10.0.0.1:50010",
                i % 250,
                i % 7
            ));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let mut group = c.benchmark_group("signatures");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("observe_cold", |b| {
        b.iter(|| {
            let mut m = SignatureMiner::new(MinerConfig::default());
            for l in &lines {
                black_box(m.observe(l));
            }
        });
    });
    let mut warm = SignatureMiner::new(MinerConfig::default());
    for l in &lines {
        warm.observe(l);
    }
    group.bench_function("observe_warm", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(warm.observe(l));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
