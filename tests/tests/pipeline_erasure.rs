//! Data-subject erasure end to end on the embedded pipeline (local keyring, `file://` raw
//! store, SQLite graph, in-process bus): fetch one tenant's replayed Slack, Datadog and Jira
//! data, anonymize it into the graph, then erase one planted person through the expire
//! function's handler and check, from the outside:
//!
//! - no raw batch holds their records or any of their aliases (every batch decrypted and
//!   scanned); surviving batches keep their Custom-Time (retention is not extended);
//! - the graph holds none of their pseudonym tokens (tokens recomputed here with the
//!   anonymizer and the tenant's key), and the other person's knowledge is intact;
//! - a second erasure changes nothing and reports zeros;
//! - the audit events carry an erasure id and counts, never an identifier.
//!
//! The same scenario runs on the production backends' stand-ins (raw batches in `gs://` on
//! fake-gcs-server, the graph in PostgreSQL) when `STORAGE_EMULATOR_HOST` and
//! `BACCA_TEST_POSTGRES_URL` are set (`scripts/test.sh` sets both; in CI, a missing one fails
//! the test instead of skipping it). The last test sends erase
//! requests to the real `bacca-expire` binary (built by `cargo nextest run --workspace`, or
//! `cargo build -p bacca-expire` first) and checks its logs, dead letters and audit file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bacca_anonymizer::EntityType;
use bacca_audit::AuditSink;
use bacca_expire::{ErasureDeps, ExpireRequest, Subject};
use bacca_knowledge::store::GraphStore;
use bacca_runtime::{Event, Outcome, SchedulerEvent};
use bacca_storage::{GcsConfig, TenantStores};
use bacca_tests::replay;
use chrono::{DateTime, Utc};

/// The shared world; the scenario's helpers are methods of this wrapper.
struct World(bacca_tests::World);

impl std::ops::Deref for World {
    type Target = bacca_tests::World;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The cloud stand-ins: a `gs://` template on fake-gcs-server and a fresh PostgreSQL schema.
struct Cloud {
    stores: TenantStores,
    graph: Arc<dyn GraphStore>,
}

/// One tenant's pipeline under `dir` (keys, secrets, audit), on the embedded backends or on
/// `cloud`.
async fn world(dir: &Path, data: replay::TenantData, cloud: Option<Cloud>) -> World {
    let configure = |p: &mut bacca_anonymize::Pipeline, base: &mut bacca_fetch::Deps| {
        if let Some(c) = cloud {
            *p = bacca_anonymize::Pipeline::new(
                c.stores.clone(),
                p.keys.clone(),
                p.secrets.clone(),
                c.graph,
                AuditSink::Discard,
            );
            base.stores = c.stores;
        }
    };
    World(
        bacca_tests::world(dir, data, Utc::now(), configure, |p| p)
            .await
            .unwrap(),
    )
}

impl World {
    /// Every raw batch: name -> (Custom-Time, decrypted records as JSON lines).
    async fn raw(&self) -> BTreeMap<String, (Option<DateTime<Utc>>, String)> {
        let store = self.fetch.stores.store(self.data.tenant).unwrap();
        let mut out = BTreeMap::new();
        for obj in store.list("raw/", None).await.unwrap().objects {
            let (ct, meta) = store.get(&obj.name).await.unwrap();
            let records = self
                .pipeline
                .open_batch(self.data.tenant, &obj.name, &ct)
                .await
                .unwrap();
            let mut text = String::new();
            for r in records {
                text.push_str(&serde_json::to_string(&r).unwrap());
                text.push('\n');
            }
            out.insert(obj.name, (meta.custom_time, text));
        }
        out
    }

    /// The decrypted graph as JSON text.
    async fn graph(&self) -> String {
        let g = self.pipeline.graph_of(self.data.tenant).await.unwrap();
        serde_json::to_string(&g.export().await.unwrap()).unwrap()
    }

