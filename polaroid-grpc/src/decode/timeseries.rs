//! The time-series RPCs' request decoding: proto messages to
//! polaroid-timeseries options. The work itself is the library's.

use polaroid_timeseries::{
    parse_duration, BarKind, Fill, IntervalOptions, OhlcvOptions, OutOfOrder, QuoteColumns, QuoteResampleOptions,
    ReturnsOptions, RollingVwapOptions, TicksExt, VolatilityOptions,
};
use polars::prelude::{LazyFrame, PlSmallStr, TimeZone};

use polaroid_core::{BarSubscription, CoreError};
use crate::proto;

fn or_default<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.trim().is_empty() {
        default
    } else {
        value.trim()
    }
}

/// A SubscribeBars request in the core's terms.
pub(crate) fn bar_subscription(req: &proto::SubscribeBarsRequest) -> Result<BarSubscription, CoreError> {
    let table = req.table.trim();
    if table.is_empty() {
        return Err(CoreError::InvalidArgument("SubscribeBars needs a table".into()));
    }
    let bars = req.bars.clone().unwrap_or_default();
    let (mut options, _) = ohlcv_options(&bars)?;
    if bars.time.trim().is_empty() {
        options.time = PlSmallStr::EMPTY; // the table's designated timestamp
    }
    let start_ns = match req.start.trim() {
        "" => None,
        text => Some(instant_ns(text)?),
    };
    let grace = parse_duration("grace", or_default(&req.grace, "0s"))?;
    Ok(BarSubscription { table: table.to_string(), options, start_ns, grace })
}

