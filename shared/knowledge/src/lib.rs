//! Knowledge extraction, log signatures and the per-tenant incident graph.
//!
//! - [`signature`]: the online log template miner behind `bacca signatures`.
//! - [`model`]: nodes, edges, tenants and batches.
//! - [`cipher`]: per-row encryption of sensitive columns and keyed blind indexes.
//! - [`store`]: the [`store::GraphStore`] trait with SQLite and PostgreSQL backends.
//! - [`extract`]: anonymized records (JSON) to nodes and edges.
//! - [`graph`]: [`graph::KnowledgeGraph`], one tenant's graph over a store and a cipher.

#![forbid(unsafe_code)]

pub mod cipher;
mod error;
pub mod extract;
pub mod graph;
mod id_hash;
pub mod model;
pub mod signature;
pub mod store;

pub use error::{Error, Result};
