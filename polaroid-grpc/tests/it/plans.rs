//! Plan shipping: a polars LazyFrame runs on the server in one `Plan` call.
//! Every query here also runs in-process on the same files, and the two
//! frames must be equal.

use std::sync::Arc;

use arrow_flight::{Action, FlightClient, FlightDescriptor};
use futures::TryStreamExt;
use polaroid_core::shipping;
use polaroid_grpc::client::{Client, ClientError, Shipping};
use polaroid_grpc::proto::{HandleRequest, ListRequest, PlanRequest};
use polaroid_grpc::ServerConfig;
use polars::prelude::*;
use polars::sql::SQLContext;
use polars_plan::dsl::{FileWriteFormat, SinkDestination, SinkTarget, UnifiedSinkArgs};
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::{assert_frames_close, sample_path, TestServer};

/// A scan as the server reads it (relative to its data directory).
fn remote_scan(name: &str) -> LazyFrame {
    LazyFrame::scan_parquet(PlRefPath::new(name), Default::default()).unwrap()
}

/// The same file, read in-process.
fn local_scan(name: &str) -> LazyFrame {
    LazyFrame::scan_parquet(PlRefPath::new(sample_path(name).to_string_lossy().as_ref()), Default::default()).unwrap()
}

type Scan = fn(&str) -> LazyFrame;

fn minutes(text: &str) -> polars::prelude::Duration {
    polars::prelude::Duration::parse(text)
}

