use polars::error::PolarsError;

/// Everything the time-series operations can fail with. Messages name the
/// column or option at fault and say what was expected.
#[derive(Debug, thiserror::Error)]
pub enum TimeseriesError {
    #[error("column {column:?} not found; the input has {available}")]
    MissingColumn { column: String, available: String },
    #[error("column {column:?} must be {expected}, but it is {actual}")]
    WrongDtype { column: String, expected: &'static str, actual: String },
    #[error("invalid option {option}: {reason}")]
    InvalidOption { option: &'static str, reason: String },
    /// Found only on the streaming path, which cannot sort ahead of time;
    /// the caller re-runs with a sort.
    #[error("ticks of one symbol are not in time order ({later} seen before {earlier})")]
    Unsorted { later: i64, earlier: i64 },
    /// The caller's progress callback asked to stop (a client went away,
    /// or a budget ran out).
    #[error("the bar run was stopped by its caller")]
    Stopped,
    /// The request would create more intervals than its cap allows.
    #[error("{what}: more than the cap of {cap} intervals per request; use a coarser `every` or a shorter span")]
    TooManyIntervals { what: String, cap: u64 },
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

pub type Result<T, E = TimeseriesError> = std::result::Result<T, E>;

impl From<TimeseriesError> for PolarsError {
    fn from(err: TimeseriesError) -> Self {
        match err {
            TimeseriesError::Polars(e) => e,
            TimeseriesError::MissingColumn { .. } => PolarsError::ColumnNotFound(err.to_string().into()),
            TimeseriesError::WrongDtype { .. } => PolarsError::SchemaMismatch(err.to_string().into()),
            other => PolarsError::InvalidOperation(other.to_string().into()),
        }
    }
}
