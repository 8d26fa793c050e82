//! Shared helpers of the black-box tests: spawn the app on port 0, a JWKS server, signed tokens.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test helpers

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use bacca_runtime::{Handler, RuntimeConfig};
use base64::Engine as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running app.
pub struct App {
    pub url: String,
    pub stop: Option<oneshot::Sender<()>>,
    pub server: JoinHandle<bacca_runtime::Result<()>>,
    pub addr: SocketAddr,
}

impl App {
    pub async fn stop(mut self) -> bacca_runtime::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.server.await.expect("server task")
    }
}

pub async fn spawn_app<H: Handler>(handler: H, config: RuntimeConfig) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(bacca_runtime::serve(
        listener,
        handler,
        config,
        async move {
            let _ = rx.await;
        },
    ));
    App {
        url: format!("http://{addr}"),
        stop: Some(tx),
        server,
        addr,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// A push body in the camelCase spelling.
pub fn push_body(data: &[u8], message_id: &str, attempt: u32) -> String {
    serde_json::json!({
        "message": {
            "data": b64(data),
            "attributes": {"tenant": "acme"},
            "messageId": message_id,
            "publishTime": "2026-11-20T10:15:30Z"
        },
        "subscription": "projects/p/subscriptions/s",
        "deliveryAttempt": attempt
    })
    .to_string()
}

/// An RSA signing key and its JWKS entry.
pub struct Signer {
    pub kid: String,
    key: KeyPair,
}

impl Signer {
    pub fn new(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            key: KeyPair::generate(KeySize::Rsa2048).expect("rsa keygen"),
        }
    }

    pub fn jwk(&self) -> serde_json::Value {
        let public = self.key.public_key();
        serde_json::json!({
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": b64url(public.modulus().big_endian_without_leading_zero()),
            "e": b64url(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// A compact RS256 JWT over `claims`.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
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
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

pub const AUDIENCE: &str = "https://fetch-abc-uc.a.run.app/";
pub const EMAIL: &str = "push@proj.iam.gserviceaccount.com";

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

/// Serves `{"keys":[...]}` on a local axum server; counts fetches.
pub struct Jwks {
    pub url: String,
    pub fetches: Arc<std::sync::atomic::AtomicUsize>,
    pub keys: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

pub async fn jwks_server(keys: Vec<serde_json::Value>) -> Jwks {
    use std::sync::atomic::Ordering;
    let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let keys = Arc::new(std::sync::Mutex::new(keys));
    let (f, k) = (Arc::clone(&fetches), Arc::clone(&keys));
    let app = axum::Router::new().route(
        "/certs",
        axum::routing::get(move || {
            let (f, k) = (Arc::clone(&f), Arc::clone(&k));
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                let keys = k.lock().unwrap().clone();
                axum::Json(serde_json::json!({ "keys": keys }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Jwks {
        url: format!("http://{addr}/certs"),
        fetches,
        keys,
    }
}
