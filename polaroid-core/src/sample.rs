//! A small, realistic sample dataset: one trading day of trades and quotes
//! for a handful of symbols, so a fresh server can be queried at once.

use std::path::Path;

use polars::prelude::*;

/// (symbol, opening price, trades in the day)
const SYMBOLS: [(&str, f64, usize); 5] =
    [("AAPL", 189.5, 24_000), ("MSFT", 402.0, 20_000), ("NVDA", 131.2, 30_000), ("AMZN", 178.3, 16_000), ("TSLA", 242.7, 22_000)];

/// 2026-11-23 14:30:00 UTC (09:30 New York), in nanoseconds.
const OPEN_NS: i64 = 1_795_444_200_000_000_000;
/// 6.5 hours of trading.
const SESSION_NS: i64 = 23_400_000_000_000;

/// A small deterministic generator (xorshift64*): the sample is the same on
/// every machine, so examples in the docs give the same answers.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Trades: `ts` (datetime[ns, UTC]), `symbol`, `price`, `size`; sorted by ts.
/// Quotes: `ts`, `symbol`, `bid`, `ask`, `bid_size`, `ask_size`; sorted by ts.
pub fn generate() -> PolarsResult<(DataFrame, DataFrame)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut t_ts, mut t_sym, mut t_px, mut t_sz) = (vec![], vec![], vec![], vec![]);
    let (mut q_ts, mut q_sym, mut q_bid, mut q_ask, mut q_bsz, mut q_asz) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (symbol, open, n) in SYMBOLS {
        let mut mid = open;
        let step = SESSION_NS / n as i64;
        for i in 0..n as i64 {
            let ts = OPEN_NS + i * step + (rng.unit() * step as f64) as i64;
            mid *= 1.0 + (rng.unit() - 0.5) * 0.0008;
            let spread = (mid * 0.0002).max(0.01);
            let bid = ((mid - spread / 2.0) * 100.0).round() / 100.0;
            let ask = ((mid + spread / 2.0) * 100.0).round() / 100.0;
            q_ts.push(ts);
            q_sym.push(symbol);
            q_bid.push(bid);
            q_ask.push(ask);
            q_bsz.push(100 * (1 + (rng.next_u64() % 20) as i64));
            q_asz.push(100 * (1 + (rng.next_u64() % 20) as i64));
            // Trades hit the bid or lift the ask, a little after the quote.
            let price = if rng.unit() < 0.5 { bid } else { ask };
            t_ts.push(ts + 1_000 + (rng.next_u64() % 50_000) as i64);
            t_sym.push(symbol);
            t_px.push(price);
            t_sz.push(1 + (rng.unit().powi(3) * 2_000.0) as i64);
        }
    }
    let datetime = DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC));
    let trades = df!(
        "ts" => t_ts, "symbol" => t_sym, "price" => t_px, "size" => t_sz,
    )?
    .lazy()
    .with_column(col("ts").cast(datetime.clone()))
    .sort(["ts"], SortMultipleOptions::default().with_maintain_order(true))
    .collect()?;
    let quotes = df!(
        "ts" => q_ts, "symbol" => q_sym, "bid" => q_bid, "ask" => q_ask,
        "bid_size" => q_bsz, "ask_size" => q_asz,
    )?
    .lazy()
    .with_column(col("ts").cast(datetime))
    .sort(["ts"], SortMultipleOptions::default().with_maintain_order(true))
    .collect()?;
    Ok((trades, quotes))
}

/// Write `trades.parquet` and `quotes.parquet` into `dir` unless they exist.
/// Returns the files written.
pub fn ensure(dir: &Path) -> PolarsResult<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let (trades_path, quotes_path) = (dir.join("trades.parquet"), dir.join("quotes.parquet"));
    if trades_path.exists() && quotes_path.exists() {
        return Ok(vec![]);
    }
    let (mut trades, mut quotes) = generate()?;
    let mut written = vec![];
    for (path, df) in [(trades_path, &mut trades), (quotes_path, &mut quotes)] {
        if path.exists() {
            continue;
        }
        // Write then rename, so a crash never leaves half a file behind.
        let tmp = path.with_extension("parquet.tmp");
        ParquetWriter::new(std::fs::File::create(&tmp)?).finish(df)?;
        std::fs::rename(&tmp, &path)?;
        written.push(path);
    }
    Ok(written)
}
