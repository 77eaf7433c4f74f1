//! The native door's request decoding: `polaroid.v1` messages to polars
//! expressions, plans and polaroid-timeseries options. No gRPC calls here.

pub(crate) mod expr;
pub(crate) mod timeseries;
pub(crate) mod transforms;
