//! Card and SSN validation: the Luhn checksum, issuer prefixes, SSN area/group/serial ranges,
//! and the date shapes a digit cluster takes that are neither.

use super::{Cluster, CUE_SSN};

pub(super) fn luhn(digits: &[u8]) -> bool {
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

pub(super) fn card_prefix(d: &[u8]) -> bool {
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

pub(super) fn is_card(c: &Cluster) -> bool {
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

pub(super) fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |a, &b| a * 10 + u32::from(b - b'0'))
}

pub(super) fn valid_ssn(d: &[u8]) -> bool {
    let area = num(&d[0..3]);
    area != 0 && area != 666 && area < 900 && num(&d[3..5]) != 0 && num(&d[5..9]) != 0
}

pub(super) fn is_ssn(c: &Cluster, cues: u8) -> bool {
    if c.digits.len() != 9 || c.plus || c.paren || !valid_ssn(&c.digits) {
        return false;
    }
    let grouped =
        c.groups == [3, 2, 4] && c.seps[0] == c.seps[1] && matches!(c.seps[0], b'-' | b' ');
    grouped || (c.groups.len() == 1 && cues & CUE_SSN != 0)
}

pub(super) fn is_date_like(c: &Cluster) -> bool {
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
