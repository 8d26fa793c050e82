//! Every span of the throughput example's texts, one line per span (`line start end TYPE`),
//! to compare two builds' detectors exactly: `dump_spans ops > a; dump_spans loghub > b`.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::io::Write;

use bacca_anonymizer::eval::corpus;
use bacca_anonymizer::{Anonymizer, Directory, Policy};
use zeroize::Zeroizing;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "ops".into());
    let key = Zeroizing::new([5u8; 32]);
    let (text, anon) = if which == "loghub" {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/loghub");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        names.sort();
        let mut logs = String::new();
        for p in names {
            logs.push_str(&std::fs::read_to_string(p).unwrap());
        }
        let a = Anonymizer::new(&key, &Policy::default(), &Directory::default()).unwrap();
        (logs, a)
    } else {
        let seed = if which == "ops7" { 7 } else { 1 };
        let c = corpus::generate(seed, 4000);
        let t = c
            .docs
            .iter()
            .map(|d| d.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let a = Anonymizer::new(&key, &Policy::default(), &c.directory).unwrap();
        (t, a)
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, l) in text.lines().enumerate() {
        for s in anon.spans(l) {
            writeln!(out, "{i} {} {} {}", s.start, s.end, s.entity_type.name()).unwrap();
        }
    }
}
