//! The words the name rules look at: runs of letters with internal `'`, `-` or `’`, each
//! with its case and whether it is glued to an identifier.

use super::swar::{in_range, HIGHS, ONES};

/// A word of letters (with internal `'`, `-` or `’`), as the name rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// End without a possessive `'s`.
    pub(crate) name_end: usize,
    /// Starts with a capital and is not all capitals (one capital alone counts).
    pub(crate) cap: bool,
    /// All lower case.
    pub(crate) lower: bool,
    /// Not glued to an identifier on either side.
    pub(crate) clean: bool,
    /// Not glued to a preceding identifier.
    pub(crate) clean_start: bool,
}

fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

fn is_letter_at(text: &str, i: usize) -> Option<(char, usize)> {
    let b = *text.as_bytes().get(i)?;
    if b.is_ascii_alphabetic() {
        return Some((char::from(b), 1));
    }
    if b < 0x80 {
        return None;
    }
    let c = char_at(text, i)?;
    c.is_alphabetic().then(|| (c, c.len_utf8()))
}

/// Bytes after which a word is not glued to a preceding identifier.
const fn clean_before_byte(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'(' | b'['
                | b'"'
                | b'\''
                | b','
                | b';'
                | b':'
                | b'>'
                | b'*'
                | b'|'
                | b'!'
                | b'?'
                | b'{'
        )
}

/// Bytes before which a word is not glued to a following identifier (besides `.`, `-` and
/// `\\`, see [`clean_after`]).
const fn clean_after_byte(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b')' | b']'
                | b'"'
                | b'\''
                | b','
                | b';'
                | b':'
                | b'!'
                | b'?'
                | b'*'
                | b'<'
                | b'|'
                | b'}'
        )
}

/// Byte class bit: [`clean_before_byte`].
const BEFORE_CLEAN: u8 = 1;
/// Byte class bit: [`clean_after_byte`].
const AFTER_CLEAN: u8 = 2;
/// Byte class bit: an ASCII digit or `_` (glues a word to an identifier).
const GLUE: u8 = 4;
/// Byte class bit: `'`, `-` or a byte from 0x80 up (a word may go on past it).
const GOES_ON: u8 = 8;
/// Byte class bit: `.`, `-` or `\\` (whether a word ends clean before it depends on the
/// byte after it, see [`clean_after`]).
const NEXT_DECIDES: u8 = 16;
/// The class of the end of the text after a word: ends it clean.
const END: u8 = AFTER_CLEAN;
/// The class of the start of the text before a word: starts it clean.
const START: u8 = BEFORE_CLEAN;

/// The class bits of every byte, as a table.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut k = 0u8;
        if clean_before_byte(c) {
            k |= BEFORE_CLEAN;
        }
        if clean_after_byte(c) {
            k |= AFTER_CLEAN;
        }
        if c.is_ascii_digit() || c == b'_' {
            k |= GLUE;
        }
        if c == b'\'' || c == b'-' || c >= 0x80 {
            k |= GOES_ON;
        }
        if c == b'.' || c == b'-' || c == b'\\' {
            k |= NEXT_DECIDES;
        }
        t[b] = k;
        b += 1;
    }
    t
};

#[cfg(test)]
fn clean_before(bytes: &[u8], s: usize) -> bool {
    match s.checked_sub(1).and_then(|k| bytes.get(k)) {
        None => true,
        Some(&b) => CLASS[usize::from(b)] & BEFORE_CLEAN != 0,
    }
}

#[inline]
fn clean_after(bytes: &[u8], e: usize) -> bool {
    match bytes.get(e) {
        None => true,
        Some(b'.' | b'-') => !bytes.get(e + 1).is_some_and(u8::is_ascii_alphanumeric),
        // an escaped quote (`\"`, `\'`) in JSON or log text
        Some(b'\\') => matches!(bytes.get(e + 1), Some(b'"' | b'\'')),
        Some(&b) => CLASS[usize::from(b)] & AFTER_CLEAN != 0,
    }
}

/// Every bit below the lowest set bit of `stop` (all bits when none is set), without a
/// branch: with `stop` the high bits of the bytes that end a run, the high bits of the bytes
/// before the first of them.
#[inline]
const fn below_first(stop: u64) -> u64 {
    (stop & stop.wrapping_neg()).wrapping_sub(1)
}

