//! The gRPC door's one mapping from core errors to status codes.

use polaroid_core::{CoreError, ErrorKind};
use tonic::{Code, Status};

/// The status a core error answers with.
pub(crate) fn status(err: CoreError) -> Status {
    let code = match err.kind() {
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorKind::Cancelled => Code::Cancelled,
        ErrorKind::Unimplemented => Code::Unimplemented,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::Internal => Code::Internal,
    };
    if code == Code::Internal {
        tracing::error!("{err}");
    }
    let mut status = Status::new(code, err.to_string());
    if let Some(kind) = err.polars_kind() {
        status.metadata_mut().insert(POLARS_ERROR_KEY, tonic::metadata::MetadataValue::from_static(kind));
    }
    status
}

/// The trailer naming the kind of polars error a status carries
/// ("InvalidOperation", "ComputeError"): clients raise polars' own exception.
pub(crate) const POLARS_ERROR_KEY: &str = "polaroid-polars-error";

/// `result.or_status()?` in a handler: a core error as its status.
pub(crate) trait OrStatus<T> {
    fn or_status(self) -> Result<T, Status>;
}

impl<T, E: Into<CoreError>> OrStatus<T> for Result<T, E> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(|e| status(e.into()))
    }
}

/// An INVALID_ARGUMENT status.
pub(crate) fn invalid(message: impl Into<String>) -> Status {
    status(CoreError::InvalidArgument(message.into()))
}
