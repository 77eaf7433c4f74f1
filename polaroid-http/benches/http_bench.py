"""The HTTP door's throughput, side by side with a baseline, as ratios.

    make bench-http     # or: POLAROID_SERVER=target/release/polaroid-server .venv/bin/python polaroid-http/benches/http_bench.py

- /exec: a 1M-row SELECT streamed as QuestDB's JSON, read whole by the
  client, against the same rows as Arrow through Flight DoGet (the native
  binary path of the same server) and python-polars writing the same JSON
  locally.
- /exp: the same rows as CSV, against python-polars' write_csv locally.
- ILP: 1M rows sent with QuestDB's official client (Sender.dataframe over
  HTTP, 50k-row flushes, each fsync'd before its 204), against the client
  serializing the same rows without a server (its own cost).
- ILP over TCP (--ilp-listen): the same 1M rows with the same client over
  `tcp::addr=`, timed until all are visible to a query (TCP has no reply),
  against the client's own encoding; then the latency from one row sent to
  its being visible in `SELECT count(*)` (median of 20; the door appends
  every 10k lines or 100 ms).
- Small requests on a kept-alive connection (what dashboards, connection
  pools and QuestDB's clients use): `/exec` of `SELECT 1` and of a small
  GROUP BY, against the same queries through the PostgreSQL door (psycopg,
  its one connection) and /exec on a fresh connection each; and ILP over
  HTTP with one row a flush (QuestDB's client keeps its connection).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import polars as pl
import pyarrow.flight as flight

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from conftest import Server, free_port  # noqa: E402

ROWS = int(os.environ.get("POLAROID_BENCH_ROWS", "1000000"))


def frame(rows: int) -> pl.DataFrame:
    start = dt.datetime(2026, 11, 23, 14, 30)
    return pl.DataFrame({
        "ts": pl.datetime_range(start, start + dt.timedelta(milliseconds=rows - 1), "1ms", time_unit="us", eager=True),
        "sym": pl.Series([f"S{i % 50}" for i in range(rows)]),
        "px": pl.Series([100 + (i * 37 % 1000) / 10 for i in range(rows)]),
        "qty": pl.Series([(i * 7919) % 500 + 1 for i in range(rows)]),
    })


def timings(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def best(fn, runs: int = 3) -> float:
    return min(timings(fn, runs))


def get(url: str) -> int:
    with urllib.request.urlopen(url) as reply:
        n = 0
        while chunk := reply.read(1 << 20):
            n += len(chunk)
        return n


def exec_json(server: Server, query: str) -> dict:
    import json
    try:
        with urllib.request.urlopen(f"{server.url}/exec?" + urllib.parse.urlencode({"query": query})) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{query}: {e.read().decode()}") from None


def count(server: Server, table: str) -> int:
    try:
        return exec_json(server, f"SELECT count(*) AS n FROM {table}")["dataset"][0][0]
    except RuntimeError:
        return 0  # not created yet


def window_join(server: Server, df: pl.DataFrame) -> None:
    """QuestDB's WINDOW JOIN of 2,000 trades (every 500th row) with the 1M
    rows of `ingest` as quotes, each trade's quotes of its symbol within a
    second either side plus the one that prevailed at the start; then only
    the middle minute's trades. Against python polars doing the same in process
    (a join on the symbol filtered to the window, and an as-of join for the
    prevailing quote), and the server's ASOF JOIN of the same trades."""
    exec_json(server, "CREATE TABLE wj_trades AS (SELECT timestamp ts, sym, px FROM ingest WHERE qty = 1) TIMESTAMP(ts) PARTITION BY DAY")
    join = ("SELECT t.sym, t.ts, count() n, avg(q.px) avg_px FROM wj_trades t WINDOW JOIN ingest q ON (sym) "
            "RANGE BETWEEN 1 second PRECEDING AND 1 second FOLLOWING")
    middle = df["ts"][df.height // 2].replace(second=0, microsecond=0)
    minute = f" WHERE t.ts IN '{middle:%Y-%m-%dT%H:%M}'"
    quotes = df.select("ts", "sym", "px").rename({"ts": "qts", "px": "qpx"})
    trades = df.filter(pl.col("qty") == 1).select("ts", "sym", "px")

    def local(trades: pl.DataFrame) -> pl.DataFrame:
        t = trades.with_row_index("row").with_columns(lo=pl.col("ts") - dt.timedelta(seconds=1), hi=pl.col("ts") + dt.timedelta(seconds=1))
        inside = t.join(quotes, on="sym").filter(pl.col("qts").is_between("lo", "hi"))
        before = t.sort("lo").join_asof(quotes, left_on="lo", right_on="qts", by="sym").filter(pl.col("qts").is_not_null())
        pairs = pl.concat([inside.select("row", "qts", "qpx"), before.select("row", "qts", "qpx")]).unique(["row", "qts"])
        return (t.join(pairs, on="row", how="left").group_by("row", maintain_order=True)
                .agg(pl.col("sym").first(), pl.col("ts").first(), pl.col("qpx").count().alias("n"), pl.col("qpx").mean().alias("avg_px"))
                .sort("row"))

    got = exec_json(server, join)
    want = local(trades)
    assert got["count"] == trades.height == want.height and [r[2] for r in got["dataset"]] == want["n"].to_list(), "WINDOW JOIN differs from polars"
    assert all(abs(r[3] - w) < 1e-9 * abs(w) for r, w in zip(got["dataset"], want["avg_px"], strict=True)), "WINDOW JOIN's avg differs"
    late = trades.filter(pl.col("ts").dt.truncate("1m") == middle)
    assert exec_json(server, join + minute)["count"] == late.height > 0
    t_all = best(lambda: exec_json(server, join), 5)
    t_local = best(lambda: local(trades), 5)
    t_minute = best(lambda: exec_json(server, join + minute), 5)
    t_local_minute = best(lambda: local(late), 5)
    asof = "SELECT t.sym, t.ts, q.px FROM wj_trades t ASOF JOIN ingest q ON (sym)"
    t_asof = best(lambda: exec_json(server, asof), 5)
    print(f"WINDOW JOIN {trades.height} trades x {ROWS} quotes, +-1 s: {t_all * 1e3:.0f} ms (python polars in process "
          f"{t_local * 1e3:.0f} ms -> {t_all / t_local:.2f}x; the server's ASOF JOIN of them {t_asof * 1e3:.0f} ms); "
          f"one minute's {late.height} trades: {t_minute * 1e3:.0f} ms (polars {t_local_minute * 1e3:.0f} ms -> "
          f"{t_minute / t_local_minute:.2f}x)")


def kept_alive(server: Server) -> None:
    import http.client
    import json
    import statistics

    import psycopg
    from questdb import Sender, TimestampNanos

    exec_json(server, "CREATE TABLE small_t AS (SELECT sym, px FROM read_parquet('big.parquet') LIMIT 1000)")
    queries = [("SELECT 1", "SELECT 1"),
               ("1,000-row GROUP BY", "SELECT sym, count(*) AS n, avg(px) AS a FROM small_t GROUP BY sym ORDER BY sym")]
    http_conn = http.client.HTTPConnection("127.0.0.1", server.http_port)
    pg = psycopg.connect(f"host=127.0.0.1 port={server.pg_port} user=admin dbname=qdb", autocommit=True)

    def kept(query: str) -> list:
        http_conn.request("GET", "/exec?" + urllib.parse.urlencode({"query": query}))
        reply = http_conn.getresponse()
        return json.loads(reply.read())["dataset"]

    def median_ms(fn, runs: int = 200) -> float:
        return statistics.median(timings(fn, runs)) * 1e3

    try:
        for label, query in queries:
            # The same rows through each path (floats to 12 digits: the doors
            # write them as text, each its own way).
            def same(rows: list) -> list:
                return [[round(v, 12) if isinstance(v, float) else v for v in r] for r in rows]
            rows = same(pg.execute(query).fetchall())
            assert same(kept(query)) == rows == same(exec_json(server, query)["dataset"]), (query, rows)
            t_kept = median_ms(lambda: kept(query))
            t_pg = median_ms(lambda: pg.execute(query).fetchall())
            t_fresh = median_ms(lambda: exec_json(server, query))
            print(f"/exec kept alive, {label}: median {t_kept:.2f} ms (PostgreSQL door, psycopg {t_pg:.2f} ms -> "
                  f"{t_kept / t_pg:.2f}x; /exec on a fresh connection {t_fresh:.2f} ms -> {t_kept / t_fresh:.2f}x)")
    finally:
        http_conn.close()
        pg.close()
    conf = f"http::addr=127.0.0.1:{server.http_port};auto_flush=off;"
    with Sender.from_conf(conf) as sender:
        def one_row() -> None:
            sender.row("ilp_one", columns={"n": 1}, at=TimestampNanos.now())
            sender.flush()
        t_row = median_ms(one_row, 100)
    assert count(server, "ilp_one") == 100
    print(f"ILP over HTTP, one row a flush on the client's kept-alive connection: median {t_row:.2f} ms "
          f"(/exec of SELECT 1 on a fresh connection above)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="polaroid-bench-http-") as tmp:
        data = Path(tmp)
        df = frame(ROWS)
        df.write_parquet(data / "big.parquet")
        server = Server(data, "--memory-limit", "8GiB", pg_port=free_port())
        try:
            query = "SELECT * FROM read_parquet('big.parquet')"
            exec_url = f"{server.url}/exec?" + urllib.parse.urlencode({"query": query})
            exp_url = f"{server.url}/exp?" + urllib.parse.urlencode({"query": query})
            size = get(exec_url)
            t_exec = best(lambda: get(exec_url))
            t_exp = best(lambda: get(exp_url))
            client = flight.connect(f"grpc://127.0.0.1:{server.grpc_port}")

            def doget() -> None:
                info = client.get_flight_info(flight.FlightDescriptor.for_command(query))
                client.do_get(info.endpoints[0].ticket).read_all()

            t_flight = best(doget)
            t_local_json = best(lambda: df.write_json(io.BytesIO()))
            t_local_csv = best(lambda: df.write_csv(io.BytesIO()))
            print(f"/exec  {ROWS} rows, {size / 1e6:.0f} MB JSON: {ROWS / t_exec / 1e6:.2f} M rows/s "
                  f"({t_exec:.2f} s; Flight DoGet {t_flight:.2f} s -> {t_exec / t_flight:.1f}x; "
                  f"local polars write_json {t_local_json:.2f} s -> {t_exec / t_local_json:.1f}x)")
            print(f"/exp   {ROWS} rows CSV: {ROWS / t_exp / 1e6:.2f} M rows/s "
                  f"({t_exp:.2f} s; local polars write_csv {t_local_csv:.2f} s -> {t_exp / t_local_csv:.1f}x)")

            from questdb import Sender, TimestampNanos  # noqa: F401
            pdf = df.to_pandas()
            batch = 50_000
            conf = f"http::addr=127.0.0.1:{server.http_port};auto_flush=off;"
            t = time.perf_counter()
            with Sender.from_conf(conf) as sender:
                for start in range(0, ROWS, batch):
                    sender.dataframe(pdf.iloc[start:start + batch], table_name="ingest", symbols=["sym"], at="ts")
                    sender.flush()
            t_ilp = time.perf_counter() - t
            # The client's own cost: serialize the same batches into a buffer
            # that is never sent.
            with Sender.from_conf(conf) as sender:
                t = time.perf_counter()
                for start in range(0, ROWS, batch):
                    buffer = sender.new_buffer()
                    buffer.dataframe(pdf.iloc[start:start + batch], table_name="ingest_dry", symbols=["sym"], at="ts")
                t_encode = time.perf_counter() - t
            stored = count(server, "ingest")
            assert stored == ROWS, f"{stored} rows stored, {ROWS} sent"
            print(f"ILP    {ROWS} rows in {batch}-row flushes: {ROWS / t_ilp / 1e6:.2f} M rows/s "
                  f"({t_ilp:.2f} s; the client's own encoding {t_encode:.2f} s -> {t_ilp / t_encode:.1f}x)")

            window_join(server, df)
            kept_alive(server)

            conf_tcp = f"tcp::addr=127.0.0.1:{server.ilp_port};auto_flush=off;"
            t = time.perf_counter()
            with Sender.from_conf(conf_tcp) as sender:
                for start in range(0, ROWS, batch):
                    sender.dataframe(pdf.iloc[start:start + batch], table_name="ingest_tcp", symbols=["sym"], at="ts")
                    sender.flush()
            t_sent = time.perf_counter() - t
            while count(server, "ingest_tcp") != ROWS:
                time.sleep(0.005)
            t_tcp = time.perf_counter() - t
            print(f"ILP/TCP {ROWS} rows, sent to visible: {ROWS / t_tcp / 1e6:.2f} M rows/s "
                  f"({t_tcp:.2f} s, of which sending {t_sent:.2f} s; the client's own encoding {t_encode:.2f} s "
                  f"-> {t_tcp / t_encode:.1f}x)")
            latencies = []
            with Sender.from_conf(f"tcp::addr=127.0.0.1:{server.ilp_port};auto_flush=off;") as sender:
                for i in range(20):
                    t = time.perf_counter()
                    sender.row("latency_tcp", columns={"n": i}, at=TimestampNanos.now())
                    sender.flush()
                    while count(server, "latency_tcp") != i + 1:
                        time.sleep(0.001)
                    latencies.append(time.perf_counter() - t)
            latencies.sort()
            print(f"ILP/TCP one row sent -> visible in a query: median {latencies[10] * 1e3:.0f} ms "
                  f"(min {latencies[0] * 1e3:.0f}, max {latencies[-1] * 1e3:.0f}; batches wait up to 100 ms)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
