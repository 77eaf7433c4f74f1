use std::time::Duration;

use polaroid_core::Namespace;
use polaroid_sources::{ColumnKind, ColumnSpec, Format, SourceError, SourceSpec, SourceState, Sources, WebsocketFeed, GAPS_TABLE};
use serde_json::Value;

use crate::{core, fixture, table, until, Feed, Replay};

fn spec(name: &str, table: &str, url: String, format: Format, subscribe: Vec<String>) -> SourceSpec {
    SourceSpec {
        name: name.into(),
        table: table.into(),
        websocket: Some(WebsocketFeed { url, subscribe, reconnect_min_ms: Some(20), reconnect_max_ms: Some(200), ..Default::default() }),
        kafka: None,
        format,
        columns: Default::default(),
        timestamp: None,
        when: None,
        when_equals: None,
        rows: None,
        row_when: None,
        row_when_equals: None,
        batch_rows: None,
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

/// The Binance fixture's trades, read here without the source's decoder:
/// (symbol, trade time µs, price, size, trade id, buyer is maker).
fn binance_expected(lines: &[String]) -> Vec<(String, i64, f64, f64, i64, bool)> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| v.get("data").cloned().unwrap_or(v))
        .filter(|e| e["e"] == "trade")
        .map(|e| {
            (
                e["s"].as_str().unwrap().to_string(),
                e["T"].as_i64().unwrap() * 1000,
                e["p"].as_str().unwrap().parse().unwrap(),
                e["q"].as_str().unwrap().parse().unwrap(),
                e["t"].as_i64().unwrap(),
                e["m"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_trades_land_in_the_table_exactly() {
    let (_dir, core) = core();
    let lines = fixture("binance_trades.jsonl");
    let feed = Feed::new(lines.clone());
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), feed.clone(), 1, usize::MAX).await;
    let sources = Sources::new(core.clone());
    let subscribe = r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@trade","solusdt@trade"],"id":1}"#;
    let url = format!("ws://{}/ws", server.addr);
    sources.start(&Namespace::anonymous(), spec("binance", "trades", url, Format::BinanceTrade, vec![subscribe.into()])).unwrap();
    let expected = binance_expected(&lines);
    assert_eq!(expected.len(), 300);
    until("300 rows", Duration::from_secs(20), || status(&sources, "binance").rows == 300).await;
    let s = status(&sources, "binance");
    assert_eq!((s.state, s.messages, s.decode_errors, s.dropped_rows), (SourceState::Connected, 301, 0, 0));
    assert_eq!(*feed.received.lock().unwrap(), [subscribe]);

    let df = table(&core, "trades", "trade_id");
    assert_eq!(df.get_column_names(), ["symbol", "ts", "price", "size", "trade_id", "buyer_is_maker"]);
    let def = core.tables().get(&Namespace::anonymous(), "trades").unwrap().unwrap().def();
    assert_eq!(def.columns[0].kind, "SYMBOL", "a ticker is QuestDB's SYMBOL");
    let symbol = df.column("symbol").unwrap().cast(&polars::prelude::DataType::String).unwrap();
    let symbol: Vec<_> = symbol.str().unwrap().iter().map(|s| s.unwrap().to_string()).collect();
    let ts: Vec<_> = df.column("ts").unwrap().datetime().unwrap().physical().into_no_null_iter().collect();
    let price: Vec<_> = df.column("price").unwrap().f64().unwrap().into_no_null_iter().collect();
    let size: Vec<_> = df.column("size").unwrap().f64().unwrap().into_no_null_iter().collect();
    let id: Vec<_> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    let maker: Vec<_> = df.column("buyer_is_maker").unwrap().bool().unwrap().iter().map(Option::unwrap).collect();
    let got: Vec<_> = (0..df.height())
        .map(|i| (symbol[i].clone(), ts[i], price[i], size[i], id[i], maker[i]))
        .collect();
    assert_eq!(got, expected);
    let stopped = sources.stop(&Namespace::anonymous(), "binance").await.unwrap();
    assert_eq!((stopped.state, stopped.rows), (SourceState::Stopped, 300));
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_feed_is_reconnected_resubscribed_and_the_gap_recorded() {
    let (_dir, core) = core();
    let lines = fixture("coinbase_matches.jsonl");
    let feed = Feed::new(lines.clone());
    let half = lines.len() / 2;
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), feed.clone(), 1, half).await;
    let addr = server.addr;
    let sources = Sources::new(core.clone());
    let subscribe = r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["matches"]}"#;
    let url = format!("ws://{addr}");
    sources.start(&Namespace::anonymous(), spec("coinbase", "matches", url, Format::CoinbaseMatches, vec![subscribe.into()])).unwrap();
    until("the first half", Duration::from_secs(20), || status(&sources, "coinbase").messages == half as u64).await;

    // Kill the server mid-stream; the source backs off and keeps trying.
    server.kill().await;
    until("a lost feed", Duration::from_secs(20), || status(&sources, "coinbase").state != SourceState::Connected).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // a few refused connects
    let down = status(&sources, "coinbase");
    assert!(down.last_error.is_some(), "{down:?}");
    let server = Replay::start(addr, feed.clone(), 1, usize::MAX).await;

    let matches = lines.iter().filter(|l| l.contains(r#""type": "match""#)).count();
    assert_eq!(matches, 240);
    until("every match", Duration::from_secs(20), || status(&sources, "coinbase").rows == matches as u64).await;
    let s = status(&sources, "coinbase");
    assert_eq!((s.state, s.reconnects, s.messages, s.decode_errors), (SourceState::Connected, 1, lines.len() as u64, 0));
    // Subscribed again on the new connection.
    assert_eq!(*feed.received.lock().unwrap(), [subscribe, subscribe]);

    // Every match exactly once, in order, with its exact time and values.
    let df = table(&core, "matches", "trade_id");
    let ids: Vec<i64> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(ids, (900_000..900_240).collect::<Vec<_>>());
    let first = &df.slice(7, 1);
    // Match 7: 2025-12-01T08:00:00Z + 7 × 41,013 µs + 7 µs; ETH (odd), price 3000 + 91 % 500 / 100.
    assert_eq!(first.column("ts").unwrap().datetime().unwrap().physical().get(0), Some(1_764_576_000_000_000 + 7 * 41_013 + 7));
    let symbol = first.column("symbol").unwrap().cast(&polars::prelude::DataType::String).unwrap();
    assert_eq!(symbol.str().unwrap().get(0), Some("ETH-USD"));
    assert_eq!(first.column("price").unwrap().f64().unwrap().get(0), Some(3000.91));

    // The gap: one row, from the loss to the reconnect.
    let gaps = table(&core, GAPS_TABLE, "ts");
    assert_eq!(gaps.height(), 1, "{gaps}");
    assert_eq!(gaps.column("source").unwrap().str().unwrap().get(0), Some("coinbase"));
    assert_eq!(gaps.column("table").unwrap().str().unwrap().get(0), Some("matches"));
    let from = gaps.column("gap_from").unwrap().datetime().unwrap().physical().get(0).unwrap();
    let to = gaps.column("ts").unwrap().datetime().unwrap().physical().get(0).unwrap();
    assert!(to - from >= 300_000, "the gap lasted at least the 300 ms the feed was down: {from}..{to}");
    sources.stop(&Namespace::anonymous(), "coinbase").await.unwrap();
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_behind_the_feed_drops_counted_rows_and_memory_stays_bounded() {
    let (_dir, core) = core();
    let lines = fixture("binance_trades.jsonl");
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), Feed::new(lines), 0, usize::MAX).await;
    let sources = Sources::new(core.clone());
    // At most 100 rows may wait, and the writer appends only after a minute:
    // the other 200 trades must be dropped, not queued.
    let mut s = spec("slow", "slow", format!("ws://{}", server.addr), Format::BinanceTrade, vec![]);
    s.max_pending_rows = Some(100);
    s.batch_ms = Some(60_000);
    sources.start(&Namespace::anonymous(), s).unwrap();
    until("every message", Duration::from_secs(20), || status(&sources, "slow").messages == 301).await;
    let s = status(&sources, "slow");
    assert_eq!((s.rows, s.dropped_rows), (0, 200));
    // Stopping appends the 100 that waited.
    let stopped = sources.stop(&Namespace::anonymous(), "slow").await.unwrap();
    assert_eq!((stopped.rows, stopped.dropped_rows), (100, 200));
    let df = table(&core, "slow", "trade_id");
    let ids: Vec<i64> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(ids, (5_000_000..5_000_100).collect::<Vec<_>>(), "the first 100, in order");
    let metrics = core.metrics().render(&core.server_stats());
    assert!(metrics.contains(r#"polaroid_source_dropped_rows_total{source="slow"} 200"#), "{metrics}");
    assert!(metrics.contains(r#"polaroid_source_rows_total{source="slow"} 100"#), "{metrics}");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unique_per_server_and_tenants_see_only_their_own() {
    let (_dir, core) = core();
    let sources = Sources::new(core.clone());
    let anon = Namespace::anonymous();
    // Nothing listens here: the source keeps retrying, which is fine for this test.
    let url = "ws://127.0.0.1:9".to_string();
    sources.start(&anon, spec("one", "t", url.clone(), Format::BinanceTrade, vec![])).unwrap();
    match sources.start(&anon, spec("one", "t", url.clone(), Format::BinanceTrade, vec![])) {
        Err(SourceError::AlreadyRunning(name)) => assert_eq!(name, "one"),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    let other = Namespace::new("another tenant");
    assert!(sources.list(&other).is_empty());
    assert!(matches!(sources.stop(&other, "one").await, Err(SourceError::NotFound(_))));
    let bad = spec("bad name!", "t", url.clone(), Format::BinanceTrade, vec![]);
    assert!(matches!(sources.start(&anon, bad), Err(SourceError::Invalid(m)) if m.contains("name")));
    let bad = spec("http", "t", "http://example.com".into(), Format::BinanceTrade, vec![]);
    assert!(matches!(sources.start(&anon, bad), Err(SourceError::Invalid(m)) if m.contains("ws://")));
    until("a failed connect", Duration::from_secs(20), || status(&sources, "one").last_error.is_some()).await;
    assert!(sources.stop(&anon, "one").await.is_ok());
    assert!(sources.list(&anon).is_empty());
}

#[test]
fn a_sources_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sources.toml");
    std::fs::write(
        &path,
        r#"
[[source]]
name = "btc"
table = "trades"
format = "binance-trade"
[source.websocket]
url = "wss://stream.binance.com:9443/ws/btcusdt@trade"

[[source]]
name = "custom"
table = "ticks"
format = "json"
timestamp = "at"
when = "/type"
when_equals = "tick"
batch_rows = 500
[source.websocket]
url = "ws://127.0.0.1:8765"
subscribe = ['{"op":"subscribe"}']
[source.columns]
at = { path = "/t", type = "timestamp_ms" }
px = { path = "/p", type = "float" }
"#,
    )
    .unwrap();
    let specs = polaroid_sources::read_sources_file(&path).unwrap();
    assert_eq!(specs.len(), 2);
    assert_eq!(specs[1].columns["px"].path, "/p");
    assert_eq!(specs[1].batch_rows, Some(500));
    std::fs::write(&path, "[[source]]\nname = \"x\"\ntable = \"t\"\nformat = \"json\"\n[source.websocket]\nurl = \"ws://h\"\n").unwrap();
    let err = polaroid_sources::read_sources_file(&path).unwrap_err().to_string();
    assert!(err.contains("needs [source.columns]"), "{err}");
    std::fs::write(&path, "[[source]]\nname = \"x\"\ntable = \"t\"\nformat = \"binance-trade\"\nurl = \"ws://h\"\n").unwrap();
    let err = polaroid_sources::read_sources_file(&path).unwrap_err().to_string();
    assert!(err.contains("url"), "an unknown key is named: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_gives_its_table_the_retention_it_asks_for() {
    use polaroid_core::retention::{Retention, Ttl};
    let (_dir, core) = core();
    let ns = Namespace::anonymous();
    let lines = fixture("binance_trades.jsonl");
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), Feed::new(lines), 1, usize::MAX).await;
    let url = format!("ws://{}/ws", server.addr);
    let sources = Sources::new(core.clone());
    let mut with_ttl = spec("kept", "kept_trades", url.clone(), Format::BinanceTrade, vec!["{}".into()]);
    with_ttl.ttl = Some("7 DAYS".into());
    with_ttl.max_table_bytes = Some(1 << 30);
    sources.start(&ns, with_ttl.clone()).unwrap();
    until("rows", Duration::from_secs(20), || status(&sources, "kept").rows == 300).await;
    let wanted = Retention { ttl: Some(Ttl::parse("7 DAYS").unwrap()), max_bytes: Some(1 << 30) };
    assert_eq!(core.tables().get(&ns, "kept_trades").unwrap().unwrap().def().retention, wanted);
    sources.stop(&ns, "kept").await.unwrap();
    // Started again on the table it made, with only a new TTL: the size cap stays.
    let shorter = SourceSpec { ttl: Some("12 hours".into()), max_table_bytes: None, ..with_ttl.clone() };
    sources.start(&ns, shorter).unwrap();
    let retention = core.tables().get(&ns, "kept_trades").unwrap().unwrap().def().retention;
    assert_eq!(retention, Retention { ttl: Some(Ttl::parse("12 HOURS").unwrap()), max_bytes: Some(1 << 30) });
    sources.stop(&ns, "kept").await.unwrap();
    let bad = SourceSpec { name: "bad".into(), ttl: Some("7 fortnights".into()), ..with_ttl };
    match sources.start(&ns, bad) {
        Err(SourceError::Invalid(m)) => assert!(m.contains("TTL"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// The README's `sources.toml` is a file the server reads: every source in
/// it is checked, and the batched feeds keep their row options.
#[test]
fn the_readme_sources_file_is_valid() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme.find("### Live sources").expect("the section")..];
    let start = section.find("```toml\n").expect("its sources.toml") + "```toml\n".len();
    let toml = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sources.toml");
    std::fs::write(&path, toml).unwrap();
    let specs = polaroid_sources::read_sources_file(&path).unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["btc", "fills", "fills-csv", "custom", "kraken", "polygon"]);
    assert_eq!(specs[1].columns["symbol"].kafka.as_deref(), Some("key"));
    let kraken = &specs[4];
    assert_eq!((kraken.rows.as_deref(), kraken.columns["kind"].message_path.as_deref()), (Some("/data"), Some("/type")));
    let polygon = &specs[5];
    assert_eq!((polygon.rows.as_deref(), polygon.row_when.as_deref(), polygon.row_when_equals.as_deref()), (Some(""), Some("/ev"), Some("T")));
}

/// A feed that goes silent without closing (a peer gone without a FIN, a
/// stuck proxy) never ends the read; the source's pings find it: no pong
/// for three periods and it reconnects, recording the gap. The feed's own
/// heartbeat text (`ping`, as OKX wants) is sent, and its answer skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_feed_is_found_by_its_pings_and_reconnected() {
    let (_dir, core) = core();
    let lines = fixture("binance_trades.jsonl");
    let feed = Feed::new(lines.clone());
    feed.mute.store(true, std::sync::atomic::Ordering::SeqCst);
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), feed.clone(), 1, usize::MAX).await;
    let sources = Sources::new(core.clone());
    let mut spec = spec("silent", "silent", format!("ws://{}", server.addr), Format::BinanceTrade, vec!["subscribe".into()]);
    let ws = spec.websocket.as_mut().unwrap();
    ws.ping = Some("ping".into());
    ws.ping_ms = Some(100);
    sources.start(&Namespace::anonymous(), spec).unwrap();
    until("every line", Duration::from_secs(20), || status(&sources, "silent").messages == lines.len() as u64).await;
    until("a reconnect", Duration::from_secs(20), || status(&sources, "silent").reconnects >= 1).await;
    // The feed answers again: the next connection stays up, pinged and answering.
    feed.mute.store(false, std::sync::atomic::Ordering::SeqCst);
    let pinged = || feed.received.lock().unwrap().iter().filter(|t| *t == "ping").count();
    until("pings answered", Duration::from_secs(20), || pinged() >= 3).await;
    let reconnects = status(&sources, "silent").reconnects;
    tokio::time::sleep(Duration::from_millis(1_000)).await; // ten periods
    let s = status(&sources, "silent");
    assert_eq!(s.reconnects, reconnects, "an answering feed is kept: {s:?}");
    // Every trade once (the feed does not replay); the "pong"s are neither
    // messages nor decode errors.
    assert_eq!((s.state, s.rows, s.messages, s.decode_errors), (SourceState::Connected, 300, lines.len() as u64, 0), "{s:?}");
    let gaps = table(&core, GAPS_TABLE, "ts");
    assert_eq!(gaps.height() as u64, s.reconnects, "{gaps}");
    let reason = gaps.column("reason").unwrap().str().unwrap().get(0).unwrap().to_string();
    assert!(reason.starts_with("no frame from the feed for "), "{reason}");
    let ids: Vec<i64> = table(&core, "silent", "trade_id").column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(ids.len(), 300);
    sources.stop(&Namespace::anonymous(), "silent").await.unwrap();
    server.kill().await;
}

/// A source started at run time (over HTTP or gRPC) is kept: a server
/// started again on the same data directory starts it again, and the rows
/// go on where they stopped. A stopped source is not brought back, and a
/// boot file's source is not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_sources_start_again_after_a_restart_until_stopped() {
    let (dir, core) = core();
    let lines = fixture("binance_trades.jsonl");
    let feed = Feed::new(lines.clone());
    let half = lines.len() / 2;
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), feed.clone(), 1, half).await;
    let addr = server.addr;
    let url = format!("ws://{addr}");
    let sources = Sources::new(core.clone());
    sources.start_kept(&Namespace::anonymous(), spec("kept", "kept", url.clone(), Format::BinanceTrade, vec!["s".into()])).unwrap();
    // Nothing listens on port 9: this one only tries to connect.
    sources.start(&Namespace::anonymous(), spec("boot", "boot", "ws://127.0.0.1:9".into(), Format::BinanceTrade, vec![])).unwrap();
    until("the first half", Duration::from_secs(20), || status(&sources, "kept").messages == half as u64).await;
    // The server stops: every source appends what it has and ends.
    sources.stop_all().await;
    drop(sources);
    drop(core);
    server.kill().await;
    let kept_file = dir.path().join("live_sources/default/kept.json");
    assert!(kept_file.is_file(), "kept under the data directory");
    assert!(!dir.path().join("live_sources/default/boot.json").exists(), "a boot file's source is not kept");

    // A new server on the same directory, the feed going on.
    let core = polaroid_core::Core::new(polaroid_core::CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
    let server = Replay::start(addr, feed.clone(), 1, usize::MAX).await;
    let sources = Sources::new(core.clone());
    assert_eq!(sources.restore(), 1);
    let names: Vec<String> = sources.list(&Namespace::anonymous()).into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["kept"]);
    let rows = || core.tables().get(&Namespace::anonymous(), "kept").unwrap().map_or(0, |t| t.row_count().unwrap());
    until("every trade", Duration::from_secs(20), || rows() == 300).await;
    let ids: Vec<i64> = table(&core, "kept", "trade_id").column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(ids.len(), 300);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "every trade once");
    // Its spec is a client's file no client reaches.
    let scan = polaroid_core::ScanSpec { path: "live_sources/default/kept.json".into(), ..Default::default() };
    let err = core.scan(&Namespace::anonymous(), &scan).unwrap_err();
    assert!(err.to_string().contains("live source storage"), "{err}");

    // Stopped by its tenant, it is gone for good.
    sources.stop(&Namespace::anonymous(), "kept").await.unwrap();
    assert!(!kept_file.exists());
    assert_eq!(Sources::new(core.clone()).restore(), 0);
    server.kill().await;
}

