//! Grouping accuracy of the template miner on the eight shared loghub samples.
//!
//! Reads `shared/bench/loghub/*_2k.log_structured.csv` next to the checkout
//! (`CARGO_MANIFEST_DIR/../../../shared/bench`); skips when the samples are absent.
//! Thresholds sit a little under the measured figures (see the crate README).

use std::collections::HashMap;
use std::path::PathBuf;

use bacca_knowledge::signature::{MinerConfig, SignatureMiner};

const SAMPLES: [(&str, f64); 8] = [
    ("BGL", 0.96),
    ("HDFS", 0.99),
    ("HPC", 0.92),
    ("Hadoop", 0.97),
    ("Spark", 0.91),
    ("Thunderbird", 0.96),
    ("Windows", 0.98),
    ("Zookeeper", 0.97),
];

/// Minimal RFC 4180 reader: returns rows of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else {
            match c {
                '"' => quoted = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {}
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ => field.push(c),
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn grouping_accuracy(truth: &[String], predicted: &[String]) -> f64 {
    let mut tg: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut pg: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (t, p)) in truth.iter().zip(predicted).enumerate() {
        tg.entry(t).or_default().push(i);
        pg.entry(p).or_default().push(i);
    }
    let ok = truth
        .iter()
        .zip(predicted)
        .filter(|(t, p)| tg[t.as_str()] == pg[p.as_str()])
        .count();
    ok as f64 / truth.len() as f64
}

fn bench_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(
        &*std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../../shared/bench/loghub");
    dir.is_dir().then_some(dir)
}

#[test]
fn loghub_grouping_accuracy_meets_targets() {
    let Some(dir) = bench_dir() else {
        println!("skipped: shared/bench/loghub not found");
        return;
    };
    let mut sum = 0.0;
    for (name, min) in SAMPLES {
        let text = std::fs::read_to_string(dir.join(format!("{name}_2k.log_structured.csv")))
            .expect("sample readable");
        let rows = parse_csv(&text);
        let header = &rows[0];
        let col = |n: &str| header.iter().position(|h| h == n).expect("column");
        let (content, event) = (col("Content"), col("EventId"));
        let mut miner = SignatureMiner::new(MinerConfig::default());
        let mut truth = Vec::new();
        let mut predicted = Vec::new();
        for row in &rows[1..] {
            truth.push(row[event].clone());
            predicted.push(miner.observe(&row[content].replace('\n', " ")).to_string());
        }
        assert_eq!(truth.len(), 2000, "{name}");
        let acc = grouping_accuracy(&truth, &predicted);
        println!("{name} {acc:.4}");
        assert!(acc >= min, "{name}: grouping accuracy {acc:.4} < {min}");
        sum += acc;
    }
    let mean = sum / SAMPLES.len() as f64;
    println!("mean {mean:.4}");
    assert!(mean >= 0.965, "mean grouping accuracy {mean:.4}");
}
