//! Eight bytes at a time in a `u64` (SWAR): byte-range masks for the scans.

/// `0x01` in every byte of a `u64`.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte of a `u64`.
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `x` (all below `0x80`) that lies in `lo..=hi` (`lo >= 1`,
/// `hi < 0x7F`): no addition carries into the next byte.
#[inline]
pub(crate) const fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let ge = x.wrapping_add((0x80 - lo as u64) * ONES);
    let gt = x.wrapping_add((0x7F - hi as u64) * ONES);
    ge & !gt & HIGHS
}
