//! Street and postal addresses: a house number followed within a few words by a street type
//! (`12 Main Street`, `64 Rua Papoula`, `ul. Lubartowska 42`, `Hauptstraße 5`), unit lines
//! (`Suite 992`, `Apt. 441`, `P.O. Box 101`), postcodes after a cue, and the continuation
//! lines of an address block (unit, town, region, postcode).

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::keywords::{Group, Keywords};
use super::{before, clean_left, is_word_byte, window_before};
use crate::span::{EntityType, Span};

mod lexicon;
mod tokens;

pub(crate) use lexicon::UNITS;
use lexicon::{listed, ENDINGS, PREFIXES, PREFIX_INDEX, STREET_WORDS, SUFFIXES, SUFFIX_INDEX};
use tokens::{is_number, is_ordinal, letters, lower_word, next_words, LOWER_BUF};

/// Where the street line that starts with a house number at `s` ends, if it is one.
fn street_from_number(text: &str, s: usize) -> Option<usize> {
    let ws = next_words(text, s, 8);
    let first = text.get(ws.first()?.0..ws.first()?.1)?;
    if !is_number(first) {
        return None;
    }
    let mut k = 1;
    // "64 72 Essex Rd": a second number
    if ws
        .get(k)
        .is_some_and(|&(a, b)| text.get(a..b).is_some_and(is_number))
    {
        k += 1;
    }
    let &(a, b) = ws.get(k)?;
    let mut wbuf = [0u8; LOWER_BUF];
    let w = lower_word(text, a, b, &mut wbuf);
    let wt = w.trim_end_matches('.');
    if !letters(&w) && !is_ordinal(&w) {
        return None;
    }
    // "99 Colonia Ofir 9881": capitalised words that are not English words, then a number
    if let Some(pos) = ws
        .iter()
        .skip(k)
        .position(|&(x, y)| text.get(x..y).is_some_and(is_number))
    {
        let names = &ws[k..k + pos];
        let lex = super::lexicon::Lexicon::get();
        if (1..=4).contains(&names.len())
            && names.iter().all(|&(x, y)| {
                text.get(x..y).is_some_and(|t| {
                    t.chars().next().is_some_and(char::is_uppercase)
                        || STREET_WORDS
                            .contains(&lower_word(text, x, y, &mut [0; LOWER_BUF]).as_ref())
                })
            })
            && names.iter().any(|&(x, y)| {
                text.get(x..y)
                    .is_some_and(|t| t.chars().next().is_some_and(char::is_uppercase))
            })
            && names
                .iter()
                .any(|&(x, y)| !lex.is_word(&lower_word(text, x, y, &mut [0; LOWER_BUF])))
        {
            return Some(ws[k + pos].1);
        }
    }
    if listed(&PREFIX_INDEX, PREFIXES, wt) && ws.len() > k + 1 {
        // the street name after the prefix: up to the end of the line
        return Some(line_end(text, ws.get(k + 1)?.1));
    }
    // the capital first (one test) before the endings (one comparison each)
    if text
        .get(a..b)
        .is_some_and(|x| x.chars().next().is_some_and(char::is_uppercase))
        && ENDINGS.iter().any(|e| w.ends_with(e))
    {
        return Some(line_end(text, a + wt.len()));
    }
    for (idx, &(a, b)) in ws.iter().enumerate().skip(k) {
        let mut wbuf = [0u8; LOWER_BUF];
        let w = lower_word(text, a, b, &mut wbuf);
        let wt = w.trim_end_matches('.');
        if idx > k && listed(&SUFFIX_INDEX, SUFFIXES, wt) {
            // the words between the number and the suffix must look like a name
            let named = ws[k..idx].iter().all(|&(x, y)| {
                text.get(x..y).is_some_and(|t| {
                    t.chars()
                        .next()
                        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
                        || letters(t)
                })
            });
            let capitalised = text
                .get(ws[k].0..ws[k].1)
                .is_some_and(|t| t.chars().next().is_some_and(char::is_uppercase) || is_ordinal(t));
            let all_lower = ws[..=idx].iter().all(|&(x, y)| {
                text.get(x..y)
                    .is_some_and(|t| !t.chars().any(char::is_uppercase))
            });
            if named && (capitalised || all_lower) {
                return Some(a + wt.len());
            }
            return None;
        }
        if idx > k + 3 || !(letters(&w) || is_ordinal(&w)) {
            break;
        }
    }
    None
}

