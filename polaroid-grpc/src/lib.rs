//! Polaroid's gRPC facade.
//!
//! - [`proto`]: the generated `polaroid.v1` types, server and client.
//! - [`ServerConfig`] and [`serve`]: run the service (with gRPC health and
//!   reflection) on a listener until a shutdown signal.
//! - [`PolaroidFlight`]: Arrow Flight on the same port and handles.
//! - [`sample`]: the small trades/quotes dataset a fresh server writes.
//!
//! The service layer is thin: it decodes a request, calls the handle store
//! and polars off the async runtime, and encodes the answer. Every error
//! becomes a gRPC status in one place ([`ServiceError`]).

pub mod proto {
    #![allow(clippy::all)]
    tonic::include_proto!("polaroid.v1");
    pub use crate::wire::IpcMessage;

    /// The encoded descriptors of `polaroid.v1`, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("polaroid_descriptor");
}

mod auth;
pub mod client;
mod collect;
mod config;
mod error;
mod expr;
mod fetch;
mod flight;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod plan_walk;
mod sandbox;
pub mod sample;
mod server;
mod service;
mod slots;
mod timeseries;
mod transforms;
mod upload;
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

pub use config::ServerConfig;
pub use error::ServiceError;
pub use fetch::decode_ipc_stream;
pub use flight::PolaroidFlight;
pub use server::{serve, ServeError};
pub use service::PolaroidService;
pub use slots::SlotConfig;
