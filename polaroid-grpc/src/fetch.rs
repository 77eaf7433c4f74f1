//! Arrow IPC encoding of results, straight from polars-arrow's encoder.
//!
//! [`IpcEncoder`] turns frames into IPC messages (flatbuffer header + body)
//! that each fit in one gRPC message. The native Fetch RPC frames them as an
//! IPC stream; Arrow Flight sends header and body as `FlightData` fields.
//! [`stream_result`] runs a handle (materialized or a streaming plan) through
//! an encoder, so both protocols stream the same way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use polaroid_handles::{Entry, Payload};
use polars::prelude::*;
use polars_arrow::io::ipc::write::{
    default_ipc_fields, encode_new_dictionaries, encode_record_batch, schema_to_bytes, Compression,
    DictionaryTracker, EncodedData, WriteOptions,
};
use polars_arrow::array::Array;
use polars_arrow::compute::aggregate::estimated_bytes_size;
use polars_arrow::io::ipc::read::{read_stream_metadata, StreamReader, StreamState};
use polars_arrow::io::ipc::IpcField;
use polars_arrow::record_batch::RecordBatchT;

use crate::collect::stoppable;
use crate::error::ServiceError;
use crate::slots::CancelToken;

/// Room left in each gRPC message for the protobuf framing around the IPC bytes.
const FRAMING_HEADROOM: usize = 1024;

/// The end-of-stream marker of the Arrow IPC stream format.
pub(crate) const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// The IPC messages of one record batch, dictionaries first, and its rows.
pub(crate) struct EncodedBatch {
    pub messages: Vec<EncodedData>,
    pub rows: usize,
}

impl EncodedBatch {
    /// Bytes on the wire once framed, whichever protocol frames it.
    fn wire_size(&self) -> usize {
        self.messages.iter().map(|m| m.ipc_message.len() + m.arrow_data.len() + 16).sum()
    }
}

/// Encodes frames of one schema as Arrow IPC messages, each batch at most
/// `max_message` bytes on the wire.
pub(crate) struct IpcEncoder {
    fields: Vec<IpcField>,
    tracker: DictionaryTracker,
    options: WriteOptions,
    max_message: usize,
}

impl IpcEncoder {
    /// The encoder and the schema message that must precede its batches.
    pub(crate) fn start(
        schema: &Schema,
        max_message: usize,
        compression: Option<Compression>,
    ) -> (Self, EncodedData) {
        // LargeUtf8/LargeBinary rather than views: every Arrow reader,
        // pyarrow and older C++/Java/Go included, reads them.
        let arrow_schema = schema.to_arrow(CompatLevel::oldest());
        let fields = default_ipc_fields(arrow_schema.iter_values());
        let schema_message =
            EncodedData { ipc_message: schema_to_bytes(&arrow_schema, &fields, None), arrow_data: Vec::new() };
        let encoder = Self {
            fields,
            tracker: DictionaryTracker { dictionaries: Default::default(), cannot_replace: false },
            options: WriteOptions { compression },
            max_message: max_message.saturating_sub(FRAMING_HEADROOM).max(1024),
        };
        (encoder, schema_message)
    }

    /// Encode `df` as batches, each under the size limit, handing each to
    /// `out`. Returns false as soon as `out` does (the receiver went away).
    pub(crate) fn encode(
        &mut self,
        df: &DataFrame,
        out: &mut dyn FnMut(EncodedBatch) -> bool,
    ) -> Result<bool, ServiceError> {
        if df.height() == 0 {
            return Ok(true);
        }
        // First guess from the average row size, aiming at well-filled
        // messages; a batch that still comes out too large is halved.
        let bytes_per_row = (df.estimated_size() / df.height()).max(1);
        let rows = (self.max_message * 3 / 4 / bytes_per_row).clamp(1, df.height());
        let mut offset = 0;
        while offset < df.height() {
            let len = rows.min(df.height() - offset);
            if !self.encode_slice(&df.slice(offset as i64, len), out)? {
                return Ok(false);
            }
            offset += len;
        }
        Ok(true)
    }

