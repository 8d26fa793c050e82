//! Row-level encryption of sensitive graph columns and keyed blind indexes.
//!
//! The graph layer never writes sensitive text (incident titles, action text, templates,
//! document excerpts, natural keys) in clear: it calls a [`RowCipher`] whose associated data
//! binds the ciphertext to its tenant, table, row id and column, so a value copied to another
//! row, column or tenant fails to decrypt. Equality lookups go through
//! [`RowCipher::blind_index`], a keyed HMAC that reveals equality only to holders of the key.
//!
//! Production implements the trait on top of the tenant's envelope keys (`bacca-crypto`);
//! [`AesGcmRowCipher`] is a complete AES-256-GCM + HMAC-SHA256 implementation over raw keys,
//! used in tests and by the embedded default with a locally derived key.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::model::TenantId;
use crate::{Error, Result};

/// What a row ciphertext is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowAad<'a> {
    /// Owning tenant.
    pub tenant: &'a TenantId,
    /// Table name (`nodes`).
    pub table: &'a str,
    /// Row id (the node's blind-index id).
    pub row_id: &'a str,
    /// Column name (`key`, `label`).
    pub column: &'a str,
}

impl RowAad<'_> {
    /// Unambiguous encoding: a version byte then each field length-prefixed (u32 big-endian).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// [`Self::encode`] into `out` (cleared first), so that one buffer serves many rows.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let fields = [self.tenant.as_str(), self.table, self.row_id, self.column];
        out.clear();
        out.reserve(1 + fields.iter().map(|f| 4 + f.len()).sum::<usize>());
        out.push(1);
        for f in fields {
            out.extend_from_slice(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(f.as_bytes());
        }
    }
}

