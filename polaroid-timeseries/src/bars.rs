//! The bar kernel: one pass over time-ordered ticks, keeping each series'
//! open bar(s), fed chunk by chunk. It never sees more than one chunk at a
//! time, so memory is bounded by the chunk and the open bars (plus the bars
//! it has already emitted).
//!
//! The work is split in two stages. The front ([`BarBuilder::push`], on the
//! caller's thread) checks and converts the columns and gives each row its
//! series id. The kernel proper bins the rows into bars. With kernel threads
//! the two overlap: each thread owns the series whose id falls in its shard
//! and takes batches from the front through a short queue, so the reading
//! thread can decode the next batch while the kernel bins this one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use polars::prelude::*;
use polars_arrow::array::PrimitiveArray;
use polars_arrow::bitmap::Bitmap;
use polars_arrow::compute::utils::combine_validities_and;

use crate::error::{Result, TimeseriesError};
use crate::grid::Grid;
use crate::options::{BarKind, Fill, OhlcvOptions};
use crate::symbols::Symbols;

/// Batches each kernel thread may have queued: enough to keep it busy while
/// the front prepares the next one, few enough to bound memory.
const QUEUE_DEPTH: usize = 2;

/// One bar being built.
#[derive(Clone, Copy)]
struct Bar {
    start: i64,
    end: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    notional: f64,
    trades: IdxSize,
}

impl Bar {
    fn empty(start: i64, end: i64) -> Self {
        Self {
            start,
            end,
            open: f64::NAN,
            high: f64::NEG_INFINITY,
            low: f64::INFINITY,
            close: f64::NAN,
            volume: 0.0,
            notional: 0.0,
            trades: 0,
        }
    }

    #[inline]
    fn add(&mut self, price: f64, size: f64) {
        if self.trades == 0 {
            self.open = price;
        }
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        self.volume += size;
        self.notional += price * size;
        self.trades += 1;
    }
}

/// A series' open time bars, oldest first. The oldest is held in place:
/// nearly every tick goes to it, and reaching it without a pointer to
/// follow took a quarter off the kernel's CPU (10M ticks, perf; README).
/// More than one is open only if period > every.
#[derive(Default)]
struct OpenBars {
    first: Option<Bar>,
    /// The younger bars; empty whenever `first` is `None`.
    rest: VecDeque<Bar>,
}

impl OpenBars {
    #[inline(always)]
    fn front(&self) -> Option<&Bar> {
        self.first.as_ref()
    }

    #[inline(always)]
    fn front_mut(&mut self) -> Option<&mut Bar> {
        self.first.as_mut()
    }

    fn pop_front(&mut self) -> Option<Bar> {
        let first = self.first.take();
        self.first = self.rest.pop_front();
        first
    }

    fn push_back(&mut self, bar: Bar) {
        match self.first {
            None => self.first = Some(bar),
            Some(_) => self.rest.push_back(bar),
        }
    }

    fn len(&self) -> usize {
        self.first.is_some() as usize + self.rest.len()
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Bar> {
        self.first.iter_mut().chain(self.rest.iter_mut())
    }
}

struct Series {
    /// Time bars open now.
    open: OpenBars,
    /// Ticks before this time go straight into the single open bar: it is
    /// the one open bar's end, or the next interval's start if that comes
    /// first; `i64::MIN` while the slow path must decide.
    fast_until: i64,
    /// The next interval start not yet opened.
    next_start: Option<i64>,
    /// The last tick's time (`i64::MIN` before the first).
    last_time: i64,
    last_close: Option<f64>,
    /// The activity bar being filled.
    activity: Option<Bar>,
}

impl Default for Series {
    fn default() -> Self {
        Self { open: OpenBars::default(), fast_until: i64::MIN, next_start: None, last_time: i64::MIN, last_close: None, activity: None }
    }
}

#[derive(Default)]
struct Columns {
    series: Vec<u32>,
    ts: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    vwap: Vec<Option<f64>>,
    trades: Vec<IdxSize>,
}

impl Columns {
    fn len(&self) -> usize {
        self.ts.len()
    }

