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
use polars_arrow::io::ipc::IpcField;
use polars_arrow::record_batch::RecordBatchT;

use crate::error::ServiceError;

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
        let mut record = EncodedData::default();
        encode_record_batch(chunk, &self.options, &mut record);
        messages.push(record);
        Ok(EncodedBatch { messages, rows: chunk.len() })
    }
}

/// Append one message in the IPC stream framing: continuation marker,
/// header length, header padded to 8 bytes, body padded to 64.
pub(crate) fn frame_message(message: &EncodedData, out: &mut Vec<u8>) {
    let padded_header = message.ipc_message.len().next_multiple_of(8);
    let padded_body = message.arrow_data.len().next_multiple_of(64);
    out.reserve(8 + padded_header + padded_body);
    out.extend_from_slice(&END_OF_STREAM[..4]);
    out.extend_from_slice(&(padded_header as i32).to_le_bytes());
    out.extend_from_slice(&message.ipc_message);
    out.resize(out.len() + padded_header - message.ipc_message.len(), 0);
    out.extend_from_slice(&message.arrow_data);
    out.resize(out.len() + padded_body - message.arrow_data.len(), 0);
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
            lf.sink_batches(callback, true, None)?.collect_with_engine(Engine::Streaming)?;
            Ok(open.load(Ordering::Relaxed))
        },
    }
}

/// Read the concatenated messages of a Fetch back into a DataFrame.
pub fn decode_ipc_stream(messages: impl IntoIterator<Item = crate::proto::IpcMessage>) -> PolarsResult<DataFrame> {
    let mut bytes = Vec::new();
    for m in messages {
        bytes.extend_from_slice(&m.data);
    }
    IpcStreamReader::new(std::io::Cursor::new(bytes)).finish()
}
