//! The anonymize function's dependencies, built once at start-up.
//!
//! | variable | meaning | local-mode default |
//! |---|---|---|
//! | `BACCA_STORE` | raw store URI template with `{tenant}` | `file://<data>/objects/{tenant}` |
//! | `BACCA_KMS` | base key URI | `local-kms://<data>/keyring.json` |
//! | `BACCA_GRAPH` | graph store: `sqlite://<dir>` (a file per tenant) or `postgres://...` | `sqlite://<data>/graph` |
//! | `BACCA_TENANT` | the only tenant this service serves | any |
//! | `BACCA_PSEUDONYM_KEY` (`_FILE`) | the tenant's wrapped key root (base64) | created under `<data>/secrets` |
//! | `BACCA_KNOWLEDGE_UPDATED_TOPIC` | topic of `knowledge-updated` | `knowledge-updated` |
//! | `BACCA_ANONYMIZER_POLICY` | path of a JSON anonymization policy | the library default |

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bacca_anonymizer::Policy;
use bacca_audit::AuditSink;
use bacca_bus::{FilePublisher, PubSubPublisher, Publisher};
use bacca_crypto::TenantKeys;
use bacca_knowledge::cipher::AesGcmRowCipher;
use bacca_knowledge::extract::ExtractConfig;
use bacca_knowledge::graph::KnowledgeGraph;
use bacca_knowledge::model::TenantId;
use bacca_knowledge::store::{open_store, GraphStore, StoreOptions};
use bacca_storage::{GcsConfig, TenantStores};
use tokio::sync::Mutex;

use crate::secrets::{SecretSource, TenantSecrets};
use crate::Error;

/// One tenant's open graph and keys.
pub(crate) struct TenantContext {
    pub(crate) secrets: TenantSecrets,
    pub(crate) graph: KnowledgeGraph,
}

/// Records to knowledge for any tenant: keys, anonymization policy, extraction, graph.
/// Shared by the anonymize handler and the fetch function's in-flight path.
#[derive(Clone)]
pub struct Pipeline {
    /// Each tenant's raw store.
    pub stores: TenantStores,
    /// Each tenant's envelope key.
    pub keys: TenantKeys,
    /// Where wrapped key roots come from.
    pub secrets: SecretSource,
    /// The graph store (all tenants; row-level security separates them in PostgreSQL).
    pub graph: Arc<dyn GraphStore>,
    /// The anonymization policy.
    pub policy: Policy,
    /// Extraction settings.
    pub extract: ExtractConfig,
    /// The audit stream.
    pub audit: AuditSink,
    tenants: Arc<Mutex<HashMap<String, Arc<TenantContext>>>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("keys", &self.keys.base())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline over explicit parts.
    pub fn new(
        stores: TenantStores,
        keys: TenantKeys,
        secrets: SecretSource,
        graph: Arc<dyn GraphStore>,
        audit: AuditSink,
    ) -> Self {
        Self {
            stores,
            keys,
            secrets,
            graph,
            policy: Policy::default(),
            extract: ExtractConfig::default(),
            audit,
            tenants: Arc::default(),
        }
    }

    /// Local mode under `dir`: the fetch function's layout plus `graph/` and `secrets/`.
    ///
    /// # Errors
    /// When the audit file or the graph store cannot be opened.
    pub async fn local(dir: &Path) -> Result<Self, Error> {
        let template = format!("file://{}/objects/{{tenant}}", dir.display());
        let graph = open_store(
            &format!("sqlite://{}/graph", dir.display()),
            StoreOptions::default(),
        )
        .await?;
        Ok(Self::new(
            TenantStores::from_template(&template, GcsConfig::new())?,
            TenantKeys::new(format!("local-kms://{}/keyring.json", dir.display())),
            SecretSource::LocalDir(dir.join("secrets")),
            graph,
            AuditSink::file(dir.join("audit.jsonl"))
                .map_err(|_| Error::Config("BACCA_DATA_DIR"))?,
        ))
    }

