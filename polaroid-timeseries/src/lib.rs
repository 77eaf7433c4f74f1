//! OHLCV bars and tick analytics for Polars frames.
//!
//! Bars come from a single pass over time-ordered ticks that keeps each
//! series' open bar ([`BarBuilder`]), not from `group_by_dynamic`. The pass
//! consumes chunks, so on a `LazyFrame` it runs on the polars streaming
//! engine's batches in bounded memory.
//!
//! ```
//! use polars::prelude::*;
//! use polaroid_timeseries::{OhlcvExt, OhlcvOptions};
//!
//! let ticks = df! {
//!     "symbol" => ["A", "A", "A", "B"],
//!     "ts" => [0i64, 20_000_000, 70_000_000, 5_000_000],
//!     "price" => [10.0, 12.0, 11.0, 50.0],
//!     "size" => [1.0, 3.0, 2.0, 1.0],
//! }?
//! .lazy()
//! .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
//! .collect()?;
//! let bars = ticks.ohlcv(&OhlcvOptions::every("1m")?)?;
//! // A's first minute: open 10, high 12, close 12, volume 4, vwap (10 + 36) / 4.
//! assert_eq!(bars.column("close")?.f64()?.get(0), Some(12.0));
//! assert_eq!(bars.column("vwap")?.f64()?.get(0), Some(11.5));
//! assert_eq!(bars.height(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod analytics;
mod bars;
mod error;
mod ext;
mod grid;
mod options;
mod symbols;

pub use analytics::{AsofQuotesOptions, IntervalOptions, OutOfOrder, QuoteColumns, QuoteResampleOptions, ReturnsOptions, RollingVwapOptions, TicksExt, VolatilityOptions};
pub use bars::BarBuilder;
pub use error::{Result, TimeseriesError};
pub use ext::{stream_ohlcv, OhlcvExt, StreamProgress};
pub use options::{parse_duration, BarKind, Fill, OhlcvOptions, DEFAULT_MAX_INTERVALS};
