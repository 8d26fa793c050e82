//! The local keyring file (`local-kms://<path>?tenant=<id>`), for development and tests.
//!
//! One JSON file holds every tenant's KEK as a **Tink cleartext JSON keyset** that Python
//! tink loads directly (`tink.json_proto_keyset_format.parse(json.dumps(keyset), TOKEN)`):
//!
//! ```json
//! { "format": "bacca-local-keyring-v1",
//!   "tenants": { "acme": {
//!       "destroyed": false,
//!       "versions": [ { "version": 1, "keyId": 2207121234, "primary": false, "destroyed": true, "created": "..." },
//!                     { "version": 2, "keyId": 3390014410, "primary": true,  "destroyed": false, "created": "..." } ],
//!       "keyset": { "primaryKeyId": 3390014410, "key": [ { "keyData": {
//!           "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmKey",
//!           "value": "<base64 of 0x1a 0x20 <32-byte key>>", "keyMaterialType": "SYMMETRIC" },
//!           "status": "ENABLED", "keyId": 3390014410, "outputPrefixType": "TINK" } ] } } } }
//! ```
//!
//! Each version is an AES-256-GCM key with Tink's **TINK output prefix**, so a KEK
//! ciphertext (the wrapped DEK) is `0x01 || key id (u32 BE) || IV (12) || ciphertext || tag (16)`:
//! the 5-byte prefix is Tink's own version header, which is how decryption finds the version
//! that wrapped a DEK after rotation (in Rust and in Python tink alike). A RAW prefix could
//! not say which version wrapped a key.
//!
//! Rotation adds a version and makes it primary; older versions still decrypt. Destroying a
//! version erases its key material from the file (crypto-shredding): the version stays
//! listed as destroyed, so its ciphertexts fail with [`Error::KeyVersionDestroyed`].
//! Destroying a tenant erases all of its versions. The primary version cannot be destroyed
//! alone (rotate first). Writes are atomic (temporary file in the same directory, fsync,
//! rename) and the file is created with mode 0600. Management is single-writer (the CLI).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use zeroize::Zeroizing;

use bacca_audit::{AuditEvent, AuditSink};

use super::{validate_tenant, Kms, LOCAL_SCHEME};
use crate::aead::{random_fill, random_key, AesGcm};
use crate::error::{Error, Result};
use crate::proto::{decode_aes_gcm_key, encode_aes_gcm_key, AES_GCM_TYPE_URL};

mod file;

pub use file::KeyVersionInfo;
use file::{
    now_rfc3339, read_file, write_file, KeyData, KeyringFile, TenantEntry, TinkKey, TinkKeyset,
};

/// The `format` value of keyring files this crate writes.
pub const KEYRING_FORMAT: &str = "bacca-local-keyring-v1";
const TINK_PREFIX_BYTE: u8 = 0x01;
const PREFIX_LEN: usize = 5;

/// The management handle of a keyring file: create, rotate and destroy tenant KEKs.
///
/// Every operation emits one audit event (`key_create`, `key_rotate`,
/// `key_destroy_version`, `key_destroy_tenant`) with the tenant, version and Tink key id,
/// never key material.
#[derive(Debug, Clone)]
pub struct Keyring {
    path: PathBuf,
    audit: AuditSink,
}

impl Keyring {
    /// A handle on the keyring file at `path` (created by the first [`Keyring::create`]).
    pub fn new(path: impl Into<PathBuf>, audit: AuditSink) -> Self {
        Self {
            path: path.into(),
            audit,
        }
    }

    /// A handle from a `local-kms://<path>` URI (a `?tenant=` part is ignored).
    ///
    /// # Errors
    /// [`Error::InvalidKeyUri`] when the URI is not a local keyring URI.
    pub fn from_uri(uri: &str, audit: AuditSink) -> Result<Self> {
        match super::KeyUri::parse(uri)? {
            super::KeyUri::Local { path, .. } => Ok(Self::new(path, audit)),
            super::KeyUri::Gcp { .. } => Err(Error::InvalidKeyUri(
                "key management is only available for local-kms:// keyrings".into(),
            )),
        }
    }

