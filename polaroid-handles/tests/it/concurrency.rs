use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use polaroid_handles::{GoneReason, HandleConfig, HandleError, Namespace};

use crate::{frame_entry, store};

#[test]
fn concurrent_insert_get_drop_keeps_the_books_straight() {
    // Three namespaces, each with a third of the budget: together they stay under it.
    let s = store(HandleConfig { memory_budget: 2 << 20, namespace_budget: Some((2 << 20) / 3), ..Default::default() });
    let dropped_by_us = Arc::new(AtomicU64::new(0));
    let gets_ok = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            let dropped_by_us = dropped_by_us.clone();
            let gets_ok = gets_ok.clone();
            std::thread::spawn(move || {
                let ns = Namespace::new(format!("client-{}", t % 3));
                let mut mine = Vec::new();
                for i in 0..500 {
                    // 8 KiB frames; 8 threads x 500 x 8 KiB far exceeds the 2 MiB budget.
                    let id = s.insert(&ns, frame_entry(1024)).unwrap();
                    // With 8 threads on fewer cores, a thread can be preempted
                    // long enough for others to cycle the whole budget: then
                    // its handle is legitimately the least recently used.
                    match s.get(&ns, id) {
                        Ok(_) => {
                            gets_ok.fetch_add(1, Ordering::Relaxed);
                        },
                        Err(HandleError::NotFound { reason: GoneReason::Evicted { .. }, .. }) => {},
                        Err(other) => panic!("unexpected {other}"),
                    }
                    mine.push(id);
                    if i % 3 == 0 {
                        let victim = mine.swap_remove(i % mine.len());
                        match s.drop(&ns, victim) {
                            Ok(()) => {
                                dropped_by_us.fetch_add(1, Ordering::Relaxed);
                            },
                            Err(HandleError::NotFound { reason: GoneReason::Evicted { .. }, .. }) => {},
                            Err(other) => panic!("unexpected {other}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = s.stats();
    assert_eq!(stats.inserted, 8 * 500);
    assert_eq!(stats.dropped, dropped_by_us.load(Ordering::Relaxed));
    assert_eq!(stats.hits, gets_ok.load(Ordering::Relaxed));
    assert!(gets_ok.load(Ordering::Relaxed) > 8 * 500 / 2, "most fresh handles were read back");
    // Every handle ever inserted is either held, or gone for a counted reason.
    assert_eq!(stats.inserted, stats.count + stats.dropped + stats.evicted + stats.expired);
    assert!(stats.evicted > 0, "the budget forced evictions");
    assert!(stats.bytes <= 2 << 20);
    assert_eq!(stats.bytes, stats.count * 8192, "bytes held match the handles held");
}
