//! Digit-run detectors: payment cards (Luhn + issuer prefix), US SSNs (area/group/serial),
//! phone numbers (validated against libphonenumber metadata), US driver's licences (only
//! after a licence cue), and IBANs (per-country length + mod-97).

use phonenumber::country::Id;

use super::keywords::{Group, Keywords};
use super::{clean_left, clean_right, window_before, Window};
use crate::span::{EntityType, Span};

/// Longest digit run a cluster holds (the scan stops after 25 digits), and so its most
/// groups and separators.
const CLUSTER_MAX: usize = 32;

/// A short list kept inline (a cluster is built for every run of 7 or more digits: no heap
/// allocation per run). Pushing past `CLUSTER_MAX` items is ignored; the scan never does.
#[derive(Clone, Copy)]
struct Inline<T: Copy + Default> {
    items: [T; CLUSTER_MAX],
    len: usize,
}

impl<T: Copy + Default> Inline<T> {
    fn new() -> Self {
        Self {
            items: [T::default(); CLUSTER_MAX],
            len: 0,
        }
    }

    fn push(&mut self, v: T) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = v;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[T] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

impl<T: Copy + Default> std::ops::Deref for Inline<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Copy + Default> FromIterator<T> for Inline<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut out = Self::new();
        for v in iter {
            out.push(v);
        }
        out
    }
}

impl<T: Copy + Default + PartialEq, const M: usize> PartialEq<[T; M]> for Inline<T> {
    fn eq(&self, other: &[T; M]) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// A run of digits and single separators, as found in the text.
struct Cluster {
    start: usize,
    end: usize,
    digits: Inline<u8>,
    /// Lengths of the digit groups (at most 25 each: one byte).
    groups: Inline<u8>,
    /// Separator bytes between groups.
    seps: Inline<u8>,
    /// Where each group ends, as a byte offset from `start` (a cluster spans fewer than 256
    /// bytes: at most 25 digits, each followed by at most two separator bytes, after a `+`
    /// and a `(`), so the cluster is small to build and copy.
    group_ends: Inline<u8>,
    plus: bool,
    paren: bool,
}

impl Cluster {
    /// The same cluster cut after `k` groups.
    fn prefix(&self, k: usize) -> Self {
        let end = self
            .group_ends
            .get(k - 1)
            .map_or(self.end, |&e| self.start + usize::from(e));
        let ndigits: usize = self.groups.iter().take(k).map(|&g| usize::from(g)).sum();
        Self {
            start: self.start,
            end,
            digits: self.digits.iter().take(ndigits).copied().collect(),
            groups: self.groups.iter().take(k).copied().collect(),
            seps: self
                .seps
                .iter()
                .take(k.saturating_sub(1))
                .copied()
                .collect(),
            group_ends: self.group_ends.iter().take(k).copied().collect(),
            plus: self.plus,
            paren: self.paren,
        }
    }
}

/// `n` (a group length or an offset within a cluster, below 256) as one byte.
fn byte(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'/')
}

