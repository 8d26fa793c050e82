//! Each tenant's envelope AEAD, opened once from a deployment-wide key URI and shared.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::{open_kms, tenant_key_uri, EnvelopeAead, Result};

/// Opens (once per tenant) and hands out the tenant's [`EnvelopeAead`] from a base key URI
/// (`local-kms://<keyring>` or `gcp-kms://.../cryptoKeys/bacca-{tenant}`; see
/// [`tenant_key_uri`]). Cheap to clone; clones share the cache.
///
/// ```no_run
/// # async fn demo() -> bacca_crypto::Result<()> {
/// let keys = bacca_crypto::TenantKeys::new("local-kms:///tmp/keyring.json");
/// let aead = keys.envelope("acme").await?;
/// let ct = aead.encrypt(b"batch", b"aad").await?;
/// # let _ = ct; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TenantKeys {
    base: String,
    cache: Arc<Mutex<HashMap<String, EnvelopeAead>>>,
}

impl TenantKeys {
    /// Keys under `base`.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            cache: Arc::default(),
        }
    }

    /// The base key URI.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The tenant's envelope AEAD, opened on first use.
    ///
    /// # Errors
    /// [`crate::Error::InvalidTenant`], [`crate::Error::InvalidKeyUri`], or the KMS client's
    /// construction error.
    pub async fn envelope(&self, tenant: &str) -> Result<EnvelopeAead> {
        let mut cache = self.cache.lock().await;
        if let Some(aead) = cache.get(tenant) {
            return Ok(aead.clone());
        }
        let kms = open_kms(&tenant_key_uri(&self.base, tenant)?).await?;
        let aead = EnvelopeAead::new(kms);
        cache.insert(tenant.to_owned(), aead.clone());
        Ok(aead)
    }
}
