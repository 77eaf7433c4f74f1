//! The time-series RPCs' request decoding: proto messages to
//! polaroid-timeseries options. The work itself is the library's.

use polaroid_timeseries::{parse_duration, BarKind, Fill, OhlcvOptions, TimeseriesError};
use polars::prelude::TimeZone;

use crate::error::ServiceError;
use crate::proto;

impl From<TimeseriesError> for ServiceError {
    fn from(err: TimeseriesError) -> Self {
        match err {
            TimeseriesError::Polars(e) => ServiceError::Polars(e),
            // Sorting is the library's job; this never reaches a caller.
            e @ TimeseriesError::Unsorted { .. } => ServiceError::Internal(e.to_string()),
            e => ServiceError::InvalidArgument(e.to_string()),
        }
    }
}

fn or_default<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.trim().is_empty() {
        default
    } else {
        value.trim()
    }
}

/// The options a request asks for, and a lineage text.
pub(crate) fn ohlcv_options(req: &proto::OhlcvRequest) -> Result<(OhlcvOptions, String), ServiceError> {
    let threshold = || {
        if req.threshold.is_finite() && req.threshold > 0.0 {
            Ok(req.threshold)
        } else {
            Err(ServiceError::InvalidArgument(format!(
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
                return Err(ServiceError::InvalidArgument(format!("tick bars need a whole number of trades, got {n}")));
            }
            BarKind::Tick(n as u64)
        },
        Ok(proto::BarKind::Volume) => BarKind::Volume(threshold()?),
        Ok(proto::BarKind::Dollar) => BarKind::Dollar(threshold()?),
        Err(_) => return Err(ServiceError::InvalidArgument(format!("unknown bar kind {}", req.kind))),
    };
    let fill = match proto::BarFill::try_from(req.fill) {
        Ok(proto::BarFill::None) => Fill::None,
        Ok(proto::BarFill::Forward) => Fill::Forward,
        Err(_) => return Err(ServiceError::InvalidArgument(format!("unknown fill {}", req.fill))),
    };
    let time_zone = match req.time_zone.trim() {
        "" => None,
        zone => TimeZone::opt_try_new(Some(zone))
            .map_err(|e| ServiceError::InvalidArgument(format!("time_zone {zone:?}: {e}")))?,
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
    };
    let what = match &options.kind {
        BarKind::Time => format!("every={}", options.every),
        BarKind::Tick(n) => format!("ticks={n}"),
        BarKind::Volume(v) => format!("volume={v}"),
        BarKind::Dollar(d) => format!("dollars={d}"),
    };
    Ok((options, format!("ohlcv({what}, by=[{}])", req.by.join(", "))))
}
