//! Helpers shared by the black-box tests in `tests/` and the pipeline benchmark.
//!
//! - [`replay`] (from `bacca_connectors`): local servers that replay realistic Slack, Datadog and Jira responses with
//!   planted PII (the demo's approach), so the real connector code runs with no network;
//! - [`faults`]: wrappers around the real backends that fail on demand (a publisher that fails
//!   N times or delivers twice, a graph store whose upserts fail N times), for fault injection;
//! - [`Harness`]: the fetch and anonymize functions of a set of tenants wired to the in-process
//!   bus exactly as `bacca demo` wires them, with the dead-letter and `knowledge-updated`
//!   topics recorded.

#![forbid(unsafe_code)]

pub mod faults;
pub use bacca_connectors::replay;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bacca_audit::AuditSink;
use bacca_bus::{InProcessBus, Message, Publisher, SubscriptionConfig};
use bacca_connectors::Env;
use bacca_crypto::Keyring;
use bacca_runtime::bus_handler;
use bacca_testenv::service_env;

/// The dead-letter topic of the harness.
pub const DEAD_LETTER_TOPIC: &str = "dead-letter";
/// The `raw-landed` topic.
pub const RAW_LANDED_TOPIC: &str = "raw-landed";
/// The `knowledge-updated` topic.
pub const KNOWLEDGE_UPDATED_TOPIC: &str = "knowledge-updated";

