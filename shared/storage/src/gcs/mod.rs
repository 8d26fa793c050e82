//! `gs://<bucket>`: a thin client for the Cloud Storage JSON API over reqwest.
//!
//! The official `google-cloud-storage` crate cannot be tested against fake-gcs-server (its
//! uploads append a CRC32C part the emulator stores as content, and its list/delete are gRPC
//! calls the emulator does not serve), so this backend speaks the JSON API directly:
//! multipart uploads with `customTime` and `ifGenerationMatch`, object metadata, media
//! downloads pinned to the generation just read, paginated listing with prefix and delimiter,
//! and conditional deletes.
//!
//! In production requests carry a bearer token from Application Default Credentials
//! (`google-cloud-auth`). Like Google's client libraries, when `STORAGE_EMULATOR_HOST` is set
//! (`host:port` or a URL) the client talks to `http://$STORAGE_EMULATOR_HOST` without
//! credentials, so every `gs://` URI can be pointed at the emulator without other flags.
//!
//! Every request has a timeout; 429, 408, 5xx, timeouts and connection failures are retried with
//! jittered exponential back-off when the request is idempotent (reads, and writes or deletes
//! with a generation precondition). TLS is rustls with TLS 1.2 as the minimum.

mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::config::GcsConfig;
use crate::error::{Error, Result};
use crate::store::{validate_name, ByteStream, Listing, ObjectMeta, ObjectStore, PutOptions};
use transport::{encode_segment, Fail, Http, Req};

/// Production endpoint of the JSON API.
pub const GOOGLE_ENDPOINT: &str = "https://storage.googleapis.com";
/// The variable Google's client libraries read to reach a storage emulator.
pub const EMULATOR_ENV: &str = "STORAGE_EMULATOR_HOST";

/// A GCS bucket. Clone is cheap (an `Arc` inside); build once, share.
#[derive(Debug, Clone)]
pub struct GcsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: Http,
    base: String,
    bucket: String,
    project: String,
}

/// The fields of a JSON-API object resource this crate reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectResource {
    name: String,
    generation: String,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    custom_time: Option<DateTime<Utc>>,
    #[serde(default)]
    updated: Option<DateTime<Utc>>,
}