fn compressed(text: &str, how: &str) -> Vec<u8> {
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use std::io::Write;
    let level = flate2::Compression::default();
    match how {
        "gzip" => {
            let mut e = GzEncoder::new(Vec::new(), level);
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        },
        "zlib" => {
            let mut e = ZlibEncoder::new(Vec::new(), level);
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        },
        _ => {
            let mut e = DeflateEncoder::new(Vec::new(), level);
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        },
    }
}

/// HTX's trade detail message (huobiapi.github.io): `n` trades from `first`.
fn htx_trades(first: i64, n: i64) -> String {
    let trades: Vec<String> = (first..first + n)
        .map(|i| {
            format!(
                r#"{{"id":1.37005445109359e26,"ts":{},"tradeId":{},"amount":{},"price":{},"direction":"{}"}}"#,
                1_630_994_963_173 + i * 7,
                100_065_340_982 + i,
                0.0099 * (1 + i) as f64,
                52_086.3 + i as f64,
                ["buy", "sell"][(i % 2) as usize]
            )
        })
        .collect();
    format!(
        r#"{{"ch":"market.btcusdt.trade.detail","ts":1630994963175,"tick":{{"id":137005445109,"ts":1630994963173,"data":[{}]}}}}"#,
        trades.join(",")
    )
}

