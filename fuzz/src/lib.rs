//! Fuzz target bodies for bacca's parsers, shared by the cargo-fuzz targets in `fuzz_targets/`
//! and by the stable-Rust fallback (`tests/tests/hostile_fuzz.rs` in the workspace, which runs
//! every seed corpus plus mutated and random inputs through the same functions).
//!
//! Each function takes arbitrary bytes and panics only when an invariant is broken:
//!
//! - [`push_decode`]: the Pub/Sub push / CloudEvent / Scheduler decoder never panics, and a
//!   decoded push message carries exactly the base64-decoded `data`;
//! - [`envelope`]: Tink KmsEnvelopeAead decryption of arbitrary or mutated ciphertexts never
//!   panics and never returns a plaintext other than the one encrypted;
//! - [`streaming`]: the same for the AES-GCM-HKDF streaming format and the key protos;
//! - [`anonymizer`]: spans are ordered, non-empty, on char boundaries, and every detected
//!   occurrence of a value (four or more characters) is gone from the anonymized output: the
//!   value may remain only as often as it also occurs undetected in the input (pseudonymize,
//!   redact, mask);
//! - [`slack_page`], [`datadog_pages`], [`jira_page`], [`linear_page`], [`confluence_page`],
//!   [`notion_pages`], [`gdrive_page`]: the connectors' public page parsers never panic, return
//!   no more records than the input has bytes, and every record serializes as a JSON line;
//! - [`slack_export`]: the Slack export ZIP reader (as raw archive bytes, and as an archive
//!   built from the input's pieces) never panics and reads within its limits.
#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // a broken invariant must abort the fuzzer

use std::io::Read;
use std::sync::{Arc, OnceLock};

use bacca_anonymizer::{Anonymizer, Directory, Operator, Policy};
use bacca_crypto::{EncryptOptions, EnvelopeAead, Keyring, Kms, StreamingKey, SEGMENT_4KB};
use http::{HeaderMap, HeaderValue};
use zeroize::Zeroizing;

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by name (the names of `fuzz_targets/*.rs` and `corpus/*/`).
pub const TARGETS: [(&str, Target); 12] = [
    ("push_decode", push_decode),
    ("envelope", envelope),
    ("streaming", streaming),
    ("anonymizer", anonymizer),
    ("slack_page", slack_page),
    ("datadog_pages", datadog_pages),
    ("jira_page", jira_page),
    ("linear_page", linear_page),
    ("confluence_page", confluence_page),
    ("notion_pages", notion_pages),
    ("gdrive_page", gdrive_page),
    ("slack_export", slack_export),
];

/// The decoder under every transport the first byte selects.
pub fn push_decode(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    match selector % 4 {
        1 => {
            headers.insert("ce-id", HeaderValue::from_static("1"));
            headers.insert(
                "ce-source",
                HeaderValue::from_static("//pubsub.googleapis.com/projects/p/topics/t"),
            );
            headers.insert("ce-specversion", HeaderValue::from_static("1.0"));
            headers.insert(
                "ce-type",
                HeaderValue::from_static("google.cloud.pubsub.topic.v1.messagePublished"),
            );
            headers.insert("ce-time", HeaderValue::from_static("2026-11-20T10:15:30Z"));
        }
        2 => {
            headers.insert("x-cloudscheduler", HeaderValue::from_static("true"));
        }
        3 => {
            // Header values from the input itself (visible ASCII only, as HTTP allows).
            let text: String = body
                .iter()
                .take(64)
                .map(|b| char::from(0x20 + (b % 0x5f)))
                .collect();
            if let Ok(v) = HeaderValue::from_str(&text) {
                headers.insert("ce-id", v.clone());
                headers.insert("ce-source", v.clone());
                headers.insert("ce-specversion", v.clone());
                headers.insert("ce-type", v.clone());
                headers.insert("ce-time", v);
            }
        }
        _ => {}
    }
    let _ = bacca_runtime::decode::decode(&headers, body);
    if let Ok(event) = bacca_runtime::decode::decode_push(body) {
        // The decoded data is exactly the base64 `data` field of the message.
        // (Ignored fields may hold invalid UTF-8 that serde skips without validating, so the
        // body need not parse as a `Value`.)
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        if let Some(b64) = v["message"]["data"].as_str() {
            use base64::Engine as _;
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) {
                assert_eq!(
                    &raw[..],
                    &event.data[..],
                    "push data differs from its base64"
                );
            }
        }
    }
}

