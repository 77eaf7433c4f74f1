use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use crate::error::ServiceError;

/// Resolve a client-supplied path inside `data_dir` (already canonical).
///
/// Refused with PERMISSION_DENIED: absolute paths, any `..`, and anything
/// that resolves (through symlinks) outside the directory.
pub(crate) fn resolve(data_dir: &Path, requested: &str) -> Result<PathBuf, ServiceError> {
    if requested.is_empty() {
        return Err(ServiceError::InvalidArgument("path is empty".into()));
    }
    let path = Path::new(requested);
    if path.is_absolute() {
        return Err(ServiceError::PermissionDenied(format!(
            "{requested:?} is an absolute path; paths are relative to the server's data directory"
        )));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(ServiceError::PermissionDenied(format!(
            "{requested:?} uses '..'; paths must stay inside the server's data directory"
        )));
    }
    let canonical = data_dir.join(path).canonicalize().map_err(|e| match e.kind() {
        ErrorKind::NotFound => {
            ServiceError::NotFound(format!("no file {requested:?} in the server's data directory"))
        },
        _ => ServiceError::InvalidArgument(format!("cannot open {requested:?}: {e}")),
    })?;
    if !canonical.starts_with(data_dir) {
        return Err(ServiceError::PermissionDenied(format!(
            "{requested:?} resolves outside the server's data directory"
        )));
    }
    if !canonical.is_file() {
        return Err(ServiceError::InvalidArgument(format!("{requested:?} is not a file")));
    }
    Ok(canonical)
}
