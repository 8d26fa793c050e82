//! Each tenant's secret key material: one random 32-byte root, stored only wrapped by the
//! tenant's KMS key (a Tink envelope), from which the pseudonym key and the knowledge graph's
//! row-encryption and blind-index keys are derived with domain-separated HMAC-SHA256
//! (HKDF-Expand with a single block).
//!
//! Where the wrapped root lives:
//! - production: `BACCA_PSEUDONYM_KEY` (or `BACCA_PSEUDONYM_KEY_FILE`, a file mounted from
//!   Secret Manager) holds its base64 for the service's one tenant; create it with
//!   `bacca keys pseudonym --kms gcp-kms://... --tenant <id>`;
//! - local mode: `<data>/secrets/<tenant>.wrapped`, created on first use.

use std::path::PathBuf;

use bacca_crypto::{associated_data, EnvelopeAead, PseudonymKey};
use base64::Engine;
use zeroize::Zeroizing;

use crate::Error;

/// The object name and purpose bound into the wrapped root (the same binding as
/// [`PseudonymKey::wrap`], so `bacca keys pseudonym` output is accepted as is).
const PURPOSE: &str = bacca_crypto::pseudonym::PSEUDONYM_KEY_PURPOSE;

/// The keys derived from one tenant's root. Debug redacts.
pub struct TenantSecrets {
    /// Keyed pseudonyms (`<PERSON_7f3a9c2e>`).
    pub pseudonym: Zeroizing<[u8; 32]>,
    /// Row encryption of sensitive graph columns.
    pub row: Zeroizing<[u8; 32]>,
    /// Blind indexes for equality lookups in the graph.
    pub index: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for TenantSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TenantSecrets(**REDACTED**)")
    }
}

impl TenantSecrets {
    /// Derives the three keys from `root`.
    pub fn derive(root: &[u8]) -> Self {
        let d = |label: &[u8]| {
            let mut info = label.to_vec();
            info.push(1);
            Zeroizing::new(bacca_crypto::hmac_sha256(root, &info))
        };
        Self {
            pseudonym: d(b"bacca/v1/pseudonym"),
            row: d(b"bacca/v1/graph-row"),
            index: d(b"bacca/v1/graph-index"),
        }
    }
}

/// Where wrapped roots are found.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Local mode: `<dir>/<tenant>.wrapped`, created on first use.
    LocalDir(PathBuf),
    /// Production: one tenant's wrapped root, base64.
    Provided {
        /// The tenant it belongs to.
        tenant: String,
        /// The wrapped root.
        wrapped: Vec<u8>,
    },
}

impl SecretSource {
    /// `BACCA_PSEUDONYM_KEY` / `BACCA_PSEUDONYM_KEY_FILE` for `tenant`, if set.
    ///
    /// # Errors
    /// [`Error::Config`] when the value is not base64 or the file cannot be read.
    pub fn from_env(tenant: &str) -> Result<Option<Self>, Error> {
        let value = match std::env::var("BACCA_PSEUDONYM_KEY") {
            Ok(v) if !v.trim().is_empty() => v,
            _ => match std::env::var("BACCA_PSEUDONYM_KEY_FILE") {
                Ok(path) if !path.is_empty() => std::fs::read_to_string(path)
                    .map_err(|_| Error::Config("BACCA_PSEUDONYM_KEY_FILE"))?,
                _ => return Ok(None),
            },
        };
        let wrapped = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| Error::Config("BACCA_PSEUDONYM_KEY"))?;
        Ok(Some(Self::Provided {
            tenant: tenant.to_owned(),
            wrapped,
        }))
    }

    /// The tenant's secrets: unwraps (or, in local mode, first creates) the root.
    ///
    /// # Errors
    /// [`Error::Config`] for a tenant without a provided key; crypto errors unwrapping it
    /// (a root of another tenant fails authentication).
    pub async fn load(&self, tenant: &str, kek: &EnvelopeAead) -> Result<TenantSecrets, Error> {
        let aad = associated_data(tenant, PURPOSE, PURPOSE);
        let wrapped = match self {
            Self::Provided { tenant: t, wrapped } if t == tenant => wrapped.clone(),
            Self::Provided { .. } => return Err(Error::Config("BACCA_PSEUDONYM_KEY tenant")),
            Self::LocalDir(dir) => {
                let path = dir.join(format!("{tenant}.wrapped"));
                match std::fs::read(&path) {
                    Ok(w) => w,
                    Err(_) => create_local(&path, tenant, kek).await?,
                }
            }
        };
        let root = Zeroizing::new(kek.decrypt(&wrapped, &aad).await?);
        if root.len() != 32 {
            return Err(Error::Config("pseudonym key length"));
        }
        Ok(TenantSecrets::derive(&root))
    }
}

/// Creates a local wrapped root; if another process won the race, reads theirs.
async fn create_local(
    path: &std::path::Path,
    tenant: &str,
    kek: &EnvelopeAead,
) -> Result<Vec<u8>, Error> {
    let wrapped = PseudonymKey::generate()?.wrap(kek, tenant).await?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|_| Error::Config("BACCA_DATA_DIR"))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(&wrapped)
                .map_err(|_| Error::Config("BACCA_DATA_DIR"))?;
            Ok(wrapped)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).map_err(|_| Error::Config("BACCA_DATA_DIR"))
        }
        Err(_) => Err(Error::Config("BACCA_DATA_DIR")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_distinct_and_deterministic() {
        let a = TenantSecrets::derive(&[7u8; 32]);
        let b = TenantSecrets::derive(&[7u8; 32]);
        let c = TenantSecrets::derive(&[8u8; 32]);
        assert_eq!(*a.pseudonym, *b.pseudonym);
        assert_ne!(*a.pseudonym, *a.row);
        assert_ne!(*a.row, *a.index);
        assert_ne!(*a.pseudonym, *c.pseudonym);
        assert_eq!(format!("{a:?}"), "TenantSecrets(**REDACTED**)");
    }
}
