//! Tick, volume and dollar bars, worked by hand.

use polaroid_timeseries::{BarKind, OhlcvExt, OhlcvOptions, TimeseriesError};
use polars::prelude::*;

use crate::ticks;

fn bars(kind: BarKind, emit_partial: bool) -> DataFrame {
    // X trades at t = 1..=6 s, Y once in between.
    let df = ticks(
        &[Some("X"), Some("X"), Some("Y"), Some("X"), Some("X"), Some("X"), Some("X")],
        &[1_000_000, 2_000_000, 2_500_000, 3_000_000, 4_000_000, 5_000_000, 6_000_000],
        &[Some(10.0), Some(11.0), Some(50.0), Some(9.0), Some(12.0), Some(10.0), Some(8.0)],
        &[Some(4.0), Some(4.0), Some(1.0), Some(4.0), Some(8.0), Some(1.0), Some(2.0)],
    );
    df.ohlcv(&OhlcvOptions { kind, emit_partial, ..OhlcvOptions::default() }).unwrap()
}

fn col_f64(df: &DataFrame, name: &str) -> Vec<f64> {
    df.column(name).unwrap().f64().unwrap().iter().map(Option::unwrap).collect()
}

fn trades(df: &DataFrame) -> Vec<IdxSize> {
    df.column("trades").unwrap().idx().unwrap().iter().map(Option::unwrap).collect()
}

#[test]
fn tick_bars_close_every_n_trades_per_symbol() {
    let b = bars(BarKind::Tick(2), true);
    // X: [10, 11] [9, 12] [10, 8]; Y: [50] partial.
    assert_eq!(trades(&b), [2, 2, 2, 1]);
    assert_eq!(col_f64(&b, "open"), [10.0, 9.0, 10.0, 50.0]);
    assert_eq!(col_f64(&b, "close"), [11.0, 12.0, 8.0, 50.0]);
    let ts: Vec<i64> = b.column("ts").unwrap().datetime().unwrap().physical().iter().map(Option::unwrap).collect();
    assert_eq!(ts, [1_000_000, 3_000_000, 5_000_000, 2_500_000], "labelled by the first tick");
    let without_partial = bars(BarKind::Tick(2), false);
    assert_eq!(trades(&without_partial), [2, 2, 2]);
}

#[test]
fn volume_bars_close_on_the_tick_that_reaches_the_threshold() {
    // X sizes 4, 4, 4, 8, 1, 2 with V = 10: [4 4 4] = 12, [8 1 2] = 11.
    let b = bars(BarKind::Volume(10.0), false);
    assert_eq!(trades(&b), [3, 3]);
    assert_eq!(col_f64(&b, "volume"), [12.0, 11.0]);
    assert_eq!(col_f64(&b, "high"), [11.0, 12.0]);
    assert_eq!(col_f64(&b, "low"), [9.0, 8.0]);
    // vwap of [12·8, 10·1, 8·2] / 11
    assert_eq!(col_f64(&b, "vwap")[1], (96.0 + 10.0 + 16.0) / 11.0);
}

#[test]
fn dollar_bars_close_on_price_times_size() {
    // X notionals 40, 44, 36, 96, 10, 16 with D = 100: [40 44 36] = 120, [96 10] = 106, [16] partial.
    let b = bars(BarKind::Dollar(100.0), true);
    assert_eq!(trades(&b), [3, 2, 1, 1]);
    assert_eq!(col_f64(&b, "close"), [9.0, 10.0, 8.0, 50.0]);
}

#[test]
fn thresholds_must_be_positive() {
    let df = ticks(&[Some("X")], &[0], &[Some(1.0)], &[Some(1.0)]);
    for kind in [BarKind::Tick(0), BarKind::Volume(0.0), BarKind::Dollar(f64::NAN)] {
        let err = (&df).ohlcv(&OhlcvOptions { kind, ..OhlcvOptions::default() }).unwrap_err();
        assert!(matches!(err, TimeseriesError::InvalidOption { option: "threshold", .. }), "{err}");
    }
}