    fn push(&mut self, series: u32, bar: &Bar) {
        self.series.push(series);
        self.ts.push(bar.start);
        self.open.push(bar.open);
        self.high.push(bar.high);
        self.low.push(bar.low);
        self.close.push(bar.close);
        self.volume.push(bar.volume);
        self.vwap.push((bar.volume != 0.0).then(|| bar.notional / bar.volume));
        self.trades.push(bar.trades);
    }

    fn push_filled(&mut self, series: u32, start: i64, close: f64) {
        let bar = Bar { open: close, high: close, low: close, close, ..Bar::empty(start, start) };
        self.push(series, &bar);
    }

    fn append(&mut self, mut other: Columns) {
        self.series.append(&mut other.series);
        self.ts.append(&mut other.ts);
        self.open.append(&mut other.open);
        self.high.append(&mut other.high);
        self.low.append(&mut other.low);
        self.close.append(&mut other.close);
        self.volume.append(&mut other.volume);
        self.vwap.append(&mut other.vwap);
        self.trades.append(&mut other.trades);
    }
}

/// Each row's series, as its index within the shard that owns it.
enum Slots {
    PerRow(Vec<u32>),
    /// One shard, a categorical by-column: each row's category id, and the
    /// series id of each category (see `Symbols::category_table`).
    Categories { cats: PrimitiveArray<u32>, series_of: Arc<[u32]> },
}

/// One chunk of ticks, checked and converted by the front.
struct Batch {
    slots: Slots,
    times: PrimitiveArray<i64>,
    prices: PrimitiveArray<f64>,
    sizes: Sizes,
    /// Rows with a time, a price and a size (`None`: all of them).
    valid: Option<Bitmap>,
    /// The rows of each shard, when there is more than one.
    shard_rows: Vec<Vec<u32>>,
    /// Series known so far (the kernel sizes its state from it).
    series: usize,
}

/// A batch's sizes. Integer sizes (shares, contracts) reach the kernel as
/// they are and become f64 per tick there: casting a column first would
/// cost the front a pass and a buffer per batch.
enum Sizes {
    F64(PrimitiveArray<f64>),
    I64(PrimitiveArray<i64>),
}

impl Sizes {
    fn of(df: &DataFrame, name: &PlSmallStr) -> Result<Self> {
        let c = column(df, name)?;
        Ok(match c.dtype() {
            DataType::Int64 => Self::I64(c.i64()?.rechunk().downcast_as_array().clone()),
            _ => Self::F64(numeric_as_f64(df, name)?.downcast_as_array().clone()),
        })
    }

    fn validity(&self) -> Option<&Bitmap> {
        match self {
            Self::F64(a) => a.validity(),
            Self::I64(a) => a.validity(),
        }
    }
}

/// A tick size the kernel reads as f64.
trait Size: Copy {
    fn to_f64(self) -> f64;
}

impl Size for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

impl Size for i64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// Where the series of one id is binned: which shard, and its index there.
#[derive(Clone, Copy)]
struct Slot {
    shard: u32,
    index: u32,
}

/// The state of one shard of series: their open bars and closed bars.
struct Kernel {
    kind: BarKind,
    fill: Fill,
    cap: u64,
    /// Forward-filled intervals emitted so far by all shards, against `cap`.
    filled: Arc<AtomicU64>,
    grid: Arc<Grid>,
    /// This shard owns the series with `id % shards == shard`, at index `id / shards`.
    shard: u32,
    shards: u32,
    series: Vec<Series>,
    /// Closed bars, their `series` column holding global ids.
    out: Columns,
    /// Live bars: a tick older than its series' last one (or than a bar
    /// already closed) is dropped and counted here instead of failing the run.
    drop_late: bool,
    late: u64,
}

fn column<'a>(df: &'a DataFrame, name: &PlSmallStr) -> Result<&'a Column> {
    df.column(name).map_err(|_| TimeseriesError::MissingColumn {
        column: name.to_string(),
        available: format!("{:?}", df.get_column_names()),
    })
}

fn numeric_as_f64(df: &DataFrame, name: &PlSmallStr) -> Result<Float64Chunked> {
    let c = column(df, name)?;
    if !c.dtype().is_primitive_numeric() {
        return Err(TimeseriesError::WrongDtype { column: name.to_string(), expected: "numeric", actual: c.dtype().to_string() });
    }
    Ok(c.cast(&DataType::Float64)?.f64()?.rechunk().into_owned())
}