/// The run of ASCII letters starting at `i`: its length, whether it holds a lower-case and
/// whether it holds an upper-case letter. Eight bytes per step (SWAR), then byte by byte.
#[inline]
fn ascii_letter_run(bytes: &[u8], i: usize) -> (usize, bool, bool) {
    let mut k = i;
    let (mut lower, mut upper) = (false, false);
    while let Some(chunk) = bytes.get(k..k + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        let x = u64::from_le_bytes(a);
        // bytes from 0x80 up are no ASCII letter: clear them, so no addition carries
        let ascii = !x & HIGHS;
        let x7 = x & !HIGHS;
        let lo = in_range(x7, b'a', b'z') & ascii;
        let up = in_range(x7, b'A', b'Z') & ascii;
        let letters = lo | up;
        // the letters before the first byte that is none (little endian: low bytes first)
        let stop = !letters & HIGHS;
        let run = stop.trailing_zeros() as usize / 8;
        let below = below_first(stop);
        lower |= lo & below != 0;
        upper |= up & below != 0;
        k += run;
        if run < 8 {
            return (k - i, lower, upper);
        }
    }
    while let Some(&b) = bytes.get(k) {
        if b.is_ascii_lowercase() {
            lower = true;
        } else if b.is_ascii_uppercase() {
            upper = true;
        } else {
            break;
        }
        k += 1;
    }
    (k - i, lower, upper)
}

/// The word ending at `e` extended over the ASCII letters from `e` (the common case, without
/// decoding, eight bytes at a time): `n` counts its letters, `all_upper` and `all_lower`
/// its case.
#[inline]
fn extend_ascii(
    bytes: &[u8],
    e: &mut usize,
    n: &mut usize,
    all_upper: &mut bool,
    all_lower: &mut bool,
) {
    let (len, has_lower, has_upper) = ascii_letter_run(bytes, *e);
    if len > 0 {
        *all_upper &= !has_lower;
        *all_lower &= !has_upper;
        *e += len;
        *n += len;
    }
}

/// In the run of ASCII letters, digits and `_` starting at `i` (at a digit or `_`): where the
/// letters after its last digit or `_` start. Eight bytes per step.
#[inline]
fn alnum_run_last_digit(bytes: &[u8], i: usize) -> usize {
    let mut k = i;
    let mut after_last = i;
    while let Some(chunk) = bytes.get(k..k + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        let x = u64::from_le_bytes(a);
        let ascii = !x & HIGHS;
        let x7 = x & !HIGHS;
        let letters = in_range(x7 | (0x20 * ONES), b'a', b'z') & ascii;
        let digits = (in_range(x7, b'0', b'9') | in_range(x7, b'_', b'_')) & ascii;
        let stop = !(letters | digits) & HIGHS;
        let run = stop.trailing_zeros() as usize / 8;
        let d = digits & below_first(stop);
        if d != 0 {
            after_last = k + (63 - d.leading_zeros() as usize) / 8 + 1;
        }
        k += run;
        if run < 8 {
            return after_last;
        }
    }
    while let Some(&b) = bytes.get(k) {
        if b.is_ascii_digit() || b == b'_' {
            after_last = k + 1;
        } else if !b.is_ascii_alphabetic() {
            break;
        }
        k += 1;
    }
    after_last
}

