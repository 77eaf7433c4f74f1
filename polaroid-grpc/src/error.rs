use polaroid_handles::HandleError;
use polars::error::PolarsError;
use tonic::{Code, Status};

/// Everything a request can fail with. The one mapping to gRPC codes is the
/// `From<ServiceError> for Status` impl below.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
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
    /// Our bug, including a panic caught inside polars.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        let code = match &err {
            ServiceError::Handle(HandleError::NotFound { .. }) => Code::NotFound,
            ServiceError::Handle(HandleError::MalformedId { .. }) => Code::InvalidArgument,
            ServiceError::Handle(HandleError::TooLarge { .. }) => Code::ResourceExhausted,
            ServiceError::Handle(HandleError::Polars(e)) | ServiceError::Polars(e) => polars_code(e),
            ServiceError::InvalidArgument(_) => Code::InvalidArgument,
            ServiceError::PermissionDenied(_) => Code::PermissionDenied,
            ServiceError::NotFound(_) => Code::NotFound,
            ServiceError::Unauthenticated(_) => Code::Unauthenticated,
            ServiceError::ResourceExhausted(_) => Code::ResourceExhausted,
            ServiceError::FailedPrecondition(_) => Code::FailedPrecondition,
            ServiceError::DeadlineExceeded(_) => Code::DeadlineExceeded,
            ServiceError::Cancelled(_) => Code::Cancelled,
            ServiceError::Unimplemented(_) => Code::Unimplemented,
            ServiceError::Internal(_) => Code::Internal,
        };
        if code == Code::Internal {
            tracing::error!("{err}");
        }
        Status::new(code, err.to_string())
    }
}

fn polars_code(err: &PolarsError) -> Code {
    match err {
        PolarsError::Context { error, .. } | PolarsError::ExprContext { error, .. } => polars_code(error),
        PolarsError::IO { error, .. } if error.kind() == std::io::ErrorKind::NotFound => Code::NotFound,
        PolarsError::IO { .. } | PolarsError::AssertionError(_) => Code::Internal,
        // Data that does not decode: a damaged file in the data directory
        // (uploads are checked and reported as the client's before this).
        PolarsError::ComputeError(message) if is_damaged_data(message) => Code::FailedPrecondition,
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
        | PolarsError::StructFieldNotFound(_) => Code::InvalidArgument,
        #[allow(unreachable_patterns)]
        _ => Code::Internal,
    }
}

/// polars' words for input that does not decode: parquet's and the IPC
/// reader's out-of-spec errors, and malformed IPC buffers.
fn is_damaged_data(message: &str) -> bool {
    const MARKERS: &[&str] = &["File out of specification", "out-of-spec:", "Malformed IPC file"];
    MARKERS.iter().any(|m| message.contains(m))
}
