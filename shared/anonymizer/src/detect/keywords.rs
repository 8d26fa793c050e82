//! One case-insensitive Aho-Corasick scan for every keyword-triggered detector (credential key
//! names, identity key names, address unit words, street-name endings, licence cues): the
//! text is scanned once and each detector reads its own matches.

use super::secret::is_key_byte;
use super::swar::{in_range, HIGHS, ONES};
use super::{bit_contains, folded_trigram};

mod automaton;

pub(crate) use automaton::KwMatch;
use automaton::{automaton, has_tail, may_end_identity_key, Automaton, KEY_GRAM_BITS};

/// Which detector a keyword belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    SecretKey,
    IdentityKey,
    Unit,
    Ending,
    Licence,
}

/// All keyword matches of one text, and where its words start.
#[derive(Debug, Default)]
pub(crate) struct Keywords {
    matches: Vec<KwMatch>,
    /// Offsets of the first byte of every run of word bytes (`super::is_word_byte`).
    word_starts: Vec<usize>,
    /// The word starts at an ASCII digit (where every digit-run detector starts).
    digit_starts: Vec<usize>,
    /// Offsets of the bytes `-` `.` `/` `:` `;` `<` `=` `>` `?` `@` (see [`Keywords::marks`]).
    marks: Vec<usize>,
    /// The [`present`] bits of the text's bytes.
    present: u8,
}

/// [`KEY_CLASS`] of a byte that is no key byte (`is_key_byte`).
const NOT_KEY: u8 = 0;
/// [`KEY_CLASS`] of a key byte that is no ASCII letter.
const KEY_OTHER: u8 = 1;
/// [`KEY_CLASS`] of an ASCII letter (a key byte).
const KEY_LETTER: u8 = 2;

/// [`NOT_KEY`], [`KEY_OTHER`] or [`KEY_LETTER`] of every byte, as a table.
const KEY_CLASS: [u8; 256] = {
    let mut t = [NOT_KEY; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphabetic() {
            t[b] = KEY_LETTER;
        } else if is_key_byte(c) {
            t[b] = KEY_OTHER;
        }
        b += 1;
    }
    t
};

/// Bytes that continue a word (`super::is_word_byte`) and bytes after which a keyword can
/// matter (digits, `=`, `:`), as tables.
const WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0usize;
    while b < 256 {
        t[b] = super::is_word_byte(b as u8);
        b += 1;
    }
    t
};
/// Bytes whose presence in a text the detectors ask about ([`Keywords::has`]), one bit each.
pub(crate) mod present {
    /// `0`-`9`.
    pub(crate) const DIGIT: u8 = 1;
    /// `=`.
    pub(crate) const EQ: u8 = 2;
    /// `:`.
    pub(crate) const COLON: u8 = 4;
    /// `@`.
    pub(crate) const AT: u8 = 8;
    /// `<`.
    pub(crate) const LT: u8 = 16;
    /// `.`.
    pub(crate) const DOT: u8 = 32;
    /// `-`.
    pub(crate) const DASH: u8 = 64;
    /// `/`.
    pub(crate) const SLASH: u8 = 128;
}

/// The [`present`] bit of each byte.
const PRESENT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'0'..=b'9' => present::DIGIT,
            b'=' => present::EQ,
            b':' => present::COLON,
            b'@' => present::AT,
            b'<' => present::LT,
            b'.' => present::DOT,
            b'-' => present::DASH,
            b'/' => present::SLASH,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// Word-start lists kept above this many entries are released when recycled (a 10 MiB line
/// must not pin its list for the life of the thread).
const WORD_STARTS_KEEP: usize = 1 << 14;

