//! The Ohlcv RPC: bars computed on the server equal the library run
//! in-process on the same ticks (the library is checked against upstream
//! polars group_by_dynamic in its own tests).

use polaroid_grpc::client::{Client, ClientError};
use polaroid_timeseries::{BarKind, Fill, OhlcvExt, OhlcvOptions};
use polars::prelude::*;

use crate::{assert_frames_close, sample_path, TestServer};

fn local_trades() -> LazyFrame {
    LazyFrame::scan_parquet(PlRefPath::new(sample_path("trades.parquet").to_string_lossy().as_ref()), Default::default())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ohlcv_on_a_scan_and_on_a_frame_equals_the_library() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();
    let trades = client.scan_parquet("trades.parquet").await.unwrap();

    let cases = [
        OhlcvOptions::every("5m").unwrap(),
        OhlcvOptions { fill: Fill::Forward, ..OhlcvOptions::every("1m").unwrap() },
        OhlcvOptions { kind: BarKind::Dollar(250_000.0), emit_partial: false, ..OhlcvOptions::default() },
        OhlcvOptions { by: vec![], ..OhlcvOptions::every("1h").unwrap() },
    ];
    for options in &cases {
        let remote = trades.ohlcv(options).await.unwrap();
        assert!(remote.lineage().contains("ohlcv("), "{}", remote.lineage());
        let expected = local_trades().ohlcv(options).unwrap();
        assert_eq!(remote.rows(), Some(expected.height() as u64));
        assert_frames_close(&remote.fetch().await.unwrap(), &expected);
    }

    // On a materialized frame (the in-memory path) too.
    let collected = trades.collect().await.unwrap();
    let options = OhlcvOptions::every("15m").unwrap();
    let expected = local_trades().collect().unwrap().ohlcv(&options).unwrap();
    assert_frames_close(&collected.ohlcv(&options).await.unwrap().fetch().await.unwrap(), &expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ohlcv_requests_are_invalid_argument_naming_the_problem() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();
    let trades = client.scan_parquet("trades.parquet").await.unwrap();

    let status = |e: ClientError| match e {
        ClientError::Status(s) => s,
        other => panic!("expected a status, got {other:?}"),
    };
    let err = status(trades.ohlcv(&OhlcvOptions { price: "px".into(), ..OhlcvOptions::default() }).await.unwrap_err());
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("\"px\""), "{}", err.message());

    let err = status(trades.ohlcv(&OhlcvOptions { time: "symbol".into(), ..OhlcvOptions::default() }).await.unwrap_err());
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("must be a Datetime"), "{}", err.message());

    let quotes = client.scan_parquet("quotes.parquet").await.unwrap();
    let err = status(quotes.ohlcv(&OhlcvOptions::default()).await.unwrap_err());
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("\"price\""), "{}", err.message());
    // Still serving.
    assert!(trades.ohlcv(&OhlcvOptions::default()).await.is_ok());
    server.stop().await;
}
