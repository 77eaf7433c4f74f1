//! The interval grid of time bars: where intervals start and end, in the
//! time column's own unit.

use chrono_tz::Tz;
use polars::prelude::{Duration, PolarsResult, TimeUnit};

/// Interval starts are `epoch + offset + k·every` (calendar units: polars'
/// own truncation, so day/week/month bars agree with `group_by_dynamic`);
/// each interval is `[start, start + period)`.
pub(crate) enum Grid {
    /// Durations without calendar parts: plain integer arithmetic.
    Fixed { every: i64, period: i64, offset: i64 },
    /// Days, weeks, months: polars' calendar arithmetic in a time zone.
    Calendar { every: Duration, period: Duration, offset: Duration, tz: Option<Tz>, unit: TimeUnit },
}

fn fixed_units(d: &Duration, unit: TimeUnit) -> Option<i64> {
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
            Grid::Fixed { every, offset, .. } => Ok(t - (t - offset).rem_euclid(*every)),
            Grid::Calendar { .. } => {
                let mut start = self.truncated_plus_offset(t)?;
                while start > t {
                    start = self.prev(start)?;
                }
                loop {
                    let next = self.next(start)?;
                    if next > t {
                        return Ok(start);
                    }
                    start = next;
                }
            },
        }
    }

    /// Polars' own truncation by `every`, shifted by the offset.
    fn truncated_plus_offset(&self, t: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { every, offset, .. } => Ok(t - t.rem_euclid(*every) + offset),
            Grid::Calendar { every, offset, tz, unit, .. } => {
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

    pub(crate) fn next(&self, start: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { every, .. } => Ok(start + every),
            Grid::Calendar { every, tz, unit, .. } => Self::add(every, start, tz.as_ref(), *unit),
        }
    }

    pub(crate) fn prev(&self, start: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { every, .. } => Ok(start - every),
            Grid::Calendar { every, tz, unit, .. } => Self::add(&-*every, start, tz.as_ref(), *unit),
        }
    }

    pub(crate) fn end(&self, start: i64) -> PolarsResult<i64> {
        match self {
            Grid::Fixed { period, .. } => Ok(start + period),
            Grid::Calendar { period, tz, unit, .. } => Self::add(period, start, tz.as_ref(), *unit),
        }
    }

    /// A series' first interval. As `group_by_dynamic` (start_by=window)
    /// does, it is the first interval from `truncate(t) + offset` that has
    /// not ended by `t` (so overlapping intervals that began earlier are not
    /// opened). Unlike it, when `truncate(t) + offset` lies after `t` (a
    /// positive offset), the grid steps back so the first tick is not lost.
    pub(crate) fn first_for_series(&self, t: i64) -> PolarsResult<i64> {
        let mut start = self.truncated_plus_offset(t)?;
        while start > t {
            start = self.prev(start)?;
        }
        while self.end(start)? <= t {
            start = self.next(start)?;
        }
        Ok(start)
    }

    /// The earliest interval that contains `t`, or, when `t` falls in a gap
    /// between intervals (period < every), the first one after it.
    pub(crate) fn first_covering(&self, t: i64) -> PolarsResult<i64> {
        let mut start = self.align(t)?;
        if self.end(start)? <= t {
            return self.next(start);
        }
        // Overlapping intervals (period > every): earlier ones may reach t.
        loop {
            let prev = self.prev(start)?;
            if self.end(prev)? <= t {
                return Ok(start);
            }
            start = prev;
        }
    }
}
