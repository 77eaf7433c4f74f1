use std::thread::sleep;
use std::time::Duration;

use polaroid_handles::{GoneReason, HandleConfig, HandleError, Namespace};

use crate::{frame_entry, store};

fn not_found_reason<T: std::fmt::Debug>(r: Result<T, HandleError>) -> GoneReason {
    match r {
        Err(HandleError::NotFound { reason, .. }) => reason,
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn idle_handles_expire_and_say_so() {
    let ttl = Duration::from_millis(200);
    let s = store(HandleConfig { idle_ttl: ttl, ..Default::default() });
    let ns = Namespace::new("a");
    let id = s.insert(&ns, frame_entry(10)).unwrap();
    assert!(s.get(&ns, id).is_ok());
    sleep(ttl + Duration::from_millis(150));
    let err = s.get(&ns, id).unwrap_err();
    assert_eq!(err.to_string(), format!("handle {id} not found: it expired after 200ms idle"));
    let stats = s.stats();
    assert_eq!((stats.count, stats.expired, stats.bytes), (0, 1, 0));
}

#[test]
fn touch_and_get_extend_the_idle_ttl() {
    let ttl = Duration::from_millis(300);
    let s = store(HandleConfig { idle_ttl: ttl, ..Default::default() });
    let ns = Namespace::new("a");
    let touched = s.insert(&ns, frame_entry(10)).unwrap();
    let read = s.insert(&ns, frame_entry(10)).unwrap();
    let idle = s.insert(&ns, frame_entry(10)).unwrap();
    // Over 600 ms, well past one TTL, keep two of them busy every 100 ms.
    for _ in 0..6 {
        sleep(Duration::from_millis(100));
        s.touch(&ns, touched).unwrap();
        s.get(&ns, read).unwrap();
    }
    assert!(s.get(&ns, touched).is_ok());
    assert!(s.get(&ns, read).is_ok());
    assert_eq!(not_found_reason(s.get(&ns, idle)), GoneReason::Expired { idle_ttl: ttl });
}

#[test]
fn the_hard_lifetime_ends_even_busy_handles() {
    let lifetime = Duration::from_millis(300);
    let s = store(HandleConfig {
        idle_ttl: Duration::from_secs(60),
        max_lifetime: Some(lifetime),
        ..Default::default()
    });
    let ns = Namespace::new("a");
    let id = s.insert(&ns, frame_entry(10)).unwrap();
    let mut alive_until_ms = 0;
    for step in 1..=8 {
        sleep(Duration::from_millis(60));
        if s.touch(&ns, id).is_ok() {
            alive_until_ms = step * 60;
        }
    }
    assert!((180..=300).contains(&alive_until_ms), "alive until {alive_until_ms} ms");
    assert_eq!(
        not_found_reason(s.get(&ns, id)),
        GoneReason::LifetimeEnded { max_lifetime: lifetime }
    );
}

#[test]
fn dropped_and_never_existing_handles_say_so() {
    let s = store(HandleConfig::default());
    let ns = Namespace::new("a");
    let id = s.insert(&ns, frame_entry(10)).unwrap();
    s.drop(&ns, id).unwrap();
    assert_eq!(not_found_reason(s.get(&ns, id)), GoneReason::Dropped);
    // Dropping twice is an error with the same reason, not a silent success.
    assert_eq!(not_found_reason(s.drop(&ns, id)), GoneReason::Dropped);
    let unknown = polaroid_handles::HandleId::generate();
    let err = s.get(&ns, unknown).unwrap_err();
    assert_eq!(err.to_string(), format!("handle {unknown} not found: no such handle exists"));
    let stats = s.stats();
    // Misses count lookups (get, touch): the get after the drop and the unknown id.
    assert_eq!((stats.count, stats.dropped, stats.misses, stats.inserted), (0, 1, 2, 1));
}

#[test]
fn the_gone_memory_is_bounded() {
    let s = store(HandleConfig { gone_memory: 3, ..Default::default() });
    let ns = Namespace::new("a");
    let ids: Vec<_> = (0..5).map(|_| s.insert(&ns, frame_entry(1)).unwrap()).collect();
    for id in &ids {
        s.drop(&ns, *id).unwrap();
    }
    // The two oldest drops are forgotten; the last three are remembered.
    assert_eq!(not_found_reason(s.get(&ns, ids[0])), GoneReason::NeverExisted);
    assert_eq!(not_found_reason(s.get(&ns, ids[1])), GoneReason::NeverExisted);
    for id in &ids[2..] {
        assert_eq!(not_found_reason(s.get(&ns, *id)), GoneReason::Dropped);
    }
}
