//! `cargo bench -p polaroid-questdb --bench time_filters` (part of `make
//! bench`): QuestDB queries over a table that holds a year, a part per day,
//! planned by the QuestDB dialect and collected as both doors run them.
//!
//! - Filters on the designated timestamp (`count(*)`, `sum(px)`): the last
//!   hour, one day, the last week, the last hour of two symbols
//!   (`sym IN (...) AND ts >= ...`), everything.
//! - `count(*)` of the whole table.
//! - The last 10 rows (`LIMIT -10`) and the newest 10 (`ORDER BY ts DESC
//!   LIMIT 10`), and the newest 10 of one symbol; `max(ts)` of the table,
//!   of one symbol, and of each (`GROUP BY sym`).
//! - The first 10 rows (`LIMIT 10`), the oldest 10 (`ORDER BY ts LIMIT
//!   10`), `min(ts)`, and `min(ts), max(ts)`.
//! - `LATEST ON ts PARTITION BY sym` of every symbol and of two.
//! - With a WHERE on another column (`px > 150`), read back from the
//!   newest parts: the newest 10 (of one symbol), `max(ts)`, `min(ts)`
//!   (read from the oldest), LATEST ON, the last 10 rows in the table's
//!   order (`WHERE ... LIMIT -10`, of one symbol too),
//!   `max(ts)` of each symbol; and the newest 10 that no row passes, which
//!   reads every part.
//!
//! - The same newest and oldest rows, `max(ts)` and `min(ts)`, as polars plans on the table's handle
//!   (`plan: `: the gRPC door's operations, the Python client, shipped
//!   plans) and as polars SQL (`sql: `, the gRPC and Flight SQL doors),
//!   read back by the plan rule of `polaroid_core::read_back`.
//!
//! Baseline, in the same run: upstream polars reading the same part files
//! with `scan_ipc` and doing the same work as a polars user with those
//! files would. Each figure is the median of the runs, the two interleaved.
//!
//! Days: POLAROID_BENCH_DAYS (365), of 10,000 rows each over 100 symbols
//! (each trades every day). Runs: POLAROID_BENCH_RUNS (9).
//! POLAROID_BENCH_ONLY: the queries whose name starts so;
//! POLAROID_BENCH_BASELINE=0 times polaroid alone (to profile it).

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
    let only = std::env::var("POLAROID_BENCH_ONLY").unwrap_or_default();
    let baseline = setting("POLAROID_BENCH_BASELINE", 1) != 0;
    let dir = tempfile::tempdir().unwrap();
    let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..CoreConfig::default() }).unwrap();
    let ns = Namespace::anonymous();
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let started = Instant::now();
    let parts = fill(&core, &ns, start, days);
    println!(
        "time_filters: {days} days x {ROWS_PER_DAY} rows over {SYMBOLS} symbols, {} parts, written in {:.1} s",
        parts.len(),
        started.elapsed().as_secs_f64()
    );

    let day = |n: i64| start + chrono::Duration::days(n);
    let text = |at: NaiveDateTime| at.format("%Y-%m-%d %H:%M:%S").to_string();
    let (last_hour, mid, week) = (day(days) - chrono::Duration::hours(1), day(days / 2), day(days - 7));
    let two = ["S7", "S42"];
    let in_two = move || col("sym").is_in(lit(Series::new("".into(), two)).implode(false), false);
    let sum = |filter: &str| format!("SELECT count(*) AS n, sum(px) AS px FROM t WHERE {filter}");
    let counted = || [len().cast(DataType::Int64).alias("n"), col("px").sum()];
    let newest = || SortMultipleOptions::default().with_order_descending(true);
    // Each case: its SQL, and what upstream polars does with the scan of
    // the same files (the symbols are text there, and made text here).
    type Upstream = Box<dyn Fn(LazyFrame) -> LazyFrame>;
    let filtered = move |filter: Expr| -> Upstream { Box::new(move |scan: LazyFrame| scan.filter(filter.clone()).select(counted())) };
    let mut cases: Vec<(&str, String, Upstream)> = vec![
        ("the last hour", sum(&format!("ts >= '{}'", text(last_hour))), filtered(col("ts").gt_eq(at(last_hour)))),
        (
            "one day",
            sum(&format!("ts >= '{}' AND ts < '{}'", text(mid), text(day(days / 2 + 1)))),
            filtered(col("ts").gt_eq(at(mid)).and(col("ts").lt(at(day(days / 2 + 1))))),
        ),
        ("the last week", sum(&format!("ts >= '{}'", text(week))), filtered(col("ts").gt_eq(at(week)))),
        // A set of symbols beside the time filter (patch 0112 splits the AND).
        (
            "two, last hour",
            sum(&format!("sym IN ('{}', '{}') AND ts >= '{}'", two[0], two[1], text(last_hour))),
            filtered(in_two().and(col("ts").gt_eq(at(last_hour)))),
        ),
        ("everything", sum("true"), filtered(lit(true))),
        (
            "count(*)",
            "SELECT count(*) AS n FROM t".into(),
            Box::new(|scan: LazyFrame| scan.select([len().cast(DataType::Int64).alias("n")])),
        ),
        ("the last 10 rows", "SELECT * FROM t LIMIT -10".into(), Box::new(|scan: LazyFrame| scan.tail(10))),
        ("the first 10 rows", "SELECT * FROM t LIMIT 10".into(), Box::new(|scan: LazyFrame| scan.limit(10))),
        (
            "the oldest 10",
            "SELECT * FROM t ORDER BY ts LIMIT 10".into(),
            Box::new(|scan: LazyFrame| scan.sort(["ts"], Default::default()).limit(10)),
        ),
        ("min(ts)", "SELECT min(ts) AS ts FROM t".into(), Box::new(|scan: LazyFrame| scan.select([col("ts").min()]))),
        (
            "min, max(ts)",
            "SELECT min(ts) AS first, max(ts) AS last FROM t".into(),
            Box::new(|scan: LazyFrame| scan.select([col("ts").min().alias("first"), col("ts").max().alias("last")])),
        ),
        (
            "the newest 10",
            "SELECT * FROM t ORDER BY ts DESC LIMIT 10".into(),
            Box::new(move |scan: LazyFrame| scan.sort(["ts"], newest()).limit(10)),
        ),
        (
            "newest 10 of S7",
            "SELECT * FROM t WHERE sym = 'S7' ORDER BY ts DESC LIMIT 10".into(),
            Box::new(move |scan: LazyFrame| scan.filter(col("sym").eq(lit("S7"))).sort(["ts"], newest()).limit(10)),
        ),
        ("max(ts)", "SELECT max(ts) AS ts FROM t".into(), Box::new(|scan: LazyFrame| scan.select([col("ts").max()]))),
        (
            "max(ts) of S7",
            "SELECT max(ts) AS ts FROM t WHERE sym = 'S7'".into(),
            Box::new(|scan: LazyFrame| scan.filter(col("sym").eq(lit("S7"))).select([col("ts").max()])),
        ),
        (
            "max(ts) by sym",
            "SELECT sym, max(ts) AS ts FROM t GROUP BY sym ORDER BY sym".into(),
            Box::new(|scan: LazyFrame| scan.group_by([col("sym")]).agg([col("ts").max()]).sort(["sym"], Default::default())),
        ),
        ("latest, every", "SELECT * FROM t LATEST ON ts PARTITION BY sym".into(), Box::new(latest)),
        (
            "latest, two",
            format!("SELECT * FROM t WHERE sym IN ('{}', '{}') LATEST ON ts PARTITION BY sym", two[0], two[1]),
            Box::new(move |scan: LazyFrame| latest(scan.filter(in_two()))),
        ),
        // Any other WHERE: read back from the newest parts until found.
        (
            "newest 10 >150",
            "SELECT * FROM t WHERE px > 150 ORDER BY ts DESC LIMIT 10".into(),
            Box::new(move |scan: LazyFrame| scan.filter(col("px").gt(lit(150.0))).sort(["ts"], newest()).limit(10)),
        ),
        (
            "newest 10 S7>150",
            "SELECT * FROM t WHERE sym = 'S7' AND px > 150 ORDER BY ts DESC LIMIT 10".into(),
            Box::new(move |scan: LazyFrame| {
                scan.filter(col("sym").eq(lit("S7")).and(col("px").gt(lit(150.0)))).sort(["ts"], newest()).limit(10)
            }),
        ),
        (
            "max(ts) >199.8",
            "SELECT max(ts) AS ts FROM t WHERE px > 199.8".into(),
            Box::new(|scan: LazyFrame| scan.filter(col("px").gt(lit(199.8))).select([col("ts").max()])),
        ),
        (
            "min(ts) >199.8",
            "SELECT min(ts) AS ts FROM t WHERE px > 199.8".into(),
            Box::new(|scan: LazyFrame| scan.filter(col("px").gt(lit(199.8))).select([col("ts").min()])),
        ),
        (
            "latest >150",
            "SELECT * FROM t WHERE px > 150 LATEST ON ts PARTITION BY sym".into(),
            Box::new(|scan: LazyFrame| latest(scan.filter(col("px").gt(lit(150.0))))),
        ),
        (
            "max by sym >150",
            "SELECT sym, max(ts) AS ts FROM t WHERE px > 150 GROUP BY sym ORDER BY sym".into(),
            Box::new(|scan: LazyFrame| {
                scan.filter(col("px").gt(lit(150.0))).group_by([col("sym")]).agg([col("ts").max()]).sort(["sym"], Default::default())
            }),
        ),
        (
            "last 10 of S7",
            "SELECT * FROM t WHERE sym = 'S7' LIMIT -10".into(),
            Box::new(|scan: LazyFrame| scan.filter(col("sym").eq(lit("S7"))).tail(10)),
        ),
        (
            "last 10 >199.8",
            "SELECT * FROM t WHERE px > 199.8 LIMIT -10".into(),
            Box::new(|scan: LazyFrame| scan.filter(col("px").gt(lit(199.8))).tail(10)),
        ),
        // Nothing passes: every window is read, the worst case.
        (
            "newest, none",
            "SELECT * FROM t WHERE px > 1000 ORDER BY ts DESC LIMIT 10".into(),
            Box::new(move |scan: LazyFrame| scan.filter(col("px").gt(lit(1000.0))).sort(["ts"], newest()).limit(10)),
        ),
    ];
    // The same work as a polars plan on the table's handle (the gRPC
    // door's operations, the Python client, a shipped plan: `plan`), or
    // polars SQL (the gRPC and Flight SQL doors: `sql`).
    let plans: Vec<(&str, String, Upstream)> = vec![
        ("plan: newest 10", String::new(), Box::new(move |rows: LazyFrame| rows.sort(["ts"], newest()).limit(10))),
        (
            "plan: S7 newest 10",
            String::new(),
            Box::new(move |rows: LazyFrame| rows.filter(col("sym").eq(lit("S7"))).sort(["ts"], newest()).limit(10)),
        ),
        (
            "plan: >150 newest 10",
            String::new(),
            Box::new(move |rows: LazyFrame| rows.filter(col("px").gt(lit(150.0))).sort(["ts"], newest()).limit(10)),
        ),
        ("plan: top_k 10", String::new(), Box::new(|rows: LazyFrame| rows.top_k(10, [col("ts")], Default::default()))),
        ("plan: oldest 10", String::new(), Box::new(|rows: LazyFrame| rows.sort(["ts"], Default::default()).limit(10))),
        ("plan: max(ts)", String::new(), Box::new(|rows: LazyFrame| rows.select([col("ts").max()]))),
        (
            "plan: >199.8 max(ts)",
            String::new(),
            Box::new(|rows: LazyFrame| rows.filter(col("px").gt(lit(199.8))).select([col("ts").max()])),
        ),
        ("plan: min(ts)", String::new(), Box::new(|rows: LazyFrame| rows.select([col("ts").min()]))),
        ("plan: sorted tail 10", String::new(), Box::new(|rows: LazyFrame| rows.sort(["ts"], Default::default()).tail(10))),
        (
            "plan: none",
            String::new(),
            Box::new(move |rows: LazyFrame| rows.filter(col("px").gt(lit(1000.0))).sort(["ts"], newest()).limit(10)),
        ),
        (
            "sql: newest 10",
            "SELECT * FROM t ORDER BY ts DESC LIMIT 10".into(),
            Box::new(move |scan: LazyFrame| scan.sort(["ts"], newest()).limit(10)),
        ),
        (
            "sql: S7 newest 10",
            "SELECT ts, px FROM t WHERE sym = 'S7' ORDER BY ts DESC LIMIT 10".into(),
            Box::new(move |scan: LazyFrame| scan.filter(col("sym").eq(lit("S7"))).sort(["ts"], newest()).limit(10).select([col("ts"), col("px")])),
        ),
    ];
    cases.extend(plans);
    let table = core.scan_table(&ns, "t").unwrap().unwrap().id;
    println!("{:<20} {:>12} {:>16} {:>8}", "query", "polaroid", "polars scan_ipc", "ratio");
    for (name, query, upstream_then) in cases.into_iter().filter(|case| case.0.starts_with(&only)) {
        let served = || {
            let lf = if name.starts_with("plan: ") {
                upstream_then(core.handle(&ns, table).unwrap().lazy())
            } else if name.starts_with("sql: ") {
                core.namespace_sql_plan_with(&ns, &query, Vec::new(), Default::default()).unwrap().0
            } else {
                polaroid_questdb::plan(&core, &ns, &query).unwrap().0
            };
            let entry = core.prepare_plan(&ns, as_text(lf), "bench").unwrap();
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
            println!("{name:<20} {:>9.2} ms", ms(median(ours)));
            continue;
        }
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "{name:<20} {:>9.2} ms {:>13.2} ms {:>7.1}x",
            ms(ours),
            ms(theirs),
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

/// `lf` with its symbols as text, as the part files hold them.
fn as_text(lf: LazyFrame) -> LazyFrame {
    let symbols: Vec<Expr> = match lf.clone().collect_schema() {
        Ok(schema) if schema.contains("sym") => vec![col("sym").cast(DataType::String)],
        _ => Vec::new(),
    };
    lf.with_columns(symbols)
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