    fn encode_slice(&mut self, df: &DataFrame, out: &mut dyn FnMut(EncodedBatch) -> bool) -> Result<bool, ServiceError> {
        let aligned;
        let df = if df.should_rechunk() {
            let mut copy = df.clone();
            copy.rechunk_mut();
            aligned = copy;
            &aligned
        } else {
            df
        };
        let mut start = 0;
        for chunk in df.iter_chunks(CompatLevel::oldest(), false) {
            let rows = chunk.len();
            let batch = self.encode_chunk(&chunk)?;
            if batch.wire_size() > self.max_message {
                if rows <= 1 {
                    return Err(ServiceError::InvalidArgument(format!(
                        "one row encodes to {} bytes, over the {} byte message limit",
                        batch.wire_size(),
                        self.max_message
                    )));
                }
                let (piece, half) = (df.slice(start as i64, rows), rows / 2);
                if !self.encode_slice(&piece.slice(0, half), out)?
                    || !self.encode_slice(&piece.slice(half as i64, rows - half), out)?
                {
                    return Ok(false);
                }
            } else if !out(batch) {
                return Ok(false);
            }
            start += rows;
        }
        Ok(true)
    }

    fn encode_chunk(&mut self, chunk: &RecordBatchT<Box<dyn Array>>) -> Result<EncodedBatch, ServiceError> {
        let mut messages = Vec::new();
        for (field, array) in self.fields.iter().zip(chunk.arrays()) {
            encode_new_dictionaries(field, array.as_ref(), &self.options, &mut self.tracker, &mut messages)?;
        }
        // Room for the whole body up front: growing it as it is written
        // would copy it about once more. Each buffer is padded to 64 bytes.
        let body: usize = chunk.arrays().iter().map(|a| estimated_bytes_size(a.as_ref()) + 3 * 64).sum();
        let mut record = EncodedData { ipc_message: Vec::new(), arrow_data: Vec::with_capacity(body) };
        encode_record_batch(chunk, &self.options, &mut record);
        messages.push(record);
        Ok(EncodedBatch { messages, rows: chunk.len() })
    }
}

/// One message in the IPC stream framing (continuation marker, header
/// length, header padded to 8 bytes, body padded to 64) as parts, so the
/// body is not copied: the framed header, the body, its padding.
pub(crate) fn frame_parts(message: EncodedData, parts: &mut Vec<bytes::Bytes>) {
    let mut head = Vec::with_capacity(8 + message.ipc_message.len().next_multiple_of(8));
    frame_header(&message.ipc_message, &mut head);
    parts.push(head.into());
    let padding = body_padding(message.arrow_data.len());
    if !message.arrow_data.is_empty() {
        parts.push(message.arrow_data.into());
    }
    if !padding.is_empty() {
        parts.push(bytes::Bytes::from_static(padding));
    }
}

/// Append the framing's first part: marker, length and padded header.
pub(crate) fn frame_header(header: &[u8], out: &mut Vec<u8>) {
    let padded = header.len().next_multiple_of(8);
    out.extend_from_slice(&END_OF_STREAM[..4]);
    out.extend_from_slice(&(padded as i32).to_le_bytes());
    out.extend_from_slice(header);
    out.resize(out.len() + padded - header.len(), 0);
}

/// Zeros that pad a body of `len` bytes to a multiple of 64.
fn body_padding(len: usize) -> &'static [u8] {
    static ZEROS: [u8; 64] = [0; 64];
    &ZEROS[..len.next_multiple_of(64) - len]
}

/// How much of a handle's result to send.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Window {
    pub offset: i64,
    pub limit: Option<IdxSize>,
}

