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

    /// Writes `IV || ciphertext || tag` of `plaintext` into `out`, which must be exactly
    /// `IV_LEN + plaintext.len() + TAG_LEN` bytes, with a fresh random IV. One pass, no copy.
    ///
    /// # Errors
    /// [`Error::Crypto`] when randomness or the cipher fails or `out` has the wrong length.
    pub fn encrypt_to(&self, plaintext: &[u8], aad: &[u8], out: &mut [u8]) -> Result<()> {
        if out.len() != IV_LEN + plaintext.len() + TAG_LEN {
            return Err(Error::Crypto);
        }
        let mut iv = [0u8; IV_LEN];
        random_fill(&mut iv)?;
        let (iv_out, rest) = out.split_at_mut(IV_LEN);
        iv_out.copy_from_slice(&iv);
        let (ct_out, tag_out) = rest.split_at_mut(plaintext.len());
        self.key
            .seal_out_of_place_scatter(
                Nonce::assume_unique_for_key(iv),
                Aad::from(aad),
                plaintext,
                ct_out,
                &[],
                tag_out,
            )
            .map_err(|_| Error::Crypto)
    }

    /// Appends `IV || ciphertext || tag` of `plaintext` to `out`, with a fresh random IV.
    ///
    /// # Errors
    /// [`Error::Crypto`] when randomness or the cipher fails.
    pub fn encrypt_append(&self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.resize(start + IV_LEN + plaintext.len() + TAG_LEN, 0);
        let tail = out.get_mut(start..).ok_or(Error::Crypto)?;
        self.encrypt_to(plaintext, aad, tail)
    }

    /// `IV || ciphertext || tag` of `plaintext` with a fresh random IV.
    ///
    /// # Errors
    /// [`Error::Crypto`] when randomness or the cipher fails.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; IV_LEN + plaintext.len() + TAG_LEN];
        self.encrypt_to(plaintext, aad, &mut out)?;
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

    /// Decrypts `IV || ciphertext || tag` into a new buffer in one pass (out of place).
    /// The caller owns the plaintext; for key material use [`AesGcm::decrypt`].
    ///
    /// # Errors
    /// As [`AesGcm::decrypt_in_place`].
    pub fn decrypt_to_vec(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if ciphertext.len() < IV_LEN + TAG_LEN {
            return Err(Error::Truncated);
        }
        let mut out = vec![0u8; ciphertext.len() - IV_LEN - TAG_LEN];
        if let Err(e) = self.decrypt_to_slice(ciphertext, aad, &mut out) {
            zeroize::Zeroize::zeroize(&mut out);
            return Err(e);
        }
        Ok(out)
    }

    /// Decrypts `IV || ciphertext || tag` into `out`, which must be exactly
    /// `ciphertext.len() - IV_LEN - TAG_LEN` bytes. On error `out` holds unspecified bytes.
    ///
    /// # Errors
    /// As [`AesGcm::decrypt_in_place`]; [`Error::Crypto`] for a wrong `out` length.
    pub fn decrypt_to_slice(&self, ciphertext: &[u8], aad: &[u8], out: &mut [u8]) -> Result<()> {
        if ciphertext.len() < IV_LEN + TAG_LEN {
            return Err(Error::Truncated);
        }
        let (iv, rest) = ciphertext.split_at(IV_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        if out.len() != body.len() {
            return Err(Error::Crypto);
        }
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| Error::Crypto)?;
        self.key
            .open_separate_gather(nonce, Aad::from(aad), body, tag, out)
            .map_err(|_| Error::Tampered)
    }

    /// Decrypts `IV || ciphertext || tag` into a new buffer zeroized on drop.
    ///
    /// # Errors
    /// As [`AesGcm::decrypt_in_place`].
    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.decrypt_to_vec(ciphertext, aad).map(Zeroizing::new)
    }

    /// Seals `buf` in place with an explicit nonce, appending the tag (used by streaming).
    pub(crate) fn seal_with_nonce(
        &self,
        nonce: [u8; IV_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<()> {
        let segment = buf.get_mut(from..).ok_or(Error::Crypto)?;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                segment,
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
