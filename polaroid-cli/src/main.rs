//! `polaroid`: Polaroid's local command line. `polaroid bars` turns a tick
//! file into OHLCV bars with the same kernel the server uses, streaming the
//! input so files larger than memory work.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use polaroid_timeseries::{parse_duration, stream_ohlcv, BarKind, Fill, OhlcvOptions, StreamProgress};
use polars::prelude::*;

// jemalloc with a single arena. polars decodes the input's column buffers on
// its own threads and the bars are binned on another, which frees them; most
// of this command's system time is first touches of fresh pages. With one
// arena, a buffer freed by any thread is what the next allocation of any
// thread gets, so the pages touched stay nearer the live peak. mimalloc (the
// server's allocator) and glibc give a freed block back to the thread (or
// arena) that allocated it: 10M ticks on 2 cores faulted ~24k pages under
// mimalloc against ~18k here, with 15 % less system time; wall time moved
// within noise (README, performance).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main`; `_RJEM_MALLOC_CONF` in the
/// environment overrides them. One arena, as above, and freed pages kept:
/// by default jemalloc hands them back little by little over 10 s, and a
/// 1 s run of 40M ticks faulted ~42k pages against ~20k kept. The heap's
/// peak is the reader's bounded read-ahead, not the input's size.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 28] = b"narenas:1,dirty_decay_ms:-1\0";

#[derive(Parser)]
#[command(name = "polaroid", version, about = "Polaroid's local tools for tick data")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// OHLCV bars from a tick file (parquet, csv or ipc, by extension).
    Bars(BarsArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Time,
    Tick,
    Volume,
    Dollar,
}

#[derive(Clone, Copy, ValueEnum)]
enum FillArg {
    None,
    Forward,
}

