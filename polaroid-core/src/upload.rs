//! Uploaded Arrow IPC streams (Upload, DoPut): checked, then decoded.
//!
//! polars-arrow's reader allocates what a message *declares* before it reads
//! it: the decompressed length at the head of each compressed buffer, and
//! each buffer's length. A few bytes can declare terabytes, and a failed
//! allocation aborts the process (`catch_unwind` cannot catch that). So the
//! stream's framing is walked here first, without decoding any data:
//! - every buffer lies inside its message body, and every body inside what
//!   was received;
//! - the bytes the stream would decode to (declared decompressed lengths,
//!   plain buffer lengths) and its row count fit the memory budget left.

use bytes::Bytes;
use polars::prelude::*;
use polars_arrow::io::ipc::read::{read_stream_metadata, StreamReader, StreamState};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema};
use polars_arrow::io::ipc::format::ipc::planus::ReadAsRoot;
use polars_arrow::io::ipc::format::ipc::{MessageHeaderRef, MessageRef, RecordBatchRef};

use crate::error::CoreError;

/// The largest message header (flatbuffer) accepted: schemas of thousands
/// of columns fit well inside it.
const MAX_HEADER: u64 = 16 << 20;

/// Check the IPC stream in `chunks` against `budget_left` bytes.
pub fn check_ipc_stream(chunks: &[Bytes], budget_left: u64) -> Result<(), CoreError> {
    let stream = Chunks::new(chunks);
    let mut position = 0u64;
    let (mut decoded, mut rows) = (0u64, 0u64);
    loop {
        let Some(marker) = stream.u32_at(position) else { return Ok(()) };
        position += 4;
        // Since Arrow 0.15 a header is prefixed by 0xFFFFFFFF, then its length.
        let header_length = if marker == u32::MAX {
            let length = stream.u32_at(position).ok_or_else(|| malformed("the stream ends inside a message prefix"))?;
            position += 4;
            length
        } else {
            marker
        };
        let header_length = u64::from(header_length as i32 as u32);
        if header_length == 0 {
            return Ok(()); // end-of-stream marker
        }
        if header_length > MAX_HEADER {
            return Err(malformed(format!("a message header of {header_length} bytes is larger than {MAX_HEADER}")));
        }
        let header = stream.bytes_at(position, header_length).ok_or_else(|| malformed("the stream ends inside a message header"))?;
        position += header_length;
        let message = MessageRef::read_as_root(&header).map_err(|e| malformed(format!("invalid message header: {e}")))?;
        let body_length = message.body_length().map_err(|e| malformed(format!("invalid body length: {e}")))?;
        let body_length = u64::try_from(body_length).map_err(|_| malformed("negative body length"))?;
        let body_end = position.checked_add(body_length).filter(|end| *end <= stream.total);
        let body_end = body_end.ok_or_else(|| malformed(format!("a message body of {body_length} bytes is longer than the upload")))?;
        let batch = match message.header().map_err(|e| malformed(format!("invalid message header: {e}")))? {
            Some(MessageHeaderRef::RecordBatch(batch)) => Some(batch),
            Some(MessageHeaderRef::DictionaryBatch(dictionary)) => {
                dictionary.data().map_err(|e| malformed(format!("invalid dictionary batch: {e}")))?
            },
            _ => None,
        };
        if let Some(batch) = batch {
            let (batch_bytes, batch_rows) = check_batch(&stream, batch, position, body_length)?;
            decoded = decoded.saturating_add(batch_bytes);
            rows = rows.saturating_add(batch_rows);
            // A row costs at least a byte somewhere; a row count beyond the
            // budget would be allocated by later work even if nothing is here.
            if decoded > budget_left || rows > budget_left {
                return Err(CoreError::ResourceExhausted(format!(
                    "the upload declares at least {decoded} bytes in {rows} rows once decoded, more than the \
                     {budget_left} bytes of your share of the server's memory budget"
                )));
            }
        }
        position = body_end;
    }
}

