//! The live-source calls of polaroid.v1: StartSource, Sources, StopSource,
//! each error with its code. (Feeds and rows are tested in polaroid-sources
//! and through the server binary; here nothing listens on the feed's port.)

use polaroid_grpc::proto::{SourcesRequest, StartSourceRequest, StopSourceRequest};
use polaroid_grpc::ServerConfig;
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
