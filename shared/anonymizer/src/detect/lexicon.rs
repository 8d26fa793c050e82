//! Name and word lexicons shipped with the crate (see `data/SOURCES.md` for provenance and
//! licences): US Census 1990 first and last names (via the MIT-licensed `names` package),
//! given names from many countries (the MIT-licensed `nomquamgender` data, ASCII-folded), and
//! the SCOWL `american-english-small` word list, used to tell names from common words.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use super::bloom::Bloom;

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

type Map = HashMap<&'static str, u8, BuildHasherDefault<Fnv>>;

/// Lexicon flags of a lower-case word (one lookup answers every question).
pub(crate) const FIRST: u8 = 1;
/// A given name of the international list (ASCII-folded entries).
pub(crate) const INTL: u8 = 2;
/// A surname.
pub(crate) const LAST: u8 = 4;
/// A common English word, or operational vocabulary.
pub(crate) const WORD: u8 = 8;
/// Operational vocabulary (never a name on its own).
pub(crate) const TECH: u8 = 16;

/// The lexicons, loaded once.
pub(crate) struct Lexicon {
    /// Word -> flags (`FIRST`, `INTL`, `LAST`, `WORD`, `TECH`).
    flags: Map,
    /// Every word with `FIRST` or `INTL` (rejects most other words without a table lookup).
    first: Bloom,
    /// Every word with `FIRST`, `INTL` or `LAST`.
    name: Bloom,
}

/// Infrastructure and product names, months and weekdays that collide with name lists:
/// they are operational vocabulary, never treated as names on their own.
const TECH_WORDS: &[&str] = &[
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
    "kong",
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
        LEX.get_or_init(|| {
            let mut flags = Map::default();
            let lists: [(&'static str, u8); 4] = [
                (include_str!("../../data/first_names.txt"), FIRST),
                (include_str!("../../data/given_names_intl.txt"), INTL),
                (include_str!("../../data/last_names.txt"), LAST),
                (include_str!("../../data/english_words.txt"), WORD),
            ];
            for (list, f) in lists {
                for w in lines(list) {
                    *flags.entry(w).or_insert(0) |= f;
                }
            }
            for w in TECH_WORDS {
                *flags.entry(w).or_insert(0) |= TECH | WORD;
            }
            // 21k given names in 2^18 bits, 110k names in 2^20 bits: two probes each,
            // about 2% and 4% false positives
            let mut first = Bloom::new(18);
            let mut name = Bloom::new(20);
            for (w, f) in &flags {
                if f & (FIRST | INTL) != 0 {
                    first.insert(w);
                }
                if f & (FIRST | INTL | LAST) != 0 {
                    name.insert(w);
                }
            }
            Self { flags, first, name }
        })
    }

    /// The flags of lower-case `w`; a word with Latin diacritics also gets `INTL` when its
    /// folded form is an international given name.
    pub(crate) fn flags(&self, w: &str) -> u8 {
        let f = self.flags.get(w).copied().unwrap_or(0);
        if f & (FIRST | INTL) != 0 || w.is_ascii() {
            return f;
        }
        let folded = fold_latin(w).and_then(|x| self.flags.get(x.as_str()).copied());
        f | (folded.unwrap_or(0) & INTL)
    }

    /// `false` when the word `w` (any case) cannot have `FIRST` or `INTL` in [`Self::flags`]
    /// of its lower-case form; `true` for every word with a non-ASCII byte.
    #[inline]
    pub(crate) fn maybe_first(&self, w: &[u8]) -> bool {
        self.first.may_contain(w)
    }

    /// `false` when the word `w` (any case) cannot have `FIRST`, `INTL` or `LAST` in
    /// [`Self::flags`] of its lower-case form; `true` for every word with a non-ASCII byte.
    #[inline]
    pub(crate) fn maybe_name(&self, w: &[u8]) -> bool {
        self.name.may_contain(w)
    }

    /// A given name (lower-case `w`): US census list, or the international list after
    /// folding Latin diacritics.
    /// (Callers that ask more than one question read [`Self::flags`] once instead.)
    #[cfg(test)]
    pub(crate) fn is_first(&self, w: &str) -> bool {
        self.flags(w) & (FIRST | INTL) != 0
    }

    /// A common English word (lower-case entry in the dictionary) or operational vocabulary.
    pub(crate) fn is_word(&self, w: &str) -> bool {
        self.flags.get(w).is_some_and(|f| f & WORD != 0)
    }
}

/// `w` with Latin diacritics removed (`kateřina` -> `katerina`, `søren` -> `soren`,
/// `þóra` -> `thora`); `None` when a character has no ASCII folding (Greek, Cyrillic, CJK).
pub(crate) fn fold_latin(w: &str) -> Option<String> {
    let mut out = String::with_capacity(w.len());
    for c in w.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        let f = match c.to_lowercase().next().unwrap_or(c) {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
            'æ' => "ae",
            'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
            'ď' | 'đ' | 'ð' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
            'ĥ' | 'ħ' => "h",
            'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
            'ĵ' => "j",
            'ķ' => "k",
            'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
            'ñ' | 'ń' | 'ņ' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
            'œ' => "oe",
            'ŕ' | 'ŗ' | 'ř' => "r",
            'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
            'ß' => "ss",
            'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
            'þ' => "th",
            'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
            'ŵ' => "w",
            'ý' | 'ÿ' | 'ŷ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            _ => return None,
        };
        out.push_str(f);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_given_names_fold_diacritics() {
        let lex = Lexicon::get();
        assert!(lex.is_first("kateřina"));
        assert!(lex.is_first("dariusz"));
        assert!(!lex.is_first("kubernetes"));
        assert_eq!(fold_latin("Þóra").as_deref(), Some("thora"));
        assert_eq!(fold_latin("Σοφία"), None);
    }

    #[test]
    fn blooms_never_reject_a_name_of_the_lists() {
        let lex = Lexicon::get();
        let mut rejected_words = 0usize;
        for (w, &f) in &lex.flags {
            let upper = w.to_uppercase();
            if f & (FIRST | INTL) != 0 {
                assert!(
                    lex.maybe_first(w.as_bytes()) && lex.maybe_first(upper.as_bytes()),
                    "{w}"
                );
            }
            if f & (FIRST | INTL | LAST) != 0 {
                assert!(
                    lex.maybe_name(w.as_bytes()) && lex.maybe_name(upper.as_bytes()),
                    "{w}"
                );
            } else if !lex.maybe_name(w.as_bytes()) {
                rejected_words += 1;
            }
        }
        // most words that are no name are rejected without a lookup
        assert!(rejected_words > 20_000, "{rejected_words}");
        assert!(lex.maybe_first("kateřina".as_bytes()));
        assert!(!lex.maybe_first(b"kubernetes") || !lex.maybe_first(b"instruction"));
    }
}
