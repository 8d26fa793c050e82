//! The few Tink key protos this crate reads and writes, hand-encoded (proto3 wire format).
//!
//! ```text
//! message AesGcmKey { uint32 version = 1; bytes key_value = 3; }
//! message AesGcmHkdfStreamingParams {
//!   uint32 ciphertext_segment_size = 1; uint32 derived_key_size = 2; HashType hkdf_hash_type = 3; }
//! message AesGcmHkdfStreamingKey {
//!   uint32 version = 1; AesGcmHkdfStreamingParams params = 2; bytes key_value = 3; }
//! ```
//! Version 0 is the default and is omitted on the wire, so a 32-byte AES-GCM key serializes
//! to `0x1a 0x20 <key>`.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Tink type URL of AES-GCM keys.
pub const AES_GCM_TYPE_URL: &str = "type.googleapis.com/google.crypto.tink.AesGcmKey";
/// Tink type URL of AES-GCM-HKDF streaming keys.
pub const AES_GCM_HKDF_STREAMING_TYPE_URL: &str =
    "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey";
/// Tink `HashType.SHA256`.
pub const HASH_SHA256: u64 = 3;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or(Error::MalformedKey)?;
        *pos += 1;
        v |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Error::MalformedKey)
}

/// One parsed field: number and either a varint or a length-delimited slice.
enum Field<'a> {
    Varint(u32, u64),
    Bytes(u32, &'a [u8]),
}

fn fields(buf: &[u8]) -> Result<Vec<Field<'_>>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let tag = get_varint(buf, &mut pos)?;
        let number = u32::try_from(tag >> 3).map_err(|_| Error::MalformedKey)?;
        match tag & 7 {
            0 => out.push(Field::Varint(number, get_varint(buf, &mut pos)?)),
            2 => {
                let len =
                    usize::try_from(get_varint(buf, &mut pos)?).map_err(|_| Error::MalformedKey)?;
                let end = pos.checked_add(len).ok_or(Error::MalformedKey)?;
                let slice = buf.get(pos..end).ok_or(Error::MalformedKey)?;
                pos = end;
                out.push(Field::Bytes(number, slice));
            }
            _ => return Err(Error::MalformedKey),
        }
    }
    Ok(out)
}

/// Serializes `AesGcmKey { version: 0, key_value: key }`.
#[must_use]
pub fn encode_aes_gcm_key(key: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(2 + key.len()));
    out.push(0x1a);
    put_varint(&mut out, key.len() as u64);
    out.extend_from_slice(key);
    out
}

/// Parses an `AesGcmKey` with version 0 and a 32-byte key.
///
/// # Errors
/// [`Error::MalformedKey`] for anything else.
pub fn decode_aes_gcm_key(buf: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut key = None;
    for f in fields(buf)? {
        match f {
            Field::Varint(1, 0) => {}
            Field::Bytes(3, k) if k.len() == 32 => key = Some(Zeroizing::new(k.to_vec())),
            _ => return Err(Error::MalformedKey),
        }
    }
    key.ok_or(Error::MalformedKey)
}

/// A parsed `AesGcmHkdfStreamingKey`.
pub struct StreamingKeyProto {
    /// `params.ciphertext_segment_size`.
    pub segment_size: u32,
    /// `params.derived_key_size`.
    pub derived_key_size: u32,
    /// The input keying material.
    pub ikm: Zeroizing<Vec<u8>>,
}

/// Serializes `AesGcmHkdfStreamingKey { version 0, params { segment_size, derived_key_size,
/// SHA256 }, key_value: ikm }`.
#[must_use]
pub fn encode_streaming_key(
    segment_size: u32,
    derived_key_size: u32,
    ikm: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut params = Vec::new();
    params.push(0x08);
    put_varint(&mut params, u64::from(segment_size));
    params.push(0x10);
    put_varint(&mut params, u64::from(derived_key_size));
    params.push(0x18);
    put_varint(&mut params, HASH_SHA256);
    let mut out = Zeroizing::new(Vec::with_capacity(params.len() + ikm.len() + 6));
    out.push(0x12);
    put_varint(&mut out, params.len() as u64);
    out.extend_from_slice(&params);
    out.push(0x1a);
    put_varint(&mut out, ikm.len() as u64);
    out.extend_from_slice(ikm);
    out
}

/// Parses an `AesGcmHkdfStreamingKey` (version 0, HKDF-SHA256).
///
/// # Errors
/// [`Error::MalformedKey`] for anything else.
pub fn decode_streaming_key(buf: &[u8]) -> Result<StreamingKeyProto> {
    let (mut params, mut ikm) = (None, None);
    for f in fields(buf)? {
        match f {
            Field::Varint(1, 0) => {}
            Field::Bytes(2, p) => params = Some(p),
            Field::Bytes(3, k) => ikm = Some(Zeroizing::new(k.to_vec())),
            _ => return Err(Error::MalformedKey),
        }
    }
    let (params, ikm) = (
        params.ok_or(Error::MalformedKey)?,
        ikm.ok_or(Error::MalformedKey)?,
    );
    let (mut seg, mut dks, mut hash) = (0u64, 0u64, 0u64);
    for f in fields(params)? {
        match f {
            Field::Varint(1, v) => seg = v,
            Field::Varint(2, v) => dks = v,
            Field::Varint(3, v) => hash = v,
            _ => return Err(Error::MalformedKey),
        }
    }
    if hash != HASH_SHA256 {
        return Err(Error::MalformedKey);
    }
    Ok(StreamingKeyProto {
        segment_size: u32::try_from(seg).map_err(|_| Error::MalformedKey)?,
        derived_key_size: u32::try_from(dks).map_err(|_| Error::MalformedKey)?,
        ikm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_gcm_key_layout() -> Result<()> {
        let key = [7u8; 32];
        let enc = encode_aes_gcm_key(&key);
        assert_eq!(&enc[..2], &[0x1a, 0x20]);
        assert_eq!(enc.len(), 34);
        assert_eq!(decode_aes_gcm_key(&enc)?.as_slice(), &key);
        assert!(decode_aes_gcm_key(&enc[..20]).is_err());
        assert!(decode_aes_gcm_key(&encode_aes_gcm_key(&[1u8; 16])).is_err());
        Ok(())
    }

    #[test]
    fn streaming_key_round_trip() -> Result<()> {
        let enc = encode_streaming_key(1 << 20, 32, &[9u8; 32]);
        let k = decode_streaming_key(&enc)?;
        assert_eq!((k.segment_size, k.derived_key_size), (1 << 20, 32));
        assert_eq!(k.ikm.as_slice(), &[9u8; 32]);
        assert!(decode_streaming_key(&encode_aes_gcm_key(&[1u8; 32])).is_err());
        Ok(())
    }
}
