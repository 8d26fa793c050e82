//! The anonymize function's dependencies, built once at start-up.
//!
//! | variable | meaning | local-mode default |
//! |---|---|---|
//! | `BACCA_STORE` | the tenant's raw bucket (with `BACCA_TENANT`) or a template with `{tenant}` | `file://<data>/objects/{tenant}` |
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
use bacca_runtime::env::{env_var, LocalLayout};
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

    /// Local mode under `dir` ([`LocalLayout`]): the fetch function's layout plus `graph/`
    /// and `secrets/`.
    ///
    /// # Errors
    /// When the audit file or the graph store cannot be opened.
    pub async fn local(dir: &Path) -> Result<Self, Error> {
        let l = LocalLayout::new(dir);
        Ok(Self::new(
            TenantStores::from_template(&l.store_template(), GcsConfig::new())?,
            TenantKeys::new(l.kms_uri()),
            SecretSource::LocalDir(dir.join("secrets")),
            open_store(&l.graph_uri(), StoreOptions::default()).await?,
            AuditSink::file(l.audit_file()).map_err(|_| Error::Config("BACCA_DATA_DIR"))?,
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

    /// The tenant's pseudonym key: the key the anonymizer makes tokens with (data-subject
    /// erasure recomputes a person's tokens with it).
    ///
    /// # Errors
    /// Key errors.
    pub async fn pseudonym_key(
        &self,
        tenant: &str,
    ) -> Result<bacca_anonymizer::PseudonymKey, Error> {
        Ok(bacca_anonymizer::PseudonymKey::new(
            &self.tenant(tenant).await?.secrets.pseudonym,
        ))
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

impl Deps {
    /// Local mode under `dir`; `knowledge-updated` appended to `topics/knowledge-updated.jsonl`.
    ///
    /// # Errors
    /// As [`Pipeline::local`].
    pub async fn local(dir: &Path) -> Result<Self, Error> {
        Ok(Self {
            pipeline: Pipeline::local(dir).await?,
            publisher: Arc::new(FilePublisher::new(
                LocalLayout::new(dir).topic_file("knowledge-updated"),
            )),
            knowledge_updated_topic: "knowledge-updated".into(),
            tenant: None,
        })
    }

    /// From the environment (see the module docs). Only what is not configured falls back
    /// to the local layout under `BACCA_DATA_DIR`; in production nothing local is opened.
    ///
    /// # Errors
    /// [`Error::Config`] naming a malformed variable; graph store connection errors.
    pub async fn from_env() -> Result<Self, Error> {
        let publisher: Arc<dyn Publisher> = match env_var("GOOGLE_CLOUD_PROJECT") {
            Some(project) => Arc::new(
                PubSubPublisher::new(&project)
                    .map_err(|_| Error::Config("GOOGLE_CLOUD_PROJECT"))?,
            ),
            None => Arc::new(FilePublisher::new(
                local_layout()?.topic_file("knowledge-updated"),
            )),
        };
        let pipeline = Pipeline::from_env().await?;
        Ok(Self {
            pipeline,
            publisher,
            knowledge_updated_topic: env_var("BACCA_KNOWLEDGE_UPDATED_TOPIC")
                .unwrap_or_else(|| "knowledge-updated".into()),
            tenant: env_var("BACCA_TENANT"),
        })
    }
}

fn local_layout() -> Result<LocalLayout, Error> {
    LocalLayout::from_env().map_err(|_| Error::Config("BACCA_DATA_DIR"))
}

impl Pipeline {
    /// From the environment: the pipeline part of [`Deps::from_env`] (stores, keys, secrets,
    /// graph, audit, policy), without the `knowledge-updated` publisher.
    ///
    /// # Errors
    /// [`Error::Config`] naming a malformed variable; graph store connection errors.
    pub async fn from_env() -> Result<Self, Error> {
        let store = match env_var("BACCA_STORE") {
            Some(uri) => uri,
            None => local_layout()?.store_template(),
        };
        let tenant = env_var("BACCA_TENANT");
        let stores = TenantStores::for_service(&store, tenant.as_deref(), GcsConfig::new())?;
        Self::from_env_with_stores(stores).await
    }

    /// [`Pipeline::from_env`] over raw `stores` the caller already built from the same
    /// `BACCA_STORE` and `BACCA_TENANT` (the expire function's), so they are built once.
    ///
    /// # Errors
    /// As [`Pipeline::from_env`].
    pub async fn from_env_with_stores(stores: TenantStores) -> Result<Self, Error> {
        let tenant = env_var("BACCA_TENANT");
        let kms = match env_var("BACCA_KMS") {
            Some(uri) => uri,
            None => local_layout()?.kms_uri(),
        };
        let graph = match env_var("BACCA_GRAPH") {
            Some(uri) => uri,
            None => local_layout()?.graph_uri(),
        };
        let secrets = match tenant.as_deref().map(SecretSource::from_env).transpose()? {
            Some(Some(source)) => source,
            _ => SecretSource::LocalDir(local_layout()?.dir().join("secrets")),
        };
        let audit = match env_var("GOOGLE_CLOUD_PROJECT") {
            Some(_) => AuditSink::Tracing,
            None => AuditSink::file(local_layout()?.audit_file())
                .map_err(|_| Error::Config("BACCA_DATA_DIR"))?,
        };
        let mut pipeline = Pipeline::new(
            stores,
            TenantKeys::new(kms),
            secrets,
            open_store(&graph, StoreOptions::default()).await?,
            audit,
        );
        if let Some(path) = env_var("BACCA_ANONYMIZER_POLICY") {
            let text = std::fs::read_to_string(path)
                .map_err(|_| Error::Config("BACCA_ANONYMIZER_POLICY"))?;
            pipeline.policy = serde_json::from_str(&text)
                .map_err(|_| Error::Config("BACCA_ANONYMIZER_POLICY"))?;
        }
        Ok(pipeline)
    }
}
