//! OIDC push authentication: verifies the Google-signed ID token Pub/Sub, Eventarc and Cloud
//! Scheduler send in `Authorization: Bearer`.
//!
//! RS256 only; the key is looked up by `kid` in a JWKS fetched lazily from the configured URL,
//! cached for `jwks_ttl` and refetched when a token names an unknown `kid` (at most once per
//! `jwks_min_refresh`, so forged `kid`s cannot make us hammer the endpoint).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::{Mutex, OnceCell, RwLock};

use crate::OidcConfig;

/// Why a request was not authenticated. Only the class is ever logged; the client sees a bare
/// 401 (or 503 for [`AuthError::JwksUnavailable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    Missing,
    /// Not a well-formed RS256 JWT with a `kid`.
    #[error("malformed token")]
    Malformed,
    /// The `kid` is not in the JWKS, even after a refresh.
    #[error("unknown signing key")]
    UnknownKey,
    /// Signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `aud` is not the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// `iss` is not an accepted issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `email` is not the configured service account, or not verified.
    #[error("wrong email")]
    WrongEmail,
    /// Another claim check failed.
    #[error("invalid token")]
    Invalid,
    /// The JWKS could not be fetched or parsed: a transient failure on our side.
    #[error("signing keys unavailable")]
    JwksUnavailable,
}

impl AuthError {
    /// Static class for logs.
    #[must_use]
    pub const fn class(self) -> &'static str {
        match self {
            Self::Missing => "token_missing",
            Self::Malformed => "token_malformed",
            Self::UnknownKey => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired => "token_expired",
            Self::WrongAudience => "wrong_audience",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongEmail => "wrong_email",
            Self::Invalid => "token_invalid",
            Self::JwksUnavailable => "jwks_unavailable",
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    email: Option<String>,
    email_verified: Option<bool>,
}

struct Keys {
    fetched_at: Instant,
    by_kid: HashMap<String, DecodingKey>,
}

/// Verifies push tokens against one [`OidcConfig`]. Build once, share by reference.
pub struct OidcVerifier {
    config: OidcConfig,
    validation: Validation,
    http: OnceCell<reqwest::Client>,
    keys: RwLock<Option<Keys>>,
    refresh: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier; no network until the first token arrives.
    #[must_use]
    pub fn new(config: OidcConfig) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_issuer(&config.issuers);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = config.leeway.as_secs();
        validation.validate_exp = true;
        Self {
            config,
            validation,
            http: OnceCell::new(),
            keys: RwLock::new(None),
            refresh: Mutex::new(None),
        }
    }

    /// Checks an `Authorization` header value.
    ///
    /// # Errors
    ///
    /// [`AuthError`] saying which check failed.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<(), AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Malformed);
        }
        let kid = header.kid.ok_or(AuthError::Malformed)?;
        let key = self.key(&kid).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature => AuthError::BadSignature,
                K::ExpiredSignature => AuthError::Expired,
                K::InvalidAudience => AuthError::WrongAudience,
                K::InvalidIssuer => AuthError::WrongIssuer,
                K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => AuthError::Malformed,
                _ => AuthError::Invalid,
            }
        })?;
        let claims = data.claims;
        if claims.email.as_deref() != Some(self.config.service_account_email.as_str())
            || claims.email_verified != Some(true)
        {
            return Err(AuthError::WrongEmail);
        }
        Ok(())
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(keys) = self.keys.read().await.as_ref() {
            if keys.fetched_at.elapsed() < self.config.jwks_ttl {
                if let Some(k) = keys.by_kid.get(kid) {
                    return Ok(k.clone());
                }
            }
        }
        // If the refresh fails, keys past their TTL are still better than none: Google keeps
        // a retired key published for days after it stops signing with it.
        let refreshed = self.refresh_keys().await;
        let known = self
            .keys
            .read()
            .await
            .as_ref()
            .and_then(|k| k.by_kid.get(kid).cloned());
        match (known, refreshed) {
            (Some(key), _) => Ok(key),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(AuthError::UnknownKey),
        }
    }

    async fn refresh_keys(&self) -> Result<(), AuthError> {
        let mut last = self.refresh.lock().await;
        let stale = self
            .keys
            .read()
            .await
            .as_ref()
            .is_none_or(|k| k.fetched_at.elapsed() >= self.config.jwks_ttl);
        if !stale && last.is_some_and(|t| t.elapsed() < self.config.jwks_min_refresh) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let keys = self.fetch().await.inspect_err(|e| {
            tracing::warn!(error_class = e.class(), "fetching the JWKS failed");
        })?;
        tracing::debug!(keys = keys.by_kid.len(), "JWKS refreshed");
        *self.keys.write().await = Some(keys);
        Ok(())
    }

    async fn fetch(&self) -> Result<Keys, AuthError> {
        let http = self
            .http
            .get_or_try_init(|| async {
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|_| AuthError::JwksUnavailable)
            })
            .await?;
        let set: JwkSet = http
            .get(&self.config.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|_| AuthError::JwksUnavailable)?
            .json()
            .await
            .map_err(|_| AuthError::JwksUnavailable)?;
        let by_kid: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|k| (kid, k))
            })
            .collect();
        if by_kid.is_empty() {
            return Err(AuthError::JwksUnavailable);
        }
        Ok(Keys {
            fetched_at: Instant::now(),
            by_kid,
        })
    }
}