/// Kernel threads when the caller does not say: one per two cores (the
/// other core of each pair reads and decodes the input), none on one core.
pub(crate) fn default_kernel_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores / 2
}

/// Builds OHLCV bars from chunks of ticks. Feed chunks in time order with
/// [`BarBuilder::push`], then [`BarBuilder::finish`].
pub struct BarBuilder {
    options: OhlcvOptions,
    symbols: Symbols,
    /// Kernel threads to start with the first chunk (0: bin on the caller's thread).
    threads: usize,
    slots: Vec<Slot>,
    /// Set by the first chunk: the time column's type and the kernel(s).
    time_dtype: Option<DataType>,
    engine: Option<Engine>,
    /// Live bars: late ticks are dropped (see [`BarBuilder::live`]).
    drop_late: bool,
    /// The newest tick time pushed so far (kept by live builders only:
    /// a batch run has no use for it, and it costs a pass over each chunk).
    newest: Option<i64>,
}

enum Engine {
    Inline(Box<Kernel>),
    Threads(Workers),
}

impl BarBuilder {
    /// A builder that bins on the caller's thread.
    pub fn new(options: OhlcvOptions) -> Result<Self> {
        Self::with_threads(options, 0)
    }

    /// A builder that bins on `threads` threads of its own, each owning a
    /// shard of the series, while the caller's thread prepares the next
    /// chunk; 0 bins on the caller's thread. The bars do not depend on it.
    pub fn with_threads(options: OhlcvOptions, threads: usize) -> Result<Self> {
        options.validate()?;
        let symbols = Symbols::new(options.by.clone());
        // Series ids are u32; more shards than that could never be used.
        let threads = threads.min(1024);
        Ok(Self {
            options,
            symbols,
            threads,
            slots: Vec::new(),
            time_dtype: None,
            engine: None,
            drop_late: false,
            newest: None,
        })
    }

    /// A builder for a live feed: bars are taken as they close
    /// ([`BarBuilder::take_closed`]) rather than all at the end. Ticks that
    /// arrive late (before their series' previous tick, or inside a bar
    /// already closed by [`BarBuilder::close_until`]) are dropped and
    /// counted ([`BarBuilder::late_ticks`]) instead of failing the feed.
    /// `time_dtype` is the time column's type, known before the first tick.
    pub fn live(options: OhlcvOptions, time_dtype: &DataType) -> Result<Self> {
        let mut builder = Self::with_threads(options, 0)?;
        builder.drop_late = true;
        builder.start(&Column::new_empty(builder.options.time.clone(), time_dtype))?;
        Ok(builder)
    }

    /// The columns a chunk needs: by-keys, time, price, size (each once).
    pub fn input_columns(&self) -> Vec<PlSmallStr> {
        let o = &self.options;
        let mut cols: Vec<PlSmallStr> = Vec::new();
        for c in o.by.iter().chain([&o.time, &o.price, &o.size]) {
            if !cols.contains(c) {
                cols.push(c.clone());
            }
        }
        cols
    }

    fn start(&mut self, time: &Column) -> Result<()> {
        let DataType::Datetime(unit, zone) = time.dtype() else {
            return Err(TimeseriesError::WrongDtype {
                column: self.options.time.to_string(),
                expected: "a Datetime",
                actual: time.dtype().to_string(),
            });
        };
        let zone = self.options.time_zone.clone().or_else(|| zone.clone());
        let tz = match zone.as_ref() {
            Some(z) => Some(z.to_chrono().map_err(|e| TimeseriesError::InvalidOption {
                option: "time_zone",
                reason: e.to_string(),
            })?),
            None => None,
        };
        let o = &self.options;
        // A step shorter than the column's unit would never move the grid.
        for (option, d) in [("every", Some(&o.every)), ("period", o.period.as_ref())] {
            if let Some(d) = d {
                if crate::grid::fixed_units(d, *unit) == Some(0) {
                    return Err(TimeseriesError::InvalidOption {
                        option,
                        reason: format!("{d} is shorter than one unit of the time column ({unit})"),
                    });
                }
            }
        }
        let grid = Arc::new(Grid::new(o.every, o.period.unwrap_or(o.every), o.offset, tz, *unit));
        let filled = Arc::new(AtomicU64::new(0));
        let shards = self.threads.max(1) as u32;
        let kernel = |shard| Kernel {
            kind: o.kind.clone(),
            fill: o.fill,
            cap: o.max_intervals,
            filled: filled.clone(),
            grid: grid.clone(),
            shard,
            shards,
            series: Vec::new(),
            out: Columns::default(),
            drop_late: self.drop_late,
            late: 0,
        };
        self.engine = Some(match self.threads {
            0 => Engine::Inline(Box::new(kernel(0))),
            n => Engine::Threads(Workers::start((0..n as u32).map(kernel).collect())?),
        });
        self.time_dtype = Some(time.dtype().clone());
        Ok(())
    }

