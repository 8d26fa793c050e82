//! `bacca run --config <file>`: the three functions as local HTTP servers, for development.
//!
//! Each function is served by `bacca_runtime::serve` with the same handler as in Cloud Run
//! (`POST /` takes a Pub/Sub push, a CloudEvent or a Scheduler call; `GET /healthz`), and the
//! functions are wired to the in-process bus with Pub/Sub semantics: the fetch function
//! publishes `raw-landed` pointers to the bus, the bus delivers them to the anonymize handler
//! (retry with back-off, dead-letter after N attempts), whose `knowledge-updated` messages go
//! to the bus too. Messages published on `fetch-requests` are delivered to the fetch handler.
//! Dead letters are appended to `<data_dir>/topics/dead-letter.jsonl`.
//!
//! Backends default to the embedded ones under `data_dir` (local keyring, `file://` objects,
//! SQLite graph); `store`, `kms` and `graph` URIs in the config switch them (for example
//! `gs://bacca-{tenant}-raw` with `STORAGE_EMULATOR_HOST`, or `postgres://...`). Connector
//! credentials come from the environment (`SLACK_BOT_TOKEN`, `DD_API_KEY`, ... or their
//! `_FILE` variants), never from the config file. See `config/local.toml`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use bacca_bus::{FilePublisher, InProcessBus, Publisher, SubscriptionConfig};
use bacca_runtime::{bus_handler, serve, Handler, RuntimeConfig};
use tokio::net::TcpListener;

mod config;

pub use config::{Config, FETCH_REQUESTS_TOPIC};

/// Arguments of `bacca run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The TOML configuration (see `config/local.toml`).
    #[arg(long)]
    pub config: PathBuf,
}

/// The running servers.
#[derive(Debug)]
pub struct Running {
    /// Address of the fetch server.
    pub fetch: SocketAddr,
    /// Address of the anonymize server.
    pub anonymize: SocketAddr,
    /// Address of the expire server.
    pub expire: SocketAddr,
    /// The bus (drain it to wait for the pipeline to settle).
    pub bus: Arc<InProcessBus>,
    /// The records-to-knowledge pipeline (for queries against the served graph).
    #[allow(dead_code, reason = "read by the tests; the binary only serves")]
    pub pipeline: bacca_anonymize::Pipeline,
    servers: tokio::task::JoinSet<bacca_runtime::Result<()>>,
}

impl Running {
    /// Waits until every server has stopped, then until the bus has delivered what the last
    /// requests published.
    ///
    /// # Errors
    /// The first server error.
    pub async fn wait(mut self) -> Result<()> {
        while let Some(r) = self.servers.join_next().await {
            r??;
        }
        self.bus.drain().await;
        Ok(())
    }
}

async fn bind(host: &str, port: u16) -> Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))
}

