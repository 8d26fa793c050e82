//! Entity types and detected spans.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The kinds of personal data and secrets the detectors find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    /// A person's name.
    Person,
    /// An e-mail address.
    EmailAddress,
    /// A phone number (international or national format).
    PhoneNumber,
    /// A payment card number (Luhn-valid).
    CreditCard,
    /// An IBAN (mod-97 valid, per-country length).
    IbanCode,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A US social security number.
    UsSsn,
    /// A street or postal address.
    StreetAddress,
    /// A US driver's licence number (only where context says so).
    UsDriverLicense,
    /// A user handle: Slack mention, @handle, account id, user-name field.
    UserHandle,
    /// A credential: API key, token, password, private key.
    Secret,
}

impl EntityType {
    /// Every entity type, in a stable order.
    pub const ALL: [Self; 11] = [
        Self::Person,
        Self::EmailAddress,
        Self::PhoneNumber,
        Self::CreditCard,
        Self::IbanCode,
        Self::IpAddress,
        Self::UsSsn,
        Self::StreetAddress,
        Self::UsDriverLicense,
        Self::UserHandle,
        Self::Secret,
    ];

    /// The entity type's name as used in span output and policies (`PERSON`, `EMAIL_ADDRESS`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Person => "PERSON",
            Self::EmailAddress => "EMAIL_ADDRESS",
            Self::PhoneNumber => "PHONE_NUMBER",
            Self::CreditCard => "CREDIT_CARD",
            Self::IbanCode => "IBAN_CODE",
            Self::IpAddress => "IP_ADDRESS",
            Self::UsSsn => "US_SSN",
            Self::StreetAddress => "STREET_ADDRESS",
            Self::UsDriverLicense => "US_DRIVER_LICENSE",
            Self::UserHandle => "USER_HANDLE",
            Self::Secret => "SECRET",
        }
    }

    /// Precedence when spans of different types overlap (higher wins).
    pub(crate) const fn priority(self) -> u8 {
        match self {
            Self::Secret => 10,
            Self::EmailAddress => 9,
            Self::IbanCode => 8,
            Self::CreditCard => 7,
            Self::UsSsn => 6,
            Self::IpAddress => 6,
            Self::UserHandle => 5,
            Self::PhoneNumber => 4,
            Self::UsDriverLicense => 4,
            Self::StreetAddress => 3,
            Self::Person => 2,
        }
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EntityType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.name() == s)
            .ok_or_else(|| Error::UnknownEntityType(truncate_name(s)))
    }
}

/// Keep error messages short and free of long payloads.
fn truncate_name(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A detected entity: byte offsets into the analysed text (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// What was found.
    pub entity_type: EntityType,
}

impl Span {
    pub(crate) const fn new(start: usize, end: usize, entity_type: EntityType) -> Self {
        Self {
            start,
            end,
            entity_type,
        }
    }
}

/// Sort spans and merge overlapping ones into their union, keeping the type of the longest
/// (ties broken by type priority): anonymization must never leave part of a finding behind.
pub(crate) fn resolve(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| s.end > s.start);
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    // merged in place: `kept` spans are final, the rest are still to be read
    let mut kept = 0usize;
    let mut best_len = 0usize;
    for r in 0..spans.len() {
        let s = spans[r];
        if let Some(last) = kept.checked_sub(1).and_then(|k| spans.get_mut(k)) {
            if s.start < last.end {
                let len = s.end - s.start;
                if len > best_len
                    || (len == best_len && s.entity_type.priority() > last.entity_type.priority())
                {
                    last.entity_type = s.entity_type;
                    best_len = len;
                }
                last.end = last.end.max(s.end);
                continue;
            }
        }
        best_len = s.end - s.start;
        spans[kept] = s;
        kept += 1;
    }
    spans.truncate(kept);
    spans
}

/// Convert byte-offset spans of `text` (sorted, non-overlapping) to code-point offsets.
#[must_use]
pub fn to_char_offsets(text: &str, spans: &[Span]) -> Vec<(usize, usize, EntityType)> {
    let mut out = Vec::with_capacity(spans.len());
    let mut byte = 0usize;
    let mut chars = 0usize;
    let advance = |to: usize, byte: &mut usize, chars: &mut usize| {
        if to > *byte {
            *chars += text.get(*byte..to).map_or(0, |s| s.chars().count());
            *byte = to;
        }
    };
    for s in spans {
        advance(s.start, &mut byte, &mut chars);
        let start = chars;
        advance(s.end, &mut byte, &mut chars);
        out.push((start, chars, s.entity_type));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_error() {
        for t in EntityType::ALL {
            assert_eq!(t.name().parse::<EntityType>().ok(), Some(t));
        }
        assert!(matches!(
            "NOPE".parse::<EntityType>(),
            Err(Error::UnknownEntityType(_))
        ));
    }

    #[test]
    fn resolve_merges_overlaps() {
        let spans = vec![
            Span::new(5, 10, EntityType::Person),
            Span::new(0, 3, EntityType::Secret),
            Span::new(8, 20, EntityType::EmailAddress),
        ];
        let r = resolve(spans);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1], Span::new(5, 20, EntityType::EmailAddress));
    }

    #[test]
    fn char_offsets_count_code_points() {
        let text = "é x ñame";
        let spans = [Span::new(5, 10, EntityType::Person)];
        assert_eq!(
            to_char_offsets(text, &spans),
            vec![(4, 8, EntityType::Person)]
        );
    }
}
