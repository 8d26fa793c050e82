//! Black-box tests of the local keyring, the envelope and streaming formats, and bad input.

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use bacca_audit::AuditSink;
use bacca_crypto::ops::envelope_encrypt_with;
use bacca_crypto::{
    associated_data, envelope_decrypt, envelope_encrypt, open_kms, EncryptOptions, EnvelopeAead,
    Error, Keyring, Kms, PseudonymKey, SEGMENT_4KB,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Fixture {
    _dir: tempfile::TempDir,
    ring: Keyring,
    audit: AuditSink,
}

fn fixture(tenants: &[&str]) -> Result<Fixture, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let audit = AuditSink::memory();
    let ring = Keyring::new(dir.path().join("keys/keyring.json"), audit.clone());
    for t in tenants {
        ring.create(t)?;
    }
    Ok(Fixture {
        _dir: dir,
        ring,
        audit,
    })
}

async fn aead(ring: &Keyring, tenant: &str) -> Result<EnvelopeAead, Box<dyn std::error::Error>> {
    Ok(EnvelopeAead::new(open_kms(&ring.tenant_uri(tenant)).await?))
}

#[tokio::test]
async fn tink_envelope_layout() -> TestResult {
    let f = fixture(&["acme"])?;
    let a = aead(&f.ring, "acme").await?;
    let ct = a.encrypt(b"hello world", b"ad").await?;
    let wlen = u32::from_be_bytes(ct[..4].try_into()?) as usize;
    // Wrapped DEK = Tink prefix (5) + IV (12) + AesGcmKey proto (34) + tag (16).
    assert_eq!(wlen, 5 + 12 + 34 + 16);
    assert_eq!(ct[4], 0x01, "TINK output prefix");
    let key_id = u32::from_be_bytes(ct[5..9].try_into()?);
    assert_eq!(f.ring.versions("acme")?[0].key_id, key_id);
    assert_eq!(ct.len(), 4 + wlen + 12 + 11 + 16);
    assert_eq!(a.decrypt(&ct, b"ad").await?, b"hello world");
    // The unwrapped DEK is the serialized AesGcmKey 0x1a 0x20 <32 bytes>.
    let dek = a.kek().decrypt(&ct[4..4 + wlen], &[]).await?;
    assert_eq!((dek.len(), dek[0], dek[1]), (34, 0x1a, 0x20));
    Ok(())
}

#[tokio::test]
async fn cross_tenant_and_cross_object_fail() -> TestResult {
    let f = fixture(&["acme", "globex"])?;
    let acme = aead(&f.ring, "acme").await?;
    let globex = aead(&f.ring, "globex").await?;
    let aad = associated_data("acme", "raw/slack/2026-11-20/b1", "raw-batch");
    let ct = acme.encrypt(b"secret batch", &aad).await?;
    assert_eq!(acme.decrypt(&ct, &aad).await?, b"secret batch");
    // Another object of the same tenant.
    let other_obj = associated_data("acme", "raw/slack/2026-11-20/b2", "raw-batch");
    assert!(matches!(
        acme.decrypt(&ct, &other_obj).await,
        Err(Error::WrongAssociatedData)
    ));
    // Another purpose.
    let other_purpose = associated_data("acme", "raw/slack/2026-11-20/b1", "pseudonym-key");
    assert!(matches!(
        acme.decrypt(&ct, &other_purpose).await,
        Err(Error::WrongAssociatedData)
    ));
    // Copied to another tenant: its KEK does not hold the version that wrapped the DEK.
    let globex_aad = associated_data("globex", "raw/slack/2026-11-20/b1", "raw-batch");
    assert!(matches!(
        globex.decrypt(&ct, &globex_aad).await,
        Err(Error::UnknownKeyVersion { .. })
    ));
    // Even with the right associated data, another tenant's KEK cannot unwrap it.
    assert!(globex.decrypt(&ct, &aad).await.is_err());
    Ok(())
}

#[tokio::test]
async fn rotation_keeps_old_versions_and_destroy_shreds() -> TestResult {
    let f = fixture(&["acme"])?;
    let a = aead(&f.ring, "acme").await?;
    let old = a.encrypt(b"v1 data", b"ad").await?;
    let v2 = f.ring.rotate("acme")?;
    assert_eq!(v2.version, 2);
    let new = a.encrypt(b"v2 data", b"ad").await?;
    assert_eq!(u32::from_be_bytes(new[5..9].try_into()?), v2.key_id);
    assert_eq!(a.decrypt(&old, b"ad").await?, b"v1 data");
    assert_eq!(a.decrypt(&new, b"ad").await?, b"v2 data");

    assert!(matches!(
        f.ring.destroy_version("acme", 2),
        Err(Error::KeyState(_))
    ));
    f.ring.destroy_version("acme", 1)?;
    let v1_id = f.ring.versions("acme")?[0].key_id;
    match a.decrypt(&old, b"ad").await {
        Err(Error::KeyVersionDestroyed { key_id }) => assert_eq!(key_id, v1_id),
        other => panic!("expected KeyVersionDestroyed, got {other:?}"),
    }
    assert_eq!(a.decrypt(&new, b"ad").await?, b"v2 data");
    // The key material is gone from the file, not just flagged.
    let json = std::fs::read_to_string(f.ring.path())?;
    let file: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(
        file["tenants"]["acme"]["keyset"]["key"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    f.ring.destroy_tenant("acme")?;
    assert!(matches!(
        a.decrypt(&new, b"ad").await,
        Err(Error::KeyVersionDestroyed { .. })
    ));
    assert!(matches!(
        a.encrypt(b"x", b"").await,
        Err(Error::TenantDestroyed)
    ));
    assert!(matches!(f.ring.rotate("acme"), Err(Error::TenantDestroyed)));
    assert!(matches!(f.ring.create("acme"), Err(Error::TenantExists)));

    let actions: Vec<String> = f.audit.events().into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            "key_create",
            "key_rotate",
            "key_destroy_version",
            "key_destroy_tenant"
        ]
    );
    let audit_json = serde_json::to_string(&f.audit.events())?;
    assert!(
        !audit_json.contains("value"),
        "no key material in audit events"
    );
    Ok(())
}