/// End of a short address line: up to a newline, sentence punctuation or 80 bytes.
fn line_end(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut e = from;
    let mut limit = (from + 80).min(bytes.len());
    while !text.is_char_boundary(limit) {
        limit -= 1; // never inside a multi-byte character (`from` is a boundary)
    }
    while e < limit
        && !matches!(
            bytes[e],
            b'\n' | b'\r' | b';' | b'"' | b'!' | b'?' | b'|' | b'}'
        )
    {
        if bytes[e] == b'.' && bytes.get(e + 1).is_none_or(|b| b.is_ascii_whitespace()) {
            break;
        }
        e += 1;
    }
    while e > from && matches!(bytes[e - 1], b' ' | b',' | b'.') {
        e -= 1;
    }
    if e < from {
        from
    } else {
        e
    }
}

/// Continuation lines of an address block after `e`: units, town, region, postcode.
fn continuation(text: &str, mut e: usize) -> usize {
    let bytes = text.as_bytes();
    let anchor_start = text
        .get(..e)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |k| k + 1);
    let lower_ok = text
        .get(anchor_start..e)
        .is_some_and(|t| !t.chars().any(char::is_uppercase));
    for _ in 0..4 {
        let mut j = e;
        let mut newlines = 0;
        while j < bytes.len() && matches!(bytes[j], b'\n' | b'\r' | b' ' | b',' | b'>') {
            if bytes[j] == b'\n' {
                newlines += 1;
            }
            j += 1;
        }
        if newlines > 2 || j >= bytes.len() || j == e {
            break;
        }
        let end = line_end(text, j);
        let line = text.get(j..end).unwrap_or("");
        let comma = line.find(',').map_or(end, |k| j + k);
        let seg_end = if newlines == 0 { comma } else { end };
        let mut k = j;
        let mut accepted = 0;
        while k < seg_end {
            let ws = k;
            while k < seg_end && !bytes[k].is_ascii_whitespace() {
                k += 1;
            }
            let w = text.get(ws..k).unwrap_or("");
            let c = w.chars().next().unwrap_or(' ');
            if w.is_empty()
                || !(c.is_uppercase()
                    || c.is_ascii_digit()
                    || (lower_ok && newlines > 0 && c.is_alphabetic()))
                || w.len() > 40
            {
                break;
            }
            accepted += 1;
            e = k;
            if accepted >= 6 {
                break;
            }
            while k < seg_end && bytes[k] == b' ' {
                k += 1;
            }
        }
        if accepted == 0 || e < seg_end {
            break;
        }
    }
    e
}

/// Whether `bytes` holds a `z` or an `ost` in any case (every postcode cue has one).
fn postcode_cue_possible(bytes: &[u8]) -> bool {
    memchr::memchr2(b'z', b'Z', bytes).is_some()
        || memchr::memchr2_iter(b's', b'S', bytes).any(|p| {
            p.checked_sub(1)
                .and_then(|k| bytes.get(k))
                .is_some_and(|b| b.eq_ignore_ascii_case(&b'o'))
                && bytes
                    .get(p + 1)
                    .is_some_and(|b| b.eq_ignore_ascii_case(&b't'))
        })
}

/// Street addresses, unit lines and cued postcodes.
pub(crate) fn find(text: &str, kw: &Keywords, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let mut next_free = 0usize;
    // a postcode cue (`zip`, `postal code`, `postcode`, any case) needs a `z` or an `ost`
    // somewhere in the line: without one (most log lines), no context window is searched;
    // decided on the first 4-6 digit number
    let mut cue_possible: Option<bool> = None;
    let mut zip_cue = |i: usize| {
        *cue_possible.get_or_insert_with(|| postcode_cue_possible(bytes)) && {
            let ctx = window_before(bytes, i, 24);
            ctx.contains("zip") || ctx.contains("postal code") || ctx.contains("postcode")
        }
    };
    // house numbers start a word
    for &i in kw.digit_starts() {
        if i < next_free || !clean_left(bytes, i) {
            continue;
        }
        // the digits, up to seven: every test below fails alike for a longer run, and no
        // digit start lies inside a run of digits, so `next_free` skips nothing more
        let mut d = i;
        while d < bytes.len() && d - i < 7 && bytes[d].is_ascii_digit() {
            d += 1;
        }
        // cheap gate: at most 6 digits, then a space and a word or a second number
        let plausible = d - i <= 6
            && bytes.get(d) == Some(&b' ')
            && bytes
                .get(d + 1)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b >= 0x80);
        if !plausible {
            if (4..=6).contains(&(d - i))
                && !bytes.get(d).is_some_and(u8::is_ascii_alphanumeric)
                && zip_cue(i)
            {
                out.push(Span::new(i, d, EntityType::StreetAddress));
            }
            next_free = d.max(i + 1);
            continue;
        }
        if let Some(e) = street_from_number(text, i) {
            let e = continuation(text, e);
            out.push(Span::new(i, e, EntityType::StreetAddress));
            next_free = e.max(i + 1);
            continue;
        }
        // postcode after a cue
        let mut e = i;
        while e < bytes.len() && bytes[e].is_ascii_digit() {
            e += 1;
        }
        if (4..=6).contains(&(e - i))
            && !bytes.get(e).is_some_and(u8::is_ascii_alphanumeric)
            && zip_cue(i)
        {
            out.push(Span::new(i, e, EntityType::StreetAddress));
        }
        next_free = e.max(i + 1);
    }
    street_prefixed(text, out);
    street_endings(text, kw, out);
    military(text, kw, out);
    {
        for m in kw.of(Group::Unit) {
            if !clean_left(bytes, m.start())
                || before(bytes, m.start()).is_some_and(|b| b.is_ascii_alphanumeric())
            {
                continue;
            }
            let mut e = m.end();
            while e < bytes.len() && bytes[e].is_ascii_digit() {
                e += 1;
            }
            if e > m.end() && !bytes.get(e).is_some_and(u8::is_ascii_alphanumeric) {
                let e = continuation(text, e);
                out.push(Span::new(m.start(), e, EntityType::StreetAddress));
            }
        }
    }
}

