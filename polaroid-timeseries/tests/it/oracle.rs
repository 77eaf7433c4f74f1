//! Random ticks, with ties, gaps, nulls and several symbols, binned by the
//! kernel and by upstream polars' `group_by_dynamic(.., group_by=[symbol],
//! closed=left, label=left)`: the same bars.

use polaroid_timeseries::{OhlcvExt, OhlcvOptions};
use polars::prelude::*;
use proptest::prelude::*;

use crate::{assert_frames_close, ticks};

fn upstream(df: &DataFrame, every: &str, period: &str, offset: &str) -> DataFrame {
    let valid = col("ts").is_not_null().and(col("price").is_not_null()).and(col("size").is_not_null());
    df.clone()
        .lazy()
        .filter(valid)
        .sort(["ts"], SortMultipleOptions::default().with_maintain_order(true))
        .group_by_dynamic(
            col("ts"),
            [col("symbol")],
            DynamicGroupOptions {
                every: Duration::parse(every),
                period: Duration::parse(period),
                offset: Duration::parse(offset),
                closed_window: ClosedWindow::Left,
                label: Label::Left,
                include_boundaries: false,
                start_by: StartBy::WindowBound,
                ..Default::default()
            },
        )
        .agg([
            col("price").first().alias("open"),
            col("price").max().alias("high"),
            col("price").min().alias("low"),
            col("price").last().alias("close"),
            col("size").sum().alias("volume"),
            ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap"),
            len().alias("trades"),
        ])
        .sort(["symbol", "ts"], SortMultipleOptions::default().with_maintain_order(true))
        .collect()
        .unwrap()
}

type Tick = (Option<&'static str>, i64, Option<f64>, Option<f64>);

fn tick() -> impl Strategy<Value = Tick> {
    (
        prop_oneof![8 => prop::sample::select(vec![Some("AAPL"), Some("MSFT"), Some("SPY"), Some("A-SYMBOL-LONGER-THAN-12")]), 1 => Just(None)],
        // Whole 7-second steps over ~1h: many ties, some gaps longer than a bar.
        (0i64..520).prop_map(|k| 1_700_000_000_000_000 + k * 7_000_000),
        prop_oneof![12 => (1.0f64..500.0).prop_map(Some), 1 => Just(None)],
        prop_oneof![12 => (1u32..1000).prop_map(|s| Some(s as f64)), 1 => Just(None)],
    )
}

/// How the symbol column reaches the kernel.
#[derive(Clone, Copy, Debug)]
enum SymbolType {
    String,
    Categorical,
    /// Categories listed out of lexical order: bars sort by enum order.
    Enum,
}

impl SymbolType {
    fn dtype(self) -> DataType {
        match self {
            SymbolType::String => DataType::String,
            SymbolType::Categorical => DataType::from_categories(Categories::global()),
            SymbolType::Enum => DataType::from_frozen_categories(
                FrozenCategories::new(["SPY", "A-SYMBOL-LONGER-THAN-12", "MSFT", "AAPL"]).unwrap(),
            ),
        }
    }
}

type BarsCase = (Vec<Tick>, bool, &'static str, &'static str, &'static str, usize, bool, SymbolType);

fn bars_case() -> impl Strategy<Value = BarsCase> {
    (
        prop::collection::vec(tick(), 0..400),
        any::<bool>(),
        prop::sample::select(vec![
            ("30s", "30s"),
            ("1m", "1m"),
            ("5m", "5m"),
            ("1h", "1h"),
            ("1m", "2m"),
            ("2m", "1m"),
            ("1m", "150s"),
        ]),
        prop::sample::select(vec!["0s", "10s", "-20s", "3m"]),
        // Kernel threads: 0 bins on the caller's thread.
        0usize..4,
        // Sizes as Int64 (whole numbers, as the f64 ones are), which the
        // kernel reads without a cast.
        any::<bool>(),
        prop::sample::select(vec![SymbolType::String, SymbolType::Categorical, SymbolType::Enum]),
    )
        .prop_map(|(t, sorted, (every, period), offset, threads, int_sizes, symbols)| {
            (t, sorted, every, period, offset, threads, int_sizes, symbols)
        })
}

proptest! {
    // 96 cases by default; PROPTEST_CASES=5000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(96),
        ..ProptestConfig::default()
    })]

    #[test]
    fn time_bars_equal_group_by_dynamic((mut rows, sorted, every, period, offset, threads, int_sizes, symbols) in bars_case()) {
        if sorted {
            rows.sort_by_key(|r| r.1);
        }
        let df = ticks(
            &rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        );
        let df = df.lazy().with_column(col("symbol").cast(symbols.dtype())).collect().unwrap();
        let options = OhlcvOptions {
            every: Duration::parse(every),
            period: Some(Duration::parse(period)),
            offset: Duration::parse(offset),
            kernel_threads: Some(threads),
            ..OhlcvOptions::default()
        };
        let input = if int_sizes {
            df.clone().lazy().with_column(col("size").cast(DataType::Int64)).collect().unwrap()
        } else {
            df.clone()
        };
        let ours = (&input).ohlcv(&options).unwrap();
        let theirs = upstream(&df, every, period, offset);
        assert_frames_close(&ours, &theirs);
    }
}

#[test]
fn calendar_day_bars_in_a_time_zone_equal_group_by_dynamic() {
    // Around the 2024-03-10 DST change in New York: that day has 23 hours.
    let start = 1_709_900_000_000_000i64; // 2024-03-08 12:13:20 UTC
    let n = 3_000;
    let ts: Vec<i64> = (0..n).map(|i| start + i * 97_000_000).collect();
    let syms: Vec<Option<&str>> = (0..n).map(|i| Some(if i % 3 == 0 { "A" } else { "B" })).collect();
    let prices: Vec<Option<f64>> = (0..n).map(|i| Some(100.0 + ((i * 37) % 101) as f64 / 10.0)).collect();
    let sizes: Vec<Option<f64>> = (0..n).map(|i| Some(1.0 + (i % 9) as f64)).collect();
    let df = ticks(&syms, &ts, &prices, &sizes)
        .lazy()
        .with_column(col("ts").dt().replace_time_zone(Some(TimeZone::UTC), lit("raise"), NonExistent::Raise))
        .with_column(col("ts").dt().convert_time_zone(TimeZone::opt_try_new(Some("America/New_York")).unwrap().unwrap()))
        .collect()
        .unwrap();
    for every in ["1d", "1w", "1mo"] {
        let ours = (&df).ohlcv(&OhlcvOptions::every(every).unwrap()).unwrap();
        let theirs = upstream(&df, every, every, "0s");
        assert_frames_close(&ours, &theirs);
        assert!(ours.height() >= 2, "{every}: {ours}");
    }
}
