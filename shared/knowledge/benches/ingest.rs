//! Graph writes counted in anonymized records, the unit the pipeline writes: per source
//! stream, records/s through [`extract`] and [`KnowledgeGraph::upsert`] (extraction, the graph
//! layer's cross-batch reads, encryption and the store transaction) in batches of 1000, as the
//! anonymize function writes them, on SQLite and (when `BACCA_TEST_POSTGRES_URL` is set, in a
//! fresh schema dropped at the end) PostgreSQL.
//!
//! The streams are seeded synthetic records shaped like the connectors' output after
//! anonymization (pseudonyms in place of people): Datadog log lines (signatures; from 8 pods
//! per service, replaced every 5000 lines, and, as the worst case, from a new host each line:
//! hosts become Service nodes), Slack
//! incident-channel threads of 8 messages, Jira issues with 4 comments each, and Datadog
//! incidents (one new incident per record: the stream closest to the `graph` bench's
//! records). Every batch carries new ids and later times, so the graph grows as it would.
//!
//! ```text
//! BACCA_TEST_POSTGRES_URL=postgres://root@127.0.0.1:5432/test \
//!   cargo bench -p bacca-knowledge --bench ingest -- --warm-up-time 2 --measurement-time 8
//! ```

// criterion_group! generates an undocumented public function; benches may unwrap.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bacca_knowledge::extract::{extract, ExtractConfig};
use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};

mod workload;

use workload::{graph, rt, Stores};

// The production binaries' allocator, so that the figures measure what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records per batch (the anonymize function writes one batch per raw object).
const BATCH: u64 = 1000;

/// SplitMix64: a small seeded generator (the same seed gives the same records).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn num(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn hex(&mut self, digits: usize) -> String {
        let v = self.next();
        format!("{v:016x}")[..digits].to_owned()
    }

    /// A pseudonym as the anonymizer writes it.
    fn pseudonym(&mut self, entity: &str, people: u64) -> String {
        // A fixed population: the same few people recur, as on a real team.
        let who = self.next() % people;
        format!(
            "<{entity}_{:08x}>",
            who.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32
        )
    }
}

const SERVICE_STEMS: &[&str] = &[
    "checkout",
    "payments",
    "search",
    "orders",
    "auth",
    "inventory",
    "email",
    "billing",
    "cart",
    "media",
    "ledger",
    "profile",
    "notify",
    "shipping",
    "pricing",
    "fraud",
    "ingest",
    "export",
    "gateway",
    "catalog",
];
const SERVICE_KINDS: &[&str] = &["api", "worker"];
const SYMPTOMS: &[&str] = &[
    "error rate above 5%",
    "p99 latency over 2s",
    "pods crash looping",
    "queue backlog growing",
    "database connections exhausted",
    "certificate expired",
    "5xx spike after deploy",
    "replica lag over 30s",
    "disk almost full",
    "memory leak suspected",
    "timeouts calling upstream",
    "consumer group stuck rebalancing",
];
const REMEDIATIONS: &[&str] = &[
    "rolled back {svc} to v{v}",
    "restarted the {svc} pods",
    "scaled {svc} out to {n} replicas",
    "failed over the {svc} database to the replica",
    "toggled the {svc}-new-path feature flag off",
    "deployed a fix for {svc}, errors are dropping",
    "raised the limit on the {svc} connection pool to {n}",
];
const CHATTER: &[&str] = &[
    "looking into it",
    "seeing {n} errors per minute on {svc}",
    "dashboard for {svc}: https://app.datadoghq.com/dashboard/{hex}",
    "cc {person}, you were on call for {svc} last week",
    "is this related to the deploy {small} minutes ago?",
    "{svc} logs show timeouts to the upstream",
    "error rate back to normal, monitoring",
    "paging {person}",
    "customer impact confirmed for {svc} in eu-west-1",
    "no alerts on the database side",
];
const LOGS: &[&str] = &[
    "connection pool exhausted for db {svc} after {ms} ms",
    "GET /api/v1/orders/{n} returned 503 in {ms}ms",
    "worker {n} failed calling {svc}: deadline exceeded after {ms} ms",
    "login failed for {email}: invalid token",
    "kafka consumer group {svc}-consumers rebalancing, {n} partitions",
    "OOMKilled container {svc}-{hex} (limit {n}Mi)",
    "TLS handshake with {ip} failed: certificate has expired",
    "slow query on table orders took {ms} ms rows={n}",
    "cache miss ratio {pct}% above threshold",
    "disk usage {pct}% on /var/lib/data",
    "retrying request {hex} to {svc} attempt {small} of 5",
    "circuit breaker open for {svc} after {n} failures",
    "payment {hex} declined by processor code {code}",
    "DNS lookup for {svc}.internal timed out after {ms}ms",
    "scheduled job reindex-{svc} completed in {ms} ms",
    "health check failed for {svc}-{hex}: status {code}",
    "rate limit exceeded for client {hex}: {n} req/s",
    "replica lag {small}s on {svc}-db",
    "queue {svc}-jobs depth {n} exceeds 1000",
    "deploy of {svc} version v{v} started by {person}",
];

