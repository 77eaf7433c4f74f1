//! The live-source calls of polaroid.v1: StartSource, Sources, StopSource,
//! each error with its code. (Feeds and rows are tested in polaroid-sources
//! and through the server binary; here nothing listens on the feed's port.)

use polaroid_grpc::proto::{SourcesRequest, StartSourceRequest, StopSourceRequest};
use polaroid_grpc::ServerConfig;
use polaroid_sources::{ColumnKind, ColumnSpec};
use tonic::{Code, Request};

use crate::{as_tenant, sample_dir, TestServer};

fn spec(name: &str) -> String {
    format!(r#"{{"name": "{name}", "table": "t", "format": "binance-trade", "websocket": {{"url": "ws://127.0.0.1:9", "reconnect_min_ms": 10}}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_are_started_listed_and_stopped_with_precise_codes() {
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        auth_tokens: vec!["alice".into(), "bob".into()],
        ..Default::default()
    })
    .await;
    let mut client = server.client().await;
    let started = client.start_source(as_tenant("alice", StartSourceRequest { spec_json: spec("feed") })).await.unwrap().into_inner();
    assert_eq!((started.name.as_str(), started.table.as_str(), started.url.as_str()), ("feed", "t", "ws://127.0.0.1:9"));
    let listed = client.sources(as_tenant("alice", SourcesRequest {})).await.unwrap().into_inner().sources;
    assert_eq!(listed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["feed"]);
    // Bob sees none of Alice's sources and cannot stop them.
    assert!(client.sources(as_tenant("bob", SourcesRequest {})).await.unwrap().into_inner().sources.is_empty());
    let err = client.stop_source(as_tenant("bob", StopSourceRequest { name: "feed".into() })).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());

    let err = client.start_source(as_tenant("alice", StartSourceRequest { spec_json: spec("feed") })).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{}", err.message());
    let err = client.start_source(as_tenant("alice", StartSourceRequest { spec_json: "{not json".into() })).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("spec_json"), "{}", err.message());
    let bad_url = spec("other").replace("ws://127.0.0.1:9", "ftp://x");
    let err = client.start_source(as_tenant("alice", StartSourceRequest { spec_json: bad_url })).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("ws://"), "{}", err.message());
    let err = client.sources(Request::new(SourcesRequest {})).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Nothing listens on the feed's port: the refused connects show in the status.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = client.sources(as_tenant("alice", SourcesRequest {})).await.unwrap().into_inner().sources;
        if listed[0].last_error.is_some() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no connect error reported: {listed:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let stopped = client.stop_source(as_tenant("alice", StopSourceRequest { name: "feed".into() })).await.unwrap().into_inner();
    assert_eq!((stopped.state.as_str(), stopped.rows), ("stopped", 0));
    assert!(stopped.last_error.is_some_and(|e| e.contains("ws://127.0.0.1:9")), "the failed connects are reported");
    let err = client.stop_source(as_tenant("alice", StopSourceRequest { name: "feed".into() })).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

/// The same calls through the Rust client, which takes a `SourceSpec`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_starts_lists_and_stops_a_source() {
    let server = TestServer::start(ServerConfig { data_dir: sample_dir().to_path_buf(), ..Default::default() }).await;
    let client = polaroid_grpc::client::Client::connect(format!("http://{}", server.addr)).await.unwrap();
    let mut spec: polaroid_sources::SourceSpec = serde_json::from_str(&spec("batched")).unwrap();
    spec.format = polaroid_sources::Format::Json;
    spec.rows = Some("/data".into());
    spec.columns.insert("ts".into(), ColumnSpec::path("/t", ColumnKind::TimestampMs));
    spec.columns.insert("feed".into(), ColumnSpec::message_path("/type", ColumnKind::String));
    let started = client.start_source(&spec).await.unwrap();
    assert_eq!((started.name.as_str(), started.table.as_str()), ("batched", "t"));
    let listed = client.sources().await.unwrap();
    assert_eq!(listed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["batched"]);
    let err = client.start_source(&spec).await.unwrap_err();
    assert!(matches!(&err, polaroid_grpc::client::ClientError::Status(s) if s.code() == Code::AlreadyExists), "{err}");
    let mut bad = spec.clone();
    bad.name = "bad".into();
    bad.rows = None;
    let err = client.start_source(&bad).await.unwrap_err();
    assert!(matches!(&err, polaroid_grpc::client::ClientError::Status(s) if s.code() == Code::InvalidArgument), "{err}");
    assert!(err.to_string().contains("column feed: message_path is for sources with rows"), "{err}");
    let stopped = client.stop_source("batched").await.unwrap();
    assert_eq!((stopped.state.as_str(), stopped.rows), ("stopped", 0));
    assert!(client.sources().await.unwrap().is_empty());
    let err = client.stop_source("batched").await.unwrap_err();
    assert!(matches!(&err, polaroid_grpc::client::ClientError::Status(s) if s.code() == Code::NotFound), "{err}");
    server.stop().await;
}
