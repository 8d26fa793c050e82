//! Interop with Python tink, both directions, envelope and streaming formats, same local KEK.
//!
//! Runs only when `BACCA_TINK_PYTHON` names a python with `tink` installed
//! (`scripts/test.sh` sets it to `.venv/bin/python`); otherwise it fails when `CI` is set and
//! prints that it skipped elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bacca_audit::AuditSink;
use bacca_crypto::ops::envelope_encrypt_with;
use bacca_crypto::{
    associated_data, envelope_decrypt, EncryptOptions, Error, Keyring, Kms, SEGMENT_1MB,
    SEGMENT_4KB,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn script() -> PathBuf {
    Path::new(
        &*std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../scripts/tink_interop.py")
}

struct Py<'a> {
    python: &'a str,
    keyring: &'a Path,
    tenant: &'a str,
    dir: &'a Path,
}

impl Py<'_> {
    /// Runs the script; `Ok(Some(output))` on success, `Ok(None)` when tink refused.
    fn run(
        &self,
        op: &str,
        aad: &[u8],
        input: &[u8],
        streaming: bool,
        segment: &str,
    ) -> Result<Option<Vec<u8>>, Box<dyn std::error::Error>> {
        let (inp, out) = (self.dir.join("py-in"), self.dir.join("py-out"));
        std::fs::write(&inp, input)?;
        let _ = std::fs::remove_file(&out);
        let mut cmd = Command::new(self.python);
        cmd.arg(script())
            .arg(op)
            .arg("--keyring")
            .arg(self.keyring)
            .args([
                "--tenant",
                self.tenant,
                "--aad-hex",
                &hex::encode(aad),
                "--segment",
                segment,
            ])
            .arg("--input")
            .arg(&inp)
            .arg("--output")
            .arg(&out);
        if streaming {
            cmd.arg("--streaming");
        }
        let status = cmd.status()?;
        match status.code() {
            Some(0) => Ok(Some(std::fs::read(&out)?)),
            Some(3) => Ok(None),
            _ => Err(format!("tink_interop.py failed: {status}").into()),
        }
    }
}

async fn rust_encrypt(
    kek: &Arc<dyn Kms>,
    aad: &[u8],
    data: &[u8],
    streaming: bool,
    segment_size: u32,
) -> Result<Vec<u8>, Error> {
    let mut ct = Vec::new();
    let opts = EncryptOptions {
        streaming,
        segment_size,
    };
    envelope_encrypt_with(kek.clone(), aad, data, &mut ct, opts).await?;
    Ok(ct)
}

async fn rust_decrypt(kek: &Arc<dyn Kms>, aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    envelope_decrypt(kek.clone(), aad, ct, &mut out).await?;
    Ok(out)
}

#[tokio::test]
async fn python_tink_and_rust_read_each_other() -> TestResult {
    let Some(python) = bacca_testenv::service_env(
        "BACCA_TINK_PYTHON",
        "scripts/test.sh sets it to .venv/bin/python",
    ) else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let keyring = dir.path().join("keyring.json");
    let ring = Keyring::new(&keyring, AuditSink::Discard);
    ring.create("acme")?;
    // Rotate once so decryption must pick the right version from the Tink prefix.
    let before_rotation: Arc<dyn Kms> = Arc::new(ring.kek("acme")?);
    let aad = associated_data("acme", "raw/slack/2026-11-20/b1", "raw-batch");
    let old_ct = rust_encrypt(&before_rotation, &aad, b"written before rotation", false, 0).await?;
    ring.rotate("acme")?;
    let kek: Arc<dyn Kms> = Arc::new(ring.kek("acme")?);
    let py = Py {
        python: &python,
        keyring: &keyring,
        tenant: "acme",
        dir: dir.path(),
    };

    assert_eq!(
        py.run("decrypt", &aad, &old_ct, false, "4KB")?.as_deref(),
        Some(&b"written before rotation"[..])
    );

    let small: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let big: Vec<u8> = (0..(3 << 20) + 123u32).map(|i| (i % 241) as u8).collect();
    for (data, streaming, segment_size, segment) in [
        (&small, false, 0, "4KB"),
        (&big, true, SEGMENT_4KB, "4KB"),
        (&big, true, SEGMENT_1MB, "1MB"),
        (&Vec::new(), true, SEGMENT_4KB, "4KB"),
        (&Vec::new(), false, 0, "4KB"),
    ] {
        // Rust encrypts, Python tink decrypts.
        let ct = rust_encrypt(&kek, &aad, data, streaming, segment_size.max(SEGMENT_4KB)).await?;
        let back = py.run("decrypt", &aad, &ct, streaming, segment)?;
        assert_eq!(
            back.as_ref(),
            Some(data),
            "python decrypt, streaming={streaming} {segment}"
        );
        // Python refuses the wrong associated data too.
        assert_eq!(py.run("decrypt", b"other", &ct, streaming, segment)?, None);

        // Python tink encrypts, Rust decrypts.
        let ct = py
            .run("encrypt", &aad, data, streaming, segment)?
            .ok_or("python encrypt refused")?;
        if !streaming {
            // Tink's KmsEnvelopeAead: 4 + wrapped + 12 + len + 16 bytes.
            let wlen = u32::from_be_bytes(ct[..4].try_into()?) as usize;
            assert_eq!(ct.len(), 4 + wlen + 12 + data.len() + 16);
        }
        assert_eq!(
            &rust_decrypt(&kek, &aad, &ct).await?,
            data,
            "rust decrypt, streaming={streaming} {segment}"
        );
        assert!(matches!(
            rust_decrypt(&kek, b"other", &ct).await,
            Err(Error::WrongAssociatedData)
        ));
    }
    Ok(())
}
