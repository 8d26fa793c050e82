//! Bounded load on loopback: Pub/Sub push deliveries at Cloud Run's default concurrency (80)
//! against the `bacca-expire` binary with push OIDC verification on, reporting p50/p99 latency
//! and peak RSS, with zero errors and zero lost messages (every delivery acknowledged with 204,
//! nothing dead-lettered, the process alive at the end).
//!
//! - always on: 500 deliveries (`load_500_deliveries_at_concurrency_80`);
//! - the full run, ignored by default (10,000 deliveries):
//!   `cargo test -p bacca-tests --test load_functions -- --ignored --nocapture`; prefix it with
//!   `BACCA_FUNCTION_BIN_DIR=$CARGO_TARGET_DIR/release` after
//!   `cargo build --release -p bacca-expire` to measure the release binary.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests

mod hostile_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hostile_support::{good_claims, jwks_server, oidc_env, push_body, Function, Signer};

/// Deliveries are spread over this many tenants (one local bucket each).
const TENANTS: usize = 50;

struct Figures {
    requests: usize,
    errors: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    throughput: f64,
    peak_rss_kib: u64,
}

async fn run_load(requests: usize, concurrency: usize) -> Figures {
    let signer = Signer::new("load-key");
    let jwks = jwks_server(vec![signer.jwk()]).await;
    let mut f = Function::spawn("bacca-expire", &oidc_env(&jwks)).await;
    // Provisioning (Terraform in production) creates each tenant's raw bucket.
    for t in 0..TENANTS {
        std::fs::create_dir_all(f.data_dir.path().join(format!("objects/t{t}"))).unwrap();
    }
    let token = Arc::new(signer.sign(&good_claims()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let url = Arc::new(f.url());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, token, next) = (
            client.clone(),
            Arc::clone(&url),
            Arc::clone(&token),
            Arc::clone(&next),
        );
        set.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= requests {
                    break;
                }
                let body = push_body(
                    &serde_json::json!({"tenant": format!("t{}", i % TENANTS)}),
                    &format!("load-{i}"),
                    1,
                );
                let sent = Instant::now();
                let res = client
                    .post(url.as_str())
                    .bearer_auth(token.as_str())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                latencies.push(sent.elapsed());
                match res {
                    Ok(r) if r.status().as_u16() == 204 => {}
                    Ok(r) => errors.push(format!("message {i}: status {}", r.status())),
                    Err(e) => errors.push(format!("message {i}: {e}")),
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = Vec::new();
    while let Some(r) = set.join_next().await {
        let (l, e) = r.expect("worker");
        latencies.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    let (_, peak_rss_kib) = f.rss_kib();
    assert!(f.alive(), "bacca-expire died under load");
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(latencies.len(), requests, "every delivery answered");
    assert!(
        f.dead_letters().is_empty(),
        "valid sweeps must not be dead-lettered"
    );
    // Zero lost: every delivery reached the handler and completed its sweep (one audit event
    // per sweep, per tenant in equal shares).
    let audit = std::fs::read_to_string(f.data_dir.path().join("audit.jsonl")).unwrap_or_default();
    let mut per_tenant = std::collections::BTreeMap::<String, usize>::new();
    for line in audit.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value = serde_json::from_str(line).expect("audit line is JSON");
        if event["action"] == "sweep" {
            *per_tenant
                .entry(event["tenant"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(
        per_tenant.values().sum::<usize>(),
        requests,
        "one completed sweep per delivery"
    );
    for t in 0..TENANTS {
        let want = requests / TENANTS + usize::from(t < requests % TENANTS);
        assert_eq!(
            per_tenant.get(&format!("t{t}")).copied().unwrap_or(0),
            want,
            "tenant t{t}"
        );
    }
    latencies.sort();
    let pct = |p: f64| {
        let idx = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[idx]
    };
    let figures = Figures {
        requests,
        errors: errors.len(),
        p50: pct(0.50),
        p99: pct(0.99),
        max: *latencies.last().expect("latencies"),
        throughput: requests as f64 / elapsed.as_secs_f64(),
        peak_rss_kib,
    };
    eprintln!(
        "load: {} deliveries at concurrency {concurrency} in {:.2?}: {:.0} req/s, p50 {:.2?}, \
         p99 {:.2?}, max {:.2?}, errors {}, lost 0, peak RSS {} KiB ({})",
        figures.requests,
        elapsed,
        figures.throughput,
        figures.p50,
        figures.p99,
        figures.max,
        figures.errors,
        figures.peak_rss_kib,
        hostile_support::binary("bacca-expire").display(),
    );
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_500_deliveries_at_concurrency_80() {
    let f = run_load(500, 80).await;
    assert_eq!(f.errors, 0);
    // Generous bounds for a debug build on a shared 2-core machine: catch a hang or a leak.
    assert!(f.p99 < Duration::from_secs(10), "p99 {:?}", f.p99);
    assert!(
        f.peak_rss_kib < 256 * 1024,
        "peak RSS {} KiB",
        f.peak_rss_kib
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "10,000 deliveries: run explicitly (see the module docs)"]
async fn load_10k_deliveries_at_concurrency_80() {
    let f = run_load(10_000, 80).await;
    assert_eq!(f.errors, 0);
    assert!(
        f.peak_rss_kib < 256 * 1024,
        "peak RSS {} KiB",
        f.peak_rss_kib
    );
}
