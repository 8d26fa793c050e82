//! Slack Web API connector against a mock server replaying Slack's documented responses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::json;

use std::time::Duration;

use bacca_connectors::slack::{SlackConfig, SlackProfile, SlackSource};
use bacca_connectors::{Error, MemoryCheckpointStore, Source};
use secrecy::SecretString;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAGE1: &str = include_str!("../testdata/slack/history_page1.json");
const PAGE2: &str = include_str!("../testdata/slack/history_page2.json");
const REPLIES: &str = include_str!("../testdata/slack/replies.json");
const USERS: &str = include_str!("../testdata/slack/users_list.json");
const INVALID_AUTH: &str = include_str!("../testdata/slack/invalid_auth.json");
const RATELIMITED: &str = include_str!("../testdata/slack/ratelimited.json");
const TRUNCATED: &str = include_str!("../testdata/slack/truncated.json");
const LOOP: &str = include_str!("../testdata/slack/history_loop.json");
const CURSOR: &str = "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz";

fn source(server: &MockServer, channels: &[&str]) -> (SlackSource, bacca_audit::AuditSink) {
    let (ctx, audit) = common::ctx();
    let s = SlackSource::new(
        &ctx,
        SecretString::from("xoxb-test-token"),
        SlackConfig {
            base_url: server.uri(),
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            since: None,
            profile: SlackProfile::Tier3,
            min_interval_ms: Some(0),
        },
    )
    .unwrap();
    (s, audit)
}

/// Page 1 (no cursor), page 2 (cursor), the thread's replies.
async fn mount_channel(server: &MockServer, channel: &str) {
    Mock::given(method("GET"))
        .and(path("/conversations.history"))
        .and(query_param("channel", channel))
        .and(query_param_is_missing("cursor"))
        .and(header("authorization", "Bearer xoxb-test-token"))
        .respond_with(json(PAGE1))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/conversations.history"))
        .and(query_param("channel", channel))
        .and(query_param("cursor", CURSOR))
        .respond_with(json(PAGE2))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/conversations.replies"))
        .and(query_param("channel", channel))
        .and(query_param("ts", "1700000200.000200"))
        .respond_with(json(REPLIES))
        .mount(server)
        .await;
}

async fn forbid_channel(server: &MockServer, channel: &str) {
    Mock::given(query_param("channel", channel))
        .respond_with(json(PAGE1))
        .expect(0)
        .named("a channel off the allowlist")
        .mount(server)
        .await;
}