#[derive(Parser)]
struct BarsArgs {
    /// Tick file: .parquet, .csv or .ipc/.arrow/.feather.
    #[arg(long)]
    input: PathBuf,
    /// Bar file to write, format by extension; written whole or not at all.
    #[arg(long)]
    output: PathBuf,
    /// Time-bar interval in Polars syntax (1s, 1m, 5m, 1h, 1d).
    #[arg(long, default_value = "1m")]
    every: String,
    /// Shift of the interval grid from the epoch.
    #[arg(long, default_value = "0s")]
    offset: String,
    /// Interval length, if not `every` (overlapping or gapped bars).
    #[arg(long)]
    period: Option<String>,
    /// Zone whose calendar aligns day and longer bars (e.g. America/New_York).
    #[arg(long)]
    time_zone: Option<String>,
    /// Series key columns, comma-separated; an empty value for one series.
    #[arg(long, default_value = "symbol", value_delimiter = ',')]
    by: Vec<String>,
    #[arg(long, default_value = "ts")]
    time: String,
    #[arg(long, default_value = "price")]
    price: String,
    #[arg(long, default_value = "size")]
    size: String,
    /// Emit intervals without trades, carrying the close forward.
    #[arg(long, value_enum, default_value = "none")]
    fill: FillArg,
    /// Time bars, or bars of every N trades / V volume / D price×size.
    #[arg(long, value_enum, default_value = "time")]
    kind: KindArg,
    /// The N, V or D of tick, volume and dollar bars.
    #[arg(long)]
    threshold: Option<f64>,
    /// Threads that bin ticks beside the one reading the file, each owning a
    /// shard of the symbols; 0 bins on the reading thread. Default: one per
    /// two cores.
    #[arg(long)]
    kernel_threads: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Timeseries(#[from] polaroid_timeseries::TimeseriesError),
    #[error(transparent)]
    Polars(#[from] PolarsError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

#[derive(Clone, Copy)]
enum Format {
    Parquet,
    Csv,
    Ipc,
}

fn format_of(path: &Path) -> Result<Format, CliError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "parquet" | "pq" => Ok(Format::Parquet),
        "csv" => Ok(Format::Csv),
        "ipc" | "arrow" | "feather" => Ok(Format::Ipc),
        _ => Err(CliError::Usage(format!(
            "cannot tell the format of {} from its extension; use .parquet, .csv or .ipc",
            path.display()
        ))),
    }
}

fn options(args: &BarsArgs) -> Result<OhlcvOptions, CliError> {
    let threshold = |what: &str| {
        args.threshold.ok_or_else(|| CliError::Usage(format!("--kind {what} needs --threshold")))
    };
    let kind = match args.kind {
        KindArg::Time => {
            if args.threshold.is_some() {
                return Err(CliError::Usage("--threshold applies to --kind tick, volume or dollar".into()));
            }
            BarKind::Time
        },
        KindArg::Tick => {
            let n = threshold("tick")?;
            if n < 1.0 || n.fract() != 0.0 {
                return Err(CliError::Usage(format!("--threshold for tick bars must be a whole number of trades, got {n}")));
            }
            BarKind::Tick(n as u64)
        },
        KindArg::Volume => BarKind::Volume(threshold("volume")?),
        KindArg::Dollar => BarKind::Dollar(threshold("dollar")?),
    };
    let time_zone = match &args.time_zone {
        None => None,
        Some(z) => TimeZone::opt_try_new(Some(z.as_str()))
            .map_err(|e| CliError::Usage(format!("--time-zone {z}: {e}")))?,
    };
    Ok(OhlcvOptions {
        time: args.time.as_str().into(),
        price: args.price.as_str().into(),
        size: args.size.as_str().into(),
        by: args.by.iter().filter(|b| !b.is_empty()).map(|b| b.as_str().into()).collect(),
        kind,
        every: parse_duration("every", &args.every)?,
        period: args.period.as_deref().map(|p| parse_duration("period", p)).transpose()?,
        offset: parse_duration("offset", &args.offset)?,
        time_zone,
        fill: match args.fill {
            FillArg::None => Fill::None,
            FillArg::Forward => Fill::Forward,
        },
        emit_partial: true,
        kernel_threads: args.kernel_threads,
        ..OhlcvOptions::default()
    })
}

fn scan(path: &Path) -> Result<LazyFrame, CliError> {
    if !path.is_file() {
        return Err(CliError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let pl_path = PlRefPath::new(path.to_string_lossy().as_ref());
    Ok(match format_of(path)? {
        Format::Parquet => LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default())?,
        Format::Ipc => LazyFrame::scan_ipc(pl_path, Default::default(), Default::default())?,
        // ISO timestamps in a csv become Datetime columns.
        Format::Csv => LazyCsvReader::new(pl_path).with_try_parse_dates(true).finish()?,
    })
}

/// The input scan for bars. A parquet file's single string by-column is
/// read as categorical: a dictionary-encoded column (every writer's default
/// for few distinct symbols) then reaches the kernel as its dictionary keys,
/// one category per key, instead of a 16-byte string view per row that the
/// kernel hashes back to a series (measured: 10M ticks x 100 symbols, 2
/// cores, see the README). Returns the column to cast back to strings in
/// the bars, so the output's types follow the input's.
fn scan_for_bars(path: &Path, by: &[PlSmallStr]) -> Result<(LazyFrame, Option<PlSmallStr>), CliError> {
    let lf = scan(path)?;
    let ([key], Format::Parquet) = (by, format_of(path)?) else {
        return Ok((lf, None));
    };
    let mut schema = (*lf.clone().collect_schema()?).clone();
    if schema.get(key) != Some(&DataType::String) {
        return Ok((lf, None));
    }
    schema.set_dtype(key, DataType::from_categories(Categories::global()));
    let options = ParquetOptions { schema: Some(Arc::new(schema)), ..ParquetOptions::default() };
    let args = UnifiedScanArgs {
        cast_columns_policy: CastColumnsPolicy { string_to_categorical: true, ..CastColumnsPolicy::ERROR_ON_MISMATCH },
        ..UnifiedScanArgs::default()
    };
    let sources = ScanSources::Paths(vec![PlRefPath::new(path.to_string_lossy().as_ref())].into());
    let categorical = DslBuilder::scan_parquet(sources, options, args)?.build();
    Ok((categorical.into(), Some(key.clone())))
}

/// Write next to the destination, then rename: a failed run leaves nothing.
fn write(df: &mut DataFrame, path: &Path) -> Result<(), CliError> {
    let format = format_of(path)?;
    let io = |source| CliError::Io { path: path.display().to_string(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        match format {
            Format::Parquet => {
                ParquetWriter::new(&mut file).finish(df)?;
            },
            Format::Csv => CsvWriter::new(&mut file).finish(df)?,
            Format::Ipc => IpcWriter::new(&mut file).finish(df)?,
        }
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A memory figure of this process from /proc/self/status (Linux), in MiB.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Settings of polars' streaming readers for a single-pass consumer, each
/// unless the environment already sets it. Set in `main`, before any polars
/// thread starts.
///
/// - Read-ahead: the scans read up to hundreds of row groups (record
///   batches) ahead by default, which lets memory grow with the file. A
///   few in flight keep it bounded (measured: 80M ticks, 1.7 GiB -> 0.5 GiB
///   anonymous memory with one, same time). Parquet reads one row group
///   ahead per core, as polars decodes on one pipeline per core: with one
///   in all, the second core's pipeline waited for its row group (measured,
///   10M ticks on 2 cores, 31 runs interleaved: 0.41 s -> 0.37 s median,
///   peak RSS +27 MiB). IPC keeps one record batch ahead.
/// - Decode parallelism: polars decodes a parquet row group on one thread
///   unless it holds more than 16M values, so with one row group in flight a
///   file of 1M-row groups decoded on one core. A task per ~1M values splits
///   such a row group by column (measured, 10M ticks on 2 cores: 0.29 s ->
///   0.21 s, same memory bound).
fn tune_streaming_readers() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).to_string();
    for (var, value) in [
        ("POLARS_ROW_GROUP_PREFETCH_SIZE", cores.as_str()),
        ("POLARS_RECORD_BATCH_PREFETCH_SIZE", "1"),
        ("POLARS_PARQUET_DECODE_TARGET_VALUES_PER_THREAD", "1048576"),
    ] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, value);
        }
    }
}

