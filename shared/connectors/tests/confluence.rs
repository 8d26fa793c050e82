//! Confluence Cloud connector against a mock server replaying the v2 pages API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::json;

use bacca_connectors::confluence::{ConfluenceConfig, ConfluenceSource};
use bacca_connectors::{Error, MemoryCheckpointStore, Source};
use secrecy::SecretString;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAGE1: &str = include_str!("../testdata/confluence/pages_page1.json");
const PAGE2: &str = include_str!("../testdata/confluence/pages_page2.json");

fn source(server: &MockServer) -> ConfluenceSource {
    let (ctx, _) = common::ctx();
    ConfluenceSource::new(
        &ctx,
        SecretString::from("bot@example.com"),
        SecretString::from("confluence-token"),
        ConfluenceConfig {
            base_url: server.uri(),
            space_ids: vec!["65538".into()],
            page_size: 100,
        },
    )
    .unwrap()
}

async fn mount(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/pages"))
        .and(query_param("body-format", "storage"))
        .and(query_param("sort", "-modified-date"))
        .and(query_param("space-id", "65538"))
        .and(query_param_is_missing("cursor"))
        .respond_with(json(PAGE1))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/pages"))
        .and(query_param("cursor", "eyJpZCI6Ijk4MzExIn0="))
        .respond_with(json(PAGE2))
        .mount(server)
        .await;
}

#[tokio::test]
async fn pages_to_the_end_then_only_changes() {
    let server = MockServer::start().await;
    mount(&server).await;
    let mut s = source(&server);
    let store = MemoryCheckpointStore::new();
    let records = common::run_ok(&mut s, &store).await;
    assert_eq!(records.len(), 2);
    let p = &records[0];
    assert!(p.text.starts_with("Postmortem: checkout latency"));
    assert!(p.text.contains("exhausted the orders DB pool"));
    assert!(!p.text.contains("<p>"));
    assert!(p.identities.iter().any(|i| i.role == "mention"));
    assert_eq!(p.container.as_deref(), Some("65538"));

    // Nothing changed: the second pass stops at the first page (the watermark).
    let again = common::run_ok(&mut s, &store).await;
    assert!(again.is_empty());
}

#[tokio::test]
async fn failures_keep_the_checkpoint() {
    let server = MockServer::start().await;
    mount(&server).await;
    Mock::given(path("/wiki/api/v2/pages"))
        .and(query_param("cursor", "eyJpZCI6Ijk4MzExIn0="))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&server)
        .await;
    let mut s = source(&server);
    let store = MemoryCheckpointStore::new();
    let (first, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::Transient { .. })), "{err:?}");
    assert_eq!(first.len(), 1);
    let cp = common::stored(&store, "confluence").await.unwrap();
    assert!(cp.0.contains("eyJpZCI6Ijk4MzExIn0="));
    server.reset().await;
    Mock::given(path("/wiki/api/v2/pages"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    assert!(matches!(
        s.fetch_page(Some(&cp)).await,
        Err(Error::Auth { status: 401, .. })
    ));
}
