//! Entry points for the fuzz driver (`polaroid-fuzz`, `make fuzz`); not an
//! API. Each target takes arbitrary bytes, must return (Ok or a clean
//! error) and must never panic, hang or allocate without bound.

use bytes::Bytes;
use polars::prelude::*;
use prost::Message;

use crate::proto;

/// Bytes as a `polaroid.v1.Expr`, translated to polars and resolved
/// against a small schema, as Filter/Select/WithColumns do.
pub fn expr(bytes: &[u8]) -> Result<(), String> {
    let e = proto::Expr::decode(bytes).map_err(|e| e.to_string())?;
    let e = crate::decode::expr::expr(&e, "expr").map_err(|e| e.to_string())?;
    let mut lf = ticks().lazy().select([e]);
    lf.collect_schema().map(|_| ()).map_err(|e| e.to_string())
}

/// Bytes as an uploaded Arrow IPC stream (in two chunks), checked against a
/// 64 MiB budget and then decoded, as Upload and DoPut do.
pub fn upload(bytes: &[u8]) -> Result<(), String> {
    let cut = bytes.len() / 2;
    let chunks = vec![Bytes::copy_from_slice(&bytes[..cut]), Bytes::copy_from_slice(&bytes[cut..])];
    polaroid_core::upload::check_ipc_stream(&chunks, 64 << 20).map_err(|e| e.to_string())?;
    polaroid_core::upload::read_ipc_stream(polaroid_core::upload::ChunkedReader::new(chunks)).map(|_| ()).map_err(|e| e.to_string())
}

/// Bytes as an `OhlcvRequest`, decoded into kernel options and run over a
/// small tick frame whose last tick sits at the edge of i64, as Ohlcv does.
pub fn ohlcv(bytes: &[u8]) -> Result<(), String> {
    use polaroid_timeseries::OhlcvExt;
    let mut req = proto::OhlcvRequest::decode(bytes).map_err(|e| e.to_string())?;
    // Seeds ask for timestamps at the limits of the type with by = ["edge"].
    let edge = req.by == ["edge"];
    if edge {
        req.by.clear();
    }
    let (options, _) = crate::decode::timeseries::ohlcv_options(&req).map_err(|e| e.to_string())?;
    let mut frame = ticks();
    if edge {
        frame = frame.lazy().with_column((col("ts").cast(DataType::Int64) + lit(i64::MAX - 10)).cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("ts")).collect().map_err(|e| e.to_string())?;
    }
    frame.ohlcv(&options).map(|_| ()).map_err(|e| e.to_string())
}

/// Valid inputs for each target, to mutate from.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "expr" => expr_seeds(),
        "upload" => upload_seeds(),
        "ohlcv" => ohlcv_seeds(),
        _ => Vec::new(),
    }
}

/// The fixed tick frame every input runs over, built once.
fn ticks() -> DataFrame {
    static TICKS: std::sync::OnceLock<DataFrame> = std::sync::OnceLock::new();
    TICKS.get_or_init(build_ticks).clone()
}

fn build_ticks() -> DataFrame {
    df!(
        "symbol" => ["A", "A", "B", "A", "B"],
        "ts" => [0i64, 20_000_000, 30_000_000, 70_000_000, 200_000_000],
        "price" => [10.0, 12.0, 50.0, 11.0, 51.0],
        "size" => [1.0, 3.0, 1.0, 2.0, 5.0],
        "flag" => [true, false, true, true, false],
    )
    .and_then(|df| df.lazy().with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None))).collect())
    .expect("a fixed frame")
}

fn expr_seeds() -> Vec<Vec<u8>> {
    let exprs = [
        col("price") * col("size"),
        (col("price") * col("size")).sum() / col("size").sum(),
        col("price").gt(lit(10.0)).and(col("flag")),
        col("symbol").str().contains(lit("A"), false),
        col("price").rolling_mean(RollingOptionsFixedWindow { window_size: 2, ..Default::default() }),
        col("ts").dt().truncate(lit("1m")),
        col("price").cast(DataType::Int32).alias("p"),
        when(col("flag")).then(col("price")).otherwise(lit(0.0)),
        col("price").diff(lit(1), Default::default()).over([col("symbol")]).unwrap_or_else(|_| col("price")),
        col("size").cum_sum(false).shift(lit(1)).fill_null(lit(0.0)),
        col("symbol").is_in(lit(Series::new("s".into(), ["A", "C"])).implode(false), false),
        col("price").round(2, RoundMode::default()).abs().log(lit(2.0)),
    ];
    exprs.iter().filter_map(|e| crate::client::to_proto::expr(e, "seed").ok()).map(|p| p.encode_to_vec()).collect()
}

fn upload_seeds() -> Vec<Vec<u8>> {
    let mut frame = ticks();
    let mut seeds = Vec::new();
    for compression in [None, Some(IpcCompression::LZ4), Some(IpcCompression::ZSTD(Default::default()))] {
        for compat in [CompatLevel::oldest(), CompatLevel::newest()] {
            let mut out = Vec::new();
            let written = IpcStreamWriter::new(&mut out).with_compression(compression).with_compat_level(compat).finish(&mut frame);
            if written.is_ok() {
                seeds.push(out);
            }
        }
    }
    seeds
}

fn ohlcv_seeds() -> Vec<Vec<u8>> {
    let base = proto::OhlcvRequest { handle: String::new(), every: "1m".into(), ..Default::default() };
    let variants = [
        proto::OhlcvRequest { fill: proto::BarFill::Forward as i32, ..base.clone() },
        proto::OhlcvRequest { period: "5m".into(), every: "1m".into(), ..base.clone() },
        proto::OhlcvRequest { every: "1d".into(), time_zone: "America/New_York".into(), ..base.clone() },
        proto::OhlcvRequest { every: "1mo".into(), offset: "2d".into(), by: vec!["edge".into()], ..base.clone() },
        proto::OhlcvRequest { kind: proto::BarKind::Volume as i32, threshold: 3.0, ..base.clone() },
        proto::OhlcvRequest { kind: proto::BarKind::Tick as i32, threshold: 2.0, by: vec!["symbol".into()], ..base.clone() },
        proto::OhlcvRequest { every: "1s".into(), fill: proto::BarFill::Forward as i32, by: vec!["edge".into()], ..base.clone() },
        base,
    ];
    variants.iter().map(|r| r.encode_to_vec()).collect()
}