std::thread_local! {
    /// The word-start list of the previous line, reused (see [`Keywords::recycle`]).
    static WORD_STARTS: std::cell::RefCell<Vec<usize>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The digit word-start list of the previous line, reused.
    static DIGIT_STARTS: std::cell::RefCell<Vec<usize>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The mark list of the previous line, reused.
    static MARKS: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The search windows of the previous line, reused.
    static REGIONS: std::cell::RefCell<Vec<(usize, usize)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The windows (sorted, disjoint byte ranges) that hold every keyword match a detector can
/// act on; `max_len` is the longest pattern. What each detector needs after its keyword:
/// - credential keys (`secret::key_value`): the key (a run of key bytes holding the keyword),
///   an optional quote, spaces or tabs, then `=` or `:`;
/// - identity keys (`handle::KeyFinder`): the keyword, an optional quote, spaces, then `=`
///   or `:`;
/// - unit words and street endings (`address`): every pattern ends with a space and needs a
///   digit right after it, so the match ends at a word start that is a digit after a space,
///   and the two bytes before that space end one of those patterns (`place_tails`);
/// - licence cues (`numbers::licences`): every cue holds `licen` or `dl` (any case).
///
/// Matches elsewhere are dropped by those detectors, so leaving them out changes nothing.
/// A credential key lies within the run of key bytes before its `=` or `:`; the window
/// reaches further back (an identity key may hold a space: `incident commander:`) only when
/// the key ends with the last two bytes of an identity key (`id_tails`) and with its last
/// five bytes, or all of a shorter one (`id_ends`), as each does;
/// otherwise there is a window only when the key holds the first three bytes of a credential
/// key (in any ASCII case).
fn regions(
    bytes: &[u8],
    digit_starts: &[usize],
    marks: &[usize],
    a: &Automaton,
    out: &mut Vec<(usize, usize)>,
) {
    let max_len = a.max_len;
    // `key = `, `"key": `: back over spaces/tabs and one quote to the key's end
    for p in of_byte(bytes, marks, b'=', b':') {
        let mut q = p;
        while q > 0 && matches!(bytes.get(q - 1), Some(b' ' | b'\t')) {
            q -= 1;
        }
        if q > 0 && matches!(bytes.get(q - 1), Some(b'"' | b'\'')) {
            q -= 1;
        }
        // back over the key bytes, noting whether one is a letter (one table look-up each)
        let mut ks = q;
        let mut letter = false;
        while let Some(&b) = ks.checked_sub(1).and_then(|k| bytes.get(k)) {
            let class = KEY_CLASS[usize::from(b)];
            if class == NOT_KEY {
                break;
            }
            letter |= class == KEY_LETTER;
            ks -= 1;
        }
        // every credential and identity key ends in a letter or holds one, which is a key
        // byte: a key of digits only (`18:01:47`) can hold neither
        if letter {
            let identity = match (
                q.checked_sub(2).and_then(|k| bytes.get(k)),
                q.checked_sub(1).and_then(|k| bytes.get(k)),
            ) {
                // the last two bytes, then the last five: most keys that end like an
                // identity key (`request_id`, `dd.span_id`) end with no identity key
                (Some(&x), Some(&y)) => {
                    has_tail(&a.id_tails, x, y) && may_end_identity_key(a, bytes, q)
                }
                _ => true,
            };
            if identity {
                out.push((ks.min(q.saturating_sub(max_len)), q));
            } else if bytes.get(ks..q).is_some_and(|key| {
                key.windows(3).any(|w| {
                    bit_contains(
                        &a.secret_heads,
                        folded_trigram(w[0], w[1], w[2], KEY_GRAM_BITS),
                    )
                })
            }) {
                // no identity key ends here, so only a credential key, which lies in the key,
                // can be acted on: a key that holds the first three bytes of none
                // (`2026-11-24T03`, `timestamp`) needs no window
                out.push((ks, q));
            }
        }
    }
    // `Suite 5`, `Hauptstraße 5`: the match ends right before a digit that follows a space
    for &s in digit_starts {
        // the two bytes before the space end a unit word or street ending (`place_tails`)
        if s > 2
            && bytes.get(s - 1) == Some(&b' ')
            && has_tail(&a.place_tails, bytes[s - 3], bytes[s - 2])
        {
            out.push((s.saturating_sub(max_len), s));
        }
    }
    // licence cues, around each `dl` or `licen`
    for i in memchr::memchr2_iter(b'l', b'L', bytes) {
        let dl = i > 0 && matches!(bytes.get(i - 1), Some(b'd' | b'D'));
        let licen = bytes
            .get(i + 1..i + 5)
            .is_some_and(|r| r.eq_ignore_ascii_case(b"icen"));
        if dl || licen {
            out.push((i.saturating_sub(max_len), (i + max_len).min(bytes.len())));
        }
    }
    // three ascending runs (keys, units, licence cues): a stable sort merges them
    out.sort();
    // merge overlapping and touching windows, so no match is reported twice
    out.dedup_by(|next, last| {
        let merge = next.0 <= last.1;
        if merge {
            last.1 = last.1.max(next.1);
        }
        merge
    });
}

/// The offsets among `marks` (see [`Keywords::marks`]) where `bytes` holds `a` or `b`.
#[inline]
pub(crate) fn of_byte<'a>(
    bytes: &'a [u8],
    marks: &'a [usize],
    a: u8,
    b: u8,
) -> impl Iterator<Item = usize> + 'a {
    marks
        .iter()
        .copied()
        .filter(move |&p| bytes.get(p).is_some_and(|&c| c == a || c == b))
}