#[tokio::test]
async fn keyring_file_is_private_tink_json() -> TestResult {
    let f = fixture(&["acme"])?;
    let mode = std::fs::metadata(f.ring.path())?.permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let keyset: serde_json::Value = serde_json::from_str(&f.ring.tink_keyset_json("acme")?)?;
    let key = &keyset["key"][0];
    assert_eq!(
        key["keyData"]["typeUrl"],
        "type.googleapis.com/google.crypto.tink.AesGcmKey"
    );
    assert_eq!(key["keyData"]["keyMaterialType"], "SYMMETRIC");
    assert_eq!(key["outputPrefixType"], "TINK");
    assert_eq!(key["status"], "ENABLED");
    assert_eq!(keyset["primaryKeyId"], key["keyId"]);
    // No temporary files left behind.
    let dir = f.ring.path().parent().ok_or("no parent")?;
    assert_eq!(std::fs::read_dir(dir)?.count(), 1);
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_typed_errors() -> TestResult {
    let f = fixture(&["acme"])?;
    let a = aead(&f.ring, "acme").await?;
    let ct = a.encrypt(b"payload bytes", b"ad").await?;
    let wlen = u32::from_be_bytes(ct[..4].try_into()?) as usize;

    assert!(matches!(a.decrypt(&[], b"ad").await, Err(Error::Truncated)));
    assert!(matches!(
        a.decrypt(&ct[..3], b"ad").await,
        Err(Error::Truncated)
    ));
    assert!(matches!(
        a.decrypt(&ct[..4 + wlen - 1], b"ad").await,
        Err(Error::Truncated)
    ));
    assert!(matches!(
        a.decrypt(&ct[..4 + wlen + 20], b"ad").await,
        Err(Error::Truncated)
    ));
    let short = &ct[..ct.len() - 1];
    assert!(matches!(
        a.decrypt(short, b"ad").await,
        Err(Error::WrongAssociatedData)
    ));

    let mut empty = ct.clone();
    empty[..4].copy_from_slice(&0u32.to_be_bytes());
    assert!(matches!(
        a.decrypt(&empty, b"ad").await,
        Err(Error::WrappedKeyEmpty)
    ));
    let mut huge = ct.clone();
    huge[..4].copy_from_slice(&4097u32.to_be_bytes());
    assert!(matches!(
        a.decrypt(&huge, b"ad").await,
        Err(Error::WrappedKeyTooLarge { len: 4097 })
    ));

    let mut unknown = ct.clone();
    unknown[5..9].copy_from_slice(&0xDEAD_BEEFu32.to_be_bytes());
    assert!(matches!(
        a.decrypt(&unknown, b"ad").await,
        Err(Error::UnknownKeyVersion {
            key_id: 0xDEAD_BEEF
        })
    ));

    let mut wrapped_flip = ct.clone();
    wrapped_flip[4 + 20] ^= 0x40;
    assert!(matches!(
        a.decrypt(&wrapped_flip, b"ad").await,
        Err(Error::Tampered)
    ));
    let mut payload_flip = ct.clone();
    let last = payload_flip.len() - 20;
    payload_flip[last] ^= 1;
    assert!(matches!(
        a.decrypt(&payload_flip, b"ad").await,
        Err(Error::WrongAssociatedData)
    ));
    assert!(matches!(
        a.decrypt(&ct, b"other").await,
        Err(Error::WrongAssociatedData)
    ));

    // Unknown tenant, bad URIs, bad tenant ids.
    let ghost = aead(&f.ring, "ghost").await?;
    assert!(matches!(
        ghost.encrypt(b"x", b"").await,
        Err(Error::UnknownTenant)
    ));
    assert!(matches!(
        open_kms("local-kms:///x.json").await,
        Err(Error::InvalidKeyUri(_))
    ));
    assert!(matches!(
        open_kms("s3://bucket").await,
        Err(Error::InvalidKeyUri(_))
    ));
    assert!(matches!(f.ring.create("../etc"), Err(Error::InvalidTenant)));
    Ok(())
}

async fn cli_round_trip(kek: Arc<dyn Kms>, data: &[u8], streaming: bool) -> TestResult {
    let mut ct = Vec::new();
    let opts = EncryptOptions {
        streaming,
        segment_size: SEGMENT_4KB,
    };
    let n = envelope_encrypt_with(kek.clone(), b"tenant=acme", data, &mut ct, opts).await?;
    assert_eq!(n, data.len() as u64);
    let mut out = Vec::new();
    envelope_decrypt(kek.clone(), b"tenant=acme", ct.as_slice(), &mut out).await?;
    assert_eq!(out, data);
    let wrong = envelope_decrypt(
        kek.clone(),
        b"tenant=globex",
        ct.as_slice(),
        &mut Vec::new(),
    )
    .await;
    assert!(
        matches!(wrong, Err(Error::WrongAssociatedData)),
        "{wrong:?}"
    );
    let cut = envelope_decrypt(kek, b"tenant=acme", &ct[..ct.len() - 1], &mut Vec::new()).await;
    assert!(cut.is_err());
    Ok(())
}

#[tokio::test]
async fn envelope_entry_points_both_formats() -> TestResult {
    let f = fixture(&["acme"])?;
    let kek = open_kms(&f.ring.tenant_uri("acme")).await?;
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    cli_round_trip(kek.clone(), &data, false).await?;
    cli_round_trip(kek.clone(), &data, true).await?;
    cli_round_trip(kek.clone(), b"", true).await?;
    cli_round_trip(kek.clone(), b"", false).await?;
    // The default streaming format (1 MiB segments).
    let mut ct = Vec::new();
    envelope_encrypt(kek.clone(), b"ad", data.as_slice(), &mut ct, true).await?;
    let mut out = Vec::new();
    envelope_decrypt(kek, b"ad", ct.as_slice(), &mut out).await?;
    assert_eq!(out, data);
    Ok(())
}

#[tokio::test]
async fn streaming_truncated_at_segment_boundary() -> TestResult {
    let f = fixture(&["acme"])?;
    let kek = open_kms(&f.ring.tenant_uri("acme")).await?;
    let mut ct = Vec::new();
    let opts = EncryptOptions {
        streaming: true,
        segment_size: SEGMENT_4KB,
    };
    envelope_encrypt_with(kek.clone(), b"ad", &[1u8; 50_000][..], &mut ct, opts).await?;
    let wlen = u32::from_be_bytes(ct[..4].try_into()?) as usize;
    let cut = &ct[..4 + wlen + 3 * 4096];
    let r = envelope_decrypt(kek, b"ad", cut, &mut Vec::new()).await;
    assert!(matches!(r, Err(Error::Truncated)), "{r:?}");
    Ok(())
}

#[tokio::test]
async fn pseudonym_key_wrapped_per_tenant() -> TestResult {
    let f = fixture(&["acme", "globex"])?;
    let acme = aead(&f.ring, "acme").await?;
    let key = PseudonymKey::generate()?;
    let blob = key.wrap(&acme, "acme").await?;
    let back = PseudonymKey::unwrap(&acme, "acme", &blob).await?;
    assert_eq!(
        back.hmac_sha256(b"alice@example.com"),
        key.hmac_sha256(b"alice@example.com")
    );
    assert!(PseudonymKey::unwrap(&acme, "globex", &blob).await.is_err());
    let globex = aead(&f.ring, "globex").await?;
    assert!(PseudonymKey::unwrap(&globex, "globex", &blob)
        .await
        .is_err());
    Ok(())
}

#[tokio::test]
async fn errors_do_not_leak_content() -> TestResult {
    let f = fixture(&["acme"])?;
    let a = aead(&f.ring, "acme").await?;
    let ct = a.encrypt(b"TOPSECRET", b"AAD-SECRET").await?;
    let err = a
        .decrypt(&ct, b"AAD-WRONG")
        .await
        .err()
        .ok_or("expected an error")?;
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("TOPSECRET") && !shown.contains("AAD"));
    assert!(!err.is_retryable());
    Ok(())
}

#[tokio::test]
async fn buffer_reusing_variants_match_the_format() -> TestResult {
    let f = fixture(&["acme"])?;
    let a = aead(&f.ring, "acme").await?;
    let (mut ct, mut pt) = (vec![9u8; 7], vec![1u8; 3]);
    for len in [0usize, 1, 65_536] {
        let data = vec![0x42u8; len];
        a.encrypt_into(&data, b"ad", &mut ct).await?;
        // Readable by the allocating decrypt, and the other way round.
        assert_eq!(a.decrypt(&ct, b"ad").await?, data);
        a.decrypt_into(&a.encrypt(&data, b"ad").await?, b"ad", &mut pt)
            .await?;
        assert_eq!(pt, data);
    }
    let err = a.decrypt_into(&ct, b"other", &mut pt).await;
    assert!(matches!(err, Err(Error::WrongAssociatedData)));
    assert!(
        pt.is_empty(),
        "no unauthenticated plaintext is left in the buffer"
    );
    Ok(())
}
