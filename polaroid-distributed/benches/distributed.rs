//! One aggregation over 10M rows of parquet, three ways, in one run:
//! polars in this process (the baseline), Ballista standalone (scheduler
//! and executor in this process), and a Ballista cluster of one scheduler
//! and two executor processes on loopback. Each result is checked against
//! polars' before its time counts; the median of the runs is printed with
//! its ratio to polars.
//!
//! `make bench-distributed` builds Ballista's binaries in release
//! (target/release/ballista-{scheduler,executor}, or BALLISTA_SCHEDULER /
//! BALLISTA_EXECUTOR) and runs this; `make bench` runs it with the rest.
//! POLAROID_BENCH_ROWS (10M) and POLAROID_BENCH_RUNS (5) adjust it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use polaroid_core::distributed::{FileKind, FileTable};
use polaroid_distributed::{BallistaEngine, Cluster};
use polars::prelude::*;

const QUERY: &str = "SELECT sym, COUNT(*) AS n, SUM(size) AS volume, AVG(price) AS mean, \
                     MIN(price) AS low, MAX(price) AS high FROM \"ticks.parquet\" GROUP BY sym";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// 10M ticks over 100 symbols, written once (1M-row groups: executors
/// split the scan by row group).
fn ticks_file(rows: usize) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data/distributed");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    let path = dir.join(format!("ticks-{rows}.parquet"));
    if !path.exists() {
        let n = rows as i64;
        let mut df = df!(
            "sym" => (0..n).map(|i| format!("S{:03}", (i * 7 + i / 1000) % 100)).collect::<Vec<_>>(),
            "ts" => (0..n).map(|i| 1_700_000_000_000_000 + i * 1_000).collect::<Vec<_>>(),
            "price" => (0..n).map(|i| 100.0 + ((i * 37) % 10_000) as f64 / 8.0).collect::<Vec<_>>(),
            "size" => (0..n).map(|i| 1 + (i * 13) % 997).collect::<Vec<_>>(),
        )
        .unwrap();
        let tmp = path.with_extension("tmp");
        let file = std::fs::File::create(&tmp).unwrap();
        ParquetWriter::new(file).with_row_group_size(Some(1 << 20)).finish(&mut df).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// Sorted by symbol, integers as i64, floats to six decimals.
fn normalized(df: DataFrame) -> DataFrame {
    let exprs: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(name, dtype)| {
            let c = col(name.clone());
            let c = if dtype.is_float() {
                c.round(6, RoundMode::HalfToEven)
            } else if dtype.is_integer() {
                c.cast(DataType::Int64)
            } else {
                c.cast(DataType::String)
            };
            c.alias(name.clone())
        })
        .collect();
    df.lazy().select(exprs).sort(["sym"], Default::default()).collect().unwrap()
}

fn polars_run(path: &Path) -> DataFrame {
    let mut ctx = polars::sql::SQLContext::new();
    let scan = LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), Default::default()).unwrap();
    ctx.register("ticks.parquet", scan);
    ctx.execute(QUERY).unwrap().collect().unwrap()
}

fn ballista_run(rt: &tokio::runtime::Runtime, engine: &BallistaEngine, path: &Path) -> DataFrame {
    rt.block_on(async {
        let table =
            FileTable { name: "ticks.parquet".into(), kind: FileKind::Parquet, files: vec![path.to_path_buf()], schema: None };
        let mut batches = engine.run(QUERY, vec![table]).await.unwrap();
        let mut out: Option<DataFrame> = None;
        while let Some(batch) = batches.recv().await {
            let batch = batch.unwrap();
            match out.as_mut() {
                None => out = Some(batch),
                Some(df) => {
                    df.vstack_mut_owned(batch).unwrap();
                },
            }
        }
        out.unwrap()
    })
}

/// The median of `runs` timed calls, after one warm-up whose result must
/// equal `want`.
fn measure(runs: usize, want: &DataFrame, mut f: impl FnMut() -> DataFrame) -> Duration {
    let got = normalized(f());
    assert!(got.equals_missing(want), "a result differs from polars':\n{got}\n{want}");
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and two executors (one vcore each: two cores in all).
struct LocalCluster {
    port: u16,
    children: Vec<Child>,
    _work: tempfile::TempDir,
}

impl LocalCluster {
    fn start() -> Self {
        let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release");
        let binary = |var: &str, name: &str| std::env::var(var).map(PathBuf::from).unwrap_or_else(|_| release.join(name));
        let (scheduler, executor) =
            (binary("BALLISTA_SCHEDULER", "ballista-scheduler"), binary("BALLISTA_EXECUTOR", "ballista-executor"));
        for binary in [&scheduler, &executor] {
            assert!(binary.exists(), "{} is missing: run `make bench-distributed`", binary.display());
        }
        let work = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut children = vec![Command::new(&scheduler)
            .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1", "--bind-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()];
        wait_port(port, "ballista-scheduler");
        for i in 0..2 {
            let (flight, grpc, health) = (free_port(), free_port(), free_port());
            let dir = work.path().join(format!("executor-{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            children.push(
                Command::new(&executor)
                    .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1"])
                    .args(["--bind-port", &flight.to_string(), "--bind-grpc-port", &grpc.to_string()])
                    .args(["--bind-health-port", &health.to_string(), "--vcores", "1"])
                    .args(["--scheduler-host", "127.0.0.1", "--scheduler-port", &port.to_string()])
                    .arg("--work-dir")
                    .arg(&dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            wait_port(flight, "ballista-executor");
        }
        // Executors register with their first heartbeat.
        std::thread::sleep(Duration::from_secs(2));
        Self { port, children, _work: work }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn main() {
    // `cargo bench <filter>`: a filter that does not name us skips us.
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"distributed".contains(a.as_str())) {
        return;
    }
    let rows = env_usize("POLAROID_BENCH_ROWS", 10_000_000);
    let runs = env_usize("POLAROID_BENCH_RUNS", 5);
    let path = ticks_file(rows);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let want = normalized(polars_run(&path));

    let polars = measure(runs, &want, || polars_run(&path));
    let standalone_engine = BallistaEngine::new(Cluster::Standalone);
    let standalone = measure(runs, &want, || ballista_run(&rt, &standalone_engine, &path));
    let cluster = LocalCluster::start();
    let remote = BallistaEngine::new(Cluster::parse(&format!("df://127.0.0.1:{}", cluster.port)).unwrap());
    let two = measure(runs, &want, || ballista_run(&rt, &remote, &path));
    drop(cluster);

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mib = std::fs::metadata(&path).unwrap().len() >> 20;
    println!("\ndistributed: {QUERY}");
    println!("  {rows} rows of parquet ({mib} MiB, {} groups), median of {runs} runs, {cores} cores", want.height());
    println!("  {:<34} {:>10} {:>18}", "engine", "time", "ratio to polars");
    let rows_of = [
        ("polars in-process", polars),
        ("ballista standalone (in-process)", standalone),
        ("ballista, 2 executor processes", two),
    ];
    for (name, t) in rows_of {
        println!("  {name:<34} {:>8.1}ms {:>17.2}x", t.as_secs_f64() * 1e3, t.as_secs_f64() / polars.as_secs_f64());
    }
}
