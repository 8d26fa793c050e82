//! Tink-compatible envelope and streaming AEAD, Cloud KMS and local keyring KEKs, keyed pseudonyms.

#![forbid(unsafe_code)]
