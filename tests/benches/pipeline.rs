//! End-to-end pipeline throughput on embedded backends: Slack messages through fetch (a
//! Slack export ZIP, one page per channel-day file: the API connector is paced at Slack's
//! Tier 3 limit, so the export is how a backfill moves volume), envelope encryption, the raw
//! `file://` store, `raw-landed` on the in-process bus, decryption, anonymization, extraction
//! and the SQLite graph upsert. Timed from the fetch request to the drained bus; building the
//! world (keys, stores, graph) is outside the timing.
//!
//! `BACCA_BENCH_MESSAGES` (default 20000) messages in 20 day files of one allowlisted channel,
//! incident threads of 8 messages with names, e-mails, phones, IPs and user mentions.
//!
//! ```text
//! cargo bench -p bacca-tests --bench pipeline
//! /usr/bin/time -v $CARGO_TARGET_DIR/release/deps/pipeline-<hash> --bench   # peak RSS
//! ```
//! The bench prints the process's peak RSS (`VmHWM`) at the end.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bacca_tests::{create_keys, replay_credentials, Harness};
use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

// The production binaries' allocator, so that the figures measure what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TENANT: &str = "bench";
const CHANNEL: &str = "C0BENCHINC";
const DAYS: i64 = 20;

fn messages() -> usize {
    std::env::var("BACCA_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

const SERVICES: [&str; 12] = [
    "checkout-api",
    "payments-api",
    "search-api",
    "orders-db",
    "redis-cache",
    "auth-gateway",
    "inventory-svc",
    "email-worker",
    "billing-api",
    "cart-api",
    "media-cdn",
    "ledger-svc",
];
const PEOPLE: [(&str, &str, &str); 6] = [
    (
        "U0BENCH001",
        "Dana Whitfield",
        "dana.whitfield@acme-corp.example",
    ),
    (
        "U0BENCH002",
        "Ravi Chandrasekar",
        "ravi.c@acme-corp.example",
    ),
    ("U0BENCH003", "Mei Lin", "mei.lin@acme-corp.example"),
    (
        "U0BENCH004",
        "Tomasz Nowak",
        "tomasz.nowak@acme-corp.example",
    ),
    ("U0BENCH005", "Ana Souza", "ana.souza@acme-corp.example"),
    (
        "U0BENCH006",
        "Kwame Mensah",
        "kwame.mensah@acme-corp.example",
    ),
];

/// A Slack export with `n` messages in `DAYS` day files of one channel.
fn export_zip(path: &Path, n: usize) {
    let now = Utc::now();
    let per_day = n.div_ceil(DAYS as usize);
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("channels.json", opts).unwrap();
    w.write_all(
        json!([{"id": CHANNEL, "name": "incidents"}])
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let users: Vec<_> = PEOPLE
        .iter()
        .map(|(id, name, email)| {
            json!({"id": id, "name": name.split(' ').next().unwrap().to_lowercase(),
                   "real_name": name, "profile": {"real_name": name, "email": email}})
        })
        .collect();
    w.start_file("users.json", opts).unwrap();
    w.write_all(serde_json::Value::from(users).to_string().as_bytes())
        .unwrap();
    let mut written = 0usize;
    for d in 0..DAYS {
        let day = now - chrono::Duration::days(DAYS - d);
        let base = day.timestamp();
        let mut msgs = Vec::with_capacity(per_day);
        let mut i = 0usize;
        while i < per_day && written < n {
            let k = written;
            let svc = SERVICES[k / 8 % SERVICES.len()];
            let up = SERVICES[(k / 8 + 5) % SERVICES.len()];
            let (uid, name, email) = PEOPLE[k % PEOPLE.len()];
            let (other, _, _) = PEOPLE[(k + 1) % PEOPLE.len()];
            let ts = format!("{}.{:06}", base + i as i64, k % 1_000_000);
            let root = format!(
                "{}.{:06}",
                base + (i - i % 8) as i64,
                (k - k % 8) % 1_000_000
            );
            let text = match k % 8 {
                0 => format!("SEV2: {svc} returning 502s since deploy v4.{}.0, paging <@{other}>", k % 40),
                1 => format!("<@{uid}> looking. {svc}-7d9f8b6c5-x2kq9 times out calling {up} after {}ms", 4000 + k % 900),
                2 => format!("customer 203.0.113.{} reported errors on the checkout page", k % 250),
                3 => format!("call me at +1 415 555 01{:02} if it pages again", k % 100),
                4 => format!("connection pool exhausted (max={}) on {up}", 100 + k % 200),
                5 => format!("{name} ({email}) is incident commander"),
                6 => format!("rolled back {svc} to v4.{}.3 with kubectl rollout undo, error rate back to normal", k % 40),
                _ => format!("postmortem for {svc} scheduled, thanks <@{uid}>"),
            };
            let mut m = json!({"type": "message", "user": uid, "text": text, "ts": ts});
            if k.is_multiple_of(8) {
                m["thread_ts"] = json!(ts);
                m["reply_count"] = json!(7);
            } else {
                m["thread_ts"] = json!(root);
                m["parent_user_id"] = json!(uid);
            }
            msgs.push(m);
            i += 1;
            written += 1;
        }
        w.start_file(format!("incidents/{}.json", day.format("%Y-%m-%d")), opts)
            .unwrap();
        w.write_all(serde_json::Value::from(msgs).to_string().as_bytes())
            .unwrap();
    }
    w.finish().unwrap();
}

struct World {
    _dir: tempfile::TempDir,
    harness: Harness,
}

async fn world(export: &Path) -> World {
    let dir = tempfile::tempdir().unwrap();
    create_keys(dir.path(), &[TENANT]).unwrap();
    let pipeline = bacca_anonymize::Pipeline::local(dir.path()).await.unwrap();
    // Open the tenant's keys and graph before the clock starts.
    let _ = pipeline.graph_of(TENANT).await.unwrap();
    let mut fetch = bacca_fetch::Deps::local(dir.path()).unwrap();
    fetch
        .stores
        .store(TENANT)
        .unwrap()
        .create_bucket()
        .await
        .unwrap();
    fetch.tenant = Some(TENANT.into());
    fetch.in_flight = Some(Arc::new(pipeline.clone()));
    fetch.env = replay_credentials();
    fetch.connectors.slack_channels = vec![CHANNEL.into()];
    fetch.connectors.slack_export_input = Some(export.to_path_buf());
    fetch.max_pages_per_request = 1000;
    let anonymize = bacca_anonymize::Deps {
        pipeline,
        publisher: Arc::new(bacca_bus::MemoryPublisher::new()),
        knowledge_updated_topic: String::new(),
        tenant: None,
    };
    let harness = Harness::wire(anonymize, vec![fetch], |p| p).unwrap();
    World { _dir: dir, harness }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bench(c: &mut Criterion) {
    let n = messages();
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export.zip");
    export_zip(&export, n);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function(format!("slack_messages_{n}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let w = rt.block_on(world(&export));
                let started = Instant::now();
                rt.block_on(async {
                    w.harness
                        .request_fetch(TENANT, &["slack-export"])
                        .await
                        .unwrap();
                    w.harness.bus.drain().await;
                });
                total += started.elapsed();
                let records: u64 = w
                    .harness
                    .processed_objects()
                    .unwrap()
                    .iter()
                    .map(|(_, _, r)| r)
                    .sum();
                assert_eq!(records, n as u64, "every message reached the graph");
                assert!(w.harness.dead_letters.messages().is_empty());
            }
            total
        });
    });
    group.finish();
    if let Some(kib) = peak_rss_kib() {
        eprintln!("peak RSS (VmHWM) of the bench process: {} MiB", kib / 1024);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
