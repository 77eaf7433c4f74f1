//! Live sources against a local WebSocket replay server (tokio-tungstenite
//! `accept_async`) that plays recorded-format Binance and Coinbase JSONL.
//! Rows in the table are checked value by value against the fixture, read
//! independently here with serde_json.

mod kafka;
mod websocket;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use polaroid_core::{Core, CoreConfig, Namespace};
use polars::prelude::*;
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
    pub received: Arc<Mutex<Vec<String>>>,
}

impl Feed {
    pub fn new(lines: Vec<String>) -> Self {
        Self { lines: Arc::new(lines), cursor: Arc::new(AtomicUsize::new(0)), received: Arc::default() }
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
                    // Stay open (answering pings) until the client or the test ends it.
                    while let Some(Ok(_)) = ws.next().await {}
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