/// Pods (hosts) per service in the log stream.
const PODS: usize = 8;

/// Log lines between two rollouts (every pod of every service replaced).
const ROLLOUT: u64 = 5000;

/// One stream's generator state: a seeded RNG, the next record number and the clock.
struct Stream {
    rng: Rng,
    services: Vec<String>,
    next: u64,
    at: DateTime<Utc>,
}

impl Stream {
    fn new(seed: u64) -> Self {
        let services = SERVICE_STEMS
            .iter()
            .flat_map(|s| SERVICE_KINDS.iter().map(move |k| format!("{s}-{k}")))
            .collect();
        Self {
            rng: Rng::new(seed),
            services,
            next: 0,
            at: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
        }
    }

    fn service(&mut self) -> String {
        let i = self.rng.below(self.services.len());
        self.services[i].clone()
    }

    /// `template` with its placeholders filled.
    fn fill(&mut self, template: &str, svc: &str) -> String {
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = open + rest[open..].find('}').unwrap();
            let r = &mut self.rng;
            let value = match &rest[open + 1..close] {
                "svc" => svc.to_owned(),
                "n" => r.num(2, 5000).to_string(),
                "small" => r.num(1, 60).to_string(),
                "ms" => r.num(100, 30_000).to_string(),
                "pct" => r.num(80, 99).to_string(),
                "code" => r.num(400, 599).to_string(),
                "v" => format!("{}.{}.{}", r.num(1, 9), r.num(0, 40), r.num(0, 20)),
                "hex" => r.hex(12),
                "person" => r.pseudonym("PERSON", 40),
                "email" => r.pseudonym("EMAIL_ADDRESS", 5000),
                "ip" => r.pseudonym("IP_ADDRESS", 500),
                // Not a placeholder of ours: kept as written.
                other => format!("{{{other}}}"),
            };
            out.push_str(&value);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn tick(&mut self, max_secs: u64) -> String {
        self.at += Duration::seconds(i64::try_from(self.rng.num(1, max_secs)).unwrap());
        self.at.to_rfc3339()
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Datadog log lines from the pods of each service: [`PODS`] per service, all replaced by
    /// a rollout every [`ROLLOUT`] lines of the stream (hosts become Service nodes, so this is
    /// how many the graph gains).
    fn log(&mut self) -> Value {
        let i = self.rng.below(self.services.len());
        let (slot, rollout) = (self.rng.below(PODS), self.next / ROLLOUT);
        let mut pod = Rng::new((rollout << 32) ^ (u64::try_from(i * PODS + slot).unwrap()));
        let host = format!("{}-{}", self.services[i], pod.hex(5));
        self.log_on(i, host)
    }

    /// Datadog log lines each from a host never seen before (a new Service node per line):
    /// the worst case of the graph layer's per-batch work on new services.
    fn log_new_host(&mut self) -> Value {
        let i = self.rng.below(self.services.len());
        let host = format!("{}-{}", self.services[i], self.rng.hex(5));
        self.log_on(i, host)
    }

    /// A log line of service `i` from `host`.
    fn log_on(&mut self, i: usize, host: String) -> Value {
        let svc = self.services[i].clone();
        let template = self.rng.pick(LOGS);
        let text = self.fill(template, &svc);
        let id = self.id();
        json!({"source": "datadog", "kind": "log", "id": format!("log-{id}"),
               "occurred_at": self.tick(2), "text": text,
               "attributes": {"service": svc, "host": host, "status": "error",
                              "tags": [format!("service:{svc}"), "env:prod"]}})
    }

    /// Slack incident-channel messages: threads of a root and 7 replies.
    fn slack(&mut self) -> Value {
        let n = self.id();
        let thread = (n - 1) / 8;
        let root_ts = format!("{}.{:06}", 1_767_225_600 + thread * 600, thread % 1_000_000);
        let channel = format!("C0INCIDENT{:02}", thread % 12);
        let svc = self.services[usize::try_from(thread).unwrap() % self.services.len()].clone();
        let author = self.rng.pseudonym("PERSON", 40);
        let (kind, id, parent, text) = if (n - 1).is_multiple_of(8) {
            let symptom = self.rng.pick(SYMPTOMS);
            let person = self.rng.pseudonym("PERSON", 40);
            let text = format!("{svc}: {symptom}, {person} can you take a look?");
            ("message", root_ts.clone(), None, text)
        } else {
            let template = if self.rng.below(4) == 0 {
                self.rng.pick(REMEDIATIONS)
            } else {
                self.rng.pick(CHATTER)
            };
            let text = self.fill(template, &svc);
            let ts = format!(
                "{}.{:06}",
                1_767_225_600 + thread * 600 + (n - 1) % 8 * 30,
                n % 1_000_000
            );
            ("reply", ts, Some(root_ts), text)
        };
        json!({"source": "slack", "kind": kind, "id": id, "container": channel,
               "parent_id": parent, "occurred_at": self.tick(40), "text": text,
               "identities": [{"role": "author", "id": author}]})
    }

    /// Jira issues, each followed by 4 comments.
    fn jira(&mut self) -> Value {
        let n = self.id();
        let issue = (n - 1) / 5;
        let key = format!("OPS-{}", issue + 1);
        let svc = self.services[usize::try_from(issue).unwrap() % self.services.len()].clone();
        let person = self.rng.pseudonym("PERSON", 40);
        if (n - 1).is_multiple_of(5) {
            let symptom = self.rng.pick(SYMPTOMS);
            let fix = self.rng.pick(REMEDIATIONS);
            let resolution = self.fill(fix, &svc);
            json!({"source": "jira", "kind": "issue", "id": format!("{}", 10_000 + issue),
                   "occurred_at": self.tick(60),
                   "text": format!("{svc} {symptom}. Reported by {person} from the alert."),
                   "identities": [{"role": "reporter", "id": person}],
                   "attributes": {"key": key, "title": format!("{svc}: {symptom}"),
                                  "status": "Done", "priority": "High", "service": svc,
                                  "resolution": resolution}})
        } else {
            let template = self.rng.pick(CHATTER);
            let text = format!("{key}: {}", self.fill(template, &svc));
            json!({"source": "jira", "kind": "comment", "id": format!("c-{n}"),
                   "parent_id": format!("{}", 10_000 + issue), "occurred_at": self.tick(60),
                   "text": text, "identities": [{"role": "author", "id": person}]})
        }
    }

    /// Datadog incidents: one new incident per record.
    fn incident(&mut self) -> Value {
        let n = self.id();
        let svc = self.service();
        let symptom = self.rng.pick(SYMPTOMS);
        let fix = self.rng.pick(REMEDIATIONS);
        let summary = self.fill(fix, &svc);
        let commander = self.rng.pseudonym("PERSON", 40);
        json!({"source": "datadog", "kind": "incident", "id": format!("{n}"),
               "occurred_at": self.tick(120),
               "text": format!("{svc} {symptom}. {summary}."),
               "identities": [{"role": "commander", "id": commander}],
               "attributes": {"title": format!("{svc} {symptom}"), "severity": "SEV-2",
                              "tags": [format!("service:{svc}"), "env:prod"],
                              "monitor_id": self.rng.num(1, 300)}})
    }
}

/// Makes the next record of a stream.
type MakeRecord = fn(&mut Stream) -> Value;

/// The streams: name and record maker.
const STREAMS: &[(&str, MakeRecord)] = &[
    ("datadog_logs", Stream::log),
    ("datadog_logs_new_host_each", Stream::log_new_host),
    ("slack_threads", Stream::slack),
    ("jira_issues_comments", Stream::jira),
    ("datadog_incidents", Stream::incident),
];

fn bench_ingest(c: &mut Criterion) {
    let rt = rt();
    let stores = Stores::open(&rt, "ingest");
    let config = ExtractConfig::default();
    let mut group = c.benchmark_group("graph_ingest");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    for (name, store) in &stores.list {
        for (seed, (stream, make)) in (1u64..).zip(STREAMS) {
            let g = graph(
                Arc::clone(store),
                &format!("ingest-{stream}-{}", std::process::id()),
            );
            rt.block_on(g.create()).unwrap();
            let gen = std::sync::Mutex::new(Stream::new(seed));
            group.bench_function(format!("{name}_{stream}"), |b| {
                b.iter_batched(
                    || {
                        let mut s = gen.lock().unwrap();
                        (0..BATCH).map(|_| make(&mut s)).collect::<Vec<Value>>()
                    },
                    |records| {
                        let batch = extract(&records, &config).unwrap();
                        rt.block_on(g.upsert(&batch)).unwrap();
                    },
                    BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
    stores.finish(&rt);
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
