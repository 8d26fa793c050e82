//! Name and word lexicons shipped with the crate (see `data/SOURCES.md` for provenance and
//! licences): US Census 1990 first and last names (via the MIT-licensed `names` package) and
//! the SCOWL `american-english-small` word list, used to tell names from common words.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// FNV-1a: lexicon keys are short, public words; no need for DoS-resistant hashing.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Set = HashSet<&'static str, BuildHasherDefault<Fnv>>;

/// The lexicons, loaded once.
pub(crate) struct Lexicon {
    first: Set,
    last: Set,
    words: Set,
    tech: Set,
}

/// Infrastructure and product names, months and weekdays that collide with name lists:
/// they are operational vocabulary, never treated as names on their own.
const TECH: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sir",
    "jenkins",
    "kafka",
    "redis",
    "docker",
    "kubernetes",
    "terraform",
    "ansible",
    "grafana",
    "prometheus",
    "consul",
    "vault",
    "nomad",
    "sentry",
    "jira",
    "slack",
    "linear",
    "notion",
    "confluence",
    "datadog",
    "pagerduty",
    "opsgenie",
    "github",
    "gitlab",
    "heroku",
    "nginx",
    "apache",
    "tomcat",
    "jetty",
    "envoy",
    "istio",
    "linkerd",
    "celery",
    "rails",
    "django",
    "flask",
    "spring",
    "hadoop",
    "spark",
    "hive",
    "presto",
    "trino",
    "airflow",
    "argo",
    "helm",
    "flux",
    "cassandra",
    "elastic",
    "kibana",
    "logstash",
    "fluentd",
    "rabbit",
    "nats",
    "oracle",
    "mysql",
    "postgres",
    "aurora",
    "lambda",
    "athena",
    "sage",
    "ruby",
    "rust",
    "java",
    "python",
    "swift",
    "kotlin",
    "scala",
    "perl",
    "php",
    "node",
    "deno",
    "bun",
    "vue",
    "angular",
    "ember",
    "react",
    "redux",
    "jest",
    "mocha",
    "chai",
    "karma",
    "jasmine",
    "selenium",
    "cypress",
    "dynamo",
    "bigquery",
    "pubsub",
    "cloud",
    "azure",
    "gcp",
    "aws",
    "sql",
    "mongo",
    "couchbase",
    "memcached",
    "varnish",
    "haproxy",
    "traefik",
    "caddy",
    "vercel",
    "netlify",
    "stripe",
    "twilio",
    "okta",
    "auth0",
    "zendesk",
    "intercom",
    "segment",
    "mixpanel",
    "amplitude",
    "looker",
    "tableau",
    "snowflake",
    "databricks",
    "dbt",
    "fivetran",
    "kinesis",
    "sqs",
    "sns",
    "ecs",
    "eks",
    "gke",
    "aks",
    "rds",
    "alb",
    "elb",
    "nlb",
    "cdn",
    "dns",
    "vpc",
    "iam",
    "kms",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "christian",
    "israel",
    "jordan",
    "georgia",
    "virginia",
    "carolina",
    "dakota",
    "florida",
    "india",
    "china",
    "france",
    "paris",
    "london",
    "sydney",
    "austin",
    "phoenix",
    "houston",
    "dallas",
    "denver",
    "boston",
    "orlando",
    "chelsea",
    "victoria",
    "madison",
    "lincoln",
    "washington",
    "jackson",
    "columbus",
    "charlotte",
    "raleigh",
    "eu",
    "us",
    "west",
    "east",
    "north",
    "south",
    "central",
    "error",
    "warn",
    "info",
    "debug",
    "trace",
    "fatal",
    "critical",
    "alert",
    "page",
    "incident",
    "status",
    "service",
    "worker",
    "master",
    "main",
    "primary",
    "replica",
    "leader",
    "follower",
    "canary",
    "blue",
    "green",
    "assignee",
    "reporter",
    "summary",
    "priority",
    "severity",
    "component",
    "labels",
    "resolution",
    "description",
    "environment",
    "impact",
    "timeline",
    "subject",
    "re",
    "fwd",
    "todo",
    "note",
    "eta",
    "rca",
    "postmortem",
    "workaround",
    "symptoms",
    "cause",
    "mitigation",
    "followup",
    "thanos",
    "loki",
    "tempo",
    "mimir",
    "cortex",
    "jaeger",
    "zipkin",
    "vitess",
    "keda",
    "karpenter",
    "velero",
    "harbor",
    "quay",
    "ok",
    "done",
    "ack",
    "hi",
    "hey",
    "hello",
    "thanks",
    "thank",
    "cc",
    "fyi",
    "lgtm",
    "wip",
];

fn lines(s: &'static str) -> impl Iterator<Item = &'static str> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl Lexicon {
    pub(crate) fn get() -> &'static Self {
        static LEX: OnceLock<Lexicon> = OnceLock::new();
        LEX.get_or_init(|| Self {
            first: lines(include_str!("../../data/first_names.txt")).collect(),
            last: lines(include_str!("../../data/last_names.txt")).collect(),
            words: lines(include_str!("../../data/english_words.txt")).collect(),
            tech: TECH.iter().copied().collect(),
        })
    }

    pub(crate) fn is_first(&self, w: &str) -> bool {
        self.first.contains(w)
    }

    pub(crate) fn is_last(&self, w: &str) -> bool {
        self.last.contains(w)
    }

    /// A common English word (lower-case entry in the dictionary).
    pub(crate) fn is_word(&self, w: &str) -> bool {
        self.words.contains(w) || self.tech.contains(w)
    }

    pub(crate) fn is_tech(&self, w: &str) -> bool {
        self.tech.contains(w)
    }
}
