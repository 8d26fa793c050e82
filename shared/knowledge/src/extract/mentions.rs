//! What a record's text and attributes name: services (tags, attributes, hosts), ticket keys,
//! and remediation actions (sentences with a remediation verb).

use std::collections::BTreeSet;

use serde_json::Value;

use super::record::{attr_str, clip, Rec};

/// Remediation types and the words that reveal them.
const ACTIONS: &[(&str, &[&str])] = &[
    (
        "rollback",
        &[
            "rollback",
            "rolled back",
            "roll back",
            "reverted",
            "revert ",
        ],
    ),
    (
        "restart",
        &["restarted", "restart ", "rebooted", "bounced", "recycled"],
    ),
    (
        "scale",
        &[
            "scaled",
            "scale up",
            "scale out",
            "added replicas",
            "increased replicas",
        ],
    ),
    (
        "failover",
        &["failover", "failed over", "fail over", "promoted replica"],
    ),
    (
        "config_change",
        &[
            "config change",
            "changed config",
            "updated config",
            "configuration change",
            "raised the limit",
            "increased the limit",
            "bumped",
        ],
    ),
    (
        "feature_flag",
        &[
            "feature flag",
            "disabled the flag",
            "toggled",
            "flag off",
            "kill switch",
        ],
    ),
    (
        "hotfix",
        &[
            "hotfix",
            "hot fix",
            "patched",
            "deployed a fix",
            "deployed fix",
            "shipped a fix",
        ],
    ),
];

pub(super) fn services_of(r: &Rec<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |s: &str| {
        let s = s.trim().to_lowercase();
        if !s.is_empty() && s.len() <= 200 {
            out.insert(s);
        }
    };
    if let Some(s) = attr_str(r, "service") {
        add(s);
    }
    if let Some(s) = attr_str(r, "host") {
        add(s);
    }
    for list in ["services", "tags"] {
        if let Some(arr) = r.attrs.get(list).and_then(Value::as_array) {
            for t in arr.iter().filter_map(Value::as_str) {
                if list == "services" {
                    add(t);
                } else if let Some(s) = t
                    .strip_prefix("service:")
                    .or_else(|| t.strip_prefix("host:"))
                {
                    add(s);
                }
            }
        }
    }
    out
}

/// Ticket keys like `OPS-7` in a text.
pub(super) fn ticket_keys(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            let Some((p, n)) = w.split_once('-') else {
                return false;
            };
            (2..=10).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && p.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
                && !n.is_empty()
                && n.len() <= 9
                && n.bytes().all(|b| b.is_ascii_digit())
        })
        .collect()
}

/// Sentences of `text` that describe a remediation, with their type.
pub(super) fn actions_in(text: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for sentence in text.split(['.', '\n', '!', '?', ';']) {
        let lower = format!("{} ", sentence.to_lowercase());
        if let Some((kind, _)) = ACTIONS
            .iter()
            .find(|(_, words)| words.iter().any(|w| lower.contains(w)))
        {
            out.push((*kind, clip(sentence)));
        }
    }
    out
}

/// `needle` occurs in `hay` not glued to other alphanumerics.
pub(super) fn contains_word(hay: &str, needle: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = hay[from..].find(needle) {
        let s = from + pos;
        let e = s + needle.len();
        let before = hay[..s]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after = hay[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return true;
        }
        from = s + needle.len().max(1);
        while from < hay.len() && !hay.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}
