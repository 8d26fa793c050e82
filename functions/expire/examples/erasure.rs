//! Measures one data-subject erasure on the embedded backends: `B` raw batches of `R` Slack
//! records among ten people (each batch also anonymized into the SQLite graph), then the
//! erasure of one person and a second, no-op erasure. Prints wall-clock and process CPU times
//! (CPU from `/proc/self/stat` on Linux, 10 ms resolution) and counts.
//!
//! `cargo run --release -p bacca-expire --example erasure -- [B] [R]` (default 500 40).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use bacca_audit::AuditSink;
use bacca_connectors::{Identity, Record, SourceKind};
use bacca_crypto::associated_data;
use bacca_expire::{Deps, ExpireRequest, Subject};
use bacca_fetch::RAW_PURPOSE;
use bacca_runtime::env::LocalLayout;
use bacca_storage::{BatchId, RawWriter};
use chrono::{Duration, Utc};

/// User plus system CPU time of this process, in seconds (`None` off Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn person(i: usize) -> Identity {
    Identity {
        role: "author".into(),
        id: Some(format!("U{i:08}")),
        name: Some(format!("Person{i} Example{i}")),
        handle: Some(format!("person{i}")),
        email: Some(format!("person{i}@example.org")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let batches: usize = args.next().map_or(Ok(500), |a| a.parse())?;
    let per_batch: usize = args.next().map_or(Ok(40), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    bacca_crypto::Keyring::new(
        LocalLayout::new(dir.path()).keyring_file(),
        AuditSink::Discard,
    )
    .create("acme")?;
    let mut deps = Deps::local_with_erasure(dir.path()).await?;
    deps.audit = AuditSink::Discard;
    let pipeline = deps.erasure.clone().expect("erasure deps").pipeline;
    let store = deps.stores.store("acme")?;
    store.create_bucket().await?;
    let writer = RawWriter::new(deps.stores.clone(), deps.policy, AuditSink::Discard);
    let aead = pipeline.keys.envelope("acme").await?;
    let now = Utc::now();
    let t = now - Duration::days(2);
    let started = Instant::now();
    for b in 0..batches {
        let records: Vec<Record> = (0..per_batch)
            .map(|i| {
                let n = b * per_batch + i;
                Record {
                    source: SourceKind::Slack,
                    kind: "message".into(),
                    id: format!("{n}.000100"),
                    container: Some("C0INC".into()),
                    parent_id: Some(format!("{}.000100", b * per_batch)),
                    occurred_at: t + Duration::seconds(n as i64),
                    updated_at: None,
                    text: format!(
                        "checkout-api 502s after deploy v4.{n}; paging Person{} Example{} \
                         (@person{}), rolled back",
                        (n + 1) % 10,
                        (n + 1) % 10,
                        (n + 1) % 10
                    ),
                    identities: vec![person(n % 10)],
                    attributes: serde_json::Value::Null,
                }
            })
            .collect();
        let id = BatchId::derive("acme", "slack", &b.to_string(), "bench");
        let name = bacca_storage::raw::raw_object_name("slack", t.date_naive(), &id)?;
        let mut plain = Vec::new();
        for r in &records {
            r.write_json_line(&mut plain)?;
        }
        let ct = aead
            .encrypt(&plain, &associated_data("acme", &name, RAW_PURPOSE))
            .await?;
        writer
            .write_batch("acme", "slack", &id, t, ct.into(), now)
            .await?;
        pipeline.process("acme", records).await?;
    }
    println!(
        "setup: {batches} batches x {per_batch} records written and anonymized in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let subject = Subject {
        email: Some("person3@example.org".into()),
        ..Subject::default()
    };
    for run in ["first", "second"] {
        let started = Instant::now();
        let cpu = cpu_seconds();
        let r = deps
            .erase(&ExpireRequest::erase("acme", subject.clone()))
            .await?;
        let cpu = cpu.zip(cpu_seconds()).map_or(f64::NAN, |(a, b)| b - a);
        println!(
            "{run} erasure: {:.3} s wall, {cpu:.2} s CPU; objects scanned {}, rewritten {}, deleted {}; records removed {}, redacted {}; graph nodes {} edges {} labels {}",
            started.elapsed().as_secs_f64(),
            r.raw.scanned,
            r.raw.rewritten,
            r.raw.deleted,
            r.records_removed,
            r.records_redacted,
            r.graph.nodes_deleted,
            r.graph.edges_deleted,
            r.graph.labels_rewritten
        );
    }
    Ok(())
}
