//! Kernel threads: the bars do not depend on how many threads bin them (the
//! inline kernel is checked against upstream polars in `oracle.rs`), and
//! what one shard finds (out-of-order ticks, the fill cap) stops the run.

use polaroid_timeseries::{BarKind, Fill, OhlcvExt, OhlcvOptions, TimeseriesError};
use polars::prelude::*;

use crate::{assert_frames_close, ticks};

/// `n` ticks over `symbols` symbols in a scrambled order, 1 ms apart with
/// runs of equal times, and a null price every 97th row.
fn scrambled(n: usize, symbols: usize) -> DataFrame {
    let names: Vec<String> = (0..symbols).map(|i| format!("S{i:03}")).collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut s = Vec::with_capacity(n);
    let (mut t, mut p, mut z) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let r = next();
        s.push(Some(names[(r % symbols as u64) as usize].as_str()));
        t.push(1_700_000_000_000_000 + (i as i64 / 3) * 1_000);
        p.push((i % 97 != 0).then(|| 100.0 + ((r >> 20) % 5_000) as f64 / 100.0));
        z.push(Some(1.0 + ((r >> 40) % 50) as f64));
    }
    ticks(&s, &t, &p, &z)
}

fn streamed(df: &DataFrame, options: &OhlcvOptions) -> DataFrame {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ticks.parquet");
    let mut file = std::fs::File::create(&path).unwrap();
    ParquetWriter::new(&mut file).with_row_group_size(Some(20_000)).finish(&mut df.clone()).unwrap();
    let lf = LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), Default::default()).unwrap();
    lf.ohlcv(options).unwrap()
}

fn with_threads(options: &OhlcvOptions, threads: usize) -> OhlcvOptions {
    OhlcvOptions { kernel_threads: Some(threads), ..options.clone() }
}

#[test]
fn bars_do_not_depend_on_kernel_threads() {
    // More rows than one in-memory batch (64k), so batches queue up.
    let df = scrambled(200_000, 37);
    let cases = [
        OhlcvOptions::every("1s").unwrap(),
        OhlcvOptions { fill: Fill::Forward, ..OhlcvOptions::every("250ms").unwrap() },
        OhlcvOptions { period: Some(Duration::parse("3s")), ..OhlcvOptions::every("1s").unwrap() },
        OhlcvOptions { kind: BarKind::Tick(50), ..OhlcvOptions::default() },
        OhlcvOptions { kind: BarKind::Volume(3_000.0), ..OhlcvOptions::default() },
        OhlcvOptions { kind: BarKind::Dollar(250_000.0), emit_partial: false, ..OhlcvOptions::default() },
    ];
    for options in cases {
        let inline = (&df).ohlcv(&with_threads(&options, 0)).unwrap();
        assert!(inline.height() > 1_000, "{options:?} gave only {} bars", inline.height());
        for threads in [1, 2, 3] {
            let options = with_threads(&options, threads);
            assert_frames_close(&(&df).ohlcv(&options).unwrap(), &inline);
            assert_frames_close(&streamed(&df, &options), &inline);
        }
    }
}

#[test]
fn a_series_out_of_time_order_in_any_shard_is_sorted_and_rebinned() {
    let df = scrambled(150_000, 11);
    let options = OhlcvOptions::every("2s").unwrap();
    let expected = (&df).ohlcv(&with_threads(&options, 0)).unwrap();
    // Grouped by symbol: each shard meets a series going back in time.
    let grouped = df.sort(["symbol"], SortMultipleOptions::default().with_maintain_order(true)).unwrap();
    for threads in [1, 3] {
        let options = with_threads(&options, threads);
        assert_frames_close(&(&grouped).ohlcv(&options).unwrap(), &expected);
        assert_frames_close(&streamed(&grouped, &options), &expected);
    }
}

