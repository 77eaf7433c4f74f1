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
    assert!(err.message().contains("of your share of the server's memory budget"), "{}", err.message());
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

/// A plan that would run for many minutes: a 100k × 100k cross join
/// (10 billion rows), streamed out in many batches.
async fn endless_plan(client: &polaroid_grpc::client::Client) -> polaroid_grpc::client::RemoteFrame {
    let left = client.upload(&longs(100_000)).await.unwrap();
    let right = client.upload(&df!("b" => (0..100_000i64).collect::<Vec<_>>()).unwrap()).await.unwrap();
    left.join(&right, &[], &[], JoinArgs::new(JoinType::Cross)).await.unwrap()
}

async fn stats(client: &polaroid_grpc::client::Client) -> polaroid_grpc::proto::StatsReply {
    client.raw().stats(polaroid_grpc::proto::StatsRequest {}).await.unwrap().into_inner()
}

/// Poll until no query holds a slot; the work under test would take many
/// minutes if it were not stopped, so a bound of seconds tells the two apart.
async fn until_no_query_runs(client: &polaroid_grpc::client::Client) {
    for _ in 0..600 {
        if stats(client).await.running_queries == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the query kept running after its client went away");
}

async fn until_a_query_runs(client: &polaroid_grpc::client::Client) {
    for _ in 0..1500 {
        if stats(client).await.running_queries > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the query under test never showed as running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_resource_exhausted_and_a_departed_client_frees_its_slot() {
    use polaroid_grpc::client::{Client, ClientError};
    use polaroid_grpc::SlotConfig;

    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        memory_limit: 8 << 30,
        slots: SlotConfig { max_running: 1, max_waiting: 0, max_wait: std::time::Duration::from_secs(5) },
        ..Default::default()
    })
    .await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();
    // No row passes the filter: nothing is ever output, so neither the
    // budget nor an output batch can stop this; only cancellation can. The
    // predicate names both sides, so polars cannot push it below the join
    // (`a < 0` alone empties the left input and the join ends at once).
    let plan = endless_plan(&client).await.filter((col("a") + col("b")).lt(lit(0))).await.unwrap();

    // A client that disconnects mid-Collect: its task is dropped.
    let running = tokio::spawn({
        let plan = plan.clone();
        async move { plan.collect().await }
    });
    until_a_query_runs(&client).await;
    // The one slot is taken and nobody may wait: the next query is refused.
    match plan.collect().await {
        Err(ClientError::Status(s)) => {
            assert_eq!(s.code(), Code::ResourceExhausted, "{}", s.message());
            assert!(s.message().contains("the server is busy"), "{}", s.message());
        },
        other => panic!("expected RESOURCE_EXHAUSTED, got {:?}", other.map(|f| f.id().to_string())),
    }
    running.abort();
    until_no_query_runs(&client).await;

    // A deadline that passes stops the work the same way, here under an
    // aggregation (which outputs nothing until its input is done).
    let sums = endless_plan(&client).await.group_by([col("a")]).agg([col("b").sum()]).await.unwrap();
    let mut raw = client.raw();
    let mut request = tonic::Request::new(polaroid_grpc::proto::CollectRequest {
        handle: sums.id().into(),
        engine: polaroid_grpc::proto::Engine::Streaming as i32,
    });
    request.set_timeout(std::time::Duration::from_millis(500));
    let err = raw.collect(request).await.unwrap_err();
    assert!(matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled), "{err:?}");
    until_no_query_runs(&client).await;

    // A Fetch whose client goes away stops too.
    let fetching = tokio::spawn({
        let sums = sums.clone();
        async move { sums.fetch().await.map(|df| df.height()) }
    });
    until_a_query_runs(&client).await;
    fetching.abort();
    until_no_query_runs(&client).await;

    // Ohlcv streams its input through the kernel: it stops too.
    let ticks = endless_plan(&client)
        .await
        .with_columns([
            (col("a") * lit(1_000_000i64)).cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("ts"),
            lit("X").alias("symbol"),
            col("b").cast(DataType::Float64).alias("price"),
            lit(1.0).alias("size"),
        ])
        .await
        .unwrap();
    let bars = tokio::spawn(async move { ticks.ohlcv(&polaroid_timeseries::OhlcvOptions::default()).await.map(|_| ()) });
    until_a_query_runs(&client).await;
    bars.abort();
    until_no_query_runs(&client).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_checks_the_budget_as_it_builds() {
    use polaroid_grpc::client::{Client, ClientError};

    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        memory_limit: 256 << 20,
        ..Default::default()
    })
    .await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();
    // 10 billion rows × 16 bytes would never fit; Collect stops at the budget
    // rather than building the whole result first.
    let plan = endless_plan(&client).await;
    match plan.collect().await {
        Err(ClientError::Status(s)) => {
            assert_eq!(s.code(), Code::ResourceExhausted, "{}", s.message());
            assert!(s.message().contains("of your share of the server's memory budget"), "{}", s.message());
        },
        other => panic!("expected RESOURCE_EXHAUSTED, got {:?}", other.map(|f| f.id().to_string())),
    }
    assert_eq!(stats(&client).await.running_queries, 0);
    // A result that fits is collected whole.
    let small = plan.slice(0, 1_000).await.unwrap().collect().await.unwrap();
    assert_eq!(small.fetch().await.unwrap().height(), 1_000);
    server.stop().await;
}

/// Uploads that made polars-arrow's reader panic under the fuzz driver
/// (`make fuzz`): each is INVALID_ARGUMENT, leaves no handle, and the server
/// keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_found_uploads_are_refused_with_a_clear_error() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../polaroid-core/tests/fixtures/fuzz-upload");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 5, "the fixtures are in {}", dir.display());
    for file in files {
        let err = upload_bytes(&mut client, "fuzz", std::fs::read(&file).unwrap(), 1 << 20).await.unwrap_err();
        match err.code() {
            Code::InvalidArgument => {
                assert!(err.message().starts_with("the upload is not a valid Arrow IPC stream"), "{}", err.message())
            },
            // A null array of 2^51 rows is well-formed, just far too big.
            Code::ResourceExhausted => assert!(err.message().starts_with("the upload declares"), "{}", err.message()),
            other => panic!("{}: {other:?}: {}", file.display(), err.message()),
        }
    }
    assert!(client.list(ListRequest {}).await.unwrap().into_inner().handles.is_empty());
    let ok = upload_bytes(&mut client, "fine", crate::ipc_stream(&longs(10)), 1 << 20).await.unwrap();
    assert_eq!(ok.rows, Some(10));
    server.stop().await;
}
