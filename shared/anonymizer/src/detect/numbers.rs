//! Digit-run detectors: payment cards (Luhn + issuer prefix), US SSNs (area/group/serial),
//! phone numbers (validated against libphonenumber metadata), US driver's licences (only
//! after a licence cue), and IBANs (per-country length + mod-97).

use super::keywords::{Group, Keywords};
use super::{clean_left, clean_right, window_before, Window};
use crate::span::{EntityType, Span};

mod iban;
mod phone;
mod validate;

pub(crate) use iban::ibans;
use phone::{extension_end, is_phone, phone_right, reading_list};
use validate::{is_card, is_ssn};

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