/// Scan one cluster starting at `i` (a digit, `+` or `(`).
fn cluster_at(bytes: &[u8], i: usize) -> Cluster {
    let mut c = Cluster {
        start: i,
        end: i,
        digits: Inline::new(),
        groups: Inline::new(),
        seps: Inline::new(),
        group_ends: Inline::new(),
        plus: false,
        paren: false,
    };
    let mut j = i;
    if bytes.get(j) == Some(&b'+') {
        c.plus = true;
        j += 1;
    }
    let mut group = 0usize;
    loop {
        match bytes.get(j) {
            Some(&b) if b.is_ascii_digit() => {
                c.digits.push(b);
                group += 1;
                j += 1;
                c.end = j;
            }
            Some(b'(') if group == 0 && bytes.get(j + 1).is_some_and(u8::is_ascii_digit) => {
                c.paren = true;
                j += 1;
            }
            Some(b')') if c.paren && group > 0 => {
                c.groups.push(byte(group));
                c.group_ends.push(byte(j - i));
                group = 0;
                c.seps.push(b')');
                j += 1;
                if bytes.get(j) == Some(&b' ') && bytes.get(j + 1).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
            Some(&b)
                if is_sep(b)
                    && group > 0
                    && (bytes.get(j + 1).is_some_and(u8::is_ascii_digit)
                        || (b == b' ' && bytes.get(j + 1) == Some(&b'('))) =>
            {
                c.groups.push(byte(group));
                c.group_ends.push(byte(j - i));
                group = 0;
                c.seps.push(b);
                j += 1;
            }
            _ => break,
        }
        if c.digits.len() > 24 {
            break;
        }
    }
    if group > 0 {
        c.groups.push(byte(group));
        c.group_ends.push(byte(c.end - i));
    }
    c
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn card_prefix(d: &[u8]) -> bool {
    let p2 = (d[0] - b'0') * 10 + (d[1] - b'0');
    match d[0] {
        b'4' => true,
        b'5' => (51..=55).contains(&p2),
        b'2' => (22..=27).contains(&p2),
        b'3' => matches!(p2, 34 | 37 | 30 | 36 | 38 | 39 | 35),
        b'6' => d.starts_with(b"6011") || p2 == 65 || d.starts_with(b"64") || p2 == 62,
        _ => false,
    }
}

fn is_card(c: &Cluster) -> bool {
    let n = c.digits.len();
    (13..=19).contains(&n)
        && !c.plus
        && !c.paren
        && c.seps.iter().all(|&s| s == b' ' || s == b'-')
        && c.seps.windows(2).all(|w| w[0] == w[1])
        && c.groups.iter().all(|&g| g >= 3)
        && card_prefix(&c.digits)
        && luhn(&c.digits)
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |a, &b| a * 10 + u32::from(b - b'0'))
}

fn valid_ssn(d: &[u8]) -> bool {
    let area = num(&d[0..3]);
    area != 0 && area != 666 && area < 900 && num(&d[3..5]) != 0 && num(&d[5..9]) != 0
}

fn is_ssn(c: &Cluster, cues: u8) -> bool {
    if c.digits.len() != 9 || c.plus || c.paren || !valid_ssn(&c.digits) {
        return false;
    }
    let grouped =
        c.groups == [3, 2, 4] && c.seps[0] == c.seps[1] && matches!(c.seps[0], b'-' | b' ');
    grouped || (c.groups.len() == 1 && cues & CUE_SSN != 0)
}

fn is_date_like(c: &Cluster) -> bool {
    if c.groups.len() < 3 || c.seps[0] != c.seps[1] || c.seps[0] == b' ' {
        return false;
    }
    let g = [
        usize::from(c.groups[0]),
        usize::from(c.groups[1]),
        usize::from(c.groups[2]),
    ];
    let d = &c.digits;
    let (month, day) = match (g[0], g[1], g[2]) {
        (4, 2, 2) => (num(&d[4..6]), num(&d[6..8])),
        (2, 2, 4) | (1 | 2, 1 | 2, 4) => (num(&d[..g[0]]), num(&d[g[0]..g[0] + g[1]])),
        _ => return false,
    };
    (1..=31).contains(&month) && (1..=31).contains(&day)
}

const PHONE_CUES: &[&str] = &[
    "phone", "tel", "call", "mobile", "cell", "fax", "sms", "text me", "whatsapp", "contact",
    "number", "reach", "dial",
];

/// Cue-group bits of [`cues_before`].
const CUE_PHONE: u8 = 1;
const CUE_DL: u8 = 2;
const CUE_SSN: u8 = 4;
const SSN_CUES: &[&str] = &["ssn", "social security"];
/// Each cue list with its bit.
const CUE_GROUPS: [(&[&str], u8); 3] = [
    (PHONE_CUES, CUE_PHONE),
    (DL_CUES, CUE_DL),
    (SSN_CUES, CUE_SSN),
];

/// Which cue groups (phone, driver's licence, SSN) occur in a lower-cased context window: one
/// automaton pass instead of a substring search per cue.
fn cues_before(ctx: &Window) -> u8 {
    static AC: std::sync::OnceLock<Option<(aho_corasick::AhoCorasick, Vec<u8>)>> =
        std::sync::OnceLock::new();
    let Some((ac, bits)) = AC.get_or_init(|| {
        let mut pats = Vec::new();
        let mut bits = Vec::new();
        for (list, bit) in CUE_GROUPS {
            for p in list {
                pats.push(*p);
                bits.push(bit);
            }
        }
        aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&pats)
            .ok()
            .map(|ac| (ac, bits))
    }) else {
        // no automaton (cannot happen with these patterns): search each cue
        let mut m = 0;
        for (list, bit) in CUE_GROUPS {
            if list.iter().any(|k| ctx.contains(k)) {
                m |= bit;
            }
        }
        return m;
    };
    ac.find_overlapping_iter(ctx.bytes())
        .filter_map(|m| bits.get(m.pattern().as_usize()))
        .fold(0, |a, &b| a | b)
}

