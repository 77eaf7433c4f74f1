//! polaroid-timeseries: bars against upstream polars `group_by_dynamic`
//! (property tests), hand-worked examples, and the streaming path against
//! the in-memory one.

mod activity;
mod analytics;
mod bounds;
mod live;
mod oracle;
mod streaming;
mod threads;
mod time_bars;

use polars::prelude::*;

/// Ticks from plain vectors: times in microseconds since the epoch.
pub fn ticks(symbols: &[Option<&str>], ts_us: &[i64], prices: &[Option<f64>], sizes: &[Option<f64>]) -> DataFrame {
    let df = df! {
        "symbol" => symbols,
        "ts" => ts_us,
        "price" => prices,
        "size" => sizes,
    }
    .unwrap();
    df.lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap()
}

/// Equal schemas and values; floats within 1e-9 relative (sums may be
/// added in another order), everything else exactly.
pub fn assert_frames_close(left: &DataFrame, right: &DataFrame) {
    assert_eq!(left.schema(), right.schema(), "schemas differ");
    assert_eq!(left.height(), right.height(), "heights differ:\n{left}\n{right}");
    for (a, b) in left.columns().iter().zip(right.columns()) {
        if a.dtype().is_float() {
            let (a, b) = (a.f64().unwrap(), b.f64().unwrap());
            for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                match (x, y) {
                    (Some(x), Some(y)) => assert!(
                        (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                        "{} row {i}: {x} vs {y}\n{left}\n{right}",
                        a.name()
                    ),
                    (x, y) => assert_eq!(x, y, "{} row {i}\n{left}\n{right}", a.name()),
                }
            }
        } else {
            assert!(
                a.as_materialized_series().equals_missing(b.as_materialized_series()),
                "column {} differs:\n{left}\n{right}",
                a.name()
            );
        }
    }
}

pub fn us(h: i64, m: i64, s: i64) -> i64 {
    ((h * 60 + m) * 60 + s) * 1_000_000
}
