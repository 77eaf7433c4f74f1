//! polaroid-grpc benchmarks. Each prints its result beside a baseline
//! measured in the same run, and the ratio:
//!
//! 1. remote vs in-process: one group-by/join query over 10M rows held on
//!    the server, against the same polars query in this process;
//! 2. Fetch throughput: 10M rows x 8 fixed-width columns over loopback, in
//!    GB/s, against an in-process Arrow IPC encode+decode of the same data;
//! 3. small-RPC latency: p50/p99 and calls/s of KeepAlive and Schema, and
//!    KeepAlive's calls/s from 16 concurrent callers; then KeepAlive with a
//!    server and client sharing one thread (no wake-up of another thread),
//!    and the machine's own cost of waking a sleeping thread;
//! 4. a 10-step pipeline on a small frame: one RPC per step (polaroid.v1
//!    expression trees) against one `Plan` RPC (the shipped LazyFrame),
//!    each with its Fetch, beside the same pipeline in-process;
//! 5. live bars: 1-minute bars of ticks appended to a table in batches,
//!    delivered by SubscribeBars as each append closes them, against the
//!    batch kernel over the same ticks in this process; and the latency
//!    from the append that closes a bar to the bar in the client.
//!
//! Run with `make bench` (or `cargo bench --workspace --bench remote`: with `-p`, cargo unifies
//! features over fewer packages and builds polars a second time).
//! POLAROID_BENCH_ROWS overrides the 10M rows; POLAROID_BENCH_ONLY=query,
//! fetch, latency, pipeline or live (comma-separated) runs only those parts.

use std::time::{Duration, Instant};

use polaroid_grpc::client::{Client, RemoteFrame, Shipping};
use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::{FetchRequest, HandleRequest};
use tonic::transport::Channel;
use polaroid_core::tables::{PartitionBy, TableDef};
use polaroid_core::{Core, Namespace};
use polaroid_grpc::{serve_core, ServerConfig};
use polaroid_sources::Sources;
use polaroid_timeseries::{OhlcvExt, OhlcvOptions};
use polars::prelude::*;

// The allocator polaroid-server runs with; the in-process baselines share it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 5;

