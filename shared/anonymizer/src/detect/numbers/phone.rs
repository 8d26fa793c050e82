//! Phone numbers: cluster shapes (international, national, NANP), then libphonenumber's
//! metadata, with a per-thread cache of validated candidates.

use phonenumber::country::Id;

use super::super::clean_right;
use super::validate::{is_date_like, num};
use super::{Cluster, CUE_PHONE};

pub(super) const REGIONS: &[Id] = &[
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
pub(super) const PHONE_CACHE_MAX: usize = 4096;

std::thread_local! {
    /// Validation results by candidate, one map per `international` flag (operational text
    /// repeats the same numbers: on-call lines, support numbers), so libphonenumber's regexes
    /// run once per distinct number.
    static PHONE_CACHE: std::cell::RefCell<[std::collections::HashMap<Box<str>, bool>; 2]> =
        std::cell::RefCell::new([std::collections::HashMap::new(), std::collections::HashMap::new()]);
}

pub(super) fn phone_valid(s: &str, international: bool) -> bool {
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

pub(super) fn phone_valid_uncached(s: &str, international: bool) -> bool {
    if international {
        return phonenumber::parse(None, s).is_ok_and(|n| phonenumber::is_valid(&n));
    }
    REGIONS
        .iter()
        .any(|&r| phonenumber::parse(Some(r), s).is_ok_and(|n| phonenumber::is_valid(&n)))
}

/// Extension suffix (`x8340`, ` ext. 12`) right after a phone number: its end.
pub(super) fn extension_end(bytes: &[u8], e: usize) -> usize {
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

pub(super) fn is_phone(text: &str, c: &Cluster, cues: u8) -> bool {
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
pub(super) fn national_shape(c: &Cluster) -> bool {
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
pub(super) fn reading_list(c: &Cluster) -> bool {
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
pub(super) fn international_shaped(c: &Cluster) -> bool {
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
pub(super) fn calling_code_exists(code: u32) -> bool {
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
pub(super) fn nanp_shaped(c: &Cluster) -> bool {
    let g = c.groups.as_slice();
    let skip = usize::from(c.plus && g.len() == 4);
    let mut seps = c.seps.iter().skip(skip).filter(|&&s| s != b')');
    let same = seps.next().is_none_or(|f| seps.all(|s| s == f));
    same && (g == [3, 3, 4] || (g.len() == 4 && g[1..] == [3, 3, 4] && matches!(g[0], 1..=3)))
}

/// A phone number may be followed by a label glued with a hyphen (`555-0132-Office`).
pub(super) fn phone_right(bytes: &[u8], e: usize) -> bool {
    clean_right(bytes, e)
        || (bytes.get(e) == Some(&b'-') && bytes.get(e + 1).is_some_and(u8::is_ascii_alphabetic))
}
