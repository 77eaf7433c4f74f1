//! The one core-error → PostgreSQL error mapping: a SQLSTATE a driver
//! raises as the right exception class (psycopg's `errors.UndefinedTable`,
//! `InsufficientPrivilege`, ...), and the core's message as it is.

use pgwire::error::{ErrorInfo, PgWireError};
use polaroid_core::{CoreError, ErrorKind};
use polars::prelude::PolarsError;

pub fn sqlstate(error: &CoreError) -> &'static str {
    if let CoreError::Polars(e) = error {
        match e {
            PolarsError::ColumnNotFound(_) => return "42703",
            PolarsError::SQLSyntax(_) => return "42601",
            PolarsError::SchemaMismatch(_) => return "42804",
            // polars-sql's word for a table it does not know.
            PolarsError::SQLInterface(m) if m.contains("relation '") && m.contains("not found") => return "42P01",
            _ => {},
        }
    }
    match error.kind() {
        // A bad query: class 42, which drivers raise as a programming error.
        ErrorKind::InvalidArgument => "42000",
        ErrorKind::NotFound => "42P01",
        ErrorKind::PermissionDenied => "42501",
        ErrorKind::Unauthenticated => "28000",
        ErrorKind::ResourceExhausted => "53000",
        ErrorKind::DeadlineExceeded | ErrorKind::Cancelled => "57014",
        ErrorKind::Unimplemented => "0A000",
        ErrorKind::Unavailable => "57P03",
        ErrorKind::FailedPrecondition => "55000",
        ErrorKind::Internal => "XX000",
    }
}

pub fn to_pg(error: CoreError) -> PgWireError {
    if error.kind() == ErrorKind::Internal {
        tracing::error!("{error}");
    }
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_owned(), sqlstate(&error).to_owned(), error.to_string())))
}

/// An error of the door's own (a parameter it cannot read, a SHOW of an
/// unknown setting), with its SQLSTATE.
pub fn user(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_owned(), code.to_owned(), message.into())))
}
