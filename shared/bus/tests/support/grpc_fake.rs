//! A local fake of `google.pubsub.v1.Publisher/Publish` over plaintext HTTP/2 (h2): it
//! records every request exactly as it arrived (path, headers, decoded `PublishRequest`) and
//! answers from a script of gRPC statuses, then OK with message ids `"1"`, `"2"`...
//!
//! gRPC framing: a 1-byte compression flag, a 4-byte big-endian length, the protobuf; the
//! status travels in the trailers (`grpc-status`, `grpc-message`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by tests and benches

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;

/// `google.pubsub.v1.PubsubMessage` (field numbers from the crate's `google.pubsub.v1.rs`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PubsubMessage {
    #[prost(bytes = "bytes", tag = "1")]
    pub data: Bytes,
    #[prost(map = "string, string", tag = "2")]
    pub attributes: HashMap<String, String>,
    #[prost(string, tag = "3")]
    pub message_id: String,
    #[prost(string, tag = "5")]
    pub ordering_key: String,
}

/// `google.pubsub.v1.PublishRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PublishRequest {
    #[prost(string, tag = "1")]
    pub topic: String,
    #[prost(message, repeated, tag = "2")]
    pub messages: Vec<PubsubMessage>,
}

/// `google.pubsub.v1.PublishResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PublishResponse {
    #[prost(string, repeated, tag = "1")]
    pub message_ids: Vec<String>,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The HTTP/2 `:path`.
    pub path: String,
    /// `content-type` header.
    pub content_type: String,
    /// Whether an `authorization` header was sent.
    pub has_authorization: bool,
    /// The compression flag of the gRPC frame.
    pub compressed: u8,
    /// The decoded request.
    pub request: PublishRequest,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    script: VecDeque<(u32, &'static str)>,
    next_id: u64,
}

/// The running fake; dropping it leaves the server running until the runtime ends.
#[derive(Clone)]
pub struct FakePublisher {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

/// gRPC status codes used by the tests.
pub const UNAVAILABLE: u32 = 14;
/// gRPC `NOT_FOUND`.
pub const NOT_FOUND: u32 = 5;
/// gRPC `PERMISSION_DENIED`.
pub const PERMISSION_DENIED: u32 = 7;
/// gRPC `RESOURCE_EXHAUSTED`.
pub const RESOURCE_EXHAUSTED: u32 = 8;

impl FakePublisher {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let st = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(sock).await else {
                        return;
                    };
                    while let Some(Ok((req, respond))) = conn.accept().await {
                        tokio::spawn(handle(req, respond, Arc::clone(&st)));
                    }
                });
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            state,
        }
    }

    /// Answers the next calls with these gRPC statuses (code, message), in order.
    pub fn script(&self, statuses: &[(u32, &'static str)]) {
        self.state
            .lock()
            .unwrap()
            .script
            .extend(statuses.iter().copied());
    }

    /// Every request received so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }
}

async fn handle(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    state: Arc<Mutex<State>>,
) {
    let path = req.uri().path().to_owned();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = header("content-type");
    let has_authorization = req.headers().contains_key("authorization");
    let mut body = req.into_body();
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else { return };
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
    }
    let compressed = buf[0];
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    let request = PublishRequest::decode(&buf[5..5 + len]).unwrap();
    let n = request.messages.len();
    let (status, message, ids) = {
        let mut s = state.lock().unwrap();
        s.calls.push(Call {
            path,
            content_type,
            has_authorization,
            compressed,
            request,
        });
        match s.script.pop_front() {
            Some((code, msg)) => (code, msg, Vec::new()),
            None => {
                let ids = (0..n)
                    .map(|_| {
                        s.next_id += 1;
                        s.next_id.to_string()
                    })
                    .collect();
                (0, "", ids)
            }
        }
    };
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let Ok(mut stream) = respond.send_response(response, false) else {
        return;
    };
    if status == 0 {
        let payload = PublishResponse { message_ids: ids }.encode_to_vec();
        let mut frame = BytesMut::with_capacity(5 + payload.len());
        frame.put_u8(0);
        frame.put_u32(u32::try_from(payload.len()).unwrap());
        frame.extend_from_slice(&payload);
        if stream.send_data(frame.freeze(), false).is_err() {
            return;
        }
    }
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", status.to_string().parse().unwrap());
    if !message.is_empty() {
        trailers.insert("grpc-message", message.parse().unwrap());
    }
    let _ = stream.send_trailers(trailers);
}
