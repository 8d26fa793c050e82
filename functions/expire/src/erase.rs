//! Data-subject erasure: remove what the pipeline holds about one person.
//!
//! `{"tenant":"acme","action":"erase","subject":{"email":"…","slack_user":"U…","jira_account":"…"}}`
//! (at least one of the three; `name` and `handle` are optional extra aliases):
//!
//! 1. **resolve**: every raw batch of the tenant is decrypted and its records' identities
//!    added to the tenant directory (the anonymizer's); the subject's identifiers are
//!    resolved to all their aliases ([`Aliases::resolve`]);
//! 2. **tokens**: the aliases become the pseudonym tokens the anonymizer produced, with the
//!    tenant's pseudonym key (the anonymize function's own derivation,
//!    [`bacca_anonymize::Pipeline::pseudonym_key`]);
//! 3. **graph**: [`SubjectGraph::erase_subject`] deletes the person's nodes and edges and
//!    rewrites labels that contain a token. This runs *before* the raw rewrite: once the raw
//!    records are gone a retry could no longer learn the aliases they linked;
//! 4. **raw**: every raw batch is rewritten without the subject's records
//!    ([`crate::subject`] has the rule), re-encrypted under the same associated data, written
//!    back with `ifGenerationMatch` and the same Custom-Time (retention is not extended);
//!    a batch left empty is deleted ([`bacca_storage::rewrite_raw`]). The records step 1
//!    decrypted are reused for a batch still at the generation step 1 read (up to
//!    [`KEEP_DECRYPTED_BYTES`] of batches, so memory stays bounded); any other batch, and
//!    any batch re-read after a generation conflict, is decrypted again;
//! 5. **audit**: one `erasure` event: a random erasure id, the kinds of identifier given
//!    (`email`, `slack_user`…), counts. Never an identifier, alias or token.
//!
//! Idempotent: a second erasure of the same person finds nothing and reports zeros.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bacca_anonymize::Pipeline;
use bacca_audit::AuditEvent;
use bacca_connectors::{Directory, Record};
use bacca_crypto::associated_data;
use bacca_fetch::RAW_PURPOSE;
use bacca_knowledge::model::TenantId;
use bacca_runtime::env::env_var;
use bacca_storage::raw::RAW_PREFIX;
use bacca_storage::{
    rewrite_raw, ObjectMeta, ObjectStore, RawRewriter, Rewrite, RewriteFailure, RewriteReport,
    TenantStores,
};
use bytes::Bytes;
use serde::Serialize;

use crate::subject::{apply, Aliases, AuthoredContacts, Fate, Scrubber, Subject};
use crate::{Deps, Error, ExpireRequest};

/// How many ciphertext bytes of raw batches the resolve step keeps decrypted for the rewrite
/// step, which then does not decrypt them again (a Cloud KMS call per batch in production).
/// Batches past it are decrypted twice; the bound keeps the expire function's memory small
/// whatever the tenant's raw volume.
pub const KEEP_DECRYPTED_BYTES: usize = 32 << 20;

/// Records decrypted by the resolve step: object name -> (generation read, records).
type Decrypted = HashMap<String, (i64, Vec<Record>)>;

/// What the graph step removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GraphErasure {
    /// Nodes deleted (the person's own nodes).
    pub nodes_deleted: u64,
    /// Edges deleted (every edge touching them).
    pub edges_deleted: u64,
    /// Other nodes whose label or key text named them, rewritten.
    pub labels_rewritten: u64,
}

/// Removes one person's knowledge from a tenant's graph, given their pseudonym tokens.
#[async_trait]
pub trait SubjectGraph: Send + Sync {
    /// Deletes the nodes keyed by one of `tokens` and their edges, and replaces the tokens
    /// in every other label; idempotent.
    ///
    /// # Errors
    /// Key and graph errors.
    async fn erase_subject(&self, tenant: &str, tokens: &[String]) -> Result<GraphErasure, Error>;
}

/// What erasure needs beyond the sweep: the anonymize pipeline's stores, keys and graph,
/// and the graph step.
#[derive(Clone)]
pub struct ErasureDeps {
    /// Raw stores, envelope keys, pseudonym keys and the graph (the anonymize function's).
    pub pipeline: Pipeline,
    /// The graph step.
    pub graph: Arc<dyn SubjectGraph>,
}

impl ErasureDeps {
    /// Erasure over the anonymize `pipeline`, with its knowledge graph as the graph step.
    pub fn new(pipeline: Pipeline) -> Self {
        Self {
            graph: Arc::new(pipeline.clone()),
            pipeline,
        }
    }

