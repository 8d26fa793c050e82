//! Google Drive (v3, `drive.readonly`): files modified since the last pass
//! (`files.list` with `q=modifiedTime > '…'`, `pageToken`), and the text of Google Docs,
//! Slides and Sheets through `files.export` (`text/plain`, `text/csv`; Drive refuses exports
//! over 10 MB) and of plain-text files through `alt=media` (at most 10 MB).
//!
//! Authentication: the service-account key file named by `GOOGLE_APPLICATION_CREDENTIALS`;
//! the connector signs a JWT (RS256, aws-lc-rs) and exchanges it at the key's `token_uri`
//! for an access token, cached until a minute before it expires. The customer shares the
//! selected folders with the service account (or grants domain-wide read-only delegation).

use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::malformed;
use crate::http::{Api, ConnectorContext};
use crate::pass::PassState;
use crate::record::{attrs, parse_time, Checkpoint, Identity, Page, Record, SourceKind};
use crate::source::{decode, Source};
use crate::{Error, Result};

/// The default API root.
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com";
/// The read-only scope requested.
pub const SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";
/// Largest text read for one file.
pub const MAX_TEXT_BYTES: usize = 10 * 1024 * 1024;
const LIST: &str = "/drive/v3/files";
const EXPORT: &str = "/drive/v3/files/{id}/export";
const MEDIA: &str = "/drive/v3/files/{id}";
const FIELDS: &str = "nextPageToken,files(id,name,mimeType,createdTime,modifiedTime,size,trashed,parents,owners(displayName,emailAddress,permissionId),lastModifyingUser(displayName,emailAddress,permissionId),sharingUser(displayName,emailAddress,permissionId))";

/// A service-account key (the JSON file Google issues). Debug redacts the private key.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// `service_account@project.iam.gserviceaccount.com`.
    pub client_email: String,
    /// PKCS#8 PEM private key.
    private_key: SecretString,
    /// OAuth token endpoint.
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Parses a key file's content.
    ///
    /// # Errors
    /// [`Error::Credential`] when it is not a service-account key.
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|_| Error::Credential {
            name: "GOOGLE_APPLICATION_CREDENTIALS".into(),
            reason: "not a service-account key file",
        })
    }

    fn key_pair(&self) -> Result<RsaKeyPair> {
        let pem = self.private_key.expose_secret();
        let b64: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        let der = STANDARD.decode(b64.trim()).map_err(|_| self.bad_key())?;
        RsaKeyPair::from_pkcs8(&der).map_err(|_| self.bad_key())
    }

    fn bad_key(&self) -> Error {
        Error::Credential {
            name: "GOOGLE_APPLICATION_CREDENTIALS".into(),
            reason: "the private key is not a PKCS#8 RSA key",
        }
    }

    /// A signed JWT assertion for the OAuth 2.0 JWT bearer grant.
    fn assertion(&self, now: DateTime<Utc>) -> Result<String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now.timestamp(),
            "exp": now.timestamp() + 3600,
        });
        let claims =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).map_err(|_| self.bad_key())?);
        let signing_input = format!("{header}.{claims}");
        let pair = self.key_pair()?;
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut sig,
        )
        .map_err(|_| self.bad_key())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// Configuration of the Google Drive connector.
#[derive(Debug, Clone)]
pub struct DriveConfig {
    /// API root (`https://www.googleapis.com`).
    pub base_url: String,
    /// First run only: files modified after this time.
    pub since: Option<DateTime<Utc>>,
    /// Files per list request (at most 1000).
    pub page_size: u32,
}

