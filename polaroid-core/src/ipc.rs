//! Arrow IPC encoding of results, straight from polars-arrow's encoder.
//!
//! [`IpcEncoder`] turns frames into IPC messages (flatbuffer header + body)
//! that each fit in one message of the door that sends them. The native
//! Fetch RPC frames them as an IPC stream ([`frame_parts`]); Arrow Flight
//! sends header and body as `FlightData` fields. [`IpcSink`] plugs the
//! encoder into [`crate::results`], so both doors stream the same way.

use polars::prelude::*;
use std::sync::Arc;

use bytes::Bytes;
use polars_arrow::io::ipc::write::{
    default_ipc_fields, encode_new_dictionaries, encode_record_batch_parts, schema_to_bytes, BodyPart,
    Compression, DictionaryTracker, EncodedData, WriteOptions,
};
use polars_arrow::array::Array;
use polars_arrow::io::ipc::IpcField;
use polars_arrow::record_batch::RecordBatchT;

use crate::collect::conformed;
use crate::error::CoreError;
use crate::results::ResultSink;

/// Room left in each message for the protocol's framing around the IPC bytes.
const FRAMING_HEADROOM: usize = 1024;

/// The end-of-stream marker of the Arrow IPC stream format.
pub const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// Buffers at least this large go out from the result's own memory; smaller
/// ones are copied next to the padding (one part each costs more than that).
const MIN_BORROWED_BUFFER: usize = 4096;

/// One Arrow IPC message: its flatbuffer header (unframed) and its body in
/// parts. A record batch's body refers to the result's array buffers rather
/// than holding a copy, so a door that writes the parts as they are (a
/// vectored write) never copies the data before the socket does.
#[derive(Debug, Clone)]
pub struct EncodedMessage {
    pub header: Vec<u8>,
    pub body: Vec<Bytes>,
}

impl EncodedMessage {
    /// Bytes of the body (its parts joined).
    pub fn body_len(&self) -> usize {
        self.body.iter().map(Bytes::len).sum()
    }
}

impl From<EncodedData> for EncodedMessage {
    fn from(message: EncodedData) -> Self {
        let body = if message.arrow_data.is_empty() { Vec::new() } else { vec![Bytes::from(message.arrow_data)] };
        Self { header: message.ipc_message, body }
    }
}

/// The IPC messages of one record batch, dictionaries first, and its rows.
pub struct EncodedBatch {
    pub messages: Vec<EncodedMessage>,
    pub rows: usize,
}

impl EncodedBatch {
    /// Bytes on the wire once framed, whichever protocol frames it.
    fn wire_size(&self) -> usize {
        self.messages.iter().map(|m| m.header.len() + m.body_len() + 16).sum()
    }
}

/// A record batch whose buffers a message body borrows; the body's parts
/// hold it, so the arrays (and the result memory they share) live until the
/// last part is sent.
struct BorrowedBuffer {
    _batch: Arc<RecordBatchT<Box<dyn Array>>>,
    ptr: *const u8,
    len: usize,
}

// SAFETY: the pointer is only read, and it points into immutable array
// memory that `_batch` keeps alive; arrays are `Send + Sync`.
unsafe impl Send for BorrowedBuffer {}