fn is_alnum_at(bytes: &[u8], k: usize) -> bool {
    bytes.get(k).is_some_and(u8::is_ascii_alphanumeric)
}

/// US military mail (USPS Publication 28): `APO AE 09012`, `FPO AP 96349`, `DPO AA 34012`,
/// with the line before when it is a unit, PSC, CMR or ship line (`PSC 1234, Box 5678`,
/// `Unit 2050 Box 4190`, `USNS Comfort`).
fn military(text: &str, kw: &Keywords, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    // `XPO XX 12345` starts a word and its ZIP code starts a word at a digit seven bytes
    // later: visit those digit starts (fewer than the word starts) and step back
    for &d in kw.digit_starts() {
        let Some(s) = d.checked_sub(7) else {
            continue;
        };
        let Some(w) = bytes.get(s..s + 12) else {
            break;
        };
        // the two spaces first (most candidates fail there), then `s` must start a word
        if w[3] != b' ' || w[6] != b' ' || before(bytes, s).is_some_and(is_word_byte) {
            continue;
        }
        let office = [b"apo ", b"fpo ", b"dpo "]
            .iter()
            .any(|p| w[..4].eq_ignore_ascii_case(&p[..]));
        let region = [b"aa ", b"ae ", b"ap "]
            .iter()
            .any(|p| w[4..7].eq_ignore_ascii_case(&p[..]));
        if !office || !region || !w[7..12].iter().all(u8::is_ascii_digit) {
            continue;
        }
        let e = s + 12;
        if bytes.get(e).is_some_and(u8::is_ascii_alphanumeric) || !clean_left(bytes, s) {
            continue;
        }
        // the unit line before: same line after ", " or the previous line
        let mut start = s;
        let head = text.get(..s).unwrap_or("");
        let trimmed = head.trim_end_matches([' ', ',', '\n', '\r']);
        if trimmed.len() < head.len() {
            // the last unit word on that line, at most 40 bytes before the office
            let line_start = trimmed.rfind('\n').map_or(0, |k| k + 1);
            let mut k = trimmed.len();
            while k > line_start && trimmed.len() - k <= 40 {
                k -= 1;
                let at_word = k == 0 || !is_alnum_at(bytes, k - 1);
                if at_word
                    && ["psc ", "cmr ", "unit ", "usns ", "uss ", "usnv ", "uscgc "]
                        .iter()
                        .any(|u| {
                            bytes
                                .get(k..k + u.len())
                                .is_some_and(|b| b.eq_ignore_ascii_case(u.as_bytes()))
                        })
                {
                    start = k;
                    break;
                }
            }
        }
        out.push(Span::new(start, e, EntityType::StreetAddress));
    }
}

