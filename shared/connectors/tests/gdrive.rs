//! Google Drive connector: service-account JWT grant, listing, export, against mock servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{json, json_status};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use bacca_connectors::gdrive::{DriveConfig, DriveSource, ServiceAccountKey};
use bacca_connectors::{Error, MemoryCheckpointStore, Source};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use wiremock::matchers::{
    body_string_contains, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PAGE1: &str = include_str!("../testdata/gdrive/files_page1.json");
const PAGE2: &str = include_str!("../testdata/gdrive/files_page2.json");
const DOC_ID: &str = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms";

/// A throwaway service-account key generated for the test (never a real credential).
fn key(token_uri: &str) -> ServiceAccountKey {
    let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp).unwrap();
    let b64 = STANDARD.encode(der.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
    ServiceAccountKey::from_json(
        &serde_json::json!({
            "type": "service_account",
            "project_id": "bacca-test",
            "private_key": pem,
            "client_email": "bacca-reader@bacca-test.iam.gserviceaccount.com",
            "token_uri": token_uri,
        })
        .to_string(),
    )
    .unwrap()
}

fn source(server: &MockServer) -> DriveSource {
    let (ctx, _) = common::ctx();
    DriveSource::new(
        &ctx,
        key(&format!("{}/token", server.uri())),
        DriveConfig {
            base_url: server.uri(),
            since: None,
            page_size: 100,
        },
    )
    .unwrap()
}

async fn mount(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"))
        .respond_with(|req: &Request| {
            // The assertion is a JWT whose claims name the service account and the read-only scope.
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let assertion = body.split("assertion=").nth(1).unwrap_or("");
            let claims = assertion.split('.').nth(1).unwrap_or("");
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap_or_default()).unwrap_or_default();
            if claims["scope"] == "https://www.googleapis.com/auth/drive.readonly"
                && claims["iss"] == "bacca-reader@bacca-test.iam.gserviceaccount.com"
                && assertion.split('.').count() == 3
            {
                json_status(200, r#"{"access_token":"ya29.test-access","expires_in":3599,"token_type":"Bearer"}"#)
            } else {
                json_status(400, r#"{"error":"invalid_grant"}"#)
            }
        })
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(header("authorization", "Bearer ya29.test-access"))
        .and(query_param("q", "trashed = false"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(json(PAGE1))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(query_param(
            "pageToken",
            "~!!~AI9FV7QkVvZ2x1cGxlX2RyaXZlX3BhZ2VfMg",
        ))
        .respond_with(json(PAGE2))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/drive/v3/files/{DOC_ID}/export")))
        .and(query_param("mimeType", "text/plain"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("Summary\r\nDeploy 4512 exhausted the pool.", "text/plain"),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn lists_and_exports_with_a_cached_token() {
    let server = MockServer::start().await;
    mount(&server).await;
    let mut s = source(&server);
    let store = MemoryCheckpointStore::new();
    let records = common::run_ok(&mut s, &store).await;
    assert_eq!(records.len(), 2);
    assert!(records[0].text.contains("Deploy 4512 exhausted the pool."));
    assert_eq!(records[0].attributes["text_read"], true);
    assert_eq!(
        records[1].attributes["text_read"], false,
        "binary files are not downloaded"
    );
    assert!(records[0]
        .identities
        .iter()
        .any(|i| i.role == "owner" && i.email.as_deref() == Some("jane.roe@example.com")));
    assert!(
        !format!("{s:?}").contains("PRIVATE"),
        "Debug never prints the key"
    );
}

#[tokio::test]
async fn quota_403_is_retried_and_export_too_large_keeps_metadata() {
    let server = MockServer::start().await;
    Mock::given(path("/drive/v3/files"))
        .respond_with(json_status(403, r#"{"error":{"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded","message":"User Rate Limit Exceeded"}],"code":403,"message":"User Rate Limit Exceeded"}}"#))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(format!("/drive/v3/files/{DOC_ID}/export")))
        .respond_with(json_status(403, r#"{"error":{"errors":[{"domain":"global","reason":"exportSizeLimitExceeded","message":"This file is too large to be exported."}],"code":403}}"#))
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server).await;
    let mut s = source(&server);
    let page = s.fetch_page(None).await.unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].attributes["text_read"], false);
}

#[tokio::test]
async fn a_refused_grant_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(json_status(401, r#"{"error":"invalid_client"}"#))
        .mount(&server)
        .await;
    let mut s = source(&server);
    assert!(matches!(s.fetch_page(None).await, Err(Error::Auth { .. })));
    assert!(ServiceAccountKey::from_json("{}").is_err());
}
