//! One record's fields as extraction reads them, checked: required fields present, times
//! parsed and ordered, text within its limit; errors name the record by index, never its
//! content.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{LABEL_CHARS, MAX_RECORD_TEXT_BYTES};
use crate::{Error, Result};

pub(super) struct Rec<'a> {
    pub(super) source: &'a str,
    pub(super) kind: &'a str,
    pub(super) id: &'a str,
    pub(super) container: Option<&'a str>,
    pub(super) parent: Option<&'a str>,
    pub(super) at: DateTime<Utc>,
    pub(super) text: &'a str,
    pub(super) attrs: &'a serde_json::Map<String, Value>,
    pub(super) people: Vec<String>,
}

pub(super) fn field<'a>(v: &'a Value, i: usize, name: &str) -> Result<&'a str> {
    v.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::InvalidRecord(format!("record {i}: missing or empty `{name}`")))
}

pub(super) fn time(v: &Value, i: usize, name: &str) -> Result<Option<DateTime<Utc>>> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| Error::InvalidRecord(format!("record {i}: `{name}` is not RFC 3339"))),
        Some(_) => Err(Error::InvalidRecord(format!(
            "record {i}: `{name}` is not a string"
        ))),
    }
}

static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> = std::sync::OnceLock::new();

pub(super) fn parse(v: &Value, i: usize) -> Result<Rec<'_>> {
    if !v.is_object() {
        return Err(Error::InvalidRecord(format!(
            "record {i}: not a JSON object"
        )));
    }
    let at = time(v, i, "occurred_at")?
        .ok_or_else(|| Error::InvalidRecord(format!("record {i}: missing `occurred_at`")))?;
    if let Some(u) = time(v, i, "updated_at")? {
        if u < at {
            return Err(Error::InvalidRecord(format!(
                "record {i}: `updated_at` before `occurred_at`"
            )));
        }
    }
    let text = match v.get("text") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(Error::InvalidRecord(format!(
                "record {i}: `text` is not a string"
            )))
        }
    };
    if text.len() > MAX_RECORD_TEXT_BYTES {
        return Err(Error::InvalidRecord(format!(
            "record {i}: text of {} bytes exceeds {MAX_RECORD_TEXT_BYTES}",
            text.len()
        )));
    }
    let attrs = match v.get("attributes") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => EMPTY.get_or_init(serde_json::Map::new),
        Some(_) => {
            return Err(Error::InvalidRecord(format!(
                "record {i}: `attributes` is not an object"
            )))
        }
    };
    let people = v
        .get("identities")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|p| {
                    p.get("id")
                        .or_else(|| p.get("handle"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Rec {
        source: field(v, i, "source")?,
        kind: field(v, i, "kind")?,
        id: field(v, i, "id")?,
        container: v.get("container").and_then(Value::as_str),
        parent: v.get("parent_id").and_then(Value::as_str),
        at,
        text,
        attrs,
        people,
    })
}

pub(super) fn attr_str<'a>(r: &'a Rec<'_>, name: &str) -> Option<&'a str> {
    r.attrs
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(super) fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(LABEL_CHARS) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}
