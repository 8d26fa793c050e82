//! Tink-compatible envelope and streaming AEAD, Cloud KMS and local keyring KEKs, keyed
//! pseudonyms.
//!
//! - [`kms`]: the [`Kms`] trait (a tenant's KEK) with a Cloud KMS backend ([`GcpKms`]) and a
//!   local keyring file ([`LocalKek`], managed by [`Keyring`]), chosen by key URI with
//!   [`open_kms`].
//! - [`envelope`]: Tink's `KmsEnvelopeAead` byte for byte ([`EnvelopeAead`]) and the
//!   [`associated_data`] binding of tenant, object and purpose.
//! - [`streaming`]: Tink's AES-GCM-HKDF streaming AEAD as `Read`/`Write` adapters.
//! - [`ops`]: the `bacca envelope` entry points ([`envelope_encrypt`], [`envelope_decrypt`])
//!   and the streaming envelope layout.
//! - [`pseudonym`]: per-tenant pseudonym keys wrapped by the tenant's KEK.
//! - [`TenantKeys`]: each tenant's [`EnvelopeAead`], opened once from a deployment-wide key URI.
//!
//! ```no_run
//! # async fn demo() -> bacca_crypto::Result<()> {
//! use bacca_crypto::{associated_data, open_kms, EnvelopeAead};
//! let kek = open_kms("local-kms:///tmp/keyring.json?tenant=acme").await?;
//! let aead = EnvelopeAead::new(kek);
//! let aad = associated_data("acme", "raw/slack/2026-11-20/b1", "raw-batch");
//! let ct = aead.encrypt(b"payload", &aad).await?;
//! assert_eq!(aead.decrypt(&ct, &aad).await?, b"payload");
//! # Ok(()) }
//! ```
//!
//! Errors ([`Error`]) carry classes and lengths, never key material, plaintext or
//! associated data; [`Error::is_retryable`] separates nack from dead-letter.

#![forbid(unsafe_code)]
// No unchecked indexing: byte offsets here come from untrusted input (ciphertexts, envelopes,
// streaming headers, protobuf keys, keyring files), so a bad length is an error, never a
// panic. Tests index freely.
#![deny(clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::indexing_slicing))]

pub mod aead;
pub mod crc32c;
pub mod envelope;
mod error;
pub mod kms;
pub mod ops;
pub mod proto;
pub mod pseudonym;
pub mod streaming;
mod tenant_keys;

pub use envelope::{associated_data, EnvelopeAead, MAX_WRAPPED_KEY_LEN};
pub use error::{Error, Result};
pub use kms::{open_kms, tenant_key_uri, GcpKms, KeyUri, Keyring, Kms, LocalKek};
pub use ops::{envelope_decrypt, envelope_encrypt, envelope_encrypt_with, EncryptOptions};
pub use pseudonym::{hmac_sha256, PseudonymKey};
pub use streaming::{StreamingKey, SEGMENT_1MB, SEGMENT_4KB};
pub use tenant_keys::TenantKeys;
