//! A seeded generator of labelled operational text: Slack incident threads, JSON and plain
//! log lines, tickets and runbooks, mixing PII and secrets (to remove) with operational
//! tokens (to keep). Names come from the generator's own lists (`words`), not from the detector
//! lexicons, so lexicon coverage is measured rather than assumed; about half the people are in
//! the tenant directory, as a connector would supply them.

use super::{Doc, Label, Labelled};
use crate::detect::{Directory, DirectoryPerson};
use crate::span::EntityType;

mod values;
mod words;

use words::{DOMAINS, ERRORS, FIRST, LAST, METRICS, REGIONS, SERVICES};

/// Deterministic xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs.get(self.below(xs.len())).copied().unwrap_or("")
    }

    fn chars(&mut self, set: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(set.get(self.below(set.len())).copied().unwrap_or(b'a')))
            .collect()
    }

    fn digits(&mut self, n: usize) -> String {
        self.chars(b"0123456789", n)
    }

    fn hex(&mut self, n: usize) -> String {
        self.chars(b"0123456789abcdef", n)
    }

    fn alnum(&mut self, n: usize) -> String {
        self.chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            n,
        )
    }

    fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// A person in the synthetic tenant.
#[derive(Debug, Clone)]
struct Person {
    first: &'static str,
    last: &'static str,
    handle: String,
    email: String,
    slack_id: String,
}

/// Builds one document and its labels.
#[derive(Default)]
struct B {
    doc: Doc,
}

impl B {
    fn t(&mut self, s: &str) -> &mut Self {
        self.doc.text.push_str(s);
        self
    }

    fn l(&mut self, label: Label, s: &str) -> &mut Self {
        let start = self.doc.text.len();
        self.doc.text.push_str(s);
        self.doc.labels.push(Labelled {
            start,
            end: self.doc.text.len(),
            label,
        });
        self
    }

    fn p(&mut self, t: EntityType, s: &str) -> &mut Self {
        self.l(Label::Pii(t), s)
    }

    fn k(&mut self, kind: &'static str, s: &str) -> &mut Self {
        self.l(Label::Keep(kind), s)
    }
}

/// The generated corpus and the tenant directory that goes with it.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// Labelled documents.
    pub docs: Vec<Doc>,
    /// The people a connector would have supplied (about half of those in the text).
    pub directory: Directory,
}

struct Gen {
    r: Rng,
    people: Vec<Person>,
}

impl Gen {
    fn slack_thread(&mut self) -> Doc {
        let mut b = B::default();
        let (p1, p2, p3) = (self.person(), self.person(), self.person());
        let svc = self.r.pick(SERVICES);
        let (host, trace, ver, sha, pod, ts, region) = (
            self.host(),
            self.r.hex(32),
            self.version(),
            self.r.hex(40),
            self.pod(),
            self.ts(),
            self.r.pick(REGIONS),
        );
        b.p(EntityType::UserHandle, &format!("<@{}>", p1.slack_id))
            .t(" paging ");
        let n = self.name(&p2);
        b.p(EntityType::Person, &n)
            .t(" - ")
            .k("KEEP_SERVICE", svc)
            .t(" p99 at ")
            .t(&format!("{}ms", 200 + self.r.below(5000)))
            .t(" on ")
            .k("KEEP_HOST", &host)
            .t(", trace ")
            .k("KEEP_TRACE", &trace)
            .t("\n");
        let n = self.name(&p3);
        b.p(EntityType::Person, &n)
            .t(": rolled back to ")
            .k("KEEP_VERSION", &ver)
            .t(" (")
            .k("KEEP_SHA", &sha)
            .t("), pod ")
            .k("KEEP_POD", &pod)
            .t(" healthy since ")
            .k("KEEP_TIMESTAMP", &ts)
            .t(" in ")
            .k("KEEP_REGION", region)
            .t("\n");
        b.t("thanks ")
            .p(EntityType::Person, p3.first)
            .t("! cc ")
            .p(EntityType::UserHandle, &format!("@{}", p1.handle))
            .t("\n");
        if self.r.coin() {
            let c = self.person();
            let (e, ph) = (self.email(&c), self.phone());
            let code = self.r.pick(ERRORS);
            b.t("customer ")
                .p(EntityType::Person, &format!("{} {}", c.first, c.last))
                .t(" (")
                .p(EntityType::EmailAddress, &e)
                .t(", ")
                .p(EntityType::PhoneNumber, &ph)
                .t(") reports checkout failing with ")
                .k("KEEP_ERROR_CODE", code)
                .t("\n");
        }
        b.doc
    }