/// The connector credentials the replay servers accept (placeholders, not real secrets).
pub fn replay_credentials() -> Arc<dyn Env> {
    let mut env = HashMap::new();
    for (k, v) in [
        ("SLACK_BOT_TOKEN", "xoxb-test-replay"),
        ("DD_API_KEY", "test-replay-api-key"),
        ("DD_APP_KEY", "test-replay-app-key"),
        ("JIRA_EMAIL", "bot@replay.invalid"),
        ("JIRA_API_TOKEN", "test-replay-jira-token"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    Arc::new(env)
}

/// Creates each tenant's key in the local keyring of the layout under `dir`
/// ([`bacca_runtime::env::LocalLayout::keyring_file`]).
///
/// # Errors
/// When the keyring cannot be written.
pub fn create_keys(dir: &Path, tenants: &[&str]) -> anyhow::Result<()> {
    let keyring = Keyring::new(
        bacca_runtime::env::LocalLayout::new(dir).keyring_file(),
        AuditSink::Discard,
    );
    for t in tenants {
        keyring.create(t)?;
    }
    Ok(())
}

/// `base` pointed at one tenant's replay server: its allowlisted channel, its Datadog query,
/// every source's API root at `url`, the replay credentials.
pub fn fetch_deps_for(
    base: &bacca_fetch::Deps,
    t: &replay::TenantData,
    url: &str,
) -> bacca_fetch::Deps {
    let mut deps = base.clone();
    deps.tenant = Some(t.tenant.to_owned());
    deps.connectors.slack_channels = vec![t.channel.to_owned()];
    deps.connectors.datadog_query = Some(format!("service:{} status:error", t.service));
    for s in ["slack", "datadog", "jira"] {
        deps.connectors
            .base_urls
            .insert(s.to_owned(), url.to_owned());
    }
    deps.env = replay_credentials();
    deps
}

/// One tenant's fetch and anonymize functions wired on a [`Harness`], its connectors reading
/// a replay of `data`.
#[derive(Debug)]
pub struct World {
    /// The bus and what it recorded.
    pub harness: Harness,
    /// The anonymize pipeline (keys, secrets, raw stores, graph).
    pub pipeline: bacca_anonymize::Pipeline,
    /// The fetch function's dependencies.
    pub fetch: bacca_fetch::Deps,
    /// The replayed tenant.
    pub data: replay::TenantData,
}

/// A [`World`] under `dir` (local keyring, `file://` raw store, SQLite graph), the replay made
/// at `now`. `configure` may swap the pipeline's or the fetch function's backends before the
/// tenant's bucket is created; the fetch function's publisher is `wrap_fetch_publisher(bus)`.
///
/// # Errors
/// When a key, store, bucket, replay server or subscription cannot be set up.
pub async fn world(
    dir: &Path,
    data: replay::TenantData,
    now: chrono::DateTime<chrono::Utc>,
    configure: impl FnOnce(&mut bacca_anonymize::Pipeline, &mut bacca_fetch::Deps),
    wrap_fetch_publisher: impl Fn(Arc<dyn Publisher>) -> Arc<dyn Publisher>,
) -> anyhow::Result<World> {
    create_keys(dir, &[data.tenant])?;
    let mut pipeline = bacca_anonymize::Pipeline::local(dir).await?;
    let mut base = bacca_fetch::Deps::local(dir)?;
    configure(&mut pipeline, &mut base);
    base.stores.store(data.tenant)?.create_bucket().await?;
    base.in_flight = Some(Arc::new(pipeline.clone()));
    let url = replay::start(&data, now).await?;
    let fetch = fetch_deps_for(&base, &data, &url);
    let anonymize = bacca_anonymize::Deps {
        pipeline: pipeline.clone(),
        publisher: Arc::new(bacca_bus::MemoryPublisher::new()),
        knowledge_updated_topic: String::new(),
        tenant: None,
    };
    let harness = Harness::wire(anonymize, vec![fetch.clone()], wrap_fetch_publisher)?;
    Ok(World {
        harness,
        pipeline,
        fetch,
        data,
    })
}

/// Messages published on a topic, recorded by a subscription.
#[derive(Debug, Clone, Default)]
pub struct Recorded(Arc<Mutex<Vec<Message>>>);

impl Recorded {
    /// A copy of what was recorded.
    pub fn messages(&self) -> Vec<Message> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn push(&self, m: Message) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(m);
    }
}

/// The pipeline on the in-process bus: one `fetch-requests-<tenant>` topic per tenant (one
/// fetch at a time per tenant, as in production), `raw-landed` to anonymize, and the
/// `dead-letter` and `knowledge-updated` topics recorded.
#[derive(Debug, Clone)]
pub struct Harness {
    /// The bus.
    pub bus: Arc<InProcessBus>,
    /// What reached the dead-letter topic.
    pub dead_letters: Recorded,
    /// What reached `knowledge-updated`.
    pub knowledge_updated: Recorded,
}

/// The PostgreSQL URL when both cloud stand-ins are configured (`STORAGE_EMULATOR_HOST` for
/// fake-gcs-server and `BACCA_TEST_POSTGRES_URL`, as scripts/test.sh sets them), through
/// [`service_env`]: panics in CI when one is missing, otherwise prints why the calling test
/// is skipped and returns `None`.
#[must_use]
pub fn cloud_stand_ins() -> Option<String> {
    let gcs = service_env(
        bacca_storage::gcs::EMULATOR_ENV,
        "scripts/test.sh starts fake-gcs-server",
    );
    let pg = service_env(
        "BACCA_TEST_POSTGRES_URL",
        "scripts/test.sh starts PostgreSQL",
    );
    gcs.and(pg)
}

/// A fresh PostgreSQL schema for one test, and the admin connection that created it.
#[derive(Debug)]
pub struct PgSchema {
    /// One connection to the database, outside the schema's search path.
    pub admin: sqlx::PgPool,
    /// The schema's name.
    pub name: String,
}

impl PgSchema {
    /// Creates schema `name` on `url` (a PostgreSQL URL, e.g. from [`cloud_stand_ins`]) and
    /// opens a graph store whose connections use it (`open_store` migrates it).
    ///
    /// # Errors
    /// Connection, schema creation and migration errors.
    pub async fn create(
        url: &str,
        name: &str,
    ) -> anyhow::Result<(Self, Arc<dyn bacca_knowledge::store::GraphStore>)> {
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let in_schema = format!("{url}{sep}options=-c%20search_path%3D{name}");
        let graph = bacca_knowledge::store::open_store(
            &in_schema,
            bacca_knowledge::store::StoreOptions::default(),
        )
        .await?;
        Ok((
            Self {
                admin,
                name: name.to_owned(),
            },
            graph,
        ))
    }

    /// Drops the schema and everything in it.
    ///
    /// # Errors
    /// When the statement fails.
    pub async fn drop(self) -> anyhow::Result<()> {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&self.admin)
            .await?;
        Ok(())
    }
}

/// The subscription settings of the harness: dead-letter after 5 attempts, millisecond
/// back-off.
pub fn subscription() -> SubscriptionConfig {
    SubscriptionConfig::new()
        .dead_letter(DEAD_LETTER_TOPIC, 5)
        .backoff(Duration::from_millis(2), Duration::from_millis(20))
}

