//! Tick analytics around bars, as lazy polars expressions per series: quote
//! metrics, returns, rolling volatility, rolling VWAP, the as-of join of
//! trades to quotes, and tick cleaning. Each returns a `LazyFrame`, so they
//! compose with the rest of a query and stream where polars can.

use polars::prelude::*;

/// Apply `expr` within each series (`over(by)`), or over the whole frame.
fn per_series(expr: Expr, by: &[PlSmallStr]) -> PolarsResult<Expr> {
    if by.is_empty() {
        Ok(expr)
    } else {
        expr.over(by.iter().map(|b| col(b.clone())).collect::<Vec<_>>())
    }
}

/// A time window ending at (and including) each row.
fn trailing(window_size: Duration) -> RollingOptionsDynamicWindow {
    RollingOptionsDynamicWindow { window_size, min_periods: 1, closed_window: ClosedWindow::Right, fn_params: None }
}

/// Quote column names for [`TicksExt::with_quote_metrics`].
#[derive(Debug, Clone)]
pub struct QuoteColumns {
    pub bid: PlSmallStr,
    pub ask: PlSmallStr,
    pub bid_size: PlSmallStr,
    pub ask_size: PlSmallStr,
}

impl Default for QuoteColumns {
    fn default() -> Self {
        Self { bid: "bid".into(), ask: "ask".into(), bid_size: "bid_size".into(), ask_size: "ask_size".into() }
    }
}

/// Options of [`TicksExt::with_returns`].
#[derive(Debug, Clone)]
pub struct ReturnsOptions {
    /// The price column. Default `price`.
    pub price: PlSmallStr,
    /// Series keys; returns never cross from one series to the next. Default `[symbol]`.
    pub by: Vec<PlSmallStr>,
    /// `ln(p_t / p_{t-1})` instead of `p_t / p_{t-1} - 1`. Default false.
    pub log: bool,
    /// The output column. Default `return`.
    pub name: PlSmallStr,
}

impl Default for ReturnsOptions {
    fn default() -> Self {
        Self { price: "price".into(), by: vec!["symbol".into()], log: false, name: "return".into() }
    }
}

/// Options of [`TicksExt::with_rolling_volatility`].
#[derive(Debug, Clone)]
pub struct VolatilityOptions {
    /// A returns column (see [`TicksExt::with_returns`]). Default `return`.
    pub returns: PlSmallStr,
    pub by: Vec<PlSmallStr>,
    /// Rows per window. Default 20.
    pub window: usize,
    /// Multiply the standard deviation by `sqrt(periods_per_year)` (e.g. 252
    /// for daily returns). Default none.
    pub periods_per_year: Option<f64>,
    /// The output column. Default `volatility`.
    pub name: PlSmallStr,
}

impl Default for VolatilityOptions {
    fn default() -> Self {
        Self { returns: "return".into(), by: vec!["symbol".into()], window: 20, periods_per_year: None, name: "volatility".into() }
    }
}

/// Options of [`TicksExt::with_rolling_vwap`].
#[derive(Debug, Clone)]
pub struct RollingVwapOptions {
    pub time: PlSmallStr,
    pub price: PlSmallStr,
    pub size: PlSmallStr,
    pub by: Vec<PlSmallStr>,
    /// The look-back window ending at (and including) each tick. Default `5m`.
    pub window: Duration,
    /// The output column. Default `vwap`.
    pub name: PlSmallStr,
}

impl Default for RollingVwapOptions {
    fn default() -> Self {
        Self {
            time: "ts".into(),
            price: "price".into(),
            size: "size".into(),
            by: vec!["symbol".into()],
            window: Duration::parse("5m"),
            name: "vwap".into(),
        }
    }
}

/// Options of [`TicksExt::join_quotes_asof`].
#[derive(Debug, Clone)]
pub struct AsofQuotesOptions {
    /// The time column, in both frames. Default `ts`.
    pub time: PlSmallStr,
    /// Keys that must match (the symbol). Default `[symbol]`.
    pub by: Vec<PlSmallStr>,
    /// Backward: the last quote at or before the trade (the usual choice).
    pub strategy: AsofStrategy,
    /// The oldest quote to accept, e.g. `1s`; none means any.
    pub tolerance: Option<Duration>,
}

impl Default for AsofQuotesOptions {
    fn default() -> Self {
        Self { time: "ts".into(), by: vec!["symbol".into()], strategy: AsofStrategy::Backward, tolerance: None }
    }
}

/// Options of the per-interval statistics [`TicksExt::twap`] and
/// [`TicksExt::realized_variance`]: one row per series and interval
/// `[start, start + every)`, aligned to the epoch, labelled `ts` by start.
#[derive(Debug, Clone)]
pub struct IntervalOptions {
    pub time: PlSmallStr,
    pub price: PlSmallStr,
    pub by: Vec<PlSmallStr>,
    /// Default `1m`.
    pub every: Duration,
}