    /// The keyring file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key URI of `tenant`'s KEK in this keyring.
    #[must_use]
    pub fn tenant_uri(&self, tenant: &str) -> String {
        format!("{LOCAL_SCHEME}{}?tenant={tenant}", self.path.display())
    }

    fn load(&self) -> Result<KeyringFile> {
        Ok(read_file(&self.path)?.unwrap_or_else(|| KeyringFile {
            format: KEYRING_FORMAT.into(),
            tenants: BTreeMap::new(),
        }))
    }

    fn emit(&self, action: &str, tenant: &str, info: Option<&KeyVersionInfo>) {
        let mut ev = AuditEvent::new(action, tenant).field("kms", "local-kms");
        if let Some(i) = info {
            ev = ev.field("version", i.version).field("key_id", i.key_id);
        }
        self.audit.emit(ev);
    }

    /// Creates `tenant`'s KEK with one primary version (the file is created if missing).
    ///
    /// # Errors
    /// [`Error::TenantExists`] (also after the tenant was destroyed: ids are not reused),
    /// [`Error::InvalidTenant`], I/O and keyring format errors.
    pub fn create(&self, tenant: &str) -> Result<KeyVersionInfo> {
        validate_tenant(tenant)?;
        let mut file = self.load()?;
        if file.tenants.contains_key(tenant) {
            return Err(Error::TenantExists);
        }
        let mut entry = TenantEntry {
            destroyed: false,
            versions: Vec::new(),
            keyset: TinkKeyset {
                primary_key_id: 0,
                key: Vec::new(),
            },
        };
        let info = add_version(&mut entry)?;
        file.tenants.insert(tenant.to_owned(), entry);
        write_file(&self.path, &file)?;
        self.emit("key_create", tenant, Some(&info));
        Ok(info)
    }

    /// Adds a new primary version to `tenant`'s KEK; older versions keep decrypting.
    ///
    /// # Errors
    /// [`Error::UnknownTenant`], [`Error::TenantDestroyed`], I/O and format errors.
    pub fn rotate(&self, tenant: &str) -> Result<KeyVersionInfo> {
        validate_tenant(tenant)?;
        let mut file = self.load()?;
        let entry = live_entry(&mut file, tenant)?;
        let info = add_version(entry)?;
        write_file(&self.path, &file)?;
        self.emit("key_rotate", tenant, Some(&info));
        Ok(info)
    }

    /// Erases the key material of one version (crypto-shredding everything it wrapped).
    ///
    /// # Errors
    /// [`Error::KeyState`] for the primary version (rotate first) or a version already
    /// destroyed, [`Error::UnknownKeyVersion`] when there is no such version,
    /// [`Error::UnknownTenant`], [`Error::TenantDestroyed`], I/O and format errors.
    pub fn destroy_version(&self, tenant: &str, version: u32) -> Result<KeyVersionInfo> {
        validate_tenant(tenant)?;
        let mut file = self.load()?;
        let entry = live_entry(&mut file, tenant)?;
        let meta = entry
            .versions
            .iter_mut()
            .find(|v| v.version == version)
            .ok_or(Error::UnknownKeyVersion { key_id: 0 })?;
        if meta.primary {
            return Err(Error::KeyState(
                "the primary version cannot be destroyed; rotate first",
            ));
        }
        if meta.destroyed {
            return Err(Error::KeyState("the version is already destroyed"));
        }
        meta.destroyed = true;
        let info = meta.clone();
        entry.keyset.key.retain(|k| k.key_id != info.key_id);
        write_file(&self.path, &file)?;
        self.emit("key_destroy_version", tenant, Some(&info));
        Ok(info)
    }