/// The bytes `batch` decodes to, and its rows; every buffer must lie in the
/// body at `body_start..body_start + body_length`.
fn check_batch(stream: &Chunks<'_>, batch: RecordBatchRef<'_>, body_start: u64, body_length: u64) -> Result<(u64, u64), CoreError> {
    let invalid = |e: polars_arrow::io::ipc::format::ipc::planus::Error| malformed(format!("invalid record batch: {e}"));
    let rows = u64::try_from(batch.length().map_err(invalid)?).map_err(|_| malformed("negative row count"))?;
    let compressed = batch.compression().map_err(invalid)?.is_some();
    let mut decoded = 0u64;
    for buffer in batch.buffers().map_err(invalid)?.into_iter().flatten() {
        let (offset, length) = (buffer.offset(), buffer.length());
        let (Ok(offset), Ok(length)) = (u64::try_from(offset), u64::try_from(length)) else {
            return Err(malformed("a buffer has a negative offset or length"));
        };
        if offset.checked_add(length).is_none_or(|end| end > body_length) {
            return Err(malformed(format!(
                "a buffer at {offset}+{length} lies outside its message body of {body_length} bytes"
            )));
        }
        // A compressed buffer starts with its 8-byte decompressed length;
        // polars-arrow slices those 8 bytes without checking (a panic).
        if compressed && (1..8).contains(&length) {
            return Err(malformed(format!("a compressed buffer of {length} bytes has no length prefix")));
        }
        decoded = decoded.saturating_add(if compressed && length >= 8 {
            // The first 8 bytes: the decompressed length, or -1 for "stored as is".
            let declared = stream.i64_at(body_start + offset).ok_or_else(|| malformed("truncated buffer"))?;
            match declared {
                -1 => length - 8,
                n if n >= 0 => n as u64,
                n => return Err(malformed(format!("a compressed buffer declares a length of {n}"))),
            }
        } else {
            length
        });
    }
    // An array without buffers (a null array) is allocated from its node's
    // length alone: a bitmap of length/8 bytes. Count that too.
    for node in batch.nodes().map_err(invalid)?.into_iter().flatten() {
        let length = u64::try_from(node.length()).map_err(|_| malformed("a field node has a negative length"))?;
        decoded = decoded.saturating_add(length.div_ceil(8));
    }
    Ok((decoded, rows))
}

/// polars-core converts Arrow types to polars types infallibly: it panics on
/// a type it does not map (intervals, unions, run-end encoding, ...) and on a
/// time zone it cannot parse. Refuse those with a clear error first.
pub fn check_arrow_schema(schema: &ArrowSchema) -> Result<(), CoreError> {
    schema.iter_values().try_for_each(|field| check_arrow_type(&field.name, &field.dtype))
}

fn check_arrow_type(column: &str, dtype: &ArrowDataType) -> Result<(), CoreError> {
    use ArrowDataType as A;
    match dtype {
        A::Null | A::Boolean | A::Int8 | A::Int16 | A::Int32 | A::Int64 | A::Int128 | A::UInt8 | A::UInt16
        | A::UInt32 | A::UInt64 | A::UInt128 | A::Float16 | A::Float32 | A::Float64 | A::Date32 | A::Date64
        | A::Time32(_) | A::Time64(_) | A::Duration(_) | A::Timestamp(_, None) | A::Binary | A::LargeBinary
        | A::BinaryView | A::FixedSizeBinary(_) | A::Utf8 | A::LargeUtf8 | A::Utf8View | A::Decimal(_, _) => Ok(()),
        A::Timestamp(_, Some(tz)) => TimeZone::opt_try_new(Some(tz.clone()))
            .map(|_| ())
            .map_err(|e| CoreError::InvalidArgument(format!("column {column:?}: time zone {tz:?}: {e}"))),
        A::List(inner) | A::LargeList(inner) | A::FixedSizeList(inner, _) | A::Map(inner, _) => {
            check_arrow_type(column, &inner.dtype)
        },
        A::Struct(fields) => fields.iter().try_for_each(|f| check_arrow_type(column, &f.dtype)),
        A::Dictionary(_, values, _) => check_arrow_type(column, values),
        other => Err(CoreError::InvalidArgument(format!(
            "column {column:?}: the Arrow type {other:?} has no polars type; cast it before uploading"
        ))),
    }
}

fn malformed(message: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidArgument(format!("the upload is not a valid Arrow IPC stream: {message}"))
}

/// Random access to a stream received in chunks, without joining them.
struct Chunks<'a> {
    chunks: &'a [Bytes],
    /// Where each chunk starts in the stream.
    starts: Vec<u64>,
    total: u64,
}

impl<'a> Chunks<'a> {
    fn new(chunks: &'a [Bytes]) -> Self {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut total = 0u64;
        for c in chunks {
            starts.push(total);
            total += c.len() as u64;
        }
        Self { chunks, starts, total }
    }

