//! Tink's AES-GCM-HKDF streaming AEAD (`AES256_GCM_HKDF_4KB`, `AES256_GCM_HKDF_1MB`) as
//! `std::io::Write` / `std::io::Read` adapters, so any size streams in memory bounded by
//! about two segments.
//!
//! ```text
//! header  = header length (1 byte, 40) || salt (32) || nonce prefix (7)
//! key     = HKDF-SHA256(ikm, salt, info = associated data), 32 bytes
//! segment i: AES-256-GCM(key, nonce = prefix || u32 BE i || last (0x00 / 0x01), no AD)
//!            = ciphertext || tag (16)
//! stream  = header || segment 0 || segment 1 || ...   every segment but the last is
//!           `segment_size` bytes, the first is shorter by the header length.
//! ```

use std::io::{self, Read, Write};

use aws_lc_rs::hkdf;
use zeroize::Zeroizing;

use crate::aead::{random_fill, random_key, AesGcm, IV_LEN, KEY_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::proto::{decode_streaming_key, encode_streaming_key};

const NONCE_PREFIX_LEN: usize = 7;
/// Header length for 32-byte keys: 1 + salt + nonce prefix.
pub const HEADER_LEN: usize = 1 + KEY_LEN + NONCE_PREFIX_LEN;

/// Ciphertext segment size of Tink's `AES256_GCM_HKDF_1MB` template.
pub const SEGMENT_1MB: u32 = 1 << 20;
/// Ciphertext segment size of Tink's `AES256_GCM_HKDF_4KB` template.
pub const SEGMENT_4KB: u32 = 4096;
/// Largest segment accepted (memory bound of a decryptor).
pub const MAX_SEGMENT: u32 = 8 << 20;

/// An AES-GCM-HKDF streaming key (32-byte input keying material, HKDF-SHA256, 32-byte
/// derived keys). Debug redacts; the material is zeroized on drop.
pub struct StreamingKey {
    ikm: Zeroizing<Vec<u8>>,
    segment_size: u32,
}

impl std::fmt::Debug for StreamingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingKey")
            .field("segment_size", &self.segment_size)
            .field("ikm", &"**REDACTED**")
            .finish()
    }
}

