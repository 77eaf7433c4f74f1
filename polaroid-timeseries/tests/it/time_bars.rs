//! Hand-worked time bars: fill, ties, nulls, zones, errors.

use polaroid_timeseries::{Fill, OhlcvExt, OhlcvOptions, TimeseriesError};
use polars::prelude::*;

use crate::{ticks, us};

fn f64s(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    df.column(name).unwrap().f64().unwrap().iter().collect()
}

fn times(df: &DataFrame) -> Vec<i64> {
    df.column("ts").unwrap().datetime().unwrap().physical().iter().map(Option::unwrap).collect()
}

#[test]
fn ties_keep_input_order_and_nulls_are_ignored() {
    // Three ticks at the same instant: open is the first, close the last.
    let df = ticks(
        &[Some("X"); 5],
        &[us(9, 30, 0), us(9, 30, 0), us(9, 30, 0), us(9, 30, 5), us(9, 30, 6)],
        &[Some(10.0), Some(9.0), Some(11.0), None, Some(12.0)],
        &[Some(1.0), Some(2.0), Some(3.0), Some(100.0), None],
    );
    let bars = df.ohlcv(&OhlcvOptions::every("1m").unwrap()).unwrap();
    assert_eq!(bars.height(), 1);
    assert_eq!(times(&bars), [us(9, 30, 0)]);
    assert_eq!(f64s(&bars, "open"), [Some(10.0)]);
    assert_eq!(f64s(&bars, "high"), [Some(11.0)]);
    assert_eq!(f64s(&bars, "low"), [Some(9.0)]);
    assert_eq!(f64s(&bars, "close"), [Some(11.0)]);
    assert_eq!(f64s(&bars, "volume"), [Some(6.0)]);
    // (10·1 + 9·2 + 11·3) / 6
    assert_eq!(f64s(&bars, "vwap"), [Some(61.0 / 6.0)]);
    assert_eq!(bars.column("trades").unwrap().idx().unwrap().get(0), Some(3));
}

#[test]
fn forward_fill_emits_empty_intervals_with_the_previous_close() {
    let df = ticks(
        &[Some("X"), Some("X"), Some("Y"), Some("X")],
        &[us(10, 0, 10), us(10, 0, 50), us(10, 1, 0), us(10, 3, 30)],
        &[Some(10.0), Some(10.5), Some(99.0), Some(12.0)],
        &[Some(1.0), Some(1.0), Some(5.0), Some(2.0)],
    );
    let options = OhlcvOptions { fill: Fill::Forward, ..OhlcvOptions::every("1m").unwrap() };
    let bars = (&df).ohlcv(&options).unwrap();
    let syms: Vec<_> = bars.column("symbol").unwrap().str().unwrap().iter().map(Option::unwrap).collect();
    assert_eq!(syms, ["X", "X", "X", "X", "Y"]);
    assert_eq!(times(&bars), [us(10, 0, 0), us(10, 1, 0), us(10, 2, 0), us(10, 3, 0), us(10, 1, 0)]);
    assert_eq!(f64s(&bars, "open"), [Some(10.0), Some(10.5), Some(10.5), Some(12.0), Some(99.0)]);
    assert_eq!(f64s(&bars, "close"), [Some(10.5), Some(10.5), Some(10.5), Some(12.0), Some(99.0)]);
    assert_eq!(f64s(&bars, "volume"), [Some(2.0), Some(0.0), Some(0.0), Some(2.0), Some(5.0)]);
    assert_eq!(f64s(&bars, "vwap"), [Some(10.25), None, None, Some(12.0), Some(99.0)]);
    let trades: Vec<_> = bars.column("trades").unwrap().idx().unwrap().iter().map(Option::unwrap).collect();
    assert_eq!(trades, [2, 0, 0, 1, 1]);

    // Without fill, the same ticks give only the bars that traded.
    let plain = df.ohlcv(&OhlcvOptions::every("1m").unwrap()).unwrap();
    assert_eq!(plain.height(), 3);
}

#[test]
fn offset_shifts_the_grid_from_the_epoch() {
    let df = ticks(
        &[Some("X"); 3],
        &[us(0, 0, 10), us(0, 0, 20), us(0, 1, 5)],
        &[Some(1.0), Some(2.0), Some(3.0)],
        &[Some(1.0); 3],
    );
    // Intervals start at hh:mm:15: [-45s, 15s) and [15s, 1m15s).
    let options = OhlcvOptions { offset: polaroid_timeseries::parse_duration("offset", "15s").unwrap(), ..OhlcvOptions::every("1m").unwrap() };
    let bars = (&df).ohlcv(&options).unwrap();
    assert_eq!(times(&bars), [us(0, 0, 15) - us(0, 1, 0), us(0, 0, 15)]);
    assert_eq!(f64s(&bars, "close"), [Some(1.0), Some(3.0)]);
}