    fn json_log(&mut self) -> Doc {
        let mut b = B::default();
        let p = self.person();
        let (ts, svc, host, trace, span, e, ip, card) = (
            self.ts(),
            self.r.pick(SERVICES),
            self.host(),
            self.r.hex(32),
            self.r.hex(16),
            self.email(&p),
            self.public_ip(),
            self.card(),
        );
        b.t("{\"timestamp\":\"")
            .k("KEEP_TIMESTAMP", &ts)
            .t("\",\"level\":\"error\",\"service\":\"")
            .k("KEEP_SERVICE", svc)
            .t("\",\"host\":\"")
            .k("KEEP_HOST", &host)
            .t("\",\"dd.trace_id\":\"")
            .k("KEEP_TRACE", &trace)
            .t("\",\"dd.span_id\":\"")
            .k("KEEP_SPAN", &span)
            .t("\",\"usr\":{\"email\":\"")
            .p(EntityType::EmailAddress, &e)
            .t("\"},\"network\":{\"client\":{\"ip\":\"")
            .p(EntityType::IpAddress, &ip)
            .t("\"}},\"message\":\"payment declined for card ")
            .p(EntityType::CreditCard, &card)
            .t(" request_id=")
            .k("KEEP_UUID", &self.uuid())
            .t("\"}");
        b.doc
    }

    fn plain_log(&mut self) -> Doc {
        let mut b = B::default();
        let p = self.person();
        let (ts, svc, path) = (self.ts(), self.r.pick(SERVICES), self.path());
        match self.r.below(4) {
            0 => {
                let priv_ip = format!(
                    "10.{}.{}.{}",
                    self.r.below(256),
                    self.r.below(256),
                    self.r.below(256)
                );
                b.k("KEEP_TIMESTAMP", &ts)
                    .t(" ERROR [")
                    .k("KEEP_SERVICE", svc)
                    .t("] request_id=")
                    .k("KEEP_UUID", &self.uuid())
                    .t(" user=")
                    .p(EntityType::UserHandle, &p.handle)
                    .t(" ip=")
                    .p(EntityType::IpAddress, &self.public_ip())
                    .t(" upstream=")
                    .l(Label::Neutral, &priv_ip)
                    .t(" msg=\"auth failed\" path=")
                    .k("KEEP_PATH", &path);
            }
            1 => {
                let (host, pw) = (
                    self.host(),
                    format!("{}{}", self.r.alnum(10), self.r.digits(2)),
                );
                b.k("KEEP_TIMESTAMP", &ts)
                    .t(" WARN db connect postgres://app:")
                    .p(EntityType::Secret, &pw)
                    .t("@")
                    .k("KEEP_HOST", &host)
                    .t(":5432/orders timeout after ")
                    .t(&format!("{}ms", self.r.below(9000)))
                    .t(" code=")
                    .k("KEEP_ERROR_CODE", self.r.pick(ERRORS));
            }
            2 => {
                let (k, v) = self.secret_pair();
                b.k("KEEP_TIMESTAMP", &ts)
                    .t(" INFO config loaded ")
                    .t(&k)
                    .p(EntityType::Secret, &v)
                    .t(if k.ends_with('"') { "\"" } else { "" })
                    .t(" region=")
                    .k("KEEP_REGION", self.r.pick(REGIONS))
                    .t(" version=")
                    .k("KEEP_VERSION", &self.version());
            }
            _ => {
                b.k("KEEP_TIMESTAMP", &ts)
                    .t(" INFO ")
                    .k("KEEP_METRIC", self.r.pick(METRICS))
                    .t("=")
                    .t(&self.r.digits(3))
                    .t(" pod=")
                    .k("KEEP_POD", &self.pod())
                    .t(" sha=")
                    .k("KEEP_SHA", &self.r.hex(7))
                    .t(" span_id=")
                    .k("KEEP_SPAN", &self.r.hex(16));
            }
        }
        b.doc
    }

