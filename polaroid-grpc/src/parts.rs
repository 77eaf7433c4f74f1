//! Server-streaming responses written from their parts, without a copy.
//!
//! tonic encodes each response message into its own buffer: for a result
//! of many MiB that is a copy of every byte before the kernel copies it
//! again into the socket. A result's record batches are already in memory,
//! and the IPC encoder hands their buffers out as they are
//! ([`polaroid_core::ipc::EncodedMessage`]).
//!
//! [`PartsRoute`] answers one server-streaming method of a generated service
//! itself: it decodes the request with tonic's decoder, calls a handler that
//! gives each response message as its protobuf encoding in parts, and sends
//! the parts as HTTP/2 DATA frames as they are (h2 writes a large payload
//! with a vectored write, from the buffer it was given). Small parts are
//! joined, so a message's framing and padding do not each become a frame.
//! The server then hands h2 the frames that are ready together
//! ([`crate::coalesce`]), so a message goes out in one vectored write.
//! Every other method goes to the generated service, and an interceptor
//! around the route (auth) applies to both.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use http_body::Frame;
use tonic::body::Body;
use tonic::codec::Streaming;
use tonic::server::NamedService;
use tonic::{Request, Status};
use tower::Service;

/// One response message: its protobuf encoding, in parts.
pub(crate) type Parts = Vec<Bytes>;

pub(crate) type PartsStream = Pin<Box<dyn Stream<Item = Result<Parts, Status>> + Send + 'static>>;

type Handler<Req> = dyn Fn(Request<Req>) -> BoxFuture<'static, Result<PartsStream, Status>> + Send + Sync;

/// Parts shorter than this are copied together into one frame.
const SMALL_PART: usize = 4096;

/// `inner`, with the server-streaming method at `path` answered by `handler`.
pub(crate) struct PartsRoute<S, Req> {
    inner: S,
    path: &'static str,
    handler: Arc<Handler<Req>>,
    max_decoding_message_size: usize,
}

impl<S: Clone, Req> Clone for PartsRoute<S, Req> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            path: self.path,
            handler: self.handler.clone(),
            max_decoding_message_size: self.max_decoding_message_size,
        }
    }
}

impl<S, Req> PartsRoute<S, Req> {
    /// `path` is the method's full path, `/package.Service/Method`.
    pub(crate) fn new<F>(inner: S, path: &'static str, max_decoding_message_size: usize, handler: F) -> Self
    where
        F: Fn(Request<Req>) -> BoxFuture<'static, Result<PartsStream, Status>> + Send + Sync + 'static,
    {
        Self { inner, path, handler: Arc::new(handler), max_decoding_message_size }
    }
}

impl<S: NamedService, Req> NamedService for PartsRoute<S, Req> {
    const NAME: &'static str = S::NAME;
}

impl<S, Req> Service<http::Request<Body>> for PartsRoute<S, Req>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    Req: prost::Message + Default + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.uri().path() != self.path {
            return Box::pin(self.inner.call(request));
        }
        let (handler, max) = (self.handler.clone(), self.max_decoding_message_size);
        Box::pin(async move {
            Ok(match answer(request, &*handler, max).await {
                Ok(response) => response,
                Err(status) => status.into_http(),
            })
        })
    }
}

async fn answer<Req: prost::Message + Default + Send + 'static>(
    request: http::Request<Body>,
    handler: &Handler<Req>,
    max_decoding_message_size: usize,
) -> Result<http::Response<Body>, Status> {
    let (head, body) = request.into_parts();
    // A unary request: one message, decoded as tonic's own server does.
    let decoder = tonic_prost::ProstDecoder::<Req>::default();
    let mut messages = Streaming::new_request(decoder, body, None, Some(max_decoding_message_size));
    let message = messages.message().await?.ok_or_else(|| Status::internal("missing request message"))?;
    let messages = handler(Request::from_http(http::Request::from_parts(head, message))).await?;
    let mut response = http::Response::new(Body::new(PartsBody::new(messages)));
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
    Ok(response)
}

/// A gRPC response body: each message's length-prefixed parts as DATA
/// frames, then the status as trailers.
struct PartsBody {
    messages: PartsStream,
    frames: VecDeque<Bytes>,
    done: bool,
}

impl PartsBody {
    fn new(messages: PartsStream) -> Self {
        Self { messages, frames: VecDeque::new(), done: false }
    }
}

impl http_body::Body for PartsBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        loop {
            if let Some(frame) = this.frames.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let status = match ready!(this.messages.poll_next_unpin(cx)) {
                Some(Ok(parts)) => {
                    this.frames = frames(parts);
                    continue;
                },
                Some(Err(status)) => status,
                None => Status::ok(""),
            };
            this.done = true;
            let mut trailers = http::HeaderMap::new();
            return Poll::Ready(Some(status.add_header(&mut trailers).map(|()| Frame::trailers(trailers))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.frames.is_empty()
    }
}

/// One message on the wire: the gRPC prefix (uncompressed, length) and the
/// parts, small neighbours joined, large parts as they are.
fn frames(parts: Parts) -> VecDeque<Bytes> {
    let len: usize = parts.iter().map(Bytes::len).sum();
    let mut frames = VecDeque::with_capacity(parts.len() + 1);
    let mut small = BytesMut::with_capacity(SMALL_PART);
    small.put_u8(0);
    small.put_u32(len as u32);
    for part in parts {
        if part.len() < SMALL_PART {
            small.extend_from_slice(&part);
            continue;
        }
        if !small.is_empty() {
            frames.push_back(small.split().freeze());
        }
        frames.push_back(part);
    }
    if !small.is_empty() {
        frames.push_back(small.freeze());
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_its_prefix_and_parts_with_small_ones_joined() {
        let big = Bytes::from(vec![7u8; SMALL_PART]);
        let parts =
            vec![Bytes::from_static(b"head"), big.clone(), Bytes::from_static(b"pad"), Bytes::new(), Bytes::from_static(b"x")];
        let frames: Vec<Bytes> = frames(parts.clone()).into();
        let len = (4 + SMALL_PART + 3 + 1) as u32;
        let mut expected = vec![0u8];
        expected.extend_from_slice(&len.to_be_bytes());
        expected.extend_from_slice(&parts.concat());
        assert_eq!(frames.concat(), expected);
        // The large part is sent from its own buffer, not copied.
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].as_ptr(), big.as_ptr());
    }
}