const REGIONS: &[Id] = &[
    Id::US,
    Id::GB,
    Id::DE,
    Id::FR,
    Id::IN,
    Id::AU,
    Id::CA,
    Id::IT,
    Id::ES,
    Id::NL,
    Id::BR,
    Id::IL,
    Id::CH,
    Id::SE,
    Id::DK,
    Id::NO,
    Id::PL,
    Id::IE,
    Id::BE,
    Id::AT,
];

/// Entries kept in the per-thread cache of phone validations before it is cleared.
const PHONE_CACHE_MAX: usize = 4096;

std::thread_local! {
    /// Validation results by candidate, one map per `international` flag (operational text
    /// repeats the same numbers: on-call lines, support numbers), so libphonenumber's regexes
    /// run once per distinct number.
    static PHONE_CACHE: std::cell::RefCell<[std::collections::HashMap<Box<str>, bool>; 2]> =
        std::cell::RefCell::new([std::collections::HashMap::new(), std::collections::HashMap::new()]);
}

fn phone_valid(s: &str, international: bool) -> bool {
    let k = usize::from(international);
    if let Some(v) = PHONE_CACHE.with(|c| c.borrow()[k].get(s).copied()) {
        return v;
    }
    let v = phone_valid_uncached(s, international);
    PHONE_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let map = &mut c[k];
        if map.len() >= PHONE_CACHE_MAX {
            map.clear();
        }
        map.insert(Box::from(s), v);
    });
    v
}

fn phone_valid_uncached(s: &str, international: bool) -> bool {
    if international {
        return phonenumber::parse(None, s).is_ok_and(|n| phonenumber::is_valid(&n));
    }
    REGIONS
        .iter()
        .any(|&r| phonenumber::parse(Some(r), s).is_ok_and(|n| phonenumber::is_valid(&n)))
}

/// Extension suffix (`x8340`, ` ext. 12`) right after a phone number: its end.
fn extension_end(bytes: &[u8], e: usize) -> usize {
    let rest = &bytes[e..bytes.len().min(e + 8)];
    let skip = if rest.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'x')) {
        1
    } else if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b" ext") {
        let mut k = 4;
        while rest.get(k).is_some_and(|&b| b == b'.' || b == b' ') {
            k += 1;
        }
        k
    } else {
        return e;
    };
    let mut k = e + skip;
    while k < bytes.len() && bytes[k].is_ascii_digit() && k - e - skip < 6 {
        k += 1;
    }
    if k > e + skip && !bytes.get(k).is_some_and(u8::is_ascii_alphanumeric) {
        k
    } else {
        e
    }
}

fn is_phone(text: &str, c: &Cluster, cues: u8) -> bool {
    let n = c.digits.len();
    let bytes = text.as_bytes();
    if bytes.get(c.end) == Some(&b':') && bytes.get(c.end + 1).is_some_and(u8::is_ascii_digit) {
        return false; // a clock time follows: a timestamp
    }
    if !(7..=15).contains(&n) || is_date_like(c) {
        return false;
    }
    if c.seps.contains(&b'/') || c.groups == [3, 2, 4] {
        return false;
    }
    if c.groups.len() == 4 && c.seps.iter().all(|&s| s == b'.') && c.groups.iter().all(|&g| g <= 3)
    {
        return false; // dotted quad: an IP or version, not a phone
    }
    if c.groups.last().is_some_and(|&g| g < 2)
        || (c.seps.first() == Some(&b'.') && c.groups.len() < 3)
    {
        return false; // build numbers and decimals: 20261124.3, 1234567.89
    }
    if !(c.plus || c.paren) && c.seps.windows(2).any(|w| w[0] != w[1]) {
        return false; // mixed separators: timestamps and versions, not phones
    }
    if !c.plus && !national_shape(c) {
        return false;
    }
    let formatted = c.plus || c.paren || c.groups.len() >= 2;
    if !formatted && cues & CUE_PHONE == 0 {
        return false;
    }
    nanp_shaped(c)
        || international_shaped(c)
        || text
            .get(c.start..c.end)
            .is_some_and(|s| phone_valid(s, c.plus))
}

