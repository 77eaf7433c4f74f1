//! Arrow Flight on the server's port, driven by the arrow-flight crate's
//! client. arrow-rs is an independent Arrow implementation: what it reads
//! and writes is converted to and from polars through the IPC stream
//! format, and compared with the polars frames the test started from.

use arrow_array::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{Action, FlightClient, FlightDescriptor, Ticket};
use futures::{StreamExt, TryStreamExt};
use polaroid_grpc::proto::{CollectRequest, Engine, FetchRequest};
use polaroid_grpc::ServerConfig;
use polars::prelude::*;
use tonic::transport::Channel;
use tonic::Code;

use crate::{assert_frames_close, fetch_all, sample_path, upload, TestServer};

async fn flight(server: &TestServer) -> FlightClient {
    let channel = Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await.unwrap();
    FlightClient::new(channel)
}

fn code(err: &FlightError) -> Code {
    match err {
        FlightError::Tonic(status) => status.code(),
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

/// polars → IPC stream → arrow-rs batches.
fn to_arrow(df: &DataFrame) -> Vec<RecordBatch> {
    let mut bytes = Vec::new();
    IpcStreamWriter::new(&mut bytes).with_compat_level(CompatLevel::oldest()).finish(&mut df.clone()).unwrap();
    arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// arrow-rs batches → IPC stream → polars.
fn to_polars(schema: &arrow_schema::Schema, batches: &[RecordBatch]) -> DataFrame {
    let mut bytes = Vec::new();
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut bytes, schema).unwrap();
    for b in batches {
        writer.write(b).unwrap();
    }
    writer.finish().unwrap();
    drop(writer);
    IpcStreamReader::new(std::io::Cursor::new(bytes)).finish().unwrap()
}

fn mixed_frame(rows: usize) -> DataFrame {
    let ids: Vec<i64> = (0..rows as i64).collect();
    let prices: Vec<f64> = (0..rows).map(|i| i as f64 * 0.25 - 3.0).collect();
    let names: Vec<Option<String>> =
        (0..rows).map(|i| (i % 7 != 3).then(|| format!("name-{}", i % 13))).collect();
    let flags: Vec<Option<bool>> = (0..rows).map(|i| (i % 5 != 0).then_some(i % 2 == 0)).collect();
    let small: Vec<Option<i32>> = (0..rows).map(|i| (i % 4 != 1).then_some(i as i32 - 50)).collect();
    let ts: Vec<i64> = (0..rows as i64).map(|i| 1_700_000_000_000_000 + i * 1_500).collect();
    let mut df = df! {
        "id" => ids,
        "price" => prices,
        "name" => names,
        "flag" => flags,
        "small" => small,
        "ts" => ts,
    }
    .unwrap();
    df.apply("ts", |s| s.cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))).unwrap())
        .unwrap();
    df
}

async fn get(client: &mut FlightClient, id: &str) -> Result<DataFrame, FlightError> {
    let stream = client.do_get(Ticket::new(id.to_string())).await?;
    let batches: Vec<RecordBatch> = stream.try_collect().await?;
    let schema = batches.first().map(|b| b.schema()).expect("at least one batch");
    Ok(to_polars(&schema, &batches))
}

