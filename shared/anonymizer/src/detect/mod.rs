//! Detectors: cheap byte-level prefilters (memchr, Aho-Corasick on trigger bytes and key
//! names) followed by validation (Luhn, mod-97, phone metadata, SSN ranges, entropy).
//!
//! [`Detector::spans`] is the single entry point (and the fuzz target): it never panics,
//! whatever the input, and returns sorted, non-overlapping byte spans.

mod address;
mod bloom;
mod contact;
mod directory;
mod handle;
mod keywords;
mod lexicon;
mod numbers;
mod person;
mod secret;
mod swar;
mod words;

use crate::span::{resolve, EntityType, Span};
use keywords::present;

pub use directory::{Directory, DirectoryPerson};

/// Settings that change what the detectors report.
#[derive(Debug, Clone, Default)]
pub struct DetectorConfig {
    /// Keep private, loopback and link-local IP addresses (operational data) instead of
    /// reporting them.
    pub keep_private_ips: bool,
}

/// All detectors, built once (lexicons, automata, directory) and shared by reference.
#[derive(Debug)]
pub struct Detector {
    config: DetectorConfig,
    secrets: secret::SecretFinder,
    keys: handle::KeyFinder,
    directory: directory::DirectoryMatcher,
}

impl Detector {
    /// Build the detectors with a tenant directory.
    #[must_use]
    pub fn new(config: DetectorConfig, directory: &Directory) -> Self {
        Self {
            config,
            secrets: secret::SecretFinder::new(),
            keys: handle::KeyFinder::new(),
            directory: directory::DirectoryMatcher::new(directory),
        }
    }

    /// Every PII and secret span in `text`: byte offsets, sorted, non-overlapping.
    #[must_use]
    pub fn spans(&self, text: &str) -> Vec<Span> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(8);
        let kw = keywords::Keywords::scan(text);
        self.secrets.find(text, &kw, &mut out);
        // each detector below needs the byte(s) it is skipped without
        if kw.has(present::AT) {
            contact::emails(text, kw.marks(), &mut out);
        }
        if kw.has(present::DOT | present::COLON) {
            contact::ips(text, kw.marks(), self.config.keep_private_ips, &mut out);
        }
        if kw.has(present::LT) && kw.has(present::AT) {
            handle::slack_mentions(text, &mut out);
        }
        if kw.has(present::AT) {
            handle::at_handles(text, kw.marks(), &mut out);
        }
        if kw.has(present::COLON) {
            handle::jira_account_ids(text, kw.marks(), &mut out);
        }
        self.keys.find(text, &kw, &mut out);
        // the word starts where a directory entry may start (see `DirectoryMatcher::find_from`),
        // taken in the IBAN scan's pass over the word starts when there is one
        let mut dir_starts = DIR_STARTS.with(std::cell::RefCell::take);
        dir_starts.clear();
        let dir = &self.directory;
        let mut dir_pending = dir.at_word_starts();
        // IBANs, cards, SSNs, phones, licences and addresses all hold digits
        if kw.has(present::DIGIT) {
            let ib = out.len();
            if dir_pending {
                let bytes = text.as_bytes();
                numbers::ibans(text, &kw, &mut out, |s| {
                    if dir.may_start(bytes, s) {
                        dir_starts.push(s);
                    }
                });
                dir_pending = false;
            } else {
                numbers::ibans(text, &kw, &mut out, |_| {});
            }
            let ibans: Vec<Span> = out.get(ib..).unwrap_or_default().to_vec();
            numbers::find(text, &kw, &ibans, &mut out);
            address::find(text, &kw, &mut out);
        }
        if dir_pending {
            dir.push_starts(text.as_bytes(), kw.word_starts(), &mut dir_starts);
        }
        dir.find_from(text, &dir_starts, &mut out);
        dir_starts.clear();
        dir_starts.shrink_to(DIR_STARTS_KEEP);
        DIR_STARTS.with(|c| c.replace(dir_starts));
        person::find(text, kw.word_starts(), &mut out);
        kw.recycle();
        resolve(out)
    }

    /// The entity types this detector can report.
    #[must_use]
    pub fn entity_types(&self) -> &'static [EntityType] {
        &EntityType::ALL
    }
}

