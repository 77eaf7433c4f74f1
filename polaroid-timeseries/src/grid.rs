//! The interval grid of time bars: where intervals start and end, in the
//! time column's own unit.

use chrono_tz::Tz;
use polars::prelude::{polars_err, Duration, PolarsError, PolarsResult, TimeUnit};

/// Calendar steps one grid walk may take (aligning, or stepping back over
/// overlapping intervals) before it is taken for a runaway: a step that does
/// not move (time arithmetic saturating at the type's limits) would
/// otherwise loop for ever.
const MAX_CALENDAR_STEPS: u32 = 1_000_000;

/// Timestamps near the limits of i64 (pandas' `Timestamp.max` sentinel, a
/// corrupt feed) have no interval that fits the type.
fn out_of_range(t: i64) -> PolarsError {
    polars_err!(ComputeError:
        "timestamp {t} is too close to the limits of its type to place on the bar grid; \
         filter out sentinel timestamps (e.g. pandas' Timestamp.max) first")
}

/// The length of `d` in nanoseconds, roughly: the shortest (`shortest =
/// true`) or longest a calendar unit can be (months 28–31 days, days 23–25
/// hours across DST). Used only to bound the work of a request.
pub(crate) fn approx_ns(d: &Duration, shortest: bool) -> f64 {
    const DAY: f64 = 86_400e9;
    let (month, day) = if shortest { (28.0 * DAY, 23.0 * 3_600e9) } else { (31.0 * DAY, 25.0 * 3_600e9) };
    d.months() as f64 * month + d.weeks() as f64 * 7.0 * day + d.days() as f64 * day + d.nanoseconds() as f64
}

/// Interval starts are `epoch + offset + k·every` (calendar units: polars'
/// own truncation, so day/week/month bars agree with `group_by_dynamic`);
/// each interval is `[start, start + period)`.
pub(crate) enum Grid {
    /// Durations without calendar parts: plain integer arithmetic.
    Fixed { every: i64, period: i64, offset: i64 },
    /// Days, weeks, months: polars' calendar arithmetic in a time zone.
    Calendar { every: Duration, period: Duration, offset: Duration, tz: Option<Tz>, unit: TimeUnit },
}

/// `d` in whole units of `unit`, if it has no calendar part.
pub(crate) fn fixed_units(d: &Duration, unit: TimeUnit) -> Option<i64> {
    if d.months() != 0 || d.weeks() != 0 || d.days() != 0 {
        return None;
    }
    let ns = if d.negative() { -d.nanoseconds() } else { d.nanoseconds() };
    Some(match unit {
        TimeUnit::Nanoseconds => ns,
        TimeUnit::Microseconds => ns / 1_000,
        TimeUnit::Milliseconds => ns / 1_000_000,
    })
}

impl Grid {
    pub(crate) fn new(every: Duration, period: Duration, offset: Duration, tz: Option<Tz>, unit: TimeUnit) -> Self {
        match (fixed_units(&every, unit), fixed_units(&period, unit), fixed_units(&offset, unit)) {
            (Some(e), Some(p), Some(o)) if e > 0 && p > 0 => Grid::Fixed { every: e, period: p, offset: o },
            _ => Grid::Calendar { every, period, offset, tz, unit },
        }
    }

    /// Calendar arithmetic (polars' own, through chrono) overflows without
    /// an error near the limits of i64; refuse timestamps within a few
    /// intervals of them before calling it.
    fn guard(&self, t: i64) -> PolarsResult<()> {
        if let Grid::Calendar { every, period, offset, unit, .. } = self {
            let per_ns = match unit {
                TimeUnit::Nanoseconds => 1.0,
                TimeUnit::Microseconds => 1e3,
                TimeUnit::Milliseconds => 1e6,
            };
            let reach = approx_ns(every, false).abs() + approx_ns(period, false).abs() + approx_ns(offset, false).abs();
            let margin = (2.0 * reach + 2.0 * 86_400e9) / per_ns;
            if t as f64 + margin >= i64::MAX as f64 || t as f64 - margin <= i64::MIN as f64 {
                return Err(out_of_range(t));
            }
        }
        Ok(())
    }

    fn add(d: &Duration, t: i64, tz: Option<&Tz>, unit: TimeUnit) -> PolarsResult<i64> {
        match unit {
            TimeUnit::Nanoseconds => d.add_ns(t, tz),
            TimeUnit::Microseconds => d.add_us(t, tz),
            TimeUnit::Milliseconds => d.add_ms(t, tz),
        }
    }