/// Run `entry` through `encoder`, handing each batch to `out`: a frame is
/// sliced and encoded; a plan runs on the streaming engine and its batches
/// are encoded as they are produced, so memory stays bounded. Returns false
/// when `out` reported that the receiver went away (the query is stopped).
pub(crate) fn stream_result(
    entry: &Entry,
    window: Window,
    mut encoder: IpcEncoder,
    mut out: impl FnMut(EncodedBatch) -> bool + Send + 'static,
    cancel: &CancelToken,
) -> Result<bool, ServiceError> {
    match entry.payload() {
        Payload::Frame(df) => {
            let height = df.height() as i64;
            let start = window.offset.clamp(0, height);
            let len = window.limit.map_or(height - start, |l| (l as i64).min(height - start));
            encoder.encode(&df.slice(start, len as usize), &mut out)
        },
        Payload::Plan(lf) => {
            let open = Arc::new(AtomicBool::new(true));
            let still_open = open.clone();
            let state = Mutex::new((encoder, out));
            let callback = PlanCallback::new(move |df: DataFrame| {
                let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
                let (encoder, out) = &mut *guard;
                let alive = encoder.encode(&df, out).map_err(|e| polars_err!(ComputeError: "{e}"))?;
                still_open.store(alive, Ordering::Relaxed);
                // `true` stops the query: the client went away.
                Ok(!alive)
            });
            let mut lf = lf.clone();
            if window.offset > 0 || window.limit.is_some() {
                lf = lf.slice(window.offset, window.limit.unwrap_or(IdxSize::MAX));
            }
            let ran = stoppable(cancel, || Ok(lf.sink_batches(callback, true, None)?.collect_with_engine(Engine::Streaming)?));
            match ran {
                Err(ServiceError::Cancelled(_)) => Ok(false),
                other => other.map(|_| open.load(Ordering::Relaxed)),
            }
        },
    }
}

/// Read the messages of a Fetch back into a DataFrame, one chunk per record
/// batch as it arrived (no rechunk: that would copy the whole result again).
pub fn decode_ipc_stream(messages: impl IntoIterator<Item = crate::proto::IpcMessage>) -> PolarsResult<DataFrame> {
    read_ipc_stream(ChunkedReader::new(messages.into_iter().flat_map(|m| m.into_parts())))
}

/// An Arrow IPC stream read from `reader`, kept in the chunks it was sent in.
pub(crate) fn read_ipc_stream(mut reader: impl std::io::Read + std::io::Seek) -> PolarsResult<DataFrame> {
    let metadata = read_stream_metadata(&mut reader)?;
    crate::upload::check_arrow_schema(&metadata.schema).map_err(|e| polars_err!(ComputeError: "{e}"))?;
    let mut df = DataFrame::empty_with_schema(&Schema::from_arrow_schema(&metadata.schema));
    for state in StreamReader::new(reader, metadata, None) {
        match state? {
            // Every batch has the stream's schema: appending moves its chunks.
            StreamState::Some(batch) => {
                df.vstack_mut_owned_unchecked(DataFrame::from(batch));
            },
            // The input ended without the end-of-stream marker, which the
            // format allows; there is nothing more to wait for.
            StreamState::Waiting => break,
        }
    }
    Ok(df)
}

/// `Read` over a sequence of byte chunks, so a stream that arrived in pieces
/// is read in place rather than first concatenated into one buffer. It
/// seeks forward only (the IPC reader skips body padding that way).
pub(crate) struct ChunkedReader<I> {
    chunks: I,
    current: bytes::Bytes,
    position: u64,
}

impl<I: Iterator<Item = bytes::Bytes>> ChunkedReader<I> {
    pub(crate) fn new(chunks: impl IntoIterator<IntoIter = I>) -> Self {
        Self { chunks: chunks.into_iter(), current: bytes::Bytes::new(), position: 0 }
    }

    /// The unread rest of the current chunk, fetching the next chunk when
    /// it is used up; empty at the end of the input.
    fn fill(&mut self) -> &[u8] {
        while self.current.is_empty() {
            match self.chunks.next() {
                Some(next) => self.current = next,
                None => break,
            }
        }
        &self.current
    }