fn rows() -> usize {
    std::env::var("POLAROID_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000)
}

fn wanted(part: &str) -> bool {
    std::env::var("POLAROID_BENCH_ONLY").map_or(true, |only| only.split(',').any(|p| p.trim() == part))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Deterministic pseudo-random ticks: 100 symbols.
fn ticks(n: usize) -> DataFrame {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut sym = Vec::with_capacity(n);
    let mut price = Vec::with_capacity(n);
    let mut size = Vec::with_capacity(n);
    for _ in 0..n {
        let r = next();
        sym.push((r % 100) as i64);
        price.push(100.0 + (r >> 40) as f64 / 1e5);
        size.push(((r >> 20) % 1000) as i64 + 1);
    }
    df!("symbol_id" => sym, "price" => price, "size" => size).unwrap()
}

fn wide(n: usize) -> DataFrame {
    let cols: Vec<Column> = (0..8)
        .map(|c| {
            if c % 2 == 0 {
                Column::new(format!("i{c}").into(), (0..n as i64).map(|v| v.wrapping_mul(c + 1)).collect::<Vec<_>>())
            } else {
                Column::new(format!("f{c}").into(), (0..n).map(|v| v as f64 * 0.5 + c as f64).collect::<Vec<_>>())
            }
        })
        .collect();
    DataFrame::new(n, cols).unwrap()
}

fn query(trades: LazyFrame, symbols: LazyFrame) -> LazyFrame {
    trades
        .filter(col("size").gt(lit(10)))
        .join(symbols, [col("symbol_id")], [col("symbol_id")], JoinArgs::new(JoinType::Inner))
        .group_by([col("sector")])
        .agg([
            ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap"),
            col("size").sum().alias("volume"),
            len().alias("trades"),
        ])
        .sort(["sector"], Default::default())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n = rows();
    let server = BenchServer::start("polaroid-bench-data", 16 << 30).await;
    let (client, core) = (server.client.clone(), server.core.clone());

    let symbols = df!(
        "symbol_id" => (0..100i64).collect::<Vec<_>>(),
        "sector" => (0..100).map(|i| format!("sector{}", i % 11)).collect::<Vec<_>>(),
    )
    .unwrap();
    let remote_symbols = client.upload_named(&symbols, "symbols").await.unwrap();
    if wanted("query") {
        remote_vs_in_process(&client, n, symbols.clone(), &remote_symbols).await;
    }
    if wanted("fetch") {
        fetch_throughput(&client, n).await;
    }
    if wanted("latency") {
        small_rpc_latency(&client, remote_symbols.id()).await;
    }
    if wanted("pipeline") {
        pipeline_latency(&client, symbols.clone(), &remote_symbols).await;
    }
    if wanted("live") {
        live_bars(&client, &core).await;
    }
    drop(client);
    server.stop().await;
}

/// A polaroid server on loopback in this runtime, and a client of it.
struct BenchServer {
    core: std::sync::Arc<Core>,
    client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<(), polaroid_grpc::ServeError>>,
}

impl BenchServer {
    /// Serving a data directory named `dir` under the temp dir.
    async fn start(dir: &str, memory_limit: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let data_dir = std::env::temp_dir().join(dir);
        std::fs::create_dir_all(&data_dir).unwrap();
        let config = ServerConfig { data_dir, memory_limit, ..Default::default() };
        let core = Core::new(config.core()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served_core = core.clone();
        let served = tokio::spawn(async move {
            serve_core(served_core.clone(), Sources::new(served_core), &config, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        let client = loop {
            if let Ok(c) = Client::connect(format!("http://{addr}")).await {
                break c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Self { core, client, stop, served }
    }

    async fn stop(self) {
        let Self { client, stop, served, .. } = self;
        drop(client);
        let _ = stop.send(());
        served.await.unwrap().unwrap();
    }
}

/// 1. The same filter + join + group_by, remote (5 RPCs + Fetch) and in-process.
async fn remote_vs_in_process(client: &Client, n: usize, symbols: DataFrame, remote_symbols: &RemoteFrame) {
    println!("== remote vs in-process: filter + join + group_by over {n} rows ==");
    let trades = tokio::task::spawn_blocking(move || ticks(n)).await.unwrap();
    // One RPC per step, as clients in other languages send it.
    let client = client.clone().with_shipping(Shipping::Expressions);
    let remote_trades = client.upload_named(&trades, "ticks").await.unwrap();

    let mut local_times = Vec::new();
    let mut local_streaming_times = Vec::new();
    let mut remote_times = Vec::new();
    let mut plan_times = Vec::new();
    let mut local_result = None;
    let mut remote_result = None;
    for _ in 0..RUNS {
        let (t, s) = (trades.clone(), symbols.clone());
        let start = Instant::now();
        let df = tokio::task::spawn_blocking(move || query(t.lazy(), s.lazy()).collect().unwrap()).await.unwrap();
        local_times.push(start.elapsed());
        local_result = Some(df);

        // Fetch runs a plan on the streaming engine; compare like with like too.
        let (t, s) = (trades.clone(), symbols.clone());
        let start = Instant::now();
        tokio::task::spawn_blocking(move || query(t.lazy(), s.lazy()).collect_with_engine(Engine::Streaming).unwrap())
            .await
            .unwrap();
        local_streaming_times.push(start.elapsed());

        let start = Instant::now();
        let r = remote_trades
            .filter(col("size").gt(lit(10)))
            .await
            .unwrap()
            .join(remote_symbols, &["symbol_id"], &["symbol_id"], JoinArgs::new(JoinType::Inner))
            .await
            .unwrap()
            .group_by([col("sector")])
            .agg([
                ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap"),
                col("size").sum().alias("volume"),
                len().alias("trades"),
            ])
            .await
            .unwrap()
            .sort(["sector"], Default::default())
            .await
            .unwrap();
        plan_times.push(start.elapsed());
        let df = r.fetch().await.unwrap();
        remote_times.push(start.elapsed());
        remote_result = Some(df);
    }
    let (l, ls, r, p) = (median(local_times), median(local_streaming_times), median(remote_times), median(plan_times));
    // The same groups and integer sums; float sums may differ in the last bits (summation order).
    let (local, remote) = (local_result.unwrap(), remote_result.unwrap());
    for name in ["sector", "volume", "trades"] {
        assert!(local.column(name).unwrap().equals(remote.column(name).unwrap()), "{name} differs");
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("in-process, in-memory engine {:>8.1} ms (median of {RUNS})", ms(l));
    println!("in-process, streaming engine {:>8.1} ms (median of {RUNS})", ms(ls));
    println!("remote (Fetch streams)       {:>8.1} ms (median of {RUNS}; 4 plan RPCs {:.1} ms + Fetch)", ms(r), ms(p));
    println!("ratio vs same engine         {:>8.3}x remote/in-process streaming (target <= 1.1x for queries >= 100 ms)", r.as_secs_f64() / ls.as_secs_f64());
    println!("ratio vs in-memory collect   {:>8.3}x\n", r.as_secs_f64() / l.as_secs_f64());
    remote_trades.drop().await.unwrap();
}

/// 2. Fetch of a held frame, decoded into a DataFrame, against an in-process
/// IPC encode + decode of the same frame.
async fn fetch_throughput(client: &Client, n: usize) {
    println!("== Fetch throughput: {n} rows x 8 fixed-width columns ==");
    let frame = tokio::task::spawn_blocking(move || wide(n)).await.unwrap();
    let bytes = frame.estimated_size() as f64;
    let remote_wide = client.upload_named(&frame, "wide").await.unwrap();
    let mut fetch_times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let df = remote_wide.fetch().await.unwrap();
        fetch_times.push(start.elapsed());
        assert_eq!(df.height(), n);
    }
    // The raw stream too: what the wire delivers before any decoding.
    let mut rpc = client.raw();
    let mut raw_times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut stream = rpc.fetch(FetchRequest { handle: remote_wide.id().into(), ..Default::default() }).await.unwrap().into_inner();
        let mut received = 0;
        while let Some(m) = stream.message().await.unwrap() {
            received += m.len();
        }
        raw_times.push(start.elapsed());
        assert!(received as f64 >= bytes);
    }
    let sample = frame.clone();
    let f = tokio::task::spawn_blocking(move || {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let start = Instant::now();
            let mut buf = Vec::new();
            IpcStreamWriter::new(&mut buf).finish(&mut frame.clone()).unwrap();
            let back = IpcStreamReader::new(std::io::Cursor::new(buf)).finish().unwrap();
            times.push(start.elapsed());
            assert_eq!(back.height(), frame.height());
        }
        median(times)
    })
    .await
    .unwrap();
    let (fetch, raw) = (median(fetch_times), median(raw_times));
    let gbps = |d: Duration| bytes / d.as_secs_f64() / 1e9;
    println!("in-process IPC encode+decode {:>7.2} GB/s ({:.0} ms)", gbps(f), f.as_secs_f64() * 1e3);
    println!("Fetch messages, not decoded  {:>7.2} GB/s ({:.0} ms)", gbps(raw), raw.as_secs_f64() * 1e3);
    println!("Fetch into a DataFrame       {:>7.2} GB/s ({:.0} ms)", gbps(fetch), fetch.as_secs_f64() * 1e3);
    println!("ratio                        {:>7.3}x of the in-process ceiling (target >= 1.5 GB/s)\n", gbps(fetch) / gbps(f));
    let back = remote_wide.fetch().await.unwrap();
    assert!(back.equals(&sample), "Fetch returned a different frame");
    remote_wide.drop().await.unwrap();
}

/// 3. Sequential unary calls from one client, made two ways: from a task on
/// the runtime's workers (how a tokio application calls), and from the main
/// thread's `block_on`, where every reply is a wake-up across threads.
async fn small_rpc_latency(client: &Client, handle: &str) {
    println!("== small-RPC latency over loopback (one client, sequential calls) ==");
    for name in ["keep_alive", "schema"] {
        let (rpc, id) = (client.raw(), handle.to_string());
        let in_task = tokio::spawn(async move { unary_latency(rpc, &id, name).await }).await.unwrap();
        let from_main = unary_latency(client.raw(), handle, name).await;
        for (how, (lat, total)) in [("in a task", in_task), ("block_on", from_main)] {
            println!(
                "{name:<10} {how:<9}  p50 {:>4.0} us  p99 {:>4.0} us  {:>6.0} calls/s{}",
                percentile(&lat, 0.5).as_secs_f64() * 1e6,
                percentile(&lat, 0.99).as_secs_f64() * 1e6,
                lat.len() as f64 / total.as_secs_f64(),
                if how == "in a task" { "  (target p50 <= 100 us)" } else { "" },
            );
        }
    }
    concurrent_keep_alive(client, handle).await;
    // The same calls with server and client on one thread: what a call costs
    // without waking another thread (the figure above minus this is the
    // cost of the cross-thread wake-ups).
    let lat = tokio::task::spawn_blocking(keep_alive_on_one_thread).await.unwrap();
    println!(
        "keep_alive one thread  p50 {:>4.0} us  p99 {:>4.0} us  (server and client on a current-thread runtime)",
        percentile(&lat, 0.5).as_secs_f64() * 1e6,
        percentile(&lat, 0.99).as_secs_f64() * 1e6,
    );
    // What this machine charges to wake a sleeping thread, with no gRPC in
    // it: the floor under a call that crosses threads.
    let trip = tokio::task::spawn_blocking(wake_round_trips).await.unwrap();
    println!(
        "thread wake-up round trip (two threads, mutex + condvar) p50 {:>4.0} us  p99 {:>4.0} us",
        percentile(&trip, 0.5).as_secs_f64() * 1e6,
        percentile(&trip, 0.99).as_secs_f64() * 1e6,
    );
}

/// Sorted round trips of a turn passed between two threads that sleep on
/// a condvar while waiting: each trip is two wake-ups of a sleeping thread.
fn wake_round_trips() -> Vec<Duration> {
    use std::sync::{Arc, Condvar, Mutex};
    const TRIPS: usize = 5_000;
    // true: the other thread's turn.
    let turn = Arc::new((Mutex::new(false), Condvar::new()));
    let theirs = turn.clone();
    let other = std::thread::spawn(move || {
        let (lock, wake) = &*theirs;
        for _ in 0..TRIPS {
            let mut mine = wake.wait_while(lock.lock().unwrap(), |t| !*t).unwrap();
            *mine = false;
            wake.notify_one();
        }
    });
    let (lock, wake) = &*turn;
    let mut trips = Vec::with_capacity(TRIPS);
    for _ in 0..TRIPS {
        let start = Instant::now();
        let mut theirs_now = lock.lock().unwrap();
        *theirs_now = true;
        wake.notify_one();
        drop(wake.wait_while(theirs_now, |t| *t).unwrap());
        trips.push(start.elapsed());
    }
    other.join().unwrap();
    trips.sort();
    trips
}

/// Sorted KeepAlive latencies from a server and its client sharing one
/// current-thread runtime.
fn keep_alive_on_one_thread() -> Vec<Duration> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = BenchServer::start("polaroid-bench-one-thread", ServerConfig::default().memory_limit).await;
        let handle = server.client.upload_named(&df!("x" => [1i64]).unwrap(), "one").await.unwrap();
        let (lat, _) = unary_latency(server.client.raw(), handle.id(), "keep_alive").await;
        drop(handle);
        server.stop().await;
        lat
    })
}

/// KeepAlive from 16 concurrent callers (tasks, one shared channel): calls/s.
async fn concurrent_keep_alive(client: &Client, handle: &str) {
    const CALLERS: usize = 16;
    const CALLS: usize = 5_000;
    let start = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (mut rpc, id) = (client.raw(), handle.to_string());
            tokio::spawn(async move {
                for _ in 0..CALLS {
                    rpc.keep_alive(HandleRequest { handle: id.clone() }).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rate = (CALLERS * CALLS) as f64 / start.elapsed().as_secs_f64();
    println!("keep_alive 16 concurrent callers: {rate:>6.0} calls/s  (target >= 20000 on 2 cores)");
}

/// Sorted latencies of 20k calls and their total time.
async fn unary_latency(mut rpc: PolaroidClient<Channel>, handle: &str, name: &str) -> (Vec<Duration>, Duration) {
    let calls = 20_000;
    let mut lat = Vec::with_capacity(calls);
    let start = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        if name == "keep_alive" {
            rpc.keep_alive(HandleRequest { handle: handle.to_string() }).await.unwrap();
        } else {
            rpc.schema(HandleRequest { handle: handle.to_string() }).await.unwrap();
        }
        lat.push(t.elapsed());
    }
    let total = start.elapsed();
    lat.sort();
    (lat, total)
}

/// The ten steps, on any LazyFrame (in-process, or shipped whole).
fn ten_steps(trades: LazyFrame, symbols: LazyFrame) -> LazyFrame {
    trades
        .filter(col("size").gt(lit(10)))
        .with_columns([(col("price") * col("size")).alias("notional")])
        .filter(col("price").gt(lit(100.5)))
        .with_columns([(col("symbol_id") % lit(10)).alias("bucket")])
        .join(symbols, [col("symbol_id")], [col("symbol_id")], JoinArgs::new(JoinType::Inner))
        .select([col("sector"), col("bucket"), col("notional"), col("size")])
        .group_by([col("sector"), col("bucket")])
        .agg([col("notional").sum(), col("size").sum()])
        .with_columns([(col("notional") / col("size")).alias("vwap")])
        .sort(["sector", "bucket"], Default::default())
        .slice(0, 50)
}

/// The same ten steps as ten RPCs, each making a handle.
async fn ten_rpcs(trades: &RemoteFrame, symbols: &RemoteFrame) -> RemoteFrame {
    trades
        .filter(col("size").gt(lit(10))).await.unwrap()
        .with_columns([(col("price") * col("size")).alias("notional")]).await.unwrap()
        .filter(col("price").gt(lit(100.5))).await.unwrap()
        .with_columns([(col("symbol_id") % lit(10)).alias("bucket")]).await.unwrap()
        .join(symbols, &["symbol_id"], &["symbol_id"], JoinArgs::new(JoinType::Inner)).await.unwrap()
        .select([col("sector"), col("bucket"), col("notional"), col("size")]).await.unwrap()
        .group_by([col("sector"), col("bucket")])
        .agg([col("notional").sum(), col("size").sum()]).await.unwrap()
        .with_columns([(col("notional") / col("size")).alias("vwap")]).await.unwrap()
        .sort(["sector", "bucket"], Default::default()).await.unwrap()
        .slice(0, 50).await.unwrap()
}

/// 4. Per-op RPCs against one Plan RPC, for a 10-step pipeline over 10k rows
/// (small, so the calls are what is measured), each ending in a Fetch.
async fn pipeline_latency(client: &Client, symbols: DataFrame, remote_symbols: &RemoteFrame) {
    const RUNS: usize = 41;
    let n = 10_000;
    println!("== a 10-step pipeline over {n} rows: per-op RPCs vs one Plan RPC ==");
    let trades = ticks(n);
    let remote_trades = client.upload_named(&trades, "ticks-small").await.unwrap();
    let per_op_client = client.clone().with_shipping(Shipping::Expressions);
    let per_op_trades = per_op_client.upload_named(&trades, "ticks-small").await.unwrap();
    let (mut local, mut per_op, mut shipped) = (Vec::new(), Vec::new(), Vec::new());
    let expected = ten_steps(trades.clone().lazy(), symbols.clone().lazy()).collect().unwrap();
    for _ in 0..RUNS {
        let start = Instant::now();
        let df = ten_steps(trades.clone().lazy(), symbols.clone().lazy()).collect().unwrap();
        local.push(start.elapsed());
        assert_eq!(df.height(), expected.height());

        let start = Instant::now();
        let df = ten_rpcs(&per_op_trades, remote_symbols).await.fetch().await.unwrap();
        per_op.push(start.elapsed());
        assert!(df.column("size").unwrap().equals(expected.column("size").unwrap()), "per-op result differs");

        let start = Instant::now();
        let df = client.remote(ten_steps(remote_trades.lazy(), remote_symbols.lazy())).collect().await.unwrap();
        shipped.push(start.elapsed());
        assert!(df.column("size").unwrap().equals(expected.column("size").unwrap()), "shipped result differs");
    }
    let (l, o, s) = (median(local), median(per_op), median(shipped));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("in-process                   {:>8.2} ms (median of {RUNS})", ms(l));
    println!("10 RPCs + Fetch (per-op)     {:>8.2} ms", ms(o));
    println!("1 Plan RPC + Fetch (shipped) {:>8.2} ms", ms(s));
    println!("ratio per-op / shipped       {:>8.2}x", o.as_secs_f64() / s.as_secs_f64());
    println!("ratio shipped / in-process   {:>8.2}x\n", s.as_secs_f64() / l.as_secs_f64());
    remote_trades.drop().await.unwrap();
    per_op_trades.drop().await.unwrap();
}

/// 5. Live bars: ticks appended to a table in batches of 10k (100 symbols,
/// 20 ms apart, so each batch spans 200 s), bars delivered by SubscribeBars,
/// against the batch kernel over the same ticks; then the latency from an
/// append that closes one bar to that bar in the client.
async fn live_bars(client: &Client, core: &std::sync::Arc<Core>) {
    const BATCH: usize = 10_000;
    let ns = Namespace::anonymous();
    let name = format!("live_bench_{}", std::process::id());
    let columns = [("symbol", "SYMBOL"), ("ts", "TIMESTAMP"), ("price", "DOUBLE"), ("size", "DOUBLE")];
    let def = TableDef::new(&name, &columns, Some("ts"), PartitionBy::Day);
    core.tables().create(&ns, def, false).unwrap();
    let n = (rows() / 10).max(BATCH);
    let symbols: Vec<String> = (0..100).map(|i| format!("S{i:02}")).collect();
    let batches: Vec<DataFrame> = (0..n / BATCH)
        .map(|b| {
            let range = b * BATCH..(b + 1) * BATCH;
            df! {
                "symbol" => range.clone().map(|i| symbols[i % 100].as_str()).collect::<Vec<_>>(),
                "ts" => range.clone().map(|i| 1_764_576_000_000_000i64 + i as i64 * 20_000).collect::<Vec<_>>(),
                "price" => range.clone().map(|i| 100.0 + (i % 997) as f64 / 10.0).collect::<Vec<_>>(),
                "size" => range.map(|i| (1 + i % 9) as f64).collect::<Vec<_>>(),
            }
            .unwrap()
            .lazy()
            .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
            .collect()
            .unwrap()
        })
        .collect();
    let options = OhlcvOptions::every("1m").unwrap();
    println!("== live bars: {} ticks appended in batches of {BATCH}, 1-minute bars of 100 symbols ==", batches.len() * BATCH);

    // Batch kernel over the same ticks, in this process.
    let all = {
        let mut all = batches[0].clone();
        for b in &batches[1..] {
            all.vstack_mut(b).unwrap();
        }
        all
    };
    let start = Instant::now();
    let expected = (&all).ohlcv(&options).unwrap();
    let local = start.elapsed();

    // The appends alone, into a table nobody subscribes to: the floor.
    let quiet = format!("{name}_quiet");
    let quiet_def = TableDef { name: quiet.clone(), ..core.tables().get(&ns, &name).unwrap().unwrap().def() };
    core.tables().create(&ns, quiet_def, false).unwrap();
    let appending = {
        let (core, ns, quiet, batches) = (core.clone(), ns.clone(), quiet.clone(), batches.clone());
        tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            for b in batches {
                core.tables().append(&ns, &quiet, b, None).unwrap();
            }
            start.elapsed()
        })
        .await
        .unwrap()
    };
    core.tables().drop(&ns, &quiet, false).unwrap();

    let mut stream = client.subscribe_bars(&name, &options, None, None).await.unwrap();
    let start = Instant::now();
    let writer = {
        let (core, ns, name, batches) = (core.clone(), ns.clone(), name.clone(), batches.clone());
        tokio::task::spawn_blocking(move || {
            for b in batches {
                core.tables().append(&ns, &name, b, None).unwrap();
            }
        })
    };
    // Every bar but those of the last, still open, minute.
    let closed = expected.clone().lazy().filter(col("ts").lt(col("ts").max())).collect().unwrap().height();
    let mut got = 0;
    while got < closed {
        got += stream.next().await.unwrap().unwrap().height();
    }
    let live = start.elapsed();
    writer.await.unwrap();
    println!(
        "{got} bars as the appends landed: {:>8.1} ms  (the {} appends alone {:>6.1} ms: ratio {:.2}x; \
         batch kernel over all ticks in-process {:>6.1} ms)",
        live.as_secs_f64() * 1e3,
        batches.len(),
        appending.as_secs_f64() * 1e3,
        live.as_secs_f64() / appending.as_secs_f64(),
        local.as_secs_f64() * 1e3,
    );

    // Latency: one tick per symbol-minute; the next minute's first tick closes it.
    let (mut waits, mut appends) = (Vec::new(), Vec::new());
    let mut minute = (batches.len() * BATCH) as i64 * 20_000 / 60_000_000 + 2;
    for _ in 0..200 {
        minute += 1;
        let tick = df! { "symbol" => ["S00"], "ts" => [1_764_576_000_000_000i64 + minute * 60_000_000], "price" => [1.0], "size" => [1.0] }
            .unwrap()
            .lazy()
            .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
            .collect()
            .unwrap();
        let start = Instant::now();
        core.tables().append(&ns, &name, tick, None).unwrap();
        appends.push(start.elapsed());
        let frame = stream.next().await.unwrap().unwrap();
        waits.push(start.elapsed());
        assert!(frame.height() >= 1);
    }
    waits.sort();
    appends.sort();
    println!(
        "append that closes a bar -> bar in the client: p50 {:>6.0} us  p99 {:>6.0} us  (the durable append alone: p50 {:>6.0} us)",
        percentile(&waits, 0.5).as_secs_f64() * 1e6,
        percentile(&waits, 0.99).as_secs_f64() * 1e6,
        percentile(&appends, 0.5).as_secs_f64() * 1e6,
    );
    core.tables().drop(&ns, &name, false).unwrap();
}