#[tokio::test]
async fn reads_allowlisted_channels_to_the_end_with_threads() {
    let server = MockServer::start().await;
    mount_channel(&server, "C0INCIDENT").await;
    forbid_channel(&server, "C0RANDOM").await;
    let (mut s, audit) = source(&server, &["C0INCIDENT"]);
    let store = MemoryCheckpointStore::new();
    let records = common::run_ok(&mut s, &store).await;
    let ids: Vec<_> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "1700000300.000300",
            "1700000200.000200",
            "1700000230.000230",
            "1700000260.000260",
            "1700000100.000100"
        ]
    );
    assert_eq!(records[2].kind, "reply");
    assert_eq!(records[2].parent_id.as_deref(), Some("1700000200.000200"));
    assert!(records
        .iter()
        .all(|r| r.container.as_deref() == Some("C0INCIDENT")));
    // Identities are apart from the text.
    let first = &records[0];
    assert_eq!(first.identities[0].id.as_deref(), Some("U012AB3CDE"));
    assert!(first
        .identities
        .iter()
        .any(|i| i.role == "mention" && i.id.as_deref() == Some("U061F7AUR")));
    // One audit event per call, with endpoint templates and counts, no query strings.
    let events = audit.events();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.tenant == "tenant-a"));
    let endpoints: Vec<_> = events
        .iter()
        .map(|e| format!("{:?}", e.fields["endpoint"]))
        .collect();
    assert!(endpoints
        .iter()
        .all(|e| !e.contains('?') && !e.contains(CURSOR)));
    assert_eq!(events[0].fields["records"], bacca_audit::AuditValue::Int(2));

    // The next run is incremental: it asks for messages after the newest one read.
    server.reset().await;
    Mock::given(path("/conversations.history"))
        .and(query_param("oldest", "1700000300.000300"))
        .respond_with(json(r#"{"ok":true,"messages":[],"has_more":false}"#))
        .expect(1)
        .mount(&server)
        .await;
    let records = common::run_ok(&mut s, &store).await;
    assert!(records.is_empty());
}

#[tokio::test]
async fn retries_429_with_retry_after_then_5xx_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/conversations.history"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_raw(RATELIMITED.as_bytes().to_vec(), "application/json"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/conversations.history"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path("/conversations.history"))
        .respond_with(json(PAGE2))
        .with_priority(3)
        .mount(&server)
        .await;
    let (mut s, audit) = source(&server, &["C1"]);
    let started = std::time::Instant::now();
    let page = s.fetch_page(None).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(page.records.len(), 1);
    assert!(page.done);
    let statuses: Vec<_> = audit
        .events()
        .iter()
        .map(|e| e.fields["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [429, 503, 200].map(bacca_audit::AuditValue::Int).to_vec()
    );
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_returned_not_slept() {
    let server = MockServer::start().await;
    Mock::given(path("/conversations.history"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "60"))
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(
        matches!(e, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(60))
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn invalid_auth_is_permanent_and_clear() {
    let server = MockServer::start().await;
    Mock::given(path("/conversations.history"))
        .respond_with(json(INVALID_AUTH))
        .expect(1)
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(matches!(e, Error::Auth { .. }));
    assert!(!e.is_retryable());
    let msg = e.to_string();
    assert!(msg.contains("authentication") && !msg.contains("xoxb"));
}

#[tokio::test]
async fn http_403_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(path("/conversations.history"))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    assert!(matches!(
        s.fetch_page(None).await,
        Err(Error::Auth { status: 403, .. })
    ));
}

#[tokio::test]
async fn timeouts_are_bounded_and_transient() {
    let server = MockServer::start().await;
    Mock::given(path("/conversations.history"))
        .respond_with(json(PAGE2).set_delay(Duration::from_secs(3)))
        .expect(3)
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(
        matches!(&e, Error::Transient { attempts: 3, class, .. } if class == "timeout"),
        "{e:?}"
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn malformed_json_is_a_clear_error_without_content() {
    let server = MockServer::start().await;
    Mock::given(path("/conversations.history"))
        .respond_with(json(TRUNCATED))
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }));
    assert!(!e.to_string().contains("trunc"));
    // Wrong types: messages is not a list.
    server.reset().await;
    Mock::given(path("/conversations.history"))
        .respond_with(json(r#"{"ok":true,"messages":{"secret":"text"}}"#))
        .mount(&server)
        .await;
    let e = s.fetch_page(None).await.unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }));
    assert!(!e.to_string().contains("secret"));
}

#[tokio::test]
async fn a_repeated_cursor_stops_with_bounded_work() {
    let server = MockServer::start().await;
    Mock::given(path("/conversations.history"))
        .respond_with(json(LOOP))
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    let store = MemoryCheckpointStore::new();
    let (records, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::CursorLoop { .. })), "{err:?}");
    // The first page was written and checkpointed; the looping one was not.
    assert_eq!(records.len(), 1);
    assert!(server.received_requests().await.unwrap().len() <= 2);
}

#[tokio::test]
async fn after_a_failure_the_checkpoint_has_not_advanced_and_nothing_is_lost_or_duplicated() {
    let server = MockServer::start().await;
    mount_channel(&server, "C1").await;
    // The second page fails persistently.
    Mock::given(path("/conversations.history"))
        .and(query_param("cursor", CURSOR))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    let store = MemoryCheckpointStore::new();
    let (first, err) = common::run(&mut s, &store).await;
    assert!(matches!(err, Some(Error::Transient { .. })), "{err:?}");
    // Page 1 and the thread it announced were written before page 2 failed.
    assert_eq!(first.len(), 4);
    let cp = common::stored(&store, "slack").await.unwrap();
    assert!(cp.0.contains(CURSOR), "checkpoint stays at the failed page");

    // The vendor recovers: the rerun resumes at the failed page.
    server.reset().await;
    mount_channel(&server, "C1").await;
    let second = common::run_ok(&mut s, &store).await;
    let mut all: Vec<_> = first.iter().chain(&second).map(|r| r.id.clone()).collect();
    assert_eq!(all.len(), 5);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5, "no record lost or duplicated");
}

#[tokio::test]
async fn users_list_builds_the_directory() {
    let server = MockServer::start().await;
    Mock::given(path("/users.list"))
        .respond_with(json(USERS))
        .expect(1)
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    let dir = s.directory().await.unwrap();
    assert_eq!(dir.people.len(), 2);
    let p = &dir.people[0];
    assert_eq!(p.ids, ["slack:U012AB3CDE"]);
    assert_eq!(p.handles, ["spengler"]);
    assert_eq!(p.emails, ["spengler@ghostbusters.example.com"]);
    assert!(p.names.contains(&"Egon Spengler".to_owned()));
}

