//! `distributed=true` end to end on a standalone Ballista cluster: results
//! against polars-sql on the same files (the oracle), tables and handles as
//! sources, and every refusal with its code.

mod oracle;
mod refusals;
mod spill;

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use polaroid_core::{Core, CoreConfig, Namespace};
use polaroid_distributed::{BallistaEngine, Cluster};
use polars::prelude::*;

/// One runtime for the whole binary: the standalone cluster's scheduler and
/// executor run on it, and live as long as the tests do.
static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());

/// The standalone engine every test shares (started on first use).
static STANDALONE: LazyLock<BallistaEngine> = LazyLock::new(|| BallistaEngine::new(Cluster::Standalone));

pub fn run<F: Future>(future: F) -> F::Output {
    RUNTIME.block_on(future)
}

/// A core over a fresh data directory holding `trades.parquet` (20k
/// trades, 7 symbols) and `sectors.csv`, with the standalone engine.
pub struct Fixture {
    pub core: Arc<Core>,
    pub dir: tempfile::TempDir,
    pub ns: Namespace,
}

pub fn fixture() -> Fixture {
    fixture_on(STANDALONE.clone())
}

pub fn fixture_on(engine: BallistaEngine) -> Fixture {
    fixture_with(engine, CoreConfig::default().memory_limit)
}

/// A fixture whose caller may hold `memory_limit` bytes of frames.
pub fn fixture_with(engine: BallistaEngine, memory_limit: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    let config = CoreConfig { data_dir: dir.path().to_path_buf(), memory_limit, ..CoreConfig::default() };
    let core = Core::new(config).unwrap();
    core.set_distributed(Arc::new(engine)).unwrap();
    Fixture { core, dir, ns: Namespace::anonymous() }
}

pub const SYMBOLS: [&str; 7] = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "TSLA", "GOOG"];

/// Trades whose values follow from the row number: every aggregate has
/// one right answer, which polars computes independently.
pub fn trades(rows: usize) -> DataFrame {
    let n = rows as i64;
    let sym: Vec<&str> = (0..rows).map(|i| SYMBOLS[(i * 5 + i / 3) % SYMBOLS.len()]).collect();
    let ts: Vec<i64> = (0..n).map(|i| 1_700_000_000_000_000_000 + i * 1_000_003).collect();
    let price: Vec<f64> = (0..n).map(|i| 100.0 + ((i * 37) % 1000) as f64 / 8.0).collect();
    let size: Vec<i64> = (0..n).map(|i| 1 + (i * 13) % 97).collect();
    df!("sym" => sym, "ts" => ts, "price" => price, "size" => size)
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Nanoseconds, None)))
        .collect()
        .unwrap()
}

fn write_files(dir: &Path) {
    let mut trades = trades(20_000);
    let file = std::fs::File::create(dir.join("trades.parquet")).unwrap();
    // Several row groups, so executors split the scan.
    ParquetWriter::new(file).with_row_group_size(Some(4_096)).finish(&mut trades).unwrap();
    let sectors = "sym,sector\nAAPL,tech\nMSFT,tech\nNVDA,chips\nAMZN,retail\nMETA,ads\nTSLA,autos\nIBM,tech\n";
    std::fs::write(dir.join("sectors.csv"), sectors).unwrap();
}

/// polars-sql over the fixture's files under the names the queries use:
/// the oracle.
pub fn polars_sql(dir: &Path, query: &str) -> DataFrame {
    let mut ctx = polars::sql::SQLContext::new();
    let trades = LazyFrame::scan_parquet(PlRefPath::new(dir.join("trades.parquet").to_string_lossy().as_ref()), Default::default()).unwrap();
    let sectors = LazyCsvReader::new(PlRefPath::new(dir.join("sectors.csv").to_string_lossy().as_ref())).finish().unwrap();
    ctx.register("trades.parquet", trades);
    ctx.register("sectors.csv", sectors);
    ctx.execute(query).unwrap().collect().unwrap()
}

/// The frame a handle holds (a small distributed result is one).
pub fn frame(f: &Fixture, info: &polaroid_core::HandleInfo) -> DataFrame {
    let entry = f.core.handle(&f.ns, info.id).unwrap();
    match entry.payload() {
        polaroid_core::Payload::Frame(df) => df.as_ref().clone(),
        polaroid_core::Payload::Plan(_) => panic!("a small distributed result is a frame"),
    }
}

/// `got` equals `want` value for value: the same columns in the same order,
/// integers compared as i64 (DataFusion counts in i64, polars in u32),
/// floats to six decimals, and rows in order when `ordered`, else as
/// sorted sets.
pub fn assert_same(got: &DataFrame, want: &DataFrame, ordered: bool) {
    assert_eq!(got.get_column_names(), want.get_column_names(), "\n{got}\n{want}");
    assert_eq!(got.height(), want.height(), "\n{got}\n{want}");
    let normalize = |df: &DataFrame| {
        let exprs: Vec<Expr> = df
            .schema()
            .iter()
            .map(|(name, dtype)| {
                let c = col(name.clone());
                if dtype.is_float() {
                    // Prices are multiples of 1/8, so sums are exact in any
                    // order; means divide them once. Six decimals is plenty.
                    c.round(6, RoundMode::HalfToEven)
                } else if dtype.is_integer() {
                    c.cast(DataType::Int64)
                } else if dtype.is_string() || dtype.is_categorical() {
                    c.cast(DataType::String)
                } else {
                    c
                }
                .alias(name.clone())
            })
            .collect();
        let names: Vec<PlSmallStr> = df.get_column_names().into_iter().cloned().collect();
        let lf = df.clone().lazy().select(exprs);
        let lf = if ordered { lf } else { lf.sort(names, SortMultipleOptions::default()) };
        lf.collect().unwrap()
    };
    let (got_n, want_n) = (normalize(got), normalize(want));
    assert!(got_n.equals_missing(&want_n), "distributed:\n{got_n}\npolars-sql:\n{want_n}");
}
