//! Tink's `KmsEnvelopeAead` with an AES256_GCM data key, byte for byte:
//!
//! ```text
//! u32 BE len(W) || W || IV (12) || ciphertext || tag (16)
//! W = KEK.encrypt(AesGcmKey proto = 0x1a 0x20 <32-byte DEK>, associated data = "")
//! payload = AES-256-GCM(DEK, IV, plaintext, associated data = the caller's)
//! ```
//!
//! A fresh DEK per call; `0 < len(W) <= 4096`. Use [`associated_data`] to bind a ciphertext
//! to its tenant, object and purpose.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::aead::{random_key, AesGcm, IV_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::kms::Kms;
use crate::proto::{decode_aes_gcm_key, encode_aes_gcm_key};

/// Largest wrapped DEK accepted (Tink's limit).
pub const MAX_WRAPPED_KEY_LEN: usize = 4096;

/// Version tag that starts every [`associated_data`] value.
pub const AAD_MAGIC: &[u8] = b"bacca-aad-v1";

/// The associated data binding a ciphertext to `tenant`, `object` and `purpose`.
///
/// Exact layout (every length a u32 big-endian byte count, so no two triples collide):
///
/// ```text
/// "bacca-aad-v1" || len(tenant) || tenant || len(object) || object || len(purpose) || purpose
/// ```
///
/// e.g. `associated_data("acme", "raw/slack/2026-11-20/b1", "raw-batch")`. A ciphertext
/// decrypted with any other triple fails with [`Error::WrongAssociatedData`].
#[must_use]
pub fn associated_data(tenant: &str, object: &str, purpose: &str) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(AAD_MAGIC.len() + 12 + tenant.len() + object.len() + purpose.len());
    out.extend_from_slice(AAD_MAGIC);
    for part in [tenant, object, purpose] {
        out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Splits `u32 BE len || wrapped || rest`, enforcing `0 < len <= 4096`.
pub(crate) fn split_wrapped(ciphertext: &[u8]) -> Result<(&[u8], &[u8])> {
    let len_bytes: [u8; 4] = ciphertext
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::Truncated)?;
    let len = check_wrapped_len(u32::from_be_bytes(len_bytes))?;
    let wrapped = ciphertext.get(4..4 + len).ok_or(Error::Truncated)?;
    let rest = ciphertext.get(4 + len..).ok_or(Error::Truncated)?;
    Ok((wrapped, rest))
}

/// Writes `u32 BE wlen || wrapped` at the start of `out` and returns the rest of `out`, where
/// the AES-GCM payload goes.
fn write_head<'o>(out: &'o mut [u8], wlen: u32, wrapped: &[u8]) -> Result<&'o mut [u8]> {
    let (len, rest) = out.split_at_mut_checked(4).ok_or(Error::Crypto)?;
    len.copy_from_slice(&wlen.to_be_bytes());
    let (key, body) = rest
        .split_at_mut_checked(wrapped.len())
        .ok_or(Error::Crypto)?;
    key.copy_from_slice(wrapped);
    Ok(body)
}

/// Validates a declared wrapped-DEK length.
pub(crate) fn check_wrapped_len(len: u32) -> Result<usize> {
    let len = len as usize;
    if len == 0 {
        return Err(Error::WrappedKeyEmpty);
    }
    if len > MAX_WRAPPED_KEY_LEN {
        return Err(Error::WrappedKeyTooLarge { len: len as u64 });
    }
    Ok(len)
}

/// Envelope encryption under one tenant's KEK (Tink `KmsEnvelopeAead`, AES256_GCM DEKs).
#[derive(Debug, Clone)]
pub struct EnvelopeAead {
    kek: Arc<dyn Kms>,
}

impl EnvelopeAead {
    /// Envelope encryption with DEKs wrapped by `kek`.
    #[must_use]
    pub fn new(kek: Arc<dyn Kms>) -> Self {
        Self { kek }
    }

    /// The KEK.
    #[must_use]
    pub fn kek(&self) -> &Arc<dyn Kms> {
        &self.kek
    }