/// The high bit of every word byte (`super::is_word_byte`) of the eight bytes `x`.
#[inline]
const fn word_mask(x: u64) -> u64 {
    let x7 = x & !HIGHS;
    let ascii = !x & HIGHS;
    let letters = in_range(x7 | (0x20 * ONES), b'a', b'z');
    let digits = in_range(x7, b'0', b'9');
    let under = in_range(x7, b'_', b'_');
    ((letters | digits | under) & ascii) | (x & HIGHS)
}

/// Offsets where a run of word bytes starts (shared by the detectors, so each visits words
/// instead of bytes), those of them at an ASCII digit (the digit-run detectors visit only
/// these), and the [`present`] bits of the bytes. The word bytes of eight bytes at a time as
/// a bit mask (SWAR), each start taken from it.
fn word_starts(bytes: &[u8]) -> (Vec<usize>, Vec<usize>, Vec<usize>, u8) {
    let mut out = WORD_STARTS.with(std::cell::RefCell::take);
    out.clear();
    out.reserve(bytes.len() / 6 + 1);
    let mut digit_out = DIGIT_STARTS.with(std::cell::RefCell::take);
    digit_out.clear();
    let mut marks = MARKS.with(std::cell::RefCell::take);
    marks.clear();
    // whether a digit occurs (the other [`present`] bytes are marks)
    let mut any_digit = 0u64;
    // the high bit of the previous chunk's last byte, moved to below this chunk's first
    let mut carry = 0u64;
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0usize;
    for chunk in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        let x = u64::from_le_bytes(a);
        let w = word_mask(x);
        let mut starts = w & !((w << 8) | carry);
        carry = w >> 56;
        let x7 = x & !HIGHS;
        let digit_bytes = in_range(x7, b'0', b'9') & !x;
        any_digit |= digit_bytes;
        let mut digits = starts & digit_bytes;
        // `-` (0x2D) to `@` (0x40) but the digits
        let mut mark = in_range(x7, b'-', b'@') & !x & !digit_bytes;
        while starts != 0 {
            out.push(base + starts.trailing_zeros() as usize / 8);
            starts &= starts - 1;
        }
        while digits != 0 {
            digit_out.push(base + digits.trailing_zeros() as usize / 8);
            digits &= digits - 1;
        }
        while mark != 0 {
            marks.push(base + mark.trailing_zeros() as usize / 8);
            mark &= mark - 1;
        }
        base += 8;
    }
    let mut prev = carry != 0;
    for (k, &b) in chunks.remainder().iter().enumerate() {
        let w = WORD[usize::from(b)];
        if w && !prev {
            out.push(base + k);
            if b.is_ascii_digit() {
                digit_out.push(base + k);
            }
        }
        if b.is_ascii_digit() {
            any_digit = 1;
        } else if (b'-'..=b'@').contains(&b) {
            marks.push(base + k);
        }
        prev = w;
    }
    let mut seen = if any_digit != 0 { present::DIGIT } else { 0 };
    for &m in &marks {
        seen |= PRESENT[usize::from(bytes[m])];
    }
    (out, digit_out, marks, seen)
}

