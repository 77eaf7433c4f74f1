//! The caller's deadline (`grpc-timeout`) on the server side: a call whose
//! answer is not ready in time ends with DEADLINE_EXCEEDED and its work is
//! dropped. tonic's own `Server` does this; we accept connections ourselves
//! (see `server.rs`), so the layer is ours. As in tonic, the deadline covers
//! the wait for the response head; a stream that has started is ended by
//! the client's own deadline (it resets the stream).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::body::Body;
use tonic::Status;
use tower::{Layer, Service};

#[derive(Clone, Copy)]
pub(crate) struct Deadline;

impl<S> Layer<S> for Deadline {
    type Service = WithDeadline<S>;

    fn layer(&self, inner: S) -> WithDeadline<S> {
        WithDeadline { inner }
    }
}

#[derive(Clone)]
pub(crate) struct WithDeadline<S> {
    inner: S,
}

/// `grpc-timeout`: at most 8 digits and a unit (gRPC over HTTP/2). A value
/// that does not parse is ignored, as tonic and gRPC's C core do.
fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

impl<S, B> Service<http::Request<B>> for WithDeadline<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let timeout = request.headers().get("grpc-timeout").and_then(|v| parse_timeout(v.as_bytes()));
        let answer = self.inner.call(request);
        match timeout {
            None => Box::pin(answer),
            Some(timeout) => Box::pin(async move {
                match tokio::time::timeout(timeout, answer).await {
                    Ok(answer) => answer,
                    Err(_) => Ok(Status::deadline_exceeded(format!(
                        "the call's deadline ({timeout:?}) passed before its answer was ready"
                    ))
                    .into_http()),
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_in_every_unit_and_bad_ones_are_ignored() {
        assert_eq!(parse_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_timeout(b"5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout(b"250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout(b"99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(parse_timeout(b"7n"), Some(Duration::from_nanos(7)));
        for bad in [&b""[..], b"S", b"123456789S", b"12x", b"-1S", b"1.5S", b"10"] {
            assert_eq!(parse_timeout(bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_ends_with_deadline_exceeded() {
        let slow = tower::service_fn(|_: http::Request<()>| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
        });
        let mut service = Deadline.layer(slow);
        let request = http::Request::builder().header("grpc-timeout", "20m").body(()).unwrap();
        let started = std::time::Instant::now();
        let response = service.call(request).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        let status = Status::from_header_map(response.headers()).expect("a grpc-status header");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        // Without the header the same call is not cut short.
        let quick = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
        });
        let response = Deadline.layer(quick).call(http::Request::new(())).await.unwrap();
        assert!(Status::from_header_map(response.headers()).is_none());
    }
}
