use polaroid_handles::{Entry, GoneReason, HandleConfig, HandleError, Namespace, Payload};
use polars::prelude::*;

use crate::{frame, frame_entry, store};

const MIB_ROWS: usize = 128 * 1024; // 128Ki i64 = 1 MiB

fn budget_for_four_and_a_half_mib() -> HandleConfig {
    HandleConfig { memory_budget: 9 << 19, ..Default::default() }
}

#[test]
fn frames_weigh_their_estimated_size() {
    let entry = frame_entry(MIB_ROWS);
    assert_eq!(entry.estimated_bytes(), Some(1 << 20));
    assert_eq!(entry.rows(), Some(MIB_ROWS));
    let s = store(HandleConfig::default());
    let ns = Namespace::new("a");
    s.insert(&ns, entry).unwrap();
    let plan = Entry::plan(frame(10).lazy().filter(col("v").gt(lit(3))), "filter").unwrap();
    assert_eq!(plan.estimated_bytes(), None);
    s.insert(&ns, plan).unwrap();
    // The plan scans a frame no handle holds: it keeps those 80 bytes alive.
    assert_eq!(s.stats().bytes, (1 << 20) + 80, "a plan is charged for the frame it keeps alive");
}

#[test]
fn handles_over_one_frame_are_charged_for_it_once() {
    let s = store(HandleConfig::default());
    let ns = Namespace::new("a");
    let id = s.insert(&ns, frame_entry(MIB_ROWS)).unwrap();
    let base = s.get(&ns, id).unwrap();
    // Ten plans chained on the frame, and a second frame handle of the same Arc.
    let mut lf = base.lazy();
    for i in 0..10 {
        lf = lf.filter(col("v").gt(lit(i)));
        s.insert(&ns, Entry::plan(lf.clone(), format!("filter {i}")).unwrap()).unwrap();
    }
    let Payload::Frame(df) = base.payload() else { panic!("a frame") };
    s.insert(&ns, Entry::frame(df.clone(), "collect")).unwrap();
    assert_eq!(s.stats().count, 12);
    assert_eq!(s.stats().bytes, 1 << 20, "twelve handles share one frame");
}

#[test]
fn a_plan_that_outlives_its_frame_handle_takes_over_its_weight() {
    let s = store(budget_for_four_and_a_half_mib());
    let ns = Namespace::new("a");
    let frame_id = s.insert(&ns, frame_entry(MIB_ROWS)).unwrap();
    let lf = s.get(&ns, frame_id).unwrap().lazy().filter(col("v").gt(lit(0)));
    let plan = s.insert(&ns, Entry::plan(lf, "filter").unwrap()).unwrap();
    assert_eq!(s.stats().bytes, 1 << 20);
    // The frame handle goes; the plan still keeps the MiB alive, and says so.
    s.drop(&ns, frame_id).unwrap();
    assert_eq!(s.stats().bytes, 1 << 20, "the charge moved to the plan");
    // Four more MiB do not fit beside it: the plan, least recently used, is
    // evicted, and with it the last reference to the first MiB.
    let newer: Vec<_> = (0..4).map(|_| s.insert(&ns, frame_entry(MIB_ROWS)).unwrap()).collect();
    match s.get(&ns, plan) {
        Err(HandleError::NotFound { reason: GoneReason::Evicted { .. }, .. }) => {},
        other => panic!("the plan should carry the frame's weight and be evicted, got {:?}", other.map(|e| e.lineage().to_string())),
    }
    assert!(newer.iter().all(|id| s.get(&ns, *id).is_ok()));
    assert_eq!(s.stats().bytes, 4 << 20);
}

