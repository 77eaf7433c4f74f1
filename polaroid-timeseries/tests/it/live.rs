//! Live bars: fed a chunk at a time and taken as they close, they are the
//! bars of the whole feed (the batch kernel, itself checked against
//! upstream polars in `oracle.rs`); bars close when the feed's newest tick
//! passes their end; late ticks are dropped and counted.

use polaroid_timeseries::{BarBuilder, BarKind, Fill, OhlcvExt, OhlcvOptions};
use polars::prelude::*;

use crate::{assert_frames_close, ticks, us};

const MICROS: DataType = DataType::Datetime(TimeUnit::Microseconds, None);

/// Ticks of three symbols, every 700 ms for 10 minutes, one symbol quiet
/// for a stretch (so its bars close only by the others' ticks).
fn feed() -> DataFrame {
    let (mut s, mut t, mut p, mut z) = (vec![], vec![], vec![], vec![]);
    for i in 0..857i64 {
        let sym = ["A", "B", "C"][(i % 3) as usize];
        if sym == "C" && (200..500).contains(&i) {
            continue;
        }
        s.push(Some(sym));
        t.push(us(9, 30, 0) + i * 700_000);
        p.push(Some(100.0 + ((i * 37) % 101) as f64 / 10.0));
        z.push(Some(1.0 + (i % 7) as f64));
    }
    ticks(&s, &t, &p, &z)
}

/// Feed `df` in chunks of `chunk` rows, closing bars up to the newest tick
/// after each; the bars taken after each chunk, and those still open at the end.
fn run_live(df: &DataFrame, options: &OhlcvOptions, chunk: usize) -> (Vec<DataFrame>, DataFrame) {
    let mut live = BarBuilder::live(options.clone(), &MICROS).unwrap();
    let mut taken = Vec::new();
    let mut offset = 0;
    while offset < df.height() {
        live.push(&df.slice(offset as i64, chunk)).unwrap();
        live.close_until(live.newest().unwrap());
        taken.push(live.take_closed().unwrap());
        offset += chunk;
    }
    live.close_until(i64::MAX);
    let rest = live.take_closed().unwrap();
    (taken, rest)
}

fn by_symbol_then_ts(frames: &[DataFrame]) -> DataFrame {
    let mut all = frames[0].clone();
    for f in &frames[1..] {
        all.vstack_mut(f).unwrap();
    }
    all.sort(["symbol", "ts"], SortMultipleOptions::default().with_maintain_order(true)).unwrap()
}

#[test]
fn live_bars_are_the_bars_of_the_whole_feed() {
    let df = feed();
    for options in [
        OhlcvOptions::every("1m").unwrap(),
        OhlcvOptions::every("7s").unwrap(),
        OhlcvOptions { fill: Fill::Forward, ..OhlcvOptions::every("30s").unwrap() },
        OhlcvOptions { kind: BarKind::Tick(40), ..OhlcvOptions::default() },
    ] {
        let batch = (&df).ohlcv(&options).unwrap();
        for chunk in [1, 13, 100, 10_000] {
            let (mut frames, rest) = run_live(&df, &options, chunk);
            if options.kind != BarKind::Time {
                // Activity bars close by their threshold; the last,
                // unfinished one is no bar of a live feed.
                let streamed = by_symbol_then_ts(&frames);
                let complete = batch.clone().lazy().filter(col("trades").eq(lit(40u32))).collect().unwrap();
                assert_frames_close(&streamed, &complete);
                assert_eq!(rest.height(), 0);
                continue;
            }
            frames.push(rest);
            assert_frames_close(&by_symbol_then_ts(&frames), &batch);
        }
    }
}

