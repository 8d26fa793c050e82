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
}

criterion_group!(benches, bench);
criterion_main!(benches);