/// An RFC 3339 time, or a naive one taken as UTC, in nanoseconds since the epoch.
fn instant_ns(text: &str) -> Result<i64, CoreError> {
    let utc = chrono::DateTime::parse_from_rfc3339(text).map(|t| t.to_utc()).or_else(|_| {
        ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
            .iter()
            .find_map(|format| {
                chrono::NaiveDateTime::parse_from_str(text, format)
                    .ok()
                    .or_else(|| chrono::NaiveDate::parse_from_str(text, format).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
            })
            .map(|naive| naive.and_utc())
            .ok_or(())
    });
    let utc = utc.map_err(|_| {
        CoreError::InvalidArgument(format!(
            "start {text:?}: expected an RFC 3339 time (2024-03-08T14:30:00Z) or a UTC one (2024-03-08 14:30:00)"
        ))
    })?;
    utc.timestamp_nanos_opt()
        .ok_or_else(|| CoreError::InvalidArgument(format!("start {text:?} is outside the years 1677..2262")))
}

/// The options a request asks for, and a lineage text.
pub(crate) fn ohlcv_options(req: &proto::OhlcvRequest) -> Result<(OhlcvOptions, String), CoreError> {
    let threshold = || {
        if req.threshold.is_finite() && req.threshold > 0.0 {
            Ok(req.threshold)
        } else {
            Err(CoreError::InvalidArgument(format!(
                "tick, volume and dollar bars need a positive threshold, got {}",
                req.threshold
            )))
        }
    };
    let kind = match proto::BarKind::try_from(req.kind) {
        Ok(proto::BarKind::Time) => BarKind::Time,
        Ok(proto::BarKind::Tick) => {
            let n = threshold()?;
            if n.fract() != 0.0 {
                return Err(CoreError::InvalidArgument(format!("tick bars need a whole number of trades, got {n}")));
            }
            BarKind::Tick(n as u64)
        },
        Ok(proto::BarKind::Volume) => BarKind::Volume(threshold()?),
        Ok(proto::BarKind::Dollar) => BarKind::Dollar(threshold()?),
        Err(_) => return Err(CoreError::InvalidArgument(format!("unknown bar kind {}", req.kind))),
    };
    let fill = match proto::BarFill::try_from(req.fill) {
        Ok(proto::BarFill::None) => Fill::None,
        Ok(proto::BarFill::Forward) => Fill::Forward,
        Err(_) => return Err(CoreError::InvalidArgument(format!("unknown fill {}", req.fill))),
    };
    let time_zone = match req.time_zone.trim() {
        "" => None,
        zone => TimeZone::opt_try_new(Some(zone))
            .map_err(|e| CoreError::InvalidArgument(format!("time_zone {zone:?}: {e}")))?,
    };
    let options = OhlcvOptions {
        time: or_default(&req.time, "ts").into(),
        price: or_default(&req.price, "price").into(),
        size: or_default(&req.size, "size").into(),
        by: req.by.iter().map(|b| b.as_str().into()).collect(),
        every: parse_duration("every", or_default(&req.every, "1m"))?,
        period: match req.period.trim() {
            "" => None,
            p => Some(parse_duration("period", p)?),
        },
        offset: parse_duration("offset", or_default(&req.offset, "0s"))?,
        kind,
        time_zone,
        fill,
        emit_partial: !req.drop_partial,
        ..OhlcvOptions::default()
    };
    let what = match &options.kind {
        BarKind::Time => format!("every={}", options.every),
        BarKind::Tick(n) => format!("ticks={n}"),
        BarKind::Volume(v) => format!("volume={v}"),
        BarKind::Dollar(d) => format!("dollars={d}"),
    };
    Ok((options, format!("ohlcv({what}, by=[{}])", req.by.join(", "))))
}

fn name(value: &str, default: &str) -> PlSmallStr {
    or_default(value, default).into()
}

/// Apply the requested analytic to `lf`: the new plan and a lineage text.
pub(crate) fn tick_analytics(lf: LazyFrame, req: &proto::TickAnalyticsRequest) -> Result<(LazyFrame, String), CoreError> {
    use proto::tick_analytics_request::Op;
    let by: Vec<PlSmallStr> = req.by.iter().map(|b| b.as_str().into()).collect();
    let time = name(&req.time, "ts");
    let price = name(&req.price, "price");
    let interval = |every: &str| -> Result<IntervalOptions, CoreError> {
        Ok(IntervalOptions {
            time: time.clone(),
            price: price.clone(),
            by: by.clone(),
            every: parse_duration("every", or_default(every, "1m"))?,
        })
    };
    let op = req.op.as_ref().ok_or_else(|| CoreError::InvalidArgument("tick analytics needs an `op`".into()))?;
    Ok(match op {
        Op::QuoteMetrics(q) => {
            let columns = QuoteColumns {
                bid: name(&q.bid, "bid"),
                ask: name(&q.ask, "ask"),
                bid_size: name(&q.bid_size, "bid_size"),
                ask_size: name(&q.ask_size, "ask_size"),
            };
            (lf.with_quote_metrics(&columns), "quote_metrics()".into())
        },
        Op::Returns(r) => {
            let options = ReturnsOptions { price: price.clone(), by: by.clone(), log: r.log, name: name(&r.name, "return") };
            (lf.with_returns(&options)?, format!("returns(log={})", r.log))
        },
        Op::RollingVolatility(v) => {
            let window = if v.window == 0 { 20 } else { v.window as usize };
            let options = VolatilityOptions {
                returns: name(&v.returns, "return"),
                by: by.clone(),
                window,
                periods_per_year: v.periods_per_year,
                name: name(&v.name, "volatility"),
            };
            (lf.with_rolling_volatility(&options)?, format!("rolling_volatility({window})"))
        },
        Op::RollingVwap(w) | Op::RollingTwap(w) => {
            let twap = matches!(op, Op::RollingTwap(_));
            let options = RollingVwapOptions {
                time: time.clone(),
                price: price.clone(),
                size: name(&req.size, "size"),
                by: by.clone(),
                window: parse_duration("window", or_default(&w.window, "5m"))?,
                name: name(&w.name, if twap { "twap" } else { "vwap" }),
            };
            if twap {
                let text = format!("rolling_twap({})", options.window);
                (lf.with_rolling_twap(&options)?, text)
            } else {
                let text = format!("rolling_vwap({})", options.window);
                (lf.with_rolling_vwap(&options)?, text)
            }
        },
        Op::Twap(i) => {
            let options = interval(&i.every)?;
            let text = format!("twap({})", options.every);
            (lf.twap(&options)?, text)
        },
        Op::RealizedVariance(i) => {
            let options = interval(&i.every)?;
            let text = format!("realized_variance({})", options.every);
            (lf.realized_variance(&options)?, text)
        },
        Op::ResampleQuotes(r) => {
            let columns = if r.columns.is_empty() {
                vec!["bid".into(), "ask".into()]
            } else {
                r.columns.iter().map(|c| c.as_str().into()).collect()
            };
            let options = QuoteResampleOptions {
                time: time.clone(),
                by: by.clone(),
                columns,
                every: parse_duration("every", or_default(&r.every, "1s"))?,
                ..QuoteResampleOptions::default()
            };
            let text = format!("resample_quotes({})", options.every);
            (lf.resample_quotes(&options)?, text)
        },
        Op::CleanTicks(c) => {
            let mode = if c.drop_out_of_order { OutOfOrder::Drop } else { OutOfOrder::Flag };
            (lf.clean_ticks(&time, &by, mode)?, format!("clean_ticks(drop_out_of_order={})", c.drop_out_of_order))
        },
    })
}

#[cfg(test)]
mod tests {
    use super::instant_ns;

    #[test]
    fn start_times_in_the_forms_people_write() {
        let expected = 1_709_908_200_000_000_000; // 2024-03-08 14:30:00 UTC
        for text in ["2024-03-08T14:30:00Z", "2024-03-08T09:30:00-05:00", "2024-03-08 14:30:00", "2024-03-08 14:30", "2024-03-08T14:30:00.000"] {
            assert_eq!(instant_ns(text).unwrap(), expected, "{text}");
        }
        assert_eq!(instant_ns("2024-03-08").unwrap(), expected - (14 * 60 + 30) * 60 * 1_000_000_000);
        let err = instant_ns("yesterday").unwrap_err().to_string();
        assert!(err.contains("RFC 3339"), "{err}");
        assert!(instant_ns("2300-01-01").is_err());
    }
}
