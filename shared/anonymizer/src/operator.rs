//! What to write in place of a finding: a keyed deterministic pseudonym, a redaction tag, or a
//! mask; chosen per entity type by the [`Policy`].

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::span::EntityType;

/// How a finding is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// `<PERSON_7f3a9c2e>`: HMAC-SHA256 of the normalised value under the tenant's pseudonym
    /// key; the same value gets the same token in every source, different tenants differ.
    Pseudonymize,
    /// `<PERSON>`.
    Redact,
    /// One `*` per character.
    Mask,
}

/// Per-entity-type operators and detector settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Operator for types not listed in `operators`.
    #[serde(default = "default_operator")]
    pub default_operator: Operator,
    /// Operator per entity type name (`"SECRET": "redact"`). Unknown names are an error.
    #[serde(default)]
    pub operators: BTreeMap<String, Operator>,
    /// Keep private, loopback and link-local IPs (operational) instead of anonymizing them.
    #[serde(default)]
    pub keep_private_ips: bool,
    /// JSON key paths (dot-separated, array indices omitted) whose whole value is an identity,
    /// with the entity type it is (`"usr.email": "EMAIL_ADDRESS"`).
    #[serde(default = "default_identity_fields")]
    pub identity_fields: BTreeMap<String, String>,
}

const fn default_operator() -> Operator {
    Operator::Pseudonymize
}

fn default_identity_fields() -> BTreeMap<String, String> {
    [
        ("usr.email", "EMAIL_ADDRESS"),
        ("usr.name", "PERSON"),
        ("usr.id", "USER_HANDLE"),
        ("user", "USER_HANDLE"),
        ("username", "USER_HANDLE"),
        ("email", "EMAIL_ADDRESS"),
        ("reporter.emailAddress", "EMAIL_ADDRESS"),
        ("reporter.displayName", "PERSON"),
        ("reporter.accountId", "USER_HANDLE"),
        ("assignee.emailAddress", "EMAIL_ADDRESS"),
        ("assignee.displayName", "PERSON"),
        ("assignee.accountId", "USER_HANDLE"),
        ("creator.emailAddress", "EMAIL_ADDRESS"),
        ("creator.displayName", "PERSON"),
        ("creator.accountId", "USER_HANDLE"),
        ("author.displayName", "PERSON"),
        ("author.accountId", "USER_HANDLE"),
        ("author.emailAddress", "EMAIL_ADDRESS"),
        ("user_profile.real_name", "PERSON"),
        ("user_profile.display_name", "PERSON"),
        ("user_profile.name", "USER_HANDLE"),
        ("real_name", "PERSON"),
        ("display_name", "PERSON"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            default_operator: default_operator(),
            operators: BTreeMap::new(),
            keep_private_ips: false,
            identity_fields: default_identity_fields(),
        }
    }
}

/// A validated policy: names resolved to entity types.
#[derive(Debug, Clone)]
pub(crate) struct CompiledPolicy {
    pub(crate) operators: BTreeMap<EntityType, Operator>,
    pub(crate) default_operator: Operator,
    pub(crate) identity_fields: BTreeMap<String, EntityType>,
}

impl Policy {
    /// Parse a policy from JSON.
    ///
    /// # Errors
    /// [`Error::Config`] for malformed JSON or unknown fields.
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| {
            Error::Config(format!(
                "policy: line {} column {}: {}",
                e.line(),
                e.column(),
                e.classify_name()
            ))
        })
    }

    pub(crate) fn compile(&self) -> Result<CompiledPolicy> {
        let mut operators = BTreeMap::new();
        for (k, v) in &self.operators {
            operators.insert(k.parse::<EntityType>()?, *v);
        }
        let mut identity_fields = BTreeMap::new();
        for (k, v) in &self.identity_fields {
            identity_fields.insert(k.clone(), v.parse::<EntityType>()?);
        }
        Ok(CompiledPolicy {
            operators,
            default_operator: self.default_operator,
            identity_fields,
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "i/o",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "invalid field or value",
            serde_json::error::Category::Eof => "unexpected end",
        }
    }
}