/// `ul. Lubartowska 42`, `Rua Papoula 1998`: a street prefix, capitalised name, house number.
fn street_prefixed(text: &str, out: &mut Vec<Span>) {
    static AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    let ac = AC.get_or_init(|| {
        AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .match_kind(MatchKind::LeftmostLongest)
            .build([
                "ul. ", "Rua ", "Rue ", "Via ", "Calle ", "Avenida ", "Estrada ", "Viale ",
                "Piazza ", "Praça ",
            ])
            .ok()
    });
    let Some(ac) = ac else { return };
    let bytes = text.as_bytes();
    for m in ac.find_iter(text) {
        if before(bytes, m.start()).is_some_and(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let ws = next_words(text, m.end(), 5);
        let Some(pos) = ws
            .iter()
            .position(|&(a, b)| text.get(a..b).is_some_and(is_number))
        else {
            continue;
        };
        if pos == 0 {
            continue;
        }
        let named = ws[..pos].iter().all(|&(a, b)| {
            text.get(a..b)
                .is_some_and(|t| t.chars().next().is_some_and(char::is_uppercase))
        });
        if named {
            let e = continuation(text, ws[pos].1);
            out.push(Span::new(m.start(), e, EntityType::StreetAddress));
        }
    }
}

/// Street-type endings of one-word street names (followed by a house number).
pub(crate) const STREET_ENDINGS: &[&str] = &[
    "straße ", "strasse ", "str. ", "gasse ", "weg ", "vej ", "gatan ", "gata ", "gate ", "gaten ",
    "vägen ", "veien ", "vegen ", "laan ", "straat ", "plein ", "utca ", "katu ", "tie ", "iela ",
    "gade ", "allee ", "platz ", "damm ", "ulica ", "cesta ",
];

/// `Hauptstraße 5`, `Storgatan 12`, `Søndre Havnevej 65`: a capitalised one-word street name
/// with a street-type ending, then a house number.
fn street_endings(text: &str, kw: &Keywords, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    for m in kw.of(Group::Ending) {
        // a house number right after
        let ns = m.end();
        let mut ne = ns;
        while ne < bytes.len() && bytes[ne].is_ascii_digit() && ne - ns < 5 {
            ne += 1;
        }
        if ne == ns || bytes.get(ne).is_some_and(|b| b.is_ascii_digit()) {
            continue;
        }
        if bytes.get(ne).is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.get(ne + 1).is_some_and(u8::is_ascii_alphabetic)
        {
            continue;
        }
        // the word containing the ending, capitalised, at least 3 letters before the ending
        let Some(head) = text.get(..m.start()) else {
            continue;
        };
        let word_start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphabetic() || *c == '-')
            .last()
            .map_or(m.start(), |(k, _)| k);
        let Some(word) = text.get(word_start..m.end()) else {
            continue;
        };
        if !word.chars().next().is_some_and(char::is_uppercase) || m.start() - word_start < 2 {
            continue;
        }
        if before(bytes, word_start)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'/')
        {
            continue;
        }
        let e = continuation(text, ne);
        out.push(Span::new(word_start, e, EntityType::StreetAddress));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &str) -> Vec<String> {
        let mut v = Vec::new();
        find(t, &Keywords::scan(t), &mut v);
        let v = crate::span::resolve(v);
        v.iter().map(|s| t[s.start..s.end].to_string()).collect()
    }

    #[test]
    fn word_index_keeps_every_listed_word() {
        for (index, list) in [(&SUFFIX_INDEX, SUFFIXES), (&PREFIX_INDEX, PREFIXES)] {
            for w in list {
                assert!(listed(index, list, w), "{w}");
            }
            for w in [
                "",
                "x",
                "streets",
                "Street",
                "main",
                "avenue.",
                "rua",
                "ul",
                "p.o",
                "boulevard",
                "crescentx",
                "averylongwordthatisnotlisted",
            ] {
                assert_eq!(listed(index, list, w), list.contains(&w), "{w}");
            }
        }
    }

    #[test]
    fn address_table() {
        let cases: &[(&str, &[&str])] = &[
            ("lives at 29 Hornsey Road. ok", &["29 Hornsey Road"]),
            (
                "1234 N Main St, Springfield, IL 62704 ok",
                &["1234 N Main St, Springfield, IL 62704"],
            ),
            (
                "64 Rua Papoula 1998\nHOLUM",
                &["64 Rua Papoula 1998\nHOLUM"],
            ),
            ("My zip code is 98547", &["98547"]),
            ("address: 92 ul. Lubartowska 42", &["92 ul. Lubartowska 42"]),
            ("Suite 992", &["Suite 992"]),
            (
                "restarted 3 pods on node 7; 500 errors in the last 5 minutes",
                &[],
            ),
            ("took 3 steps back to the main road", &[]),
            ("wohnt in der Hauptstraße 5 in Berlin", &["Hauptstraße 5"]),
            ("kubectl get pods -n gate 5", &[]),
            (
                "send it to PSC 7004, Box 8380\nAPO AP 11949 today",
                &["PSC 7004, Box 8380\nAPO AP 11949"],
            ),
            (
                "at USNS Comfort\nFPO AA 88037 now",
                &["USNS Comfort\nFPO AA 88037"],
            ),
            ("32 2914 184th Street", &["32 2914 184th Street"]),
            // military addresses at the start of the text, glued to a word, and two in a line
            ("DPO AA 34012", &["DPO AA 34012"]),
            ("xAPO AE 09012 and mapo ae 09012", &[]),
            (
                "apo ae 09012; FPO AP 96349",
                &["apo ae 09012", "FPO AP 96349"],
            ),
            (
                "lakik: 73 Hegedűs Gyula utca 76, Budapest",
                &["73 Hegedűs Gyula utca 76, Budapest"],
            ),
        ];
        for (t, want) in cases {
            assert_eq!(found(t), *want, "{t}");
        }
    }
}
