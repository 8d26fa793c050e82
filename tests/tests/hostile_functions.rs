//! Hostile requests (DAST) against the three function binaries, each spawned on loopback in
//! local mode with push OIDC verification against a local JWKS: oversized bodies, wrong methods
//! and content types, missing and forged OIDC tokens, slow and truncated bodies, header floods,
//! replayed messages, slow header blocks (cut off after `BACCA_HEADER_READ_TIMEOUT_SECS`). Every
//! case asserts the status, that the process is still alive, that the security headers are on
//! every response (hyper's own 400 and 431 included), and bounded memory.
//!
//! Needs the binaries built (`cargo nextest run --workspace` does it; with `cargo test -p
//! bacca-tests` run `cargo build -p bacca-fetch -p bacca-anonymize -p bacca-expire` first).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests

mod hostile_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hostile_support::{
    good_claims, jwks_server, now, oidc_env, post_request, push_body, send_raw, valid_message,
    Function, Jwks, Signer, FUNCTIONS,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Peak resident memory a function may reach during the hostile run (KiB). Bodies are capped at
/// 10 MiB and the test sends at most 8 at once.
const PEAK_RSS_LIMIT_KIB: u64 = 192 * 1024;

struct Rig {
    jwks: Jwks,
    signer: Signer,
}

async fn rig() -> Rig {
    let signer = Signer::new("good-key");
    let jwks = jwks_server(vec![signer.jwk()]).await;
    Rig { jwks, signer }
}

async fn start(name: &'static str, rig: &Rig) -> Function {
    Function::spawn(name, &oidc_env(&rig.jwks)).await
}

fn token(rig: &Rig) -> String {
    rig.signer.sign(&good_claims())
}

async fn assert_healthy(f: &mut Function, what: &str) {
    assert!(f.alive(), "{}: process died after {what}", f.name);
    let r = f
        .send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{}: healthz after {what}: {e}", f.name));
    assert_eq!(r.status, 200, "{}: healthz after {what}", f.name);
    r.assert_security_headers(&format!("{} healthz", f.name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_methods_paths_and_content_types() {
    let rig = rig().await;
    for name in FUNCTIONS {
        let mut f = start(name, &rig).await;
        let tok = token(&rig);
        let body = push_body(&valid_message(name), "m-ct", 1);
        let auth = format!("Authorization: Bearer {tok}\r\n");
        let cases: Vec<(String, Vec<u8>, u16)> = vec![
            ("GET /".into(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 405),
            ("PUT /".into(), format!("PUT / HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}").into_bytes(), 405),
            ("DELETE /".into(), format!("DELETE / HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").into_bytes(), 405),
            ("POST /healthz".into(), b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(), 405),
            ("POST /admin".into(), format!("POST /admin HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n").into_bytes(), 404),
            ("GET /../etc/passwd".into(), b"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404),
            ("text/plain".into(), post_request(&body, Some(&tok), "text/plain"), 415),
            ("form".into(), post_request(&body, Some(&tok), "application/x-www-form-urlencoded"), 415),
            ("no content type".into(), {
                let mut raw = format!("POST / HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
                raw.extend_from_slice(&body);
                raw
            }, 415),
            ("not JSON".into(), post_request(b"{not json", Some(&tok), "application/json"), 400),
            ("JSON, not an envelope".into(), post_request(b"[1,2,3]", Some(&tok), "application/json"), 400),
            ("bad base64".into(), post_request(br#"{"message":{"data":"***","messageId":"1"},"subscription":"s"}"#, Some(&tok), "application/json"), 400),
            ("deep nesting".into(), post_request(&[b'['; 100_000], Some(&tok), "application/json"), 400),
        ];
        for (what, raw, want) in cases {
            let r = f
                .send(&raw)
                .await
                .unwrap_or_else(|e| panic!("{name} {what}: {e}"));
            assert_eq!(r.status, want, "{name}: {what}");
            assert!(r.body.is_empty(), "{name}: {what}: error bodies are empty");
            r.assert_security_headers(&format!("{name} {what}"));
        }
        assert_healthy(&mut f, "wrong methods and content types").await;
        assert!(
            f.dead_letters().is_empty(),
            "{name}: nothing here reaches the handler"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_forged_oidc_tokens_are_401_and_do_not_hammer_the_jwks() {
    let rig = rig().await;
    let stranger = Signer::new("good-key"); // same kid, different key: a forged signature
    for name in FUNCTIONS {
        let mut f = start(name, &rig).await;
        let body = push_body(&valid_message(name), "m-auth", 1);
        let claims = |k: &str, v: serde_json::Value| {
            let mut c = good_claims();
            c[k] = v;
            c
        };
        let hs256 = {
            // alg confusion: HS256 "signed" with the public modulus as the secret.
            let h = hostile_support::b64url(br#"{"alg":"HS256","typ":"JWT","kid":"good-key"}"#);
            let p = hostile_support::b64url(good_claims().to_string().as_bytes());
            format!("{h}.{p}.AAAA")
        };
        let none = {
            let h = hostile_support::b64url(br#"{"alg":"none","typ":"JWT","kid":"good-key"}"#);
            let p = hostile_support::b64url(good_claims().to_string().as_bytes());
            format!("{h}.{p}.")
        };
        let good = token(&rig);
        let tampered = {
            // a valid token whose payload is swapped for one with another email
            let parts: Vec<&str> = good.split('.').collect();
            let p = hostile_support::b64url(
                claims("email", "attacker@evil.example".into())
                    .to_string()
                    .as_bytes(),
            );
            format!("{}.{p}.{}", parts[0], parts[2])
        };
        let tokens: Vec<(&str, Option<String>)> = vec![
            ("missing", None),
            ("empty", Some(String::new())),
            ("garbage", Some("abc.def".into())),
            ("forged signature", Some(stranger.sign(&good_claims()))),
            ("tampered payload", Some(tampered)),
            ("alg none", Some(none)),
            ("alg HS256", Some(hs256)),
            (
                "wrong audience",
                Some(
                    rig.signer
                        .sign(&claims("aud", "https://other.run.app/".into())),
                ),
            ),
            (
                "wrong issuer",
                Some(
                    rig.signer
                        .sign(&claims("iss", "https://evil.example".into())),
                ),
            ),
            (
                "wrong email",
                Some(
                    rig.signer
                        .sign(&claims("email", "attacker@evil.example".into())),
                ),
            ),
            (
                "email not verified",
                Some(rig.signer.sign(&claims("email_verified", false.into()))),
            ),
            (
                "expired",
                Some(rig.signer.sign(&claims("exp", (now() - 3600).into()))),
            ),
            (
                "no exp",
                Some(rig.signer.sign(&{
                    let mut c = good_claims();
                    c.as_object_mut().unwrap().remove("exp");
                    c
                })),
            ),
            ("huge token", Some("a".repeat(60_000))),
        ];
        for (what, tok) in tokens {
            let r = f
                .send(&post_request(&body, tok.as_deref(), "application/json"))
                .await
                .unwrap_or_else(|e| panic!("{name} {what}: {e}"));
            assert_eq!(r.status, 401, "{name}: {what} token");
            assert!(r.body.is_empty(), "{name}: {what}: no detail in the body");
            r.assert_security_headers(&format!("{name} {what} token"));
        }
        // 40 tokens with unknown key ids: the JWKS is refetched at most every 10 s.
        let before = rig.jwks.fetches.load(Ordering::SeqCst);
        for i in 0..40 {
            let tok = rig
                .signer
                .sign_with_kid(&format!("unknown-{i}"), &good_claims());
            let r = f.post(&body, Some(&tok)).await;
            assert_eq!(r.status, 401, "{name}: unknown kid");
        }
        let refetches = rig.jwks.fetches.load(Ordering::SeqCst) - before;
        assert!(
            refetches <= 2,
            "{name}: {refetches} JWKS fetches for 40 unknown kids"
        );
        // The genuine token still works after the flood.
        let r = f.post(&body, Some(&token(&rig))).await;
        assert_eq!(r.status, 204, "{name}: a valid token is accepted");
        assert_healthy(&mut f, "forged tokens").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413_and_memory_stays_bounded() {
    let rig = rig().await;
    for name in FUNCTIONS {
        let mut f = start(name, &rig).await;
        let tok = token(&rig);
        // Declared too large: refused before the body is read.
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n"
        );
        let r = f.send(raw.as_bytes()).await.expect("declared 1 GiB");
        assert_eq!(r.status, 413, "{name}: declared 1 GiB");
        r.assert_security_headers(&format!("{name} 413"));
        // Chunked, no length: cut off at the 10 MiB limit while streaming 64 MiB.
        let started = Instant::now();
        let mut s = TcpStream::connect(f.addr()).await.unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..64 {
            let frame = [
                format!("{:x}\r\n", chunk.len()).as_bytes(),
                &chunk[..],
                b"\r\n",
            ]
            .concat();
            if s.write_all(&frame).await.is_err() {
                break; // the server answered and closed: expected
            }
        }
        let r = hostile_support::read_response(&mut s, Duration::from_secs(30))
            .await
            .expect("chunked 64 MiB");
        assert_eq!(r.status, 413, "{name}: 64 MiB chunked");
        r.assert_security_headers(&format!("{name} chunked 413"));
        assert!(started.elapsed() < Duration::from_secs(30));
        // Eight concurrent bodies just under the limit (malformed JSON): 400 each.
        let addr = f.addr();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let raw = post_request(
                &vec![b'x'; 10 * 1024 * 1024 - 16],
                Some(&tok),
                "application/json",
            );
            let addr = addr.clone();
            set.spawn(async move { send_raw(&addr, &raw, Duration::from_secs(60)).await });
        }
        while let Some(r) = set.join_next().await {
            let r = r.unwrap().expect("near-limit body");
            assert_eq!(r.status, 400, "{name}: near-limit malformed body");
        }
        let (rss, peak) = f.rss_kib();
        assert!(
            peak < PEAK_RSS_LIMIT_KIB,
            "{name}: peak RSS {peak} KiB after oversized bodies (limit {PEAK_RSS_LIMIT_KIB})"
        );
        eprintln!("{name}: RSS {rss} KiB, peak {peak} KiB after oversized bodies");
        assert_healthy(&mut f, "oversized bodies").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_truncated_bodies_do_not_block_other_requests() {
    let rig = rig().await;
    for name in FUNCTIONS {
        let mut f = start(name, &rig).await;
        let tok = token(&rig);
        // 40 slow clients: headers sent, body trickling (1 byte per 200 ms).
        let mut slow = Vec::new();
        for _ in 0..40 {
            let mut s = TcpStream::connect(f.addr()).await.unwrap();
            let head = format!(
                "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
            );
            s.write_all(head.as_bytes()).await.unwrap();
            slow.push(s);
        }
        // 40 slowloris clients: an unfinished header block.
        for _ in 0..40 {
            let mut s = TcpStream::connect(f.addr()).await.unwrap();
            s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
            slow.push(s);
        }
        for round in 0..5 {
            for s in &mut slow {
                let _ = s.write_all(b" ").await;
            }
            // Meanwhile a real delivery is served (`post` gives up after 30 s: a server blocked
            // by the slow clients fails here, not a slow one).
            let body = push_body(&valid_message(name), &format!("m-slow-{round}"), 1);
            let r = f.post(&body, Some(&token(&rig))).await;
            assert_eq!(r.status, 204, "{name}: delivery beside slow clients");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(slow);
        // Truncated: 1000 bytes declared, 10 sent, write side closed.
        let mut s = TcpStream::connect(f.addr()).await.unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"message\""
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.shutdown().await.unwrap();
        match hostile_support::read_response(&mut s, Duration::from_secs(10)).await {
            Ok(r) => {
                assert_eq!(r.status, 400, "{name}: truncated body");
                r.assert_security_headers(&format!("{name} truncated"));
            }
            // hyper may close a half-closed connection without a response: also a nack.
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{name}: {e}"),
        }
        // Truncated chunked body: a chunk header promising more than is sent.
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nffff\r\n{{}}"
        );
        let mut s = TcpStream::connect(f.addr()).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        s.shutdown().await.unwrap();
        if let Ok(r) = hostile_support::read_response(&mut s, Duration::from_secs(10)).await {
            assert_eq!(r.status, 400, "{name}: truncated chunked body");
        }
        assert_healthy(&mut f, "slow and truncated bodies").await;
        assert!(
            f.dead_letters().len() <= 5,
            "{name}: only the real deliveries can dead-letter"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_blocks_are_disconnected_after_the_header_timeout() {
    let rig = rig().await;
    for name in FUNCTIONS {
        let mut env = oidc_env(&rig.jwks);
        env.push(("BACCA_HEADER_READ_TIMEOUT_SECS", "1".to_owned()));
        let mut f = Function::spawn(name, &env).await;
        // 20 clients send half a header block and stall; 20 more trickle a byte every 100 ms
        // and never finish it. Each must be disconnected by the server (EOF or reset), not
        // held open; the bound is generous, only a hang fails.
        let mut clients = tokio::task::JoinSet::new();
        for i in 0..40 {
            let addr = f.addr();
            clients.spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: applica")
                    .await
                    .unwrap();
                let disconnected = async {
                    let mut buf = [0u8; 64];
                    loop {
                        if i % 2 == 1 && s.write_all(b"a").await.is_err() {
                            return Vec::new();
                        }
                        let read = tokio::time::timeout(
                            Duration::from_millis(100),
                            tokio::io::AsyncReadExt::read(&mut s, &mut buf),
                        )
                        .await;
                        match read {
                            Ok(Ok(0) | Err(_)) => return Vec::new(),
                            Ok(Ok(n)) => return buf[..n].to_vec(),
                            Err(_) => {}
                        }
                    }
                };
                tokio::time::timeout(Duration::from_secs(60), disconnected).await
            });
        }
        while let Some(r) = clients.join_next().await {
            let sent = r
                .unwrap()
                .expect("a slow-header client was never disconnected");
            assert!(
                sent.is_empty(),
                "{name}: no response to an unfinished header block"
            );
        }
        // Prompt requests are still served.
        let r = f
            .post(
                &push_body(&valid_message(name), "m-after-slow", 1),
                Some(&token(&rig)),
            )
            .await;
        assert_eq!(r.status, 204, "{name}: delivery after slow-header clients");
        r.assert_security_headers(&format!("{name} after slow-header clients"));
        assert_healthy(&mut f, "slow header blocks").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_floods_are_refused_without_a_crash() {
    let rig = rig().await;
    for name in FUNCTIONS {
        let mut f = start(name, &rig).await;
        let tok = token(&rig);
        let body = push_body(&valid_message(name), "m-flood", 1);
        // 1,000 headers (hyper's limit is 100).
        let mut raw = format!("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n");
        for i in 0..1000 {
            raw.push_str(&format!("X-Flood-{i}: {i}\r\n"));
        }
        raw.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ));
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(&body);
        match f.send(&bytes).await {
            Ok(r) => {
                assert_eq!(r.status, 431, "{name}: 1,000 headers");
                r.assert_security_headers(&format!("{name} 1,000 headers"));
            }
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ),
                "{name}: 1,000 headers: {e}"
            ),
        }
        // 150 short headers: read whole, so the answer always arrives before the close. hyper
        // writes this 431 itself; it must carry the security headers like every other answer.
        let mut raw = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
        for i in 0..150 {
            raw.push_str(&format!("X-F-{i}: {i}\r\n"));
        }
        raw.push_str("\r\n");
        let r = f.send(raw.as_bytes()).await.expect("150 headers");
        assert_eq!(r.status, 431, "{name}: 150 headers");
        r.assert_security_headers(&format!("{name} 150 headers"));
        // An unparsable header line: hyper's 400, with the security headers.
        let r = f
            .send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nNo Colon Here\r\n\r\n")
            .await
            .expect("malformed header line");
        assert_eq!(r.status, 400, "{name}: malformed header line");
        r.assert_security_headers(&format!("{name} malformed header line"));
        // One 1 MiB header value.
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "b".repeat(1 << 20)
        );
        match f.send(raw.as_bytes()).await {
            Ok(r) => {
                assert!(
                    r.status == 431 || r.status == 400,
                    "{name}: 1 MiB header: {}",
                    r.status
                );
                r.assert_security_headers(&format!("{name} 1 MiB header"));
            }
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::BrokenPipe
                ),
                "{name}: 1 MiB header: {e}"
            ),
        }
        // 90 headers (under the limit) are served normally, with the security headers.
        let mut raw = format!("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n");
        for i in 0..90 {
            raw.push_str(&format!("X-Many-{i}: {}\r\n", "v".repeat(100)));
        }
        raw.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ));
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(&body);
        let r = f.send(&bytes).await.expect("90 headers");
        assert_eq!(r.status, 204, "{name}: 90 headers");
        r.assert_security_headers(&format!("{name} 90 headers"));
        // 200 connections opened at once, each sending a 50-header request.
        let addr = f.addr();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let addr = addr.clone();
            set.spawn(async move {
                let mut raw = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
                for i in 0..50 {
                    raw.push_str(&format!("X-H-{i}: {}\r\n", "z".repeat(200)));
                }
                raw.push_str("Connection: close\r\n\r\n");
                send_raw(&addr, raw.as_bytes(), Duration::from_secs(30)).await
            });
        }
        while let Some(r) = set.join_next().await {
            let r = r.unwrap().expect("header-heavy healthz");
            assert_eq!(r.status, 200);
        }
        let (_, peak) = f.rss_kib();
        assert!(
            peak < PEAK_RSS_LIMIT_KIB,
            "{name}: peak RSS {peak} KiB after header floods"
        );
        assert_healthy(&mut f, "header floods").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_messages_are_settled_again_never_lost() {
    let rig = rig().await;
    for name in FUNCTIONS {
        let mut f = start(name, &rig).await;
        let tok = token(&rig);
        let body = push_body(&valid_message(name), "m-replay-1", 1);
        // The same delivery (same message id, same bearer token) five times: every delivery is
        // settled the same way (idempotent handlers), none is dropped.
        let mut statuses = Vec::new();
        for _ in 0..5 {
            let r = f.post(&body, Some(&tok)).await;
            r.assert_security_headers(&format!("{name} replay"));
            statuses.push(r.status);
        }
        assert!(
            statuses.iter().all(|s| *s == 204),
            "{name}: replays {statuses:?}"
        );
        // A message whose handler fails permanently is dead-lettered on every delivery:
        // duplicates in the dead-letter topic are fine, a silent drop is not.
        let dead = f.dead_letters();
        for d in &dead {
            let text = d.to_string();
            assert!(
                !text.contains(&tok),
                "{name}: a token reached the dead-letter file"
            );
        }
        match name {
            "bacca-fetch" => assert_eq!(
                dead.len(),
                5,
                "{name}: unknown source dead-lettered 5 times"
            ),
            _ => assert!(
                dead.len() == 5 || dead.is_empty(),
                "{name}: {} dead letters",
                dead.len()
            ),
        }
        // A replayed delivery with an expired token is refused whatever the message.
        let mut c = good_claims();
        c["exp"] = (now() - 60).into();
        let r = f.post(&body, Some(&rig.signer.sign(&c))).await;
        assert_eq!(r.status, 401, "{name}: replay with an expired token");
        // A replayed delivery with a higher attempt count is still accepted and settled.
        let body = push_body(&valid_message(name), "m-replay-1", 7);
        let r = f.post(&body, Some(&tok)).await;
        assert_eq!(r.status, 204, "{name}: replay with deliveryAttempt 7");
        assert_healthy(&mut f, "replays").await;
    }
}

/// No request body, data, attribute value, token or header value reaches the logs: every
/// function runs at `RUST_LOG=trace` (JSON, as on Cloud Run, and human-readable) while it is
/// sent canary values in every place a request can carry them, valid and malformed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_never_reach_the_logs() {
    const CANARY: &str = "CANARYzq9x7";
    let rig = rig().await;
    for json_logs in [true, false] {
        for name in FUNCTIONS {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("log.txt");
            let mut env = oidc_env(&rig.jwks);
            env.push(("RUST_LOG", "trace".into()));
            if json_logs {
                env.push(("K_SERVICE", name.into()));
            }
            let mut f = Function::spawn_logging(name, &env, Some(&log)).await;
            let tok = token(&rig);
            let mut msg = valid_message(name);
            msg["note"] = format!("{CANARY}-data").into();
            let body = serde_json::json!({
                "message": {
                    "data": hostile_support::b64(msg.to_string().as_bytes()),
                    "attributes": {"tenant": "acme", "x": format!("{CANARY}-attr")},
                    "messageId": "m-canary",
                },
                "subscription": "projects/p/subscriptions/s",
            })
            .to_string();
            let valid_canary = {
                let mut m = valid_message(name);
                m["tenant"] = "acme".into();
                m
            };
            let bodies: Vec<Vec<u8>> = vec![
                body.into_bytes(),
                format!("{{\"message\":{{\"data\":\"{CANARY}-b64\"}}}}").into_bytes(),
                format!("{{not json {CANARY}-json").into_bytes(),
                push_body(
                    &serde_json::json!({"tenant": format!("{CANARY}-tenant")}),
                    "m-c2",
                    1,
                ),
                push_body(&valid_canary, "m-c3", 1),
            ];
            for b in &bodies {
                let r = f.post(b, Some(&tok)).await;
                assert!(r.status < 500 || r.status == 503, "{name}: {}", r.status);
            }
            // Canary tokens (forged) and canary headers.
            let forged = format!("{CANARY}.{CANARY}.{CANARY}");
            let r = f.post(&bodies[0], Some(&forged)).await;
            assert_eq!(r.status, 401);
            let raw = format!(
                "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nX-Cloud-Trace-Context: {CANARY}/1;o=1\r\nX-Custom: {CANARY}-hdr\r\nContent-Type: text/{CANARY}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            let r = f.send(raw.as_bytes()).await.unwrap();
            assert_eq!(r.status, 415);
            assert_healthy(&mut f, "canaries").await;
            drop(f);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let logs = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                logs.lines().count() >= 3,
                "{name}: expected request logs at trace level, got {logs:?}"
            );
            assert!(
                !logs.contains(CANARY),
                "{name} (json {json_logs}): a canary reached the logs: {}",
                logs.lines().find(|l| l.contains(CANARY)).unwrap_or("")
            );
            assert!(
                !logs.contains(&tok),
                "{name}: the bearer token reached the logs"
            );
        }
    }
}
