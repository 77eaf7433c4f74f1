"""`make bench-bars`: 1-minute OHLCV bars end to end (parquet in, bars out as
parquet), `polaroid bars` beside python polars and DuckDB from .venv, in one
run, on the same file. Prints each tool's median time and the ratios.

Ticks: POLAROID_BENCH_TICKS (10M) over 100 symbols, generated once into
target/bench-data/. Every tool's bars are checked against polaroid's, row
by row, before any figure is printed.

Every tool writes the same file: bars ordered by symbol, then time, ZSTD
at its default level (polars' defaults). DuckDB's own defaults do less:
unordered rows, Snappy; "duckdb defaults" runs that too, in the same
rounds, so both ratios show.

POLAROID_BASELINE: another `polaroid` binary (say, one built at an earlier
commit), run in the same rounds; its median and the median of its per-round
time ratios to `polaroid bars` are printed too. Differences of a few per
cent need that pairing (and POLAROID_BENCH_RUNS=31): this VM's speed drifts
more than that between minutes.

POLAROID_BENCH_INPUT=pyarrow writes the ticks with pyarrow's defaults
instead of polars': Snappy, and every column dictionary-encoded (a column
falls back to PLAIN pages once its dictionary passes 1 MiB: the time
column after ~131k values of each row group, not the price's ~6k
distinct values), as most files users bring are written. The default input is
polars' (ZSTD, PLAIN time and price). Both have row groups of 1Mi rows.

POLAROID_BENCH_VERBOSE=1 also prints every run's time, tool by tool, in
round order: a median hides whether one tool had outliers.

The header names the CPU and its cores: the ratios move with the machine
(2 cores of an AMD EPYC gave 2.1x DuckDB at 10M ticks where another VM's
gave 1.9x with the same code), so a figure is only read with its machine.

The fixed cost of a run weighs more on small inputs: with
POLAROID_BENCH_TICKS=40000000 (and POLAROID_BENCH_RUNS=3, python polars
then takes ~15 s a run) the same bench shows how the ratios scale.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[2]
POLAROID = os.environ.get("POLAROID", str(ROOT / "target/release/polaroid"))
TICKS = int(os.environ.get("POLAROID_BENCH_TICKS", 10_000_000))
RUNS = int(os.environ.get("POLAROID_BENCH_RUNS", 3))
BASELINE = os.environ.get("POLAROID_BASELINE")
VERBOSE = os.environ.get("POLAROID_BENCH_VERBOSE") == "1"
INPUT_WRITER = os.environ.get("POLAROID_BENCH_INPUT", "polars")


def machine() -> str:
    """The CPU's model name (Linux) and the cores this process may use."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} cores"


def ticks_file() -> Path:
    if INPUT_WRITER not in ("polars", "pyarrow"):
        raise SystemExit(f"POLAROID_BENCH_INPUT={INPUT_WRITER}: polars or pyarrow")
    suffix = "" if INPUT_WRITER == "polars" else "-pyarrow"
    path = ROOT / "target/bench-data" / f"bars-vs-{TICKS}{suffix}.parquet"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    # Strictly increasing microsecond timestamps (~2 ms apart): no ties, so
    # first/last per bar are the same for every tool.
    ts = 1_700_000_000_000_000 + np.cumsum(rng.integers(1, 4_000, TICKS))
    symbol = rng.integers(0, 100, TICKS)
    price = 100.0 + np.cumsum(rng.integers(-10, 11, TICKS)) * 0.001
    size = rng.integers(1, 500, TICKS)
    df = pl.DataFrame(
        {
            "symbol": pl.Series([f"S{i:03}" for i in range(100)])[symbol],
            "ts": pl.Series(ts).cast(pl.Datetime("us")),
            "price": price,
            "size": size,
        }
    )
    tmp = path.with_suffix(".partial")
    if INPUT_WRITER == "pyarrow":
        import pyarrow.parquet as pq

        pq.write_table(df.to_arrow(), tmp, row_group_size=1 << 20)
    else:
        df.write_parquet(tmp, row_group_size=1 << 20)
    tmp.rename(path)
    return path


def polaroid_runner(binary: str):
    def run(src: Path, out: Path) -> None:
        subprocess.run(
            [binary, "bars", "--input", str(src), "--output", str(out), "--every", "1m", "--by", "symbol"],
            check=True,
            stderr=subprocess.DEVNULL,
        )

    return run


def run_polars(src: Path, out: Path) -> None:
    (
        pl.scan_parquet(src)
        .sort("ts")
        .group_by_dynamic("ts", every="1m", group_by="symbol")
        .agg(
            pl.col("price").first().alias("open"),
            pl.col("price").max().alias("high"),
            pl.col("price").min().alias("low"),
            pl.col("price").last().alias("close"),
            pl.col("size").sum().alias("volume"),
            ((pl.col("price") * pl.col("size")).sum() / pl.col("size").sum()).alias("vwap"),
            pl.len().alias("trades"),
        )
        .collect()
        .write_parquet(out)
    )


