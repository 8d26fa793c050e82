//! What every function reads from its environment besides its own settings: the local data
//! directory, the dead-letter topic and its publisher, and push authentication.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `PORT` | listening port | 8080 |
//! | `GOOGLE_CLOUD_PROJECT` | project of the Pub/Sub topics and Cloud Trace | none |
//! | `BACCA_DATA_DIR` | local mode: where embedded backends keep their files | `$TMPDIR/bacca-local` |
//! | `BACCA_DEAD_LETTER_TOPIC` | topic for permanently failing messages | `dead-letter` |
//! | `BACCA_OIDC_AUDIENCE`, `BACCA_OIDC_SERVICE_ACCOUNT` | require Pub/Sub push OIDC tokens | off |
//! | `BACCA_OIDC_JWKS_URL` | where Google's signing keys are fetched | Google's certs |
//! | `BACCA_HEADER_READ_TIMEOUT_SECS` | time to send a request's header block, then the connection is closed | 30 |
//!
//! With `GOOGLE_CLOUD_PROJECT` set, dead letters go to Cloud Pub/Sub
//! ([`bacca_bus::PubSubPublisher`]); without it (local mode) they are appended to
//! `<BACCA_DATA_DIR>/topics/<topic>.jsonl` ([`LocalLayout::topic_file`]), so nothing is
//! dropped in either mode.

use std::path::PathBuf;
use std::sync::Arc;

use bacca_bus::{FilePublisher, PubSubPublisher, Publisher};

use crate::{Error, OidcConfig, Result, RuntimeConfig};

/// The default dead-letter topic name.
pub const DEFAULT_DEAD_LETTER_TOPIC: &str = "dead-letter";

/// The local-mode data directory: `BACCA_DATA_DIR`, else `bacca-local` under the system's
/// temporary directory; created if missing.
///
/// # Errors
/// [`Error::InvalidEnv`] when the directory cannot be created.
pub fn local_data_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("BACCA_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| std::env::temp_dir().join("bacca-local"), PathBuf::from);
    std::fs::create_dir_all(&dir).map_err(|_| Error::InvalidEnv("BACCA_DATA_DIR"))?;
    Ok(dir)
}

/// The value of environment variable `name`, or `None` when it is unset or blank.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where the embedded backends keep their files in local mode, one layout for every function
/// and the CLI, so the three functions and `bacca demo` share one data directory.
///
/// ```
/// let l = bacca_runtime::env::LocalLayout::new("/data");
/// assert_eq!(l.store_template(), "file:///data/objects/{tenant}");
/// assert_eq!(l.kms_uri(), "local-kms:///data/keyring.json");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalLayout {
    dir: PathBuf,
}

impl LocalLayout {
    /// The layout under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The layout under the local-mode data directory ([`local_data_dir`]: `BACCA_DATA_DIR`,
    /// else `bacca-local` under the temporary directory; created if missing).
    ///
    /// # Errors
    /// [`Error::InvalidEnv`] when the directory cannot be created.
    pub fn from_env() -> Result<Self> {
        local_data_dir().map(Self::new)
    }

    /// The data directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Each tenant's raw "bucket": `file://<dir>/objects/{tenant}`.
    pub fn store_template(&self) -> String {
        format!("file://{}/objects/{{tenant}}", self.dir.display())
    }

    /// The development keyring file: `<dir>/keyring.json`.
    pub fn keyring_file(&self) -> PathBuf {
        self.dir.join("keyring.json")
    }

    /// The development keyring: `local-kms://<dir>/keyring.json` ([`Self::keyring_file`]).
    pub fn kms_uri(&self) -> String {
        format!("local-kms://{}", self.keyring_file().display())
    }

    /// The knowledge graph: `sqlite://<dir>/graph` (a file per tenant).
    pub fn graph_uri(&self) -> String {
        format!("sqlite://{}/graph", self.dir.display())
    }

    /// The append-only audit file.
    pub fn audit_file(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    /// The JSON-lines file standing in for a topic.
    pub fn topic_file(&self, topic: &str) -> PathBuf {
        self.dir.join("topics").join(format!("{topic}.jsonl"))
    }
}

impl RuntimeConfig {
    /// [`RuntimeConfig::from_env`] plus the dead-letter publisher and OIDC settings described
    /// in the [module docs](self).
    ///
    /// # Errors
    /// [`Error::InvalidEnv`] naming the variable: a bad `PORT`, only one of the two OIDC
    /// variables, or a Pub/Sub client that cannot be built.
    pub fn from_function_env() -> Result<Self> {
        let mut config = Self::from_env()?;
        let topic = env_var("BACCA_DEAD_LETTER_TOPIC").unwrap_or(DEFAULT_DEAD_LETTER_TOPIC.into());
        let publisher: Arc<dyn Publisher> = match &config.project_id {
            Some(project) => Arc::new(
                PubSubPublisher::new(project)
                    .map_err(|_| Error::InvalidEnv("GOOGLE_CLOUD_PROJECT"))?,
            ),
            None => Arc::new(FilePublisher::new(
                LocalLayout::from_env()?.topic_file(&topic),
            )),
        };
        config = config.dead_letter(topic, publisher);
        match (
            env_var("BACCA_OIDC_AUDIENCE"),
            env_var("BACCA_OIDC_SERVICE_ACCOUNT"),
        ) {
            (Some(audience), Some(email)) => {
                let mut oidc = OidcConfig::new(audience, email);
                if let Some(url) = env_var("BACCA_OIDC_JWKS_URL") {
                    oidc = oidc.jwks_url(url);
                }
                config = config.oidc(oidc);
            }
            (None, None) => {}
            (Some(_), None) => return Err(Error::InvalidEnv("BACCA_OIDC_SERVICE_ACCOUNT")),
            (None, Some(_)) => return Err(Error::InvalidEnv("BACCA_OIDC_AUDIENCE")),
        }
        Ok(config)
    }
}
