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

#[cfg(test)]
mod tests;
mod transport;
mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use reqwest::{Method, StatusCode};

use crate::config::GcsConfig;
use crate::error::{Error, Result};
use crate::store::{validate_name, ByteStream, Listing, ObjectMeta, ObjectStore, PutOptions};
use transport::{encode_segment, Fail, Http, Req};
pub use wire::UPLOAD_CHUNK_BYTES;
use wire::{multipart, upload_metadata, ObjectList, ObjectResource};

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
