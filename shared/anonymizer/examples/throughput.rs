//! Fixed workload for CPU-time throughput measurement on a shared machine:
//! `perf stat -e task-clock target/release/examples/throughput [passes] [ops|loghub]`, then
//! bytes / task-clock (everything: corpus generation, lexicon and phone-metadata loading).
//! The example also prints the steady state: the CPU time of the timed passes alone (from
//! `/proc/thread-self/schedstat`) of passes 2 to N, after the first pass has loaded the
//! lexicons and libphonenumber's metadata (and filled the per-thread phone-validation cache).

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
    let mut steady = None;
    for pass in 0..passes {
        if pass == 1 {
            // the first pass warmed up the lexicons and phone metadata
            steady = cpu_ns().map(|c| (c, n));
        }
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
    if let (Some((c0, _)), Some(c1)) = (steady, cpu_ns()) {
        let cpu = (c1 - c0) as f64 / 1e9;
        let mb = (text.len() * (passes - 1)) as f64 / 1e6;
        println!(
            "{which}: steady state (passes 2..={passes}) {mb:.1} MB in {cpu:.3} s CPU = {:.1} MB/s CPU",
            mb / cpu
        );
    }
}

/// CPU time of this thread in nanoseconds (Linux: first field of schedstat).
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