    /// Erases every version of `tenant`'s KEK; the tenant stays listed as destroyed.
    ///
    /// # Errors
    /// [`Error::UnknownTenant`], [`Error::TenantDestroyed`], I/O and format errors.
    pub fn destroy_tenant(&self, tenant: &str) -> Result<()> {
        validate_tenant(tenant)?;
        let mut file = self.load()?;
        let entry = live_entry(&mut file, tenant)?;
        entry.destroyed = true;
        entry.keyset.key.clear();
        for v in &mut entry.versions {
            v.destroyed = true;
            v.primary = false;
        }
        let count = entry.versions.len();
        write_file(&self.path, &file)?;
        self.audit.emit(
            AuditEvent::new("key_destroy_tenant", tenant)
                .field("kms", "local-kms")
                .field("versions", count),
        );
        Ok(())
    }

    /// The versions of `tenant`'s KEK (no key material).
    ///
    /// # Errors
    /// [`Error::UnknownTenant`], I/O and format errors.
    pub fn versions(&self, tenant: &str) -> Result<Vec<KeyVersionInfo>> {
        let file = self.load()?;
        file.tenants
            .get(tenant)
            .map(|e| e.versions.clone())
            .ok_or(Error::UnknownTenant)
    }

    /// `tenant`'s KEK as a Tink cleartext JSON keyset (secret: for interop tooling only).
    ///
    /// # Errors
    /// [`Error::UnknownTenant`], [`Error::TenantDestroyed`], I/O and format errors.
    pub fn tink_keyset_json(&self, tenant: &str) -> Result<Zeroizing<String>> {
        let mut file = self.load()?;
        let entry = live_entry(&mut file, tenant)?;
        serde_json::to_string(&entry.keyset)
            .map(Zeroizing::new)
            .map_err(|_| Error::MalformedKeyring("serialize"))
    }

    /// `tenant`'s KEK, usable as a [`Kms`].
    ///
    /// # Errors
    /// [`Error::InvalidTenant`].
    pub fn kek(&self, tenant: &str) -> Result<LocalKek> {
        LocalKek::new(self.path.clone(), tenant)
    }
}

fn live_entry<'a>(file: &'a mut KeyringFile, tenant: &str) -> Result<&'a mut TenantEntry> {
    let entry = file.tenants.get_mut(tenant).ok_or(Error::UnknownTenant)?;
    if entry.destroyed {
        return Err(Error::TenantDestroyed);
    }
    Ok(entry)
}

fn add_version(entry: &mut TenantEntry) -> Result<KeyVersionInfo> {
    let key_id = loop {
        let mut b = [0u8; 4];
        random_fill(&mut b)?;
        let id = u32::from_be_bytes(b);
        if id != 0 && entry.versions.iter().all(|v| v.key_id != id) {
            break id;
        }
    };
    let key = random_key()?;
    let proto = encode_aes_gcm_key(key.as_ref());
    for v in &mut entry.versions {
        v.primary = false;
    }
    let version = entry.versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
    let info = KeyVersionInfo {
        version,
        key_id,
        primary: true,
        destroyed: false,
        created: now_rfc3339(),
    };
    entry.versions.push(info.clone());
    entry.keyset.key.push(TinkKey {
        key_data: KeyData {
            type_url: AES_GCM_TYPE_URL.into(),
            value: B64.encode(proto.as_slice()),
            key_material_type: "SYMMETRIC".into(),
        },
        status: "ENABLED".into(),
        key_id,
        output_prefix_type: "TINK".into(),
    });
    entry.keyset.primary_key_id = key_id;
    Ok(info)
}

/// The decoded keys of one tenant at one file state.
struct Loaded {
    stamp: (std::time::SystemTime, u64),
    state: TenantState,
}

enum TenantState {
    Missing,
    Destroyed,
    Live {
        primary: u32,
        keys: HashMap<u32, Arc<AesGcm>>,
        destroyed: Vec<u32>,
    },
}

/// One tenant's KEK in a local keyring file: a [`Kms`].
///
/// Reads the file lazily and re-reads it whenever its modification time or size changes, so
/// a rotation or destruction by another process takes effect on the next call.
pub struct LocalKek {
    path: PathBuf,
    tenant: String,
    cache: Mutex<Option<Arc<Loaded>>>,
}

