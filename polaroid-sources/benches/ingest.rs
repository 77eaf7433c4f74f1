//! `cargo bench --workspace --bench ingest` (part of `make bench`): live
//! sources on loopback.
//!
//! 1. Throughput: N Binance-format trades from a WebSocket replay server,
//!    and the same N produced to a tansu topic beforehand, each timed from
//!    the source's start to all N rows visible in the table. Baseline: the
//!    same N messages parsed by serde_json in this process, so the ratio is
//!    what the socket or broker, the batching and the durable appends cost.
//!    Then the same N trades batched as Kraken's v2 feed sends them, 50 to a
//!    message under `/data`, read by a `json` source with `rows`: its
//!    baseline is serde_json parsing those messages. Then the same into a
//!    table with upsert keys (QuestDB's DEDUP), and with every message
//!    sent twice, against the plain table's time.
//! 2. Latency: one message sent (WebSocket) or produced (Kafka) until its
//!    row is visible in the table's row count; median of 20, with the
//!    default batch wait (100 ms) and with 10 ms.
//!
//! N: POLAROID_BENCH_MESSAGES (200,000). Kafka needs tansu (`make
//! python-env`, or $TANSU).

#[path = "../tests/it/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use polaroid_core::{Core, Namespace};
use polaroid_sources::{ColumnKind, ColumnSpec, Format, KafkaFeed, SourceSpec, Sources, WebsocketFeed};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use support::{core, produce, trade, Broker, Feed, Replay};

fn spec(name: &str, websocket: Option<WebsocketFeed>, kafka: Option<KafkaFeed>, batch_ms: u64) -> SourceSpec {
    SourceSpec {
        name: name.into(),
        table: name.into(),
        websocket,
        kafka,
        format: Format::BinanceTrade,
        columns: Default::default(),
        timestamp: None,
        when: None,
        when_equals: None,
        rows: None,
        row_when: None,
        row_when_equals: None,
        batch_rows: None,
        batch_ms: Some(batch_ms),
        max_pending_rows: Some(1_000_000),
        separator: None,
        ttl: None,
        max_table_bytes: None,
        upsert_keys: None,
    }
}

/// Trades `ids` as one message of Kraken's v2 trade channel.
fn kraken_message(ids: &[i64]) -> String {
    let trades: Vec<String> = ids
        .iter()
        .map(|i| {
            format!(
                r#"{{"symbol":"{}","side":"{}","price":{:.1},"qty":{},"ord_type":"market","trade_id":{i},"timestamp":"2025-12-01T08:{:02}:{:02}.{:06}Z"}}"#,
                ["BTC/USD", "ETH/USD", "SOL/USD"][(i % 3) as usize],
                ["buy", "sell"][(i % 2) as usize],
                26_500.0 + (i % 400) as f64 / 10.0,
                1 + i % 7,
                i / 60_000 % 60,
                i / 1_000 % 60,
                i % 1_000 * 1_000
            )
        })
        .collect();
    format!(r#"{{"channel":"trade","type":"update","data":[{}]}}"#, trades.join(","))
}

/// A `json` source reading [`kraken_message`]s.
fn kraken_spec(name: &str, websocket: Option<WebsocketFeed>) -> SourceSpec {
    let mut spec = spec(name, websocket, None, 100);
    spec.format = Format::Json;
    spec.rows = Some("/data".into());
    spec.when = Some("/channel".into());
    spec.when_equals = Some("trade".into());
    for (column, pointer, kind) in [
        ("ts", "/timestamp", ColumnKind::TimestampIso),
        ("symbol", "/symbol", ColumnKind::String),
        ("side", "/side", ColumnKind::String),
        ("price", "/price", ColumnKind::Float),
        ("qty", "/qty", ColumnKind::Float),
        ("trade_id", "/trade_id", ColumnKind::Int),
    ] {
        spec.columns.insert(column.into(), ColumnSpec::path(pointer, kind));
    }
    spec
}

/// Time from a [`kraken_spec`] source's start (with `upsert_keys`) on a
/// feed playing `messages` until the source has read all their rows and
/// the table holds `table_rows`.
async fn batched_run(
    core: &Arc<Core>,
    sources: &Sources,
    name: &str,
    messages: Vec<String>,
    upsert_keys: Option<Vec<String>>,
    table_rows: u64,
) -> Duration {
    let sent: u64 = messages.iter().map(|m| m.matches("trade_id").count() as u64).sum();
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), Feed::new(messages), 0, usize::MAX).await;
    let mut spec = kraken_spec(name, ws(format!("ws://{}", server.addr)));
    spec.upsert_keys = upsert_keys;
    let ns = Namespace::anonymous();
    let start = Instant::now();
    sources.start(&ns, spec).unwrap();
    let read = || sources.list(&ns).into_iter().find(|s| s.name == name).map_or(0, |s| s.rows);
    let deadline = Instant::now() + Duration::from_secs(300);
    while read() < sent {
        assert!(Instant::now() < deadline, "{name}: {} of {sent} rows read", read());
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    wait_rows(core, name, table_rows).await;
    let took = start.elapsed();
    assert_eq!(rows(core, name), table_rows, "{name}: each trade once");
    sources.stop(&ns, name).await.unwrap();
    server.kill().await;
    took
}