    /// Encrypts `plaintext` with a fresh DEK; `aad` goes to the payload AES-GCM.
    ///
    /// # Errors
    /// KMS errors from wrapping the DEK (retryable when the KMS is unavailable or throttled),
    /// [`Error::WrappedKeyTooLarge`] if the KMS returns an oversized wrapped key.
    pub async fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let dek = random_key()?;
        let wrapped = self
            .kek
            .encrypt(&encode_aes_gcm_key(dek.as_ref()), &[])
            .await?;
        let wlen = u32::try_from(wrapped.len()).unwrap_or(u32::MAX);
        check_wrapped_len(wlen)?;
        let head = 4 + wrapped.len();
        // Zeroed allocation: fresh pages come from the kernel already zeroed, so the output
        // is written exactly once (by the cipher).
        let mut out = vec![0u8; head + IV_LEN + plaintext.len() + TAG_LEN];
        let body = write_head(&mut out, wlen, &wrapped)?;
        AesGcm::new(dek.as_ref())?.encrypt_to(plaintext, aad, body)?;
        Ok(out)
    }

    /// Like [`EnvelopeAead::encrypt`], writing into `out` (cleared first) so a worker can
    /// reuse one buffer across objects instead of faulting in fresh pages for each.
    ///
    /// # Errors
    /// As [`EnvelopeAead::encrypt`].
    pub async fn encrypt_into(
        &self,
        plaintext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let dek = random_key()?;
        let wrapped = self
            .kek
            .encrypt(&encode_aes_gcm_key(dek.as_ref()), &[])
            .await?;
        let wlen = u32::try_from(wrapped.len()).unwrap_or(u32::MAX);
        check_wrapped_len(wlen)?;
        let head = 4 + wrapped.len();
        out.clear();
        out.resize(head + IV_LEN + plaintext.len() + TAG_LEN, 0);
        let body = write_head(out, wlen, &wrapped)?;
        AesGcm::new(dek.as_ref())?.encrypt_to(plaintext, aad, body)
    }

    /// Like [`EnvelopeAead::decrypt`], writing the plaintext into `out` (cleared first; left
    /// empty on error) so its buffer can be reused.
    ///
    /// # Errors
    /// As [`EnvelopeAead::decrypt`].
    pub async fn decrypt_into(
        &self,
        ciphertext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        out.clear();
        let (dek, payload) = self.unwrap(ciphertext).await?;
        let len = payload.len() - IV_LEN - TAG_LEN;
        out.resize(len, 0);
        if dek.decrypt_to_slice(payload, aad, out).is_err() {
            zeroize::Zeroize::zeroize(out);
            out.clear();
            return Err(Error::WrongAssociatedData);
        }
        Ok(())
    }

    /// Unwraps the DEK of an envelope ciphertext; returns it with the remaining payload.
    async fn unwrap<'c>(&self, ciphertext: &'c [u8]) -> Result<(AesGcm, &'c [u8])> {
        let (wrapped, payload) = split_wrapped(ciphertext)?;
        if payload.len() < IV_LEN + TAG_LEN {
            return Err(Error::Truncated);
        }
        let proto = Zeroizing::new(self.kek.decrypt(wrapped, &[]).await?);
        let dek = decode_aes_gcm_key(&proto)?;
        Ok((AesGcm::new(&dek)?, payload))
    }

    /// Decrypts an envelope ciphertext written with the same `aad`.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::WrappedKeyEmpty`], [`Error::WrappedKeyTooLarge`],
    /// [`Error::Tampered`] (the wrapped DEK does not authenticate),
    /// [`Error::UnknownKeyVersion`], [`Error::KeyVersionDestroyed`], [`Error::MalformedKey`],
    /// [`Error::WrongAssociatedData`] (payload does not authenticate with `aad`), KMS errors.
    pub async fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let (dek, payload) = self.unwrap(ciphertext).await?;
        dek.decrypt_to_vec(payload, aad)
            .map_err(|_| Error::WrongAssociatedData)
    }

    /// Like [`EnvelopeAead::decrypt`], taking the ciphertext by value (kept for callers
    /// that own it; decryption is out of place in one pass either way).
    ///
    /// # Errors
    /// As [`EnvelopeAead::decrypt`].
    pub async fn decrypt_vec(&self, ciphertext: Vec<u8>, aad: &[u8]) -> Result<Vec<u8>> {
        self.decrypt(&ciphertext, aad).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_layout_is_exact_and_unambiguous() {
        let a = associated_data("t", "o", "p");
        let mut want = b"bacca-aad-v1".to_vec();
        want.extend_from_slice(&[0, 0, 0, 1, b't', 0, 0, 0, 1, b'o', 0, 0, 0, 1, b'p']);
        assert_eq!(a, want);
        assert_ne!(
            associated_data("ab", "c", "p"),
            associated_data("a", "bc", "p")
        );
    }

    #[test]
    fn wrapped_len_bounds() {
        assert!(matches!(
            split_wrapped(&[0, 0, 0, 0, 1]),
            Err(Error::WrappedKeyEmpty)
        ));
        assert!(matches!(
            split_wrapped(&[0, 0, 0x10, 0x01, 1]),
            Err(Error::WrappedKeyTooLarge { len: 4097 })
        ));
        assert!(matches!(split_wrapped(&[0, 0, 0]), Err(Error::Truncated)));
        assert!(matches!(
            split_wrapped(&[0, 0, 0, 9, 1]),
            Err(Error::Truncated)
        ));
    }
}