impl ObjectResource {
    fn into_meta(self) -> Result<ObjectMeta> {
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
struct ObjectList {
    #[serde(default)]
    items: Vec<ObjectResource>,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// Checks GCS bucket naming rules (3-63 characters of `a-z 0-9 - _ .`, starting and ending
/// with a letter or digit; dotted names up to 222 are not used by bacca).
///
/// # Errors
/// [`Error::InvalidUri`] with the rule that failed.
pub fn validate_bucket(bucket: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !bucket.chars().all(ok_char)
        || !edge(bucket.chars().next())
        || !edge(bucket.chars().last())
        || bucket.starts_with("goog")
    {
        return Err(Error::InvalidUri {
            reason: "bucket name must be 3-63 of a-z 0-9 - _ . starting and ending alphanumeric"
                .into(),
        });
    }
    Ok(())
}

/// The endpoint chosen by configuration or `STORAGE_EMULATOR_HOST`, and whether it is an
/// emulator (no credentials).
fn resolve_endpoint(cfg: &GcsConfig) -> (String, bool) {
    let from_env = std::env::var(EMULATOR_ENV).ok().filter(|v| !v.is_empty());
    match cfg.endpoint.clone().or(from_env) {
        Some(e) if e.starts_with("http://") || e.starts_with("https://") => {
            (e.trim_end_matches('/').to_owned(), true)
        }
        Some(e) => (format!("http://{}", e.trim_end_matches('/')), true),
        None => (GOOGLE_ENDPOINT.to_owned(), false),
    }
}

impl GcsStore {
    /// A client for `bucket`, with ADC credentials for Google, or none for an emulator
    /// (`cfg.endpoint` or `STORAGE_EMULATOR_HOST`).
    ///
    /// # Errors
    /// [`Error::InvalidUri`] for a bad bucket name, [`Error::Auth`] when ADC cannot be set up.
    pub fn new(bucket: &str, cfg: GcsConfig) -> Result<Self> {
        validate_bucket(bucket)?;
        let (base, emulator) = resolve_endpoint(&cfg);
        let creds = if emulator {
            None
        } else {
            Some(
                google_cloud_auth::credentials::Builder::default()
                    .build()
                    .map_err(|_| Error::Auth {
                        what: "application default credentials unavailable".into(),
                        transient: false,
                    })?,
            )
        };
        let project = cfg
            .project
            .clone()
            .unwrap_or_else(|| "bacca-local".to_owned());
        Ok(Self {
            inner: Arc::new(Inner {
                http: Http::new(cfg, creds)?,
                base,
                bucket: bucket.to_owned(),
                project,
            }),
        })
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The endpoint in use (Google's or the emulator's).
    pub fn endpoint(&self) -> &str {
        &self.inner.base
    }

    fn object_url(&self, name: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.inner.base,
            self.inner.bucket,
            encode_segment(name)
        )
    }

    fn bucket_missing(&self) -> Error {
        Error::BucketNotFound {
            bucket: self.inner.bucket.clone(),
        }
    }

    /// GCS answers 404 both for a missing object and a missing bucket (the emulator with the
    /// same body), so a 404 on an object is disambiguated with one bucket lookup.
    async fn not_found(&self, name: &str) -> Error {
        let req = Req {
            method: Method::GET,
            url: format!("{}/storage/v1/b/{}", self.inner.base, self.inner.bucket),
            query: vec![("fields", "name".into())],
            body: None,
            headers: vec![],
            idempotent: true,
        };
        match self.inner.http.send(&req).await {
            Ok(_) => Error::NotFound {
                name: name.to_owned(),
            },
            Err(Fail::Status(StatusCode::NOT_FOUND)) => self.bucket_missing(),
            Err(Fail::Status(s)) => unexpected(s),
            Err(Fail::Err(e)) => e,
        }
    }

    async fn object_fail(&self, name: &str, f: Fail) -> Error {
        match f {
            Fail::Status(StatusCode::NOT_FOUND) => self.not_found(name).await,
            Fail::Status(StatusCode::PRECONDITION_FAILED) => Error::PreconditionFailed {
                name: name.to_owned(),
            },
            Fail::Status(s) => unexpected(s),
            Fail::Err(e) => e,
        }
    }

    fn media_req(&self, name: &str, generation: i64) -> Req<'static> {
        Req {
            method: Method::GET,
            url: self.object_url(name),
            query: vec![
                ("alt", "media".into()),
                ("generation", generation.to_string()),
            ],
            body: None,
            headers: vec![],
            idempotent: true,
        }
    }

    async fn head_inner(&self, name: &str) -> Result<ObjectMeta> {
        let req = Req {
            method: Method::GET,
            url: self.object_url(name),
            query: vec![],
            body: None,
            headers: vec![],
            idempotent: true,
        };
        match self.inner.http.json::<ObjectResource>(&req).await {
            Ok(r) => r.into_meta(),
            Err(f) => Err(self.object_fail(name, f).await),
        }
    }
}

fn unexpected(s: StatusCode) -> Error {
    Error::Protocol {
        what: format!("unexpected http {}", s.as_u16()),
    }
}

/// Size of each resumable-upload chunk (a multiple of 256 KiB, as GCS requires).
pub const UPLOAD_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// The JSON object resource sent with an upload, and the content type.
fn upload_metadata(name: &str, opts: &PutOptions) -> Result<(Vec<u8>, String)> {
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
fn multipart(name: &str, data: &[u8], opts: &PutOptions) -> Result<(String, Bytes)> {
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

#[async_trait]
impl ObjectStore for GcsStore {
    fn uri(&self) -> String {
        format!("gs://{}", self.inner.bucket)
    }

    async fn put(&self, name: &str, data: Bytes, opts: PutOptions) -> Result<ObjectMeta> {
        validate_name(name)?;
        if opts
            .content_type
            .as_deref()
            .is_some_and(|c| c.contains(['\r', '\n']))
        {
            return Err(Error::Protocol {
                what: "content type with a line break".into(),
            });
        }
        let mut query = vec![("uploadType", "multipart".to_owned())];
        if let Some(g) = opts.if_generation_match {
            query.push(("ifGenerationMatch", g.to_string()));
        }
        let req = Req {
            method: Method::POST,
            url: format!(
                "{}/upload/storage/v1/b/{}/o",
                self.inner.base, self.inner.bucket
            ),
            query,
            body: Some(multipart(name, &data, &opts)?),
            headers: vec![],
            idempotent: opts.if_generation_match.is_some(),
        };
        match self.inner.http.json::<ObjectResource>(&req).await {
            Ok(r) => r.into_meta(),
            // An insert cannot miss its object: 404 means the bucket is missing.
            Err(Fail::Status(StatusCode::NOT_FOUND)) => Err(self.bucket_missing()),
            Err(f) => Err(self.object_fail(name, f).await),
        }
    }

    /// Resumable upload in [`UPLOAD_CHUNK_BYTES`] chunks: memory stays bounded by one chunk.
    /// Chunks are not retried individually; a failure fails the call (retryable), and the
    /// caller writes again (with `if_generation_match` the object appears whole or not at all).
    async fn put_stream(
        &self,
        name: &str,
        mut data: ByteStream,
        opts: PutOptions,
    ) -> Result<ObjectMeta> {
        use futures::StreamExt;
        validate_name(name)?;
        let (meta, content_type) = upload_metadata(name, &opts)?;
        let mut query = vec![("uploadType", "resumable".to_owned())];
        if let Some(g) = opts.if_generation_match {
            query.push(("ifGenerationMatch", g.to_string()));
        }
        let init = Req {
            method: Method::POST,
            url: format!(
                "{}/upload/storage/v1/b/{}/o",
                self.inner.base, self.inner.bucket
            ),
            query,
            body: Some(("application/json; charset=UTF-8".into(), Bytes::from(meta))),
            headers: vec![("X-Upload-Content-Type", content_type.clone())],
            idempotent: opts.if_generation_match.is_some(),
        };
        let session = match self.inner.http.send(&init).await {
            Ok(resp) => resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| Error::Protocol {
                    what: "resumable upload without session uri".into(),
                })?,
            Err(Fail::Status(StatusCode::NOT_FOUND)) => return Err(self.bucket_missing()),
            Err(f) => return Err(self.object_fail(name, f).await),
        };
        let mut buf: Vec<u8> = Vec::with_capacity(UPLOAD_CHUNK_BYTES);
        let mut offset: u64 = 0;
        let mut done = false;
        loop {
            while !done && buf.len() < UPLOAD_CHUNK_BYTES {
                match data.next().await {
                    Some(chunk) => buf.extend_from_slice(&chunk?),
                    None => done = true,
                }
            }
            let take = if done { buf.len() } else { UPLOAD_CHUNK_BYTES };
            let chunk = Bytes::copy_from_slice(&buf[..take]);
            buf.drain(..take);
            let end = offset + take as u64;
            let range = match (done, take) {
                (true, 0) => format!("bytes */{end}"),
                (true, _) => format!("bytes {offset}-{}/{end}", end - 1),
                (false, _) => format!("bytes {offset}-{}/*", end - 1),
            };
            let req = Req {
                method: Method::PUT,
                url: session.clone(),
                query: vec![],
                body: Some((content_type.clone(), chunk)),
                headers: vec![("Content-Range", range)],
                idempotent: false,
            };
            let resp = match self.inner.http.send(&req).await {
                Ok(r) => r,
                Err(Fail::Status(StatusCode::NOT_FOUND)) => return Err(self.bucket_missing()),
                Err(f) => return Err(self.object_fail(name, f).await),
            };
            offset = end;
            if done {
                if resp.status() == StatusCode::PERMANENT_REDIRECT {
                    return Err(Error::Protocol {
                        what: "resumable upload not finalized".into(),
                    });
                }
                let body = resp.bytes().await.map_err(|_| Error::Unavailable {
                    what: "body".into(),
                })?;
                let r: ObjectResource =
                    serde_json::from_slice(&body).map_err(|_| Error::Protocol {
                        what: "malformed json response".into(),
                    })?;
                return r.into_meta();
            }
        }
    }

    async fn get(&self, name: &str) -> Result<(Bytes, ObjectMeta)> {
        validate_name(name)?;
        // Metadata first, then the bytes of exactly that generation; if it was replaced in
        // between, read again.
        let mut tries = 0;
        loop {
            tries += 1;
            let meta = self.head_inner(name).await?;
            match self
                .inner
                .http
                .send(&self.media_req(name, meta.generation))
                .await
            {
                Ok(resp) => {
                    let data = resp.bytes().await.map_err(|_| Error::Unavailable {
                        what: "body".into(),
                    })?;
                    return Ok((data, meta));
                }
                Err(Fail::Status(StatusCode::NOT_FOUND)) if tries < 3 => continue,
                Err(f) => return Err(self.object_fail(name, f).await),
            }
        }
    }

    async fn get_stream(&self, name: &str) -> Result<(ByteStream, ObjectMeta)> {
        use futures::StreamExt;
        validate_name(name)?;
        let mut tries = 0;
        loop {
            tries += 1;
            let meta = self.head_inner(name).await?;
            match self
                .inner
                .http
                .send(&self.media_req(name, meta.generation))
                .await
            {
                Ok(resp) => {
                    let s = resp.bytes_stream().map(|r| {
                        r.map_err(|_| Error::Unavailable {
                            what: "body".into(),
                        })
                    });
                    return Ok((Box::pin(s), meta));
                }
                Err(Fail::Status(StatusCode::NOT_FOUND)) if tries < 3 => continue,
                Err(f) => return Err(self.object_fail(name, f).await),
            }
        }
    }

    async fn head(&self, name: &str) -> Result<ObjectMeta> {
        validate_name(name)?;
        self.head_inner(name).await
    }

    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> Result<Listing> {
        let mut listing = Listing::default();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![
                ("prefix", prefix.to_owned()),
                (
                    "maxResults",
                    self.inner
                        .http
                        .cfg
                        .list_page_size
                        .clamp(1, 1000)
                        .to_string(),
                ),
            ];
            if let Some(d) = delimiter {
                query.push(("delimiter", d.to_owned()));
            }
            if let Some(t) = &page_token {
                query.push(("pageToken", t.clone()));
            }
            let req = Req {
                method: Method::GET,
                url: format!("{}/storage/v1/b/{}/o", self.inner.base, self.inner.bucket),
                query,
                body: None,
                headers: vec![],
                idempotent: true,
            };
            let page: ObjectList = match self.inner.http.json(&req).await {
                Ok(p) => p,
                Err(Fail::Status(StatusCode::NOT_FOUND)) => return Err(self.bucket_missing()),
                Err(Fail::Status(s)) => return Err(unexpected(s)),
                Err(Fail::Err(e)) => return Err(e),
            };
            for item in page.items {
                listing.objects.push(item.into_meta()?);
            }
            listing.prefixes.extend(page.prefixes);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) if Some(&t) != page_token.as_ref() => page_token = Some(t),
                _ => break,
            }
        }
        listing.prefixes.sort();
        listing.prefixes.dedup();
        Ok(listing)
    }