impl std::fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKek")
            .field("path", &self.path)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl LocalKek {
    /// `tenant`'s KEK in the keyring file at `path`.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`].
    pub fn new(path: impl Into<PathBuf>, tenant: &str) -> Result<Self> {
        validate_tenant(tenant)?;
        Ok(Self {
            path: path.into(),
            tenant: tenant.to_owned(),
            cache: Mutex::new(None),
        })
    }

    fn loaded(&self) -> Result<Arc<Loaded>> {
        let meta = std::fs::metadata(&self.path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::UnknownTenant
            } else {
                Error::Io(e)
            }
        })?;
        let stamp = (meta.modified()?, meta.len());
        let mut guard = match self.cache.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(l) = guard.as_ref() {
            if l.stamp == stamp {
                return Ok(l.clone());
            }
        }
        let file = read_file(&self.path)?.ok_or(Error::UnknownTenant)?;
        let state = match file.tenants.get(&self.tenant) {
            None => TenantState::Missing,
            Some(e) if e.destroyed => TenantState::Destroyed,
            Some(e) => {
                let mut keys = HashMap::new();
                for k in &e.keyset.key {
                    if k.key_data.type_url != AES_GCM_TYPE_URL
                        || k.output_prefix_type != "TINK"
                        || k.status != "ENABLED"
                    {
                        return Err(Error::MalformedKeyring("unsupported key in keyset"));
                    }
                    let proto = Zeroizing::new(
                        B64.decode(k.key_data.value.as_bytes())
                            .map_err(|_| Error::MalformedKeyring("key value is not base64"))?,
                    );
                    let raw = decode_aes_gcm_key(&proto)?;
                    keys.insert(k.key_id, Arc::new(AesGcm::new(&raw)?));
                }
                let destroyed = e
                    .versions
                    .iter()
                    .filter(|v| v.destroyed)
                    .map(|v| v.key_id)
                    .collect();
                TenantState::Live {
                    primary: e.keyset.primary_key_id,
                    keys,
                    destroyed,
                }
            }
        };
        let loaded = Arc::new(Loaded { stamp, state });
        *guard = Some(loaded.clone());
        Ok(loaded)
    }
}

#[async_trait::async_trait]
impl Kms for LocalKek {
    async fn encrypt(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>> {
        let loaded = self.loaded()?;
        let (primary, keys) = match &loaded.state {
            TenantState::Missing => return Err(Error::UnknownTenant),
            TenantState::Destroyed => return Err(Error::TenantDestroyed),
            TenantState::Live { primary, keys, .. } => (*primary, keys),
        };
        let key = keys
            .get(&primary)
            .ok_or(Error::MalformedKeyring("primary key missing"))?;
        let mut out = Vec::with_capacity(PREFIX_LEN + plaintext.len() + 28);
        out.push(TINK_PREFIX_BYTE);
        out.extend_from_slice(&primary.to_be_bytes());
        key.encrypt_append(plaintext, associated_data, &mut out)?;
        Ok(out)
    }

    async fn decrypt(&self, ciphertext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>> {
        let Some(([version, id @ ..], body)) = ciphertext.split_first_chunk::<PREFIX_LEN>() else {
            return Err(Error::Truncated);
        };
        if *version != TINK_PREFIX_BYTE {
            return Err(Error::Tampered);
        }
        let key_id = u32::from_be_bytes(*id);
        let loaded = self.loaded()?;
        match &loaded.state {
            TenantState::Missing => Err(Error::UnknownTenant),
            TenantState::Destroyed => Err(Error::KeyVersionDestroyed { key_id }),
            TenantState::Live {
                keys, destroyed, ..
            } => match keys.get(&key_id) {
                Some(key) => Ok(key.decrypt(body, associated_data)?.to_vec()),
                None if destroyed.contains(&key_id) => Err(Error::KeyVersionDestroyed { key_id }),
                None => Err(Error::UnknownKeyVersion { key_id }),
            },
        }
    }

    fn key_uri(&self) -> String {
        format!(
            "{LOCAL_SCHEME}{}?tenant={}",
            self.path.display(),
            self.tenant
        )
    }
}