    /// Add one chunk of ticks. Rows with a null time, price or size are
    /// ignored. Ticks of each series must not go back in time.
    pub fn push(&mut self, df: &DataFrame) -> Result<()> {
        let time = column(df, &self.options.time)?;
        if self.time_dtype.is_none() {
            self.start(time)?;
        } else if Some(time.dtype()) != self.time_dtype.as_ref() {
            return Err(TimeseriesError::WrongDtype {
                column: self.options.time.to_string(),
                expected: "the same type in every chunk",
                actual: time.dtype().to_string(),
            });
        }
        let times = time.datetime()?.physical().rechunk();
        if self.drop_late {
            if let Some(max) = times.max() {
                self.newest = Some(self.newest.map_or(max, |n| n.max(max)));
            }
        }
        let prices = numeric_as_f64(df, &self.options.price)?;
        let sizes = Sizes::of(df, &self.options.size)?;
        for c in &self.options.by {
            column(df, c)?;
        }
        let shards = self.threads.max(1);
        let table = if shards == 1 { self.symbols.category_table(df)? } else { None };
        let mut shard_rows = Vec::new();
        let slots = if let Some((cats, series_of)) = table {
            Slots::Categories { cats, series_of }
        } else {
            let mut ids = self.symbols.ids(df)?;
            while self.slots.len() < self.symbols.len() {
                let id = self.slots.len();
                self.slots.push(Slot { shard: (id % shards) as u32, index: (id / shards) as u32 });
            }
            if shards > 1 {
                shard_rows = vec![Vec::with_capacity(ids.len() / shards + ids.len() / 16); shards];
                for (row, id) in ids.iter_mut().enumerate() {
                    let slot = self.slots[*id as usize];
                    shard_rows[slot.shard as usize].push(row as u32);
                    *id = slot.index;
                }
            }
            Slots::PerRow(ids)
        };
        let (t, p) = (times.downcast_as_array(), prices.downcast_as_array());
        let valid = combine_validities_and(combine_validities_and(t.validity(), p.validity()).as_ref(), sizes.validity())
            .filter(|v| v.unset_bits() > 0);
        let batch = Batch {
            slots,
            times: t.clone(),
            prices: p.clone(),
            sizes,
            valid,
            shard_rows,
            series: self.symbols.len(),
        };
        match self.engine.as_mut().expect("started above") {
            Engine::Inline(kernel) => kernel.run(&batch),
            Engine::Threads(workers) => workers.send(batch),
        }
    }

    /// Bars closed so far (the open ones are not counted).
    pub fn bars(&self) -> usize {
        match &self.engine {
            None => 0,
            Some(Engine::Inline(kernel)) => kernel.out.len(),
            Some(Engine::Threads(workers)) => workers.state.bars.load(Ordering::Relaxed),
        }
    }

    /// The time column's name.
    pub fn time_column(&self) -> &PlSmallStr {
        &self.options.time
    }

    /// The newest tick time pushed so far (in the time column's unit), by a
    /// live builder ([`BarBuilder::live`]); `None` from any other.
    pub fn newest(&self) -> Option<i64> {
        self.newest
    }

    /// Ticks dropped as late by a live builder.
    pub fn late_ticks(&self) -> u64 {
        match &self.engine {
            Some(Engine::Inline(kernel)) => kernel.late,
            _ => 0,
        }
    }

