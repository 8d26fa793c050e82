//! Per-tenant keyed-pseudonym keys: 32 random bytes, stored only as an envelope blob
//! wrapped by the tenant's KEK, with associated data
//! `associated_data(tenant, "pseudonym-key", "pseudonym-key")`.

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::aead::{random_key, KEY_LEN};
use crate::envelope::{associated_data, EnvelopeAead};
use crate::error::{Error, Result};

/// Object name and purpose bound into a wrapped pseudonym key.
pub const PSEUDONYM_KEY_PURPOSE: &str = "pseudonym-key";

/// HMAC-SHA256 of `data` under `key`.
#[must_use]
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// A tenant's pseudonym key. Debug redacts; zeroized on drop.
pub struct PseudonymKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    hmac: hmac::Key,
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(**REDACTED**)")
    }
}

impl PseudonymKey {
    fn from_bytes(key: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let hmac = hmac::Key::new(hmac::HMAC_SHA256, key.as_ref());
        Self { key, hmac }
    }

    /// A fresh random key.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the RNG fails.
    pub fn generate() -> Result<Self> {
        Ok(Self::from_bytes(random_key()?))
    }

    /// HMAC-SHA256 of `data` under this key (the anonymizer derives pseudonyms from it).
    #[must_use]
    pub fn hmac_sha256(&self, data: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.hmac, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// The key wrapped by `tenant`'s KEK (store this blob; it is a Tink envelope ciphertext).
    ///
    /// # Errors
    /// KMS errors from [`EnvelopeAead::encrypt`].
    pub async fn wrap(&self, kek: &EnvelopeAead, tenant: &str) -> Result<Vec<u8>> {
        let aad = associated_data(tenant, PSEUDONYM_KEY_PURPOSE, PSEUDONYM_KEY_PURPOSE);
        kek.encrypt(self.key.as_ref(), &aad).await
    }

    /// Unwraps a blob from [`PseudonymKey::wrap`] for `tenant`.
    ///
    /// # Errors
    /// Decryption errors of [`EnvelopeAead::decrypt`] (a blob of another tenant fails with
    /// [`Error::WrongAssociatedData`] or [`Error::Tampered`]); [`Error::MalformedKey`] when
    /// the plaintext is not 32 bytes.
    pub async fn unwrap(kek: &EnvelopeAead, tenant: &str, blob: &[u8]) -> Result<Self> {
        let aad = associated_data(tenant, PSEUDONYM_KEY_PURPOSE, PSEUDONYM_KEY_PURPOSE);
        let plain = Zeroizing::new(kek.decrypt(blob, &aad).await?);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err(Error::MalformedKey);
        }
        key.copy_from_slice(&plain);
        Ok(Self::from_bytes(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231_case_2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keyed_and_redacted() -> Result<()> {
        let (a, b) = (PseudonymKey::generate()?, PseudonymKey::generate()?);
        assert_eq!(a.hmac_sha256(b"x"), a.hmac_sha256(b"x"));
        assert_ne!(a.hmac_sha256(b"x"), b.hmac_sha256(b"x"));
        assert_eq!(format!("{a:?}"), "PseudonymKey(**REDACTED**)");
        Ok(())
    }
}