    fn ticket(&mut self) -> Doc {
        let mut b = B::default();
        let (rp, asg) = (self.person(), self.person());
        let svc = self.r.pick(SERVICES);
        b.t("Reporter: ")
            .p(EntityType::Person, &format!("{} {}", rp.first, rp.last))
            .t("\nAssignee: ")
            .p(EntityType::Person, &format!("{} {}", asg.first, asg.last))
            .t("\nSummary: ")
            .k("KEEP_SERVICE", svc)
            .t(" returns ")
            .k("KEEP_ERROR_CODE", self.r.pick(ERRORS))
            .t(" in ")
            .k("KEEP_REGION", self.r.pick(REGIONS))
            .t("\n");
        match self.r.below(4) {
            0 => {
                b.t("Refund to IBAN ")
                    .p(EntityType::IbanCode, &self.iban())
                    .t(" pending; SSN on file ")
                    .p(EntityType::UsSsn, &self.ssn())
                    .t(".\n");
            }
            1 => {
                b.t("Ship replacement to ")
                    .p(EntityType::StreetAddress, &self.address())
                    .t(". Call ")
                    .p(EntityType::PhoneNumber, &self.phone())
                    .t(" first.\n");
            }
            2 => {
                b.t("Customer driver's license ")
                    .p(
                        EntityType::UsDriverLicense,
                        &format!(
                            "{}{}",
                            self.r.chars(b"ABCDEFGHJKLMNPRSTUVWXYZ", 1),
                            self.r.digits(8)
                        ),
                    )
                    .t(" was shown in the log at ")
                    .k("KEEP_PATH", &self.path())
                    .t("\n");
            }
            _ => {
                b.t("Seen from ")
                    .p(EntityType::IpAddress, &self.public_ip())
                    .t(" with request ")
                    .k("KEEP_UUID", &self.uuid())
                    .t(", see ")
                    .k("KEEP_METRIC", self.r.pick(METRICS))
                    .t("\n");
            }
        }
        b.doc
    }

    /// Operational chatter with no personal data: capitalised product names, sentence starts,
    /// numbers of every shape. Everything labelled here must survive.
    fn chatter(&mut self) -> Doc {
        let mut b = B::default();
        let (svc, ver, region, ts) = (
            self.r.pick(SERVICES),
            self.version(),
            self.r.pick(REGIONS),
            self.ts(),
        );
        let sentences: &[&str] = &[
            "Deploy finished, 3 pods restarted and error rate back to 0.5%.",
            "Jenkins job #4512 passed; Docker image pushed to Artifact Registry.",
            "Kafka consumer lag at 120000 on partition 7, Redis latency normal.",
            "Will roll back if Grafana shows p99 above 800ms for 10 minutes.",
            "Grant the CI role read access to the bucket, then rerun Terraform.",
            "Postgres failover took 42 seconds; PgBouncer pool size is 200.",
            "Sentry shows 1532 events since Monday, mostly TimeoutError in Celery workers.",
            "Datadog monitor 88213 triggered; PagerDuty incident Q3B7X1 acknowledged.",
            "Chrome 131 users see ERR_HTTP2_PROTOCOL_ERROR behind Cloudflare.",
            "Nginx returned 502 for 14% of requests between 03:00 and 03:20 UTC.",
            "Mark the alert as resolved once Prometheus scrapes are green.",
            "Rose to 4 GiB RSS after the upgrade; OOM killer fired twice.",
            "Page the database team if replication lag exceeds 30 s.",
            "Victoria Metrics retention is 90 days; Thanos compactor is healthy.",
        ];
        b.k("KEEP_TIMESTAMP", &ts)
            .t(" ")
            .t(sentences[self.r.below(sentences.len())])
            .t(" Service ")
            .k("KEEP_SERVICE", svc)
            .t(" ")
            .k("KEEP_VERSION", &ver)
            .t(" in ")
            .k("KEEP_REGION", region)
            .t(", build ")
            .k(
                "KEEP_BUILD",
                &format!("{}.{}", self.r.digits(8), self.r.below(9)),
            )
            .t(", port ")
            .k("KEEP_PORT", &format!("{}", 1024 + self.r.below(60000)))
            .t(", pid ")
            .k("KEEP_PID", &self.r.digits(5))
            .t(", image sha256:")
            .k("KEEP_DIGEST", &self.r.hex(64))
            .t(", ticket ")
            .k("KEEP_TICKET", &format!("OPS-{}", self.r.digits(4)))
            .t(", ts ")
            .k("KEEP_EPOCH", &format!("17{}", self.r.digits(8)))
            .t(", object ")
            .k(
                "KEEP_PATH",
                &format!("gs://raw-bucket/raw/slack/2026-11-24/{}.bin", self.uuid()),
            )
            .t("\n");
        b.doc
    }