/// Whether a number written without a country code is laid out like a phone number: a
/// parenthesised part is an area code followed by the rest (`(4909169)` and `(10.100.0.250`
/// are not), no part after the first is a single digit (`3 4 5 6 7 10` is a list), and two
/// four-digit years joined by a hyphen are a range (`2000-2002`).
fn national_shape(c: &Cluster) -> bool {
    if c.paren
        && c.seps
            .iter()
            .position(|&s| s == b')')
            .is_none_or(|k| c.groups.len() <= k + 1)
    {
        return false;
    }
    if c.groups.iter().skip(1).any(|&g| g < 2) {
        return false;
    }
    // an international prefix puts at most two zeros (`00`, `0011`) before a country code,
    // which never starts with 0: three leading zeros are padding. Without a leading 0 (trunk
    // or international prefix), a national number with its bare country code stays within 12
    // digits except for long German and Austrian numbers (`49 1512 3456789`), which people
    // write with a `+`; longer runs are ids and lists of readings (`11637 3515 3479`)
    if c.digits.starts_with(b"000") || (c.digits.first() != Some(&b'0') && c.digits.len() > 12) {
        return false;
    }
    if reading_list(c) {
        return false;
    }
    let year = |d: &[u8]| (1900..=2099).contains(&num(d));
    !(c.groups == [4, 4]
        && c.seps == [b'-']
        && c.digits.get(..4).is_some_and(year)
        && c.digits.get(4..8).is_some_and(year))
}

/// Three or more space-separated groups of four digits without a leading 0: no national plan
/// is written so (4-4-4 mobiles such as `0151 2345 6789` start with their trunk 0); a list of
/// readings (`3552 3534 3375`), none of whose parts is then tried as a phone on its own.
fn reading_list(c: &Cluster) -> bool {
    !c.plus
        && !c.paren
        && c.groups.len() >= 3
        && c.groups.iter().all(|&g| g == 4)
        && c.seps.iter().all(|&s| s == b' ')
        && c.digits.first() != Some(&b'0')
}

/// International layout: `+`, a country calling code that exists, then at least two parts
/// of one to four digits (the last, a subscriber number, up to eight) with one kind of
/// separator and 7 to 12 digits in all (`+44 20 7946 0958`, `+33 6 12 34 56 78`,
/// `+49 30 12345678`): accepted without metadata validation, like the North-American layout,
/// because a number written so is contact data even when its range is unassigned.
fn international_shaped(c: &Cluster) -> bool {
    let g = c.groups.as_slice();
    let (Some(&cc), Some(rest)) = (g.first(), g.get(1..)) else {
        return false;
    };
    let cc = usize::from(cc);
    let national: usize = rest.iter().map(|&n| usize::from(n)).sum();
    let mut seps = c.seps.iter().skip(1);
    c.plus
        && !c.paren
        && (1..=3).contains(&cc)
        && rest.len() >= 2
        && rest
            .split_last()
            .is_some_and(|(&last, parts)| last <= 8 && parts.iter().all(|&n| (1..=4).contains(&n)))
        && (7..=12).contains(&national)
        && seps.next().is_none_or(|f| seps.all(|s| s == f))
        && c.digits
            .get(..cc)
            .is_some_and(|d| calling_code_exists(num(d)))
}

/// Whether `code` is a country calling code of libphonenumber's metadata (a table built once).
fn calling_code_exists(code: u32) -> bool {
    static CODES: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
    let codes = CODES.get_or_init(|| {
        let mut t = vec![false; 1000];
        for m in phonenumber::metadata::DATABASE.iter() {
            if let Some(slot) = t.get_mut(usize::from(m.country_code())) {
                *slot = true;
            }
        }
        t
    });
    usize::try_from(code)
        .ok()
        .and_then(|k| codes.get(k))
        .copied()
        .unwrap_or(false)
}

