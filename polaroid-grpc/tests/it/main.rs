//! Integration tests: a real server on 127.0.0.1 (ephemeral port) and the
//! generated gRPC client. Results are compared with the same query run
//! in-process with polars.

mod client;
mod concurrency;
mod errors;
mod expressions;
mod flight;
mod limits;
mod live_bars;
mod plans;
mod transforms;
mod rpc;
mod sandbox;
mod scans;
mod sources;
mod timeseries;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::{FetchRequest, IpcMessage};
use polaroid_grpc::{sample, serve, ServerConfig};
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// The sample data, generated once per test binary.
pub fn sample_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        sample::ensure(dir.path()).unwrap();
        dir
    })
    .path()
}

pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), polaroid_grpc::ServeError>>,
}

impl TestServer {
    pub async fn start(config: ServerConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(config, listener, async {
            let _ = rx.await;
        }));
        Self { addr, shutdown: Some(tx), task }
    }

    pub async fn with_sample() -> Self {
        Self::start(ServerConfig { data_dir: sample_dir().to_path_buf(), ..Default::default() }).await
    }

    pub async fn client(&self) -> PolaroidClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr)).unwrap().connect().await.unwrap();
        PolaroidClient::new(channel).max_decoding_message_size(64 << 20)
    }

    /// Graceful shutdown; the serve future must end cleanly.
    pub async fn stop(mut self) {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// `message` as the holder of `token` sends it.
pub fn as_tenant<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = tonic::metadata::MetadataValue::try_from(format!("Bearer {token}")).unwrap();
    request.metadata_mut().insert("authorization", value);
    request
}

pub fn sample_path(name: &str) -> PathBuf {
    sample_dir().join(name)
}

/// Fetch a handle whole and decode the Arrow IPC stream.
pub async fn fetch_all(client: &mut PolaroidClient<Channel>, request: FetchRequest) -> (polars::prelude::DataFrame, Vec<IpcMessage>) {
    let mut stream = client.fetch(request).await.unwrap().into_inner();
    let mut messages = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        messages.push(m);
    }
    let df = polaroid_grpc::decode_ipc_stream(messages.clone()).unwrap();
    (df, messages)
}

/// Equal schemas and values; floats within 1e-9 relative (parallel sums
/// may add in a different order), everything else exactly.
pub fn assert_frames_close(left: &polars::prelude::DataFrame, right: &polars::prelude::DataFrame) {
    assert_eq!(left.schema(), right.schema(), "schemas differ");
    assert_eq!(left.height(), right.height(), "heights differ");
    for (a, b) in left.columns().iter().zip(right.columns()) {
        if a.dtype().is_float() {
            let (a, b) = (a.cast(&polars::prelude::DataType::Float64).unwrap(), b.cast(&polars::prelude::DataType::Float64).unwrap());
            let (a, b) = (a.f64().unwrap(), b.f64().unwrap());
            for (x, y) in a.iter().zip(b.iter()) {
                match (x, y) {
                    (Some(x), Some(y)) if x.is_nan() || y.is_nan() => assert_eq!(x.is_nan(), y.is_nan(), "{}: {x} vs {y}", a.name()),
                    (Some(x), Some(y)) => {
                        // Equal infinities are equal; their difference is NaN.
                        assert!(x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0), "{}: {x} vs {y}", a.name())
                    },
                    (x, y) => assert_eq!(x, y, "{}", a.name()),
                }
            }
        } else {
            assert!(a.as_materialized_series().equals_missing(b.as_materialized_series()), "column {} differs", a.name());
        }
    }
}

/// Upload `df` as an Arrow IPC stream in chunks of `chunk` bytes.
pub async fn upload(
    client: &mut PolaroidClient<Channel>,
    name: &str,
    df: &polars::prelude::DataFrame,
    chunk: usize,
) -> Result<polaroid_grpc::proto::HandleInfo, tonic::Status> {
    upload_bytes(client, name, ipc_stream(df), chunk).await
}

/// `df` as Arrow IPC stream bytes.
pub fn ipc_stream(df: &polars::prelude::DataFrame) -> Vec<u8> {
    use polars::prelude::*;
    let mut bytes = Vec::new();
    IpcStreamWriter::new(&mut bytes).finish(&mut df.clone()).unwrap();
    bytes
}

pub async fn upload_bytes(
    client: &mut PolaroidClient<Channel>,
    name: &str,
    bytes: Vec<u8>,
    chunk: usize,
) -> Result<polaroid_grpc::proto::HandleInfo, tonic::Status> {
    Ok(client.upload(tokio_stream::iter(upload_chunks(name, &bytes, chunk))).await?.into_inner().info.unwrap())
}

/// Upload messages for `bytes`, `chunk` bytes each; the first carries the name.
pub fn upload_chunks(name: &str, bytes: &[u8], chunk: usize) -> Vec<polaroid_grpc::proto::UploadChunk> {
    bytes
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| polaroid_grpc::proto::UploadChunk {
            name: if i == 0 { name.to_string() } else { String::new() },
            data: c.to_vec().into(),
        })
        .collect()
}
