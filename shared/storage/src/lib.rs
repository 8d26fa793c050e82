//! Tenant object storage (GCS, local directory), raw layout and retention rules.

#![forbid(unsafe_code)]
