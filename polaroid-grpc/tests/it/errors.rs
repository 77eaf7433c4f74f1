//! Bad input gets the right code and a clear message, and the server keeps
//! answering.

use std::collections::HashMap;

use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::{FetchRequest, HandleRequest, ListRequest, ScanRequest, SqlRequest, StatsRequest};
use polaroid_grpc::ServerConfig;
use tonic::transport::Channel;
use tonic::Code;

use crate::{as_tenant, ipc_stream, sample_dir, upload_chunks, TestServer};

fn scan(path: &str) -> ScanRequest {
    ScanRequest { path: path.into(), ..Default::default() }
}

async fn still_serving(client: &mut PolaroidClient<Channel>) {
    client.scan(scan("trades.parquet")).await.expect("the server must answer the next call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_handles() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let unknown = "0f8e6a3c-51b2-4c7d-9a10-2b3c4d5e6f70";
    let err = client.schema(HandleRequest { handle: unknown.into() }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), format!("handle {unknown} not found: no such handle exists"));
    let err = client.drop(HandleRequest { handle: "../../etc/passwd".into() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("malformed handle id"), "{}", err.message());
    still_serving(&mut client).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_handles_say_so() {
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        handle_ttl: std::time::Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let mut client = server.client().await;
    let handle = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let err = client.schema(HandleRequest { handle }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().ends_with("it expired after 200ms idle"), "{}", err.message());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_data_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    polaroid_grpc::sample::ensure(dir.path()).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.csv"), "a,b\n1,2\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.csv"), dir.path().join("link.csv")).unwrap();
    let server = TestServer::start(ServerConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).await;
    let mut client = server.client().await;
    for (path, expected) in [
        ("../../etc/passwd", "uses '..'"),
        ("/etc/passwd", "is an absolute path"),
        ("link.csv", "resolves outside the server's data directory"),
    ] {
        let err = client.scan(scan(path)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{path}");
        assert!(err.message().contains(expected), "{path}: {}", err.message());
    }
    let err = client.scan(scan("nope.parquet")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("no file \"nope.parquet\""), "{}", err.message());
    let err = client.scan(scan("trades.unknown")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    still_serving(&mut client).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_column_or_query_is_invalid_argument_naming_it() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let trades = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    let tables = HashMap::from([("trades".to_string(), trades)]);
    let polars_kind = |err: &tonic::Status| err.metadata().get("polaroid-polars-error").map(|v| v.to_str().unwrap().to_string());
    let err = client
        .sql(SqlRequest { tables: tables.clone(), query: "SELECT no_such_column FROM trades".into(), distributed: false, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("no_such_column"), "{}", err.message());
    // polars' own kind of error travels beside the code, for clients to raise polars' exception.
    assert_eq!(polars_kind(&err).as_deref(), Some("ColumnNotFound"), "{err:?}");
    // Also when polars finds it only as the result streams: a strict cast of text to a number.
    let query = "SELECT CAST(symbol AS INT) AS n FROM trades".into();
    let cast = client.sql(SqlRequest { tables: tables.clone(), query, distributed: false, ..Default::default() }).await.unwrap().into_inner().info.unwrap();
    let mut stream = client.fetch(FetchRequest { handle: cast.handle, ..Default::default() }).await.unwrap().into_inner();
    let err = loop {
        match stream.message().await {
            Err(err) => break err,
            Ok(None) => panic!("a cast of symbols to integers succeeded"),
            Ok(Some(_)) => {},
        }
    };
    assert_eq!((err.code(), polars_kind(&err).as_deref()), (Code::InvalidArgument, Some("InvalidOperation")), "{err:?}");
    let err = client.schema(HandleRequest { handle: "0f8e6a3c-51b2-4c7d-9a10-2b3c4d5e6f70".into() }).await.unwrap_err();
    assert_eq!((err.code(), polars_kind(&err)), (Code::NotFound, None), "not polars': {err:?}");
    let err = client.sql(SqlRequest { tables: tables.clone(), query: "SELEKT 1".into(), distributed: false, ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client.sql(SqlRequest { tables: tables.clone(), query: "SELECT * FROM missing_table".into(), distributed: false, ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("missing_table"), "{}", err.message());
    // A placeholder with nothing to bind it (Flight SQL's prepared statements do).
    let query = "SELECT * FROM trades WHERE size > $1".into();
    let err = client.sql(SqlRequest { tables, query, distributed: false, ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("the query takes 1 parameter(s) ($1) and none was bound"), "{}", err.message());
    still_serving(&mut client).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_refused() {
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        max_message_size: 64 * 1024,
        ..Default::default()
    })
    .await;
    let mut client = server.client().await;
    let query = format!("SELECT 1 -- {}", "x".repeat(100 * 1024));
    let err = client.sql(SqlRequest { tables: HashMap::new(), query, distributed: false, ..Default::default() }).await.unwrap_err();
    assert!(matches!(err.code(), Code::OutOfRange | Code::ResourceExhausted), "{err:?}");
    assert!(err.message().contains("65536"), "{}", err.message());
    still_serving(&mut client).await;
    server.stop().await;
}

/// Upload a small frame as the holder of `token`.
async fn upload_as(token: &str, client: &mut PolaroidClient<Channel>) -> polaroid_grpc::proto::HandleInfo {
    let bytes = ipc_stream(&polars::prelude::df!("x" => [1i64, 2, 3]).unwrap());
    let chunks = upload_chunks("small", &bytes, 1 << 20);
    client.upload(as_tenant(token, tokio_stream::iter(chunks))).await.unwrap().into_inner().info.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_authenticate_and_each_has_its_own_namespace() {
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        auth_tokens: vec!["alice-secret".into(), "bob-secret".into()],
        ..Default::default()
    })
    .await;
    let mut client = server.client().await;
    let err = client.list(ListRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("Bearer"), "{}", err.message());

    let err = client.list(as_tenant("wrong", ListRequest {})).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let alice_handle =
        client.scan(as_tenant("alice-secret", scan("trades.parquet"))).await.unwrap().into_inner().info.unwrap().handle;
    let alice = client.list(as_tenant("alice-secret", ListRequest {})).await.unwrap().into_inner().handles;
    assert_eq!(alice.len(), 1);
    let bob = client.list(as_tenant("bob-secret", ListRequest {})).await.unwrap().into_inner().handles;
    assert!(bob.is_empty());
    let err = client.schema(as_tenant("bob-secret", HandleRequest { handle: alice_handle.clone() })).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().ends_with("no such handle exists"));
    // Stats counts the caller's handles only.
    let upload = upload_as("alice-secret", &mut client).await;
    let alice = client.stats(as_tenant("alice-secret", StatsRequest {})).await.unwrap().into_inner();
    assert_eq!((alice.handles, alice.bytes), (2, upload.estimated_bytes.unwrap()));
    let bob = client.stats(as_tenant("bob-secret", StatsRequest {})).await.unwrap().into_inner();
    assert_eq!((bob.handles, bob.bytes, bob.inserted), (0, 0, 2));
    server.stop().await;
}

/// polars' `diff` negates `n`, and negating i64::MIN overflows: a real panic
/// inside polars wherever overflow checks are on, as in test builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(debug_assertions), ignore = "polars panics here only with overflow checks")]
async fn a_panic_inside_polars_is_internal_and_the_server_keeps_serving() {
    use polaroid_grpc::client::{Client, ClientError};
    use polars::prelude::*;

    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();
    let df = df!("x" => [1i64, 5, 2]).unwrap();
    let frame = client.upload(&df).await.unwrap();
    let plan = frame.with_columns([col("x").diff(lit(i64::MIN), Default::default()).alias("d")]).await.unwrap();

    // The in-memory engine's diff panics. (The streaming engine, which
    // Fetch and a default Collect run, computes it as all nulls instead.)
    let result = plan.collect_with_engine(polaroid_grpc::proto::Engine::InMemory).await;
    let Err(ClientError::Status(status)) = &result else { panic!("expected an INTERNAL status, got {result:?}") };
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "internal error: polars panicked: attempt to negate with overflow");
    // The server goes on: the same handles still answer, with the same data.
    assert!(frame.fetch().await.unwrap().equals(&df));
    let fine = frame.with_columns([col("x").diff(lit(1), Default::default()).alias("d")]).await.unwrap();
    let expected = df.clone().lazy().with_columns([col("x").diff(lit(1), Default::default()).alias("d")]).collect().unwrap();
    assert!(fine.fetch().await.unwrap().equals_missing(&expected));
    server.stop().await;
}

/// A service mounted without the server's auth layer refuses every call
/// instead of serving the anonymous namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_the_auth_layer_fails_closed() {
    use polaroid_grpc::proto::polaroid_server::PolaroidServer;
    use polaroid_core::{Core, CoreConfig};
    use polaroid_grpc::PolaroidService;

    let core = Core::new(CoreConfig { data_dir: sample_dir().to_path_buf(), ..Default::default() }).unwrap();
    let service = PolaroidService::new(core, 2 << 20);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let server = tokio::spawn(
        tonic::transport::Server::builder().add_service(PolaroidServer::new(service)).serve_with_incoming(incoming),
    );
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut client = PolaroidClient::new(channel);
    let err = client.scan(scan("trades.parquet")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{}", err.message());
    assert!(err.message().contains("without the server's auth layer"), "{}", err.message());
    let err = client.list(ListRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    server.abort();
}

/// A corrupt file in the data directory is not the client's fault: the
/// answer is FAILED_PRECONDITION (an operator must fix the file), never
/// INVALID_ARGUMENT, and it names the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_data_file_is_failed_precondition() {
    let dir = tempfile::tempdir().unwrap();
    polaroid_grpc::sample::ensure(dir.path()).unwrap();
    std::fs::write(dir.path().join("garbage.parquet"), b"PAR1 this is not a parquet file at all PAR1").unwrap();
    std::fs::write(dir.path().join("garbage.ipc"), b"ARROW1\0\0 nor an ipc file").unwrap();
    // A valid footer over damaged pages: the schema reads, the data does not.
    let mut damaged = std::fs::read(dir.path().join("trades.parquet")).unwrap();
    // Invert the first half after the magic: page headers and data.
    let half = damaged.len() / 2;
    damaged[4..half].iter_mut().for_each(|b| *b = !*b);
    std::fs::write(dir.path().join("damaged.parquet"), damaged).unwrap();
    let server = TestServer::start(ServerConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).await;
    let mut client = server.client().await;
    for path in ["garbage.parquet", "garbage.ipc"] {
        let err = client.scan(scan(path)).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{path}: {}", err.message());
        assert!(err.message().contains(path), "{path}: {}", err.message());
    }
    let handle = client.scan(scan("damaged.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    let mut stream = client.fetch(polaroid_grpc::proto::FetchRequest { handle, ..Default::default() }).await.unwrap().into_inner();
    let err = loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the damaged file read without an error"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    still_serving(&mut client).await;
    server.stop().await;
}
