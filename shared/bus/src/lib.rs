//! Publisher trait: Pub/Sub and an in-process bus with the same delivery semantics.

#![forbid(unsafe_code)]
