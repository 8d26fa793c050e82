//! Key-encryption keys (KEKs) behind one small trait, chosen by key URI.
//!
//! A [`Kms`] is the KEK of exactly one tenant, used the way Tink uses a "remote AEAD":
//! it only ever sees data keys (DEKs), never payloads.
//!
//! | URI | backend | tenant's key |
//! |---|---|---|
//! | `local-kms://<path>?tenant=<id>` | [`LocalKek`] in a keyring file (development only) | the tenant's Tink keyset in that file |
//! | `gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K` | [`GcpKms`] (Cloud KMS) | one cryptoKey per tenant: the URI *is* the tenant's key |
//!
//! [`tenant_key_uri`] turns a deployment-wide base URI into a tenant's key URI:
//! `local-kms://<path>` gets `?tenant=<id>` appended; a `gcp-kms://` URI may contain the
//! placeholder `{tenant}` (e.g. `.../cryptoKeys/bacca-{tenant}`), which is replaced.

mod gcp;
mod local;

use std::sync::Arc;

pub use gcp::{GcpKms, GcpKmsBuilder};
pub use local::{KeyVersionInfo, Keyring, LocalKek, KEYRING_FORMAT};

use crate::error::{Error, Result};

/// A tenant's key-encryption key: an AEAD whose key never leaves the KMS.
///
/// Object-safe; share it as `Arc<dyn Kms>` (built once, cloned by reference).
#[async_trait::async_trait]
pub trait Kms: Send + Sync + std::fmt::Debug {
    /// Encrypts `plaintext` (a data key, at most a few hundred bytes) bound to
    /// `associated_data`, with the key's current primary version.
    ///
    /// # Errors
    /// Retryable [`Error::KmsUnavailable`], [`Error::KmsThrottled`], [`Error::KmsIntegrity`];
    /// permanent [`Error::KmsRejected`], [`Error::UnknownTenant`], [`Error::TenantDestroyed`].
    async fn encrypt(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>>;

    /// Decrypts what [`Kms::encrypt`] returned, with whichever version wrapped it.
    ///
    /// # Errors
    /// [`Error::Tampered`] when it does not authenticate, [`Error::UnknownKeyVersion`],
    /// [`Error::KeyVersionDestroyed`], [`Error::Truncated`], and the KMS errors of
    /// [`Kms::encrypt`].
    async fn decrypt(&self, ciphertext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>>;

    /// The key's URI, for audit events and error reports (no secret in it).
    fn key_uri(&self) -> String;
}

/// A tenant id: 1..=63 characters of `[A-Za-z0-9._-]`.
///
/// # Errors
/// [`Error::InvalidTenant`] otherwise.
pub fn validate_tenant(tenant: &str) -> Result<()> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 63
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidTenant)
    }
}

/// Prefix of local keyring URIs.
pub const LOCAL_SCHEME: &str = "local-kms://";
/// Prefix of Cloud KMS URIs.
pub const GCP_SCHEME: &str = "gcp-kms://";

/// A parsed key URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUri {
    /// A tenant's KEK in a local keyring file.
    Local {
        /// The keyring file.
        path: std::path::PathBuf,
        /// The tenant, when the URI names one.
        tenant: Option<String>,
    },
    /// A Cloud KMS cryptoKey resource name (`projects/.../cryptoKeys/K`).
    Gcp {
        /// The resource name.
        name: String,
    },
}

