//! Where a graph write's time goes: per batch of 1000 bench records (the `graph` bench's
//! generator), the rows written and the time of the graph layer's reads (signature
//! generalisation, service mentions, cross-batch links), of encryption (blind ids, also timed
//! on their own; ciphertexts, term hashes) and of the store transaction, on SQLite (and
//! PostgreSQL when `BACCA_TEST_POSTGRES_URL` is set, in a fresh schema dropped at the end).
//!
//! `BACCA_PHASES_SIGNATURES=N` first stores N more signatures and gives every measured batch one
//! new signature, as log batches have: each upsert then reads and decrypts all stored
//! signatures (to generalise the new one), and the "graph reads" phase shows how that cost
//! grows with the graph (unset: the bench's 200 signatures, batches without signatures).
//!
//! `cargo run --release -p bacca-knowledge --example graph_phases`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use bacca_knowledge::model::{Batch, Node, NodeKind, NodeRef, TenantId};
use bacca_knowledge::store::sqlite::SqliteStore;
use bacca_knowledge::store::{GraphStore, StoreOptions};

#[path = "../benches/workload/mod.rs"]
mod workload;

use workload::*;

// The production binaries' allocator, so that the figures measure what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: u64 = 1000;

async fn run(name: &str, store: Arc<dyn GraphStore>) {
    let batches = batches();
    let tenant = TenantId::new(format!("phases-{}", std::process::id())).unwrap();
    let g = graph(Arc::clone(&store), tenant.as_str());
    g.create().await.unwrap();
    g.upsert(&base()).await.unwrap();
    let extra = extra_signatures();
    if let Some(n) = extra {
        g.upsert(&signatures(n)).await.unwrap();
    }
    let (mut full, mut enc, mut write) = (StdDuration::ZERO, StdDuration::ZERO, StdDuration::ZERO);
    let mut ids = StdDuration::ZERO;
    let (mut nodes, mut edges, mut terms) = (0, 0, 0);
    for i in 0..batches {
        // Whole graph-layer upsert of one batch...
        let mut b = records(2 * i * BATCH, BATCH);
        if extra.is_some() {
            b.nodes.push(signature(&format!("new-{i}")));
        }
        let t = Instant::now();
        g.upsert(&b).await.unwrap();
        full += t.elapsed();
        // ...and, for a fresh batch of the same shape, encryption and the store write alone.
        let b = records((2 * i + 1) * BATCH, BATCH);
        // The blind ids `encrypt_batch` derives (once per distinct node), timed on their own:
        // the rest of its time is sealing, term hashes and row building.
        let refs: HashSet<&NodeRef> = b
            .nodes
            .iter()
            .map(|n| &n.node)
            .chain(b.edges.iter().flat_map(|e| [&e.from, &e.to]))
            .collect();
        let t = Instant::now();
        for r in &refs {
            std::hint::black_box(g.node_id(r));
        }
        ids += t.elapsed();
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
    let per = |d: StdDuration| d.as_secs_f64() * 1e6 / (BATCH * batches) as f64;
    let recs = (BATCH * batches) as f64;
    println!(
        "{name}: per record {:.2} nodes, {:.2} edges, {:.2} term rows; \
         full upsert {:.1} us = graph reads {:.1} us + encryption {:.1} us (blind ids {:.1} us, \
         sealing and rows {:.1} us) + store {:.1} us",
        nodes as f64 / recs,
        edges as f64 / recs,
        terms as f64 / recs,
        per(full),
        per(full.saturating_sub(enc + write)),
        per(enc),
        per(ids),
        per(enc.saturating_sub(ids)),
        per(write),
    );
}

/// Extra stored signatures: `BACCA_PHASES_SIGNATURES` (unset: none, and no signature per batch).
fn extra_signatures() -> Option<usize> {
    std::env::var("BACCA_PHASES_SIGNATURES")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// A signature node with its own template (no stored template covers another's).
fn signature(tag: &str) -> Node {
    node(
        NodeKind::Signature,
        format!("sig-{tag}"),
        Some(format!("job {tag} stalled on <*> queue")),
        t0(),
    )
}

/// `n` signatures to store before the measured batches.
fn signatures(n: usize) -> Batch {
    Batch {
        nodes: (0..n).map(|k| signature(&format!("extra-{k}"))).collect(),
        ..Batch::default()
    }
}

/// Batches per backend: `BACCA_PHASES_BATCHES` (default 30; each writes 2 x 1000 records).
fn batches() -> u64 {
    std::env::var("BACCA_PHASES_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
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