impl Keywords {
    /// Every keyword match a detector can act on, in text order (overlapping matches, so no
    /// group hides another's keyword). The automaton runs only over the windows where such a
    /// match can lie (see [`regions`]), not over the whole text; within them it reports
    /// exactly what a whole-text scan reports there.
    pub(crate) fn scan(text: &str) -> Self {
        let (word_starts, digit_starts, marks, seen) = word_starts(text.as_bytes());
        let a = automaton();
        // every keyword group needs a digit or a `=`/`:` after the keyword
        let trigger = seen & (present::DIGIT | present::EQ | present::COLON) != 0;
        let (Some(ac), true) = (&a.ac, trigger) else {
            return Self {
                matches: Vec::new(),
                word_starts,
                digit_starts,
                marks,
                present: seen,
            };
        };
        let mut matches = Vec::new();
        REGIONS.with(|cell| {
            let mut wins = cell.take();
            wins.clear();
            regions(text.as_bytes(), &digit_starts, &marks, a, &mut wins);
            for &(s, e) in &wins {
                let input = aho_corasick::Input::new(text).range(s..e);
                let mut state = aho_corasick::automaton::OverlappingState::start();
                loop {
                    if ac.try_find_overlapping(input.clone(), &mut state).is_err() {
                        break;
                    }
                    let Some(m) = state.get_match() else { break };
                    if let Some(&(group, local)) = a.ids.get(m.pattern().as_usize()) {
                        matches.push(KwMatch {
                            start: m.start(),
                            end: m.end(),
                            local,
                            group,
                        });
                    }
                }
            }
            wins.shrink_to(WORD_STARTS_KEEP);
            cell.replace(wins);
        });
        Self {
            matches,
            word_starts,
            digit_starts,
            marks,
            present: seen,
        }
    }

    /// Whether the text holds a byte of any of the [`present`] classes in `bits`.
    pub(crate) const fn has(&self, bits: u8) -> bool {
        self.present & bits != 0
    }

    /// The whole-text scan the windows replace (tests compare the two).
    #[cfg(test)]
    fn scan_whole(text: &str) -> Vec<KwMatch> {
        let a = automaton();
        let Some(ac) = &a.ac else { return Vec::new() };
        ac.find_overlapping_iter(text)
            .filter_map(|m| {
                let &(group, local) = a.ids.get(m.pattern().as_usize())?;
                Some(KwMatch {
                    start: m.start(),
                    end: m.end(),
                    local,
                    group,
                })
            })
            .collect()
    }

    /// Hand the word-start lists back for the next line's scan (no allocation per line).
    pub(crate) fn recycle(self) {
        for (mut v, cell) in [
            (self.word_starts, &WORD_STARTS),
            (self.digit_starts, &DIGIT_STARTS),
            (self.marks, &MARKS),
        ] {
            v.clear();
            v.shrink_to(WORD_STARTS_KEEP);
            cell.with(|c| c.replace(v));
        }
    }

    /// Offsets where words start, ascending.
    pub(crate) fn word_starts(&self) -> &[usize] {
        &self.word_starts
    }

    /// The word starts at an ASCII digit, ascending.
    pub(crate) fn digit_starts(&self) -> &[usize] {
        &self.digit_starts
    }

    /// Offsets of the bytes `-` `.` `/` `:` `;` `<` `=` `>` `?` `@`, ascending: the detectors
    /// that start at one of these bytes read its offsets from here (one scan of the text
    /// for all of them instead of a `memchr` per detector).
    pub(crate) fn marks(&self) -> &[usize] {
        &self.marks
    }

