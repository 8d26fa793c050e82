//! Graceful shutdown: stop accepting, finish in-flight work, give up after the grace period.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code

mod common;

use std::time::{Duration, Instant};

use bacca_runtime::{handler_fn, Event, Outcome, RuntimeConfig};
use common::{client, push_body, spawn_app};
use reqwest::StatusCode;

fn sleepy(ms: u64) -> impl bacca_runtime::Handler {
    handler_fn(move |_e: Event| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(Outcome::Done)
    })
}

#[tokio::test]
async fn in_flight_request_finishes_after_shutdown_signal() {
    let app = spawn_app(sleepy(500), RuntimeConfig::default()).await;
    let url = app.url.clone();
    let in_flight = tokio::spawn(async move {
        client()
            .post(format!("{url}/"))
            .header("content-type", "application/json")
            .body(push_body(b"x", "m1", 1))
            .send()
            .await
            .map(|r| r.status())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let addr = app.addr;
    let started = Instant::now();
    let stopped = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // No longer accepting new connections.
    let fresh = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(
        fresh.is_err(),
        "new connections are refused during shutdown"
    );
    assert_eq!(in_flight.await.unwrap().unwrap(), StatusCode::NO_CONTENT);
    stopped.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn grace_period_bounds_shutdown() {
    let config = RuntimeConfig {
        shutdown_grace: Duration::from_millis(200),
        ..RuntimeConfig::default()
    };
    let app = spawn_app(sleepy(30_000), config).await;
    let url = app.url.clone();
    let _in_flight = tokio::spawn(async move {
        client()
            .post(format!("{url}/"))
            .header("content-type", "application/json")
            .body(push_body(b"x", "m1", 1))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    app.stop().await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn shutdown_signal_completes_on_sigterm() {
    let waiter = tokio::spawn(bacca_runtime::shutdown_signal());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pid = std::process::id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
}
