//! The GCS client against a scripted local HTTP server: retries on 429/5xx with back-off,
//! no retry of non-idempotent writes, timeouts, malformed bodies, auth failures, 404
//! disambiguation. Error messages never carry response bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use bacca_storage::{Error, GcsConfig, GcsStore, ObjectStore, PutOptions};
use bytes::Bytes;

/// A scripted answer: status, body, delay.
type Answer = (u16, &'static str, u64);

#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn handle(State(s): State<Script>, req: Request) -> Response {
    let q = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    s.seen
        .lock()
        .unwrap()
        .push(format!("{} {}{q}", req.method(), req.uri().path()));
    let (status, body, delay) = s
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((500, "{}", 0));
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

async fn serve(answers: Vec<Answer>, cfg: GcsConfig) -> (GcsStore, Script) {
    let script = Script::default();
    script.answers.lock().unwrap().extend(answers);
    let app = Router::new().fallback(handle).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cfg = GcsConfig {
        endpoint: Some(format!("http://{addr}")),
        initial_backoff_ms: 1,
        max_backoff_ms: 5,
        ..cfg
    };
    (GcsStore::new("bucket-a", cfg).unwrap(), script)
}

const OBJ: &str = r#"{"name":"raw/x","generation":"42","size":"3","updated":"2026-11-24T03:09:52Z","customTime":"2026-11-20T00:00:00Z"}"#;

#[tokio::test]
async fn retries_5xx_and_429_then_succeeds() {
    let (s, script) = serve(
        vec![
            (503, "{}", 0),
            (429, "{}", 0),
            (500, "{}", 0),
            (200, OBJ, 0),
        ],
        GcsConfig::new(),
    )
    .await;
    let m = s.head("raw/x").await.unwrap();
    assert_eq!(m.generation, 42);
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    assert!(
        seen[0].starts_with("GET /storage/v1/b/bucket-a/o/raw%2Fx"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_a_retryable_error() {
    let cfg = GcsConfig {
        max_attempts: 3,
        ..GcsConfig::new()
    };
    let (s, script) = serve(vec![(503, "SECRET-BODY", 0); 10], cfg).await;
    let err = s.head("raw/x").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains("SECRET"));
    assert_eq!(script.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn unconditional_writes_are_not_retried_but_conditional_ones_are() {
    let (s, script) = serve(
        vec![(503, "{}", 0), (503, "{}", 0), (200, OBJ, 0)],
        GcsConfig::new(),
    )
    .await;
    let err = s
        .put("raw/x", Bytes::from_static(b"abc"), PutOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(script.seen.lock().unwrap().len(), 1);
    let m = s
        .put(
            "raw/x",
            Bytes::from_static(b"abc"),
            PutOptions::create_only(),
        )
        .await
        .unwrap();
    assert_eq!(m.size, 3);
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(
        seen[2].starts_with("POST /upload/storage/v1/b/bucket-a/o?"),
        "{seen:?}"
    );
    assert!(seen[2].contains("uploadType=multipart") && seen[2].contains("ifGenerationMatch=0"));
}

#[tokio::test]
async fn per_request_timeout() {
    let cfg = GcsConfig {
        request_timeout_secs: 1,
        max_attempts: 2,
        ..GcsConfig::new()
    };
    let (s, script) = serve(vec![(200, OBJ, 3000), (200, OBJ, 3000)], cfg).await;
    let started = std::time::Instant::now();
    let err = s.head("raw/x").await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { ref what } if what == "timeout"),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(script.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_bodies_are_protocol_errors_without_content() {
    for body in [
        "not json SECRET",
        r#"{"name":"x","generation":"NaN-SECRET","updated":"2026-11-24T03:09:52Z"}"#,
        r#"{"name":"x"}"#,
    ] {
        let (s, _) = serve(vec![(200, body, 0)], GcsConfig::new()).await;
        let err = s.head("raw/x").await.unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert!(!format!("{err} {err:?}").contains("SECRET"));
    }
}

#[tokio::test]
async fn auth_failures_are_permanent() {
    let (s, script) = serve(vec![(403, "{}", 0), (401, "{}", 0)], GcsConfig::new()).await;
    for _ in 0..2 {
        let err = s.list("raw/", Some("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Auth {
                    transient: false,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(script.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn not_found_is_told_apart_from_bucket_not_found() {
    let (s, script) = serve(
        vec![(404, "{}", 0), (200, r#"{"name":"bucket-a"}"#, 0)],
        GcsConfig::new(),
    )
    .await;
    assert!(matches!(s.get("raw/x").await, Err(Error::NotFound { .. })));
    assert_eq!(
        script.seen.lock().unwrap()[1],
        "GET /storage/v1/b/bucket-a?fields=name"
    );
    let (s, _) = serve(vec![(404, "{}", 0), (404, "{}", 0)], GcsConfig::new()).await;
    assert!(matches!(
        s.delete("raw/x", Some(1)).await,
        Err(Error::BucketNotFound { .. })
    ));
    let (s, _) = serve(vec![(412, "{}", 0)], GcsConfig::new()).await;
    assert!(matches!(
        s.delete("raw/x", Some(1)).await,
        Err(Error::PreconditionFailed { .. })
    ));
}

#[tokio::test]
async fn list_follows_page_tokens() {
    let p1 = r#"{"items":[{"name":"a","generation":"1","size":"1","updated":"2026-11-24T03:09:52Z"}],"prefixes":["p/"],"nextPageToken":"T1"}"#;
    let p2 = r#"{"items":[{"name":"b","generation":"2","size":"1","updated":"2026-11-24T03:09:52Z"}],"prefixes":["p/","q/"]}"#;
    let (s, script) = serve(vec![(200, p1, 0), (200, p2, 0)], GcsConfig::new()).await;
    let l = s.list("", Some("/")).await.unwrap();
    assert_eq!(l.objects.len(), 2);
    assert_eq!(l.prefixes, vec!["p/", "q/"]);
    let seen = script.seen.lock().unwrap();
    assert!(seen[1].contains("pageToken=T1"), "{seen:?}");
}