fn check_segment_size(segment_size: u32) -> Result<()> {
    if (segment_size as usize) <= HEADER_LEN + TAG_LEN || segment_size > MAX_SEGMENT {
        return Err(Error::InvalidParameters("segment size out of range"));
    }
    Ok(())
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl StreamingKey {
    /// A fresh random key with `segment_size`-byte ciphertext segments
    /// ([`SEGMENT_1MB`] or [`SEGMENT_4KB`] for Tink's templates).
    ///
    /// # Errors
    /// [`Error::InvalidParameters`] for a segment size that cannot hold the header and a
    /// tag or exceeds [`MAX_SEGMENT`]; [`Error::Crypto`] when the RNG fails.
    pub fn generate(segment_size: u32) -> Result<Self> {
        check_segment_size(segment_size)?;
        Ok(Self {
            ikm: Zeroizing::new(random_key()?.to_vec()),
            segment_size,
        })
    }

    /// The ciphertext segment size.
    #[must_use]
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// The serialized Tink `AesGcmHkdfStreamingKey` proto (secret).
    #[must_use]
    pub fn to_proto(&self) -> Zeroizing<Vec<u8>> {
        encode_streaming_key(self.segment_size, KEY_LEN as u32, &self.ikm)
    }

    /// Parses a serialized `AesGcmHkdfStreamingKey` (32-byte derived keys, HKDF-SHA256).
    ///
    /// # Errors
    /// [`Error::MalformedKey`].
    pub fn from_proto(proto: &[u8]) -> Result<Self> {
        let k = decode_streaming_key(proto)?;
        if k.derived_key_size as usize != KEY_LEN || k.ikm.len() < KEY_LEN {
            return Err(Error::MalformedKey);
        }
        check_segment_size(k.segment_size).map_err(|_| Error::MalformedKey)?;
        Ok(Self {
            ikm: k.ikm,
            segment_size: k.segment_size,
        })
    }

    fn derive(&self, salt: &[u8], aad: &[u8]) -> Result<AesGcm> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
            .extract(&self.ikm)
            .expand(&[aad], Len(KEY_LEN))
            .and_then(|okm| okm.fill(key.as_mut()))
            .map_err(|_| Error::Crypto)?;
        AesGcm::new(key.as_ref())
    }

    /// An encrypting writer: write plaintext to it, then call [`StreamEncryptor::finish`].
    ///
    /// # Errors
    /// [`Error::Crypto`] or [`Error::Io`] writing the header.
    pub fn encryptor<W: Write>(&self, aad: &[u8], mut inner: W) -> Result<StreamEncryptor<W>> {
        let mut salt = [0u8; KEY_LEN];
        let mut prefix = [0u8; NONCE_PREFIX_LEN];
        random_fill(&mut salt)?;
        random_fill(&mut prefix)?;
        let key = self.derive(&salt, aad)?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.push(HEADER_LEN as u8);
        header.extend_from_slice(&salt);
        header.extend_from_slice(&prefix);
        inner.write_all(&header)?;
        let seg = self.segment_size as usize;
        Ok(StreamEncryptor {
            inner,
            key,
            prefix,
            segment: 0,
            buf: Vec::with_capacity(seg),
            first_cap: seg - HEADER_LEN - TAG_LEN,
            cap: seg - TAG_LEN,
        })
    }

    /// A decrypting reader over a ciphertext stream written with the same `aad`. Errors
    /// surface as `io::Error`s wrapping an [`Error`]; recover it with [`crypto_error`].
    #[must_use]
    pub fn decryptor<R: Read>(&self, aad: &[u8], inner: R) -> StreamDecryptor<R> {
        StreamDecryptor {
            inner,
            ikm: Zeroizing::new(self.ikm.to_vec()),
            aad: aad.to_vec(),
            segment_size: self.segment_size as usize,
            key: None,
            prefix: [0; NONCE_PREFIX_LEN],
            segment: 0,
            buf: Zeroizing::new(Vec::new()),
            pos: 0,
            peek: None,
            done: false,
        }
    }
}

fn nonce(prefix: &[u8; NONCE_PREFIX_LEN], segment: u32, last: bool) -> [u8; IV_LEN] {
    let mut n = [0u8; IV_LEN];
    n[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    n[NONCE_PREFIX_LEN..NONCE_PREFIX_LEN + 4].copy_from_slice(&segment.to_be_bytes());
    n[IV_LEN - 1] = u8::from(last);
    n
}

/// Wraps a crate error into an `io::Error` (kind `InvalidData`, or the original I/O error).
fn to_io(e: Error) -> io::Error {
    match e {
        Error::Io(io) => io,
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

/// The crate [`Error`] carried by an `io::Error` from a [`StreamDecryptor`] or
/// [`StreamEncryptor`], or [`Error::Io`] for a plain I/O error.
#[must_use]
pub fn crypto_error(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(err) = inner.downcast::<Error>() {
                return *err;
            }
        }
        return Error::Crypto;
    }
    Error::Io(e)
}

/// Encrypting writer of Tink's streaming format. Call [`StreamEncryptor::finish`]: dropping
/// it without finishing leaves a stream that fails to decrypt (no last segment).
pub struct StreamEncryptor<W: Write> {
    inner: W,
    key: AesGcm,
    prefix: [u8; NONCE_PREFIX_LEN],
    segment: u32,
    buf: Vec<u8>,
    first_cap: usize,
    cap: usize,
}

impl<W: Write> std::fmt::Debug for StreamEncryptor<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEncryptor")
            .field("segment", &self.segment)
            .finish_non_exhaustive()
    }
}

impl<W: Write> StreamEncryptor<W> {
    fn current_cap(&self) -> usize {
        if self.segment == 0 {
            self.first_cap
        } else {
            self.cap
        }
    }