    /// The matches of one group, in text order.
    pub(crate) fn of(&self, g: Group) -> impl Iterator<Item = &KwMatch> {
        self.matches.iter().filter(move |m| m.group == g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_starts_match_a_byte_by_byte_scan_across_chunks() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(if i % 3 == 0 { "ab-1 " } else { "é_x9," });
        }
        let bytes = text.as_bytes();
        let want: Vec<usize> = (0..bytes.len())
            .filter(|&i| {
                super::super::is_word_byte(bytes[i])
                    && (i == 0 || !super::super::is_word_byte(bytes[i - 1]))
            })
            .collect();
        let (got, digits, _, seen) = word_starts(bytes);
        assert_eq!(got, want);
        let want_digits: Vec<usize> = want
            .iter()
            .copied()
            .filter(|&i| bytes[i].is_ascii_digit())
            .collect();
        assert_eq!(digits, want_digits);
        assert_eq!(seen, present::DIGIT | present::DASH);
        assert_eq!(word_starts(b"no keys here").3, 0);
        assert_eq!(
            word_starts(b"a=b:c@d<e.f/g").3,
            present::EQ
                | present::COLON
                | present::AT
                | present::LT
                | present::DOT
                | present::SLASH
        );
    }

    #[test]
    fn word_starts_marks_and_present_bits_match_byte_by_byte_on_any_bytes() {
        // every byte value, at every position of a chunk and of the remainder
        let mut rng = crate::detect::Xorshift(0x0123_4567_89ab_cdef);
        for _ in 0..20_000 {
            let x = rng.next();
            let len = (x % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|k| {
                    let b = x.rotate_left((k * 11) as u32) as u8;
                    // mostly the bytes the classes are about, some of every other value
                    match b % 4 {
                        0 => b"-./0:;<=>?@9Az_ "[usize::from(b >> 4)],
                        _ => b,
                    }
                })
                .collect();
            let want: Vec<usize> = (0..len)
                .filter(|&i| {
                    super::super::is_word_byte(bytes[i])
                        && (i == 0 || !super::super::is_word_byte(bytes[i - 1]))
                })
                .collect();
            let want_digits: Vec<usize> = want
                .iter()
                .copied()
                .filter(|&i| bytes[i].is_ascii_digit())
                .collect();
            let want_seen = bytes.iter().fold(0, |s, &b| s | PRESENT[usize::from(b)]);
            let want_marks: Vec<usize> = (0..len)
                .filter(|&i| (b'-'..=b'@').contains(&bytes[i]) && !bytes[i].is_ascii_digit())
                .collect();
            let (got, digits, marks, seen) = word_starts(&bytes);
            assert_eq!(got, want, "{bytes:?}");
            assert_eq!(digits, want_digits, "{bytes:?}");
            assert_eq!(marks, want_marks, "{bytes:?}");
            assert_eq!(seen, want_seen, "{bytes:?}");
        }
    }

    /// Whether a detector acts on a whole-text match (what [`regions`] relies on).
    fn acted_on(bytes: &[u8], m: &KwMatch) -> bool {
        let sep_after = |mut j: usize, tabs: bool| {
            if matches!(bytes.get(j), Some(b'"' | b'\'')) {
                j += 1;
            }
            while bytes.get(j) == Some(&b' ') || (tabs && bytes.get(j) == Some(&b'\t')) {
                j += 1;
            }
            matches!(bytes.get(j), Some(b'=' | b':'))
        };
        match m.group {
            Group::SecretKey => {
                let mut j = m.end;
                while bytes.get(j).is_some_and(|&b| is_key_byte(b)) {
                    j += 1;
                }
                sep_after(j, true)
            }
            Group::IdentityKey => sep_after(m.end, false),
            Group::Unit | Group::Ending => bytes.get(m.end).is_some_and(u8::is_ascii_digit),
            Group::Licence => true,
        }
    }