#[test]
fn configuration_is_validated() {
    let (ctx, _) = common::ctx();
    let cfg = |channels: Vec<String>, base: &str| SlackConfig {
        base_url: base.to_owned(),
        channels,
        since: None,
        profile: SlackProfile::NonMarketplace,
        min_interval_ms: None,
    };
    let tok = || SecretString::from("xoxb-1");
    assert!(SlackSource::new(&ctx, tok(), cfg(vec![], "https://slack.com/api")).is_err());
    assert!(SlackSource::new(
        &ctx,
        tok(),
        cfg(vec!["C1&x=1".into()], "https://slack.com/api")
    )
    .is_err());
    assert!(SlackSource::new(&ctx, tok(), cfg(vec!["C1".into()], "http://slack.com/api")).is_err());
    let s = SlackSource::new(&ctx, tok(), cfg(vec!["C1".into()], "https://slack.com/api")).unwrap();
    assert!(
        !format!("{s:?}").contains("xoxb-1"),
        "Debug never prints the token"
    );
}

#[tokio::test]
async fn calls_are_paced_by_the_profile_interval() {
    let server = MockServer::start().await;
    mount_channel(&server, "C1").await;
    let (ctx, _) = common::ctx();
    let mut s = SlackSource::new(
        &ctx,
        SecretString::from("xoxb-test-token"),
        SlackConfig {
            base_url: server.uri(),
            channels: vec!["C1".into()],
            since: None,
            profile: SlackProfile::NonMarketplace,
            min_interval_ms: Some(300),
        },
    )
    .unwrap();
    let t = std::time::Instant::now();
    let p1 = s.fetch_page(None).await.unwrap();
    let _ = s.fetch_page(Some(&p1.next_checkpoint)).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "second call waited"
    );
    // The non-Marketplace profile asks for pages of 15.
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs
        .iter()
        .all(|r| r.url.query_pairs().any(|(k, v)| k == "limit" && v == "15")));
}

#[tokio::test]
async fn recent_threads_are_polled_for_new_replies() {
    let now = chrono::Utc::now().timestamp() - 3600;
    let parent = format!("{now}.000100");
    let reply1 = format!("{}.000200", now + 60);
    let reply2 = format!("{}.000300", now + 120);
    let server = MockServer::start().await;
    let history = serde_json::json!({"ok": true, "has_more": false, "messages": [
        {"type": "message", "user": "U1", "text": "db down", "ts": parent, "thread_ts": parent, "reply_count": 1}
    ]});
    Mock::given(path("/conversations.history"))
        .respond_with(json(&history.to_string()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let replies = |extra: &[&str]| {
        let mut m = vec![
            serde_json::json!({"type": "message", "user": "U1", "text": "db down", "ts": parent, "thread_ts": parent}),
        ];
        for ts in extra {
            m.push(serde_json::json!({"type": "message", "user": "U2", "text": "on it", "ts": ts, "thread_ts": parent, "parent_user_id": "U1"}));
        }
        serde_json::json!({"ok": true, "has_more": false, "messages": m}).to_string()
    };
    Mock::given(path("/conversations.replies"))
        .and(query_param_is_missing("oldest"))
        .respond_with(json(&replies(&[&reply1])))
        .expect(1)
        .mount(&server)
        .await;
    let (mut s, _) = source(&server, &["C1"]);
    let store = MemoryCheckpointStore::new();
    let first = common::run_ok(&mut s, &store).await;
    assert_eq!(first.len(), 2);

    // Second pass: no new top-level message, but a new reply in the thread.
    Mock::given(path("/conversations.history"))
        .and(query_param("oldest", parent.as_str()))
        .respond_with(json(r#"{"ok":true,"messages":[],"has_more":false}"#))
        .mount(&server)
        .await;
    Mock::given(path("/conversations.replies"))
        .and(query_param("ts", parent.as_str()))
        .and(query_param("oldest", parent.as_str()))
        .respond_with(json(&replies(&[&reply2])))
        .expect(1)
        .mount(&server)
        .await;
    let second = common::run_ok(&mut s, &store).await;
    let ids: Vec<_> = second.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [reply2.as_str()]);
}
