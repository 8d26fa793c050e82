//! JSON API wire formats: object resources, list pages, upload bodies.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::{ObjectMeta, PutOptions};

/// The fields of a JSON-API object resource this crate reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ObjectResource {
    pub(super) name: String,
    pub(super) generation: String,
    #[serde(default)]
    pub(super) size: Option<String>,
    #[serde(default)]
    pub(super) custom_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(super) updated: Option<DateTime<Utc>>,
}

impl ObjectResource {
    pub(super) fn into_meta(self) -> Result<ObjectMeta> {
        let bad = || Error::Protocol {
            what: "malformed object resource".into(),
        };
        Ok(ObjectMeta {
            generation: self.generation.parse().map_err(|_| bad())?,
            size: match self.size {
                Some(s) => s.parse().map_err(|_| bad())?,
                None => 0,
            },
            custom_time: self.custom_time,
            updated: self.updated.ok_or_else(bad)?,
            name: self.name,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ObjectList {
    #[serde(default)]
    pub(super) items: Vec<ObjectResource>,
    #[serde(default)]
    pub(super) prefixes: Vec<String>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}

/// Size of each resumable-upload chunk (a multiple of 256 KiB, as GCS requires).
pub const UPLOAD_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// The JSON object resource sent with an upload, and the content type.
pub(super) fn upload_metadata(name: &str, opts: &PutOptions) -> Result<(Vec<u8>, String)> {
    let mut meta = serde_json::Map::new();
    meta.insert("name".into(), name.into());
    if let Some(t) = opts.custom_time {
        meta.insert(
            "customTime".into(),
            t.to_rfc3339_opts(SecondsFormat::AutoSi, true).into(),
        );
    }
    let content_type = opts
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    meta.insert("contentType".into(), content_type.clone().into());
    if !opts.metadata.is_empty() {
        let m: BTreeMap<_, _> = opts.metadata.clone();
        meta.insert(
            "metadata".into(),
            serde_json::to_value(m).map_err(|_| Error::Protocol {
                what: "metadata encoding".into(),
            })?,
        );
    }
    let meta = serde_json::to_vec(&meta).map_err(|_| Error::Protocol {
        what: "metadata encoding".into(),
    })?;
    Ok((meta, content_type))
}

/// Builds a `multipart/related` upload body: JSON metadata, then the content.
pub(super) fn multipart(name: &str, data: &[u8], opts: &PutOptions) -> Result<(String, Bytes)> {
    let (meta, content_type) = upload_metadata(name, opts)?;
    // A random 128-bit boundary: the chance that it occurs inside the content is negligible.
    let boundary = format!("bacca-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(data.len() + meta.len() + 256);
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(&meta);
    body.extend_from_slice(
        format!("\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok((
        format!("multipart/related; boundary={boundary}"),
        Bytes::from(body),
    ))
}
