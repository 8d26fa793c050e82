//! Runtime overheads: push-body decoding, OIDC verification with warm keys, and a full
//! loopback round trip through the server with a no-op handler.
//!
//! `cargo bench -p bacca-runtime --bench runtime`
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)] // benchmark code

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use bacca_runtime::decode::decode_push;
use bacca_runtime::oidc::OidcVerifier;
use bacca_runtime::{handler_fn, Event, OidcConfig, Outcome, RuntimeConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_push");
    for (name, size) in [("200B", 200usize), ("64KiB", 64 << 10), ("7MiB", 7 << 20)] {
        let body = common::push_body(&vec![b'x'; size], "2070443601311540", 1);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| decode_push(black_box(body.as_bytes())).unwrap())
        });
    }
    group.finish();
}

fn oidc_and_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let signer = common::Signer::new("bench");
    let jwks = rt.block_on(common::jwks_server(vec![signer.jwk()]));
    let oidc = OidcConfig::new(common::AUDIENCE, common::EMAIL).jwks_url(&jwks.url);
    let verifier = OidcVerifier::new(oidc.clone());
    let header = format!("Bearer {}", signer.sign(&common::good_claims()));
    rt.block_on(verifier.verify(Some(&header))).unwrap();
    c.bench_function("oidc_verify_warm", |b| {
        b.iter(|| {
            rt.block_on(verifier.verify(Some(black_box(&header))))
                .unwrap()
        });
    });

    let app = rt.block_on(common::spawn_app(
        handler_fn(|_e: Event| async { Ok(Outcome::Done) }),
        RuntimeConfig::default().oidc(oidc),
    ));
    let client = common::client();
    let body = common::push_body(
        br#"{"tenant":"acme","object":"raw/slack/2026-11-20/b1"}"#,
        "1",
        1,
    );
    let url = format!("{}/", app.url);
    c.bench_function("push_round_trip_with_oidc", |b| {
        b.iter(|| {
            rt.block_on(async {
                let res = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("authorization", &header)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 204);
            });
        });
    });
    rt.block_on(app.stop()).unwrap();
}

criterion_group!(benches, decode, oidc_and_round_trip);
criterion_main!(benches);
