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
    // A grid over the cap: 1ms bars forward-filled over a trading day are
    // ~23 million intervals per symbol, refused before they exist.
    let every_ms = OhlcvOptions { fill: polaroid_timeseries::Fill::Forward, ..OhlcvOptions::every("1ms").unwrap() };
    let err = status(trades.ohlcv(&every_ms).await.unwrap_err());
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("more than the cap of 10000000 intervals"), "{}", err.message());
    // Still serving.
    assert!(trades.ohlcv(&OhlcvOptions::default()).await.is_ok());
    server.stop().await;
}

async fn scan(rpc: &mut polaroid_grpc::proto::polaroid_client::PolaroidClient<tonic::transport::Channel>, path: &str) -> String {
    let request = polaroid_grpc::proto::ScanRequest { path: path.into(), ..Default::default() };
    rpc.scan(request).await.unwrap().into_inner().info.unwrap().handle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tick_analytics_on_handles_equal_the_library() {
    use polaroid_grpc::proto::{tick_analytics_request::Op, FetchRequest, TickAnalyticsRequest};
    use polaroid_timeseries::{IntervalOptions, OutOfOrder, QuoteResampleOptions, ReturnsOptions, TicksExt};

    let server = TestServer::with_sample().await;
    let mut rpc = server.client().await;
    let trades = scan(&mut rpc, "trades.parquet").await;
    let quotes = scan(&mut rpc, "quotes.parquet").await;
    let local_quotes = || {
        LazyFrame::scan_parquet(PlRefPath::new(sample_path("quotes.parquet").to_string_lossy().as_ref()), Default::default())
            .unwrap()
    };
    let by = vec!["symbol".to_string()];
    let cases: Vec<(String, Op, LazyFrame)> = vec![
        (
            trades.clone(),
            Op::Returns(polaroid_grpc::proto::Returns { log: true, name: String::new() }),
            local_trades().with_returns(&ReturnsOptions { log: true, ..Default::default() }).unwrap(),
        ),
        (
            trades.clone(),
            Op::Twap(polaroid_grpc::proto::IntervalStat { every: "5m".into() }),
            local_trades().twap(&IntervalOptions { every: Duration::parse("5m"), ..Default::default() }).unwrap(),
        ),
        (
            trades.clone(),
            Op::RollingTwap(polaroid_grpc::proto::RollingWindow { window: "2m".into(), name: String::new() }),
            local_trades()
                .with_rolling_twap(&polaroid_timeseries::RollingVwapOptions {
                    window: Duration::parse("2m"),
                    name: "twap".into(),
                    ..Default::default()
                })
                .unwrap(),
        ),
        (
            quotes.clone(),
            Op::ResampleQuotes(polaroid_grpc::proto::ResampleQuotes { columns: vec![], every: "10s".into() }),
            local_quotes()
                .resample_quotes(&QuoteResampleOptions { every: Duration::parse("10s"), ..Default::default() })
                .unwrap(),
        ),
        (
            trades.clone(),
            Op::CleanTicks(polaroid_grpc::proto::CleanTicks { drop_out_of_order: false }),
            local_trades().clean_ticks("ts", &["symbol".into()], OutOfOrder::Flag).unwrap(),
        ),
    ];
    for (handle, op, expected) in cases {
        let request = TickAnalyticsRequest { handle, by: by.clone(), op: Some(op), ..Default::default() };
        let info = rpc.tick_analytics(request).await.unwrap().into_inner().info.unwrap();
        let (got, _) = crate::fetch_all(&mut rpc, FetchRequest { handle: info.handle, ..Default::default() }).await;
        assert_frames_close(&got, &expected.collect().unwrap());
    }

    // No op, or a column that is not there: INVALID_ARGUMENT.
    let err = rpc.tick_analytics(TickAnalyticsRequest { handle: trades.clone(), ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let request = TickAnalyticsRequest {
        handle: trades,
        price: "px".into(),
        op: Some(Op::Returns(Default::default())),
        ..Default::default()
    };
    let err = rpc.tick_analytics(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("px"), "{}", err.message());
    server.stop().await;
}
