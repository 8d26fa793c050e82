//! The crate's error type and its retry classification.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while wrapping keys or encrypting and decrypting data.
///
/// Messages name classes, lengths and key versions, never key material, plaintext or
/// associated data. [`Error::is_retryable`] tells a handler whether to nack (retry) or to
/// dead-letter the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ciphertext ends before the format says it should (missing header, IV, tag or
    /// final segment).
    #[error("ciphertext is truncated")]
    Truncated,
    /// Ciphertext bytes failed authentication where the associated data cannot be the
    /// cause: the wrapped DEK under the KEK (changed, or wrapped by another key), or a later
    /// stream segment after the first one authenticated.
    #[error("ciphertext failed authentication (tampered)")]
    Tampered,
    /// The wrapped DEK unwrapped but the payload does not authenticate with the given
    /// associated data: the ciphertext belongs to another tenant, object or purpose, or its
    /// payload bytes were modified (AES-GCM cannot tell these two apart).
    #[error("ciphertext does not match the associated data (wrong tenant, object or purpose) or its payload was modified")]
    WrongAssociatedData,
    /// The wrapped DEK names a KEK version the keyring does not hold.
    #[error("unknown key version {key_id}")]
    UnknownKeyVersion {
        /// The Tink key id found in the wrapped DEK.
        key_id: u32,
    },
    /// The wrapped DEK was written under a KEK version that has been destroyed
    /// (crypto-shredded): the data is gone for good.
    #[error("key version {key_id} was destroyed")]
    KeyVersionDestroyed {
        /// The Tink key id found in the wrapped DEK.
        key_id: u32,
    },
    /// The tenant has no KEK in this keyring.
    #[error("no key for this tenant")]
    UnknownTenant,
    /// The tenant's KEK was destroyed (crypto-shredding of a whole tenant).
    #[error("the tenant's key was destroyed")]
    TenantDestroyed,
    /// The tenant already has a KEK (create refused).
    #[error("the tenant already has a key")]
    TenantExists,
    /// The length prefix says the wrapped DEK is empty.
    #[error("wrapped data key is empty")]
    WrappedKeyEmpty,
    /// The length prefix says the wrapped DEK is longer than 4096 bytes.
    #[error("wrapped data key is {len} bytes, over the 4096-byte limit")]
    WrappedKeyTooLarge {
        /// The declared length.
        len: u64,
    },
    /// The unwrapped DEK is not a key proto this crate understands.
    #[error("unwrapped data key is not a supported Tink key")]
    MalformedKey,
    /// A key operation that is not allowed in the key's current state (e.g. destroying the
    /// primary version).
    #[error("key operation refused: {0}")]
    KeyState(&'static str),
    /// The KMS is unavailable or timed out (retryable).
    #[error("KMS unavailable: {0}")]
    KmsUnavailable(String),
    /// The KMS throttled the call (429 RESOURCE_EXHAUSTED, retryable).
    #[error("KMS throttled the request")]
    KmsThrottled,
    /// The KMS response failed its CRC32C integrity check (retryable: Google asks callers
    /// to discard the response and retry).
    #[error("KMS response failed the CRC32C integrity check ({0})")]
    KmsIntegrity(&'static str),
    /// The KMS refused the call for a permanent reason (permission, invalid argument,
    /// disabled or destroyed key...).
    #[error("KMS rejected the request: {0}")]
    KmsRejected(String),
    /// A key URI this crate cannot use.
    #[error("invalid key URI: {0}")]
    InvalidKeyUri(String),
    /// A tenant id that is not 1..=63 characters of `[A-Za-z0-9._-]`.
    #[error("invalid tenant id")]
    InvalidTenant,
    /// The keyring file is not a keyring this crate wrote.
    #[error("malformed keyring file: {0}")]
    MalformedKeyring(&'static str),
    /// Invalid streaming parameters.
    #[error("invalid parameters: {0}")]
    InvalidParameters(&'static str),
    /// The cryptographic library failed (randomness or key setup).
    #[error("cryptographic library failure")]
    Crypto,
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether retrying the same operation later may succeed (nack), as opposed to a
    /// permanent failure (dead-letter).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::KmsUnavailable(_) | Self::KmsThrottled | Self::KmsIntegrity(_) => true,
            Self::Io(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::InvalidInput
            ),
            _ => false,
        }
    }

    /// A short stable class name for logs, audit events and dead-letter attributes.
    #[must_use]
    pub fn class(&self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::Tampered => "tampered",
            Self::WrongAssociatedData => "wrong_associated_data",
            Self::UnknownKeyVersion { .. } => "unknown_key_version",
            Self::KeyVersionDestroyed { .. } => "key_version_destroyed",
            Self::UnknownTenant => "unknown_tenant",
            Self::TenantDestroyed => "tenant_destroyed",
            Self::TenantExists => "tenant_exists",
            Self::WrappedKeyEmpty => "wrapped_key_empty",
            Self::WrappedKeyTooLarge { .. } => "wrapped_key_too_large",
            Self::MalformedKey => "malformed_key",
            Self::KeyState(_) => "key_state",
            Self::KmsUnavailable(_) => "kms_unavailable",
            Self::KmsThrottled => "kms_throttled",
            Self::KmsIntegrity(_) => "kms_integrity",
            Self::KmsRejected(_) => "kms_rejected",
            Self::InvalidKeyUri(_) => "invalid_key_uri",
            Self::InvalidTenant => "invalid_tenant",
            Self::MalformedKeyring(_) => "malformed_keyring",
            Self::InvalidParameters(_) => "invalid_parameters",
            Self::Crypto => "crypto",
            Self::Io(_) => "io",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(Error::KmsThrottled.is_retryable());
        assert!(Error::KmsUnavailable("503".into()).is_retryable());
        assert!(Error::KmsIntegrity("ciphertext").is_retryable());
        for e in [
            Error::Truncated,
            Error::Tampered,
            Error::WrongAssociatedData,
            Error::UnknownKeyVersion { key_id: 1 },
            Error::KeyVersionDestroyed { key_id: 1 },
            Error::WrappedKeyEmpty,
            Error::WrappedKeyTooLarge { len: 5000 },
            Error::KmsRejected("PERMISSION_DENIED".into()),
        ] {
            assert!(!e.is_retryable(), "{}", e.class());
        }
    }
}
