//! The Cloud KMS backend against a local fake of the REST `POST /v1/{name}:encrypt` and
//! `:decrypt` calls: happy path, CRC32C fields sent and verified, 429, 503, CRC mismatches.

// Test helpers and fake-server handlers outside #[test] functions may panic on setup failure.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bacca_crypto::crc32c::crc32c;
use bacca_crypto::{associated_data, EnvelopeAead, Error, GcpKms, Kms};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

const KEY: &str = "projects/p/locations/global/keyRings/bacca/cryptoKeys/tenant-acme";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Normal,
    Throttled,
    Unavailable,
    PermissionDenied,
    BadCiphertextCrc,
    BadPlaintextCrc,
    PlaintextNotVerified,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

fn error(status: StatusCode, code: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": "fake", "status": code}});
    (status, Json(body)).into_response()
}

fn b64(v: &Value, field: &str) -> Vec<u8> {
    v.get(field)
        .and_then(Value::as_str)
        .map(|s| B64.decode(s).unwrap())
        .unwrap_or_default()
}

fn crc_field(v: &Value, field: &str) -> Option<u32> {
    v.get(field)
        .and_then(|x| {
            x.as_str()
                .map(str::to_owned)
                .or_else(|| x.as_i64().map(|i| i.to_string()))
        })
        .and_then(|s| s.parse::<u32>().ok())
}

/// The fake "ciphertext": aad length, aad, plaintext XOR 0xA5 (it only has to round-trip).
fn seal(aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut out = (aad.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(aad);
    out.extend(plain.iter().map(|b| b ^ 0xA5));
    out
}

async fn handle(
    State(fake): State<Fake>,
    Path(rest): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    fake.requests
        .lock()
        .unwrap()
        .push((rest.clone(), body.clone()));
    let mode = *fake.mode.lock().unwrap();
    match mode {
        Mode::Throttled => return error(StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
        Mode::Unavailable => return error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        Mode::PermissionDenied => return error(StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        _ => {}
    }
    let aad = b64(&body, "additionalAuthenticatedData");
    if let Some(name) = rest.strip_suffix(":encrypt") {
        let plain = b64(&body, "plaintext");
        let verified = crc_field(&body, "plaintextCrc32c") == Some(crc32c(&plain));
        let aad_verified =
            crc_field(&body, "additionalAuthenticatedDataCrc32c") == Some(crc32c(&aad));
        let ct = seal(&aad, &plain);
        let mut ct_crc = crc32c(&ct);
        if mode == Mode::BadCiphertextCrc {
            ct_crc ^= 1;
        }
        Json(json!({
            "name": format!("{name}/cryptoKeyVersions/3"),
            "ciphertext": B64.encode(&ct),
            "ciphertextCrc32c": ct_crc.to_string(),
            "verifiedPlaintextCrc32c": verified && mode != Mode::PlaintextNotVerified,
            "verifiedAdditionalAuthenticatedDataCrc32c": aad_verified,
            "protectionLevel": "HSM",
        }))
        .into_response()
    } else if rest.ends_with(":decrypt") {
        let ct = b64(&body, "ciphertext");
        if crc_field(&body, "ciphertextCrc32c") != Some(crc32c(&ct)) {
            return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
        }
        let Some(len) = ct
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize)
        else {
            return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
        };
        if ct.get(4..4 + len) != Some(aad.as_slice()) {
            return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT");
        }
        let plain: Vec<u8> = ct[4 + len..].iter().map(|b| b ^ 0xA5).collect();
        let mut crc = crc32c(&plain);
        if mode == Mode::BadPlaintextCrc {
            crc ^= 1;
        }
        Json(json!({
            "plaintext": B64.encode(&plain),
            "plaintextCrc32c": crc.to_string(),
            "usedPrimary": true,
            "protectionLevel": "HSM",
        }))
        .into_response()
    } else {
        error(StatusCode::NOT_FOUND, "NOT_FOUND")
    }
}

async fn start() -> (Fake, GcpKms) {
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Normal)),
        requests: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/v1/{*rest}", post(handle))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let kms = GcpKms::builder(&format!("gcp-kms://{KEY}"))
        .with_endpoint(format!("http://{addr}"))
        .with_anonymous_credentials()
        .with_attempts(1)
        .build()
        .await
        .unwrap();
    (fake, kms)
}

