//! The public measure: presidio-research's generated corpus scored with
//! `shared/tools/pii_eval.py`. When the data set or python3 is absent it fails under `CI` and
//! skips, saying so, elsewhere (`bacca_testenv`).
//! Predictions are written to `$CARGO_TARGET_TMPDIR/presidio_predictions.jsonl`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::io::{BufReader, Cursor};
use std::path::PathBuf;
use std::process::Command;

use bacca_anonymizer::{cli, Anonymizer, Directory, Policy};
use zeroize::Zeroizing;

fn shared_dir() -> PathBuf {
    std::env::var_os("BACCA_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(
                &*std::env::var("CARGO_MANIFEST_DIR")
                    .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
            )
            .join("../../../shared")
        })
}

#[test]
fn presidio_generated_large() {
    let shared = shared_dir();
    let data = shared.join("bench/pii/presidio_generated_large.json");
    let tool = shared.join("tools/pii_eval.py");
    if !data.exists() || !tool.exists() {
        assert!(
            !bacca_testenv::in_ci(),
            "{} or {} not found but CI is set: ../shared must sit beside the checkout",
            data.display(),
            tool.display()
        );
        eprintln!(
            "SKIPPED: {} or {} not found (../shared beside the checkout)",
            data.display(),
            tool.display()
        );
        return;
    }
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
    let mut input = String::new();
    for r in &rows {
        input.push_str(&serde_json::json!({"text": r["full_text"]}).to_string());
        input.push('\n');
    }
    let anon = Anonymizer::new(
        &Zeroizing::new([1u8; 32]),
        &Policy::default(),
        &Directory::default(),
    )
    .unwrap();
    let mut out = Vec::new();
    let t0 = std::time::Instant::now();
    let summary = cli::run_spans(
        BufReader::new(Cursor::new(input.as_bytes())),
        &mut out,
        &anon,
    )
    .unwrap();
    let dt = t0.elapsed();
    assert_eq!(summary.lines as usize, rows.len());
    assert!(summary.errors.is_empty());
    let pred = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("presidio_predictions.jsonl");
    std::fs::write(&pred, &out).unwrap();
    println!(
        "{} docs, {} bytes in {:?} (debug or release per build)",
        rows.len(),
        summary.bytes,
        dt
    );
    let res = Command::new("python3")
        .arg(&tool)
        .arg("score")
        .arg(&data)
        .arg(&pred)
        .output();
    let Ok(res) = res else {
        assert!(
            !bacca_testenv::in_ci(),
            "python3 not available but CI is set"
        );
        eprintln!("SKIPPED scoring: python3 not available");
        return;
    };
    let report = String::from_utf8_lossy(&res.stdout);
    println!("{report}");
    assert!(res.status.success(), "pii_eval.py failed");
    let line = report
        .lines()
        .find(|l| l.starts_with("recall "))
        .unwrap_or_default();
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (recall, precision) = (nums[0], nums[1]);
    // thresholds a little under the measured figures (README "Performance")
    assert!(recall >= RECALL_MIN, "recall {recall}");
    assert!(precision >= PRECISION_MIN, "precision {precision}");
}

const RECALL_MIN: f64 = 0.86;
const PRECISION_MIN: f64 = 0.96;
