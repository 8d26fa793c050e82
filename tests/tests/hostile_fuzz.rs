//! Stable-Rust fallback for the cargo-fuzz targets in `fuzz/` (cargo-fuzz needs nightly, or
//! `RUSTC_BOOTSTRAP=1` and a long instrumented build): runs every seed corpus file, then
//! mutations of the seeds (bit flips, truncations, insertions, splices between seeds) and purely
//! random inputs through the same target functions (`fuzz/src/lib.rs`), and prints how many
//! executions each target survived.
//!
//! `BACCA_FUZZ_ITERS` (default 2,000 per target) and `BACCA_FUZZ_SEED` (default: time-based,
//! printed) control the run; a failing input is written to a temporary file whose path is
//! printed, so it can be added to the corpus and replayed:
//! `BACCA_FUZZ_ITERS=200000 cargo test -p bacca-tests --release --test hostile_fuzz -- --nocapture`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests

#[path = "../../fuzz/src/lib.rs"]
mod fuzz_targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// xorshift64*: deterministic for a given seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(
        &*std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../fuzz/corpus")
    .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "{target}: empty seed corpus");
    seeds
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => {
                let i = rng.below(v.len() + 1);
                let n = 1 + rng.below(16);
                let extra = rng.bytes(n);
                v.splice(i..i, extra);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            5 if v.len() > 1 => {
                // Duplicate a slice (repeated keys, nested structures).
                let a = rng.below(v.len());
                let b = a + rng.below(v.len() - a);
                let piece = v[a..b].to_vec();
                v.splice(b..b, piece);
            }
            _ => {
                let interesting: &[&[u8]] = &[
                    b"\"",
                    b"{",
                    b"}",
                    b"[",
                    b"]",
                    b"\\u0000",
                    b"null",
                    b"-1",
                    b"18446744073709551616",
                    b"1e999",
                    b"\xff\xfe",
                    b"\xf0\x9f\x92\xa9",
                ];
                let i = rng.below(v.len() + 1);
                let s = interesting[rng.below(interesting.len())];
                v.splice(i..i, s.iter().copied());
            }
        }
    }
    v
}

fn run(target: &str, f: fn(&[u8])) {
    let iters: usize = std::env::var("BACCA_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let seed: u64 = std::env::var("BACCA_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let seeds = corpus(target);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut execs = 0usize;
    let check = |input: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| f(input))).is_err() {
            let path = std::env::temp_dir().join(format!("bacca-fuzz-{target}-{seed}.bin"));
            std::fs::write(&path, input).unwrap();
            panic!(
                "{target}: invariant broken (BACCA_FUZZ_SEED={seed}); input saved to {}",
                path.display()
            );
        }
    };
    for s in &seeds {
        check(s);
        execs += 1;
    }
    for i in 0..iters {
        let input = if i % 4 == 3 {
            let n = rng.below(512);
            rng.bytes(n)
        } else {
            mutate(&mut rng, &seeds)
        };
        check(&input);
        execs += 1;
    }
    eprintln!(
        "fuzz {target}: {execs} executions survived ({} seeds, seed {seed}) in {:.1?}",
        seeds.len(),
        started.elapsed()
    );
}

#[test]
fn fuzz_push_decode() {
    run("push_decode", fuzz_targets::push_decode);
}

#[test]
fn fuzz_envelope() {
    run("envelope", fuzz_targets::envelope);
}

#[test]
fn fuzz_streaming() {
    run("streaming", fuzz_targets::streaming);
}

#[test]
fn fuzz_anonymizer() {
    run("anonymizer", fuzz_targets::anonymizer);
}

#[test]
fn fuzz_slack_page() {
    run("slack_page", fuzz_targets::slack_page);
}

#[test]
fn fuzz_datadog_pages() {
    run("datadog_pages", fuzz_targets::datadog_pages);
}

#[test]
fn fuzz_jira_page() {
    run("jira_page", fuzz_targets::jira_page);
}

#[test]
fn fuzz_linear_page() {
    run("linear_page", fuzz_targets::linear_page);
}

#[test]
fn fuzz_confluence_page() {
    run("confluence_page", fuzz_targets::confluence_page);
}

#[test]
fn fuzz_notion_pages() {
    run("notion_pages", fuzz_targets::notion_pages);
}

#[test]
fn fuzz_gdrive_page() {
    run("gdrive_page", fuzz_targets::gdrive_page);
}

#[test]
fn fuzz_slack_export() {
    run("slack_export", fuzz_targets::slack_export);
}

#[test]
fn every_cargo_fuzz_target_has_a_test_and_a_corpus() {
    let names: Vec<&str> = fuzz_targets::TARGETS.iter().map(|(n, _)| *n).collect();
    let dir = PathBuf::from(
        &*std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../fuzz/fuzz_targets");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    files.sort();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(files, sorted);
    for n in names {
        assert!(!corpus(n).is_empty());
    }
}
