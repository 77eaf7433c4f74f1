//! The HTTP door's one mapping from core errors to HTTP statuses, and the
//! error bodies QuestDB's clients parse.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use polaroid_core::{CoreError, ErrorKind};

/// The status a core error answers with. QuestDB answers a bad query with
/// 400, and its clients expect that, so every fault of the request is 400.
pub fn http_status(err: &CoreError) -> StatusCode {
    match err.kind() {
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::FailedPrecondition => StatusCode::INTERNAL_SERVER_ERROR,
        // A path outside the data directory is a bad query to QuestDB's
        // clients; the message says which path and why.
        ErrorKind::PermissionDenied
        | ErrorKind::NotFound
        | ErrorKind::InvalidArgument
        | ErrorKind::DeadlineExceeded
        | ErrorKind::Cancelled => StatusCode::BAD_REQUEST,
    }
}

/// A failed `/exec` or `/exp`: `{"query", "error", "position"}`, as QuestDB
/// writes it. `position` is the character offset the error points at, when
/// the SQL parser said where (0 otherwise).
pub struct QueryError {
    pub query: String,
    pub error: CoreError,
}

impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        if self.error.kind() == ErrorKind::Internal {
            tracing::error!("{}", self.error);
        }
        let message = self.error.to_string();
        // Keys in QuestDB's order: clients and people read them that way.
        let body = format!(
            "{{\"query\":{},\"error\":{},\"position\":{}}}",
            json_string(&self.query),
            json_string(&message),
            position(&self.query, &message)
        );
        (http_status(&self.error), [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// The character offset of `Line: L, Column: C` (the SQL parser's words)
/// in `query`, or 0.
fn position(query: &str, message: &str) -> usize {
    let number_after = |key: &str| -> Option<usize> {
        let at = message.find(key)? + key.len();
        let digits: String = message[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    let (Some(line), Some(column)) = (number_after("Line: "), number_after("Column: ")) else {
        return 0;
    };
    let before: usize = query.split('\n').take(line.saturating_sub(1)).map(|l| l.chars().count() + 1).sum();
    (before + column.saturating_sub(1)).min(query.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parser_s_line_and_column_become_an_offset() {
        let q = "SELECT a\nFROM t WHERE";
        assert_eq!(position(q, "sql parser error: Expected: an expression, found: EOF at Line: 2, Column: 13"), 21);
        assert_eq!(position(q, "column not found"), 0);
    }
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a str serializes")
}
