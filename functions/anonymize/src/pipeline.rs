//! Records to knowledge: anonymize each record exactly (text spans, identity fields,
//! structured attributes), extract incidents, services, signatures and actions, and upsert
//! them into the tenant's graph in one transaction.

use bacca_anonymizer::{Anonymizer, Directory, DirectoryPerson, EntityType, Report};
use bacca_connectors::Record;
use serde_json::Value;

use crate::Error;

/// The tenant directory for one batch: the people the records name in their identity fields
/// (the connectors keep them apart from the text), so their names, handles, e-mails and ids
/// are found in free text too.
pub fn batch_directory(records: &[Record]) -> Directory {
    let mut dir = bacca_connectors::Directory::default();
    dir.add_records(records);
    Directory {
        people: dir
            .people
            .into_iter()
            .map(|p| DirectoryPerson {
                names: p.names,
                handles: p.handles,
                emails: p.emails,
                ids: p.ids,
            })
            .collect(),
    }
}

fn replace_field(
    anonymizer: &Anonymizer,
    report: &mut Report,
    t: EntityType,
    field: &mut Option<String>,
) {
    if let Some(v) = field.as_mut() {
        if !v.is_empty() {
            *v = anonymizer.replacement(t, v);
            *report.counts.entry(t).or_default() += 1;
        }
    }
}

/// Anonymizes one record in place and returns it as the JSON the extractor reads.
///
/// # Errors
/// [`Error::Anonymize`] when the attributes are too deep or too large for the walker.
pub fn anonymize_record(
    anonymizer: &Anonymizer,
    mut record: Record,
    report: &mut Report,
) -> Result<Value, Error> {
    let (text, r) = anonymizer.anonymize_text(&record.text);
    record.text = text;
    report.merge(&r);
    for id in &mut record.identities {
        replace_field(anonymizer, report, EntityType::UserHandle, &mut id.id);
        replace_field(anonymizer, report, EntityType::Person, &mut id.name);
        replace_field(anonymizer, report, EntityType::UserHandle, &mut id.handle);
        replace_field(anonymizer, report, EntityType::EmailAddress, &mut id.email);
    }
    if !record.attributes.is_null() {
        let r = anonymizer
            .anonymize_json(&mut record.attributes)
            .map_err(|_| Error::Anonymize)?;
        report.merge(&r);
    }
    serde_json::to_value(&record).map_err(|_| Error::Anonymize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bacca_anonymizer::Policy;
    use bacca_connectors::{Identity, SourceKind};

    fn record() -> Record {
        Record {
            source: SourceKind::Slack,
            kind: "message".into(),
            id: "1700000200.000200".into(),
            container: Some("C01INC".into()),
            parent_id: None,
            occurred_at: "2023-11-14T22:16:40Z".parse().unwrap(),
            updated_at: None,
            text:
                "paging Dana Whitfield (dana@example.com), rolled back 4f2a9c1 on checkout-api-7d9f"
                    .into(),
            identities: vec![Identity {
                role: "author".into(),
                id: Some("U01AAA".into()),
                name: Some("Dana Whitfield".into()),
                handle: Some("dana".into()),
                email: Some("dana@example.com".into()),
            }],
            attributes: serde_json::json!({"usr": {"email": "dana@example.com"}, "service": "checkout-api"}),
        }
    }

    #[test]
    fn identity_fields_text_and_attributes_are_replaced_operational_tokens_kept() {
        let key = zeroize::Zeroizing::new([3u8; 32]);
        let records = vec![record()];
        let anonymizer =
            Anonymizer::new(&key, &Policy::default(), &batch_directory(&records)).unwrap();
        let mut report = Report::default();
        let v = anonymize_record(&anonymizer, record(), &mut report).unwrap();
        let s = v.to_string();
        for planted in ["Dana Whitfield", "dana@example.com", "U01AAA"] {
            assert!(!s.contains(planted), "{planted} leaked");
        }
        assert!(s.contains("4f2a9c1"));
        assert!(s.contains("checkout-api-7d9f"));
        assert!(s.contains("\"service\":\"checkout-api\""));
        assert!(report.total() >= 5);
        // The same person gets the same pseudonym in the text and in the identity field.
        let author = v["identities"][0]["email"].as_str().unwrap().to_owned();
        assert!(v["text"].as_str().unwrap().contains(&author));
    }
}