/// Builds the three functions from `config`, wires them to the bus and starts their servers;
/// they stop when `shutdown` completes.
///
/// # Errors
/// When a backend cannot be opened or a port cannot be bound.
pub async fn start(
    config: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running> {
    start_with_env(config, Arc::new(bacca_connectors::ProcessEnv), shutdown).await
}

/// [`start`] with connector credentials read from `env` instead of the process environment.
///
/// # Errors
/// As [`start`].
pub async fn start_with_env(
    config: &Config,
    env: Arc<dyn bacca_connectors::Env>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running> {
    let dir = std::path::absolute(&config.data_dir)?;
    std::fs::create_dir_all(&dir)?;
    let layout = bacca_runtime::env::LocalLayout::new(&dir);
    let stores_template = config.store.clone();

    // Backends: embedded under data_dir unless a URI says otherwise.
    let mut pipeline = bacca_anonymize::Pipeline::local(&dir).await?;
    let mut fetch = bacca_fetch::Deps::local(&dir)?;
    let mut expire = bacca_expire::Deps::local(&dir)?;
    if let Some(template) = &stores_template {
        let stores =
            bacca_storage::TenantStores::from_template(template, bacca_storage::GcsConfig::new())?;
        pipeline.stores = stores.clone();
        fetch.stores = stores.clone();
        expire.stores = stores;
    }
    if let Some(kms) = &config.kms {
        pipeline.keys = bacca_crypto::TenantKeys::new(kms.clone());
        fetch.keys = bacca_crypto::TenantKeys::new(kms.clone());
    }
    if let Some(graph) = &config.graph {
        pipeline.graph = bacca_knowledge::store::open_store(
            graph,
            bacca_knowledge::store::StoreOptions::default(),
        )
        .await?;
    }
    if config.kms.is_none() {
        let keyring = bacca_crypto::Keyring::new(layout.keyring_file(), fetch.audit.clone());
        for t in &config.tenants {
            match keyring.create(t) {
                Ok(_) | Err(bacca_crypto::Error::TenantExists) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    for t in &config.tenants {
        fetch.stores.store(t)?.create_bucket().await?;
    }
    expire.erasure = Some(bacca_expire::ErasureDeps::new(pipeline.clone()));

    // The bus.
    let bus = Arc::new(InProcessBus::new());
    let dlq_topic = config.bus.dead_letter_topic.clone();
    for topic in [
        FETCH_REQUESTS_TOPIC,
        topics::RAW_LANDED,
        topics::KNOWLEDGE_UPDATED,
        dlq_topic.as_str(),
    ] {
        bus.create_topic(topic);
    }
    let as_publisher: Arc<dyn Publisher> = bus.clone();
    let dead_letter = Some((dlq_topic.clone(), as_publisher.clone()));

    fetch.env = env;
    fetch.publisher = as_publisher.clone();
    fetch.raw_landed_topic = topics::RAW_LANDED.into();
    fetch.in_flight = Some(Arc::new(pipeline.clone()));
    fetch.max_pages_per_request = config.fetch.max_pages_per_request;
    let c = &config.connectors;
    fetch
        .connectors
        .slack_channels
        .clone_from(&c.slack_channels);
    fetch.connectors.datadog_query.clone_from(&c.datadog_query);
    fetch.connectors.jira_jql.clone_from(&c.jira_jql);
    fetch.connectors.since = c.since;
    fetch.connectors.base_urls = c.base_urls.clone();
    let anonymize = bacca_anonymize::Deps {
        pipeline: pipeline.clone(),
        publisher: as_publisher.clone(),
        knowledge_updated_topic: topics::KNOWLEDGE_UPDATED.into(),
        tenant: None,
    };

    bus.subscribe(
        topics::RAW_LANDED,
        "anonymize",
        config.subscription(),
        bus_handler(Arc::new(anonymize.clone()), dead_letter.clone()),
    )?;
    let mut fetch_sub = config.subscription();
    // A source's checkpoint has one writer.
    fetch_sub.max_concurrency = 1;
    bus.subscribe(
        FETCH_REQUESTS_TOPIC,
        "fetch",
        fetch_sub,
        bus_handler(Arc::new(fetch.clone()), dead_letter.clone()),
    )?;
    let dead_file = Arc::new(FilePublisher::new(layout.topic_file(&dlq_topic)));
    bus.subscribe(
        &dlq_topic,
        "dead-letter-file",
        SubscriptionConfig::new(),
        bacca_bus::handler_fn(move |d| {
            let file = dead_file.clone();
            async move {
                tracing::warn!(
                    error_class = d.message.attributes.get("error_class").map(String::as_str),
                    "message dead-lettered"
                );
                file.publish("dead-letter", d.message)
                    .await
                    .map(|_| ())
                    .map_err(|e| bacca_bus::HandlerError::retryable(e.class()))
            }
        }),
    )?;
    bus.subscribe(
        topics::KNOWLEDGE_UPDATED,
        "log",
        SubscriptionConfig::new(),
        bacca_bus::handler_fn(|d| async move {
            tracing::info!(message_id = %d.message_id, "knowledge updated");
            Ok(())
        }),
    )?;

    // The servers.
    let runtime = RuntimeConfig::default().dead_letter(dlq_topic, as_publisher);
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let fetch_l = bind(&config.host, config.fetch.port).await?;
    let anonymize_l = bind(&config.host, config.anonymize.port).await?;
    let expire_l = bind(&config.host, config.expire.port).await?;
    let mut running = Running {
        fetch: fetch_l.local_addr()?,
        anonymize: anonymize_l.local_addr()?,
        expire: expire_l.local_addr()?,
        bus,
        pipeline,
        servers: tokio::task::JoinSet::new(),
    };
    spawn_server(&mut running.servers, fetch_l, fetch, &runtime, &stop_tx);
    spawn_server(
        &mut running.servers,
        anonymize_l,
        anonymize,
        &runtime,
        &stop_tx,
    );
    spawn_server(&mut running.servers, expire_l, expire, &runtime, &stop_tx);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(());
    });
    Ok(running)
}

/// Topic names shared with the function crates' defaults.
mod topics {
    /// `raw-landed`.
    pub const RAW_LANDED: &str = "raw-landed";
    /// `knowledge-updated`.
    pub const KNOWLEDGE_UPDATED: &str = "knowledge-updated";
}

fn spawn_server<H: Handler>(
    set: &mut tokio::task::JoinSet<bacca_runtime::Result<()>>,
    listener: TcpListener,
    handler: H,
    runtime: &RuntimeConfig,
    stop: &tokio::sync::broadcast::Sender<()>,
) {
    let mut rx = stop.subscribe();
    set.spawn(serve(listener, handler, runtime.clone(), async move {
        let _ = rx.recv().await;
    }));
}

/// Runs `bacca run` until SIGTERM or Ctrl-C.
///
/// # Errors
/// Configuration, backend and server errors.
pub async fn run(args: Args) -> Result<()> {
    let config = Config::load(&args.config)?;
    let running = start(&config, bacca_runtime::shutdown_signal()).await?;
    super::print(&format!(
        "bacca run: fetch http://{} anonymize http://{} expire http://{} (data in {})\n",
        running.fetch,
        running.anonymize,
        running.expire,
        config.data_dir.display()
    ))?;
    running.wait().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A Slack API replay: one incident thread with a reply, in the allowlisted channel.
    async fn slack_replay() -> String {
        let now = chrono::Utc::now().timestamp() - 3600;
        let ts = |s: i64| format!("{}.000100", now + s);
        let root = ts(0);
        let history = json!({"ok": true, "has_more": false, "response_metadata": {"next_cursor": ""},
            "messages": [{"type": "message", "user": "U0RUN0001", "ts": root, "thread_ts": root,
                "reply_count": 1,
                "text": "SEV2: billing-api returning 502s since deploy v2.3.0, paging <@U0RUN0002>"}]});
        let replies = json!({"ok": true, "has_more": false, "response_metadata": {"next_cursor": ""},
            "messages": [
                {"type": "message", "user": "U0RUN0001", "ts": root, "thread_ts": root,
                 "text": "SEV2: billing-api returning 502s since deploy v2.3.0, paging <@U0RUN0002>"},
                {"type": "message", "user": "U0RUN0002", "ts": ts(60), "thread_ts": root,
                 "text": "rolled back to v2.2.9 with kubectl rollout undo, errors gone"}]});
        let app = Router::new()
            .route(
                "/conversations.history",
                get(move || async move { Json(history) }),
            )
            .route(
                "/conversations.replies",
                get(move || async move { Json(replies) }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    /// One HTTP/1.1 request; returns the status code.
    async fn http(addr: SocketAddr, head: &str, body: &str) -> u16 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out.split(' ').nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn sample_config_parses_and_unknown_fields_are_refused() {
        let path = Path::new(
            &*std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
        )
        .join("../config/local.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.fetch.port, 8081);
        assert_eq!(c.anonymize.port, 8082);
        assert_eq!(c.expire.port, 8083);
        assert_eq!(c.tenants, ["acme"]);
        assert!(c.data_dir.ends_with(".bacca-run"));
        let err = toml::from_str::<Config>("data_dir = \"x\"\nprot = 1\n").unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
        let err = toml::from_str::<Config>("data_dir = \"x\"\n[fetch]\nprot = 1\n").unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_serves_the_functions_and_one_fetch_request_reaches_the_graph() {
        let dir = tempfile::tempdir().unwrap();
        let slack = slack_replay().await;
        let text = format!(
            "data_dir = {:?}\ntenants = [\"acme\"]\n[fetch]\nport = 0\n[anonymize]\nport = 0\n\
             [expire]\nport = 0\n[bus]\nmin_backoff_ms = 1\nmax_backoff_ms = 10\n\
             [connectors]\nslack_channels = [\"C0RUNINC\"]\nbase_urls = {{ slack = {:?} }}\n",
            dir.path().join("data").display().to_string(),
            slack
        );
        let path = dir.path().join("run.toml");
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path).unwrap();
        let env: std::collections::HashMap<String, String> =
            [("SLACK_BOT_TOKEN".to_owned(), "xoxb-run-test".to_owned())].into();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = start_with_env(&config, Arc::new(env), async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        for addr in [running.fetch, running.anonymize, running.expire] {
            assert_eq!(http(addr, "GET /healthz HTTP/1.1", "").await, 200);
        }
        let status = http(
            running.fetch,
            "POST / HTTP/1.1\r\nContent-Type: application/json\r\nX-CloudScheduler: true\r\n\
             X-CloudScheduler-JobName: fetch-acme-slack",
            r#"{"tenant":"acme","source":"slack"}"#,
        )
        .await;
        assert!((200..300).contains(&status), "fetch answered {status}");
        running.bus.drain().await;
        let objects = std::fs::read_dir(dir.path().join("data/objects/acme/raw/slack"))
            .unwrap()
            .count();
        assert!(objects > 0, "a raw batch was written");
        let stats = running
            .pipeline
            .graph_of("acme")
            .await
            .unwrap()
            .stats()
            .await
            .unwrap();
        let incidents = stats
            .nodes
            .iter()
            .find(|(k, _)| *k == bacca_knowledge::model::NodeKind::Incident)
            .map_or(0, |(_, n)| *n);
        assert!(
            incidents >= 1,
            "the bus delivered the pointer to anonymize: {stats:?}"
        );
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(15), running.wait())
            .await
            .unwrap()
            .unwrap();
    }
}
