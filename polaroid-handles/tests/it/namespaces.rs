use polaroid_handles::{GoneReason, HandleConfig, HandleError, HandleId, Namespace};

use crate::{frame_entry, store};

fn reason_text(err: HandleError) -> String {
    // The id differs between the two lookups; compare what follows it.
    err.to_string().split_once(": ").unwrap().1.to_string()
}

#[test]
fn another_namespace_sees_exactly_what_an_unknown_id_gives() {
    let s = store(HandleConfig::default());
    let (alice, mallory) = (Namespace::new("alice"), Namespace::new("mallory"));
    let id = s.insert(&alice, frame_entry(10)).unwrap();

    let foreign = s.get(&mallory, id).unwrap_err();
    let unknown = s.get(&mallory, HandleId::generate()).unwrap_err();
    assert!(matches!(foreign, HandleError::NotFound { reason: GoneReason::NeverExisted, .. }));
    assert_eq!(reason_text(foreign), reason_text(unknown));

    assert!(matches!(s.touch(&mallory, id), Err(HandleError::NotFound { .. })));
    assert!(matches!(s.drop(&mallory, id), Err(HandleError::NotFound { .. })));
    assert!(s.list(&mallory).is_empty());
    // None of that touched alice's handle.
    assert_eq!(s.get(&alice, id).unwrap().rows(), Some(10));
}

#[test]
fn gone_reasons_are_only_told_to_the_owner() {
    let s = store(HandleConfig::default());
    let (alice, mallory) = (Namespace::new("alice"), Namespace::new("mallory"));
    let id = s.insert(&alice, frame_entry(10)).unwrap();
    s.drop(&alice, id).unwrap();
    assert!(matches!(s.get(&alice, id), Err(HandleError::NotFound { reason: GoneReason::Dropped, .. })));
    assert!(matches!(
        s.get(&mallory, id),
        Err(HandleError::NotFound { reason: GoneReason::NeverExisted, .. })
    ));
}

#[test]
fn list_shows_only_the_callers_handles_with_their_details() {
    let s = store(HandleConfig::default());
    let (alice, bob) = (Namespace::new("alice"), Namespace::new("bob"));
    let a1 = s.insert(&alice, frame_entry(10)).unwrap();
    let a2 = s.insert(&alice, frame_entry(20)).unwrap();
    let b1 = s.insert(&bob, frame_entry(30)).unwrap();
    let listed = s.list(&alice);
    let mut ids: Vec<_> = listed.iter().map(|i| i.id).collect();
    ids.sort();
    let mut expected = vec![a1, a2];
    expected.sort();
    assert_eq!(ids, expected);
    let info = listed.iter().find(|i| i.id == a2).unwrap();
    assert_eq!(info.rows, Some(20));
    assert_eq!(info.estimated_bytes, Some(160));
    assert_eq!(&*info.lineage, "test_frame(20)");
    assert_eq!(info.schema.len(), 1);
    assert!(info.last_access >= info.created || info.created.elapsed().is_ok());
    assert_eq!(s.list(&bob).iter().map(|i| i.id).collect::<Vec<_>>(), vec![b1]);
}
