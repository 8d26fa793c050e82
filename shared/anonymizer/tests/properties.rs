//! Properties: the detectors never panic, spans are valid and ordered, and no detected value
//! survives anonymization.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use bacca_anonymizer::{spans, Anonymizer, Directory, Operator, Policy};
use proptest::prelude::*;
use zeroize::Zeroizing;

fn pieces() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("jane.doe@example.com".to_string()),
        Just("+44 20 7946 0958".to_string()),
        Just("4111 1111 1111 1111".to_string()),
        Just("GB82 WEST 1234 5698 7654 32".to_string()),
        Just("203.0.113.9".to_string()),
        Just("2001:db8::1".to_string()),
        Just("205-46-4452".to_string()),
        Just("ghp_0123456789abcdefghijABCDEFGHIJ012345".to_string()),
        Just("password=hunter22".to_string()),
        Just("<@U024BE7LH|jane>".to_string()),
        Just("Kevin Okafor".to_string()),
        Just("12 Main Street".to_string()),
        Just("web-1.prod.internal".to_string()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn spans_are_valid(s in "\\PC{0,200}") {
        let v = spans(&s);
        let mut last = 0;
        for sp in &v {
            prop_assert!(sp.start >= last && sp.end > sp.start && sp.end <= s.len());
            prop_assert!(s.is_char_boundary(sp.start) && s.is_char_boundary(sp.end));
            last = sp.end;
        }
    }

    #[test]
    fn no_detected_value_survives(parts in proptest::collection::vec(pieces(), 1..8)) {
        let text = parts.join(" ");
        for op in [Operator::Pseudonymize, Operator::Redact, Operator::Mask] {
            let policy = Policy { default_operator: op, ..Policy::default() };
            let a = Anonymizer::new(&Zeroizing::new([8u8; 32]), &policy, &Directory::default()).unwrap();
            let found = a.spans(&text);
            let (out, _) = a.anonymize_text(&text);
            for sp in &found {
                let value = &text[sp.start..sp.end];
                if value.chars().count() >= 4 {
                    prop_assert!(!out.contains(value), "{:?} survived as {:?}", value, out);
                }
            }
        }
    }
}
