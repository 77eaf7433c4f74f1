"""The PostgreSQL door's throughput, side by side with its baselines, as ratios.

    make bench-pg     # or: POLAROID_SERVER=target/release/polaroid-server .venv/bin/python polaroid-pgwire/benches/pg_bench.py

A 1M-row SELECT (timestamp, text, double, integer) read whole by each
PostgreSQL driver — psycopg 3 in text and in binary, asyncpg (binary), and
polars' read_database_uri through connectorx and ADBC (both by binary COPY
... TO STDOUT, into a polars DataFrame) — against the same rows from the same server as Arrow through Flight DoGet
(the native binary path) and python-polars reading the file in process.
Then INSERT of 20k rows by psycopg's executemany (one pipeline), and the
same rows by polars' write_database through ADBC (binary COPY ... FROM
STDIN), against them by QuestDB's ILP client over HTTP into the same server.
Best of 3 each; rows per second and the ratios are printed. First, each on
a fresh server, its peak resident memory before and after psycopg streams
the whole 1M rows in the extended protocol (`cursor.stream()`), and reads
them through a named cursor (DECLARE, then FETCH FORWARD 10000 again and
again): the server holds a few batches at a time, not the result.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import polars as pl
import psycopg
import pyarrow.flight as flight

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "polaroid-http" / "benches"))
from conftest import Server  # noqa: E402
# The HTTP door's bench rows and timing, so the two doors' figures compare.
from http_bench import best, frame  # noqa: E402

ROWS = int(os.environ.get("POLAROID_BENCH_ROWS", "1000000"))
INSERTS = int(os.environ.get("POLAROID_BENCH_INSERTS", "20000"))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="polaroid-bench-pg-") as tmp:
        data = Path(tmp)
        df = frame(ROWS)
        df.write_parquet(data / "big.parquet")
        query = "SELECT * FROM read_parquet('big.parquet')"
        result_mb = df.estimated_size() / 2**20
        memory(data, "streamed to psycopg", result_mb, lambda conn: sum(1 for _ in conn.cursor().stream(query)))
        memory(data, "read by a psycopg named cursor, 10,000 a FETCH", result_mb, lambda conn: named(conn, query))
        server = Server(data, "--memory-limit", "8GiB")
        try:
            conn = psycopg.connect(server.dsn(), autocommit=True)

            def fetch(binary: bool) -> None:
                rows = conn.cursor(binary=binary).execute(query).fetchall()
                assert len(rows) == ROWS

            async def fetch_asyncpg() -> None:
                c = await asyncpg.connect(host="127.0.0.1", port=server.pg_port, user="admin", database="qdb")
                try:
                    assert len(await c.fetch(query)) == ROWS
                finally:
                    await c.close()

            client = flight.connect(f"grpc://127.0.0.1:{server.grpc_port}")

            def doget() -> None:
                info = client.get_flight_info(flight.FlightDescriptor.for_command(query))
                assert client.do_get(info.endpoints[0].ticket).read_all().num_rows == ROWS

            uri = f"postgresql://admin:quest@127.0.0.1:{server.pg_port}/qdb"

            def read_uri(engine: str) -> None:
                assert pl.read_database_uri(query, uri, engine=engine).height == ROWS

            t_text, t_binary = best(lambda: fetch(False)), best(lambda: fetch(True))
            t_named = best(lambda: named(conn, query))
            t_asyncpg = best(lambda: asyncio.run(fetch_asyncpg()))
            t_cx, t_adbc = best(lambda: read_uri("connectorx")), best(lambda: read_uri("adbc"))
            t_flight = best(doget)
            t_local = best(lambda: pl.read_parquet(data / "big.parquet"))
            for name, t in (("psycopg text", t_text), ("psycopg binary", t_binary),
                            ("psycopg named cursor, 10,000 a FETCH", t_named), ("asyncpg", t_asyncpg),
                            ("polars read_database_uri, connectorx", t_cx), ("polars read_database_uri, ADBC", t_adbc)):
                print(f"SELECT {ROWS} rows, {name}: {ROWS / t / 1e6:.2f} M rows/s ({t:.2f} s; "
                      f"Flight DoGet into Arrow {t_flight:.2f} s -> {t / t_flight:.1f}x; "
                      f"polars reading the file in process {t_local:.3f} s -> {t / t_local:.0f}x)")

            conn.execute("CREATE TABLE pg_ingest (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG) timestamp(ts) PARTITION BY DAY")
            rows = frame(INSERTS).rows()
            t = time.perf_counter()
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO pg_ingest VALUES (%s, %s, %s, %s)", rows)
            t_insert = time.perf_counter() - t
            assert conn.execute("SELECT count(*) FROM pg_ingest").fetchone() == (INSERTS,)

            from questdb import Sender
            pdf = frame(INSERTS).to_pandas()
            t = time.perf_counter()
            with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};auto_flush=off;") as sender:
                sender.dataframe(pdf, table_name="ilp_ingest", symbols=["sym"], at="ts")
                sender.flush()
            t_ilp = time.perf_counter() - t
            assert conn.execute("SELECT count(*) FROM ilp_ingest").fetchone() == (INSERTS,)
            t = time.perf_counter()
            assert frame(INSERTS).write_database("adbc_ingest", uri, engine="adbc") == INSERTS
            t_copy = time.perf_counter() - t
            print(f"INSERT {INSERTS} rows by executemany: {INSERTS / t_insert / 1e3:.1f} k rows/s ({t_insert:.2f} s; "
                  f"the same rows by ILP over HTTP {t_ilp:.2f} s -> {t_insert / t_ilp:.0f}x)")
            print(f"COPY FROM STDIN of {INSERTS} rows by polars' write_database (ADBC): {INSERTS / t_copy / 1e3:.1f} k rows/s "
                  f"({t_copy:.2f} s; ILP over HTTP {t_ilp:.2f} s -> {t_copy / t_ilp:.1f}x)")
            conn.close()
        finally:
            server.stop()


def named(conn: psycopg.Connection, query: str) -> int:
    """Rows read by a named cursor WITH HOLD (the connection is in
    autocommit), FETCH FORWARD 10000 at a time."""
    with conn.cursor(name="bench", withhold=True) as cur:
        cur.itersize = 10_000
        cur.execute(query)
        read = sum(1 for _ in cur)
    assert read == ROWS
    return read


def memory(data: Path, how: str, result_mb: float, read) -> None:
    """The peak resident memory of a fresh server before and after `read`."""
    server = Server(data, "--memory-limit", "8GiB")
    try:
        def peak_rss_mb() -> float:
            status = Path(f"/proc/{server.proc.pid}/status").read_text()
            return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024

        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            before = peak_rss_mb()
            assert read(conn) == ROWS
            after = peak_rss_mb()
        print(f"SELECT {ROWS} rows {how}: server peak RSS {before:.0f} -> {after:.0f} MB "
              f"(+{after - before:.0f} MB; the result is {result_mb:.0f} MB in polars)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
