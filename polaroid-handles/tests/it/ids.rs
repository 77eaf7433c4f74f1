use std::collections::HashSet;

use polaroid_handles::{HandleError, HandleId};

#[test]
fn one_million_generated_ids_are_unique() {
    let mut seen = HashSet::with_capacity(1_000_000);
    for _ in 0..1_000_000 {
        assert!(seen.insert(HandleId::generate().as_u128()));
    }
}

#[test]
fn ids_print_fixed_length_and_round_trip() {
    for _ in 0..1000 {
        let id = HandleId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), HandleId::TEXT_LEN);
        assert_eq!(text.matches('-').count(), 4);
        assert_eq!(text.parse::<HandleId>().unwrap(), id);
    }
}

#[test]
fn ids_are_not_sequential() {
    // 128 random bits: consecutive ids differ in about half their bits.
    let a = HandleId::generate().as_u128();
    let b = HandleId::generate().as_u128();
    let differing = (a ^ b).count_ones();
    assert!((20..=108).contains(&differing), "{differing} differing bits");
}

#[test]
fn malformed_ids_are_rejected_with_a_reason() {
    let cases = [
        ("", "36 characters"),
        ("0f8e6a3c-51b2-4c7d-9a10-2b3c4d5e6f7", "36 characters"),
        ("0f8e6a3c_51b2-4c7d-9a10-2b3c4d5e6f70", "expected '-'"),
        ("0F8E6A3C-51B2-4C7D-9A10-2B3C4D5E6F70", "lowercase"),
        ("0g8e6a3c-51b2-4c7d-9a10-2b3c4d5e6f70", "only hex digits"),
        ("../../etc/passwd-aaaaaaaaaaaaaaaaaaa", "only hex digits"),
    ];
    for (input, expected) in cases {
        match input.parse::<HandleId>() {
            Err(err @ HandleError::MalformedId { .. }) => {
                let msg = err.to_string();
                assert!(msg.contains(expected), "{input:?}: {msg}");
            },
            other => panic!("{input:?} parsed as {other:?}"),
        }
    }
    // A valid id with a known value.
    let id: HandleId = "00000000-0000-0000-0000-0000000000ff".parse().unwrap();
    assert_eq!(id.as_u128(), 255);
}