impl AsRef<[u8]> for BorrowedBuffer {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr..ptr + len` is a buffer of an array of `_batch` (or
        // storage such an array shares), which is never mutated or freed
        // while `_batch` is alive (encode_record_batch_parts' contract).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Encodes frames of one schema as Arrow IPC messages, each batch at most
/// `max_message` bytes on the wire.
pub struct IpcEncoder {
    /// The schema the stream's head declared (categoricals as text): every
    /// batch is sent in it.
    declared: Schema,
    fields: Vec<IpcField>,
    tracker: DictionaryTracker,
    options: WriteOptions,
    max_message: usize,
}

impl IpcEncoder {
    /// The encoder and the schema message that must precede its batches.
    /// The Schema message a stream of `schema` starts with (flatbuffer,
    /// unframed), as the stream itself would send it.
    pub fn schema_message(schema: &Schema) -> Vec<u8> {
        Self::start(schema, usize::MAX, None).1.header
    }

    /// [`IpcEncoder::schema_message`], encoded once per schema: every
    /// handle reply (KeepAlive included) carries it, and a handle's schema
    /// is one shared `Arc`. Keyed by that `Arc`'s address; the cache holds
    /// the `Arc`, so an address cannot be reused while its entry lives.
    pub fn schema_message_cached(schema: &SchemaRef) -> Bytes {
        type Messages = std::sync::Mutex<std::collections::HashMap<usize, (SchemaRef, Bytes)>>;
        static MESSAGES: std::sync::OnceLock<Messages> = std::sync::OnceLock::new();
        const MOST: usize = 4096;
        let messages = MESSAGES.get_or_init(Default::default);
        let key = Arc::as_ptr(schema) as *const () as usize;
        if let Some((_, message)) = messages.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return message.clone();
        }
        let message = Bytes::from(Self::schema_message(schema));
        let mut held = messages.lock().unwrap_or_else(|p| p.into_inner());
        if held.len() >= MOST {
            held.clear(); // rare: more live schemas than this are re-encoded
        }
        held.insert(key, (schema.clone(), message.clone()));
        message
    }

    pub fn start(
        schema: &Schema,
        max_message: usize,
        compression: Option<Compression>,
    ) -> (Self, EncodedMessage) {
        // Categoricals (SYMBOL columns) travel as text: polars gives each
        // batch its own dictionary, and a replaced dictionary mid-stream is
        // more than some readers take (pyarrow's Flight reader refuses it).
        // So do categoricals inside structs and lists (cut's include_breaks).
        let mut schema = schema.clone();
        for (_, dtype) in schema.iter_mut() {
            if let Some(text) = categoricals_as_text(dtype) {
                *dtype = text;
            }
        }
        // LargeUtf8/LargeBinary rather than views: every Arrow reader,
        // pyarrow and older C++/Java/Go included, reads them.
        let arrow_schema = schema.to_arrow(CompatLevel::oldest());
        let fields = default_ipc_fields(arrow_schema.iter_values());
        let schema_message = EncodedMessage { header: schema_to_bytes(&arrow_schema, &fields, None), body: Vec::new() };
        let encoder = Self {
            declared: schema.clone(),
            fields,
            tracker: DictionaryTracker { dictionaries: Default::default(), cannot_replace: false },
            options: WriteOptions { compression },
            max_message: max_message.saturating_sub(FRAMING_HEADROOM).max(1024),
        };
        (encoder, schema_message)
    }

    /// Encode `df` as batches, each under the size limit, handing each to
    /// `out`. Returns false as soon as `out` does (the receiver went away).
    pub fn encode(
        &mut self,
        df: &DataFrame,
        out: &mut dyn FnMut(EncodedBatch) -> bool,
    ) -> Result<bool, CoreError> {
        if df.height() == 0 {
            return Ok(true);
        }
        // Categoricals travel as text; see `conformed` for the rest.
        let conformed = conformed(df, &self.declared)?;
        let df = conformed.as_ref();
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

    fn encode_slice(&mut self, df: &DataFrame, out: &mut dyn FnMut(EncodedBatch) -> bool) -> Result<bool, CoreError> {
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
            let batch = self.encode_chunk(chunk)?;
            if batch.wire_size() > self.max_message {
                if rows <= 1 {
                    return Err(CoreError::InvalidArgument(format!(
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

    fn encode_chunk(&mut self, chunk: RecordBatchT<Box<dyn Array>>) -> Result<EncodedBatch, CoreError> {
        let mut dictionaries = Vec::new();
        for (field, array) in self.fields.iter().zip(chunk.arrays()) {
            encode_new_dictionaries(field, array.as_ref(), &self.options, &mut self.tracker, &mut dictionaries)?;
        }
        let mut messages: Vec<EncodedMessage> = dictionaries.into_iter().map(Into::into).collect();
        let rows = chunk.len();
        let chunk = Arc::new(chunk);
        let record = encode_record_batch_parts(&chunk, &self.options, MIN_BORROWED_BUFFER);
        let written = Bytes::from(record.written);
        let body = record
            .body
            .into_iter()
            .map(|part| match part {
                BodyPart::Written(range) => written.slice(range),
                BodyPart::Borrowed(buffer) => Bytes::from_owner(BorrowedBuffer {
                    _batch: chunk.clone(),
                    ptr: buffer.as_ptr(),
                    len: buffer.len(),
                }),
            })
            .collect();
        messages.push(EncodedMessage { header: record.ipc_message, body });
        Ok(EncodedBatch { messages, rows })
    }
}

/// One message in the IPC stream framing (continuation marker, header
/// length, header padded to 8 bytes, body padded to 64) as parts, so the
/// body is not copied: the framed header, the body, its padding.
pub fn frame_parts(message: EncodedMessage, parts: &mut Vec<Bytes>) {
    let mut head = Vec::with_capacity(8 + message.header.len().next_multiple_of(8));
    frame_header(&message.header, &mut head);
    parts.push(head.into());
    let padding = body_padding(message.body_len());
    parts.extend(message.body.into_iter().filter(|part| !part.is_empty()));
    if !padding.is_empty() {
        parts.push(Bytes::from_static(padding));
    }
}

/// Append the framing's first part: marker, length and padded header.
pub fn frame_header(header: &[u8], out: &mut Vec<u8>) {
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

/// A result sent as Arrow IPC: the schema message first, then each batch
/// as `wrap` turns its encoded messages into the door's messages, then
/// `tail` once the result is complete.
pub struct IpcSink<M, W> {
    encoder: IpcEncoder,
    head: Vec<M>,
    wrap: W,
    tail: Vec<M>,
}

impl<M, W: FnMut(EncodedBatch) -> Vec<M>> IpcSink<M, W> {
    /// `frame_schema` turns the schema message into the door's head messages.
    pub fn new(
        schema: &Schema,
        max_message: usize,
        compression: Option<Compression>,
        frame_schema: impl FnOnce(EncodedMessage) -> Vec<M>,
        wrap: W,
        tail: Vec<M>,
    ) -> Self {
        let (encoder, schema_message) = IpcEncoder::start(schema, max_message, compression);
        Self { encoder, head: frame_schema(schema_message), wrap, tail }
    }
}

impl<M: Send + 'static, W: FnMut(EncodedBatch) -> Vec<M> + Send + 'static> ResultSink for IpcSink<M, W> {
    type Message = M;

    fn head(&mut self) -> Vec<M> {
        std::mem::take(&mut self.head)
    }

    fn batch(&mut self, df: &DataFrame, send: &mut dyn FnMut(M) -> bool) -> Result<bool, CoreError> {
        let wrap = &mut self.wrap;
        self.encoder.encode(df, &mut |batch| wrap(batch).into_iter().all(|m| send(m)))
    }

    fn tail(&mut self) -> Vec<M> {
        std::mem::take(&mut self.tail)
    }
}

/// `dtype` with every categorical and enum in it as text, if it has any.
pub(crate) fn categoricals_as_text(dtype: &DataType) -> Option<DataType> {
    match dtype {
        DataType::Categorical(..) | DataType::Enum(..) => Some(DataType::String),
        DataType::List(inner) => categoricals_as_text(inner).map(|t| DataType::List(Box::new(t))),
        DataType::Array(inner, width) => categoricals_as_text(inner).map(|t| DataType::Array(Box::new(t), *width)),
        DataType::Struct(fields) => {
            let texts: Vec<_> = fields.iter().map(|f| categoricals_as_text(f.dtype())).collect();
            texts.iter().any(Option::is_some).then(|| {
                DataType::Struct(
                    fields
                        .iter()
                        .zip(texts)
                        .map(|(f, t)| Field::new(f.name().clone(), t.unwrap_or_else(|| f.dtype().clone())))
                        .collect(),
                )
            })
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use polars_arrow::io::ipc::write::encode_record_batch;

    use super::*;

    /// Every kind of buffer the serializer writes: values, validity at bit
    /// offsets that are and are not whole bytes, string and list offsets
    /// that do and do not start at 0, booleans, nested children.
    fn sample(rows: usize) -> DataFrame {
        let list: Vec<Series> = (0..rows).map(|i| Series::new("".into(), vec![i as i32; i % 4])).collect();
        let mut df = df!(
            "id" => (0..rows as i64).collect::<Vec<_>>(),
            "price" => (0..rows).map(|i| (i % 7 != 3).then_some(i as f64 / 8.0)).collect::<Vec<_>>(),
            "name" => (0..rows).map(|i| (i % 5 != 1).then(|| format!("name-{}", i % 13))).collect::<Vec<_>>(),
            "flag" => (0..rows).map(|i| (i % 3 != 0).then_some(i % 2 == 0)).collect::<Vec<_>>(),
            "list" => list,
        )
        .unwrap();
        let nested = df.select(["id", "flag"]).unwrap().into_struct("nested".into()).into_series();
        df.with_column(nested.into()).unwrap();
        df
    }

    /// The body of the parts encoder, joined, and the addresses of the
    /// parts that came straight from the arrays.
    fn joined(
        chunk: &RecordBatchT<Box<dyn Array>>,
        options: &WriteOptions,
        min_borrow: usize,
    ) -> (Vec<u8>, Vec<u8>, Vec<*const u8>) {
        let parts = encode_record_batch_parts(chunk, options, min_borrow);
        let mut body = Vec::new();
        let mut borrowed = Vec::new();
        for part in &parts.body {
            match part {
                BodyPart::Written(range) => body.extend_from_slice(&parts.written[range.clone()]),
                BodyPart::Borrowed(buffer) => {
                    borrowed.push(buffer.as_ptr());
                    body.extend_from_slice(buffer);
                },
            }
        }
        (parts.ipc_message, body, borrowed)
    }

    #[test]
    fn a_borrowing_body_is_byte_for_byte_upstreams_copied_one() {
        let df = sample(20_000);
        let options = [WriteOptions { compression: None }, WriteOptions { compression: Some(Compression::LZ4) }];
        // Whole, and sliced where bitmaps and offsets are not aligned.
        for (offset, len) in [(0, 20_000), (3, 9_000), (8, 5_000), (13, 17)] {
            let slice = df.slice(offset, len);
            for chunk in slice.iter_chunks(CompatLevel::oldest(), false) {
                for options in &options {
                    let mut upstream = EncodedData::default();
                    encode_record_batch(&chunk, options, &mut upstream);
                    for min_borrow in [0, 64, MIN_BORROWED_BUFFER] {
                        let (header, body, borrowed) = joined(&chunk, options, min_borrow);
                        assert_eq!(header, upstream.ipc_message, "header at {offset}+{len}, {options:?}");
                        assert_eq!(body, upstream.arrow_data, "body at {offset}+{len}, {options:?}, {min_borrow}");
                        if options.compression.is_some() {
                            assert!(borrowed.is_empty(), "compressed buffers are written, never borrowed");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn large_buffers_go_out_from_the_arrays_own_memory() {
        let df = sample(20_000).slice(8, 12_000);
        let chunk = df.iter_chunks(CompatLevel::oldest(), false).next().unwrap();
        let id = chunk.arrays()[0].as_any().downcast_ref::<polars_arrow::array::PrimitiveArray<i64>>().unwrap();
        let (_, _, borrowed) = joined(&chunk, &WriteOptions::default(), MIN_BORROWED_BUFFER);
        // The id values, the string bytes, the list children...: not copied.
        assert!(borrowed.contains(&(id.values().as_ptr() as *const u8)), "id values were copied");
        assert!(borrowed.len() >= 4, "{} buffers borrowed", borrowed.len());
    }

    /// The encoder's messages outlive the frame they came from: each part
    /// holds the record batch whose buffers it refers to.
    #[test]
    fn message_parts_outlive_the_frame_they_were_encoded_from() {
        let mut messages = Vec::new();
        let expected = {
            let df = sample(20_000);
            let (mut encoder, _) = IpcEncoder::start(df.schema(), 64 << 20, None);
            encoder
                .encode(&df, &mut |batch| {
                    messages.extend(batch.messages);
                    true
                })
                .unwrap();
            let chunk = df.iter_chunks(CompatLevel::oldest(), false).next().unwrap();
            let mut upstream = EncodedData::default();
            encode_record_batch(&chunk, &WriteOptions::default(), &mut upstream);
            upstream.arrow_data
        };
        assert_eq!(messages.len(), 1);
        assert!(messages[0].body.len() > 1, "one part: nothing was borrowed");
        assert_eq!(messages[0].body.concat(), expected);
    }
}
