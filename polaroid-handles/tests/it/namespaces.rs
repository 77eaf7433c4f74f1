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

/// One tenant filling its share evicts only its own handles.
#[test]
fn one_namespace_never_evicts_another() {
    const MIB_ROWS: usize = 128 * 1024; // 1 MiB of i64
    let s = store(HandleConfig { memory_budget: 8 << 20, namespace_budget: Some(4 << 20), ..Default::default() });
    let (alice, bob) = (Namespace::new("alice"), Namespace::new("bob"));
    let kept = s.insert(&alice, frame_entry(3 * MIB_ROWS)).unwrap();
    // Bob inserts 10 MiB in 1 MiB frames: far over his 4 MiB share.
    let bobs: Vec<_> = (0..10).map(|_| s.insert(&bob, frame_entry(MIB_ROWS)).unwrap()).collect();
    assert_eq!(s.get(&alice, kept).unwrap().rows(), Some(3 * MIB_ROWS), "alice's frame survived");
    let alive = bobs.iter().filter(|id| s.get(&bob, **id).is_ok()).count();
    assert_eq!(alive, 4, "bob keeps what fits his share");
    match s.get(&bob, bobs[0]) {
        Err(HandleError::NotFound { reason: GoneReason::Evicted { budget }, .. }) => assert_eq!(budget, 4 << 20),
        other => panic!("bob's oldest frame should be evicted, got {other:?}"),
    }
    let stats = s.stats();
    assert_eq!(stats.bytes, 7 << 20);
    assert!(stats.bytes <= 8 << 20);
}
