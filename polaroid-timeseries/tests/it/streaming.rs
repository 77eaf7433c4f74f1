//! The streaming path (a LazyFrame scan, batch by batch) gives the same
//! bars as the in-memory path, sorted input or not.

use polaroid_timeseries::{BarKind, OhlcvExt, OhlcvOptions};
use polars::prelude::*;

use crate::{assert_frames_close, ticks};

fn generated(n: usize, shuffled: bool) -> DataFrame {
    let syms = ["A", "B", "C", "D"];
    let mut rows: Vec<usize> = (0..n).collect();
    if shuffled {
        // A fixed permutation: by symbol, then time (files often look like this).
        rows.sort_by_key(|&i| (i % 4, i));
    }
    let s: Vec<Option<&str>> = rows.iter().map(|&i| Some(syms[i % 4])).collect();
    let t: Vec<i64> = rows.iter().map(|&i| 1_700_000_000_000_000 + (i as i64) * 250_000).collect();
    let p: Vec<Option<f64>> = rows.iter().map(|&i| Some(100.0 + ((i * 7919) % 1000) as f64 / 100.0)).collect();
    let z: Vec<Option<f64>> = rows.iter().map(|&i| Some(1.0 + (i % 17) as f64)).collect();
    ticks(&s, &t, &p, &z)
}

fn via_parquet(df: &DataFrame, options: &OhlcvOptions) -> DataFrame {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ticks.parquet");
    let mut file = std::fs::File::create(&path).unwrap();
    // Small row groups, so the scan yields many batches.
    ParquetWriter::new(&mut file).with_row_group_size(Some(10_000)).finish(&mut df.clone()).unwrap();
    let lf = LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), Default::default()).unwrap();
    lf.ohlcv(options).unwrap()
}

#[test]
fn streaming_equals_in_memory_for_time_and_activity_bars() {
    let df = generated(200_000, false);
    for options in [
        OhlcvOptions::every("1m").unwrap(),
        OhlcvOptions::every("7s").unwrap(),
        OhlcvOptions { kind: BarKind::Volume(5_000.0), ..OhlcvOptions::default() },
    ] {
        let in_memory = (&df).ohlcv(&options).unwrap();
        let streamed = via_parquet(&df, &options);
        assert_frames_close(&streamed, &in_memory);
        assert!(in_memory.height() > 100);
    }
}

#[test]
fn input_grouped_by_symbol_is_binned_like_time_ordered_input() {
    let ordered = generated(50_000, false);
    let grouped = generated(50_000, true);
    let options = OhlcvOptions::every("30s").unwrap();
    let expected = (&ordered).ohlcv(&options).unwrap();
    assert_frames_close(&(&grouped).ohlcv(&options).unwrap(), &expected);
    assert_frames_close(&via_parquet(&grouped, &options), &expected);
    // Fully reversed time: sorted first, never mis-binned.
    let reversed = ordered.reverse();
    assert_frames_close(&(&reversed).ohlcv(&options).unwrap(), &expected);
    assert_frames_close(&via_parquet(&reversed, &options), &expected);
}
