//! Evaluation on the seeded operational corpus: per-type recall, precision, operational-token
//! damage and leak rate, with thresholds a little under the measured figures (see README).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use bacca_anonymizer::eval::{corpus, score};
use bacca_anonymizer::{Anonymizer, Directory, EntityType, Policy};
use zeroize::Zeroizing;

fn anon(dir: &Directory) -> Anonymizer {
    Anonymizer::new(&Zeroizing::new([9u8; 32]), &Policy::default(), dir).unwrap()
}

#[test]
fn operational_corpus_meets_targets() {
    let c = corpus::generate(42, 3000);
    let s = score(&anon(&c.directory), &c.docs);
    println!("operational corpus, seed 42, 3000 docs, with directory:\n{s}");
    use EntityType::*;
    for t in [
        EmailAddress,
        PhoneNumber,
        CreditCard,
        IbanCode,
        IpAddress,
        UsSsn,
        Secret,
        UserHandle,
    ] {
        assert!(
            s.recall_of(t) >= 0.99,
            "{} recall {:.4}",
            t.name(),
            s.recall_of(t)
        );
    }
    assert!(
        s.recall_of(Person) >= 0.99,
        "PERSON recall {:.4}",
        s.recall_of(Person)
    );
    assert!(s.precision() >= 0.99, "precision {:.4}", s.precision());
    assert!(
        s.keep_damage() <= 0.005,
        "keep damage {:.4}",
        s.keep_damage()
    );
    assert!(s.leak_rate() <= 0.01, "leak rate {:.4}", s.leak_rate());
}

#[test]
fn operational_corpus_without_directory() {
    let c = corpus::generate(7, 2000);
    let s = score(&anon(&Directory::default()), &c.docs);
    println!("operational corpus, seed 7, 2000 docs, no directory:\n{s}");
    assert!(
        s.recall_of(EntityType::Person) >= 0.99,
        "PERSON recall {:.4}",
        s.recall_of(EntityType::Person)
    );
    assert!(s.precision() >= 0.99, "precision {:.4}", s.precision());
    assert!(s.keep_damage() <= 0.005);
}
