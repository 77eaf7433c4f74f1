use polaroid_handles::HandleError;
use polars::error::PolarsError;
use polaroid_timeseries::TimeseriesError;

/// Everything a request can fail with. The one mapping to gRPC codes is the
/// `From<CoreError> for Status` impl below.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// From the handle store: unknown/expired handle (the client's), a
    /// malformed id (the client's), a frame over the memory budget.
    #[error(transparent)]
    Handle(#[from] HandleError),
    /// Polars rejected the query; almost always the request's fault (a bad
    /// column, type or SQL), sometimes a missing file.
    #[error(transparent)]
    Polars(#[from] PolarsError),
    /// The request itself is malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// A path that leaves the data directory.
    #[error("{0}")]
    PermissionDenied(String),
    /// A file that does not exist in the data directory.
    #[error("{0}")]
    NotFound(String),
    /// No credentials, or credentials this server does not know (the
    /// caller's), or a service reached without the auth layer (ours; it
    /// fails closed rather than serving the anonymous namespace).
    #[error("{0}")]
    Unauthenticated(String),
    /// The request needs more than the server will give one request: the
    /// memory budget, a grid cap, an upload message, a query slot.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The data the request reads is unusable (a corrupt file in the data
    /// directory): not the request's fault, and retrying will not help
    /// until an operator fixes the file.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The request's deadline passed (in the queue or while running).
    #[error("{0}")]
    DeadlineExceeded(String),
    /// The client went away or cancelled; nobody reads the answer.
    #[error("{0}")]
    Cancelled(String),
    /// A method or form this server does not offer.
    #[error("{0}")]
    Unimplemented(String),
    /// A service the request needs cannot be reached (a Ballista
    /// scheduler): retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// Our bug, including a panic caught inside polars.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What kind of failure an error is: the protocol-neutral version of a
/// status code, which each door maps to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An unknown or expired handle, a missing file or table.
    NotFound,
    /// A bad request: column, expression, type, SQL, option.
    InvalidArgument,
    /// A path outside the data directory.
    PermissionDenied,
    /// Over the memory budget, a grid cap, an upload limit, the query queue.
    ResourceExhausted,
    /// Unusable data on the server's side (a damaged file).
    FailedPrecondition,
    DeadlineExceeded,
    Cancelled,
    Unimplemented,
    /// A service the request needs is down or unreachable.
    Unavailable,
    Unauthenticated,
    /// Our bug.
    Internal,
}

impl CoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::Handle(HandleError::NotFound { .. }) => ErrorKind::NotFound,
            CoreError::Handle(HandleError::MalformedId { .. }) => ErrorKind::InvalidArgument,
            CoreError::Handle(HandleError::TooLarge { .. }) => ErrorKind::ResourceExhausted,
            CoreError::Handle(HandleError::Polars(e)) | CoreError::Polars(e) => polars_kind(e),
            CoreError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            CoreError::PermissionDenied(_) => ErrorKind::PermissionDenied,
            CoreError::NotFound(_) => ErrorKind::NotFound,
            CoreError::Unauthenticated(_) => ErrorKind::Unauthenticated,
            CoreError::ResourceExhausted(_) => ErrorKind::ResourceExhausted,
            CoreError::FailedPrecondition(_) => ErrorKind::FailedPrecondition,
            CoreError::DeadlineExceeded(_) => ErrorKind::DeadlineExceeded,
            CoreError::Cancelled(_) => ErrorKind::Cancelled,
            CoreError::Unimplemented(_) => ErrorKind::Unimplemented,
            CoreError::Unavailable(_) => ErrorKind::Unavailable,
            CoreError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl CoreError {
    /// The kind of polars error this is, by polars' own name for it
    /// ("InvalidOperation", "ColumnNotFound"), when polars raised it: a client
    /// in polars' language can raise polars' matching exception.
    pub fn polars_kind(&self) -> Option<&'static str> {
        match self {
            CoreError::Handle(HandleError::Polars(e)) | CoreError::Polars(e) => polars_kind_name(e),
            _ => None,
        }
    }
}

fn polars_kind_name(err: &PolarsError) -> Option<&'static str> {
    Some(match err {
        PolarsError::Context { error, .. } | PolarsError::ExprContext { error, .. } => return polars_kind_name(error),
        PolarsError::IO { .. } => return None,
        PolarsError::AssertionError(_) => "AssertionError",
        PolarsError::ColumnNotFound(_) => "ColumnNotFound",
        PolarsError::ComputeError(_) => "ComputeError",
        PolarsError::Duplicate(_) => "Duplicate",
        PolarsError::InvalidOperation(_) => "InvalidOperation",
        PolarsError::NoData(_) => "NoData",
        PolarsError::OutOfBounds(_) => "OutOfBounds",
        PolarsError::SchemaFieldNotFound(_) => "SchemaFieldNotFound",
        PolarsError::SchemaMismatch(_) => "SchemaMismatch",
        PolarsError::ShapeMismatch(_) => "ShapeMismatch",
        PolarsError::SQLInterface(_) => "SQLInterface",
        PolarsError::SQLSyntax(_) => "SQLSyntax",
        PolarsError::StringCacheMismatch(_) => "StringCacheMismatch",
        PolarsError::StructFieldNotFound(_) => "StructFieldNotFound",
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

impl From<TimeseriesError> for CoreError {
    fn from(err: TimeseriesError) -> Self {
        match err {
            TimeseriesError::Polars(e) => CoreError::Polars(e),
            // The kernel's precondition, which the core establishes: ours.
            e @ TimeseriesError::Unsorted { .. } => CoreError::Internal(e.to_string()),
            e => CoreError::InvalidArgument(e.to_string()),
        }
    }
}

/// The text of a caught panic.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".into()
    }
}

fn polars_kind(err: &PolarsError) -> ErrorKind {
    match err {
        PolarsError::Context { error, .. } | PolarsError::ExprContext { error, .. } => polars_kind(error),
        PolarsError::IO { error, .. } if error.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        PolarsError::IO { .. } | PolarsError::AssertionError(_) => ErrorKind::Internal,
        // Data that does not decode: a damaged file in the data directory
        // (uploads are checked and reported as the client's before this).
        PolarsError::ComputeError(message) if is_damaged_data(message) => ErrorKind::FailedPrecondition,
        PolarsError::ColumnNotFound(_)
        | PolarsError::ComputeError(_)
        | PolarsError::Duplicate(_)
        | PolarsError::InvalidOperation(_)
        | PolarsError::NoData(_)
        | PolarsError::OutOfBounds(_)
        | PolarsError::SchemaFieldNotFound(_)
        | PolarsError::SchemaMismatch(_)
        | PolarsError::ShapeMismatch(_)
        | PolarsError::SQLInterface(_)
        | PolarsError::SQLSyntax(_)
        | PolarsError::StringCacheMismatch(_)
        | PolarsError::StructFieldNotFound(_) => ErrorKind::InvalidArgument,
        #[allow(unreachable_patterns)]
        _ => ErrorKind::Internal,
    }
}

/// polars' words for input that does not decode: parquet's and the IPC
/// reader's out-of-spec errors, and malformed IPC buffers.
fn is_damaged_data(message: &str) -> bool {
    const MARKERS: &[&str] = &["File out of specification", "out-of-spec:", "Malformed IPC file"];
    MARKERS.iter().any(|m| message.contains(m))
}