    /// The start of the earliest time interval that still contains `t`:
    /// where a live feed must begin reading so that every bar open at `t`
    /// sees all of its ticks. `t` is in the time column's unit.
    pub fn earliest_open_at(&self, t: i64) -> Result<i64> {
        Ok(self.grid()?.first_covering(t)?)
    }

    /// `duration` in the time column's unit, if it is a fixed duration (not
    /// calendar months, weeks or days in a zone).
    pub fn units_of(&self, option: &'static str, duration: &Duration) -> Result<i64> {
        let Some(DataType::Datetime(unit, _)) = &self.time_dtype else {
            return Err(polars_err!(ComputeError: "the bar builder has not seen its time column yet").into());
        };
        crate::grid::fixed_units(duration, *unit).ok_or_else(|| TimeseriesError::InvalidOption {
            option,
            reason: format!("{duration} is not a fixed length of time"),
        })
    }

    fn grid(&self) -> Result<&Grid> {
        match &self.engine {
            Some(Engine::Inline(kernel)) => Ok(&kernel.grid),
            _ => Err(polars_err!(ComputeError: "only a live bar builder answers this").into()),
        }
    }

    /// Close the time bars that end at or before `t`, whether or not their
    /// series has traded since: with ticks arriving in time order, none can
    /// fall in them any more. A later tick that would is late. Only a live
    /// builder (which bins on the caller's thread) closes bars early.
    pub fn close_until(&mut self, t: i64) {
        if let Some(Engine::Inline(kernel)) = self.engine.as_mut() {
            kernel.close_ended(t);
        }
    }

    /// The bars closed since the last call, sorted by `ts`, then the by-keys;
    /// no rows (with the bars' columns) if none closed.
    pub fn take_closed(&mut self) -> Result<DataFrame> {
        let out = match self.engine.as_mut() {
            Some(Engine::Inline(kernel)) => std::mem::take(&mut kernel.out),
            _ => return Err(polars_err!(ComputeError: "only a live bar builder hands out bars as they close").into()),
        };
        let df = self.frame(out)?;
        let mut sort_by: Vec<PlSmallStr> = vec!["ts".into()];
        sort_by.extend(self.options.by.iter().cloned());
        Ok(df.sort(sort_by, SortMultipleOptions::default().with_maintain_order(true))?)
    }

    /// Close every open bar and return the bars, sorted by the by-keys, then `ts`.
    pub fn finish(mut self) -> Result<DataFrame> {
        let kernels = match self.engine.take() {
            None => Vec::new(),
            Some(Engine::Inline(kernel)) => vec![*kernel],
            Some(Engine::Threads(workers)) => workers.join()?,
        };
        let mut out = Columns::default();
        for kernel in kernels {
            out.append(kernel.close(self.options.emit_partial));
        }
        let order = self.output_order(&out.series, &out.ts)?;
        let df = self.frame(out)?;
        match order {
            Some(order) => Ok(df.take(&order)?),
            None => {
                let mut sort_by: Vec<PlSmallStr> = self.options.by.clone();
                sort_by.push("ts".into());
                Ok(df.sort(sort_by, SortMultipleOptions::default().with_maintain_order(true))?)
            },
        }
    }

    /// Bars as a frame: `[by.., ts, open, high, low, close, volume, vwap, trades]`.
    fn frame(&self, out: Columns) -> Result<DataFrame> {
        let time_dtype = self.time_dtype.clone().unwrap_or(DataType::Datetime(TimeUnit::Microseconds, None));
        let mut columns = self.symbols.gather(&out.series)?;
        columns.push(Int64Chunked::from_vec("ts".into(), out.ts).into_column().cast(&time_dtype)?);
        columns.push(Column::new("open".into(), out.open));
        columns.push(Column::new("high".into(), out.high));
        columns.push(Column::new("low".into(), out.low));
        columns.push(Column::new("close".into(), out.close));
        columns.push(Column::new("volume".into(), out.volume));
        columns.push(Column::new("vwap".into(), out.vwap));
        columns.push(IdxCa::from_vec("trades".into(), out.trades).into_column());
        Ok(DataFrame::new_infer_height(columns)?)
    }

