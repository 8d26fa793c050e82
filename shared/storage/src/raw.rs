//! Raw layout: one bucket per tenant, objects `raw/<source>/<occurrence-date>/<batch-id>`.
//!
//! [`RawWriter::write_batch`] writes an (already encrypted) batch with Custom-Time = the
//! earliest occurrence in the batch and `if_generation_match = 0`, so a redelivered message
//! neither duplicates nor overwrites: the second write fails its precondition and the writer
//! returns the existing object's metadata. Batches whose earliest occurrence is already past
//! the retention cutoff are refused with [`Error::OutsideRetention`]: such data is never
//! written raw.
//!
//! The date in the name is the UTC date of the earliest occurrence, so every object under the
//! date prefix `D` has a Custom-Time on or after `D 00:00 UTC`; the retention sweep relies on
//! this to skip date prefixes that cannot hold expired objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bacca_audit::{AuditEvent, AuditSink};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{GcsConfig, RetentionPolicy};
use crate::error::{Error, Result};
use crate::store::{ObjectMeta, PutOptions, SharedStore};

/// Prefix under which every raw object lives.
pub const RAW_PREFIX: &str = "raw/";

/// The default per-tenant bucket URI template (Terraform creates `bacca-<tenant>-raw`).
pub const DEFAULT_BUCKET_TEMPLATE: &str = "gs://bacca-{tenant}-raw";

/// Content type of raw objects (Tink envelope ciphertext).
pub const RAW_CONTENT_TYPE: &str = "application/octet-stream";

/// Checks a tenant id: 1-40 characters of `a-z 0-9 -`, starting with a letter and not ending
/// with `-`, so that it can be embedded in bucket names, object names and key names.
///
/// # Errors
/// [`Error::InvalidTenant`] with the rule that failed.
pub fn validate_tenant(tenant: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidTenant { reason });
    if tenant.is_empty() || tenant.len() > 40 {
        return bad("must be 1-40 characters");
    }
    if !tenant
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("only a-z, 0-9 and - are allowed");
    }
    if !tenant.starts_with(|c: char| c.is_ascii_lowercase()) || tenant.ends_with('-') {
        return bad("must start with a letter and not end with -");
    }
    Ok(())
}

/// Checks a source name (`slack`, `datadog-logs`...): 1-40 of `a-z 0-9 - _`.
///
/// # Errors
/// [`Error::InvalidName`].
pub fn validate_source(source: &str) -> Result<()> {
    if source.is_empty()
        || source.len() > 40
        || !source
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(Error::InvalidName {
            reason: "source must be 1-40 of a-z 0-9 - _",
        });
    }
    Ok(())
}

/// Replaces `{tenant}` in a store URI template (`gs://bacca-{tenant}-raw`,
/// `file:///var/lib/bacca/{tenant}`); a URI without the placeholder is returned unchanged.
///
/// # Errors
/// [`Error::InvalidTenant`] for a bad tenant id.
pub fn tenant_uri(template: &str, tenant: &str) -> Result<String> {
    validate_tenant(tenant)?;
    Ok(template.replace("{tenant}", tenant))
}

/// A deterministic batch id: 32 lowercase hex characters (128 bits of SHA-256).
///
/// Derived from the tenant, the source and the checkpoint range the batch covers, so the
/// redelivery of the same fetch request maps to the same object name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BatchId(String);

impl BatchId {
    /// `hex(SHA-256(len-prefixed "bacca-batch-v1", tenant, source, from, to))[..32]`.
    /// Each field is prefixed by its length (u64 big-endian) so no two inputs collide by
    /// concatenation.
    pub fn derive(tenant: &str, source: &str, checkpoint_from: &str, checkpoint_to: &str) -> Self {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in [
            "bacca-batch-v1",
            tenant,
            source,
            checkpoint_from,
            checkpoint_to,
        ] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let digest = ctx.finish();
        Self(hex::encode(&digest.as_ref()[..16]))
    }

