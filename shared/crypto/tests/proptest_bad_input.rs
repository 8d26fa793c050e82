//! Random bytes and random truncations or bit flips of valid ciphertexts always return an
//! error, never panic.

// Test helpers and fake-server handlers outside #[test] functions may panic on setup failure.
#![allow(clippy::unwrap_used)]

use bacca_audit::AuditSink;
use bacca_crypto::ops::envelope_encrypt_with;
use bacca_crypto::{envelope_decrypt, EncryptOptions, EnvelopeAead, Keyring, Kms, SEGMENT_4KB};
use proptest::prelude::*;
use std::sync::Arc;

struct Setup {
    _dir: tempfile::TempDir,
    kek: Arc<dyn Kms>,
    rt: tokio::runtime::Runtime,
    envelope: Vec<u8>,
    streaming: Vec<u8>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ring = Keyring::new(dir.path().join("k.json"), AuditSink::Discard);
    ring.create("acme").unwrap();
    let kek: Arc<dyn Kms> = Arc::new(ring.kek("acme").unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let data = vec![42u8; 10_000];
    let envelope = rt
        .block_on(EnvelopeAead::new(kek.clone()).encrypt(&data, b"ad"))
        .unwrap();
    let mut streaming = Vec::new();
    let opts = EncryptOptions {
        streaming: true,
        segment_size: SEGMENT_4KB,
    };
    rt.block_on(envelope_encrypt_with(
        kek.clone(),
        b"ad",
        data.as_slice(),
        &mut streaming,
        opts,
    ))
    .unwrap();
    Setup {
        _dir: dir,
        kek,
        rt,
        envelope,
        streaming,
    }
}

fn decrypt(s: &Setup, ct: &[u8]) -> bool {
    let a =
        s.rt.block_on(EnvelopeAead::new(s.kek.clone()).decrypt(ct, b"ad"))
            .is_err();
    let b =
        s.rt.block_on(envelope_decrypt(s.kek.clone(), b"ad", ct, &mut Vec::new()))
            .is_err();
    a && b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_are_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
        let s = setup();
        prop_assert!(decrypt(&s, &bytes));
    }

    #[test]
    fn truncations_are_rejected(cut in 0usize..20_000, which in any::<bool>()) {
        let s = setup();
        let ct = if which { &s.envelope } else { &s.streaming };
        let cut = cut % ct.len();
        prop_assert!(decrypt(&s, &ct[..cut]));
    }

    #[test]
    fn bit_flips_are_rejected(pos in 0usize..20_000, bit in 0u8..8, which in any::<bool>()) {
        let s = setup();
        let mut ct = if which { s.envelope.clone() } else { s.streaming.clone() };
        let pos = pos % ct.len();
        ct[pos] ^= 1 << bit;
        prop_assert!(decrypt(&s, &ct));
    }
}