def duckdb_runner(same_file: bool):
    """DuckDB's bars: the file the others write (`same_file`), or DuckDB's
    defaults (rows in hash order, Snappy)."""
    order = "ORDER BY symbol, ts" if same_file else ""
    codec = ", COMPRESSION zstd" if same_file else ""

    def run(src: Path, out: Path) -> None:
        con = duckdb.connect()
        con.execute(
            f"""COPY (
                SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS ts,
                       arg_min(price, ts) AS open, max(price) AS high, min(price) AS low,
                       arg_max(price, ts) AS close, sum(size) AS volume,
                       sum(price * size) / sum(size) AS vwap, count(*) AS trades
                FROM read_parquet('{src}') GROUP BY ALL {order}
            ) TO '{out}' (FORMAT parquet{codec})"""
        )
        con.close()

    return run


def own_cpu_ticks() -> int:
    """CPU time (clock ticks) of every thread of this process so far."""
    total = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def settle(quiet: float = 0.5, limit: float = 5.0) -> None:
    """Waits until this process has used no CPU for `quiet` seconds (at most
    `limit` seconds in all). Python polars' allocator (jemalloc) purges a
    run's freed memory on a background thread for some 1.7 s afterwards, in
    bursts with idle gaps between them (0.2 CPU-s after a 10M-tick run).
    In-process tools leave that behind them, and it would be charged to
    whichever tool runs next."""
    deadline = time.monotonic() + limit
    idle_since = time.monotonic()
    before = own_cpu_ticks()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = own_cpu_ticks()
        if now != before:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= quiet:
            return
        before = now


def bars_of(path: Path) -> pl.DataFrame:
    """A tool's bars with the types all tools agree on."""
    return pl.read_parquet(path).with_columns(
        pl.col("ts").cast(pl.Datetime("us")), pl.col("volume").cast(pl.Float64), pl.col("trades").cast(pl.Int64)
    )


def disagreement(ours: pl.DataFrame, theirs: pl.DataFrame, ordered: bool) -> str | None:
    """Where a tool's bars differ from polaroid's: open, high, low and close
    are tick prices and must be equal; vwap is a quotient of sums, which the
    tools add up in different orders."""
    if not ordered:
        theirs = theirs.sort("symbol", "ts")
    if theirs.columns != ours.columns or theirs.height != ours.height:
        return f"{theirs.height} bars with columns {theirs.columns}, polaroid has {ours.height} with {ours.columns}"
    exact = [c for c in ours.columns if c != "vwap"]
    if not theirs.select(exact).equals(ours.select(exact)):
        return "symbol, time, open, high, low, close, volume or trades differ"
    if not ((theirs["vwap"] - ours["vwap"]).abs() <= 1e-9 * ours["vwap"].abs()).all():
        return "vwap differs by more than 1e-9 of it"
    return None


def main() -> int:
    for binary in filter(None, [POLAROID, BASELINE]):
        if not Path(binary).exists():
            print(f"no {binary}: build it with cargo build --release -p polaroid-cli", file=sys.stderr)
            return 2
    src = ticks_file()
    tools = {
        "polaroid bars": polaroid_runner(POLAROID),
        "python polars": run_polars,
        "duckdb": duckdb_runner(same_file=True),
        "duckdb defaults": duckdb_runner(same_file=False),
    }
    if BASELINE:
        tools["baseline"] = polaroid_runner(BASELINE)
    times = {name: [] for name in tools}
    with tempfile.TemporaryDirectory() as tmp:
        outs = {name: Path(tmp) / f"{i}.parquet" for i, name in enumerate(tools)}
        for _ in range(RUNS):
            # Interleaved, so drift in the machine hits every tool alike.
            for name, run in tools.items():
                settle()
                start = time.perf_counter()
                run(src, outs[name])
                times[name].append(time.perf_counter() - start)
        ours = bars_of(outs["polaroid bars"])
        for name, out in outs.items():
            problem = disagreement(ours, bars_of(out), ordered=name != "duckdb defaults")
            if problem:
                print(f"{name} disagrees with polaroid: {problem}", file=sys.stderr)
                return 1
    print(
        f"== 1-minute bars, {TICKS:,} ticks x 100 symbols, parquet in (written by {INPUT_WRITER}), bars out"
        f" ({ours.height:,} bars), {machine()} =="
    )
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, t in median.items():
        ratio = "" if name == "polaroid bars" else f"  {t / median['polaroid bars']:.2f}x polaroid's time"
        print(f"{name:<15} {t:7.3f} s (median of {RUNS}){ratio}")
    if BASELINE:
        paired = statistics.median(b / p for b, p in zip(times["baseline"], times["polaroid bars"]))
        print(f"baseline is {BASELINE}; per round, its time / polaroid's: median {paired:.3f}")
    if VERBOSE:
        for name, t in times.items():
            print(f"{name:<15} runs: " + " ".join(f"{x:.3f}" for x in t))
    print("targets: >= 2x DuckDB, >= 15x python polars")
    return 0


if __name__ == "__main__":
    sys.exit(main())
