//! Notion connector against a mock server replaying the documented search and block lists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{json, json_status};

use bacca_connectors::notion::{NotionConfig, NotionSource, NOTION_VERSION};
use bacca_connectors::{Error, MemoryCheckpointStore, Source};
use secrecy::SecretString;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SEARCH: &str = include_str!("../testdata/notion/search.json");
const ROOT: &str = include_str!("../testdata/notion/children_root.json");
const NESTED: &str = include_str!("../testdata/notion/children_nested.json");

fn source(server: &MockServer) -> NotionSource {
    let (ctx, _) = common::ctx();
    NotionSource::new(
        &ctx,
        SecretString::from("secret_notion_test"),
        NotionConfig {
            base_url: server.uri(),
            page_size: 10,
        },
    )
    .unwrap()
}

async fn mount(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(header("Notion-Version", NOTION_VERSION))
        .and(header("authorization", "Bearer secret_notion_test"))
        .respond_with(json(SEARCH))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/v1/blocks/59833787-2cf9-4fdf-8782-e53db20768a5/children",
        ))
        .and(header("Notion-Version", NOTION_VERSION))
        .respond_with(json(ROOT))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/v1/blocks/acc7eb06-05cd-4603-a384-5e1e4f1f4e72/children",
        ))
        .respond_with(json(NESTED))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn pages_with_recursive_blocks_then_only_changes() {
    let server = MockServer::start().await;
    mount(&server).await;
    let mut s = source(&server);
    let store = MemoryCheckpointStore::new();
    let records = common::run_ok(&mut s, &store).await;
    assert_eq!(records.len(), 1);
    let p = &records[0];
    assert_eq!(
        p.text,
        "Incident review: checkout latency\nTimeline\n22:12 paged @Avocado Lovelace\nrolled back deploy 4512"
    );
    let m = p.identities.iter().find(|i| i.role == "mention").unwrap();
    assert_eq!(m.email.as_deref(), Some("avo@example.org"));
    assert_eq!(
        p.parent_id.as_deref(),
        Some("d9824bdc-8445-4327-be8b-5b47500af6ce")
    );
    // Unchanged page: the next pass reads no blocks.
    server.reset().await;
    Mock::given(path("/v1/search"))
        .respond_with(json(SEARCH))
        .mount(&server)
        .await;
    let again = common::run_ok(&mut s, &store).await;
    assert!(again.is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn rate_limited_then_ok_and_unauthorized_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/search"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_raw(r#"{"object":"error","status":429,"code":"rate_limited","message":"Rate limited"}"#, "application/json"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server).await;
    let mut s = source(&server);
    let page = s.fetch_page(None).await.unwrap();
    assert_eq!(page.records.len(), 1);

    server.reset().await;
    Mock::given(path("/v1/search"))
        .respond_with(json_status(401, r#"{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid."}"#))
        .expect(1)
        .mount(&server)
        .await;
    assert!(matches!(
        s.fetch_page(None).await,
        Err(Error::Auth { status: 401, .. })
    ));
}
