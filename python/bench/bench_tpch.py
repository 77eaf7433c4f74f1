"""TPC-H's 22 queries in SQL on the server, each beside python polars' SQL in process and DuckDB.

The data is TPC-H's own, made by `tpchgen-cli` (scale factor 1 by default: lineitem's 6M rows),
one parquet file per table in the server's data directory. Each query runs through `Client.sql`
over the server's scans of those files, collected into python polars; python polars runs the same
SQL over `scan_parquet` of the same files (`pl.SQLContext`), DuckDB over `read_parquet` views. The
server's answer is checked against DuckDB's (as `python/tests/test_tpch.py` does) before it is
timed. Q4, Q17 and Q22 also run in the specification's own text (correlated subqueries).

    make bench-tpch         # or: POLAROID_SERVER=... .venv/bin/python python/bench/bench_tpch.py

POLAROID_BENCH_SF (1), POLAROID_BENCH_RUNS (3) and POLAROID_BENCH_ONLY (query names, comma-separated)
choose what runs; POLAROID_BENCH_DATA (a directory kept between runs) saves making the data again.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

import polaroid as pr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent.parent / "polaroid-grpc" / "tests" / "python"))
from test_flight import free_port, wait_port  # noqa: E402
from test_tpch import TABLES, _comparable  # noqa: E402
from tpch_sql import AS_SPECIFIED, QUERIES  # noqa: E402

sys.path.insert(0, str(HERE))
from bench_client import timed as runs_of  # noqa: E402

SERVER = os.environ.get("POLAROID_SERVER", str(HERE.parent.parent / "target" / "release" / "polaroid-server"))
SF = os.environ.get("POLAROID_BENCH_SF", "1")
RUNS = int(os.environ.get("POLAROID_BENCH_RUNS", 3))
ONLY = [q for q in os.environ.get("POLAROID_BENCH_ONLY", "").split(",") if q]


def tpch(root: Path) -> Path:
    """TPC-H at scale factor SF under `root`/tpch, made once."""
    out = root / "tpch"
    if not (out / "lineitem.parquet").exists():
        generator = Path(sys.executable).parent / "tpchgen-cli"
        subprocess.run([str(generator), "parquet", "--scale-factor", SF, "--output-dir", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
    return out


def median(fn) -> float:
    times, _ = runs_of(fn, RUNS)
    return statistics.median(times)


def main() -> None:
    kept = os.environ.get("POLAROID_BENCH_DATA")
    scratch = None if kept else tempfile.TemporaryDirectory()
    root = Path(kept or scratch.name)
    root.mkdir(parents=True, exist_ok=True)
    data = tpch(root)
    queries = {**QUERIES, **{f"{name} (as specified)": text for name, text in AS_SPECIFIED.items()}}
    queries = {name: text for name, text in queries.items() if not ONLY or name.split()[0] in ONLY}

    duck = duckdb.connect()
    for table in TABLES:
        duck.execute(f"create view {table} as select * from read_parquet('{data / table}.parquet')")
    local = pl.SQLContext({table: pl.scan_parquet(data / f"{table}.parquet") for table in TABLES})

    port = free_port()
    server = subprocess.Popen([SERVER, "--listen", f"127.0.0.1:{port}", "--http-listen", "off", "--ilp-listen", "off",
                               "--pg-listen", "off", "--data-dir", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_port(port, server, "polaroid-server")
        with pr.connect(f"127.0.0.1:{port}") as client:
            frames = {table: client.scan_parquet(f"tpch/{table}.parquet") for table in TABLES}
            for name, text in queries.items():
                got = client.sql(text, **frames).collect()
                want = duck.sql(text).pl()
                assert_frame_equal(_comparable(got), _comparable(want), check_dtypes=False, rel_tol=1e-6)
                remote = median(lambda: client.sql(text, **frames).collect())
                in_process = median(lambda: local.execute(text).collect())
                duckdb_time = median(lambda: duck.sql(text).pl())
                rows.append((name, remote, in_process, duckdb_time))
                print(f"{name}: server {remote:.3f} s", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
        if scratch:
            scratch.cleanup()

    print(f"\nTPC-H at scale factor {SF} in SQL, median of {RUNS} (seconds; ratios are the other's time over "
          "the server's)")
    print(f"{'query':22} {'server':>8} {'polars':>8} {'duckdb':>8} {'polars/server':>14} {'duckdb/server':>14}")
    for name, remote, in_process, duckdb_time in rows:
        print(f"{name:22} {remote:8.3f} {in_process:8.3f} {duckdb_time:8.3f} {in_process / remote:13.2f}x "
              f"{duckdb_time / remote:13.2f}x")
    total = [sum(column) for column in zip(*(row[1:] for row in rows))]
    print(f"{'all':22} {total[0]:8.3f} {total[1]:8.3f} {total[2]:8.3f} {total[1] / total[0]:13.2f}x "
          f"{total[2] / total[0]:13.2f}x")
    print(f"python polars {pl.__version__} (the server's polars is the fork's pin), DuckDB {duckdb.__version__}")


if __name__ == "__main__":
    main()
