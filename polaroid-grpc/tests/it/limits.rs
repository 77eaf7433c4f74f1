//! Bounded work per request, seen from a client: a compressed-IPC bomb and
//! an oversize DoPut message are refused, leave no handle, and the server
//! keeps serving.

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::{FlightClient, FlightDescriptor};
use futures::TryStreamExt;
use polaroid_grpc::proto::ListRequest;
use polaroid_grpc::ServerConfig;
use polars::prelude::*;
use tonic::transport::Channel;
use tonic::Code;

use crate::{sample_dir, upload_bytes, TestServer};

fn longs(n: i64) -> DataFrame {
    df!("a" => (0..n).collect::<Vec<_>>()).unwrap()
}

/// An LZ4 IPC stream of 10k i64 values whose buffer claims to decompress to
/// 32 TiB: a few kilobytes on the wire.
fn bomb() -> Vec<u8> {
    let mut bytes = Vec::new();
    IpcStreamWriter::new(&mut bytes).with_compression(Some(IpcCompression::LZ4)).finish(&mut longs(10_000)).unwrap();
    let at = bytes.windows(8).position(|w| w == 80_000i64.to_le_bytes()).expect("the declared length");
    bytes[at..at + 8].copy_from_slice(&(1i64 << 45).to_le_bytes());
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_ipc_bomb_is_refused_before_it_is_decoded() {
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        memory_limit: 256 << 20,
        ..Default::default()
    })
    .await;
    let mut client = server.client().await;
    let err = upload_bytes(&mut client, "bomb", bomb(), 1 << 20).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{}", err.message());
    assert!(err.message().contains("left in the server's memory budget"), "{}", err.message());
    assert!(client.list(ListRequest {}).await.unwrap().into_inner().handles.is_empty());
    // The same bytes unpatched are a fine upload.
    let mut good = Vec::new();
    IpcStreamWriter::new(&mut good).with_compression(Some(IpcCompression::LZ4)).finish(&mut longs(10_000)).unwrap();
    let info = upload_bytes(&mut client, "good", good, 1 << 20).await.unwrap();
    assert_eq!(info.rows, Some(10_000));
    server.stop().await;
}

async fn flight(server: &TestServer) -> FlightClient {
    let channel = Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await.unwrap();
    FlightClient::new(channel)
}

/// DoPut `df` as arrow-rs batches of at most `max_message` bytes each.
async fn do_put(client: &mut FlightClient, df: &DataFrame, max_message: usize) -> Result<(), tonic::Status> {
    let mut bytes = Vec::new();
    IpcStreamWriter::new(&mut bytes).with_compat_level(CompatLevel::oldest()).finish(&mut df.clone()).unwrap();
    let batches: Vec<_> = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let stream = FlightDataEncoderBuilder::new()
        .with_max_flight_data_size(max_message)
        .with_flight_descriptor(Some(FlightDescriptor::new_path(vec!["big".into()])))
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    match client.do_put(stream).await {
        Ok(results) => results.try_collect::<Vec<_>>().await.map(|_| ()),
        Err(e) => Err(e),
    }
    .map_err(|e| match e {
        arrow_flight::error::FlightError::Tonic(status) => *status,
        other => tonic::Status::unknown(other.to_string()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doput_message_over_max_upload_message_is_refused() {
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        max_upload_message: 1 << 20,
        ..Default::default()
    })
    .await;
    let mut client = flight(&server).await;
    // 4 MB of i64 in one message, over the 1 MiB limit.
    let big = longs(500_000);
    let err = do_put(&mut client, &big, usize::MAX).await.unwrap_err();
    assert!(matches!(err.code(), Code::OutOfRange | Code::ResourceExhausted), "{err:?}");
    assert!(err.message().contains("1048576"), "{}", err.message());
    // The same table split into messages under the limit goes through.
    do_put(&mut client, &big, 512 << 10).await.unwrap();
    let mut native = server.client().await;
    let handles = native.list(ListRequest {}).await.unwrap().into_inner().handles;
    assert_eq!(handles.len(), 1);
    assert_eq!(handles[0].rows, Some(500_000));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doput_bomb_is_refused_too() {
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        memory_limit: 256 << 20,
        ..Default::default()
    })
    .await;
    let mut client = flight(&server).await;
    // Re-frame the bomb's IPC messages as FlightData (header, body).
    let bytes = bomb();
    let mut messages = Vec::new();
    let mut at = 0usize;
    loop {
        let len = i32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        let header = bytes[at + 8..at + 8 + len].to_vec();
        let message = arrow_ipc::root_as_message(&header).unwrap();
        let body_len = message.bodyLength() as usize;
        let body = bytes[at + 8 + len..at + 8 + len + body_len].to_vec();
        messages.push(arrow_flight::FlightData {
            flight_descriptor: None,
            data_header: header.into(),
            app_metadata: Default::default(),
            data_body: body.into(),
        });
        at += 8 + len + body_len;
    }
    let err = client.do_put(futures::stream::iter(messages.into_iter().map(Ok))).await;
    let err = match err {
        Ok(results) => results.try_collect::<Vec<_>>().await.unwrap_err(),
        Err(e) => e,
    };
    match err {
        arrow_flight::error::FlightError::Tonic(status) => {
            assert_eq!(status.code(), Code::ResourceExhausted, "{}", status.message())
        },
        other => panic!("expected a status, got {other:?}"),
    }
    let mut native = server.client().await;
    assert!(native.list(ListRequest {}).await.unwrap().into_inner().handles.is_empty());
    server.stop().await;
}
