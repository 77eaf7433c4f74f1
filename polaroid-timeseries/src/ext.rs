//! The Polars-style entry points: extension traits on `DataFrame` and
//! `LazyFrame`.

use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::bars::{default_kernel_threads, BarBuilder};
use crate::error::{Result, TimeseriesError};
use crate::options::OhlcvOptions;

/// OHLCV bars from ticks: `df.ohlcv(&OhlcvOptions::every("1m")?)`.
pub trait OhlcvExt {
    /// Bars `[by.., ts, open, high, low, close, volume, vwap, trades]`,
    /// sorted by the by-keys, then `ts`. Input in time order (per series) is
    /// binned in one pass; otherwise it is stably sorted by time first.
    fn ohlcv(self, options: &OhlcvOptions) -> Result<DataFrame>;
}

impl OhlcvExt for &DataFrame {
    fn ohlcv(self, options: &OhlcvOptions) -> Result<DataFrame> {
        match bars_in_order(self, options) {
            Err(TimeseriesError::Unsorted { .. }) => {
                let sorted = self.sort([options.time.clone()], SortMultipleOptions::default().with_maintain_order(true))?;
                bars_in_order(&sorted, options)
            },
            other => other,
        }
    }
}

impl OhlcvExt for DataFrame {
    fn ohlcv(self, options: &OhlcvOptions) -> Result<DataFrame> {
        (&self).ohlcv(options)
    }
}

/// The columns the kernel reads, or which one `input` lacks (naming those it has).
fn require_columns(builder: &BarBuilder, input: &Schema) -> Result<Vec<PlSmallStr>> {
    let needed = builder.input_columns();
    if let Some(missing) = needed.iter().find(|name| !input.contains(name)) {
        return Err(TimeseriesError::MissingColumn {
            column: missing.to_string(),
            available: format!("{:?}", input.iter_names().collect::<Vec<_>>()),
        });
    }
    Ok(needed)
}

/// Rows per batch when an in-memory frame is binned on kernel threads: the
/// front prepares one batch while the kernel bins the one before.
const FRAME_BATCH_ROWS: usize = 64 * 1024;

/// In-memory frames smaller than this are binned on the caller's thread:
/// starting threads would cost more than they save.
const FRAME_THREADS_MIN_ROWS: usize = 1 << 20;

fn bars_in_order(df: &DataFrame, options: &OhlcvOptions) -> Result<DataFrame> {
    let threads = match options.kernel_threads {
        Some(n) => n,
        None if df.height() < FRAME_THREADS_MIN_ROWS => 0,
        None => default_kernel_threads(),
    };
    let mut builder = BarBuilder::with_threads(options.clone(), threads)?;
    let needed = require_columns(&builder, df.schema())?;
    let mut df = df.select(needed)?;
    if df.should_rechunk() {
        df.rechunk_mut();
    }
    if df.height() == 0 {
        builder.push(&df)?;
    }
    let batch = if threads == 0 { usize::MAX } else { FRAME_BATCH_ROWS };
    for chunk in df.split_chunks() {
        let mut offset = 0;
        while offset < chunk.height() {
            let rows = batch.min(chunk.height() - offset);
            builder.push(&chunk.slice(offset as i64, rows))?;
            offset += rows;
        }
    }
    builder.finish()
}

/// On a plan, the bars are computed now, on the polars streaming engine:
/// batches flow through the kernel as they are read, so a file far larger
/// than memory needs only the batch and the open bars. If a series turns
/// out not to be in time order, the plan is run again sorted by time.
///
/// Polars' streaming parquet scan reads ahead up to
/// `POLARS_ROW_GROUP_PREFETCH_SIZE` row groups (hundreds by default), and
/// that read-ahead, not the kernel, then sets peak memory. For bounded memory
/// set it to a few before polars starts: `polaroid bars` sets one per core
/// (polars decodes on one pipeline per core), and
/// `POLARS_RECORD_BATCH_PREFETCH_SIZE` for ipc to 1. With few row groups in
/// flight, also set `POLARS_PARQUET_DECODE_TARGET_VALUES_PER_THREAD` to
/// about a million: polars otherwise decodes a row group of under 16M values
/// on one thread.
///
/// The kernel bins on [`OhlcvOptions::kernel_threads`] threads of its own
/// while the thread that receives the batches gives each row its series.
impl OhlcvExt for LazyFrame {
    fn ohlcv(self, options: &OhlcvOptions) -> Result<DataFrame> {
        stream_ohlcv(self, options, |_| true)
    }
}

/// How far a streaming bar run has come, after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamProgress {
    /// Ticks in the batch just binned.
    pub ticks: usize,
    /// Bars closed so far, in all series.
    pub bars: usize,
}

/// [`OhlcvExt::ohlcv`] on a plan, calling `progress` after each batch is
/// binned (a command line shows it; a server checks its budget and whether
/// the client is still there). Returning `false` stops the query with
/// [`TimeseriesError::Stopped`].
pub fn stream_ohlcv(
    lf: LazyFrame,
    options: &OhlcvOptions,
    progress: impl FnMut(StreamProgress) -> bool + Send + Clone + 'static,
) -> Result<DataFrame> {
    match stream_bars(lf.clone(), options, progress.clone()) {
        Err(TimeseriesError::Unsorted { .. }) => {
            let sorted = lf.sort([options.time.as_str()], SortMultipleOptions::default().with_maintain_order(true));
            stream_bars(sorted, options, progress)
        },
        other => other,
    }
}

fn stream_bars(
    lf: LazyFrame,
    options: &OhlcvOptions,
    progress: impl FnMut(StreamProgress) -> bool + Send + 'static,
) -> Result<DataFrame> {
    let threads = options.kernel_threads.unwrap_or_else(default_kernel_threads);
    let builder = BarBuilder::with_threads(options.clone(), threads)?;
    let needed = require_columns(&builder, lf.clone().collect_schema()?.as_ref())?;
    let needed: Vec<Expr> = needed.into_iter().map(col).collect();
    let lf = lf.select(needed);
    // Check names and types before any work, with our own messages.
    let schema = lf.clone().collect_schema()?;
    let mut builder = builder;
    builder.push(&DataFrame::empty_with_schema(&schema))?;

    let shared = Arc::new(Mutex::new((Some(builder), None::<TimeseriesError>, progress)));
    let in_sink = shared.clone();
    let callback = PlanCallback::new(move |df: DataFrame| {
        let mut guard = in_sink.lock().unwrap_or_else(|p| p.into_inner());
        let (builder, failure, progress) = &mut *guard;
        let Some(b) = builder.as_mut() else { return Ok(true) };
        if let Err(e) = b.push(&df) {
            *failure = Some(e);
            *builder = None;
            return Ok(true); // stop the query
        }
        if !progress(StreamProgress { ticks: df.height(), bars: b.bars() }) {
            *failure = Some(TimeseriesError::Stopped);
            *builder = None;
            return Ok(true);
        }
        Ok(false)
    });
    lf.sink_batches(callback, true, None)?.collect_with_engine(Engine::Streaming)?;
    let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
    let (builder, failure) = (guard.0.take(), guard.1.take());
    if let Some(e) = failure {
        return Err(e);
    }
    builder.expect("the builder is kept unless a chunk failed").finish()
}
