use std::future::Future;

use polaroid_handles::{HandleConfig, HandleStore};
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::auth::Auth;
use crate::config::ServerConfig;
use crate::flight::PolaroidFlight;
use arrow_flight::flight_service_server::FlightServiceServer;
use crate::proto::polaroid_server::PolaroidServer;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::service::PolaroidService;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serve `polaroid.v1.Polaroid`, Arrow Flight, gRPC health and reflection on `listener`
/// until `shutdown` resolves; in-flight calls then finish before it returns.
pub async fn serve(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    crate::collect::quiet_query_stops();
    // Fair shares: with N tokens each tenant may hold memory_limit / N, so
    // no tenant's uploads can evict another's frames and together they stay
    // within the limit.
    let tenants = config.auth_tokens.len().max(1) as u64;
    let store = HandleStore::new(HandleConfig {
        idle_ttl: config.handle_ttl,
        memory_budget: config.memory_limit,
        namespace_budget: Some(config.memory_limit / tenants),
        ..HandleConfig::default()
    });
    let service = PolaroidService::new(store, config.data_dir.clone(), config.max_message_size, config.slots).map_err(|source| {
        ServeError::DataDir { path: config.data_dir.display().to_string(), source }
    })?;
    let auth = Auth::new(config.auth_tokens.clone());
    // Flight clients write a record batch as one message (pyarrow sends a
    // table's chunk as is): accept up to --max-upload-message, not more.
    let flight = InterceptedService::new(
        FlightServiceServer::new(PolaroidFlight::new(service.state()))
            .max_decoding_message_size(config.max_upload_message)
            .max_encoding_message_size(config.max_message_size),
        auth.clone(),
    );
    let polaroid = InterceptedService::new(
        PolaroidServer::new(service)
            .max_decoding_message_size(config.max_message_size)
            .max_encoding_message_size(config.max_message_size),
        auth,
    );

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("polaroid.v1.Polaroid", ServingStatus::Serving)
        .await;
    health_reporter
        .set_service_status("arrow.flight.protocol.FlightService", ServingStatus::Serving)
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    tracing::info!(
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        data_dir = %config.data_dir.display(),
        auth = !config.auth_tokens.is_empty(),
        "polaroid-server serving"
    );
    Server::builder()
        // Uploads (Upload, DoPut) stream many MiB: windows of several
        // messages instead of HTTP/2's 64 KiB default.
        .initial_stream_window_size(crate::HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(crate::HTTP2_CONNECTION_WINDOW)
        // Uploads may come in large HTTP/2 frames rather than 16 KiB ones.
        .max_frame_size(crate::HTTP2_MAX_FRAME_SIZE)
        .add_service(health)
        .add_service(reflection)
        .add_service(polaroid)
        .add_service(flight)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await?;
    tracing::info!("polaroid-server stopped");
    Ok(())
}

/// Accepted connections with Nagle's algorithm off. The builder's
/// `tcp_nodelay` does not reach connections from a listener we pass in, and
/// with Nagle on, a request written in two pieces waits for the peer's
/// delayed ACK: about 40 ms per RPC.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accepted = incoming.next().await.unwrap().unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
