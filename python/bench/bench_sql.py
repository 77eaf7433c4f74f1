"""SQL's correlated subqueries on the server, each beside its baselines in the same run.

The prevailing quote of each trade, as an analyst without ASOF JOIN writes it:

    SELECT sym, ts, (SELECT bid FROM q WHERE q.sym = t.sym AND q.ts <= t.ts
                     ORDER BY q.ts DESC LIMIT 1) AS bid FROM t

run by the server (`Client.sql`, the result collected into python polars), by DuckDB on the same
frames, by DuckDB's own `ASOF JOIN` and by python polars' `join_asof` (what a polars user writes by
hand). Every answer is checked equal to the server's. Then the same by DuckDB's `ASOF LEFT JOIN`
syntax on the server (patch 0064) beside DuckDB's and polars'. Then a running total per symbol by a
subquery correlated by an inequality (`t2.ts <= t.ts`), which SQL answers by pairing rows (DuckDB
does; the server reads running sums by an as-of search since patch 0117), beside DuckDB's same
subquery, DuckDB's window function `SUM(sz) OVER (PARTITION BY sym ORDER BY ts)` and python
polars' `cum_sum().over("sym")`; then a trailing window's volume (`t2.ts > t.ts - 1000000 AND t2.ts <=
t.ts`, two searches since patch 0117) beside DuckDB's same subquery and its RANGE window, and a trailing
VWAP over the same window (a float's sum: each trade paired with its window's rows alone since patch 0117,
with every row of its symbol before) beside the same two; then the volume and VWAP of the trades within
each order's lifetime (bounds from two columns of the outer row) beside DuckDB's same subqueries.

    make bench-sql          # or: POLAROID_SERVER=... .venv/bin/python python/bench/bench_sql.py

POLAROID_BENCH_TICKS (default 200,000 trades and as many quotes over 100 symbols),
POLAROID_BENCH_PAIRS (200,000 trades for the running total) and POLAROID_BENCH_RUNS (5) size it.
"""

from __future__ import annotations

import os
import statistics
import sys

import duckdb
import numpy as np
import polars as pl

import polaroid as pr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "polaroid-grpc", "tests", "python"))
from test_flight import Server  # noqa: E402

sys.path.insert(0, HERE)
from bench_client import timed as runs_of  # noqa: E402

TICKS = int(os.environ.get("POLAROID_BENCH_TICKS", 200_000))
PAIRS = int(os.environ.get("POLAROID_BENCH_PAIRS", 200_000))
RUNS = int(os.environ.get("POLAROID_BENCH_RUNS", 5))

PREVAILING = ("SELECT sym, ts, (SELECT bid FROM q WHERE q.sym = t.sym AND q.ts <= t.ts "
              "ORDER BY q.ts DESC LIMIT 1) AS bid FROM t")
DUCKDB_ASOF = "SELECT t.sym, t.ts, q.bid FROM t ASOF LEFT JOIN q ON t.sym = q.sym AND t.ts >= q.ts"
RUNNING = "SELECT sym, ts, (SELECT SUM(sz) FROM t t2 WHERE t2.sym = t.sym AND t2.ts <= t.ts) AS volume FROM t"
RUNNING_WINDOW = "SELECT sym, ts, SUM(sz) OVER (PARTITION BY sym ORDER BY ts) AS volume FROM t"
# Times are distinct integers, so the RANGE frame holds the subquery's rows.
TRAILING = ("SELECT sym, ts, (SELECT SUM(sz) FROM t t2 WHERE t2.sym = t.sym AND t2.ts > t.ts - 1000000 "
            "AND t2.ts <= t.ts) AS volume FROM t")
TRAILING_WINDOW = ("SELECT sym, ts, SUM(sz) OVER (PARTITION BY sym ORDER BY ts RANGE BETWEEN 999999 PRECEDING "
                   "AND CURRENT ROW) AS volume FROM t")
# A float's sum between two bounds: no running sums (their difference is not the window's sum), so each
# trade is paired with the rows of its window alone.
TRAILING_VWAP = ("SELECT sym, ts, (SELECT SUM(px * sz) / SUM(sz) FROM t t2 WHERE t2.sym = t.sym "
                 "AND t2.ts > t.ts - 1000000 AND t2.ts <= t.ts) AS vwap FROM t")
# The trades within each order's lifetime: bounds from two columns of the outer row.
ORDER_VOLUME = ("SELECT sym, t0, t1, (SELECT SUM(sz) FROM t WHERE t.sym = o.sym AND t.ts >= o.t0 AND t.ts < o.t1) "
                "AS volume FROM o")
ORDER_VWAP = ("SELECT sym, t0, t1, (SELECT SUM(px * sz) / SUM(sz) FROM t WHERE t.sym = o.sym AND t.ts >= o.t0 "
              "AND t.ts < o.t1) AS vwap FROM o")
