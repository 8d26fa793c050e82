//! Helpers shared by the black-box tests in `tests/`.

#![forbid(unsafe_code)]