/// Directory word-start lists kept above this many entries are released after a line (a
/// 10 MiB line must not pin its list for the life of the thread).
const DIR_STARTS_KEEP: usize = 1 << 14;

std::thread_local! {
    /// The directory's word starts of the previous line, reused (no allocation per line).
    static DIR_STARTS: std::cell::RefCell<Vec<usize>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Substring searchers built once (building a searcher per call costs more than scanning a
/// short line).
pub(crate) struct Finders {
    pub(crate) mention: memchr::memmem::Finder<'static>,
    pub(crate) pem: memchr::memmem::Finder<'static>,
    pub(crate) scheme: memchr::memmem::Finder<'static>,
    /// `Bearer `/`bearer ` after its first letter (one search for both cases)
    pub(crate) bearer: memchr::memmem::Finder<'static>,
    /// `Basic `
    pub(crate) basic: memchr::memmem::Finder<'static>,
}

pub(crate) fn finders() -> &'static Finders {
    static F: std::sync::OnceLock<Finders> = std::sync::OnceLock::new();
    F.get_or_init(|| Finders {
        mention: memchr::memmem::Finder::new(b"<@"),
        pem: memchr::memmem::Finder::new(b"-----BEGIN "),
        scheme: memchr::memmem::Finder::new(b"://"),
        bearer: memchr::memmem::Finder::new(b"earer "),
        basic: memchr::memmem::Finder::new(b"Basic "),
    })
}

/// Whether `needle` occurs in the short `hay`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return false;
    };
    // compare the first byte inline: most windows fail there, without a memcmp call
    hay.windows(needle.len())
        .any(|w| w.first() == Some(&first) && w == needle)
}

/// Adds `i` to the bit set `set` (64 per word; an `i` past its end is left out).
#[inline]
pub(crate) fn bit_insert(set: &mut [u64], i: usize) {
    if let Some(w) = set.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

/// Whether `i` is in the bit set `set` (see [`bit_insert`]).
#[inline]
pub(crate) fn bit_contains(set: &[u64], i: usize) -> bool {
    set.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

/// Where the bytes `a`, `b`, `c` fall in a set of `2^bits` (at most 32) bits, each with its
/// bit `0x20` set: that lower-cases ASCII letters and folds some other pairs of bytes
/// together (`@` and `` ` ``), a coarser fold than the automata's ASCII case-insensitivity,
/// so the trigram of a match is always that of its pattern (one OR instead of a lower-casing
/// per byte).
#[inline]
pub(crate) fn folded_trigram(a: u8, b: u8, c: u8, bits: u32) -> usize {
    let k = (u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c)) | 0x0020_2020;
    (k.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
}

/// Bytes that continue an identifier-like word.
#[inline]
pub(crate) const fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The byte before `i`, if any.
#[inline]
pub(crate) fn before(bytes: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).and_then(|j| bytes.get(j).copied())
}

/// How a byte before a token bears on [`clean_left`]: glues it (a word byte), glues it when
/// itself glued to a word byte (a separator), or does not.
const LEFT_GLUED: u8 = 0;
/// See [`LEFT_GLUED`].
const LEFT_SEPARATOR: u8 = 1;
/// See [`LEFT_GLUED`].
const LEFT_CLEAN: u8 = 2;

/// [`LEFT_GLUED`], [`LEFT_SEPARATOR`] or [`LEFT_CLEAN`] of every byte, as a table.
const LEFT: [u8; 256] = {
    let mut t = [LEFT_CLEAN; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        if is_word_byte(c) {
            t[b] = LEFT_GLUED;
        } else if matches!(
            c,
            b'-' | b'.' | b'/' | b'\\' | b'#' | b'$' | b'%' | b'+' | b'@' | b'&' | b'~'
        ) {
            t[b] = LEFT_SEPARATOR;
        }
        b += 1;
    }
    t
};

/// True when the token starting at `i` is not glued to a preceding identifier
/// (`build-123`, `v1.2`, `/path/123`, `x_9`).
#[inline]
pub(crate) fn clean_left(bytes: &[u8], i: usize) -> bool {
    let Some(b) = before(bytes, i) else {
        return true;
    };
    match LEFT[usize::from(b)] {
        LEFT_GLUED => false,
        // glued when the separator itself follows a word character
        LEFT_SEPARATOR => !before(bytes, i - 1).is_some_and(is_word_byte),
        _ => true,
    }
}

/// True when the token ending at `end` is not glued to a following identifier.
pub(crate) fn clean_right(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        None => true,
        Some(&b) if is_word_byte(b) => false,
        Some(b'-' | b'.' | b'/' | b'\\' | b'_' | b'@') => {
            !matches!(bytes.get(end + 1), Some(&c) if c.is_ascii_alphanumeric())
        }
        Some(_) => true,
    }
}

