//! IBANs, grouped or not: country code, per-country length (ISO 13616), mod-97.

use super::super::keywords::Keywords;
use super::super::{clean_left, clean_right};
use crate::span::{EntityType, Span};

/// IBAN length per country (ISO 13616 registry).
pub(super) fn iban_len(cc: [u8; 2]) -> Option<usize> {
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

pub(super) fn mod97(chars: &[u8]) -> bool {
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
