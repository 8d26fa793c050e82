//! Publish round trip of `PubSubPublisher` (official `google-cloud-pubsub` client, gRPC over
//! plaintext HTTP/2) against the local fake of `google.pubsub.v1.Publisher/Publish`: one
//! pointer-sized message (~100 B, two attributes, an ordering key) per call, awaited.
//!
//! `cargo bench -p bacca-bus --bench publish`
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)] // benchmark code

#[path = "../tests/support/grpc_fake.rs"]
mod grpc_fake;

use std::hint::black_box;

use bacca_bus::{Message, PubSubPublisher, Publisher};
use criterion::{criterion_group, criterion_main, Criterion};

fn publish(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(grpc_fake::FakePublisher::start());
    let publisher = PubSubPublisher::unauthenticated(&fake.endpoint, "bench").unwrap();
    let msg = Message::new(
        &br#"{"tenant":"acme","source":"slack","object":"raw/slack/2026-11-24/0001","generation":1764000000000000}"#[..],
    )
    .attribute("tenant", "acme")
    .attribute("source", "slack");
    // Connect and create the topic dispatcher outside the measurement.
    rt.block_on(publisher.publish("raw-landed", msg.clone()))
        .unwrap();

    let mut group = c.benchmark_group("pubsub_publish");
    group.bench_function("round_trip", |b| {
        b.iter(|| {
            rt.block_on(publisher.publish("raw-landed", black_box(msg.clone())))
                .unwrap()
        })
    });
    let ordered = msg.clone().ordering_key("acme");
    group.bench_function("round_trip_ordering_key", |b| {
        b.iter(|| {
            rt.block_on(publisher.publish("raw-landed", black_box(ordered.clone())))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, publish);
criterion_main!(benches);
