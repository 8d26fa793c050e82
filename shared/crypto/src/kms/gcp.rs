//! Cloud KMS (`gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K`) through the official
//! `google-cloud-kms-v1` client (REST `POST /v1/{name}:encrypt` and `:decrypt`).
//!
//! Every call sends CRC32C checksums of its inputs and verifies the ones in the response
//! (`verifiedPlaintextCrc32c`, `verifiedAdditionalAuthenticatedDataCrc32c`,
//! `ciphertextCrc32c`, `plaintextCrc32c`); a mismatch is [`Error::KmsIntegrity`] (retryable).
//! 429 `RESOURCE_EXHAUSTED` is [`Error::KmsThrottled`] and `UNAVAILABLE`, deadline and
//! transport failures are [`Error::KmsUnavailable`] (both retryable); every other status is
//! [`Error::KmsRejected`] (permanent). One cryptoKey per tenant: the URI is the tenant's key.
//! Decrypt takes the cryptoKey name and KMS picks the version, so rotation is transparent.

use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::retry_policy::{Aip194Strict, NeverRetry, RetryPolicyExt as _};
use google_cloud_kms_v1::client::KeyManagementService;

use super::{KeyUri, Kms, GCP_SCHEME};
use crate::crc32c::crc32c;
use crate::error::{Error, Result};

/// A Cloud KMS cryptoKey used as a KEK. Cheap to clone (the client is shared).
#[derive(Clone, Debug)]
pub struct GcpKms {
    name: String,
    client: KeyManagementService,
}

/// Builds a [`GcpKms`]: production defaults (ADC, public endpoint, up to 3 attempts on
/// `UNAVAILABLE`), with overrides for tests and restricted networks.
#[derive(Debug)]
pub struct GcpKmsBuilder {
    name: String,
    endpoint: Option<String>,
    anonymous: bool,
    attempts: u32,
}

impl GcpKmsBuilder {
    /// Sends requests to `endpoint` (e.g. a regional endpoint or a local fake) instead of
    /// `https://cloudkms.googleapis.com`.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Uses anonymous credentials (local fakes only).
    #[must_use]
    pub fn with_anonymous_credentials(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// Total attempts per call on `UNAVAILABLE` (1 = no client-side retry; the caller's
    /// retry, e.g. Pub/Sub redelivery, takes over).
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::InvalidKeyUri`] for a malformed key name; [`Error::KmsUnavailable`] when
    /// the client cannot be built (e.g. no Application Default Credentials).
    pub async fn build(self) -> Result<GcpKms> {
        let name = self
            .name
            .strip_prefix(GCP_SCHEME)
            .unwrap_or(&self.name)
            .to_owned();
        KeyUri::parse(&format!("{GCP_SCHEME}{name}"))?;
        let mut b = KeyManagementService::builder();
        if let Some(ep) = self.endpoint {
            b = b.with_endpoint(ep);
        }
        if self.anonymous {
            b = b.with_credentials(
                google_cloud_auth::credentials::anonymous::Builder::new().build(),
            );
        }
        b = if self.attempts <= 1 {
            b.with_retry_policy(NeverRetry)
        } else {
            b.with_retry_policy(Aip194Strict.with_attempt_limit(self.attempts))
        };
        let client = b
            .build()
            .await
            .map_err(|e| Error::KmsUnavailable(format!("client setup failed: {e}")))?;
        Ok(GcpKms { name, client })
    }
}

impl GcpKms {
    /// A builder for the cryptoKey `name` (`projects/.../cryptoKeys/K`, with or without the
    /// `gcp-kms://` prefix).
    #[must_use]
    pub fn builder(name: &str) -> GcpKmsBuilder {
        GcpKmsBuilder {
            name: name.to_owned(),
            endpoint: None,
            anonymous: false,
            attempts: 3,
        }
    }

    /// The cryptoKey resource name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn crc(data: &[u8]) -> i64 {
    i64::from(crc32c(data))
}

/// Maps a client error to this crate's classes (never echoing request content).
fn classify(e: &google_cloud_kms_v1::Error) -> Error {
    if let Some(status) = e.status() {
        return match status.code {
            Code::ResourceExhausted => Error::KmsThrottled,
            Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::Internal => {
                Error::KmsUnavailable(status.code.name().to_owned())
            }
            c => Error::KmsRejected(c.name().to_owned()),
        };
    }
    match e.http_status_code() {
        Some(429) => Error::KmsThrottled,
        Some(c) if c >= 500 => Error::KmsUnavailable(format!("HTTP {c}")),
        Some(c) => Error::KmsRejected(format!("HTTP {c}")),
        None if e.is_timeout() || e.is_transport() || e.is_io() || e.is_connect() => {
            Error::KmsUnavailable("transport".into())
        }
        None => Error::KmsUnavailable("client error".into()),
    }
}

#[async_trait::async_trait]
impl Kms for GcpKms {
    async fn encrypt(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>> {
        let resp = self
            .client
            .encrypt()
            .set_name(&self.name)
            .set_plaintext(bytes::Bytes::copy_from_slice(plaintext))
            .set_plaintext_crc32c(crc(plaintext))
            .set_additional_authenticated_data(bytes::Bytes::copy_from_slice(associated_data))
            .set_additional_authenticated_data_crc32c(crc(associated_data))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        if !resp.verified_plaintext_crc32c {
            return Err(Error::KmsIntegrity("plaintext checksum not verified"));
        }
        if !associated_data.is_empty() && !resp.verified_additional_authenticated_data_crc32c {
            return Err(Error::KmsIntegrity("associated data checksum not verified"));
        }
        if resp.ciphertext_crc32c != Some(crc(&resp.ciphertext)) {
            return Err(Error::KmsIntegrity("ciphertext checksum mismatch"));
        }
        if !resp.name.starts_with(&self.name) {
            return Err(Error::KmsIntegrity("response names another key"));
        }
        Ok(resp.ciphertext.to_vec())
    }

    async fn decrypt(&self, ciphertext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>> {
        let resp = self
            .client
            .decrypt()
            .set_name(&self.name)
            .set_ciphertext(bytes::Bytes::copy_from_slice(ciphertext))
            .set_ciphertext_crc32c(crc(ciphertext))
            .set_additional_authenticated_data(bytes::Bytes::copy_from_slice(associated_data))
            .set_additional_authenticated_data_crc32c(crc(associated_data))
            .send()
            .await
            .map_err(|e| match classify(&e) {
                // KMS answers INVALID_ARGUMENT when a ciphertext does not authenticate.
                Error::KmsRejected(c) if c == Code::InvalidArgument.name() => Error::Tampered,
                other => other,
            })?;
        if resp.plaintext_crc32c != Some(crc(&resp.plaintext)) {
            return Err(Error::KmsIntegrity("plaintext checksum mismatch"));
        }
        Ok(resp.plaintext.to_vec())
    }

    fn key_uri(&self) -> String {
        format!("{GCP_SCHEME}{}", self.name)
    }
}
