//! `cargo bench -p polaroid-timeseries --bench bars` (part of `make bench`).
//!
//! 1. Kernel vs upstream: 10M ticks x 100 symbols, 1-minute bars, the
//!    single-pass kernel (on the caller's thread, then with its default
//!    kernel threads) against upstream polars
//!    `group_by_dynamic(.., group_by=[symbol])` on the same in-memory frame.
//! 2. End to end: `polaroid bars` on a 10M-tick parquet file against the
//!    same scan -> bars -> parquet written with upstream polars.
//! 3. Bounded memory: `polaroid bars` on a file whose ticks take several
//!    times more memory than the process's peak RSS, printed side by side.
//!
//! Sizes: POLAROID_BENCH_TICKS (10M) and POLAROID_BENCH_BIG_TICKS (80M).
//! Data is generated once into target/bench-data/.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use polaroid_timeseries::{OhlcvExt, OhlcvOptions};
use polars::prelude::*;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Deterministic ticks in time order, symbols interleaved at random.
fn generate(n: usize, symbols: usize, seed: u64) -> DataFrame {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let names: Vec<String> = (0..symbols).map(|i| format!("S{i:03}")).collect();
    let mut ts = Vec::with_capacity(n);
    let mut sym = Vec::with_capacity(n);
    let mut price = Vec::with_capacity(n);
    let mut size = Vec::with_capacity(n);
    let mut t = 1_700_000_000_000_000i64;
    let mut last = vec![100.0f64; symbols];
    for _ in 0..n {
        t += (next() % 4_000) as i64; // ~2 ms apart on average
        let s = (next() % symbols as u64) as usize;
        last[s] = (last[s] + ((next() % 21) as f64 - 10.0) * 0.01).max(1.0);
        ts.push(t);
        sym.push(names[s].as_str());
        price.push(last[s]);
        size.push(1 + (next() % 500) as i64);
    }
    df! { "symbol" => sym, "ts" => ts, "price" => price, "size" => size }
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap()
}

fn upstream_bars(lf: LazyFrame) -> LazyFrame {
    lf.group_by_dynamic(
        col("ts"),
        [col("symbol")],
        DynamicGroupOptions {
            every: Duration::parse("1m"),
            period: Duration::parse("1m"),
            offset: Duration::parse("0s"),
            closed_window: ClosedWindow::Left,
            label: Label::Left,
            include_boundaries: false,
            start_by: StartBy::WindowBound,
            ..Default::default()
        },
    )
    .agg([
        col("price").first().alias("open"),
        col("price").max().alias("high"),
        col("price").min().alias("low"),
        col("price").last().alias("close"),
        col("size").cast(DataType::Float64).sum().alias("volume"),
        ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap"),
        len().alias("trades"),
    ])
    .sort(["symbol", "ts"], SortMultipleOptions::default().with_maintain_order(true))
}

/// Best of `runs` wall times, in seconds, and the last result.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..runs {
        let start = Instant::now();
        out = Some(f());
        best = best.min(start.elapsed().as_secs_f64());
    }
    (best, out.expect("at least one run"))
}

fn data_file(name: &str, n: usize) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{n}-rg256k.parquet"));
    if !path.exists() {
        // Written in slices, so generating the big file needs little memory.
        let tmp = path.with_extension("partial");
        let file = std::fs::File::create(&tmp).unwrap();
        let slice = 5_000_000.min(n);
        let first = generate(slice, 100, 1);
        // Row groups of 256Ki rows, as writers commonly produce: a streaming
        // reader decodes (and holds) whole row groups.
        let mut writer = ParquetWriter::new(file).with_row_group_size(Some(1 << 18)).batched(first.schema()).unwrap();
        writer.write_batch(&first).unwrap();
        let mut offset_us = first.column("ts").unwrap().datetime().unwrap().physical().max().unwrap();
        let mut done = slice;
        let mut seed = 2;
        while done < n {
            let rows = slice.min(n - done);
            let part = generate(rows, 100, seed)
                .lazy()
                .with_column((col("ts").cast(DataType::Int64) + lit(offset_us - 1_700_000_000_000_000)).cast(DataType::Datetime(TimeUnit::Microseconds, None)))
                .collect()
                .unwrap();
            offset_us = part.column("ts").unwrap().datetime().unwrap().physical().max().unwrap();
            writer.write_batch(&part).unwrap();
            done += rows;
            seed += 1;
        }
        writer.finish().unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

fn polaroid_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/polaroid");
    assert!(path.exists(), "build it first: cargo build --release -p polaroid-cli (make bench does)");
    path
}