    /// The pseudonym tokens the anonymizer writes for one person's ids, e-mail, name and
    /// phone number.
    async fn tokens(&self, p: &replay::Person) -> Vec<String> {
        let key = self.pipeline.pseudonym_key(self.data.tenant).await.unwrap();
        vec![
            key.token(EntityType::UserHandle, p.slack_id),
            key.token(EntityType::UserHandle, p.jira_id),
            key.token(EntityType::EmailAddress, p.email),
            key.token(EntityType::Person, p.name),
            key.token(EntityType::PhoneNumber, p.phone),
        ]
    }
}

fn erase_event(body: &serde_json::Value) -> Event {
    Event::Scheduler(SchedulerEvent {
        body: serde_json::to_vec(body).unwrap().into(),
        ..Default::default()
    })
}

fn contains_any(haystack: &str, needles: &[&str]) -> Vec<String> {
    let h = haystack.to_lowercase();
    needles
        .iter()
        .filter(|n| h.contains(&n.to_lowercase()))
        .map(|n| (*n).to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_person_removes_their_records_aliases_and_knowledge_only() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), replay::tenants()[0].clone(), None).await;
    scenario(dir.path(), &w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_on_gcs_and_postgres() {
    let Some(pg) = bacca_tests::cloud_stand_ins() else {
        return;
    };
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let mut data = replay::tenants()[0].clone();
    data.tenant = Box::leak(format!("erase{suffix}").into_boxed_str());
    let (schema, graph) = bacca_tests::PgSchema::create(&pg, &format!("bacca_erasure_{suffix}"))
        .await
        .unwrap();
    let stores = TenantStores::from_template("gs://bacca-{tenant}-raw", GcsConfig::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), data, Some(Cloud { stores, graph })).await;
    scenario(dir.path(), &w).await;
    schema.drop().await.unwrap();
}

/// Fetch, anonymize, erase one person twice, and check everything from the outside.
async fn scenario(dir: &Path, w: &World) {
    w.harness
        .request_fetch(w.data.tenant, &["slack", "datadog", "jira"])
        .await
        .unwrap();
    w.harness.bus.drain().await;
    assert!(w.harness.dead_letters.messages().is_empty());

    let [dana, ravi] = w.data.people.clone();
    let dana_aliases = [
        dana.name,
        dana.email,
        dana.slack_id,
        dana.jira_id,
        dana.handle,
        dana.phone,
        "Whitfield",
    ];
    let ravi_aliases = [ravi.slack_id, ravi.jira_id, ravi.email];
    let dana_tokens = w.tokens(&dana).await;
    let ravi_tokens = w.tokens(&ravi).await;

    // Before: both people are in the raw batches and in the graph.
    let before = w.raw().await;
    let all_before: String = before.values().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        contains_any(&all_before, &dana_aliases).len(),
        dana_aliases.len()
    );
    let graph_before = w.graph().await;
    let dana_in_graph: Vec<_> = dana_tokens
        .iter()
        .filter(|t| graph_before.contains(t.as_str()))
        .collect();
    assert!(!dana_in_graph.is_empty(), "the person is in the graph");
    let ravi_in_graph: Vec<&String> = ravi_tokens
        .iter()
        .filter(|t| graph_before.contains(t.as_str()))
        .collect();
    assert!(!ravi_in_graph.is_empty());
    let stats_before = w
        .pipeline
        .graph_of(w.data.tenant)
        .await
        .unwrap()
        .stats()
        .await
        .unwrap();

    // Erase through the handler, as Cloud Scheduler or an operator would call it.
    let mut expire = bacca_expire::Deps::local(dir).unwrap();
    expire.stores = w.fetch.stores.clone();
    expire.audit = AuditSink::memory();
    expire.erasure = Some(ErasureDeps::new(w.pipeline.clone()));
    let body = serde_json::json!({
        "tenant": w.data.tenant,
        "action": "erase",
        "subject": {"email": dana.email, "slack_user": dana.slack_id, "handle": dana.handle},
    });
    let out = bacca_expire::handle(erase_event(&body), &expire)
        .await
        .unwrap();
    assert_eq!(out, Outcome::Done);

    // Raw: no record or alias of the person left; others kept; Custom-Time unchanged.
    let after = w.raw().await;
    assert!(!after.is_empty());
    assert!(after.len() <= before.len());
    for (name, (custom_time, text)) in &after {
        assert_eq!(
            contains_any(text, &dana_aliases),
            Vec::<String>::new(),
            "{name} still names the erased person"
        );
        assert_eq!(
            *custom_time, before[name].0,
            "{name}: retention not extended"
        );
    }
    let all_after: String = after.values().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        contains_any(&all_after, &ravi_aliases).len(),
        ravi_aliases.len(),
        "the other person's records are kept"
    );
    assert!(
        all_after.contains("<ERASED>"),
        "mentions were redacted, not dropped"
    );

    // Graph: none of the person's tokens; the other person's knowledge intact.
    let graph_after = w.graph().await;
    for t in &dana_tokens {
        assert!(
            !graph_after.contains(t.as_str()),
            "a token of the erased person remains"
        );
    }
    for t in &ravi_in_graph {
        assert!(
            graph_after.contains(t.as_str()),
            "the other person's token is gone"
        );
    }
    let stats_after = w
        .pipeline
        .graph_of(w.data.tenant)
        .await
        .unwrap()
        .stats()
        .await
        .unwrap();
    for (kind, n) in &stats_before.nodes {
        let m = stats_after
            .nodes
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, m)| *m);
        if format!("{kind:?}") == "Person" {
            assert!(m < *n, "the person's node is deleted");
            assert!(m > 0, "the other person's node is kept");
        } else {
            assert_eq!(m, *n, "{kind:?} nodes kept");
        }
    }

    // A second erasure finds nothing: zeros.
    let subject: Subject = serde_json::from_value(body["subject"].clone()).unwrap();
    let again = expire
        .erase(&ExpireRequest::erase(w.data.tenant, subject))
        .await
        .unwrap();
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(
        (again.raw.rewritten, again.raw.deleted, again.raw.failed),
        (0, 0, 0)
    );
    assert_eq!(again.records_removed + again.records_redacted, 0);
    assert_eq!(w.raw().await, after);

    // Audit: one event per erasure, an id and counts, no identifier.
    let events: Vec<_> = expire
        .audit
        .events()
        .into_iter()
        .filter(|e| e.action == "erasure")
        .collect();
    assert_eq!(events.len(), 2);
    let first = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(first["fields"]["outcome"], "done");
    assert!(first["fields"]["erasure_id"].as_str().unwrap().len() >= 32);
    assert!(first["fields"]["records_removed"].as_i64().unwrap() > 0);
    assert!(first["fields"]["nodes_deleted"].as_i64().unwrap() > 0);
    assert_eq!(events[1].fields["records_removed"], 0i64.into());
    let audit_text = serde_json::to_string(&events).unwrap();
    let mut secrets: Vec<&str> = dana_aliases.to_vec();
    secrets.extend(dana_tokens.iter().map(String::as_str));
    assert_eq!(contains_any(&audit_text, &secrets), Vec::<String>::new());
}

