//! SubscribeBars over gRPC with the Rust client: bars of a table that grows
//! while the client listens, against polars' own group_by over the table's
//! final rows (the bars whose minute had ended by the newest tick).

use std::sync::Arc;
use std::time::Duration;

use polaroid_core::tables::{PartitionBy, TableDef};
use polaroid_core::{Core, CoreConfig, Namespace};
use polaroid_grpc::client::{BarStream, Client};
use polaroid_grpc::{serve_core, ServerConfig};
use polaroid_sources::Sources;
use polaroid_timeseries::OhlcvOptions;
use polars::prelude::*;
use tokio::sync::oneshot;

const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "NVDA"];
const T0_US: i64 = 1_709_908_200_000_000; // 2024-03-08 14:30:00 UTC
const STEP_US: i64 = 700_000;
const MINUTE_US: i64 = 60_000_000;

struct LiveServer {
    _dir: tempfile::TempDir,
    core: Arc<Core>,
    client: Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl LiveServer {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        let columns = [("symbol", "SYMBOL"), ("ts", "TIMESTAMP"), ("price", "DOUBLE"), ("size", "DOUBLE")];
        let def = TableDef::new("trades", &columns, Some("ts"), PartitionBy::Day);
        core.tables().create(&Namespace::anonymous(), def, false).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let sources = Sources::new(core.clone());
        let served = core.clone();
        tokio::spawn(async move {
            serve_core(served, sources, &ServerConfig::default(), listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap()
        });
        let client = Client::connect(format!("http://{addr}")).await.unwrap();
        Self { _dir: dir, core, client, shutdown: Some(tx) }
    }

    /// Ticks `from..to` of the feed, appended as one write.
    fn append(&self, from: i64, to: i64) {
        let n = (to - from) as usize;
        let mut symbol = Vec::with_capacity(n);
        let (mut ts, mut price, mut size) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for i in from..to {
            symbol.push(SYMBOLS[(i % 3) as usize]);
            ts.push(T0_US + i * STEP_US);
            price.push(100.0 + ((i * 37) % 101) as f64 / 10.0);
            size.push(1.0 + (i % 7) as f64);
        }
        let df = df! { "symbol" => symbol, "ts" => ts, "price" => price, "size" => size }
            .unwrap()
            .lazy()
            .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
            .collect()
            .unwrap();
        self.core.tables().append(&Namespace::anonymous(), "trades", df, None).unwrap();
    }

    /// Polars over the table's rows: 1-minute bars in `[from_us, until_us)`.
    fn oracle(&self, from_us: i64, until_us: i64) -> DataFrame {
        let table = self.core.tables().get(&Namespace::anonymous(), "trades").unwrap().unwrap();
        let minute = col("ts").dt().truncate(lit("1m"));
        table
            .scan()
            .unwrap()
            .with_column(col("symbol").cast(DataType::String))
            .sort(["ts"], SortMultipleOptions::default().with_maintain_order(true))
            .group_by([col("symbol"), minute.alias("bar")])
            .agg([
                col("price").first().alias("open"),
                col("price").max().alias("high"),
                col("price").min().alias("low"),
                col("price").last().alias("close"),
                col("size").sum().alias("volume"),
                ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap"),
                len().alias("trades"),
            ])
            .rename(["bar"], ["ts"], true)
            .filter(col("ts").cast(DataType::Int64).gt_eq(lit(from_us)))
            .filter((col("ts").cast(DataType::Int64) + lit(MINUTE_US)).lt_eq(lit(until_us)))
            .select([col("symbol"), col("ts"), col("open"), col("high"), col("low"), col("close"), col("volume"), col("vwap"), col("trades")])
            .sort(["symbol", "ts"], Default::default())
            .collect()
            .unwrap()
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.shutdown.take().unwrap().send(());
    }
}

/// Frames from `stream` until they hold `rows` bars in all.
async fn read_bars(stream: &mut BarStream, rows: usize) -> DataFrame {
    let mut all: Option<DataFrame> = None;
    while all.as_ref().map_or(0, DataFrame::height) < rows {
        let frame = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .expect("bars within 60 s")
            .expect("the stream stays open")
            .unwrap();
        match all.as_mut() {
            Some(all) => all.vstack_mut(&frame).map(|_| ()).unwrap(),
            None => all = Some(frame),
        }
    }
    all.unwrap().sort(["symbol", "ts"], Default::default()).unwrap()
}

fn assert_bars_equal(streamed: &DataFrame, oracle: &DataFrame) {
    assert_eq!(streamed.height(), oracle.height(), "{streamed}\n{oracle}");
    for name in ["symbol", "ts", "trades"] {
        let (a, b) = (streamed.column(name).unwrap(), oracle.column(name).unwrap().cast(streamed.column(name).unwrap().dtype()).unwrap());
        assert!(a.as_materialized_series().equals_missing(b.as_materialized_series()), "{name}:\n{streamed}\n{oracle}");
    }
    for name in ["open", "high", "low", "close", "volume", "vwap"] {
        let (a, b) = (streamed.column(name).unwrap().f64().unwrap(), oracle.column(name).unwrap().f64().unwrap());
        for (x, y) in a.iter().zip(b.iter()) {
            let (x, y) = (x.unwrap(), y.unwrap());
            assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{name}: {x} vs {y}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bars_stream_as_appends_close_them_and_equal_polars_over_the_table() {
    let server = LiveServer::start().await;
    let options = OhlcvOptions::every("1m").unwrap();
    // Almost six minutes of history; the 14:35 minute is still open.
    server.append(0, 500);
    let newest_then = T0_US + 499 * STEP_US;
    let open_from = newest_then - newest_then.rem_euclid(MINUTE_US);
    let mut live = server.client.subscribe_bars("trades", &options, None, None).await.unwrap();
    let mut replay = server.client.subscribe_bars("trades", &options, Some("2024-03-08T14:30:00Z"), None).await.unwrap();
    // Then the feed goes on, 40 ticks per append.
    for from in (500..1_400).step_by(40) {
        server.append(from, (from + 40).min(1_400));
    }
    let newest = T0_US + 1_399 * STEP_US;
    let closed_until = newest - newest.rem_euclid(MINUTE_US);

    let expected_live = server.oracle(open_from, closed_until);
    assert!(expected_live.height() >= 3 * 9, "{expected_live}");
    assert_bars_equal(&read_bars(&mut live, expected_live.height()).await, &expected_live);
    let expected_all = server.oracle(T0_US, closed_until);
    assert_bars_equal(&read_bars(&mut replay, expected_all.height()).await, &expected_all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_bars_refuses_bad_requests_with_their_codes() {
    let server = LiveServer::start().await;
    let options = OhlcvOptions::every("1m").unwrap();
    let code = |r: Result<BarStream, polaroid_grpc::client::ClientError>| match r {
        Err(polaroid_grpc::client::ClientError::Status(s)) => (s.code(), s.message().to_string()),
        Err(other) => panic!("not a status: {other}"),
        Ok(_) => panic!("accepted"),
    };
    let (c, m) = code(server.client.subscribe_bars("nope", &options, None, None).await);
    assert_eq!((c, m.as_str()), (tonic::Code::NotFound, "table does not exist: nope"));
    let (c, m) = code(server.client.subscribe_bars("trades", &options, Some("yesterday"), None).await);
    assert_eq!(c, tonic::Code::InvalidArgument, "{m}");
    let (c, m) = code(server.client.subscribe_bars("trades", &options, None, Some("1mo")).await);
    assert_eq!(c, tonic::Code::InvalidArgument, "{m}");
    let wrong_column = OhlcvOptions { price: "px".into(), ..options.clone() };
    let (c, m) = code(server.client.subscribe_bars("trades", &wrong_column, None, None).await);
    assert_eq!(c, tonic::Code::InvalidArgument, "{m}");
    assert!(m.contains("px"), "{m}");
    // The server is still up and serves a good subscription.
    let mut stream = server.client.subscribe_bars("trades", &options, None, Some("2s")).await.unwrap();
    server.append(0, 200);
    let bars = read_bars(&mut stream, 1).await;
    assert_eq!(bars.get_column_names(), ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trades"]);
}
