//! Tick analytics, each against values worked by hand (and the as-of join
//! against polars' own join_asof on the same frames).

use polaroid_timeseries::{
    AsofQuotesOptions, OutOfOrder, QuoteColumns, ReturnsOptions, RollingVwapOptions, TicksExt, VolatilityOptions,
};
use polars::prelude::*;

use crate::ticks;

fn f64s(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    df.column(name).unwrap().f64().unwrap().iter().collect()
}

fn close(a: &[Option<f64>], b: &[Option<f64>]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Some(x), Some(y)) => assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}"),
            _ => assert_eq!(x, y, "{a:?} vs {b:?}"),
        }
    }
}

#[test]
fn quote_metrics_mid_spread_microprice() {
    let q = df! { "bid" => [10.0, 20.0], "ask" => [10.2, 20.5], "bid_size" => [300.0, 1.0], "ask_size" => [100.0, 1.0] }.unwrap();
    let out = q.lazy().with_quote_metrics(&QuoteColumns::default()).collect().unwrap();
    close(&f64s(&out, "mid"), &[Some(10.1), Some(20.25)]);
    close(&f64s(&out, "spread"), &[Some(10.2 - 10.0), Some(0.5)]);
    // (10·100 + 10.2·300) / 400 = 10.15: heavy bids push the price toward the ask.
    close(&f64s(&out, "microprice"), &[Some(10.15), Some(20.25)]);
}

#[test]
fn returns_and_volatility_stay_within_each_symbol() {
    let df = ticks(
        &[Some("A"), Some("B"), Some("A"), Some("B"), Some("A")],
        &[1, 2, 3, 4, 5],
        &[Some(100.0), Some(50.0), Some(110.0), Some(40.0), Some(99.0)],
        &[Some(1.0); 5],
    );
    let simple = df.clone().lazy().with_returns(&ReturnsOptions::default()).unwrap().collect().unwrap();
    close(&f64s(&simple, "return"), &[None, None, Some(0.1), Some(-0.2), Some(-0.1)]);
    let log = df.clone().lazy().with_returns(&ReturnsOptions { log: true, ..Default::default() }).unwrap().collect().unwrap();
    close(&f64s(&log, "return"), &[None, None, Some(1.1f64.ln()), Some(0.8f64.ln()), Some(0.9f64.ln())]);

    // A's returns 0.1, -0.1: sample std over 2 = 0.1·sqrt(2).
    let vol = simple
        .lazy()
        .with_rolling_volatility(&VolatilityOptions { window: 2, ..Default::default() })
        .unwrap()
        .collect()
        .unwrap();
    close(&f64s(&vol, "volatility"), &[None, None, None, None, Some(0.1 * 2f64.sqrt())]);
}

#[test]
fn rolling_vwap_looks_back_over_a_time_window() {
    let s = 1_000_000;
    let df = ticks(
        &[Some("A"); 4],
        &[0, 30 * s, 70 * s, 75 * s],
        &[Some(10.0), Some(20.0), Some(30.0), Some(40.0)],
        &[Some(1.0), Some(3.0), Some(1.0), Some(1.0)],
    );
    let options = RollingVwapOptions { window: Duration::parse("1m"), ..Default::default() };
    let out = df.lazy().with_rolling_vwap(&options).unwrap().collect().unwrap();
    // (0s] (0..30s] (10s..70s]: 20·3+30 / 4, (15s..75s]: 60+30+40 / 5
    close(&f64s(&out, "vwap"), &[Some(10.0), Some(70.0 / 4.0), Some(90.0 / 4.0), Some(130.0 / 5.0)]);
}

#[test]
fn asof_join_equals_polars_join_asof() {
    let trades = ticks(&[Some("A"), Some("B"), Some("A")], &[5, 6, 20], &[Some(1.0); 3], &[Some(1.0); 3]);
    let quotes = df! { "symbol" => ["A", "B", "A"], "ts" => [4i64, 1, 10], "bid" => [0.9, 1.9, 0.95] }
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)));
    let options = AsofQuotesOptions { tolerance: Some(Duration::parse("3us")), ..Default::default() };
    let ours = trades.clone().lazy().join_quotes_asof(quotes.clone(), &options).collect().unwrap();
    // A@5 -> 4 (0.9); B@6 -> 1 is 5us old, beyond 3us: null; A@20 -> 10 too old: null.
    close(&f64s(&ours, "bid"), &[Some(0.9), None, None]);
    let theirs = trades
        .lazy()
        .join_builder()
        .with(quotes)
        .left_on([col("ts")])
        .right_on([col("ts")])
        .how(JoinType::AsOf(Box::new(AsOfOptions {
            strategy: AsofStrategy::Backward,
            tolerance_str: Some("3us".into()),
            left_by: Some(vec!["symbol".into()]),
            right_by: Some(vec!["symbol".into()]),
            ..Default::default()
        })))
        .finish()
        .collect()
        .unwrap();
    assert!(ours.equals_missing(&theirs));
}