/// HTX's feed: every frame is gzip'd binary JSON; its `{"ping": n}` must be
/// answered `{"pong": n}` or it closes the connection; trades are under
/// `/tick/data`, the symbol only in the channel's name. Frames compressed
/// as zlib or raw deflate, or not at all, are read too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_frames_are_inflated_and_the_feeds_own_heartbeat_answered() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let replies = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let heard = replies.clone();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let subscription = ws.next().await.unwrap().unwrap();
        assert_eq!(subscription.to_text().unwrap(), r#"{"sub":"market.btcusdt.trade.detail","id":"id1"}"#);
        ws.send(Message::binary(compressed(r#"{"ping":1492420473027}"#, "gzip"))).await.unwrap();
        let Some(Ok(Message::Text(reply))) = ws.next().await else { panic!("no answer to the heartbeat") };
        heard.lock().unwrap().push(reply.to_string());
        if reply.as_str() != r#"{"pong":1492420473027}"# {
            return; // HTX closes the connection
        }
        ws.send(Message::binary(compressed(&htx_trades(0, 2), "gzip"))).await.unwrap();
        ws.send(Message::binary(compressed(&htx_trades(2, 1), "zlib"))).await.unwrap();
        ws.send(Message::binary(compressed(&htx_trades(3, 3), "deflate"))).await.unwrap();
        ws.send(Message::binary(htx_trades(6, 1).into_bytes())).await.unwrap();
        ws.send(Message::binary(vec![0xff, 0xfe, 0x00, 0x01])).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    });
    let (_dir, core) = core();
    let mut spec = spec("htx", "htx", format!("ws://{addr}/ws"), Format::Json, vec![r#"{"sub":"market.btcusdt.trade.detail","id":"id1"}"#.into()]);
    let ws = spec.websocket.as_mut().unwrap();
    ws.reply_to = Some("/ping".into());
    ws.reply = Some(r#"{"pong":$}"#.into());
    spec.rows = Some("/tick/data".into());
    for (name, path, kind) in [
        ("ts", "/ts", ColumnKind::TimestampMs),
        ("price", "/price", ColumnKind::Float),
        ("amount", "/amount", ColumnKind::Float),
        ("direction", "/direction", ColumnKind::String),
        ("trade_id", "/tradeId", ColumnKind::Int),
    ] {
        spec.columns.insert(name.into(), ColumnSpec::path(path, kind));
    }
    spec.columns.insert("channel".into(), ColumnSpec::message_path("/ch", ColumnKind::String));
    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec).unwrap();
    until("7 trades", Duration::from_secs(20), || status(&sources, "htx").rows == 7).await;
    until("the bad frame", Duration::from_secs(20), || status(&sources, "htx").decode_errors == 1).await;
    let s = status(&sources, "htx");
    // The heartbeat is answered, not counted as a message.
    assert_eq!((s.state, s.messages, s.reconnects), (SourceState::Connected, 5, 0), "{s:?}");
    assert!(s.last_error.as_deref().unwrap_or_default().contains("neither UTF-8 text nor gzip, zlib or deflate"), "{s:?}");
    assert_eq!(*replies.lock().unwrap(), [r#"{"pong":1492420473027}"#]);
    let df = table(&core, "htx", "trade_id");
    let ids: Vec<i64> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(ids, (0..7).map(|i| 100_065_340_982 + i).collect::<Vec<_>>());
    let prices: Vec<f64> = df.column("price").unwrap().f64().unwrap().into_no_null_iter().collect();
    assert_eq!(prices, (0..7).map(|i| 52_086.3 + i as f64).collect::<Vec<_>>());
    let ts: Vec<i64> = df.column("ts").unwrap().datetime().unwrap().physical().into_no_null_iter().collect();
    assert_eq!(ts, (0..7).map(|i| (1_630_994_963_173 + i * 7) * 1000).collect::<Vec<_>>());
    let channel = df.column("channel").unwrap().str().unwrap().get(6).map(str::to_string);
    assert_eq!(channel.as_deref(), Some("market.btcusdt.trade.detail"));
    sources.stop(&Namespace::anonymous(), "htx").await.unwrap();
    server.abort();
}

/// Kraken's v2 trade channel (docs.kraken.com): trades `ids`, 250 ms apart.
fn kraken_trades(kind: &str, ids: std::ops::Range<i64>) -> String {
    let trades: Vec<String> = ids
        .map(|i| {
            let us = i * 250_000;
            format!(
                r#"{{"symbol":"BTC/USD","side":"{}","price":{},"qty":{},"ord_type":"market","trade_id":{i},"timestamp":"2023-09-25T07:{:02}:{:02}.{:06}Z"}}"#,
                ["buy", "sell"][(i % 2) as usize],
                26_500.0 + i as f64 / 10.0,
                0.001 * (i + 1) as f64,
                us / 60_000_000,
                us / 1_000_000 % 60,
                us % 1_000_000
            )
        })
        .collect();
    format!(r#"{{"channel":"trade","type":"{kind}","data":[{}]}}"#, trades.join(","))
}

/// Kraken sends the last 50 trades as a snapshot each time a client
/// subscribes, so a source that reconnects is sent trades it has. With
/// upsert keys the table holds each trade once, and none of the gap's is
/// lost (a source that skipped snapshots would lose them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_a_feed_sends_again_after_a_reconnect_are_stored_once() {
    let (_dir, core) = core();
    let session = |first: i64| -> Vec<String> {
        let mut lines = vec![kraken_trades("snapshot", first..first + 50)];
        lines.extend((0..10).map(|k| kraken_trades("update", first + 50 + 5 * k..first + 55 + 5 * k)));
        lines
    };
    let server = Replay::start("127.0.0.1:0".parse().unwrap(), Feed::new(session(0)), 1, usize::MAX).await;
    let addr = server.addr;
    let subscribe = r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"],"snapshot":true}}"#;
    let mut spec = spec("kraken", "kraken_trades", format!("ws://{addr}"), Format::Json, vec![subscribe.into()]);
    spec.when = Some("/channel".into());
    spec.when_equals = Some("trade".into());
    spec.rows = Some("/data".into());
    for (name, path, kind) in [
        ("ts", "/timestamp", ColumnKind::TimestampIso),
        ("symbol", "/symbol", ColumnKind::Symbol),
        ("price", "/price", ColumnKind::Float),
        ("qty", "/qty", ColumnKind::Float),
        ("trade_id", "/trade_id", ColumnKind::Int),
    ] {
        spec.columns.insert(name.into(), ColumnSpec::path(path, kind));
    }
    let mut unknown = spec.clone();
    unknown.upsert_keys = Some(vec!["ts".into(), "venue".into()]);
    let refused = Sources::new(core.clone()).start(&Namespace::anonymous(), unknown).unwrap_err().to_string();
    assert!(refused.contains(r#"upsert key "venue" is not one of the source's columns (price, qty, symbol, trade_id, ts)"#), "{refused}");
    spec.upsert_keys = Some(vec!["trade_id".into()]);
    let refused = Sources::new(core.clone()).start(&Namespace::anonymous(), spec.clone()).unwrap_err().to_string();
    assert!(refused.contains(r#"upsert_keys must include the designated timestamp "ts""#), "{refused}");
    spec.upsert_keys = Some(vec!["ts".into(), "symbol".into(), "trade_id".into()]);

    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec).unwrap();
    until("the first session", Duration::from_secs(20), || status(&sources, "kraken").rows == 100).await;
    server.kill().await;
    // The second connection's snapshot is the first's last 50 trades.
    let server = Replay::start(addr, Feed::new(session(50)), 1, usize::MAX).await;
    until("the second session", Duration::from_secs(20), || status(&sources, "kraken").rows == 200).await;
    let s = status(&sources, "kraken");
    assert_eq!((s.reconnects, s.decode_errors), (1, 0), "{s:?}");

    let keyed = core.tables().get(&Namespace::anonymous(), "kraken_trades").unwrap().unwrap();
    assert_eq!(keyed.def().upsert_keys, ["ts", "symbol", "trade_id"]);
    let kinds: Vec<(String, String)> = keyed.def().columns.into_iter().map(|c| (c.name, c.kind)).collect();
    let kind = |name: &str| kinds.iter().find(|(n, _)| n == name).map(|(_, k)| k.clone());
    assert_eq!((kind("symbol"), kind("price")), (Some("SYMBOL".into()), Some("DOUBLE".into())));
    let df = table(&core, "kraken_trades", "trade_id");
    let ids: Vec<i64> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(ids, (0..150).collect::<Vec<_>>(), "each trade once");
    // Trade 149: 37.25 s after 07:00, price 26,514.9.
    let last = df.slice(149, 1);
    assert_eq!(last.column("ts").unwrap().datetime().unwrap().physical().get(0), Some(1_695_625_200_000_000 + 149 * 250_000));
    assert_eq!(last.column("price").unwrap().f64().unwrap().get(0), Some(26_514.9));
    sources.stop(&Namespace::anonymous(), "kraken").await.unwrap();
    server.kill().await;
}

/// Deribit's trades channel (docs.deribit.com): `n` trades from `first`,
/// their ids as text, as Deribit sends them.
fn deribit_trades(first: i64, n: i64) -> String {
    let trades: Vec<String> = (first..first + n)
        .map(|i| {
            format!(
                r#"{{"trade_seq":{},"trade_id":"{}","timestamp":{},"tick_direction":0,"price":{},"mark_price":8948.9,"instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"{}","amount":{}}}"#,
                30_289_432 + i,
                48_079_254 + i,
                1_590_484_156_350 + i * 3,
                8_950.0 + i as f64 / 2.0,
                ["buy", "sell"][(i % 2) as usize],
                10 * (i + 1)
            )
        })
        .collect();
    format!(
        r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"trades.BTC-PERPETUAL.100ms","data":[{}]}}}}"#,
        trades.join(",")
    )
}

/// Deribit: after `public/set_heartbeat` it sends `{"method":"heartbeat",
/// "params":{"type":"test_request"}}` and closes a connection that does not
/// call `public/test` in answer. Its replies to calls (`result`) are not
/// trades.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deribit_s_test_request_is_answered_and_its_replies_are_not_rows() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    const TEST: &str = r#"{"jsonrpc":"2.0","method":"public/test","params":{}}"#;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        for id in [1, 2] {
            let call = ws.next().await.unwrap().unwrap();
            assert!(call.to_text().unwrap().contains(&format!(r#""id":{id}"#)), "{call:?}");
            ws.send(Message::text(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"ok"}}"#))).await.unwrap();
        }
        ws.send(Message::text(deribit_trades(0, 2))).await.unwrap();
        ws.send(Message::text(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#)).await.unwrap();
        let Some(Ok(Message::Text(answer))) = ws.next().await else { panic!("no answer to the test request") };
        if answer.as_str() != TEST {
            return; // Deribit closes the connection
        }
        ws.send(Message::text(r#"{"jsonrpc":"2.0","result":{"version":"1.2.26"}}"#)).await.unwrap();
        ws.send(Message::text(deribit_trades(2, 3))).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    });
    let (_dir, core) = core();
    let subscribe = vec![
        r#"{"jsonrpc":"2.0","id":1,"method":"public/set_heartbeat","params":{"interval":30}}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":2,"method":"public/subscribe","params":{"channels":["trades.BTC-PERPETUAL.100ms"]}}"#.to_string(),
    ];
    let mut spec = spec("deribit", "deribit", format!("ws://{addr}/ws/api/v2"), Format::Json, subscribe);
    let ws = spec.websocket.as_mut().unwrap();
    ws.reply_to = Some("/params/type".into());
    ws.reply = Some(TEST.into());
    spec.when = Some("/method".into());
    spec.when_equals = Some("subscription".into());
    spec.rows = Some("/params/data".into());
    for (name, path, kind) in [
        ("ts", "/timestamp", ColumnKind::TimestampMs),
        ("symbol", "/instrument_name", ColumnKind::Symbol),
        ("price", "/price", ColumnKind::Float),
        ("amount", "/amount", ColumnKind::Float),
        ("side", "/direction", ColumnKind::String),
        ("trade_id", "/trade_id", ColumnKind::Int),
    ] {
        spec.columns.insert(name.into(), ColumnSpec::path(path, kind));
    }
    let sources = Sources::new(core.clone());
    sources.start(&Namespace::anonymous(), spec).unwrap();
    until("5 trades", Duration::from_secs(20), || status(&sources, "deribit").rows == 5).await;
    let s = status(&sources, "deribit");
    assert_eq!((s.state, s.reconnects, s.decode_errors), (SourceState::Connected, 0, 0), "{s:?}");
    let df = table(&core, "deribit", "trade_id");
    let ids: Vec<i64> = df.column("trade_id").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(ids, (0..5).map(|i| 48_079_254 + i).collect::<Vec<_>>());
    let amounts: Vec<f64> = df.column("amount").unwrap().f64().unwrap().into_no_null_iter().collect();
    assert_eq!(amounts, [10.0, 20.0, 30.0, 40.0, 50.0]);
    let ts: Vec<i64> = df.column("ts").unwrap().datetime().unwrap().physical().into_no_null_iter().collect();
    assert_eq!(ts, (0..5).map(|i| (1_590_484_156_350 + i * 3) * 1000).collect::<Vec<_>>());
    sources.stop(&Namespace::anonymous(), "deribit").await.unwrap();
    server.abort();
}
