//! The crate's error type. Messages carry classes, counts and ids, never record content,
//! connection strings or keys.

/// Errors of the knowledge crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading input or writing output failed.
    #[error("i/o error: {0}")]
    Io(#[source] std::io::Error),
    /// A tenant id is malformed.
    #[error("invalid tenant id")]
    InvalidTenant,
    /// The tenant has no graph in this store (create it first).
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
    /// A store URI has an unsupported scheme or cannot be parsed (the URI is not echoed: it
    /// may hold a password).
    #[error("invalid or unsupported store URI")]
    InvalidStoreUri,
    /// A record or batch breaks a rule; the message names the rule and position only.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Row encryption, decryption or authentication failed.
    #[error("row crypto error: {0}")]
    Crypto(&'static str),
    /// The database schema is older than this binary and migration was not requested.
    #[error(
        "graph schema version {found} is older than this binary's {expected}: run the migration"
    )]
    SchemaTooOld {
        /// Version found in the database.
        found: i64,
        /// Version this binary expects.
        expected: i64,
    },
    /// The database schema is newer than this binary (or has migrations it does not know).
    #[error(
        "graph schema version {found} is newer than this binary's {expected}: upgrade the binary"
    )]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Version this binary expects.
        expected: i64,
    },
    /// A database operation failed; `class` is a fixed description, `code` the SQLSTATE or
    /// SQLite code when there is one.
    #[error("database error: {class}{}", code.as_deref().map(|c| format!(" (code {c})")).unwrap_or_default())]
    Database {
        /// What kind of failure.
        class: &'static str,
        /// Database error code, if any.
        code: Option<String>,
        /// Whether retrying later can succeed.
        retryable: bool,
    },
}

impl Error {
    /// True when the operation may succeed if retried later (nack), false when it is permanent
    /// (dead-letter).
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::Io(_) => true,
            Self::Database { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        let (class, code, retryable) = match &e {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned());
                let (class, retryable) = match db.kind() {
                    sqlx::error::ErrorKind::UniqueViolation => ("unique violation", false),
                    sqlx::error::ErrorKind::ForeignKeyViolation => {
                        ("foreign key violation (edge to an unknown node?)", false)
                    }
                    sqlx::error::ErrorKind::NotNullViolation => ("not-null violation", false),
                    sqlx::error::ErrorKind::CheckViolation => ("check violation", false),
                    _ => {
                        // PostgreSQL 40001/40P01 (serialization, deadlock), 53xxx (resources),
                        // 57P0x (shutdown), SQLite 5/6 (busy/locked) are worth retrying.
                        let c = code.as_deref().unwrap_or("");
                        let retry = c.starts_with("40")
                            || c.starts_with("53")
                            || c.starts_with("57P")
                            || c == "5"
                            || c == "6"
                            || c == "517";
                        ("statement failed", retry)
                    }
                };
                (class, code, retryable)
            }
            sqlx::Error::Io(_) => ("i/o", None, true),
            sqlx::Error::Tls(_) => ("tls", None, true),
            sqlx::Error::PoolTimedOut => ("pool timed out", None, true),
            sqlx::Error::PoolClosed => ("pool closed", None, true),
            sqlx::Error::WorkerCrashed => ("worker crashed", None, true),
            sqlx::Error::Protocol(_) => ("protocol", None, true),
            sqlx::Error::Configuration(_) => ("configuration", None, false),
            sqlx::Error::RowNotFound => ("row not found", None, false),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                ("column decode", None, false)
            }
            sqlx::Error::Migrate(_) => ("migration", None, false),
            _ => ("other", None, false),
        };
        Self::Database {
            class,
            code,
            retryable,
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