#[test]
fn the_forward_fill_cap_counts_every_shard() {
    // Four symbols, each with ten empty one-second intervals between its
    // two ticks: forty filled intervals in all, twenty per shard of two.
    let symbols = ["A", "B", "C", "D"];
    let mut s = Vec::new();
    let mut t = Vec::new();
    for at in [0, 10_500_000] {
        for sym in symbols {
            s.push(Some(sym));
            t.push(1_700_000_000_000_000 + at);
        }
    }
    let df = ticks(&s, &t, &vec![Some(10.0); 8], &vec![Some(1.0); 8]);
    let capped = |cap, threads| OhlcvOptions {
        fill: Fill::Forward,
        max_intervals: cap,
        kernel_threads: Some(threads),
        ..OhlcvOptions::every("1s").unwrap()
    };
    for threads in [0, 2] {
        let bars = (&df).ohlcv(&capped(40, threads)).unwrap();
        assert_eq!(bars.height(), 4 * 11, "{bars}");
        match (&df).ohlcv(&capped(39, threads)) {
            Err(TimeseriesError::TooManyIntervals { cap: 39, .. }) => {},
            other => panic!("threads {threads}: expected the cap to refuse, got {other:?}"),
        }
    }
}

/// A categorical by-column's rows reach one kernel as category ids, looked
/// up there, once every category of the mapping has a series (a chunk with
/// a category not seen yet, or a null symbol, goes through the front's
/// per-row pass instead). Chunks cast one at a time to a mapping of their
/// own, so it grows between pushes: the third chunk brings a new symbol,
/// the fifth a null one. Each way must bin what the same chunks as strings
/// bin, inline, on one kernel thread and on three.
#[test]
fn categorical_chunks_looked_up_by_the_kernel_bin_as_strings_do() {
    let df = scrambled(60_000, 5);
    let symbol_at = |i: usize, s: &str| match i {
        20_000..30_000 if i % 10 == 0 => Some("LATE".to_string()),
        40_000..50_000 if i % 1_000 == 0 => None,
        _ => Some(s.to_string()),
    };
    let symbols: Vec<Option<String>> =
        df.column("symbol").unwrap().str().unwrap().iter().enumerate().map(|(i, s)| symbol_at(i, s.unwrap())).collect();
    let mut df = df;
    df.with_column(Column::new("symbol".into(), symbols)).unwrap();
    let chunks: Vec<DataFrame> = (0..6).map(|k| df.slice(k * 10_000, 10_000)).collect();
    let options = OhlcvOptions::every("1s").unwrap();
    let bars = |threads: usize, categories: Option<Arc<Categories>>| {
        let mut builder = polaroid_timeseries::BarBuilder::with_threads(options.clone(), threads).unwrap();
        for chunk in &chunks {
            let chunk = match &categories {
                Some(c) => chunk.clone().lazy().with_column(col("symbol").cast(DataType::from_categories(c.clone()))).collect().unwrap(),
                None => chunk.clone(),
            };
            builder.push(&chunk).unwrap();
        }
        let out = builder.finish().unwrap();
        out.lazy().with_column(col("symbol").cast(DataType::String)).collect().unwrap()
    };
    let strings = bars(0, None);
    assert!(strings.column("symbol").unwrap().str().unwrap().iter().any(|s| s == Some("LATE")));
    assert!(strings.column("symbol").unwrap().null_count() > 0);
    for threads in [0, 1, 3] {
        let categories = Categories::new("ticks".into(), format!("lookup-{threads}").into(), CategoricalPhysical::U32);
        // Category ids in the reverse of the order the series appear in, so
        // that a category id is not its series id. Held: the mapping lives
        // as long as something uses it.
        let priming = Series::new("symbol".into(), ["S004", "S003", "S002", "S001", "S000"]);
        let _primed = priming.cast(&DataType::from_categories(categories.clone())).unwrap();
        assert_eq!(categories.mapping().cat_to_str(0), Some("S004"));
        assert_frames_close(&bars(threads, Some(categories)), &strings);
    }
}
