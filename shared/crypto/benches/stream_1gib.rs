//! Streams 1 GiB (configurable with `BACCA_STREAM_BYTES`) through the streaming envelope
//! encryptor and then the decryptor, through a pipe-like chain that never holds the data,
//! so peak RSS can be measured:
//!
//! ```text
//! cargo bench -p bacca-crypto --bench stream_1gib --no-run
//! /usr/bin/time -v $CARGO_TARGET_DIR/release/deps/stream_1gib-<hash>   # "Maximum resident set size"
//! ```
//!
//! Encryption writes the ciphertext to a temporary file; decryption reads it back and
//! discards the plaintext while checking its length and content.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufReader, BufWriter, Read};
use std::sync::Arc;
use std::time::Instant;

use bacca_audit::AuditSink;
use bacca_crypto::ops::envelope_encrypt_with;
use bacca_crypto::{envelope_decrypt, EncryptOptions, Keyring, Kms, SEGMENT_1MB};

/// A reader yielding `left` bytes of a repeating pattern without allocating them.
struct Pattern {
    left: u64,
    pos: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for b in &mut buf[..n] {
            *b = (self.pos % 251) as u8;
            self.pos += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A writer checking the pattern and counting bytes.
struct Check {
    pos: u64,
}

impl std::io::Write for Check {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(self.write_slice(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Check {
    fn write_slice(&mut self, buf: &[u8]) -> usize {
        for &b in buf {
            assert_eq!(b, (self.pos % 251) as u8, "plaintext mismatch");
            self.pos += 1;
        }
        buf.len()
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bytes: u64 = std::env::var("BACCA_STREAM_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let dir = tempfile::tempdir().expect("tempdir");
    let ring = Keyring::new(dir.path().join("keyring.json"), AuditSink::Discard);
    ring.create("acme").expect("create");
    let kek: Arc<dyn Kms> = Arc::new(ring.kek("acme").expect("kek"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let ct_path = dir.path().join("ciphertext");
    let opts = EncryptOptions {
        streaming: true,
        segment_size: SEGMENT_1MB,
    };

    let start = Instant::now();
    let out = BufWriter::new(std::fs::File::create(&ct_path).expect("create ciphertext"));
    let input = Pattern {
        left: bytes,
        pos: 0,
    };
    rt.block_on(envelope_encrypt_with(kek.clone(), b"ad", input, out, opts))
        .expect("encrypt");
    let enc = start.elapsed();

    let start = Instant::now();
    let input = BufReader::new(std::fs::File::open(&ct_path).expect("open ciphertext"));
    let mut check = Check { pos: 0 };
    let n = rt
        .block_on(envelope_decrypt(kek, b"ad", input, &mut check))
        .expect("decrypt");
    let dec = start.elapsed();
    assert_eq!(n, bytes);
    assert_eq!(check.pos, bytes);
    let ct_len = std::fs::metadata(&ct_path).map(|m| m.len()).unwrap_or(0);
    println!(
        "streamed {bytes} bytes (ciphertext {ct_len}): encrypt {:.2} s, decrypt+verify {:.2} s",
        enc.as_secs_f64(),
        dec.as_secs_f64()
    );
}