/// Longest context window, in bytes.
const WINDOW_MAX: usize = 48;

/// ASCII-lowercased bytes just before a position (context cues), on the stack.
pub(crate) struct Window {
    buf: [u8; WINDOW_MAX],
    len: usize,
}

impl Window {
    /// The lower-cased bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Whether the window contains `needle` (given in lower case).
    pub(crate) fn contains(&self, needle: &str) -> bool {
        let hay = self.buf.get(..self.len).unwrap_or_default();
        let needle = needle.as_bytes();
        let Some(&first) = needle.first() else {
            return false;
        };
        // candidate positions of the first byte by memchr (most windows hold none or few)
        memchr::memchr_iter(first, hay).any(|i| hay.get(i..).is_some_and(|r| r.starts_with(needle)))
    }
}

/// ASCII-lowercased window of up to `n` (at most 48) bytes before `i` (for context cues).
pub(crate) fn window_before(bytes: &[u8], i: usize, n: usize) -> Window {
    let i = i.min(bytes.len());
    let s = i.saturating_sub(n.min(WINDOW_MAX));
    let src = bytes.get(s..i).unwrap_or_default();
    let mut w = Window {
        buf: [0u8; WINDOW_MAX],
        len: src.len(),
    };
    for (d, b) in w.buf.iter_mut().zip(src) {
        *d = b.to_ascii_lowercase();
    }
    w
}

/// Shannon entropy in bits per byte.
pub(crate) fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[usize::from(b)] += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Reproducible pseudo-random test input: xorshift64, one fixed sequence per seed.
#[cfg(test)]
pub(crate) struct Xorshift(pub(crate) u64);

#[cfg(test)]
impl Xorshift {
    /// The next value of the sequence (also left in `.0`).
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `count` of `pieces` glued together, each drawn by the next value.
    pub(crate) fn glued<S: AsRef<str>>(&mut self, pieces: &[S], count: u64) -> String {
        let mut t = String::new();
        for _ in 0..count {
            let k = usize::try_from(self.next() % pieces.len() as u64).unwrap_or(0);
            t.push_str(pieces[k].as_ref());
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `clean_left` as one branch per byte class (the table's reference).
    fn clean_left_reference(bytes: &[u8], i: usize) -> bool {
        match before(bytes, i) {
            None => true,
            Some(b) if is_word_byte(b) => false,
            Some(b'-' | b'.' | b'/' | b'\\' | b'#' | b'$' | b'%' | b'+' | b'@' | b'&' | b'~') => {
                !matches!(before(bytes, i - 1), Some(c) if is_word_byte(c))
            }
            Some(_) => true,
        }
    }

    #[test]
    fn clean_left_table_matches_the_byte_classes() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let t = [a, b, b'7'];
                for i in 0..=2 {
                    assert_eq!(
                        clean_left(&t[i.min(2)..], 2 - i.min(2)),
                        clean_left_reference(&t[i.min(2)..], 2 - i.min(2)),
                        "{a} {b} {i}"
                    );
                }
            }
        }
    }
}