/// The tenant's pseudonym key (32 bytes), held zeroized; Debug prints nothing of it.
pub struct PseudonymKey {
    key: hmac::Key,
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(**REDACTED**)")
    }
}

impl PseudonymKey {
    /// Wrap the tenant's 32-byte pseudonym key (unwrapped from KMS by the caller).
    #[must_use]
    pub fn new(bytes: &Zeroizing<[u8; 32]>) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes.as_slice()),
        }
    }

    /// The pseudonym token for `value` of type `t`, e.g. `<PERSON_7f3a9c2e>`.
    #[must_use]
    pub fn token(&self, t: EntityType, value: &str) -> String {
        let norm = normalise(t, value);
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(t.name().as_bytes());
        ctx.update(&[0]);
        ctx.update(norm.as_bytes());
        let tag = ctx.sign();
        let short = tag.as_ref().get(..4).unwrap_or_default();
        format!("<{}_{}>", t.name(), hex::encode(short))
    }
}

/// Normalise a value so that spellings of one identity map to one token.
#[must_use]
pub fn normalise(t: EntityType, value: &str) -> String {
    let v = value.trim();
    match t {
        EntityType::EmailAddress => v.to_lowercase(),
        EntityType::Person => v
            .split_whitespace()
            .map(|w| w.trim_end_matches("'s").to_lowercase())
            .collect::<Vec<_>>()
            .join(" "),
        EntityType::PhoneNumber | EntityType::CreditCard | EntityType::UsSsn => {
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            if v.starts_with('+') {
                format!("+{digits}")
            } else {
                digits
            }
        }
        EntityType::IbanCode | EntityType::UsDriverLicense => v
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase(),
        EntityType::UserHandle => {
            // <@U123|jane> -> u123 ; @Jane.Doe -> jane.doe
            let inner = v.trim_start_matches("<@").trim_end_matches('>');
            let id = inner.split('|').next().unwrap_or(inner);
            id.trim_start_matches('@').to_lowercase()
        }
        EntityType::IpAddress => v.to_lowercase(),
        _ => v.to_string(),
    }
}

/// Apply `op` to `value` of type `t`.
pub(crate) fn apply(op: Operator, key: &PseudonymKey, t: EntityType, value: &str) -> String {
    match op {
        Operator::Pseudonymize => key.token(t, value),
        Operator::Redact => format!("<{}>", t.name()),
        Operator::Mask => "*".repeat(value.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_keyed_and_normalised() {
        let k1 = PseudonymKey::new(&Zeroizing::new([1u8; 32]));
        let k2 = PseudonymKey::new(&Zeroizing::new([2u8; 32]));
        let a = k1.token(EntityType::EmailAddress, "Jane@Example.com");
        assert_eq!(a, k1.token(EntityType::EmailAddress, "jane@example.com"));
        assert_ne!(a, k2.token(EntityType::EmailAddress, "jane@example.com"));
        assert!(a.starts_with("<EMAIL_ADDRESS_") && a.len() == "<EMAIL_ADDRESS_>".len() + 8);
        assert_eq!(
            k1.token(EntityType::UserHandle, "<@U024BE7LH|jane>"),
            k1.token(EntityType::UserHandle, "<@U024BE7LH>")
        );
        assert_eq!(format!("{k1:?}"), "PseudonymKey(**REDACTED**)");
    }

    #[test]
    fn policy_rejects_unknown_type_and_fields() {
        let p = Policy::from_json(r#"{"operators":{"SECRET":"redact","NOPE":"mask"}}"#);
        assert!(matches!(
            p.map(|p| p.compile()),
            Ok(Err(Error::UnknownEntityType(_)))
        ));
        assert!(Policy::from_json(r#"{"bogus":1}"#).is_err());
        let ok =
            Policy::from_json(r#"{"operators":{"SECRET":"redact"}}"#).and_then(|p| p.compile());
        assert!(ok.is_ok());
    }
}
