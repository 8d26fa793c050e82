//! Throughput of the detectors on operational text (single thread). Run with
//! `cargo bench -p bacca-anonymizer --bench throughput`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;

use bacca_anonymizer::eval::corpus;
use bacca_anonymizer::{Anonymizer, Policy};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zeroize::Zeroizing;

// The production binaries' allocator, so that the figures measure what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let corpus = corpus::generate(1, 4000);
    let text: String = corpus
        .docs
        .iter()
        .map(|d| d.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let lines: Vec<&str> = text.lines().collect();
    let anon = Anonymizer::new(
        &Zeroizing::new([5u8; 32]),
        &Policy::default(),
        &corpus.directory,
    )
    .unwrap();
    let mut g = c.benchmark_group("operational");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    g.bench_function("spans_per_line", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in &lines {
                n += anon.spans(black_box(l)).len();
            }
            n
        });
    });
    g.bench_function("anonymize_text_per_line", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in &lines {
                n += anon.anonymize_text(black_box(l)).0.len();
            }
            n
        });
    });
    g.finish();

    // real operational logs: loghub samples (shared/bench/loghub), when present
    let dir = std::path::Path::new(
        &*std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../../shared/bench/loghub");
    let mut logs = String::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut paths: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        paths.sort();
        for p in paths {
            logs.push_str(&std::fs::read_to_string(p).unwrap_or_default());
        }
    }
    if logs.is_empty() {
        println!("loghub samples not found under {}: skipped", dir.display());
        return;
    }
    let log_lines: Vec<&str> = logs.lines().collect();
    let plain = Anonymizer::new(
        &Zeroizing::new([5u8; 32]),
        &Policy::default(),
        &bacca_anonymizer::Directory::default(),
    )
    .unwrap();
    let mut g = c.benchmark_group("loghub");
    g.throughput(Throughput::Bytes(logs.len() as u64));
    g.sample_size(10);
    g.bench_function("spans_per_line", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in &log_lines {
                n += plain.spans(black_box(l)).len();
            }
            n
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
