//! Handle-store operations per second on 1 and 2 threads, each beside a bare
//! moka `get` on the same machine in the same run. The closing table prints
//! our overhead as a ratio to that baseline.
//!
//! Run with `make bench` (or `cargo bench -p polaroid-handles`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion};
use moka::policy::EvictionPolicy;
use polaroid_handles::{Entry, HandleConfig, HandleId, HandleStore, Namespace};
use polars::prelude::*;

const PREFILLED: usize = 1_000;

/// (iterations, total time) per benchmark id, summed over every sample.
type Tally = Arc<Mutex<BTreeMap<String, (u64, Duration)>>>;

fn tally() -> &'static Tally {
    static TALLY: std::sync::OnceLock<Tally> = std::sync::OnceLock::new();
    TALLY.get_or_init(Default::default)
}

fn record(id: &str, iters: u64, elapsed: Duration) -> Duration {
    let mut t = tally().lock().unwrap();
    let slot = t.entry(id.to_string()).or_default();
    slot.0 += iters;
    slot.1 += elapsed;
    elapsed
}

/// Split `iters` over `threads` threads running `op(thread, i)`; wall time of the whole.
fn parallel(threads: usize, iters: u64, op: impl Fn(usize, u64) + Sync) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let op = &op;
            s.spawn(move || {
                for i in 0..per_thread {
                    op(t, i);
                }
            });
        }
    });
    start.elapsed()
}

fn small_frame() -> Arc<DataFrame> {
    Arc::new(df!("v" => (0..64i64).collect::<Vec<_>>()).unwrap())
}

fn prefilled_store() -> (HandleStore, Namespace, Vec<HandleId>, Arc<DataFrame>) {
    let store = HandleStore::new(HandleConfig::default());
    let ns = Namespace::new("bench");
    let df = small_frame();
    let ids = (0..PREFILLED).map(|_| store.insert(&ns, Entry::frame(df.clone(), "bench")).unwrap()).collect();
    (store, ns, ids, df)
}

fn bench_store(c: &mut Criterion) {
    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("handles/{threads}-thread"));
        group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));

        let baseline: moka::sync::Cache<u128, Arc<u64>> = moka::sync::Cache::builder()
            .eviction_policy(EvictionPolicy::lru())
            .time_to_idle(Duration::from_secs(1800))
            .max_capacity(1 << 30)
            .build();
        for k in 0..PREFILLED as u128 {
            baseline.insert(k, Arc::new(k as u64));
        }
        let id = format!("moka_get/{threads}");
        group.bench_function(BenchmarkId::new("moka_get", threads), |b| {
            b.iter_custom(|iters| {
                let el = parallel(threads, iters, |t, i| {
                    black_box(baseline.get(&(((i as usize + t * 7) % PREFILLED) as u128)));
                });
                record(&id, iters, el)
            })
        });

        let (store, ns, ids, df) = prefilled_store();
        let id = format!("get/{threads}");
        group.bench_function(BenchmarkId::new("get", threads), |b| {
            b.iter_custom(|iters| {
                let el = parallel(threads, iters, |t, i| {
                    black_box(store.get(&ns, ids[(i as usize + t * 7) % PREFILLED]).unwrap());
                });
                record(&id, iters, el)
            })
        });
        let id = format!("touch/{threads}");
        group.bench_function(BenchmarkId::new("touch", threads), |b| {
            b.iter_custom(|iters| {
                let el = parallel(threads, iters, |t, i| {
                    store.touch(&ns, ids[(i as usize + t * 7) % PREFILLED]).unwrap();
                });
                record(&id, iters, el)
            })
        });
        let id = format!("insert/{threads}");
        group.bench_function(BenchmarkId::new("insert", threads), |b| {
            b.iter_custom(|iters| {
                let fresh = HandleStore::new(HandleConfig::default());
                let el = parallel(threads, iters, |_, _| {
                    black_box(fresh.insert(&ns, Entry::frame(df.clone(), "bench")).unwrap());
                });
                record(&id, iters, el)
            })
        });
        let id = format!("drop/{threads}");
        group.bench_function(BenchmarkId::new("drop", threads), |b| {
            b.iter_custom(|iters| {
                let fresh = HandleStore::new(HandleConfig::default());
                let per_thread = iters.div_ceil(threads as u64) as usize;
                let victims: Vec<Vec<HandleId>> = (0..threads)
                    .map(|_| {
                        (0..per_thread)
                            .map(|_| fresh.insert(&ns, Entry::frame(df.clone(), "bench")).unwrap())
                            .collect()
                    })
                    .collect();
                let el = parallel(threads, iters, |t, i| {
                    fresh.drop(&ns, victims[t][i as usize]).unwrap();
                });
                record(&id, iters, el)
            })
        });
        group.finish();
    }
}

fn print_ratios() {
    let t = tally().lock().unwrap();
    let ns_per_op = |key: &str| t.get(key).map(|(n, d)| d.as_nanos() as f64 / *n as f64);
    println!("\nhandle store vs bare moka get (same run, same machine)");
    println!("{:<8} {:>8} {:>12} {:>14} {:>18}", "op", "threads", "ns/op", "ops/s", "x moka get");
    for threads in [1, 2] {
        let Some(base) = ns_per_op(&format!("moka_get/{threads}")) else { continue };
        for op in ["moka_get", "get", "touch", "insert", "drop"] {
            if let Some(v) = ns_per_op(&format!("{op}/{threads}")) {
                println!("{op:<8} {threads:>8} {v:>12.1} {:>14.0} {:>18.2}", 1e9 / v, v / base);
            }
        }
    }
}

criterion_group!(benches, bench_store);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios();
}
