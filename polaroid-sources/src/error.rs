use polaroid_core::CoreError;

/// What starting, stopping or listing sources can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A spec that cannot work (bad name, url, format or mapping).
    #[error("{0}")]
    Invalid(String),
    #[error("a source named {0:?} is already running")]
    AlreadyRunning(String),
    #[error("no source named {0:?} is running")]
    NotFound(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<SourceError> for CoreError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Invalid(m) => CoreError::InvalidArgument(m),
            SourceError::AlreadyRunning(_) => CoreError::FailedPrecondition(e.to_string()),
            SourceError::NotFound(_) => CoreError::NotFound(e.to_string()),
            SourceError::Core(c) => c,
        }
    }
}