struct Crypto {
    _dir: tempfile::TempDir,
    kek: Arc<dyn Kms>,
    rt: tokio::runtime::Runtime,
    plaintext: Vec<u8>,
    envelope: Vec<u8>,
    streaming_envelope: Vec<u8>,
    stream_key: StreamingKey,
    stream_ct: Vec<u8>,
}

const AAD: &[u8] = b"tenant=acme;object=raw/slack/x;purpose=raw";

fn crypto() -> &'static Crypto {
    static CRYPTO: OnceLock<Crypto> = OnceLock::new();
    CRYPTO.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = Keyring::new(dir.path().join("k.json"), bacca_audit::AuditSink::Discard);
        ring.create("acme").expect("create key");
        let kek: Arc<dyn Kms> = Arc::new(ring.kek("acme").expect("kek"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let plaintext: Vec<u8> = (0..9000u32).map(|i| (i % 251) as u8).collect();
        let envelope = rt
            .block_on(EnvelopeAead::new(Arc::clone(&kek)).encrypt(&plaintext, AAD))
            .expect("encrypt");
        let mut streaming_envelope = Vec::new();
        rt.block_on(bacca_crypto::ops::envelope_encrypt_with(
            Arc::clone(&kek),
            AAD,
            plaintext.as_slice(),
            &mut streaming_envelope,
            EncryptOptions {
                streaming: true,
                segment_size: SEGMENT_4KB,
            },
        ))
        .expect("streaming encrypt");
        let stream_key = StreamingKey::generate(SEGMENT_4KB).expect("streaming key");
        let mut enc = stream_key.encryptor(AAD, Vec::new()).expect("encryptor");
        std::io::Write::write_all(&mut enc, &plaintext).expect("write");
        let stream_ct = enc.finish().expect("finish");
        Crypto {
            _dir: dir,
            kek,
            rt,
            plaintext,
            envelope,
            streaming_envelope,
            stream_key,
            stream_ct,
        }
    })
}

/// Applies the mutation the input describes to `valid`: byte 0 picks raw input, XOR at an
/// offset, truncation, splice or insertion, so the fuzzer reaches deep into valid structure
/// even though the keys are generated per process.
fn mutate(valid: &[u8], data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    let at = |i: usize| -> usize {
        let b = rest
            .get(i..i + 2)
            .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        if valid.is_empty() {
            0
        } else {
            b % valid.len()
        }
    };
    let tail = rest.get(2..).unwrap_or(&[]);
    match mode % 5 {
        0 => rest.to_vec(),
        1 => {
            let mut v = valid.to_vec();
            let start = at(0);
            for (i, x) in tail.iter().enumerate() {
                if let Some(b) = v.get_mut(start + i) {
                    *b ^= x;
                }
            }
            v
        }
        2 => valid[..at(0)].to_vec(),
        3 => [&valid[..at(0)], tail].concat(),
        _ => {
            let p = at(0);
            [&valid[..p], tail, &valid[p..]].concat()
        }
    }
}

/// Envelope (Tink KmsEnvelopeAead) decryption, in memory and through the streaming entry point.
pub fn envelope(data: &[u8]) {
    let c = crypto();
    let (which, data) = data.split_first().map_or((0, data), |(w, d)| (*w, d));
    let valid = if which % 2 == 0 {
        &c.envelope
    } else {
        &c.streaming_envelope
    };
    let ct = mutate(valid, data);
    let in_memory =
        c.rt.block_on(EnvelopeAead::new(Arc::clone(&c.kek)).decrypt(&ct, AAD));
    if let Ok(pt) = in_memory {
        assert_eq!(pt, c.plaintext, "envelope decrypted to another plaintext");
    }
    let mut out = Vec::new();
    let streamed = c.rt.block_on(bacca_crypto::envelope_decrypt(
        Arc::clone(&c.kek),
        AAD,
        ct.as_slice(),
        &mut out,
    ));
    if streamed.is_ok() {
        assert_eq!(
            out, c.plaintext,
            "envelope_decrypt produced another plaintext"
        );
    }
}