    #[test]
    fn windowed_scan_keeps_every_match_a_detector_acts_on() {
        let a = automaton();
        let mut words: Vec<String> = Vec::new();
        for list in [
            super::super::secret::SECRET_KEYS,
            super::super::handle::IDENTITY_KEYS,
            super::super::address::UNITS,
            super::super::address::STREET_ENDINGS,
            super::super::numbers::LICENCE_CUES,
        ] {
            for p in list {
                words.push((*p).to_string());
                words.push(p.to_uppercase());
                words.push(format!("db_{p}x"));
                words.push(format!("service.primary-account_{p}"));
            }
        }
        for w in [
            " ", "  ", "=", ": ", "\"", "'", "\t", "12", "7", "d", "L", "x.", "-", "_", "é", "ß",
            "=>", "\n", "Haupt", "icen", "\" = ", "\":", "'\t=", " : ",
        ] {
            words.push(w.to_string());
        }
        let mut rng = crate::detect::Xorshift(0x9e37_79b9_7f4a_7c15);
        let mut acted = 0usize;
        for _ in 0..4000 {
            let text = rng.glued(&words, 12);
            // the scan it replaces skipped texts without a digit, `=` or `:`
            let whole = if word_starts(text.as_bytes()).3
                & (present::DIGIT | present::EQ | present::COLON)
                != 0
            {
                Keywords::scan_whole(&text)
            } else {
                Vec::new()
            };
            let got = Keywords::scan(&text);
            let key = |m: &KwMatch| (m.start, m.end, m.local, m.group);
            // the windows report whole-text matches only, in the same order, none twice
            let mut it = whole.iter().map(key);
            for m in &got.matches {
                assert!(it.any(|w| w == key(m)), "{text:?}: {:?}", key(m));
            }
            for m in whole.iter().filter(|m| acted_on(text.as_bytes(), m)) {
                acted += 1;
                assert!(
                    got.matches.iter().any(|g| key(g) == key(m)),
                    "{text:?}: missed {:?}",
                    key(m)
                );
            }
            got.recycle();
        }
        assert!(acted > 500, "{acted}");
        assert!(a.max_len >= "incident commander".len());
    }

    #[test]
    fn identity_key_ends_are_found_in_any_case() {
        let a = automaton();
        for k in super::super::handle::IDENTITY_KEYS {
            for key in [(*k).to_string(), k.to_uppercase(), format!("x.{k}")] {
                let b = key.as_bytes();
                assert!(may_end_identity_key(a, b, b.len()), "{key}");
            }
        }
        for key in ["request_id", "dd.trace_id", "dd.span_id", "timestamp"] {
            assert!(!may_end_identity_key(a, key.as_bytes(), key.len()), "{key}");
        }
    }

    #[test]
    fn key_class_table_matches_the_key_byte_classes() {
        for b in 0..=255u8 {
            let want = if !is_key_byte(b) {
                NOT_KEY
            } else if b.is_ascii_alphabetic() {
                KEY_LETTER
            } else {
                KEY_OTHER
            };
            assert_eq!(KEY_CLASS[usize::from(b)], want, "{b}");
        }
    }

    #[test]
    fn keywords_have_the_shape_the_windows_rely_on() {
        for c in super::super::numbers::LICENCE_CUES {
            let l = c.to_ascii_lowercase();
            assert!(l.contains("dl") || l.contains("licen"), "{c}");
        }
        for c in super::super::address::UNITS
            .iter()
            .chain(super::super::address::STREET_ENDINGS)
        {
            assert!(c.ends_with(' '), "{c}");
            let b = c.as_bytes();
            let last = b[b.len() - 2];
            assert!(last.is_ascii_alphabetic() || last == b'.', "{c}");
            // the windows look for these two bytes before the space, in any case
            let (x, y) = (b[b.len() - 3], b[b.len() - 2]);
            assert!(has_tail(&automaton().place_tails, x, y), "{c}");
            assert!(
                has_tail(
                    &automaton().place_tails,
                    x.to_ascii_uppercase(),
                    y.to_ascii_uppercase()
                ),
                "{c}"
            );
        }
        for c in super::super::secret::SECRET_KEYS {
            assert!(c.bytes().all(is_key_byte), "{c}");
            // three bytes or more (the windows of keys without their first three are left out)
            assert!(c.len() >= 3, "{c}");
            assert!(c.bytes().any(|b| b.is_ascii_alphabetic()), "{c}");
        }
        for c in super::super::handle::IDENTITY_KEYS {
            assert!(c.as_bytes()[c.len() - 1].is_ascii_alphabetic(), "{c}");
        }
    }
}