/// Ticks in the input, if its metadata says so without reading the data
/// (parquet and IPC footers); CSV would need a pass over the file.
fn known_rows(path: &Path) -> Option<u64> {
    if matches!(format_of(path).ok()?, Format::Csv) {
        return None;
    }
    let counted = scan(path).ok()?.select([len()]).collect().ok()?;
    counted.column("len").ok()?.idx().ok()?.get(0).map(|n| n as u64)
}

/// A progress bar on stderr, drawn only on a terminal and only once the
/// run has taken a second (short runs print nothing but the summary).
struct Progress {
    bar: ProgressBar,
    started: Instant,
    visible: std::sync::atomic::AtomicBool,
    on_terminal: bool,
}

impl Progress {
    fn new(total: Option<u64>, started: Instant) -> Self {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        let template = match total {
            Some(_) => "{spinner} {human_pos}/{human_len} ticks [{bar:30}] {rate} eta {eta}",
            None => "{spinner} {human_pos} ticks {rate}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            let rate = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}M ticks/s", state.per_sec() / 1e6);
            };
            bar.set_style(style.progress_chars("=> ").with_key("rate", rate));
        }
        let on_terminal = std::io::stderr().is_terminal();
        Self { bar, started, visible: false.into(), on_terminal }
    }

    fn advance(&self, ticks: u64) {
        self.bar.inc(ticks);
        if self.on_terminal
            && self.started.elapsed() >= Duration::from_secs(1)
            && !self.visible.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn bars(args: BarsArgs) -> Result<(), CliError> {
    let options = options(&args)?;
    format_of(&args.output)?;
    let (lf, categorical_by) = scan_for_bars(&args.input, &options.by)?;
    let started = Instant::now();
    let ticks = Arc::new(AtomicU64::new(0));
    let counted = ticks.clone();
    // Counting the rows costs a read of the footer: only for a bar someone sees.
    let total = if std::io::stderr().is_terminal() { known_rows(&args.input) } else { None };
    let bar = Arc::new(Progress::new(total, started));
    let shown = bar.clone();
    // Anonymous memory, sampled per batch: the process's own data, not the
    // page cache of a memory-mapped input file.
    let peak_anon = Arc::new(AtomicU64::new(0));
    let sampled = peak_anon.clone();
    let progress = move |step: StreamProgress| {
        if let Some(anon) = status_mib("RssAnon:") {
            sampled.fetch_max(anon as u64, Ordering::Relaxed);
        }
        counted.fetch_add(step.ticks as u64, Ordering::Relaxed);
        shown.advance(step.ticks as u64);
        true
    };
    let result = stream_ohlcv(lf, &options, progress);
    bar.finish();
    let mut out = result?;
    if let Some(by) = categorical_by {
        let strings = out.column(&by)?.cast(&DataType::String)?;
        out.with_column(strings)?;
    }
    write(&mut out, &args.output)?;
    let secs = started.elapsed().as_secs_f64();
    let n = ticks.load(Ordering::Relaxed);
    let anon = peak_anon.load(Ordering::Relaxed).max(status_mib("RssAnon:").unwrap_or(0.0) as u64);
    let memory = status_mib("VmHWM:")
        .map(|m| format!(", peak memory {anon} MiB (peak RSS {m:.0} MiB incl. mapped input)"))
        .unwrap_or_default();
    eprintln!(
        "polaroid: {n} ticks -> {} bars in {secs:.2}s ({:.1}M ticks/s){memory}; wrote {}",
        out.height(),
        n as f64 / secs.max(1e-9) / 1e6,
        args.output.display()
    );
    Ok(())
}

/// Transparent huge pages off for this process (Linux), unless
/// `POLAROID_ALLOW_THP` is set. A 2 MiB fault right after another process
/// freed memory waits for the kernel to compact and zero a whole huge page,
/// and a bar run faults in fresh row-group buffers all the time. Measured
/// in `make bench-bars` when the allocator (then mimalloc) asked for huge
/// pages, 10M ticks on 2 cores: 0.74-0.88 s with them, 0.38-0.42 s without.
/// jemalloc asks for none, but a system with THP `always` gives them anyway.
fn small_pages_only() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("POLAROID_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes no pointers; it sets a flag of
        // this process that later page faults read.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

/// Ends the process once its output is written and synced, without the
/// C runtime's exit handlers. An allocator's handler may hand every page
/// back to the kernel first (mimalloc's did, one `madvise` per span: 124
/// calls after a 10M-tick run, each shooting down the TLBs of threads still
/// alive), and then the kernel unmaps the same memory again in
/// `exit_group`. Nothing else is left to do: the output file is synced and
/// renamed, stderr is unbuffered.
fn exit_now(code: ExitCode) -> ExitCode {
    #[cfg(target_os = "linux")]
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let status = if code == ExitCode::SUCCESS { 0 } else { 1 };
        // SAFETY: _exit takes no pointers and does not return; what it skips
        // (atexit handlers) only frees memory the kernel frees at exit anyway.
        unsafe { libc::_exit(status) }
    }
    #[allow(unreachable_code)]
    code
}

fn main() -> ExitCode {
    small_pages_only();
    tune_streaming_readers();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bars(args) => bars(args),
    };
    exit_now(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever polars put in the message.
            let message = e.to_string().replace('\n', " ");
            eprintln!("polaroid: error: {message}");
            ExitCode::FAILURE
        },
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// jemalloc runs with the options of `malloc_conf` (a misspelt symbol
    /// would leave its defaults: four arenas a core, pages handed back).
    #[test]
    fn jemalloc_runs_with_one_arena_and_keeps_freed_pages() {
        use tikv_jemalloc_sys::mallctl;
        fn read<T: Default>(name: &std::ffi::CStr) -> T {
            let mut value = T::default();
            let mut len = std::mem::size_of::<T>();
            // SAFETY: `value` is a T of `len` bytes, the type jemalloc's
            // manual gives the option; nothing is written (newp is null).
            let rc = unsafe {
                mallctl(name.as_ptr(), (&mut value as *mut T).cast(), &mut len, std::ptr::null_mut(), 0)
            };
            assert_eq!((rc, len), (0, std::mem::size_of::<T>()), "mallctl {name:?}");
            value
        }
        // The environment overrides the built-in options.
        if std::env::var_os("_RJEM_MALLOC_CONF").is_some() {
            return;
        }
        assert_eq!(read::<libc::c_uint>(c"opt.narenas"), 1);
        assert_eq!(read::<libc::ssize_t>(c"opt.dirty_decay_ms"), -1);
    }

    /// The kernel's own word: /proc/self/status says THP_enabled: 0 after it.
    #[test]
    fn huge_pages_are_off_after_small_pages_only() {
        let thp = || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            status.lines().find_map(|l| l.strip_prefix("THP_enabled:").map(|v| v.trim().to_string()))
        };
        // A kernel that does not show the field leaves nothing to check.
        let Some(_) = thp() else { return };
        std::env::remove_var("POLAROID_ALLOW_THP");
        super::small_pages_only();
        assert_eq!(thp().as_deref(), Some("0"));
    }
}