impl Default for IntervalOptions {
    fn default() -> Self {
        Self { time: "ts".into(), price: "price".into(), by: vec!["symbol".into()], every: Duration::parse("1m") }
    }
}

impl IntervalOptions {
    fn start(&self) -> Expr {
        col(self.time.clone()).dt().truncate(lit(self.every.to_string()))
    }

    /// Group by series and interval start, sorted the same way.
    fn per_interval(&self, lf: LazyFrame, aggs: Vec<Expr>) -> LazyFrame {
        let mut keys: Vec<Expr> = self.by.iter().map(|b| col(b.clone())).collect();
        keys.push(col("ts"));
        let mut sort_by: Vec<PlSmallStr> = self.by.clone();
        sort_by.push("ts".into());
        lf.group_by(keys).agg(aggs).sort(sort_by, SortMultipleOptions::default().with_maintain_order(true))
    }
}

/// Options of [`TicksExt::resample_quotes`].
#[derive(Debug, Clone)]
pub struct QuoteResampleOptions {
    pub time: PlSmallStr,
    pub by: Vec<PlSmallStr>,
    /// The quote columns to carry: the last value in each interval,
    /// forward-filled through intervals without quotes. Default `[bid, ask]`.
    pub columns: Vec<PlSmallStr>,
    /// Default `1s`.
    pub every: Duration,
    /// The most grid rows (intervals, over all series) a run may create; a
    /// larger grid is refused when the plan runs, before it is built.
    /// Default [`crate::DEFAULT_MAX_INTERVALS`].
    pub max_intervals: u64,
}

impl Default for QuoteResampleOptions {
    fn default() -> Self {
        Self {
            time: "ts".into(),
            by: vec!["symbol".into()],
            columns: vec!["bid".into(), "ask".into()],
            every: Duration::parse("1s"),
            max_intervals: crate::DEFAULT_MAX_INTERVALS,
        }
    }
}

/// Refuse a resampling grid of more than `cap` rows. `quoted` has one row
/// per series and quoted interval; the grid spans each series' first to
/// last interval.
fn check_grid_size(quoted: &DataFrame, by: &[PlSmallStr], every: &Duration, cap: u64) -> PolarsResult<()> {
    let DataType::Datetime(unit, _) = quoted.column("ts")?.dtype() else {
        polars_bail!(SchemaMismatch: "the quote time column must be a Datetime, got {}", quoted.column("ts")?.dtype());
    };
    let per_ns = match unit {
        TimeUnit::Nanoseconds => 1.0,
        TimeUnit::Microseconds => 1e3,
        TimeUnit::Milliseconds => 1e6,
    };
    let step = crate::grid::approx_ns(every, true).max(1.0);
    let ts = col("ts").to_physical();
    let spans = quoted
        .clone()
        .lazy()
        .group_by(by.iter().map(|b| col(b.clone())).collect::<Vec<_>>())
        .agg([(ts.clone().max() - ts.min()).cast(DataType::Float64).alias("span")])
        .collect()?;
    let rows: f64 = spans.column("span")?.f64()?.into_no_null_iter().map(|span| (span * per_ns / step).floor() + 1.0).sum();
    if rows > cap as f64 {
        polars_bail!(ComputeError:
            "resampling every {every} needs about {rows:.0} grid rows: more than the cap of {cap} intervals per request; \
             use a coarser `every` or a shorter span");
    }
    Ok(())
}

/// What [`TicksExt::clean_ticks`] does with a tick earlier than one already
/// seen in its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutOfOrder {
    /// Keep it, with `out_of_order = true`.
    #[default]
    Flag,
    /// Remove it.
    Drop,
}

