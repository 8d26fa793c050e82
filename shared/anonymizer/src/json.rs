//! The JSON walker: anonymizes spans inside string values and whole values of identity fields
//! chosen by key path; keys are left untouched; arrays are handled element by element.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::report::Report;
use crate::Anonymizer;

/// Deepest nesting the walker accepts (deeper documents are rejected, not truncated).
pub const MAX_DEPTH: usize = 128;

pub(crate) fn walk(anon: &Anonymizer, value: &mut Value) -> Result<Report> {
    let mut report = Report::default();
    let mut path = Vec::new();
    visit(anon, value, &mut path, 0, &mut report)?;
    Ok(report)
}

fn visit(
    anon: &Anonymizer,
    v: &mut Value,
    path: &mut Vec<String>,
    depth: usize,
    report: &mut Report,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep { limit: MAX_DEPTH });
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                path.push(k.clone());
                let joined = path.join(".");
                // the whole path, or its last one or two keys, may name an identity field
                let id = anon.identity_type(&joined).or_else(|| {
                    let n = path.len();
                    let tail2 = (n >= 2).then(|| format!("{}.{}", path[n - 2], path[n - 1]));
                    tail2
                        .and_then(|t| anon.identity_type(&t))
                        .or_else(|| anon.identity_type(&path[n - 1]))
                });
                match (id, &mut *child) {
                    (Some(t), Value::String(s)) if !s.is_empty() => {
                        *s = anon.replacement(t, s);
                        report.add(t, 1);
                    }
                    (Some(t), Value::Number(n)) => {
                        let s = n.to_string();
                        *child = Value::String(anon.replacement(t, &s));
                        report.add(t, 1);
                    }
                    _ => visit(anon, child, path, depth + 1, report)?,
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for item in items {
                visit(anon, item, path, depth + 1, report)?;
            }
        }
        Value::String(s) => {
            let spans = anon.spans(s);
            if !spans.is_empty() {
                report.add_spans(&spans);
                let (out, _) = anon.anonymize_text(s);
                *s = out;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use zeroize::Zeroizing;

    use crate::{Anonymizer, Directory, Error, Policy};

    #[test]
    fn walker_spans_identity_fields_and_depth() {
        let a = Anonymizer::new(
            &Zeroizing::new([3u8; 32]),
            &Policy::default(),
            &Directory::default(),
        )
        .unwrap();
        let mut v = json!({
            "message": "login by jane@example.com from 203.0.113.7",
            "usr": {"email": "jane@example.com", "id": 42},
            "host": "web-1.prod.internal",
            "tags": ["env:prod", "owner jane@example.com"],
            "reporter": {"displayName": "Jane Doe", "accountId": "5b10ac8d82e05b22cc7d4ef5"}
        });
        let r = a.anonymize_json(&mut v).unwrap();
        let s = v.to_string();
        assert!(
            !s.contains("jane@example.com")
                && !s.contains("Jane Doe")
                && !s.contains("203.0.113.7")
        );
        assert!(!s.contains("5b10ac8d82e05b22cc7d4ef5"));
        assert!(
            s.contains("web-1.prod.internal") && s.contains("env:prod") && s.contains("\"usr\"")
        );
        assert_eq!(r.total(), 7);
        // the same email gets the same token in free text and in the identity field
        let tok = a.replacement(crate::EntityType::EmailAddress, "jane@example.com");
        assert_eq!(s.matches(&tok).count(), 3);

        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        assert!(matches!(
            a.anonymize_json(&mut deep),
            Err(Error::TooDeep { .. })
        ));
    }
}
