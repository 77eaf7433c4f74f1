//! Uploaded Arrow IPC streams (Upload, DoPut): checked before they are
//! decoded.
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
use polars::prelude::TimeZone;
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema};
use polars_arrow::io::ipc::format::ipc::planus::ReadAsRoot;
use polars_arrow::io::ipc::format::ipc::{MessageHeaderRef, MessageRef, RecordBatchRef};

use crate::error::ServiceError;

/// The largest message header (flatbuffer) accepted: schemas of thousands
/// of columns fit well inside it.
const MAX_HEADER: u64 = 16 << 20;

/// Check the IPC stream in `chunks` against `budget_left` bytes.
pub(crate) fn check_ipc_stream(chunks: &[Bytes], budget_left: u64) -> Result<(), ServiceError> {
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
                return Err(ServiceError::ResourceExhausted(format!(
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
fn check_batch(stream: &Chunks<'_>, batch: RecordBatchRef<'_>, body_start: u64, body_length: u64) -> Result<(u64, u64), ServiceError> {
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
pub(crate) fn check_arrow_schema(schema: &ArrowSchema) -> Result<(), ServiceError> {
    schema.iter_values().try_for_each(|field| check_arrow_type(&field.name, &field.dtype))
}

fn check_arrow_type(column: &str, dtype: &ArrowDataType) -> Result<(), ServiceError> {
    use ArrowDataType as A;
    match dtype {
        A::Null | A::Boolean | A::Int8 | A::Int16 | A::Int32 | A::Int64 | A::Int128 | A::UInt8 | A::UInt16
        | A::UInt32 | A::UInt64 | A::UInt128 | A::Float16 | A::Float32 | A::Float64 | A::Date32 | A::Date64
        | A::Time32(_) | A::Time64(_) | A::Duration(_) | A::Timestamp(_, None) | A::Binary | A::LargeBinary
        | A::BinaryView | A::FixedSizeBinary(_) | A::Utf8 | A::LargeUtf8 | A::Utf8View | A::Decimal(_, _) => Ok(()),
        A::Timestamp(_, Some(tz)) => TimeZone::opt_try_new(Some(tz.clone()))
            .map(|_| ())
            .map_err(|e| ServiceError::InvalidArgument(format!("column {column:?}: time zone {tz:?}: {e}"))),
        A::List(inner) | A::LargeList(inner) | A::FixedSizeList(inner, _) | A::Map(inner, _) => {
            check_arrow_type(column, &inner.dtype)
        },
        A::Struct(fields) => fields.iter().try_for_each(|f| check_arrow_type(column, &f.dtype)),
        A::Dictionary(_, values, _) => check_arrow_type(column, values),
        other => Err(ServiceError::InvalidArgument(format!(
            "column {column:?}: the Arrow type {other:?} has no polars type; cast it before uploading"
        ))),
    }
}

fn malformed(message: impl std::fmt::Display) -> ServiceError {
    ServiceError::InvalidArgument(format!("the upload is not a valid Arrow IPC stream: {message}"))
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
                    Err(ServiceError::ResourceExhausted(m)) => assert!(m.contains("50000 bytes of your share"), "{m}"),
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
            Err(ServiceError::ResourceExhausted(m)) => assert!(m.contains("35184372"), "{m}"),
            other => panic!("expected RESOURCE_EXHAUSTED, got {other:?}"),
        }
    }

    #[test]
    fn a_truncated_stream_is_invalid() {
        let bytes = stream(&frame(), None);
        let cut = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
        match check_ipc_stream(&[cut], u64::MAX) {
            Err(ServiceError::InvalidArgument(m)) => assert!(m.contains("longer than the upload"), "{m}"),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod fuzz_found {
    use super::*;
    use crate::fetch::{read_ipc_stream, ChunkedReader};

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
            let outcome = checked.and_then(|_| read_ipc_stream(ChunkedReader::new(chunks)).map(|_| ()).map_err(ServiceError::from));
            assert!(outcome.is_err(), "{} decoded", file.display());
        }
    }
}
