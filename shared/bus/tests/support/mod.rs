//! Test support shared by the integration tests and benches.
pub mod grpc_fake;