/// North-American layout (`(415) 555-0132`, `415.555.0132`, `001-415-555-0132`,
/// `+1 415-555-0132`): accepted without metadata validation, because invented or unassigned
/// numbers in this layout are still somebody's contact data as far as anonymization is
/// concerned. After a `+` country code the first separator may differ from the others.
fn nanp_shaped(c: &Cluster) -> bool {
    let g = c.groups.as_slice();
    let skip = usize::from(c.plus && g.len() == 4);
    let mut seps = c.seps.iter().skip(skip).filter(|&&s| s != b')');
    let same = seps.next().is_none_or(|f| seps.all(|s| s == f));
    same && (g == [3, 3, 4] || (g.len() == 4 && g[1..] == [3, 3, 4] && matches!(g[0], 1..=3)))
}

/// A phone number may be followed by a label glued with a hyphen (`555-0132-Office`).
fn phone_right(bytes: &[u8], e: usize) -> bool {
    clean_right(bytes, e)
        || (bytes.get(e) == Some(&b'-') && bytes.get(e + 1).is_some_and(u8::is_ascii_alphabetic))
}

const DL_CUES: &[&str] = &[
    "driver", "licence", "license", " dl ", "dl#", "dl:", "dl no", "d/l",
];

/// Payment cards, SSNs and phone numbers around digit clusters; driver's licences after cues.
/// Digit runs starting inside one of the `ibans` found (sorted) are not tried: the IBAN covers
/// them, and grouped IBAN digits would otherwise each reach phone validation.
pub(crate) fn find(text: &str, kw: &Keywords, ibans: &[Span], out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    // candidates start a word (a digit) or sit right before one (`+`, `(`)
    let mut next_free = 0usize;
    let mut ib = ibans.iter().peekable();
    for &s in kw.digit_starts() {
        if s < next_free {
            continue;
        }
        while ib.peek().is_some_and(|x| x.end <= s) {
            ib.next();
        }
        if ib.peek().is_some_and(|x| x.start <= s) {
            continue;
        }
        if s > next_free && matches!(bytes[s - 1], b'+' | b'(') && clean_left(bytes, s - 1) {
            next_free = number_at(text, s - 1, out);
            if next_free > s {
                continue;
            }
        }
        if clean_left(bytes, s) {
            next_free = number_at(text, s, out);
        }
    }
    licences(text, kw, out);
}

/// Try the digit cluster starting at `i`; returns where the next candidate may start.
fn number_at(text: &str, i: usize, out: &mut Vec<Span>) -> usize {
    let bytes = text.as_bytes();
    // cheap gate before allocating: at least 7 digits in the run
    let mut j = i;
    let mut nd = 0usize;
    while j < bytes.len() {
        let b = bytes[j];
        if b.is_ascii_digit() {
            nd += 1;
            if nd == 7 {
                // enough: the cluster is scanned below, and `j` is read only for fewer
                break;
            }
        } else {
            let joins = matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+')
                && bytes
                    .get(j + 1)
                    .is_some_and(|&n| n.is_ascii_digit() || n == b'(');
            let closes = b == b')' && j > i;
            if !joins && !closes {
                break;
            }
        }
        j += 1;
    }
    if nd < 7 {
        return j.max(i + 1);
    }
    let full = cluster_at(bytes, i);
    // if nothing matches, resume after the first space-separated part
    let next = full
        .seps
        .iter()
        .position(|&s| s == b' ')
        .and_then(|k| full.group_ends.get(k))
        .map_or(full.end, |&e| i + usize::from(e))
        .max(i + 1);
    // the whole cluster first, then shorter prefixes cut at a space ("205-46-4452 0A")
    let mut k = full.groups.len();
    while k > 0 {
        let c = if k == full.groups.len() {
            None
        } else {
            Some(full.prefix(k))
        };
        let c = c.as_ref().unwrap_or(&full);
        if let Some(e) = classify(text, c, k < full.groups.len(), out) {
            return e.max(i + 1);
        }
        k -= 1;
        while k > 0 && full.seps.get(k - 1) != Some(&b' ') {
            k -= 1;
        }
    }
    if reading_list(&full) {
        // nothing in a list of readings is a phone: skip all of it
        return full.end.max(next);
    }
    next
}