    /// `length` bytes at `position`, or `None` past the end.
    fn bytes_at(&self, position: u64, length: u64) -> Option<Vec<u8>> {
        if position.checked_add(length)? > self.total {
            return None;
        }
        let mut out = Vec::with_capacity(length as usize);
        let mut chunk = self.starts.partition_point(|start| *start <= position).checked_sub(1)?;
        let mut at = (position - self.starts[chunk]) as usize;
        while (out.len() as u64) < length {
            let data = &self.chunks[chunk];
            let take = (data.len() - at).min(length as usize - out.len());
            out.extend_from_slice(&data[at..at + take]);
            chunk += 1;
            at = 0;
        }
        Some(out)
    }

    fn u32_at(&self, position: u64) -> Option<u32> {
        self.bytes_at(position, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn i64_at(&self, position: u64) -> Option<i64> {
        self.bytes_at(position, 8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
}

/// An Arrow IPC stream read from `reader`, kept in the chunks it was sent in.
pub fn read_ipc_stream(mut reader: impl std::io::Read + std::io::Seek) -> PolarsResult<DataFrame> {
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
pub struct ChunkedReader<I> {
    chunks: I,
    current: bytes::Bytes,
    position: u64,
}

impl<I: Iterator<Item = bytes::Bytes>> ChunkedReader<I> {
    pub fn new(chunks: impl IntoIterator<IntoIter = I>) -> Self {
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
    use polars::prelude::*;

    use super::*;

    fn stream(df: &DataFrame, compression: Option<IpcCompression>) -> Vec<u8> {
        let mut out = Vec::new();
        IpcStreamWriter::new(&mut out).with_compression(compression).finish(&mut df.clone()).unwrap();
        out
    }

    fn frame() -> DataFrame {
        df!("a" => (0..10_000i64).collect::<Vec<_>>(), "s" => vec!["x"; 10_000]).unwrap()
    }

    #[test]
    fn a_valid_stream_in_any_chunking_passes_and_its_size_is_counted() {
        for compression in [None, Some(IpcCompression::LZ4), Some(IpcCompression::ZSTD(Default::default()))] {
            let bytes = stream(&frame(), compression);
            for chunk in [1, 7, 4096, bytes.len()] {
                let chunks: Vec<Bytes> = bytes.chunks(chunk).map(Bytes::copy_from_slice).collect();
                check_ipc_stream(&chunks, u64::MAX).unwrap();
                // 10k i64 values alone decode to 80 kB: a smaller budget is refused.
                match check_ipc_stream(&chunks, 50_000) {
                    Err(CoreError::ResourceExhausted(m)) => assert!(m.contains("50000 bytes of your share"), "{m}"),
                    other => panic!("expected RESOURCE_EXHAUSTED, got {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_declared_decompressed_length_beyond_the_budget_is_refused() {
        let bytes = stream(&frame(), Some(IpcCompression::LZ4));
        // Find the 8-byte length prefix of the first compressed buffer:
        // 80000 (10k i64 values) little-endian.
        let needle = 80_000i64.to_le_bytes();
        let at = bytes.windows(8).position(|w| w == needle).expect("the i64 column's declared length");
        let mut bomb = bytes.clone();
        bomb[at..at + 8].copy_from_slice(&(1i64 << 45).to_le_bytes());
        match check_ipc_stream(&[Bytes::from(bomb)], 1 << 30) {
            Err(CoreError::ResourceExhausted(m)) => assert!(m.contains("35184372"), "{m}"),
            other => panic!("expected RESOURCE_EXHAUSTED, got {other:?}"),
        }
    }

    #[test]
    fn a_truncated_stream_is_invalid() {
        let bytes = stream(&frame(), None);
        let cut = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
        match check_ipc_stream(&[cut], u64::MAX) {
            Err(CoreError::InvalidArgument(m)) => assert!(m.contains("longer than the upload"), "{m}"),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod fuzz_found {
    use super::*;
    
    /// Streams `make fuzz` found panicking inside polars' IPC reader (now
    /// patch 0006 and the checks above): each is a clean error, with no
    /// catch_unwind around the decode.
    #[test]
    fn fuzz_found_streams_are_errors_not_panics() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-upload");
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert!(files.len() >= 8, "the fixtures are in {}", dir.display());
        for file in files {
            let chunks = vec![Bytes::from(std::fs::read(&file).unwrap())];
            let checked = check_ipc_stream(&chunks, 64 << 20);
            let outcome = checked.and_then(|_| read_ipc_stream(ChunkedReader::new(chunks)).map(|_| ()).map_err(CoreError::from));
            assert!(outcome.is_err(), "{} decoded", file.display());
        }
    }
}

#[cfg(test)]
mod round_trip {
    use polars::prelude::*;

    use super::*;
    use crate::ipc::{frame_parts, IpcEncoder, END_OF_STREAM};

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