fn ws(url: String) -> Option<WebsocketFeed> {
    Some(WebsocketFeed { url, reconnect_min_ms: Some(10), reconnect_max_ms: Some(100), ..Default::default() })
}

fn kafka(broker: &Broker, topic: &str) -> Option<KafkaFeed> {
    Some(KafkaFeed {
        brokers: broker.address.clone(),
        topics: vec![topic.into()],
        group: None,
        start: None,
        // tansu completes a group join after about half the session timeout.
        options: [("session.timeout.ms", "6000"), ("heartbeat.interval.ms", "500")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

fn rows(core: &Core, table: &str) -> u64 {
    core.tables().get(&Namespace::anonymous(), table).ok().flatten().map_or(0, |t| t.row_count().unwrap_or(0))
}

async fn wait_rows(core: &Core, table: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while rows(core, table) < n {
        assert!(Instant::now() < deadline, "{table}: {} of {n} rows", rows(core, table));
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A WebSocket server that sends what the bench hands it, one message at a time.
async fn on_demand_feed() -> (String, mpsc::Sender<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (send, mut receive) = mpsc::channel::<String>(16);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        while let Some(text) = receive.recv().await {
            ws.send(Message::text(text)).await.unwrap();
        }
        while let Some(Ok(_)) = ws.next().await {}
    });
    (url, send)
}

async fn websocket_latency(core: &Arc<Core>, sources: &Sources, batch_ms: u64) -> Duration {
    let name = format!("ws_latency_{batch_ms}");
    let (url, send) = on_demand_feed().await;
    sources.start(&Namespace::anonymous(), spec(&name, ws(url), None, batch_ms)).unwrap();
    let mut times = Vec::new();
    for i in 0..20u64 {
        let start = Instant::now();
        send.send(trade(i as i64)).await.unwrap();
        wait_rows(core, &name, i + 1).await;
        times.push(start.elapsed());
    }
    sources.stop(&Namespace::anonymous(), &name).await.unwrap();
    median(times)
}

async fn kafka_latency(core: &Arc<Core>, sources: &Sources, broker: &Broker, batch_ms: u64) -> Duration {
    let name = format!("kafka_latency_{batch_ms}");
    broker.create_topic(&name, 1);
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", &broker.address).create().unwrap();
    sources.start(&Namespace::anonymous(), spec(&name, None, kafka(broker, &name), batch_ms)).unwrap();
    // The group join takes seconds on tansu: wait for the first row before timing.
    producer.send(FutureRecord::<(), _>::to(&name).payload(&trade(0)), Duration::from_secs(10)).await.unwrap();
    wait_rows(core, &name, 1).await;
    let mut times = Vec::new();
    for i in 1..=20u64 {
        let start = Instant::now();
        let payload = trade(i as i64);
        producer.send(FutureRecord::<(), _>::to(&name).payload(&payload), Duration::from_secs(10)).await.unwrap();
        wait_rows(core, &name, i + 1).await;
        times.push(start.elapsed());
    }
    sources.stop(&Namespace::anonymous(), &name).await.unwrap();
    median(times)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::var("POLAROID_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let messages: Vec<String> = (0..n as i64).map(trade).collect();
    let start = Instant::now();
    for m in &messages {
        let v: serde_json::Value = serde_json::from_str(m).unwrap();
        std::hint::black_box(v);
    }
    let parse = start.elapsed();
    let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
    println!("== live-source ingest on loopback: {n} Binance-format trades ==");
    println!("{:<46} {:>8.2} M msgs/s ({:.2} s)", "baseline: serde_json parse in-process", rate(parse), parse.as_secs_f64());

    let (_dir, core) = core();
    let sources = Sources::new(core.clone());
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), Feed::new(messages), 0, usize::MAX).await;
    let start = Instant::now();
    sources.start(&Namespace::anonymous(), spec("ws_bulk", ws(format!("ws://{}", server.addr)), None, 100)).unwrap();
    wait_rows(&core, "ws_bulk", n).await;
    let took = start.elapsed();
    println!(
        "{:<46} {:>8.2} M rows/s ({:.2} s; {:.1}x the parse time)",
        "WebSocket -> table, all rows visible",
        rate(took),
        took.as_secs_f64(),
        took.as_secs_f64() / parse.as_secs_f64()
    );
    sources.stop(&Namespace::anonymous(), "ws_bulk").await.unwrap();
    server.kill().await;

    // The same trades, 50 to a message, as a batching feed sends them.
    let batched: Vec<String> = (0..n as i64).collect::<Vec<_>>().chunks(50).map(|ids| kraken_message(ids)).collect();
    let start = Instant::now();
    for m in &batched {
        let v: serde_json::Value = serde_json::from_str(m).unwrap();
        std::hint::black_box(v);
    }
    let parse_batched = start.elapsed();
    println!(
        "{:<46} {:>8.2} M rows/s ({:.2} s)",
        "baseline: serde_json parse of 50-trade messages",
        rate(parse_batched),
        parse_batched.as_secs_f64()
    );
    let plain = batched_run(&core, &sources, "ws_batched", batched.clone(), None, n).await;
    println!(
        "{:<46} {:>8.2} M rows/s ({:.2} s; {:.1}x the parse time)",
        "WebSocket, 50 trades a message -> table",
        rate(plain),
        plain.as_secs_f64(),
        plain.as_secs_f64() / parse_batched.as_secs_f64()
    );
    // The same into a table with QuestDB's DEDUP UPSERT KEYS; then with
    // every message sent again after the next (each trade twice, as a
    // feed's snapshot resends trades), read until all 2N rows are in and
    // the table holds each trade once.
    let keys = Some(vec!["ts".to_string(), "symbol".to_string(), "trade_id".to_string()]);
    let keyed = batched_run(&core, &sources, "ws_keyed", batched.clone(), keys.clone(), n).await;
    println!(
        "{:<46} {:>8.2} M rows/s ({:.2} s; {:.2}x the plain table's time)",
        "  the same, upsert keys (ts, symbol, trade_id)",
        rate(keyed),
        keyed.as_secs_f64(),
        keyed.as_secs_f64() / plain.as_secs_f64()
    );
    let twice: Vec<String> = (0..batched.len()).flat_map(|i| [batched[i].clone(), batched[i.saturating_sub(1)].clone()]).collect();
    let resent = batched_run(&core, &sources, "ws_resent", twice, keys.clone(), n).await;
    println!(
        "{:<46} {:>8.2} M rows/s ({:.2} s for 2N rows read; {:.2}x the plain table's time)",
        "  upsert keys, every trade sent twice",
        rate(resent),
        resent.as_secs_f64(),
        resent.as_secs_f64() / plain.as_secs_f64()
    );
    // The whole feed, then the whole feed again (a day re-sent to correct
    // it): every row of the second pass replaces one, in parts by then.
    let replayed: Vec<String> = batched.iter().chain(batched.iter()).cloned().collect();
    let again = batched_run(&core, &sources, "ws_again", replayed, keys, n).await;
    println!(
        "{:<46} {:>8.2} M rows/s ({:.2} s for 2N rows read; {:.2}x the plain table's time)",
        "  upsert keys, the whole feed sent twice",
        rate(again),
        again.as_secs_f64(),
        again.as_secs_f64() / plain.as_secs_f64()
    );

    let broker = Broker::start();
    broker.create_topic("bulk", 2);
    produce(&broker, "bulk", 0..n as i64).await;
    let start = Instant::now();
    sources.start(&Namespace::anonymous(), spec("kafka_bulk", None, kafka(&broker, "bulk"), 100)).unwrap();
    wait_rows(&core, "kafka_bulk", 1).await;
    let joined = start.elapsed();
    wait_rows(&core, "kafka_bulk", n).await;
    let took = start.elapsed() - joined;
    println!(
        "{:<46} {:>8.2} M rows/s ({:.2} s after the group join, which took {:.2} s; {:.1}x the parse time)",
        "Kafka (tansu) -> table, all rows visible",
        rate(took),
        took.as_secs_f64(),
        joined.as_secs_f64(),
        took.as_secs_f64() / parse.as_secs_f64()
    );
    sources.stop(&Namespace::anonymous(), "kafka_bulk").await.unwrap();

    println!("\n== one message until its row is visible (median of 20) ==");
    for batch_ms in [100, 10] {
        let ws = websocket_latency(&core, &sources, batch_ms).await;
        let kafka = kafka_latency(&core, &sources, &broker, batch_ms).await;
        println!(
            "batch_ms {batch_ms:>3}: WebSocket {:>6.1} ms, Kafka {:>6.1} ms",
            ws.as_secs_f64() * 1e3,
            kafka.as_secs_f64() * 1e3
        );
    }
}