    /// The row order that sorts the bars by the by-keys, then `ts`, without
    /// comparing keys per bar: each series' bars were emitted in time order
    /// (and, with shards, by one thread), so a stable bucketing by the rank
    /// of each series' key is the whole sort. `None` if some series' bars are
    /// not in time order after all; the caller then sorts.
    fn output_order(&self, series: &[u32], ts: &[i64]) -> Result<Option<IdxCa>> {
        let rank = self.symbols.ranks()?;
        let mut starts = vec![0usize; rank.len() + 1];
        for &id in series {
            starts[rank[id as usize] as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order = vec![0 as IdxSize; series.len()];
        let mut last_ts = vec![i64::MIN; rank.len()];
        for (row, &id) in series.iter().enumerate() {
            let (id, r) = (id as usize, rank[id as usize] as usize);
            if ts[row] < last_ts[id] {
                return Ok(None);
            }
            last_ts[id] = ts[row];
            order[starts[r]] = row as IdxSize;
            starts[r] += 1;
        }
        Ok(Some(IdxCa::from_vec("order".into(), order)))
    }
}

/// What the kernel threads share with the front.
#[derive(Default)]
struct WorkerState {
    /// Set by the first failure; the others then drain their queues unread.
    failed: AtomicBool,
    failure: Mutex<Option<TimeseriesError>>,
    /// Bars closed so far, all shards.
    bars: AtomicUsize,
}

impl WorkerState {
    fn fail(&self, error: TimeseriesError) {
        let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(error);
        self.failed.store(true, Ordering::Release);
    }

    fn take_failure(&self) -> Option<TimeseriesError> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Kernel threads, one shard of series each.
struct Workers {
    queues: Vec<SyncSender<Arc<Batch>>>,
    threads: Vec<JoinHandle<Kernel>>,
    state: Arc<WorkerState>,
}

impl Workers {
    fn start(kernels: Vec<Kernel>) -> Result<Self> {
        let state = Arc::new(WorkerState::default());
        let (mut queues, mut threads) = (Vec::new(), Vec::new());
        for mut kernel in kernels {
            let (send, receive) = sync_channel::<Arc<Batch>>(QUEUE_DEPTH);
            let shared = state.clone();
            let thread = std::thread::Builder::new()
                .name(format!("bars-{}", kernel.shard))
                .spawn(move || {
                    for batch in receive {
                        if shared.failed.load(Ordering::Acquire) {
                            continue;
                        }
                        let before = kernel.out.len();
                        // A panic here would otherwise end the thread unseen
                        // by the caller, who catches panics on its own thread only.
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kernel.run(&batch))) {
                            Ok(Ok(())) => {
                                shared.bars.fetch_add(kernel.out.len() - before, Ordering::Relaxed);
                            },
                            Ok(Err(e)) => shared.fail(e),
                            Err(panic) => shared.fail(panicked(panic)),
                        }
                    }
                    kernel
                })
                .map_err(|e| polars_err!(ComputeError: "could not start a bar kernel thread: {e}"))?;
            queues.push(send);
            threads.push(thread);
        }
        Ok(Self { queues, threads, state })
    }

    fn send(&mut self, batch: Batch) -> Result<()> {
        if let Some(e) = self.state.take_failure() {
            return Err(e);
        }
        let batch = Arc::new(batch);
        for queue in &self.queues {
            // The threads only stop when the queues close.
            queue.send(batch.clone()).map_err(|_| polars_err!(ComputeError: "a bar kernel thread stopped"))?;
        }
        Ok(())
    }

    /// Wait for the threads to bin what is queued; their kernels, or the first failure.
    fn join(mut self) -> Result<Vec<Kernel>> {
        self.queues.clear();
        let mut kernels = Vec::new();
        for thread in std::mem::take(&mut self.threads) {
            match thread.join() {
                Ok(kernel) => kernels.push(kernel),
                Err(panic) => self.state.fail(panicked(panic)),
            }
        }
        match self.state.take_failure() {
            Some(e) => Err(e),
            None => Ok(kernels),
        }
    }
}

impl Drop for Workers {
    /// Dropped unfinished (an error, a stop): the threads skip what is queued.
    fn drop(&mut self) {
        self.state.failed.store(true, Ordering::Release);
    }
}

fn panicked(panic: Box<dyn std::any::Any + Send>) -> TimeseriesError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    polars_err!(ComputeError: "the bar kernel panicked: {message}").into()
}