impl KeyUri {
    /// Parses `local-kms://<path>[?tenant=<id>]` or `gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    ///
    /// # Errors
    /// [`Error::InvalidKeyUri`] or [`Error::InvalidTenant`].
    pub fn parse(uri: &str) -> Result<Self> {
        if let Some(rest) = uri.strip_prefix(LOCAL_SCHEME) {
            let (path, tenant) = match rest.split_once("?tenant=") {
                Some((p, t)) => {
                    validate_tenant(t)?;
                    (p, Some(t.to_owned()))
                }
                None => (rest, None),
            };
            if path.is_empty() || path.contains('?') {
                return Err(Error::InvalidKeyUri(
                    "local-kms:// needs a keyring path".into(),
                ));
            }
            Ok(Self::Local {
                path: path.into(),
                tenant,
            })
        } else if let Some(name) = uri.strip_prefix(GCP_SCHEME) {
            let parts: Vec<&str> = name.split('/').collect();
            let shape_ok = matches!(
                parts.as_slice(),
                [
                    "projects",
                    _,
                    "locations",
                    _,
                    "keyRings",
                    _,
                    "cryptoKeys",
                    _
                ]
            ) && parts.iter().all(|p| !p.is_empty());
            if !shape_ok {
                return Err(Error::InvalidKeyUri(
                    "expected gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K".into(),
                ));
            }
            Ok(Self::Gcp {
                name: name.to_owned(),
            })
        } else {
            Err(Error::InvalidKeyUri(
                "the scheme must be local-kms:// or gcp-kms://".into(),
            ))
        }
    }
}

/// The key URI of `tenant` under a deployment-wide `base` URI (see the module docs).
///
/// # Errors
/// [`Error::InvalidTenant`], or [`Error::InvalidKeyUri`] when `base` already names a
/// different tenant or is not a known scheme.
pub fn tenant_key_uri(base: &str, tenant: &str) -> Result<String> {
    validate_tenant(tenant)?;
    if base.starts_with(GCP_SCHEME) {
        let uri = base.replace("{tenant}", tenant);
        KeyUri::parse(&uri)?;
        return Ok(uri);
    }
    match KeyUri::parse(base)? {
        KeyUri::Local { path, tenant: None } => {
            Ok(format!("{LOCAL_SCHEME}{}?tenant={tenant}", path.display()))
        }
        KeyUri::Local {
            tenant: Some(t), ..
        } if t == tenant => Ok(base.to_owned()),
        _ => Err(Error::InvalidKeyUri(
            "the URI already names another tenant".into(),
        )),
    }
}

/// Opens the KEK a key URI names, with production defaults for Cloud KMS (Application
/// Default Credentials, the public endpoint).
///
/// # Errors
/// [`Error::InvalidKeyUri`] when the URI does not name one tenant's key; Cloud KMS client
/// construction errors as [`Error::KmsUnavailable`].
pub async fn open_kms(uri: &str) -> Result<Arc<dyn Kms>> {
    match KeyUri::parse(uri)? {
        KeyUri::Local {
            path,
            tenant: Some(tenant),
        } => Ok(Arc::new(LocalKek::new(path, &tenant)?)),
        KeyUri::Local { tenant: None, .. } => Err(Error::InvalidKeyUri(
            "local-kms:// needs ?tenant=<id> to name a key".into(),
        )),
        KeyUri::Gcp { name } => Ok(Arc::new(GcpKms::builder(&name).build().await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() -> Result<()> {
        assert_eq!(
            KeyUri::parse("local-kms:///tmp/k.json?tenant=acme")?,
            KeyUri::Local {
                path: "/tmp/k.json".into(),
                tenant: Some("acme".into())
            }
        );
        assert!(matches!(
            KeyUri::parse("gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k")?,
            KeyUri::Gcp { .. }
        ));
        assert!(KeyUri::parse("gcp-kms://projects/p/locations/l/keyRings/r").is_err());
        assert!(KeyUri::parse("aws-kms://x").is_err());
        assert!(KeyUri::parse("local-kms://").is_err());
        assert!(KeyUri::parse("local-kms:///k?tenant=a b").is_err());
        Ok(())
    }

    #[test]
    fn tenant_uris() -> Result<()> {
        assert_eq!(
            tenant_key_uri("local-kms:///k.json", "acme")?,
            "local-kms:///k.json?tenant=acme"
        );
        assert_eq!(
            tenant_key_uri(
                "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/t-{tenant}",
                "acme"
            )?,
            "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/t-acme"
        );
        assert!(tenant_key_uri("local-kms:///k.json?tenant=other", "acme").is_err());
        assert!(tenant_key_uri("local-kms:///k.json", "../x").is_err());
        Ok(())
    }
}