/// AES-GCM-HKDF streaming decryption of mutated segments, and the key proto decoders.
pub fn streaming(data: &[u8]) {
    let c = crypto();
    let _ = StreamingKey::from_proto(data);
    let _ = bacca_crypto::proto::decode_aes_gcm_key(data);
    let _ = bacca_crypto::proto::decode_streaming_key(data);
    let ct = mutate(&c.stream_ct, data);
    let mut out = Vec::new();
    // Read in small pieces so segment boundaries inside `read` are exercised too.
    let mut dec = c.stream_key.decryptor(AAD, ct.as_slice());
    let mut buf = [0u8; 1000];
    let result = loop {
        match dec.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    if result.is_ok() {
        assert_eq!(out, c.plaintext, "streaming decrypted to another plaintext");
    }
}

fn anonymizers() -> &'static [Anonymizer; 3] {
    static ANON: OnceLock<[Anonymizer; 3]> = OnceLock::new();
    ANON.get_or_init(|| {
        let key = Zeroizing::new([8u8; 32]);
        let build = |op| {
            let policy = Policy {
                default_operator: op,
                ..Policy::default()
            };
            Anonymizer::new(&key, &policy, &Directory::default()).expect("anonymizer")
        };
        [
            build(Operator::Pseudonymize),
            build(Operator::Redact),
            build(Operator::Mask),
        ]
    })
}

/// Spans are valid and no detected value survives anonymization.
pub fn anonymizer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let mut last = 0;
    for sp in &bacca_anonymizer::spans(text) {
        assert!(
            sp.start >= last && sp.end > sp.start && sp.end <= text.len(),
            "bad span"
        );
        assert!(text.is_char_boundary(sp.start) && text.is_char_boundary(sp.end));
        last = sp.end;
    }
    for a in anonymizers() {
        let found = a.spans(text);
        let (out, _) = a.anonymize_text(text);
        // The text with every detected span blanked: what the detectors left alone.
        let mut blanked = text.as_bytes().to_vec();
        for sp in &found {
            blanked[sp.start..sp.end].fill(0);
        }
        let blanked = String::from_utf8(blanked).expect("spans lie on char boundaries");
        for sp in &found {
            let value = &text[sp.start..sp.end];
            if value.chars().count() >= 4 {
                // Every detected occurrence is replaced: the value may appear in the output
                // only as often as it appears undetected in the input.
                assert!(
                    out.matches(value).count() <= blanked.matches(value).count(),
                    "a detected value survived anonymization"
                );
            }
        }
    }
}

/// Slack `conversations.history` page parser.
pub fn slack_page(data: &[u8]) {
    if let Ok((records, _cursor)) = bacca_connectors::slack::parse_history_page("C0FUZZ", data) {
        assert!(records.len() <= data.len(), "more records than input bytes");
    }
}

/// Datadog logs, incidents, monitors and timeseries parsers, all four on the whole input.
pub fn datadog_pages(data: &[u8]) {
    use bacca_connectors::datadog;
    let _ = datadog::parse_logs_page(data);
    let _ = datadog::parse_incidents_page(data);
    let _ = datadog::parse_monitors_page(data);
    let _ = datadog::parse_timeseries(data, "avg:system.cpu.user{*}", 1_763_600_000_000);
}

/// The invariants of every parsed page: at most one record per input byte, each one a valid
/// JSON line.
fn check_records(records: &[bacca_connectors::Record], data: &[u8]) {
    assert!(records.len() <= data.len(), "more records than input bytes");
    serializes(records);
}