#[test]
fn day_bars_follow_local_midnight_across_a_dst_change() {
    // New York, 2024-03-10 has 23 hours. Ticks (UTC):
    //   2024-03-10 04:30Z = 03-09 23:30 EST  -> bar 03-09
    //   2024-03-10 05:30Z = 03-10 00:30 EST  -> bar 03-10
    //   2024-03-11 03:30Z = 03-10 23:30 EDT  -> bar 03-10 (it ends 03-11 04:00Z)
    //   2024-03-11 04:30Z = 03-11 00:30 EDT  -> bar 03-11
    let day = 86_400_000_000i64;
    let mar10 = 19_792 * day; // 2024-03-10T00:00Z
    let hour = 3_600_000_000i64;
    let ts = [mar10 + 4 * hour + hour / 2, mar10 + 5 * hour + hour / 2, mar10 + day + 3 * hour + hour / 2, mar10 + day + 4 * hour + hour / 2];
    let df = ticks(&[Some("X"); 4], &ts, &[Some(1.0), Some(2.0), Some(3.0), Some(4.0)], &[Some(1.0); 4])
        .lazy()
        .with_column(col("ts").dt().replace_time_zone(Some(TimeZone::UTC), lit("raise"), NonExistent::Raise))
        .collect()
        .unwrap();
    let options = OhlcvOptions {
        time_zone: Some(TimeZone::opt_try_new(Some("America/New_York")).unwrap().unwrap()),
        ..OhlcvOptions::every("1d").unwrap()
    };
    let bars = (&df).ohlcv(&options).unwrap();
    // Labels are local midnights: 05:00Z (EST), 05:00Z (EST), 04:00Z (EDT).
    assert_eq!(times(&bars), [mar10 - day + 5 * hour, mar10 + 5 * hour, mar10 + day + 4 * hour]);
    assert_eq!(f64s(&bars, "close"), [Some(1.0), Some(3.0), Some(4.0)]);
    assert_eq!(bars.column("ts").unwrap().dtype(), df.column("ts").unwrap().dtype(), "ts keeps the input type");
}

#[test]
fn clear_errors_for_missing_columns_wrong_types_and_bad_options() {
    let df = ticks(&[Some("X")], &[0], &[Some(1.0)], &[Some(1.0)]);
    let err = (&df).ohlcv(&OhlcvOptions { price: "px".into(), ..OhlcvOptions::default() }).unwrap_err();
    assert!(matches!(err, TimeseriesError::MissingColumn { ref column, .. } if column == "px"), "{err}");
    assert!(err.to_string().contains("\"price\""), "lists what is there: {err}");

    let as_int = df.clone().lazy().with_column(col("ts").cast(DataType::Int64)).collect().unwrap();
    let err = as_int.ohlcv(&OhlcvOptions::default()).unwrap_err();
    assert!(matches!(err, TimeseriesError::WrongDtype { ref column, .. } if column == "ts"), "{err}");

    let as_str = df.clone().lazy().with_column(col("size").cast(DataType::String)).collect().unwrap();
    let err = as_str.ohlcv(&OhlcvOptions::default()).unwrap_err();
    assert!(matches!(err, TimeseriesError::WrongDtype { ref column, .. } if column == "size"), "{err}");

    assert!(matches!(OhlcvOptions::every("soon"), Err(TimeseriesError::InvalidOption { option: "every", .. })));
    let overlapping_fill = OhlcvOptions {
        period: Some(Duration::parse("2m")),
        fill: Fill::Forward,
        ..OhlcvOptions::every("1m").unwrap()
    };
    assert!(matches!((&df).ohlcv(&overlapping_fill), Err(TimeseriesError::InvalidOption { option: "fill", .. })));
}

#[test]
fn no_ticks_give_no_bars_with_the_right_columns() {
    let df = ticks(&[], &[], &[], &[]);
    let bars = df.ohlcv(&OhlcvOptions::default()).unwrap();
    assert_eq!(bars.height(), 0);
    let names: Vec<_> = bars.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trades"]);
}
