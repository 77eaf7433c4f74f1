//! `cargo bench -p polaroid-core --bench time_filters` (part of `make
//! bench`): queries filtered on the designated timestamp of a table that
//! holds a year, a part per day.
//!
//! Each query runs as the doors run one: SQL planned by `Core` over the
//! table, confined to the data directory, collected by the streaming
//! engine. Baseline, in the same run: upstream polars reading the same part
//! files with `scan_ipc` and the same filter, as a polars user with those
//! files would. Each figure is the median of the runs, the two interleaved.
//! The last hour of two of the symbols (`sym IN (...) AND ts >= ...`).
//! Then `count(*)` of the whole table (polars counts an IPC file's rows
//! from its record batches' headers), the last 10 rows (QuestDB's
//! `LIMIT -10`), and the newest 10 (`ORDER BY ts DESC LIMIT 10`).
//!
//! Days: POLAROID_BENCH_DAYS (365), of 10,000 rows each. Runs:
//! POLAROID_BENCH_RUNS (9). POLAROID_BENCH_ONLY: the queries whose name
//! starts so; POLAROID_BENCH_BASELINE=0 times polaroid alone (to profile
//! it).

use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use polaroid_core::tables::{PartitionBy, TableDef};
use polaroid_core::{CancelToken, Core, CoreConfig, Namespace, SqlOptions};
use polars::prelude::*;

const ROWS_PER_DAY: i64 = 10_000;
/// The case whose SQL gets the bound of the newest rows, as the QuestDB
/// dialect gives it.
const NEWEST: &str = "SELECT * FROM t ORDER BY ts DESC LIMIT 10";

fn main() {
    let setting = |name: &str, default: i64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (days, runs) = (setting("POLAROID_BENCH_DAYS", 365), setting("POLAROID_BENCH_RUNS", 9));
    let only = std::env::var("POLAROID_BENCH_ONLY").unwrap_or_default();
    let baseline = setting("POLAROID_BENCH_BASELINE", 1) != 0;
    let dir = tempfile::tempdir().unwrap();
    let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..CoreConfig::default() }).unwrap();
    let ns = Namespace::anonymous();
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let started = Instant::now();
    let parts = fill(&core, &ns, start, days);
    println!(
        "time_filters: {days} days x {ROWS_PER_DAY} rows, {} parts, written in {:.1} s",
        parts.len(),
        started.elapsed().as_secs_f64()
    );

    let day = |n: i64| start + chrono::Duration::days(n);
    let text = |at: NaiveDateTime| at.format("%Y-%m-%d %H:%M:%S").to_string();
    let (last_hour, mid, week) = (day(days) - chrono::Duration::hours(1), day(days / 2), day(days - 7));
    let sum = |filter: &str| format!("SELECT count(*) AS n, sum(px) AS px FROM t WHERE {filter}");
    let counted = || [len().cast(DataType::Int64).alias("n"), col("px").sum()];
    // Each case: its SQL, what the door adds to the SQL's plan, and what
    // upstream polars does with the scan of the same files.
    type Then = Box<dyn Fn(LazyFrame) -> LazyFrame>;
    let as_is = || -> Then { Box::new(|lf| lf) };
    let filtered = move |filter: Expr| -> Then { Box::new(move |scan: LazyFrame| scan.filter(filter.clone()).select(counted())) };
    let cases: Vec<(&str, String, Then, Then)> = vec![
        ("the last hour", sum(&format!("ts >= '{}'", text(last_hour))), as_is(), filtered(col("ts").gt_eq(at(last_hour)))),
        (
            "one day",
            sum(&format!("ts >= '{}' AND ts < '{}'", text(mid), text(day(days / 2 + 1)))),
            as_is(),
            filtered(col("ts").gt_eq(at(mid)).and(col("ts").lt(at(day(days / 2 + 1))))),
        ),
        ("the last week", sum(&format!("ts >= '{}'", text(week))), as_is(), filtered(col("ts").gt_eq(at(week)))),
        // A set of symbols beside the time filter (patch 0112 splits the AND).
        (
            "two, last hour",
            sum(&format!("sym IN ('AAPL', 'NVDA') AND ts >= '{}'", text(last_hour))),
            as_is(),
            filtered(col("sym").is_in(lit(Series::new("".into(), ["AAPL", "NVDA"])).implode(false), false).and(col("ts").gt_eq(at(last_hour)))),
        ),
        ("everything", sum("true"), as_is(), filtered(lit(true))),
        (
            "count(*)",
            "SELECT count(*) AS n FROM t".into(),
            as_is(),
            Box::new(|scan: LazyFrame| scan.select([len().cast(DataType::Int64).alias("n")])),
        ),
        // QuestDB's `SELECT * FROM t LIMIT -10`, planned as its dialect
        // does (the symbols as text, to compare them with the files').
        (
            "the last 10 rows",
            "SELECT * FROM t".into(),
            Box::new(|lf: LazyFrame| lf.tail(10).with_column(col("sym").cast(DataType::String))),
            Box::new(|scan: LazyFrame| scan.tail(10).with_column(col("sym").cast(DataType::String))),
        ),
        // QuestDB's `SELECT * FROM t ORDER BY ts DESC LIMIT 10`, which its
        // dialect bounds by the footers' counts (the SQL below is planned
        // with the bound found at each run).
        (
            "the newest 10",
            NEWEST.into(),
            Box::new(|lf: LazyFrame| lf.with_column(col("sym").cast(DataType::String))),
            Box::new(|scan: LazyFrame| {
                let newest = SortMultipleOptions::default().with_order_descending(true);
                scan.sort(["ts"], newest).limit(10).with_column(col("sym").cast(DataType::String))
            }),
        ),
    ];
    let table = core.tables().existing(&ns, "t").unwrap();
    println!("{:<16} {:>12} {:>16} {:>8}", "query", "polaroid", "polars scan_ipc", "ratio");
    for (name, query, then, upstream_then) in cases.into_iter().filter(|case| case.0.starts_with(&only)) {
        let served = || {
            let query = match query.as_str() {
                NEWEST => {
                    let bound = table.newest_rows_bound(10, None).unwrap().expect("the footers count the rows");
                    format!("SELECT * FROM t WHERE ts >= '{}' ORDER BY ts DESC LIMIT 10", bound.format("%Y-%m-%d %H:%M:%S%.6f"))
                },
                _ => query.clone(),
            };
            let (lf, _) = core.namespace_sql_plan_with(&ns, &query, Vec::new(), SqlOptions::default()).unwrap();
            let entry = core.prepare_plan(&ns, then(lf), "bench").unwrap();
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
            if baseline {
                theirs.push(timed(&upstream));
            }
        }
        if !baseline {
            println!("{name:<16} {:>9.2} ms", ms(median(ours)));
            continue;
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
            "sym" => (0..ROWS_PER_DAY).map(|i| ["AAPL", "MSFT", "NVDA"][(i % 3) as usize]).collect::<Vec<_>>(),
            "px" => (0..ROWS_PER_DAY).map(|i| 100.0 + (i * 37 % 1000) as f64 / 10.0).collect::<Vec<_>>(),
        )
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap();
        // Every 25 days the log is written out, a part per day.
        core.tables().append(ns, "t", rows, None).unwrap();
    }
    core.tables().existing(ns, "t").unwrap().flushed_parts().unwrap()
}

fn at(instant: NaiveDateTime) -> Expr {
    lit(instant.and_utc().timestamp_micros()).cast(DataType::Datetime(TimeUnit::Microseconds, None))
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