/// Tick analytics on a `LazyFrame`.
pub trait TicksExt {
    /// Adds `mid = (bid + ask) / 2`, `spread = ask - bid` and
    /// `microprice = (bid·ask_size + ask·bid_size) / (bid_size + ask_size)`.
    fn with_quote_metrics(self, quotes: &QuoteColumns) -> LazyFrame;
    /// Adds simple or log returns of consecutive ticks within each series
    /// (null for a series' first tick).
    fn with_returns(self, options: &ReturnsOptions) -> PolarsResult<LazyFrame>;
    /// Adds the rolling sample standard deviation of a returns column.
    fn with_rolling_volatility(self, options: &VolatilityOptions) -> PolarsResult<LazyFrame>;
    /// Adds `sum(price·size) / sum(size)` over the trailing time window.
    fn with_rolling_vwap(self, options: &RollingVwapOptions) -> PolarsResult<LazyFrame>;
    /// Adds the time-weighted average price over the trailing time window:
    /// each price weighs how long it stood before the next tick of its
    /// series; a segment between two ticks counts if it ends inside the
    /// window. Null for a series' first tick. `size` is not used; `name`
    /// defaults to `vwap`, so set it (e.g. `twap`).
    fn with_rolling_twap(self, options: &RollingVwapOptions) -> PolarsResult<LazyFrame>;
    /// Each trade with the prevailing quote of its symbol (quote columns
    /// other than the keys and time are added; time is the trade's).
    fn join_quotes_asof(self, quotes: LazyFrame, options: &AsofQuotesOptions) -> LazyFrame;
    /// Time-weighted average price per series and interval: each tick's
    /// price weighs the time until the next tick of its series or the end of
    /// the interval, whichever comes first. Columns `[by.., ts, twap]`.
    fn twap(self, options: &IntervalOptions) -> PolarsResult<LazyFrame>;
    /// Realized variance per series and interval: the sum of squared log
    /// returns of consecutive ticks, each counted in the interval of its
    /// later tick. Columns `[by.., ts, realized_variance]`.
    fn realized_variance(self, options: &IntervalOptions) -> PolarsResult<LazyFrame>;
    /// Quotes on a regular grid: for each series, every interval from its
    /// first quote's to its last's, with the last quote of the interval or,
    /// if none came, the one before. Columns `[by.., ts, columns..]`.
    fn resample_quotes(self, options: &QuoteResampleOptions) -> PolarsResult<LazyFrame>;
    /// Drops exact duplicate rows (keeping the first) and flags or drops
    /// ticks earlier than one already seen in their series.
    fn clean_ticks(self, time: &str, by: &[PlSmallStr], out_of_order: OutOfOrder) -> PolarsResult<LazyFrame>;
}

impl TicksExt for LazyFrame {
    fn with_quote_metrics(self, q: &QuoteColumns) -> LazyFrame {
        let (bid, ask) = (col(q.bid.clone()), col(q.ask.clone()));
        let (bid_size, ask_size) = (col(q.bid_size.clone()), col(q.ask_size.clone()));
        self.with_columns([
            ((bid.clone() + ask.clone()) / lit(2.0)).alias("mid"),
            (ask.clone() - bid.clone()).alias("spread"),
            ((bid * ask_size.clone() + ask * bid_size.clone()) / (bid_size + ask_size)).alias("microprice"),
        ])
    }

    fn with_returns(self, o: &ReturnsOptions) -> PolarsResult<LazyFrame> {
        let price = col(o.price.clone()).cast(DataType::Float64);
        let ratio = price.clone() / price.shift(lit(1));
        let r = if o.log { ratio.log(lit(std::f64::consts::E)) } else { ratio - lit(1.0) };
        Ok(self.with_column(per_series(r, &o.by)?.alias(o.name.clone())))
    }

    fn with_rolling_volatility(self, o: &VolatilityOptions) -> PolarsResult<LazyFrame> {
        let window = RollingOptionsFixedWindow { window_size: o.window, min_periods: o.window, ..Default::default() };
        let mut vol = col(o.returns.clone()).rolling_std(window);
        if let Some(n) = o.periods_per_year {
            vol = vol * lit(n.sqrt());
        }
        Ok(self.with_column(per_series(vol, &o.by)?.alias(o.name.clone())))
    }

    fn with_rolling_vwap(self, o: &RollingVwapOptions) -> PolarsResult<LazyFrame> {
        let window = || trailing(o.window);
        let (price, size) = (col(o.price.clone()).cast(DataType::Float64), col(o.size.clone()).cast(DataType::Float64));
        let notional = (price * size.clone()).rolling_sum_by(col(o.time.clone()), window());
        let volume = size.rolling_sum_by(col(o.time.clone()), window());
        Ok(self.with_column(per_series(notional / volume, &o.by)?.alias(o.name.clone())))
    }

    fn with_rolling_twap(self, o: &RollingVwapOptions) -> PolarsResult<LazyFrame> {
        let window = || trailing(o.window);
        let time = col(o.time.clone());
        let price = col(o.price.clone()).cast(DataType::Float64);
        // The segment ending at this tick: the previous price, held since the previous tick.
        let held = per_series((time.clone() - time.clone().shift(lit(1))).dt().total_nanoseconds(false), &o.by)?
            .cast(DataType::Float64);
        let prev_price = per_series(price.shift(lit(1)), &o.by)?;
        let weighted = (prev_price * held.clone()).rolling_sum_by(time.clone(), window());
        let total = held.rolling_sum_by(time, window());
        Ok(self.with_column(per_series(weighted / total, &o.by)?.alias(o.name.clone())))
    }

