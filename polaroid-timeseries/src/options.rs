use polars::prelude::{Duration, PlSmallStr, TimeZone};

use crate::error::{Result, TimeseriesError};
use crate::grid::approx_ns;

/// Which ticks make up one bar.
#[derive(Debug, Clone, PartialEq)]
pub enum BarKind {
    /// Calendar-aligned time intervals `[start, start + period)` every
    /// `every`, labelled by their start.
    Time,
    /// Every `n` trades.
    Tick(u64),
    /// Every `v` units of size: a bar closes with the tick that brings its
    /// volume to at least `v` (ticks are never split).
    Volume(f64),
    /// Every `d` of price × size traded, closing like volume bars.
    Dollar(f64),
}

/// What to do with a time interval in which a symbol did not trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fill {
    /// Emit nothing for it.
    #[default]
    None,
    /// Emit it with open = high = low = close = the previous close, volume 0,
    /// 0 trades and a null vwap. Only between a symbol's first and last bar.
    Forward,
}

/// Options of [`crate::OhlcvExt::ohlcv`]. Output columns are
/// `[by.., ts, open, high, low, close, volume, vwap, trades]`, sorted by the
/// by-keys, then `ts`.
#[derive(Debug, Clone)]
pub struct OhlcvOptions {
    /// The tick time column; a `Datetime` of any unit, with or without a
    /// zone. The output `ts` column has the same type. Default `ts`.
    pub time: PlSmallStr,
    /// The trade price column (any numeric type). Default `price`.
    pub price: PlSmallStr,
    /// The trade size column (any numeric type). Default `size`.
    pub size: PlSmallStr,
    /// Columns that identify a series (usually the symbol); each gets its own
    /// bars. Empty means one series. Default `[symbol]`.
    pub by: Vec<PlSmallStr>,
    /// Time bars, or tick / volume / dollar bars. Default [`BarKind::Time`].
    pub kind: BarKind,
    /// Time bars: a new interval starts every `every`, aligned to the Unix
    /// epoch plus `offset` (calendar units such as `1d` or `1mo` align to
    /// calendar boundaries in `time_zone`). Default `1m`.
    pub every: Duration,
    /// Time bars: how long each interval lasts; `None` means `every`. A
    /// longer period gives overlapping bars, a shorter one leaves gaps.
    pub period: Option<Duration>,
    /// Time bars: shift of the interval grid from the epoch. Default `0s`.
    pub offset: Duration,
    /// Time bars: the zone whose calendar aligns day and longer intervals.
    /// `None` uses the time column's own zone (UTC for a naive column).
    pub time_zone: Option<TimeZone>,
    /// Time bars: whether intervals without trades are emitted. Default
    /// [`Fill::None`].
    pub fill: Fill,
    /// Activity bars: emit each symbol's last bar even if it did not reach
    /// the threshold. Default `true`.
    pub emit_partial: bool,
    /// Time bars: the most intervals one run may create beyond those its
    /// ticks fall in: forward-filled empty intervals in all, and the bars a
    /// tick opens at once when `period > every`. A request over it is
    /// refused before the rows are allocated (`every = 1ns` with forward
    /// fill over a day would be 86.4 trillion bars). Default
    /// [`DEFAULT_MAX_INTERVALS`].
    pub max_intervals: u64,
    /// Threads that bin ticks beside the thread that reads them, each
    /// owning a shard of the series; `Some(0)` bins on the reading thread.
    /// `None` picks one per two cores (the other core reads and decodes),
    /// and none for small in-memory frames. The bars do not depend on it.
    pub kernel_threads: Option<usize>,
}

/// The default of [`OhlcvOptions::max_intervals`]: ten million intervals,
/// about 640 MB of bars.
pub const DEFAULT_MAX_INTERVALS: u64 = 10_000_000;

impl Default for OhlcvOptions {
    fn default() -> Self {
        Self {
            time: "ts".into(),
            price: "price".into(),
            size: "size".into(),
            by: vec!["symbol".into()],
            kind: BarKind::Time,
            every: Duration::parse("1m"),
            period: None,
            offset: Duration::parse("0s"),
            time_zone: None,
            fill: Fill::None,
            emit_partial: true,
            max_intervals: DEFAULT_MAX_INTERVALS,
            kernel_threads: None,
        }
    }
}

impl OhlcvOptions {
    /// Time bars of `every` (Polars duration syntax: `1s`, `5m`, `1h`, `1d`).
    pub fn every(every: &str) -> Result<Self> {
        Ok(Self { every: parse_duration("every", every)?, ..Self::default() })
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |option, reason: &str| Err(TimeseriesError::InvalidOption { option, reason: reason.into() });
        match self.kind {
            BarKind::Time => {
                if self.every.is_zero() || self.every.negative() {
                    return invalid("every", "must be a positive duration");
                }
                if let Some(p) = &self.period {
                    if p.is_zero() || p.negative() {
                        return invalid("period", "must be a positive duration");
                    }
                    if self.fill == Fill::Forward && *p != self.every {
                        return invalid("fill", "forward fill needs period = every (non-overlapping bars)");
                    }
                    // Each tick falls in up to period / every bars at once.
                    let overlap = (approx_ns(p, false) / approx_ns(&self.every, true)).ceil();
                    if overlap > self.max_intervals as f64 {
                        return Err(TimeseriesError::TooManyIntervals {
                            what: format!("period {p} over every {} puts each tick in {overlap:.0} bars", self.every),
                            cap: self.max_intervals,
                        });
                    }
                }
            },
            BarKind::Tick(n) if n == 0 => return invalid("threshold", "tick bars need at least 1 trade"),
            BarKind::Volume(v) | BarKind::Dollar(v) if !(v.is_finite() && v > 0.0) => {
                return invalid("threshold", "volume and dollar bars need a positive, finite threshold")
            },
            _ => {},
        }
        if self.kind != BarKind::Time && self.fill == Fill::Forward {
            return invalid("fill", "forward fill applies to time bars only");
        }
        Ok(())
    }
}

/// Parse a Polars duration (`1m`, `15s`, `1d`, `1mo`), naming the option.
pub fn parse_duration(option: &'static str, text: &str) -> Result<Duration> {
    Duration::try_parse(text.trim()).map_err(|e| TimeseriesError::InvalidOption {
        option,
        reason: format!("{text:?} is not a duration such as 1s, 5m, 1h or 1d ({e})"),
    })
}