/// The words of `text` into `out` (cleared first).
/// `starts` are where the runs of word bytes (`super::is_word_byte`) of `text` start,
/// ascending: every letter is inside such a run, so the bytes between runs (spaces,
/// punctuation) are jumped over instead of visited.
/// Words glued to a following digit or `_` are left out when `drop_right_glued` (the
/// detector's setting; the tests compare both).
pub(crate) fn words_into(
    text: &str,
    starts: &[usize],
    drop_right_glued: bool,
    out: &mut Vec<Word>,
) {
    let bytes = text.as_bytes();
    out.clear();
    // one reservation for a typical line (about one word per six bytes), not a series of
    // reallocations
    out.reserve(text.len() / 6 + 1);
    let mut i = 0usize;
    let mut next_run = starts.iter().copied().peekable();
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 && !b.is_ascii_alphabetic() {
            if super::is_word_byte(b) {
                if drop_right_glued {
                    // every word of this run of ASCII letters, digits and `_` that ends before
                    // its last digit or `_` is glued to a following one (hex ids, `ab_9`) and
                    // left out: on to the letters after that digit or `_`
                    i = alnum_run_last_digit(bytes, i);
                    continue;
                }
                // digits and `_` inside a run, in one tight loop
                i += 1;
                while bytes
                    .get(i)
                    .is_some_and(|&d| d.is_ascii_digit() || d == b'_')
                {
                    i += 1;
                }
            } else {
                // outside every run: on to the first run starting after `i`
                match run_after(&mut next_run, i) {
                    Some(r) => i = r,
                    None => break,
                }
            }
            continue;
        }
        let s = i;
        // the first letter's case, then the whole word: `e` its end, `n` its letters
        let (c0_upper, mut e, mut all_upper, mut all_lower, mut n);
        if b.is_ascii_alphabetic() {
            // the first letter with the ASCII letters after it, in one run
            let (len, has_lower, has_upper) = ascii_letter_run(bytes, i);
            c0_upper = b.is_ascii_uppercase();
            (e, all_upper, all_lower, n) = (i + len, !has_lower, !has_upper, len);
        } else {
            let Some((c0, w0)) = is_letter_at(text, i) else {
                i += 1;
                continue;
            };
            c0_upper = c0.is_uppercase();
            (e, all_upper, all_lower, n) = (i + w0, c0_upper, c0.is_lowercase(), 1);
            extend_ascii(bytes, &mut e, &mut n, &mut all_upper, &mut all_lower);
        }
        // the byte after the ASCII letters: only `'`, `-` or a byte from 0x80 up can go on
        // with the word, and only a word that went on past such a byte can end in `'s`
        let mut after = bytes.get(e).map_or(END, |&c| CLASS[usize::from(c)]);
        let mut name_end = e;
        if after & GOES_ON != 0 {
            word_goes_on(text, &mut e, &mut n, &mut all_upper, &mut all_lower);
            after = bytes.get(e).map_or(END, |&c| CLASS[usize::from(c)]);
            name_end = possessive_end(bytes, s, e);
        }
        let right_glued = after & GLUE != 0;
        if right_glued && drop_right_glued {
            // a word glued to a following digit or `_` (the letters of hex ids, `ab_9`)
            // never starts, continues, cues or lists a name, and without it every test that
            // spans its place fails on the digit or `_` (see `find_in`): not listed
            i = e;
            continue;
        }
        let prev = s
            .checked_sub(1)
            .and_then(|k| bytes.get(k))
            .map_or(START, |&c| CLASS[usize::from(c)]);
        let clean_start = !right_glued && prev & (GLUE | BEFORE_CLEAN) == BEFORE_CLEAN;
        let clean_end = if after & NEXT_DECIDES != 0 {
            clean_after(bytes, e)
        } else {
            after & AFTER_CLEAN != 0
        };
        out.push(Word {
            start: s,
            end: e,
            name_end,
            cap: c0_upper && (n == 1 || !all_upper),
            lower: all_lower,
            clean: clean_start && clean_end,
            clean_start,
        });
        i = e;
        if after & (GLUE | GOES_ON) == 0 {
            // an ASCII byte outside every run (or the end): on to the first run after it
            match run_after(&mut next_run, i) {
                Some(r) => i = r,
                None => break,
            }
        }
    }
}

/// The first of the remaining run starts `next_run` (ascending) after `i`.
#[inline]
fn run_after(
    next_run: &mut std::iter::Peekable<std::iter::Copied<std::slice::Iter<'_, usize>>>,
    i: usize,
) -> Option<usize> {
    while next_run.peek().is_some_and(|&r| r <= i) {
        next_run.next();
    }
    next_run.next()
}

/// The word ending at `e` (after its first ASCII letters) extended over further letters
/// from 0x80 up and over internal `'`, `-` and `’` followed by a letter (O'Brien, Jean-Luc,
/// Fiammetta's, Søren), with its letter count and case.
#[inline(never)]
fn word_goes_on(
    text: &str,
    e: &mut usize,
    n: &mut usize,
    all_upper: &mut bool,
    all_lower: &mut bool,
) {
    let bytes = text.as_bytes();
    loop {
        // past an ASCII run, only a byte from 0x80 up can start another letter
        if let Some((c, w)) = bytes
            .get(*e)
            .filter(|&&b| b >= 0x80)
            .and_then(|_| is_letter_at(text, *e))
        {
            *all_upper &= c.is_uppercase();
            *all_lower &= c.is_lowercase();
            *e += w;
            *n += 1;
            extend_ascii(bytes, e, n, all_upper, all_lower);
            continue;
        }
        // internal apostrophe or hyphen: O'Brien, Jean-Luc, Fiammetta's
        let sep = match bytes.get(*e) {
            Some(b'\'' | b'-') => 1,
            Some(0xE2) if text.get(*e..).is_some_and(|r| r.starts_with('\u{2019}')) => 3,
            _ => 0,
        };
        if sep > 0 && is_letter_at(text, *e + sep).is_some() {
            *e += sep;
            extend_ascii(bytes, e, n, all_upper, all_lower);
            continue;
        }
        break;
    }
}