    fn emit_segment(&mut self, last: bool) -> Result<()> {
        let n = nonce(&self.prefix, self.segment, last);
        self.key.seal_with_nonce(n, &[], &mut self.buf, 0)?;
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.segment = self
            .segment
            .checked_add(1)
            .ok_or(Error::InvalidParameters("too many segments"))?;
        Ok(())
    }

    /// Writes the last segment and returns the inner writer (flushed).
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Crypto`].
    pub fn finish(mut self) -> Result<W> {
        self.emit_segment(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for StreamEncryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // A full buffer is only sealed once more data arrives: the last segment must be
        // marked as such, and it may be full.
        if self.buf.len() == self.current_cap() {
            self.emit_segment(false).map_err(to_io)?;
        }
        let take = (self.current_cap() - self.buf.len()).min(data.len());
        let (now, _) = data.split_at_checked(take).unwrap_or((data, &[]));
        self.buf.extend_from_slice(now);
        Ok(now.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypting reader of Tink's streaming format.
pub struct StreamDecryptor<R: Read> {
    inner: R,
    ikm: Zeroizing<Vec<u8>>,
    aad: Vec<u8>,
    segment_size: usize,
    key: Option<AesGcm>,
    prefix: [u8; NONCE_PREFIX_LEN],
    segment: u32,
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
    peek: Option<u8>,
    done: bool,
}

impl<R: Read> std::fmt::Debug for StreamDecryptor<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamDecryptor")
            .field("segment", &self.segment)
            .finish_non_exhaustive()
    }
}

/// Reads until `buf` holds `target` bytes or the reader ends.
fn fill<R: Read>(r: &mut R, buf: &mut Vec<u8>, target: usize) -> io::Result<()> {
    while buf.len() < target {
        let start = buf.len();
        buf.resize(target, 0);
        let Some(free) = buf.get_mut(start..) else {
            return Ok(());
        };
        match r.read(free) {
            Ok(0) => {
                buf.truncate(start);
                return Ok(());
            }
            Ok(n) => buf.truncate(start + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
    Ok(())
}

impl<R: Read> StreamDecryptor<R> {
    fn read_header(&mut self) -> Result<AesGcm> {
        let mut header = Vec::with_capacity(HEADER_LEN);
        fill(&mut self.inner, &mut header, HEADER_LEN)?;
        // Header: its own length (1 byte), the salt, the nonce prefix.
        let Some(([len], rest)) = header.split_first_chunk::<1>() else {
            return Err(Error::Truncated);
        };
        let Some((salt, prefix)) = rest.split_first_chunk::<KEY_LEN>() else {
            return Err(Error::Truncated);
        };
        let Ok(prefix) = <[u8; NONCE_PREFIX_LEN]>::try_from(prefix) else {
            return Err(Error::Truncated);
        };
        if usize::from(*len) != HEADER_LEN {
            return Err(Error::Tampered);
        }
        self.prefix = prefix;
        let key = StreamingKey {
            ikm: Zeroizing::new(self.ikm.to_vec()),
            segment_size: self.segment_size as u32,
        };
        key.derive(salt, &self.aad)
    }

    /// Reads and decrypts the next segment into `buf`.
    fn next_segment(&mut self) -> Result<()> {
        let key = match self.key.take() {
            Some(k) => k,
            None => self.read_header()?,
        };
        let target = if self.segment == 0 {
            self.segment_size - HEADER_LEN
        } else {
            self.segment_size
        };
        self.buf.clear();
        self.pos = 0;
        if let Some(b) = self.peek.take() {
            self.buf.push(b);
        }
        fill(&mut self.inner, &mut self.buf, target)?;
        let last = if self.buf.len() < target {
            true
        } else {
            let mut one = [0u8; 1];
            loop {
                match self.inner.read(&mut one) {
                    Ok(0) => break true,
                    Ok(_) => {
                        self.peek = Some(one[0]);
                        break false;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if self.buf.len() < TAG_LEN {
            return Err(Error::Truncated);
        }
        let n = nonce(&self.prefix, self.segment, last);
        // The cipher leaves the buffer unspecified on failure: keep the final segment to tell
        // truncation from tampering.
        let saved = last.then(|| Zeroizing::new(self.buf.to_vec()));
        let len = match key.open_with_nonce(n, &[], &mut self.buf) {
            Ok(len) => len,
            Err(_) => {
                // A stream cut at a segment boundary: the final segment is a middle one.
                let as_middle = nonce(&self.prefix, self.segment, false);
                if let Some(mut copy) = saved {
                    if key.open_with_nonce(as_middle, &[], &mut copy).is_ok() {
                        return Err(Error::Truncated);
                    }
                }
                return Err(if self.segment == 0 {
                    Error::WrongAssociatedData
                } else {
                    Error::Tampered
                });
            }
        };
        self.buf.truncate(len);
        self.done = last;
        self.segment = self
            .segment
            .checked_add(1)
            .ok_or(Error::InvalidParameters("too many segments"))?;
        self.key = Some(key);
        Ok(())
    }
}

impl<R: Read> Read for StreamDecryptor<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(ready) = self.buf.get(self.pos..).filter(|r| !r.is_empty()) {
                let n = ready.len().min(out.len());
                if let (Some(dst), Some(src)) = (out.get_mut(..n), ready.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.pos += n;
                return Ok(n);
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(self.segment_size);
            }
            self.next_segment().map_err(to_io)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(len: usize, seg: u32) -> Result<()> {
        let key = StreamingKey::generate(seg)?;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut enc = key.encryptor(b"ad", Vec::new())?;
        for chunk in data.chunks(777) {
            enc.write_all(chunk)?;
        }
        let ct = enc.finish()?;
        let pt_first = seg as usize - HEADER_LEN - TAG_LEN;
        let pt_seg = seg as usize - TAG_LEN;
        let segments = if len <= pt_first {
            1
        } else {
            1 + (len - pt_first).div_ceil(pt_seg)
        };
        assert_eq!(ct.len(), HEADER_LEN + len + segments * TAG_LEN, "len {len}");
        let mut out = Vec::new();
        key.decryptor(b"ad", ct.as_slice())
            .read_to_end(&mut out)
            .map_err(crypto_error)?;
        assert_eq!(out, data);
        Ok(())
    }

    #[test]
    fn round_trips_at_segment_edges() -> Result<()> {
        let first = 4096 - HEADER_LEN - TAG_LEN;
        for len in [
            0,
            1,
            first - 1,
            first,
            first + 1,
            first + 4080,
            first + 4081,
            100_000,
        ] {
            round_trip(len, SEGMENT_4KB)?;
        }
        round_trip(3 << 20, SEGMENT_1MB)
    }

    #[test]
    fn detects_truncation_at_segment_boundary_and_wrong_aad() -> Result<()> {
        let key = StreamingKey::generate(SEGMENT_4KB)?;
        let mut enc = key.encryptor(b"ad", Vec::new())?;
        enc.write_all(&[5u8; 20_000])?;
        let ct = enc.finish()?;
        let cut = &ct[..4096 * 2];
        let mut out = Vec::new();
        let err = key
            .decryptor(b"ad", cut)
            .read_to_end(&mut out)
            .map_err(crypto_error);
        assert!(matches!(err, Err(Error::Truncated)), "{err:?}");
        let err = key
            .decryptor(b"other", ct.as_slice())
            .read_to_end(&mut Vec::new())
            .map_err(crypto_error);
        assert!(matches!(err, Err(Error::WrongAssociatedData)), "{err:?}");
        let mut bad = ct.clone();
        bad[5000] ^= 1;
        let err = key
            .decryptor(b"ad", bad.as_slice())
            .read_to_end(&mut Vec::new())
            .map_err(crypto_error);
        assert!(matches!(err, Err(Error::Tampered)), "{err:?}");
        Ok(())
    }

    #[test]
    fn proto_round_trip_and_redaction() -> Result<()> {
        let key = StreamingKey::generate(SEGMENT_1MB)?;
        let back = StreamingKey::from_proto(&key.to_proto())?;
        assert_eq!(back.segment_size(), SEGMENT_1MB);
        assert!(format!("{key:?}").contains("REDACTED"));
        assert!(StreamingKey::generate(40).is_err());
        Ok(())
    }
}
