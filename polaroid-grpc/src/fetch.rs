//! Arrow IPC encoding of results, one gRPC message per IPC message.

use std::io::Write;
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use polars_arrow::io::ipc::write::{Compression, StreamWriter, WriteOptions};

use crate::error::ServiceError;
use crate::proto::{IpcCompression, IpcMessage};

/// Room left in each gRPC message for the protobuf framing around the IPC bytes.
const FRAMING_HEADROOM: usize = 1024;

/// A `Write` whose bytes are taken out after each IPC message.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Encodes frames of one schema as Arrow IPC stream messages, each at most
/// `max_message` bytes. Concatenated, the messages form a valid IPC stream.
pub(crate) struct MessageEncoder {
    writer: StreamWriter<SharedBuf>,
    buf: SharedBuf,
    max_message: usize,
}

impl MessageEncoder {
    /// Starts the stream: returns the encoder and the schema message.
    pub(crate) fn start(
        schema: &Schema,
        max_message: usize,
        compression: IpcCompression,
    ) -> Result<(Self, IpcMessage), ServiceError> {
        let compression = match compression {
            IpcCompression::None => None,
            IpcCompression::Lz4 => Some(Compression::LZ4),
            IpcCompression::Zstd => Some(Compression::ZSTD(Default::default())),
        };
        let buf = SharedBuf::default();
        let mut writer = StreamWriter::new(buf.clone(), WriteOptions { compression });
        // LargeUtf8/LargeBinary: every Arrow reader (pyarrow included) reads them.
        let arrow_schema = schema.to_arrow(CompatLevel::oldest());
        writer.start(&arrow_schema, None)?;
        let max_message = max_message.saturating_sub(FRAMING_HEADROOM).max(1024);
        let mut this = Self { writer, buf, max_message };
        let schema_msg = this.message(0)?;
        Ok((this, schema_msg))
    }

    fn message(&mut self, rows: u64) -> Result<IpcMessage, ServiceError> {
        let data = self.buf.take();
        if data.len() > self.max_message {
            return Err(ServiceError::InvalidArgument(format!(
                "an Arrow IPC message of {} bytes exceeds the {} byte message limit",
                data.len(),
                self.max_message
            )));
        }
        Ok(IpcMessage { data, rows })
    }

    /// Encode `df` as record-batch messages, each under the size limit.
    pub(crate) fn encode(&mut self, df: &DataFrame, out: &mut dyn FnMut(IpcMessage) -> bool) -> Result<bool, ServiceError> {
        if df.height() == 0 {
            return Ok(true);
        }
        // First guess from the average row size; halved until it fits.
        let bytes_per_row = (df.estimated_size() / df.height()).max(1);
        let rows = (self.max_message / 2 / bytes_per_row).clamp(1, df.height());
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

    /// Returns false when the receiver has gone away.
    fn encode_slice(&mut self, df: &DataFrame, out: &mut dyn FnMut(IpcMessage) -> bool) -> Result<bool, ServiceError> {
        let mut df = df.clone();
        df.rechunk_mut();
        for batch in df.iter_chunks(CompatLevel::oldest(), false) {
            let rows = batch.len();
            self.writer.write(&batch, None)?;
            let encoded = self.buf.take();
            if encoded.len() > self.max_message {
                if rows <= 1 {
                    return Err(ServiceError::InvalidArgument(format!(
                        "one row encodes to {} bytes, over the {} byte message limit",
                        encoded.len(),
                        self.max_message
                    )));
                }
                let half = rows / 2;
                if !self.encode_slice(&df.slice(0, half), out)? {
                    return Ok(false);
                }
                return self.encode_slice(&df.slice(half as i64, rows - half), out);
            }
            if !out(IpcMessage { data: encoded, rows: rows as u64 }) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The end-of-stream marker.
    pub(crate) fn finish(mut self) -> Result<IpcMessage, ServiceError> {
        self.writer.finish()?;
        self.message(0)
    }
}

/// Read the concatenated messages of a Fetch back into a DataFrame.
pub fn decode_ipc_stream(messages: impl IntoIterator<Item = IpcMessage>) -> PolarsResult<DataFrame> {
    let mut bytes = Vec::new();
    for m in messages {
        bytes.extend_from_slice(&m.data);
    }
    IpcStreamReader::new(std::io::Cursor::new(bytes)).finish()
}
