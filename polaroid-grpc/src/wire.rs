//! `polaroid.v1.IpcMessage`, encoded by hand.
//!
//! On the wire it is the message `build.rs` compiles: `bytes data = 1;
//! uint64 rows = 2;`. In memory `data` is a list of parts, so the server
//! sends an IPC message's framed header and its body (each already in its own
//! buffer) without first copying them into one. A decoded message has one part.
//! The generated code refers to this type through `extern_path`.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{self, DecodeContext, WireType};
use prost::DecodeError;

const DATA: u32 = 1;
const ROWS: u32 = 2;

/// A piece of an Arrow IPC stream: Fetch sends the schema, then one record
/// batch per message, then the end-of-stream marker. Concatenating every
/// message's bytes gives the stream.
#[derive(Clone, Default, PartialEq)]
pub struct IpcMessage {
    parts: Vec<Bytes>,
    /// Rows in this message's record batch (0 for the schema message).
    pub rows: u64,
}

impl IpcMessage {
    /// A message whose `data` is `parts` joined.
    pub fn new(parts: Vec<Bytes>, rows: u64) -> Self {
        Self { parts, rows }
    }

    /// The parts of `data`, in order.
    pub fn parts(&self) -> &[Bytes] {
        &self.parts
    }

    pub fn into_parts(self) -> Vec<Bytes> {
        self.parts
    }

    /// The message's protobuf encoding in parts (what `encode` writes):
    /// the key and length of `data`, its parts as they are, then `rows`.
    pub(crate) fn into_wire_parts(self) -> Vec<Bytes> {
        let mut head = Vec::with_capacity(16);
        let len = self.len();
        if len > 0 {
            encoding::encode_key(DATA, WireType::LengthDelimited, &mut head);
            encoding::encode_varint(len as u64, &mut head);
        }
        let mut tail = Vec::new();
        if self.rows != 0 {
            encoding::uint64::encode(ROWS, &self.rows, &mut tail);
        }
        let mut wire = Vec::with_capacity(self.parts.len() + 2);
        wire.push(Bytes::from(head));
        wire.extend(self.parts.into_iter().filter(|part| !part.is_empty()));
        wire.push(Bytes::from(tail));
        wire
    }

    /// Bytes of `data`.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for IpcMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcMessage").field("bytes", &self.len()).field("rows", &self.rows).finish()
    }
}

impl prost::Message for IpcMessage {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        let len = self.len();
        // proto3: a default (empty, zero) field is not written.
        if len > 0 {
            encoding::encode_key(DATA, WireType::LengthDelimited, buf);
            encoding::encode_varint(len as u64, buf);
            for part in &self.parts {
                buf.put_slice(part);
            }
        }
        if self.rows != 0 {
            encoding::uint64::encode(ROWS, &self.rows, buf);
        }
    }

    fn merge_field(&mut self, tag: u32, wire_type: WireType, buf: &mut impl Buf, ctx: DecodeContext) -> Result<(), DecodeError> {
        match tag {
            // A repeated scalar field: the last one wins, as in generated code.
            DATA => {
                let mut data = Bytes::new();
                encoding::bytes::merge(wire_type, &mut data, buf, ctx)?;
                self.parts = vec![data];
                Ok(())
            },
            ROWS => encoding::uint64::merge(wire_type, &mut self.rows, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let len = self.len();
        let data = if len > 0 { encoding::key_len(DATA) + encoding::encoded_len_varint(len as u64) + len } else { 0 };
        let rows = if self.rows != 0 { encoding::uint64::encoded_len(ROWS, &self.rows) } else { 0 };
        data + rows
    }

    fn clear(&mut self) {
        self.parts.clear();
        self.rows = 0;
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// The message prost generates from the same proto, as the oracle.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Generated {
        #[prost(bytes = "vec", tag = "1")]
        data: Vec<u8>,
        #[prost(uint64, tag = "2")]
        rows: u64,
    }

    #[test]
    fn parts_encode_as_one_bytes_field_and_decode_back() {
        let cases = [
            (vec![], 0),
            (vec![Bytes::from_static(b"abc")], 0),
            (vec![Bytes::from_static(b"head"), Bytes::new(), Bytes::from(vec![7u8; 300])], 12_345),
            (vec![], 3),
        ];
        for (parts, rows) in cases {
            let ours = IpcMessage::new(parts.clone(), rows);
            let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            let generated = Generated { data: joined.clone(), rows };
            let bytes = ours.encode_to_vec();
            assert_eq!(bytes, generated.encode_to_vec());
            assert_eq!(ours.clone().into_wire_parts().concat(), bytes);
            assert_eq!(ours.encoded_len(), bytes.len());
            let back = IpcMessage::decode(bytes.as_slice()).unwrap();
            assert_eq!(back.parts().concat(), joined);
            assert_eq!(back.rows, rows);
        }
    }

    #[test]
    fn unknown_fields_are_skipped_and_a_truncated_message_is_an_error() {
        let mut bytes = Generated { data: b"xyz".to_vec(), rows: 9 }.encode_to_vec();
        encoding::string::encode(7, &"later field".to_string(), &mut bytes);
        let back = IpcMessage::decode(bytes.as_slice()).unwrap();
        assert_eq!((back.parts().concat(), back.rows), (b"xyz".to_vec(), 9));
        assert!(IpcMessage::decode(&bytes[..3]).is_err());
    }
}