    /// From the environment, with the anonymize function's configuration (`BACCA_KMS`,
    /// `BACCA_GRAPH`, `BACCA_PSEUDONYM_KEY`, `BACCA_TENANT`; see `bacca_anonymize::Deps`),
    /// over the raw `stores` the expire function already built from `BACCA_STORE`
    /// ([`Deps::stores`]). Erasure is on in local mode (no `GOOGLE_CLOUD_PROJECT`) and, in
    /// production, when `BACCA_GRAPH` is set; otherwise `None`.
    ///
    /// # Errors
    /// As `bacca_anonymize::Pipeline::from_env`.
    pub async fn from_env(stores: TenantStores) -> Result<Option<Self>, Error> {
        if env_var("GOOGLE_CLOUD_PROJECT").is_some() && env_var("BACCA_GRAPH").is_none() {
            return Ok(None);
        }
        Ok(Some(Self::new(
            Pipeline::from_env_with_stores(stores).await?,
        )))
    }
}

#[async_trait]
impl SubjectGraph for Pipeline {
    async fn erase_subject(&self, tenant: &str, tokens: &[String]) -> Result<GraphErasure, Error> {
        let graph = self.graph_of(tenant).await?;
        let id = TenantId::new(tenant).map_err(bacca_anonymize::Error::Graph)?;
        let c = graph
            .erase_subject(&id, tokens)
            .await
            .map_err(bacca_anonymize::Error::Graph)?;
        Ok(GraphErasure {
            nodes_deleted: c.nodes_deleted,
            edges_deleted: c.edges_deleted,
            labels_rewritten: c.labels_rewritten,
        })
    }
}

impl std::fmt::Debug for ErasureDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErasureDeps").finish_non_exhaustive()
    }
}

/// The result of one erasure, by counts. Holds no identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    /// Random id of this erasure, in the audit event too (keep it with the request ticket).
    pub erasure_id: String,
    /// Tenant.
    pub tenant: String,
    /// Kinds of identifier the request gave.
    pub subject_kinds: Vec<&'static str>,
    /// Aliases resolved (ids, e-mails, handles, names).
    pub aliases: u64,
    /// Pseudonym tokens searched in the graph.
    pub tokens: u64,
    /// Raw objects that could not be read while resolving aliases.
    pub resolve_failed: u64,
    /// The graph step.
    pub graph: GraphErasure,
    /// The raw rewrite.
    pub raw: RewriteReport,
    /// Records dropped (attributed to the subject).
    pub records_removed: u64,
    /// Records kept with the subject redacted out.
    pub records_redacted: u64,
}

impl ErasureReport {
    /// True when this erasure changed nothing (the subject was already erased).
    pub fn is_noop(&self) -> bool {
        self.graph == GraphErasure::default()
            && self.raw.rewritten == 0
            && self.raw.deleted == 0
            && self.records_removed == 0
            && self.records_redacted == 0
    }
}

/// Decrypts each batch (or takes the resolve step's records of the same generation), applies
/// the record rule, re-encrypts.
struct SubjectRewriter<'a> {
    pipeline: &'a Pipeline,
    tenant: &'a str,
    aliases: &'a Aliases,
    scrubber: Scrubber,
    decrypted: Mutex<Decrypted>,
    removed: AtomicU64,
    redacted: AtomicU64,
}

fn failure_of(e: &bacca_anonymize::Error) -> RewriteFailure {
    let h = e.to_handler_error();
    RewriteFailure {
        class: h.class(),
        retryable: h.is_retryable(),
    }
}

