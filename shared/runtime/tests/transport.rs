//! The connection layer: slow header blocks are cut off after the header-read timeout, and the
//! answers hyper writes itself (431, 414, 400) carry the security headers.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code

mod common;

use std::time::Duration;

use bacca_runtime::{handler_fn, Event, Outcome, RuntimeConfig};
use common::spawn_app;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A generous bound: only a hang fails the test, never slowness.
const DEADLINE: Duration = Duration::from_secs(60);

fn ok() -> impl bacca_runtime::Handler {
    handler_fn(|_e: Event| async { Ok(Outcome::Done) })
}

/// Sends `raw` and reads until the server closes; returns what it sent back.
async fn exchange(addr: std::net::SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read everything: ignore a failed write.
    let _ = s.write_all(raw).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    String::from_utf8_lossy(&buf).into_owned()
}

fn assert_secure(response: &str, status: &str, what: &str) {
    let head = response
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(
        head.starts_with(&format!("http/1.1 {status}")),
        "{what}: {head}"
    );
    assert!(
        head.contains("\r\nstrict-transport-security: max-age=63072000; includesubdomains"),
        "{what}: no HSTS in {head}"
    );
    assert!(
        head.contains("\r\ncache-control: no-store"),
        "{what}: no no-store in {head}"
    );
    assert_eq!(
        head.matches("strict-transport-security").count(),
        1,
        "{what}: {head}"
    );
}

#[tokio::test]
async fn hypers_own_error_answers_carry_the_security_headers() {
    let app = spawn_app(ok(), RuntimeConfig::default()).await;
    // Header count over hyper's limit (100).
    let mut flood = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..500 {
        flood.push_str(&format!("X-Flood-{i}: {i}\r\n"));
    }
    flood.push_str("\r\n");
    let r = exchange(app.addr, flood.as_bytes()).await;
    assert_secure(&r, "431", "500 headers");
    // Header block over hyper's buffer.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1 << 20)
    );
    let r = exchange(app.addr, big.as_bytes()).await;
    assert_secure(&r, "431", "1 MiB header");
    // An unparsable header line.
    let r = exchange(
        app.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    )
    .await;
    assert_secure(&r, "400", "malformed header");
    // The router's answers keep exactly one copy of each header.
    let r = exchange(
        app.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_secure(&r, "200", "healthz");
    let r = exchange(
        app.addr,
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_secure(&r, "404", "unknown path");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unfinished_header_block_is_cut_off_after_the_timeout() {
    let config = RuntimeConfig {
        header_read_timeout: Duration::from_millis(300),
        ..RuntimeConfig::default()
    };
    let app = spawn_app(ok(), config).await;
    // Half the headers, then silence.
    let r = exchange(app.addr, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Ty").await;
    assert_eq!(r, "", "closed without a response");
    // A slowloris client trickling one byte every 50 ms never finishes its header block: the
    // timeout counts from when the server starts reading the header block, so the trickle does
    // not keep the connection open.
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if s.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    assert!(
        tokio::time::timeout(DEADLINE, trickle).await.is_ok(),
        "the trickling client was never disconnected"
    );
    // A prompt request on a new connection is still served.
    let r = exchange(
        app.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_secure(&r, "200", "healthz after slow clients");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let app = spawn_app(ok(), RuntimeConfig::default()).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    for _ in 0..3 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(DEADLINE, s.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert_ne!(n, 0, "keep-alive connection closed");
            buf.extend_from_slice(&chunk[..n]);
        }
        assert_secure(&String::from_utf8_lossy(&buf), "200", "keep-alive");
    }
    app.stop().await.unwrap();
}