/// Classify one cluster; returns the end of the span pushed, if any.
fn classify(text: &str, c: &Cluster, prefix: bool, out: &mut Vec<Span>) -> Option<usize> {
    let bytes = text.as_bytes();
    let right_ok = clean_right(bytes, c.end);
    if c.digits.len() < 7
        || !(right_ok || extension_end(bytes, c.end) > c.end || phone_right(bytes, c.end))
    {
        return None;
    }
    // every cue bit is read only for a cluster of one group (`is_ssn`, the licence branch
    // below, and `is_phone`, where a cluster of two or more groups is formatted): the
    // context window is searched only for those
    let cues = if c.groups.len() == 1 {
        cues_before(&window_before(bytes, c.start, 40))
    } else {
        0
    };
    if prefix && !(c.plus || c.paren) {
        // a cut cluster may only be a card or an SSN: phones inside longer numbers are noise
        let t = if is_card(c) {
            EntityType::CreditCard
        } else if is_ssn(c, cues) && right_ok {
            EntityType::UsSsn
        } else {
            return None;
        };
        out.push(Span::new(c.start, c.end, t));
        return Some(c.end);
    }
    let t = if !right_ok && extension_end(bytes, c.end) == c.end {
        is_phone(text, c, cues).then_some(EntityType::PhoneNumber)?
    } else if is_card(c) {
        EntityType::CreditCard
    } else if is_ssn(c, cues) {
        EntityType::UsSsn
    } else if c.groups.len() == 1 && cues & CUE_DL != 0 {
        EntityType::UsDriverLicense
    } else if is_phone(text, c, cues) {
        let e = extension_end(bytes, c.end);
        out.push(Span::new(c.start, e, EntityType::PhoneNumber));
        return Some(e);
    } else {
        return None;
    };
    out.push(Span::new(c.start, c.end, t));
    Some(c.end)
}

/// Cues after which an alphanumeric token is a driver's licence number.
pub(crate) const LICENCE_CUES: &[&str] = &[
    "driver's license",
    "driver license",
    "drivers license",
    "driver's licence",
    "driving licence",
    "license number",
    "licence number",
    "license no",
    "license #",
    "dl#",
    "dl number",
    "dl no",
];

/// Alphanumeric driver's licence numbers (`A1234567`, `LH329609T`) right after a licence cue.
fn licences(text: &str, kw: &Keywords, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    for m in kw.of(Group::Licence) {
        // the next token of 5..=16 alphanumerics with at least 4 digits, within 24 bytes
        let mut j = m.end();
        let limit = (j + 24).min(bytes.len());
        while j < limit {
            if bytes[j].is_ascii_alphanumeric() && clean_left(bytes, j) {
                let mut e = j;
                while e < bytes.len() && bytes[e].is_ascii_alphanumeric() {
                    e += 1;
                }
                let tok = &bytes[j..e];
                let digits = tok.iter().filter(|b| b.is_ascii_digit()).count();
                if (5..=16).contains(&tok.len()) && digits >= 4 {
                    out.push(Span::new(j, e, EntityType::UsDriverLicense));
                    break;
                }
                j = e;
            } else {
                j += 1;
            }
        }
    }
}

/// IBAN length per country (ISO 13616 registry).
fn iban_len(cc: [u8; 2]) -> Option<usize> {
    let n = match &cc {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" => 20,
        b"CH" | b"CR" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" | b"EG" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" | b"SV" => 28,
        b"BR" | b"PS" | b"QA" | b"UA" | b"JO" => 29,
        b"KW" | b"MU" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        _ => return None,
    };
    Some(n)
}

