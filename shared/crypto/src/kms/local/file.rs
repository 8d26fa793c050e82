//! The keyring file: its JSON layout (per tenant a Tink cleartext keyset and the versions'
//! state), key material wiped on drop, atomic writes with mode 0600.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::KEYRING_FORMAT;
use crate::aead::random_fill;
use crate::error::{Error, Result};

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyringFile {
    pub(super) format: String,
    #[serde(default)]
    pub(super) tenants: BTreeMap<String, TenantEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TenantEntry {
    #[serde(default)]
    pub(super) destroyed: bool,
    pub(super) versions: Vec<KeyVersionInfo>,
    pub(super) keyset: TinkKeyset,
}

/// One version of a tenant's KEK (no key material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyVersionInfo {
    /// 1, 2, 3... in creation order.
    pub version: u32,
    /// The Tink key id (the 4 bytes after `0x01` in the wrapped DEK).
    pub key_id: u32,
    /// Whether new DEKs are wrapped with this version.
    pub primary: bool,
    /// Whether its key material was erased.
    pub destroyed: bool,
    /// Creation time, RFC 3339.
    pub created: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TinkKeyset {
    pub(super) primary_key_id: u32,
    pub(super) key: Vec<TinkKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TinkKey {
    pub(super) key_data: KeyData,
    pub(super) status: String,
    pub(super) key_id: u32,
    pub(super) output_prefix_type: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct KeyData {
    pub(super) type_url: String,
    pub(super) value: String,
    pub(super) key_material_type: String,
}

impl Drop for KeyData {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

pub(super) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) fn read_file(path: &Path) -> Result<Option<KeyringFile>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let file: KeyringFile =
        serde_json::from_slice(&bytes).map_err(|_| Error::MalformedKeyring("not keyring JSON"))?;
    if file.format != KEYRING_FORMAT {
        return Err(Error::MalformedKeyring("unknown format"));
    }
    Ok(Some(file))
}

pub(super) fn write_file(path: &Path, file: &KeyringFile) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let json = Zeroizing::new(
        serde_json::to_vec_pretty(file).map_err(|_| Error::MalformedKeyring("serialize"))?,
    );
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut suffix = [0u8; 8];
    random_fill(&mut suffix)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keyring".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", hex::encode(suffix)));
    let result = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