impl Harness {
    /// Wires `anonymize` on `raw-landed` and each fetch `Deps` on its tenant's request topic.
    /// The fetch deps' publisher is replaced by `fetch_publisher(bus)` (the bus itself, or a
    /// fault-injecting wrapper around it).
    ///
    /// # Errors
    /// When a subscription cannot be created.
    pub fn wire(
        mut anonymize: bacca_anonymize::Deps,
        fetch: Vec<bacca_fetch::Deps>,
        fetch_publisher: impl Fn(Arc<dyn Publisher>) -> Arc<dyn Publisher>,
    ) -> anyhow::Result<Self> {
        let bus = Arc::new(InProcessBus::new());
        for topic in [RAW_LANDED_TOPIC, KNOWLEDGE_UPDATED_TOPIC, DEAD_LETTER_TOPIC] {
            bus.create_topic(topic);
        }
        let as_publisher: Arc<dyn Publisher> = bus.clone();
        let dlq = Some((DEAD_LETTER_TOPIC.to_owned(), as_publisher.clone()));
        anonymize.publisher = as_publisher.clone();
        anonymize.knowledge_updated_topic = KNOWLEDGE_UPDATED_TOPIC.into();
        bus.subscribe(
            RAW_LANDED_TOPIC,
            "anonymize",
            subscription(),
            bus_handler(Arc::new(anonymize), dlq.clone()),
        )?;
        let dead_letters = Recorded::default();
        let knowledge_updated = Recorded::default();
        for (topic, rec) in [
            (DEAD_LETTER_TOPIC, dead_letters.clone()),
            (KNOWLEDGE_UPDATED_TOPIC, knowledge_updated.clone()),
        ] {
            bus.subscribe(
                topic,
                &format!("{topic}-recorder"),
                SubscriptionConfig::new(),
                bacca_bus::handler_fn(move |d| {
                    let rec = rec.clone();
                    async move {
                        rec.push(d.message);
                        Ok(())
                    }
                }),
            )?;
        }
        for mut deps in fetch {
            let tenant = deps.tenant.clone().unwrap_or_default();
            deps.publisher = fetch_publisher(as_publisher.clone());
            deps.raw_landed_topic = RAW_LANDED_TOPIC.into();
            let topic = format!("fetch-requests-{tenant}");
            bus.create_topic(&topic);
            let mut cfg = subscription();
            cfg.max_concurrency = 1;
            bus.subscribe(
                &topic,
                &format!("fetch-{tenant}"),
                cfg,
                bus_handler(Arc::new(deps), dlq.clone()),
            )?;
        }
        Ok(Self {
            bus,
            dead_letters,
            knowledge_updated,
        })
    }

    /// Publishes one fetch request per source for `tenant` (on its request topic).
    ///
    /// # Errors
    /// When publishing fails.
    pub async fn request_fetch(&self, tenant: &str, sources: &[&str]) -> anyhow::Result<()> {
        for s in sources {
            let mut msg = Message::new(serde_json::to_vec(
                &serde_json::json!({"tenant": tenant, "source": s}),
            )?);
            msg.attributes.insert("tenant".into(), tenant.to_owned());
            self.bus
                .publish(&format!("fetch-requests-{tenant}"), msg)
                .await?;
        }
        Ok(())
    }

    /// The distinct raw objects that reached the graph, with their record counts, from the
    /// `knowledge-updated` messages (a redelivered batch appears once).
    ///
    /// # Errors
    /// When a message is not a `knowledge-updated` body.
    pub fn processed_objects(&self) -> anyhow::Result<BTreeSet<(String, String, u64)>> {
        let mut out = BTreeSet::new();
        for m in self.knowledge_updated.messages() {
            let u: bacca_anonymize::KnowledgeUpdated = serde_json::from_slice(&m.data)?;
            if let Some(object) = u.object {
                out.insert((u.tenant, object, u.records));
            }
        }
        Ok(out)
    }
}

/// A tenant graph's node and edge counts per kind, as `(kind, count)` strings, for comparing
/// two runs.
///
/// # Errors
/// Key and graph errors.
pub async fn graph_counts(
    pipeline: &bacca_anonymize::Pipeline,
    tenant: &str,
) -> anyhow::Result<(Vec<(String, i64)>, Vec<(String, i64)>)> {
    let stats = pipeline.graph_of(tenant).await?.stats().await?;
    let nodes = stats
        .nodes
        .iter()
        .map(|(k, n)| (format!("{k:?}"), *n))
        .collect();
    let edges = stats
        .edges
        .iter()
        .map(|(k, n)| (format!("{k:?}"), *n))
        .collect();
    Ok((nodes, edges))
}

/// Occurrences of any of `needles` in `haystack`.
pub fn count_in(haystack: &[u8], needles: &[String]) -> usize {
    needles
        .iter()
        .map(|n| n.as_bytes())
        .filter(|n| !n.is_empty() && n.len() <= haystack.len())
        .map(|n| haystack.windows(n.len()).filter(|w| *w == n).count())
        .sum()
}
