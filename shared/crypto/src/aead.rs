//! AES-256-GCM as Tink's RAW `AesGcmKey` primitive (12-byte IV || ciphertext || 16-byte tag),
//! on aws-lc-rs (AES-NI, PCLMULQDQ).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// IV length of Tink's AES-GCM.
pub const IV_LEN: usize = 12;
/// Tag length of Tink's AES-GCM.
pub const TAG_LEN: usize = 16;
/// Key length used throughout (AES-256).
pub const KEY_LEN: usize = 32;

/// Fills `buf` with cryptographically secure random bytes.
///
/// # Errors
/// [`Error::Crypto`] when the system RNG fails.
pub fn random_fill(buf: &mut [u8]) -> Result<()> {
    aws_lc_rs::rand::fill(buf).map_err(|_| Error::Crypto)
}

/// A fresh random 32-byte key.
///
/// # Errors
/// [`Error::Crypto`] when the system RNG fails.
pub fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    random_fill(k.as_mut())?;
    Ok(k)
}

/// An AES-256-GCM key (aws-lc-rs keeps the expanded schedule; its Debug prints nothing secret).
pub struct AesGcm {
    key: LessSafeKey,
}

impl std::fmt::Debug for AesGcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesGcm(**REDACTED**)")
    }
}

impl AesGcm {
    /// A key from 32 raw bytes.
    ///
    /// # Errors
    /// [`Error::MalformedKey`] when `key` is not 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self> {
        if key.len() != KEY_LEN {
            return Err(Error::MalformedKey);
        }
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::MalformedKey)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Appends `IV || ciphertext || tag` of `plaintext` to `out`, with a fresh random IV.
    ///
    /// # Errors
    /// [`Error::Crypto`] when randomness or the cipher fails.
    pub fn encrypt_append(&self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut iv = [0u8; IV_LEN];
        random_fill(&mut iv)?;
        let start = out.len();
        out.reserve(IV_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&iv);
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(aad),
                &mut out[start + IV_LEN..],
            )
            .map_err(|_| Error::Crypto)?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// `IV || ciphertext || tag` of `plaintext` with a fresh random IV.
    ///
    /// # Errors
    /// [`Error::Crypto`] when randomness or the cipher fails.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(IV_LEN + plaintext.len() + TAG_LEN);
        self.encrypt_append(plaintext, aad, &mut out)?;
        Ok(out)
    }

    /// Decrypts `IV || ciphertext || tag` in place; returns the plaintext length (the
    /// plaintext is `buf[IV_LEN..IV_LEN + len]`).
    ///
    /// # Errors
    /// [`Error::Truncated`] when `buf` is shorter than IV + tag; [`Error::Tampered`] when it
    /// does not authenticate.
    pub fn decrypt_in_place(&self, buf: &mut [u8], aad: &[u8]) -> Result<usize> {
        if buf.len() < IV_LEN + TAG_LEN {
            return Err(Error::Truncated);
        }
        let (iv, rest) = buf.split_at_mut(IV_LEN);
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| Error::Crypto)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), rest)
            .map_err(|_| Error::Tampered)?;
        Ok(plain.len())
    }

    /// Decrypts `IV || ciphertext || tag` into a new buffer.
    ///
    /// # Errors
    /// As [`AesGcm::decrypt_in_place`].
    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = self.decrypt_in_place(&mut buf, aad)?;
        buf.copy_within(IV_LEN..IV_LEN + len, 0);
        buf.truncate(len);
        Ok(buf)
    }

    /// Seals `buf` in place with an explicit nonce, appending the tag (used by streaming).
    pub(crate) fn seal_with_nonce(
        &self,
        nonce: [u8; IV_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<()> {
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf[from..],
            )
            .map_err(|_| Error::Crypto)?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens `ciphertext || tag` in place with an explicit nonce (used by streaming); returns
    /// the plaintext length.
    pub(crate) fn open_with_nonce(
        &self,
        nonce: [u8; IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        if buf.len() < TAG_LEN {
            return Err(Error::Truncated);
        }
        self.key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
            .map(|p| p.len())
            .map_err(|_| Error::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_failures() -> Result<()> {
        let key = random_key()?;
        let gcm = AesGcm::new(key.as_ref())?;
        let ct = gcm.encrypt(b"hello", b"ad")?;
        assert_eq!(ct.len(), IV_LEN + 5 + TAG_LEN);
        assert_eq!(gcm.decrypt(&ct, b"ad")?.as_slice(), b"hello");
        assert!(matches!(gcm.decrypt(&ct, b"other"), Err(Error::Tampered)));
        assert!(matches!(
            gcm.decrypt(&ct[..20], b"ad"),
            Err(Error::Truncated)
        ));
        assert!(AesGcm::new(&[0u8; 16]).is_err());
        assert_eq!(format!("{gcm:?}"), "AesGcm(**REDACTED**)");
        Ok(())
    }
}