    fn consume(&mut self, n: usize) {
        bytes::Buf::advance(&mut self.current, n);
        self.position += n as u64;
    }
}

impl<I: Iterator<Item = bytes::Bytes>> std::io::Read for ChunkedReader<I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill();
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<I: Iterator<Item = bytes::Bytes>> std::io::Seek for ChunkedReader<I> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let std::io::SeekFrom::Current(skip @ 0..) = to else {
            return Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "a received stream only seeks forward"));
        };
        let mut left = skip as u64;
        while left > 0 {
            let n = (self.fill().len() as u64).min(left);
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.consume(n as usize);
            left -= n;
        }
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DataFrame {
        df!(
            "id" => (0..5000i64).collect::<Vec<_>>(),
            "x" => (0..5000).map(|i| (i % 7 != 0).then_some(i as f64 * 0.25)).collect::<Vec<_>>(),
            "s" => (0..5000).map(|i| format!("row {i}")).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    /// The server's stream for `df` in messages of at most 64 KiB, joined,
    /// and how many record batches it holds.
    fn stream_bytes(df: &DataFrame) -> (Vec<u8>, usize) {
        let (mut encoder, schema) = IpcEncoder::start(df.schema(), 64 << 10, None);
        let mut parts = Vec::new();
        frame_parts(schema, &mut parts);
        let mut batches = 0;
        encoder
            .encode(df, &mut |batch| {
                batches += 1;
                batch.messages.into_iter().for_each(|m| frame_parts(m, &mut parts));
                true
            })
            .unwrap();
        parts.push(bytes::Bytes::from_static(&END_OF_STREAM));
        (parts.concat(), batches)
    }

    /// Split `bytes` at uneven places, as a network would.
    fn pieces(bytes: &[u8]) -> Vec<bytes::Bytes> {
        let mut out = Vec::new();
        let (mut at, mut step) = (0, 1);
        while at < bytes.len() {
            let end = (at + step).min(bytes.len());
            out.push(bytes::Bytes::copy_from_slice(&bytes[at..end]));
            at = end;
            step = step * 7 % 4093 + 1;
        }
        out
    }

    #[test]
    fn a_stream_in_uneven_pieces_reads_back_equal_in_its_batches() {
        let df = sample();
        let (bytes, batches) = stream_bytes(&df);
        assert!(batches > 1);
        let back = read_ipc_stream(ChunkedReader::new(pieces(&bytes))).unwrap();
        assert!(back.equals_missing(&df));
        assert_eq!(back.first_col_n_chunks(), batches, "one chunk per batch, not rechunked");
    }

    #[test]
    fn a_missing_end_marker_is_allowed_and_a_cut_message_is_an_error() {
        let df = sample();
        let (bytes, _) = stream_bytes(&df);
        let unmarked = &bytes[..bytes.len() - END_OF_STREAM.len()];
        assert!(read_ipc_stream(ChunkedReader::new(pieces(unmarked))).unwrap().equals_missing(&df));
        let cut = &bytes[..bytes.len() / 2];
        assert!(read_ipc_stream(ChunkedReader::new(pieces(cut))).is_err());
        let empty = read_ipc_stream(ChunkedReader::new(pieces(&stream_bytes(&df.clear()).0))).unwrap();
        assert_eq!((empty.height(), empty.schema()), (0, df.schema()));
    }

    #[test]
    fn the_reader_seeks_forward_only() {
        use std::io::{Read, Seek, SeekFrom};
        let mut reader = ChunkedReader::new(pieces(&(0..=255u8).collect::<Vec<_>>()));
        assert_eq!(reader.seek(SeekFrom::Current(10)).unwrap(), 10);
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).unwrap();
        assert_eq!(two, [10, 11]);
        assert_eq!(reader.stream_position().unwrap(), 12);
        assert!(reader.seek(SeekFrom::Current(-1)).is_err());
        assert!(reader.seek(SeekFrom::Start(0)).is_err());
        assert!(reader.seek(SeekFrom::Current(1000)).is_err());
    }
}