impl Kernel {
    /// Bin this shard's rows of a batch.
    fn run(&mut self, batch: &Batch) -> Result<()> {
        let owned = batch.series.saturating_sub(self.shard as usize).div_ceil(self.shards as usize);
        if self.series.len() < owned {
            self.series.resize_with(owned, Series::default);
        }
        match &batch.sizes {
            Sizes::F64(sizes) => self.run_sizes(batch, sizes.values().as_slice()),
            Sizes::I64(sizes) => self.run_sizes(batch, sizes.values().as_slice()),
        }
    }

    fn run_sizes<S: Size>(&mut self, batch: &Batch, sizes: &[S]) -> Result<()> {
        match (&batch.slots, batch.shard_rows.get(self.shard as usize)) {
            (Slots::PerRow(slots), Some(rows)) => {
                self.run_rows(batch, sizes, rows.iter().map(|&r| r as usize), |row| slots[row])
            },
            (Slots::PerRow(slots), None) => self.run_rows(batch, sizes, 0..slots.len(), |row| slots[row]),
            (Slots::Categories { cats, series_of }, _) => {
                let cats = cats.values().as_slice();
                self.run_rows(batch, sizes, 0..cats.len(), |row| series_of[cats[row] as usize])
            },
        }
    }

    /// One loop per bar kind, so the per-tick work has no dispatch in it.
    fn run_rows<S: Size>(
        &mut self,
        batch: &Batch,
        s: &[S],
        rows: impl Iterator<Item = usize>,
        slots: impl Fn(usize) -> u32,
    ) -> Result<()> {
        let (t, p) = (batch.times.values().as_slice(), batch.prices.values().as_slice());
        let valid = |row: usize| batch.valid.as_ref().is_none_or(|v| v.get_bit(row));
        match self.kind {
            BarKind::Time => {
                for row in rows.filter(|&r| valid(r)) {
                    self.time_tick(slots(row), t[row], p[row], s[row].to_f64())?;
                }
            },
            BarKind::Tick(n) => {
                for row in rows.filter(|&r| valid(r)) {
                    self.activity_tick(slots(row), t[row], p[row], s[row].to_f64(), |bar| bar.trades as u64 >= n)?;
                }
            },
            BarKind::Volume(v) => {
                for row in rows.filter(|&r| valid(r)) {
                    self.activity_tick(slots(row), t[row], p[row], s[row].to_f64(), |bar| bar.volume >= v)?;
                }
            },
            BarKind::Dollar(d) => {
                for row in rows.filter(|&r| valid(r)) {
                    self.activity_tick(slots(row), t[row], p[row], s[row].to_f64(), |bar| bar.notional >= d)?;
                }
            },
        }
        Ok(())
    }

    #[inline]
    fn global_id(&self, index: u32) -> u32 {
        index * self.shards + self.shard
    }

    #[inline(always)]
    fn time_tick(&mut self, index: u32, t: i64, price: f64, size: f64) -> Result<()> {
        let id = self.global_id(index);
        let series = &mut self.series[index as usize];
        if t < series.last_time {
            if self.drop_late {
                self.late += 1;
                return Ok(());
            }
            return Err(TimeseriesError::Unsorted { later: series.last_time, earlier: t });
        }
        series.last_time = t;
        // The common case: the tick falls in the one open bar and no later
        // interval has begun (they overlap if period > every).
        if t < series.fast_until {
            series.open.front_mut().expect("fast_until is set with one open bar").add(price, size);
            return Ok(());
        }
        let fill = FillBudget { fill: self.fill, used: &self.filled, cap: self.cap };
        open_intervals(series, &self.grid, fill, &mut self.out, id, t, price, size)
    }

    #[inline(always)]
    fn activity_tick(&mut self, index: u32, t: i64, price: f64, size: f64, full: impl Fn(&Bar) -> bool) -> Result<()> {
        let id = self.global_id(index);
        let series = &mut self.series[index as usize];
        if t < series.last_time {
            if self.drop_late {
                self.late += 1;
                return Ok(());
            }
            return Err(TimeseriesError::Unsorted { later: series.last_time, earlier: t });
        }
        series.last_time = t;
        let bar = series.activity.get_or_insert_with(|| Bar::empty(t, t));
        bar.add(price, size);
        if full(bar) {
            close_activity(series, &mut self.out, id);
        }
        Ok(())
    }