/// Reads the files visible to one service account.
#[derive(Debug)]
pub struct DriveSource {
    api: Api,
    key: ServiceAccountKey,
    config: DriveConfig,
    access: Option<(SecretString, Instant)>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct FileList {
    #[serde(default)]
    files: Vec<File>,
    #[serde(default, rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct File {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default, rename = "mimeType")]
    mime_type: String,
    #[serde(rename = "createdTime")]
    created_time: String,
    #[serde(rename = "modifiedTime")]
    modified_time: String,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    owners: Vec<DriveUser>,
    #[serde(default, rename = "lastModifyingUser")]
    last_modifying_user: Option<DriveUser>,
    #[serde(default, rename = "sharingUser")]
    sharing_user: Option<DriveUser>,
}

#[derive(Deserialize)]
struct DriveUser {
    #[serde(default, rename = "displayName")]
    display_name: Option<String>,
    #[serde(default, rename = "emailAddress")]
    email_address: Option<String>,
    #[serde(default, rename = "permissionId")]
    permission_id: Option<String>,
}

impl DriveUser {
    fn identity(self, role: &str) -> Identity {
        Identity {
            role: role.to_owned(),
            id: self.permission_id,
            name: self.display_name,
            handle: None,
            email: self.email_address,
        }
    }
}

/// A listed file: its record (name only, `text_read` false) and how to read its text.
struct ListedFile {
    record: Record,
    mime_type: String,
    size: Option<usize>,
}

fn parse_list(body: &[u8]) -> Result<(Vec<ListedFile>, Option<String>)> {
    let list: FileList = serde_json::from_slice(body).map_err(|e| malformed("gdrive", LIST, &e))?;
    let bad = |d: &str| Error::Malformed {
        source_name: "gdrive",
        endpoint: LIST.into(),
        detail: d.to_owned(),
    };
    let mut files = Vec::with_capacity(list.files.len());
    for f in list.files {
        let created = parse_time(&f.created_time).ok_or_else(|| bad("bad createdTime"))?;
        let modified = parse_time(&f.modified_time).ok_or_else(|| bad("bad modifiedTime"))?;
        let mut identities = Vec::new();
        identities.extend(f.owners.into_iter().map(|u| u.identity("owner")));
        identities.extend(f.last_modifying_user.map(|u| u.identity("editor")));
        identities.extend(f.sharing_user.map(|u| u.identity("sharer")));
        files.push(ListedFile {
            record: Record {
                source: SourceKind::Gdrive,
                kind: "file".into(),
                id: f.id,
                container: f.parents.into_iter().next(),
                parent_id: None,
                occurred_at: created,
                updated_at: Some(modified),
                text: f.name,
                identities,
                attributes: attrs([
                    ("mime_type", Value::String(f.mime_type.clone())),
                    ("text_read", Value::Bool(false)),
                ]),
            },
            mime_type: f.mime_type,
            size: f.size.as_deref().and_then(|s| s.parse().ok()),
        });
    }
    Ok((files, list.next_page_token.filter(|t| !t.is_empty())))
}

/// Parses and normalizes one `files.list` page: a record per file with its name, owners and
/// editors (the connector appends the file's exported text and sets `text_read`); and the
/// next page token (`None` on the last page).
///
/// ```
/// let page = br#"{"files":[]}"#;
/// let (records, next) = bacca_connectors::gdrive::parse_files_page(page)?;
/// assert!(records.is_empty() && next.is_none());
/// # Ok::<(), bacca_connectors::Error>(())
/// ```
///
/// # Errors
/// [`Error::Malformed`] when the body is not a file list or a file lacks its id or times.
pub fn parse_files_page(body: &[u8]) -> Result<(Vec<Record>, Option<String>)> {
    let (files, next) = parse_list(body)?;
    Ok((files.into_iter().map(|f| f.record).collect(), next))
}

/// How a file's text is read.
fn text_route(mime: &str) -> Option<(&'static str, Option<&'static str>)> {
    match mime {
        "application/vnd.google-apps.document" | "application/vnd.google-apps.presentation" => {
            Some((EXPORT, Some("text/plain")))
        }
        "application/vnd.google-apps.spreadsheet" => Some((EXPORT, Some("text/csv"))),
        m if m.starts_with("text/") => Some((MEDIA, None)),
        _ => None,
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl DriveSource {
    /// A connector with the service-account `key`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad base URL or token URI.
    pub fn new(
        ctx: &ConnectorContext,
        key: ServiceAccountKey,
        config: DriveConfig,
    ) -> Result<Self> {
        crate::http::check_base_url(&key.token_uri)?;
        Ok(Self {
            api: Api::new(ctx, "gdrive", &config.base_url)?,
            key,
            config,
            access: None,
        })
    }

    async fn access_token(&mut self) -> Result<SecretString> {
        if let Some((t, until)) = &self.access {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let assertion = self.key.assertion(Utc::now())?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let uri = self.key.token_uri.clone();
        let resp: TokenResponse = self
            .api
            .call(
                "oauth2_token",
                |c| {
                    c.post(&uri)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form.clone())
                },
                |b, _| {
                    let r: TokenResponse = serde_json::from_slice(b)
                        .map_err(|e| malformed("gdrive", "oauth2_token", &e))?;
                    Ok((r, 0))
                },
            )
            .await?;
        let ttl = resp.expires_in.unwrap_or(3600).saturating_sub(60);
        let until = Instant::now() + StdDuration::from_secs(ttl);
        self.access = Some((resp.access_token.clone(), until));
        Ok(resp.access_token)
    }

    async fn file_text(
        &self,
        token: &SecretString,
        id: &str,
        mime_type: &str,
        size: Option<usize>,
    ) -> Result<Option<String>> {
        let Some((template, export_mime)) = text_route(mime_type) else {
            return Ok(None);
        };
        if !valid_id(id) {
            return Err(Error::Malformed {
                source_name: "gdrive",
                endpoint: LIST.into(),
                detail: "file id has unexpected characters".into(),
            });
        }
        if export_mime.is_none() && size.is_some_and(|s| s > MAX_TEXT_BYTES) {
            return Ok(None);
        }
        let url = match export_mime {
            Some(_) => self.api.url(&format!("/drive/v3/files/{id}/export")),
            None => self.api.url(&format!("/drive/v3/files/{id}")),
        };
        let result = self
            .api
            .call(
                template,
                |c| {
                    let rb = c.get(&url).bearer_auth(token.expose_secret());
                    match export_mime {
                        Some(m) => rb.query(&[("mimeType", m)]),
                        None => rb.query(&[("alt", "media")]),
                    }
                },
                |b, _| {
                    if b.len() > MAX_TEXT_BYTES {
                        return Ok((None, 0));
                    }
                    Ok((Some(String::from_utf8_lossy(b).into_owned()), 1))
                },
            )
            .await;
        match result {
            Ok(t) => Ok(t),
            // Drive refuses exports over 10 MB with 403 exportSizeLimitExceeded: keep the
            // metadata record without text.
            Err(Error::Http { ref class, .. }) if class == "export_too_large" => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Source for DriveSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Gdrive
    }

    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page> {
        let mut state: PassState<String> = decode("gdrive", checkpoint)?;
        let since = self.config.since;
        let (_, q) = state.pass(Utc::now(), |w| {
            match w.map(|w| w - Duration::minutes(2)).or(since) {
                Some(t) => format!(
                    "modifiedTime > '{}' and trashed = false",
                    t.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
                None => "trashed = false".to_owned(),
            }
        });
        let token = self.access_token().await?;
        let mut query = vec![
            ("q", q),
            ("orderBy", "modifiedTime".to_owned()),
            ("pageSize", self.config.page_size.clamp(1, 1000).to_string()),
            ("fields", FIELDS.to_owned()),
            ("supportsAllDrives", "true".to_owned()),
            ("includeItemsFromAllDrives", "true".to_owned()),
        ];
        if let Some(t) = &state.cursor {
            query.push(("pageToken", t.clone()));
        }
        let url = self.api.url(LIST);
        let (files, next) = self
            .api
            .call(
                LIST,
                |c| c.get(&url).bearer_auth(token.expose_secret()).query(&query),
                |b, _| {
                    let page = parse_list(b)?;
                    let n = page.0.len();
                    Ok((page, n))
                },
            )
            .await?;
        let mut records = Vec::with_capacity(files.len());
        for f in files {
            let mut record = f.record;
            if let Some(body) = self
                .file_text(&token, &record.id, &f.mime_type, f.size)
                .await?
            {
                record.text.push('\n');
                record.text.push_str(&body);
                if let Some(a) = record.attributes.as_object_mut() {
                    a.insert("text_read".into(), Value::Bool(true));
                }
            }
            records.push(record);
        }
        state.end_page("gdrive", LIST, records, next)
    }
}