    /// The tenant's keys and graph, opened once.
    pub(crate) async fn tenant(&self, tenant: &str) -> Result<Arc<TenantContext>, Error> {
        let mut cache = self.tenants.lock().await;
        if let Some(t) = cache.get(tenant) {
            return Ok(t.clone());
        }
        let aead = self.keys.envelope(tenant).await?;
        let secrets = self.secrets.load(tenant, &aead).await?;
        let cipher = AesGcmRowCipher::new(&secrets.row, &secrets.index)?;
        let graph =
            KnowledgeGraph::new(self.graph.clone(), Arc::new(cipher), TenantId::new(tenant)?);
        graph.create().await?;
        let ctx = Arc::new(TenantContext { secrets, graph });
        cache.insert(tenant.to_owned(), ctx.clone());
        Ok(ctx)
    }

    /// The tenant's knowledge graph (for queries).
    ///
    /// # Errors
    /// Key and graph errors.
    pub async fn graph_of(&self, tenant: &str) -> Result<KnowledgeGraph, Error> {
        Ok(self.tenant(tenant).await?.graph.clone())
    }
}

/// Everything the anonymize handler needs.
#[derive(Clone)]
pub struct Deps {
    /// The records-to-knowledge pipeline.
    pub pipeline: Pipeline,
    /// Where `knowledge-updated` goes.
    pub publisher: Arc<dyn Publisher>,
    /// The `knowledge-updated` topic.
    pub knowledge_updated_topic: String,
    /// The only tenant this service serves (`None`: any).
    pub tenant: Option<String>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("tenant", &self.tenant)
            .field("knowledge_updated_topic", &self.knowledge_updated_topic)
            .finish_non_exhaustive()
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Deps {
    /// Local mode under `dir`; `knowledge-updated` appended to `topics/knowledge-updated.jsonl`.
    ///
    /// # Errors
    /// As [`Pipeline::local`].
    pub async fn local(dir: &Path) -> Result<Self, Error> {
        Ok(Self {
            pipeline: Pipeline::local(dir).await?,
            publisher: Arc::new(FilePublisher::new(
                dir.join("topics/knowledge-updated.jsonl"),
            )),
            knowledge_updated_topic: "knowledge-updated".into(),
            tenant: None,
        })
    }

    /// From the environment (see the module docs).
    ///
    /// # Errors
    /// [`Error::Config`] naming a malformed variable; graph store connection errors.
    pub async fn from_env() -> Result<Self, Error> {
        let dir = bacca_runtime::local_data_dir().map_err(|_| Error::Config("BACCA_DATA_DIR"))?;
        let mut deps = Self::local(&dir).await?;
        let p = &mut deps.pipeline;
        if let Some(template) = var("BACCA_STORE") {
            p.stores = TenantStores::from_template(&template, GcsConfig::new())?;
        }
        if let Some(kms) = var("BACCA_KMS") {
            p.keys = TenantKeys::new(kms);
        }
        if let Some(graph) = var("BACCA_GRAPH") {
            p.graph = open_store(&graph, StoreOptions::default()).await?;
        }
        if let Some(path) = var("BACCA_ANONYMIZER_POLICY") {
            let text = std::fs::read_to_string(path)
                .map_err(|_| Error::Config("BACCA_ANONYMIZER_POLICY"))?;
            p.policy = serde_json::from_str(&text)
                .map_err(|_| Error::Config("BACCA_ANONYMIZER_POLICY"))?;
        }
        deps.tenant = var("BACCA_TENANT");
        if let Some(tenant) = &deps.tenant {
            if let Some(source) = SecretSource::from_env(tenant)? {
                deps.pipeline.secrets = source;
            }
        }
        if let Some(project) = var("GOOGLE_CLOUD_PROJECT") {
            deps.publisher = Arc::new(
                PubSubPublisher::new(&project)
                    .map_err(|_| Error::Config("GOOGLE_CLOUD_PROJECT"))?,
            );
            deps.pipeline.audit = AuditSink::Tracing;
        }
        if let Some(topic) = var("BACCA_KNOWLEDGE_UPDATED_TOPIC") {
            deps.knowledge_updated_topic = topic;
        }
        Ok(deps)
    }
}