#[async_trait]
impl RawRewriter for SubjectRewriter<'_> {
    async fn rewrite(&self, meta: &ObjectMeta, data: Bytes) -> Result<Rewrite, RewriteFailure> {
        // Taken out either way: after a conflict the object is re-read at a new generation.
        let resolved = self
            .decrypted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&meta.name);
        let records = match resolved {
            Some((generation, records)) if generation == meta.generation => records,
            _ => self
                .pipeline
                .open_batch(self.tenant, &meta.name, &data)
                .await
                .map_err(|e| failure_of(&e))?,
        };
        let total = records.len();
        let (mut removed, mut redacted) = (0u64, 0u64);
        let mut kept: Vec<Record> = Vec::with_capacity(total);
        for mut r in records {
            match apply(&mut r, self.aliases, &self.scrubber) {
                Fate::Dropped => removed += 1,
                Fate::Redacted => {
                    redacted += 1;
                    kept.push(r);
                }
                Fate::Untouched => kept.push(r),
            }
        }
        if removed == 0 && redacted == 0 {
            return Ok(Rewrite::Keep);
        }
        let decision = if kept.is_empty() {
            Rewrite::Delete
        } else {
            let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(data.len()));
            for r in &kept {
                r.write_json_line(&mut *plain).map_err(|_| RewriteFailure {
                    class: "serialize",
                    retryable: false,
                })?;
            }
            let aead = self
                .pipeline
                .keys
                .envelope(self.tenant)
                .await
                .map_err(|e| failure_of(&e.into()))?;
            let aad = associated_data(self.tenant, &meta.name, RAW_PURPOSE);
            let sealed = aead
                .encrypt(&plain, &aad)
                .await
                .map_err(|e| failure_of(&e.into()))?;
            Rewrite::Replace(sealed.into())
        };
        // Counted only for a decision that is applied; a conflict re-reads and recounts
        // from the new content, so a retried object is not counted twice.
        self.removed.fetch_add(removed, Ordering::Relaxed);
        self.redacted.fetch_add(redacted, Ordering::Relaxed);
        Ok(decision)
    }
}

/// What resolving reads from the raw batches.
#[derive(Default)]
struct RawPeople {
    directory: Directory,
    contacts: Vec<AuthoredContacts>,
    failed: u64,
    /// The decrypted records, for the rewrite step (bounded by [`KEEP_DECRYPTED_BYTES`]).
    decrypted: Decrypted,
}

/// The tenant directory and the authored phone numbers from every raw batch.
async fn raw_people(
    store: &dyn ObjectStore,
    pipeline: &Pipeline,
    tenant: &str,
) -> Result<RawPeople, Error> {
    let listing = store.list(RAW_PREFIX, None).await?;
    let mut out = RawPeople::default();
    let mut kept_bytes = 0usize;
    for obj in listing.objects {
        let (data, meta) = match store.get(&obj.name).await {
            Ok(got) => got,
            Err(bacca_storage::Error::NotFound { .. }) => continue,
            Err(_) => {
                out.failed += 1;
                continue;
            }
        };
        match pipeline.open_batch(tenant, &obj.name, &data).await {
            Ok(records) => {
                out.directory.add_records(&records);
                out.contacts
                    .extend(records.iter().filter_map(AuthoredContacts::of));
                if kept_bytes + data.len() <= KEEP_DECRYPTED_BYTES {
                    kept_bytes += data.len();
                    out.decrypted.insert(obj.name, (meta.generation, records));
                }
            }
            Err(_) => out.failed += 1,
        }
    }
    Ok(out)
}

impl Deps {
    /// Erases the request's subject from the tenant's graph and raw batches and emits one
    /// `erasure` audit event.
    ///
    /// # Errors
    /// [`Error::WrongTenant`], [`Error::InvalidSubject`], [`Error::ErasureNotConfigured`];
    /// store, key and graph errors; [`Error::ErasureIncomplete`] when some raw objects could
    /// not be rewritten (they are named in the audit event's count; a retry finishes them).
    pub async fn erase(&self, req: &ExpireRequest) -> Result<ErasureReport, Error> {
        let tenant = match bacca_storage::raw::validate_tenant(&req.tenant) {
            Ok(()) => req.tenant.as_str(),
            Err(_) => "invalid",
        };
        let mut report = ErasureReport {
            erasure_id: uuid::Uuid::new_v4().simple().to_string(),
            tenant: tenant.to_owned(),
            subject_kinds: req.subject.as_ref().map(Subject::kinds).unwrap_or_default(),
            ..ErasureReport::default()
        };
        let result = self.checked_erase(req, &mut report).await;
        let mut ev = AuditEvent::new("erasure", tenant)
            .at((self.clock)())
            .field("erasure_id", report.erasure_id.as_str())
            .field("subject_kinds", report.subject_kinds.join(",").as_str())
            .field(
                "outcome",
                match &result {
                    Ok(()) => "done",
                    Err(e) => e.to_handler_error().class(),
                },
            )
            .field("aliases", report.aliases)
            .field("tokens", report.tokens)
            .field("resolve_failed", report.resolve_failed)
            .field("nodes_deleted", report.graph.nodes_deleted)
            .field("edges_deleted", report.graph.edges_deleted)
            .field("labels_rewritten", report.graph.labels_rewritten)
            .field("objects_scanned", report.raw.scanned)
            .field("objects_rewritten", report.raw.rewritten)
            .field("objects_deleted", report.raw.deleted)
            .field("objects_failed", report.raw.failed)
            .field("records_removed", report.records_removed)
            .field("records_redacted", report.records_redacted);
        if report.raw.conflicts > 0 {
            ev = ev.field("conflicts", report.raw.conflicts);
        }
        self.audit.emit(ev);
        result.map(|()| report)
    }