/// Queries over trades and quotes, built the same way from either scan.
/// Each ends in a sort, so row order is part of the comparison.
fn queries() -> Vec<(&'static str, Box<dyn Fn(Scan) -> LazyFrame>)> {
    let by_symbol_ts = || SortMultipleOptions::default().with_maintain_order(true);
    vec![
        (
            "strings",
            Box::new(move |scan: Scan| {
                scan("trades.parquet")
                    .select([
                        col("symbol").str().to_lowercase().alias("lower"),
                        col("symbol").str().replace(lit("A"), lit("@"), true).alias("replaced"),
                        col("symbol").str().len_chars().alias("chars"),
                        col("symbol").str().contains(lit("^[AM]"), false).alias("am"),
                        col("symbol").str().zfill(lit(6)).alias("zfilled"),
                        concat_str([col("symbol"), col("size").cast(DataType::String)], ":", true).alias("tag"),
                    ])
                    .unique_stable(None, UniqueKeepStrategy::First)
                    .sort(["lower", "tag"], by_symbol_ts())
                    .limit(500)
            }),
        ),
        (
            "temporal",
            Box::new(move |scan: Scan| {
                scan("trades.parquet")
                    .with_columns([
                        col("ts").dt().truncate(lit("5m")).alias("bucket"),
                        col("ts").dt().hour().alias("hour"),
                        col("ts").dt().weekday().alias("weekday"),
                        col("ts").dt().to_string("%Y-%m-%d %H:%M").alias("text"),
                        col("ts").dt().offset_by(lit("90m")).alias("later"),
                        col("ts").dt().convert_time_zone(TimeZone::opt_try_new(Some("America/New_York")).unwrap().unwrap()).dt().date().alias("ny_date"),
                    ])
                    .group_by([col("symbol"), col("bucket")])
                    .agg([col("price").last(), col("later").max(), col("text").first(), col("ny_date").first(), col("weekday").first()])
                    .sort(["symbol", "bucket"], by_symbol_ts())
            }),
        ),
        (
            "lists",
            Box::new(move |scan: Scan| {
                scan("trades.parquet")
                    .group_by([col("symbol")])
                    .agg([col("price").sort(Default::default()).head(Some(5)).alias("cheapest"), col("size").alias("sizes")])
                    .with_columns([
                        col("cheapest").list().len().alias("n"),
                        col("cheapest").list().sum().alias("sum"),
                        col("cheapest").list().get(lit(0), true).alias("first"),
                        col("cheapest").list().eval(element() * lit(2.0)).alias("doubled"),
                        col("sizes").list().max().alias("max_size"),
                    ])
                    .drop(cols(["sizes"]))
                    .sort(["symbol"], by_symbol_ts())
            }),
        ),
        (
            "windows and rolling_by",
            Box::new(move |scan: Scan| {
                let rolling = RollingOptionsDynamicWindow {
                    window_size: minutes("10m"),
                    min_periods: 1,
                    closed_window: ClosedWindow::Right,
                    fn_params: None,
                };
                scan("trades.parquet")
                    .sort(["symbol", "ts"], by_symbol_ts())
                    .with_columns([
                        col("price").mean().over([col("symbol")]).unwrap().alias("mean"),
                        col("size").cum_sum(false).over([col("symbol")]).unwrap().alias("cum_size"),
                        col("price").shift(lit(1)).over([col("symbol")]).unwrap().alias("prev"),
                        col("price")
                            .rank(RankOptions { method: RankMethod::Dense, descending: true }, None)
                            .over([col("symbol")])
                            .unwrap()
                            .alias("rank"),
                        col("price").rolling_mean_by(col("ts"), rolling.clone()).over([col("symbol")]).unwrap().alias("mean_10m"),
                    ])
                    .filter(col("rank").lt_eq(lit(3)))
                    .sort(["symbol", "ts", "price"], by_symbol_ts())
            }),
        ),
        (
            "as-of join",
            Box::new(move |scan: Scan| {
                let asof = AsOfOptions {
                    strategy: AsofStrategy::Backward,
                    tolerance_str: Some("100us".into()),
                    left_by: Some(vec!["symbol".into()]),
                    right_by: Some(vec!["symbol".into()]),
                    allow_eq: true,
                    check_sortedness: true,
                    tolerance: None,
                };
                scan("trades.parquet")
                    .join(scan("quotes.parquet"), [col("ts")], [col("ts")], JoinArgs::new(JoinType::AsOf(Box::new(asof))))
                    .select([col("ts"), col("symbol"), col("price"), ((col("bid") + col("ask")) / lit(2.0)).alias("mid")])
                    .sort(["symbol", "ts", "price"], by_symbol_ts())
            }),
        ),
        (
            "cross join and pivot",
            Box::new(move |scan: Scan| {
                let hours = df!("session" => ["am", "pm"], "cut" => [12i8, 24]).unwrap().lazy();
                let on_columns = Arc::new(df!("session" => ["am", "pm"]).unwrap());
                scan("trades.parquet")
                    .with_columns([col("ts").dt().hour().alias("hour")])
                    .join(hours, [], [], JoinArgs::new(JoinType::Cross))
                    .filter(col("hour").lt(col("cut").cast(DataType::Int8)).and(col("hour").gt_eq(col("cut").cast(DataType::Int8) - lit(12))))
                    .pivot(
                        by_name(["session"], true, false),
                        on_columns,
                        by_name(["symbol"], true, false),
                        by_name(["size"], true, false),
                        element().sum(),
                        true,
                        "_".into(),
                        Default::default(),
                    )
                    .sort(["symbol"], by_symbol_ts())
            }),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_lazyframe_runs_remotely_and_equals_in_process_polars() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();
    for (name, query) in queries() {
        let expected = query(local_scan).collect().unwrap_or_else(|e| panic!("{name}, in-process: {e}"));
        let remote = client.remote(query(remote_scan)).collect().await.unwrap_or_else(|e| panic!("{name}, remote: {e}"));
        assert!(expected.height() > 0, "{name}: the oracle is empty");
        assert_frames_close(&remote, &expected);
    }
    // `collect` leaves no handle behind (it drops it in the background).
    let mut raw = server.client().await;
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = raw.list(ListRequest {}).await.unwrap().into_inner().handles.len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "handles left behind by collect");
    server.stop().await;
}

/// A query polars-sql can only plan knowing its tables' schemas (a CTE, a
/// join, an IN subquery).
fn sql_over(trades: LazyFrame, quotes: LazyFrame) -> LazyFrame {
    let mut ctx = SQLContext::new();
    ctx.register("trades", trades);
    ctx.register("quotes", quotes);
    ctx.execute(
        "WITH spread AS (SELECT symbol, AVG(ask - bid) AS spread FROM quotes GROUP BY symbol) \
         SELECT t.symbol, SUM(t.price * t.size) / SUM(t.size) AS vwap, COUNT(*) AS n, s.spread \
         FROM trades t JOIN spread s ON t.symbol = s.symbol \
         WHERE t.size > 10 AND t.symbol IN (SELECT q.symbol FROM quotes q WHERE q.bid > 0) \
         GROUP BY t.symbol, s.spread ORDER BY t.symbol",
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_built_lazyframes_plan_on_handle_schemas_and_run_remotely() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();
    let trades = client.scan_parquet("trades.parquet").await.unwrap();
    let quotes = client.scan_parquet("quotes.parquet").await.unwrap();
    // The schema came with the handle: polars plans here without the files.
    let schema = trades.lazy().collect_schema().unwrap();
    assert_eq!(schema.iter_names().map(|n| n.as_str()).collect::<Vec<_>>(), ["ts", "symbol", "price", "size"]);

    let expected = sql_over(local_scan("trades.parquet"), local_scan("quotes.parquet")).collect().unwrap();
    assert_eq!(expected.height(), 5, "every one of the five sample symbols trades");
    // The server runs plans on the streaming engine; so does polars here
    // (patch 0007: this IN subquery once asked it for 501 GB).
    let streaming = sql_over(local_scan("trades.parquet"), local_scan("quotes.parquet"))
        .collect_with_engine(Engine::Streaming)
        .unwrap()
        .unwrap_single();
    assert_frames_close(&streaming, &expected);
    let remote = client.remote(sql_over(trades.lazy(), quotes.lazy())).collect().await.unwrap();
    assert_frames_close(&remote, &expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_mix_handles_bindings_and_files() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();
    let sectors = df!("symbol" => ["AAPL", "MSFT", "TSLA"], "sector" => ["tech", "tech", "auto"]).unwrap();
    let remote_sectors = client.upload_named(&sectors, "sectors").await.unwrap();

    let query = |trades: LazyFrame, sectors: LazyFrame| {
        trades
            .filter(col("size").gt(lit(100)))
            .join(sectors, [col("symbol")], [col("symbol")], JoinArgs::new(JoinType::Inner))
            .group_by([col("sector")])
            .agg([col("price").mean().alias("mean"), len().alias("n")])
            .sort(["sector"], Default::default())
    };
    let expected = query(local_scan("trades.parquet"), sectors.clone().lazy()).collect().unwrap();
    assert_eq!(expected.height(), 2);

    // A handle named by id (RemoteFrame::lazy)...
    let by_id = client.remote(query(remote_scan("trades.parquet"), remote_sectors.lazy())).collect().await.unwrap();
    assert_frames_close(&by_id, &expected);
    // ...by a binding...
    let bound = client
        .remote(query(remote_scan("trades.parquet"), shipping::placeholder("s")))
        .bind("s", &remote_sectors)
        .handle()
        .await
        .unwrap();
    assert!(bound.lineage().starts_with("plan(upload(\"sectors\")"), "{}", bound.lineage());
    assert_frames_close(&bound.fetch().await.unwrap(), &expected);
    // ...and a plan over a plan handle: the handle's own plan is inlined.
    let filtered = client.remote(remote_scan("trades.parquet").filter(col("size").gt(lit(100)))).handle().await.unwrap();
    let on_handle = query(filtered.lazy(), remote_sectors.lazy());
    assert_frames_close(&client.remote(on_handle).collect().await.unwrap(), &expected);

    // An unknown placeholder is NOT_FOUND, naming it.
    let err = client.remote(shipping::placeholder("nothing-here")).collect().await.unwrap_err();
    let ClientError::Status(status) = err else { panic!("expected a status, got {err}") };
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains("polaroid://nothing-here"), "{}", status.message());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_frame_methods_ship_plans_by_default_and_expressions_on_request() {
    let server = TestServer::with_sample().await;
    let expected = local_scan("trades.parquet")
        .filter(col("symbol").eq(lit("AAPL")))
        .with_columns([(col("price") * col("size")).alias("notional")])
        .group_by_stable([col("symbol")])
        .agg([col("notional").sum(), col("price").max()])
        .collect()
        .unwrap();
    for shipping in [Shipping::Plan, Shipping::Expressions] {
        let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(shipping);
        let trades = client.scan_parquet("trades.parquet").await.unwrap();
        let out = trades
            .filter(col("symbol").eq(lit("AAPL")))
            .await
            .unwrap()
            .with_columns([(col("price") * col("size")).alias("notional")])
            .await
            .unwrap()
            .group_by_stable([col("symbol")])
            .agg([col("notional").sum(), col("price").max()])
            .await
            .unwrap();
        assert!(out.lineage().starts_with("scan_parquet(\"trades.parquet\").filter("), "{shipping:?}: {}", out.lineage());
        assert_frames_close(&out.fetch().await.unwrap(), &expected);

        // An expression the proto tree does not carry: only plans take it.
        let rolling = || {
            col("price").rolling_quantile_by(col("ts"), QuantileMethod::Linear, 0.9, RollingOptionsDynamicWindow {
                window_size: minutes("1m"),
                min_periods: 1,
                closed_window: ClosedWindow::Right,
                fn_params: None,
            })
        };
        match (shipping, trades.select([rolling()]).await) {
            (Shipping::Plan, Ok(frame)) => {
                let expected = local_scan("trades.parquet").select([rolling()]).collect().unwrap();
                assert_frames_close(&frame.fetch().await.unwrap(), &expected);
            },
            (Shipping::Expressions, Err(ClientError::UnsupportedExpr { .. })) => {},
            (shipping, other) => panic!("{shipping:?}: {other:?}"),
        }
    }
    server.stop().await;
}

/// The raw `Plan` call, as a client that crafts its own bytes would make it.
async fn send(server: &TestServer, token: Option<&str>, plan: Vec<u8>, bindings: &[(&str, &str)]) -> Result<String, tonic::Status> {
    let mut raw = server.client().await;
    let mut request = Request::new(PlanRequest {
        plan: plan.into(),
        bindings: bindings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        client_polars: "0.55.2".into(),
        description: String::new(),
    });
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    Ok(raw.plan(request).await?.into_inner().info.unwrap().handle)
}

fn encoded(lf: LazyFrame) -> Vec<u8> {
    shipping::encode(&lf).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_plans_get_the_right_code_and_the_server_stays_up() {
    let server = TestServer::start(ServerConfig {
        data_dir: crate::sample_dir().to_path_buf(),
        auth_tokens: vec!["alice-secret".into(), "bob-secret".into()],
        ..Default::default()
    })
    .await;
    let alice = Some("alice-secret");
    let good = encoded(remote_scan("trades.parquet").select([len()]));

    // Truncated: INVALID_ARGUMENT.
    for cut in [4, 79, good.len() / 2] {
        let err = send(&server, alice, good[..cut].to_vec(), &[]).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "cut at {cut}: {}", err.message());
    }
    // Another schema hash in the header: FAILED_PRECONDITION naming both.
    let mut foreign = good.clone();
    foreign[15..79].copy_from_slice(&[b'f'; 64]);
    let err = send(&server, alice, foreign, &[]).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains(&"f".repeat(64)), "{}", err.message());
    assert!(err.message().contains(&shipping::PlanHeader::ours().schema_hash), "{}", err.message());
    // A file outside the data directory, and a sink: PERMISSION_DENIED.
    let passwd = LazyFrame::scan_parquet(PlRefPath::new("/etc/passwd"), Default::default()).unwrap();
    let err = send(&server, alice, encoded(passwd), &[]).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    let target = SinkDestination::File { target: SinkTarget::Path(PlRefPath::new("stolen.ipc")) };
    let sink = remote_scan("trades.parquet").sink(target, FileWriteFormat::Ipc(Default::default()), UnifiedSinkArgs::default()).unwrap();
    let err = send(&server, alice, encoded(sink), &[]).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    assert!(!crate::sample_dir().join("stolen.ipc").exists());
    // Opaque code named by the registry (what a crafted plan can carry).
    let named = Expr::AnonymousFunction {
        input: vec![col("price")],
        function: polars_plan::dsl::LazySerde::Named { name: "steal_keys".into(), payload: None, value: None },
        options: Default::default(),
        fmt_str: Box::new("steal_keys".into()),
    };
    let err = send(&server, alice, encoded_unchecked(remote_scan("trades.parquet").select([named])), &[]).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("opaque expression function") && err.message().contains("steal_keys"), "{}", err.message());
    // Another tenant's handle, by id or by binding: NOT_FOUND.
    let bobs = send(&server, Some("bob-secret"), good.clone(), &[]).await.unwrap();
    let err = send(&server, alice, encoded(shipping::placeholder(&bobs)), &[]).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());
    let err = send(&server, alice, encoded(shipping::placeholder("x")), &[("x", &bobs)]).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());

    // None of that left a handle, and the server still answers.
    let mut raw = server.client().await;
    let mut list = Request::new(ListRequest {});
    list.metadata_mut().insert("authorization", "Bearer alice-secret".parse().unwrap());
    assert!(raw.list(list).await.unwrap().into_inner().handles.is_empty());
    let id = send(&server, alice, good, &[]).await.unwrap();
    let mut schema = Request::new(HandleRequest { handle: id });
    schema.metadata_mut().insert("authorization", "Bearer alice-secret".parse().unwrap());
    assert_eq!(raw.schema(schema).await.unwrap().into_inner().schema.unwrap().fields.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_storage_is_reached_by_table_name_only() {
    // A data directory holding some tenant's table part.
    let data = tempfile::tempdir().unwrap();
    let part_dir = data.path().join("tables/t0123456789abcdef/trades");
    std::fs::create_dir_all(&part_dir).unwrap();
    let mut rows = df!("secret" => [1i64, 2]).unwrap();
    IpcWriter::new(std::fs::File::create(part_dir.join("part-1.arrow")).unwrap()).finish(&mut rows).unwrap();
    let server = TestServer::start(ServerConfig {
        data_dir: data.path().to_path_buf(),
        auth_tokens: vec!["alice-secret".into()],
        ..Default::default()
    })
    .await;
    let absolute = part_dir.canonicalize().unwrap().join("part-1.arrow");
    // A crafted plan naming the part's absolute path: refused.
    let scan = LazyFrame::scan_ipc(PlRefPath::new(absolute.to_string_lossy().as_ref()), Default::default(), Default::default()).unwrap();
    let err = send(&server, Some("alice-secret"), encoded(scan), &[]).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    assert!(err.message().contains("table storage; read a table by its name"), "{}", err.message());
    // SQL's table functions with the relative path: refused too.
    let mut raw = server.client().await;
    let query = "SELECT * FROM read_ipc('tables/t0123456789abcdef/trades/part-1.arrow')";
    let request = polaroid_grpc::proto::SqlRequest { tables: Default::default(), query: query.into(), distributed: false, ..Default::default() };
    let err = raw.sql(crate::as_tenant("alice-secret", request)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    server.stop().await;
}

/// Serialize without the client's own opaque check, as a crafted client would.
fn encoded_unchecked(lf: LazyFrame) -> Vec<u8> {
    let mut bytes = Vec::new();
    lf.logical_plan
        .serialize_versioned(&mut bytes, polars_plan::dsl::PlanSerializationContext { use_cloudpickle: false })
        .unwrap();
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_takes_plans_as_an_action_and_a_command_descriptor() {
    let server = TestServer::with_sample().await;
    let channel = Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await.unwrap();
    let mut flight = FlightClient::new(channel);
    let query = |scan: Scan| scan("trades.parquet").group_by([col("symbol")]).agg([col("size").sum()]).sort(["symbol"], Default::default());
    let expected = query(local_scan).collect().unwrap();
    let plan = encoded(query(remote_scan));

    let results: Vec<_> = flight.do_action(Action::new("plan", plan.clone())).await.unwrap().try_collect().await.unwrap();
    let id = String::from_utf8(results[0].to_vec()).unwrap();
    let mut raw = server.client().await;
    let (by_action, _) = crate::fetch_all(&mut raw, polaroid_grpc::proto::FetchRequest { handle: id, ..Default::default() }).await;
    assert_frames_close(&by_action, &expected);

    let info = flight.get_flight_info(FlightDescriptor::new_cmd(plan)).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let handle = String::from_utf8(ticket.ticket.to_vec()).unwrap();
    let (by_descriptor, _) = crate::fetch_all(&mut raw, polaroid_grpc::proto::FetchRequest { handle, ..Default::default() }).await;
    assert_frames_close(&by_descriptor, &expected);

    let Err(err) = flight.do_action(Action::new("plan", b"DSL_VERSION garbage".to_vec())).await else {
        panic!("a garbage plan was accepted");
    };
    assert!(matches!(&err, arrow_flight::error::FlightError::Tonic(s) if s.code() == Code::InvalidArgument), "{err:?}");
    server.stop().await;
}
