//! The demo's final check: every file under the demo directory, read as bytes, searched for
//! every planted value. Ciphertext cannot match; anything else that matches is a leak.

use std::path::{Path, PathBuf};

/// What the scan saw.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// Files read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Occurrences of planted values.
    pub total: u64,
    /// Files with at least one occurrence (names only).
    pub files_with_hits: Vec<PathBuf>,
}

/// Occurrences of any of `needles` in `haystack`.
pub fn count_in(haystack: &[u8], needles: &[String]) -> u64 {
    let mut n = 0;
    for needle in needles {
        let needle = needle.as_bytes();
        if needle.is_empty() || needle.len() > haystack.len() {
            continue;
        }
        n += haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count() as u64;
    }
    n
}

/// Scans every regular file below `dir`.
///
/// # Errors
/// When a directory or file cannot be read.
pub fn scan_dir(dir: &Path, needles: &[String]) -> std::io::Result<ScanResult> {
    let mut result = ScanResult::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path)?;
                result.files += 1;
                result.bytes += bytes.len() as u64;
                let hits = count_in(&bytes, needles);
                if hits > 0 {
                    result.total += hits;
                    result.files_with_hits.push(path);
                }
            }
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_planted_values_in_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(
            dir.path().join("a/b/x.log"),
            "user jane@example.com twice jane@example.com",
        )
        .unwrap();
        std::fs::write(dir.path().join("clean.txt"), "<EMAIL_ADDRESS_1a2b3c4d>").unwrap();
        let r = scan_dir(dir.path(), &["jane@example.com".into()]).unwrap();
        assert_eq!(r.files, 2);
        assert_eq!(r.total, 2);
        assert_eq!(r.files_with_hits.len(), 1);
    }
}