    /// Parses a batch id.
    ///
    /// # Errors
    /// [`Error::InvalidName`] unless it is 32 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidName {
                reason: "batch id must be 32 lowercase hex characters",
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BatchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for BatchId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<BatchId> for String {
    fn from(b: BatchId) -> Self {
        b.0
    }
}

/// `raw/<source>/<YYYY-MM-DD>/<batch-id>`.
///
/// # Errors
/// [`Error::InvalidName`] for a bad source.
pub fn raw_object_name(
    source: &str,
    occurrence_date: NaiveDate,
    batch: &BatchId,
) -> Result<String> {
    validate_source(source)?;
    Ok(format!(
        "{RAW_PREFIX}{source}/{}/{batch}",
        occurrence_date.format("%Y-%m-%d")
    ))
}

/// The put options of a raw object: Custom-Time, the raw content type, and the tenant and
/// source as metadata (identifiers only). No precondition: the caller sets it.
pub(crate) fn raw_put_options(
    tenant: &str,
    source: &str,
    custom_time: Option<DateTime<Utc>>,
) -> PutOptions {
    let mut opts = PutOptions {
        custom_time,
        content_type: Some(RAW_CONTENT_TYPE.to_owned()),
        ..PutOptions::default()
    };
    opts.metadata
        .insert("bacca-tenant".into(), tenant.to_owned());
    opts.metadata
        .insert("bacca-source".into(), source.to_owned());
    opts
}

/// Opens (once) and hands out each tenant's own store from a URI template containing
/// `{tenant}`. Stores are cached: clients are built once per tenant and shared.
#[derive(Debug, Clone)]
pub struct TenantStores {
    template: Option<String>,
    gcs: GcsConfig,
    cache: Arc<Mutex<HashMap<String, SharedStore>>>,
}

impl TenantStores {
    /// Stores from a template such as [`DEFAULT_BUCKET_TEMPLATE`] or `file:///data/{tenant}`.
    ///
    /// # Errors
    /// [`Error::InvalidUri`] when the template lacks `{tenant}` (tenants never share a bucket).
    pub fn from_template(template: &str, gcs: GcsConfig) -> Result<Self> {
        if !template.contains("{tenant}") {
            return Err(Error::InvalidUri {
                reason: "store template must contain {tenant}: tenants never share a bucket".into(),
            });
        }
        Ok(Self {
            template: Some(template.to_owned()),
            gcs,
            cache: Arc::default(),
        })
    }

    /// The stores a function serves from its configuration: a URI with `{tenant}` is a
    /// template for any tenant; a URI without it is one tenant's own bucket (what Terraform
    /// deploys per tenant) and needs that tenant.
    ///
    /// ```
    /// use bacca_storage::{GcsConfig, TenantStores};
    /// assert!(TenantStores::for_service("file:///d/{tenant}", None, GcsConfig::new()).is_ok());
    /// assert!(TenantStores::for_service("file:///d/acme", Some("acme"), GcsConfig::new()).is_ok());
    /// assert!(TenantStores::for_service("file:///d/acme", None, GcsConfig::new()).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidUri`] for a one-bucket URI without a tenant, or a bad URI;
    /// [`Error::InvalidTenant`].
    pub fn for_service(uri: &str, tenant: Option<&str>, gcs: GcsConfig) -> Result<Self> {
        if uri.contains("{tenant}") {
            return Self::from_template(uri, gcs);
        }
        let Some(tenant) = tenant else {
            return Err(Error::InvalidUri {
                reason: "a store URI without {tenant} is one tenant's bucket: set the tenant"
                    .into(),
            });
        };
        let stores = Self {
            template: None,
            gcs: gcs.clone(),
            cache: Arc::default(),
        };
        stores.insert(tenant, crate::open_with(uri, gcs)?)?;
        Ok(stores)
    }

    /// No template: only stores registered with [`TenantStores::insert`] exist.
    pub fn explicit() -> Self {
        Self {
            template: None,
            gcs: GcsConfig::new(),
            cache: Arc::default(),
        }
    }

    /// Registers `store` as `tenant`'s store.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`].
    pub fn insert(&self, tenant: &str, store: SharedStore) -> Result<()> {
        validate_tenant(tenant)?;
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tenant.to_owned(), store);
        Ok(())
    }

    /// The tenant's store, opened on first use.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`], [`Error::InvalidUri`], or the backend's construction error.
    pub fn store(&self, tenant: &str) -> Result<SharedStore> {
        validate_tenant(tenant)?;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = cache.get(tenant) {
            return Ok(s.clone());
        }
        let Some(template) = &self.template else {
            return Err(Error::InvalidTenant {
                reason: "no store registered for tenant",
            });
        };
        let store = crate::open_with(&tenant_uri(template, tenant)?, self.gcs.clone())?;
        cache.insert(tenant.to_owned(), store.clone());
        Ok(store)
    }
}