    async fn checked_erase(
        &self,
        req: &ExpireRequest,
        report: &mut ErasureReport,
    ) -> Result<(), Error> {
        if self.tenant.as_deref().is_some_and(|t| t != req.tenant) {
            return Err(Error::WrongTenant);
        }
        bacca_storage::raw::validate_tenant(&req.tenant)?;
        let subject =
            req.subject
                .as_ref()
                .ok_or(Error::InvalidSubject(crate::subject::InvalidSubject(
                    "subject is required",
                )))?;
        subject.validate()?;
        let deps = self.erasure.as_ref().ok_or(Error::ErasureNotConfigured)?;
        self.erase_steps(deps, &req.tenant, subject, report).await
    }

    async fn erase_steps(
        &self,
        deps: &ErasureDeps,
        tenant: &str,
        subject: &Subject,
        report: &mut ErasureReport,
    ) -> Result<(), Error> {
        let pipeline = &deps.pipeline;
        let store = self.stores.store(tenant)?;
        let mut people = raw_people(store.as_ref(), pipeline, tenant).await?;
        let resolve_failed = people.failed;
        report.resolve_failed = resolve_failed;
        let mut aliases = Aliases::resolve(subject, &people.directory);
        aliases.absorb_contacts(&people.contacts);
        let decrypted = std::mem::take(&mut people.decrypted);
        drop(people);
        report.aliases = aliases.count() as u64;
        let key = pipeline.pseudonym_key(tenant).await?;
        let tokens = aliases.tokens(&key);
        drop(key);
        report.tokens = tokens.len() as u64;
        report.graph = deps.graph.erase_subject(tenant, &tokens).await?;
        let rewriter = SubjectRewriter {
            pipeline,
            tenant,
            aliases: &aliases,
            scrubber: Scrubber::new(&aliases),
            decrypted: Mutex::new(decrypted),
            removed: AtomicU64::new(0),
            redacted: AtomicU64::new(0),
        };
        report.raw = rewrite_raw(store.as_ref(), tenant, &rewriter).await?;
        report.records_removed = rewriter.removed.load(Ordering::Relaxed);
        report.records_redacted = rewriter.redacted.load(Ordering::Relaxed);
        if report.raw.failed > 0 || resolve_failed > 0 {
            return Err(Error::ErasureIncomplete {
                failed: report.raw.failed + resolve_failed,
                retryable: report.raw.retryable() || report.raw.failed == 0,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use bacca_audit::AuditSink;
    use bacca_connectors::{Identity, SourceKind};
    use bacca_runtime::env::LocalLayout;
    use bacca_storage::{BatchId, PutOptions, RawWriter};
    use chrono::{DateTime, Duration, Utc};

    /// The graph step, recording the tokens it was given.
    #[derive(Default)]
    struct Recording(Mutex<Vec<Vec<String>>>);

    #[async_trait]
    impl SubjectGraph for Recording {
        async fn erase_subject(
            &self,
            _tenant: &str,
            tokens: &[String],
        ) -> Result<GraphErasure, Error> {
            self.0.lock().unwrap().push(tokens.to_vec());
            Ok(GraphErasure::default())
        }
    }

    fn rec(id: &str, who: &str, role: &str, text: &str, at: DateTime<Utc>) -> Record {
        Record {
            source: SourceKind::Slack,
            kind: "message".into(),
            id: id.into(),
            container: Some("C1".into()),
            parent_id: None,
            occurred_at: at,
            updated_at: None,
            text: text.into(),
            identities: vec![Identity {
                role: role.into(),
                id: Some(who.into()),
                email: (who == "U0DANA").then(|| "dana@acme.example".to_owned()),
                name: (who == "U0DANA").then(|| "Dana Whitfield".to_owned()),
                handle: None,
            }],
            attributes: serde_json::Value::Null,
        }
    }

    async fn setup(dir: &std::path::Path) -> (Deps, Arc<Recording>, DateTime<Utc>) {
        bacca_crypto::Keyring::new(LocalLayout::new(dir).keyring_file(), AuditSink::Discard)
            .create("acme")
            .unwrap();
        let mut deps = Deps::local(dir).unwrap();
        deps.audit = AuditSink::memory();
        let pipeline = Pipeline::local(dir).await.unwrap();
        let graph = Arc::new(Recording::default());
        deps.erasure = Some(ErasureDeps {
            pipeline: pipeline.clone(),
            graph: graph.clone(),
        });
        let store = deps.stores.store("acme").unwrap();
        store.create_bucket().await.unwrap();
        let now = Utc::now();
        let t = now - Duration::days(1);
        let writer = RawWriter::new(deps.stores.clone(), deps.policy, AuditSink::Discard);
        let batches = [
            vec![
                rec("1", "U0DANA", "author", "deploy broke checkout", t),
                rec(
                    "2",
                    "U0RAVI",
                    "author",
                    "thanks Dana Whitfield, rolled back",
                    t,
                ),
            ],
            vec![rec(
                "3",
                "U0DANA",
                "author",
                "call me at +1 415 555 0142",
                t,
            )],
            vec![rec("4", "U0RAVI", "author", "pods restarted", t)],
            vec![rec(
                "5",
                "U0RAVI",
                "author",
                "her line +1 415 555 0142 was busy",
                t,
            )],
        ];
        for (i, b) in batches.iter().enumerate() {
            let id = BatchId::derive("acme", "slack", &i.to_string(), "x");
            let name = bacca_storage::raw::raw_object_name("slack", t.date_naive(), &id).unwrap();
            let ct = seal(&pipeline, &name, b).await;
            writer
                .write_batch("acme", "slack", &id, t, ct, now)
                .await
                .unwrap();
        }
        (deps, graph, t)
    }

    /// `records` as the raw batch `name`'s ciphertext.
    async fn seal(pipeline: &Pipeline, name: &str, records: &[Record]) -> Bytes {
        let mut plain = Vec::new();
        for r in records {
            r.write_json_line(&mut plain).unwrap();
        }
        let aead = pipeline.keys.envelope("acme").await.unwrap();
        aead.encrypt(&plain, &associated_data("acme", name, RAW_PURPOSE))
            .await
            .unwrap()
            .into()
    }

    /// A graph step that replaces one raw batch (a new generation) between the resolve and
    /// the rewrite steps.
    struct ReplacesABatch {
        store: bacca_storage::SharedStore,
        name: String,
        ciphertext: Bytes,
        custom_time: DateTime<Utc>,
    }

    #[async_trait]
    impl SubjectGraph for ReplacesABatch {
        async fn erase_subject(
            &self,
            _tenant: &str,
            _tokens: &[String],
        ) -> Result<GraphErasure, Error> {
            let (_, meta) = self.store.get(&self.name).await.unwrap();
            let mut opts = PutOptions::default().with_custom_time(self.custom_time);
            opts.if_generation_match = Some(meta.generation);
            self.store
                .put(&self.name, self.ciphertext.clone(), opts)
                .await
                .unwrap();
            Ok(GraphErasure::default())
        }
    }

    fn dana() -> Subject {
        Subject {
            email: Some("DANA@acme.example".into()),
            ..Subject::default()
        }
    }

    #[tokio::test]
    async fn erases_drops_redacts_deletes_empty_batches_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let (deps, graph, t) = setup(dir.path()).await;
        let r = deps
            .erase(&ExpireRequest::erase("acme", dana()))
            .await
            .unwrap();
        assert_eq!(
            r.aliases, 5,
            "e-mail, slack and slack-export ids, name, phone"
        );
        assert_eq!((r.raw.scanned, r.raw.rewritten, r.raw.deleted), (4, 2, 1));
        assert_eq!((r.records_removed, r.records_redacted), (2, 2));
        let tokens = graph.0.lock().unwrap()[0].clone();
        let key = deps
            .erasure
            .as_ref()
            .unwrap()
            .pipeline
            .pseudonym_key("acme")
            .await
            .unwrap();
        for (ty, v) in [
            (bacca_anonymizer::EntityType::UserHandle, "U0DANA"),
            (
                bacca_anonymizer::EntityType::EmailAddress,
                "dana@acme.example",
            ),
            (bacca_anonymizer::EntityType::Person, "Dana Whitfield"),
            (bacca_anonymizer::EntityType::PhoneNumber, "+14155550142"),
        ] {
            assert!(tokens.contains(&key.token(ty, v)));
        }
        assert!(!tokens.contains(&key.token(bacca_anonymizer::EntityType::UserHandle, "U0RAVI")));
        // What is left: Ravi's records, the mention redacted; Custom-Time unchanged.
        let store = deps.stores.store("acme").unwrap();
        let pipeline = &deps.erasure.as_ref().unwrap().pipeline;
        let mut texts = Vec::new();
        for o in store.list("raw/", None).await.unwrap().objects {
            assert_eq!(o.custom_time, Some(t));
            let (ct, _) = store.get(&o.name).await.unwrap();
            for rec in pipeline.open_batch("acme", &o.name, &ct).await.unwrap() {
                texts.push(rec.text);
            }
        }
        texts.sort();
        assert_eq!(
            texts,
            [
                "her line <ERASED> was busy",
                "pods restarted",
                "thanks <ERASED>, rolled back"
            ]
        );
        // Again: nothing to do.
        let again = deps
            .erase(&ExpireRequest::erase("acme", dana()))
            .await
            .unwrap();
        assert!(again.is_noop(), "{again:?}");
        let events: Vec<_> = deps
            .audit
            .events()
            .into_iter()
            .filter(|e| e.action == "erasure")
            .collect();
        assert_eq!(events.len(), 2);
        let text = serde_json::to_string(&events).unwrap().to_lowercase();
        // The phone number as written and as normalised; a bare "415" would also match
        // the random hex of an event id now and then.
        for secret in ["dana", "u0dana", "whitfield", "415 555 0142", "4155550142"] {
            assert!(!text.contains(secret), "{secret} in the audit event");
        }
    }

    #[tokio::test]
    async fn a_batch_replaced_after_the_resolve_step_is_rewritten_from_its_new_content() {
        let dir = tempfile::tempdir().unwrap();
        let (mut deps, _graph, t) = setup(dir.path()).await;
        let store = deps.stores.store("acme").unwrap();
        let pipeline = deps.erasure.as_ref().unwrap().pipeline.clone();
        // The batch holding only "pods restarted" (untouched by the erasure as first read)
        // gets a record of Dana's and another of Ravi's.
        let mut target = None;
        for o in store.list("raw/", None).await.unwrap().objects {
            let (ct, _) = store.get(&o.name).await.unwrap();
            let records = pipeline.open_batch("acme", &o.name, &ct).await.unwrap();
            if records.len() == 1 && records[0].text == "pods restarted" {
                target = Some(o.name);
            }
        }
        let name = target.unwrap();
        let replacement = [
            rec("4", "U0RAVI", "author", "pods restarted", t),
            rec("6", "U0RAVI", "author", "disk full on db-2", t),
            rec("7", "U0DANA", "author", "on it", t),
        ];
        deps.erasure = Some(ErasureDeps {
            pipeline: pipeline.clone(),
            graph: Arc::new(ReplacesABatch {
                store: store.clone(),
                ciphertext: seal(&pipeline, &name, &replacement).await,
                name: name.clone(),
                custom_time: t,
            }),
        });
        let r = deps
            .erase(&ExpireRequest::erase("acme", dana()))
            .await
            .unwrap();
        assert_eq!((r.records_removed, r.records_redacted), (3, 2), "{r:?}");
        let (ct, _) = store.get(&name).await.unwrap();
        let texts: Vec<String> = pipeline
            .open_batch("acme", &name, &ct)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.text)
            .collect();
        assert_eq!(texts, ["pods restarted", "disk full on db-2"]);
    }

    #[tokio::test]
    async fn an_unreadable_batch_makes_the_erasure_incomplete_not_silent() {
        let dir = tempfile::tempdir().unwrap();
        let (deps, _graph, t) = setup(dir.path()).await;
        let store = deps.stores.store("acme").unwrap();
        store
            .put(
                "raw/slack/2026-01-01/ffffffffffffffffffffffffffffffff",
                Bytes::from_static(b"not a ciphertext"),
                PutOptions::create_only().with_custom_time(t),
            )
            .await
            .unwrap();
        let e = deps
            .erase(&ExpireRequest::erase("acme", dana()))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ErasureIncomplete { .. }), "{e:?}");
        assert_eq!(e.to_handler_error().class(), "erasure_incomplete");
        let ev = deps.audit.events().pop().unwrap();
        assert_eq!(ev.fields["outcome"], "erasure_incomplete".into());
        assert_eq!(ev.fields["objects_failed"], 1i64.into());
        // The readable batches were still cleaned.
        assert_eq!(ev.fields["records_removed"], 2i64.into());
        assert_eq!(ev.fields["records_redacted"], 2i64.into());
    }
}