/// Encrypts sensitive columns per row and computes blind indexes, with one tenant's keys.
pub trait RowCipher: Send + Sync {
    /// Encrypts `plaintext` bound to `aad`.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when the key cannot be used.
    fn encrypt(&self, aad: &RowAad<'_>, plaintext: &[u8]) -> Result<Vec<u8>>;

    /// Encrypts several values, each bound to its own [`RowAad`], as [`Self::encrypt`] would
    /// one by one (implementations may share work between them, such as one random draw for
    /// all nonces).
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when the key cannot be used.
    fn encrypt_many(&self, rows: &[(RowAad<'_>, &[u8])]) -> Result<Vec<Vec<u8>>> {
        rows.iter().map(|(aad, p)| self.encrypt(aad, p)).collect()
    }

    /// Decrypts a value produced by [`Self::encrypt`] with the same `aad`.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when authentication fails (wrong key, tenant, row or column; tampering).
    fn decrypt(&self, aad: &RowAad<'_>, ciphertext: &[u8]) -> Result<Vec<u8>>;

    /// Keyed blind index of `value` within `domain` (for example `node:incident`): equal inputs
    /// give equal outputs for one tenant key, nothing else is revealed.
    fn blind_index(&self, tenant: &TenantId, domain: &str, value: &[u8]) -> [u8; 32];
}

/// AES-256-GCM (random 96-bit nonce, stored as `nonce || ciphertext || tag`) and
/// HMAC-SHA256 blind indexes over two raw 32-byte keys. The AES key schedule and the HMAC key
/// are built once per cipher (one per tenant); nonces come from aws-lc's CSPRNG, drawn in one
/// call for all the values of an [`RowCipher::encrypt_many`].
pub struct AesGcmRowCipher {
    aead: LessSafeKey,
    index: hmac::Key,
    rng: SystemRandom,
}

impl fmt::Debug for AesGcmRowCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesGcmRowCipher { keys: [REDACTED] }")
    }
}

impl AesGcmRowCipher {
    /// Builds a cipher from an encryption key and a separate blind-index key.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when the library rejects the key.
    pub fn new(encryption_key: &[u8; 32], index_key: &[u8; 32]) -> Result<Self> {
        let aead = UnboundKey::new(&AES_256_GCM, encryption_key)
            .map_err(|_| Error::Crypto("invalid row encryption key"))?;
        Ok(Self {
            aead: LessSafeKey::new(aead),
            index: hmac::Key::new(hmac::HMAC_SHA256, index_key),
            rng: SystemRandom::new(),
        })
    }

    /// A cipher with fixed, publicly known keys: for tests and benchmarks only.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when the library rejects the key.
    pub fn for_tests() -> Result<Self> {
        Self::new(&[0x42; 32], &[0x24; 32])
    }
}

impl AesGcmRowCipher {
    /// `nonce || ciphertext || tag` of `plaintext` under `nonce`, which the caller draws from
    /// the CSPRNG (random 96-bit nonces); `aad` is the encoded [`RowAad`].
    fn seal(&self, nonce: [u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| Error::Crypto("row encryption failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }
}

impl RowCipher for AesGcmRowCipher {
    fn encrypt(&self, aad: &RowAad<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| Error::Crypto("no randomness for a row nonce"))?;
        self.seal(nonce, &aad.encode(), plaintext)
    }

    fn encrypt_many(&self, rows: &[(RowAad<'_>, &[u8])]) -> Result<Vec<Vec<u8>>> {
        let mut nonces = vec![0u8; NONCE_LEN * rows.len()];
        self.rng
            .fill(&mut nonces)
            .map_err(|_| Error::Crypto("no randomness for a row nonce"))?;
        let mut encoded = Vec::new();
        rows.iter()
            .zip(nonces.chunks_exact(NONCE_LEN))
            .map(|((aad, plaintext), nonce)| {
                let mut n = [0u8; NONCE_LEN];
                n.copy_from_slice(nonce);
                aad.encode_into(&mut encoded);
                self.seal(n, &encoded, plaintext)
            })
            .collect()
    }

    fn decrypt(&self, aad: &RowAad<'_>, ciphertext: &[u8]) -> Result<Vec<u8>> {
        if ciphertext.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(Error::Crypto("row ciphertext too short"));
        }
        let (nonce, body) = ciphertext.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| Error::Crypto("row ciphertext malformed"))?;
        let mut data = body.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(aad.encode()), &mut data)
            .map_err(|_| Error::Crypto("row authentication failed"))?;
        Ok(plain.to_vec())
    }

    fn blind_index(&self, tenant: &TenantId, domain: &str, value: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.index);
        for part in [tenant.as_str().as_bytes(), domain.as_bytes(), value] {
            ctx.update(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            ctx.update(part);
        }
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aad<'a>(t: &'a TenantId, row: &'a str, col: &'a str) -> RowAad<'a> {
        RowAad {
            tenant: t,
            table: "nodes",
            row_id: row,
            column: col,
        }
    }

    #[test]
    fn round_trip_and_binding() {
        let c = AesGcmRowCipher::for_tests().unwrap();
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        let ct = c.encrypt(&aad(&a, "r1", "label"), b"db latency").unwrap();
        assert_eq!(
            c.decrypt(&aad(&a, "r1", "label"), &ct).unwrap(),
            b"db latency"
        );
        assert!(c.decrypt(&aad(&b, "r1", "label"), &ct).is_err());
        assert!(c.decrypt(&aad(&a, "r2", "label"), &ct).is_err());
        assert!(c.decrypt(&aad(&a, "r1", "key"), &ct).is_err());
        let mut bad = ct.clone();
        bad[20] ^= 1;
        assert!(c.decrypt(&aad(&a, "r1", "label"), &bad).is_err());
        assert!(c.decrypt(&aad(&a, "r1", "label"), &ct[..5]).is_err());
        // randomized: same plaintext, different ciphertext
        assert_ne!(
            ct,
            c.encrypt(&aad(&a, "r1", "label"), b"db latency").unwrap()
        );
        // encrypt_many: each value bound to its own row, nonces all different
        let many = c
            .encrypt_many(&[
                (aad(&a, "r1", "label"), b"db latency".as_slice()),
                (aad(&a, "r2", "key"), b"checkout".as_slice()),
                (aad(&a, "r1", "label"), b"db latency".as_slice()),
            ])
            .unwrap();
        assert_eq!(
            c.decrypt(&aad(&a, "r1", "label"), &many[0]).unwrap(),
            b"db latency"
        );
        assert_eq!(
            c.decrypt(&aad(&a, "r2", "key"), &many[1]).unwrap(),
            b"checkout"
        );
        assert!(c.decrypt(&aad(&a, "r1", "key"), &many[1]).is_err());
        assert_ne!(many[0][..NONCE_LEN], many[2][..NONCE_LEN]);
        assert_ne!(many[0], many[2]);
    }

    #[test]
    fn blind_index_is_keyed_and_tenant_bound() {
        let c = AesGcmRowCipher::for_tests().unwrap();
        let other = AesGcmRowCipher::new(&[1; 32], &[2; 32]).unwrap();
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        let x = c.blind_index(&a, "node:service", b"checkout");
        assert_eq!(x, c.blind_index(&a, "node:service", b"checkout"));
        assert_ne!(x, c.blind_index(&b, "node:service", b"checkout"));
        assert_ne!(x, c.blind_index(&a, "node:incident", b"checkout"));
        assert_ne!(x, other.blind_index(&a, "node:service", b"checkout"));
        assert!(!format!("{c:?}").contains("42"));
    }
}