/// The outcome of [`RawWriter::write_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawWrite {
    /// The object as stored.
    pub meta: ObjectMeta,
    /// False when the batch had already been written (a redelivery): nothing was written.
    pub created: bool,
}

/// Writes encrypted raw batches into each tenant's bucket.
#[derive(Debug, Clone)]
pub struct RawWriter {
    stores: TenantStores,
    policy: RetentionPolicy,
    audit: AuditSink,
}

impl RawWriter {
    /// A writer over `stores`, refusing batches outside `policy`, auditing to `audit`.
    pub fn new(stores: TenantStores, policy: RetentionPolicy, audit: AuditSink) -> Self {
        Self {
            stores,
            policy,
            audit,
        }
    }

    /// Writes `ciphertext` as `raw/<source>/<date of earliest_occurrence>/<batch_id>` in the
    /// tenant's bucket, with Custom-Time = `earliest_occurrence` and `if_generation_match = 0`.
    /// Emits one `raw_write` audit event (tenant, object, generation, bytes, created).
    ///
    /// # Errors
    /// [`Error::OutsideRetention`] when `earliest_occurrence` is at or before the retention
    /// cutoff at `now` (nothing is written); store errors otherwise. A precondition failure
    /// is not an error: the batch was already written and its metadata is returned.
    pub async fn write_batch(
        &self,
        tenant: &str,
        source: &str,
        batch_id: &BatchId,
        earliest_occurrence: DateTime<Utc>,
        ciphertext: Bytes,
        now: DateTime<Utc>,
    ) -> Result<RawWrite> {
        validate_tenant(tenant)?;
        self.policy.validate()?;
        let cutoff = self.policy.cutoff(now);
        if earliest_occurrence <= cutoff {
            return Err(Error::OutsideRetention {
                earliest_occurrence,
                cutoff,
            });
        }
        let name = raw_object_name(source, earliest_occurrence.date_naive(), batch_id)?;
        let store = self.stores.store(tenant)?;
        let size = ciphertext.len();
        let mut opts = raw_put_options(tenant, source, Some(earliest_occurrence));
        opts.if_generation_match = Some(0);
        let write = match store.put(&name, ciphertext, opts).await {
            Ok(meta) => RawWrite {
                meta,
                created: true,
            },
            Err(Error::PreconditionFailed { .. }) => RawWrite {
                meta: store.head(&name).await?,
                created: false,
            },
            Err(e) => return Err(e),
        };
        self.audit.emit(
            AuditEvent::new("raw_write", tenant)
                .at(now)
                .field("store", store.uri())
                .field("object", name.as_str())
                .field("generation", write.meta.generation)
                .field("bytes", size)
                .field("created", write.created),
        );
        Ok(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants() {
        for ok in ["a", "acme", "acme-2", "t0"] {
            assert!(validate_tenant(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "-a",
            "a-",
            "1a",
            "a_b",
            "a/b",
            "../a",
            &"a".repeat(41),
        ] {
            assert!(validate_tenant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_ids_are_deterministic_and_unambiguous() -> Result<()> {
        let a = BatchId::derive("t", "slack", "100", "200");
        assert_eq!(a, BatchId::derive("t", "slack", "100", "200"));
        assert_ne!(a, BatchId::derive("t", "slack", "10", "0200"));
        assert_ne!(a, BatchId::derive("u", "slack", "100", "200"));
        assert_eq!(BatchId::parse(a.as_str())?, a);
        assert!(BatchId::parse("../../etc").is_err());
        let d = NaiveDate::from_ymd_opt(2026, 1, 2).ok_or(Error::InvalidName { reason: "d" })?;
        assert_eq!(
            raw_object_name("slack", d, &a)?,
            format!("raw/slack/2026-01-02/{a}")
        );
        assert!(raw_object_name("../x", d, &a).is_err());
        Ok(())
    }

    #[test]
    fn templates() -> Result<()> {
        assert_eq!(
            tenant_uri(DEFAULT_BUCKET_TEMPLATE, "acme")?,
            "gs://bacca-acme-raw"
        );
        assert!(tenant_uri(DEFAULT_BUCKET_TEMPLATE, "../x").is_err());
        assert!(TenantStores::from_template("gs://shared", GcsConfig::new()).is_err());
        assert!(TenantStores::explicit().store("acme").is_err());
        Ok(())
    }
}
