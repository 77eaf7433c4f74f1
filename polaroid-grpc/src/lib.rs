//! Polaroid's gRPC facade.
//!
//! - [`proto`]: the generated `polaroid.v1` types, server and client.
//! - [`ServerConfig`] and [`serve`]: run the service (with gRPC health and
//!   reflection) on a listener until a shutdown signal.
//! - [`PolaroidFlight`]: Arrow Flight on the same port and handles.
//!
//! Both doors are thin adapters over `polaroid_core::Core`: a method
//! decodes its request ([`decode`]: proto to polars), calls the core, and
//! encodes the answer. Core errors become gRPC statuses in one place
//! (`status.rs`).
//!
//! - `native.rs`: the `polaroid.v1.Polaroid` service; `flight.rs`: Arrow Flight.
//! - [`client`]: the Rust client, with polars' own `Expr` on the wire.

pub mod proto {
    #![allow(clippy::all)]
    tonic::include_proto!("polaroid.v1");
    pub use crate::wire::IpcMessage;

    /// The encoded descriptors of `polaroid.v1`, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("polaroid_descriptor");
}

mod auth;
pub mod client;
mod coalesce;
mod config;
mod deadline;
mod decode;
mod flight;
mod flight_sql;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod native;
mod observe;
mod parts;
mod server;
mod status;
mod wire;

/// The largest HTTP/2 frame our client and server accept. A peer sends data
/// in frames no larger than this; HTTP/2's default is 16 KiB.
const HTTP2_MAX_FRAME_SIZE: u32 = 1 << 20;

/// HTTP/2 receive windows: how much a peer may send before we acknowledge
/// it. Fixed rather than adaptive: hyper's bandwidth-delay estimate samples
/// less and less often on a long-lived connection, and after a few small
/// calls a Fetch on the same connection ran at half speed. 8 MiB per stream
/// covers about 0.6 Gbit/s at 100 ms round trip.
const HTTP2_STREAM_WINDOW: u32 = 8 << 20;
const HTTP2_CONNECTION_WINDOW: u32 = 16 << 20;

/// How much a response stream may queue for the socket (hyper's default is
/// 400 KiB, less than one 2 MiB message). With room for a few messages the
/// body hands over a message's parts while earlier ones are being written:
/// 15 % less server CPU per DoGet (README).
const HTTP2_SEND_BUFFER: usize = 8 << 20;

pub use config::ServerConfig;
pub use flight::PolaroidFlight;
pub use native::PolaroidService;
pub use polaroid_core::{sample, SlotConfig};
pub use server::{serve, serve_core, ServeError};

use polars::prelude::{DataFrame, PolarsResult};

/// Read the messages of a Fetch back into a DataFrame, one chunk per record
/// batch as it arrived (no rechunk: that would copy the whole result again).
pub fn decode_ipc_stream(messages: impl IntoIterator<Item = proto::IpcMessage>) -> PolarsResult<DataFrame> {
    use polaroid_core::upload::{read_ipc_stream, ChunkedReader};
    read_ipc_stream(ChunkedReader::new(messages.into_iter().flat_map(|m| m.into_parts())))
}