async fn put(client: &mut FlightClient, name: &str, df: &DataFrame) -> Result<String, FlightError> {
    let batches = to_arrow(df);
    let data = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(FlightDescriptor::new_path(vec![name.to_string()])))
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    let mut results = client.do_put(data).await?;
    let first = results.next().await.expect("one PutResult")?;
    assert!(results.next().await.is_none(), "exactly one PutResult");
    Ok(String::from_utf8(first.app_metadata.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_put_then_do_get_round_trips_mixed_types() {
    let server = TestServer::with_sample().await;
    let mut client = flight(&server).await;
    let df = mixed_frame(10_000);
    let id = put(&mut client, "mixed", &df).await.unwrap();
    let back = get(&mut client, &id).await.unwrap();
    assert_frames_close(&back, &df);

    // The same handle through the native Fetch is the same frame.
    let mut native = server.client().await;
    let (fetched, _) = fetch_all(&mut native, FetchRequest { handle: id, ..Default::default() }).await;
    assert_frames_close(&fetched, &df);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_get_streams_a_plan_in_bounded_messages_equal_to_polars() {
    let server = TestServer::with_sample().await;
    let remote = polaroid_grpc::client::Client::connect(format!("http://{}", server.addr)).await.unwrap();
    let filtered = remote.scan_parquet("trades.parquet").await.unwrap().filter(col("size").gt(lit(100))).await.unwrap();
    let filtered_id = filtered.id().to_string();

    let mut client = flight(&server).await;
    let mut stream = client.inner_mut().do_get(Ticket::new(filtered_id.clone())).await.unwrap().into_inner();
    let mut largest = 0;
    let mut messages = 0;
    while let Some(data) = stream.message().await.unwrap() {
        largest = largest.max(data.data_header.len() + data.data_body.len());
        messages += 1;
    }
    assert!(messages > 2, "a schema then several batches, got {messages} messages");
    assert!(largest <= 2 << 20, "every FlightData is within the 2 MiB default, largest {largest}");

    let got = get(&mut client, &filtered_id).await.unwrap();
    let expected = LazyFrame::scan_parquet(
        PlRefPath::new(sample_path("trades.parquet").to_string_lossy().as_ref()),
        Default::default(),
    )
    .unwrap()
    .filter(col("size").gt(lit(100)))
    .collect()
    .unwrap();
    assert_frames_close(&got, &expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_info_schema_and_listing_describe_handles() {
    let server = TestServer::with_sample().await;
    let mut client = flight(&server).await;
    let df = mixed_frame(1_234);
    let id = put(&mut client, "described", &df).await.unwrap();

    let info = client.get_flight_info(FlightDescriptor::new_path(vec![id.clone()])).await.unwrap();
    assert_eq!(info.total_records, 1_234);
    assert_eq!(info.endpoint.len(), 1);
    assert_eq!(info.endpoint[0].ticket.as_ref().unwrap().ticket, id.as_bytes());
    let schema = info.try_decode_schema().unwrap();
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "price", "name", "flag", "small", "ts"]);
    assert_eq!(schema.field(4).data_type(), &arrow_schema::DataType::Int32);
    assert!(matches!(schema.field(5).data_type(), arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC"));

    let same = client.get_schema(FlightDescriptor::new_path(vec![id.clone()])).await.unwrap();
    assert_eq!(&same, schema.as_ref());

    // A plan has no row count until it is collected.
    let mut native = server.client().await;
    let scan = native
        .scan(polaroid_grpc::proto::ScanRequest { path: "quotes.parquet".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    let plan_info = client.get_flight_info(FlightDescriptor::new_path(vec![scan.handle.clone()])).await.unwrap();
    assert_eq!(plan_info.total_records, -1);
    let collected = native
        .collect(CollectRequest { handle: scan.handle.clone(), engine: Engine::Auto as i32 })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    let collected_info = client.get_flight_info(FlightDescriptor::new_path(vec![collected.handle.clone()])).await.unwrap();
    assert_eq!(collected_info.total_records as u64, collected.rows.unwrap());

    let listed: Vec<_> = client.list_flights(Vec::<u8>::new()).await.unwrap().try_collect().await.unwrap();
    let tickets: Vec<String> = listed
        .iter()
        .map(|i| String::from_utf8(i.endpoint[0].ticket.as_ref().unwrap().ticket.to_vec()).unwrap())
        .collect();
    assert_eq!(tickets, [id, scan.handle, collected.handle], "every handle, oldest first");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_keepalive_drop_collect_and_sql() {
    let server = TestServer::with_sample().await;
    let mut client = flight(&server).await;
    let listed: Vec<_> = client.list_actions().await.unwrap().try_collect().await.unwrap();
    let names: Vec<_> = listed.iter().map(|a| a.r#type.as_str()).collect();
    assert_eq!(names, ["drop", "keepalive", "collect", "sql", "plan"]);

    let df = df! { "sym" => ["a", "b", "a", "c", "b", "a"], "qty" => [1i64, 2, 3, 4, 5, 6] }.unwrap();
    let id = put(&mut client, "fills", &df).await.unwrap();

    let kept: Vec<_> = client.do_action(Action::new("keepalive", id.clone())).await.unwrap().try_collect().await.unwrap();
    assert_eq!(kept, [bytes::Bytes::from(id.clone())]);

    // SQL by upload name and by quoted id give the same, polars-sql answer.
    let query = "SELECT sym, SUM(qty) AS total FROM fills GROUP BY sym ORDER BY sym";
    let by_name: Vec<_> = client.do_action(Action::new("sql", query)).await.unwrap().try_collect().await.unwrap();
    let by_name = String::from_utf8(by_name[0].to_vec()).unwrap();
    let mut ctx = polars::sql::SQLContext::new();
    ctx.register("fills", df.clone().lazy());
    let expected = ctx.execute(query).unwrap().collect().unwrap();
    assert_frames_close(&get(&mut client, &by_name).await.unwrap(), &expected);
    let by_id_query = format!("SELECT sym, SUM(qty) AS total FROM \"{id}\" GROUP BY sym ORDER BY sym");
    let info = client.get_flight_info(FlightDescriptor::new_cmd(by_id_query)).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let by_id = String::from_utf8(ticket.ticket.to_vec()).unwrap();
    assert_frames_close(&get(&mut client, &by_id).await.unwrap(), &expected);

    let collected: Vec<_> = client.do_action(Action::new("collect", by_id)).await.unwrap().try_collect().await.unwrap();
    let collected = String::from_utf8(collected[0].to_vec()).unwrap();
    let info = client.get_flight_info(FlightDescriptor::new_path(vec![collected.clone()])).await.unwrap();
    assert_eq!(info.total_records, 3);

    let dropped: Vec<_> = client.do_action(Action::new("drop", id.clone())).await.unwrap().try_collect().await.unwrap();
    assert!(dropped.is_empty());
    let err = get(&mut client, &id).await.unwrap_err();
    assert_eq!(code(&err), Code::NotFound);
    assert!(err.to_string().contains("dropped"), "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flight_requests_get_precise_errors() {
    let server = TestServer::with_sample().await;
    let mut client = flight(&server).await;

    let err = get(&mut client, "not-a-handle").await.unwrap_err();
    assert_eq!(code(&err), Code::InvalidArgument);
    let unknown = "00000000-0000-4000-8000-000000000000";
    let err = client.get_flight_info(FlightDescriptor::new_path(vec![unknown.into()])).await.unwrap_err();
    assert_eq!(code(&err), Code::NotFound);
    let err = client.get_flight_info(FlightDescriptor::new_path(vec![])).await.unwrap_err();
    assert_eq!(code(&err), Code::InvalidArgument);
    let err = client.do_action(Action::new("explode", "")).await.err().unwrap();
    assert_eq!(code(&err), Code::InvalidArgument);
    assert!(err.to_string().contains("drop, keepalive, collect, sql"), "{err}");
    let err = client.do_action(Action::new("sql", "SELECT * FROM nowhere")).await.err().unwrap();
    assert_eq!(code(&err), Code::InvalidArgument);
    assert!(err.to_string().contains("nowhere"), "{err}");

    // A corrupt upload: a valid schema message, then garbage for a batch.
    let good = FlightDataEncoderBuilder::new()
        .build(futures::stream::iter(to_arrow(&mixed_frame(10)).into_iter().map(Ok)));
    let mut data: Vec<_> = good.try_collect().await.unwrap();
    let body = data[1].data_body.to_vec();
    data[1].data_body = bytes::Bytes::from(body[..body.len() / 3].to_vec());
    data[1].data_header = bytes::Bytes::from(vec![7u8; 40]);
    let before = client.list_flights(Vec::<u8>::new()).await.unwrap().try_collect::<Vec<_>>().await.unwrap().len();
    let err = match client.do_put(futures::stream::iter(data.into_iter().map(Ok))).await {
        Ok(mut results) => results.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(code(&err), Code::InvalidArgument, "{err}");
    let after = client.list_flights(Vec::<u8>::new()).await.unwrap().try_collect::<Vec<_>>().await.unwrap().len();
    assert_eq!(before, after, "no half-made handle");

    // Still serving.
    let id = put(&mut client, "after", &mixed_frame(3)).await.unwrap();
    assert_eq!(get(&mut client, &id).await.unwrap().height(), 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_flight_needs_one_and_sees_only_its_namespace() {
    let server = TestServer::start(ServerConfig {
        data_dir: crate::sample_dir().to_path_buf(),
        auth_tokens: vec!["alice-secret".into(), "bob-secret".into()],
        ..Default::default()
    })
    .await;
    let mut anonymous = flight(&server).await;
    let err = anonymous.list_flights(Vec::<u8>::new()).await.err().unwrap();
    assert_eq!(code(&err), Code::Unauthenticated);
    let err = anonymous.handshake(Vec::<u8>::new()).await.unwrap_err();
    assert_eq!(code(&err), Code::Unauthenticated);

    let mut alice = flight(&server).await;
    alice.add_header("authorization", "Bearer alice-secret").unwrap();
    alice.handshake(Vec::<u8>::new()).await.unwrap();
    let mut bob = flight(&server).await;
    bob.add_header("authorization", "Bearer bob-secret").unwrap();

    let id = put(&mut alice, "private", &mixed_frame(5)).await.unwrap();
    assert_eq!(get(&mut alice, &id).await.unwrap().height(), 5);
    let err = get(&mut bob, &id).await.unwrap_err();
    assert_eq!(code(&err), Code::NotFound);
    let bobs: Vec<_> = bob.list_flights(Vec::<u8>::new()).await.unwrap().try_collect().await.unwrap();
    assert!(bobs.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_do_get_stops_its_work() {
    let server = TestServer::with_sample().await;
    let mut native = server.client().await;
    let df = mixed_frame(400_000);
    let info = upload(&mut native, "big", &df, 1 << 20).await.unwrap();
    let mut client = flight(&server).await;
    let mut stream = client.inner_mut().do_get(Ticket::new(info.handle.clone())).await.unwrap().into_inner();
    stream.message().await.unwrap().unwrap();
    stream.message().await.unwrap().unwrap();
    drop(stream);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let stats = native.stats(polaroid_grpc::proto::StatsRequest {}).await.unwrap().into_inner();
        if stats.active_fetches == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the DoGet work did not stop");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop().await;
}

/// Flight SQL's commands as a client could craft them: each refused with
/// its reason, nothing made, the server still serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_flight_sql_requests_get_precise_errors() {
    use arrow_flight::sql::{
        CommandPreparedStatementQuery, CommandStatementIngest, CommandStatementUpdate, ProstMessageExt, TableDefinitionOptions,
        TableExistsOption, TableNotExistOption,
    };
    use prost::Message;

    let server = TestServer::with_sample().await;
    let mut client = flight(&server).await;
    let prepared = |handle: Vec<u8>| {
        let command = CommandPreparedStatementQuery { prepared_statement_handle: handle.into() };
        FlightDescriptor::new_cmd(command.as_any().encode_to_vec())
    };
    // A statement handle as this server writes one: its prefix, then the
    // query (field 1) and the bound values (field 2), protobuf-encoded.
    let statement = |query: &str, values: &[u8]| {
        let mut handle = b"polaroid.sql.statement.v1:".to_vec();
        handle.push(0x0a);
        prost::encoding::encode_varint(query.len() as u64, &mut handle);
        handle.extend_from_slice(query.as_bytes());
        handle.push(0x12);
        prost::encoding::encode_varint(values.len() as u64, &mut handle);
        handle.extend_from_slice(values);
        handle
    };
    for (handle, message) in [
        (b"0f8e6a3c-51b2-4c7d-9a10-2b3c4d5e6f70".to_vec(), "not a prepared statement of this server"),
        (b"polaroid.sql.statement.v1:\xff\xff\xff".to_vec(), "a prepared statement handle that does not decode"),
        (statement("SELECT ? AS x", b"not arrow"), "not a valid Arrow IPC stream"),
        (statement("SELECT ? AS x", b""), "the query takes 1 parameter(s) (?) and none was bound"),
    ] {
        let err = client.get_flight_info(prepared(handle)).await.unwrap_err();
        assert_eq!(code(&err), Code::InvalidArgument, "{err}");
        assert!(err.to_string().contains(message), "{message}: {err}");
    }
    // The same handle with real values runs.
    let mut values = df!("a" => [41i64]).unwrap();
    let mut ipc = Vec::new();
    IpcStreamWriter::new(&mut ipc).finish(&mut values).unwrap();
    let info = client.get_flight_info(prepared(statement("SELECT ? + 1 AS x", &ipc))).await.unwrap();
    let id = String::from_utf8(info.endpoint[0].ticket.as_ref().unwrap().ticket.to_vec()).unwrap();
    assert_eq!(get(&mut client, &id).await.unwrap(), df!("x" => [42i64]).unwrap());

    // DoPut of updates and loads.
    let rows = to_arrow(&df!("a" => [1i64, 2]).unwrap());
    let options = |if_not_exist: TableNotExistOption| {
        Some(TableDefinitionOptions { if_not_exist: if_not_exist as i32, if_exists: TableExistsOption::Fail as i32 })
    };
    let ingest = |table: &str, table_definition_options| CommandStatementIngest {
        table_definition_options,
        table: table.into(),
        ..Default::default()
    };
    let update = |query: &str| CommandStatementUpdate { query: query.into(), transaction_id: None }.as_any();
    for (command, want, message) in [
        (ingest("", options(TableNotExistOption::Create)).as_any(), Code::InvalidArgument, "is not allowed: use letters, digits"),
        (ingest("t", None).as_any(), Code::InvalidArgument, "if_not_exist option is unset"),
        (ingest("t", options(TableNotExistOption::Fail)).as_any(), Code::NotFound, "table does not exist: t"),
        (update("UPDATE t SET a = 1"), Code::InvalidArgument, "UPDATE is not an update this SQL runs"),
        (update("INSERT INTO nope VALUES (1)"), Code::NotFound, "table does not exist: nope"),
    ] {
        let data = FlightDataEncoderBuilder::new()
            .with_flight_descriptor(Some(FlightDescriptor::new_cmd(command.encode_to_vec())))
            .build(futures::stream::iter(rows.clone().into_iter().map(Ok)));
        let err = match client.do_put(data).await {
            Ok(mut results) => results.next().await.unwrap().unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(code(&err), want, "{message}: {err}");
        assert!(err.to_string().contains(message), "{message}: {err}");
    }
    // A load that is well formed stores the rows and says how many.
    let data = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(FlightDescriptor::new_cmd(
            ingest("t", options(TableNotExistOption::Create)).as_any().encode_to_vec(),
        )))
        .build(futures::stream::iter(rows.into_iter().map(Ok)));
    let result = client.do_put(data).await.unwrap().next().await.unwrap().unwrap();
    let stored = arrow_flight::sql::DoPutUpdateResult::decode(result.app_metadata).unwrap();
    assert_eq!(stored.record_count, 2);
    server.stop().await;
}
