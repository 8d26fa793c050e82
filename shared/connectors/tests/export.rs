//! Slack export import: allowlist, resume, path traversal and zip bombs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Cursor, Write};

use bacca_connectors::slack::{ExportLimits, SlackExportSource};
use bacca_connectors::{Error, MemoryCheckpointStore, Source};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const CHANNELS: &str = include_str!("../testdata/slack_export/channels.json");
const DAY1: &str = include_str!("../testdata/slack_export/incidents_2023-11-14.json");
const DAY2: &str = include_str!("../testdata/slack_export/incidents_2023-11-15.json");
const RANDOM: &str = include_str!("../testdata/slack_export/random_2023-11-14.json");
const USERS: &str = r#"[{"id":"U012AB3CDE","name":"spengler","real_name":"Egon Spengler","profile":{"real_name":"Egon Spengler","display_name":"spengler","email":"spengler@ghostbusters.example.com"}}]"#;

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn export() -> Vec<u8> {
    zip_of(&[
        ("channels.json", CHANNELS.as_bytes()),
        ("users.json", USERS.as_bytes()),
        ("incidents/2023-11-14.json", DAY1.as_bytes()),
        ("incidents/2023-11-15.json", DAY2.as_bytes()),
        ("random/2023-11-14.json", RANDOM.as_bytes()),
    ])
}

fn open(bytes: Vec<u8>, channels: &[&str]) -> Result<SlackExportSource<Cursor<Vec<u8>>>, Error> {
    let channels: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
    SlackExportSource::new(Cursor::new(bytes), &channels, ExportLimits::default())
}

#[tokio::test]
async fn reads_only_allowlisted_channels_and_resumes() {
    let mut s = open(export(), &["C0INCIDENT"]).unwrap();
    let store = MemoryCheckpointStore::new();
    let records = common::run_ok(&mut s, &store).await;
    assert_eq!(records.len(), 3);
    assert!(records
        .iter()
        .all(|r| r.container.as_deref() == Some("C0INCIDENT")));
    assert!(records.iter().all(|r| r.text != "lunch?"));
    assert_eq!(records[1].kind, "reply");
    let author = &records[0].identities[0];
    assert_eq!(author.name.as_deref(), Some("Glinda Southgood"));
    assert_eq!(author.handle.as_deref(), Some("glinda"));
    // A second run finds nothing new.
    let mut s = open(export(), &["incidents"]).unwrap();
    let (again, err) = common::run(&mut s, &store).await;
    assert!(err.is_none());
    assert!(again.is_empty());
    let dir = s.directory().await.unwrap();
    assert_eq!(dir.people[0].emails, ["spengler@ghostbusters.example.com"]);
}

#[tokio::test]
async fn path_traversal_rejects_the_archive() {
    let bytes = zip_of(&[
        ("channels.json", CHANNELS.as_bytes()),
        ("../../etc/cron.d/x", b"* * * * * root sh"),
    ]);
    let e = open(bytes, &["C0INCIDENT"]).unwrap_err();
    assert!(
        matches!(e, Error::Export(ref m) if m.contains("traversal")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_zip_bomb_stops_at_the_limit() {
    let bomb = vec![b' '; 8 * 1024 * 1024];
    let mut day = b"[".to_vec();
    day.extend_from_slice(&bomb);
    day.push(b']');
    let bytes = zip_of(&[
        ("channels.json", CHANNELS.as_bytes()),
        ("incidents/2023-11-14.json", &day),
    ]);
    assert!(bytes.len() < 100_000, "highly compressed");
    let limits = ExportLimits {
        max_entry_bytes: 1024 * 1024,
        ..ExportLimits::default()
    };
    let mut s = SlackExportSource::new(Cursor::new(bytes), &["C0INCIDENT".into()], limits).unwrap();
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(
        matches!(e, Error::Export(ref m) if m.contains("size limit")),
        "{e:?}"
    );
    let too_many = ExportLimits {
        max_entries: 1,
        ..ExportLimits::default()
    };
    let e = SlackExportSource::new(Cursor::new(export()), &["C0INCIDENT".into()], too_many)
        .unwrap_err();
    assert!(matches!(e, Error::Export(_)));
}

#[tokio::test]
async fn bad_day_file_writes_nothing_and_keeps_the_checkpoint() {
    let bytes = zip_of(&[
        ("channels.json", CHANNELS.as_bytes()),
        ("incidents/2023-11-14.json", DAY1.as_bytes()),
        ("incidents/2023-11-15.json", br#"[{"ts": 12, "text": "x"}]"#),
    ]);
    let mut s = open(bytes, &["C0INCIDENT"]).unwrap();
    let store = MemoryCheckpointStore::new();
    let (records, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::Malformed { .. })), "{err:?}");
    assert_eq!(records.len(), 2);
    let cp = common::stored(&store, "slack-export").await.unwrap();
    assert!(cp.0.contains("2023-11-14"));
    assert!(open(b"not a zip".to_vec(), &["C1"]).is_err());
    assert!(open(export(), &[]).is_err());
}
