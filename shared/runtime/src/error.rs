//! Errors of the runtime itself (environment, binding, logging setup).

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// A failure to start or run the server. Handler failures are [`crate::HandlerError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable has an invalid value (the value is not repeated).
    #[error("invalid value in environment variable {0}")]
    InvalidEnv(&'static str),
    /// Binding the listening socket failed.
    #[error("cannot bind the listening socket: {0}")]
    Bind(#[source] std::io::Error),
    /// A global tracing subscriber is already installed.
    #[error("logging is already initialised")]
    LoggingAlreadyInitialised,
}
