//! Datadog connector against a mock server replaying Datadog's documented responses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{json, json_status};

use std::time::Duration;

use bacca_connectors::datadog::{DatadogConfig, DatadogKeys, DatadogSource};
use bacca_connectors::{Error, MemoryCheckpointStore, Source};
use secrecy::SecretString;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LOGS1: &str = include_str!("../testdata/datadog/logs_page1.json");
const LOGS2: &str = include_str!("../testdata/datadog/logs_page2.json");
const INCIDENTS: &str = include_str!("../testdata/datadog/incidents.json");
const MONITORS: &str = include_str!("../testdata/datadog/monitors.json");
const AFTER: &str = "eyJhZnRlciI6IkFRQUFBWXZRMUJUcVMyZDR0QSJ9";

fn source(server: &MockServer, logs: bool, incidents: bool, monitors: bool) -> DatadogSource {
    let (ctx, _) = common::ctx();
    let mut cfg = DatadogConfig::new(&server.uri());
    cfg.logs_query = logs.then(|| "service:checkout-api status:error".to_owned());
    cfg.incidents = incidents;
    cfg.monitors = monitors;
    cfg.since = Some("2023-11-14T00:00:00Z".parse().unwrap());
    DatadogSource::new(
        &ctx,
        DatadogKeys {
            api_key: SecretString::from("dd-api-key-test"),
            app_key: SecretString::from("dd-app-key-test"),
        },
        cfg,
    )
    .unwrap()
}

async fn mount_logs(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/api/v2/logs/events/search"))
        .and(header("DD-API-KEY", "dd-api-key-test"))
        .and(header("DD-APPLICATION-KEY", "dd-app-key-test"))
        .and(body_partial_json(serde_json::json!({
            "filter": {"query": "service:checkout-api status:error", "from": "2023-11-14T00:00:00.000Z"},
            "sort": "timestamp",
            "page": {"limit": 1000}
        })))
        .respond_with(json(LOGS1))
        .with_priority(3)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/logs/events/search"))
        .and(body_partial_json(
            serde_json::json!({"page": {"cursor": AFTER}}),
        ))
        .respond_with(json(LOGS2))
        .with_priority(2)
        .mount(server)
        .await;
}

#[tokio::test]
async fn logs_incidents_and_monitors_to_the_end() {
    let server = MockServer::start().await;
    mount_logs(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/incidents"))
        .and(query_param("include", "users"))
        .and(query_param("page[offset]", "0"))
        .respond_with(json(INCIDENTS))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/monitor"))
        .and(query_param("page", "0"))
        .respond_with(json(MONITORS))
        .mount(&server)
        .await;
    // Later windows are empty.
    Mock::given(method("POST"))
        .and(path("/api/v2/logs/events/search"))
        .respond_with(json(r#"{"data":[],"meta":{"status":"done"}}"#))
        .with_priority(10)
        .mount(&server)
        .await;
    let mut s = source(&server, true, true, true);
    let store = MemoryCheckpointStore::new();
    let records = common::run_ok(&mut s, &store).await;
    let kinds: Vec<_> = records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["log", "log", "log", "incident", "monitor"]);
    let log = &records[0];
    assert_eq!(log.container.as_deref(), Some("checkout-api"));
    assert_eq!(
        log.occurred_at.to_rfc3339(),
        "2023-11-14T22:13:20.123+00:00"
    );
    assert_eq!(
        log.identities[0].email.as_deref(),
        Some("jane.roe@example.com")
    );
    let inc = &records[3];
    assert_eq!(
        inc.occurred_at.to_rfc3339(),
        "2023-11-14T22:12:00+00:00",
        "detected first"
    );
    assert!(inc.text.contains("exhausted the orders DB pool"));
    let commander = inc
        .identities
        .iter()
        .find(|i| i.role == "commander")
        .unwrap();
    assert_eq!(commander.name.as_deref(), Some("Jane Roe"));
    assert_eq!(inc.attributes["severity"], "SEV-2");
    assert_eq!(
        records[4].identities[0].handle.as_deref(),
        Some("jane.roe@example.com")
    );

    // Second run: incidents and monitors unchanged since the last pass are not emitted again.
    let again = common::run_ok(&mut s, &store).await;
    assert!(
        again.iter().all(|r| r.kind == "log"),
        "only logs of the new window"
    );
}

#[tokio::test]
async fn waits_for_x_ratelimit_reset_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/incidents"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Limit", "60")
                .insert_header("X-RateLimit-Period", "60")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", "1")
                .insert_header("X-RateLimit-Name", "incidents")
                .set_body_raw(r#"{"errors":["Rate limit exceeded"]}"#, "application/json"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/incidents"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/incidents"))
        .respond_with(json(INCIDENTS))
        .with_priority(3)
        .mount(&server)
        .await;
    let mut s = source(&server, false, true, false);
    let t = std::time::Instant::now();
    let page = s.fetch_page(None).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(900));
    assert_eq!(page.records.len(), 1);
    assert!(page.done);
}

