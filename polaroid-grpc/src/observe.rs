//! Metrics for the gRPC doors: every call counted by door (`grpc` for
//! polaroid.v1, `flight` for Arrow Flight), method and status code, with
//! its time to the response head. A tower layer around the whole server.
//!
//! The code is the response head's `grpc-status` (an error answered at
//! once); a stream that starts is counted as OK when it starts.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use polaroid_core::Core;
use tonic::Code;
use tower::{Layer, Service};

#[derive(Clone)]
pub(crate) struct Observe {
    core: Arc<Core>,
}

impl Observe {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }
}

impl<S> Layer<S> for Observe {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed { inner, core: self.core.clone() }
    }
}

#[derive(Clone)]
pub(crate) struct Observed<S> {
    inner: S,
    core: Arc<Core>,
}

/// `/polaroid.v1.Polaroid/Scan` → (`grpc`, `Scan`); health and reflection
/// are `other`.
fn door_and_method(path: &str) -> (&'static str, String) {
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or(("", path));
    let door = match service {
        "polaroid.v1.Polaroid" => "grpc",
        "arrow.flight.protocol.FlightService" => "flight",
        _ => "other",
    };
    (door, if door == "other" { service.to_string() } else { method.to_string() })
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl<S, B, R> Service<http::Request<B>> for Observed<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (door, method) = door_and_method(request.uri().path());
        let started = Instant::now();
        let core = self.core.clone();
        // The clone that was made ready is the one to call (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await?;
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map_or(Code::Ok, Code::from_i32);
            if door != "other" {
                core.metrics().request(door, &method, code_name(code), started.elapsed());
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_door_and_method() {
        assert_eq!(door_and_method("/polaroid.v1.Polaroid/Scan"), ("grpc", "Scan".to_string()));
        assert_eq!(door_and_method("/arrow.flight.protocol.FlightService/DoGet"), ("flight", "DoGet".to_string()));
        assert_eq!(door_and_method("/grpc.health.v1.Health/Check").0, "other");
    }
}
