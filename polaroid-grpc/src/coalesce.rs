//! Response bodies whose ready data is written to the socket together.
//!
//! h2 writes each data frame a body yields with one `writev`, and a Fetch
//! or DoGet message comes as several (`parts.rs`: the prefix, then each
//! Arrow buffer as it is, ~390 KiB for a column of a 1.5 MiB message). So
//! a 640 MB DoGet was ~2,000 writes of 393 KB where Arrow's C++ server
//! makes ~320 of 2 MiB (strace, 2026-12-02). [`Coalesced`] hands h2 the
//! data frames that are ready at once as one buffer of many chunks, which
//! h2 writes with one vectored write (up to 64 slices), still without a
//! copy. Nothing waits to be joined: a frame that is not ready yet ends
//! the batch.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::future::MapOk;
use futures::TryFutureExt;
use http_body::{Body, Frame, SizeHint};

/// At most this many chunks in one buffer: tokio writes up to 64 slices
/// at once, and h2 puts the frame header in front.
const MAX_CHUNKS: usize = 60;

/// Stop joining once this much is ready; h2 cuts what it writes to the
/// peer's frame size and window anyway.
const MAX_BYTES: usize = 4 << 20;

/// Bytes in several chunks, read in order.
#[derive(Debug, Default)]
pub(crate) struct Chunks {
    chunks: VecDeque<Bytes>,
    remaining: usize,
}

impl Chunks {
    fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.remaining += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    fn full(&self) -> bool {
        self.chunks.len() >= MAX_CHUNKS || self.remaining >= MAX_BYTES
    }
}

impl From<Bytes> for Chunks {
    fn from(chunk: Bytes) -> Self {
        let mut chunks = Chunks::default();
        chunks.push(chunk);
        chunks
    }
}

impl Buf for Chunks {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.chunks.front().map_or(&[], |c| c.as_ref())
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.remaining, "advance past the end of the chunks");
        self.remaining -= cnt;
        while cnt > 0 {
            let front = self.chunks.front_mut().expect("remaining counts the chunks");
            if cnt < front.len() {
                front.advance(cnt);
                return;
            }
            cnt -= front.len();
            self.chunks.pop_front();
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, chunk) in dst.iter_mut().zip(&self.chunks) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }
}

/// One poll's worth of a body: a frame, an error, or the end (`None`).
type Polled<E> = Option<Result<Frame<Chunks>, E>>;

/// `inner`, its data frames that are ready together joined into one.
pub(crate) struct Coalesced<B: Body> {
    inner: B,
    /// What the inner body yielded after the data joined so far (trailers,
    /// an error or the end, never data): given out on the next poll.
    held: Option<Polled<B::Error>>,
    ended: bool,
}

impl<B: Body> Coalesced<B> {
    pub(crate) fn new(inner: B) -> Self {
        Self { inner, held: None, ended: false }
    }
}

impl<B> Body for Coalesced<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Unpin,
{
    type Data = Chunks;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Polled<B::Error>> {
        let this = self.get_mut();
        if let Some(held) = this.held.take() {
            return Poll::Ready(held);
        }
        if this.ended {
            return Poll::Ready(None);
        }
        let mut data = Chunks::default();
        while !data.full() {
            let polled = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending if data.remaining() == 0 => return Poll::Pending,
                Poll::Pending => break,
                Poll::Ready(polled) => polled,
            };
            let polled = match polled {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(chunk) => {
                        data.push(chunk);
                        continue;
                    },
                    Err(other) => Some(Ok(other.map_data(Chunks::from))),
                },
                Some(Err(error)) => Some(Err(error)),
                None => {
                    this.ended = true;
                    None
                },
            };
            if data.remaining() == 0 {
                return Poll::Ready(polled);
            }
            this.held = Some(polled);
            break;
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match self.held {
            Some(None) => true,
            Some(Some(_)) => false,
            None => self.ended || self.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        // What is held is never data, so the inner hint is exact.
        self.inner.size_hint()
    }
}

