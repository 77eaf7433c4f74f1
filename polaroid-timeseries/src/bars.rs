//! The bar kernel: one pass over time-ordered ticks, keeping each series'
//! open bar(s), fed chunk by chunk. It never sees more than one chunk at a
//! time, so memory is bounded by the chunk and the open bars (plus the bars
//! it has already emitted).

use std::collections::VecDeque;

use polars::prelude::*;

use crate::error::{Result, TimeseriesError};
use crate::grid::Grid;
use crate::options::{BarKind, Fill, OhlcvOptions};
use crate::symbols::Symbols;

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

#[derive(Default)]
struct Series {
    /// Time bars open now, oldest first (more than one only if period > every).
    open: VecDeque<Bar>,
    /// The next interval start not yet opened.
    next_start: Option<i64>,
    last_time: Option<i64>,
    last_close: Option<f64>,
    /// The activity bar being filled.
    activity: Option<Bar>,
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
}

/// Builds OHLCV bars from chunks of ticks. Feed chunks in time order with
/// [`BarBuilder::push`], then [`BarBuilder::finish`].
pub struct BarBuilder {
    options: OhlcvOptions,
    symbols: Symbols,
    series: Vec<Series>,
    /// Set by the first chunk: the time column's type and the grid.
    time_dtype: Option<DataType>,
    grid: Option<Grid>,
    out: Columns,
    /// Forward-filled intervals emitted so far, against `max_intervals`.
    filled: u64,
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

impl BarBuilder {
    pub fn new(options: OhlcvOptions) -> Result<Self> {
        options.validate()?;
        let symbols = Symbols::new(options.by.clone());
        Ok(Self { options, symbols, series: Vec::new(), time_dtype: None, grid: None, out: Columns::default(), filled: 0 })
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
        self.grid = Some(Grid::new(o.every, o.period.unwrap_or(o.every), o.offset, tz, *unit));
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
        let prices = numeric_as_f64(df, &self.options.price)?;
        let sizes = numeric_as_f64(df, &self.options.size)?;
        for c in &self.options.by {
            column(df, c)?;
        }
        let ids = self.symbols.ids(df)?;
        if self.series.len() < self.symbols.len() {
            self.series.resize_with(self.symbols.len(), Series::default);
        }
        let (t, p, s) = (times.downcast_as_array(), prices.downcast_as_array(), sizes.downcast_as_array());
        let (tv, pv, sv) = (t.values().as_slice(), p.values().as_slice(), s.values().as_slice());
        if times.null_count() + prices.null_count() + sizes.null_count() == 0 {
            for i in 0..tv.len() {
                self.tick(ids[i], tv[i], pv[i], sv[i])?;
            }
        } else {
            for i in 0..tv.len() {
                let valid = |v: Option<&polars_arrow::bitmap::Bitmap>| v.is_none_or(|b| b.get_bit(i));
                if valid(t.validity()) && valid(p.validity()) && valid(s.validity()) {
                    self.tick(ids[i], tv[i], pv[i], sv[i])?;
                }
            }
        }
        Ok(())
    }

    #[inline]
    fn tick(&mut self, id: u32, t: i64, price: f64, size: f64) -> Result<()> {
        let series = &mut self.series[id as usize];
        if let Some(last) = series.last_time {
            if t < last {
                return Err(TimeseriesError::Unsorted { later: last, earlier: t });
            }
        }
        series.last_time = Some(t);
        match self.options.kind {
            BarKind::Time => {
                // The common case: the tick falls in the one open bar and
                // no later interval has begun (they overlap if period > every).
                if series.open.len() == 1 && series.next_start.is_some_and(|next| t < next) {
                    let bar = series.open.front_mut().expect("one open bar");
                    if t < bar.end {
                        bar.add(price, size);
                        return Ok(());
                    }
                }
                let grid = self.grid.as_ref().expect("set by the first chunk");
                let fill = FillBudget { fill: self.options.fill, used: &mut self.filled, cap: self.options.max_intervals };
                time_tick(series, grid, fill, &mut self.out, id, t, price, size)?;
            },
            BarKind::Tick(n) => {
                let bar = series.activity.get_or_insert_with(|| Bar::empty(t, t));
                bar.add(price, size);
                if bar.trades as u64 >= n {
                    close_activity(series, &mut self.out, id);
                }
            },
            BarKind::Volume(v) => {
                let bar = series.activity.get_or_insert_with(|| Bar::empty(t, t));
                bar.add(price, size);
                if bar.volume >= v {
                    close_activity(series, &mut self.out, id);
                }
            },
            BarKind::Dollar(d) => {
                let bar = series.activity.get_or_insert_with(|| Bar::empty(t, t));
                bar.add(price, size);
                if bar.notional >= d {
                    close_activity(series, &mut self.out, id);
                }
            },
        }
        Ok(())
    }

    /// Bars closed so far (the open ones are not counted).
    pub fn bars(&self) -> usize {
        self.out.ts.len()
    }

    /// Close every open bar and return the bars, sorted by the by-keys, then `ts`.
    pub fn finish(mut self) -> Result<DataFrame> {
        for (id, series) in self.series.iter_mut().enumerate() {
            while let Some(bar) = series.open.pop_front() {
                emit(series, &mut self.out, id as u32, &bar);
            }
            if let Some(bar) = series.activity.take() {
                if self.options.emit_partial {
                    self.out.push(id as u32, &bar);
                }
            }
        }
        let o = &self.options;
        let time_dtype = self.time_dtype.clone().unwrap_or(DataType::Datetime(TimeUnit::Microseconds, None));
        let mut columns = self.symbols.gather(&self.out.series)?;
        let out = std::mem::take(&mut self.out);
        columns.push(Int64Chunked::from_vec("ts".into(), out.ts).into_column().cast(&time_dtype)?);
        columns.push(Column::new("open".into(), out.open));
        columns.push(Column::new("high".into(), out.high));
        columns.push(Column::new("low".into(), out.low));
        columns.push(Column::new("close".into(), out.close));
        columns.push(Column::new("volume".into(), out.volume));
        columns.push(Column::new("vwap".into(), out.vwap));
        columns.push(IdxCa::from_vec("trades".into(), out.trades).into_column());
        let df = DataFrame::new_infer_height(columns)?;
        let mut sort_by: Vec<PlSmallStr> = o.by.clone();
        sort_by.push("ts".into());
        Ok(df.sort(sort_by, SortMultipleOptions::default().with_maintain_order(true))?)
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
    used: &'a mut u64,
    cap: u64,
}

impl FillBudget<'_> {
    /// Take `n` intervals from the budget, or refuse before they exist.
    fn take(&mut self, n: u64) -> Result<()> {
        match self.used.checked_add(n) {
            Some(total) if total <= self.cap => {
                *self.used = total;
                Ok(())
            },
            _ => Err(TimeseriesError::TooManyIntervals {
                what: format!("forward fill needs {} empty intervals so far", self.used.saturating_add(n)),
                cap: self.cap,
            }),
        }
    }
}

/// A tick that does not fall in the single open bar: close what ended,
/// fill or skip empty intervals, open the intervals that contain `t`.
#[allow(clippy::too_many_arguments)]
fn time_tick(
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
    Ok(())
}
