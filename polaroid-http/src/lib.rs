//! Polaroid's HTTP door: QuestDB's HTTP API over the core, so dashboards,
//! scripts and ingesters written for QuestDB work unchanged, plus
//! Prometheus metrics.
//!
//! - `exec.rs`: `GET /exec` (JSON) and `GET /exp` (CSV), streamed; `/chk`.
//! - `imp.rs`: `POST /imp`, CSV import into a table.
//! - `ilp.rs`: `POST /write` and `/api/v1/write`, InfluxDB line protocol;
//!   `ilp_tcp.rs`: the same lines over plain TCP (`--ilp-listen`).
//! - QuestDB's SQL itself (SAMPLE BY, LATEST ON, its functions and
//!   statements) is `polaroid-questdb`'s, shared with the PostgreSQL door.
//! - `render.rs`: values and type names as QuestDB writes them.
//! - `error.rs`: the one core-error → HTTP status mapping, and QuestDB's
//!   error bodies; `auth.rs`: the caller's namespace from `Authorization`.
//! - `sources.rs`: `GET|POST /sources`, `DELETE /sources/{name}`: live feeds.
//! - `GET /settings` (what QuestDB's ILP clients ask first), `GET /metrics`
//!   and `GET /health` are here.

mod auth;
mod error;
mod exec;
mod ilp;
mod ilp_tcp;
mod imp;
mod sources;
pub mod render;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::{Listener, ListenerExt};
use axum::Router;
use polaroid_core::Core;
use polaroid_sources::Sources;
use tokio::net::TcpListener;

pub use error::http_status;
pub use ilp_tcp::{serve_ilp_tcp, BATCH_ROWS, BATCH_WAIT};

/// What every handler works on: the shared core.
#[derive(Clone)]
pub(crate) struct Door {
    pub(crate) core: Arc<Core>,
    pub(crate) sources: Arc<Sources>,
}

/// The routes a request is counted under in metrics; anything else is
/// `other`, so a scan of random URLs cannot grow the label set.
const ROUTES: &[&str] =
    &["/exec", "/exp", "/imp", "/chk", "/write", "/api/v1/write", "/settings", "/metrics", "/health", "/sources"];

/// The largest request body (an ILP batch, a CSV import): 64 MiB, like
/// the gRPC door's largest upload message. Larger batches must be split.
const MAX_BODY: usize = 64 << 20;

/// The HTTP door's routes over `core` and its live `sources`.
pub fn router(core: Arc<Core>, sources: Arc<Sources>) -> Router {
    let door = Door { core: core.clone(), sources };
    Router::new()
        .route("/exec", get(exec::exec))
        .route("/exp", get(exec::export))
        .route("/chk", get(exec::check))
        .route("/imp", post(imp::upload))
        .route("/write", post(ilp::ingest))
        .route("/api/v1/write", post(ilp::ingest))
        .route("/settings", get(settings))
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "OK\n" }))
        .route("/sources", get(sources::list).post(sources::start))
        .route("/sources/{name}", axum::routing::delete(sources::stop))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(door.clone(), observe))
        .with_state(door)
}

/// Serve the HTTP door on `listener` until `shutdown` resolves.
pub async fn serve(
    core: Arc<Core>,
    sources: Arc<Sources>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(listen = %listener.local_addr()?, "HTTP door serving (QuestDB-compatible API, /metrics)");
    axum::serve(no_delay(listener), router(core, sources)).with_graceful_shutdown(shutdown).await
}

/// The listener, its connections with Nagle's algorithm off. A response
/// goes out in more than one write (head and body, a streamed body's
/// chunks); with Nagle on, each request after the first on a kept-alive
/// connection waited for the client's delayed ACK: 44 ms for `SELECT 1`
/// through a `requests.Session` instead of ~1 ms.
fn no_delay(listener: TcpListener) -> impl Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set on an HTTP connection: {e}");
        }
    })
}

/// Count each request by route and status, with its time to the response head.
async fn observe(State(door): State<Door>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = ROUTES.iter().copied().find(|r| *r == request.uri().path()).unwrap_or("other");
    let response = next.run(request).await;
    door.core.metrics().request("http", route, response.status().as_str(), started.elapsed());
    response
}

/// What QuestDB's clients read before they write: the ILP versions this
/// server takes (text ILP, version 1) and its name limits. The versions
/// are given both where current clients look (`config`) and where older
/// ones did (the top level).
async fn settings() -> Response {
    let config = serde_json::json!({
        "release.type": "OSS",
        "release.version": concat!("polaroid-", env!("CARGO_PKG_VERSION")),
        "http.settings.readonly": true,
        "line.proto.support.versions": [1],
        "ilp.proto.transports": ["http"],
        "cairo.max.file.name.length": 127,
        "posthog.enabled": false,
    });
    let body = serde_json::json!({
        "config": config,
        "line.proto.support.versions": [1],
        "preferences.version": 0,
        "preferences": {},
    });
    axum::Json(body).into_response()
}

/// Prometheus text format. Open without a token: operators scrape it, and
/// it shows only server-wide counts, never a tenant's data.
async fn metrics(State(door): State<Door>) -> Response {
    let text = door.core.metrics().render(&door.core.server_stats());
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection the door accepts has Nagle's algorithm off.
    #[tokio::test]
    async fn the_door_s_connections_have_tcp_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = no_delay(listener);
        for _ in 0..2 {
            let client = tokio::spawn(tokio::net::TcpStream::connect(addr));
            let (accepted, _) = listener.accept().await;
            assert!(accepted.nodelay().unwrap());
            client.await.unwrap().unwrap();
        }
    }
}