/// `inner` with every response body [`Coalesced`].
#[derive(Clone)]
pub(crate) struct CoalesceResponses<S>(pub(crate) S);

impl<S, Request, B> tower::Service<Request> for CoalesceResponses<S>
where
    S: tower::Service<Request, Response = http::Response<B>>,
    B: Body,
{
    type Response = http::Response<Coalesced<B>>;
    type Error = S::Error;
    type Future = MapOk<S::Future, fn(http::Response<B>) -> http::Response<Coalesced<B>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.0.call(request).map_ok(|response| response.map(Coalesced::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that yields a script of frames, `None` standing for one Pending.
    struct Script {
        steps: VecDeque<Option<Frame<Bytes>>>,
    }

    impl Body for Script {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.steps.pop_front() {
                None => Poll::Ready(None),
                Some(Some(frame)) => Poll::Ready(Some(Ok(frame))),
                Some(None) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                },
            }
        }
    }

    fn data(s: &'static str) -> Option<Frame<Bytes>> {
        Some(Frame::data(Bytes::from_static(s.as_bytes())))
    }

    /// Every frame the coalesced body yields, data as strings (one per
    /// joined buffer) and trailers as "trailers".
    async fn frames(script: Vec<Option<Frame<Bytes>>>) -> Vec<String> {
        let mut body = Coalesced::new(Script { steps: script.into() });
        let mut out = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame.unwrap();
            if frame.is_trailers() {
                out.push("trailers".to_string());
                continue;
            }
            let mut data = frame.into_data().unwrap();
            let bytes = data.copy_to_bytes(data.remaining());
            out.push(String::from_utf8(bytes.to_vec()).unwrap());
        }
        out
    }

    #[tokio::test]
    async fn ready_data_is_joined_and_a_pending_poll_ends_the_batch() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let script = vec![data("ab"), data(""), data("cd"), None, data("ef"), Some(Frame::trailers(trailers))];
        assert_eq!(frames(script).await, ["abcd", "ef", "trailers"]);
    }

    #[tokio::test]
    async fn a_body_of_only_trailers_or_nothing_passes_through() {
        assert_eq!(frames(vec![Some(Frame::trailers(http::HeaderMap::new()))]).await, ["trailers"]);
        assert_eq!(frames(vec![]).await, Vec::<String>::new());
        assert_eq!(frames(vec![data("x")]).await, ["x"]);
    }

    #[tokio::test]
    async fn at_most_max_chunks_are_joined() {
        let script: Vec<_> = (0..MAX_CHUNKS + 1).map(|_| data("z")).collect();
        let out = frames(script).await;
        assert_eq!(out.iter().map(String::len).collect::<Vec<_>>(), [MAX_CHUNKS, 1]);
    }

    #[test]
    fn chunks_read_in_order_across_boundaries() {
        let mut chunks = Chunks::default();
        for part in ["abc", "", "de", "fghi"] {
            chunks.push(Bytes::from_static(part.as_bytes()));
        }
        assert_eq!(chunks.remaining(), 9);
        let mut slices = [IoSlice::new(&[]); 8];
        let n = chunks.chunks_vectored(&mut slices);
        let seen: Vec<&[u8]> = slices[..n].iter().map(|s| &**s).collect();
        assert_eq!(seen, [&b"abc"[..], b"de", b"fghi"]);
        chunks.advance(4);
        assert_eq!(chunks.chunk(), b"e");
        assert_eq!(chunks.copy_to_bytes(3), Bytes::from_static(b"efg"));
        assert_eq!(chunks.copy_to_bytes(1), Bytes::from_static(b"h"));
        assert_eq!(chunks.remaining(), 1);
        chunks.advance(1);
        assert_eq!((chunks.remaining(), chunks.chunk()), (0, &b""[..]));
    }
}
