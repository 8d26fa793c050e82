//! The connectors' public page parsers (the fuzz targets' entry points) over the vendors'
//! documented page shapes, and over truncated pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bacca_connectors::{confluence, gdrive, jira, linear, notion, Error, Record};

const JIRA1: &str = include_str!("../testdata/jira/search_page1.json");
const JIRA2: &str = include_str!("../testdata/jira/search_page2.json");
const LINEAR1: &str = include_str!("../testdata/linear/issues_page1.json");
const LINEAR2: &str = include_str!("../testdata/linear/issues_page2.json");
const LINEAR_AUTH: &str = include_str!("../testdata/linear/auth_error.json");
const CONFLUENCE1: &str = include_str!("../testdata/confluence/pages_page1.json");
const CONFLUENCE2: &str = include_str!("../testdata/confluence/pages_page2.json");
const NOTION_SEARCH: &str = include_str!("../testdata/notion/search.json");
const NOTION_ROOT: &str = include_str!("../testdata/notion/children_root.json");
const DRIVE1: &str = include_str!("../testdata/gdrive/files_page1.json");
const DRIVE2: &str = include_str!("../testdata/gdrive/files_page2.json");

fn kinds(records: &[Record]) -> Vec<(&str, &str)> {
    records
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .collect()
}

#[test]
fn jira_search_pages() {
    let (records, next) = jira::parse_search_page(JIRA1.as_bytes()).unwrap();
    assert_eq!(next.as_deref(), Some("CAEaAggD"));
    let k = kinds(&records);
    assert_eq!(k.first(), Some(&("issue", "10068")));
    assert!(k.contains(&("comment", "10000")) && k.contains(&("change", "10100")));
    // The comment beyond the embedded ones is fetched by the connector, not parsed here.
    assert!(!k.contains(&("comment", "10001")));
    let (records, next) = jira::parse_search_page(JIRA2.as_bytes()).unwrap();
    assert_eq!(kinds(&records), [("issue", "10069")]);
    assert_eq!(next, None);
    // `isLast` wins over a token.
    let (_, next) =
        jira::parse_search_page(br#"{"issues":[],"nextPageToken":"T","isLast":true}"#).unwrap();
    assert_eq!(next, None);
}

#[test]
fn linear_issue_pages_and_graphql_errors() {
    let (records, next) = linear::parse_issues_page(LINEAR1.as_bytes()).unwrap();
    assert_eq!(
        next.as_deref(),
        Some("9cfb482a-81e3-4154-b5b9-2c805e70a02d")
    );
    let k: Vec<_> = records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(k, ["issue", "comment"]);
    let (records, next) = linear::parse_issues_page(LINEAR2.as_bytes()).unwrap();
    assert_eq!((records.len(), next), (1, None));
    assert!(matches!(
        linear::parse_issues_page(LINEAR_AUTH.as_bytes()),
        Err(Error::Auth { .. })
    ));
}

#[test]
fn confluence_pages() {
    let (records, next) = confluence::parse_pages_page(CONFLUENCE1.as_bytes()).unwrap();
    assert_eq!(next.as_deref(), Some("eyJpZCI6Ijk4MzExIn0="));
    assert!(records.iter().all(|r| r.updated_at.is_some()));
    assert!(records
        .iter()
        .flat_map(|r| &r.identities)
        .any(|i| i.role == "mention"));
    let (records, next) = confluence::parse_pages_page(CONFLUENCE2.as_bytes()).unwrap();
    assert_eq!((kinds(&records), next), (vec![("page", "98290")], None));
}

#[test]
fn notion_search_and_block_children() {
    let (records, next) = notion::parse_search_page(NOTION_SEARCH.as_bytes()).unwrap();
    assert_eq!(next, None);
    assert_eq!(
        records.first().map(|r| r.id.as_str()),
        Some("59833787-2cf9-4fdf-8782-e53db20768a5")
    );
    let blocks = notion::parse_block_children(NOTION_ROOT.as_bytes()).unwrap();
    assert!(blocks.blocks > 0 && !blocks.truncated);
    assert!(blocks
        .children
        .contains(&"acc7eb06-05cd-4603-a384-5e1e4f1f4e72".to_owned()));
    assert!(!blocks.text.is_empty());
}

#[test]
fn drive_file_pages() {
    let (records, next) = gdrive::parse_files_page(DRIVE1.as_bytes()).unwrap();
    assert_eq!(
        next.as_deref(),
        Some("~!!~AI9FV7QkVvZ2x1cGxlX2RyaXZlX3BhZ2VfMg")
    );
    assert!(records.iter().all(|r| r.attributes["text_read"] == false));
    assert!(records
        .iter()
        .flat_map(|r| &r.identities)
        .any(|i| i.role == "owner"));
    let (records, next) = gdrive::parse_files_page(DRIVE2.as_bytes()).unwrap();
    assert_eq!(
        (kinds(&records), next),
        (vec![("file", "1Zx9Q-binary_file")], None)
    );
}

#[test]
fn truncated_pages_are_malformed_without_content() {
    type Parser = fn(&[u8]) -> Result<usize, Error>;
    let cases: [(&str, Parser); 6] = [
        (JIRA1, |b| jira::parse_search_page(b).map(|p| p.0.len())),
        (LINEAR1, |b| linear::parse_issues_page(b).map(|p| p.0.len())),
        (CONFLUENCE1, |b| {
            confluence::parse_pages_page(b).map(|p| p.0.len())
        }),
        (NOTION_SEARCH, |b| {
            notion::parse_search_page(b).map(|p| p.0.len())
        }),
        (NOTION_ROOT, |b| {
            notion::parse_block_children(b).map(|p| p.blocks)
        }),
        (DRIVE1, |b| gdrive::parse_files_page(b).map(|p| p.0.len())),
    ];
    for (page, parse) in cases {
        let bytes = page.as_bytes();
        let e = parse(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
        let msg = format!("{e} {e:?}");
        // No piece of the page (a 12-character window of its second quarter) in the error.
        let at = bytes.len() / 4;
        let probe = String::from_utf8_lossy(&bytes[at..at + 12]);
        assert!(!msg.contains(probe.as_ref()), "{msg}");
    }
}
