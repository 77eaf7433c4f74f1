//! Bounded work: a request that would create more intervals than its cap is
//! refused before the rows exist, and timestamps at the limits of i64 give
//! an error, never a wrap, a panic or an endless loop.

use polaroid_timeseries::{Fill, OhlcvExt, OhlcvOptions, TimeseriesError};
use polars::prelude::*;

use crate::{ticks, us};

fn too_many(result: Result<DataFrame, TimeseriesError>) -> String {
    match result {
        Err(e @ TimeseriesError::TooManyIntervals { .. }) => e.to_string(),
        other => panic!("expected TooManyIntervals, got {:?}", other.map(|df| df.height())),
    }
}

#[test]
fn forward_fill_over_a_day_at_one_nanosecond_is_refused_before_filling() {
    // Two ticks a day apart: 86.4 trillion empty 1ns intervals between them.
    let df = ns_ticks(&[0, 86_400_000_000_000]);
    let options = OhlcvOptions { fill: Fill::Forward, ..OhlcvOptions::every("1ns").unwrap() };
    let message = too_many((&df).ohlcv(&options));
    assert!(message.contains("86399999999999 empty intervals"), "{message}");
    assert!(message.contains("cap of 10000000"), "{message}");
    // On a microsecond column, 1ns is not a step at all.
    let df = ticks(&[Some("X"), Some("X")], &[us(0, 0, 0), us(0, 0, 1)], &[Some(1.0); 2], &[Some(1.0); 2]);
    match df.ohlcv(&options) {
        Err(TimeseriesError::InvalidOption { option: "every", reason }) => {
            assert!(reason.contains("shorter than one unit"), "{reason}")
        },
        other => panic!("expected an invalid every, got {:?}", other.map(|d| d.height())),
    }
}

#[test]
fn the_fill_cap_counts_exactly() {
    // X trades at 10:00 and 10:03: the gap is two empty minutes (10:01, 10:02).
    let df = ticks(&[Some("X"), Some("X")], &[us(10, 0, 0), us(10, 3, 0)], &[Some(1.0), Some(2.0)], &[Some(1.0); 2]);
    let capped = |cap| OhlcvOptions { fill: Fill::Forward, max_intervals: cap, ..OhlcvOptions::every("1m").unwrap() };
    let bars = (&df).ohlcv(&capped(2)).unwrap();
    assert_eq!(bars.height(), 4);
    assert_eq!(bars.column("volume").unwrap().f64().unwrap().to_vec(), [Some(1.0), Some(0.0), Some(0.0), Some(1.0)]);
    too_many((&df).ohlcv(&capped(1)));
    // A calendar grid counts as it walks: two empty days between three.
    let days = ticks(&[Some("X"), Some("X")], &[us(0, 0, 0), us(0, 0, 0) + 3 * 86_400_000_000], &[Some(1.0); 2], &[Some(1.0); 2]);
    let daily = |cap| OhlcvOptions { fill: Fill::Forward, max_intervals: cap, ..OhlcvOptions::every("1d").unwrap() };
    assert_eq!((&days).ohlcv(&daily(2)).unwrap().height(), 4);
    too_many((&days).ohlcv(&daily(1)));
}

#[test]
fn overlapping_bars_beyond_the_cap_are_refused_up_front() {
    let df = ticks(&[Some("X")], &[us(10, 0, 0)], &[Some(1.0)], &[Some(1.0)]);
    let options = OhlcvOptions { period: Some(Duration::parse("1d")), ..OhlcvOptions::every("1ns").unwrap() };
    let message = too_many((&df).ohlcv(&options));
    assert!(message.contains("puts each tick in"), "{message}");
    // Within the cap: ticks at 10:00 and 10:02 with 5m bars every minute
    // fall in the bars starting 10:00, 10:01 and 10:02 (the first series
    // bar starts at the first tick's interval, as group_by_dynamic's does).
    let two = ticks(&[Some("X"); 2], &[us(10, 0, 0), us(10, 2, 0)], &[Some(1.0), Some(2.0)], &[Some(1.0); 2]);
    let ok = OhlcvOptions { period: Some(Duration::parse("5m")), ..OhlcvOptions::every("1m").unwrap() };
    let bars = two.ohlcv(&ok).unwrap();
    assert_eq!(bars.column("trades").unwrap().idx().unwrap().to_vec(), [Some(2), Some(1), Some(1)]);
}

/// Ticks in nanoseconds, straight from physical values.
fn ns_ticks(ts: &[i64]) -> DataFrame {
    let n = ts.len();
    df!("symbol" => vec!["X"; n], "ts" => ts, "price" => vec![1.0; n], "size" => vec![1.0; n])
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Nanoseconds, None)))
        .collect()
        .unwrap()
}

#[test]
fn sentinel_timestamps_are_an_error_not_a_wrap_or_a_hang() {
    for (ts, every, fill) in [
        (vec![i64::MAX - 5], "1m", Fill::None),
        (vec![i64::MAX - 5], "1d", Fill::None),
        (vec![i64::MAX - 5], "1mo", Fill::None),
        (vec![i64::MIN + 5], "1m", Fill::None),
        (vec![i64::MIN + 5], "1d", Fill::None),
        (vec![0, i64::MAX - 5], "1m", Fill::Forward),
        (vec![0, i64::MAX - 5], "1m", Fill::None),
    ] {
        let options = OhlcvOptions { fill, ..OhlcvOptions::every(every).unwrap() };
        // A panic would fail the test as well: the kernel must return.
        let result = std::panic::catch_unwind(|| ns_ticks(&ts).ohlcv(&options));
        match result {
            Ok(Err(TimeseriesError::Polars(e))) => {
                assert!(e.to_string().contains("too close to the limits"), "{ts:?} {every}: {e}")
            },
            Ok(Err(e @ TimeseriesError::TooManyIntervals { .. })) if fill == Fill::Forward => {
                assert!(e.to_string().contains("forward fill"), "{e}")
            },
            Ok(other) => panic!("{ts:?} every {every}: expected an error, got {:?}", other.map(|d| d.height())),
            Err(_) => panic!("{ts:?} every {every}: the kernel panicked"),
        }
    }
    // Ordinary ticks beside the limits of the type still bin.
    let bars = ns_ticks(&[0, 30_000_000_000, 90_000_000_000]).ohlcv(&OhlcvOptions::every("1m").unwrap()).unwrap();
    assert_eq!(bars.height(), 2);
}