#[tokio::test]
async fn rejected_erase_requests_are_acknowledged_audited_and_never_echo_the_identifier() {
    let dir = tempfile::tempdir().unwrap();
    let mut expire = bacca_expire::Deps::local(dir.path()).unwrap();
    expire.audit = AuditSink::memory();
    expire.tenant = Some("acme".into());
    let planted = "erase.canary.7f3a@example.org";
    for body in [
        // Wrong tenant, unknown subject field, no unique identifier, not configured, not JSON.
        serde_json::json!({"tenant": "globex", "action": "erase", "subject": {"email": planted}}),
        serde_json::json!({"tenant": "acme", "action": "erase", "subject": {"phone": planted}}),
        serde_json::json!({"tenant": "acme", "action": "erase", "subject": {"name": planted}}),
        serde_json::json!({"tenant": "acme", "action": "sweep", "subject": {"email": planted}}),
    ] {
        let out = bacca_expire::handle(erase_event(&body), &expire).await;
        assert!(
            matches!(out, Ok(Outcome::Skipped(_))),
            "acknowledged, not dead-lettered: {out:?}"
        );
    }
    let raw = Event::Scheduler(SchedulerEvent {
        body: format!("{{\"action\":\"erase\",\"subject\":{{\"email\":\"{planted}\"").into(),
        ..Default::default()
    });
    assert!(matches!(
        bacca_expire::handle(raw, &expire).await,
        Ok(Outcome::Skipped(_))
    ));
    // Not configured for erasure: retried (nacked), with a class only.
    let body =
        serde_json::json!({"tenant": "acme", "action": "erase", "subject": {"email": planted}});
    let e = bacca_expire::handle(erase_event(&body), &expire)
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    assert!(!format!("{e:?} {e}").contains(planted));
    let events = expire.audit.events();
    assert_eq!(events.iter().filter(|e| e.action == "erasure").count(), 6);
    assert!(!serde_json::to_string(&events).unwrap().contains(planted));
}

#[path = "hostile_support/mod.rs"]
mod hostile_support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expire_binary_never_logs_or_dead_letters_an_erasure_identifier() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("expire.log");
    let f = hostile_support::Function::spawn_logging(
        "bacca-expire",
        &[
            ("RUST_LOG", "trace".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
        ],
        Some(&log),
    )
    .await;
    let email = "erasure.canary.5e1f@example.org";
    let slack = "UCANARY5E1F";
    let requests = [
        // A well-formed erasure that fails permanently (the tenant has no bucket here).
        serde_json::json!({"tenant": "acme", "action": "erase",
                           "subject": {"email": email, "slack_user": slack}}),
        // Unknown subject field, sweep with a subject, no tenant.
        serde_json::json!({"tenant": "acme", "action": "erase", "subject": {"phone": email}}),
        serde_json::json!({"tenant": "acme", "action": "sweep", "subject": {"email": email}}),
        serde_json::json!({"action": "erase", "subject": {"slack_user": slack}}),
    ];
    for (i, data) in requests.iter().enumerate() {
        let body = hostile_support::push_body(data, &format!("erase-{i}"), 1);
        let r = f.post(&body, None).await;
        assert!(r.status < 300, "acknowledged: {}", r.status);
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains(email) && !text.contains(slack));
    }
    assert!(
        f.dead_letters().is_empty(),
        "no identifier copied to a dead letter"
    );
    let audit = std::fs::read_to_string(f.data_dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(
        audit.matches("\"action\":\"erasure\"").count(),
        requests.len()
    );
    assert!(!audit.contains(email) && !audit.contains(slack));
    drop(f);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("erase request rejected"), "{logged}");
    assert!(!logged.contains(email) && !logged.contains(slack));
    assert!(!logged.to_lowercase().contains("canary"));
}