    /// Close the time bars that end at or before `t`. Their series' ticks
    /// before the last closed end are late from now on.
    fn close_ended(&mut self, t: i64) {
        for index in 0..self.series.len() {
            let id = self.global_id(index as u32);
            let series = &mut self.series[index];
            let mut closed = false;
            while series.open.front().is_some_and(|b| b.end <= t) {
                let bar = series.open.pop_front().expect("checked");
                series.last_time = series.last_time.max(bar.end);
                emit(series, &mut self.out, id, &bar);
                closed = true;
            }
            if closed {
                // The next tick takes the slow path, which knows the bars left.
                series.fast_until = i64::MIN;
            }
        }
    }

    /// Close every open bar: the shard's bars, in the order they closed.
    fn close(mut self, emit_partial: bool) -> Columns {
        for index in 0..self.series.len() {
            let id = self.global_id(index as u32);
            let series = &mut self.series[index];
            while let Some(bar) = series.open.pop_front() {
                emit(series, &mut self.out, id, &bar);
            }
            if let Some(bar) = series.activity.take() {
                if emit_partial {
                    self.out.push(id, &bar);
                }
            }
        }
        self.out
    }
}

fn emit(series: &mut Series, out: &mut Columns, id: u32, bar: &Bar) {
    out.push(id, bar);
    series.last_close = Some(bar.close);
}

fn close_activity(series: &mut Series, out: &mut Columns, id: u32) {
    if let Some(bar) = series.activity.take() {
        out.push(id, &bar);
    }
}

/// The fill mode, and how many filled intervals the run may still emit.
struct FillBudget<'a> {
    fill: Fill,
    used: &'a AtomicU64,
    cap: u64,
}

impl FillBudget<'_> {
    /// Take `n` intervals from the budget (shared by all shards), or refuse
    /// before they exist.
    fn take(&mut self, n: u64) -> Result<()> {
        let cap = self.cap;
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| used.checked_add(n).filter(|&total| total <= cap))
            .map(|_| ())
            .map_err(|used| TimeseriesError::TooManyIntervals {
                what: format!("forward fill needs {} empty intervals so far", used.saturating_add(n)),
                cap,
            })
    }
}

/// A tick that does not fall in the single open bar: close what ended,
/// fill or skip empty intervals, open the intervals that contain `t`.
#[allow(clippy::too_many_arguments)]
fn open_intervals(
    series: &mut Series,
    grid: &Grid,
    mut fill: FillBudget<'_>,
    out: &mut Columns,
    id: u32,
    t: i64,
    price: f64,
    size: f64,
) -> Result<()> {
    while series.open.front().is_some_and(|b| b.end <= t) {
        let bar = series.open.pop_front().expect("checked");
        emit(series, out, id, &bar);
    }
    let mut start = match series.next_start {
        None => grid.first_for_series(t)?,
        Some(next) if grid.end(next)? <= t => match (fill.fill, series.last_close) {
            (Fill::Forward, Some(close)) => {
                // A fixed grid knows the gap's size before filling it; a
                // calendar grid counts as it goes (still bounded by the cap).
                let known = grid.intervals_between(next, t);
                if let Some(n) = known {
                    fill.take(n)?;
                }
                let mut s = next;
                while grid.end(s)? <= t {
                    if known.is_none() {
                        fill.take(1)?;
                    }
                    out.push_filled(id, s, close);
                    s = grid.next(s)?;
                }
                s
            },
            // Skip the empty intervals in one step, however long the gap.
            _ => grid.first_covering(t)?,
        },
        Some(next) => next,
    };
    while start <= t {
        series.open.push_back(Bar::empty(start, grid.end(start)?));
        start = grid.next(start)?;
    }
    series.next_start = Some(start);
    for bar in series.open.iter_mut() {
        bar.add(price, size);
    }
    series.fast_until = match series.open.len() {
        1 => series.open.front().expect("one open bar").end.min(start),
        _ => i64::MIN,
    };
    Ok(())
}
