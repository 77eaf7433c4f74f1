//! Arrow IPC encoding of results, straight from polars-arrow's encoder.
//!
//! [`IpcEncoder`] turns frames into IPC messages (flatbuffer header + body)
//! that each fit in one message of the door that sends them. The native
//! Fetch RPC frames them as an IPC stream ([`frame_parts`]); Arrow Flight
//! sends header and body as `FlightData` fields. [`IpcSink`] plugs the
//! encoder into [`crate::results`], so both doors stream the same way.

use polars::prelude::*;
use polars_arrow::io::ipc::write::{
    default_ipc_fields, encode_new_dictionaries, encode_record_batch, schema_to_bytes, Compression,
    DictionaryTracker, EncodedData, WriteOptions,
};
use polars_arrow::array::Array;
use polars_arrow::compute::aggregate::estimated_bytes_size;
use polars_arrow::io::ipc::IpcField;
use polars_arrow::record_batch::RecordBatchT;

use crate::error::CoreError;
use crate::results::ResultSink;

/// Room left in each message for the protocol's framing around the IPC bytes.
const FRAMING_HEADROOM: usize = 1024;

/// The end-of-stream marker of the Arrow IPC stream format.
pub const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// The IPC messages of one record batch, dictionaries first, and its rows.
pub struct EncodedBatch {
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
pub struct IpcEncoder {
    /// Columns sent as text instead of dictionaries.
    categorical: Vec<PlSmallStr>,
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
        Self::start(schema, usize::MAX, None).1.ipc_message
    }

    /// [`IpcEncoder::schema_message`], encoded once per schema: every
    /// handle reply (KeepAlive included) carries it, and a handle's schema
    /// is one shared `Arc`. Keyed by that `Arc`'s address; the cache holds
    /// the `Arc`, so an address cannot be reused while its entry lives.
    pub fn schema_message_cached(schema: &SchemaRef) -> bytes::Bytes {
        type Messages = std::sync::Mutex<std::collections::HashMap<usize, (SchemaRef, bytes::Bytes)>>;
        static MESSAGES: std::sync::OnceLock<Messages> = std::sync::OnceLock::new();
        const MOST: usize = 4096;
        let messages = MESSAGES.get_or_init(Default::default);
        let key = Arc::as_ptr(schema) as *const () as usize;
        if let Some((_, message)) = messages.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return message.clone();
        }
        let message = bytes::Bytes::from(Self::schema_message(schema));
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
    ) -> (Self, EncodedData) {
        // Categoricals (SYMBOL columns) travel as text: polars gives each
        // batch its own dictionary, and a replaced dictionary mid-stream is
        // more than some readers take (pyarrow's Flight reader refuses it).
        let categorical: Vec<PlSmallStr> =
            schema.iter().filter(|(_, dtype)| dtype.is_categorical() || dtype.is_enum()).map(|(name, _)| name.clone()).collect();
        let mut schema = schema.clone();
        for name in &categorical {
            schema.set_dtype(name, DataType::String);
        }
        // LargeUtf8/LargeBinary rather than views: every Arrow reader,
        // pyarrow and older C++/Java/Go included, reads them.
        let arrow_schema = schema.to_arrow(CompatLevel::oldest());
        let fields = default_ipc_fields(arrow_schema.iter_values());
        let schema_message =
            EncodedData { ipc_message: schema_to_bytes(&arrow_schema, &fields, None), arrow_data: Vec::new() };
        let encoder = Self {
            categorical,
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
        let as_text;
        let df = if self.categorical.is_empty() {
            df
        } else {
            let mut copy = df.clone();
            for name in &self.categorical {
                let text = copy.column(name)?.cast(&DataType::String)?;
                copy.with_column(text)?;
            }
            as_text = copy;
            &as_text
        };
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
            let batch = self.encode_chunk(&chunk)?;
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

    fn encode_chunk(&mut self, chunk: &RecordBatchT<Box<dyn Array>>) -> Result<EncodedBatch, CoreError> {
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
pub fn frame_parts(message: EncodedData, parts: &mut Vec<bytes::Bytes>) {
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
        frame_schema: impl FnOnce(EncodedData) -> Vec<M>,
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
