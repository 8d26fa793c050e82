//! Envelope encrypt+decrypt throughput (Tink `KmsEnvelopeAead` format, local KMS) at
//! 64 KiB, 1 MiB and 64 MiB. `cargo bench -p bacca-crypto --bench envelope`.
//!
//! Two groups: `envelope_encrypt_decrypt` reuses one ciphertext and one plaintext buffer
//! across calls (a worker's steady state: `encrypt_into` / `decrypt_into`);
//! `envelope_encrypt_decrypt_alloc` allocates fresh buffers per call (`encrypt` / `decrypt`),
//! so large sizes also pay for the kernel faulting in new pages. Throughput counts the
//! plaintext size once per encrypt+decrypt round trip.

// criterion_group! generates an undocumented public function.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use bacca_audit::AuditSink;
use bacca_crypto::{associated_data, EnvelopeAead, Keyring, Kms};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZES: [(&str, usize); 3] = [("64KiB", 64 << 10), ("1MiB", 1 << 20), ("64MiB", 64 << 20)];

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ring = Keyring::new(dir.path().join("keyring.json"), AuditSink::Discard);
    ring.create("acme").expect("create");
    let kek: Arc<dyn Kms> = Arc::new(ring.kek("acme").expect("kek"));
    let aead = EnvelopeAead::new(kek);
    let aad = associated_data("acme", "raw/bench/2026-11-24/b1", "raw-batch");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("envelope_encrypt_decrypt");
    for (label, size) in SIZES {
        let data = vec![0x5au8; size];
        let (mut ct, mut pt) = (Vec::new(), Vec::new());
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 64 << 20 {
            group.sample_size(10);
        }
        group.bench_with_input(BenchmarkId::from_parameter(label), &data, |b, data| {
            b.iter(|| {
                rt.block_on(async {
                    aead.encrypt_into(data, &aad, &mut ct)
                        .await
                        .expect("encrypt");
                    aead.decrypt_into(&ct, &aad, &mut pt)
                        .await
                        .expect("decrypt");
                    assert_eq!(pt.len(), data.len());
                });
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("envelope_encrypt_decrypt_alloc");
    for (label, size) in SIZES {
        let data = vec![0x5au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 64 << 20 {
            group.sample_size(10);
        }
        group.bench_with_input(BenchmarkId::from_parameter(label), &data, |b, data| {
            b.iter(|| {
                rt.block_on(async {
                    let ct = aead.encrypt(data, &aad).await.expect("encrypt");
                    let pt = aead.decrypt(&ct, &aad).await.expect("decrypt");
                    assert_eq!(pt.len(), data.len());
                });
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
