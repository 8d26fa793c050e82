//! Where a graph write's time goes: per batch of 1000 bench records (the `graph` bench's
//! generator), the rows written and the time of the graph layer's reads (signature
//! generalisation, service mentions, cross-batch links), of encryption (ids, ciphertexts, term
//! hashes) and of the store transaction, on SQLite (and PostgreSQL when
//! `BACCA_TEST_POSTGRES_URL` is set, in a fresh schema dropped at the end).
//!
//! `cargo run --release -p bacca-knowledge --example graph_phases`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use bacca_knowledge::model::TenantId;
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{GraphStore, StoreOptions};

#[path = "../benches/workload/mod.rs"]
mod workload;

use workload::*;

const BATCH: u64 = 1000;
const BATCHES: u64 = 30;

async fn run(name: &str, store: Arc<dyn GraphStore>) {
    let tenant = TenantId::new(format!("phases-{}", std::process::id())).unwrap();
    let g = graph(Arc::clone(&store), tenant.as_str());
    g.create().await.unwrap();
    g.upsert(&base()).await.unwrap();
    let (mut full, mut enc, mut write) = (StdDuration::ZERO, StdDuration::ZERO, StdDuration::ZERO);
    let (mut nodes, mut edges, mut terms) = (0, 0, 0);
    for i in 0..BATCHES {
        // Whole graph-layer upsert of one batch...
        let b = records(2 * i * BATCH, BATCH);
        let t = Instant::now();
        g.upsert(&b).await.unwrap();
        full += t.elapsed();
        // ...and, for a fresh batch of the same shape, encryption and the store write alone.
        let b = records((2 * i + 1) * BATCH, BATCH);
        let t = Instant::now();
        let rows = g.encrypt_batch(&b).unwrap();
        enc += t.elapsed();
        nodes += rows.nodes.len();
        edges += rows.edges.len();
        terms += rows.terms.len();
        let t = Instant::now();
        store.upsert(&tenant, &rows).await.unwrap();
        write += t.elapsed();
    }
    let per = |d: StdDuration| d.as_secs_f64() * 1e6 / (BATCH * BATCHES) as f64;
    let recs = (BATCH * BATCHES) as f64;
    println!(
        "{name}: per record {:.2} nodes, {:.2} edges, {:.2} term rows; \
         full upsert {:.1} us = graph reads {:.1} us + encryption {:.1} us + store {:.1} us",
        nodes as f64 / recs,
        edges as f64 / recs,
        terms as f64 / recs,
        per(full),
        per(full.saturating_sub(enc + write)),
        per(enc),
        per(write),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    run(
        "sqlite",
        Arc::new(SqliteStore::open(dir.path(), StoreOptions::default()).unwrap()),
    )
    .await;
    if let Ok(url) = std::env::var("BACCA_TEST_POSTGRES_URL") {
        let schema = schema_name("phases");
        let store = postgres_store(&url, &schema).await.unwrap();
        run("postgres", store).await;
        drop_schema(&url, &schema).await;
    }
}