TRAILING_VWAP_WINDOW = ("SELECT sym, ts, SUM(px * sz) OVER w / SUM(sz) OVER w AS vwap FROM t WINDOW w AS "
                        "(PARTITION BY sym ORDER BY ts RANGE BETWEEN 999999 PRECEDING AND CURRENT ROW)")


def ticks(n: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Trades and quotes over 100 symbols, times unique within each (so the prevailing quote is one row)."""
    rng = np.random.default_rng(seed)
    symbols = np.array([f"S{i:03}" for i in range(100)])
    times = lambda: np.cumsum(rng.integers(1, 1_000, n))  # noqa: E731 (increasing, so unique)
    trades = pl.DataFrame({"sym": rng.choice(symbols, n), "ts": times(), "px": rng.random(n),
                           "sz": rng.integers(1, 100, n)})
    quotes = pl.DataFrame({"sym": rng.choice(symbols, n), "ts": times(), "bid": rng.random(n)})
    return trades, quotes


def orders(trades: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """`n` orders over the trades' symbols, each open for up to 2,000,000 time units from a trade's time."""
    rng = np.random.default_rng(seed)
    picked = trades.sample(n, seed=seed)
    return picked.select("sym", t0="ts").with_columns(t1=pl.col("t0") + rng.integers(0, 2_000_000, n))


def timed(fn):
    """The median time of RUNS runs of `fn`, and its answer."""
    times, out = runs_of(fn, RUNS)
    return statistics.median(times), out


def by_row(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort("sym", "ts")


def main() -> None:
    trades, quotes = ticks(TICKS, 1)
    small, _ = ticks(PAIRS, 2)
    open_orders = orders(small, PAIRS // 10, 3)
    con = duckdb.connect()
    con.register("t", trades.to_arrow())
    con.register("q", quotes.to_arrow())
    small_con = duckdb.connect()
    small_con.register("t", small.to_arrow())
    small_con.register("o", open_orders.to_arrow())
    server = Server("--memory-limit", "8GiB")
    try:
        with pr.connect(f"127.0.0.1:{server.port}") as client:
            t, q, s = client.from_polars(trades), client.from_polars(quotes), client.from_polars(small)
            remote, got = timed(lambda: client.sql(PREVAILING, t=t, q=q).collect())
            remote_asof, got_asof = timed(lambda: client.sql(DUCKDB_ASOF, t=t, q=q).collect())
            remote_running, got_running = timed(lambda: client.sql(RUNNING, t=s).collect())
            remote_trailing, got_trailing = timed(lambda: client.sql(TRAILING, t=s).collect())
            remote_vwap, got_vwap = timed(lambda: client.sql(TRAILING_VWAP, t=s).collect())
            o = client.from_polars(open_orders)
            remote_order_volume, got_order_volume = timed(lambda: client.sql(ORDER_VOLUME, t=s, o=o).collect())
            remote_order_vwap, got_order_vwap = timed(lambda: client.sql(ORDER_VWAP, t=s, o=o).collect())
    finally:
        server.stop()
    duck, want = timed(lambda: con.sql(PREVAILING).pl())
    duck_asof, want_asof = timed(lambda: con.sql(DUCKDB_ASOF).pl())
    local_asof, want_local = timed(lambda: trades.sort("ts").join_asof(quotes.sort("ts"), on="ts", by="sym",
                                                                       check_sortedness=False)
                                   .select("sym", "ts", "bid"))
    duck_running, want_running = timed(lambda: small_con.sql(RUNNING).pl())
    duck_window, want_window = timed(lambda: small_con.sql(RUNNING_WINDOW).pl())
    duck_trailing, want_trailing = timed(lambda: small_con.sql(TRAILING).pl())
    duck_trailing_window, want_trailing_window = timed(lambda: small_con.sql(TRAILING_WINDOW).pl())
    duck_vwap, want_vwap = timed(lambda: small_con.sql(TRAILING_VWAP).pl())
    duck_vwap_window, want_vwap_window = timed(lambda: small_con.sql(TRAILING_VWAP_WINDOW).pl())
    duck_order_volume, want_order_volume = timed(lambda: small_con.sql(ORDER_VOLUME).pl())
    duck_order_vwap, want_order_vwap = timed(lambda: small_con.sql(ORDER_VWAP).pl())
    local_running, want_cum_sum = timed(lambda: small.sort("ts").select("sym", "ts", volume=pl.col("sz").cum_sum()
                                                                        .over("sym")))

    got = by_row(got)
    for name, other in [("DuckDB", want), ("DuckDB ASOF JOIN", want_asof), ("polars join_asof", want_local),
                        ("the server's ASOF JOIN", got_asof)]:
        assert got.equals(by_row(other)), f"{name} answered otherwise"
    got_running = by_row(got_running).with_columns(pl.col("volume").cast(pl.Int64))
    for name, other in [("DuckDB", want_running), ("DuckDB's window function", want_window),
                        ("polars cum_sum", want_cum_sum)]:
        assert got_running.equals(by_row(other).with_columns(pl.col("volume").cast(pl.Int64))), \
            f"{name}'s running totals differ"
    got_trailing = by_row(got_trailing).with_columns(pl.col("volume").cast(pl.Int64))
    for name, other in [("DuckDB", want_trailing), ("DuckDB's RANGE window", want_trailing_window)]:
        assert got_trailing.equals(by_row(other).with_columns(pl.col("volume").cast(pl.Int64))), \
            f"{name}'s trailing volumes differ"
    for name, other in [("DuckDB", want_vwap), ("DuckDB's RANGE window", want_vwap_window)]:
        # Sums of floats, added in another order: equal to rounding.
        assert np.allclose(by_row(got_vwap)["vwap"].to_numpy(), by_row(other)["vwap"].to_numpy(), rtol=1e-9), \
            f"{name}'s trailing VWAPs differ"
    by_order = lambda df: df.sort("sym", "t0", "t1")  # noqa: E731
    assert by_order(got_order_volume).with_columns(pl.col("volume").cast(pl.Int64)).equals(
        by_order(want_order_volume).with_columns(pl.col("volume").cast(pl.Int64))), "DuckDB's order volumes differ"
    assert np.allclose(by_order(got_order_vwap)["vwap"].to_numpy(), by_order(want_order_vwap)["vwap"].to_numpy(),
                       rtol=1e-9, equal_nan=True), "DuckDB's order VWAPs differ"

    print(f"\nThe prevailing quote of {TICKS:,} trades among {TICKS:,} quotes, 100 symbols, median of {RUNS}")
    print(f"{'how':52} {'median s':>9} {'server faster':>14}")
    print(f"{'server, correlated subquery (Client.sql)':52} {remote:9.3f}")
    for name, secs in [("DuckDB, the same correlated subquery", duck), ("DuckDB, ASOF JOIN", duck_asof),
                       ("python polars join_asof, in process", local_asof)]:
        print(f"{name:52} {secs:9.3f} {secs / remote:13.2f}x")
    print(f"\nThe same by ASOF LEFT JOIN ({DUCKDB_ASOF!r})")
    print(f"{'server, ASOF JOIN (Client.sql)':52} {remote_asof:9.3f}")
    for name, secs in [("DuckDB, ASOF JOIN", duck_asof), ("python polars join_asof, in process", local_asof)]:
        print(f"{name:52} {secs:9.3f} {secs / remote_asof:13.2f}x")
    print(f"\nA running total per symbol by a subquery correlated by t2.ts <= t.ts, {PAIRS:,} trades")
    print(f"{'server':52} {remote_running:9.3f}")
    for name, secs in [("DuckDB, the same correlated subquery", duck_running),
                       ("DuckDB, SUM(sz) OVER (PARTITION BY sym ORDER BY ts)", duck_window),
                       ("python polars cum_sum().over(\"sym\"), in process", local_running)]:
        print(f"{name:52} {secs:9.3f} {secs / remote_running:13.2f}x")
    print(f"\nA trailing window's volume per symbol (t2.ts > t.ts - 1000000 AND t2.ts <= t.ts), {PAIRS:,} trades")
    print(f"{'server':52} {remote_trailing:9.3f}")
    for name, secs in [("DuckDB, the same correlated subquery", duck_trailing),
                       ("DuckDB, SUM(sz) OVER (... RANGE 999999 PRECEDING)", duck_trailing_window)]:
        print(f"{name:52} {secs:9.3f} {secs / remote_trailing:13.2f}x")
    print(f"\nA trailing window's VWAP per symbol (SUM(px * sz) / SUM(sz), the same window), {PAIRS:,} trades")
    print(f"{'server':52} {remote_vwap:9.3f}")
    for name, secs in [("DuckDB, the same correlated subquery", duck_vwap),
                       ("DuckDB, the same by RANGE windows", duck_vwap_window)]:
        print(f"{name:52} {secs:9.3f} {secs / remote_vwap:13.2f}x")
    print(f"\nThe volume and VWAP of the trades within each of {len(open_orders):,} orders' lifetimes "
          f"(t.ts >= o.t0 AND t.ts < o.t1), {PAIRS:,} trades")
    for what, remote, duck in [("volume", remote_order_volume, duck_order_volume),
                               ("VWAP", remote_order_vwap, duck_order_vwap)]:
        print(f"{'server, ' + what:52} {remote:9.3f}")
        print(f"{'DuckDB, the same correlated subquery':52} {duck:9.3f} {duck / remote:13.2f}x")


if __name__ == "__main__":
    main()
