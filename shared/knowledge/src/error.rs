//! The crate's error type. Messages carry classes and ids, never record content.

/// Errors of the knowledge crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading input or writing output failed.
    #[error("i/o error: {0}")]
    Io(#[source] std::io::Error),
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