#[test]
fn cleaning_drops_duplicates_and_flags_or_drops_late_ticks() {
    let df = ticks(
        &[Some("A"), Some("A"), Some("B"), Some("A"), Some("A")],
        &[10, 10, 5, 7, 12],
        &[Some(1.0), Some(1.0), Some(2.0), Some(3.0), Some(4.0)],
        &[Some(1.0); 5],
    );
    let flagged = df.clone().lazy().clean_ticks("ts", &["symbol".into()], OutOfOrder::Flag).unwrap().collect().unwrap();
    // The exact duplicate goes; A@7 comes after A@10; B@5 is B's first tick.
    let flags: Vec<_> = flagged.column("out_of_order").unwrap().bool().unwrap().iter().map(Option::unwrap).collect();
    assert_eq!(flags, [false, false, true, false]);
    let dropped = df.lazy().clean_ticks("ts", &["symbol".into()], OutOfOrder::Drop).unwrap().collect().unwrap();
    close(&f64s(&dropped, "price"), &[Some(1.0), Some(2.0), Some(4.0)]);
}

#[test]
fn twap_weighs_each_price_by_the_time_it_held() {
    use polaroid_timeseries::IntervalOptions;
    let s = 1_000_000;
    // A: 10 for 30s, 20 for 20s, 30 for the last 10s of minute 0; 40 from 70s to 120s.
    // B (interleaved) must not cut A's holding times.
    let df = ticks(
        &[Some("A"), Some("B"), Some("A"), Some("A"), Some("A")],
        &[0, 10 * s, 30 * s, 50 * s, 70 * s],
        &[Some(10.0), Some(99.0), Some(20.0), Some(30.0), Some(40.0)],
        &[Some(1.0); 5],
    );
    let out = df.lazy().twap(&IntervalOptions::default()).unwrap().collect().unwrap();
    let syms: Vec<_> = out.column("symbol").unwrap().str().unwrap().iter().map(Option::unwrap).collect();
    assert_eq!(syms, ["A", "A", "B"]);
    close(&f64s(&out, "twap"), &[Some((10.0 * 30.0 + 20.0 * 20.0 + 30.0 * 10.0) / 60.0), Some(40.0), Some(99.0)]);
    let starts: Vec<_> = out.column("ts").unwrap().datetime().unwrap().physical().iter().map(Option::unwrap).collect();
    assert_eq!(starts, [0, 60 * s, 0]);
}

#[test]
fn realized_variance_sums_squared_log_returns_per_interval() {
    use polaroid_timeseries::IntervalOptions;
    let s = 1_000_000;
    let df = ticks(
        &[Some("A"); 4],
        &[0, 20 * s, 40 * s, 65 * s],
        &[Some(100.0), Some(110.0), Some(99.0), Some(108.9)],
        &[Some(1.0); 4],
    );
    let out = df.lazy().realized_variance(&IntervalOptions::default()).unwrap().collect().unwrap();
    let (a, b, c) = (1.1f64.ln(), 0.9f64.ln(), 1.1f64.ln());
    close(&f64s(&out, "realized_variance"), &[Some(a * a + b * b), Some(c * c)]);
}

#[test]
fn resampled_quotes_take_the_last_quote_and_carry_it_forward() {
    use polaroid_timeseries::QuoteResampleOptions;
    let ms = 1_000;
    let quotes = df! {
        "symbol" => ["A", "A", "B", "A"],
        "ts" => [200 * ms, 700 * ms, 1_000 * ms, 3_500 * ms],
        "bid" => [1.0, 1.1, 5.0, 1.2],
        "ask" => [2.0, 2.1, 6.0, 2.2],
    }
    .unwrap()
    .lazy()
    .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)));
    // The grid is 4 rows for A (0s..3s) and 1 for B: a cap of 5 passes, 4 is refused.
    let capped = |cap| QuoteResampleOptions { max_intervals: cap, ..QuoteResampleOptions::default() };
    let err = quotes.clone().resample_quotes(&capped(4)).unwrap().collect().unwrap_err();
    assert!(err.to_string().contains("needs about 5 grid rows: more than the cap of 4"), "{err}");
    let out = quotes.resample_quotes(&capped(5)).unwrap().collect().unwrap();
    let syms: Vec<_> = out.column("symbol").unwrap().str().unwrap().iter().map(Option::unwrap).collect();
    assert_eq!(syms, ["A", "A", "A", "A", "B"]);
    let starts: Vec<_> = out.column("ts").unwrap().datetime().unwrap().physical().iter().map(Option::unwrap).collect();
    assert_eq!(starts, [0, 1_000_000, 2_000_000, 3_000_000, 1_000_000]);
    close(&f64s(&out, "bid"), &[Some(1.1), Some(1.1), Some(1.1), Some(1.2), Some(5.0)]);
    close(&f64s(&out, "ask"), &[Some(2.1), Some(2.1), Some(2.1), Some(2.2), Some(6.0)]);
}

#[test]
fn rolling_twap_weighs_prices_by_how_long_they_stood() {
    let s = 1_000_000;
    let df = ticks(
        &[Some("A"); 4],
        &[0, 30 * s, 50 * s, 70 * s],
        &[Some(10.0), Some(20.0), Some(30.0), Some(40.0)],
        &[Some(1.0); 4],
    );
    let options = RollingVwapOptions { window: Duration::parse("1m"), name: "twap".into(), ..Default::default() };
    let out = df.lazy().with_rolling_twap(&options).unwrap().collect().unwrap();
    // At 70s the segments ending in (10s, 70s]: 10 for 30s, 20 for 20s, 30 for 20s.
    close(&f64s(&out, "twap"), &[None, Some(10.0), Some((300.0 + 400.0) / 50.0), Some((300.0 + 400.0 + 600.0) / 70.0)]);
}