    async fn delete(&self, name: &str, if_generation_match: Option<i64>) -> Result<()> {
        validate_name(name)?;
        let mut query = vec![];
        if let Some(g) = if_generation_match {
            query.push(("ifGenerationMatch", g.to_string()));
        }
        let req = Req {
            method: Method::DELETE,
            url: self.object_url(name),
            query,
            body: None,
            headers: vec![],
            idempotent: if_generation_match.is_some(),
        };
        match self.inner.http.send(&req).await {
            Ok(_) => Ok(()),
            Err(f) => Err(self.object_fail(name, f).await),
        }
    }

    async fn create_bucket(&self) -> Result<()> {
        let body = serde_json::json!({ "name": self.inner.bucket });
        let req = Req {
            method: Method::POST,
            url: format!("{}/storage/v1/b", self.inner.base),
            query: vec![("project", self.inner.project.clone())],
            body: Some(("application/json".into(), Bytes::from(body.to_string()))),
            headers: vec![],
            idempotent: true,
        };
        match self.inner.http.send(&req).await {
            Ok(_) | Err(Fail::Status(StatusCode::CONFLICT)) => Ok(()),
            Err(Fail::Status(s)) => Err(unexpected(s)),
            Err(Fail::Err(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "bacca-tenant-a-raw", "a_b.c9"] {
            assert!(validate_bucket(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a/b",
            "google-x",
            &"a".repeat(64),
        ] {
            assert!(validate_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn multipart_shape() -> Result<()> {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .map_err(|_| Error::Protocol { what: "t".into() })?
            .with_timezone(&Utc);
        let (ct, body) = multipart(
            "raw/x",
            b"DATA",
            &PutOptions::create_only().with_custom_time(t),
        )?;
        let boundary = ct
            .strip_prefix("multipart/related; boundary=")
            .ok_or(Error::Protocol { what: "ct".into() })?;
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains(r#""customTime":"2026-01-02T03:04:05Z""#));
        assert!(text.ends_with(&format!("\r\nDATA\r\n--{boundary}--\r\n")));
        Ok(())
    }

    #[test]
    fn resource_parsing() -> Result<()> {
        let r: ObjectResource = serde_json::from_str(
            r#"{"name":"a","generation":"17","size":"5","customTime":"2026-01-01T10:00:00Z",
                "updated":"2026-11-24T03:09:52.537431Z","kind":"storage#object"}"#,
        )
        .map_err(|_| Error::Protocol { what: "t".into() })?;
        let m = r.into_meta()?;
        assert_eq!((m.generation, m.size), (17, 5));
        assert!(m.custom_time.is_some());
        let r: ObjectResource = serde_json::from_str(
            r#"{"name":"a","generation":"x","updated":"2026-11-24T03:09:52Z"}"#,
        )
        .map_err(|_| Error::Protocol { what: "t".into() })?;
        assert!(matches!(r.into_meta(), Err(Error::Protocol { .. })));
        Ok(())
    }
}