#[tokio::test]
async fn forbidden_and_malformed_are_permanent() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/incidents"))
        .respond_with(json_status(403, r#"{"errors":["Forbidden"]}"#))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = source(&server, false, true, false);
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(matches!(e, Error::Auth { status: 403, .. }));
    assert!(!e.to_string().contains("dd-app-key-test"));
    server.reset().await;
    Mock::given(path("/api/v2/incidents"))
        .respond_with(json(
            r#"{"data":[{"id":"x","attributes":{"title":"t","created":42}}]}"#,
        ))
        .mount(&server)
        .await;
    assert!(matches!(
        s.fetch_page(None).await,
        Err(Error::Malformed { .. })
    ));
}

#[tokio::test]
async fn failed_logs_page_keeps_the_checkpoint_and_a_repeated_cursor_stops() {
    let server = MockServer::start().await;
    mount_logs(&server).await;
    Mock::given(path("/api/v2/logs/events/search"))
        .and(body_partial_json(
            serde_json::json!({"page": {"cursor": AFTER}}),
        ))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .mount(&server)
        .await;
    let mut s = source(&server, true, false, false);
    let store = MemoryCheckpointStore::new();
    let (first, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::Transient { .. })));
    assert_eq!(first.len(), 2);
    assert!(common::stored(&store, "datadog")
        .await
        .unwrap()
        .0
        .contains(AFTER));

    // The cursor now repeats forever.
    server.reset().await;
    Mock::given(path("/api/v2/logs/events/search"))
        .respond_with(json(LOGS1))
        .mount(&server)
        .await;
    let (again, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::CursorLoop { .. })), "{err:?}");
    assert!(again.is_empty(), "the looping page is not written");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn metrics_timeseries_one_record_per_series() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/query/timeseries"))
        .and(body_partial_json(serde_json::json!({"data": {"type": "timeseries_request", "attributes": {
            "queries": [{"data_source": "metrics", "query": "p99:trace.http.request{*} by {service}"}]}}})))
        .respond_with(json(include_str!("../testdata/datadog/timeseries.json")))
        .expect(1)
        .mount(&server)
        .await;
    let (ctx, _) = common::ctx();
    let mut cfg = DatadogConfig::new(&server.uri());
    cfg.incidents = false;
    cfg.monitors = false;
    cfg.metric_queries = vec!["p99:trace.http.request{*} by {service}".into()];
    let mut s = DatadogSource::new(
        &ctx,
        DatadogKeys {
            api_key: SecretString::from("k"),
            app_key: SecretString::from("a"),
        },
        cfg,
    )
    .unwrap();
    let page = s.fetch_page(None).await.unwrap();
    assert!(page.done);
    assert_eq!(page.records.len(), 2);
    let r = &page.records[0];
    assert_eq!(r.kind, "metric");
    assert_eq!(r.attributes["group_tags"][0], "service:checkout-api");
    assert_eq!(r.attributes["values"][1], 4.01);
    assert_eq!(r.occurred_at.timestamp_millis(), 1_699_999_920_000);
}