/// End of the word `s..e` without a possessive `'s` or `’s`.
#[inline]
fn possessive_end(bytes: &[u8], s: usize, e: usize) -> usize {
    if e - s > 2 && bytes[e - 1] == b's' {
        if bytes[e - 2] == b'\'' {
            return e - 2;
        } else if e - s > 4 && bytes[e - 4..e - 1] == [0xE2, 0x80, 0x99] {
            return e - 4; // U+2019 RIGHT SINGLE QUOTATION MARK
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokenizer as it was before the byte-class table (one branch per question): the
    /// reference the table-driven one is compared with.
    fn reference_words(text: &str, starts: &[usize], drop_right_glued: bool, out: &mut Vec<Word>) {
        let bytes = text.as_bytes();
        out.clear();
        // one reservation for a typical line (about one word per six bytes), not a series of
        // reallocations
        out.reserve(text.len() / 6 + 1);
        let mut i = 0usize;
        let mut next_run = starts.iter().copied().peekable();
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 && !b.is_ascii_alphabetic() {
                if super::super::is_word_byte(b) {
                    if drop_right_glued {
                        // every word of this run of ASCII letters, digits and `_` that ends before
                        // its last digit or `_` is glued to a following one (hex ids, `ab_9`) and
                        // left out: on to the letters after that digit or `_`
                        i = alnum_run_last_digit(bytes, i);
                        continue;
                    }
                    // digits and `_` inside a run, in one tight loop
                    i += 1;
                    while bytes
                        .get(i)
                        .is_some_and(|&d| d.is_ascii_digit() || d == b'_')
                    {
                        i += 1;
                    }
                } else {
                    // outside every run: on to the first run starting after `i`
                    while next_run.peek().is_some_and(|&s| s <= i) {
                        next_run.next();
                    }
                    match next_run.next() {
                        Some(s) => i = s,
                        None => break,
                    }
                }
                continue;
            }
            let s = i;
            // the first letter's case, then the whole word: `e` its end, `n` its letters
            let (c0_upper, mut e, mut all_upper, mut all_lower, mut n);
            if b.is_ascii_alphabetic() {
                // the first letter with the ASCII letters after it, in one run
                let (len, has_lower, has_upper) = ascii_letter_run(bytes, i);
                c0_upper = b.is_ascii_uppercase();
                (e, all_upper, all_lower, n) = (i + len, !has_lower, !has_upper, len);
            } else {
                let Some((c0, w0)) = is_letter_at(text, i) else {
                    i += 1;
                    continue;
                };
                c0_upper = c0.is_uppercase();
                (e, all_upper, all_lower, n) = (i + w0, c0_upper, c0.is_lowercase(), 1);
                extend_ascii(bytes, &mut e, &mut n, &mut all_upper, &mut all_lower);
            }
            loop {
                // past an ASCII run, only a byte from 0x80 up can start another letter
                if let Some((c, w)) = bytes
                    .get(e)
                    .filter(|&&b| b >= 0x80)
                    .and_then(|_| is_letter_at(text, e))
                {
                    all_upper &= c.is_uppercase();
                    all_lower &= c.is_lowercase();
                    e += w;
                    n += 1;
                    extend_ascii(bytes, &mut e, &mut n, &mut all_upper, &mut all_lower);
                    continue;
                }
                // internal apostrophe or hyphen: O'Brien, Jean-Luc, Fiammetta's
                let sep = match bytes.get(e) {
                    Some(b'\'' | b'-') => 1,
                    Some(0xE2) if text.get(e..).is_some_and(|r| r.starts_with('\u{2019}')) => 3,
                    _ => 0,
                };
                if sep > 0 && is_letter_at(text, e + sep).is_some() {
                    e += sep;
                    extend_ascii(bytes, &mut e, &mut n, &mut all_upper, &mut all_lower);
                    continue;
                }
                break;
            }
            let mut name_end = e;
            if e - s > 2 && bytes[e - 1] == b's' {
                if bytes[e - 2] == b'\'' {
                    name_end = e - 2;
                } else if e - s > 4 && bytes[e - 4..e - 1] == [0xE2, 0x80, 0x99] {
                    name_end = e - 4; // U+2019 RIGHT SINGLE QUOTATION MARK
                }
            }
            let right_glued = bytes
                .get(e)
                .is_some_and(|b| b.is_ascii_digit() || *b == b'_');
            if right_glued && drop_right_glued {
                // a word glued to a following digit or `_` (the letters of hex ids, `ab_9`)
                // never starts, continues, cues or lists a name, and without it every test that
                // spans its place fails on the digit or `_` (see `find_in`): not listed
                i = e;
                continue;
            }
            let digit_glued = right_glued
                || s.checked_sub(1)
                    .and_then(|k| bytes.get(k))
                    .is_some_and(|b| b.is_ascii_digit() || *b == b'_');
            let clean_start = !digit_glued && clean_before(bytes, s);
            out.push(Word {
                start: s,
                end: e,
                name_end,
                cap: c0_upper && (n == 1 || !all_upper),
                lower: all_lower,
                clean: clean_start && clean_after(bytes, e),
                clean_start,
            });
            i = e;
        }
    }

    #[test]
    fn the_byte_class_table_lists_the_words_the_reference_lists() {
        let pieces = [
            "Kevin",
            "o'brien",
            "Jean-Luc",
            "Fiammetta's",
            "O\u{2019}Neil",
            "don\u{2019}t",
            "Søren",
            "ÆØÅ",
            "東京",
            "—",
            "x9",
            "ab_9",
            "_",
            "9",
            "12",
            "bea5e",
            "f0",
            "-",
            "'",
            "\\\"",
            "\\",
            ", ",
            " ",
            "  ",
            ": ",
            "/",
            ".",
            "\n",
            "(",
            ")",
            "\"",
            "SMITH",
            "s",
            "'s",
            "-x",
            "a.b",
            "é",
            "İ",
            "ǅ",
            "\t",
            "=",
            "@",
            "Z",
        ];
        let mut rng = crate::detect::Xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..30_000 {
            let count = rng.0 % 12;
            let t = rng.glued(&pieces, count);
            rng.next();
            let kw = super::super::keywords::Keywords::scan(&t);
            for drop in [false, true] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                words_into(&t, kw.word_starts(), drop, &mut a);
                reference_words(&t, kw.word_starts(), drop, &mut b);
                assert_eq!(a, b, "{t:?} {drop}");
            }
        }
    }

    #[test]
    fn below_first_keeps_the_bytes_before_the_first_stop() {
        for run in 0..=8usize {
            // the first stop byte at `run`, and every combination of later stop bytes
            for later in 0u32..256 {
                let mut stop = 0u64;
                for k in run..8 {
                    if k == run || later & (1 << k) != 0 {
                        stop |= 0x80 << (8 * k);
                    }
                }
                let want = if run >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (run * 8)) - 1
                };
                // the high bits of the bytes before `run` are all the callers read
                assert_eq!(below_first(stop) & HIGHS, want & HIGHS, "{run} {later}");
            }
        }
    }

    #[test]
    fn letter_runs_match_a_byte_by_byte_scan() {
        let alphabet = b"aZq_9 -'\xc3\xa9Mx.";
        // a fixed pseudo-random sequence (xorshift), so the test is reproducible
        let mut rng = crate::detect::Xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..5000 {
            let mut t = Vec::new();
            for _ in 0..(rng.0 % 24) {
                t.push(alphabet[(rng.next() % alphabet.len() as u64) as usize]);
            }
            for i in 0..t.len() {
                let mut k = i;
                let (mut lo, mut up) = (false, false);
                while let Some(&b) = t.get(k) {
                    if !b.is_ascii_alphabetic() {
                        break;
                    }
                    lo |= b.is_ascii_lowercase();
                    up |= b.is_ascii_uppercase();
                    k += 1;
                }
                assert_eq!(ascii_letter_run(&t, i), (k - i, lo, up), "{t:?} {i}");
                if t[i].is_ascii_digit() || t[i] == b'_' {
                    let (mut k, mut after) = (i, i);
                    while let Some(&b) = t.get(k) {
                        if b.is_ascii_digit() || b == b'_' {
                            after = k + 1;
                        } else if !b.is_ascii_alphabetic() {
                            break;
                        }
                        k += 1;
                    }
                    assert_eq!(alnum_run_last_digit(&t, i), after, "{t:?} {i}");
                }
            }
        }
    }
}
