//! Stable content hashing of signatures (identical across runs and builds).

/// FNV-1a 64: a stable content hash for signature ids (identical across runs and builds).
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_of(bytes.iter().copied())
}

/// [`fnv1a64`] over bytes as they come (e.g. lower-cased on the way, without a copy).
pub(crate) fn fnv1a64_of(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