#[tokio::test]
async fn envelope_round_trip_through_the_rest_api() {
    let (fake, kms) = start().await;
    assert_eq!(kms.key_uri(), format!("gcp-kms://{KEY}"));
    let aead = EnvelopeAead::new(Arc::new(kms));
    let aad = associated_data("acme", "raw/slack/2026-11-20/b1", "raw-batch");
    let ct = aead.encrypt(b"incident payload", &aad).await.unwrap();
    assert_eq!(aead.decrypt(&ct, &aad).await.unwrap(), b"incident payload");
    assert!(matches!(
        aead.decrypt(&ct, b"other").await,
        Err(Error::WrongAssociatedData)
    ));

    let requests = fake.requests.lock().unwrap().clone();
    let (path, body) = &requests[0];
    assert_eq!(path, &format!("{KEY}:encrypt"));
    // The wrapped DEK is the 34-byte AesGcmKey proto, sent with its CRC32C, no associated data.
    let plain = b64(body, "plaintext");
    assert_eq!((plain.len(), plain[0], plain[1]), (34, 0x1a, 0x20));
    assert_eq!(crc_field(body, "plaintextCrc32c"), Some(crc32c(&plain)));
    assert!(b64(body, "additionalAuthenticatedData").is_empty());
    let (path, body) = &requests[1];
    assert_eq!(path, &format!("{KEY}:decrypt"));
    assert!(crc_field(body, "ciphertextCrc32c").is_some());
}

#[tokio::test]
async fn kms_associated_data_round_trips_and_is_checked() {
    let (_fake, kms) = start().await;
    let ct = kms.encrypt(b"dek", b"ctx").await.unwrap();
    assert_eq!(kms.decrypt(&ct, b"ctx").await.unwrap(), b"dek");
    assert!(matches!(
        kms.decrypt(&ct, b"other").await,
        Err(Error::Tampered)
    ));
}

#[tokio::test]
async fn throttling_and_outages_are_retryable() {
    let (fake, kms) = start().await;
    let ct = kms.encrypt(b"dek", b"").await.unwrap();
    *fake.mode.lock().unwrap() = Mode::Throttled;
    let e = kms.encrypt(b"dek", b"").await.unwrap_err();
    assert!(
        matches!(e, Error::KmsThrottled) && e.is_retryable(),
        "{e:?}"
    );
    let e = kms.decrypt(&ct, b"").await.unwrap_err();
    assert!(matches!(e, Error::KmsThrottled), "{e:?}");
    *fake.mode.lock().unwrap() = Mode::Unavailable;
    let e = kms.encrypt(b"dek", b"").await.unwrap_err();
    assert!(
        matches!(e, Error::KmsUnavailable(_)) && e.is_retryable(),
        "{e:?}"
    );
    *fake.mode.lock().unwrap() = Mode::PermissionDenied;
    let e = kms.encrypt(b"dek", b"").await.unwrap_err();
    assert!(
        matches!(e, Error::KmsRejected(_)) && !e.is_retryable(),
        "{e:?}"
    );
}

#[tokio::test]
async fn crc_mismatches_are_detected() {
    let (fake, kms) = start().await;
    let ct = kms.encrypt(b"dek", b"").await.unwrap();
    *fake.mode.lock().unwrap() = Mode::BadCiphertextCrc;
    let e = kms.encrypt(b"dek", b"").await.unwrap_err();
    assert!(
        matches!(e, Error::KmsIntegrity(_)) && e.is_retryable(),
        "{e:?}"
    );
    *fake.mode.lock().unwrap() = Mode::PlaintextNotVerified;
    assert!(matches!(
        kms.encrypt(b"dek", b"").await,
        Err(Error::KmsIntegrity(_))
    ));
    *fake.mode.lock().unwrap() = Mode::BadPlaintextCrc;
    assert!(matches!(
        kms.decrypt(&ct, b"").await,
        Err(Error::KmsIntegrity(_))
    ));
}

#[tokio::test]
async fn unreachable_kms_is_retryable() {
    let kms = GcpKms::builder(KEY)
        .with_endpoint("http://127.0.0.1:9")
        .with_anonymous_credentials()
        .with_attempts(1)
        .build()
        .await
        .unwrap();
    let e = kms.encrypt(b"dek", b"").await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
}