    fn runbook(&mut self) -> Doc {
        let mut b = B::default();
        let p = self.person();
        let (k, v) = self.secret_pair();
        let host = self.host();
        let ns = self.r.pick(&["prod", "payments", "default"]);
        b.t("1. ssh to ")
            .k("KEEP_HOST", &host)
            .t("\n2. ")
            .t(&k)
            .p(EntityType::Secret, &v)
            .t(if k.ends_with('"') { "\"" } else { "" })
            .t("\n3. kubectl rollout restart deploy/")
            .k("KEEP_SERVICE", self.r.pick(SERVICES))
            .t(" -n ")
            .t(ns)
            .t("\n4. check ")
            .k("KEEP_METRIC", self.r.pick(METRICS))
            .t(" in Grafana\n5. escalate to ")
            .p(EntityType::Person, &format!("{} {}", p.first, p.last))
            .t(" at ")
            .p(EntityType::PhoneNumber, &self.phone())
            .t(" or ")
            .p(EntityType::EmailAddress, &self.email(&p))
            .t("\n");
        b.doc
    }
}

/// Generate `n` labelled documents from `seed`.
#[must_use]
pub fn generate(seed: u64, n: usize) -> Corpus {
    let mut r = Rng::new(seed);
    let mut people = Vec::new();
    let mut directory = Directory::default();
    for i in 0..60 {
        let first = r.pick(FIRST);
        let last = r.pick(LAST);
        let ascii_last: String = last
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_lowercase();
        let handle = match i % 3 {
            0 => format!("{}.{}", first.to_lowercase(), ascii_last),
            1 => format!(
                "{}{}",
                first.chars().next().unwrap_or('x').to_lowercase(),
                ascii_last
            ),
            _ => format!("{}_{}", first.to_lowercase(), r.digits(2)),
        };
        let email = format!(
            "{}.{}@{}",
            first.to_lowercase(),
            ascii_last,
            r.pick(DOMAINS)
        );
        let slack_id = format!("U0{}", r.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8));
        let p = Person {
            first,
            last,
            handle,
            email,
            slack_id,
        };
        if i % 2 == 0 {
            directory.people.push(DirectoryPerson {
                names: vec![format!("{} {}", p.first, p.last)],
                handles: vec![p.handle.clone()],
                emails: vec![p.email.clone()],
                ids: vec![p.slack_id.clone()],
            });
        }
        people.push(p);
    }
    let mut g = Gen { r, people };
    let docs = (0..n)
        .map(|i| match i % 6 {
            0 => g.slack_thread(),
            1 => g.json_log(),
            2 => g.plain_log(),
            3 => g.ticket(),
            4 => g.chatter(),
            _ => g.runbook(),
        })
        .collect();
    Corpus { docs, directory }
}