fn mod97(chars: &[u8]) -> bool {
    let mut rem = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c.to_ascii_uppercase() - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// IBANs, compact or grouped by spaces, any case. `each` is called with every word start, in
/// order (a later detector's filter, run in the same pass over the word starts).
pub(crate) fn ibans(text: &str, kw: &Keywords, out: &mut Vec<Span>, mut each: impl FnMut(usize)) {
    let bytes = text.as_bytes();
    let mut after = 0usize;
    for &i in kw.word_starts() {
        each(i);
        if i < after {
            continue;
        }
        let Some(w) = bytes.get(i..i + 4) else {
            continue;
        };
        // a letter first (digit starts fail), then a digit third (most words fail)
        if !(w[0].is_ascii_alphabetic()
            && w[2].is_ascii_digit()
            && w[1].is_ascii_alphabetic()
            && w[3].is_ascii_digit()
            && clean_left(bytes, i))
        {
            continue;
        }
        let cc = [w[0].to_ascii_uppercase(), w[1].to_ascii_uppercase()];
        let Some(len) = iban_len(cc) else {
            continue;
        };
        let mut chars = [0u8; 34];
        let mut n = 0usize;
        let mut j = i;
        while j < bytes.len() && n < len {
            let b = bytes[j];
            if b.is_ascii_alphanumeric() {
                chars[n] = b;
                n += 1;
                j += 1;
            } else if b == b' ' && bytes.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) && n > 0
            {
                j += 1;
            } else {
                break;
            }
        }
        if n == len && clean_right(bytes, j) && mod97(&chars[..n]) {
            out.push(Span::new(i, j, EntityType::IbanCode));
            after = j;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &str) -> Vec<(String, EntityType)> {
        let mut v = Vec::new();
        let kw = Keywords::scan(t);
        ibans(t, &kw, &mut v, |_| {});
        let ib = v.clone();
        find(t, &kw, &ib, &mut v);
        let v = crate::span::resolve(v);
        v.iter()
            .map(|s| (t[s.start..s.end].to_string(), s.entity_type))
            .collect()
    }

    #[test]
    fn numbers_table() {
        use EntityType::*;
        let cases: &[(&str, &[(&str, EntityType)])] = &[
            (
                "card 4111 1111 1111 1111 ok",
                &[("4111 1111 1111 1111", CreditCard)],
            ),
            ("card 4111-1111-1111-1112", &[]),
            ("ssn 205-46-4452.", &[("205-46-4452", UsSsn)]),
            ("ssn 666-46-4452", &[]),
            (
                "call +44 20 7946 0958 now",
                &[("+44 20 7946 0958", PhoneNumber)],
            ),
            (
                "(505)498-8487x6837 fax",
                &[("(505)498-8487x6837", PhoneNumber)],
            ),
            ("at 2026-11-24 03:09:37", &[]),
            ("ts=1732419577123 id 4111111111111111x", &[]),
            ("build-20231124 v1.2.3.4", &[]),
            (
                "driver's license A125325867",
                &[("A125325867", UsDriverLicense)],
            ),
            (
                "iban GB22SPSQ94714895057550.",
                &[("GB22SPSQ94714895057550", IbanCode)],
            ),
            (
                "DE89 3704 0044 0532 0130 00 ok",
                &[("DE89 3704 0044 0532 0130 00", IbanCode)],
            ),
            ("DE89370400440532013001", &[]),
            // number layouts of log lines, not phones
            ("alignment exceptions (35591533) iar", &[]),
            ("Interrupt Link (IRQs 3 4 5 6 7 10 11 12) *14", &[]),
            ("ip_tables (C) 2000-2002 Netfilter core team", &[]),
            ("serial number 00000004", &[]),
            ("fan speeds ( 3552 3534 3375 ) rpm", &[]),
            (
                "escalate to +33 6 93 34 39 93 or +44 20 7946 0958",
                &[
                    ("+33 6 93 34 39 93", PhoneNumber),
                    ("+44 20 7946 0958", PhoneNumber),
                ],
            ),
            ("queue grew +1234567 bytes, +12 34 56", &[]),
            (
                "Berlin desk +49 30 12345678.",
                &[("+49 30 12345678", PhoneNumber)],
            ),
            (
                "mobile 0151 2345 6789 or 3312 3456",
                &[("0151 2345 6789", PhoneNumber), ("3312 3456", PhoneNumber)],
            ),
            (
                "on-call +1 212-555-0132, backup +1 (212) 555-0199",
                &[
                    ("+1 212-555-0132", PhoneNumber),
                    ("+1 (212) 555-0199", PhoneNumber),
                ],
            ),
            (
                "call 1 (415) 555-0132 today",
                &[("1 (415) 555-0132", PhoneNumber)],
            ),
        ];
        for (t, want) in cases {
            let want: Vec<(String, EntityType)> =
                want.iter().map(|(s, e)| ((*s).to_string(), *e)).collect();
            assert_eq!(found(t), want, "{t}");
        }
    }
}
