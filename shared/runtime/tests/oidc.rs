//! OIDC push authentication against a local JWKS server with a generated RSA key.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bacca_runtime::{handler_fn, Event, OidcConfig, Outcome, RuntimeConfig};
use common::{
    client, good_claims, jwks_server, now, push_body, spawn_app, Signer, AUDIENCE, EMAIL,
};
use reqwest::StatusCode;

fn ok_handler() -> impl bacca_runtime::Handler {
    handler_fn(|_e: Event| async { Ok(Outcome::Done) })
}

async fn post(url: &str, token: Option<&str>) -> StatusCode {
    let mut req = client()
        .post(format!("{url}/"))
        .header("content-type", "application/json")
        .body(push_body(b"x", "m1", 1));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
        assert!(
            res.text().await.unwrap().is_empty(),
            "401 carries no detail"
        );
    }
    status
}

fn with(mut claims: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    claims[key] = value;
    claims
}

#[tokio::test]
async fn oidc_accepts_only_valid_tokens() {
    let signer = Signer::new("key-1");
    let stranger = Signer::new("key-1"); // same kid, different key: bad signature
    let jwks = jwks_server(vec![signer.jwk()]).await;
    let config =
        RuntimeConfig::default().oidc(OidcConfig::new(AUDIENCE, EMAIL).jwks_url(&jwks.url));
    let app = spawn_app(ok_handler(), config).await;
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        0,
        "no JWKS fetch at startup"
    );

    let valid = signer.sign(&good_claims());
    assert_eq!(post(&app.url, Some(&valid)).await, StatusCode::NO_CONTENT);
    let legacy_iss = signer.sign(&with(good_claims(), "iss", "accounts.google.com".into()));
    assert_eq!(
        post(&app.url, Some(&legacy_iss)).await,
        StatusCode::NO_CONTENT
    );
    // Within the leeway.
    let just_expired = signer.sign(&with(good_claims(), "exp", (now() - 2).into()));
    assert_eq!(
        post(&app.url, Some(&just_expired)).await,
        StatusCode::NO_CONTENT
    );

    let rejected = [
        ("missing", None),
        ("not a jwt", Some("abc.def".to_owned())),
        (
            "expired",
            Some(signer.sign(&with(good_claims(), "exp", (now() - 600).into()))),
        ),
        (
            "wrong audience",
            Some(signer.sign(&with(good_claims(), "aud", "https://other/".into()))),
        ),
        (
            "wrong email",
            Some(signer.sign(&with(
                good_claims(),
                "email",
                "evil@x.iam.gserviceaccount.com".into(),
            ))),
        ),
        (
            "unverified email",
            Some(signer.sign(&with(good_claims(), "email_verified", false.into()))),
        ),
        (
            "no email",
            Some(signer.sign(&{
                let mut c = good_claims();
                c.as_object_mut().unwrap().remove("email");
                c
            })),
        ),
        (
            "wrong issuer",
            Some(signer.sign(&with(good_claims(), "iss", "https://evil.example".into()))),
        ),
        (
            "no exp",
            Some(signer.sign(&{
                let mut c = good_claims();
                c.as_object_mut().unwrap().remove("exp");
                c
            })),
        ),
        ("bad signature", Some(stranger.sign(&good_claims()))),
        (
            "unknown kid",
            Some(Signer::new("key-9").sign(&good_claims())),
        ),
        (
            "alg none",
            Some(format!(
                "{}.{}.",
                common::b64url(br#"{"alg":"none","kid":"key-1"}"#),
                common::b64url(good_claims().to_string().as_bytes())
            )),
        ),
        (
            "tampered payload",
            Some({
                let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
                parts[1] = common::b64url(
                    with(good_claims(), "email", "x@y".into())
                        .to_string()
                        .as_bytes(),
                );
                parts.join(".")
            }),
        ),
    ];
    for (name, token) in rejected {
        assert_eq!(
            post(&app.url, token.as_deref()).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
    }
    // /healthz needs no token.
    let res = client()
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn jwks_is_cached_and_refreshed_on_unknown_kid() {
    let old = Signer::new("old");
    let new = Signer::new("new");
    let jwks = jwks_server(vec![old.jwk()]).await;
    let mut oidc = OidcConfig::new(AUDIENCE, EMAIL).jwks_url(&jwks.url);
    oidc.jwks_min_refresh = Duration::from_millis(200);
    let app = spawn_app(ok_handler(), RuntimeConfig::default().oidc(oidc)).await;

    for _ in 0..3 {
        assert_eq!(
            post(&app.url, Some(&old.sign(&good_claims()))).await,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1, "keys are cached");

    // Google rotates keys: the new kid is unknown until the JWKS is refetched.
    jwks.keys.lock().unwrap().push(new.jwk());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        post(&app.url, Some(&new.sign(&good_claims()))).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);

    // Forged kids do not hammer the endpoint: at most one refetch per interval.
    let forged = Signer::new("forged");
    for _ in 0..5 {
        assert_eq!(
            post(&app.url, Some(&forged.sign(&good_claims()))).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(
        jwks.fetches.load(Ordering::SeqCst) <= 3,
        "{}",
        jwks.fetches.load(Ordering::SeqCst)
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn unreachable_jwks_is_a_retryable_503() {
    let signer = Signer::new("k");
    // A port with nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/certs", listener.local_addr().unwrap());
    drop(listener);
    let config = RuntimeConfig::default().oidc(OidcConfig::new(AUDIENCE, EMAIL).jwks_url(url));
    let app = spawn_app(ok_handler(), config).await;
    assert_eq!(
        post(&app.url, Some(&signer.sign(&good_claims()))).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(post(&app.url, None).await, StatusCode::UNAUTHORIZED);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn stale_keys_are_used_when_the_jwks_endpoint_fails() {
    let signer = Signer::new("k");
    let jwks = jwks_server(vec![signer.jwk()]).await;
    let mut oidc = OidcConfig::new(AUDIENCE, EMAIL).jwks_url(&jwks.url);
    oidc.jwks_ttl = Duration::from_millis(50);
    let app = spawn_app(ok_handler(), RuntimeConfig::default().oidc(oidc)).await;
    assert_eq!(
        post(&app.url, Some(&signer.sign(&good_claims()))).await,
        StatusCode::NO_CONTENT
    );
    // The endpoint now serves an empty set (a failed refresh); the cached key still works.
    jwks.keys.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        post(&app.url, Some(&signer.sign(&good_claims()))).await,
        StatusCode::NO_CONTENT
    );
    assert!(
        jwks.fetches.load(Ordering::SeqCst) >= 2,
        "a refresh was attempted"
    );
    app.stop().await.unwrap();
}
