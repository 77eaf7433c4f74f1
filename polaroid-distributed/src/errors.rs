//! DataFusion's and Ballista's errors in the core's terms: the caller's
//! mistakes (SQL, names, types) are INVALID_ARGUMENT with DataFusion's own
//! message; a cluster that cannot be reached, or that lost the executors a
//! query ran on, is UNAVAILABLE (retrying later may work); the rest is
//! INTERNAL with the engine's message.

use datafusion::error::DataFusionError;
use polaroid_core::CoreError;

/// Words of tonic's, hyper's and Ballista's that mean the cluster (or a
/// part of it) was not there to answer.
const UNREACHABLE: &[&str] = &[
    "transport error",
    "Connection refused",
    "connection error",
    "tcp connect error",
    "error trying to connect",
    "broken pipe",
    "Executor lost",
    "executor lost",
    "executors were lost",
    "Executor is lost",
    "executor is lost",
    "No executor",
    "Unavailable",
];

/// An error of DataFusion's or Ballista's, while a query is planned, runs,
/// or streams back, in the core's terms.
pub fn to_core_error(err: DataFusionError) -> CoreError {
    let text = message(&err);
    if UNREACHABLE.iter().any(|w| text.contains(w)) {
        return CoreError::Unavailable(format!("the Ballista cluster failed the query: {text}"));
    }
    match err.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_)
        | DataFusionError::ArrowError(..) => CoreError::InvalidArgument(text),
        DataFusionError::ResourcesExhausted(_) => CoreError::ResourceExhausted(text),
        _ => CoreError::Internal(format!("the Ballista cluster failed the query: {text}")),
    }
}

/// DataFusion's message, without a backtrace, and with the causes of an
/// external error (Ballista's) spelled out.
pub fn message(err: &DataFusionError) -> String {
    let mut text = err.strip_backtrace();
    if let DataFusionError::External(inner) = err.find_root() {
        let chain = source_chain(inner.as_ref());
        if !text.contains(&chain) {
            text = format!("{text}: {chain}");
        }
    }
    text
}

/// An error and its sources, `a: b: c`, each said once.
pub fn source_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !parts.iter().any(|p| p.contains(&said)) {
            parts.push(said);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_mistakes_keep_datafusions_message() {
        let err = to_core_error(DataFusionError::Plan("table 'x' not found".into()));
        assert_eq!(err.kind(), polaroid_core::ErrorKind::InvalidArgument);
        assert_eq!(err.to_string(), "Error during planning: table 'x' not found");
    }

    #[test]
    fn an_unreachable_cluster_is_unavailable_whatever_wraps_it() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)");
        let err = to_core_error(DataFusionError::Context("fetching partition".into(), Box::new(DataFusionError::External(Box::new(io)))));
        assert_eq!(err.kind(), polaroid_core::ErrorKind::Unavailable);
        assert!(err.to_string().contains("Connection refused (os error 111)"), "{err}");
        // What Ballista's scheduler says when every executor of a job died.
        let lost = to_core_error(DataFusionError::Execution(
            "Job 038HGM3Y7J000 failed: all executors were lost and no executor re-registered within 0s".into(),
        ));
        assert_eq!(lost.kind(), polaroid_core::ErrorKind::Unavailable);
    }
}
