//! Shared helpers of the black-box tests: spawn the app on port 0; the JWKS server and signed
//! tokens come from `bacca_runtime::test_support`.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test helpers

use std::net::SocketAddr;

#[allow(unused_imports)] // each test binary uses some
pub use bacca_runtime::test_support::{
    b64, b64url, good_claims, jwks_server, now, Jwks, Signer, AUDIENCE, EMAIL,
};
use bacca_runtime::{Handler, RuntimeConfig};
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
