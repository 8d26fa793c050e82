//! The `bacca anonymize` contract: span lines, text lines, JSON documents, and bad input
//! (invalid UTF-8, over-long lines, bad JSON, deep JSON) reported per line without stopping.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::io::{BufReader, Cursor};

use bacca_anonymizer::cli::{run_json, run_spans, run_text, MAX_LINE_BYTES};
use bacca_anonymizer::{Anonymizer, Directory, Policy};
use serde_json::Value;
use zeroize::Zeroizing;

fn anon() -> Anonymizer {
    Anonymizer::new(
        &Zeroizing::new([4u8; 32]),
        &Policy::default(),
        &Directory::default(),
    )
    .unwrap()
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn spans_use_code_point_offsets_and_exact_format() {
    let input = "{\"text\": \"Écrire à jane@example.com\"}\n{\"text\": \"nothing here\"}\n";
    let mut out = Vec::new();
    let s = run_spans(BufReader::new(Cursor::new(input)), &mut out, &anon()).unwrap();
    assert_eq!(s.lines, 2);
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(
        text,
        "{\"spans\":[{\"start\":9,\"end\":25,\"entity_type\":\"EMAIL_ADDRESS\"}]}\n{\"spans\":[]}\n"
    );
}

#[test]
fn bad_lines_are_reported_and_the_stream_goes_on() {
    let mut input: Vec<u8> = Vec::new();
    input.extend_from_slice(b"{\"text\": \"call +44 20 7946 0958\"}\n");
    input.extend_from_slice(b"{\"text\": \"\xff\xfe bad utf8\"}\n");
    input.extend_from_slice(b"not json\n");
    input.extend_from_slice(b"{\"other\": 1}\n");
    input.extend(std::iter::repeat_n(b'a', MAX_LINE_BYTES + 10));
    input.push(b'\n');
    input.extend_from_slice(b"{\"text\": \"mail a@b.io\"}\n");
    let mut out = Vec::new();
    let s = run_spans(BufReader::new(Cursor::new(input)), &mut out, &anon()).unwrap();
    let v = lines(&out);
    assert_eq!(v.len(), 6, "one output line per input line");
    assert_eq!(v[0]["spans"][0]["entity_type"], "PHONE_NUMBER");
    for (i, kind) in [
        (1, "invalid_utf8"),
        (2, "invalid_json"),
        (3, "missing_text"),
        (4, "too_long"),
    ] {
        assert_eq!(v[i]["error"]["line"], i as u64 + 1);
        assert_eq!(v[i]["error"]["kind"], kind);
        assert_eq!(v[i]["spans"], serde_json::json!([]));
    }
    assert_eq!(v[5]["spans"][0]["entity_type"], "EMAIL_ADDRESS");
    assert_eq!(s.errors.len(), 4);
    assert!(
        !String::from_utf8_lossy(&out).contains("bad utf8"),
        "error records carry no content"
    );
}

#[test]
fn text_mode_keeps_line_numbers_and_operational_tokens() {
    let input: &[u8] = b"paging jane@example.com on web-1.prod.internal trace 4bf92f3577b34da6a3ce929d0e0e4736\n\xff\nok\n";
    let mut out = Vec::new();
    let s = run_text(
        BufReader::new(Cursor::new(input.to_vec())),
        &mut out,
        &anon(),
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let ls: Vec<&str> = text.lines().collect();
    assert_eq!(ls.len(), 3);
    assert!(
        ls[0].contains("<EMAIL_ADDRESS_")
            && ls[0].contains("web-1.prod.internal")
            && ls[0].contains("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(ls[1], "");
    assert_eq!(s.errors.len(), 1);
    assert_eq!(s.report.total(), 1);
}

#[test]
fn json_mode_rejects_deep_documents_per_line() {
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let mut deeper = String::from("{\"a\":");
    for _ in 0..140 {
        deeper.push_str("{\"a\":");
    }
    deeper.push('1');
    deeper.push_str(&"}".repeat(141));
    let input = format!("{{\"usr\":{{\"email\":\"jane@example.com\"}},\"host\":\"db-1\"}}\n{deep}\n{deeper}\n{{\"msg\":\"x\"}}\n");
    let mut out = Vec::new();
    let s = run_json(BufReader::new(Cursor::new(input)), &mut out, &anon()).unwrap();
    let v = lines(&out);
    assert_eq!(v.len(), 4);
    assert!(v[0]["usr"]["email"]
        .as_str()
        .unwrap()
        .starts_with("<EMAIL_ADDRESS_"));
    assert_eq!(v[0]["host"], "db-1");
    assert!(v[2]["error"]["line"] == 3, "{}", v[2]);
    assert_eq!(v[3]["msg"], "x");
    assert!(!s.errors.is_empty());
}

#[test]
fn unknown_entity_type_in_policy_is_a_clear_error() {
    let p = Policy::from_json(r#"{"operators":{"PASSPORT":"redact"}}"#).unwrap();
    let e = Anonymizer::new(&Zeroizing::new([0u8; 32]), &p, &Directory::default()).unwrap_err();
    assert_eq!(e.kind(), "unknown_entity_type");
    assert!(e.to_string().contains("PASSPORT"));
}
