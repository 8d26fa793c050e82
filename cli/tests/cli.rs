//! Black-box tests of the `bacca` binary: the demo, the envelope and keys commands, the
//! anonymizer's span contract, the signature labeller and the sweep.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bacca(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bacca"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn demo_runs_twice_and_finds_no_planted_pii() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    for _ in 0..2 {
        let out = bacca(&["demo", "--dir", d.to_str().unwrap()], b"");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("found in plaintext outputs: 0"), "{stdout}");
        assert!(stdout.contains("acme: raw objects"), "{stdout}");
        assert!(stdout.contains("-> 0 (deleted"), "{stdout}");
        assert!(stdout.contains("dead-lettered messages: 0"), "{stdout}");
    }
    // The audit trail is readable back per tenant and holds no content.
    let out = bacca(
        &[
            "audit",
            "--tenant",
            "acme",
            "--file",
            d.join("audit.jsonl").to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.contains("\"action\":\"sweep\"")));
    assert!(!text.contains("globex"));
}

#[test]
fn envelope_round_trip_both_formats_and_wrong_aad_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ring = format!("local-kms://{}", dir.path().join("k.json").display());
    let out = bacca(&["keys", "create", "--kms", &ring, "--tenant", "acme"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = b"incident 42: rollback fixed it".repeat(1000);
    for streaming in [false, true] {
        let mut enc = vec![
            "envelope", "encrypt", "--kms", &ring, "--tenant", "acme", "--aad", "obj-1",
        ];
        if streaming {
            enc.push("--streaming");
        }
        let ct = bacca(&enc, &plain);
        assert!(
            ct.status.success(),
            "{}",
            String::from_utf8_lossy(&ct.stderr)
        );
        assert_ne!(ct.stdout, plain);
        let dec = [
            "envelope", "decrypt", "--kms", &ring, "--tenant", "acme", "--aad", "obj-1",
        ];
        let pt = bacca(&dec, &ct.stdout);
        assert!(pt.status.success());
        assert_eq!(pt.stdout, plain);
        let wrong = [
            "envelope", "decrypt", "--kms", &ring, "--tenant", "acme", "--aad", "obj-2",
        ];
        let bad = bacca(&wrong, &ct.stdout);
        assert!(!bad.status.success());
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(
            !err.contains("rollback"),
            "error output must not carry plaintext"
        );
    }
    // Another tenant's key cannot decrypt.
    bacca(
        &["keys", "create", "--kms", &ring, "--tenant", "globex"],
        b"",
    );
    let ct = bacca(
        &["envelope", "encrypt", "--kms", &ring, "--tenant", "acme"],
        b"x",
    );
    let other = bacca(
        &["envelope", "decrypt", "--kms", &ring, "--tenant", "globex"],
        &ct.stdout,
    );
    assert!(!other.status.success());
}

#[test]
fn anonymize_spans_contract_is_exact() {
    let input =
        "{\"text\": \"mail jane.doe@example.com now\"}\nnot json\n{\"text\": \"no pii here\"}\n";
    let out = bacca(&["anonymize", "--spans"], input.as_bytes());
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "one output line per input line, in order");
    let span = &lines[0]["spans"][0];
    assert_eq!(span["start"], 5);
    assert_eq!(span["end"], 25);
    assert_eq!(span["entity_type"], "EMAIL_ADDRESS");
    assert!(
        lines[1]["error"].is_object(),
        "a bad line is reported, the stream goes on"
    );
    assert_eq!(lines[2]["spans"].as_array().unwrap().len(), 0);
}

#[test]
fn signatures_label_each_line() {
    let input = "conn 10.0.0.1 closed after 12 ms\nconn 10.0.0.2 closed after 7 ms\nconn 10.0.0.9 closed after 3 ms\ndisk full on /var\n";
    let out = bacca(&["signatures"], input.as_bytes());
    assert!(out.status.success());
    let labels: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(labels.len(), 4);
    assert_eq!(labels[0], labels[1]);
    assert_eq!(labels[1], labels[2]);
    assert_ne!(labels[0], labels[3]);
}

#[test]
fn sweep_of_an_empty_bucket_reports_nothing_deleted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let store = format!("file://{}", dir.path().join("b").display());
    let out = bacca(
        &[
            "sweep",
            "--store",
            &store,
            "--tenant",
            "acme",
            "--now",
            "2026-01-01T00:00:00Z",
            "--dry-run",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["deleted"], 0);
    assert_eq!(report["dry_run"], true);
}

#[test]
fn erase_after_the_demo_removes_the_person_then_reports_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    let d = d.to_str().unwrap();
    assert!(bacca(&["demo", "--dir", d], b"").status.success());
    let email = "dana.whitfield@acme-corp.example";
    let args = [
        "erase",
        "--dir",
        d,
        "--tenant",
        "acme",
        "--email",
        email,
        "--slack-user",
        "U0ACME0DW",
    ];
    let first = bacca(&args, b"");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert!(
        report["graph"]["nodes_deleted"].as_u64().unwrap() > 0,
        "{report}"
    );
    let second = bacca(&args, b"");
    let again: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(again["graph"]["nodes_deleted"], 0);
    assert_eq!(again["graph"]["labels_rewritten"], 0);
    let audit = std::fs::read_to_string(std::path::Path::new(d).join("audit.jsonl")).unwrap();
    assert_eq!(audit.matches("\"action\":\"erasure\"").count(), 2);
    for text in [
        audit.as_str(),
        &String::from_utf8_lossy(&first.stdout),
        &String::from_utf8_lossy(&first.stderr),
    ] {
        assert!(!text.contains(email) && !text.contains("U0ACME0DW"));
    }
}
