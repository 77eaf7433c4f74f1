//! `cargo bench -p polaroid-questdb --bench latest_on` (part of `make
//! bench`): the latest rows of symbols over a table that holds a year, a
//! part per day, planned by the QuestDB dialect as both doors plan it:
//! `LATEST ON ts PARTITION BY sym` of every symbol and of two, and the
//! newest 10 rows of one (`WHERE sym = ... ORDER BY ts DESC LIMIT 10`).
//!
//! Baseline, in the same run: upstream polars over the same part files
//! (`scan_ipc`), sorted on the timestamp and grouped by the symbol, keeping
//! each group's last row (or filtered, sorted and limited): what a polars
//! user with those files writes. Each figure is the median of the runs,
//! the two interleaved.
//!
//! Days: POLAROID_BENCH_DAYS (365), of 10,000 rows each over 100 symbols.
//! Runs: POLAROID_BENCH_RUNS (9).

use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use polaroid_core::tables::{PartitionBy, TableDef};
use polaroid_core::{CancelToken, Core, CoreConfig, Namespace};
use polars::prelude::*;

const ROWS_PER_DAY: i64 = 10_000;
const SYMBOLS: i64 = 100;

fn main() {
    let setting = |name: &str, default: i64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (days, runs) = (setting("POLAROID_BENCH_DAYS", 365), setting("POLAROID_BENCH_RUNS", 9));
    let dir = tempfile::tempdir().unwrap();
    let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..CoreConfig::default() }).unwrap();
    let ns = Namespace::anonymous();
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let started = Instant::now();
    let parts = fill(&core, &ns, start, days);
    println!(
        "latest_on: {days} days x {ROWS_PER_DAY} rows over {SYMBOLS} symbols, {} parts, written in {:.1} s",
        parts.len(),
        started.elapsed().as_secs_f64()
    );
    let two = ["S7", "S42"];
    // Each case: its QuestDB SQL, and what upstream polars does with the
    // scan of the same files.
    type Upstream = Box<dyn Fn(LazyFrame) -> LazyFrame>;
    let cases: Vec<(&str, String, Upstream)> = vec![
        (
            "every symbol",
            "SELECT * FROM t LATEST ON ts PARTITION BY sym".into(),
            Box::new(|scan: LazyFrame| latest(scan)),
        ),
        (
            "two symbols",
            format!("SELECT * FROM t WHERE sym IN ('{}', '{}') LATEST ON ts PARTITION BY sym", two[0], two[1]),
            Box::new(move |scan: LazyFrame| latest(scan.filter(col("sym").is_in(lit(Series::new("".into(), two)).implode(false), false)))),
        ),
        (
            "newest 10 of S7",
            "SELECT * FROM t WHERE sym = 'S7' ORDER BY ts DESC LIMIT 10".into(),
            Box::new(|scan: LazyFrame| {
                let newest = SortMultipleOptions::default().with_order_descending(true);
                scan.filter(col("sym").eq(lit("S7"))).sort(["ts"], newest).limit(10)
            }),
        ),
    ];
    println!("{:<16} {:>12} {:>16} {:>8}", "query", "polaroid", "polars scan_ipc", "ratio");
    for (name, query, upstream_then) in cases {
        let served = || {
            let (lf, _) = polaroid_questdb::plan(&core, &ns, &query).unwrap();
            let lf = lf.with_column(col("sym").cast(DataType::String));
            let entry = core.prepare_plan(&ns, lf, "bench").unwrap();
            core.collect_entry(&entry, Engine::Streaming, &CancelToken::default()).unwrap().as_ref().clone()
        };
        let upstream = || {
            let sources = ScanSources::Paths(parts.iter().map(|p| PlRefPath::new(p.to_string_lossy().as_ref())).collect());
            let scan = LazyFrame::scan_ipc_sources(sources, Default::default(), Default::default()).unwrap();
            upstream_then(scan).collect_with_engine(Engine::Streaming).unwrap().unwrap_single()
        };
        let (ours, theirs) = (served(), upstream());
        assert!(ours.equals_missing(&theirs), "{name}: {ours} != {theirs}");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(timed(&served));
            theirs.push(timed(&upstream));
        }
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "{name:<16} {:>9.2} ms {:>13.2} ms {:>7.1}x",
            ms(ours),
            ms(theirs),
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

/// Each symbol's latest row (of rows tied on the timestamp, the last),
/// the symbols in the order of their rows' timestamps.
fn latest(scan: LazyFrame) -> LazyFrame {
    scan.sort(["ts"], SortMultipleOptions::default().with_maintain_order(true))
        .group_by([col("sym")])
        .agg([all().as_expr().last()])
        .sort(["ts"], Default::default())
        .select([col("ts"), col("sym"), col("px")])
}

/// `days` days of rows from `start`, a part per day; returns the parts.
fn fill(core: &Core, ns: &Namespace, start: NaiveDateTime, days: i64) -> Vec<std::path::PathBuf> {
    let def = TableDef::new("t", &[("ts", "TIMESTAMP"), ("sym", "SYMBOL"), ("px", "DOUBLE")], Some("ts"), PartitionBy::Day);
    core.tables().create(ns, def, false).unwrap();
    let step = 86_400_000_000 / ROWS_PER_DAY;
    let first = start.and_utc().timestamp_micros();
    for d in 0..days {
        let ts: Vec<i64> = (0..ROWS_PER_DAY).map(|i| first + d * 86_400_000_000 + i * step).collect();
        let rows = df!(
            "ts" => ts,
            "sym" => (0..ROWS_PER_DAY).map(|i| format!("S{}", (i * 7 + d) % SYMBOLS)).collect::<Vec<_>>(),
            "px" => (0..ROWS_PER_DAY).map(|i| 100.0 + ((i + d) * 37 % 1000) as f64 / 10.0).collect::<Vec<_>>(),
        )
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap();
        core.tables().append(ns, "t", rows, None).unwrap();
    }
    core.tables().existing(ns, "t").unwrap().flushed_parts().unwrap()
}

fn timed<T>(run: &impl Fn() -> T) -> Duration {
    let started = Instant::now();
    std::hint::black_box(run());
    started.elapsed()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