#[test]
fn the_least_recently_used_handle_is_evicted_first() {
    let s = store(budget_for_four_and_a_half_mib());
    let ns = Namespace::new("a");
    let [a, b, c, d] = [(); 4].map(|_| s.insert(&ns, frame_entry(MIB_ROWS)).unwrap());
    s.get(&ns, a).unwrap(); // order now, oldest use first: b c d a
    let e = s.insert(&ns, frame_entry(MIB_ROWS)).unwrap();
    match s.get(&ns, b) {
        Err(HandleError::NotFound { reason: GoneReason::Evicted { budget }, .. }) => {
            assert_eq!(budget, 9 << 19)
        },
        other => panic!("b should have been evicted, got {other:?}"),
    }
    for id in [a, c, d, e] {
        assert!(s.get(&ns, id).is_ok());
    }
    // The gets above left the order a c d e (least recent first); touching
    // a and c makes it d e a c, so d is next.
    s.touch(&ns, a).unwrap();
    s.touch(&ns, c).unwrap();
    s.insert(&ns, frame_entry(MIB_ROWS)).unwrap();
    assert!(matches!(
        s.get(&ns, d),
        Err(HandleError::NotFound { reason: GoneReason::Evicted { .. }, .. })
    ));
    let stats = s.stats();
    assert_eq!((stats.count, stats.evicted), (4, 2));
    assert!(stats.bytes <= 9 << 19, "{} bytes held", stats.bytes);
}

#[test]
fn a_fresh_insert_is_always_retrievable_under_memory_pressure() {
    let s = store(budget_for_four_and_a_half_mib());
    let ns = Namespace::new("a");
    for i in 0..60 {
        // Mixed sizes, always far over budget in total.
        let rows = MIB_ROWS / 4 * (1 + i % 7);
        let id = s.insert(&ns, frame_entry(rows)).unwrap();
        let entry = s.get(&ns, id).expect("a handle just handed out must be retrievable");
        assert_eq!(entry.rows(), Some(rows));
        assert!(s.stats().bytes <= 9 << 19);
    }
}

#[test]
fn a_frame_larger_than_the_whole_budget_is_refused_without_evicting() {
    let s = store(HandleConfig { memory_budget: 1 << 20, ..Default::default() });
    let ns = Namespace::new("a");
    let small = s.insert(&ns, frame_entry(1024)).unwrap();
    let err = s.insert(&ns, frame_entry(2 * MIB_ROWS)).unwrap_err();
    assert!(matches!(err, HandleError::TooLarge { bytes: 2097152, budget: 1048576 }), "{err:?}");
    assert!(err.to_string().contains("larger than the whole memory budget"));
    assert!(s.get(&ns, small).is_ok());
    let stats = s.stats();
    assert_eq!((stats.count, stats.evicted, stats.inserted), (1, 0, 1));
}

#[test]
fn chained_handles_share_the_parents_buffers() {
    let s = store(HandleConfig::default());
    let ns = Namespace::new("a");
    let parent = s.insert(&ns, frame_entry(MIB_ROWS)).unwrap();
    let parent_entry = s.get(&ns, parent).unwrap();
    let Payload::Frame(parent_df) = parent_entry.payload() else { panic!("a frame") };
    let parent_ptr = parent_df.column("v").unwrap().i64().unwrap().cont_slice().unwrap().as_ptr();

    // Ten handles derived from the parent: each a plan over the same buffers.
    let mut last = parent;
    for i in 0..10 {
        let lf = s.get(&ns, last).unwrap().lazy().with_column((col("v") + lit(i)).alias(format!("c{i}")));
        last = s.insert(&ns, Entry::plan(lf, format!("with_columns(c{i})")).unwrap()).unwrap();
    }
    assert_eq!(s.stats().bytes, 1 << 20, "derived plans add no frame bytes");

    // Collecting a projection of the chain hands back the parent's buffer itself.
    let out = s.get(&ns, last).unwrap().lazy().select([col("v"), col("c9")]).collect().unwrap();
    let out_ptr = out.column("v").unwrap().i64().unwrap().cont_slice().unwrap().as_ptr();
    assert_eq!(out_ptr, parent_ptr, "the projection must not copy the parent column");
    assert_eq!(out.column("c9").unwrap().i64().unwrap().get(5), Some(5 + 9));
}

#[test]
fn a_plan_that_does_not_resolve_is_refused() {
    let err = Entry::plan(frame(3).lazy().select([col("nope")]), "select(nope)").err().unwrap();
    assert!(err.to_string().contains("nope"), "{err}");
}
