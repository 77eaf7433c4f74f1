use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use polaroid_core::Core;
use polaroid_sources::Sources;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tonic::service::interceptor::InterceptedService;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tower::Layer;

use crate::auth::Auth;
use crate::coalesce::CoalesceResponses;
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
    let mut routes = Routes::builder();
    routes.add_service(health).add_service(reflection).add_service(polaroid).add_service(flight);
    let routes = crate::deadline::Deadline.layer(routes.routes().prepare());
    let service = crate::observe::Observe::new(core.clone()).layer(routes);
    serve_connections(service, listener, shutdown).await;
    tracing::info!("polaroid-server stopped");
    Ok(())
}

/// HTTP/2 (gRPC speaks nothing else) with our window, frame and send-buffer
/// sizes. tonic's `Server` builds the same hyper connection but does not let
/// us set the send buffer, which is why we accept connections ourselves.
fn http2_connections() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http2_only();
    builder
        .http2()
        .timer(TokioTimer::new())
        // Uploads (Upload, DoPut) stream many MiB: windows of several
        // messages instead of HTTP/2's 64 KiB default.
        .initial_stream_window_size(crate::HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(crate::HTTP2_CONNECTION_WINDOW)
        // Uploads may come in large HTTP/2 frames rather than 16 KiB ones.
        .max_frame_size(crate::HTTP2_MAX_FRAME_SIZE)
        // A response stream may queue this much for the socket before its
        // body is asked for more. hyper's 400 KiB is less than one Fetch or
        // DoGet message: the body was polled again after each part.
        .max_send_buf_size(crate::HTTP2_SEND_BUFFER)
        // As tonic: no cap on concurrent calls per connection (a client may
        // hold many live subscriptions open on one channel).
        .max_concurrent_streams(None);
    builder
}

/// Accept and serve connections until `shutdown` resolves, then stop
/// accepting (the listener closes) and wait for every connection's
/// in-flight calls to finish.
async fn serve_connections<S>(service: S, listener: TcpListener, shutdown: impl Future<Output = ()>)
where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connections = http2_connections();
    let service = CoalesceResponses(service);
    // Each connection holds a receiver; the sender sees them all dropped
    // when the last connection has closed.
    let (closing, closing_seen) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener) => match accepted {
                Ok(stream) => stream,
                Err(error) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let connections = connections.clone();
        let service = TowerToHyperService::new(service.clone());
        let mut closing_seen = closing_seen.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connections.serve_connection(TokioIo::new(stream), service));
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = closing_seen.changed() => {
                    // GOAWAY: no new calls; the open ones run to their end.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drop(closing_seen);
    let _ = closing.send(());
    closing.closed().await;
}

/// An accepted connection with Nagle's algorithm off: with it on, a request
/// written in two pieces waits for the peer's delayed ACK, about 40 ms per RPC.
async fn accept(listener: &TcpListener) -> std::io::Result<TcpStream> {
    let (stream, peer) = listener.accept().await?;
    if let Err(error) = stream.set_nodelay(true) {
        // Served all the same, only slower.
        tracing::warn!(%error, %peer, "could not turn Nagle's algorithm off");
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accepted = accept(&listener).await.unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
