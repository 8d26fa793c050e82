//! The Cloud Run function contract: Pub/Sub push, CloudEvents, Scheduler, OIDC, ack/nack, SIGTERM, JSON logs.

#![forbid(unsafe_code)]
