//! CRC32C (Castagnoli), the integrity checksum Cloud KMS uses on request and response fields.

const POLY: u32 = 0x82F6_3B78;

#[allow(
    clippy::indexing_slicing,
    reason = "compile-time table: i < 256 indexes a [u32; 256]"
)]
const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// The CRC32C of `data`.
#[must_use]
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        // The low byte of the running CRC selects the table entry: always in 0..=255.
        let [low, ..] = (crc ^ u32::from(b)).to_le_bytes();
        crc = TABLE.get(usize::from(low)).copied().unwrap_or_default() ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::crc32c;

    #[test]
    fn known_vectors() {
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    }
}