/// Run `polaroid bars`, returning wall seconds and its peak memory in MiB
/// (anonymous memory: not the page cache of the memory-mapped input).
/// With `limit_mib`, it runs under `ulimit -v` (address space, which also
/// counts the mapped input file and thread stacks).
fn run_cli(input: &Path, output: &Path, limit_mib: Option<usize>) -> (f64, f64) {
    let start = Instant::now();
    let args = ["bars", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap(), "--every", "1m"];
    let out = match limit_mib {
        None => Command::new(polaroid_binary()).args(args).output().unwrap(),
        Some(mib) => Command::new("bash")
            .arg("-c")
            .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", mib * 1024))
            .arg(polaroid_binary())
            .args(args)
            .output()
            .unwrap(),
    };
    let secs = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let peak = stderr
        .split("peak memory ")
        .nth(1)
        .and_then(|rest| rest.split(" MiB").next())
        .and_then(|m| m.trim().parse().ok())
        .unwrap_or(f64::NAN);
    (secs, peak)
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not used here.
    let n = env_usize("POLAROID_BENCH_TICKS", 10_000_000);
    let big = env_usize("POLAROID_BENCH_BIG_TICKS", 80_000_000);
    let options = OhlcvOptions::every("1m").unwrap();

    println!("\n== kernel vs upstream group_by_dynamic: {n} ticks x 100 symbols, 1m bars ==");
    let df = generate(n, 100, 1);
    let inline_options = OhlcvOptions { kernel_threads: Some(0), ..options.clone() };
    let (kernel, ours) = best_of(3, || (&df).ohlcv(&inline_options).unwrap());
    let (threaded, ours_threaded) = best_of(3, || (&df).ohlcv(&options).unwrap());
    let (upstream, theirs) = best_of(3, || upstream_bars(df.clone().lazy()).collect().unwrap());
    assert_eq!(ours.height(), theirs.height(), "the two disagree on the number of bars");
    assert!(ours.column("close").unwrap().equals(theirs.column("close").unwrap()), "closes differ");
    assert!(ours.equals_missing(&ours_threaded), "kernel threads changed the bars");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{:<44} {:>9} {:>14}", "", "best s", "Mticks/s");
    println!("{:<44} {:>9.3} {:>14.1}", "polaroid kernel (caller's thread)", kernel, n as f64 / kernel / 1e6);
    println!(
        "{:<44} {:>9.3} {:>14.1}",
        format!("polaroid kernel (default threads, {cores} cores)"),
        threaded,
        n as f64 / threaded / 1e6
    );
    println!("{:<44} {:>9.3} {:>14.1}", "upstream group_by_dynamic(group_by=symbol)", upstream, n as f64 / upstream / 1e6);
    println!(
        "speedup: {:.1}x (target >= 10x); kernel {:.0}M ticks/s (target >= 50M); threads {:.2}x the caller's thread",
        upstream / threaded.min(kernel),
        n as f64 / kernel / 1e6,
        kernel / threaded
    );
    drop(df);

    println!("\n== end to end on parquet: {n} ticks ==");
    let input = data_file("ticks", n);
    let dir = tempfile::tempdir().unwrap();
    let (cli, _) = best_of(3, || run_cli(&input, &dir.path().join("bars.parquet"), None));
    let (up, _) = best_of(3, || {
        let scan = LazyFrame::scan_parquet(PlRefPath::new(input.to_string_lossy().as_ref()), Default::default()).unwrap();
        let mut bars = upstream_bars(scan).collect().unwrap();
        ParquetWriter::new(std::fs::File::create(dir.path().join("upstream.parquet")).unwrap()).finish(&mut bars).unwrap();
    });
    println!("{:<44} {:>9.3}", "polaroid bars (release binary)", cli);
    println!("{:<44} {:>9.3}", "upstream polars scan + group_by_dynamic + write", up);
    println!("speedup: {:.1}x", up / cli);

    println!("\n== bounded memory: {big} ticks ==");
    let input = data_file("ticks", big);
    let in_memory_mib = (big * (8 + 8 + 8 + 16)) as f64 / (1 << 20) as f64;
    // Allowed: 2 GiB of address space, for ticks that take ~3 GiB (80M).
    let limit = 2048;
    let (secs, peak) = run_cli(&input, &dir.path().join("big.parquet"), Some(limit));
    println!(
        "polaroid bars under ulimit -v {limit} MiB: {secs:.2}s, peak memory {peak:.0} MiB; \
         the ticks take ~{in_memory_mib:.0} MiB in memory ({:.1}x the limit, {:.1}x the peak)",
        in_memory_mib / limit as f64,
        in_memory_mib / peak
    );
}
