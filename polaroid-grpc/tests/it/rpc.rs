use std::collections::HashMap;

use polaroid_grpc::proto::{
    CollectRequest, Engine, ExplainRequest, FetchRequest, HandleKind, HandleRequest, IpcCompression,
    ListRequest, ScanRequest, SqlRequest, StatsRequest,
};
use polaroid_grpc::ServerConfig;
use polars::prelude::*;
use polars::sql::SQLContext;

use crate::{fetch_all, sample_dir, sample_path, TestServer};

fn local_trades() -> DataFrame {
    let path = PlRefPath::new(sample_path("trades.parquet").to_string_lossy().as_ref());
    LazyFrame::scan_parquet(path, ScanArgsParquet::default()).unwrap().collect().unwrap()
}

fn scan(path: &str) -> ScanRequest {
    ScanRequest { path: path.into(), ..Default::default() }
}

fn fetch(handle: &str) -> FetchRequest {
    FetchRequest { handle: handle.into(), offset: 0, limit: None, compression: IpcCompression::None as i32 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_then_fetch_equals_polars_reading_the_file() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let info = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap();
    assert_eq!(info.kind(), HandleKind::Plan);
    assert_eq!(info.lineage, "scan_parquet(\"trades.parquet\")");
    let names: Vec<_> = info.schema.unwrap().fields.into_iter().map(|f| (f.name, f.dtype)).collect();
    assert_eq!(
        names,
        [("ts", "datetime[ns, UTC]"), ("symbol", "str"), ("price", "f64"), ("size", "i64")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let (remote, _) = fetch_all(&mut client, fetch(&info.handle)).await;
    let local = local_trades();
    assert_eq!(remote.height(), 112_000);
    assert!(remote.equals_missing(&local));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_over_named_handles_equals_polars_sql() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let trades = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    let quotes = client.scan(scan("quotes.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    let query = "SELECT t.symbol, COUNT(*) AS n, SUM(t.price * t.size) / SUM(t.size) AS vwap, MAX(q.ask - q.bid) AS widest \
                 FROM trades t JOIN (SELECT symbol, MAX(ask) AS ask, MIN(bid) AS bid FROM quotes GROUP BY symbol) q \
                 ON t.symbol = q.symbol WHERE t.size > 10 GROUP BY t.symbol ORDER BY t.symbol";
    let tables = HashMap::from([("trades".to_string(), trades), ("quotes".to_string(), quotes)]);
    let info = client.sql(SqlRequest { tables, query: query.into(), distributed: false, ..Default::default() }).await.unwrap().into_inner().info.unwrap();
    let (remote, _) = fetch_all(&mut client, fetch(&info.handle)).await;

    let mut ctx = SQLContext::new();
    ctx.register("trades", local_trades().lazy());
    let quotes_path = PlRefPath::new(sample_path("quotes.parquet").to_string_lossy().as_ref());
    ctx.register("quotes", LazyFrame::scan_parquet(quotes_path, Default::default()).unwrap());
    let local = ctx.execute(query).unwrap().collect().unwrap();
    assert_eq!(remote.height(), 5);
    crate::assert_frames_close(&remote, &local);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_fetch_slices_and_compression_round_trip() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let plan = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    for engine in [Engine::Auto, Engine::InMemory, Engine::Streaming] {
        let frame = client
            .collect(CollectRequest { handle: plan.clone(), engine: engine as i32 })
            .await
            .unwrap()
            .into_inner()
            .info
            .unwrap();
        assert_eq!(frame.kind(), HandleKind::Frame);
        assert_eq!(frame.rows, Some(112_000));
        assert!(frame.estimated_bytes.unwrap() > 112_000 * 24);
    }
    let local = local_trades();
    for handle_kind in ["plan", "frame"] {
        let handle = if handle_kind == "plan" {
            plan.clone()
        } else {
            client.collect(CollectRequest { handle: plan.clone(), engine: 0 }).await.unwrap().into_inner().info.unwrap().handle
        };
        for compression in [IpcCompression::None, IpcCompression::Lz4, IpcCompression::Zstd] {
            let req = FetchRequest { handle: handle.clone(), offset: 1000, limit: Some(2500), compression: compression as i32 };
            let (remote, _) = fetch_all(&mut client, req).await;
            assert!(remote.equals_missing(&local.slice(1000, 2500)), "{handle_kind} {compression:?}");
        }
        // Past the end: an empty result with the right schema.
        let req = FetchRequest { handle: handle.clone(), offset: 200_000, limit: None, compression: 0 };
        let (remote, _) = fetch_all(&mut client, req).await;
        assert_eq!((remote.height(), remote.width()), (0, 4), "{handle_kind}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_larger_than_one_message_arrives_whole_and_in_order() {
    let max = 64 * 1024;
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        max_message_size: max,
        ..Default::default()
    })
    .await;
    let mut client = server.client().await;
    let plan = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    let frame = client.collect(CollectRequest { handle: plan.clone(), engine: 0 }).await.unwrap().into_inner().info.unwrap().handle;
    let local = local_trades();
    for handle in [plan, frame] {
        let (remote, messages) = fetch_all(&mut client, fetch(&handle)).await;
        assert!(messages.len() > 20, "{} messages", messages.len());
        assert!(messages.iter().all(|m| m.len() <= max), "every message under the limit");
        assert_eq!(messages.iter().map(|m| m.rows).sum::<u64>(), 112_000);
        assert!(remote.equals_missing(&local));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_explain_and_handle_management() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let trades = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    let query = "SELECT symbol, price FROM trades WHERE price > 200";
    let tables = HashMap::from([("trades".to_string(), trades.clone())]);
    let filtered = client.sql(SqlRequest { tables, query: query.into(), distributed: false, ..Default::default() }).await.unwrap().into_inner().info.unwrap();

    let schema = client.schema(HandleRequest { handle: filtered.handle.clone() }).await.unwrap().into_inner();
    let fields: Vec<_> = schema.schema.unwrap().fields.into_iter().map(|f| format!("{}:{}", f.name, f.dtype)).collect();
    assert_eq!(fields, ["symbol:str", "price:f64"]);

    // The optimized plan pushes the projection and the filter into the scan.
    let plan = client.explain(ExplainRequest { handle: filtered.handle.clone(), unoptimized: false }).await.unwrap().into_inner().plan;
    assert!(plan.contains("Parquet SCAN"), "{plan}");
    assert!(plan.contains("SELECTION"), "{plan}");
    assert!(plan.contains("PROJECT 2/4 COLUMNS") || plan.contains("2/4"), "{plan}");

    let listed: Vec<_> = client.list(ListRequest {}).await.unwrap().into_inner().handles.into_iter().map(|h| h.handle).collect();
    assert!(listed.contains(&trades) && listed.contains(&filtered.handle));
    let kept = client.keep_alive(HandleRequest { handle: trades.clone() }).await.unwrap().into_inner();
    assert_eq!(kept.handle, trades);
    assert!(kept.last_access_ms >= kept.created_ms);

    let before = client.stats(StatsRequest {}).await.unwrap().into_inner();
    client.drop(HandleRequest { handle: filtered.handle.clone() }).await.unwrap();
    let after = client.stats(StatsRequest {}).await.unwrap().into_inner();
    assert_eq!((after.handles, after.dropped), (before.handles - 1, before.dropped + 1));
    let err = client.schema(HandleRequest { handle: filtered.handle.clone() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert!(err.message().ends_with("it was dropped by the client"), "{}", err.message());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let server = TestServer::with_sample().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await.unwrap();
    let mut health = HealthClient::new(channel);
    let reply = health.check(HealthCheckRequest { service: "polaroid.v1.Polaroid".into() }).await.unwrap().into_inner();
    assert_eq!(reply.status, 1, "SERVING");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_dropped_halfway_stops_its_work() {
    let server = TestServer::start(ServerConfig {
        data_dir: sample_dir().to_path_buf(),
        max_message_size: 64 * 1024,
        ..Default::default()
    })
    .await;
    let mut client = server.client().await;
    let plan = client.scan(scan("quotes.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    // A cross join makes a plan far larger than we will read: 112k x 112k rows.
    let big = client
        .join(polaroid_grpc::proto::JoinRequest {
            left: plan.clone(),
            right: plan.clone(),
            how: polaroid_grpc::proto::JoinHow::Cross as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap()
        .handle;
    let mut stream = client.fetch(fetch(&big)).await.unwrap().into_inner();
    for _ in 0..3 {
        assert!(stream.message().await.unwrap().is_some());
    }
    assert_eq!(client.stats(StatsRequest {}).await.unwrap().into_inner().active_fetches, 1);
    drop(stream);
    // The server notices the closed stream and stops producing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let active = client.stats(StatsRequest {}).await.unwrap().into_inner().active_fetches;
        if active == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the fetch kept running after its client left");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// Patches 0017 and 0032: a scalar subquery is its one value, in WHERE,
/// HAVING and the SELECT list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalar_subqueries_in_where_and_having_are_their_one_value() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let trades = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    let tables = HashMap::from([("trades".to_string(), trades)]);
    let mut run = async |query: &str| -> Result<DataFrame, tonic::Status> {
        let request = SqlRequest { tables: tables.clone(), query: query.into(), distributed: false, ..Default::default() };
        let handle = client.sql(request).await?.into_inner().info.unwrap().handle;
        let mut stream = client.fetch(fetch(&handle)).await?.into_inner();
        let mut messages = Vec::new();
        while let Some(m) = stream.message().await? {
            messages.push(m);
        }
        Ok(polaroid_grpc::decode_ipc_stream(messages).unwrap())
    };
    let local = local_trades();

    let above = run("SELECT COUNT(*) AS n FROM trades WHERE price > (SELECT AVG(price) FROM trades)").await.unwrap();
    let want = local.clone().lazy().filter(col("price").gt(col("price").mean())).collect().unwrap().height();
    assert!(want > 0 && want < local.height());
    assert_eq!(above.column("n").unwrap().get(0).unwrap().extract::<u64>(), Some(want as u64));

    let top = run("SELECT price FROM trades WHERE price = (SELECT MAX(price) FROM trades)").await.unwrap();
    let want = local.clone().lazy().filter(col("price").eq(col("price").max())).select([col("price")]).collect().unwrap();
    assert!(top.height() > 0 && top.equals_missing(&want), "{top}\n{want}");

    // Worked by hand from the sample's counts (AAPL 24,000, AMZN 16,000, MSFT 20,000,
    // NVDA 30,000, TSLA 22,000 of 112,000): above a fifth of all trades.
    let busy = run("SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol \
                    HAVING COUNT(*) > (SELECT COUNT(*) / 5 FROM trades) ORDER BY symbol")
        .await
        .unwrap();
    let busy = busy.lazy().with_column(col("n").cast(DataType::Int64)).collect().unwrap();
    let want = df!("symbol" => ["AAPL", "NVDA"], "n" => [24_000i64, 30_000]).unwrap();
    assert!(busy.equals_missing(&want), "{busy}");

    // No row: null, so nothing compares true. More than one: an error, as in SQL.
    let none = run("SELECT * FROM trades WHERE price > (SELECT price FROM trades WHERE symbol = 'NONE')").await.unwrap();
    assert_eq!(none.height(), 0);
    let err = run("SELECT * FROM trades WHERE price > (SELECT price FROM trades)").await.unwrap_err();
    assert!(err.message().contains("expected no or a single value"), "{err:?}");
    // In the SELECT list (patch 0032): its value beside every row (it once reached an unreachable!()).
    let from_mean = run("SELECT price - (SELECT AVG(price) FROM trades) AS d FROM trades").await.unwrap();
    let want = local.clone().lazy().select([(col("price") - col("price").mean()).alias("d")]).collect().unwrap();
    assert!(from_mean.height() == local.height() && from_mean.equals_missing(&want), "{from_mean}\n{want}");
    // Correlated, in the SELECT list: each row's own symbol's maximum (patch 0051), not the whole
    // table's (it was refused by name since patch 0028).
    let own_max = run("SELECT symbol, (SELECT MAX(price) FROM trades i WHERE i.symbol = t.symbol) AS m FROM trades t")
        .await
        .unwrap();
    let want = local
        .clone()
        .lazy()
        .select([col("symbol"), col("price").max().over([col("symbol")]).unwrap().alias("m")])
        .sort(["symbol"], Default::default())
        .collect()
        .unwrap();
    // A join keeps no row order: compared by symbol.
    let own_max = own_max.sort(["symbol"], Default::default()).unwrap();
    assert!(own_max.equals_missing(&want), "{own_max}\n{want}");
    // Correlated by an inequality (patch 0052; refused before): the trades of the symbols
    // before each one, from the sample's counts above.
    let before = run("SELECT symbol, (SELECT COUNT(*) FROM trades i WHERE i.symbol < t.symbol) AS n \
                      FROM (SELECT DISTINCT symbol FROM trades) t ORDER BY symbol")
        .await
        .unwrap();
    let before = before.lazy().with_column(col("n").cast(DataType::Int64)).collect().unwrap();
    let want = df!("symbol" => ["AAPL", "AMZN", "MSFT", "NVDA", "TSLA"],
                   "n" => [0i64, 24_000, 40_000, 60_000, 90_000]).unwrap();
    assert!(before.equals_missing(&want), "{before}");
    // In a grouping query's SELECT list (patch 0055; refused before): each group's own maximum.
    let grouped = run("SELECT symbol, COUNT(*) AS n, (SELECT MAX(price) FROM trades i WHERE i.symbol = t.symbol) AS m \
                       FROM trades t GROUP BY symbol ORDER BY symbol")
        .await
        .unwrap();
    let grouped = grouped.lazy().with_column(col("n").cast(DataType::Int64)).collect().unwrap();
    let want = local
        .clone()
        .lazy()
        .group_by([col("symbol")])
        .agg([len().cast(DataType::Int64).alias("n"), col("price").max().alias("m")])
        .sort(["symbol"], Default::default())
        .collect()
        .unwrap();
    assert!(grouped.equals_missing(&want), "{grouped}\n{want}");
    // ... but not one reading a column that is not a GROUP BY key: refused by name.
    let err = run("SELECT symbol, (SELECT MAX(price) FROM trades i WHERE i.price < t.price) AS m \
                   FROM trades t GROUP BY symbol")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("which is not a GROUP BY key"), "{err:?}");
    // DuckDB's TIME_BUCKET (patch 0061; "unsupported function" before): each symbol's 1-minute bars,
    // as polars' truncation to the minute groups them (minutes divide the 2000-01-03 origin).
    let bars = run("SELECT symbol, TIME_BUCKET(INTERVAL '1 minute', ts) AS minute, COUNT(*) AS n, MAX(price) AS hi \
                    FROM trades GROUP BY 1, 2 ORDER BY 1, 2")
        .await
        .unwrap();
    let bars = bars.lazy().with_column(col("n").cast(DataType::Int64)).collect().unwrap();
    let want = local
        .clone()
        .lazy()
        .group_by([col("symbol"), col("ts").dt().truncate(lit("1m")).alias("minute")])
        .agg([len().cast(DataType::Int64).alias("n"), col("price").max().alias("hi")])
        .sort(["symbol", "minute"], Default::default())
        .collect()
        .unwrap();
    assert!(bars.height() > 5 && bars.equals_missing(&want), "{bars}\n{want}");
    server.stop().await;
}