    fn join_quotes_asof(self, quotes: LazyFrame, o: &AsofQuotesOptions) -> LazyFrame {
        let by = (!o.by.is_empty()).then(|| o.by.clone());
        let options = AsOfOptions {
            strategy: o.strategy,
            tolerance: None,
            tolerance_str: o.tolerance.map(|d| d.to_string().into()),
            left_by: by.clone(),
            right_by: by,
            allow_eq: true,
            check_sortedness: true,
        };
        let time = [col(o.time.clone())];
        self.join(quotes, time.clone(), time, JoinArgs::new(JoinType::AsOf(Box::new(options))))
    }

    fn twap(self, o: &IntervalOptions) -> PolarsResult<LazyFrame> {
        let time = col(o.time.clone());
        let end = o.start().dt().offset_by(lit(o.every.to_string()));
        let next = per_series(time.clone().shift(lit(-1)), &o.by)?;
        let until = when(next.clone().is_null().or(next.clone().gt(end.clone()))).then(end).otherwise(next);
        let held = (until - time).dt().total_nanoseconds(false).cast(DataType::Float64);
        let sorted = self.sort([o.time.as_str()], SortMultipleOptions::default().with_maintain_order(true));
        let prepared = sorted.with_columns([o.start().alias("ts"), held.alias("__held")]);
        let price = col(o.price.clone()).cast(DataType::Float64);
        let twap = ((price * col("__held")).sum() / col("__held").sum()).alias("twap");
        Ok(o.per_interval(prepared, vec![twap]))
    }

    fn realized_variance(self, o: &IntervalOptions) -> PolarsResult<LazyFrame> {
        let price = col(o.price.clone()).cast(DataType::Float64);
        let r = per_series((price.clone() / price.shift(lit(1))).log(lit(std::f64::consts::E)), &o.by)?;
        let sorted = self.sort([o.time.as_str()], SortMultipleOptions::default().with_maintain_order(true));
        let prepared = sorted.with_columns([o.start().alias("ts"), r.alias("__r")]);
        let rv = col("__r").pow(2).sum().alias("realized_variance");
        Ok(o.per_interval(prepared, vec![rv]))
    }

    fn resample_quotes(self, o: &QuoteResampleOptions) -> PolarsResult<LazyFrame> {
        let interval = IntervalOptions { time: o.time.clone(), price: "".into(), by: o.by.clone(), every: o.every };
        let sorted = self.sort([o.time.as_str()], SortMultipleOptions::default().with_maintain_order(true));
        let last: Vec<Expr> = o.columns.iter().map(|c| col(c.clone()).last()).collect();
        let quoted = interval.per_interval(sorted.with_column(interval.start().alias("ts")), last);
        // The grid below is one row per interval between each series' first
        // and last quote: check its size before building it.
        let (by, every, cap) = (o.by.clone(), o.every, o.max_intervals);
        let quoted = quoted.map(
            move |df| check_grid_size(&df, &by, &every, cap).map(|()| df),
            AllowedOptimizations::default(),
            None,
            Some("check_grid_size"),
        );
        // Every interval start between each series' first and last.
        let range = datetime_range(
            Some(col("ts").min()),
            Some(col("ts").max()),
            Some(o.every),
            None,
            ClosedWindow::Both,
            None,
            None,
        )?;
        let keys: Vec<Expr> = o.by.iter().map(|b| col(b.clone())).collect();
        let grid = if keys.is_empty() {
            quoted.clone().select([range.alias("ts")])
        } else {
            quoted.clone().group_by(keys.clone()).agg([range.alias("ts")]).explode(by_name(["ts"], true, false), ExplodeOptions { empty_as_null: false, keep_nulls: false })
        };
        let mut on = keys;
        on.push(col("ts"));
        let filled: Vec<Expr> =
            o.columns.iter().map(|c| per_series(col(c.clone()).fill_null_with_strategy(FillNullStrategy::Forward(None)), &o.by)).collect::<PolarsResult<_>>()?;
        let mut sort_by: Vec<PlSmallStr> = o.by.clone();
        sort_by.push("ts".into());
        Ok(grid
            .join(quoted, on.clone(), on, JoinArgs::new(JoinType::Left))
            .sort(sort_by, SortMultipleOptions::default().with_maintain_order(true))
            .with_columns(filled))
    }

    fn clean_ticks(self, time: &str, by: &[PlSmallStr], out_of_order: OutOfOrder) -> PolarsResult<LazyFrame> {
        let deduped = self.unique_stable(None, UniqueKeepStrategy::First);
        let seen = per_series(col(time).cum_max(false).shift(lit(1)), by)?;
        let late = col(time).lt(seen).fill_null(lit(false));
        Ok(match out_of_order {
            OutOfOrder::Flag => deduped.with_column(late.alias("out_of_order")),
            OutOfOrder::Drop => deduped.filter(late.not()),
        })
    }
}
