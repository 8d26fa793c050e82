//! Knowledge extraction, log signatures and the per-tenant incident graph.
//!
//! - [`signature`]: the online log template miner behind `bacca signatures`.

#![forbid(unsafe_code)]

mod error;
pub mod signature;

pub use error::{Error, Result};