    /// The latest interval start at or before `t`.
    pub(crate) fn align(&self, t: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { every, offset, .. } => {
                let shifted = t.checked_sub(*offset).ok_or_else(|| out_of_range(t))?;
                t.checked_sub(shifted.rem_euclid(*every)).ok_or_else(|| out_of_range(t))
            },
            Grid::Calendar { .. } => {
                self.guard(t)?;
                let mut start = self.step_back_to(self.truncated_plus_offset(t)?, t)?;
                for _ in 0..MAX_CALENDAR_STEPS {
                    let next = self.next(start)?;
                    if next > t {
                        return Ok(start);
                    }
                    start = next;
                }
                Err(out_of_range(t))
            },
        }
    }

    /// Step back from `start` until it is at or before `t`.
    fn step_back_to(&self, mut start: i64, t: i64) -> PolarsResult<i64> {
        for _ in 0..MAX_CALENDAR_STEPS {
            if start <= t {
                return Ok(start);
            }
            start = self.prev(start)?;
        }
        Err(out_of_range(t))
    }

    /// Polars' own truncation by `every`, shifted by the offset.
    fn truncated_plus_offset(&self, t: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { every, offset, .. } => {
                t.checked_sub(t.rem_euclid(*every)).and_then(|s| s.checked_add(*offset)).ok_or_else(|| out_of_range(t))
            },
            Grid::Calendar { every, offset, tz, unit, .. } => {
                self.guard(t)?;
                let tz = tz.as_ref();
                let truncated = match unit {
                    TimeUnit::Nanoseconds => every.truncate_ns(t, tz)?,
                    TimeUnit::Microseconds => every.truncate_us(t, tz)?,
                    TimeUnit::Milliseconds => every.truncate_ms(t, tz)?,
                };
                Self::add(offset, truncated, tz, *unit)
            },
        }
    }

    /// A calendar step must move in its direction; at the type's limits
    /// chrono-based arithmetic may not, and a loop over it would not end.
    fn moved(to: i64, from: i64, forward: bool) -> PolarsResult<i64> {
        if (forward && to > from) || (!forward && to < from) {
            Ok(to)
        } else {
            Err(out_of_range(from))
        }
    }

    pub(crate) fn next(&self, start: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { every, .. } => start.checked_add(*every).ok_or_else(|| out_of_range(start)),
            Grid::Calendar { every, tz, unit, .. } => {
                self.guard(start)?;
                Self::moved(Self::add(every, start, tz.as_ref(), *unit)?, start, true)
            },
        }
    }

    pub(crate) fn prev(&self, start: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { every, .. } => start.checked_sub(*every).ok_or_else(|| out_of_range(start)),
            Grid::Calendar { every, tz, unit, .. } => {
                self.guard(start)?;
                Self::moved(Self::add(&-*every, start, tz.as_ref(), *unit)?, start, false)
            },
        }
    }

    pub(crate) fn end(&self, start: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { period, .. } => start.checked_add(*period).ok_or_else(|| out_of_range(start)),
            Grid::Calendar { period, tz, unit, .. } => {
                self.guard(start)?;
                Self::moved(Self::add(period, start, tz.as_ref(), *unit)?, start, true)
            },
        }
    }

    /// A series' first interval. As `group_by_dynamic` (start_by=window)
    /// does, it is the first interval from `truncate(t) + offset` that has
    /// not ended by `t` (so overlapping intervals that began earlier are not
    /// opened). Unlike it, when `truncate(t) + offset` lies after `t` (a
    /// positive offset), the grid steps back so the first tick is not lost.
    pub(crate) fn first_for_series(&self, t: i64) -> PolarsResult<i64> {
        let mut start = self.step_back_to(self.truncated_plus_offset(t)?, t)?;
        for _ in 0..MAX_CALENDAR_STEPS {
            if self.end(start)? > t {
                return Ok(start);
            }
            start = self.next(start)?;
        }
        Err(out_of_range(t))
    }

    /// The earliest interval that contains `t`, or, when `t` falls in a gap
    /// between intervals (period < every), the first one after it.
    pub(crate) fn first_covering(&self, t: i64) -> PolarsResult<i64> {
        let mut start = self.align(t)?;
        if self.end(start)? <= t {
            return self.next(start);
        }
        // Overlapping intervals (period > every): earlier ones may reach t.
        // Options validation caps period / every, so this ends.
        for _ in 0..MAX_CALENDAR_STEPS {
            let prev = self.prev(start)?;
            if self.end(prev)? <= t {
                return Ok(start);
            }
            start = prev;
        }
        Err(out_of_range(t))
    }

    /// How many intervals start in `[from, to)`, for a fixed grid (`None`
    /// for a calendar grid, which is counted as it is walked).
    pub(crate) fn intervals_between(&self, from: i64, to: i64) -> Option<u64> {
        match self {
            Grid::Fixed { every, .. } => {
                let span = (to as i128 - from as i128).max(0);
                let every = *every as i128;
                Some(((span + every - 1) / every).min(u64::MAX as i128) as u64)
            },
            Grid::Calendar { .. } => None,
        }
    }
}
