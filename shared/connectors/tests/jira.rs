//! Jira Cloud connector against a mock server replaying Jira's documented responses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::json;

use bacca_connectors::jira::{JiraConfig, JiraSource};
use bacca_connectors::{Error, MemoryCheckpointStore, Source};
use secrecy::SecretString;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAGE1: &str = include_str!("../testdata/jira/search_page1.json");
const PAGE2: &str = include_str!("../testdata/jira/search_page2.json");
const COMMENTS: &str = include_str!("../testdata/jira/comments.json");

fn source(server: &MockServer) -> JiraSource {
    let (ctx, _) = common::ctx();
    JiraSource::new(
        &ctx,
        SecretString::from("bot@example.com"),
        SecretString::from("jira-token"),
        JiraConfig {
            base_url: server.uri(),
            jql: Some("project = OPS".into()),
            since: None,
        },
    )
    .unwrap()
}

async fn mount(server: &MockServer) {
    // Basic auth of bot@example.com:jira-token.
    let auth = "Basic Ym90QGV4YW1wbGUuY29tOmppcmEtdG9rZW4=";
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .and(header("authorization", auth))
        .and(query_param("jql", "(project = OPS) ORDER BY updated ASC"))
        .and(query_param("expand", "changelog"))
        .and(query_param_is_missing("nextPageToken"))
        .respond_with(json(PAGE1))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .and(query_param("nextPageToken", "CAEaAggD"))
        .respond_with(json(PAGE2))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/OPS-42/comment"))
        .and(query_param("startAt", "1"))
        .respond_with(json(COMMENTS))
        .mount(server)
        .await;
}

#[tokio::test]
async fn issues_comments_and_changelog_to_the_end() {
    let server = MockServer::start().await;
    mount(&server).await;
    let mut s = source(&server);
    let store = MemoryCheckpointStore::new();
    let records = common::run_ok(&mut s, &store).await;
    let kinds: Vec<_> = records
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("issue", "10068"),
            ("comment", "10000"),
            ("comment", "10001"),
            ("change", "10100"),
            ("issue", "10069")
        ]
    );
    let issue = &records[0];
    assert_eq!(issue.container.as_deref(), Some("OPS"));
    assert_eq!(issue.attributes["key"], "OPS-42");
    assert!(issue.text.contains("@Mia Krystof is investigating"));
    assert!(issue
        .identities
        .iter()
        .any(|i| i.role == "reporter" && i.email.as_deref() == Some("mia@example.com")));
    assert!(issue.identities.iter().any(|i| i.role == "mention"));
    assert_eq!(records[1].parent_id.as_deref(), Some("OPS-42"));
    assert!(records[3].text.contains("status: In Progress -> Done"));
    assert!(records[3].identities.iter().any(|i| i.role == "assignee"));

    // The next pass is incremental by `updated`.
    server.reset().await;
    Mock::given(path("/rest/api/3/search/jql"))
        .and(query_param(
            "jql",
            "(project = OPS) AND updated >= \"-2m\" ORDER BY updated ASC",
        ))
        .respond_with(json(r#"{"issues":[],"isLast":true}"#))
        .expect(1)
        .mount(&server)
        .await;
    let again = common::run_ok(&mut s, &store).await;
    assert!(again.is_empty());
}

#[tokio::test]
async fn retries_then_fails_without_advancing() {
    let server = MockServer::start().await;
    mount(&server).await;
    Mock::given(path("/rest/api/3/search/jql"))
        .and(query_param("nextPageToken", "CAEaAggD"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .with_priority(1)
        .expect(3)
        .mount(&server)
        .await;
    let mut s = source(&server);
    let store = MemoryCheckpointStore::new();
    let (first, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::RateLimited { .. })), "{err:?}");
    assert_eq!(first.len(), 4);
    let cp = common::stored(&store, "jira").await.unwrap();
    assert!(cp.0.contains("CAEaAggD"));
}

#[tokio::test]
async fn unauthorized_is_permanent_and_order_by_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = source(&server);
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(matches!(e, Error::Auth { status: 401, .. }));
    assert!(!e.to_string().contains("jira-token"));
    let (ctx, _) = common::ctx();
    assert!(JiraSource::new(
        &ctx,
        SecretString::from("a"),
        SecretString::from("b"),
        JiraConfig {
            base_url: server.uri(),
            jql: Some("project = OPS order by created".into()),
            since: None
        }
    )
    .is_err());
}

#[tokio::test]
async fn a_repeated_page_token_is_bounded() {
    let server = MockServer::start().await;
    Mock::given(path("/rest/api/3/search/jql"))
        .respond_with(json(
            r#"{"issues":[],"nextPageToken":"SAME","isLast":false}"#,
        ))
        .mount(&server)
        .await;
    let mut s = source(&server);
    let store = MemoryCheckpointStore::new();
    let (_, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::CursorLoop { .. })), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
