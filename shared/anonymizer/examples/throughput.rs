//! Fixed workload for CPU-time throughput measurement on a shared machine:
//! `perf stat -e task-clock target/release/examples/throughput [passes]`, then bytes / task-clock.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use bacca_anonymizer::eval::corpus;
use bacca_anonymizer::{Anonymizer, Directory, Policy};
use zeroize::Zeroizing;

fn main() {
    let passes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let c = corpus::generate(1, 4000);
    let ops: String = c
        .docs
        .iter()
        .map(|d| d.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let dir = std::path::Path::new(
        &*std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../../shared/bench/loghub");
    let mut logs = String::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            if e.path().extension().is_some_and(|x| x == "csv") {
                logs.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    let which = std::env::args().nth(2).unwrap_or_else(|| "ops".into());
    let (text, anon) = if which == "loghub" {
        (
            logs,
            Anonymizer::new(
                &Zeroizing::new([5u8; 32]),
                &Policy::default(),
                &Directory::default(),
            )
            .unwrap(),
        )
    } else {
        (
            ops,
            Anonymizer::new(&Zeroizing::new([5u8; 32]), &Policy::default(), &c.directory).unwrap(),
        )
    };
    let t0 = std::time::Instant::now();
    let mut n = 0usize;
    for _ in 0..passes {
        for l in text.lines() {
            n += anon.spans(l).len();
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let mb = (text.len() * passes) as f64 / 1e6;
    println!(
        "{which}: {mb:.1} MB in {wall:.2} s wall = {:.1} MB/s wall ({n} spans)",
        mb / wall
    );
}
