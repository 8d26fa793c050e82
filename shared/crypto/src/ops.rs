//! Entry points of `bacca envelope` and `bacca keys`.
//!
//! Streaming envelope layout (bacca's, readable by Tink given the KEK):
//!
//! ```text
//! u32 BE len(W) || W || Tink AES-GCM-HKDF streaming ciphertext (see crate::streaming)
//! W = KEK.encrypt(serialized AesGcmHkdfStreamingKey { params { segment size, 32, SHA256 },
//!                 key_value = 32 random bytes }, associated data = "")
//! ```
//!
//! The caller's associated data is the streaming AEAD's associated data (HKDF info). To read
//! it with Tink: unwrap W with the KEK, put the proto in a one-key keyset (typeUrl
//! `type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey`, RAW output prefix) and
//! decrypt the rest with `StreamingAead.new_decrypting_stream`. Decryption tells the two
//! formats apart by the unwrapped key's type, so [`envelope_decrypt`] needs no flag.

use std::io::{Read, Write};
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::aead::{AesGcm, IV_LEN, TAG_LEN};
use crate::envelope::{check_wrapped_len, EnvelopeAead};
use crate::error::{Error, Result};
use crate::kms::Kms;
use crate::proto::decode_aes_gcm_key;
use crate::streaming::{crypto_error, StreamingKey, SEGMENT_1MB};

/// Options of [`envelope_encrypt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptOptions {
    /// Streaming format (bounded memory) instead of the one-shot Tink envelope.
    pub streaming: bool,
    /// Ciphertext segment size of the streaming format.
    pub segment_size: u32,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self {
            streaming: false,
            segment_size: SEGMENT_1MB,
        }
    }
}

/// Encrypts everything `reader` yields to `writer`: a Tink envelope (`streaming == false`,
/// the whole input held in memory) or the streaming envelope (1 MiB segments, bounded memory).
/// Returns the number of plaintext bytes read.
///
/// The key wrap is async (it may call Cloud KMS); the I/O is blocking, as for stdin/stdout.
///
/// # Errors
/// KMS errors wrapping the DEK, [`Error::Io`].
pub async fn envelope_encrypt(
    kms: Arc<dyn Kms>,
    aad: &[u8],
    reader: impl Read,
    writer: impl Write,
    streaming: bool,
) -> Result<u64> {
    let opts = EncryptOptions {
        streaming,
        ..EncryptOptions::default()
    };
    envelope_encrypt_with(kms, aad, reader, writer, opts).await
}

/// [`envelope_encrypt`] with explicit options (segment size).
///
/// # Errors
/// As [`envelope_encrypt`], and [`Error::InvalidParameters`] for a bad segment size.
pub async fn envelope_encrypt_with(
    kms: Arc<dyn Kms>,
    aad: &[u8],
    mut reader: impl Read,
    mut writer: impl Write,
    opts: EncryptOptions,
) -> Result<u64> {
    if !opts.streaming {
        let mut plain = Zeroizing::new(Vec::new());
        reader.read_to_end(&mut plain)?;
        let ct = EnvelopeAead::new(kms).encrypt(&plain, aad).await?;
        writer.write_all(&ct)?;
        writer.flush()?;
        return Ok(plain.len() as u64);
    }
    let key = StreamingKey::generate(opts.segment_size)?;
    let wrapped = kms.encrypt(&key.to_proto(), &[]).await?;
    let wlen = u32::try_from(wrapped.len()).unwrap_or(u32::MAX);
    check_wrapped_len(wlen)?;
    writer.write_all(&wlen.to_be_bytes())?;
    writer.write_all(&wrapped)?;
    let mut enc = key.encryptor(aad, writer)?;
    let n = std::io::copy(&mut reader, &mut enc).map_err(crypto_error)?;
    enc.finish()?;
    Ok(n)
}

/// Decrypts an envelope ciphertext (either format) from `reader` to `writer`; returns the
/// number of plaintext bytes written. Streaming ciphertexts are decrypted in bounded memory;
/// note that a streaming decryption writes authenticated segments as it goes, so on error
/// the writer holds a prefix of the plaintext that the caller must discard.
///
/// # Errors
/// Every decryption error of [`EnvelopeAead::decrypt`] and [`crate::streaming`].
pub async fn envelope_decrypt(
    kms: Arc<dyn Kms>,
    aad: &[u8],
    mut reader: impl Read,
    mut writer: impl Write,
) -> Result<u64> {
    let mut len = [0u8; 4];
    read_exact_or_truncated(&mut reader, &mut len)?;
    let wlen = check_wrapped_len(u32::from_be_bytes(len))?;
    let mut wrapped = vec![0u8; wlen];
    read_exact_or_truncated(&mut reader, &mut wrapped)?;
    let proto = Zeroizing::new(kms.decrypt(&wrapped, &[]).await?);
    if let Ok(dek) = decode_aes_gcm_key(&proto) {
        let mut payload = Zeroizing::new(Vec::new());
        reader.read_to_end(&mut payload)?;
        if payload.len() < IV_LEN + TAG_LEN {
            return Err(Error::Truncated);
        }
        let n = AesGcm::new(&dek)?
            .decrypt_in_place(&mut payload, aad)
            .map_err(|_| Error::WrongAssociatedData)?;
        let plain = payload.get(IV_LEN..IV_LEN + n).ok_or(Error::Truncated)?;
        writer.write_all(plain)?;
        writer.flush()?;
        return Ok(n as u64);
    }
    let key = StreamingKey::from_proto(&proto)?;
    let mut dec = key.decryptor(aad, reader);
    let n = std::io::copy(&mut dec, &mut writer).map_err(crypto_error)?;
    writer.flush()?;
    Ok(n)
}

fn read_exact_or_truncated(r: &mut impl Read, buf: &mut [u8]) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Truncated
        } else {
            Error::Io(e)
        }
    })
}
