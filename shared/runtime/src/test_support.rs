//! Test helpers for push OIDC: an RSA signing key with its JWKS entry, signed ID tokens, good
//! claims, and a JWKS server on loopback. Compiled only with the `test-support` feature, which
//! only dev-dependencies enable (the runtime's own tests and `bacca-tests`).
//!
//! ```
//! # async fn demo() {
//! use bacca_runtime::test_support::{good_claims, jwks_server, Signer};
//! let signer = Signer::new("key-1");
//! let jwks = jwks_server(vec![signer.jwk()]).await;
//! let token = signer.sign(&good_claims());
//! # let _ = (jwks, token);
//! # }
//! ```
// Test helpers: a failure to generate a key or bind loopback is a broken test machine.
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;

/// The audience of [`good_claims`] (a push endpoint URL).
pub const AUDIENCE: &str = "https://bacca-fn-abc-uc.a.run.app/";
/// The service account e-mail of [`good_claims`].
pub const EMAIL: &str = "push@bacca-test.iam.gserviceaccount.com";

/// Standard base64.
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decodes standard base64 (the inverse of [`b64`]).
///
/// # Panics
/// When `data` is not standard base64.
pub fn unb64(data: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("standard base64")
}

/// Unpadded base64url, as in JWTs.
pub fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Claims of a valid Google push token for [`AUDIENCE`] and [`EMAIL`], valid for an hour.
pub fn good_claims() -> serde_json::Value {
    serde_json::json!({
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": EMAIL,
        "email_verified": true,
        "iat": now(),
        "exp": now() + 3600,
        "sub": "1234567890",
    })
}

/// An RSA-2048 signing key and its JWKS entry.
pub struct Signer {
    /// The key id in the JWKS and in the tokens' header.
    pub kid: String,
    key: KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh key with id `kid`.
    pub fn new(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            key: KeyPair::generate(KeySize::Rsa2048).expect("rsa keygen"),
        }
    }

    /// The public key as a JWK (`RS256`, `use: sig`).
    pub fn jwk(&self) -> serde_json::Value {
        let public = self.key.public_key();
        serde_json::json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": b64url(public.modulus().big_endian_without_leading_zero()),
            "e": b64url(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// A compact RS256 JWT over `claims`, its header naming `kid`.
    pub fn sign_with_kid(&self, kid: &str, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .expect("sign");
        format!("{input}.{}", b64url(&sig))
    }

    /// A compact RS256 JWT over `claims` with this key's `kid`.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        self.sign_with_kid(&self.kid, claims)
    }
}

/// A JWKS endpoint on loopback serving `{"keys": [...]}`.
#[derive(Debug)]
pub struct Jwks {
    /// `http://127.0.0.1:<port>/certs`.
    pub url: String,
    /// Requests served so far.
    pub fetches: Arc<AtomicUsize>,
    /// The keys served; replace them to rotate.
    pub keys: Arc<Mutex<Vec<serde_json::Value>>>,
}

/// Starts a [`Jwks`] server serving `keys`.
pub async fn jwks_server(keys: Vec<serde_json::Value>) -> Jwks {
    let fetches = Arc::new(AtomicUsize::new(0));
    let keys = Arc::new(Mutex::new(keys));
    let (f, k) = (Arc::clone(&fetches), Arc::clone(&keys));
    let app = axum::Router::new().route(
        "/certs",
        axum::routing::get(move || {
            let (f, k) = (Arc::clone(&f), Arc::clone(&k));
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                let keys = k.lock().unwrap_or_else(|p| p.into_inner()).clone();
                axum::Json(serde_json::json!({ "keys": keys }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Jwks {
        url: format!("http://{addr}/certs"),
        fetches,
        keys,
    }
}
