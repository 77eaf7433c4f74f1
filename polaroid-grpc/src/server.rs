use std::future::Future;

use std::sync::Arc;

use polaroid_core::Core;
use polaroid_sources::Sources;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::auth::Auth;
use crate::config::ServerConfig;
use crate::flight::PolaroidFlight;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::native::PolaroidService;

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
    let core = Core::new(config.core())
        .map_err(|source| ServeError::DataDir { path: config.data_dir.display().to_string(), source })?;
    let sources = Sources::new(core.clone());
    serve_core(core, sources, &config, listener, shutdown).await
}

/// [`serve`] over a core and live sources that other doors share. Of
/// `config`, only the gRPC door's settings (message sizes) are read here.
pub async fn serve_core(
    core: Arc<Core>,
    sources: Arc<Sources>,
    config: &ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let auth = Auth::new(core.tenants().clone());
    // In-flight calls finish before serving ends; subscriptions never would.
    let ending = core.clone();
    let shutdown = async move {
        shutdown.await;
        ending.end_subscriptions();
    };
    // Flight clients write a record batch as one message (pyarrow sends a
    // table's chunk as is): accept up to --max-upload-message, not more.
    let flight = InterceptedService::new(
        crate::flight::routes(PolaroidFlight::new(core.clone(), config.max_message_size), config.max_upload_message),
        auth.clone(),
    );
    let polaroid = InterceptedService::new(
        crate::native::routes(
            PolaroidService::new(core.clone(), config.max_message_size).with_sources(sources),
            config.max_message_size,
        ),
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
        data_dir = %core.data_dir().display(),
        auth = core.tenants().requires_token(),
        "polaroid-server serving"
    );
    Server::builder()
        .layer(crate::observe::Observe::new(core.clone()))
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
