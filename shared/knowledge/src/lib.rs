//! Knowledge extraction, log signatures and the per-tenant incident graph.

#![forbid(unsafe_code)]
