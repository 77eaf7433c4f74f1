//! Load test: many clients running whole pipelines against a real
//! `polaroid-server` process, in two waves.
//!
//! 64 concurrent clients each run 20 pipelines (scan, filter, group_by,
//! fetch, drop). Every result must equal the same query run in-process with
//! polars; afterwards the server's handle count must be back to its
//! baseline, and its resident memory after the second wave must be about
//! what it was after the first (no leak per request). It prints the figures
//! and exits non-zero when any check fails.
//!
//! Run with `make load` (release build). POLAROID_SERVER names the server
//! binary (default target/release/polaroid-server); POLAROID_LOAD_CLIENTS
//! and POLAROID_LOAD_PIPELINES override 64 and 20.

use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use polaroid_grpc::client::{Client, ClientError};
use polaroid_grpc::proto::StatsRequest;
use polars::prelude::*;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The pipeline every client runs, as polars expressions.
fn per_symbol_vwap(lf: LazyFrame) -> LazyFrame {
    lf.filter(col("size").gt_eq(lit(100)))
        .group_by([col("symbol")])
        .agg([len().alias("trades"), ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap")])
        .sort(["symbol"], SortMultipleOptions::default())
}

async fn pipeline(client: &Client) -> Result<DataFrame, ClientError> {
    let scan = client.scan_parquet("trades.parquet").await?;
    let filtered = scan.filter(col("size").gt_eq(lit(100))).await?;
    let grouped = filtered
        .group_by([col("symbol")])
        .agg([len().alias("trades"), ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap")])
        .await?;
    let sorted = grouped.sort(["symbol"], SortMultipleOptions::default()).await?;
    let out = sorted.fetch().await?;
    for handle in [scan, filtered, grouped, sorted] {
        handle.drop().await?;
    }
    Ok(out)
}

fn same(a: &DataFrame, b: &DataFrame) -> bool {
    let (Ok(va), Ok(vb)) = (a.column("vwap").and_then(|c| c.f64().cloned()), b.column("vwap").and_then(|c| c.f64().cloned()))
    else {
        return false;
    };
    a.column("symbol").ok() == b.column("symbol").ok()
        && a.column("trades").ok() == b.column("trades").ok()
        && va.iter().zip(vb.iter()).all(|(x, y)| matches!((x, y), (Some(x), Some(y)) if (x - y).abs() <= 1e-9 * x.abs().max(1.0)))
}

/// Resident memory of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wave(url: &str, clients: usize, pipelines: usize, expected: &DataFrame) -> (usize, usize, Duration) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (url, expected) = (url.to_string(), expected.clone());
            tokio::spawn(async move {
                let client = match Client::connect(url).await {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("connect: {e}");
                        return (0, pipelines);
                    },
                };
                let (mut ok, mut failed) = (0, 0);
                for _ in 0..pipelines {
                    match pipeline(&client).await {
                        Ok(df) if same(&df, &expected) => ok += 1,
                        Ok(df) => {
                            eprintln!("wrong result:\n{df}");
                            failed += 1
                        },
                        Err(e) => {
                            eprintln!("pipeline failed: {e}");
                            failed += 1
                        },
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (o, f) = t.await.unwrap_or((0, pipelines));
        ok += o;
        failed += f;
    }
    (ok, failed, started.elapsed())
}

#[tokio::main]
async fn main() -> ExitCode {
    let clients = env_or("POLAROID_LOAD_CLIENTS", 64);
    let pipelines = env_or("POLAROID_LOAD_PIPELINES", 20);
    // cargo runs benches from the package directory: paths are the workspace's.
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = workspace.join(std::env::var("POLAROID_SERVER").unwrap_or_else(|_| "target/release/polaroid-server".into()));
    let binary = binary.display().to_string();
    let data = tempfile::tempdir().unwrap();
    polaroid_grpc::sample::ensure(data.path()).unwrap();
    let expected = per_symbol_vwap(
        LazyFrame::scan_parquet(PlRefPath::new(data.path().join("trades.parquet").to_string_lossy().as_ref()), Default::default())
            .unwrap(),
    )
    .collect()
    .unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(&binary)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--http-listen", "off", "--ilp-listen", "off", "--pg-listen", "off", "--data-dir"])
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let server = Server(child);
    let pid = server.0.id();
    let url = format!("http://127.0.0.1:{port}");
    let probe = loop {
        match Client::connect(url.clone()).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let stats = |c: Client| async move { c.raw().stats(StatsRequest {}).await.map(|r| r.into_inner()) };
    let baseline = stats(probe.clone()).await.unwrap().handles;
    let rss_start = rss_mib(pid);

    let mut failures = Vec::new();
    let mut rss_after = Vec::new();
    for n in 1..=2 {
        let (ok, failed, took) = wave(&url, clients, pipelines, &expected).await;
        let handles = stats(probe.clone()).await.unwrap().handles;
        let rss = rss_mib(pid);
        rss_after.push(rss);
        println!(
            "wave {n}: {ok} pipelines ok, {failed} failed, in {took:.1?} ({:.0} pipelines/s); handles {handles} (baseline {baseline}); server RSS {rss:.0} MiB",
            ok as f64 / took.as_secs_f64()
        );
        if failed > 0 {
            failures.push(format!("wave {n}: {failed} pipelines failed"));
        }
        if handles != baseline {
            failures.push(format!("wave {n}: {handles} handles left, baseline {baseline}"));
        }
    }
    let growth = rss_after[1] - rss_after[0];
    println!(
        "server RSS: {rss_start:.0} MiB at start, {:.0} after wave 1, {:.0} after wave 2 ({growth:+.0} MiB, {:.2}x)",
        rss_after[0],
        rss_after[1],
        rss_after[1] / rss_after[0].max(1.0)
    );
    // Flat: the second wave may not keep more than a tenth more, or 32 MiB.
    if growth > (0.1 * rss_after[0]).max(32.0) {
        failures.push(format!("server RSS grew {growth:.0} MiB between the waves"));
    }
    drop(server);
    if failures.is_empty() {
        println!("load: ok");
        ExitCode::SUCCESS
    } else {
        println!("load: FAILED: {}", failures.join("; "));
        ExitCode::FAILURE
    }
}
