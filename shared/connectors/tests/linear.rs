//! Linear connector against a mock GraphQL server replaying Linear's response shapes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::json;

use bacca_connectors::linear::{LinearConfig, LinearSource};
use bacca_connectors::{Error, MemoryCheckpointStore, Source};
use secrecy::SecretString;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAGE1: &str = include_str!("../testdata/linear/issues_page1.json");
const PAGE2: &str = include_str!("../testdata/linear/issues_page2.json");
const AUTH: &str = include_str!("../testdata/linear/auth_error.json");

fn source(server: &MockServer) -> LinearSource {
    let (ctx, _) = common::ctx();
    LinearSource::new(
        &ctx,
        SecretString::from("lin_api_test"),
        LinearConfig {
            base_url: server.uri(),
            since: None,
            page_size: 50,
        },
    )
    .unwrap()
}

#[tokio::test]
async fn issues_and_comments_to_the_end_then_incremental() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(header("authorization", "lin_api_test"))
        .and(body_partial_json(
            serde_json::json!({"variables": {"after": null, "filter": null}}),
        ))
        .respond_with(json(PAGE1))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(body_partial_json(
            serde_json::json!({"variables": {"after": "9cfb482a-81e3-4154-b5b9-2c805e70a02d"}}),
        ))
        .respond_with(json(PAGE2))
        .mount(&server)
        .await;
    let mut s = source(&server);
    let store = MemoryCheckpointStore::new();
    let records = common::run_ok(&mut s, &store).await;
    let kinds: Vec<_> = records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["issue", "comment", "issue"]);
    assert_eq!(
        records[0].identities[0].email.as_deref(),
        Some("jane.roe@example.com")
    );
    assert_eq!(records[1].parent_id.as_deref(), Some("ENG-123"));
    assert_eq!(records[0].container.as_deref(), Some("ENG"));

    server.reset().await;
    Mock::given(path("/graphql"))
        .and(body_partial_json(
            serde_json::json!({"variables": {"filter": {"updatedAt": {}}}}),
        ))
        .respond_with(json(
            r#"{"data":{"issues":{"nodes":[],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let again = common::run_ok(&mut s, &store).await;
    assert!(again.is_empty());
}

#[tokio::test]
async fn graphql_auth_errors_are_permanent_and_5xx_is_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/graphql"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/graphql"))
        .respond_with(json(AUTH))
        .with_priority(2)
        .mount(&server)
        .await;
    let mut s = source(&server);
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_and_repeated_cursor() {
    let server = MockServer::start().await;
    Mock::given(path("/graphql"))
        .respond_with(json(r#"{"data":{"issues":{"nodes":[{"id":1}]}}}"#))
        .mount(&server)
        .await;
    let mut s = source(&server);
    assert!(matches!(
        s.fetch_page(None).await,
        Err(Error::Malformed { .. })
    ));
    server.reset().await;
    Mock::given(path("/graphql"))
        .respond_with(json(
            r#"{"data":{"issues":{"nodes":[],"pageInfo":{"hasNextPage":true,"endCursor":"X"}}}}"#,
        ))
        .mount(&server)
        .await;
    let store = MemoryCheckpointStore::new();
    let (_, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::CursorLoop { .. })), "{err:?}");
}