#[test]
fn a_bar_closes_once_the_newest_tick_passes_its_end_whoever_trades() {
    let options = OhlcvOptions::every("1m").unwrap();
    let mut live = BarBuilder::live(options, &MICROS).unwrap();
    let first = ticks(
        &[Some("A"), Some("B"), Some("A")],
        &[us(9, 30, 1), us(9, 30, 20), us(9, 30, 59)],
        &[Some(10.0), Some(20.0), Some(11.0)],
        &[Some(1.0), Some(2.0), Some(3.0)],
    );
    live.push(&first).unwrap();
    live.close_until(live.newest().unwrap());
    let none = live.take_closed().unwrap();
    assert_eq!(none.height(), 0);
    assert_eq!(none.get_column_names(), ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trades"]);
    // Only B trades in the next minute; A's 9:30 bar closes all the same.
    let second = ticks(&[Some("B")], &[us(9, 31, 0)], &[Some(21.0)], &[Some(1.0)]);
    live.push(&second).unwrap();
    live.close_until(live.newest().unwrap());
    let closed = live.take_closed().unwrap();
    assert_eq!(closed.column("symbol").unwrap().str().unwrap().iter().collect::<Vec<_>>(), [Some("A"), Some("B")]);
    let open: Vec<f64> = closed.column("open").unwrap().f64().unwrap().into_no_null_iter().collect();
    let close: Vec<f64> = closed.column("close").unwrap().f64().unwrap().into_no_null_iter().collect();
    let volume: Vec<f64> = closed.column("volume").unwrap().f64().unwrap().into_no_null_iter().collect();
    assert_eq!((open, close, volume), (vec![10.0, 20.0], vec![11.0, 20.0], vec![4.0, 2.0]));
    assert_eq!(live.late_ticks(), 0);
}

#[test]
fn late_ticks_are_dropped_and_counted_and_leave_closed_bars_alone() {
    let options = OhlcvOptions::every("1m").unwrap();
    let mut live = BarBuilder::live(options, &MICROS).unwrap();
    let on_time = ticks(
        &[Some("A"), Some("B"), Some("A")],
        &[us(9, 30, 5), us(9, 31, 2), us(9, 31, 10)],
        &[Some(10.0), Some(20.0), Some(12.0)],
        &[Some(1.0), Some(1.0), Some(1.0)],
    );
    live.push(&on_time).unwrap();
    live.close_until(live.newest().unwrap());
    assert_eq!(live.take_closed().unwrap().height(), 1); // A 9:30
    // B in the closed minute, and A before its own last tick: both late.
    let late = ticks(&[Some("B"), Some("A"), Some("A")], &[us(9, 30, 30), us(9, 31, 1), us(9, 31, 30)], &[Some(1.0), Some(2.0), Some(13.0)], &[Some(5.0), Some(5.0), Some(1.0)]);
    live.push(&late).unwrap();
    assert_eq!(live.late_ticks(), 2);
    live.close_until(i64::MAX);
    let rest = live.take_closed().unwrap();
    let volume: Vec<f64> = rest.column("volume").unwrap().f64().unwrap().into_no_null_iter().collect();
    let high: Vec<f64> = rest.column("high").unwrap().f64().unwrap().into_no_null_iter().collect();
    // A 9:31 (12, 13) and B 9:31 (20), sorted by ts then symbol.
    assert_eq!((volume, high), (vec![2.0, 1.0], vec![13.0, 20.0]));
}

#[test]
fn the_earliest_open_interval_and_grace_in_units() {
    let live = BarBuilder::live(OhlcvOptions::every("1m").unwrap(), &MICROS).unwrap();
    assert_eq!(live.earliest_open_at(us(9, 31, 59)).unwrap(), us(9, 31, 0));
    assert_eq!(live.units_of("grace", &Duration::parse("2s")).unwrap(), 2_000_000);
    assert!(live.units_of("grace", &Duration::parse("1mo")).is_err());
    let overlapping = OhlcvOptions { period: Some(Duration::parse("3m")), ..OhlcvOptions::every("1m").unwrap() };
    let live = BarBuilder::live(overlapping, &MICROS).unwrap();
    assert_eq!(live.earliest_open_at(us(9, 31, 59)).unwrap(), us(9, 29, 0));
}