fn serializes(records: &[bacca_connectors::Record]) {
    let mut line = Vec::new();
    for r in records {
        line.clear();
        r.write_json_line(&mut line).expect("a record serializes");
        assert_eq!(line.last(), Some(&b'\n'));
    }
}

/// Jira `/rest/api/3/search/jql` page parser (issues, embedded comments and changelog, ADF).
pub fn jira_page(data: &[u8]) {
    if let Ok((records, _token)) = bacca_connectors::jira::parse_search_page(data) {
        check_records(&records, data);
    }
}

/// Linear GraphQL `issues` page parser (issues, embedded comments, GraphQL errors).
pub fn linear_page(data: &[u8]) {
    if let Ok((records, _cursor)) = bacca_connectors::linear::parse_issues_page(data) {
        check_records(&records, data);
    }
}

/// Confluence v2 pages parser (storage-format XHTML to text, mentions, `_links.next`).
pub fn confluence_page(data: &[u8]) {
    if let Ok((records, _cursor)) = bacca_connectors::confluence::parse_pages_page(data) {
        check_records(&records, data);
    }
    // The storage-format converter on its own, over arbitrary text.
    let (text, ids) = bacca_connectors::confluence::storage_text(&String::from_utf8_lossy(data));
    assert!(ids.len() <= data.len());
    assert!(text.len() <= data.len() * 3 + 3, "text grew past the input");
}

/// Notion search page and block-children parsers (rich text, mentions, children to read).
pub fn notion_pages(data: &[u8]) {
    use bacca_connectors::notion;
    if let Ok((records, _cursor)) = notion::parse_search_page(data) {
        check_records(&records, data);
    }
    if let Ok(blocks) = notion::parse_block_children(data) {
        assert!(blocks.children.len() <= blocks.blocks && blocks.blocks <= data.len());
    }
}

/// Google Drive `files.list` page parser.
pub fn gdrive_page(data: &[u8]) {
    if let Ok((records, _token)) = bacca_connectors::gdrive::parse_files_page(data) {
        check_records(&records, data);
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

/// A stored (uncompressed) ZIP of `entries`, so mutations of the JSON inside reach the parser
/// (the reader checks each entry's CRC).
fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(*name, opts).expect("zip entry");
        w.write_all(data).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// Slack export ZIP reader. Byte 0 even: the rest is the archive. Odd: the rest, split at
/// `\x00` bytes, is `channels.json`, `users.json` and a day file of channel `incidents`, put
/// in a valid archive. Then reads the directory and every allowlisted day file, within small
/// limits.
pub fn slack_export(data: &[u8]) {
    use bacca_connectors::slack::{ExportLimits, SlackExportSource};
    use bacca_connectors::Source as _;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let archive = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut parts = rest.splitn(3, |b| *b == 0);
        let channels = parts.next().unwrap_or_default();
        let users = parts.next().unwrap_or_default();
        let day = parts.next().unwrap_or_default();
        stored_zip(&[
            ("channels.json", channels),
            ("users.json", users),
            ("incidents/2023-11-14.json", day),
        ])
    };
    let limits = ExportLimits {
        max_entries: 64,
        max_entry_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
    };
    let channels = ["C0INCIDENT".to_owned(), "incidents".to_owned()];
    let Ok(mut source) = SlackExportSource::new(std::io::Cursor::new(archive), &channels, limits)
    else {
        return;
    };
    runtime().block_on(async {
        let _ = source.directory().await;
        let mut checkpoint = None;
        // Each page consumes one day file; the archive has at most 64 entries.
        for _ in 0..=limits.max_entries {
            match source.fetch_page(checkpoint.as_ref()).await {
                Ok(page) => {
                    // A deflated entry may hold more records than the archive has bytes.
                    serializes(&page.records);
                    if page.done {
                        return;
                    }
                    assert_ne!(
                        checkpoint.as_ref(),
                        Some(&page.next_checkpoint),
                        "the export reader repeated its checkpoint"
                    );
                    checkpoint = Some(page.next_checkpoint);
                }
                Err(_) => return,
            }
        }
        panic!("the export reader did not finish within its entry count");
    });
}
